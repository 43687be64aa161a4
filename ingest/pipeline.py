"""The write and commit steps: polled records stream to the writer process; a batch counts once committed.

The consumer process only polls: kafka-python's record decoding is pure Python and keeps
one core busy on its own. What it polls streams to a writer process (:mod:`ingest.worker`,
the only process that opens the warehouse), which validates and writes while the consumer
polls on, so both cores work (threads could not: the GIL). At most one batch is committing
at a time; only when its DuckDB transaction has committed is it counted, are its offsets
committed to Kafka (for lag tooling; DuckDB holds the truth) and is the reject limit asked.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import TopicPartition

from ingest.batch import BatchCursor, BatchResult, Partition
from ingest.rejects import RejectLimit
from ingest.worker import WriterProcess


@dataclass
class IngestSummary:
    """What committed batches added up to: the CLI's closing line and Dagster's metadata."""

    records: int = 0
    accepted: int = 0
    quarantined: int = 0
    batches: int = 0
    seconds: float = 0.0
    codes: Counter[str] = field(default_factory=Counter)
    next_offsets: dict[int, int] = field(default_factory=dict)
    waited_for_writer: float = 0.0  # seconds the consumer waited for (or sent to) the writer process

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _new_batch() -> BatchCursor:
    return BatchCursor(datetime.now(UTC), time.monotonic())


class WritePipeline:
    """The batch being read, the batch being written, and what committed batches added up to."""

    def __init__(
        self, writer: WriterProcess, *, commit_offsets: Callable[[dict[Partition, int]], None], rejects: RejectLimit
    ) -> None:
        self.writer = writer
        self.commit_offsets = commit_offsets
        self.rejects = rejects
        self.summary = IngestSummary()
        self.batch = _new_batch()
        self.in_flight: BatchCursor | None = None

    def send(self, polled: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """Stream polled records to the writer process, into the open batch."""
        for tp, records in polled.items():
            first, last = records[0].offset, records[-1].offset
            # Usually consecutive: a range pickles in a few bytes (gaps: compaction, transactions).
            offsets = range(first, last + 1) if last - first + 1 == len(records) else [r.offset for r in records]
            values = [record.value for record in records]
            sending = time.perf_counter()
            self.writer.records(self.batch.ingested_at, tp.topic, tp.partition, offsets, values)
            self.summary.waited_for_writer += time.perf_counter() - sending
            self.batch.note(tp.topic, tp.partition, offsets, values)

    def taken(self, *, pending: bool = False) -> int:
        """Records committed or committing, and with ``pending`` those of the open batch too."""
        in_flight = len(self.in_flight) if self.in_flight else 0
        return self.summary.records + in_flight + (len(self.batch) if pending else 0)

    def flush(self, *, more_waiting: bool = False, commit_to_kafka: bool = True) -> None:
        """Close the batch: the writer commits it once the previous one is finished; a new one opens.

        ``more_waiting`` (a backlog) lets the writer keep the warehouse for the next batch.
        """
        self.finish(commit_to_kafka=commit_to_kafka)
        if len(self.batch):
            self.writer.commit(more_waiting=more_waiting)
            self.in_flight = self.batch
        self.batch = _new_batch()

    def settle(self) -> None:
        """Write everything read so far and wait for it, for rebalance callbacks.

        A callback runs inside the client's event loop, so it must not call the client: no
        offset commit to Kafka, which is only for lag tools anyway.
        """
        self.flush(commit_to_kafka=False)
        self.finish(commit_to_kafka=False)

    def finish(self, *, commit_to_kafka: bool = True) -> None:
        """Wait for the batch being written; only then count it and commit its offsets to Kafka."""
        if self.in_flight is None:
            return
        batch, self.in_flight = self.in_flight, None
        waiting = time.perf_counter()
        result = self.writer.result()
        self.summary.waited_for_writer += time.perf_counter() - waiting
        self._account(batch, result)
        if commit_to_kafka:
            self.commit_offsets(result.stored)
        self.rejects.check(result)

    def stored_offsets(self, topic: str) -> dict[int, int]:
        """DuckDB's next offsets, read after the batch in flight (whose outcome :meth:`finish` reports)."""
        return self.writer.offsets(topic)

    def _account(self, batch: BatchCursor, result: BatchResult) -> None:
        s = self.summary
        s.records += len(batch)
        s.accepted += result.accepted
        s.quarantined += result.rejected
        s.batches += 1
        s.codes.update(result.codes)
        for (_topic, partition), offset in batch.next_offsets.items():
            s.next_offsets[partition] = offset
