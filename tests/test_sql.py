"""`growth sql`: every statement's result, and values printed in full on a narrow terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb


def sql(published: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GROWTH_PUBLISHED": str(published), "COLUMNS": "60"}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "sql", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_every_statement_prints_its_result_in_full(tmp_path: Path) -> None:
    published = tmp_path / "published.duckdb"
    with duckdb.connect(str(published)) as con:
        con.execute(
            "create schema marts; create table marts.t as select date '2026-11-30' as activity_date, "
            "0.34069400630914826 as stickiness, 12345678.123456 as revenue, 'a [bold] note' as note"
        )
    result = sql(published, "select 41 + 1 as answer; select * from marts.t")
    assert result.returncode == 0, result.stderr
    # both results, the first one's 42 and every full value of the second, on a 60-column terminal
    assert "answer" in result.stdout and "42" in result.stdout
    assert result.stdout.index("answer") < result.stdout.index("activity_date")  # in order
    for value in ("2026-11-30", "0.34069400630914826", "12345678.123456", "a [bold] note"):
        assert value in result.stdout, result.stdout
    assert "…" not in result.stdout
    csv = sql(published, "select 1 as a; select 2 as b", "--format", "csv")
    assert csv.stdout == "a\n1\nb\n2\n"


def test_text_wraps_within_a_narrow_terminal_while_numbers_and_dates_stay_whole(tmp_path: Path) -> None:
    published = tmp_path / "published.duckdb"
    note = "signups from the spring campaign on every paid channel, counted once per user"
    with duckdb.connect(str(published)) as con:
        con.execute(
            "create table t as select date '2026-11-30' as activity_date, 12345678.123456 as revenue, ? as note",
            [note],
        )
    result = sql(published, "select * from t")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60  # fits the 60-column terminal
    assert "2026-11-30" in result.stdout and "12345678.123456" in result.stdout
    # the note wrapped over several lines of its own column, every word kept in order
    body = [line.split("│")[3].strip() for line in lines if line.startswith("│")]
    assert len(body) > 1 and " ".join(part for part in body if part) == note


def test_statements_without_rows_print_nothing_and_a_failure_keeps_earlier_results(tmp_path: Path) -> None:
    published = tmp_path / "published.duckdb"
    duckdb.connect(str(published)).close()
    quiet = sql(published, "set threads = 1; select 7 as seven", "--format", "csv")
    assert quiet.returncode == 0 and quiet.stdout == "seven\n7\n"
    failed = sql(published, "select 1 as one; select * from no_such_table", "--format", "csv")
    assert failed.returncode == 1 and failed.stdout == "one\n1\n"
    assert "statement 2 of 2" in failed.stderr and "no_such_table" in failed.stderr
