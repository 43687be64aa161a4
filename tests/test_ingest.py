"""Exactly-once ingestion against a real broker: counts, kill -9 loops, groups, broker restarts.

Every produced record carries a sequence number in its messageId (``seq-N``); the checker
compares what the warehouse holds with what was produced by Kafka coordinates and by
sequence number, and a negative control shows it catches a lost and a doubled row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from devkit.broker import free_port, spawn, terminate
from ingest.consumer import IngestConfig, run_ingest
from tests._processes import alive
from warehouse.connection import connect, ensure_raw_schema
from warehouse.lock import writer_lock
from warehouse.settings import Settings

GROWTH = [sys.executable, "-m", "orchestration.cli"]


def make_topic(settings: Settings, partitions: int = 4) -> None:
    admin = KafkaAdminClient(**settings.kafka_client_config())
    try:
        admin.create_topics([NewTopic(settings.topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def event(seq: int) -> bytes:
    return orjson.dumps(
        {
            "type": "track",
            "event": "Task Added",
            "messageId": f"seq-{seq}",
            "userId": f"u{seq % 97}",
            "timestamp": "2026-05-01T10:00:00Z",
            "properties": {"n": seq},
        }
    )


def produce(settings: Settings, values: list[bytes]) -> None:
    producer = KafkaProducer(**settings.kafka_client_config(), linger_ms=5, batch_size=64 << 10)
    for i, value in enumerate(values):
        producer.send(settings.topic, key=str(i % 13).encode(), value=value)
    producer.flush()
    producer.close()


def stored_rows(warehouse: Path) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """(partition, offset, messageId) of raw.events and (partition, offset, code) of quarantine."""
    with writer_lock(warehouse), connect(warehouse) as con:
        ensure_raw_schema(con)
        events = con.execute("select kafka_partition, kafka_offset, message_id from raw.events").fetchall()
        bad = con.execute("select kafka_partition, kafka_offset, error_code from raw.events_quarantine").fetchall()
    return events, bad


def problems(produced_seqs: range, events: list[tuple[int, int, str]], quarantined: int = 0) -> list[str]:
    """Everything wrong with an ingested set: lost or doubled sequence numbers or coordinates."""
    found: list[str] = []
    coordinates = Counter((p, o) for p, o, _ in events)
    found += [f"coordinate {c} stored {n} times" for c, n in coordinates.items() if n > 1]
    seqs = Counter(int(m.removeprefix("seq-")) for _, _, m in events)
    found += [f"seq {s} stored {n} times" for s, n in seqs.items() if n > 1]
    found += [f"seq {s} lost" for s in produced_seqs if s not in seqs]
    per_partition: dict[int, list[int]] = {}
    for p, o, _ in events:
        per_partition.setdefault(p, []).append(o)
    holes = sum(max(offsets) + 1 - len(set(offsets)) for offsets in per_partition.values())
    if holes > quarantined:
        found.append(f"{holes - quarantined} offsets missing from both tables")
    return found


def test_checker_catches_a_lost_and_a_doubled_row() -> None:
    good = [(0, i, f"seq-{i}") for i in range(10)]
    assert problems(range(10), good) == []
    lost = good[:4] + good[5:]
    doubled = [*good, (0, 3, "seq-3")]
    assert any("seq 4 lost" in p for p in problems(range(10), lost))
    assert any("stored 2 times" in p for p in problems(range(10), doubled))


def test_every_record_lands_in_exactly_one_table_once(settings: Settings) -> None:
    make_topic(settings)
    bad = [b"not json", b"[]", orjson.dumps({"type": "track", "messageId": "x"}), b"\xff"]
    values = [event(i) for i in range(500)] + bad + [event(7), event(8)]  # two producer retries
    produce(settings, values)
    config = IngestConfig(batch_max_records=100)
    summary = run_ingest(settings, config=config)
    events, quarantined = stored_rows(settings.warehouse)
    assert summary.records == len(values) == len(events) + len(quarantined)
    assert sorted(code for _, _, code in quarantined) == sorted(
        ["invalid_json", "not_an_object", "missing_identity", "invalid_json"]
    )
    seqs = Counter(int(m.removeprefix("seq-")) for _, _, m in events)
    assert set(seqs) == set(range(500))
    assert {seq for seq, n in seqs.items() if n > 1} == {7, 8}  # the retries are stored; dbt dedups them
    coordinates = [(p, o) for p, o, _ in events] + [(p, o) for p, o, _ in quarantined]
    assert len(set(coordinates)) == len(coordinates) == len(values)
    for partition in {p for p, _ in coordinates}:
        offsets = sorted(o for p, o in coordinates if p == partition)
        assert offsets == list(range(len(offsets)))
    # A second run finds nothing new: offsets in DuckDB are the truth.
    again = run_ingest(settings, config=config)
    assert again.records == 0
    assert len(stored_rows(settings.warehouse)[0]) == len(events)


def _ingest_process(
    settings: Settings, *args: str, group: str | None = None, batch: int = 150, stream_rows: int | None = None
) -> subprocess.Popen[bytes]:
    extra = {} if stream_rows is None else {"GROWTH_INGEST_STREAM_ROWS": str(stream_rows)}
    env = {
        **extra,
        **os.environ,
        "GROWTH_WAREHOUSE": str(settings.warehouse),
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_bootstrap(),
        "GROWTH_EVENTS_TOPIC": settings.topic,
        "GROWTH_CONSUMER_GROUP": group or settings.group_id,
        "GROWTH_INGEST_BATCH_RECORDS": str(batch),
        "GROWTH_INGEST_HOLD_SECONDS": "0",  # let the test read progress between batches
    }
    return subprocess.Popen([*GROWTH, "ingest", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_at_random_moments(
    start: Callable[[int], subprocess.Popen[bytes]], progress: Callable[[], int], rng: random.Random, attempts: int
) -> int:
    """Start an ingester ``attempts`` times and SIGKILL each somewhere in the middle of its stream: once
    ``progress()`` (what is stored) has grown, after a random pause. Returns how many were killed
    (an ingester may finish first)."""
    kills = 0
    for attempt in range(attempts):
        before = progress()
        process = start(attempt)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if progress() > before:  # it is writing batches now
                time.sleep(rng.uniform(0.0, 0.1))
                break
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    return kills


def test_kill_dash_nine_at_random_moments_loses_and_doubles_nothing(settings: Settings) -> None:
    make_topic(settings)
    total = 20_000
    produce(settings, [event(i) for i in range(total)])
    # A new group per restart skips waiting for the dead member's session to expire;
    # correctness never depends on the group: offsets come from DuckDB.
    kills = kill_at_random_moments(
        lambda attempt: _ingest_process(
            settings, "--until-caught-up", group=f"{settings.group_id}-{attempt}", batch=40
        ),
        lambda: len(stored_rows(settings.warehouse)[0]),
        random.Random(1234),
        attempts=12,
    )
    assert kills >= 10
    final = _ingest_process(settings, "--until-caught-up", group=f"{settings.group_id}-final")
    assert final.wait(120) == 0, final.stderr.read() if final.stderr else ""
    events, quarantined = stored_rows(settings.warehouse)
    assert not quarantined
    assert len(events) == total
    assert problems(range(total), events) == []


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def test_kill_dash_nine_in_the_middle_of_a_streamed_transaction(settings: Settings) -> None:
    """Large batches stream into an open DuckDB transaction in the writer process: a kill -9 of
    the ingester then lands mid-transaction, takes the writer process with it, and the
    transaction is rolled back whole."""
    make_topic(settings)
    total = 80_000  # more than ten runs get through before they are killed
    produce(settings, [event(i) for i in range(total)])
    rng = random.Random(99)
    kills = 0
    for attempt in range(10):
        before = len(stored_rows(settings.warehouse)[0])
        process = _ingest_process(
            settings, "--until-caught-up", group=f"{settings.group_id}-{attempt}", batch=2500, stream_rows=100
        )
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if len(stored_rows(settings.warehouse)[0]) > before:
                time.sleep(rng.uniform(0.0, 0.2))
                break
            time.sleep(0.02)
        writers = _children(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
            assert writers, "the ingester runs a writer process"
        process.wait()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in writers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in writers), "a writer process outlived its ingester"
    assert kills >= 8
    final = _ingest_process(settings, "--until-caught-up", group=f"{settings.group_id}-final", batch=2500)
    assert final.wait(120) == 0, final.stderr.read() if final.stderr else ""
    events, quarantined = stored_rows(settings.warehouse)
    assert not quarantined
    assert len(events) == total
    assert problems(range(total), events) == []


def two_ingesters_one_killed_midway(settings: Settings, total: int, stored: Callable[[], int]) -> None:
    """Two following ingesters in one group; the first is killed once a quarter of ``total`` is
    ``stored()``, the second takes over its partitions (a rebalance) and is stopped at the end."""
    first = _ingest_process(settings, "--follow", batch=50)
    second = _ingest_process(settings, "--follow", batch=50)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and stored() < total // 4:
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert stored() < total  # killed midway, not after the end
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and stored() < total:
        time.sleep(1)
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0


def test_two_ingesters_in_one_group_one_killed_midway(settings: Settings) -> None:
    make_topic(settings, partitions=4)
    total = 8000
    produce(settings, [event(i) for i in range(total)])
    two_ingesters_one_killed_midway(settings, total, lambda: len(stored_rows(settings.warehouse)[0]))
    events, _ = stored_rows(settings.warehouse)
    assert problems(range(total), events) == []
    assert len(events) == total


def test_follow_waits_for_a_restarted_broker_and_resumes(tmp_path: Path, settings: Settings) -> None:
    port = free_port()
    broker = spawn(port)
    local = replace(settings, bootstrap_servers=f"127.0.0.1:{port}", topic="restart_events")
    try:
        make_topic(local, partitions=1)
        first_half = [event(i) for i in range(200)]
        produce(local, first_half)
        process = _ingest_process(local, "--follow")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(stored_rows(local.warehouse)[0]) < 200:
            time.sleep(0.5)
        terminate(broker)
        time.sleep(8)  # the ingester keeps running and says it is waiting
        assert process.poll() is None
        broker = spawn(port)
        # Tansu keeps topics in memory only: replay the log a durable cluster would have kept.
        make_topic(local, partitions=1)
        produce(local, first_half + [event(i) for i in range(200, 400)])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(stored_rows(local.warehouse)[0]) < 400:
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        stderr = process.stderr.read().decode() if process.stderr else ""
        assert "unreachable" in stderr
        events, _ = stored_rows(local.warehouse)
        assert problems(range(400), events) == []
    finally:
        terminate(broker)


def test_until_caught_up_stops_with_one_line_when_the_broker_dies_midway(settings: Settings) -> None:
    """A scheduled run must end: with records still to read and no broker, it fails in one line
    after a while instead of waiting for ever, having stored each record at most once."""
    port = free_port()
    broker = spawn(port)
    local = replace(settings, bootstrap_servers=f"127.0.0.1:{port}", topic="dying_events")
    total = 60_000
    try:
        make_topic(local, partitions=2)
        produce(local, [event(i) for i in range(total)])
        process = _ingest_process(local, "--until-caught-up", batch=500)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stored_rows(local.warehouse)[0]:
            time.sleep(0.2)
        terminate(broker)
        assert process.wait(60) == 1
    finally:
        terminate(broker)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert f"Kafka broker 127.0.0.1:{port} unreachable" in stderr and "Traceback" not in stderr
    events, _ = stored_rows(local.warehouse)
    assert 0 < len(events) < total
    assert [problem for problem in problems(range(0), events)] == []


@pytest.mark.parametrize("share", [0.9])
def test_a_misconfigured_producer_stops_the_ingester_with_a_clear_error(settings: Settings, share: float) -> None:
    make_topic(settings, partitions=1)
    produce(settings, [b"garbage" if i % 10 < share * 10 else event(i) for i in range(600)])
    config = IngestConfig(batch_max_records=100, reject_batches_limit=3)
    from warehouse.errors import GrowthError

    with pytest.raises(GrowthError, match=rf"topic {settings.topic}: .*commonest code invalid_json"):
        run_ingest(settings, config=config)
    _, quarantined = stored_rows(settings.warehouse)
    assert len(quarantined) >= 3 * 90  # what was read is kept, not dropped


def test_missing_topic_is_a_clear_error(settings: Settings) -> None:
    result = subprocess.run(
        [
            *GROWTH,
            "ingest",
            "--until-caught-up",
            "--bootstrap-servers",
            settings.require_bootstrap(),
            "--topic",
            "no_such_topic",
            "--warehouse",
            str(settings.warehouse),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "topic 'no_such_topic' does not exist" in result.stderr and "Traceback" not in result.stderr


def _store_offset(settings: Settings, partition: int, next_offset: int) -> None:
    with writer_lock(settings.warehouse), connect(settings.warehouse) as con:
        ensure_raw_schema(con)
        con.execute(
            "insert or replace into raw.kafka_offsets values (?, ?, ?, now())", [settings.topic, partition, next_offset]
        )


def test_starts_at_the_stored_offset_and_resets_loudly_when_it_lies_past_the_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    make_topic(settings, partitions=1)
    produce(settings, [event(i) for i in range(300)])
    config = IngestConfig(batch_max_records=100)
    _store_offset(settings, 0, 250)  # as if offsets 0..249 were ingested earlier
    run_ingest(settings, config=config)
    assert sorted(o for _, o, _ in stored_rows(settings.warehouse)[0]) == list(range(250, 300))
    # A stored offset past the log end (the topic was recreated): a warning naming topic,
    # partition and both offsets, no crash, and nothing below the stored offset written again.
    _store_offset(settings, 0, 1000)
    with caplog.at_level("WARNING", logger="ingest.consumer"):
        run_ingest(settings, config=config)
    [warning] = [r.getMessage() for r in caplog.records if "outside the broker's log" in r.getMessage()]
    assert f"topic {settings.topic} partition 0: stored next offset 1000" in warning and "end 300" in warning
    assert len(stored_rows(settings.warehouse)[0]) == 50
    # Once the new log passes the stored offset, ingestion goes on from there.
    produce(settings, [event(i) for i in range(300, 1100)])
    run_ingest(settings, config=config)
    offsets = sorted(o for _, o, _ in stored_rows(settings.warehouse)[0])
    assert offsets == list(range(250, 300)) + list(range(1000, 1100))
