"""Lake compaction (`growth compact`): what many small batch files cost Spark, and what merging
them gives back.

Writes the raw layer of benchmarks/build.py (one Kafka partition) into a lake as ``--batches``
events files, as an ingester that follows the topic leaves it, then times
  (a) a Spark scan of the events folder as each Spark build's staging model reads it (every
      row, its messageId and user), on the small files,
  (b) `growth compact` (warehouse/compaction.py), 128 MiB files,
  (c) the same scan after compaction,
each scan on a fresh table over the folder in one local Spark session with a build's session
settings (its start-up not counted), and prints the file counts, the times and a/c.

    python benchmarks/compaction.py [--users 100000] [--events 5000000] [--batches 2000]
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ingest.py shares its name with the `ingest` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import importlib.util
import tempfile
import time

import duckdb
from pyspark.sql import SparkSession

from orchestration.build import SPARK_SESSION
from warehouse.compaction import compact_lake
from warehouse.lake import EVENTS, Lake, range_name
from warehouse.settings import Settings

SCAN = "select count(*), count(distinct message_id), count(distinct user_id) from scanned"


def write_raw(warehouse: Path, users: int, events: int) -> None:
    """benchmarks/build.py's raw layer (loaded by path: this folder is not a package)."""
    spec = importlib.util.spec_from_file_location("build_benchmark", Path(__file__).with_name("build.py"))
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.write_raw(warehouse, users, events)


def split_into_lake(warehouse: Path, lake: Lake, events: int, batches: int) -> int:
    """Partition 0's events as ``batches`` files of consecutive offsets; returns how many."""
    size = -(-events // batches)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for first in range(0, events, size):
            last = min(first + size, events) - 1
            lake.publish(
                con,
                "select * replace (payload::varchar as payload) from raw.events "
                "where kafka_partition = 0 and kafka_offset between ? and ? order by kafka_offset",
                [first, last],
                lake.partition_dir(EVENTS, "events", 0) / range_name(first, last),
            )
    return len(lake.files(EVENTS))


def scan(spark: SparkSession, lake: Lake) -> float:
    spark.sql("drop table if exists scanned")
    spark.sql(f"create table scanned using parquet options (path '{lake.root / EVENTS}', recursiveFileLookup 'true')")
    started = time.monotonic()
    spark.sql(SCAN).collect()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="growth-compaction-") as folder:
        root = Path(folder)
        settings = Settings(warehouse=root / "warehouse.duckdb", engine="spark", lake=root / "lake")
        write_raw(settings.warehouse, args.users, args.events)
        lake = Lake(settings.lake)
        files = split_into_lake(settings.warehouse, lake, args.events, args.batches)
        builder = SparkSession.builder.master("local[*]").config("spark.driver.memory", "4g")
        for key, value in SPARK_SESSION.items():  # a build's session settings, its quiet logs too
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        scan(spark, lake)  # warm-up: the JVM's classes and Spark's planner, on a folder it lists again below
        a = scan(spark, lake)
        started = time.monotonic()
        done = compact_lake(settings)
        b = time.monotonic() - started
        c = scan(spark, lake)
        spark.stop()
    print(f"{args.events:,} events in {files} events files")
    print(f"(a) Spark scan of the small files: {a:.2f} s")
    print(f"(b) growth compact: {b:.2f} s ({done.summary(settings.lake)})")
    print(f"(c) Spark scan after compaction: {c:.2f} s   a/c = {a / c:.1f}")


if __name__ == "__main__":
    main()
