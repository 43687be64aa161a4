"""A micro-batch: validated records of several partitions, kept as columns ready for Arrow.

Validation happens as records are added, so the write step only moves columns into
DuckDB. Per partition the batch remembers the offset range it covers, which is what the
writer stores in raw.kafka_offsets in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime

import pyarrow as pa

from ingest.validate import Accepted, Rejected, validate

EVENT_COLUMNS = [f.name for f in fields(Accepted)]
Partition = tuple[str, int]


@dataclass
class Batch:
    ingested_at: datetime
    events: dict[str, list[object]] = field(
        default_factory=lambda: {name: [] for name in [*EVENT_COLUMNS, "_topic", "_partition", "_offset"]}
    )
    rejected: dict[str, list[object]] = field(
        default_factory=lambda: {name: [] for name in ("topic", "partition", "offset", "raw_value", "code", "detail")}
    )
    first_offsets: dict[Partition, int] = field(default_factory=dict)
    next_offsets: dict[Partition, int] = field(default_factory=dict)
    codes: Counter[str] = field(default_factory=Counter)
    size_bytes: int = 0

    def __len__(self) -> int:
        return len(self.events["_offset"]) + len(self.rejected["offset"])

    @property
    def accepted_count(self) -> int:
        return len(self.events["_offset"])

    @property
    def rejected_count(self) -> int:
        return len(self.rejected["offset"])

    def add(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        key = (topic, partition)
        self.first_offsets.setdefault(key, offset)
        self.next_offsets[key] = offset + 1
        self.size_bytes += len(value or b"")
        outcome = validate(value, self.ingested_at)
        if isinstance(outcome, Rejected):
            self.codes[outcome.code] += 1
            for column, item in zip(
                self.rejected, (topic, partition, offset, value, outcome.code, outcome.detail), strict=True
            ):
                self.rejected[column].append(item)
            return
        columns = self.events
        for name in EVENT_COLUMNS:
            columns[name].append(getattr(outcome, name))
        columns["_topic"].append(topic)
        columns["_partition"].append(partition)
        columns["_offset"].append(offset)

    def drop_partitions(self, partitions: set[Partition]) -> None:
        """Forget records of partitions this consumer no longer owns (they will be re-read)."""
        if not partitions & self.first_offsets.keys():
            return
        self._filter(self.events, "_topic", "_partition", partitions)
        self._filter(self.rejected, "topic", "partition", partitions)
        for key in partitions:
            self.first_offsets.pop(key, None)
            self.next_offsets.pop(key, None)

    @staticmethod
    def _filter(columns: dict[str, list[object]], topic_col: str, part_col: str, drop: set[Partition]) -> None:
        keep = [i for i, key in enumerate(zip(columns[topic_col], columns[part_col], strict=True)) if key not in drop]
        for name, values in columns.items():
            columns[name] = [values[i] for i in keep]

    def events_table(self) -> pa.Table:
        return pa.table(
            {
                **{name: self.events[name] for name in EVENT_COLUMNS if name != "timestamp"},
                "timestamp": pa.array(self.events["timestamp"], type=pa.timestamp("us", tz="UTC")),
                "kafka_topic": self.events["_topic"],
                "kafka_partition": pa.array(self.events["_partition"], type=pa.int32()),
                "kafka_offset": pa.array(self.events["_offset"], type=pa.int64()),
            }
        )

    def rejected_table(self) -> pa.Table:
        return pa.table(
            {
                "kafka_topic": pa.array(self.rejected["topic"], type=pa.string()),
                "kafka_partition": pa.array(self.rejected["partition"], type=pa.int32()),
                "kafka_offset": pa.array(self.rejected["offset"], type=pa.int64()),
                "raw_value": pa.array(self.rejected["raw_value"], type=pa.binary()),
                "error_code": pa.array(self.rejected["code"], type=pa.string()),
                "error_detail": pa.array(self.rejected["detail"], type=pa.string()),
            }
        )
