"""`growth compact` (warehouse/compaction.py): a partition's batch files merged into one, every
row kept once and the next offset unchanged, also when the compaction stops at any step; the
exactly-once checker of the lake tests (tests/_lake.py) judges what readers see, and the folder
Spark reads holds no copy once a build has started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests._lake import lake_problems, write_to_lake
from warehouse.compaction import Compacted, _groups, compact_lake
from warehouse.lake import EVENTS, QUARANTINE, TEMPORARY, Lake, building
from warehouse.settings import Settings

TOPIC = "events"
BATCHES = 10
BATCH = 20  # records per batch, every 4th of them rejected: each batch has a quarantine file too


@pytest.fixture
def lake_settings(tmp_path: Path) -> Settings:
    """A lake of one partition ingested in BATCHES batches of BATCH records (offsets 0-199)."""
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb", engine="spark", lake=tmp_path / "lake", topic=TOPIC)
    for first in range(0, BATCHES * BATCH, BATCH):
        write_to_lake(Lake(settings.lake), TOPIC, 0, first, first + BATCH - 1)
    return settings


def folder(lake: Lake, table: str) -> list[str]:
    """Every file name in the partition's folder, as Spark lists it (hidden names aside)."""
    return sorted(path.name for path in lake.partition_dir(table, TOPIC, 0).iterdir() if not path.name.startswith("."))


def rows(lake: Lake) -> tuple[list[tuple[int, str]], list[tuple[int, bytes]]]:
    """(offset, messageId) of the events and (offset, raw bytes) of the quarantined records readers see."""
    events = duckdb.sql(f"select kafka_offset, message_id from {lake.relation(EVENTS)} order by 1").fetchall()
    rejected = duckdb.sql(f"select kafka_offset, raw_value from {lake.relation(QUARANTINE)} order by 1").fetchall()
    return events, rejected


def schema(path: Path) -> list[tuple[str, str, str]]:
    """Column names and Parquet types of one lake file, in order."""
    return duckdb.sql(f"select name, type, logical_type::varchar from parquet_schema('{path}')").fetchall()


def test_compaction_merges_the_batch_files_and_keeps_every_row_once(lake_settings: Settings) -> None:
    lake = Lake(lake_settings.lake)
    events_before, rejected_before = rows(lake)
    assert len(events_before) == 150 and len(rejected_before) == 50  # every 4th of 200 records is bad
    assert len(folder(lake, EVENTS)) == len(folder(lake, QUARANTINE)) == BATCHES
    schemas = {table: schema(lake.batch_files(table, TOPIC, 0)[0]) for table in (EVENTS, QUARANTINE)}

    assert compact_lake(lake_settings) == Compacted(partitions=1, files_before=2 * BATCHES, files_after=2)

    assert folder(lake, EVENTS) == folder(lake, QUARANTINE) == ["0-199.parquet"]
    assert rows(lake) == (events_before, rejected_before)
    assert {table: schema(lake.batch_files(table, TOPIC, 0)[0]) for table in (EVENTS, QUARANTINE)} == schemas
    merged = lake.partition_dir(EVENTS, TOPIC, 0) / "0-199.parquet"
    offsets = [o for (o,) in duckdb.sql(f"select kafka_offset from read_parquet('{merged}')").fetchall()]
    assert offsets == sorted(offsets)  # stored in offset order, as a batch is
    assert lake.next_offsets(TOPIC) == {0: 200}
    assert lake_problems(lake, TOPIC, 200) == []
    assert not list(lake.root.rglob(f"*{TEMPORARY}"))

    # Ingest goes on after it, and a second compaction takes the new batch in.
    write_to_lake(lake, TOPIC, 0, 200, 219)
    assert lake.next_offsets(TOPIC) == {0: 220}
    assert compact_lake(lake_settings) == Compacted(partitions=1, files_before=4, files_after=2)
    assert folder(lake, EVENTS) == ["0-219.parquet"]
    assert lake_problems(lake, TOPIC, 220) == []
    assert compact_lake(lake_settings) == Compacted(partitions=1, files_before=2, files_after=2)  # nothing left


def fail_on_call(count: int, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original``, except that its ``count``-th call raises, as a crash at that step would stop it."""
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == count:
            raise KeyboardInterrupt("stopped here")
        return original(*args, **kwargs)

    return wrapper


ORIGINALS = [f"{first}-{first + BATCH - 1}.parquet" for first in range(0, BATCHES * BATCH, BATCH)]


@pytest.mark.parametrize(
    ("step", "events_left", "quarantine_left"),
    [
        # The merged events file landed; no original is deleted yet.
        ("unlink:1", [*ORIGINALS, "0-199.parquet"], ORIGINALS),
        # The events originals are deleted; the merged quarantine file did not land.
        ("publish:2", ["0-199.parquet"], ORIGINALS),
        # The merged quarantine file landed; its originals are not deleted yet.
        (f"unlink:{BATCHES + 1}", ["0-199.parquet"], [*ORIGINALS, "0-199.parquet"]),
    ],
    ids=["before-the-deletes", "before-the-quarantine-file", "before-the-quarantine-deletes"],
)
def test_a_compaction_stopped_midway_loses_and_doubles_nothing(
    lake_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    events_left: list[str],
    quarantine_left: list[str],
) -> None:
    lake = Lake(lake_settings.lake)
    before = rows(lake)
    what, count = step.split(":")
    if what == "publish":
        monkeypatch.setattr(Lake, "publish", fail_on_call(int(count), Lake.publish))
    else:
        monkeypatch.setattr(Path, "unlink", fail_on_call(int(count), Path.unlink))
    with pytest.raises(KeyboardInterrupt):
        compact_lake(lake_settings)
    monkeypatch.undo()

    assert folder(lake, EVENTS) == sorted(events_left)  # the checks below see the originals and the copy
    assert folder(lake, QUARANTINE) == sorted(quarantine_left)
    assert rows(lake) == before  # readers skip the originals a merged file holds
    assert lake_problems(lake, TOPIC, 200) == []
    assert lake.next_offsets(TOPIC) == {0: 200}

    with building(lake_settings):  # a build starts: Spark will read every file of the folders
        assert folder(lake, EVENTS) == ["0-199.parquet"]
        merged = "0-199.parquet" in quarantine_left
        assert folder(lake, QUARANTINE) == (["0-199.parquet"] if merged else sorted(ORIGINALS))
    assert rows(lake) == before

    compact_lake(lake_settings)  # run again, it finishes the job
    assert folder(lake, EVENTS) == folder(lake, QUARANTINE) == ["0-199.parquet"]
    assert rows(lake) == before and lake_problems(lake, TOPIC, 200) == []


def test_files_are_merged_up_to_the_target_size(tmp_path: Path) -> None:
    files = []
    for index in range(4):
        path = tmp_path / f"{index * 10}-{index * 10 + 9}.parquet"
        path.write_bytes(b"x" * (600 << 10))  # 600 KiB each
        files.append(path)
    assert _groups(files, 1 << 20) == []  # no two fit in 1 MiB: nothing to merge
    assert _groups(files, 2 << 20) == [files[:3]]  # 1,800 KiB; the fourth would pass 2 MiB and stays alone
    assert _groups(files, 3 << 20) == [files]


def test_growth_compact_says_what_it_did_and_refuses_the_duckdb_engine(lake_settings: Settings) -> None:
    env = {**os.environ, "GROWTH_ENGINE": "spark", "GROWTH_LAKE": str(lake_settings.lake)}
    run = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "compact"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert " ".join(run.stdout.split()) == (
        f"lake {lake_settings.lake}: {2 * BATCHES} batch files in 1 partition, 2 after compaction"
    )
    env["GROWTH_ENGINE"] = "duckdb"
    run = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "compact"], capture_output=True, text=True, env=env
    )
    assert run.returncode != 0
    assert run.stderr.strip() == "error: growth compact merges the files of the lake: it needs GROWTH_ENGINE=spark"


def test_the_dagster_job_compacts_the_lake_and_passes_over_the_duckdb_engine(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.lake import compact_lake_job
    from orchestration.defs.resources import GrowthResource

    monkeypatch.setenv("GROWTH_ENGINE", "duckdb")
    result = compact_lake_job.execute_in_process(resources={"growth": GrowthResource()})
    assert result.success and len(folder(Lake(lake_settings.lake), EVENTS)) == BATCHES  # untouched
    monkeypatch.setenv("GROWTH_ENGINE", "spark")
    monkeypatch.setenv("GROWTH_LAKE", str(lake_settings.lake))
    result = compact_lake_job.execute_in_process(resources={"growth": GrowthResource()})
    assert result.success
    assert folder(Lake(lake_settings.lake), EVENTS) == folder(Lake(lake_settings.lake), QUARANTINE) == ["0-199.parquet"]
