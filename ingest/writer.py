"""Write one micro-batch in ONE DuckDB transaction: rows, quarantine and offsets together.

That single transaction is what makes ingestion exactly-once: after a crash, the offsets
in raw.kafka_offsets say precisely which records are in the warehouse. Records below the
stored offset of their partition are skipped inside the transaction, so a consumer whose
partition moved to another ingester mid-batch cannot write a record twice; the primary
key on (topic, partition, offset) is the last line of defence.

DuckDB allows one writing process per file, so the file is open (and the writer lock
held) only while the ingester has work: a :class:`WarehouseWriter` keeps its connection
across the batches of a backlog (opening and checkpointing the file per batch would cost
more than the insert), and lets go when a batch comes back short (caught up) or after
``hold_seconds`` of continuous backlog, so builds and spend loads interleave with a
following ingester.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from pathlib import Path

import duckdb

from ingest.batch import Batch, Partition
from ingest.lock import writer_lock
from ingest.warehouse import connect, ensure_raw_schema

log = logging.getLogger(__name__)

# Keep only records at or after their partition's stored offset (a hash join, not a
# per-row subquery: this runs on every record of every batch).
NOT_YET_STORED = """
    left join raw.kafka_offsets o on o.topic = b.kafka_topic and o.partition = b.kafka_partition
    where b.kafka_offset >= coalesce(o.next_offset, 0)
"""


def _forgotten_filter(con: duckdb.DuckDBPyConnection) -> str:
    """Seam for `growth forget` (issue #6): ids listed in raw.forgotten_ids are not stored again.

    Forgetting deletes what is stored; a producer may still send events of a forgotten user
    later. If the forget command keeps its ids in ``raw.forgotten_ids(id varchar)``, such
    events are skipped here (their offsets still advance). Without that table: no filter.
    """
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'forgotten_ids'"
    ).fetchone()
    if not found or not found[0]:
        return ""
    return "and not exists (select 1 from raw.forgotten_ids f where f.id in (b.user_id, b.anonymous_id, b.previous_id))"


def read_offsets(warehouse: Path, topic: str) -> dict[int, int]:
    """Stored next offsets per partition of ``topic`` (empty for a new warehouse)."""
    if not warehouse.exists():
        return {}
    with writer_lock(warehouse, on_wait=log.info), connect(warehouse) as con:
        ensure_raw_schema(con)
        rows = con.execute("select partition, next_offset from raw.kafka_offsets where topic = ?", [topic]).fetchall()
    return {int(partition): int(offset) for partition, offset in rows}


def read_offsets_with(writer: WarehouseWriter, topic: str) -> dict[int, int]:
    """:func:`read_offsets` through the writer's connection when it holds one (and so the lock)."""
    if writer.connection is None:
        return read_offsets(writer.warehouse, topic)
    rows = writer.connection.execute(
        "select partition, next_offset from raw.kafka_offsets where topic = ?", [topic]
    ).fetchall()
    return {int(partition): int(offset) for partition, offset in rows}


class WarehouseWriter:
    """Writes batches; holds the file and the writer lock only while there is a backlog."""

    def __init__(self, warehouse: Path, hold_seconds: float = 5.0, memory_limit: str | None = None) -> None:
        self.warehouse = warehouse
        self.hold_seconds = hold_seconds
        self.memory_limit = memory_limit
        self._held: ExitStack | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            held = ExitStack()
            held.enter_context(writer_lock(self.warehouse, on_wait=log.info))
            self._con = held.enter_context(connect(self.warehouse, memory_limit=self.memory_limit))
            ensure_raw_schema(self._con)
            self._held = held
            self._opened_at = time.monotonic()
        return self._con

    @property
    def connection(self) -> duckdb.DuckDBPyConnection | None:
        """The open connection while the writer holds the file, else None."""
        return self._con

    def write(self, batch: Batch, *, more_waiting: bool) -> dict[Partition, int]:
        """Write one batch; keep the file open only if more is waiting and the hold is young."""
        try:
            return _write(self._connection(), batch)
        finally:
            if not more_waiting or time.monotonic() - self._opened_at >= self.hold_seconds:
                self.release()

    def release(self) -> None:
        if self._held is not None:
            self._con = None
            held, self._held = self._held, None
            held.close()
            time.sleep(0.05)  # let a writer woken by the release take the lock first


def write_batch(warehouse: Path, batch: Batch) -> dict[Partition, int]:
    """Write one batch with the file opened and closed around it (tests, one-off writes)."""
    writer = WarehouseWriter(warehouse)
    return writer.write(batch, more_waiting=False)


def _write(con: duckdb.DuckDBPyConnection, batch: Batch) -> dict[Partition, int]:
    """Append the batch and advance its offsets atomically; returns the stored next offsets."""
    events, rejected = batch.events_table(), batch.rejected_table()
    offsets = [(topic, partition, offset) for (topic, partition), offset in batch.next_offsets.items()]
    con.register("batch_events", events)
    con.register("batch_rejected", rejected)
    con.begin()
    try:
        if _forgotten_filter(con):  # count what the filter below drops (never the data itself)
            con.execute(
                f"""
                insert into raw.deletion_log
                select ?::timestamptz, 'dropped_at_ingest', null, list(distinct f.id order by f.id),
                       count(distinct (b.kafka_topic, b.kafka_partition, b.kafka_offset)), 0
                from batch_events b
                join raw.forgotten_ids f on f.id in (b.user_id, b.anonymous_id, b.previous_id)
                {NOT_YET_STORED}
                having count(*) > 0
                """,
                [batch.ingested_at],
            )
        con.execute(
            f"""
            insert into raw.events by name
            select b.* exclude (payload), b.payload::json as payload, ?::timestamptz as ingested_at
            from batch_events b
            {NOT_YET_STORED}
            {_forgotten_filter(con)}
            """,
            [batch.ingested_at],
        )
        con.execute(
            f"""
            insert into raw.events_quarantine by name
            select b.*, ?::timestamptz as quarantined_at
            from batch_rejected b
            {NOT_YET_STORED}
            """,
            [batch.ingested_at],
        )
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
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("batch_events")
        con.unregister("batch_rejected")
    return {(topic, int(partition)): int(offset) for topic, partition, offset in stored}
