"""`growth status` and `growth sql` against real files and a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from devkit.broker import BrokerInfo
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


def test_status_after_a_demo_is_healthy_and_reads_like_a_table(tmp_path: Path) -> None:
    """The demo stops its in-memory broker: no Kafka is configured, and that is not a fault."""
    from orchestration.demo import DEMO_MARKER
    from warehouse.connection import writing

    settings = Settings(warehouse=tmp_path / "data" / "warehouse.duckdb", published=tmp_path / "p.duckdb")
    with writing(settings, create=True) as con:
        con.execute(f"create table main.{DEMO_MARKER} as select now() as created_at")
        con.execute(
            "insert into raw.kafka_offsets values ('events', 10, 5, now()), ('events', 2, 1234, now()), "
            "('events', 9, 7, now())"
        )
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {"GROWTH_WAREHOUSE": str(settings.warehouse), "GROWTH_PUBLISHED": str(settings.published)}
    table = subprocess.run([*GROWTH, "status"], capture_output=True, text=True, env=env, timeout=120)
    assert table.returncode == 0, table.stdout
    assert "Kafka at None" not in table.stdout and "healthy" in table.stdout
    assert "2: 1,234, 9: 7, 10: 5" in table.stdout  # partitions in numeric order, counts grouped
    assert "{" not in table.stdout  # no Python dicts
    report = json.loads(subprocess.run([*GROWTH, "status", "--json"], capture_output=True, env=env).stdout)
    assert report["healthy"] and report["stored_offsets"] == {"10": 5, "2": 1234, "9": 7}
    # Not a demo warehouse and no broker anywhere: one clear problem, exit 1.
    with writing(settings) as con:
        con.execute(f"drop table main.{DEMO_MARKER}")
    plain = subprocess.run([*GROWTH, "status", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 1
    assert json.loads(plain.stdout)["problems"] == [
        "no Kafka bootstrap servers: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap-servers"
    ]


def test_status_after_a_demo_finds_the_broker_from_its_recorded_address(settings: Settings, broker: BrokerInfo) -> None:
    """No broker configured: status asks the one whose address the embedded broker recorded
    beside the warehouse (its pid file), and reads like a table."""
    import duckdb

    from orchestration.demo import DEMO_MARKER
    from warehouse.connection import writing

    admin = KafkaAdminClient(**settings.kafka_client_config())
    admin.create_topics([NewTopic(settings.topic, num_partitions=11, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(**settings.kafka_client_config())
    produced = {2: 1300, 9: 8, 10: 6}
    for partition, count in produced.items():
        for _ in range(count):
            producer.send(settings.topic, b"{}", partition=partition)
    producer.flush()
    producer.close()
    stored = {10: 5, 2: 1234, 9: 7}
    with writing(settings, create=True) as con:
        con.execute(f"create table main.{DEMO_MARKER} as select now() as created_at")
        for partition, offset in stored.items():
            con.execute("insert into raw.kafka_offsets values (?, ?, ?, now())", [settings.topic, partition, offset])
    # What the embedded broker records while it runs (devkit.broker.EmbeddedBroker): pid and port.
    (settings.data_dir / "broker.pid").write_text(json.dumps({"pid": broker.pid, "port": broker.port}))
    settings.published.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.published)) as con:
        con.execute("create table snapshot_info as select now() - interval 3 minutes as published_at")
        con.execute("create schema marts")
        con.execute("create table marts.fct_daily_active_users as select date '2026-11-30' as activity_date")
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {
        "GROWTH_WAREHOUSE": str(settings.warehouse),
        "GROWTH_PUBLISHED": str(settings.published),
        "GROWTH_EVENTS_TOPIC": settings.topic,
        "COLUMNS": "200",
    }

    result = subprocess.run([*GROWTH, "status", "--json"], capture_output=True, text=True, env=env, timeout=120)
    report = json.loads(result.stdout)
    lag = {p: max(0, produced.get(p, 0) - stored.get(p, 0)) for p in range(11)}  # 66 on 2, 1 on 9 and 10
    assert result.returncode == 0 and report["healthy"], report["problems"]
    assert report["bootstrap_servers"] == broker.bootstrap_servers and report["embedded_broker"] is True
    assert report["lag_by_partition"] == {str(p): n for p, n in lag.items()}
    assert report["lag_total"] == 68 and isinstance(report["lag_total"], int)
    assert report["stored_offsets"] == {"2": 1234, "9": 7, "10": 5}
    assert 179 < report["snapshot_age_seconds"] < 240  # a number, not a rounded string
    assert report["marts_data_through"] == "2026-11-30"
    assert (settings.data_dir / "broker.pid").exists()  # status only reads the record

    table = subprocess.run([*GROWTH, "status"], capture_output=True, text=True, env=env, timeout=120)
    assert table.returncode == 0, table.stdout
    rows = [line.split(maxsplit=1) for line in table.stdout.splitlines() if line.strip()]
    lines = {row[0]: row[1].strip() for row in rows}  # by the first word of the label
    assert lines["status"] == "healthy"
    assert lines["topic"] == f"{settings.topic} at {broker.bootstrap_servers} (embedded broker)"
    assert lines["lag"] == "68 (" + ", ".join(f"{p}: {n}" for p, n in lag.items()) + ")"  # 0, 1, ... 9, 10
    assert "2: 1,234, 9: 7, 10: 5" in table.stdout
    assert "published 3 min ago" in table.stdout and "{" not in table.stdout


def test_ages_read_in_human_units() -> None:
    from orchestration.status import _age

    seconds = (7.852748, 59.4, 95, 3 * 3600 + 60, 36 * 3600, 12 * 86400, -1)
    assert [_age(s) for s in seconds] == ["8 s", "59 s", "2 min", "3 h", "36 h", "12 days", "0 s"]
