"""`growth status`: is the pipeline healthy? Lag, row counts, quarantine codes, freshness.

Lag is measured against the high watermark the broker reports in fetch responses, not
``end_offsets()`` (which the embedded broker answers wrongly, see FACTS.md). The warehouse
is opened read-only for the instant of reading, under the writer lock taken without
waiting long: when a writer (a build, a busy ingester) holds it, status says the warehouse
is busy instead of waiting, and reports marts freshness from the analyst snapshot anyway.
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

from orchestration.build import target_dir
from warehouse.connection import connect
from warehouse.errors import GrowthError
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
        codes = dict(rows("raw.events_quarantine", "select error_code, count(*) from raw.events_quarantine group by 1"))
        offsets = dict(
            rows(
                "raw.kafka_offsets",
                "select partition, next_offset from raw.kafka_offsets where topic = ?",
                [settings.topic],
            )
        )
        [(spend_rows,)] = rows("raw.marketing_spend", "select count(*) from raw.marketing_spend") or [(0,)]
        forgotten = dict(
            rows("raw.deletion_log", "select action, sum(events_deleted) from raw.deletion_log group by 1")
        )
    return {
        "events": events,
        "last_ingest_at": last_ingest.isoformat() if last_ingest else None,
        "quarantine_by_code": codes,
        "stored_offsets": offsets,
        "spend_rows": spend_rows,
        "has_marts": any(t.startswith("marts.") for t in tables),
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
        [(published_at,)] = con.execute("select max(published_at) from snapshot_info").fetchall()
        try:
            [(through,)] = con.execute("select max(activity_date) from marts.fct_daily_active_users").fetchall()
        except duckdb.Error:
            through = None
    return {
        "snapshot_age_seconds": (datetime.now(UTC) - published_at).total_seconds(),
        "marts_data_through": through.isoformat() if through else None,
    }


def collect_status(settings: Settings) -> dict[str, Any]:
    """Everything `growth status` shows, plus `healthy` and the `problems` that make it false."""
    problems: list[str] = []
    report: dict[str, Any] = {"warehouse": str(settings.warehouse), "topic": settings.topic}
    report["warehouse_busy"] = False
    if settings.warehouse.exists():
        try:
            report.update(_warehouse_facts(settings))
        except WarehouseBusy:
            report["warehouse_busy"] = True  # a build or a busy ingester: not a fault
            report["stored_offsets"] = {}
    else:
        problems.append(f"no warehouse at {settings.warehouse}")
        report["stored_offsets"] = {}
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
    report["last_build_at"] = _last_build(settings)
    report.update(_snapshot_facts(settings.published))
    report["problems"] = problems
    report["healthy"] = not problems
    return report
