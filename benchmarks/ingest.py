"""Ingest throughput: a bare kafka-python count loop vs `growth ingest --until-caught-up`.

Produces N realistic Segment events (~300 bytes, from the simulator) to a broker this
script starts on a free loopback port, then measures (a) a consumer that only counts
records and (b) the real ingester as a subprocess into a fresh warehouse, and prints
events/s for both, the ratio b/a and the peak RSS of (b).

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
import time
from datetime import date
from itertools import islice

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ingest.broker import free_port, spawn, terminate
from ingest.config import Settings
from ingest.simulator import Simulation
from ingest.simulator.produce import PRODUCER_SETTINGS, ensure_topic

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


def growth_ingest(settings: Settings) -> tuple[float, float, str]:
    env = {
        **os.environ,
        "GROWTH_WAREHOUSE": str(settings.warehouse),
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_bootstrap(),
        "GROWTH_EVENTS_TOPIC": TOPIC,
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "ingest", "--until-caught-up"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, peak_mb, result.stdout.strip()


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
            ingest, peak_mb, summary = growth_ingest(settings)
            print(
                f"(b) growth ingest --until-caught-up: {args.events / ingest:,.0f} events/s ({ingest:.1f} s, "
                "including process start and consumer-group join)"
            )
            print(f"    {summary}")
            print(f"ratio b/a: {bare / ingest:.2f}   peak RSS of (b): {peak_mb:,.0f} MB")
            # Other work on the machine skews both figures; say how busy it was.
            print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        finally:
            terminate(broker)


if __name__ == "__main__":
    main()
