"""Predictive LTV validated on a holdout of the demo simulator, and its edge cases.

Every warehouse here is real: records go through the ingester's validation and writer into
a DuckDB file, then a real `dbt build`, then `build_predictive_ltv`. Actual holdout figures
come from the staged events (intermediate.int_events_attributed), not from the tables
under test.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from devkit.simulator import Simulation
from devkit.simulator.spend import write_spend_csvs
from ingest.spend import load_spend
from orchestration.build import run_build
from tests._predictive_ltv_data import load_records, settings_for
from transforms.predictive_ltv import build_predictive_ltv
from warehouse.settings import Settings

END = date(2026, 6, 30)
CUTOFF = date(2026, 3, 31)  # the last 3 months (April-June) are the holdout


def ev(mid: str, kind: str, ts: str, **fields: Any) -> bytes:
    return orjson.dumps({"messageId": mid, "type": kind, "timestamp": ts, **fields})


def signup(user: str, ts: str, source: str | None = None) -> list[bytes]:
    context = {"campaign": {"source": source, "medium": "cpc"}} if source else {}
    return [ev(f"{user}-s", "track", ts, userId=user, event="Signed Up", context=context)]


def order(user: str, n: int, ts: str, revenue: float) -> bytes:
    return ev(f"{user}-o{n}", "track", ts, userId=user, event="Order Completed", properties={"revenue": revenue})


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def holdout(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """3,000 simulated users over 365 days, plus one user of a channel nobody else came from."""
    settings = settings_for(tmp_path_factory.mktemp("pltv_holdout"))
    simulation = Simulation(users=3000, days=365, seed=11, end_date=END)
    podcast = [
        *signup("pod_1", "2025-12-01T10:00:00Z", source="podcast"),
        order("pod_1", 1, "2025-12-02T10:00:00Z", 99),
        order("pod_1", 2, "2026-01-02T10:00:00Z", 99),
        order("pod_1", 3, "2026-02-02T10:00:00Z", 99),
    ]
    load_records(settings, [value for _, value in simulation.records()] + podcast)
    write_spend_csvs(simulation.plan(), settings.spend_dir)
    (settings.spend_dir / "podcast.csv").write_text("date,channel,campaign,spend\n2025-12-01,podcast,ep1,240\n")
    load_spend(settings, [settings.spend_dir])
    run_build(settings, quiet=True)
    summary = build_predictive_ltv(settings, horizon_months=3, as_of=CUTOFF)
    assert summary.as_of == CUTOFF and summary.horizon_months == 3
    for table in ("fct_predicted_ltv", "fct_channel_predicted_ltv"):
        assert rows(settings, f"select distinct as_of_date, horizon_months from marts.{table}") == [(CUTOFF, 3)]
    return settings


HOLDOUT_ACTUALS = f"""
with holdout as (
    select user_key, count(distinct event_date) as purchase_days, sum(revenue) as revenue
    from intermediate.int_events_attributed
    where event_type = 'track' and event_name = 'Order Completed' and revenue > 0
      and event_date > date '{CUTOFF}' and event_date <= date '{END}'
    group by 1
)
"""


def test_holdout_purchases_of_current_customers_are_predicted_within_20_percent(holdout: Settings) -> None:
    [(predicted, actual, customers, users)] = rows(
        holdout,
        HOLDOUT_ACTUALS
        + """
        select sum(p.expected_purchases),
               sum(coalesce(h.purchase_days, 0)) filter (where p.probability_alive is not null),
               count(*) filter (where p.probability_alive is not null), count(*)
        from marts.fct_predicted_ltv p left join holdout h using (user_key)
        """,
    )
    # Only users signed up by the cutoff are predicted; the model covers its customers.
    [(signed_up,)] = rows(holdout, f"select count(*) from marts.dim_users where signup_date <= date '{CUTOFF}'")
    assert users == signed_up and customers > 250
    # Measured: 747.0 predicted vs 725 actual purchase days (+3.0%). The same set-up on other
    # seeds stays well inside 20% (docs/predictive_ltv.md, "Validation";
    # benchmarks/predictive_ltv.py reruns it for any seeds).
    assert abs(predicted - actual) / actual < 0.20, (predicted, actual)


def test_channel_ranking_of_predicted_ltv_matches_actual_holdout_revenue_per_user(holdout: Settings) -> None:
    per_channel = rows(
        holdout,
        HOLDOUT_ACTUALS
        + """
        select p.acquisition_channel, avg(p.expected_revenue), sum(coalesce(h.revenue, 0)) / count(*), count(*)
        from marts.fct_predicted_ltv p left join holdout h using (user_key)
        group by 1 having count(*) >= 100
        """,
    )
    assert {channel for channel, *_ in per_channel} == {"direct", "facebook", "google", "linkedin", "partner"}
    # Clearly separated: actual holdout revenue per user differs by more than 1.5x.
    separated = [
        (a, b)
        for a in per_channel
        for b in per_channel
        if a[2] > 1.5 * b[2]  # a earned far more per user than b in the holdout
    ]
    assert len(separated) >= 5  # linkedin vs the rest, facebook vs the rest, ...
    for better, worse in separated:
        assert better[1] > worse[1], (better, worse)
    # The marts' channel table carries the same per-user mean as the user table.
    channels = dict(rows(holdout, "select channel, mean_predicted_ltv from marts.fct_channel_predicted_ltv"))
    users = dict(
        rows(holdout, "select acquisition_channel, avg(predicted_ltv) from marts.fct_predicted_ltv group by 1")
    )
    for channel, value in users.items():
        assert channels[channel] == pytest.approx(value)


def test_a_channel_with_one_customer_gets_defined_values(holdout: Settings) -> None:
    [(frequency, expected, alive, ltv)] = rows(
        holdout,
        "select frequency, expected_purchases, probability_alive, predicted_ltv "
        "from marts.fct_predicted_ltv where user_key = 'pod_1'",
    )
    # Three monthly orders, last on 02-02, cutoff 03-31: alive but less than certain.
    assert frequency == 2 and 0 < alive < 1 and expected > 0
    assert ltv > 3 * 99  # revenue so far plus something expected
    [(users, mean_ltv, cost, ratio)] = rows(
        holdout,
        "select users, mean_predicted_ltv, cost_per_signup, predicted_ltv_cac_ratio "
        "from marts.fct_channel_predicted_ltv where channel = 'podcast'",
    )
    assert (users, cost) == (1, 240.0)  # one signup bought for 240
    assert mean_ltv == pytest.approx(ltv) and ratio == pytest.approx(ltv / 240.0)


def small_warehouse(root: Path, records: list[bytes]) -> Settings:
    settings = settings_for(root)
    load_records(settings, records)
    run_build(settings, quiet=True)
    return settings


def all_values(settings: Settings, table: str) -> list[Any]:
    return [value for row in rows(settings, f"select * from marts.{table}") for value in row]


def test_all_users_without_purchases(tmp_path: Path) -> None:
    records = [*signup("u1", "2026-03-01T10:00:00Z", "google"), *signup("u2", "2026-03-05T10:00:00Z")]
    records.append(ev("u2-p", "page", "2026-03-20T10:00:00Z", userId="u2"))
    settings = small_warehouse(tmp_path, records)
    summary = build_predictive_ltv(settings)
    assert (summary.users, summary.customers, summary.repeat_customers) == (2, 0, 0)
    assert summary.as_of == date(2026, 3, 20)
    assert rows(
        settings,
        "select user_key, expected_purchases, expected_revenue, probability_alive, predicted_ltv "
        "from marts.fct_predicted_ltv order by 1",
    ) == [("u1", 0.0, 0.0, None, 0.0), ("u2", 0.0, 0.0, None, 0.0)]
    assert rows(
        settings, "select channel, users, mean_predicted_ltv from marts.fct_channel_predicted_ltv order by 1"
    ) == [
        ("(all)", 2, 0.0),
        ("direct", 1, 0.0),
        ("google", 1, 0.0),
    ]
    assert not any(
        isinstance(v, float) and not math.isfinite(v) for v in all_values(settings, "fct_channel_predicted_ltv")
    )


def test_a_single_day_of_data(tmp_path: Path) -> None:
    records = [
        *signup("u1", "2026-03-01T08:00:00Z", "google"),
        order("u1", 1, "2026-03-01T09:00:00Z", 99),
        order("u1", 2, "2026-03-01T15:00:00Z", 29),  # same day: one purchase day of 128
        *signup("u2", "2026-03-01T10:00:00Z", "google"),
        order("u2", 1, "2026-03-01T11:00:00Z", 29),
        *signup("u3", "2026-03-01T12:00:00Z", "facebook"),
    ]
    settings = small_warehouse(tmp_path, records)
    summary = build_predictive_ltv(settings)
    assert (summary.users, summary.customers, summary.repeat_customers) == (3, 2, 0)
    # Nobody has had time to buy again or to drop out: nothing to fit, nothing expected.
    assert rows(
        settings,
        "select user_key, frequency, age_weeks, expected_purchases, expected_revenue, probability_alive, predicted_ltv "
        "from marts.fct_predicted_ltv order by 1",
    ) == [
        ("u1", 0, 0.0, 0.0, 0.0, 1.0, 128.0),
        ("u2", 0, 0.0, 0.0, 0.0, 1.0, 29.0),
        ("u3", 0, 0.0, 0.0, 0.0, None, 0.0),
    ]
    [(google,)] = rows(
        settings, "select mean_predicted_ltv from marts.fct_channel_predicted_ltv where channel = 'google'"
    )
    assert google == pytest.approx((128.0 + 29.0) / 2)
