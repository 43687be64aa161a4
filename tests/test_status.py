"""`growth status` and `growth sql` against real files and a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import orjson
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from ingest.consumer import IngestConfig, run_ingest
from warehouse.lock import writer_lock
from warehouse.settings import Settings

GROWTH = [sys.executable, "-m", "orchestration.cli"]


def growth(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GROWTH_WAREHOUSE": str(settings.warehouse),
        "GROWTH_EVENTS_TOPIC": settings.topic,
        "GROWTH_PUBLISHED": str(settings.published),
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or "",
    }
    return subprocess.run([*GROWTH, *args], capture_output=True, text=True, env=env, timeout=120)


def test_status_reports_lag_after_a_partial_ingest_and_fails_without_broker(settings: Settings) -> None:
    admin = KafkaAdminClient(**settings.kafka_client_config())
    admin.create_topics([NewTopic(settings.topic, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(**settings.kafka_client_config())
    for i in range(50):
        event = {"type": "page", "messageId": f"m{i}", "anonymousId": "a", "timestamp": "2026-01-01T00:00:00Z"}
        producer.send(settings.topic, orjson.dumps(event))
    producer.send(settings.topic, b"not json")
    producer.flush()
    producer.close()
    run_ingest(settings, max_events=30, config=IngestConfig(batch_max_records=10))
    result = growth(settings, "status", "--json")
    report = json.loads(result.stdout)
    assert report["lag_by_partition"] == {"0": 21}  # 51 records, 30 ingested
    assert report["events"] == 30 and report["quarantine_by_code"] == {}
    assert result.returncode == 0 and report["healthy"]
    assert report["warehouse_busy"] is False and report["marts_data_through"] is None
    # A writer holding the warehouse (a long build) does not make status wait or fail.
    with writer_lock(settings.warehouse):
        started = time.monotonic()
        busy = growth(settings, "status", "--json")
        assert time.monotonic() - started < 60
    busy_report = json.loads(busy.stdout)
    assert busy.returncode == 0 and busy_report["warehouse_busy"] is True
    assert busy_report["end_offsets"] == {"0": 51} and "lag_by_partition" not in busy_report
    missing = growth(settings, "status", "--json", "--topic", settings.topic + "_missing")
    assert missing.returncode == 1
    assert any("does not exist" in problem for problem in json.loads(missing.stdout)["problems"])
    down = growth(settings, "status", "--json", "--bootstrap-servers", "127.0.0.1:1")
    assert down.returncode == 1
    assert any("Kafka at 127.0.0.1:1" in problem for problem in json.loads(down.stdout)["problems"])


def test_sql_is_read_only_on_the_snapshot(settings: Settings) -> None:
    import duckdb

    settings.published.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.published)) as con:
        con.execute("create schema marts; create table marts.t as select 1 as a, 'x' as b")
    result = growth(settings, "sql", "select a, b from marts.t", "--format", "csv")
    assert result.returncode == 0 and result.stdout == "a,b\n1,x\n"
    write = growth(settings, "sql", "create table marts.u (a int)")
    assert write.returncode == 1 and "read-only" in write.stderr.lower()
