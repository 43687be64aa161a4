"""The report's recurring-revenue section (issue #18): MRR, revenue retention, campaigns.

Three sections, read from the marts of docs/revenue.md:

- MRR by month (``marts.fct_mrr``): the MRR line above its movements, stacked bars with
  new, expansion and reactivation up and contraction and churn down (negative bars), so a
  month's bars sum to the change of the line; the running month is left out and named;
- net and gross revenue retention by customer cohort (``marts.fct_revenue_retention``),
  complete months only, the latest :data:`COHORTS` cohorts;
- a campaign table (``marts.fct_campaign_acquisition``): every campaign's spend, signups,
  cost per signup, new customers, CAC per customer and revenue so far over all months,
  ranked by cost per signup (cheapest first).

A snapshot published before these marts existed gets one section saying so in a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analysts.report.segments import present_marts
from analysts.report.style import PALETTE, Chart, layout, money, month_axis, relative, signed

REVENUE_MARTS = ("fct_mrr", "fct_revenue_retention", "fct_campaign_acquisition")
NOT_THERE_YET = (
    "MRR, revenue retention and campaign economics are not in the published data yet: "
    "they appear after the first build that makes their marts."
)
MRR_TITLE = "MRR and its movements by month"
RETENTION_TITLE = "Net and gross revenue retention by customer cohort"
CAMPAIGN_TITLE = "Campaigns ranked by cost per signup, with revenue so far"
COHORTS = 6  # cohorts drawn in the retention chart: the latest ones with a complete month
# (mart column, trace name, sign of the bar, color): what adds MRR goes up, what takes it away down.
MOVEMENTS = (
    ("new_mrr", "new", 1, "#2b8cbe"),
    ("expansion_mrr", "expansion", 1, "#31a354"),
    ("reactivation_mrr", "reactivation", 1, "#a1d99b"),
    ("contraction_mrr", "contraction", -1, "#fd8d3c"),
    ("churned_mrr", "churned", -1, "#de2d26"),
)
MRR_COLOR = "#333333"


def _month(value: date) -> str:
    return f"{value:%B %Y}"


# --- MRR -----------------------------------------------------------------------------------


def mrr_chart(df: pl.DataFrame, currency: str) -> Chart:
    """MRR above its movements, complete months only (``df``: fct_mrr, ordered by month)."""
    complete = df.filter(pl.col("is_complete"))
    notes = [
        f"{_month(row['month'])} still running: left out (MRR so far {money(row['mrr'], currency)} from "
        f"{row['customers']:,} customer{'' if row['customers'] == 1 else 's'})."
        for row in df.filter(~pl.col("is_complete")).iter_rows(named=True)
    ]
    unrecognized = int(df["unrecognized_intervals"].sum() or 0)
    warnings = (
        (
            f"{unrecognized:,} purchase{' carries' if unrecognized == 1 else 's carry'} a billing interval other "
            "than month, quarter or year: counted as one-time revenue, not as MRR.",
        )
        if unrecognized
        else ()
    )
    if not complete.height:
        takeaway = "No recurring revenue yet." if not df.height else "No complete month with MRR yet."
        return Chart("mrr", MRR_TITLE, takeaway, None, " ".join(notes), warnings)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.45, 0.55], vertical_spacing=0.06)
    fig.add_scatter(
        x=complete["month"],
        y=complete["mrr"],
        name="MRR",
        mode="lines+markers",
        line_color=MRR_COLOR,
        hovertemplate=f"MRR %{{y:,.2f}} {currency}<extra>%{{x|%B %Y}}</extra>",
        row=1,
        col=1,
    )
    for column, name, sign, color in MOVEMENTS:
        fig.add_bar(
            x=complete["month"],
            y=complete[column] * sign,
            name=name,
            marker_color=color,
            customdata=complete[column],
            hovertemplate=f"{name} %{{customdata:,.2f}} {currency}<extra>%{{x|%B %Y}}</extra>",
            row=2,
            col=1,
        )
    fig.add_hline(y=0, line_color="#888", line_width=1, row=2, col=1)
    fig.update_yaxes(title_text=f"MRR ({currency})", tickformat=",.0f", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(
        title_text=f"movements ({currency} per month;<br>contraction and churn below 0)",
        tickformat=",.0f",
        row=2,
        col=1,
    )
    fig.update_xaxes(**month_axis(complete["month"][0], complete["month"][-1], "month"), row=2, col=1)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    notes.insert(
        0,
        "MRR: each customer's latest recurring payment ÷ the months it covers, while it runs (docs/revenue.md). "
        "A month's bars add up to the change of the line.",
    )
    return Chart(
        "mrr",
        MRR_TITLE,
        mrr_takeaway(complete, currency),
        layout(fig, MRR_TITLE, height=520, barmode="relative"),
        " ".join(notes),
        warnings,
    )


def mrr_takeaway(complete: pl.DataFrame, currency: str) -> str:
    """The latest complete month's MRR, its change on the month before and where the change came from."""
    latest = complete.row(-1, named=True)
    level = f"{_month(latest['month'])}: MRR {money(latest['mrr'], currency)} from {latest['customers']:,} customers"
    if complete.height == 1:
        return f"{level}, the first complete month."
    prior = complete.row(-2, named=True)
    change = relative(latest["mrr"], prior["mrr"])
    gained = ", ".join(
        f"{money(latest[column], currency, 0)} {name}" for column, name, sign, _ in MOVEMENTS if sign > 0
    )
    lost = " and ".join(
        f"{money(latest[column], currency, 0)} {name}" for column, name, sign, _ in MOVEMENTS if sign < 0
    )
    return (
        f"{level}; {signed(latest['mrr'] - prior['mrr'], 2)} {currency} on {prior['month']:%B}"
        + (f" ({change})" if change else "")
        + f": {gained}, against {lost}."
    )


# --- revenue retention ---------------------------------------------------------------------


def retention_chart(df: pl.DataFrame) -> Chart:
    """NRR (solid) and GRR (dotted) per cohort by months since its start (``df``: complete rows, ordered)."""
    if not df.height:
        return Chart("revenue_retention", RETENTION_TITLE, "No cohort has a complete month yet.", None)
    cohorts = df["cohort_month"].unique().sort().to_list()
    shown = cohorts[-COHORTS:]
    fig = go.Figure()
    for index, cohort in enumerate(shown):
        part = df.filter(pl.col("cohort_month") == cohort)
        color = PALETTE[index % len(PALETTE)]
        for column, label, dash in (
            ("net_revenue_retention", "NRR", "solid"),
            ("gross_revenue_retention", "GRR", "dot"),
        ):
            fig.add_scatter(
                x=part["months_since_start"],
                y=part[column],
                name=f"{cohort:%b %Y} {label}",
                legendgroup=str(cohort),
                mode="lines+markers",
                line={"color": color, "dash": dash},
                hovertemplate=f"{cohort:%b %Y} cohort, month %{{x}}: {label} %{{y:.0%}}<extra></extra>",
            )
    fig.add_hline(y=1, line_dash="dot", line_color="#888")
    fig.update_xaxes(title_text="months since the cohort's first month with MRR", dtick=1, tickformat="d")
    fig.update_yaxes(title_text="MRR kept (% of the cohort's first month)", tickformat=".0%", rangemode="tozero")
    oldest = df.filter(pl.col("cohort_month") == shown[0]).row(-1, named=True)
    takeaway = f"Cohort of {_month(shown[0])} after {_months(oldest['months_since_start'])}: " + _nrr_grr(oldest)
    firsts = df.filter((pl.col("months_since_start") == 1) & (pl.col("cohort_month") != shown[0]))
    if firsts.height:
        newest = firsts.row(-1, named=True)
        takeaway += f"; cohort of {_month(newest['cohort_month'])} after 1 month: " + _nrr_grr(newest)
    note = (
        "NRR: a cohort's MRR in a month ÷ its MRR in its first month (expansion counts). GRR caps each customer "
        "at their first-month MRR, so it never rises above 100%. A cohort is the customers whose MRR started "
        "that month; running months are left out."
    )
    if len(cohorts) > COHORTS:
        note += f" The latest {COHORTS} of {len(cohorts)} cohorts are drawn."
    return Chart("revenue_retention", RETENTION_TITLE, takeaway + ".", layout(fig, RETENTION_TITLE, height=460), note)


def _months(count: int) -> str:
    return f"{count} month" + ("" if count == 1 else "s")


def _nrr_grr(row: dict[str, object]) -> str:
    return f"NRR {row['net_revenue_retention']:.0%}, GRR {row['gross_revenue_retention']:.0%}"


# --- campaigns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """A campaign's figures summed over every month of the mart."""

    channel: str
    campaign: str
    spend: float | None  # None: no spend row matched the campaign in any month
    signups: int
    new_customers: int
    revenue: float

    @property
    def cost_per_signup(self) -> float | None:
        return None if self.spend is None or not self.signups else self.spend / self.signups

    @property
    def cac(self) -> float | None:
        return None if self.spend is None or not self.new_customers else self.spend / self.new_customers

    @property
    def name(self) -> str:
        return f"{self.channel} / {self.campaign}"


def campaigns(df: pl.DataFrame) -> list[Campaign]:
    """Per (channel, campaign), ranked: by cost per signup (cheapest first), then campaigns
    without spend (most signups first), then spend without signups (most spend first)."""
    summed = df.group_by("channel", "campaign").agg(
        pl.col("spend").sum().alias("spend"),
        pl.col("spend").is_not_null().any().alias("has_spend"),
        pl.col("signups").sum(),
        pl.col("new_customers").sum(),
        pl.col("revenue_to_date").sum(),
    )
    rows = [
        Campaign(
            row["channel"],
            row["campaign"],
            float(row["spend"]) if row["has_spend"] else None,
            int(row["signups"]),
            int(row["new_customers"]),
            float(row["revenue_to_date"]),
        )
        for row in summed.iter_rows(named=True)
    ]

    def rank(item: Campaign) -> tuple[int, float, str]:
        cost = item.cost_per_signup
        if cost is not None:
            return 0, cost, item.name
        if item.spend is None:
            return 1, -item.signups, item.name
        return 2, -item.spend, item.name

    return sorted(rows, key=rank)


def campaign_chart(ranked: list[Campaign], currency: str) -> Chart:
    """The campaign table and its takeaway: the cheapest and the dearest signups."""
    if not ranked:
        return Chart("campaigns", CAMPAIGN_TITLE, "No campaign has spend or signups yet.", None)
    header = ["channel", "campaign", f"spend ({currency})", "signups", f"cost per signup ({currency})"]
    header += ["new customers", f"CAC per customer ({currency})", f"revenue so far ({currency})"]
    cells = [
        [item.channel for item in ranked],
        [item.campaign for item in ranked],
        [f"{item.spend:,.0f}" if item.spend is not None else "no spend" for item in ranked],
        [f"{item.signups:,}" for item in ranked],
        [_amount(item.cost_per_signup) for item in ranked],
        [f"{item.new_customers:,}" for item in ranked],
        [_amount(item.cac) for item in ranked],
        [f"{item.revenue:,.0f}" for item in ranked],
    ]
    fig = go.Figure(
        go.Table(
            header={"values": header, "align": "left", "fill_color": "#f5f7fa", "font": {"size": 12}},
            cells={"values": cells, "align": ["left", "left", *["right"] * 6], "height": 26},
            columnwidth=[1.1, 1.6, 1, 0.8, 1, 0.9, 1, 1],
        )
    )
    priced = [item for item in ranked if item.cost_per_signup is not None]
    if len(priced) > 1:
        cheapest, dearest = priced[0], priced[-1]
        takeaway = f"Cheapest signups: {_described(cheapest, currency)}; dearest: {_described(dearest, currency)}."
    elif priced:
        takeaway = f"Only {_described(priced[0], currency)} has both spend and signups."
    else:
        takeaway = "No campaign has both spend and signups yet."
    note = (
        "All months so far, the running one included. Cost per signup = spend ÷ signups; CAC per customer = spend "
        "÷ new paying customers; revenue so far = all revenue of the campaign's signups to date. (none): users "
        "without a campaign; (unattributed): spend without one; the two never match."
    )
    figure = layout(fig, CAMPAIGN_TITLE, height=min(900, 90 + 27 * len(ranked)), showlegend=False)
    return Chart("campaigns", CAMPAIGN_TITLE, takeaway, figure, note)


def _amount(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _described(item: Campaign, currency: str) -> str:
    signups = f"{item.signups:,} signup{'' if item.signups == 1 else 's'}"
    return (
        f"{item.name} at {money(item.cost_per_signup, currency)} per signup "
        f"({signups}, revenue so far {money(item.revenue, currency, 0)})"
    )


# --- the section ---------------------------------------------------------------------------


def revenue_charts(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> list[Chart]:
    """The recurring-revenue sections, in reading order; one sentence when the snapshot predates the marts."""
    present = present_marts(con, REVENUE_MARTS)
    charts: list[Chart] = []
    if "fct_mrr" in present:
        charts.append(mrr_chart(con.sql("select * from marts.fct_mrr order by month").pl(), currency))
    if "fct_revenue_retention" in present:
        rows = con.sql(
            "select * from marts.fct_revenue_retention where is_complete order by cohort_month, months_since_start"
        ).pl()
        charts.append(retention_chart(rows))
    if "fct_campaign_acquisition" in present:
        charts.append(campaign_chart(campaigns(con.sql("select * from marts.fct_campaign_acquisition").pl()), currency))
    return charts or [Chart("mrr", MRR_TITLE, NOT_THERE_YET, None)]
