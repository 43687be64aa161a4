"""The default monitors of delivery.md, read from the warehouse, judged by ``delivery.anomaly``.

SQL reduces each monitor to a series ``{date: value}`` over the 57 days a verdict needs
(the day and 8 weeks before it), and each count and revenue monitor to one series per
(dimension, segment) on the 9 same-weekday dates; nothing else leaves DuckDB.

- ``signups`` (count): ``new_users`` per ``activity_date`` of ``marts.fct_daily_active_users``;
- ``dau`` (count): ``dau`` of the same mart;
- ``revenue`` (money): the revenue of users' track events per ``event_date``, from
  ``intermediate.int_conversion_events`` (no mart holds revenue per day; this is the table
  fct_ltv_cohorts' revenue comes from), 0 on a day of ``fct_daily_active_users`` without any;
- ``activation_rate`` (ratio): ``activation_rate`` of ``marts.fct_activation`` at
  ``grain = 'day'``, complete cohorts only (``is_complete``: the window is over);
- ``quarantine_share`` (ratio): quarantined / (quarantined + stored) records per UTC
  ingestion date, from ``raw.events_quarantine`` and ``raw.events``.

Segments ("what moved") are ``intermediate.int_user_segments`` (one row per user and
breakdown dimension, the (none)/(other) cut of segments.md applied), or
``dim_users.acquisition_channel`` alone in a warehouse built before it existed: signups per
``dim_users.signup_date``, DAU per ``intermediate.int_user_days_active`` date, revenue per
event date, each joined to the user's segment.

Only complete days are judged: a day counts once ``data_end_date``
(``intermediate.int_reporting_period``) is past it; an activation cohort once
``fct_activation`` marks it complete (its activation window is over).
"""

from __future__ import annotations

import datetime
import logging
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb

from delivery.anomaly import (
    DEFAULT_THRESHOLD,
    HISTORY_WEEKS,
    Alert,
    Bounds,
    MonitorKind,
    Moved,
    Series,
    Verdict,
    judge,
    what_moved,
)
from warehouse.connection import connect
from warehouse.errors import ConfigError, GrowthError
from warehouse.lake import EVENTS, QUARANTINE, Lake
from warehouse.lock import writer_lock
from warehouse.settings import Settings

log = logging.getLogger(__name__)

THRESHOLD_SETTING = "GROWTH_ALERT_THRESHOLD"


@dataclass(frozen=True)
class Monitor:
    """A monitored daily series. ``sql`` selects ``(day, value)`` for ``day`` between
    ``$start`` and ``$end``; ``segment_sql`` (count and revenue monitors) selects
    ``(dimension, segment, day, value)`` for ``day`` in the list ``$days``, from the
    ``segments`` relation (``user_key, dimension, segment``). A raw table is read as
    ``{raw.<table>}``: on the spark engine the raw layer is the lake's files, not tables
    (:func:`raw_relations`)."""

    name: str
    label: str
    kind: MonitorKind
    sql: str
    segment_sql: str | None = None
    needs: tuple[str, ...] = ()  # tables the SQL reads, checked before reading

    @property
    def is_count(self) -> bool:
        return self.kind == "count"


REVENUE_EVENTS = "intermediate.int_conversion_events where user_key is not null and revenue is not null"


def _daily_users(column: str) -> str:
    """A column of ``fct_daily_active_users`` as a series."""
    return (
        f"select activity_date, {column} from marts.fct_daily_active_users where activity_date between $start and $end"
    )


def _by_segment(rows: str, day: str, value: str = "count(*)") -> str:
    """``value`` per (dimension, segment, ``day``) of ``rows`` (a relation with ``user_key``)
    joined to the user's segments, on the dates of ``$days``."""
    return f"""
        select segments.dimension, segments.segment, facts.{day}, {value}
        from {rows} as facts join segments using (user_key)
        where list_contains($days, facts.{day})
        group by all
        """


MONITORS: tuple[Monitor, ...] = (
    Monitor(
        "signups",
        "Daily signups",
        "count",
        _daily_users("new_users"),
        _by_segment("marts.dim_users", "signup_date"),
        ("marts.fct_daily_active_users", "marts.dim_users"),
    ),
    Monitor(
        "dau",
        "Daily active users",
        "count",
        _daily_users("dau"),
        _by_segment("intermediate.int_user_days_active", "activity_date"),
        ("marts.fct_daily_active_users", "intermediate.int_user_days_active"),
    ),
    Monitor(
        "revenue",
        "Daily revenue",
        "money",
        # Dense over the days of fct_daily_active_users: a day without revenue is 0.
        f"""
        select calendar.activity_date, coalesce(revenue.value, 0)
        from marts.fct_daily_active_users as calendar
        left join (
            select event_date, sum(revenue) as value from {REVENUE_EVENTS} group by event_date
        ) as revenue on revenue.event_date = calendar.activity_date
        where calendar.activity_date between $start and $end
        """,
        _by_segment(
            f"(select user_key, event_date, revenue from {REVENUE_EVENTS})", "event_date", "sum(facts.revenue)"
        ),
        ("marts.fct_daily_active_users", "intermediate.int_conversion_events"),
    ),
    Monitor(
        "activation_rate",
        "Activation rate of the day's signup cohort",
        "ratio",
        """
        select cohort_start, activation_rate from marts.fct_activation
        where grain = 'day' and is_complete and cohort_start between $start and $end
        """,
        needs=("marts.fct_activation",),
    ),
    Monitor(
        "quarantine_share",
        "Share of records quarantined",
        "ratio",
        # Records carry no event date until they are valid, so both sides count by the UTC
        # date they were ingested (quarantined_at, ingested_at).
        """
        with per_day as (
            select cast(timezone('UTC', quarantined_at) as date) as day, 1 as quarantined
            from {raw.events_quarantine}
            where quarantined_at >= cast($start as timestamp) at time zone 'UTC'
            union all
            select cast(timezone('UTC', ingested_at) as date), 0
            from {raw.events}
            where ingested_at >= cast($start as timestamp) at time zone 'UTC'
        )
        select day, sum(quarantined) / count(*) from per_day where day between $start and $end group by day
        """,
        needs=("raw.events", "raw.events_quarantine"),
    ),
)
# A raw table in a monitor's SQL: the table itself, or the relation raw_relations() gives for it.
RAW_TABLE = re.compile(r"\{(raw\.[a-z_]+)\}")
MONITOR_NAMES = tuple(monitor.name for monitor in MONITORS)
SEGMENTS_TABLE = "intermediate.int_user_segments"
# Before the segment models existed: acquisition_channel alone (issue #17), null as (none).
FALLBACK_SEGMENTS_SQL = (
    "select user_key, 'acquisition_channel' as dimension, coalesce(acquisition_channel, '(none)') as segment "
    "from marts.dim_users"
)


@dataclass(frozen=True)
class MonitorConfig:
    """The threshold shared by all monitors and the fixed bounds of each (by monitor name)."""

    threshold: float = DEFAULT_THRESHOLD
    bounds: dict[str, Bounds] = field(default_factory=dict)


def bound_settings(name: str) -> tuple[str, str]:
    """The settings of a monitor's fixed bounds: ``GROWTH_ALERT_<NAME>_MIN`` and ``_MAX``."""
    stem = f"GROWTH_ALERT_{name.upper()}"
    return f"{stem}_MIN", f"{stem}_MAX"


def monitor_config(settings: Settings) -> MonitorConfig:
    """``GROWTH_ALERT_THRESHOLD`` (default 3, > 0) and any ``GROWTH_ALERT_<MONITOR>_MIN`` /
    ``_MAX`` (e.g. ``GROWTH_ALERT_QUARANTINE_SHARE_MAX=0.05``)."""
    threshold = settings.tuned(THRESHOLD_SETTING, DEFAULT_THRESHOLD)
    if not (math.isfinite(threshold) and threshold > 0):
        raise ConfigError(f"{THRESHOLD_SETTING}={threshold!r} must be a number above 0")
    bounds = {}
    for name in MONITOR_NAMES:
        low_name, high_name = bound_settings(name)
        low, high = (settings.tuned(key, 0.0) if settings.tuning.get(key) else None for key in (low_name, high_name))
        if low is None and high is None:
            continue
        try:
            bounds[name] = Bounds(low, high)
        except ValueError:
            raise ConfigError(f"{low_name}={low} is above {high_name}={high}") from None
    return MonitorConfig(threshold, bounds)


@dataclass(frozen=True)
class Checked:
    """One monitor's verdict on its day (None: no value that day, or too little history and
    no fixed bounds), and the alert when the verdict is anomalous."""

    monitor: Monitor
    day: datetime.date | None
    verdict: Verdict | None
    alert: Alert | None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {name for (name,) in rows}


def data_end_date(con: duckdb.DuckDBPyConnection) -> datetime.date | None:
    """``data_end_date`` of the last build (None for a warehouse without valid events)."""
    [(end,)] = con.execute("select data_end_date from intermediate.int_reporting_period").fetchall()
    return end


def read_series(
    con: duckdb.DuckDBPyConnection,
    monitor: Monitor,
    start: datetime.date,
    end: datetime.date,
    raw: Mapping[str, str] | None = None,
) -> dict[datetime.date, float | None]:
    sql = RAW_TABLE.sub(lambda match: (raw or {}).get(match[1], match[1]), monitor.sql)
    rows = con.execute(sql, {"start": start, "end": end}).fetchall()
    return {day: None if value is None else float(value) for day, value in rows}


def read_segments(
    con: duckdb.DuckDBPyConnection,
    monitor: Monitor,
    segments_source: str,
    days: list[datetime.date],
    present: Series,
) -> dict[tuple[str, str], Series]:
    """Per (dimension, segment), the monitor's value on ``days``: 0 on a day the monitor has a
    value and the segment has none, absent where the monitor is absent. ``segments_source``
    selects ``(user_key, dimension, segment)``."""
    assert monitor.segment_sql is not None
    sql = f"with segments as ({segments_source}) {monitor.segment_sql}"
    rows = con.execute(sql, {"days": days}).fetchall()
    observed = [day for day in days if present.get(day) is not None]
    segments: dict[tuple[str, str], dict[datetime.date, float | None]] = {}
    for dimension, segment, day, value in rows:
        series = segments.setdefault((dimension, segment), dict.fromkeys(observed, 0.0))
        if day in series:
            series[day] = float(value)
    return dict(segments)


def _latest_day(con: duckdb.DuckDBPyConnection, monitor: Monitor, last_complete: datetime.date) -> datetime.date | None:
    """The monitor's latest judged day: the last complete day, or for activation the latest
    cohort whose window is over."""
    if monitor.name != "activation_rate":
        return last_complete
    [(day,)] = con.execute(
        "select max(cohort_start) from marts.fct_activation where grain = 'day' and is_complete"
    ).fetchall()
    return day


def check_warehouse(
    con: duckdb.DuckDBPyConnection,
    day: datetime.date | None = None,
    config: MonitorConfig | None = None,
    raw: Mapping[str, str] | None = None,
) -> list[Checked]:
    """Every monitor's verdict on ``day`` (default: each monitor's latest complete day); ``raw``
    gives the relation to read for a raw table that is not in the warehouse (the lake's files).

    ``day`` must be complete (before ``data_end_date``): a :class:`GrowthError` otherwise.
    """
    config = config or MonitorConfig()
    tables = _tables(con) | set(raw or {})
    if "intermediate.int_reporting_period" not in tables:
        raise GrowthError("the warehouse has no marts yet: run `growth build` before `growth alerts`")
    end = data_end_date(con)
    if end is None:
        return [Checked(monitor, None, None, None) for monitor in MONITORS]
    last_complete = end - datetime.timedelta(days=1)
    if day is not None and day > last_complete:
        raise GrowthError(
            f"{day.isoformat()} is not a complete day: the data ends on {end.isoformat()}, "
            "and a day counts once data_end_date is past it"
        )
    segments_source = f"select * from {SEGMENTS_TABLE}" if SEGMENTS_TABLE in tables else FALLBACK_SEGMENTS_SQL
    checked = []
    for monitor in MONITORS:
        missing = [table for table in monitor.needs if table not in tables]
        if missing:
            log.warning("monitor %s skipped: %s missing", monitor.name, ", ".join(missing))
            checked.append(Checked(monitor, day, None, None))
            continue
        judged = day or _latest_day(con, monitor, last_complete)
        if judged is None:
            checked.append(Checked(monitor, None, None, None))
            continue
        start = judged - datetime.timedelta(days=7 * HISTORY_WEEKS)
        series = read_series(con, monitor, start, judged, raw)
        verdict = judge(
            series,
            judged,
            count=monitor.is_count,
            threshold=config.threshold,
            bounds=config.bounds.get(monitor.name),
        )
        alert = None
        if verdict is not None and verdict.anomalous:
            moved: tuple[Moved, ...] = ()
            if monitor.segment_sql is not None:
                days = [judged - datetime.timedelta(days=7 * k) for k in range(HISTORY_WEEKS + 1)]
                segments = read_segments(con, monitor, segments_source, days, series)
                moved = tuple(what_moved(segments, judged, verdict.direction))
            alert = Alert(monitor.name, monitor.label, monitor.kind, verdict, moved)
        checked.append(Checked(monitor, judged, verdict, alert))
    return checked


@contextmanager
def reading(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse, under the writer lock so no writer has the
    file open meanwhile (DuckDB allows no reader beside a writing process). The monitors
    read raw and intermediate tables, which the analyst snapshot does not hold."""
    if not settings.warehouse.is_file():
        raise GrowthError(f"no warehouse at {settings.warehouse}: ingest and build first")
    with (
        writer_lock(settings.warehouse),
        connect(settings.warehouse, read_only=True, memory_limit=settings.memory_limit) as con,
    ):
        yield con


def check(settings: Settings, date: datetime.date | None = None) -> list[Checked]:
    """Every monitor's verdict on ``date`` (default: each one's latest complete day)."""
    config = monitor_config(settings)
    with reading(settings) as con:
        return check_warehouse(con, date, config, raw_relations(settings))


def raw_relations(settings: Settings) -> dict[str, str]:
    """On the spark engine, the raw tables as the lake's files (the warehouse file holds only what
    a Spark build landed); nothing on DuckDB, where they are tables of the file."""
    if not settings.uses_lake:
        return {}
    lake = Lake(settings.lake)
    events = lake.relation(EVENTS)
    if events is None:
        return {}
    # No quarantine file yet: no record was rejected.
    quarantine = lake.relation(QUARANTINE) or "(select cast(null as timestamptz) as quarantined_at where false)"
    return {"raw.events": events, "raw.events_quarantine": quarantine}


def evaluate(settings: Settings, date: datetime.date | None = None) -> list[Alert]:
    """The alerts for ``date`` (default: the last complete day; for the activation rate, the
    latest signup cohort whose activation window is over), each with what moved. Sends
    nothing."""
    return [item.alert for item in check(settings, date) if item.alert is not None]
