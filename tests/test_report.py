"""The growth report: built from a real pipeline run, its numbers equal the marts, and it
renders in a real headless Chromium with every chart title in the DOM."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analysts.publish import publish_snapshot
from analysts.report import render_report
from analysts.report.charts import CHARTS, acquisition, growth_accounting, retention_heatmap
from devkit.simulator import simulate
from ingest.consumer import run_ingest
from ingest.spend import load_spend
from orchestration.build import run_build
from warehouse.settings import Settings

END = date(2026, 5, 27)  # a Wednesday: the last week and month are incomplete
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, broker) -> tuple[Settings, Path]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("report")
    settings = Settings(
        warehouse=root / "data" / "warehouse.duckdb",
        bootstrap_servers=broker.bootstrap_servers,
        topic="report_events",
        group_id="report_group",
        spend_dir=root / "spend",
        report_dir=root / "reports",
        published=root / "data" / "published" / "warehouse.duckdb",
    )
    simulate(settings, users=150, days=60, seed=5, end_date=END, show_progress=False)
    run_ingest(settings)
    load_spend(settings, [settings.spend_dir])
    run_build(settings, quiet=True)
    publish_snapshot(settings)
    return settings, render_report(settings)


def test_report_files_and_headline_numbers_equal_the_marts(report: tuple[Settings, Path]) -> None:
    settings, path = report
    assert path.parent.parent == settings.report_dir and path.name == "index.html"
    assert (settings.report_dir / "latest" / "index.html").read_text() == path.read_text()
    assert path.parent.name in (settings.report_dir / "index.html").read_text()
    if CHROMIUM is not None:  # kaleido exports PNGs of every chart through Chromium
        assert len(list(path.parent.glob("*.png"))) == len(CHARTS) + 1  # every chart and the preview
        assert (path.parent / "preview.png").stat().st_size > 10_000
    page = path.read_text()
    assert page.count("plotly.js v") <= 2 and len(page) < 6_000_000  # plotly.js embedded once
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        [(mau, dau, as_of)] = con.execute(
            "select mau, dau, activity_date from marts.fct_daily_active_users order by activity_date desc limit 1"
        ).fetchall()
        [(users,)] = con.execute("select count(*) from marts.dim_users").fetchall()
    assert as_of == END
    assert f"MAU<b>{mau:,}</b>" in page and f"DAU<b>{dau:,}</b>" in page and f"Users<b>{users:,}</b>" in page
    assert f"MAU {mau:,} on {END}" in page
    assert page.count('<p class="takeaway">') == len(CHARTS)  # one computed takeaway per chart


def test_without_chromium_the_report_is_written_and_the_pngs_skipped_with_a_note(
    report: tuple[Settings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, full = report
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    path = render_report(settings, tmp_path / "out")
    assert path.parent.parent == tmp_path / "out" and not list(path.parent.glob("*.png"))
    page = path.read_text()
    assert "PNG exports skipped: no working Chromium" in page
    assert page.count('<p class="takeaway">') == full.read_text().count('<p class="takeaway">') == len(CHARTS)
    if CHROMIUM is not None:
        assert "PNG exports: " in full.read_text()


def test_incomplete_periods_are_marked_not_shown_as_drops(report: tuple[Settings, Path]) -> None:
    settings, _ = report
    with duckdb.connect(str(settings.published), read_only=True) as con:
        # data ends on Wednesday 2026-05-27: May and the week of 2026-05-25 are still running
        months = acquisition(con)
        bars = [trace for trace in months.figure.data if trace.type == "bar"]
        assert bars and all(list(bar.marker.pattern.shape)[-1] == "/" for bar in bars)  # May hatched
        assert all(set(list(bar.marker.pattern.shape)[:-1]) <= {""} for bar in bars)  # earlier months solid
        assert "May 2026 so far (month still running, hatched)" in months.takeaway
        weeks = growth_accounting(con)
        [(open_weeks,)] = con.execute(
            "select count(*) from marts.fct_growth_accounting where grain = 'week' and not is_complete"
        ).fetchall()
        hatched = [shape for shape in weeks.figure.data[0].marker.pattern.shape if shape == "/"]
        assert open_weeks == 1 and len(hatched) == open_weeks
        assert "Week of 2026-05-18" in weeks.takeaway  # the takeaway speaks of the last complete week
        retention = retention_heatmap(con)
        [(open_cells,)] = con.execute(
            "select count(*) from marts.fct_retention where grain = 'week' and not is_complete "
            "and cohort_start >= date '2026-05-25' - interval 12 week"
        ).fetchall()
        assert open_cells > 0  # the last cohorts' current week is still running...
        z = retention.figure.data[0].z
        blanks = sum(value is None for row in z for value in row)
        assert blanks >= open_cells  # ...and is left blank, not drawn as a drop to a low rate


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it when run as root)")
def test_report_renders_in_headless_chromium(report: tuple[Settings, Path], tmp_path: Path) -> None:
    _, path = report
    common = [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000"]
    dom = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0
    assert dom.stdout.count('class="plot-container plotly"') == len(CHARTS)  # every chart was drawn by plotly.js
    for title in (
        "Daily, weekly and monthly active users",
        "Weekly retention by signup cohort",
        "Weekly growth accounting",
    ):
        assert title in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE(" not in dom.stderr.replace("CONSOLE(0)", "")
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, "--window-size=1200,2400", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    # A blank 1200x2400 page compresses to a few kB; drawn charts and heatmaps take far more.
    assert shot.stat().st_size > 100_000, "the screenshot looks blank"
