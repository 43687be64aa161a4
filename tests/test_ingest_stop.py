"""A stop request (SIGTERM) ends `growth ingest` promptly even while its broker is down.

An ingester whose broker died, or that never found one, waits and retries; that wait must
still notice SIGTERM within a second or so, write nothing twice and advance no offset
beyond what it wrote, and end the way interface.md documents: one summary line, exit 0,
no traceback. Each test runs its own broker (it is killed); the ingester is a real
``growth ingest`` subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from devkit.broker import free_port, spawn, terminate
from tests._processes import alive
from tests.test_ingest import GROWTH, _children, _ingest_process, event, make_topic, problems, produce, stored_rows
from warehouse.connection import connect, ensure_raw_schema
from warehouse.lock import writer_lock
from warehouse.settings import Settings

STOP_BOUND = 10.0  # seconds from SIGTERM to exit: a correctness bound, not a benchmark
TOTAL = 20_000


@pytest.fixture
def own_broker(settings: Settings) -> Iterator[tuple[Settings, subprocess.Popen[bytes]]]:
    """A broker of this test's own (the test kills it), and settings pointing at it."""
    port = free_port()
    broker = spawn(port)
    try:
        yield replace(settings, bootstrap_servers=f"127.0.0.1:{port}"), broker
    finally:
        if broker.poll() is None:
            terminate(broker)


def _stored_offsets(warehouse: Path, topic: str) -> dict[int, int]:
    with writer_lock(warehouse), connect(warehouse) as con:
        ensure_raw_schema(con)
        rows = con.execute("select partition, next_offset from raw.kafka_offsets where topic = ?", [topic]).fetchall()
    return {int(partition): int(offset) for partition, offset in rows}


def _stop_and_wait(process: subprocess.Popen[bytes]) -> tuple[int, float, str, str]:
    """SIGTERM, then (exit code, seconds it took, stdout, stderr); a process that does not end is killed."""
    writers = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        out, err = process.communicate(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(
            f"growth ingest ignored SIGTERM for {STOP_BOUND:.0f} s while its broker was down; stderr:\n"
            + err.decode(errors="replace")[-3000:]
        )
    took = time.monotonic() - sent
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in writers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in writers), "the writer process outlived the ingester"
    return process.returncode, took, out.decode(errors="replace"), err.decode(errors="replace")


def _assert_clean_stop(code: int, out: str, err: str) -> None:
    """Exit 0 after the batch in hand (interface.md), one summary line, no traceback."""
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ingested "), out
    for line in err.splitlines():
        assert line.startswith(("WARNING: ", "error: ")), f"unexpected stderr line {line!r}"


@pytest.mark.parametrize("mode", ["--until-caught-up", "--follow"])
def test_sigterm_while_the_broker_is_down_stops_promptly_and_exactly_once(
    own_broker: tuple[Settings, subprocess.Popen[bytes]], mode: str
) -> None:
    local, broker = own_broker
    make_topic(local, partitions=1)
    values = [event(i) for i in range(TOTAL)]
    produce(local, values)
    # Small batches: the run is still draining the backlog when the broker dies.
    process = _ingest_process(local, mode, batch=40)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline and not stored_rows(local.warehouse)[0]:
        time.sleep(0.05)
    broker.kill()  # no goodbye: the ingester finds out from its sockets
    broker.wait()
    time.sleep(4)  # into the broker-down path: failed fetches, reconnects, back-off
    assert process.poll() is None, "the ingester ended before it could be asked to stop"
    written = len(stored_rows(local.warehouse)[0])
    assert 0 < written < TOTAL, "the broker must die mid-run"

    code, took, out, err = _stop_and_wait(process)
    _assert_clean_stop(code, out, err)
    assert took <= STOP_BOUND
    print(f"{mode}: stopped {took:.1f} s after SIGTERM, broker down; {written} rows before")
    # Exactly once so far: every row once, no hole, and the stored offset is where the rows end.
    events, quarantined = stored_rows(local.warehouse)
    assert not quarantined
    assert problems(range(len(events)), events) == []
    assert Counter(p for p, _, _ in events) == {0: len(events)}
    assert sorted(o for _, o, _ in events) == list(range(len(events)))
    assert _stored_offsets(local.warehouse, local.topic) == {0: len(events)}

    # The broker comes back (Tansu is memory only: replay the log a durable cluster would
    # have kept); a new run picks up at the stored offset and ends with every record once.
    restarted = spawn(int(local.require_bootstrap().rpartition(":")[2]))
    try:
        make_topic(local, partitions=1)
        produce(local, values)
        final = _ingest_process(local, "--until-caught-up", group=f"{local.group_id}-final", batch=5000)
        assert final.wait(120) == 0, final.stderr.read() if final.stderr else ""
    finally:
        terminate(restarted)
    events, _ = stored_rows(local.warehouse)
    assert problems(range(TOTAL), events) == []
    assert len(events) == TOTAL


@pytest.mark.parametrize("mode", ["--until-caught-up", "--follow"])
def test_sigterm_with_no_broker_at_all_stops_promptly(settings: Settings, mode: str) -> None:
    nobody = replace(settings, bootstrap_servers=f"127.0.0.1:{free_port()}")
    env = {
        **os.environ,
        "GROWTH_WAREHOUSE": str(nobody.warehouse),
        "KAFKA_BOOTSTRAP_SERVERS": nobody.require_bootstrap(),
        "GROWTH_EVENTS_TOPIC": nobody.topic,
    }
    process = subprocess.Popen([*GROWTH, "ingest", mode], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while process.poll() is None and not _children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # the writer process is started just before the broker is first tried
    time.sleep(2)  # trying to reach the broker (follow mode: backing off between tries)
    assert process.poll() is None, "the ingester gave up before it could be asked to stop"
    code, took, out, err = _stop_and_wait(process)
    assert took <= STOP_BOUND
    _assert_clean_stop(code, out, err)
    print(f"{mode}: stopped {took:.1f} s after SIGTERM, no broker")
    assert "ingested 0 records" in out
    assert not nobody.warehouse.exists() or stored_rows(nobody.warehouse) == ([], [])
