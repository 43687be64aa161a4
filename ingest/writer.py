"""Write each micro-batch in ONE DuckDB transaction: rows, quarantine and offsets together.

That single transaction is what makes ingestion exactly-once: after a crash, the offsets
in raw.kafka_offsets say precisely which records are in the warehouse. Records below the
stored offset of their partition are skipped inside the transaction, so a consumer whose
partition moved to another ingester mid-batch cannot write a record twice; the primary
key on (topic, partition, offset) is the last line of defence.

A batch arrives in parts (validated records of one partition and poll, see
:meth:`WarehouseWriter.add`). Parts are kept as Arrow tables until ``stream_rows`` rows (or
32 MiB) are waiting; from then on the batch's transaction is open and parts are inserted
as they come, so memory does not grow with the batch, and a large batch reaches DuckDB in
whole row groups, which it compresses and writes once. (A transaction whose last row group
is less than half full leaves it to be re-compressed with the next one at a checkpoint:
the consumer's default batch of 200,000 records ends in one of ~77,000.)
:meth:`~WarehouseWriter.commit` inserts the rest, stores the offsets and commits;
:meth:`~WarehouseWriter.abort` (or a crash) rolls the whole batch back.

The same batch logic serves the Parquet lake of the spark engine (:mod:`ingest.lake`):
:class:`BatchWriter` is what both share, :class:`WarehouseWriter` the DuckDB file.

DuckDB allows one writing process per file, so the file is open (and the writer lock
held) only while the ingester has work: a writer keeps its connection across the batches
of a backlog (opening and checkpointing the file per batch would cost more than the
insert), and lets go when a batch comes back short (caught up) or after ``hold_seconds``
of continuous backlog, so builds and spend loads interleave with a following ingester.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingest.batch import Batch, BatchResult, Partition
from ingest.forgotten import CARRIES_FORGOTTEN_ID, LOG_DROPPED_AT_INGEST, forgotten_strings, ids_in
from warehouse.connection import writing
from warehouse.settings import Settings

log = logging.getLogger(__name__)

STREAM_ROWS = 50_000  # rows kept in memory before a batch's transaction opens ...
STREAM_BYTES = 32 << 20  # ... or this many bytes of record values, whichever comes first

# Keep only records at or after their partition's stored offset (a hash join, not a
# per-row subquery: this runs on every record of every batch).
NOT_YET_STORED = """
    left join raw.kafka_offsets o on o.topic = b.kafka_topic and o.partition = b.kafka_partition
    where b.kafka_offset >= coalesce(o.next_offset, 0)
"""


def _forgotten_filter(con: duckdb.DuckDBPyConnection) -> str:
    """The SQL that drops, at ingest, events of ids `growth forget` listed in raw.forgotten_ids.

    Forgetting deletes what is stored, but a producer may still send events of a forgotten
    user later: they are not stored (their offsets still advance), only counted in
    raw.deletion_log.
    """
    if not con.execute("select exists (select 1 from raw.forgotten_ids)").fetchall()[0][0]:
        return ""  # nobody forgotten: no per-row subquery
    return f"and not {CARRIES_FORGOTTEN_ID}"


def _mark_forgotten(
    con: duckdb.DuckDBPyConnection, rejected: pa.Table, batch: OpenBatch, strings: Mapping[bytes, str]
) -> pa.Table:
    """``rejected`` with the column is_forgotten: whether the record carries one of the
    forgotten ids in ``strings`` (ingest/forgotten.py); those not stored yet are counted into
    ``batch``."""
    values = rejected.column("raw_value").to_pylist() if strings else [None] * rejected.num_rows
    carried = [ids_in(value, strings) for value in values]
    marked = rejected.append_column("is_forgotten", pa.array([bool(ids) for ids in carried], pa.bool_()))
    if any(carried):
        [(records,)] = _scan(
            con, "batch_rejected", marked, f"select count(*) from batch_rejected b {NOT_YET_STORED} and b.is_forgotten"
        )
        batch.forgotten_ids.update(*carried)
        batch.forgotten_quarantined += int(records)
    return marked


def _scan(
    con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, sql: str, parameters: list[object] | None = None
) -> list[tuple[Any, ...]]:
    """Run ``sql`` with ``table`` visible as ``name``.

    The table is handed over as a stream of record batches: DuckDB keeps every Python
    object a statement scanned alive until the transaction ends, and a stream that has
    been read holds no data, while a table would keep a whole batch's Arrow buffers.
    """
    con.register(name, pa.RecordBatchReader.from_batches(table.schema, iter(table.to_batches())))
    try:
        return con.execute(sql, parameters or []).fetchall()
    finally:
        with contextlib.suppress(duckdb.Error):  # never hide the statement's own error
            con.unregister(name)


def _read_offsets(con: duckdb.DuckDBPyConnection, topic: str) -> dict[int, int]:
    rows = con.execute("select partition, next_offset from raw.kafka_offsets where topic = ?", [topic]).fetchall()
    return {int(partition): int(offset) for partition, offset in rows}


@dataclass
class OpenBatch:
    """The batch being written: parts not inserted yet, and what the batch covers so far."""

    ingested_at: datetime
    events: list[pa.Table] = field(default_factory=list)
    rejected: list[pa.Table] = field(default_factory=list)
    waiting_rows: int = 0
    waiting_bytes: int = 0
    in_transaction: bool = False
    next_offsets: dict[Partition, int] = field(default_factory=dict)
    accepted: int = 0
    rejected_count: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    forgotten_ids: set[str] = field(default_factory=set)  # later records of forgotten users, dropped
    forgotten_records: int = 0
    forgotten_quarantined: int = 0

    def take(self, part: Batch) -> None:
        if part.accepted_count:
            self.events.append(part.events_table())
        if part.rejected_count:
            self.rejected.append(part.rejected_table())
        self.waiting_rows += len(part)
        self.waiting_bytes += part.size_bytes
        for key, offset in part.next_offsets.items():
            self.next_offsets[key] = max(offset, self.next_offsets.get(key, offset))
        self.accepted += part.accepted_count
        self.rejected_count += part.rejected_count
        self.codes.update(part.codes)


class BatchWriter(ABC):
    """A batch arrives in parts, streams into an open DuckDB transaction, and is stored whole or not at all.

    What every raw-layer writer shares (the DuckDB file here, the Parquet lake in
    :mod:`ingest.lake`): the parts, the streaming past ``stream_rows``, the offset guard of
    the inserts, commit and abort. A subclass says where the connection comes from
    (:meth:`_writing`), how a batch and its offsets are stored (:meth:`_store`) and how the
    stored offsets are read (:meth:`offsets`).
    """

    def __init__(
        self, hold_seconds: float = 5.0, memory_limit: str | None = None, stream_rows: int = STREAM_ROWS
    ) -> None:
        self.hold_seconds = hold_seconds
        self.memory_limit = memory_limit
        self.stream_rows = stream_rows
        self._held: ExitStack | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0
        self._batch: OpenBatch | None = None

    @abstractmethod
    def _writing(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The connection batches are inserted through, with the raw schema in place."""

    @abstractmethod
    def _store(self, con: duckdb.DuckDBPyConnection, batch: OpenBatch) -> dict[Partition, int]:
        """Make the inserted batch and its next offsets durable; return the stored next offsets."""

    @abstractmethod
    def offsets(self, topic: str) -> dict[int, int]:
        """Stored next offsets per partition of ``topic`` (empty when nothing is stored)."""

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            with ExitStack() as held:
                con = held.enter_context(self._writing())
                con.execute("set enable_progress_bar = false")  # a writer process has no terminal
                self._held = held.pop_all()
            self._con = con
            self._opened_at = time.monotonic()
        return self._con

    @property
    def connection(self) -> duckdb.DuckDBPyConnection | None:
        """The open connection while the writer holds the file, else None."""
        return self._con

    # -- one batch, in parts -------------------------------------------------------------

    def add(self, part: Batch) -> None:
        """Add validated records to the batch being written (opens it with the first part)."""
        if self._batch is None:
            self._batch = OpenBatch(part.ingested_at)
        self._batch.take(part)
        if self._batch.waiting_rows >= self.stream_rows or self._batch.waiting_bytes >= STREAM_BYTES:
            try:
                self._insert_waiting(self._batch)
            except BaseException:
                self.abort()
                raise

    def commit(self, *, more_waiting: bool) -> BatchResult:
        """Write the rest of the batch and its offsets, commit; keep the file only if more is waiting."""
        batch, self._batch = self._batch, None
        if batch is None:
            return BatchResult({}, 0, 0, {})
        try:
            con = self._connection()
            self._insert_waiting(batch)
            stored = self._store(con, batch)
        except BaseException:
            self._rollback(batch)
            self.release()
            raise
        if not more_waiting or time.monotonic() - self._opened_at >= self.hold_seconds:
            self.release()
        return BatchResult(stored, batch.accepted, batch.rejected_count, dict(batch.codes))

    def abort(self) -> None:
        """Drop the batch being written: nothing of it is stored (it will be read again)."""
        batch, self._batch = self._batch, None
        if batch is not None:
            self._rollback(batch)

    def write(self, batch: Batch, *, more_waiting: bool) -> dict[Partition, int]:
        """Write one whole batch; returns the stored next offsets of its topics."""
        self.add(batch)
        return self.commit(more_waiting=more_waiting).stored

    def _rollback(self, batch: OpenBatch) -> None:
        if batch.in_transaction and self._con is not None:
            try:
                self._con.rollback()
            except duckdb.Error as exc:  # the connection is broken: closing it discards the transaction
                log.debug("rollback failed: %s", exc)
                self.release()

    def _insert_waiting(self, batch: OpenBatch) -> None:
        """Insert the parts waiting in memory, in the batch's transaction (begun here if need be)."""
        con = self._connection()
        if not batch.in_transaction:
            con.begin()
            batch.in_transaction = True
        events, rejected = batch.events, batch.rejected
        batch.events, batch.rejected, batch.waiting_rows, batch.waiting_bytes = [], [], 0, 0
        forgotten = _forgotten_filter(con)
        if events:
            table = pa.concat_tables(events)
            del events
            if forgotten:  # count what the filter drops (never the data itself)
                [(ids, records)] = _scan(
                    con,
                    "batch_events",
                    table,
                    f"""
                    select list(distinct f.id), count(distinct (b.kafka_topic, b.kafka_partition, b.kafka_offset))
                    from batch_events b
                    join raw.forgotten_ids f on f.id in (b.user_id, b.anonymous_id, b.previous_id)
                    {NOT_YET_STORED}
                    """,
                )
                batch.forgotten_ids.update(ids or ())
                batch.forgotten_records += int(records)
            _scan(
                con,
                "batch_events",
                table,
                f"""
                insert into raw.events by name
                select b.* exclude (payload), b.payload::json as payload, ?::timestamptz as ingested_at
                from batch_events b
                {NOT_YET_STORED}
                {forgotten}
                """,
                [batch.ingested_at],
            )
        if rejected:
            table = _mark_forgotten(con, pa.concat_tables(rejected), batch, forgotten_strings(con) if forgotten else {})
            del rejected
            _scan(
                con,
                "batch_rejected",
                table,
                f"""
                insert into raw.events_quarantine by name
                select b.* exclude (is_forgotten), ?::timestamptz as quarantined_at
                from batch_rejected b
                {NOT_YET_STORED}
                and not b.is_forgotten
                """,
                [batch.ingested_at],
            )

    def release(self) -> None:
        """Close the file and let go of the writer lock (a batch in progress is rolled back)."""
        if self._batch is not None and self._batch.in_transaction:
            self._batch = None  # closing the connection below discards its transaction
        if self._held is not None:
            self._con = None
            held, self._held = self._held, None
            held.close()
            time.sleep(0.05)  # let a writer woken by the release take the lock first


class WarehouseWriter(BatchWriter):
    """Writes batches into the warehouse file; holds it and the writer lock only while there is work."""

    def __init__(
        self,
        warehouse: Path,
        hold_seconds: float = 5.0,
        memory_limit: str | None = None,
        stream_rows: int = STREAM_ROWS,
    ) -> None:
        super().__init__(hold_seconds, memory_limit, stream_rows)
        # The writer process is handed a path, not the settings (which may hold secrets).
        self.settings = Settings(warehouse=warehouse)

    def _store(self, con: duckdb.DuckDBPyConnection, batch: OpenBatch) -> dict[Partition, int]:
        """The offsets join the rows in the batch's transaction, which commits here."""
        if batch.forgotten_records or batch.forgotten_quarantined:  # counts, never the data itself
            con.execute(
                LOG_DROPPED_AT_INGEST,
                [batch.ingested_at, sorted(batch.forgotten_ids), batch.forgotten_records, batch.forgotten_quarantined],
            )
        offsets = [(topic, partition, offset) for (topic, partition), offset in batch.next_offsets.items()]
        con.executemany(
            """
            insert into raw.kafka_offsets (topic, partition, next_offset, updated_at) values (?, ?, ?, now())
            on conflict (topic, partition) do update
                set next_offset = greatest(kafka_offsets.next_offset, excluded.next_offset), updated_at = now()
            """,
            offsets,
        )
        stored = con.execute(
            "select topic, partition, next_offset from raw.kafka_offsets where topic in (select unnest(?))",
            [sorted({topic for topic, _, _ in offsets})],
        ).fetchall()
        con.commit()
        return {(topic, int(partition)): int(offset) for topic, partition, offset in stored}

    def offsets(self, topic: str) -> dict[int, int]:
        """Stored next offsets per partition of ``topic`` (empty for a new warehouse).

        Read through the open connection when the writer holds the file (a batch streaming
        into its transaction included), else through one opened for the read alone.
        """
        if self._con is not None:
            return _read_offsets(self._con, topic)
        if not self.settings.warehouse.exists():
            return {}
        with self._writing() as con:
            return _read_offsets(con, topic)

    def _writing(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """The writer lock and the warehouse file, under the writer process's own memory cap.

        Ingest brings data in, so it may create the warehouse.
        """
        return writing(self.settings, on_wait=log.info, create=True, memory_limit=self.memory_limit)


def write_batch(warehouse: Path, batch: Batch) -> dict[Partition, int]:
    """Write one batch with the file opened and closed around it (tests, one-off writes)."""
    return WarehouseWriter(warehouse).write(batch, more_waiting=False)
