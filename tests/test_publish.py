"""The analyst snapshot: a reader in another process keeps working while build and publish run,
and sees the old or the new snapshot, never an error or a mix."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb

from analysts.publish import ANALYTICS_VIEWS, publish_snapshot
from orchestration.build import run_build
from tests.test_dbt_marts import load_raw
from warehouse.settings import Settings

READER = """
import sys, time, duckdb
path, stop = sys.argv[1], sys.argv[2]
import os
seen = set()
while not os.path.exists(stop):
    with duckdb.connect(path, read_only=True) as con:
        # Two marts that must agree inside one snapshot: users in dim_users and signups in (all).
        [(users, signups, published)] = con.execute(
            "select (select count(*) from marts.dim_users), "
            "(select signups from marts.fct_channel_economics where channel = '(all)'), "
            "(select max(published_at) from snapshot_info)"
        ).fetchall()
    if users != signups:
        print("MIX", users, signups, flush=True)
        sys.exit(1)
    seen.add((users, str(published)))
print(len(seen), flush=True)
"""


def test_reader_sees_old_or_new_snapshot_never_an_error(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb", published=tmp_path / "published.duckdb")
    load_raw(settings)
    run_build(settings, quiet=True)
    publish_snapshot(settings)
    with duckdb.connect(str(settings.published), read_only=True) as con:
        # The analytics view layer: every view present, commented, and equal to its mart.
        views = dict(
            con.execute("select view_name, comment from duckdb_views() where schema_name = 'analytics'").fetchall()
        )
        assert set(views) == {name for name, _, _ in ANALYTICS_VIEWS} and all(views.values())
        assert (
            con.execute("select count(*), sum(retained_users) from analytics.weekly_retention").fetchall()
            == con.execute(
                "select count(*), sum(retained_users) from marts.fct_retention where grain = 'week'"
            ).fetchall()
        )
        channels = {c for (c,) in con.execute("select channel from analytics.channel_economics").fetchall()}
        assert channels == {"google", "facebook", "direct"}  # no '(all)' roll-up
        assert con.execute("select users from analytics.funnel order by step_number").fetchall() == [(3,), (2,), (1,)]
        # The contract's columns, without the incremental bookkeeping the warehouse keeps.
        session_columns = "select column_name from information_schema.columns where table_name = 'fct_sessions'"
        assert {c for (c,) in con.execute(session_columns).fetchall()} == {
            *("session_id", "user_key", "session_start", "session_end", "session_date"),
            *("duration_seconds", "event_count"),
        }
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert ("_batch_at",) in con.execute(session_columns).fetchall()
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.published), str(stop)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5)
    for _ in range(3):  # rebuild and republish while the reader keeps reading
        run_build(settings, quiet=True, full_refresh=True)
        publish_snapshot(settings)
    stop.touch()
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0, out
    assert int(out.strip()) >= 2  # it saw at least two different snapshots, each consistent
