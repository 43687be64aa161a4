"""Write one micro-batch in ONE DuckDB transaction: rows, quarantine and offsets together.

That single transaction is what makes ingestion exactly-once: after a crash, the offsets
in raw.kafka_offsets say precisely which records are in the warehouse. Records below the
stored offset of their partition are skipped inside the transaction, so a consumer whose
partition moved to another ingester mid-batch cannot write a record twice; the primary
key on (topic, partition, offset) is the last line of defence.

The file is opened and closed around each batch (under the writer lock) because DuckDB
allows one writing process per file: builds and spend loads can run between batches of a
following ingester.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.batch import Batch, Partition
from ingest.lock import writer_lock
from ingest.warehouse import connect, ensure_raw_schema

log = logging.getLogger(__name__)

STORED = """
    coalesce((select o.next_offset from raw.kafka_offsets o
              where o.topic = b.kafka_topic and o.partition = b.kafka_partition), 0)
"""


def read_offsets(warehouse: Path, topic: str) -> dict[int, int]:
    """Stored next offsets per partition of ``topic`` (empty for a new warehouse)."""
    if not warehouse.exists():
        return {}
    with writer_lock(warehouse, on_wait=log.info), connect(warehouse) as con:
        ensure_raw_schema(con)
        rows = con.execute("select partition, next_offset from raw.kafka_offsets where topic = ?", [topic]).fetchall()
    return {int(partition): int(offset) for partition, offset in rows}


def write_batch(warehouse: Path, batch: Batch) -> dict[Partition, int]:
    """Append the batch and advance its offsets atomically; returns the stored next offsets."""
    events, rejected = batch.events_table(), batch.rejected_table()
    offsets = [(topic, partition, offset) for (topic, partition), offset in batch.next_offsets.items()]
    with writer_lock(warehouse, on_wait=log.info), connect(warehouse) as con:
        ensure_raw_schema(con)
        con.register("batch_events", events)
        con.register("batch_rejected", rejected)
        con.begin()
        con.execute(
            f"""
            insert into raw.events by name
            select b.* exclude (payload), b.payload::json as payload, ?::timestamptz as ingested_at
            from batch_events b
            where b.kafka_offset >= {STORED}
            """,
            [batch.ingested_at],
        )
        con.execute(
            f"""
            insert into raw.events_quarantine by name
            select b.*, ?::timestamptz as quarantined_at
            from batch_rejected b
            where b.kafka_offset >= {STORED}
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
    return {(topic, int(partition)): int(offset) for topic, partition, offset in stored}
