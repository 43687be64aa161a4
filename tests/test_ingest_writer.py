"""The one-transaction batch writer and the writer process on their own (no broker)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ingest.batch import Batch
from ingest.worker import WriterProcess
from ingest.writer import WarehouseWriter, write_batch
from tests._processes import alive
from warehouse.connection import RAW_SCHEMA_DDL, connect, ensure_raw_schema
from warehouse.lock import lock_path, writer_lock

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


def test_payload_is_stored_as_received_as_json(warehouse: Path) -> None:
    sent = b'{"type": "track",  "event": "E", "messageId": "m1", "userId": 7, "timestamp": "2026-05-01T00:00:00Z"}'
    batch = Batch(NOW)
    batch.add("t", 0, 0, sent)
    write_batch(warehouse, batch)
    # Byte for byte (white space, key order, the integer id), in a JSON column.
    assert rows(warehouse, "select payload::varchar, typeof(payload), user_id from raw.events") == [
        (sent.decode(), "JSON", "7")
    ]


def test_a_streamed_batch_is_invisible_until_commit_and_gone_after_abort(warehouse: Path) -> None:
    writer = WarehouseWriter(warehouse, stream_rows=3)  # parts go into the open transaction from 3 records on
    first = Batch(NOW)
    for offset in range(4):
        first.add("t", 0, offset, b"garbage" if offset == 1 else record(offset, "u1"))
    writer.add(first)
    assert writer.connection is not None  # the transaction is open and holds the first part
    other = writer.connection.cursor()  # another connection: sees committed data only
    counts = "select (select count(*) from raw.events), (select count(*) from raw.events_quarantine)"
    assert other.execute(counts).fetchall() == [(0, 0)]
    writer.abort()
    assert other.execute(counts).fetchall() == [(0, 0)]
    assert other.execute("select count(*) from raw.kafka_offsets").fetchall() == [(0,)]
    other.close()
    writer.release()
    # The batch read again, in two parts, is stored once: 3 accepted and 1 rejected of offsets 0..3,
    # then 4..5 accepted.
    again = Batch(NOW)
    for offset in range(4):
        again.add("t", 0, offset, b"garbage" if offset == 1 else record(offset, "u1"))
    rest = Batch(NOW)
    for offset in range(4, 6):
        rest.add("t", 0, offset, record(offset, "u1"))
    writer.add(again)
    writer.add(rest)
    result = writer.commit(more_waiting=False)
    assert (result.stored, result.accepted, result.rejected, result.codes) == (
        {("t", 0): 6},
        5,
        1,
        {"invalid_json": 1},
    )
    assert rows(warehouse, "select kafka_offset from raw.events order by 1") == [(0,), (2,), (3,), (4,), (5,)]
    assert rows(warehouse, "select kafka_offset, error_code from raw.events_quarantine") == [(1, "invalid_json")]


# -- the writer process (ingest.worker) ----------------------------------------------------


def lock_is_free(warehouse: Path) -> bool:
    fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def values(first: int, count: int) -> list[bytes | None]:
    return [b"[1]" if seq % 10 == 3 else record(seq, f"u{seq % 7}") for seq in range(first, first + count)]


def test_writer_process_writes_a_streamed_batch_in_one_transaction(warehouse: Path) -> None:
    writer = WriterProcess(warehouse, hold_seconds=0, stream_rows=25)
    try:
        writer.records(NOW, "t", 0, range(0, 40), values(0, 40))
        writer.records(NOW, "t", 1, [5, 6, 9], values(100, 3))  # offsets need not be consecutive
        writer.records(NOW, "t", 0, range(40, 60), values(40, 20))
        writer.commit(more_waiting=False)
        result = writer.result()
        assert writer.offsets("t") == {0: 60, 1: 10}
    finally:
        writer.close()
    assert writer.process.returncode == 0
    # seq % 10 == 3 is a JSON array: 6 of 0..59, none of 100..102
    assert (result.stored, result.accepted, result.rejected, result.codes) == (
        {("t", 0): 60, ("t", 1): 10},
        57,
        6,
        {"not_an_object": 6},
    )
    assert rows(warehouse, "select count(*), count(distinct (kafka_partition, kafka_offset)) from raw.events") == [
        (57, 57)
    ]
    assert rows(warehouse, "select kafka_partition, kafka_offset from raw.events where kafka_partition = 1") == [
        (1, 5),
        (1, 6),
        (1, 9),
    ]


def test_writer_process_rolls_back_an_unfinished_batch_when_the_consumer_closes_it(warehouse: Path) -> None:
    writer = WriterProcess(warehouse, hold_seconds=0, stream_rows=10)
    writer.records(NOW, "t", 0, range(0, 50), values(0, 50))  # streamed: the transaction is open
    assert writer.offsets("t") == {}  # answered after the records: they are in the open transaction
    assert not lock_is_free(warehouse)
    writer.close()  # no commit: the consumer stopped before the batch was complete
    assert writer.process.returncode == 0
    assert lock_is_free(warehouse)
    assert rows(warehouse, "select (select count(*) from raw.events), (select count(*) from raw.kafka_offsets)") == [
        (0, 0)
    ]


PARENT = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from ingest.worker import WriterProcess

writer = WriterProcess(Path(sys.argv[1]), hold_seconds=0, stream_rows=10)
value = b'{"type": "page", "messageId": "m", "userId": "u", "timestamp": "2026-05-01T00:00:00Z"}'
writer.records(datetime.now(UTC), "t", 0, range(0, 50), [value] * 50)
writer.offsets("t")  # the worker has streamed the records into its open transaction
print(writer.process.pid, flush=True)
time.sleep(600)
"""


def test_writer_process_dies_with_its_parent(warehouse: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert alive(worker) and not lock_is_free(warehouse)
    parent.kill()  # kill -9: no chance to close the pipe or clean up
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker)
    assert lock_is_free(warehouse)
    assert rows(warehouse, "select count(*) from raw.events") == [(0,)]  # the open transaction was rolled back


def test_a_warehouse_from_before_experiment_raw_gets_it_from_the_payloads_once(warehouse: Path) -> None:
    exposure = {"type": "track", "properties": {"experiment_id": 42, "variation_id": " B", "plan": "pro"}}
    with connect(warehouse) as con:
        # The raw tables as older versions made them, without raw.events.experiment_raw.
        con.execute(RAW_SCHEMA_DDL.replace("experiment_raw      varchar,", ""))
        for offset, (kind, payload) in enumerate(
            [("track", exposure), ("page", {"type": "page", "properties": {"experiment_id": "e"}}), ("track", {})]
        ):
            con.execute(
                "insert into raw.events (message_id, type, timestamp, payload, kafka_topic, kafka_partition, "
                "kafka_offset, ingested_at) values (?, ?, now(), ?, 'events', 0, ?, now())",
                [f"m{offset}", kind, orjson.dumps(payload).decode(), offset],
            )
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        stored = con.execute("select message_id, experiment_raw from raw.events order by message_id").fetchall()
    # The exposure's experiment properties as sent (absent ones null, which staging reads as absent);
    # the page view and the event without properties keep none.
    assert [(mid, raw and orjson.loads(raw)) for mid, raw in stored] == [
        ("m0", {"experiment_id": 42, "variation_id": " B", "experiment_name": None, "variation_name": None}),
        ("m1", None),
        ("m2", None),
    ]


# Records with the segment fragments, and the columns each must give, worked out by hand:
# (message id, payload as sent, (traits_raw, device_type_raw, os_name_raw, country_raw)).
SEGMENT_COLUMNS = ("traits_raw", "device_type_raw", "os_name_raw", "country_raw")
SEGMENT_RECORDS: list[tuple[str, str, tuple[str | None, ...]]] = [
    (
        "m0",
        '{"type": "identify", "traits": {"plan": " pro ", "n": 3}, "context": {"device": {"type": " Mobile "}, '
        '"os": {"name": ""}, "location": {"country": "de"}}}',
        ('{"plan":" pro ","n":3}', " Mobile ", "", "de"),
    ),
    (
        "m1",
        '{"type": "group", "groupId": "g1", "traits": {"name": "Acme", "size": 10.0}, '
        '"context": {"device": {"type": 3}, "os": "iOS", "location": {"country": null}}}',
        ('{"name":"Acme","size":10.0}', None, None, None),
    ),
    (
        "m2",
        '{"type": "track", "event": "E", "traits": {"plan": "x"}, "context": {"device": {"type": "desktop"}, '
        '"os": {"name": " macOS "}, "location": {"country": {"code": "FR"}}}}',
        (None, "desktop", " macOS ", None),
    ),
    ("m3", '{"type": "page"}', (None, None, None, None)),
    (
        "m4",
        '{"type": "identify", "traits": null, "context": {"device": [{"type": "x"}], "os": {"name": true}, '
        '"location": {"country": " FR "}}}',
        (None, None, None, " FR "),
    ),
    ("m5", '{"type": "screen", "context": {"device": {"type": ""}}}', (None, "", None, None)),
    (
        "m6",
        '{"type": "alias", "previousId": "a0", "traits": {"a": 1}, "context": {"location": {"country": "us"}}}',
        (None, None, None, "us"),
    ),
]


def segment_record(message_id: str, payload: str) -> str:
    """The payload with what every record needs (messageId, userId, timestamp) in front."""
    return (
        f'{{"messageId": "{message_id}", "userId": "u1", "timestamp": "2026-05-01T00:00:00Z", '
        + payload.removeprefix("{")
    )


def test_the_segment_fragments_land_in_raw_events(warehouse: Path) -> None:
    batch = Batch(NOW)
    for offset, (message_id, payload, _) in enumerate(SEGMENT_RECORDS):
        batch.add("t", 0, offset, segment_record(message_id, payload).encode())
    assert write_batch(warehouse, batch) == {("t", 0): len(SEGMENT_RECORDS)}
    assert rows(warehouse, f"select message_id, {', '.join(SEGMENT_COLUMNS)} from raw.events order by 1") == [
        (message_id, *expected) for message_id, _, expected in SEGMENT_RECORDS
    ]


def test_an_older_warehouse_gets_the_segment_fragments_from_the_payloads_once(warehouse: Path) -> None:
    with connect(warehouse) as con:
        # The raw tables as the version before the segment columns made them.
        older = RAW_SCHEMA_DDL
        for column in SEGMENT_COLUMNS:
            line = f"    {column:<20}varchar,\n"
            assert older.count(line) == 1, column
            older = older.replace(line, "")
        con.execute(older)
        for offset, (message_id, payload, _) in enumerate(SEGMENT_RECORDS):
            kind = orjson.loads(payload)["type"]
            con.execute(
                "insert into raw.events (message_id, type, timestamp, payload, kafka_topic, kafka_partition, "
                "kafka_offset, ingested_at) values (?, ?, now(), ?, 't', 0, ?, now())",
                [message_id, kind, segment_record(message_id, payload), offset],
            )
        con.execute(
            "insert into raw.kafka_offsets (topic, partition, next_offset) values ('t', 0, ?)", [len(SEGMENT_RECORDS)]
        )
    everything = "select * from raw.events order by kafka_offset"
    columns = "select column_name from duckdb_columns() where table_name = 'events' order by column_index"
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        filled = con.execute(everything).fetchall()
        layout = con.execute(columns).fetchall()
        ensure_raw_schema(con)  # a second time: nothing to add, nothing changes
        assert con.execute(everything).fetchall() == filled
        assert con.execute(columns).fetchall() == layout
    # The values the ingester writes for the same payloads (the test above).
    assert rows(warehouse, f"select message_id, {', '.join(SEGMENT_COLUMNS)} from raw.events order by 1") == [
        (message_id, *expected) for message_id, _, expected in SEGMENT_RECORDS
    ]
    # The added columns come last; the writer inserts by name, so new records still land right.
    assert [name for (name,) in layout][-4:] == list(SEGMENT_COLUMNS)
    batch = Batch(NOW)
    batch.add("t", 0, len(SEGMENT_RECORDS), segment_record("m7", SEGMENT_RECORDS[0][1]).encode())
    write_batch(warehouse, batch)
    assert rows(
        warehouse,
        f"select type, {', '.join(SEGMENT_COLUMNS)}, payload ->> 'messageId' from raw.events where message_id = 'm7'",
    ) == [("identify", *SEGMENT_RECORDS[0][2], "m7")]
