"""raw.events.properties_raw: the properties object of revenue events, for the billing interval (docs/revenue.md).

The ingester keeps it only for track events that carry a revenue property (those with
revenue_raw), and a warehouse from before the column gets the same values from the
payloads once, when it is first opened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from ingest.batch import Batch
from ingest.validate import Accepted, validate
from ingest.writer import write_batch
from warehouse.connection import RAW_SCHEMA_DDL, connect, ensure_raw_schema

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HEAD = '{"messageId": "%s", "userId": "u1", "timestamp": "2026-05-01T10:00:00Z", '

# (message id, the rest of the payload as sent, properties_raw as the ingester keeps it):
# worked out by hand from the rule above.
RECORDS: list[tuple[str, str, dict[str, object] | None]] = [
    # a revenue event: every property, the interval as sent (spaces, case)
    (
        "m0",
        '"type": "track", "event": "Order Completed", "properties": {"revenue": 29, "interval": " Monthly ", '
        '"plan": {"name": "pro"}}}',
        {"revenue": 29, "interval": " Monthly ", "plan": {"name": "pro"}},
    ),
    # a refund is a revenue event too; the string revenue is kept as sent
    ("m1", '"type": "track", "event": "Order Refunded", "properties": {"revenue": "-29.00"}}', {"revenue": "-29.00"}),
    # no revenue property, or a null one: nothing kept, even with an interval
    ("m2", '"type": "track", "event": "Plan Viewed", "properties": {"interval": "month"}}', None),
    ("m3", '"type": "track", "event": "Order Completed", "properties": {"revenue": null, "interval": "month"}}', None),
    # not a track event: never a revenue event
    ("m4", '"type": "page", "properties": {"revenue": 5, "interval": "month"}}', None),
    ("m5", '"type": "track", "event": "E"}', None),
]


def payload(message_id: str, rest: str) -> bytes:
    return (HEAD % message_id + rest).encode()


def kept(text: str | None) -> dict[str, object] | None:
    return None if text is None else orjson.loads(text)


def test_validate_keeps_the_properties_of_revenue_events_only() -> None:
    for message_id, rest, expected in RECORDS:
        outcome = validate(payload(message_id, rest), NOW)
        assert isinstance(outcome, Accepted)
        assert kept(outcome.properties_raw) == expected, message_id


def test_an_older_warehouse_gets_properties_raw_from_the_payloads_once(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    written = tmp_path / "written.duckdb"
    batch = Batch(NOW)
    for offset, (message_id, rest, _) in enumerate(RECORDS):
        batch.add("t", 0, offset, payload(message_id, rest))
    write_batch(written, batch)
    line = "    properties_raw      varchar,\n"
    assert RAW_SCHEMA_DDL.count(line) == 1
    with connect(warehouse) as con, connect(written) as source:
        # The raw tables as the version before the column made them, with the rows the
        # ingester wrote (but their properties_raw).
        con.execute(RAW_SCHEMA_DDL.replace(line, ""))
        columns = [
            name
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where table_name = 'events'"
            ).fetchall()
        ]
        old_rows = source.execute(f"select {', '.join(columns)} from raw.events").fetchall()
        con.executemany(
            f"insert into raw.events ({', '.join(columns)}) values ({', '.join('?' * len(columns))})", old_rows
        )
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        filled = dict(con.execute("select message_id, properties_raw from raw.events").fetchall())
        ensure_raw_schema(con)  # a second time: nothing to add
        assert dict(con.execute("select message_id, properties_raw from raw.events").fetchall()) == filled
    assert {message_id: kept(text) for message_id, text in filled.items()} == {
        message_id: expected for message_id, _, expected in RECORDS
    }
