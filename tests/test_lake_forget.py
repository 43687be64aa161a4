"""`growth forget` on the spark engine: the lake's files lose every row of the user and keep
their names (the offsets ingest resumes from), later events of the user are dropped at
ingest by the lake writer and counted, a request runs again as a no-op, and a mistyped id
or lake changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.batch import Batch
from ingest.lake import LakeWriter
from orchestration.forget import delete_user_data, forget_users
from orchestration.status import collect_status
from tests.test_dbt_marts import EVENTS, LATE_COPY, ev
from tests.test_forget import ALICE_IDS
from warehouse.errors import GrowthError
from warehouse.lake import DELETION_LOG, FORGOTTEN, QUARANTINE, Lake
from warehouse.lake import EVENTS as EVENTS_FOLDER
from warehouse.settings import Settings

ALICE_EVENTS = sorted(e["messageId"] for e in EVENTS if e["messageId"].startswith("e"))  # e1..e8, as in test_forget


def write(lake: Path, at: datetime, partition: int, events: list[bytes], topic: str = "events") -> None:
    batch = Batch(at)
    for offset, value in enumerate(events):
        batch.add(topic, partition, offset, value)
    LakeWriter(lake).write(batch, more_waiting=False)


def lake_rows(lake: Lake) -> tuple[list[str], list[str]]:
    """messageIds of the events files and the raw text of the quarantine files, as any reader sees them."""
    events = duckdb.sql(f"select message_id from {lake.relation(EVENTS_FOLDER)} order by all").fetchall()
    quarantined = duckdb.sql(f"select decode(raw_value) from {lake.relation(QUARANTINE)} order by all").fetchall()
    return [m for (m,) in events], [v for (v,) in quarantined]


def traces(lake: Lake, ids: set[str]) -> list[str]:
    """Rows of any events file with one of the ids in an id column or the payload."""
    found = duckdb.sql(
        f"select message_id, user_id, anonymous_id, previous_id, payload::varchar from {lake.relation(EVENTS_FOLDER)}"
    ).fetchall()
    return [row[0] for row in found if any(value and any(i in value for i in ids) for value in row[1:])]


@pytest.fixture
def lake_settings(tmp_path: Path) -> Settings:
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb", engine="spark", lake=tmp_path / "lake", topic="events")
    now = datetime(2026, 4, 1, tzinfo=UTC)
    write(settings.lake, now, 0, [orjson.dumps(event) for event in EVENTS])
    write(settings.lake, now + timedelta(minutes=5), 1, [orjson.dumps(LATE_COPY)])
    write(  # two quarantined records (no timestamp), one of them alice's
        settings.lake,
        now + timedelta(minutes=6),
        2,
        [
            b'{"type": "page", "userId": "alice", "messageId": "q1"}',
            b'{"type": "page", "userId": "carol", "messageId": "q2"}',
        ],
    )
    return settings


def test_forget_rewrites_the_lake_without_the_user_and_keeps_the_offsets(
    lake_settings: Settings, settings: Settings
) -> None:
    lake = Lake(lake_settings.lake)
    events_before, quarantined_before = lake_rows(lake)
    assert set(ALICE_EVENTS) <= set(events_before) and traces(lake, ALICE_IDS)  # the checks below can fail
    files_before = lake.files(EVENTS_FOLDER) + lake.files(QUARANTINE)
    offsets_before = lake.next_offsets(lake_settings.topic)

    result = forget_users(lake_settings, ["a1"])  # by the anonymous id: alice goes too

    assert set(result.linked_ids) == ALICE_IDS
    assert (result.events_deleted, result.quarantine_deleted) == (len(ALICE_EVENTS), 1)
    assert not result.rebuilt and not lake_settings.warehouse.exists()  # no marts yet: nothing to rebuild
    events_after, quarantined_after = lake_rows(lake)
    assert events_after == [m for m in events_before if m not in ALICE_EVENTS]
    assert traces(lake, ALICE_IDS) == []
    assert [v for v in quarantined_before if '"alice"' not in v] == quarantined_after
    assert len(quarantined_after) == 1 and '"carol"' in quarantined_after[0]
    assert lake.files(EVENTS_FOLDER) + lake.files(QUARANTINE) == files_before
    assert lake.next_offsets(lake_settings.topic) == offsets_before
    assert not list(lake.root.rglob("*.tmp"))
    forgotten = duckdb.sql(f"select id from {lake.relation(FORGOTTEN)} order by 1").fetchall()
    assert {i for (i,) in forgotten} == ALICE_IDS

    # Later events of alice are dropped at ingest; a range holding only hers still commits.
    later = datetime(2026, 4, 2, tzinfo=UTC)
    write(lake.root, later, 3, [orjson.dumps(ev("l1", "page", "2026-04-01T09:00:00Z", userId="alice"))])
    write(
        lake.root,
        later + timedelta(minutes=1),
        4,
        [
            orjson.dumps(ev("l2", "page", "2026-04-01T09:00:00Z", anonymousId="a1")),
            orjson.dumps(ev("l3", "page", "2026-04-01T09:00:00Z", userId="carol")),
            b'{"type": "page", "anonymousId": "a1", "messageId": "q3", ',  # cut short: quarantined, hers
            b'{"type": "page", "userId": "alice2", "messageId": "q5"}',  # no timestamp: not an id of hers
        ],
    )
    assert lake_rows(lake)[0] == sorted([*events_after, "l3"])
    assert lake_rows(lake)[1] == sorted([*quarantined_after, '{"type": "page", "userId": "alice2", "messageId": "q5"}'])
    assert {p: o for p, o in lake.next_offsets(lake_settings.topic).items() if p >= 3} == {3: 1, 4: 4}

    again = delete_user_data(lake_settings, ["alice"])  # nothing left: a no-op that is logged
    assert (again.events_deleted, again.quarantine_deleted) == (0, 0)
    log = duckdb.sql(
        "select action, requested_ids, linked_ids, events_deleted, quarantine_deleted "
        f"from {lake.relation(DELETION_LOG)} order by logged_at"
    ).fetchall()
    assert log == [
        ("forget", ["a1"], ["a1", "alice"], len(ALICE_EVENTS), 1),
        ("dropped_at_ingest", None, ["alice"], 1, 0),
        ("dropped_at_ingest", None, ["a1"], 1, 1),
        ("forget", ["alice"], ["alice"], 0, 0),
    ]
    status = collect_status(replace(lake_settings, bootstrap_servers=settings.bootstrap_servers))
    assert (status["events_forgotten"], status["events_dropped_at_ingest"]) == (len(ALICE_EVENTS), 2)


def test_a_leftover_removed_before_its_rewrite_is_skipped(lake_settings: Settings) -> None:
    """A quarantine file whose batch never committed may be removed by the partition's next
    writer between a request's listing and its rewrite: nothing is left to forget in it."""
    lake = Lake(lake_settings.lake)
    gone = lake.partition_dir(QUARANTINE, "events", 2) / "7-9.parquet"
    with duckdb.connect() as con:
        lake.rewrite(con, gone, "true", [])
    assert not gone.exists() and not list(lake.root.rglob("*.tmp"))


def test_a_mistyped_id_or_lake_changes_nothing(lake_settings: Settings, tmp_path: Path) -> None:
    lake = Lake(lake_settings.lake)
    before = sorted((p, p.stat().st_mtime_ns) for p in lake.root.rglob("*.parquet"))
    with pytest.raises(GrowthError, match=r"no event carries alicee in .*lake: nothing deleted"):
        delete_user_data(lake_settings, ["alicee"])
    assert sorted((p, p.stat().st_mtime_ns) for p in lake.root.rglob("*.parquet")) == before
    assert not (lake.root / FORGOTTEN).exists() and not (lake.root / DELETION_LOG).exists()

    mistyped = Settings(warehouse=tmp_path / "warehouse.duckdb", engine="spark", lake=tmp_path / "lkae")
    with pytest.raises(GrowthError, match="has no events folder"):
        delete_user_data(mistyped, ["alice"])
    assert not mistyped.lake.exists()
