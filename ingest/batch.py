"""Micro-batches: records as polled (:class:`RawBatch`) and validated (:class:`Batch`).

The consumer process only collects what it polls into a :class:`RawBatch` (offsets and
value bytes per partition, no per-record work beyond two list comprehensions), because
kafka-python's record decoding alone keeps one core busy. The writer process
(:mod:`ingest.worker`) turns it into a :class:`Batch`: validation happens as records are
added, so the write step only moves columns into DuckDB. Rows are kept as tuples (one
append per record, turned into columns once per batch with ``zip``), which is the
cheapest shape for Python to build. Per partition a batch remembers the offset range it
covers, which is what the writer stores in raw.kafka_offsets in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from ingest.validate import FUTURE_TOLERANCE, Accepted, Rejected, event_row

if TYPE_CHECKING:
    import pyarrow as pa

Partition = tuple[str, int]


# pyarrow is imported on first use: the consumer process only needs RawBatch, and
# keeping pyarrow out of it saves ~45 MB of resident memory.
@cache
def event_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        **{name: pa.string() for name in Accepted._fields},
        "timestamp": pa.timestamp("us", tz="UTC"),
        "kafka_topic": pa.string(),
        "kafka_partition": pa.int32(),
        "kafka_offset": pa.int64(),
    }


@cache
def rejected_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "kafka_topic": pa.string(),
        "kafka_partition": pa.int32(),
        "kafka_offset": pa.int64(),
        "raw_value": pa.binary(),
        "error_code": pa.string(),
        "error_detail": pa.string(),
    }


@dataclass
class Batch:
    ingested_at: datetime
    # Accepted fields followed by topic, partition, offset (the order of event_types()).
    events: list[tuple[object, ...]] = field(default_factory=list)
    # topic, partition, offset, raw value, code, detail (the order of rejected_types()).
    rejected: list[tuple[object, ...]] = field(default_factory=list)
    first_offsets: dict[Partition, int] = field(default_factory=dict)
    next_offsets: dict[Partition, int] = field(default_factory=dict)
    codes: Counter[str] = field(default_factory=Counter)
    size_bytes: int = 0

    def __len__(self) -> int:
        return len(self.events) + len(self.rejected)

    @property
    def accepted_count(self) -> int:
        return len(self.events)

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def add(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        self.extend(topic, partition, (offset,), (value,))

    def extend(self, topic: str, partition: int, offsets: Sequence[int], values: Sequence[bytes | None]) -> None:
        """:meth:`add` for a run of records of one partition, in offset order (the hot path)."""
        if not offsets:
            return
        key = (topic, partition)
        self.first_offsets.setdefault(key, offsets[0])
        self.next_offsets[key] = offsets[-1] + 1
        latest = self.ingested_at + FUTURE_TOLERANCE
        events, rejected, codes = self.events, self.rejected, self.codes
        size = 0
        for offset, value in zip(offsets, values, strict=True):
            if value is not None:
                size += len(value)
            row = event_row(value, latest, topic, partition, offset)
            if isinstance(row, Rejected):
                codes[row.code] += 1
                rejected.append((topic, partition, offset, value, row.code, row.detail))
            else:
                events.append(row)
        self.size_bytes += size

    def drop_partitions(self, partitions: set[Partition]) -> None:
        """Forget records of partitions this consumer no longer owns (they will be re-read)."""
        if not partitions & self.first_offsets.keys():
            return
        topic_at, partition_at = len(Accepted._fields), len(Accepted._fields) + 1
        self.events = [row for row in self.events if (row[topic_at], row[partition_at]) not in partitions]
        self.rejected = [row for row in self.rejected if (row[0], row[1]) not in partitions]
        for key in partitions:
            self.first_offsets.pop(key, None)
            self.next_offsets.pop(key, None)

    def events_table(self) -> pa.Table:
        return _table(self.events, event_types())

    def rejected_table(self) -> pa.Table:
        return _table(self.rejected, rejected_types())


def _table(rows: list[tuple[object, ...]], types: dict[str, pa.DataType]) -> pa.Table:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    return pa.table(
        {name: pa.array(column, type=kind) for (name, kind), column in zip(types.items(), columns, strict=True)}
    )


@dataclass
class RawBatch:
    """Records as polled, not yet validated: per poll and partition, offsets and value bytes.

    Compact (lists of ints and bytes, which pickle quickly and give the garbage collector
    nothing to scan) so the consumer can hand it to the writer process cheaply.
    """

    ingested_at: datetime
    chunks: list[tuple[str, int, list[int], list[bytes | None]]] = field(default_factory=list)
    next_offsets: dict[Partition, int] = field(default_factory=dict)
    size_bytes: int = 0
    count: int = 0

    def __len__(self) -> int:
        return self.count

    def add_records(self, topic: str, partition: int, records: Sequence[Any]) -> None:
        """Append kafka-python ``ConsumerRecord``s of one partition (in offset order)."""
        if not records:
            return
        offsets = [record.offset for record in records]
        values = [record.value for record in records]
        self.chunks.append((topic, partition, offsets, values))
        self.next_offsets[(topic, partition)] = offsets[-1] + 1
        self.size_bytes += sum(len(value) for value in values if value is not None)
        self.count += len(offsets)

    def drop_partitions(self, partitions: set[Partition]) -> None:
        """Forget records of partitions this consumer no longer owns (they will be re-read)."""
        if not partitions & self.next_offsets.keys():
            return
        self.chunks = [chunk for chunk in self.chunks if (chunk[0], chunk[1]) not in partitions]
        for key in partitions:
            self.next_offsets.pop(key, None)
        self.count = sum(len(chunk[2]) for chunk in self.chunks)
        self.size_bytes = sum(len(v) for chunk in self.chunks for v in chunk[3] if v is not None)

    def validated(self) -> Batch:
        """The records validated into a :class:`Batch`, ready for the writer."""
        batch = Batch(self.ingested_at)
        for topic, partition, offsets, values in self.chunks:
            batch.extend(topic, partition, offsets, values)
        return batch
