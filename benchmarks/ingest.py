"""Ingest throughput: a bare kafka-python count loop vs `growth ingest --until-caught-up`.

Produces N realistic Segment events (~300 bytes, from the simulator) to a broker this
script starts on a free loopback port, then measures (a) a consumer that only counts
records and (b) the real ingester as a subprocess into a fresh warehouse, and prints
events/s for both, the ratio b/a and the peak RSS of (b), summed over its processes (the
consumer and its writer process; sampled from /proc, so Linux only).

    python benchmarks/ingest.py [--events 1000000]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file shares its name with the `ingest` package: keep its own folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import resource
import subprocess
import tempfile
import threading
import time
from datetime import date
from itertools import islice

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from devkit.broker import free_port, spawn, terminate
from devkit.simulator import Simulation
from devkit.simulator.produce import PRODUCER_SETTINGS, ensure_topic
from warehouse.settings import Settings

TOPIC = "bench_events"


def produce(settings: Settings, events: int) -> float:
    ensure_topic(settings)
    simulation = Simulation(users=max(1000, events // 100), days=365, seed=1, end_date=date(2026, 6, 30))
    producer = KafkaProducer(**settings.kafka_client_config(), **PRODUCER_SETTINGS)
    started = time.monotonic()
    for key, value in islice(simulation.records(), events):
        producer.send(TOPIC, key=key, value=value)
    producer.flush()
    producer.close()
    return time.monotonic() - started


def bare_count(settings: Settings, events: int) -> float:
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False, max_poll_records=20_000)
    partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    count = 0
    started = time.monotonic()
    while count < events:
        count += sum(len(records) for records in consumer.poll(timeout_ms=500).values())
    elapsed = time.monotonic() - started
    consumer.close()
    return elapsed


def _tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for thread in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{thread}/children") as children:
                    todo += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return found


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakMemory:
    """Peak resident memory of a process tree, sampled every 20 ms: the sum over the ingester
    and its writer process (what the machine must hold), and the largest single process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.total_mb = 0.0
        self.single_mb = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            sizes = [_rss_mb(pid) for pid in _tree(self.pid)]
            self.total_mb = max(self.total_mb, sum(sizes))
            self.single_mb = max(self.single_mb, *sizes, 0.0)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def growth_ingest(settings: Settings) -> tuple[float, PeakMemory, str]:
    env = {
        **os.environ,
        "GROWTH_WAREHOUSE": str(settings.warehouse),
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_bootstrap(),
        "GROWTH_EVENTS_TOPIC": TOPIC,
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "ingest", "--until-caught-up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = PeakMemory(process.pid)
    stdout, stderr = process.communicate()
    elapsed = time.monotonic() - started
    memory.stop()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args, stdout, stderr)
    # The kernel's own account of the largest process, as a cross-check of the sampling.
    memory.single_mb = max(memory.single_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return elapsed, memory, stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        broker = spawn(port, Path(tmp) / "broker.log")
        settings = Settings(
            warehouse=Path(tmp) / "warehouse.duckdb", bootstrap_servers=f"127.0.0.1:{port}", topic=TOPIC
        )
        try:
            produced = produce(settings, args.events)
            print(f"produced {args.events:,} events in {produced:.1f} s ({args.events / produced:,.0f}/s)")
            bare = bare_count(settings, args.events)
            print(f"(a) bare kafka-python count loop: {args.events / bare:,.0f} events/s ({bare:.1f} s)")
            ingest, memory, summary = growth_ingest(settings)
            print(
                f"(b) growth ingest --until-caught-up: {args.events / ingest:,.0f} events/s ({ingest:.1f} s, "
                "including process start and consumer-group join)"
            )
            print(f"    {summary}")
            print(
                f"ratio b/a: {bare / ingest:.2f}   peak RSS of (b): {memory.total_mb:,.0f} MB "
                f"(consumer + writer process together; largest single process {memory.single_mb:,.0f} MB)"
            )
            # Other work on the machine skews both figures; say how busy it was.
            print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        finally:
            terminate(broker)


if __name__ == "__main__":
    main()
