"""The ingest writer of the spark engine: each batch into the Parquet lake, exactly once.

The consumer loop, the writer process, validation, batching, the stop rules and the reject
limit are the DuckDB path's (:mod:`ingest.consumer`, :mod:`ingest.worker`,
:mod:`ingest.batch`); only where a committed batch goes differs. :class:`LakeWriter` is a
:class:`~ingest.writer.BatchWriter` whose connection is an in-memory DuckDB with the raw
schema: parts stream into its transaction through the same inserts as into the warehouse
file, and the commit copies each partition's rows out as files (:mod:`warehouse.lake` has the
layout and why a batch's events file is its commit), then rolls the in-memory transaction
back, which empties it for the next batch.

The offset guard: under the lock of every partition of the batch, the next offsets are read
from the files and the batch's rows below them are deleted before anything is written, so a
writer whose partition moved to another ingester mid-batch cannot write an offset twice.

Forgotten users (`growth forget`, :mod:`orchestration.forget`): under the same locks the
lake's forgotten ids are read and the batch's events carrying one are dropped (their offsets
still advance), then counted in a deletion-log entry. Reading them under the partition's lock,
not when the batch began, is what makes a request and a concurrent ingest safe: `growth
forget` writes its ids before it rewrites any partition's files under that lock, so a batch
stored before the rewrite is cleaned by it and one stored after sees the ids.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.batch import Partition
from ingest.forgotten import CARRIES_FORGOTTEN_ID, LOG_DROPPED_AT_INGEST, forgotten_strings, ids_in
from ingest.writer import STREAM_ROWS, BatchWriter, OpenBatch
from warehouse.lake import DELETION_LOG, EVENTS, FORGOTTEN, QUARANTINE, Lake, range_name, raw_in_memory

log = logging.getLogger(__name__)

TABLES = {EVENTS: "raw.events", QUARANTINE: "raw.events_quarantine"}
# The rows of one partition, in offset order (the file's row order).
PARTITION_ROWS = "select * from {table} where kafka_topic = ? and kafka_partition = ? order by kafka_offset"
FIRST_OFFSET = """
    select min(kafka_offset) from (
        select kafka_offset from raw.events where kafka_topic = $1 and kafka_partition = $2
        union all
        select kafka_offset from raw.events_quarantine where kafka_topic = $1 and kafka_partition = $2
    )
"""


class LakeWriter(BatchWriter):
    """Writes batches as Parquet files into the lake; see the module docstring."""

    def __init__(
        self, lake: Path, hold_seconds: float = 5.0, memory_limit: str | None = None, stream_rows: int = STREAM_ROWS
    ) -> None:
        super().__init__(hold_seconds, memory_limit, stream_rows)
        self.lake = Lake(lake)

    def _writing(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return raw_in_memory(self.memory_limit)

    def _store(self, con: duckdb.DuckDBPyConnection, batch: OpenBatch) -> dict[Partition, int]:
        """Per partition: the quarantine file, then the events file (the commit), under its lock."""
        stored: dict[Partition, int] = {}
        with ExitStack() as locks:
            for topic, partition in sorted(batch.next_offsets):  # one order everywhere: no deadlock
                locks.enter_context(self.lake.partition_lock(topic, partition))
                offset = self.lake.settle(topic, partition)
                if offset is not None:
                    stored[(topic, partition)] = offset
            self._drop_stored(con, stored)
            # Read before forgotten events go: a range of only those is still written (and committed).
            firsts = {key: con.execute(FIRST_OFFSET, list(key)).fetchall()[0][0] for key in batch.next_offsets}
            dropped = self._drop_forgotten(con)
            for (topic, partition), end in sorted(batch.next_offsets.items()):
                first = firsts[(topic, partition)]
                if first is None:  # a late writer: another ingester stored all of it
                    continue
                name = range_name(first, end - 1)
                for table in (QUARANTINE, EVENTS):  # the events file last: it commits the range
                    rows = PARTITION_ROWS.format(table=TABLES[table])
                    if table == EVENTS or con.execute(f"select exists ({rows})", [topic, partition]).fetchall()[0][0]:
                        self.lake.publish(
                            con, rows, [topic, partition], self.lake.partition_dir(table, topic, partition) / name
                        )
                stored[(topic, partition)] = end
            if dropped:
                self.lake.publish(con, "select * from raw.deletion_log", [], self.lake.entry_file(DELETION_LOG))
        con.rollback()  # on disk now; the in-memory tables are empty for the next batch
        return stored

    @staticmethod
    def _drop_stored(con: duckdb.DuckDBPyConnection, stored: dict[Partition, int]) -> None:
        """Delete the batch's rows below the next offsets the files say (the offset guard)."""
        if not stored:
            return
        con.executemany(
            "insert into raw.kafka_offsets (topic, partition, next_offset) values (?, ?, ?)",
            [(topic, partition, offset) for (topic, partition), offset in stored.items()],
        )
        for table in TABLES.values():
            con.execute(
                f"""
                delete from {table} b using raw.kafka_offsets o
                where o.topic = b.kafka_topic and o.partition = b.kafka_partition and b.kafka_offset < o.next_offset
                """
            )

    def _drop_forgotten(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Delete the batch's events and quarantined records of forgotten ids (ingest/forgotten.py)
        and log how many (ids and counts, never data); whether anything was dropped."""
        forgotten = self.lake.relation(FORGOTTEN)
        if forgotten is None:
            return False
        con.execute(f"insert or ignore into raw.forgotten_ids select * from {forgotten}")
        [(ids, records)] = con.execute(
            """
            select list(distinct f.id), count(distinct b.rowid)
            from raw.events b join raw.forgotten_ids f on f.id in (b.user_id, b.anonymous_id, b.previous_id)
            """
        ).fetchall()
        strings = forgotten_strings(con)
        carried = {
            rowid: found
            for rowid, value in con.execute("select rowid, raw_value from raw.events_quarantine").fetchall()
            if (found := ids_in(value, strings))
        }
        if records:
            con.execute(f"delete from raw.events b where {CARRIES_FORGOTTEN_ID}")
        if carried:
            con.execute("delete from raw.events_quarantine where rowid in (select unnest(?))", [list(carried)])
        if records or carried:
            dropped = sorted(set(ids or ()).union(*carried.values()))
            con.execute(LOG_DROPPED_AT_INGEST, [datetime.now(UTC), dropped, records, len(carried)])
        return bool(records or carried)

    def offsets(self, topic: str) -> dict[int, int]:
        """Next offsets from the files, each partition tidied of a crashed writer's leftovers first."""
        found: dict[int, int] = {}
        for partition in self.lake.partitions(topic):
            with self.lake.partition_lock(topic, partition):
                offset = self.lake.settle(topic, partition)
            if offset is not None:
                found[partition] = offset
        return found
