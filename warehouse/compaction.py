"""`growth compact`: each partition's consecutive batch files in the lake merged into files of up
to a target size. An ingester that follows the topic writes a file per partition and batch, and
Spark opens every file at every build: thousands of small files cost more than their rows.

Exactly once, as ingest is (warehouse/lake.py): rows are copied, never moved. A group's merged
events file lands first, whole (:meth:`Lake.publish`), named by the group's first and last
offsets, so the partition's next offset does not change; then the group's files are deleted.
Then the quarantine files inside each events file's range are merged the same way into one
file of that range. Wherever a crash stops it, a file whose range lies inside another's of the
same table holds rows copied elsewhere: readers skip it, and the partition's next writer or the
next build deletes it (:meth:`Lake.settle`); a quarantine file inside an events file's range is
committed, whatever that file's name. Running it again finishes the job. Compaction holds the
lake's lock (no build or `growth forget` meanwhile) and each partition's lock in turn (that
partition's ingester waits a moment).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.lake import EVENTS, QUARANTINE, Lake, building, parse_range, range_name, raw_in_memory, read_files
from warehouse.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_TARGET_MB = 128


@dataclass(frozen=True)
class Compacted:
    """What a compaction did: partitions read, and their files before and after."""

    partitions: int
    files_before: int
    files_after: int

    def summary(self, lake: Path) -> str:
        partitions = f"{self.partitions} partition{'' if self.partitions == 1 else 's'}"
        return f"lake {lake}: {self.files_before} batch files in {partitions}, {self.files_after} after compaction"


def compact_lake(settings: Settings, target_mb: int = DEFAULT_TARGET_MB) -> Compacted:
    """Merge the events and quarantine files of every partition of the lake, ``target_mb`` at most
    per merged events file (a file already larger stays as it is)."""
    lake = Lake(settings.lake)
    partitions = before = after = 0
    with building(settings, on_wait=log.warning), raw_in_memory(settings.memory_limit) as con:
        for topic in lake.topics(EVENTS):
            for partition in lake.partitions(topic, (EVENTS,)):
                with lake.partition_lock(topic, partition):  # building() settled it
                    before += _file_count(lake, topic, partition)
                    for group in _groups(lake.batch_files(EVENTS, topic, partition), target_mb << 20):
                        _merge(lake, con, EVENTS, topic, partition, group)
                    # Listed once: each merge below touches only the files inside one events file's range.
                    rejected = lake.batch_files(QUARANTINE, topic, partition)
                    for events in lake.batch_files(EVENTS, topic, partition):
                        inside = _inside(rejected, events)
                        if [path.name for path in inside] not in ([], [events.name]):
                            _merge(lake, con, QUARANTINE, topic, partition, inside, events.name)
                    after += _file_count(lake, topic, partition)
                partitions += 1
    return Compacted(partitions, before, after)


def _file_count(lake: Lake, topic: str, partition: int) -> int:
    return sum(len(lake.batch_files(table, topic, partition)) for table in (EVENTS, QUARANTINE))


def _groups(files: list[Path], target_bytes: int) -> list[list[Path]]:
    """Runs of consecutive files of at most ``target_bytes`` together, of two files or more."""
    groups: list[list[Path]] = [[]]
    size = 0
    for path in files:
        file_size = path.stat().st_size
        if groups[-1] and size + file_size > target_bytes:
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += file_size
    return [group for group in groups if len(group) > 1]


def _merge(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    table: str,
    topic: str,
    partition: int,
    files: list[Path],
    name: str | None = None,
) -> None:
    """One file of ``table`` holding the rows of ``files``, named ``name`` (by default their first
    and last offsets), then the originals deleted."""
    name = name or range_name(_range(files[0])[0], _range(files[-1])[1])
    lake.publish(
        con,
        f"select * from {read_files(files)} order by kafka_offset",
        [],
        lake.partition_dir(table, topic, partition) / name,
    )
    for path in files:
        path.unlink()
    log.info("%s/%s/%s: %d files merged into %s", table, topic, partition, len(files), name)


def _inside(files: list[Path], events: Path) -> list[Path]:
    """The quarantine ``files`` whose range lies inside the range of the events file ``events``."""
    first, last = _range(events)
    return [path for path in files if first <= _range(path)[0] and _range(path)[1] <= last]


def _range(path: Path) -> tuple[int, int]:
    parsed = parse_range(path.name)
    assert parsed is not None, path  # batch_files lists batch files only
    return parsed
