"""The one-transaction batch writer on its own (no broker): offset guard and the forget seam."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from ingest.batch import Batch
from ingest.lock import writer_lock
from ingest.warehouse import connect, ensure_raw_schema
from ingest.writer import write_batch

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def record(seq: int, user: str) -> bytes:
    return orjson.dumps(
        {"type": "track", "event": "E", "messageId": f"m{seq}", "userId": user, "timestamp": "2026-05-01T00:00:00Z"}
    )


def rows(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    with writer_lock(warehouse), connect(warehouse) as con:
        return con.execute(sql).fetchall()


def test_records_below_the_stored_offset_are_not_written_twice(warehouse: Path) -> None:
    first = Batch(NOW)
    for offset in range(5):
        first.add("t", 0, offset, record(offset, "u1"))
    assert write_batch(warehouse, first) == {("t", 0): 5}
    # A consumer that lost the partition mid-batch comes back with offsets 3..7.
    stale = Batch(NOW)
    for offset in range(3, 8):
        stale.add("t", 0, offset, b"garbage" if offset == 3 else record(offset, "u1"))
    assert write_batch(warehouse, stale) == {("t", 0): 8}
    assert rows(warehouse, "select kafka_offset from raw.events order by 1") == [(i,) for i in range(8)]
    assert rows(warehouse, "select count(*) from raw.events_quarantine") == [(0,)]


def test_events_of_forgotten_ids_are_not_stored_again(warehouse: Path) -> None:
    with writer_lock(warehouse), connect(warehouse) as con:
        ensure_raw_schema(con)
        con.execute("insert into raw.forgotten_ids (id, requested_id, forgotten_at) values ('u5', 'u5', now())")
    batch = Batch(NOW)
    for offset, user in enumerate(["u5", "u6", "u5", "u7"]):
        batch.add("t", 0, offset, record(offset, user))
    assert write_batch(warehouse, batch) == {("t", 0): 4}
    assert rows(warehouse, "select user_id from raw.events order by 1") == [("u6",), ("u7",)]
