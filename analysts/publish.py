"""`growth publish`: the analyst snapshot, a separate DuckDB file replaced atomically.

Analysts, notebooks and reports never open the warehouse: a reader there would block the
pipeline's writers (DuckDB allows one writing process per file, and no readers beside
it). Instead the marts are copied into a new file next to the snapshot, which then
replaces the old one with a rename. A reader that has the old file open keeps reading the
old inode; the next open sees the new one; nobody ever sees half a snapshot.

The snapshot also holds a small view layer, schema ``analytics``, with friendly names for
the questions analysts ask most (weekly retention, weekly growth accounting, channel
economics without the ``(all)`` roll-up, ...). The views live in the snapshot only, are
commented (``select * from duckdb_views() where schema_name = 'analytics'``) and are listed
in docs/analysts.md. The writer lock is held only while the marts are copied; the views
are added to the new file after the lock is released, before the swap.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb

from warehouse.connection import writing
from warehouse.errors import GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
PUBLISHED_SCHEMAS = ("marts",)

# (view, comment, definition) of the analytics layer; views whose marts are missing are skipped.
ANALYTICS_VIEWS: list[tuple[str, str, str]] = [
    ("users", "One row per stitched user (marts.dim_users).", "select * from marts.dim_users"),
    (
        "weekly_retention",
        "Weekly signup cohorts: share of the cohort active n weeks after signup.",
        "select cohort_start, period_number as week_number, cohort_size, retained_users, retention_rate, "
        "is_complete from marts.fct_retention where grain = 'week'",
    ),
    (
        "monthly_retention",
        "Monthly signup cohorts: share of the cohort active n months after signup.",
        "select cohort_start, period_number as month_number, cohort_size, retained_users, retention_rate, "
        "is_complete from marts.fct_retention where grain = 'month'",
    ),
    (
        "weekly_growth_accounting",
        "Per week: new, retained, resurrected and churned users, churn rate and quick ratio.",
        "select period_start as week_start, active_users, new_users, retained_users, resurrected_users, "
        "churned_users, churn_rate, quick_ratio, is_complete from marts.fct_growth_accounting where grain = 'week'",
    ),
    (
        "daily_active_users",
        "DAU, WAU, MAU and stickiness per day.",
        "select activity_date, dau, wau, mau, stickiness, new_users from marts.fct_daily_active_users",
    ),
    (
        "weekly_activation",
        "Per weekly signup cohort: signups, activated users and activation rate.",
        "select cohort_start, signups, activated_users, activation_rate, median_hours_to_activate, is_complete "
        "from marts.fct_activation where grain = 'week'",
    ),
    (
        "funnel",
        "Funnel steps over all signups (all cohorts and channels summed).",
        "select step_number, step_event, sum(users) as users from marts.fct_funnel "
        "where acquisition_channel = '(all)' group by all order by step_number",
    ),
    (
        "channel_economics",
        "Per acquisition channel (the '(all)' roll-up left out): spend, signups, CAC, LTV, LTV:CAC, payback.",
        "select * from marts.fct_channel_economics where channel <> '(all)'",
    ),
]


def _users_in(con: duckdb.DuckDBPyConnection, catalog: str) -> int:
    """Rows of dim_users in ``catalog`` (0 when the table is missing)."""
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'marts' "
        "and table_name = 'dim_users'",
        [catalog],
    ).fetchall()[0][0]
    return con.execute(f"select count(*) from {catalog}.marts.dim_users").fetchall()[0][0] if found else 0


def _refuse_emptying(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """An empty warehouse (a mistyped path, a fresh file) must not replace the analysts' data."""
    if not settings.published.exists() or _users_in(con, con.execute("select current_database()").fetchall()[0][0]):
        return
    con.execute(f"attach '{settings.published}' as current_snapshot (read_only)")
    try:
        published_users = _users_in(con, "current_snapshot")
    finally:
        con.execute("detach current_snapshot")
    if published_users:
        raise GrowthError(
            f"{settings.warehouse} has no users in marts.dim_users but the snapshot {settings.published} has "
            f"{published_users:,}: not replacing it (check GROWTH_WAREHOUSE, or pass --allow-empty)"
        )


def publish_snapshot(settings: Settings, *, allow_empty: bool = False) -> Path:
    """Copy the marts into a fresh file and swap it in; returns the snapshot path."""
    target = settings.published
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    with writing(settings, on_wait=log.warning) as con:
        if not allow_empty:
            _refuse_emptying(con, settings)
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' order by 1, 2",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
        if not tables:
            raise GrowthError(f"the warehouse {settings.warehouse} has no marts yet: run `growth build` first")
        con.execute(f"attach '{staging}' as snapshot")
        try:
            for schema in sorted({schema for schema, _ in tables}):
                con.execute(f"create schema snapshot.{schema}")
            for schema, table in tables:
                # Bookkeeping columns of incremental builds (`_batch_at`) are not for analysts.
                con.execute(
                    f'create table snapshot.{schema}."{table}" as '
                    f"select columns(lambda c: not starts_with(c, '_')) from {schema}.\"{table}\""
                )
            con.execute(
                "create table snapshot.main.snapshot_info as select now() as published_at, ? as source_warehouse",
                [str(settings.warehouse.resolve())],
            )
        finally:
            con.execute("detach snapshot")
    _add_views(staging)
    os.replace(staging, target)
    return target


def _add_views(staging: Path) -> None:
    """The analytics view layer, created in the new file itself (no lock: nobody else has it)."""
    with duckdb.connect(str(staging)) as con:
        con.execute("create schema analytics")
        for name, comment, definition in ANALYTICS_VIEWS:
            try:
                con.execute(f"create view analytics.{name} as {definition}")
                con.execute(f"select * from analytics.{name} limit 0")
            except duckdb.Error as exc:  # a mart this view needs is not built (yet)
                log.warning("analytics.%s skipped: %s", name, str(exc).splitlines()[0])
                con.execute(f"drop view if exists analytics.{name}")
                continue
            con.execute(f"comment on view analytics.{name} is {_quote(comment)}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
