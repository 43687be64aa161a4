"""`growth status`: is the pipeline healthy? Lag, row counts, quarantine codes, freshness.

Lag is measured against the high watermark the broker reports in fetch responses, not
``end_offsets()`` (which the embedded broker answers wrongly for multi-record batches). The warehouse
is opened read-only for the instant of reading, under the writer lock taken without
waiting long: when a writer (a build, a busy ingester) holds it, status says the warehouse
is busy instead of waiting, and reports marts freshness from the analyst snapshot anyway.

With no broker configured, status uses the address the embedded broker records beside the
warehouse (the pid file of ``growth broker start``, which ``growth demo`` writes too) while
that broker runs. A warehouse made by ``growth demo`` whose in-memory broker stopped when the
demo ended has no broker to ask: its Kafka side is reported as such rather than as a fault.

With the spark engine the raw layer is the Parquet lake: its stored offsets are the ones the
file names give, and counts are read from its files (no lock: files only ever appear whole).

The report (``--json``) keeps partitions in numeric order; the table prints it for people:
counts grouped, ages in whole units ("8 s", "3 min", "2 h").
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from rich.table import Table
from rich.text import Text

from devkit.broker import EmbeddedBroker
from orchestration.build import target_dir
from orchestration.demo import DEMO_MARKER
from warehouse.connection import connect
from warehouse.errors import GrowthError
from warehouse.lake import DELETION_LOG, EVENTS, QUARANTINE, SPEND, Lake
from warehouse.lock import WarehouseBusy, writer_lock
from warehouse.settings import Settings

LAG_LIMIT = 100_000  # records behind, summed over partitions; GROWTH_STATUS_LAG_LIMIT overrides
LOCK_WAIT_SECONDS = 3.0


def _end_offsets(settings: Settings) -> dict[int, int]:
    """Per partition, the log end from fetch high watermarks (polling from the end is cheap)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False, bootstrap_timeout_ms=5000)
    try:
        partitions = consumer.partitions_for_topic(settings.topic)
        if not partitions:  # None, or an empty set from the embedded broker
            raise LookupError(f"topic '{settings.topic}' does not exist")
        assigned = [TopicPartition(settings.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(consumer.highwater(tp) is None for tp in assigned):
            consumer.poll(timeout_ms=200, max_records=1)
        return {tp.partition: consumer.highwater(tp) or 0 for tp in assigned}
    finally:
        consumer.close()


def _warehouse_facts(settings: Settings) -> dict[str, Any]:
    with (
        writer_lock(settings.warehouse, wait_seconds=LOCK_WAIT_SECONDS),
        connect(settings.warehouse, read_only=True) as con,
    ):
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }

        def rows(table: str, sql: str, params: list[Any] | None = None) -> list[Any]:
            return con.execute(sql, params).fetchall() if table in tables else []

        [(events, last_ingest)] = rows("raw.events", "select count(*), max(ingested_at) from raw.events") or [(0, None)]
        codes = dict(
            rows(
                "raw.events_quarantine", "select error_code, count(*) from raw.events_quarantine group by 1 order by 1"
            )
        )
        offsets = dict(
            rows(
                "raw.kafka_offsets",
                "select partition, next_offset from raw.kafka_offsets where topic = ? order by partition",
                [settings.topic],
            )
        )
        [(spend_rows,)] = rows("raw.marketing_spend", "select count(*) from raw.marketing_spend") or [(0,)]
        # Every build, from the CLI or Dagster, records its incremental models in the run log.
        [(built,)] = rows("intermediate.incremental_runs", "select max(run_at) from intermediate.incremental_runs") or [
            (None,)
        ]
        forgotten = dict(
            rows("raw.deletion_log", "select action, sum(events_deleted) from raw.deletion_log group by 1")
        )
    return {
        "made_by_demo": f"main.{DEMO_MARKER}" in tables,
        "events": events,
        "last_ingest_at": last_ingest.isoformat() if last_ingest else None,
        "quarantine_by_code": codes,
        "stored_offsets": offsets,
        "spend_rows": spend_rows,
        "has_marts": any(t.startswith("marts.") for t in tables),
        "last_build_at": built.isoformat() if built else None,
        "events_forgotten": int(forgotten.get("forget") or 0),
        "events_dropped_at_ingest": int(forgotten.get("dropped_at_ingest") or 0),
    }


def _lake_facts(settings: Settings) -> dict[str, Any]:
    """The raw-layer facts of :func:`_warehouse_facts`, read from the lake's files."""
    lake = Lake(settings.lake)
    with duckdb.connect() as con:

        def rows(table: str, select: str) -> list[Any]:
            relation = lake.relation(table)
            return con.execute(select.format(relation)).fetchall() if relation else []

        [(events, last_ingest)] = rows(EVENTS, "select count(*), max(ingested_at) from {}") or [(0, None)]
        codes = dict(rows(QUARANTINE, "select error_code, count(*) from {} group by 1 order by 1"))
        [(spend_rows,)] = rows(SPEND, "select count(*) from {}") or [(0,)]
        forgotten = dict(rows(DELETION_LOG, "select action, sum(events_deleted) from {} group by 1"))
    return {
        "lake_files": {table: len(lake.files(table)) for table in (EVENTS, QUARANTINE, SPEND)},
        "events": events,
        "last_ingest_at": last_ingest.isoformat() if last_ingest else None,
        "quarantine_by_code": codes,
        "stored_offsets": lake.next_offsets(settings.topic),
        "spend_rows": spend_rows,
        "events_forgotten": int(forgotten.get("forget") or 0),
        "events_dropped_at_ingest": int(forgotten.get("dropped_at_ingest") or 0),
    }


def _last_build(settings: Settings) -> str | None:
    try:
        results = json.loads((target_dir(settings) / "run_results.json").read_text())
        return str(results["metadata"]["generated_at"])
    except (OSError, ValueError, KeyError):
        return None


def _snapshot_facts(published: Path) -> dict[str, Any]:
    """Snapshot age and marts freshness (last day with activity), read from the snapshot."""
    if not published.exists():
        return {"snapshot_age_seconds": None, "marts_data_through": None}
    with duckdb.connect(str(published), read_only=True) as con:
        try:
            [(published_at,)] = con.execute("select max(published_at) from snapshot_info").fetchall()
        except duckdb.Error:
            published_at = None
        try:
            [(through,)] = con.execute("select max(activity_date) from marts.fct_daily_active_users").fetchall()
        except duckdb.Error:
            through = None
    if isinstance(published_at, datetime) and published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    return {
        "snapshot_age_seconds": (datetime.now(UTC) - published_at).total_seconds() if published_at else None,
        "marts_data_through": through.isoformat() if through else None,
    }


def collect_status(settings: Settings) -> dict[str, Any]:
    """Everything `growth status` shows, plus `healthy` and the `problems` that make it false."""
    problems: list[str] = []
    report: dict[str, Any] = {"warehouse": str(settings.warehouse), "topic": settings.topic}
    report["warehouse_busy"] = False
    if settings.uses_lake:
        report["lake"] = str(settings.lake)
        if settings.lake.is_dir():
            report.update(_lake_facts(settings))
        else:
            problems.append(f"no lake at {settings.lake} (GROWTH_LAKE): nothing ingested yet")
            report["stored_offsets"] = {}
    elif settings.warehouse.exists():
        try:
            report.update(_warehouse_facts(settings))
        except WarehouseBusy:
            report["warehouse_busy"] = True  # a build or a busy ingester: not a fault
            report["stored_offsets"] = {}
    else:
        problems.append(f"no warehouse at {settings.warehouse}")
        report["stored_offsets"] = {}
    report["embedded_broker"] = False
    if not settings.bootstrap_servers:
        recorded = EmbeddedBroker(settings.data_dir).status()  # the address it recorded, while it runs
        if recorded is not None:
            settings = settings.with_bootstrap(recorded.bootstrap_servers)
            report["embedded_broker"] = True
    report["bootstrap_servers"] = settings.bootstrap_servers
    if not settings.bootstrap_servers:
        if report.get("made_by_demo"):
            report["kafka"] = "not checked: the demo's embedded broker stopped when the demo ended"
        else:
            problems.append("no Kafka bootstrap servers: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap-servers")
        return _finish(settings, report, problems)
    try:
        ends = _end_offsets(settings)
        if report["warehouse_busy"]:
            report["end_offsets"] = ends  # stored offsets unknown while a writer holds the file
        else:
            lag = {p: max(0, end - report["stored_offsets"].get(p, 0)) for p, end in ends.items()}
            report["lag_by_partition"] = lag
            report["lag_total"] = sum(lag.values())
        lag_limit = settings.tuned("GROWTH_STATUS_LAG_LIMIT", LAG_LIMIT)
        if report.get("lag_total", 0) > lag_limit:
            problems.append(f"consumer lag {report['lag_total']:,} > {lag_limit:,}")
    except (KafkaError, LookupError, OSError, ValueError, GrowthError) as exc:
        problems.append(f"Kafka at {settings.bootstrap_servers}: {exc}")
    return _finish(settings, report, problems)


def _finish(settings: Settings, report: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    report["last_build_at"] = report.get("last_build_at") or _last_build(settings)
    report.update(_snapshot_facts(settings.published))
    report["problems"] = problems
    report["healthy"] = not problems
    return report


def _age(seconds: float) -> str:
    """8 s, 3 min, 2 h, 4 days: rounded to a whole number of the largest unit that reads at a
    glance (hours up to two days)."""
    seconds = max(seconds, 0.0)  # a clock a little behind the snapshot's
    for unit, size, below in (("s", 1, 60), ("min", 60, 60), ("h", 3600, 48)):
        if round(seconds / size) < below:
            return f"{round(seconds / size)} {unit}"
    return f"{round(seconds / 86400)} days"


def _partitions(values: dict[Any, int]) -> str:
    return ", ".join(f"{p}: {values[p]:,}" for p in sorted(values, key=int)) or "none"


def _row(table: Table, label: str, value: str, style: str = "") -> None:
    table.add_row(label, Text(value, style=style))  # paths and broker messages are text, not markup


def status_table(report: dict[str, Any]) -> Table:
    """The report as two readable columns: partitions in order, ages rounded, counts grouped."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", justify="right")
    table.add_column(overflow="fold")
    if report["healthy"]:
        _row(table, "status", "healthy", "green")
    else:
        _row(table, "status", "unhealthy", "red")
    for problem in report["problems"]:
        _row(table, "problem", problem, "red")
    if "lake" in report:
        files = report.get("lake_files", {})
        counted = ", ".join(f"{table} {n:,}" for table, n in files.items())
        _row(table, "lake", report["lake"] + (f" (files: {counted})" if files else ""))
    else:
        busy = " (busy: a writer holds it)" if report["warehouse_busy"] else ""
        _row(table, "warehouse", report["warehouse"] + busy)
    broker = report.get("bootstrap_servers") or "no broker"
    _row(table, "topic", f"{report['topic']} at {broker}" + (" (embedded broker)" if report["embedded_broker"] else ""))
    if "kafka" in report:
        _row(table, "kafka", report["kafka"])
    if "lag_by_partition" in report:
        _row(table, "lag", f"{report['lag_total']:,} ({_partitions(report['lag_by_partition'])})")
    if "end_offsets" in report:
        _row(table, "end offsets", _partitions(report["end_offsets"]))
    if "events" in report:
        _row(table, "stored offsets", _partitions(report["stored_offsets"]))
        _row(table, "events", f"{report['events']:,}")
        codes = report["quarantine_by_code"]
        _row(table, "quarantined", ", ".join(f"{code} {n:,}" for code, n in sorted(codes.items())) or "none")
        _row(table, "spend rows", f"{report['spend_rows']:,}")
        _row(table, "last ingest", report["last_ingest_at"] or "never")
        if report["events_forgotten"] or report["events_dropped_at_ingest"]:
            forgotten, dropped = report["events_forgotten"], report["events_dropped_at_ingest"]
            _row(table, "forgotten users", f"{forgotten:,} events deleted, {dropped:,} dropped at ingest")
    _row(table, "last build", report["last_build_at"] or "never")
    age = report["snapshot_age_seconds"]
    _row(table, "snapshot", "none" if age is None else f"published {_age(age)} ago")
    _row(table, "marts data through", report["marts_data_through"] or "no data")
    return table
