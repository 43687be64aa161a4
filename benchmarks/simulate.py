"""Simulator throughput: `growth simulate` end to end into a broker this script starts.

Starts the embedded broker on a free loopback port, runs the simulator's Python API (the
same call `growth simulate` makes) with the given size, and prints records, records/s,
the pure generator's own rate and the peak RSS of this process.

    python benchmarks/simulate.py [--users 20000] [--days 180] [--seed 42]
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ingest.py shares its name with the `ingest` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402

from devkit.broker import free_port, spawn, terminate  # noqa: E402
from devkit.simulator import generate_records, simulate  # noqa: E402
from warehouse.settings import Settings  # noqa: E402

END = date(2026, 6, 30)


def generator_rate(users: int, days: int, seed: int) -> tuple[int, float]:
    """Records and seconds of the pure generator alone (no Kafka): the producer's ceiling."""
    started = time.monotonic()
    count = sum(1 for _ in generate_records(users, days, seed, END))
    return count, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-generator", action="store_true", help="Only time the produce run.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        port = free_port()
        process = spawn(port, Path(tmp) / "broker.log")
        try:
            settings = Settings(
                warehouse=Path(tmp) / "warehouse.duckdb",
                bootstrap_servers=f"127.0.0.1:{port}",
                topic="bench_simulate",
                spend_dir=Path(tmp) / "spend",
            )
            summary = simulate(
                settings, users=args.users, days=args.days, seed=args.seed, end_date=END, show_progress=True
            )
        finally:
            terminate(process)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"simulate --users {args.users} --days {args.days}: {summary.events_produced:,} records, "
        f"{summary.users:,} users, {len(summary.spend_files)} spend files"
    )
    print(f"  produce end to end: {summary.seconds:.1f} s, {summary.events_per_second:,.0f} records/s")
    print(f"  peak RSS: {peak_mb:,.0f} MB")
    if not args.skip_generator:
        count, seconds = generator_rate(args.users, args.days, args.seed)
        print(f"  generator alone: {count:,} records in {seconds:.1f} s, {count / seconds:,.0f} records/s")


if __name__ == "__main__":
    main()
