"""The growth report.

Two kinds of tests:
- chart builders and headline tiles on small hand-made marts, whose expected texts are
  worked out by hand in the comments;
- the report built from a real pipeline run (one module fixture), its numbers checked
  against SQL written here, and rendered in a real headless Chromium: every drawn axis
  titled, the payback labels equal to payback recomputed from the warehouse, nothing wider
  than a 390 px phone, and screenshots at desktop and phone width in test-artifacts/report/.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
import pytest

from analysts.publish import publish_snapshot
from analysts.report import render_report
from analysts.report.charts import (
    CHARTS,
    acquisition,
    activation,
    active_users,
    engagement,
    growth_accounting,
    ltv_curves,
    retention_heatmap,
)
from analysts.report.economics import channel_economics, payback, payback_label
from analysts.report.experiments import AXIS_TITLE, FIXED, SEQUENTIAL, experiment_charts, p_text
from analysts.report.revenue import revenue_charts
from analysts.report.segments import (
    FEATURE_TITLE,
    NOT_THERE_YET,
    RETENTION_AXIS,
    TITLE,
    Pooled,
    segment_charts,
    segment_takeaway,
)
from analysts.report.style import WEEK_MS, Chart, early_outliers, monday_axis, nice_ceiling
from analysts.report.tiles import headline_tiles
from devkit.simulator import simulate
from ingest.consumer import run_ingest
from ingest.spend import load_spend
from orchestration.build import run_build
from tests._experiment_data import READOUT, ExperimentData, build_experiment_marts, copy_experiment_marts
from tests._segment_data import copy_segment_marts, drop_segment_marts, write_segment_marts
from transforms.predictive_ltv import build_predictive_ltv
from warehouse.settings import Settings, load_settings

END = date(2026, 5, 27)  # a Wednesday: the last week and month are incomplete
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "report"
PHONE = 390
DESKTOP = 1200
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--allow-file-access-from-files",  # the probe page reads the report's DOM through its iframe
]


# --- hand-made marts -------------------------------------------------------------------------

HAND_MARTS = """
create schema marts;
create table marts.fct_growth_accounting (
    grain varchar, period_start date, active_users bigint, new_users bigint, retained_users bigint,
    resurrected_users bigint, churned_users bigint, churn_rate double, quick_ratio double, is_complete boolean);
insert into marts.fct_growth_accounting values
    ('week', '2026-03-30', 10, 10, 0, 0, 0, null, null, true),
    ('week', '2026-04-06', 30, 26, 4, 0, 2, 0.2, 13.0, true),
    ('week', '2026-04-13', 40, 10, 28, 2, 6, 0.2, 2.0, true),
    ('week', '2026-04-20', 52, 15, 34, 3, 6, 0.15, 3.0, true),
    ('week', '2026-04-27', 61, 12, 46, 3, 6, 0.12, 2.5, true),
    ('week', '2026-05-04', 80, 20, 55, 5, 10, 0.15, 2.5, true),
    ('week', '2026-05-11', 100, 25, 70, 5, 10, 0.12, 3.0, true),
    ('week', '2026-05-18', 36, 5, 30, 1, 70, 0.7, 0.0857, false),
    ('month', '2026-03-01', 50, 50, 0, 0, 0, null, null, true),
    ('month', '2026-04-01', 90, 60, 30, 0, 20, 0.4, 3.0, true),
    ('month', '2026-05-01', 120, 40, 75, 5, 15, 0.17, 3.0, false);
create table marts.fct_activation (
    grain varchar, cohort_start date, signups bigint, activated_users bigint, activation_rate double,
    median_hours_to_activate double, is_complete boolean);
insert into marts.fct_activation values
    ('week', '2026-05-04', 40, 20, 0.5, 10.0, true),
    ('week', '2026-05-11', 50, 30, 0.6, 8.0, true),
    ('week', '2026-05-18', 12, 9, 0.75, 2.0, false);
create table marts.fct_acquisition (
    month date, channel varchar, spend double, signups bigint, new_customers bigint,
    cost_per_signup double, cac double);
insert into marts.fct_acquisition values
    ('2026-03-01', '(all)', 1000, 50, 5, 20.0, 200.0),
    ('2026-04-01', '(all)', 1250, 50, 0, 25.0, null),
    ('2026-05-01', '(all)', 400, 10, 1, 40.0, 400.0),
    ('2026-03-01', 'ads', 1000, 40, 5, 25.0, 200.0),
    ('2026-04-01', 'ads', 1250, 40, 0, 31.25, null),
    ('2026-05-01', 'ads', 400, 8, 1, 50.0, 400.0),
    ('2026-03-01', 'direct', 0, 10, 0, 0.0, null),
    ('2026-04-01', 'direct', 0, 10, 0, 0.0, null),
    ('2026-05-01', 'direct', 0, 2, 0, 0.0, null);
create table marts.fct_ltv_cohorts (
    cohort_month date, months_since_signup bigint, cohort_size bigint, revenue double,
    cumulative_revenue double, ltv_per_user double, is_complete boolean);
insert into marts.fct_ltv_cohorts values
    ('2026-03-01', 0, 10, 100, 100, 10.0, true),
    ('2026-03-01', 1, 10, 60, 160, 16.0, true),
    ('2026-03-01', 2, 10, 10, 170, 17.0, false),
    ('2026-04-01', 0, 20, 140, 140, 7.0, true),
    ('2026-04-01', 1, 20, 5, 145, 7.25, false);
create table marts.fct_channel_economics (
    channel varchar, signups bigint, spend double, customers bigint, cost_per_signup double, cac double,
    revenue double, ltv double, ltv_cac_ratio double, payback_months bigint);
insert into marts.fct_channel_economics values
    ('ads', 10, 100, 2, 10.0, 50.0, 300, 20.0, 2.0, 3),
    ('social', 5, 100, 0, 20.0, null, 30, 6.0, 0.3, null),
    ('direct', 4, 0, 1, 0.0, 0.0, 40, null, null, 0),
    ('tv', 0, 50, 0, null, null, 0, null, null, null),
    ('(all)', 19, 250, 3, 250.0 / 19, 250.0 / 3, 370, 18.0, 18.0 / (250.0 / 19), 3);
create table marts.dim_users (user_key varchar, acquisition_channel varchar, signup_date date);
insert into marts.dim_users values
    ('a1', 'ads', '2026-02-10'), ('a2', 'ads', '2026-04-02'),
    ('s1', 'social', '2026-03-15'), ('s2', 'social', '2026-04-20'),
    ('d1', 'direct', '2026-05-02');
"""


@pytest.fixture(scope="module")
def hand() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute(HAND_MARTS)
    yield con
    con.close()


def _axes(fig: go.Figure) -> dict[str, Any]:
    """Layout axes by name (xaxis, xaxis2, yaxis, ...)."""
    layout = fig.to_plotly_json()["layout"]
    return {key: value for key, value in layout.items() if re.fullmatch(r"[xy]axis\d*", key)}


def _shown_axes(fig: go.Figure) -> dict[str, Any]:
    """The axes that draw tick labels (hidden shared ones excluded)."""
    used = {"xaxis"} | {"yaxis"}
    for trace in fig.data:
        if trace.type in ("bar", "scatter", "heatmap"):
            used.add("xaxis" + (trace.xaxis or "x")[1:])
            used.add("yaxis" + (trace.yaxis or "y")[1:])
    return {name: axis for name, axis in _axes(fig).items() if name in used and axis.get("showticklabels") is not False}


def _days(values: Any) -> list[date]:
    """Dates of a trace's x, however plotly stored them (numpy datetime64, date, string)."""
    return [date.fromisoformat(str(value)[:10]) for value in values]


def _title(axis: dict[str, Any]) -> str:
    return str((axis.get("title") or {}).get("text") or "")


def test_growth_accounting_leaves_the_running_week_out_and_trims_the_early_outlier(
    hand: duckdb.DuckDBPyConnection,
) -> None:
    chart = growth_accounting(hand)
    bars = [trace for trace in chart.figure.data if trace.type == "bar"]
    assert [bar.name for bar in bars] == ["new", "retained", "resurrected", "churned"]
    running = date(2026, 5, 18)
    assert all(running not in _days(bar.x) for bar in bars)  # the running week is not drawn...
    churned = bars[-1]
    assert min(churned.y) == -10  # ...so its 70 churned are not the largest mark: weeks of 4 and 11 May churned 10
    largest = max(abs(value) for bar in bars for value in bar.y)
    assert largest == 70  # retained users of 11 May (the week's 70 churned are not drawn)
    assert "Week of 18\u201324 May 2026 still running: left out (36 active so far" in chart.note
    # quick ratios of complete weeks: [null, 13, 2, 3, 2.5, 2.5, 3]; second half's max is 3, 13 > 1.5 x 3,
    # the largest kept is 3, 3 x 1.1 = 3.3, rounded up to 5: axis 0..5 with 13 drawn at the top edge.
    axes = _axes(chart.figure)
    assert axes["yaxis2"]["range"] == [0, 5]
    [cut] = [trace for trace in chart.figure.data if trace.name == "quick ratio above the axis"]
    assert _days(cut.x) == [date(2026, 4, 6)] and list(cut.y) == [5] and list(cut.text) == ["13.0"]
    [line] = [trace for trace in chart.figure.data if trace.name == "quick ratio"]
    assert list(line.y) == [None, None, 2.0, 3.0, 2.5, 2.5, 3.0]
    assert "axis cut at 5" in chart.note and "6 Apr 2026: 13.0" in chart.note
    # the takeaway compares the last complete week with the one before
    assert chart.takeaway == (
        "Week of 11\u201317 May 2026: quick ratio 3.00 (week before 2.50); active users up 20 (+25%), "
        "with 30 new or resurrected against 10 churned."
    )


def test_weekly_ticks_sit_on_mondays(hand: duckdb.DuckDBPyConnection) -> None:
    # weeks 30 Mar .. 11 May: 7 weeks, at most 6 labels -> every 2nd Monday from 30 Mar
    axis = _axes(growth_accounting(hand).figure)["xaxis2"]
    assert axis["tickmode"] == "linear" and axis["tick0"] == "2026-03-30" and axis["dtick"] == 2 * 7 * 86_400_000
    assert date.fromisoformat(axis["tick0"]).weekday() == 0
    # 25 Mar (a Wednesday) .. 20 May: ticks start on Monday 23 Mar; 9 weeks -> every 2nd
    assert monday_axis(date(2026, 3, 25), date(2026, 5, 20), "t")["tick0"] == "2026-03-23"
    assert monday_axis(date(2026, 3, 25), date(2026, 5, 20), "t")["dtick"] == 2 * WEEK_MS
    assert monday_axis(date(2026, 5, 4), date(2026, 5, 11), "t")["dtick"] == WEEK_MS
    weekly = activation(hand).figure
    axis = _axes(weekly)["xaxis"]
    tick0 = date.fromisoformat(axis["tick0"])
    assert tick0.weekday() == 0
    for x in _days(weekly.data[0].x):  # every bar on the tick grid: a Monday a whole number of weeks after tick0
        assert x.weekday() == 0 and (x - tick0).days % 7 == 0


def test_activation_leaves_open_cohorts_out_and_compares_with_the_cohort_before(
    hand: duckdb.DuckDBPyConnection,
) -> None:
    chart = activation(hand)
    assert _days(chart.figure.data[0].x) == [date(2026, 5, 4), date(2026, 5, 11)]
    assert "Cohort of 18 May 2026 still inside its activation window: left out (75% of 12 so far)." in chart.note
    # 60% vs 50%: up 10 points; median 8 h
    assert chart.takeaway == (
        "60% of the 11 May 2026 cohort activated, up 10 points on the cohort before (50%); median 8 h to activate."
    )


def test_acquisition_speaks_of_cost_per_signup_and_cac_per_customer(hand: duckdb.DuckDBPyConnection) -> None:
    running_chart = acquisition(hand, "EUR")
    months = {x for trace in running_chart.figure.data for x in _days(trace.x)}
    assert months == {date(2026, 3, 1), date(2026, 4, 1)}  # May still running: not drawn
    assert "May 2026 still running: left out (so far 400 EUR spend, 10 signups, 1 new customer)." in (
        running_chart.note
    )
    assert "Not drawn, no spend: direct." in running_chart.note
    axes = _axes(running_chart.figure)
    assert _title(axes["yaxis"]) == "spend (EUR)" and "EUR per customer" in _title(axes["yaxis2"])
    # April vs March: spend 1250 vs 1000 (+25%), cost per signup 25 vs 20 (+25%), no new customers in April
    assert running_chart.takeaway == (
        "April 2026: spend 1,250 EUR (+25% on March); cost per signup 25.00 EUR vs 20.00 EUR in March (+25%); "
        "CAC per customer n/a (no new customers)."
    )
    names = {trace.name for trace in running_chart.figure.data}
    assert {"ads CAC per customer", "ads cost per signup"} <= names
    assert not any(re.search(r"(?<!LTV:)CAC(?! per customer)", name) for name in names)


def test_payback_is_labelled_with_not_paid_back_where_true(hand: duckdb.DuckDBPyConnection) -> None:
    assert payback_label(None, None, 3) == "no signups"
    assert payback_label(0.0, 0, 3) == "0 months (no spend)"
    assert payback_label(10.0, 1, 3) == "1 month"
    assert payback_label(10.0, None, 2) == "not paid back (2 months observed)"
    assert payback_label(10.0, None, 0) == "not paid back (no complete month yet)"
    chart = payback(hand)
    [bars] = chart.figure.data
    # data end month May 2026 (March cohort + 2); social's oldest signup is March: 2 complete months observed
    assert list(bars.y) == ["ads", "direct", "social", "tv", "all channels"]
    assert list(bars.text) == [
        "3 months",
        "0 months (no spend)",
        "not paid back (2 months observed)",
        "no signups",
        "3 months",
    ]
    assert list(bars.x) == [3, 0, 0, 0, 3]
    axes = _shown_axes(chart.figure)
    assert set(axes) == {"xaxis", "yaxis"} and all(_title(axis) for axis in axes.values())
    assert chart.takeaway == (
        "Payback: ads pays back in 3 months; social not paid back yet; direct without spend; "
        "all channels together 3 months."
    )


def test_ltv_cac_divides_by_cost_per_signup_and_says_so(hand: duckdb.DuckDBPyConnection) -> None:
    chart = channel_economics(hand, "EUR")
    assert chart.title == "LTV:CAC by channel: LTV per signup ÷ cost per signup"
    ltv, cost = chart.figure.data
    assert ltv.name == "LTV per signup" and cost.name == "cost per signup"
    # ads 20 / 10 = 2.0; social 6 / 20 = 0.3; (all) 18 / (250 / 19) = 1.368 -> 1.4
    assert list(ltv.text) == ["LTV:CAC 2.0", "no spend", "LTV:CAC 0.3", "no signups", "LTV:CAC 1.4"]
    assert _title(_axes(chart.figure)["xaxis"]) == "EUR per signup"
    assert chart.takeaway == "LTV:CAC (LTV ÷ cost per signup): best ads 2.0, worst social 0.3; all channels 1.4."
    assert "not ÷ CAC per customer" in chart.note


def test_tiles_name_their_period_and_change_on_the_previous_complete_one(hand: duckdb.DuckDBPyConnection) -> None:
    weekly, monthly = headline_tiles(hand)
    assert (weekly.period, weekly.previous) == ("Week 11\u201317 May 2026", "4\u201310 May 2026")
    shown = {tile.label: (tile.value_text("USD"), tile.change_text("USD")) for tile in weekly.tiles}
    assert shown == {
        "Active users": ("100", "+20 (+25%)"),  # 100 vs 80
        "Signups": ("50", "+10 (+25%)"),  # 50 vs 40
        "Churn rate": ("12.0%", "\u22123.0 pt"),  # 12% vs 15%
        "Quick ratio": ("3.00", "+0.50"),  # 3.0 vs 2.5
    }
    assert (monthly.period, monthly.previous) == ("April 2026", "March 2026")
    shown = {tile.label: (tile.value_text("USD"), tile.change_text("USD")) for tile in monthly.tiles}
    assert shown == {
        "Active users": ("90", "+40 (+80%)"),  # 90 vs 50
        "Revenue": ("200 USD", "+100 USD (+100%)"),  # April: March cohort month 1 (60) + April month 0 (140)
        "Spend": ("1,250 USD", "+250 USD (+25%)"),
        "New customers": ("0", "\u22125 (\u2212100%)"),
        "Cost per signup": ("25.00 USD", "+5.00 USD (+25%)"),
        "CAC per customer": ("n/a", "n/a"),  # no new customer in April
    }


def test_helpers_round_axes() -> None:
    assert [nice_ceiling(v) for v in (0.8, 1.0, 3.3, 4.2, 13.0, 260.0)] == [1.0, 1.0, 5.0, 5.0, 20.0, 500.0]
    assert early_outliers([2.0, 2.1, 2.2, 2.0]) == (None, [])  # nothing stands out
    assert early_outliers([3.0, 2.0, 2.0, 2.0, 30.0, 2.0]) == (None, [])  # a recent spike is never cut
    # first half [13, 2, 3], second half max 3: 13 cut, axis at nice(3 * 1.1) = 5
    assert early_outliers([None, 13.0, 2.0, 3.0, 2.5, 2.5, 3.0]) == (5.0, [1])


def test_currency_comes_from_growth_currency() -> None:
    assert load_settings(environ={}).currency == "USD"
    assert load_settings(environ={"GROWTH_CURRENCY": "eur"}).currency == "EUR"


# --- the report of a real pipeline run ---------------------------------------------------------


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
    build_predictive_ltv(settings)
    publish_snapshot(settings)
    return settings, render_report(settings)


def _segment_sections(snapshot: Path) -> list[Chart]:
    """The "Who retains" sections a report of this snapshot shows: one sentence while the pipeline
    builds no segment marts, their charts once it does (checked on hand-made marts further down)."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return segment_charts(con)


def _revenue_sections(snapshot: Path) -> list[Chart]:
    """The recurring-revenue sections a report of this snapshot shows (checked in tests/test_report_revenue.py)."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return revenue_charts(con)


def _drawn(snapshot: Path) -> int:
    """Figures a report of this snapshot draws: every chart and the drawn revenue and "Who retains" sections."""
    sections = _revenue_sections(snapshot) + _segment_sections(snapshot)
    return len(CHARTS) + sum(chart.figure is not None for chart in sections)


def _visible_text(page: str) -> str:
    """The page's words: scripts (plotly.js, figure JSON) and tags removed."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_report_files_tiles_and_takeaways(report: tuple[Settings, Path]) -> None:
    settings, path = report
    assert path.parent.parent == settings.report_dir and path.name == "index.html"
    assert (settings.report_dir / "latest" / "index.html").read_text() == path.read_text()
    assert path.parent.name in (settings.report_dir / "index.html").read_text()
    segments = _revenue_sections(settings.published) + _segment_sections(settings.published)
    if CHROMIUM is not None:  # kaleido exports PNGs of every chart through Chromium
        assert len(list(path.parent.glob("*.png"))) == _drawn(settings.published) + 1  # every chart and the preview
        assert (path.parent / "preview.png").stat().st_size > 10_000
    page = path.read_text()
    assert page.count("plotly.js v") <= 2 and len(page) < 6_000_000  # plotly.js embedded once
    assert page.count('<p class="takeaway">') == len(CHARTS) + len(segments)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        weeks = con.execute(
            "select period_start, active_users, quick_ratio from marts.fct_growth_accounting "
            "where grain = 'week' and period_start in (date '2026-05-11', date '2026-05-18') order by 1"
        ).fetchall()
        [(signups_now, signups_before)] = con.execute(
            "select count(*) filter (where signup_date between date '2026-05-18' and date '2026-05-24'), "
            "count(*) filter (where signup_date between date '2026-05-11' and date '2026-05-17') from marts.dim_users"
        ).fetchall()
        [(spend_april, spend_march)] = con.execute(
            "select sum(spend) filter (where month = date '2026-04-01'), sum(spend) filter (where month = "
            "date '2026-03-01') from marts.fct_acquisition where channel <> '(all)'"
        ).fetchall()
    (_, active_before, ratio_before), (_, active_now, ratio_now) = weeks
    text = _visible_text(page)
    # the week of 25 May is running: the tiles speak of 18-24 May against 11-17 May
    assert "Week 18\u201324 May 2026 vs 11\u201317 May 2026" in text
    change = active_now - active_before
    assert f"Active users {active_now:,} +{change} (+{round(change / active_before * 100)}%)" in text
    diff = signups_now - signups_before
    assert f"Signups {signups_now:,} {'+' if diff > 0 else chr(0x2212)}{abs(diff)}" in text
    assert "April 2026 vs March 2026" in text and f"Spend {spend_april:,.0f} USD" in text
    assert f"+{spend_april - spend_march:,.0f} USD" in text
    assert f"quick ratio {ratio_now:.2f} (week before {ratio_before:.2f})" in text
    # one CAC vocabulary: "CAC" only as LTV:CAC or CAC per customer
    assert re.findall(r"\S*CAC\S*(?: per customer)?", text)
    for word in re.findall(r"(\S*CAC)(\s+per customer)?", text):
        assert word[0].endswith("LTV:CAC") or word[1], word
    assert "LTV:CAC by channel: LTV per signup ÷ cost per signup" in text
    # no operations messages in the report
    for ops in ("skipped", "Chromium", "BROWSER_PATH", "snapshot", "PNG exports"):
        assert ops not in text


def test_without_chromium_the_report_is_written_and_the_pngs_skipped_in_the_log_only(
    report: tuple[Settings, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, _ = report
    caplog.set_level(logging.WARNING, logger="analysts.report")
    path = render_report(replace(settings, browser_path=str(tmp_path / "no-such-chromium")), tmp_path / "out")
    assert path.parent.parent == tmp_path / "out" and not list(path.parent.glob("*.png"))
    assert "PNG exports skipped" in caplog.text  # the log says it...
    text = _visible_text(path.read_text())
    assert "skipped" not in text and "Chromium" not in text and "PNG" not in text  # ...the page does not
    segments = _revenue_sections(settings.published) + _segment_sections(settings.published)
    assert path.read_text().count('<p class="takeaway">') == len(CHARTS) + len(segments)


def test_incomplete_periods_are_left_out_and_named(report: tuple[Settings, Path]) -> None:
    settings, _ = report
    with duckdb.connect(str(settings.published), read_only=True) as con:
        # data ends on Wednesday 2026-05-27: May and the week of 2026-05-25 are still running
        months = acquisition(con)
        assert all(date(2026, 5, 1) not in _days(trace.x) for trace in months.figure.data)
        assert "May 2026 still running: left out" in months.note
        weeks = growth_accounting(con)
        [(churned_running, churned_max_complete)] = con.execute(
            "select max(churned_users) filter (where not is_complete), max(churned_users) filter (where is_complete) "
            "from marts.fct_growth_accounting where grain = 'week'"
        ).fetchall()
        assert churned_running > churned_max_complete  # the running week's churn would dominate...
        assert all(date(2026, 5, 25) not in _days(trace.x) for trace in weeks.figure.data)  # ...it is not drawn
        assert "Week of 25\u201331 May 2026 still running: left out" in weeks.note
        assert "Week of 18\u201324 May 2026" in weeks.takeaway  # the takeaway speaks of the last complete week
        ltv = ltv_curves(con)
        drawn = {(trace.name[:8], x) for trace in ltv.figure.data for x in trace.x}
        assert ("May 2026", 0) not in drawn and ("Apr 2026", 1) not in drawn  # May is running
        retention = retention_heatmap(con)
        [(open_cells,)] = con.execute(
            "select count(*) from marts.fct_retention where grain = 'week' and not is_complete "
            "and cohort_start >= date '2026-05-25' - interval 12 week"
        ).fetchall()
        blanks = sum(value is None for row in retention.figure.data[0].z for value in row)
        assert open_cells > 0 and blanks >= open_cells  # running weeks blank, not drawn as a drop


def test_every_axis_is_titled_with_units_and_money_in_the_currency(report: tuple[Settings, Path]) -> None:
    settings, _ = report
    with duckdb.connect(str(settings.published), read_only=True) as con:
        charts = [build(con, "EUR") for build in CHARTS]
    assert all(chart.figure is not None for chart in charts)  # the fixture built every mart
    for chart in charts:
        assert chart.figure is not None
        axes = _shown_axes(chart.figure)
        assert axes, chart.key
        for name, axis in axes.items():
            assert _title(axis), (chart.key, name)
            assert axis.get("tickmode") != "sync", (chart.key, name)  # round ticks of its own
        assert not any(axis.get("overlaying") for axis in _axes(chart.figure).values()), chart.key
        for trace in chart.figure.data:
            if trace.type == "heatmap":
                assert trace.colorbar.title.text, chart.key
    by_key = {chart.key: chart for chart in charts}
    money_axes = {
        "acquisition": ("yaxis", "yaxis2"),
        "ltv": ("yaxis",),
        "economics": ("xaxis",),
        "predicted_ltv": ("xaxis",),
    }
    for key, names in money_axes.items():
        for name in names:
            assert "EUR" in _title(_axes(by_key[key].figure)[name]), (key, name)
    for key in ("active_users", "engagement", "growth_accounting"):  # date axes ticked on Mondays
        figure = by_key[key].figure
        assert figure is not None
        axis = _axes(figure)["xaxis2"]
        assert date.fromisoformat(axis["tick0"]).weekday() == 0 and axis["dtick"] % WEEK_MS == 0, key
    assert active_users and engagement  # imported for the keys above


# --- in a real headless Chromium ---------------------------------------------------------------

PROBE = """<!doctype html><html><head><meta charset="utf-8"><style>
body{{margin:0}} iframe{{border:0;display:block;width:{width}px;height:{height}px}}</style></head><body>
<iframe id="report" src="{src}"></iframe><script>
document.getElementById("report").addEventListener("load", function () {{ setTimeout(function () {{
  var doc = document.getElementById("report").contentDocument, probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({{
    width: doc.defaultView.innerWidth, scrollWidth: doc.documentElement.scrollWidth,
    height: doc.documentElement.scrollHeight,
    plots: Array.prototype.map.call(doc.querySelectorAll(".js-plotly-plot"), function (p) {{
      return {{id: p.id, svg: Number(p.querySelector(".main-svg").getAttribute("width"))}}; }})
  }});
  document.body.appendChild(probe);
}}, 1500); }});
</script></body></html>"""


def _chromium(profile: Path, width: int, height: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM or "chromium",
            *FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=15000",
            f"--window-size={max(width, 500)},{height}",  # headless windows are at least 500 px wide
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _probe_and_shoot(path: Path, work: Path, width: int) -> dict[str, Any]:
    """Load the report in an iframe ``width`` px wide; measure it, then screenshot it whole."""
    frame = work / f"frame-{width}.html"
    frame.write_text(PROBE.format(width=width, height=900, src=path.as_uri()))
    dumped = _chromium(work / f"profile-{width}", width, 900, "--dump-dom", frame.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout, re.S)
    assert match, "the probe found no report in the frame"
    probe: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    frame.write_text(PROBE.format(width=width, height=probe["height"], src=path.as_uri()))
    shot = ARTIFACTS / f"report-{width}px.png"
    shot.unlink(missing_ok=True)
    taken = _chromium(work / f"profile-{width}", width, probe["height"], f"--screenshot={shot}", frame.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    probe["screenshot"] = shot
    return probe


@pytest.fixture(scope="module")
def browser(report: tuple[Settings, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report as Chromium rendered it: the DOM at desktop width, probes and screenshots at both."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    _, path = report
    work = tmp_path_factory.mktemp("chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dom = _chromium(work / "profile-dom", DESKTOP, 900, "--enable-logging=stderr", "--v=0", "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    return {
        "dom": dom.stdout,
        "stderr": dom.stderr,
        DESKTOP: _probe_and_shoot(path, work, DESKTOP),
        PHONE: _probe_and_shoot(path, work, PHONE),
    }


def _dom_with(
    settings: Settings, tmp_path: Path, alter: Callable[[Path], object]
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The report rendered from a copy of the run's snapshot that `alter` changed, and its DOM in Chromium."""
    snapshot = tmp_path / "published.duckdb"
    shutil.copy(settings.published, snapshot)
    alter(snapshot)
    path = render_report(replace(settings, published=snapshot, browser_path=str(tmp_path / "none")), tmp_path / "out")
    dom = _chromium(tmp_path / "profile", DESKTOP, 900, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    return path, dom


def _sections(dom: str) -> dict[str, str]:
    parts = re.split(r'<section class="chart" id="', dom)[1:]
    return {part.split('"', 1)[0]: part.split("</section>", 1)[0] for part in parts}


def _svg_text(fragment: str) -> str:
    """An SVG <text>'s content, its <tspan> lines joined by spaces."""
    return html.unescape(" ".join(part for part in re.split(r"<[^>]+>", fragment) if part.strip())).strip()


def test_rendered_charts_title_every_axis(report: tuple[Settings, Path], browser: dict[str, Any]) -> None:
    settings, _ = report
    segments = {chart.key for chart in _segment_sections(settings.published)}
    dom = browser["dom"]
    assert "Uncaught" not in browser["stderr"] and "CONSOLE(" not in browser["stderr"].replace("CONSOLE(0)", "")
    sections = _sections(dom)
    assert (
        set(sections)
        == {
            "active_users",
            "retention",
            "growth_accounting",
            "activation",
            "funnel",
            "acquisition",
            "ltv",
            "payback",
            "economics",
            "predicted_ltv",
            "engagement",
            "mrr",
            "revenue_retention",
            "campaigns",
        }
        | segments
    )
    assert dom.count('class="plot-container plotly"') == _drawn(settings.published)  # all drawn by plotly.js
    for key, section in sections.items():
        ticks: dict[str, list[str]] = {}
        for axis, label in re.findall(r'<g class="([xy]\d*)tick"><text[^>]*>(.*?)</text>', section, re.S):
            ticks.setdefault(axis, []).append(_svg_text(label))
        titles = {
            axis: _svg_text(text)
            for axis, text in re.findall(r'<text class="([xy]\d*)title"[^>]*>(.*?)</text>', section, re.S)
        }
        assert ticks or key in segments | {"campaigns"}, key  # a "Who retains" section or campaigns: a table
        for axis in ticks:  # every axis that shows a scale has a title
            assert titles.get(axis), (key, axis, titles)
        for colorbar in re.findall(r'<g class="cbtitle">(.*?)</g>', section, re.S):
            assert _svg_text(colorbar), key
        if key in ("acquisition", "ltv", "economics", "predicted_ltv", "mrr"):
            assert any("USD" in title for title in titles.values()), (key, titles)
        if key in ("active_users", "growth_accounting", "activation", "engagement"):
            [axis] = [axis for axis in ticks if axis.startswith("x")]
            for label in ticks[axis]:  # "18 May 2026": every date tick is a Monday
                assert datetime.strptime(label, "%d %b %Y").weekday() == 0, (key, label)


PAYBACK_SQL = """
-- payback per channel recomputed from the warehouse, following metrics.md, without the marts' code:
-- users' channels and signup dates from dim_users, revenue from the staged track events, the data end
-- from the staged events, spend from the economics mart.
with data_end as (select max(event_date) as d from staging.stg_segment__events),
users as (
    select user_key, acquisition_channel as channel, signup_date,
           date_diff('month', date_trunc('month', signup_date), date_trunc('month', (select d from data_end))) - 1
               as age
    from marts.dim_users
),
members as (select user_key, channel, age from users union all select user_key, '(all)', age from users),
revenue as (
    select e.user_key,
           greatest(0, date_diff('month', date_trunc('month', u.signup_date), date_trunc('month', e.event_date)))
               as offset_month,
           sum(s.revenue) as revenue
    from staging.stg_segment__events s
    join intermediate.int_conversion_events e using (message_id)
    join users u using (user_key)
    where s.event_type = 'track' and s.revenue is not null
    group by all
),
cumulative as (
    select user_key, k.k as month, sum(revenue) as revenue
    from revenue join range(0, 60) k(k) on offset_month <= k.k group by all
),
ltv as (
    select m.channel, k.k as month, avg(coalesce(c.revenue, 0)) as ltv_at_month
    from members m join range(0, 60) k(k) on m.age >= k.k
    left join cumulative c on c.user_key = m.user_key and c.month = k.k
    group by all
),
channels as (
    select e.channel, e.spend, (select count(*) from members where members.channel = e.channel) as signups,
           (select max(age) + 1 from members where members.channel = e.channel) as observed
    from marts.fct_channel_economics e
)
select channel, signups, spend / nullif(signups, 0) as cost_per_signup, observed,
       (select min(month) + 1 from ltv
        where ltv.channel = channels.channel and ltv_at_month >= spend / nullif(signups, 0)) as payback
from channels
"""


def test_rendered_payback_values_match_payback_recomputed_from_the_warehouse(
    report: tuple[Settings, Path], browser: dict[str, Any]
) -> None:
    settings, _ = report
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(PAYBACK_SQL).fetchall()
        mart = dict(con.execute("select channel, payback_months from marts.fct_channel_economics").fetchall())
    expected = {}
    for channel, signups, cost, observed, months in rows:
        if not signups:
            label = "no signups"
        elif cost == 0:
            label = "0 months (no spend)"
            months = 0
        elif months is not None:
            label = f"{months} month" + ("" if months == 1 else "s")
        else:
            label = f"not paid back ({observed} month{'' if observed == 1 else 's'} observed)"
        assert mart[channel] == months, channel  # the mart agrees with the recomputation
        expected["all channels" if channel == "(all)" else channel] = label
    assert "not paid back" in " ".join(expected.values()) and any(v[0].isdigit() for v in expected.values())
    section = _sections(browser["dom"])["payback"]
    ticks = {
        _svg_text(text): float(y)
        for y, text in re.findall(r'<g class="ytick"><text[^>]*translate\(0,([-\d.]+)\)[^>]*>(.*?)</text>', section)
    }
    labels = [
        (float(y), _svg_text(text))
        for y, text in re.findall(
            r'<text class="bartext[^"]*"[^>]*translate\([-\d.]+,([-\d.]+)\)[^>]*>(.*?)</text>', section
        )
    ]
    assert len(labels) == len(ticks) == len(expected)
    # tick labels sit in the figure's frame, bar labels in the plot area's: shift by the plot's top
    [top] = re.findall(r'<g class="xy" transform="translate\([-\d.]+,([-\d.]+)\)"', section)
    shown = {min(ticks, key=lambda channel: abs(ticks[channel] - y - float(top))): label for y, label in labels}
    assert shown == expected


def test_readable_at_phone_width_and_screenshots_written(
    report: tuple[Settings, Path], browser: dict[str, Any]
) -> None:
    phone, desktop = browser[PHONE], browser[DESKTOP]
    assert phone["width"] == PHONE
    assert phone["scrollWidth"] <= PHONE  # nothing sticks out sideways
    assert len(phone["plots"]) == _drawn(report[0].published)
    for plot in phone["plots"]:
        assert 300 <= plot["svg"] <= PHONE - 16, plot  # each chart fits inside the page's padding
    for plot in desktop["plots"]:
        assert plot["svg"] > 900, plot  # and uses the room a desktop gives
    for probe in (phone, desktop):
        # A blank page of this size compresses to a few kB; drawn charts and tiles take far more.
        assert probe["screenshot"].stat().st_size > 150_000, f"{probe['screenshot']} looks blank"


# --- experiments: hand-made marts (tests/_experiment_data.READOUT) ------------------------------
#
# onboarding_checklist, activation: 960 / 4800 = 20 % vs 1200 / 4800 = 25 %: lift 0.25 / 0.20 - 1 = +25.0 %.
# s²_c = (960 - 960²/4800) / 4799 = 768 / 4799, s²_t = 900 / 4799;
# V = s²_t / (4800 · 0.2²) + 0.25² · s²_c / (4800 · 0.2⁴) = 0.00097677 + 0.00130235 = 0.00227912.
# rho² = (-2 ln 0.05 + ln(-2 ln 0.05 + 1)) / 5000 = 0.00158723; N = 9600, N rho² = 15.2374;
# half-width = √(N V) · √(2 (N rho² + 1) / (N² rho²) · ln(√(N rho² + 1) / 0.05)) = 0.1460: +10.4 % to +39.6 %.
# revenue: 10.3 / 10 - 1 = +3.0 %, V = 400 / (4800 · 100) + 10.3² · 400 / (4800 · 10⁴) = 0.001717: ±12.7 %.
# support_tickets (decrease, guardrail): 0.15 / 0.10 - 1 = +50.0 %, interval above 0: a loss.
# search_ranking: 1000 vs 1300 users on 50/50: χ² = 2 · 150² / 1150 = 39.13, p = erfc(√19.565) = 4.0e-10.


def _sequential(lift: float, variance: float, users: int) -> tuple[float, float]:
    rho2 = (-2 * math.log(0.05) + math.log(-2 * math.log(0.05) + 1)) / 5000
    spread = users * rho2 + 1
    half = math.sqrt(users * variance) * math.sqrt(2 * spread / (users**2 * rho2) * math.log(math.sqrt(spread) / 0.05))
    return lift - half, lift + half


@pytest.fixture(scope="module")
def readout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding READOUT's experiment marts, as the engine wrote them."""
    return build_experiment_marts(tmp_path_factory.mktemp("readout") / "warehouse.duckdb").warehouse


def test_experiment_readouts_say_the_decision_in_words(readout: Path) -> None:
    v_activation = (900 / 4799) / (4800 * 0.2**2) + 0.25**2 * (768 / 4799) / (4800 * 0.2**4)
    low, high = _sequential(0.25, v_activation, 9600)
    assert (round(low * 100, 1), round(high * 100, 1)) == (10.4, 39.6)
    with duckdb.connect(str(readout), read_only=True) as con:
        charts = experiment_charts(con)
    # most recent exposure first: search_ranking and onboarding both end on 26 May, search started later
    assert [chart.key for chart in charts] == [
        "experiment-search_ranking",
        "experiment-onboarding_checklist",
        "experiment-pricing_page",
    ]
    broken, onboarding, pricing = charts
    assert broken.warnings == ("Sample ratio mismatch (p < 0.000001): the split is broken, results are invalid.",)
    assert [line.text for line in broken.lines] == [
        "ML ranking on activation: invalid, the split is broken (+50.0 % measured, not to be trusted)"
    ]
    assert onboarding.warnings == ()
    assert onboarding.title == "Experiment: Onboarding checklist"
    assert onboarding.takeaway == (
        "Checklist wins on activation (+25.0 %); Checklist loses on the guardrail support_tickets."
    )
    assert [(line.text, line.alert) for line in onboarding.lines] == [
        ("Checklist wins on activation: +25.0 % (always-valid interval +10.4 % to +39.6 %)", False),
        (
            "Checklist on revenue: inconclusive, +3.0 % (always-valid interval \u22129.7 % to +15.7 %, includes 0)",
            False,
        ),
        ("Checklist loses on support_tickets (guardrail): +50.0 % (always-valid interval +24.6 % to +75.4 %)", True),
    ]
    # 40 unusable of 10,010 assigned + 10 multiple-exposure + 40 unusable = 0.4 %; 200 + 210 in progress
    assert "3 treatment \u00d7 metric comparisons, no correction for multiple comparisons" in onboarding.note
    assert "Unusable exposures: 40 (0.4 % of exposures" in onboarding.note
    assert "anonymous visitors never identified" in onboarding.note
    assert "410 for activation, revenue, support_tickets" in onboarding.note
    assert pricing.takeaway == "No decision yet: all 2 comparisons inconclusive."
    assert pricing.lines[1].text == (  # 4 buyers < experiment_min_nonzero = 5: no interval
        "monthly_first on purchase: inconclusive, too little data for an interval (610 users counted, 0 in progress)"
    )
    figure = onboarding.figure
    assert figure is not None
    axes = _axes(figure)
    assert _title(axes["xaxis"]) == AXIS_TITLE and axes["xaxis"]["tickformat"] == ".0%"
    assert _title(axes["yaxis"]) and not any(axis.get("overlaying") for axis in axes.values())
    assert [shape["x0"] for shape in figure.layout.shapes] == [0]  # the zero line
    traces = {trace.name: trace for trace in figure.data}
    sequential, fixed = traces[SEQUENTIAL], traces[FIXED]
    assert sequential.line.width > 3 * fixed.line.width  # the interval to decide on is the thick one
    assert list(sequential.x[:2]) == pytest.approx([low, high])
    z = 1.959963984540054
    assert list(fixed.x[:2]) == pytest.approx([0.25 - z * math.sqrt(v_activation), 0.25 + z * math.sqrt(v_activation)])
    assert list(traces["win"].x) == pytest.approx([0.25]) and list(traces["loss"].x) == pytest.approx([0.5])
    assert list(figure.layout.yaxis.categoryarray) == [
        "Checklist<br>activation",
        "Checklist<br>revenue",
        "Checklist<br>support_tickets (guardrail)",
    ]
    assert p_text(0.00001) == "0.00001" and p_text(0.0123) == "0.012"


def test_no_experiments_is_one_line_and_no_marts_no_section(tmp_path: Path, hand: duckdb.DuckDBPyConnection) -> None:
    assert experiment_charts(hand) == []  # a snapshot from before experiments: nothing to say
    empty = build_experiment_marts(tmp_path / "warehouse.duckdb", ExperimentData([], [], [])).warehouse
    with duckdb.connect(str(empty), read_only=True) as con:
        [chart] = experiment_charts(con)
    assert chart.figure is None and chart.takeaway.startswith("No experiments")


EXPERIMENT_PROBE = """<!doctype html><html><head><meta charset="utf-8"><style>
body{{margin:0}} iframe{{border:0;display:block;width:{width}px;height:900px}}</style></head><body>
<iframe id="report" src="{src}"></iframe><script>
document.getElementById("report").addEventListener("load", function () {{ setTimeout(function () {{
  var doc = document.getElementById("report").contentDocument, probe = document.createElement("pre");
  function texts(section, selector) {{
    return Array.prototype.map.call(section.querySelectorAll(selector), function (e) {{
      return {{text: e.textContent, color: doc.defaultView.getComputedStyle(e).color}}; }});
  }}
  probe.id = "probe";
  probe.textContent = JSON.stringify(Array.prototype.map.call(
    doc.querySelectorAll("section[id^=experiment-]"), function (s) {{
      return {{id: s.id, warnings: texts(s, ".warning"), findings: texts(s, ".findings li"),
               width: doc.documentElement.scrollWidth}}; }}));
  document.body.appendChild(probe);
}}, 1500); }});
</script></body></html>"""
RED = "rgb(198, 40, 40)"


def test_rendered_experiments_show_the_forest_plot_and_red_warnings(
    report: tuple[Settings, Path], readout: Path, tmp_path: Path
) -> None:
    """The report of a real run with READOUT's experiment marts in its snapshot, in Chromium."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    settings, _ = report
    path, dom = _dom_with(settings, tmp_path, lambda snapshot: copy_experiment_marts(readout, snapshot))
    sections = _sections(dom.stdout)
    section = sections["experiment-onboarding_checklist"]
    titles = [_svg_text(text) for text in re.findall(r'<text class="xtitle"[^>]*>(.*?)</text>', section, re.S)]
    assert titles == [AXIS_TITLE]
    ticks = [_svg_text(text) for text in re.findall(r'<g class="xtick"><text[^>]*>(.*?)</text>', section, re.S)]
    assert "0%" in ticks and all(re.fullmatch(r"[\u2212-]?\d+%", tick) for tick in ticks), ticks
    labels = [
        _svg_text(text)  # top to bottom: by the tick's y position
        for _, text in sorted(
            (float(y), text)
            for y, text in re.findall(
                r'<g class="ytick"><text[^>]*translate\(0,([-\d.]+)\)[^>]*>(.*?)</text>', section, re.S
            )
        )
    ]
    assert labels == ["Checklist activation", "Checklist revenue", "Checklist support_tickets (guardrail)"]
    legend = [_svg_text(text) for text in re.findall(r'<text class="legendtext"[^>]*>(.*?)</text>', section, re.S)]
    assert SEQUENTIAL in legend and FIXED in legend
    text = _visible_text(section)
    assert "Checklist wins on activation: +25.0 % (always-valid interval +10.4 % to +39.6 %)" in text
    frame = tmp_path / "probe.html"
    frame.write_text(EXPERIMENT_PROBE.format(width=PHONE, src=path.as_uri()))
    probed = _chromium(tmp_path / "profile-probe", PHONE, 900, "--dump-dom", frame.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', probed.stdout, re.S)
    assert match, probed.stderr[-2000:]
    readouts = {item["id"]: item for item in json.loads(html.unescape(match.group(1)))}
    assert set(readouts) == {"experiment-onboarding_checklist", "experiment-search_ranking", "experiment-pricing_page"}
    [warning] = readouts["experiment-search_ranking"]["warnings"]
    assert warning["text"].startswith("Sample ratio mismatch (p < 0.000001)") and warning["color"] == RED
    assert readouts["experiment-onboarding_checklist"]["warnings"] == []  # a healthy split: no warning
    findings = readouts["experiment-onboarding_checklist"]["findings"]
    assert [item["color"] == RED for item in findings] == [False, False, True]  # the guardrail loss in red
    assert findings[2]["text"].startswith("Checklist loses on support_tickets (guardrail)")
    assert all(item["width"] <= PHONE for item in readouts.values())  # nothing wider than a phone
    assert READOUT.experiments  # the data the expectations above were worked out from


# --- who retains: hand-made segment marts (tests/_segment_data.py) ------------------------------
#
# Week 4 of weekly cohorts; the data ends on 27 May 2026, so week 4 is complete for cohorts up to
# 20 Apr. Pooled: the latest four complete cohorts, 30 Mar, 6 Apr, 13 Apr and 20 Apr (23 Mar is
# older, 27 Apr still running; the week-3 and month rows are not week 4 of a weekly cohort).
# plan:    pro    10/40 + 30/60                 = 40/100 = 40.0 %
#          free   5/50 + 10/50 + 15/100 + 20/100 = 50/300 = 16.7 %
#          (none) 3/10 + 2/10                    =  5/20  = 25.0 %  (shown last, as the mart names it)
# channel: ads    2/20 + 9/30 + 15/70 + 30/80    = 56/200 = 28.0 %
#          organic 3/30 + 4/30 + 8/60 + 20/80    = 35/200 = 17.5 %
#          (other) 2/10 + 2/10                   =  4/20  = 20.0 %
# all users, from either dimension's rows: (40 + 50 + 5) / (100 + 300 + 20) = 95/420 = 22.6 %.


@pytest.fixture(scope="module")
def segmented() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    write_segment_marts(con)
    yield con
    con.close()


def _by_key(con: duckdb.DuckDBPyConnection) -> dict[str, Chart]:
    return {chart.key: chart for chart in segment_charts(con)}


def test_week4_retention_by_segment_pools_the_latest_four_complete_cohorts(
    segmented: duckdb.DuckDBPyConnection,
) -> None:
    charts = _by_key(segmented)
    assert list(charts) == [
        "segments-acquisition_channel",
        "segments-trait_plan",
        "segments-features",
        "segments-adoption",
        "segments-accounts",
    ]
    for key, labels, rates, texts in (
        (
            "segments-trait_plan",
            ["pro (n=100)", "free (n=300)", "(none) (n=20)"],
            [40 / 100, 50 / 300, 5 / 20],
            ["40.0%", "16.7%", "25.0%"],
        ),
        (
            "segments-acquisition_channel",
            ["ads (n=200)", "organic (n=200)", "(other) (n=20)"],
            [56 / 200, 35 / 200, 4 / 20],
            ["28.0%", "17.5%", "20.0%"],
        ),
    ):
        chart = charts[key]
        assert chart.figure is not None
        [bars] = chart.figure.data
        assert list(bars.y) == labels and list(bars.text) == texts
        assert list(bars.x) == pytest.approx(rates)
        [line] = chart.figure.layout.shapes  # the all-users reference, from the same rows
        assert line.x0 == line.x1 == pytest.approx(95 / 420)
        assert [note.text for note in chart.figure.layout.annotations] == ["all users 22.6%"]
        axes = _axes(chart.figure)
        assert _title(axes["xaxis"]) == RETENTION_AXIS and axes["xaxis"]["tickformat"] == ".0%"
        assert "Pooled: the 4 latest weekly signup cohorts whose week 4 is complete" in chart.note
        assert "(weeks of 30 Mar, 6 Apr, 13 Apr and 20 Apr 2026)" in chart.note
        assert "all 420 users of those cohorts (22.6%)" in chart.note
    plan = charts["segments-trait_plan"]
    assert plan.title == "Who retains: week-4 retention by plan"
    assert _title(_axes(plan.figure)["yaxis"]) == "plan"
    # (none) and (other) hold 20 users each, under the 30 a takeaway ranks: named on their bars only
    assert plan.takeaway == (
        "Week-4 retention by plan: pro highest at 40.0% (n=100), free lowest at 16.7% (n=300), "
        "against 22.6% for all users (1 segment under 30 users not ranked)."
    )
    assert charts["segments-acquisition_channel"].takeaway == (
        "Week-4 retention by acquisition channel: ads highest at 28.0% (n=200), organic lowest at 17.5% "
        "(n=200), against 22.6% for all users (1 segment under 30 users not ranked)."
    )
    # a segment of 2 retained users out of 2 would top any ranking by chance: it is not ranked
    few = [Pooled("enterprise", 2, 2), Pooled("pro", 100, 40), Pooled("free", 300, 50)]
    assert segment_takeaway("plan", few, Pooled("all users", 402, 92)) == (
        "Week-4 retention by plan: pro highest at 40.0% (n=100), free lowest at 16.7% (n=300), "
        "against 22.9% for all users (1 segment under 30 users not ranked)."
    )
    tiny = [Pooled("b", 10, 5), Pooled("a", 5, 1)]  # fewer than two segments of 30: all ranked
    assert segment_takeaway("plan", tiny, Pooled("all users", 15, 6)) == (
        "Week-4 retention by plan: b highest at 50.0% (n=10), a lowest at 20.0% (n=5), against 40.0% for all users."
    )


def test_feature_table_is_labelled_an_association(segmented: duckdb.DuckDBPyConnection) -> None:
    features = _by_key(segmented)["segments-features"]
    assert features.title == FEATURE_TITLE
    assert "association, not cause" in features.title and "experiments measure effects" in features.title
    assert features.note.startswith("Association, not cause")
    # search: 48/120 = 40.0 % vs 75/300 = 25.0 %, +15.0 points, the largest difference
    assert features.takeaway == (
        "Early adopters of search retain 15.0 points better in week 4 than non-adopters (40.0% vs 25.0%): "
        "an association, not an effect of the feature."
    )
    assert features.figure is not None
    [table] = features.figure.data
    assert table.type == "table"
    # by difference, largest first; adoption: latest complete week 18 May against 20 Apr (4 weeks before):
    # search 31 % (+11 points), Dashboard Shared 8 % (-2 points); Export: nobody adopted it, no adoption rows.
    assert list(zip(*table.cells.values, strict=True)) == [
        ("search", "31.0%<br>+11.0 pt", "40.0%<br>n=120", "25.0%<br>n=300", "+15.0 pt"),
        ("Dashboard<br>Shared", "8.0%<br>\u22122.0 pt", "30.0%<br>n=50", "30.0%<br>n=370", "0.0 pt"),
        ("Export", "n/a", "n/a<br>n=0", "26.2%<br>n=420", "n/a"),  # 110/420 = 26.2 %
    ]


def test_feature_adoption_leaves_the_running_week_out(segmented: duckdb.DuckDBPyConnection) -> None:
    adoption = _by_key(segmented)["segments-adoption"]
    assert adoption.figure is not None
    traces = {trace.name: trace for trace in adoption.figure.data}
    assert set(traces) == {"search", "Dashboard Shared"}
    for trace in traces.values():  # 23 Mar .. 18 May; the running week of 25 May (search 90 %) not drawn
        assert _days(trace.x) == [date(2026, 3, 23) + timedelta(weeks=k) for k in range(9)]
    assert list(traces["search"].y) == pytest.approx([0.15, 0.17, 0.18, 0.19, 0.20, 0.22, 0.25, 0.28, 0.31])
    axes = _axes(adoption.figure)
    assert _title(axes["yaxis"]) == "used the feature (% of active users)" and axes["yaxis"]["tickformat"] == ".0%"
    assert date.fromisoformat(axes["xaxis"]["tick0"]).weekday() == 0
    assert adoption.takeaway == (
        "Week of 18\u201324 May 2026: search is the most used feature (31.0% of active users, up 11.0 points "
        "on the week of 20\u201326 Apr 2026)."
    )
    assert adoption.note == "Week of 25\u201331 May 2026 still running: left out."


def test_account_retention_by_cohort_with_the_account_counts(segmented: duckdb.DuckDBPyConnection) -> None:
    accounts = _by_key(segmented)["segments-accounts"]
    assert accounts.figure is not None
    [bars] = accounts.figure.data
    # complete week-4 cohorts: 30 Mar 1/2, 13 Apr 3/4, 20 Apr 2/5; 27 Apr running, week 0 and months not drawn
    assert _days(bars.x) == [date(2026, 3, 30), date(2026, 4, 13), date(2026, 4, 20)]
    assert list(bars.y) == [0.5, 0.75, 0.4] and list(bars.text) == ["50.0%", "75.0%", "40.0%"]
    axes = _axes(accounts.figure)
    assert _title(axes["yaxis"]) == "accounts active in week 4 (% of cohort)" and axes["yaxis"]["tickformat"] == ".0%"
    # 14 accounts, 9 with a user active in the last 30 days; 40 % vs 75 %: down 35.0 points
    assert accounts.takeaway == (
        "14 accounts, 9 active in the last 30 days; week-4 account retention 40.0% for the 20 Apr 2026 cohort "
        "(5 accounts), down 35.0 points on the cohort before (75.0%)."
    )
    assert "Cohorts still inside week 4 are left out (1 cohort)." in accounts.note


def test_who_retains_before_the_marts_existed_and_on_empty_marts(hand: duckdb.DuckDBPyConnection) -> None:
    [chart] = segment_charts(hand)  # a snapshot published before the segment marts: one sentence
    assert (chart.key, chart.title, chart.takeaway, chart.figure) == ("segments", TITLE, NOT_THERE_YET, None)
    assert NOT_THERE_YET.count(". ") == 0 and NOT_THERE_YET.endswith(".")
    with duckdb.connect(":memory:") as con:
        write_segment_marts(con, {})  # the marts exist, nobody in them yet
        charts = segment_charts(con)
    assert [(c.key, c.takeaway, c.figure) for c in charts] == [
        ("segments-retention", "No weekly cohort has reached week 4 yet.", None),
        (
            "segments-features",
            "No feature to compare: none configured and no track event used by at least 1% of users.",
            None,
        ),
        ("segments-accounts", "No accounts yet: no group call with a known user reached the warehouse.", None),
    ]


SEGMENT_PROBE = """<!doctype html><html><head><meta charset="utf-8"><style>
body{{margin:0}} iframe{{border:0;display:block;width:{width}px;height:900px}}</style></head><body>
<iframe id="report" src="{src}"></iframe><script>
document.getElementById("report").addEventListener("load", function () {{ setTimeout(function () {{
  var doc = document.getElementById("report").contentDocument, probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({{width: doc.documentElement.scrollWidth,
    sections: Array.prototype.map.call(doc.querySelectorAll("section[id^=segments]"), function (s) {{
      var svg = s.querySelector(".main-svg");
      return {{id: s.id, width: s.scrollWidth, svg: svg ? Number(svg.getAttribute("width")) : null}}; }})}});
  document.body.appendChild(probe);
}}, 1500); }});
</script></body></html>"""


def _texts(section: str, pattern: str) -> list[str]:
    """SVG texts of a section matching ``pattern`` (one group: the text's content), top to bottom."""
    found = re.findall(pattern, section, re.S)
    return [_svg_text(text) for text in found]


def test_rendered_who_retains_in_chromium(report: tuple[Settings, Path], tmp_path: Path) -> None:
    """The report of a real run with the hand-made segment marts in its snapshot, in Chromium."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    settings, _ = report
    path, dom = _dom_with(settings, tmp_path, copy_segment_marts)
    sections = _sections(dom.stdout)
    keys = [key for key in sections if key.startswith("segments")]
    assert keys == [
        "segments-acquisition_channel",
        "segments-trait_plan",
        "segments-features",
        "segments-adoption",
        "segments-accounts",
    ]
    for key, axis, labels, values in (
        ("segments-trait_plan", "plan", ["pro (n=100)", "free (n=300)", "(none) (n=20)"], ["40.0%", "16.7%", "25.0%"]),
        (
            "segments-acquisition_channel",
            "acquisition channel",
            ["ads (n=200)", "organic (n=200)", "(other) (n=20)"],
            ["28.0%", "17.5%", "20.0%"],
        ),
    ):
        section = sections[key]
        assert _texts(section, r'<text class="xtitle"[^>]*>(.*?)</text>') == [RETENTION_AXIS]
        assert _texts(section, r'<text class="ytitle"[^>]*>(.*?)</text>') == [axis]
        ticks = _texts(section, r'<g class="xtick"><text[^>]*>(.*?)</text>')
        assert "0%" in ticks and all(re.fullmatch(r"\d+%", tick) for tick in ticks), ticks
        rows = sorted(
            (float(y), _svg_text(text))
            for y, text in re.findall(
                r'<g class="ytick"><text[^>]*translate\(0,([-\d.]+)\)[^>]*>(.*?)</text>', section, re.S
            )
        )
        assert [label for _, label in rows] == labels  # top to bottom, each with its pooled n
        bars = sorted(
            (float(y), _svg_text(text))
            for y, text in re.findall(
                r'<text class="bartext[^"]*"[^>]*translate\([-\d.]+,([-\d.]+)\)[^>]*>(.*?)</text>', section, re.S
            )
        )
        assert [label for _, label in bars] == values
        assert "all users 22.6%" in _visible_text(section)
    features = sections["segments-features"]
    heading = _visible_text(re.search(r"<h2>(.*?)</h2>", features, re.S).group(1))  # type: ignore[union-attr]
    assert heading == FEATURE_TITLE and "association, not cause" in heading
    cells = _texts(features, r'<text class="cell-text"[^>]*>(.*?)</text>')
    assert {"feature", "search", "31.0% +11.0 pt", "40.0% n=120", "25.0% n=300", "+15.0 pt", "Dashboard Shared"} <= set(
        cells
    )
    assert "an association, not an effect of the feature" in _visible_text(features)
    accounts = _visible_text(sections["segments-accounts"])
    assert "14 accounts, 9 active in the last 30 days" in accounts
    assert _texts(sections["segments-accounts"], r'<text class="ytitle"[^>]*>(.*?)</text>') == [
        "accounts active in week 4 (% of cohort)"
    ]
    frame = tmp_path / "probe.html"
    frame.write_text(SEGMENT_PROBE.format(width=PHONE, src=path.as_uri()))
    probed = _chromium(tmp_path / "profile-probe", PHONE, 900, "--dump-dom", frame.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', probed.stdout, re.S)
    assert match, probed.stderr[-2000:]
    probe = json.loads(html.unescape(match.group(1)))
    assert probe["width"] <= PHONE  # nothing sticks out sideways at a phone's width
    assert [item["id"] for item in probe["sections"]] == keys
    for item in probe["sections"]:
        assert item["width"] <= PHONE and 300 <= item["svg"] <= PHONE - 16, item


def test_rendered_who_retains_on_a_snapshot_from_before_the_segment_marts(
    report: tuple[Settings, Path], tmp_path: Path
) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it when run as root)")
    settings, _ = report
    _, dom = _dom_with(settings, tmp_path, drop_segment_marts)
    sections = _sections(dom.stdout)
    assert [key for key in sections if key.startswith("segments")] == ["segments"]
    section = sections["segments"].split(">", 1)[1]  # after the section tag's id
    assert _visible_text(section).strip() == f"{TITLE} {NOT_THERE_YET}"  # the heading and one sentence
    # the rest as before: the core charts and the recurring-revenue ones, whose marts are kept
    drawn = len(CHARTS) + len(_revenue_sections(settings.published))
    assert set(CHARTS) and dom.stdout.count('class="plot-container plotly"') == drawn
