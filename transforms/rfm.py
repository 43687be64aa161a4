"""Per-user RFM summary of purchase history: the standard BG/NBD and Gamma-Gamma inputs.

Purchases are counted by day (in the reporting time zone, as the marts date events): all
purchases of a user on one date are one purchase day whose value is their summed revenue.
As of an observation end date ``as_of`` (purchases after it are ignored), per user:

- ``frequency``: number of purchase days after the first one (repeat purchase days);
- ``recency``: days from the first to the last purchase day (0 with no repeat);
- ``T``: days from the first purchase day to ``as_of`` (the customer's age);
- ``monetary_value``: mean value of the repeat purchase days (0 with no repeat), the
  first purchase excluded as in Fader-Hardie-Lee (it is often atypical: a trial, a setup fee);
- ``first_purchase_date``, ``last_purchase_date``, ``purchase_days`` and ``revenue``
  (all purchase days, first included) for reference.

Users without a purchase up to ``as_of`` have no row: the models describe customers from
their first purchase on (see :mod:`transforms.predictive_ltv` for how they are valued).
"""

from __future__ import annotations

from datetime import date

import polars as pl

RFM_SCHEMA = {
    "user_key": pl.String,
    "first_purchase_date": pl.Date,
    "last_purchase_date": pl.Date,
    "purchase_days": pl.Int64,
    "frequency": pl.Int64,
    "recency": pl.Float64,
    "T": pl.Float64,
    "monetary_value": pl.Float64,
    "revenue": pl.Float64,
}


def rfm_summary(purchases: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """RFM rows from ``purchases`` (columns ``user_key``, ``purchase_date``, ``revenue``).

    Rows dated after ``as_of``, without a user or with revenue <= 0 are ignored.
    """
    days = (
        purchases.lazy()
        .filter(
            pl.col("user_key").is_not_null()
            & (pl.col("purchase_date") <= as_of)
            & (pl.col("revenue").fill_null(0.0) > 0)
        )
        .group_by("user_key", "purchase_date")
        .agg(pl.col("revenue").sum().cast(pl.Float64))
        .sort("user_key", "purchase_date")
    )
    summary = (
        days.group_by("user_key")
        .agg(
            pl.col("purchase_date").first().alias("first_purchase_date"),
            pl.col("purchase_date").last().alias("last_purchase_date"),
            pl.len().cast(pl.Int64).alias("purchase_days"),
            pl.col("revenue").sum().alias("revenue"),
            pl.col("revenue").slice(1).sum().alias("repeat_revenue"),
        )
        .with_columns(
            (pl.col("purchase_days") - 1).alias("frequency"),
            (pl.col("last_purchase_date") - pl.col("first_purchase_date"))
            .dt.total_days()
            .cast(pl.Float64)
            .alias("recency"),
            (pl.lit(as_of, dtype=pl.Date) - pl.col("first_purchase_date")).dt.total_days().cast(pl.Float64).alias("T"),
        )
        .with_columns(
            pl.when(pl.col("frequency") > 0)
            .then(pl.col("repeat_revenue") / pl.col("frequency"))
            .otherwise(0.0)
            .alias("monetary_value")
        )
        .select(list(RFM_SCHEMA))
        .sort("user_key")
        .collect()
    )
    return summary.cast(RFM_SCHEMA)  # type: ignore[arg-type]
