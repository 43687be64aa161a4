"""`growth status`: is the pipeline healthy? Lag, row counts, quarantine codes, freshness.

Lag is measured against the high watermark the broker reports in fetch responses, not
``end_offsets()`` (which the embedded broker answers wrongly, see FACTS.md). The warehouse
is opened only for the instant of reading, under the writer lock, so status never blocks
the pipeline for long.
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

from ingest.config import Settings
from ingest.lock import writer_lock
from ingest.warehouse import connect, ensure_raw_schema
from orchestration.build import target_dir

LAG_LIMIT = 100_000


def _end_offsets(settings: Settings) -> dict[int, int]:
    """Per partition, the log end from fetch high watermarks (polling from the end is cheap)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False, bootstrap_timeout_ms=5000)
    try:
        partitions = consumer.partitions_for_topic(settings.topic)
        if partitions is None:
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
    with writer_lock(settings.warehouse), connect(settings.warehouse) as con:
        ensure_raw_schema(con)
        [(events, last_ingest)] = con.execute("select count(*), max(ingested_at) from raw.events").fetchall()
        codes = dict(con.execute("select error_code, count(*) from raw.events_quarantine group by 1").fetchall())
        offsets = dict(
            con.execute(
                "select partition, next_offset from raw.kafka_offsets where topic = ?", [settings.topic]
            ).fetchall()
        )
        [(spend_rows,)] = con.execute("select count(*) from raw.marketing_spend").fetchall()
        has_marts = bool(con.execute("select 1 from information_schema.tables where table_schema = 'marts'").fetchall())
    return {
        "events": events,
        "last_ingest_at": last_ingest.isoformat() if last_ingest else None,
        "quarantine_by_code": codes,
        "stored_offsets": offsets,
        "spend_rows": spend_rows,
        "has_marts": has_marts,
    }


def _last_build(settings: Settings) -> str | None:
    try:
        results = json.loads((target_dir(settings) / "run_results.json").read_text())
        return str(results["metadata"]["generated_at"])
    except (OSError, ValueError, KeyError):
        return None


def _snapshot_age_seconds(published: Path) -> float | None:
    if not published.exists():
        return None
    with duckdb.connect(str(published), read_only=True) as con:
        [(published_at,)] = con.execute("select max(published_at) from snapshot_info").fetchall()
    return (datetime.now(UTC) - published_at).total_seconds()


def collect_status(settings: Settings) -> dict[str, Any]:
    """Everything `growth status` shows, plus `healthy` and the `problems` that make it false."""
    problems: list[str] = []
    report: dict[str, Any] = {"warehouse": str(settings.warehouse), "topic": settings.topic}
    if settings.warehouse.exists():
        report.update(_warehouse_facts(settings))
    else:
        problems.append(f"no warehouse at {settings.warehouse}")
        report["stored_offsets"] = {}
    try:
        ends = _end_offsets(settings)
        lag = {p: max(0, end - report["stored_offsets"].get(p, 0)) for p, end in ends.items()}
        report["lag_by_partition"] = lag
        report["lag_total"] = sum(lag.values())
        if report["lag_total"] > LAG_LIMIT:
            problems.append(f"consumer lag {report['lag_total']:,} > {LAG_LIMIT:,}")
    except (KafkaError, LookupError, OSError) as exc:
        problems.append(f"Kafka at {settings.bootstrap_servers}: {exc}")
    report["last_build_at"] = _last_build(settings)
    report["snapshot_age_seconds"] = _snapshot_age_seconds(settings.published)
    report["problems"] = problems
    report["healthy"] = not problems
    return report
