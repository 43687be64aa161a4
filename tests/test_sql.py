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
    for value in ("2026-11-30", "0.34069400630914826", "12345678.123456", "a [bold] note"):
        assert value in result.stdout, result.stdout
    assert "…" not in result.stdout
    csv = sql(published, "select 1 as a; select 2 as b", "--format", "csv")
    assert csv.stdout == "a\n1\nb\n2\n"
