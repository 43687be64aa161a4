"""Shared by the lake tests: records to produce, settings for the spark engine, and the
exactly-once checker that reads a lake's files the way any reader would."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.batch import Batch
from ingest.lake import LakeWriter
from tests.test_ingest import event
from warehouse.lake import EVENTS, QUARANTINE, TEMPORARY, Lake, parse_range
from warehouse.settings import Settings

BAD_EVERY = 4  # every 4th record is not JSON, so most batches have a quarantine file per partition


def records(total: int, start: int = 0) -> list[bytes]:
    """Sequence-numbered records: events ``seq-N`` and, every ``BAD_EVERY``-th, ``bad-N`` (invalid JSON)."""
    return [b"bad-%d" % seq if seq % BAD_EVERY == 0 else event(seq) for seq in range(start, start + total)]


def on_lake(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, engine="spark", lake=tmp_path / "lake")


def _seq(value: str | None) -> int:
    """The sequence number of ``seq-N`` or ``bad-N``; -1 for a record without one."""
    _, _, number = (value or "").partition("-")
    return int(number) if number.isdigit() else -1


def read_lake(lake: Lake, topic: str) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], list[str]]:
    """(partition, offset, seq) of every events and quarantine row in the files, and the files that
    cannot be read or should not be there."""
    rows: dict[str, list[tuple[int, int, int]]] = {EVENTS: [], QUARANTINE: []}
    found: list[str] = []
    for table, column in ((EVENTS, "message_id"), (QUARANTINE, "raw_value::varchar")):
        for path in lake.files(table, topic):
            try:
                read = duckdb.sql(f"select kafka_partition, kafka_offset, {column} from read_parquet('{path}')")
                rows[table] += [(p, o, _seq(value)) for p, o, value in read.fetchall()]
            except duckdb.Error as exc:
                found.append(f"{path.relative_to(lake.root)} unreadable: {str(exc).splitlines()[0]}")
    for partition in lake.partitions(topic):
        # A batch's quarantine file has the range of its events file, or lies inside the range of
        # the events file a compaction merged that one into.
        committed = [parse_range(path.name) for path in lake.batch_files(EVENTS, topic, partition)]
        for path in lake.partition_dir(QUARANTINE, topic, partition).glob("*.parquet"):
            first, last = parse_range(path.name) or (-1, -1)
            if not any(start <= first and last <= end for start, end in filter(None, committed)):
                found.append(f"{path.relative_to(lake.root)} has no events file over its range")
        for table in (EVENTS, QUARANTINE):
            found += [
                f"{path.relative_to(lake.root)} left behind"
                for path in lake.partition_dir(table, topic, partition).glob(f"*{TEMPORARY}")
            ]
    return rows[EVENTS], rows[QUARANTINE], found


def lake_problems(lake: Lake, topic: str, produced: int) -> list[str]:
    """Everything that breaks exactly-once: a record lost, stored twice (in one table or both), an
    offset missing, a file unreadable or left behind."""
    events, quarantined, found = read_lake(lake, topic)
    both = events + quarantined
    coordinates = Counter((p, o) for p, o, _ in both)
    found += [f"offset {c} stored {n} times" for c, n in sorted(coordinates.items()) if n > 1]
    seqs = Counter(seq for _, _, seq in both if seq >= 0)
    found += [f"seq {s} stored {n} times" for s, n in sorted(seqs.items()) if n > 1]
    lost = [s for s in range(produced) if s not in seqs]
    if lost:
        found.append(f"{len(lost)} records lost (seq {lost[0]}, ...)")
    for partition in {p for p, _ in coordinates}:
        offsets = {o for p, o in coordinates if p == partition}
        if len(offsets) != max(offsets) + 1:
            found.append(f"partition {partition}: {max(offsets) + 1 - len(offsets)} offsets in neither table")
    wrong_table = [s for _, _, s in events if s % BAD_EVERY == 0] + [s for _, _, s in quarantined if s % BAD_EVERY]
    found += [f"seq {s} in the wrong table" for s in wrong_table[:5]]
    return found


def write_to_lake(lake: Lake, topic: str, partition: int, first: int, last: int) -> None:
    """Records ``first`` to ``last`` (offset = seq) as one batch, through the real lake writer."""
    batch = Batch(datetime.now(UTC))
    batch.extend(topic, partition, range(first, last + 1), records(last + 1 - first, start=first))
    LakeWriter(lake.root).write(batch, more_waiting=False)
