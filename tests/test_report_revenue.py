"""The report's recurring-revenue sections on hand-made marts, expected texts worked out by hand.

The marts hold the rows of tests/_revenue_data.py, worked out by hand from the events of
tests/test_dbt_revenue.py (January to June 2026, the data ending on 15 June, so June is
running).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from analysts.report.revenue import CAMPAIGN_TITLE, NOT_THERE_YET, revenue_charts
from analysts.report.style import Chart
from tests._revenue_data import APR, CAMPAIGNS, FEB, JAN, MAR, MAY, MRR, RETENTION

TABLES: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "fct_mrr": (
        "month date, mrr double, customers bigint, arpu double, new_mrr double, expansion_mrr double, "
        "contraction_mrr double, churned_mrr double, reactivation_mrr double, unrecognized_intervals bigint, "
        "is_complete boolean",
        MRR,
    ),
    "fct_revenue_retention": (
        "cohort_month date, months_since_start integer, customers bigint, starting_mrr double, mrr double, "
        "retained_customers bigint, net_revenue_retention double, gross_revenue_retention double, "
        "is_complete boolean",
        RETENTION,
    ),
    "fct_campaign_acquisition": (
        "month date, channel varchar, campaign varchar, spend double, signups bigint, new_customers bigint, "
        "cost_per_signup double, cac double, revenue_to_date double",
        CAMPAIGNS,
    ),
}


@pytest.fixture(scope="module")
def charts() -> Iterator[dict[str, Chart]]:
    with duckdb.connect() as con:
        con.execute("create schema marts")
        for table, (columns, rows) in TABLES.items():
            con.execute(f"create table marts.{table} ({columns})")
            con.executemany(f"insert into marts.{table} values ({', '.join('?' * len(rows[0]))})", rows)
        yield {chart.key: chart for chart in revenue_charts(con, "EUR")}


def axes(chart: Chart) -> dict[str, Any]:
    assert chart.figure is not None
    layout: dict[str, Any] = chart.figure.to_plotly_json()["layout"]
    return {name: axis for name, axis in layout.items() if name.startswith(("xaxis", "yaxis"))}


def test_mrr_line_above_movements_with_churn_and_contraction_below_zero(charts: dict[str, Chart]) -> None:
    chart = charts["mrr"]
    assert chart.figure is not None
    traces = {trace.name: trace for trace in chart.figure.data}
    assert list(traces) == ["MRR", "new", "expansion", "reactivation", "contraction", "churned"]
    # June is running: January to May only.
    assert list(traces["MRR"].x) == [JAN, FEB, MAR, APR, MAY]
    assert list(traces["MRR"].y) == [80, 90, 220, 125, 240]
    assert list(traces["new"].y) == [80, 10, 100, 0, 80]
    assert list(traces["expansion"].y) == [0, 0, 30, 0, 0]
    assert list(traces["reactivation"].y) == [0, 0, 0, 0, 35]
    assert list(traces["contraction"].y) == [0, 0, 0, -15, 0]  # taken away: below zero
    assert list(traces["churned"].y) == [0, 0, 0, -80, 0]
    assert {traces[name].type for name in traces} == {"scatter", "bar"} and traces["MRR"].type == "scatter"
    assert chart.figure.layout.barmode == "relative"  # stacked, ups above zero and downs below
    # Each month's bars add up to the change of the line: April 220 - 15 - 80 = 125.
    shown = axes(chart)
    assert shown["yaxis"]["title"]["text"] == "MRR (EUR)"
    assert shown["yaxis2"]["title"]["text"] == "movements (EUR per month;<br>contraction and churn below 0)"
    assert shown["xaxis2"]["title"]["text"] == "month" and shown["xaxis2"]["tickformat"] == "%b %Y"
    # May against April: 240 - 125 = +115.00, 115 / 125 = +92%.
    assert chart.takeaway == (
        "May 2026: MRR 240.00 EUR from 4 customers; +115.00 EUR on April (+92%): 80 EUR new, 0 EUR expansion, "
        "35 EUR reactivation, against 0 EUR contraction and 0 EUR churned."
    )
    assert "June 2026 still running: left out (MRR so far 240.00 EUR from 4 customers)." in chart.note
    # 2 + 2 purchases with an unrecognised interval
    assert chart.warnings == (
        "4 purchases carry a billing interval other than month, quarter or year: counted as one-time revenue, "
        "not as MRR.",
    )


def test_nrr_and_grr_by_cohort_complete_months_only(charts: dict[str, Chart]) -> None:
    chart = charts["revenue_retention"]
    assert chart.figure is not None
    traces = {trace.name: trace for trace in chart.figure.data}
    assert list(traces) == [f"{month} 2026 {kind}" for month in ("Jan", "Feb", "Mar", "May") for kind in ("NRR", "GRR")]
    names = {trace.name: trace.line.dash for trace in chart.figure.data}
    assert names["Jan 2026 NRR"] == "solid" and names["Jan 2026 GRR"] == "dot"
    # January's month 5 (June) is running: months 0-4.
    assert list(traces["Jan 2026 NRR"].x) == [0, 1, 2, 3, 4]
    assert list(traces["Jan 2026 NRR"].y) == [1, 1, 1, 0, 0.4375]
    assert list(traces["Jan 2026 GRR"].y) == [1, 1, 1, 0, 0.375]
    assert list(traces["Feb 2026 NRR"].y) == [1, 4, 2.5, 2.5]  # expansion lifts NRR above 100% ...
    assert list(traces["Feb 2026 GRR"].y) == [1, 1, 1, 1]  # ... never GRR
    shown = axes(chart)
    assert shown["xaxis"]["title"]["text"] == "months since the cohort's first month with MRR"
    assert shown["yaxis"]["title"]["text"] == "MRR kept (% of the cohort's first month)"
    assert shown["yaxis"]["tickformat"] == ".0%"
    # The oldest cohort (January) at its latest complete month (4): 35 / 80 = 44%, capped 30 / 80 = 38%
    # (37.5 rounds to even); the newest with a complete month 1 is March (May's month 1 runs).
    assert chart.takeaway == (
        "Cohort of January 2026 after 4 months: NRR 44%, GRR 38%; cohort of March 2026 after 1 month: "
        "NRR 100%, GRR 100%."
    )


def test_campaign_table_ranked_by_cost_per_signup_with_revenue_so_far(charts: dict[str, Chart]) -> None:
    chart = charts["campaigns"]
    assert chart.figure is not None and chart.title == CAMPAIGN_TITLE
    [table] = chart.figure.data
    assert list(table.header.values) == [
        "channel", "campaign", "spend (EUR)", "signups", "cost per signup (EUR)", "new customers",
        "CAC per customer (EUR)", "revenue so far (EUR)",
    ]  # fmt: skip
    rows = list(zip(*table.cells.values, strict=True))
    # Summed over months: google / brand search 20 + 150 = 170 for 2 signups (85.00 each), 2 new
    # customers, 130 so far; facebook / retargeting a zero spend row: 0 for 1 signup and March's new
    # customer, 1,200 so far. Ranked by cost per signup (0, 80, 85), then without spend by signups
    # (google / (none): January's and February's, 125 + 115 = 240), then spend without signups by spend.
    assert rows == [
        ("facebook", "retargeting", "0", "1", "0.00", "1", "0.00", "1,200"),
        ("linkedin", "(unattributed)", "80", "1", "80.00", "1", "80.00", "140"),
        ("google", "brand search", "170", "2", "85.00", "2", "85.00", "130"),
        ("google", "(none)", "no spend", "2", "n/a", "2", "n/a", "240"),
        ("direct", "(none)", "no spend", "1", "n/a", "1", "n/a", "200"),
        ("google", "(unattributed)", "50", "0", "n/a", "0", "n/a", "0"),
        ("facebook", "lookalike", "30", "0", "n/a", "0", "n/a", "0"),
    ]
    assert chart.takeaway == (
        "Cheapest signups: facebook / retargeting at 0.00 EUR per signup (1 signup, revenue so far 1,200 EUR); "
        "dearest: google / brand search at 85.00 EUR per signup (2 signups, revenue so far 130 EUR)."
    )
    assert "(none): users without a campaign; (unattributed): spend without one; the two never match." in chart.note


def test_a_snapshot_from_before_the_revenue_marts_gets_one_sentence() -> None:
    with duckdb.connect() as con:
        con.execute("create schema marts")
        [chart] = revenue_charts(con)
    assert chart.figure is None and chart.takeaway == NOT_THERE_YET
