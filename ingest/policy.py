"""When a batch is complete: the batching policy of `growth ingest`.

Batches close at ``batch_max_records``, ``batch_max_bytes`` or ``batch_max_seconds``; while
a backlog drains, the age limit stretches to ``hold_seconds`` (the span a backlog may keep
the warehouse anyway), so DuckDB receives large transactions, which it writes as whole row
groups, compressed once. Memory does not grow with the batch: records are in the writer
process, which keeps at most ``stream_rows`` of them before it streams them into the open
transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ingest.batch import BatchCursor
from ingest.config import IngestConfig

# Small polls keep the consumer process lean at no cost in speed: kafka-python's per-record
# decoding, not the round trips, sets the pace.
POLL_RECORDS = 5_000


@dataclass(frozen=True)
class BatchPolicy:
    """Sizes batches and the polls that fill them; knows nothing of Kafka or DuckDB."""

    max_records: int
    max_bytes: int
    max_seconds: float
    hold_seconds: float

    @classmethod
    def from_config(cls, config: IngestConfig) -> BatchPolicy:
        return cls(config.batch_max_records, config.batch_max_bytes, config.batch_max_seconds, config.hold_seconds)

    @property
    def poll_size(self) -> int:
        """Most records one poll returns."""
        return min(self.max_records, POLL_RECORDS)

    def poll_records(self, batch: BatchCursor, quota_left: int | None) -> int:
        """Records to ask the next poll for: a batch never overshoots its size nor the run its quota."""
        room = self.max_records - len(batch)
        if quota_left is not None:
            room = min(room, quota_left)
        return max(1, min(room, self.poll_size))

    def due(self, batch: BatchCursor, *, backlog: bool) -> bool:
        """A batch holding records is full or old enough to be written.

        While a backlog drains, the writer holds the file anyway: the batch may grow for up
        to ``hold_seconds`` into one large transaction.
        """
        max_age = max(self.max_seconds, self.hold_seconds) if backlog else self.max_seconds
        return (
            len(batch) >= self.max_records
            or batch.size_bytes >= self.max_bytes
            or time.monotonic() - batch.started >= max_age
        )
