"""The lake's exactly-once under kill -9: at random moments, at each step of a commit, and two
deliberately broken writers that the same checker must catch (the negative controls).

The ingester runs as `growth ingest` in a subprocess with ``GROWTH_ENGINE=spark``. Kills at a
precise step come from ``tests/lake_faults/sitecustomize.py``, which the subprocesses load
through PYTHONPATH: it kills the ingester and its writer process when the writer reaches that
step, or swaps in a broken writer. Production code has no hook for it.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests._lake import lake_problems, on_lake, records, write_to_lake
from tests.test_ingest import (
    _ingest_process,
    kill_at_random_moments,
    make_topic,
    produce,
    two_ingesters_one_killed_midway,
)
from warehouse.compaction import compact_lake
from warehouse.lake import EVENTS, Lake, range_name
from warehouse.settings import Settings

FAULTS = Path(__file__).parent / "lake_faults"
TOTAL = 3000


@pytest.fixture
def lake_settings(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's topic with TOTAL records, and subprocesses that ingest it into a lake."""
    lake = on_lake(settings, tmp_path)
    monkeypatch.setenv("GROWTH_ENGINE", "spark")
    monkeypatch.setenv("GROWTH_LAKE", str(lake.lake))
    monkeypatch.setenv("PYTHONPATH", str(FAULTS))
    monkeypatch.delenv("LAKE_FAULT", raising=False)
    make_topic(settings)
    produce(settings, records(TOTAL))
    return lake


def ingest(
    settings: Settings, attempt: str, monkeypatch: pytest.MonkeyPatch, fault: str = "", batch: int = 40
) -> subprocess.Popen[bytes]:
    """`growth ingest --until-caught-up` in a new group (the offsets come from the files, never the
    group), small batches: many commits to kill."""
    monkeypatch.setenv("LAKE_FAULT", fault)
    return _ingest_process(settings, "--until-caught-up", group=f"{settings.group_id}-{attempt}", batch=batch)


def finish(settings: Settings, monkeypatch: pytest.MonkeyPatch, fault: str = "") -> None:
    final = ingest(settings, "final", monkeypatch, fault, batch=1000)
    assert final.wait(120) == 0, final.stderr.read() if final.stderr else ""


def killed_at(settings: Settings, monkeypatch: pytest.MonkeyPatch, fault: str, attempt: str) -> None:
    process = ingest(settings, attempt, monkeypatch, fault)
    assert process.wait(120) == -signal.SIGKILL, f"{fault} was never reached"


def test_the_checker_catches_a_lost_a_doubled_and_an_unreadable_batch(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    write_to_lake(lake, "t", 0, 0, 7)
    write_to_lake(lake, "t", 0, 8, 11)
    assert lake_problems(lake, "t", 12) == []
    events = lake.partition_dir(EVENTS, "t", 0)
    shutil.copy(events / range_name(0, 7), events / range_name(12, 19))  # a batch stored twice
    assert any("stored 2 times" in problem for problem in lake_problems(lake, "t", 12))
    (events / range_name(12, 19)).unlink()
    (events / range_name(8, 11)).write_bytes(b"PAR1 cut short")
    found = lake_problems(lake, "t", 12)
    assert any("unreadable" in problem for problem in found)
    assert any("3 records lost" in problem for problem in found)  # 9, 10, 11 (8 is quarantined)


def test_lake_exactly_once_under_kill_dash_nine_at_random_moments(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(lake_settings.lake)
    kills = kill_at_random_moments(
        lambda attempt: ingest(lake_settings, str(attempt), monkeypatch),
        lambda: len(lake.files(EVENTS)),
        random.Random(19),
        attempts=8,
    )
    assert kills >= 6
    finish(lake_settings, monkeypatch)
    assert lake_problems(lake, lake_settings.topic, TOTAL) == []


def test_lake_exactly_once_under_kill_dash_nine_at_each_step_of_a_commit(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill mid-write of either temporary file, between the quarantine and the events file, and
    after the events file landed but before the batch was answered for; then a clean run."""
    steps = ["before-quarantine:3", "after-quarantine:4", "before-events:5", "after-events:6"]
    for attempt, step in enumerate(steps):
        killed_at(lake_settings, monkeypatch, f"crash:{step}", str(attempt))
    finish(lake_settings, monkeypatch)
    assert lake_problems(Lake(lake_settings.lake), lake_settings.topic, TOTAL) == []


def test_lake_exactly_once_while_compacted_again_and_again_during_ingest(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`growth compact` takes each partition's lock in turn, so an ingester writing meanwhile
    waits a moment and resumes from the same next offset: every record once, fewer files."""
    lake = Lake(lake_settings.lake)
    writer = ingest(lake_settings, "0", monkeypatch)
    deadline = time.monotonic() + 120
    while not lake.files(EVENTS):
        assert writer.poll() is None and time.monotonic() < deadline, "the ingester wrote nothing"
        time.sleep(0.05)
    merged = 0  # files the compactions merged away
    while writer.poll() is None:
        done = compact_lake(lake_settings, target_mb=1)
        merged += done.files_before - done.files_after
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    compact_lake(lake_settings, target_mb=1)
    assert merged > 10, "the compactions had nothing to merge: they never met the ingester"
    assert len(lake.files(EVENTS)) == len(lake.partitions(lake_settings.topic))
    assert lake_problems(lake, lake_settings.topic, TOTAL) == []


def test_lake_exactly_once_with_two_ingesters_in_one_group_one_killed_midway(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partitions move between writers (a rebalance, a dead member): the partition locks and the
    offset guard keep every offset once."""
    lake = Lake(lake_settings.lake)
    two_ingesters_one_killed_midway(lake_settings, TOTAL, lambda: sum(lake.next_offsets(lake_settings.topic).values()))
    assert lake_problems(lake, lake_settings.topic, TOTAL) == []


@pytest.mark.parametrize(
    ("fault", "writer", "symptom"),
    [
        # Without a commit file (the next offset taken from quarantine files too), a kill between a
        # batch's quarantine file and its events file loses that batch's events.
        ("crash:after-quarantine:4", "naive-offsets", "no events file over its range"),
        # Without the temporary name, a kill mid-write leaves half a file under a name that says
        # its range is stored.
        ("crash:before-events:5", "in-place", "unreadable"),
    ],
    ids=["offsets-from-both-tables", "written-in-place"],
)
def test_negative_control_a_broken_writer_fails_the_same_check(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch, fault: str, writer: str, symptom: str
) -> None:
    killed_at(lake_settings, monkeypatch, f"{writer},{fault}", "0")
    finish(lake_settings, monkeypatch, writer)
    found = lake_problems(Lake(lake_settings.lake), lake_settings.topic, TOTAL)
    print(f"negative control ({writer}):", found)
    assert any("records lost" in problem for problem in found), found
    assert any(symptom in problem for problem in found), found
