"""Predictive LTV: BG/NBD + Gamma-Gamma per user, and predicted LTV:CAC per channel.

Reads the dbt marts from the warehouse, fits the models and writes two tables into the
``marts`` schema (``docs/predictive_ltv.md`` has the full description):

- ``marts.fct_predicted_ltv``: one row per user signed up on or before ``as_of``, with
  expected purchases and expected revenue over the next ``horizon_months`` calendar months
  after ``as_of`` and the probability that the user is still an active customer;
- ``marts.fct_channel_predicted_ltv``: one row per acquisition channel (plus ``(all)``):
  users, customers, mean predicted LTV per user and predicted LTV:CAC, CAC being the
  ``cost_per_signup`` of ``marts.fct_channel_economics`` (all-time, as that mart defines it).

Inputs. Users and channels come from ``marts.dim_users`` (``signup_date``,
``acquisition_channel``); purchases are the track events named ``purchase_event`` (dbt var,
default ``Order Completed``) with revenue > 0 of ``intermediate.int_events_attributed``
(``user_key``, ``event_date``, ``revenue``), the same rows ``first_purchase_at`` uses. Refunds
are not modelled. ``as_of`` defaults to ``data_end_date`` (metrics.md), never the wall clock;
``horizon_months`` defaults to the dbt var ``ltv_horizon_months`` (12). Purchases are
counted in purchase *days* (:mod:`transforms.rfm`), time in days.

Model. :mod:`transforms.bgnbd` (Fader-Hardie-Lee 2005) for the number of repeat purchase
days, :mod:`transforms.gamma_gamma` for the value of a purchase day, both maximum
likelihood on scipy (an own implementation: PyMC-Marketing would pull pymc/pytensor, whose
C compilation at import costs tens of seconds per process on these 2-core machines, for a
seven-parameter MAP fit; see :mod:`transforms.bgnbd`). A customer's expected revenue is
``E[purchase days in (as_of, as_of + horizon]] x E[value of a purchase day | history]``,
undiscounted.

Users without a purchase (the no-purchase rule). The BG/NBD describes customers from their
first purchase on; a user who has not bought by ``as_of`` is not in it. Such users get
``is_customer = false``, ``expected_purchases = 0``, ``expected_revenue = 0``,
``expected_order_value`` null and ``probability_alive`` null (the model says nothing about
them). They still count in their channel's ``users``, so a channel whose signups rarely pay
has a lower predicted LTV per user. Future conversions of today's non-customers are therefore
not predicted: predicted LTV is the value of the customers a channel has already produced.

Defined values when the data cannot support a fit, never NaN and never a crash:
- no customer observed for more than a day after the first purchase (for example a single
  day of data) or no customer at all: no BG/NBD fit, expected purchases 0, probability
  alive 1 for customers (nobody has had time to drop out);
- no customer with a repeat purchase: no Gamma-Gamma fit; expected order value is the
  customer's own mean purchase-day value; the same fallback applies wherever the fitted
  model gives no finite positive value (population mean undefined when q <= 1);
- a channel whose ``cost_per_signup`` is null or 0: ``predicted_ltv_cac_ratio`` null.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import yaml  # type: ignore[import-untyped]

from ingest.config import Settings
from ingest.errors import GrowthError
from ingest.lock import writer_lock
from ingest.warehouse import connect
from transforms.bgnbd import BgNbdParams, FitError, expected_purchases, fit_bgnbd, probability_alive
from transforms.gamma_gamma import GammaGammaParams, expected_order_value, fit_gamma_gamma
from transforms.rfm import rfm_summary

log = logging.getLogger(__name__)
DBT_PROJECT_FILE = Path(__file__).resolve().parent.parent / "dbt_project" / "dbt_project.yml"
ALL_CHANNELS = "(all)"


@dataclass(frozen=True)
class PredictiveLtvSummary:
    as_of: date
    horizon_months: int
    horizon_days: int
    users: int
    customers: int
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    expected_purchases: float
    expected_revenue: float


def dbt_var_default(name: str) -> Any:
    """The default of a dbt var as declared in dbt_project.yml."""
    return yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"][name]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (clamped to the month's last day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _read_inputs(
    settings: Settings, purchase_event: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, date | None]:
    with writer_lock(settings.warehouse), connect(settings.warehouse) as con:
        try:
            users = _frame(con, "select user_key, signup_date, acquisition_channel from marts.dim_users")
            purchases = _frame(
                con,
                """
                select user_key, event_date as purchase_date, revenue
                from intermediate.int_events_attributed
                where event_type = 'track' and event_name = ? and revenue > 0 and user_key is not null
                """,
                [purchase_event],
            )
            economics = _frame(con, "select channel, cost_per_signup from marts.fct_channel_economics")
            [(data_end,)] = con.execute("select max(data_end_date) from intermediate.int_reporting_period").fetchall()
        except Exception as exc:  # duckdb.CatalogException and friends
            if "does not exist" in str(exc):
                raise GrowthError(
                    f"the warehouse {settings.warehouse} has no marts yet: run `growth build` first ({exc})"
                ) from exc
            raise
    return users, purchases, economics, data_end


def predict_users(
    users: pl.DataFrame,
    purchases: pl.DataFrame,
    *,
    as_of: date,
    horizon_months: int,
) -> tuple[pl.DataFrame, BgNbdParams | None, GammaGammaParams | None]:
    """Per-user predictions (the rows of marts.fct_predicted_ltv) and the fitted parameters."""
    horizon_days = (add_months(as_of, horizon_months) - as_of).days
    rfm = rfm_summary(purchases, as_of)
    x = rfm["frequency"].to_numpy().astype(np.float64)
    t_x = rfm["recency"].to_numpy().astype(np.float64)
    big_t = rfm["T"].to_numpy().astype(np.float64)
    m = rfm["monetary_value"].to_numpy().astype(np.float64)
    own_mean = (rfm["revenue"] / rfm["purchase_days"]).to_numpy().astype(np.float64)

    bg: BgNbdParams | None = None
    gg: GammaGammaParams | None = None
    if rfm.height:
        try:
            bg = fit_bgnbd(x, t_x, big_t).params
        except FitError as exc:
            log.info("predictive LTV: %s; expected purchases are 0", exc)
        try:
            gg = fit_gamma_gamma(x, m).params
        except FitError as exc:
            log.info("predictive LTV: %s; order value falls back to each customer's own mean", exc)

    if bg is not None:
        purchases_ahead = expected_purchases(bg, float(horizon_days), x, t_x, big_t)
        alive = probability_alive(bg, x, t_x, big_t)
    else:
        purchases_ahead = np.zeros(rfm.height)
        alive = np.ones(rfm.height)
    with np.errstate(all="ignore"):
        value = expected_order_value(gg, x, m) if gg is not None else np.full(rfm.height, np.nan)
    value = np.where(np.isfinite(value) & (value > 0), value, own_mean)
    purchases_ahead = np.where(np.isfinite(purchases_ahead), purchases_ahead, 0.0)

    predicted = rfm.select(
        "user_key",
        "frequency",
        pl.col("recency").alias("recency_days"),
        pl.col("T").alias("age_days"),
        "monetary_value",
        pl.col("revenue").alias("purchase_revenue_to_date"),
    ).with_columns(
        pl.Series("probability_alive", alive, dtype=pl.Float64),
        pl.Series("expected_purchases", purchases_ahead, dtype=pl.Float64),
        pl.Series("expected_order_value", value, dtype=pl.Float64),
        pl.Series("expected_revenue", purchases_ahead * value, dtype=pl.Float64),
    )
    table = (
        users.filter(pl.col("signup_date") <= as_of)
        .join(predicted, on="user_key", how="left")
        .with_columns(
            pl.col("frequency").is_not_null().alias("is_customer"),
            pl.col("purchase_revenue_to_date").fill_null(0.0),
            pl.col("expected_purchases").fill_null(0.0),
            pl.col("expected_revenue").fill_null(0.0),
            pl.lit(as_of, dtype=pl.Date).alias("as_of_date"),
            pl.lit(horizon_months, dtype=pl.Int32).alias("horizon_months"),
            pl.lit(horizon_days, dtype=pl.Int32).alias("horizon_days"),
        )
        .select(
            "user_key",
            "acquisition_channel",
            "signup_date",
            "as_of_date",
            "horizon_months",
            "horizon_days",
            "is_customer",
            "frequency",
            "recency_days",
            "age_days",
            "monetary_value",
            "purchase_revenue_to_date",
            "probability_alive",
            "expected_purchases",
            "expected_order_value",
            "expected_revenue",
        )
        .sort("user_key")
    )
    return table, bg, gg


def channel_table(predicted: pl.DataFrame, economics: pl.DataFrame) -> pl.DataFrame:
    """Per channel (plus ``(all)``): users, customers, mean predicted LTV and predicted LTV:CAC."""
    aggregates = (
        pl.len().cast(pl.Int64).alias("users"),
        pl.col("is_customer").sum().cast(pl.Int64).alias("customers"),
        pl.col("expected_purchases").sum().alias("expected_purchases"),
        pl.col("expected_revenue").sum().alias("expected_revenue"),
        pl.col("expected_revenue").mean().alias("predicted_ltv"),
        pl.col("probability_alive").mean().alias("mean_probability_alive"),
    )
    per_channel = predicted.group_by(pl.col("acquisition_channel").alias("channel")).agg(*aggregates)
    overall = predicted.select(pl.lit(ALL_CHANNELS).alias("channel"), *aggregates)
    table = pl.concat([per_channel, overall], how="vertical_relaxed")
    cac = economics.select("channel", pl.col("cost_per_signup").cast(pl.Float64))
    return (
        table.join(cac, on="channel", how="left")
        .with_columns(
            pl.when(pl.col("cost_per_signup") > 0)
            .then(pl.col("predicted_ltv") / pl.col("cost_per_signup"))
            .otherwise(None)
            .alias("predicted_ltv_cac_ratio"),
            pl.lit(predicted["as_of_date"].max() if predicted.height else None, dtype=pl.Date).alias("as_of_date"),
            pl.lit(predicted["horizon_months"].max() if predicted.height else None, dtype=pl.Int32).alias(
                "horizon_months"
            ),
        )
        .select(
            "channel",
            "as_of_date",
            "horizon_months",
            "users",
            "customers",
            "expected_purchases",
            "expected_revenue",
            "predicted_ltv",
            "mean_probability_alive",
            "cost_per_signup",
            "predicted_ltv_cac_ratio",
        )
        .sort(pl.col("channel") == ALL_CHANNELS, "channel")
    )


def _write(settings: Settings, predicted: pl.DataFrame, channels: pl.DataFrame) -> None:
    predicted_arrow, channels_arrow = predicted.to_arrow(), channels.to_arrow()
    with writer_lock(settings.warehouse), connect(settings.warehouse) as con:
        con.register("predicted_rows", predicted_arrow)
        con.register("channel_rows", channels_arrow)
        con.begin()
        try:
            con.execute("create schema if not exists marts")
            con.execute("create or replace table marts.fct_predicted_ltv as select * from predicted_rows")
            con.execute("create or replace table marts.fct_channel_predicted_ltv as select * from channel_rows")
            con.commit()
        except Exception:
            con.rollback()
            raise


def build_predictive_ltv(
    settings: Settings,
    *,
    horizon_months: int | None = None,
    as_of: date | None = None,
) -> PredictiveLtvSummary:
    """Fit on purchases up to ``as_of`` (default ``data_end_date``) and write both marts."""
    horizon = int(horizon_months if horizon_months is not None else dbt_var_default("ltv_horizon_months"))
    if horizon < 0:
        raise GrowthError(f"horizon_months must be >= 0, got {horizon}")
    users, purchases, economics, data_end = _read_inputs(settings, str(dbt_var_default("purchase_event")))
    observed_end = as_of or data_end
    if observed_end is None:  # an empty warehouse: empty tables, defined columns
        observed_end = date.today() if as_of is None else as_of
    predicted, bg, gg = predict_users(users, purchases, as_of=observed_end, horizon_months=horizon)
    channels = channel_table(predicted, economics)
    _write(settings, predicted, channels)
    return PredictiveLtvSummary(
        as_of=observed_end,
        horizon_months=horizon,
        horizon_days=(add_months(observed_end, horizon) - observed_end).days,
        users=predicted.height,
        customers=int(predicted["is_customer"].sum()),
        bgnbd=bg,
        gamma_gamma=gg,
        expected_purchases=float(predicted["expected_purchases"].sum()),
        expected_revenue=float(predicted["expected_revenue"].sum()),
    )
