"""The marts from a small hand-written event set, compared with values worked out by hand.

The events go through the real ingest path (validation, batch writer) into a real DuckDB
file, then a real `dbt build`. Every expected number below was computed by hand from
docs/metrics.md; the reasoning is in the comments next to each value.

Timeline (UTC; data_end_date = 2026-03-31 from anon9's last page view):
  dave   identify 02-28 03:00, page 02-28 10:00 (messageId "dup"), Order Completed 60 at
         02-28 11:00; a second copy of "dup" arrives later with another timestamp.
  alice  anonymous page 03-02 09:00 via " Google "/" Brand ", identify+Signed Up 03-02 10:00,
         Task Added 10:30 (exactly 30 min later) and 11:00:00.001, Project Created 03-09
         10:00 (exactly 7 days), Order Completed "49.00" 03-10 12:00 and 49 at 03-30 12:00.
  bob    Signed Up as tmp_bob 03-03 08:00, alias tmp_bob→bob2, alias bob2→bob, page 03-20.
  carol  anonymous facebook page 03-05 12:00, Signed Up 12:10, Order Completed "1e3" and 0
         on 03-06, Project Created 7 days + 1 ms after signing up.
  anon9  pages 03-30 22:00 and 03-31 01:00, never identified.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from ingest.batch import Batch
from ingest.writer import write_batch
from orchestration.build import run_build
from tests._oracle_core import MARTS as ORACLE_MARTS
from tests._oracle_core import Oracle, differences
from warehouse.settings import Settings

GOOGLE = {"campaign": {"source": " Google ", "medium": "cpc", "name": " Brand "}}
FACEBOOK = {"campaign": {"source": "facebook", "name": "Retarget"}}


def ev(mid: str, kind: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"messageId": mid, "type": kind, "timestamp": ts, **fields}


EVENTS = [
    ev("d1", "identify", "2026-02-28T03:00:00Z", userId="dave"),
    ev("dup", "page", "2026-02-28T10:00:00Z", userId="dave", name="Home"),
    ev("d3", "track", "2026-02-28T11:00:00Z", userId="dave", event="Order Completed", properties={"revenue": 60}),
    ev("e1", "page", "2026-03-02T09:00:00Z", anonymousId="a1", context=GOOGLE),
    ev("e2", "identify", "2026-03-02T10:00:00Z", userId="alice", anonymousId="a1"),
    ev("e3", "track", "2026-03-02T10:00:00Z", userId="alice", event="Signed Up"),
    ev("e4", "track", "2026-03-02T10:30:00Z", userId="alice", event="Task Added"),
    ev("e5", "track", "2026-03-02T11:00:00.001Z", userId="alice", event="Task Added"),
    ev("e6", "track", "2026-03-09T10:00:00Z", userId="alice", event="Project Created"),
    ev("e7", "track", "2026-03-10T12:00:00Z", userId="alice", event="Order Completed", properties={"revenue": "49.00"}),
    ev("e8", "track", "2026-03-30T12:00:00Z", userId="alice", event="Order Completed", properties={"revenue": 49}),
    ev("b1", "track", "2026-03-03T08:00:00Z", userId="tmp_bob", event="Signed Up"),
    ev("b2", "alias", "2026-03-03T08:05:00Z", userId="bob2", previousId="tmp_bob"),
    ev("b3", "alias", "2026-03-04T08:00:00Z", userId="bob", previousId="bob2"),
    ev("b4", "page", "2026-03-20T08:00:00Z", userId="bob"),
    ev("c1", "page", "2026-03-05T12:00:00Z", anonymousId="c_anon", context=FACEBOOK),
    ev("c2", "track", "2026-03-05T12:10:00Z", userId="carol", anonymousId="c_anon", event="Signed Up"),
    ev("c3", "track", "2026-03-06T12:00:00Z", userId="carol", event="Order Completed", properties={"revenue": "1e3"}),
    ev("c4", "track", "2026-03-06T12:30:00Z", userId="carol", event="Order Completed", properties={"revenue": 0}),
    ev("c5", "track", "2026-03-12T12:10:00.001Z", userId="carol", event="Project Created"),
    ev("n1", "page", "2026-03-30T22:00:00Z", anonymousId="anon9"),
    ev("n2", "page", "2026-03-31T01:00:00Z", anonymousId="anon9"),
]
LATE_COPY = ev("dup", "page", "2026-03-15T10:00:00Z", userId="dave", name="Home")
SPEND_CSV = (
    "date,channel,campaign,spend\n2026-03-01,Google ,Brand,100\n2026-03-02,facebook,,50\n2026-04-02,Google,Brand,999\n"
)


def load_raw(settings: Settings) -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    first = Batch(now)
    for offset, event in enumerate(EVENTS):
        first.add("events", 0, offset, orjson.dumps(event))
    write_batch(settings.warehouse, first)
    later = Batch(now + timedelta(minutes=5))
    later.add("events", 1, 0, orjson.dumps(LATE_COPY))
    write_batch(settings.warehouse, later)
    assert not first.rejected_count and not later.rejected_count
    from ingest.spend import load_spend

    spend_file = settings.warehouse.parent / "spend.csv"
    spend_file.write_text(SPEND_CSV)
    assert all(result.loaded for result in load_spend(settings, [spend_file]))


def build(tmp: Path, name: str, vars: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    settings = Settings(warehouse=tmp / name / "warehouse.duckdb")
    load_raw(settings)
    run_build(settings, vars=vars, quiet=True)
    return duckdb.connect(str(settings.warehouse), read_only=True)


@pytest.fixture(scope="module")
def marts(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    return build(tmp_path_factory.mktemp("marts"), "utc")


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_dim_users(marts: duckdb.DuckDBPyConnection) -> None:
    got = {
        r[0]: r[1:]
        for r in rows(
            marts,
            """
        select user_key, first_seen_at, signed_up_at, signup_date, acquisition_channel, acquisition_campaign,
               activated_at, is_activated, first_purchase_at, is_customer, last_active_at, is_churned,
               lifetime_revenue, activity_events, sessions
        from marts.dim_users""",
        )
    }
    assert set(got) == {"alice", "bob", "carol", "dave"}  # tmp_bob and bob2 stitched into bob
    # alice: the anonymous Google page before signup is hers (retroactive stitching);
    # activation exactly 7 days after signup is inside the window; sessions split only
    # when MORE than 30 minutes pass: [09:00] [10:00, 10:30] [11:00:00.001] [03-09] [03-10] [03-30].
    assert got["alice"] == (
        ts("2026-03-02T09:00:00Z"),
        ts("2026-03-02T10:00:00Z"),
        date(2026, 3, 2),
        "google",
        "Brand",
        ts("2026-03-09T10:00:00Z"),
        True,
        ts("2026-03-10T12:00:00Z"),
        True,
        ts("2026-03-30T12:00:00Z"),
        False,
        98.0,
        7,
        6,
    )
    # bob: alias chain tmp_bob -> bob2 -> bob; no campaign -> direct; activity b1 + b4.
    assert got["bob"] == (
        ts("2026-03-03T08:00:00Z"),
        ts("2026-03-03T08:00:00Z"),
        date(2026, 3, 3),
        "direct",
        None,
        None,
        False,
        None,
        False,
        ts("2026-03-20T08:00:00Z"),
        False,
        0.0,
        2,
        2,
    )
    # carol: "1e3" is no revenue, 0 is not a purchase; Project Created 1 ms past the window.
    # Sessions: [c1, c2] [c3, c4 exactly 30 min later] [c5].
    assert got["carol"] == (
        ts("2026-03-05T12:00:00Z"),
        ts("2026-03-05T12:10:00Z"),
        date(2026, 3, 5),
        "facebook",
        "Retarget",
        None,
        False,
        None,
        False,
        ts("2026-03-12T12:10:00.001Z"),
        False,
        0.0,
        5,
        3,
    )
    # dave: no signup event -> signed up when first seen; the late copy of "dup" is ignored;
    # last active 02-28, 31 days before data end (> 30) -> churned.
    assert got["dave"] == (
        ts("2026-02-28T03:00:00Z"),
        ts("2026-02-28T03:00:00Z"),
        date(2026, 2, 28),
        "direct",
        None,
        None,
        False,
        ts("2026-02-28T11:00:00Z"),
        True,
        ts("2026-02-28T11:00:00Z"),
        True,
        60.0,
        2,
        2,
    )


def test_sessions_and_engagement(marts: duckdb.DuckDBPyConnection) -> None:
    alice = rows(
        marts,
        """select session_start, session_end, duration_seconds, event_count, session_date
                           from marts.fct_sessions where user_key = 'alice' order by session_start""",
    )
    assert alice[1] == (ts("2026-03-02T10:00:00Z"), ts("2026-03-02T10:30:00Z"), 1800.0, 2, date(2026, 3, 2))
    assert [r[3] for r in alice] == [1, 2, 1, 1, 1, 1]
    # 03-02: alice's three sessions (0 s, 1800 s, 0 s, with 1+2+1 events).
    day = rows(marts, "select * from marts.fct_engagement_daily where session_date = '2026-03-02'")[0]
    assert day == (date(2026, 3, 2), 3, 1, 3.0, 600.0, 0.0, 4 / 3)


def test_daily_active_users(marts: duckdb.DuckDBPyConnection) -> None:
    got = {r[0]: r[1:] for r in rows(marts, "select * from marts.fct_daily_active_users")}
    assert min(got) == date(2026, 2, 28) and max(got) == date(2026, 3, 30) and len(got) == 31  # dense
    # (dau, wau, mau, stickiness, new_users, anonymous_visitors)
    assert got[date(2026, 2, 28)] == (1, 1, 1, 1.0, 1, 0)
    assert got[date(2026, 3, 2)] == (1, 2, 2, 0.5, 1, 0)  # the a1 page is stitched, not anonymous
    assert got[date(2026, 3, 6)] == (1, 4, 4, 0.25, 0, 0)  # dave's 02-28 is inside [02-28, 03-06]
    assert got[date(2026, 3, 8)] == (0, 3, 4, 0.0, 0, 0)
    assert got[date(2026, 3, 19)][:3] == (0, 0, 4)
    assert got[date(2026, 3, 29)][:3] == (0, 0, 4)  # [02-28, 03-29] still holds dave
    assert got[date(2026, 3, 30)] == (1, 1, 3, 1 / 3, 0, 1)  # anon9 is an anonymous visitor


def test_weekly_retention(marts: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        marts,
        """select cohort_start, period_number, cohort_size, retained_users, retained_users_unbounded,
                                is_complete
                         from marts.fct_retention where grain = 'week' order by 1, 2""",
    )
    assert got == [
        # dave's cohort (week of 02-23): active only in week 0; weeks 0..5 up to data end.
        (date(2026, 2, 23), 0, 1, 1, 1, True),
        *[(date(2026, 2, 23), n, 1, 0, 0, True) for n in range(1, 5)],
        (date(2026, 2, 23), 5, 1, 0, 0, False),
        # alice (w0, w1, w4), bob (w0, w2), carol (w0, w1)
        (date(2026, 3, 2), 0, 3, 3, 3, True),
        (date(2026, 3, 2), 1, 3, 2, 3, True),
        (date(2026, 3, 2), 2, 3, 1, 2, True),
        (date(2026, 3, 2), 3, 3, 0, 1, True),
        (date(2026, 3, 2), 4, 3, 1, 1, False),
    ]
    rate = rows(
        marts,
        "select retention_rate, unbounded_retention_rate from marts.fct_retention "
        "where grain = 'week' and cohort_start = '2026-03-02' and period_number = 1",
    )
    assert rate == [(2 / 3, 1.0)]


def test_weekly_growth_accounting(marts: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        marts,
        """select period_start, active_users, new_users, retained_users, resurrected_users,
                                churned_users, churn_rate, quick_ratio, is_complete
                         from marts.fct_growth_accounting where grain = 'week' order by 1""",
    )
    assert got == [
        (date(2026, 2, 23), 1, 1, 0, 0, 0, None, None, True),
        (date(2026, 3, 2), 3, 3, 0, 0, 1, 1.0, 3.0, True),
        (date(2026, 3, 9), 2, 0, 2, 0, 1, 1 / 3, 0.0, True),
        (date(2026, 3, 16), 1, 0, 0, 1, 2, 1.0, 0.5, True),
        (date(2026, 3, 23), 0, 0, 0, 0, 1, 1.0, 0.0, True),
        (date(2026, 3, 30), 1, 0, 0, 1, 0, None, None, False),
    ]


def test_activation(marts: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        marts,
        """select cohort_start, signups, activated_users, activation_rate, median_hours_to_activate,
                                is_complete
                         from marts.fct_activation where grain = 'week' order by 1""",
    )
    assert got == [(date(2026, 2, 23), 1, 0, 0.0, None, True), (date(2026, 3, 2), 3, 1, 1 / 3, 168.0, True)]
    month = rows(marts, "select is_complete from marts.fct_activation where grain = 'month' order by cohort_start")
    assert month == [(True,), (False,)]  # March's last day + 7 > 03-31


def test_funnel(marts: duckdb.DuckDBPyConnection) -> None:
    got = {
        (r[0], r[1]): r[2:]
        for r in rows(
            marts,
            """
        select acquisition_channel, step_number, step_event, users, conversion_from_previous, conversion_from_start
        from marts.fct_funnel where cohort_week = '2026-03-02'""",
        )
    }
    assert got[("(all)", 1)] == ("Signed Up", 3, 1.0, 1.0)
    assert got[("(all)", 2)] == ("Project Created", 2, 2 / 3, 2 / 3)  # carol's is 7 days late but inside 14
    assert got[("(all)", 3)] == ("Order Completed", 1, 0.5, 1 / 3)  # carol's orders came before step 2
    assert got[("direct", 2)] == ("Project Created", 0, 0.0, 0.0)
    assert got[("direct", 3)] == ("Order Completed", 0, None, 0.0)
    assert got[("google", 3)][1:] == (1, 1.0, 1.0)
    assert len(got) == 4 * 3  # (all), google, facebook, direct; dave never signed up


def test_acquisition(marts: duckdb.DuckDBPyConnection) -> None:
    got = {
        (r[0], r[1]): r[2:]
        for r in rows(
            marts,
            """
        select month, channel, spend, signups, new_customers, cost_per_signup, cac from marts.fct_acquisition""",
        )
    }
    feb, mar = date(2026, 2, 1), date(2026, 3, 1)
    assert {month for month, _ in got} == {feb, mar}  # April spend is after the data-end month
    assert got[(mar, "google")] == (100.0, 1, 1, 100.0, 100.0)
    assert got[(mar, "facebook")] == (50.0, 1, 0, 50.0, None)
    assert got[(mar, "direct")] == (0.0, 1, 0, 0.0, None)
    assert got[(mar, "(all)")] == (150.0, 3, 1, 50.0, 150.0)
    assert got[(feb, "direct")] == (0.0, 1, 1, 0.0, 0.0)
    assert got[(feb, "google")] == (0.0, 0, 0, None, None)


def test_ltv_cohorts(marts: duckdb.DuckDBPyConnection) -> None:
    got = rows(marts, "select * from marts.fct_ltv_cohorts order by 1, 2")
    assert got == [
        (date(2026, 2, 1), 0, 1, 60.0, 60.0, 60.0, True),
        (date(2026, 2, 1), 1, 1, 0.0, 60.0, 60.0, True),
        (date(2026, 3, 1), 0, 3, 98.0, 98.0, 98.0 / 3, True),
    ]


def test_channel_economics(marts: duckdb.DuckDBPyConnection) -> None:
    got = {r[0]: r[1:] for r in rows(marts, "select * from marts.fct_channel_economics")}
    # (signups, spend, customers, cost_per_signup, cac, revenue, ltv, ltv_cac_ratio, payback_months)
    # Ages: March signups are -1 months old, dave 0; with a 12-month horizon no LTV exists yet.
    assert got["google"] == (1, 100.0, 1, 100.0, 100.0, 98.0, None, None, None)
    assert got["facebook"] == (1, 50.0, 0, 50.0, None, 0.0, None, None, None)
    assert got["direct"] == (2, 0.0, 1, 0.0, 0.0, 60.0, None, None, 0)
    # (all): ltv_at_month(0) over users aged >= 0 (dave) = 60 >= 37.5 -> payback 1 month.
    assert got["(all)"] == (4, 150.0, 2, 37.5, 75.0, 158.0, None, None, 1)


def test_short_ltv_horizon_and_second_time_zone(tmp_path: Path) -> None:
    con = build(tmp_path, "la", {"reporting_timezone": "America/Los_Angeles", "ltv_horizon_months": 1})
    # 02-28 03:00Z is 02-27 19:00 in Los Angeles; 03-31 01:00Z is 03-30 18:00 there.
    assert rows(con, "select signup_date from marts.dim_users where user_key = 'dave'") == [(date(2026, 2, 27),)]
    assert rows(con, "select max(activity_date) from marts.fct_daily_active_users") == [(date(2026, 3, 30),)]
    assert rows(
        con, "select anonymous_visitors from marts.fct_daily_active_users where activity_date = '2026-03-30'"
    ) == [(1,)]
    economics = {r[0]: r[1:] for r in rows(con, "select channel, ltv, ltv_cac_ratio from marts.fct_channel_economics")}
    assert economics["(all)"] == (60.0, 60.0 / 37.5)  # ltv_at_month(0) with a 1-month horizon
    assert economics["direct"] == (60.0, None)  # free channel: no ratio
    con.close()
    shutil.rmtree(tmp_path / "la")


@pytest.fixture(scope="module")
def oracle(marts: duckdb.DuckDBPyConnection) -> Oracle:
    return Oracle(marts)


@pytest.mark.parametrize("mart", ORACLE_MARTS)
def test_the_hand_made_marts_equal_an_independent_oracle(
    marts: duckdb.DuckDBPyConnection, oracle: Oracle, mart: str
) -> None:
    """The edge cases above, through tests/_oracle_core.py (written from metrics.md and events.md alone)."""
    assert differences(marts, mart, oracle) == []
