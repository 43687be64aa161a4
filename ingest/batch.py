"""Micro-batches: validated records (:class:`Batch`) and the consumer's view of one.

The consumer process streams what it polls to the writer process (:mod:`ingest.worker`)
and keeps only a :class:`BatchCursor` (counts and offsets), because kafka-python's record
decoding alone keeps one core busy. The writer process validates each part into a
:class:`Batch` as it arrives, so the write step only moves columns into DuckDB. Rows are
kept as tuples (one append per record, turned into columns once per part with ``zip``),
which is the cheapest shape for Python to build. Per partition a batch remembers the
offset after the last record it covers, which is what the writer stores in
raw.kafka_offsets in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from ingest.validate import FUTURE_TOLERANCE, Accepted, Rejected, event_row

if TYPE_CHECKING:
    import pyarrow as pa

Partition = tuple[str, int]


# pyarrow is imported on first use: the consumer process only needs BatchCursor, and
# keeping pyarrow out of it saves ~45 MB of resident memory.
@cache
def event_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        **{name: pa.string() for name in Accepted._fields},
        "timestamp": pa.timestamp("us", tz="UTC"),
        # The JSON extension type: DuckDB takes it into a JSON column as it is instead of
        # parsing every payload again (orjson has already checked it is JSON).
        "payload": pa.json_() if hasattr(pa, "json_") else pa.string(),
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
        self.next_offsets[(topic, partition)] = offsets[-1] + 1
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

    def events_table(self) -> pa.Table:
        return _table(self.events, event_types())

    def rejected_table(self) -> pa.Table:
        return _table(self.rejected, rejected_types())


def _table(rows: list[tuple[object, ...]], types: dict[str, pa.DataType]) -> pa.Table:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    return pa.table({name: _array(column, kind) for (name, kind), column in zip(types.items(), columns, strict=True)})


def _array(values: Sequence[object], kind: pa.DataType) -> pa.Array:
    import pyarrow as pa

    if isinstance(kind, pa.ExtensionType):  # built as its storage type, then labelled (no copy)
        return pa.ExtensionArray.from_storage(kind, pa.array(values, type=kind.storage_type))
    return pa.array(values, type=kind)


@dataclass(frozen=True)
class BatchResult:
    """A committed batch: the stored next offsets of its topics and what went where."""

    stored: dict[Partition, int]
    accepted: int
    rejected: int
    codes: dict[str, int]


@dataclass
class BatchCursor:
    """The consumer's account of the batch it is streaming to the writer process.

    The records themselves are in the writer process; this keeps what the consumer needs
    to decide when the batch is complete and what it covers.
    """

    ingested_at: datetime
    started: float  # time.monotonic() of the batch's start
    count: int = 0
    size_bytes: int = 0
    next_offsets: dict[Partition, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.count

    def note(self, topic: str, partition: int, offsets: Sequence[int], values: Sequence[bytes | None]) -> None:
        """Account for records of one partition (in offset order) sent to the writer."""
        if not offsets:
            return
        self.next_offsets[(topic, partition)] = offsets[-1] + 1
        self.count += len(offsets)
        try:
            self.size_bytes += sum(map(len, values))  # type: ignore[arg-type]
        except TypeError:  # a tombstone (None) among them
            self.size_bytes += sum(len(value) for value in values if value is not None)
