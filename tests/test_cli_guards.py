"""What a new user who mistypes a path, a selector, an id or a file name sees: one line, and
nothing lost. Each case runs the real `growth` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from devkit.broker import free_port
from ingest.spend import load_spend
from orchestration.build import run_build
from warehouse.connection import writing
from warehouse.settings import Settings


def growth(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The failure is exactly one line on stderr, no traceback, and a non-zero exit."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def make_snapshot(path: Path, users: int) -> None:
    """A published snapshot whose marts.dim_users holds ``users`` rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.dim_users as select 'u' || range as user_key from range(?)", [users])


def snapshot_users(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return int(con.execute("select count(*) from marts.dim_users").fetchall()[0][0])


@pytest.fixture(scope="module")
def empty_built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse that exists and is built, but holds no events: its marts have no users."""
    root = tmp_path_factory.mktemp("empty")
    settings = Settings(warehouse=root / "w.duckdb", published=root / "published.duckdb")
    with writing(settings, create=True):
        pass
    run_build(settings, quiet=True)
    return settings


def test_a_mistyped_warehouse_path_is_refused_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "warehuose.duckdb"
    snapshot = tmp_path / "published.duckdb"
    make_snapshot(snapshot, users=3)
    env = {"GROWTH_WAREHOUSE": str(missing), "GROWTH_PUBLISHED": str(snapshot)}
    for command in (["build"], ["publish"], ["forget", "alice"]):
        line = one_line_error(growth(*command, env=env))
        assert str(missing) in line and "GROWTH_WAREHOUSE" in line, line
    assert not missing.exists() and not missing.parent.exists()
    assert snapshot_users(snapshot) == 3


def test_a_file_that_is_not_a_warehouse_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.duckdb"
    text.write_text("not a database\n")
    line = one_line_error(growth("build", "--warehouse", str(text)))
    assert line.startswith("error: cannot open") and str(text) in line, line
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()  # a DuckDB file, but not one of ours
    line = one_line_error(growth("build", "--warehouse", str(other)))
    assert "not a growth warehouse" in line and str(other) in line, line


def test_publish_never_empties_a_populated_snapshot(empty_built: Settings) -> None:
    make_snapshot(empty_built.published, users=1985)
    env = {"GROWTH_WAREHOUSE": str(empty_built.warehouse), "GROWTH_PUBLISHED": str(empty_built.published)}
    line = one_line_error(growth("publish", env=env))
    assert "1,985" in line and "--allow-empty" in line, line
    assert snapshot_users(empty_built.published) == 1985
    allowed = growth("publish", "--allow-empty", env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert snapshot_users(empty_built.published) == 0


def test_a_selector_that_matches_nothing_is_an_error(empty_built: Settings) -> None:
    line = one_line_error(growth("build", "--select", "does_not_exist", "--warehouse", str(empty_built.warehouse)))
    assert line == "error: --select does_not_exist matches no model or test of the dbt project"


def test_forget_refuses_unknown_and_empty_ids_and_deletes_nothing(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w.duckdb")
    with writing(settings, create=True) as con:
        con.execute(
            "insert into raw.events (message_id, type, event, user_id, timestamp, payload, kafka_topic, "
            "kafka_partition, kafka_offset, ingested_at) values "
            "('m1', 'track', 'Signed Up', 'alice', now(), '{}', 'events', 0, 0, now())"
        )
    warehouse = ["--warehouse", str(settings.warehouse)]
    line = one_line_error(growth("forget", "alcie", *warehouse))
    assert "alcie" in line and "--allow-missing" in line, line
    line = one_line_error(growth("forget", "", *warehouse))
    assert "non-empty" in line and "''" in line, line
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.events").fetchall() == [(1,)]
        assert con.execute("select count(*) from raw.forgotten_ids").fetchall() == [(0,)]
    allowed = growth("forget", "alcie", "--allow-missing", *warehouse)
    assert allowed.returncode == 0, allowed.stderr
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select id from raw.forgotten_ids").fetchall() == [("alcie",)]


def test_a_same_named_spend_file_from_another_folder_is_refused_unless_replace(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w.duckdb")
    first, second = tmp_path / "q1" / "google.csv", tmp_path / "q2" / "google.csv"
    for path, amount in ((first, 10), (second, 99)):
        path.parent.mkdir()
        path.write_text(f"date,channel,campaign,spend\n2026-03-01,google,x,{amount}\n")
    load_spend(settings, [first])
    result = growth("load-spend", str(second), "--warehouse", str(settings.warehouse))
    assert result.returncode == 1
    assert f"a file named google.csv was loaded from {first.resolve()}" in result.stderr
    assert "--replace" in result.stderr
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select spend from raw.marketing_spend").fetchall() == [(10.0,)]
    replaced = growth("load-spend", str(second), "--replace", "--warehouse", str(settings.warehouse))
    assert replaced.returncode == 0, replaced.stderr
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select spend from raw.marketing_spend").fetchall() == [(99.0,)]


def test_header_only_files_and_unknown_channels_load_with_a_warning(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w.duckdb")
    with writing(settings, create=True) as con:
        con.execute(
            "insert into raw.events (message_id, type, event, user_id, timestamp, campaign_source_raw, payload, "
            "kafka_topic, kafka_partition, kafka_offset, ingested_at) values "
            "('m1', 'track', 'Signed Up', 'alice', now(), '\"Google\"', '{}', 'events', 0, 0, now())"
        )
    empty, typo = tmp_path / "empty.csv", tmp_path / "typo.csv"
    empty.write_text("date,channel,campaign,spend\n")
    typo.write_text("date,channel,campaign,spend\n2026-03-01, GOOGLE ,x,1\n2026-03-01,gogle,x,2\n")
    result = growth("load-spend", str(empty), str(typo), "--warehouse", str(settings.warehouse))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING: empty.csv: no rows (header only); any rows it had before are removed",
        "WARNING: typo.csv: channel gogle matches no campaign source in the events",
    ]


def test_tracebacks_become_one_line(tmp_path: Path, empty_built: Settings) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    snapshot = tmp_path / "published.duckdb"
    env = {"GROWTH_WAREHOUSE": str(empty_built.warehouse), "GROWTH_PUBLISHED": str(snapshot)}
    assert growth("publish", "--allow-empty", env=env).returncode == 0
    line = one_line_error(growth("report", "--out", str(a_file), env=env))
    assert str(a_file) in line, line
    line = one_line_error(growth("report", "--out", "/proc/no_reports_here", env=env))
    assert "/proc/no_reports_here" in line, line
    demo = growth("demo", "--users", "-5", "--warehouse", str(tmp_path / "demo.duckdb"))
    assert demo.returncode == 2 and "Traceback" not in demo.stderr
    assert "Invalid value for '--users'" in demo.stderr and "greater than or equal to 1" in demo.stderr


def test_an_unreachable_broker_is_one_line_not_library_chatter(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = growth(
        "ingest",
        "--until-caught-up",
        "--bootstrap-servers",
        f"127.0.0.1:{port}",
        "--warehouse",
        str(tmp_path / "w.duckdb"),
    )
    line = one_line_error(result)
    assert f"127.0.0.1:{port}" in line, line


def test_version() -> None:
    result = growth("--version")
    assert result.returncode == 0 and result.stdout.strip() == "growth-warehouse 0.1.0"
