"""Hand-made segment marts for tests: the six marts of the segments contract, rows written by hand.

The report's "Who retains" section and the retention notebook read
``marts.fct_retention_by_segment``, ``marts.fct_feature_retention``,
``marts.fct_feature_adoption``, ``marts.dim_accounts`` and ``marts.fct_account_retention``
(and the snapshot carries ``marts.fct_activation_by_segment`` beside them). Tests write them
here with known sums instead of running dbt, and check the texts and numbers worked out by
hand from the rows below (tests/test_report.py, tests/test_notebooks.py). Shared, no copies.

- :func:`write_segment_marts` -- the six marts into an open connection (schema ``marts``);
- :func:`copy_segment_marts` -- the same into a DuckDB file (a snapshot), replacing any there;
- :func:`drop_segment_marts` -- a snapshot as published before the marts existed.

The data ends on Wednesday 27 May 2026 (as tests/test_report.py's END): a weekly cohort's
week 4 is complete when its Monday + 34 days <= 27 May, so for cohorts up to 20 Apr.

Week 4 (grain week, period 4), cohort size / retained users per cohort:

=============  ==========  ==========  ======  ======  ======  ======  ==========
dimension      segment     23 Mar (*)  30 Mar  6 Apr   13 Apr  20 Apr  27 Apr (r)
=============  ==========  ==========  ======  ======  ======  ======  ==========
trait_plan     pro         50 / 50                     40 / 10 60 / 30 20 / 0
trait_plan     free        10 / 0      50 / 5  50 / 10 100/15  100/20
trait_plan     (none)                          10 / 3          10 / 2
acq._channel   ads         60 / 50     20 / 2  30 / 9  70 / 15 80 / 30 20 / 0
acq._channel   organic                 30 / 3  30 / 4  60 / 8  80 / 20
acq._channel   (other)                                 10 / 2  10 / 2
=============  ==========  ==========  ======  ======  ======  ======  ==========

(*) complete but older than the latest four complete cohorts; (r) week 4 still running.
Both dimensions partition the same users: per cohort the sizes and retained users add up to
the same totals (50/5, 60/13, 140/25, 170/52), 420 users and 95 retained in the four pooled
cohorts. A month-grain row and a week-3 row (both 100 %) must never be read as week 4.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from analysts.report.segments import SEGMENT_MARTS

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_RETENTION",
    "DATA_END",
    "FEATURE_ADOPTION",
    "FEATURE_RETENTION",
    "POOLED_WEEKS",
    "RETENTION_BY_SEGMENT",
    "SEGMENT_MARTS",
    "copy_segment_marts",
    "drop_segment_marts",
    "write_segment_marts",
]

DATA_END = date(2026, 5, 27)
POOLED_WEEKS = (date(2026, 3, 30), date(2026, 4, 6), date(2026, 4, 13), date(2026, 4, 20))
OLD, RUNNING = date(2026, 3, 23), date(2026, 4, 27)

# (dimension, segment, cohort_start, cohort_size, retained_users): the table above.
WEEK_4: list[tuple[str, str, date, int, int]] = [
    ("trait_plan", "pro", OLD, 50, 50),
    ("trait_plan", "pro", date(2026, 4, 13), 40, 10),
    ("trait_plan", "pro", date(2026, 4, 20), 60, 30),
    ("trait_plan", "pro", RUNNING, 20, 0),
    ("trait_plan", "free", OLD, 10, 0),
    ("trait_plan", "free", date(2026, 3, 30), 50, 5),
    ("trait_plan", "free", date(2026, 4, 6), 50, 10),
    ("trait_plan", "free", date(2026, 4, 13), 100, 15),
    ("trait_plan", "free", date(2026, 4, 20), 100, 20),
    ("trait_plan", "(none)", date(2026, 4, 6), 10, 3),
    ("trait_plan", "(none)", date(2026, 4, 20), 10, 2),
    ("acquisition_channel", "ads", OLD, 60, 50),
    ("acquisition_channel", "ads", date(2026, 3, 30), 20, 2),
    ("acquisition_channel", "ads", date(2026, 4, 6), 30, 9),
    ("acquisition_channel", "ads", date(2026, 4, 13), 70, 15),
    ("acquisition_channel", "ads", date(2026, 4, 20), 80, 30),
    ("acquisition_channel", "ads", RUNNING, 20, 0),
    ("acquisition_channel", "organic", date(2026, 3, 30), 30, 3),
    ("acquisition_channel", "organic", date(2026, 4, 6), 30, 4),
    ("acquisition_channel", "organic", date(2026, 4, 13), 60, 8),
    ("acquisition_channel", "organic", date(2026, 4, 20), 80, 20),
    ("acquisition_channel", "(other)", date(2026, 4, 13), 10, 2),
    ("acquisition_channel", "(other)", date(2026, 4, 20), 10, 2),
]


def _retention_row(
    grain: str, dimension: str, segment: str, cohort: date, period: int, size: int, retained: int, complete: bool
) -> tuple[Any, ...]:
    return (
        grain,
        dimension,
        segment,
        cohort,
        period,
        size,
        retained,
        retained / size,
        retained,
        retained / size,
        complete,
    )


RETENTION_BY_SEGMENT: list[tuple[Any, ...]] = [
    _retention_row("week", dimension, segment, cohort, 4, size, retained, cohort <= date(2026, 4, 20))
    for dimension, segment, cohort, size, retained in WEEK_4
] + [
    _retention_row("week", "trait_plan", "pro", date(2026, 4, 20), 3, 60, 60, True),  # week 3, not week 4
    _retention_row("month", "trait_plan", "pro", date(2026, 1, 1), 4, 1000, 1000, True),  # a month, not a week
]

ACTIVATION_BY_SEGMENT: list[tuple[Any, ...]] = [
    ("week", "trait_plan", "pro", date(2026, 4, 20), 60, 45, 0.75, 6.0, True),
    ("week", "trait_plan", "free", date(2026, 4, 20), 100, 40, 0.4, 20.0, True),
    ("week", "trait_plan", "(none)", date(2026, 4, 20), 10, 2, 0.2, None, True),
]

# Feature adoption, 100 active users every week from 23 Mar to 25 May (running):
# search: 20 of 100 on 20 Apr, 31 on 18 May (the latest complete week): 31.0 %, +11.0 points;
# Dashboard Shared: 10 on 20 Apr, 8 on 18 May: 8.0 %, -2.0 points. The running week of
# 25 May (search 90 %) is never drawn.
ADOPTION_WEEKS = [date(2026, 3, 23) + timedelta(weeks=k) for k in range(10)]
SEARCH_USERS = [15, 17, 18, 19, 20, 22, 25, 28, 31, 90]
DASHBOARD_USERS = [12, 12, 11, 11, 10, 10, 9, 9, 8, 1]
FEATURE_ADOPTION: list[tuple[Any, ...]] = [
    (start, feature, 100, users, users / 100, max(1, users // 4), start + timedelta(days=6) <= DATA_END)
    for feature, counts in (("search", SEARCH_USERS), ("Dashboard Shared", DASHBOARD_USERS))
    for start, users in zip(ADOPTION_WEEKS, counts, strict=True)
]

# (feature, adopters, non_adopters, adopter rate, non-adopter rate, difference):
# search 48 / 120 = 40 % vs 75 / 300 = 25 %: +15.0 points, the largest difference;
# Dashboard Shared 15 / 50 = 30 % vs 111 / 370 = 30 %: 0.0 points; Export: nobody adopted it.
FEATURE_RETENTION: list[tuple[Any, ...]] = [
    ("search", 120, 300, 48 / 120, 75 / 300, 48 / 120 - 75 / 300),
    ("Dashboard Shared", 50, 370, 15 / 50, 111 / 370, 15 / 50 - 111 / 370),
    ("Export", 0, 420, None, 110 / 420, None),
]

# 14 accounts, 9 of them with a user active in the last 30 days.
ACCOUNTS: list[tuple[Any, ...]] = [
    (f"acct_{i:02d}", f"Account {i}", 1 + i % 3, date(2026, 3, 30), 1 if i < 9 else 0, 100.0 * i, i % 2)
    for i in range(14)
]

# Week-4 account retention: 30 Mar 1 / 2 = 50 %, 13 Apr 3 / 4 = 75 %, 20 Apr 2 / 5 = 40 % (down
# 35.0 points on the cohort before), 27 Apr 3 / 3 still running (left out); a month row ignored.
ACCOUNT_RETENTION: list[tuple[Any, ...]] = [
    ("week", date(2026, 3, 30), 4, 2, 1, 0.5, 1, 0.5, True),
    ("week", date(2026, 4, 13), 4, 4, 3, 0.75, 3, 0.75, True),
    ("week", date(2026, 4, 20), 4, 5, 2, 0.4, 2, 0.4, True),
    ("week", date(2026, 4, 27), 4, 3, 3, 1.0, 3, 1.0, False),
    ("week", date(2026, 4, 20), 0, 5, 5, 1.0, 5, 1.0, True),
    ("month", date(2026, 3, 1), 1, 9, 9, 1.0, 9, 1.0, True),
]

DDL = """
create schema if not exists marts;
create or replace table marts.fct_retention_by_segment (
    grain varchar, dimension varchar, segment varchar, cohort_start date, period_number integer,
    cohort_size bigint, retained_users bigint, retention_rate double, retained_users_unbounded bigint,
    unbounded_retention_rate double, is_complete boolean);
create or replace table marts.fct_activation_by_segment (
    grain varchar, dimension varchar, segment varchar, cohort_start date, signups bigint,
    activated_users bigint, activation_rate double, median_hours_to_activate double, is_complete boolean);
create or replace table marts.fct_feature_adoption (
    week_start date, feature varchar, active_users bigint, feature_users bigint, adoption_rate double,
    new_adopters bigint, is_complete boolean);
create or replace table marts.fct_feature_retention (
    feature varchar, adopters bigint, non_adopters bigint, adopter_week_4_retention double,
    non_adopter_week_4_retention double, retention_difference double);
create or replace table marts.dim_accounts (
    account_id varchar, account_name varchar, users bigint, first_activity_date date, active_users_30d bigint,
    lifetime_revenue double, customers bigint);
create or replace table marts.fct_account_retention (
    grain varchar, cohort_start date, period_number integer, cohort_accounts bigint, retained_accounts bigint,
    retention_rate double, retained_accounts_unbounded bigint, unbounded_retention_rate double,
    is_complete boolean);
"""

ROWS: dict[str, list[tuple[Any, ...]]] = {
    "fct_retention_by_segment": RETENTION_BY_SEGMENT,
    "fct_activation_by_segment": ACTIVATION_BY_SEGMENT,
    "fct_feature_adoption": FEATURE_ADOPTION,
    "fct_feature_retention": FEATURE_RETENTION,
    "dim_accounts": ACCOUNTS,
    "fct_account_retention": ACCOUNT_RETENTION,
}


def write_segment_marts(con: duckdb.DuckDBPyConnection, rows: dict[str, list[tuple[Any, ...]]] = ROWS) -> None:
    """Create (or replace) the six marts in ``con`` and fill them with ``rows`` (a mart left out stays empty)."""
    con.execute(DDL)
    for table, values in rows.items():
        if values:
            marks = ", ".join("?" * len(values[0]))
            con.executemany(f"insert into marts.{table} values ({marks})", values)


def copy_segment_marts(target: Path, rows: dict[str, list[tuple[Any, ...]]] = ROWS) -> None:
    """Write the six hand-made marts into the DuckDB file ``target`` (a snapshot), replacing any there."""
    with duckdb.connect(str(target)) as con:
        write_segment_marts(con, rows)


def drop_segment_marts(target: Path) -> None:
    """The DuckDB file ``target`` as a snapshot published before the segment marts existed."""
    with duckdb.connect(str(target)) as con:
        for table in SEGMENT_MARTS:
            con.execute(f"drop table if exists marts.{table}")
