"""The report's charts: each reads marts from the analyst snapshot and returns a Chart.

Charts only display what the marts define (metrics.md); the one-line takeaways compare
numbers the marts already hold. Incomplete periods (``is_complete = false``) are drawn
hatched and labelled, never as a silent drop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import plotly.graph_objects as go
import polars as pl

SECONDARY_AXIS = {"overlaying": "y", "side": "right"}


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    takeaway: str
    figure: go.Figure


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _layout(fig: go.Figure, title: str, **kwargs: object) -> go.Figure:
    layout: dict[str, object] = {
        "title": title,
        "template": "plotly_white",
        "margin": {"l": 40, "r": 20, "t": 60, "b": 40},
        "legend": {"orientation": "h", "y": -0.2},
        "height": 420,
    }
    fig.update_layout(**(layout | kwargs))
    return fig


def _best_and_worst(df: pl.DataFrame, column: str, label: str) -> str | None:
    """'Best <label> X (..), worst Y (..)' over the real channels, or None when none has a value."""
    ranked = df.filter(pl.col(column).is_not_null() & (pl.col("channel") != "(all)")).sort(column)
    if not ranked.height:
        return None
    return (
        f"Best {label} {ranked['channel'][-1]} ({ranked[column][-1]:.1f}), "
        f"worst {ranked['channel'][0]} ({ranked[column][0]:.1f})."
    )


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
ALL_COLOR = "#555555"


def channel_colors(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """One color per channel (users' or spend's, as the economics mart lists them), the same in every chart."""
    rows = con.execute(
        "select channel from marts.fct_channel_economics where channel <> '(all)' order by channel"
    ).fetchall()
    return {"(all)": ALL_COLOR} | {row[0]: PALETTE[index % len(PALETTE)] for index, row in enumerate(rows)}


def active_users(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_daily_active_users order by activity_date")
    fig = go.Figure()
    for column, name in (("dau", "DAU"), ("wau", "WAU"), ("mau", "MAU")):
        fig.add_scatter(x=df["activity_date"], y=df[column], name=name, mode="lines")
    fig.add_scatter(x=df["activity_date"], y=df["stickiness"], name="stickiness (DAU/MAU)", yaxis="y2", mode="lines")
    if df.height > 29:
        fig.add_vrect(
            x0=df["activity_date"][0],
            x1=df["activity_date"][29],
            fillcolor="#999",
            opacity=0.12,
            line_width=0,
            annotation_text="MAU window filling",
            annotation_position="top left",
        )
    last = df.row(-1, named=True) if df.height else None
    takeaway = (
        f"MAU {last['mau']:,} on {last['activity_date']}; DAU {last['dau']:,}; stickiness {_pct(last['stickiness'])}"
        if last
        else "No activity yet."
    )
    title = "Daily, weekly and monthly active users"
    return Chart(
        "active_users",
        title,
        takeaway,
        _layout(fig, title, yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%"}),
    )


def retention_heatmap(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(
        con,
        "select * from marts.fct_retention where grain = 'week' and cohort_start >= "
        "(select max(cohort_start) from marts.fct_retention where grain = 'week') - interval 12 week "
        "order by cohort_start, period_number",
    )
    cohorts = sorted(df["cohort_start"].unique().to_list())
    periods = sorted(df["period_number"].unique().to_list())

    def matrix(column: str) -> list[list[float | None]]:
        lookup = {(r["cohort_start"], r["period_number"]): r for r in df.iter_rows(named=True)}
        return [
            [
                (lookup[(c, p)][column] if lookup[(c, p)]["is_complete"] else None) if (c, p) in lookup else None
                for p in periods
            ]
            for c in cohorts
        ]

    labels = [f"{c} (n={df.filter(pl.col('cohort_start') == c)['cohort_size'][0]})" for c in cohorts]
    fig = go.Figure()
    for column, visible in (("retention_rate", True), ("unbounded_retention_rate", False)):
        fig.add_heatmap(
            z=matrix(column),
            x=[f"week {p}" for p in periods],
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            visible=visible,
            texttemplate="%{z:.0%}",
            hovertemplate="%{y}<br>%{x}: %{z:.1%}<extra></extra>",
        )
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 0,
                "y": 1.12,
                "buttons": [
                    {"label": "retained on week n", "method": "update", "args": [{"visible": [True, False]}]},
                    {"label": "on or after week n", "method": "update", "args": [{"visible": [False, True]}]},
                ],
            }
        ],
        yaxis={"autorange": "reversed"},
    )
    week1 = df.filter((pl.col("period_number") == 1) & pl.col("is_complete")).sort("cohort_start")
    if week1.height:
        latest = week1.row(-1, named=True)
        average = week1.tail(5).head(4)["retention_rate"].mean() if week1.height > 1 else None
        diff = (
            f", {'up' if latest['retention_rate'] >= average else 'down'} "
            f"{abs(latest['retention_rate'] - average) * 100:.0f} points on the previous 4-cohort average"
            if isinstance(average, float)
            else ""
        )
        takeaway = f"Week-1 retention {_pct(latest['retention_rate'])} for the {latest['cohort_start']} cohort{diff}."
    else:
        takeaway = "No cohort has completed its first week yet."
    title = "Weekly retention by signup cohort (incomplete weeks left blank)"
    return Chart("retention", title, takeaway, _layout(fig, title, height=520))


def growth_accounting(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_growth_accounting where grain = 'week' order by period_start")
    fig = go.Figure()
    colors = {
        "new_users": "#2b8cbe",
        "retained_users": "#a6bddb",
        "resurrected_users": "#31a354",
        "churned_users": "#de2d26",
    }
    for column, color in colors.items():
        sign = -1 if column == "churned_users" else 1
        fig.add_bar(
            x=df["period_start"],
            y=df[column] * sign,
            name=column.replace("_users", ""),
            marker_color=color,
            marker_pattern_shape=["" if c else "/" for c in df["is_complete"]],
        )
    complete = df.filter(pl.col("is_complete"))
    fig.add_scatter(
        x=complete["period_start"], y=complete["quick_ratio"], name="quick ratio", yaxis="y2", mode="lines+markers"
    )
    running = pl.concat([complete.tail(1), df.filter(~pl.col("is_complete"))])
    if running.height > complete.tail(1).height:  # the running week: dotted, open marker, never a solid drop
        fig.add_scatter(
            x=running["period_start"],
            y=running["quick_ratio"],
            name="quick ratio (week running)",
            yaxis="y2",
            mode="lines+markers",
            line={"dash": "dot", "color": "#ff7f0e"},
            marker={"symbol": ["circle"] + ["circle-open"] * (running.height - 1), "color": "#ff7f0e"},
        )
    takeaway = (
        f"Week of {complete['period_start'][-1]}: quick ratio {complete['quick_ratio'][-1] or 0:.2f}, "
        f"{complete['new_users'][-1]:,} new, {complete['resurrected_users'][-1]:,} resurrected, "
        f"{complete['churned_users'][-1]:,} churned (hatched bars are incomplete weeks)."
        if complete.height
        else "No complete week yet."
    )
    title = "Weekly growth accounting (hatched: week still running)"
    return Chart(
        "growth_accounting",
        title,
        takeaway,
        _layout(
            fig, title, barmode="relative", yaxis2=SECONDARY_AXIS | {"title": "quick ratio", "rangemode": "tozero"}
        ),
    )


def activation(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_activation where grain = 'week' order by cohort_start")
    fig = go.Figure()
    fig.add_bar(
        x=df["cohort_start"],
        y=df["activation_rate"],
        name="activation rate",
        marker_pattern_shape=["" if c else "/" for c in df["is_complete"]],
        text=[_pct(v) for v in df["activation_rate"]],
    )
    complete = df.filter(pl.col("is_complete"))
    takeaway = (
        f"{_pct(complete['activation_rate'][-1])} of the {complete['cohort_start'][-1]} cohort activated; "
        f"median {complete['median_hours_to_activate'][-1] or 0:.0f} h to activate."
        if complete.height
        else "No cohort is past its activation window yet."
    )
    title = "Activation rate by weekly signup cohort (hatched: window still open)"
    return Chart("activation", title, takeaway, _layout(fig, title, yaxis={"tickformat": ".0%"}))


def funnel(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(
        con,
        "select acquisition_channel, step_number, any_value(step_event) as step_event, sum(users) as users "
        "from marts.fct_funnel group by 1, 2 order by 1, 2",
    )
    fig = go.Figure()
    colors = channel_colors(con)
    for channel in df["acquisition_channel"].unique().sort().to_list():
        part = df.filter(pl.col("acquisition_channel") == channel)
        first = part["users"][0]
        fig.add_bar(
            x=part["step_event"].to_list(),
            y=part["users"].to_list(),
            name=channel,
            marker_color=colors.get(channel, ALL_COLOR),
            text=[f"{users / first:.0%}" if first else "" for users in part["users"]],
        )
    overall = df.filter(pl.col("acquisition_channel") == "(all)")
    takeaway = (
        f"{_pct(overall['users'][-1] / overall['users'][0])} of step-1 users reach "
        f"{overall['step_event'][-1]} within the funnel window."
        if overall.height and overall["users"][0]
        else "No funnel entries yet."
    )
    title = "Funnel by channel: users reaching each step (labels: share of step 1), all cohorts"
    return Chart("funnel", title, takeaway, _layout(fig, title, barmode="group"))


def _incomplete_months(con: duckdb.DuckDBPyConnection) -> set[object]:
    """Months still running at data_end_date, as the growth-accounting mart marks them."""
    rows = con.execute(
        "select period_start from marts.fct_growth_accounting where grain = 'month' and not is_complete"
    ).fetchall()
    return {row[0] for row in rows}


def acquisition(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_acquisition where channel <> '(all)' order by month, channel")
    running = _incomplete_months(con)
    fig = go.Figure()
    colors = channel_colors(con)
    for channel in df["channel"].unique().sort().to_list():
        part = df.filter(pl.col("channel") == channel)
        color = colors.get(channel, ALL_COLOR)
        group = {"legendgroup": channel, "marker_color": color}
        fig.add_bar(
            x=part["month"],
            y=part["spend"],
            name=channel,
            marker_pattern_shape=["/" if month in running else "" for month in part["month"]],
            hovertemplate=f"{channel} spend %{{y:,.0f}}<extra></extra>",
            **group,
        )
        fig.add_scatter(
            x=part["month"],
            y=part["cac"],
            name=f"{channel} CAC",
            yaxis="y2",
            mode="lines+markers",
            showlegend=False,
            line_color=color,
            **group,
        )
        fig.add_scatter(
            x=part["month"],
            y=part["cost_per_signup"],
            name=f"{channel} cost per signup",
            yaxis="y2",
            mode="lines",
            line={"dash": "dot", "color": color},
            showlegend=False,
            legendgroup=channel,
        )
    totals = _frame(con, "select * from marts.fct_acquisition where channel = '(all)' order by month")
    if totals.height:
        last = totals.row(-1, named=True)
        status = "so far (month still running, hatched)" if last["month"] in running else "(complete month)"
        takeaway = (
            f"{last['month']:%B %Y} {status}: spend {last['spend']:,.0f}, {last['signups']:,} signups, "
            f"cost per signup {last['cost_per_signup'] or 0:,.2f}, CAC {last['cac'] or 0:,.2f}."
        )
    else:
        takeaway = "No spend or signups yet."
    title = "Spend (bars), CAC (lines) and cost per signup (dotted) by channel and month"
    return Chart(
        "acquisition",
        title,
        takeaway,
        _layout(
            fig,
            title,
            barmode="stack",
            xaxis={"dtick": "M1", "tickformat": "%b %Y"},
            yaxis={"title": "spend", "rangemode": "tozero"},
            yaxis2={"overlaying": "y", "side": "right", "title": "CAC / cost per signup", "rangemode": "tozero"},
        ),
    )


def ltv_curves(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_ltv_cohorts order by cohort_month, months_since_signup")
    fig = go.Figure()
    for cohort in df["cohort_month"].unique().sort().to_list():
        part = df.filter(pl.col("cohort_month") == cohort)
        fig.add_scatter(
            x=part["months_since_signup"],
            y=part["ltv_per_user"],
            name=f"{cohort:%Y-%m}",
            mode="lines+markers",
            marker_symbol=["circle" if c else "circle-open" for c in part["is_complete"]],
        )
    month0 = df.filter((pl.col("months_since_signup") == 0) & pl.col("is_complete")).sort("cohort_month")
    takeaway = (
        f"Month-0 revenue per user: {month0['ltv_per_user'][-1]:,.2f} for the "
        f"{month0['cohort_month'][-1]:%B %Y} cohort (open markers: month still running)."
        if month0.height
        else "No complete cohort month yet."
    )
    title = "Cumulative revenue per user by signup-month cohort"
    return Chart("ltv", title, takeaway, _layout(fig, title, xaxis={"title": "months since signup"}))


def channel_economics(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_channel_economics order by channel")
    fig = go.Figure()
    fig.add_bar(
        x=df["channel"],
        y=df["ltv_cac_ratio"],
        name="LTV:CAC",
        text=[f"{v:.1f}" if v is not None else "n/a" for v in df["ltv_cac_ratio"]],
    )
    fig.add_scatter(
        x=df["channel"], y=df["payback_months"], name="payback (months)", yaxis="y2", mode="markers", marker_size=12
    )
    fig.add_bar(x=df["channel"], y=df["cost_per_signup"], name="cost per signup", visible="legendonly")
    takeaway = _best_and_worst(df, "ltv_cac_ratio", "LTV:CAC") or (
        "No channel has users old enough for the LTV horizon yet (LTV:CAC n/a); payback uses the months observed."
    )
    title = "LTV:CAC and payback by channel"
    return Chart("economics", title, takeaway, _layout(fig, title, yaxis2=SECONDARY_AXIS))


def predicted_ltv(con: duckdb.DuckDBPyConnection) -> Chart:
    title = "Predicted LTV (revenue so far + expected 12 months) and predicted LTV:CAC by channel"
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'fct_channel_predicted_ltv'"
    ).fetchall()[0][0]
    fig = go.Figure()
    if not exists:
        return Chart("predicted_ltv", title, "Predictive LTV has not been computed yet.", _layout(fig, title))
    df = _frame(con, "select * from marts.fct_channel_predicted_ltv order by channel")
    fig.add_bar(x=df["channel"], y=df["mean_predicted_ltv"], name="mean predicted LTV")
    fig.add_scatter(
        x=df["channel"],
        y=df["predicted_ltv_cac_ratio"],
        name="predicted LTV:CAC",
        yaxis="y2",
        mode="markers",
        marker_size=12,
    )
    takeaway = _best_and_worst(df, "predicted_ltv_cac_ratio", "predicted LTV:CAC") or "No paid channel to compare yet."
    return Chart("predicted_ltv", title, takeaway, _layout(fig, title, yaxis2=SECONDARY_AXIS))


def engagement(con: duckdb.DuckDBPyConnection) -> Chart:
    df = _frame(con, "select * from marts.fct_engagement_daily order by session_date")
    fig = go.Figure()
    fig.add_bar(x=df["session_date"], y=df["sessions"], name="sessions")
    fig.add_scatter(
        x=df["session_date"], y=df["median_session_seconds"] / 60, name="median minutes", yaxis="y2", mode="lines"
    )
    recent = df.tail(7).select(
        pl.col("sessions").sum(), pl.col("sessions_per_user").mean(), pl.col("median_session_seconds").median() / 60
    )
    takeaway = (
        "Last 7 days: {:,} sessions, {:.2f} per user, median {:.1f} min.".format(*recent.row(0))
        if df.height
        else "No sessions yet."
    )
    title = "Sessions and session length"
    return Chart("engagement", title, takeaway, _layout(fig, title, yaxis2=SECONDARY_AXIS))


CHARTS: tuple[Callable[[duckdb.DuckDBPyConnection], Chart], ...] = (
    active_users,
    retention_heatmap,
    growth_accounting,
    activation,
    funnel,
    acquisition,
    ltv_curves,
    channel_economics,
    predicted_ltv,
    engagement,
)
