"""Spend CSVs: idempotent per file, normal CSV variants load, a bad file is rejected whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingest.spend import load_spend
from warehouse.connection import connect
from warehouse.lock import writer_lock
from warehouse.settings import Settings


def spend_rows(settings: Settings) -> list[tuple[str, str, str | None, float, str]]:
    with writer_lock(settings.warehouse), connect(settings.warehouse) as con:
        return con.execute(
            "select spend_date::varchar, channel, campaign, spend, source_file from raw.marketing_spend order by all"
        ).fetchall()


def test_crlf_quotes_and_missing_final_newline_load(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w.duckdb")
    path = tmp_path / "google.csv"
    path.write_bytes(b'date,channel,campaign,spend\r\n2026-03-01,"Google","Brand, exact",12.50\r\n2026-03-02,google,,7')
    [result] = load_spend(settings, [path])
    assert result.loaded and result.rows == 2
    assert spend_rows(settings) == [
        ("2026-03-01", "Google", "Brand, exact", 12.5, "google.csv"),
        ("2026-03-02", "google", None, 7.0, "google.csv"),
    ]


def test_loading_the_same_file_again_replaces_its_rows(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w.duckdb")
    path = tmp_path / "fb.csv"
    path.write_text("date,channel,campaign,spend\n2026-03-01,facebook,a,10\n2026-03-02,facebook,a,20\n")
    load_spend(settings, [path])
    path.write_text("date,channel,campaign,spend\n2026-03-01,facebook,a,11\n")
    load_spend(settings, [path])
    assert spend_rows(settings) == [("2026-03-01", "facebook", "a", 11.0, "fb.csv")]


def test_a_bad_row_rejects_its_whole_file_and_names_line_and_column(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w.duckdb")
    good, bad = tmp_path / "a_good.csv", tmp_path / "b_bad.csv"
    good.write_text("date,channel,campaign,spend\n2026-03-01,google,x,1\n")
    bad.write_text("date,channel,campaign,spend\n2026-03-01,google,x,1\n2026-03-02,google,x,-5\n")
    results = {r.path.name: r for r in load_spend(settings, [tmp_path])}
    assert results["a_good.csv"].loaded
    assert results["b_bad.csv"].error == "b_bad.csv:3: column spend: '-5' is not a non-negative decimal"
    assert [row[4] for row in spend_rows(settings)] == ["a_good.csv"]  # nothing of the bad file


def test_cli_exits_non_zero_when_a_file_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,channel,campaign,spend\n2026-13-01,google,x,1\n")
    env = {**os.environ, "GROWTH_WAREHOUSE": str(tmp_path / "w.duckdb")}
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "load-spend", str(bad)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert "bad.csv:2: column date" in result.stderr and "Traceback" not in result.stderr


def test_changed_files_are_the_new_and_the_modified_ones(tmp_path: Path) -> None:
    from ingest.spend import changed_files

    settings = Settings(warehouse=tmp_path / "w.duckdb")
    spend = tmp_path / "spend"
    spend.mkdir()
    first, second = spend / "a.csv", spend / "b.csv"
    for path in (first, second):
        path.write_text("date,channel,campaign,spend\n2026-03-01,google,x,1\n")
    assert changed_files(settings, [spend]) == [first, second]
    load_spend(settings, [spend])
    assert changed_files(settings, [spend]) == []
    os.utime(second, (second.stat().st_atime, second.stat().st_mtime + 60))
    assert changed_files(settings, [spend]) == [second]
