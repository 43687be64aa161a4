"""`growth forget`: every trace of a user leaves raw, marts and the snapshot; others stay put;
later events of the user are dropped at ingest and counted."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

from analysts.publish import publish_snapshot
from ingest.batch import Batch
from ingest.writer import write_batch
from orchestration.build import run_build
from orchestration.forget import delete_user_data, forget_users, linked_ids
from tests.test_dbt_marts import EVENTS, ev, load_raw
from transforms.predictive_ltv import build_predictive_ltv
from warehouse.settings import Settings

ALICE_IDS = {"alice", "a1"}  # alice's events e1..e8 (e1 anonymous, stitched through a1)
OTHERS = ("bob", "carol", "dave")


def traces(con: duckdb.DuckDBPyConnection, schema: str, needles: set[str]) -> list[str]:
    """Every (table.column = value) in ``schema`` whose text value is one of the needles."""
    found = []
    columns = con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = ? and data_type = 'VARCHAR' "
        "and table_name not in ('forgotten_ids', 'deletion_log')",  # these hold the ids by design
        [schema],
    ).fetchall()
    for table, column in columns:
        hits = con.execute(
            f'select distinct "{column}" from {schema}."{table}" where "{column}" in (select unnest(?))',
            [sorted(needles)],
        ).fetchall()
        found += [f"{table}.{column} = {value}" for (value,) in hits]
    return found


def users(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    names = [c[0] for c in con.execute("select * from marts.dim_users limit 0").description]
    return {row[names.index("user_key")]: row for row in con.execute("select * from marts.dim_users").fetchall()}


def test_forget_removes_every_trace_and_drops_later_events(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb", published=tmp_path / "published.duckdb")
    load_raw(settings)
    bad = Batch(datetime(2026, 4, 1, tzinfo=UTC))
    bad.add("events", 2, 0, b'{"type": "page", "userId": "alice", "messageId": "q1"}')  # no timestamp
    bad.add("events", 2, 1, b'{"type": "page", "userId": "carol", "messageId": "q2"}')
    write_batch(settings.warehouse, bad)
    assert bad.rejected_count == 2
    run_build(settings, quiet=True)
    build_predictive_ltv(settings)  # a mart written outside dbt: forget must refit it too
    publish_snapshot(settings)
    with duckdb.connect(str(settings.published), read_only=True) as con:
        assert ("alice",) in con.execute("select user_key from marts.fct_predicted_ltv").fetchall()
        before = users(con)
        assert traces(con, "marts", ALICE_IDS)  # the check below can fail: alice is there now
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        # An alias chain resolves from any of its ids; an anonymous id to its user.
        assert linked_ids(con, ["tmp_bob"]) == {"tmp_bob", "bob2", "bob"}
        assert linked_ids(con, ["a1"]) == ALICE_IDS
        assert linked_ids(con, ["c_anon"]) == {"carol", "c_anon"}
        raw_before = con.execute("select count(*) from raw.events").fetchone()

    result = forget_users(settings, ["a1"])  # asked by the anonymous id: alice goes too

    alice_events = sum(1 for e in EVENTS if e["messageId"].startswith("e"))
    assert (result.events_deleted, result.quarantine_deleted) == (alice_events, 1)
    assert set(result.linked_ids) == ALICE_IDS
    for path in (settings.warehouse, settings.published):
        with duckdb.connect(str(path), read_only=True) as con:
            for schema in ("marts", "intermediate", "staging", "raw") if path == settings.warehouse else ("marts",):
                assert traces(con, schema, ALICE_IDS) == [], (path, schema)
            after = users(con)
            assert set(after) == set(before) - {"alice"}
            for user in OTHERS:  # per-user facts of the others do not depend on alice
                assert after[user] == before[user]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.events").fetchone() == (raw_before[0] - alice_events,)
        assert con.execute("select count(*) from raw.events_quarantine").fetchone() == (1,)
        assert not con.execute("select 1 from raw.events_quarantine where raw_value::varchar like '%alice%'").fetchall()
        assert not con.execute("select 1 from raw.events where payload::varchar similar to '.*(alice|a1).*'").fetchall()
        assert {r[0] for r in con.execute("select id from raw.forgotten_ids").fetchall()} == ALICE_IDS

    # Later events of alice (by user id or anonymous id) are dropped at ingest and counted, and
    # so are later records carrying one of her ids that go to quarantine (even unparseable ones).
    later = Batch(datetime(2026, 4, 2, tzinfo=UTC))
    for offset, event in enumerate(
        [
            ev("l1", "page", "2026-04-01T09:00:00Z", userId="alice"),
            ev("l2", "page", "2026-04-01T09:00:00Z", anonymousId="a1"),
            ev("l3", "page", "2026-04-01T09:00:00Z", userId="carol"),
        ]
    ):
        later.add("events", 3, offset, orjson.dumps(event))
    later.add("events", 3, 3, b'{"type": "page", "anonymousId": "a1", "messageId": "q3", ')  # cut short
    later.add("events", 3, 4, b'{"type": "page", "userId": "carol", "messageId": "q4"}')  # no timestamp
    later.add("events", 3, 5, b'{"type": "page", "userId": "alice2", "messageId": "q5"}')  # not an id of hers
    write_batch(settings.warehouse, later)
    assert later.rejected_count == 3
    again = delete_user_data(settings, ["alice"])  # idempotent: nothing left to delete
    assert (again.events_deleted, again.quarantine_deleted) == (0, 0)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        stored = con.execute("select message_id from raw.events where kafka_partition = 3").fetchall()
        assert stored == [("l3",)]
        quarantined = con.execute(
            "select kafka_offset from raw.events_quarantine where kafka_partition = 3 order by 1"
        ).fetchall()
        assert quarantined == [(4,), (5,)]
        log = con.execute(
            "select action, requested_ids, linked_ids, events_deleted, quarantine_deleted "
            "from raw.deletion_log order by rowid"
        ).fetchall()
    assert log[0] == ("forget", ["a1"], ["a1", "alice"], alice_events, 1)
    assert log[1:] == [
        ("dropped_at_ingest", None, ["a1", "alice"], 2, 1),
        ("forget", ["alice"], ["alice"], 0, 0),
    ]


def test_forget_cli_resolves_an_alias_chain(tmp_path: Path) -> None:
    """`growth forget` by the first id of an alias chain removes the whole chain (no marts yet)."""
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb", published=tmp_path / "published.duckdb")
    load_raw(settings)
    env = {**os.environ, "GROWTH_WAREHOUSE": str(settings.warehouse), "GROWTH_PUBLISHED": str(settings.published)}
    run = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "forget", "tmp_bob"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "3 linked ids, 4 events and 0 quarantined records deleted (no marts built yet)" in " ".join(
        run.stdout.split()
    )
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        left = {m for (m,) in con.execute("select message_id from raw.events").fetchall()}
    assert left == {e["messageId"] for e in EVENTS} - {"b1", "b2", "b3", "b4"}
