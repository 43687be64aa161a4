"""A micro-batch: validated records of several partitions, ready to become Arrow tables.

Validation happens as records are added, so the write step only moves columns into
DuckDB. Rows are kept as tuples (one append per record, turned into columns once per
batch with ``zip``), which is the cheapest shape for Python to build. Per partition the
batch remembers the offset range it covers, which is what the writer stores in
raw.kafka_offsets in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from ingest.validate import Accepted, Rejected, validate

Partition = tuple[str, int]
EVENT_TYPES: dict[str, pa.DataType] = {
    **{name: pa.string() for name in Accepted._fields},
    "timestamp": pa.timestamp("us", tz="UTC"),
    "kafka_topic": pa.string(),
    "kafka_partition": pa.int32(),
    "kafka_offset": pa.int64(),
}
REJECTED_TYPES: dict[str, pa.DataType] = {
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
    # Accepted fields followed by topic, partition, offset (the order of EVENT_TYPES).
    events: list[tuple[object, ...]] = field(default_factory=list)
    # topic, partition, offset, raw value, code, detail (the order of REJECTED_TYPES).
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
        key = (topic, partition)
        self.first_offsets.setdefault(key, offset)
        self.next_offsets[key] = offset + 1
        self.size_bytes += len(value or b"")
        outcome = validate(value, self.ingested_at)
        if isinstance(outcome, Rejected):
            self.codes[outcome.code] += 1
            self.rejected.append((topic, partition, offset, value, outcome.code, outcome.detail))
        else:
            self.events.append((*outcome, topic, partition, offset))

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
        return _table(self.events, EVENT_TYPES)

    def rejected_table(self) -> pa.Table:
        return _table(self.rejected, REJECTED_TYPES)


def _table(rows: list[tuple[object, ...]], types: dict[str, pa.DataType]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    return pa.table(
        {name: pa.array(column, type=kind) for (name, kind), column in zip(types.items(), columns, strict=True)}
    )
