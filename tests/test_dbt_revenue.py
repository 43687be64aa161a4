"""The recurring-revenue marts from a small hand-written event set, checked against values worked out by hand.

The events go through the real ingest path (validation, batch writer) into a real DuckDB
file, spend rows straight into raw.marketing_spend, then real `dbt build` runs: a first
build, a second batch (late payments and refunds) built incrementally, and a full refresh
of a copy that must give the same marts. Every expected value was worked out by hand from
docs/revenue.md (../shared/spec/revenue.md); the arithmetic is in the comments, here and
in tests/_revenue_data.py (the marts' rows, shared with the report's test). Reporting
time zone UTC, defaults otherwise (billing_interval_property `interval`, mrr_grace_days 7).
The data ends on Monday 15 June 2026 (an `end` page view), so June is running.

Users (all payments are `Order Completed`; k = months a payment covers):
  a  google / "Brand Search", signs up Jan 5; monthly $30 on Jan 10, Feb 10, Mar 10, then
     nothing: each payment is the latest until the next one, the Mar 10 one until
     Apr 10 + 7 days = Apr 17 > Mar 31, but not on Apr 30: MRR 30 Jan-Mar, churn in April.
  c  google / " BRAND search ", signs up Jan 6; "Monthly" $20 on Jan 31, renewal 3 days late on
     Mar 3. Jan 31 + 1 month = Feb 28 (clamped), + 7 days grace = Mar 7, so the snapshot of
     Feb 28 still counts (and Mar 3 comes first): MRR 20 Jan-Mar; the Mar 3 payment ends
     Apr 3 + 7 = Apr 10 <= Apr 30: churn in April.
  e  google / no campaign, signs up Feb 1; " MONTH " $10 on Feb 5 and Mar 5, a mid-month
     upgrade to $40 on Mar 20 (late batch), a downgrade to $25 on Apr 20 and May 20; a refund
     of -10 as an Order Completed with an interval (late batch) and a $15 add-on without one.
     Feb 5 is latest until Mar 5 (> Feb 28): Feb 10. Mar 5 is replaced on Mar 20 (< Mar 31):
     Mar 40 (expansion 30). Apr 25 (contraction 15), May 25, and June 25: the May 20 renewal
     is due Jun 20 + 7 > Jun 15.
  f  facebook / "Retargeting", signs up Feb 2; "Annual" $1200 on Mar 15: k = 12, MRR 100 from
     March on; the months up to March 2027 it covers are not shown after June.
  g  google / "(None)", a real campaign spelled like the label; signs up Jan 7; "quarterly" $90
     on Jan 15: k = 3, MRR 30, ends Apr 15 + 7 = Apr 22: Jan-Mar, churn in April; then "month"
     $35 on May 10 (late batch): 0 in April, > 0 before: reactivation 35 in May, and June
     (ends Jun 10 + 7 = Jun 17 > Jun 15).
  h  direct, signs up Jan 8; one-time purchases only: $50 without an interval (Jan 12), $60
     "weekly" (Feb 12) and $70 "" (Feb 13): unrecognised, $12 with the number 12 (Mar 1) and
     $8 with an object (Mar 2): unrecognised, $5 with null (Mar 3): one-time, not
     unrecognised; a refund of -5 "weekly" (Apr 1, late batch): no purchase, not counted.
  i  linkedin / "(Unattributed)", signs up May 1; two "monthly" payments at the same instant
     on May 31, $60 (i-pay-a) and $80 (i-pay-b): the latest by messageId is i-pay-b, MRR 80
     in May and June (ends Jun 30 + 7).
  j  an anonymous visitor (never a user) pays $99 "month": no user_key, no MRR.

MRR by user and month (2026):
       Jan  Feb  Mar  Apr  May  Jun
  a     30   30   30    0    0    0
  c     20   20   20    0    0    0
  e      0   10   40   25   25   25
  f      0    0  100  100  100  100
  g     30   30   30    0   35   35
  i      0    0    0    0   80   80
  sum   80   90  220  125  240  240
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from ingest.batch import Batch
from ingest.writer import write_batch
from orchestration.build import BuildError, run_build
from tests._oracle_revenue import MARTS as ORACLE_MARTS
from tests._oracle_revenue import differences
from tests._revenue_data import CAMPAIGNS, MRR, RETENTION
from warehouse.connection import connect
from warehouse.settings import Settings

END = "06-15T12:00:00"


def ev(mid: str, kind: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"messageId": mid, "type": kind, "timestamp": f"2026-{ts}Z", **fields}


def signup(user: str, ts: str, source: str | None, campaign: str | None = None) -> dict[str, Any]:
    context = {"campaign": {"source": source, "name": campaign}} if source else {}
    return ev(f"su-{user}", "track", ts, userId=user, event="Signed Up", context=context)


def pay(mid: str, ts: str, user: str, revenue: float, **interval: Any) -> dict[str, Any]:
    """An Order Completed of ``user``; ``interval`` is the property as sent (absent when not given)."""
    return ev(mid, "track", ts, userId=user, event="Order Completed", properties={"revenue": revenue, **interval})


FIRST = [
    signup("a", "01-05T09:00:00", "google", "Brand Search"),
    pay("a1", "01-10T10:00:00", "a", 30, interval="month"),
    pay("a2", "02-10T10:00:00", "a", 30, interval="month"),
    pay("a3", "03-10T10:00:00", "a", 30, interval="month"),
    signup("c", "01-06T09:00:00", "google", " BRAND search "),
    pay("c1", "01-31T10:00:00", "c", 20, interval="Monthly"),
    pay("c2", "03-03T10:00:00", "c", 20, interval="Monthly"),
    signup("e", "02-01T09:00:00", "google"),
    pay("e1", "02-05T10:00:00", "e", 10, interval=" MONTH "),
    pay("e2", "03-05T10:00:00", "e", 10, interval=" MONTH "),
    pay("e4", "04-20T10:00:00", "e", 25, interval=" MONTH "),
    pay("e5", "05-20T10:00:00", "e", 25, interval=" MONTH "),
    pay("e-addon", "04-02T10:00:00", "e", 15),
    signup("f", "02-02T09:00:00", "facebook", "Retargeting"),
    pay("f1", "03-15T10:00:00", "f", 1200, interval="Annual"),
    signup("g", "01-07T09:00:00", "google", "(None)"),
    pay("g1", "01-15T10:00:00", "g", 90, interval="quarterly"),
    signup("h", "01-08T09:00:00", None),
    pay("h1", "01-12T10:00:00", "h", 50),
    pay("h2", "02-12T10:00:00", "h", 60, interval="weekly"),
    pay("h3", "02-13T10:00:00", "h", 70, interval=""),
    pay("h4", "03-01T10:00:00", "h", 12, interval=12),
    pay("h5", "03-02T10:00:00", "h", 8, interval={"every": "month"}),
    pay("h6", "03-03T10:00:00", "h", 5, interval=None),
    signup("i", "05-01T09:00:00", "linkedin", "(Unattributed)"),
    pay("i-pay-b", "05-31T10:00:00", "i", 80, interval="monthly"),
    pay("i-pay-a", "05-31T10:00:00", "i", 60, interval="monthly"),
    ev("j1", "track", "02-01T10:00:00", anonymousId="anon-j", event="Order Completed",
       properties={"revenue": 99, "interval": "month"}),
    ev("end", "page", END, userId="a"),
]  # fmt: skip

# Arrives in a second batch, ingested after the first build: a late upgrade of e (dated
# before e's stored Apr 20 payment), g's reactivating payment, and two refunds.
LATER = [
    pay("e3", "03-20T10:00:00", "e", 40, interval=" MONTH "),
    pay("e-refund", "03-22T10:00:00", "e", -10, interval="month"),
    pay("g2", "05-10T10:00:00", "g", 35, interval="month"),
    pay("h-refund", "04-01T10:00:00", "h", -5, interval="weekly"),
]

# The billing interval as sent on revenue events of an anonymous visitor (never a user, so
# in no mart), and the months staging reads from it (revenue.md "MRR"; trim removes spaces
# U+0020 only, so a tab or a no-break space stays and the value is unrecognised: 0).
SPELLINGS: list[tuple[Any, int | None]] = [
    ("month", 1), ("monthly", 1), ("Monthly", 1), ("  MONTH  ", 1),
    ("quarter", 3), ("Quarterly ", 3),
    ("year", 12), ("YEARLY", 12), (" Annual", 12),
    ("weekly", 0), ("mon th", 0), ("", 0), ("   ", 0), ("\tmonth", 0), ("\u00a0month", 0),
    (1, 0), (12.0, 0), (True, 0), ({"every": "month"}, 0), (["month"], 0),
    (None, None),
]  # fmt: skip
PROBES = [
    ev(f"probe{n}", "track", "01-02T10:00:00", anonymousId="anon-probe", event="Spelling Probe",
       properties={"revenue": 1, "interval": value})
    for n, (value, _) in enumerate(SPELLINGS)
] + [ev("probe-absent", "track", "01-02T10:00:00", anonymousId="anon-probe", event="Spelling Probe",
        properties={"revenue": 1})]  # fmt: skip

# (spend_date, channel as in the file, campaign as in the file, spend)
SPEND = [
    ("2025-12-20", "google", "Brand Search", 20.0),  # the earliest month holding spend: December
    ("2026-01-03", "google", "Brand Search", 100.0),
    ("2026-01-20", " Google ", "brand search ", 50.0),
    ("2026-01-04", "google", "  ", 40.0),  # blank: (unattributed)
    ("2026-01-05", "google", None, 10.0),  # none: (unattributed)
    ("2026-02-10", "facebook", "retargeting", 0.0),  # a zero spend row still makes a row
    ("2026-02-11", "facebook", "Lookalike", 30.0),
    ("2026-05-02", "linkedin", "", 80.0),
    ("2026-07-01", "google", "Brand Search", 999.0),  # after the month of data_end_date: not shown
]


def ingest(settings: Settings, events: list[dict[str, Any]], first_offset: int, day: int) -> None:
    """One batch, ingested (committed) on June ``day``: a later batch sorts after the earlier."""
    batch = Batch(datetime(2026, 6, day, tzinfo=UTC))
    for offset, event in enumerate(events, start=first_offset):
        batch.add("events", 0, offset, orjson.dumps(event))
    write_batch(settings.warehouse, batch)
    assert not batch.rejected_count


def rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def build_runs(warehouse: Path) -> dict[str, bool]:
    """Whether each incremental model's latest run was a full rebuild."""
    return dict(rows(warehouse, "select model, arg_max(is_full, run_at) from intermediate.incremental_runs group by 1"))


def revenue_marts(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        mart: sorted(rows(warehouse, f"select * from marts.{mart}"), key=repr)
        for mart in ("fct_mrr", "fct_revenue_retention", "fct_campaign_acquisition")
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(warehouse=tmp_path_factory.mktemp("revenue") / "warehouse.duckdb")
    ingest(settings, FIRST + PROBES, 0, 16)
    with connect(settings.warehouse) as con:
        con.executemany(
            "insert into raw.marketing_spend (spend_date, channel, campaign, spend, source_file, source_line, "
            "loaded_at) values (?, ?, ?, ?, 'spend.csv', 1, now())",
            SPEND,
        )
    run_build(settings, quiet=True)
    # Before the late batch: g has no May payment, so May holds e 25 + f 100 + i 80 = 205.
    assert rows(settings.warehouse, "select mrr from marts.fct_mrr where month = '2026-05-01'") == [(205.0,)]
    ingest(settings, LATER, len(FIRST) + len(PROBES), 17)
    run_build(settings, quiet=True)
    return settings


def test_the_late_batch_builds_incrementally_and_equals_a_full_refresh(built: Settings, tmp_path: Path) -> None:
    runs = build_runs(built.warehouse)
    assert not runs["stg_segment__events"] and not runs["int_events_attributed"]
    assert not runs["int_conversion_events"]
    copy = Settings(warehouse=tmp_path / "copy.duckdb")
    shutil.copy(built.warehouse, copy.warehouse)
    run_build(copy, full_refresh=True, quiet=True)
    assert revenue_marts(built.warehouse) == revenue_marts(copy.warehouse)


def test_the_ingester_keeps_the_properties_of_revenue_events_only(built: Settings) -> None:
    kept = dict(rows(built.warehouse, "select message_id, properties_raw from raw.events"))
    assert orjson.loads(kept["a1"]) == {"revenue": 30, "interval": "month"}
    assert kept["su-a"] is None and kept["end"] is None  # no revenue property: nothing kept


def test_interval_spellings(built: Settings) -> None:
    got = dict(
        rows(
            built.warehouse,
            "select message_id, billing_interval_months from intermediate.int_conversion_events "
            "where event_name = 'Spelling Probe'",
        )
    )
    expected = {f"probe{n}": months for n, (_, months) in enumerate(SPELLINGS)} | {"probe-absent": None}
    assert got == expected


# Each revenue mart's columns as the contract orders them, and its rows worked out by hand
# (tests/_revenue_data.py: MRR and its movements, NRR/GRR by cohort, campaigns).
MARTS = {
    "fct_mrr": (
        "select month, mrr, customers, arpu, new_mrr, expansion_mrr, contraction_mrr, churned_mrr, "
        "reactivation_mrr, unrecognized_intervals, is_complete from marts.fct_mrr order by month",
        MRR,
    ),
    "fct_revenue_retention": (
        "select cohort_month, months_since_start, customers, starting_mrr, mrr, retained_customers, "
        "net_revenue_retention, gross_revenue_retention, is_complete from marts.fct_revenue_retention order by 1, 2",
        RETENTION,
    ),
    "fct_campaign_acquisition": (
        "select month, channel, campaign, spend, signups, new_customers, cost_per_signup, cac, revenue_to_date "
        "from marts.fct_campaign_acquisition order by 1, 2, 3",
        CAMPAIGNS,
    ),
}


@pytest.mark.parametrize("mart", MARTS)
def test_the_marts_equal_the_rows_worked_out_by_hand(built: Settings, mart: str) -> None:
    sql, expected = MARTS[mart]
    assert rows(built.warehouse, sql) == expected


def test_no_grace_makes_a_late_renewal_a_churn_and_a_reactivation(built: Settings, tmp_path: Path) -> None:
    copy = Settings(warehouse=tmp_path / "copy.duckdb")
    shutil.copy(built.warehouse, copy.warehouse)
    run_build(copy, vars={"mrr_grace_days": 0}, quiet=True)
    got = rows(
        copy.warehouse,
        "select month, mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr, reactivation_mrr "
        "from marts.fct_mrr order by month",
    )
    assert got == [
        (date(2026, 1, 1), 80.0, 80.0, 0.0, 0.0, 0.0, 0.0),
        # c's Jan 31 payment ends on Feb 28 itself (no grace): not on Feb 28. 80 + 10 - 20 = 70
        (date(2026, 2, 1), 70.0, 10.0, 0.0, 0.0, 20.0, 0.0),
        # c pays again Mar 3: reactivation 20. 70 + 100 + 30 + 20 = 220
        (date(2026, 3, 1), 220.0, 100.0, 30.0, 0.0, 0.0, 20.0),
        (date(2026, 4, 1), 125.0, 0.0, 0.0, 15.0, 80.0, 0.0),
        (date(2026, 5, 1), 240.0, 80.0, 0.0, 0.0, 0.0, 35.0),
        # g's May 10 payment ends Jun 10 <= Jun 15 (grace 7 reached Jun 17): 240 - 35 = 205;
        # e's (Jun 20) and i's (Jun 30) are not due yet
        (date(2026, 6, 1), 205.0, 0.0, 0.0, 0.0, 35.0, 0.0),
    ]


def test_a_negative_grace_is_a_one_line_build_error(built: Settings) -> None:
    with pytest.raises(BuildError) as error:
        run_build(built, vars={"mrr_grace_days": -1}, select="int_payments_spread", quiet=True)
    assert "vars.mrr_grace_days: must be a whole number >= 0, got -1" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("mart", ORACLE_MARTS)
def test_the_hand_made_marts_equal_an_independent_oracle(built: Settings, mart: str) -> None:
    """The edge cases above, through tests/_oracle_revenue.py (written from revenue.md alone)."""
    with duckdb.connect(str(built.warehouse), read_only=True) as con:
        assert differences(con, mart) == []
