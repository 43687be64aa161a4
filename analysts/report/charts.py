"""The report's charts: each reads marts from the analyst snapshot and returns a Chart.

Charts only display what the marts define (metrics.md) and the takeaways compare numbers the
marts hold: a change on the previous complete period, or one channel against the others.
Incomplete periods (``is_complete = false``) are left out of the marks, never drawn as a bar
or point that could be read against complete ones, and each chart's note names them with
their values so far. Money is labelled with the report's currency (``Settings.currency``).

CAC vocabulary (metrics.md): *cost per signup* = spend / signups; *CAC per customer* =
spend / new customers; *LTV:CAC* = LTV / cost per signup, always shown with that denominator.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import date, timedelta

import duckdb
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analysts.report.economics import channel_economics, payback, predicted_ltv
from analysts.report.style import (
    ALL_COLOR,
    Chart,
    channel_colors,
    day,
    early_outliers,
    layout,
    monday_axis,
    money,
    month_axis,
    pct,
    relative,
    week,
)

Builder = Callable[[duckdb.DuckDBPyConnection, str], Chart]


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def _change(value: float | int, previous: float | int, decimals: int = 0) -> str:
    """``up 28 (+30%)``, ``down 3`` with a relative change, or ``unchanged``."""
    if value == previous:
        return "unchanged"
    rel = relative(float(value), float(previous))
    amount = f"{abs(value - previous):,.{decimals}f}"
    return f"{'up' if value > previous else 'down'} {amount}" + (f" ({rel})" if rel else "")


def _points(value: float | None, previous: float | None) -> str:
    """A change of a rate in percentage points: ``up 6 points``."""
    if value is None or previous is None:
        return "n/a"
    diff = round((value - previous) * 100)
    return "unchanged" if diff == 0 else f"{'up' if diff > 0 else 'down'} {abs(diff)} points"


def active_users(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(con, "select * from marts.fct_daily_active_users order by activity_date")
    title = "Daily, weekly and monthly active users"
    if not df.height:
        return Chart("active_users", title, "No activity yet.", None)
    first, last = df["activity_date"][0], df["activity_date"][-1]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    for column, name in (("dau", "DAU"), ("wau", "WAU (7 days)"), ("mau", "MAU (30 days)")):
        fig.add_scatter(x=df["activity_date"], y=df[column], name=name, mode="lines", row=1, col=1)
    # DAU/MAU is meaningless while the 30-day window is still filling (MAU ≈ DAU on day one).
    full = df.slice(29) if df.height > 29 else df
    fig.add_scatter(
        x=full["activity_date"],
        y=full["stickiness"],
        name="stickiness (DAU ÷ MAU)",
        mode="lines",
        line_color="#555",
        row=2,
        col=1,
    )
    note = ""
    if df.height > 29:
        fig.add_vrect(x0=first, x1=df["activity_date"][29], fillcolor="#999", opacity=0.12, line_width=0, row=1, col=1)
        note = (
            f"Shaded: the first 30 days of data, while the MAU window fills; stickiness starts "
            f"on {day(df['activity_date'][29])}."
        )
    fig.update_yaxes(title_text="users", rangemode="tozero", tickformat=",d", row=1, col=1)
    fig.update_yaxes(title_text="DAU ÷ MAU (%)", rangemode="tozero", tickformat=".0%", row=2, col=1)
    fig.update_xaxes(**monday_axis(first, last, "date (ticks on Mondays)"), row=2, col=1)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    latest = df.row(-1, named=True)
    before = df.filter(pl.col("activity_date") == latest["activity_date"] - timedelta(days=7))
    if before.height:
        prior = before.row(0, named=True)
        takeaway = (
            f"MAU {latest['mau']:,} on {day(latest['activity_date'])}, {_change(latest['mau'], prior['mau'])} "
            f"on {day(prior['activity_date'])}; stickiness {pct(latest['stickiness'])} vs "
            f"{pct(prior['stickiness'])}."
        )
    else:
        takeaway = f"MAU {latest['mau']:,} on {day(latest['activity_date'])}; less than a week of history to compare."
    return Chart("active_users", title, takeaway, layout(fig, title, height=460), note)


def retention_heatmap(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(
        con,
        "select * from marts.fct_retention where grain = 'week' and cohort_start >= "
        "(select max(cohort_start) from marts.fct_retention where grain = 'week') - interval 12 week "
        "order by cohort_start, period_number",
    )
    title = "Weekly retention by signup cohort"
    if not df.height:
        return Chart("retention", title, "No signups yet.", None)
    cohorts = sorted(df["cohort_start"].unique().to_list())
    periods = sorted(df["period_number"].unique().to_list())
    lookup = {(r["cohort_start"], r["period_number"]): r for r in df.iter_rows(named=True)}

    def matrix(column: str) -> list[list[float | None]]:
        return [
            [lookup[(c, p)][column] if (c, p) in lookup and lookup[(c, p)]["is_complete"] else None for p in periods]
            for c in cohorts
        ]

    sizes = {c: lookup[(c, 0)]["cohort_size"] for c in cohorts if (c, 0) in lookup}
    labels = [f"{c.day} {c:%b} ({sizes.get(c, 0)})" for c in cohorts]
    fig = go.Figure()
    for column, visible in (("retention_rate", True), ("unbounded_retention_rate", False)):
        fig.add_heatmap(
            z=matrix(column),
            x=[str(p) for p in periods],
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            visible=visible,
            texttemplate="%{z:.0%}",
            hovertemplate="cohort %{y}<br>week %{x}: %{z:.1%}<extra></extra>",
            colorbar={
                "title": {"text": "retained (% of cohort)", "side": "top"},
                "tickformat": ".0%",
                "orientation": "h",
                "thickness": 10,
                "len": 0.6,
                "x": 0,
                "xanchor": "left",
                "y": -0.2,
                "yanchor": "top",
            },
        )
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 0,
                "xanchor": "left",
                "y": 1.02,
                "yanchor": "bottom",
                "buttons": [
                    {"label": "in week n", "method": "update", "args": [{"visible": [True, False]}]},
                    {"label": "in week n or later", "method": "update", "args": [{"visible": [False, True]}]},
                ],
            }
        ],
    )
    fig.update_xaxes(title_text="weeks since signup (0 = signup week)", type="category")
    fig.update_yaxes(title_text="signup week, Monday (users)", autorange="reversed", type="category")
    week1 = df.filter((pl.col("period_number") == 1) & pl.col("is_complete")).sort("cohort_start")
    if week1.height:
        latest = week1.row(-1, named=True)
        earlier = week1.head(week1.height - 1).tail(4)["retention_rate"].to_list()
        average = sum(earlier) / len(earlier) if earlier else None
        diff = (
            f", {_points(latest['retention_rate'], average)} on the average of the {len(earlier)} cohorts before "
            f"({pct(average)})"
            if average is not None
            else ""
        )
        takeaway = (
            f"Week-1 retention {pct(latest['retention_rate'])} for the cohort of {day(latest['cohort_start'])}{diff}."
        )
    else:
        takeaway = "No cohort has completed its first week yet."
    note = "Blank cells: weeks not over yet. Cell = share of the cohort active in that week after signup."
    return Chart("retention", title, takeaway, layout(fig, title, height=520), note)


def growth_accounting(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(con, "select * from marts.fct_growth_accounting where grain = 'week' order by period_start")
    title = "Weekly growth accounting: new, retained, resurrected and churned users"
    complete = df.filter(pl.col("is_complete"))
    running = df.filter(~pl.col("is_complete"))
    notes = [
        f"Week of {week(row['period_start'])} still running: left out ({row['active_users']:,} active so far; "
        "its churn is only known once it ends)."
        for row in running.iter_rows(named=True)
    ]
    if not complete.height:
        return Chart("growth_accounting", title, "No complete week yet.", None, " ".join(notes))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.66, 0.34], vertical_spacing=0.06)
    colors = {
        "new_users": "#2b8cbe",
        "retained_users": "#a6bddb",
        "resurrected_users": "#31a354",
        "churned_users": "#de2d26",
    }
    for column, color in colors.items():
        sign = -1 if column == "churned_users" else 1
        fig.add_bar(
            x=complete["period_start"],
            y=complete[column] * sign,
            name=column.replace("_users", ""),
            marker_color=color,
            customdata=complete[column],
            hovertemplate=f"{column.replace('_users', '')} %{{customdata:,}}<extra>week of %{{x}}</extra>",
            row=1,
            col=1,
        )
    ratios = complete["quick_ratio"].to_list()
    top, cut = early_outliers(ratios)
    fig.add_scatter(
        x=complete["period_start"],
        y=[None if index in cut else value for index, value in enumerate(ratios)],
        name="quick ratio",
        mode="lines+markers",
        line_color="#ff7f0e",
        hovertemplate="quick ratio %{y:.2f}<extra>week of %{x}</extra>",
        row=2,
        col=1,
    )
    fig.add_hline(y=1, line_dash="dot", line_color="#888", row=2, col=1)
    if top is not None:
        starts = complete["period_start"].to_list()
        fig.add_scatter(
            x=[starts[index] for index in cut],
            y=[top] * len(cut),
            name="quick ratio above the axis",
            mode="markers+text",
            marker={"symbol": "triangle-up", "size": 11, "color": "#ff7f0e"},
            text=[f"{ratios[index]:.1f}" for index in cut],
            textposition="middle right",
            cliponaxis=False,
            showlegend=False,
            row=2,
            col=1,
        )
        fig.update_yaxes(range=[0, top], row=2, col=1)
        cuts = ", ".join(f"{day(starts[index])}: {ratios[index]:.1f}" for index in cut)
        notes.append(f"Quick-ratio axis cut at {top:g} so early weeks with few users do not flatten the rest ({cuts}).")
    else:
        fig.update_yaxes(rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title_text="users per week<br>(churned below 0)", tickformat=",d", row=1, col=1)
    fig.update_yaxes(title_text="quick ratio", row=2, col=1)
    notes.insert(0, "Quick ratio = (new + resurrected) ÷ churned; above the dotted line at 1 the active base grows.")
    first, last = complete["period_start"][0], complete["period_start"][-1]
    fig.update_xaxes(**monday_axis(first, last, "week (bars and ticks on its Monday)"), row=2, col=1)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    latest = complete.row(-1, named=True)
    ratio = latest["quick_ratio"]
    ratio_text = "n/a (no churn)" if ratio is None else f"{ratio:.2f}"
    if complete.height > 1:
        prior = complete.row(-2, named=True)
        prior_ratio = prior["quick_ratio"]
        compare = "n/a" if prior_ratio is None else f"{prior_ratio:.2f}"
        takeaway = (
            f"Week of {week(latest['period_start'])}: quick ratio {ratio_text} (week before {compare}); "
            f"active users {_change(latest['active_users'], prior['active_users'])}, with "
            f"{latest['new_users'] + latest['resurrected_users']:,} new or resurrected against "
            f"{latest['churned_users']:,} churned."
        )
    else:
        takeaway = f"Week of {week(latest['period_start'])}: quick ratio {ratio_text}; the first complete week."
    return Chart(
        "growth_accounting", title, takeaway, layout(fig, title, height=480, barmode="relative"), " ".join(notes)
    )


def activation(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(con, "select * from marts.fct_activation where grain = 'week' order by cohort_start")
    title = "Activation rate by weekly signup cohort"
    complete = df.filter(pl.col("is_complete"))
    running = df.filter(~pl.col("is_complete"))
    note = " ".join(
        f"Cohort of {day(row['cohort_start'])} still inside its activation window: left out "
        f"({pct(row['activation_rate'])} of {row['signups']:,} so far)."
        for row in running.iter_rows(named=True)
    )
    if not complete.height:
        return Chart("activation", title, "No cohort is past its activation window yet.", None, note)
    fig = go.Figure()
    fig.add_bar(
        x=complete["cohort_start"],
        y=complete["activation_rate"],
        name="activation rate",
        text=[pct(v) for v in complete["activation_rate"]],
        customdata=complete.select("activated_users", "signups").rows(),
        hovertemplate="%{customdata[0]} of %{customdata[1]} signups activated<extra>week of %{x}</extra>",
    )
    first, last = complete["cohort_start"][0], complete["cohort_start"][-1]
    fig.update_xaxes(**monday_axis(first, last, "signup week (bars and ticks on its Monday)"))
    fig.update_yaxes(title_text="activated (% of signups)", tickformat=".0%", rangemode="tozero")
    latest = complete.row(-1, named=True)
    hours = latest["median_hours_to_activate"]
    median = f"; median {hours:.0f} h to activate" if hours is not None else ""
    if complete.height > 1:
        prior = complete.row(-2, named=True)
        takeaway = (
            f"{pct(latest['activation_rate'])} of the {day(latest['cohort_start'])} cohort activated, "
            f"{_points(latest['activation_rate'], prior['activation_rate'])} on the cohort before "
            f"({pct(prior['activation_rate'])}){median}."
        )
    else:
        takeaway = f"{pct(latest['activation_rate'])} of the {day(latest['cohort_start'])} cohort activated{median}."
    return Chart("activation", title, takeaway, layout(fig, title, showlegend=False), note)


def funnel(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(
        con,
        "select acquisition_channel, step_number, any_value(step_event) as step_event, sum(users) as users "
        "from marts.fct_funnel group by 1, 2 order by 1, 2",
    )
    title = "Funnel by channel: users reaching each step, all signup weeks"
    if not df.height:
        return Chart("funnel", title, "No funnel entries yet.", None)
    fig = go.Figure()
    channels = df["acquisition_channel"].unique().sort().to_list()
    colors = channel_colors(channels)
    shares: dict[str, float] = {}
    for channel in channels:
        part = df.filter(pl.col("acquisition_channel") == channel)
        first = part["users"][0]
        if first:
            shares[channel] = part["users"][-1] / first
        fig.add_bar(
            x=part["step_event"].to_list(),
            y=part["users"].to_list(),
            name="all channels" if channel == "(all)" else channel,
            marker_color=colors.get(channel, ALL_COLOR),
            text=[f"{users / first:.0%}" if first else "" for users in part["users"]],
        )
    fig.update_xaxes(title_text="funnel step (labels: share of step 1)", type="category")
    fig.update_yaxes(title_text="users reaching the step", tickformat=",d")
    overall = df.filter(pl.col("acquisition_channel") == "(all)")
    last_step = overall["step_event"][-1] if overall.height else df["step_event"][-1]
    ranked = sorted((share, channel) for channel, share in shares.items() if channel != "(all)")
    if "(all)" in shares and ranked:
        takeaway = (
            f"{pct(shares['(all)'])} of step-1 users reach {last_step} within the funnel window; "
            f"best channel {ranked[-1][1]} ({pct(ranked[-1][0])}), worst {ranked[0][1]} ({pct(ranked[0][0])})."
        )
    else:
        takeaway = "No funnel entries yet."
    note = "Recent weeks whose funnel window is still open count the steps reached so far."
    return Chart("funnel", title, takeaway, layout(fig, title, barmode="group"), note)


def _running_months(con: duckdb.DuckDBPyConnection) -> set[date]:
    """Months still running at data_end_date, as the growth-accounting mart marks them."""
    rows = con.execute(
        "select period_start from marts.fct_growth_accounting where grain = 'month' and not is_complete"
    ).fetchall()
    return {row[0] for row in rows}


def acquisition(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    every = _frame(con, "select * from marts.fct_acquisition order by month, channel")
    running = _running_months(con)
    title = "Spend, cost per signup and CAC per customer by channel and month"
    done = every.filter(~pl.col("month").is_in(list(running)))
    df = done.filter(pl.col("channel") != "(all)")
    totals = done.filter(pl.col("channel") == "(all)")
    notes = [
        f"{row['month']:%B %Y} still running: left out (so far {money(row['spend'], currency, 0)} spend, "
        f"{row['signups']:,} signups, {row['new_customers']:,} new "
        f"customer{'' if row['new_customers'] == 1 else 's'})."
        for row in every.filter((pl.col("channel") == "(all)") & pl.col("month").is_in(list(running))).iter_rows(
            named=True
        )
    ]
    if not df.height:
        return Chart("acquisition", title, "No complete month of spend or signups yet.", None, " ".join(notes))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.5, 0.5], vertical_spacing=0.08)
    spend = df.group_by("channel").agg(pl.col("spend").sum()).sort("channel")
    channels = spend.filter(pl.col("spend") > 0)["channel"].to_list()
    free = spend.filter(pl.col("spend") <= 0)["channel"].to_list()
    if free:
        notes.append(f"Not drawn, no spend: {', '.join(free)}.")
    colors = channel_colors(every["channel"].unique().to_list())
    for channel in channels:
        part = df.filter(pl.col("channel") == channel)
        color = colors.get(channel, ALL_COLOR)
        fig.add_bar(
            x=part["month"],
            y=part["spend"],
            name=channel,
            legendgroup=channel,
            marker_color=color,
            hovertemplate=f"{channel} spend %{{y:,.0f}} {currency}<extra>%{{x|%B %Y}}</extra>",
            row=1,
            col=1,
        )
        for column, label, symbol, dash in (
            ("cac", "CAC per customer", "circle", "solid"),
            ("cost_per_signup", "cost per signup", "circle-open", "dot"),
        ):
            fig.add_scatter(
                x=part["month"],
                y=part[column],
                name=f"{channel} {label}",
                legendgroup=channel,
                mode="lines+markers",
                marker_symbol=symbol,
                line={"dash": dash, "color": color},
                showlegend=False,
                hovertemplate=f"{channel} {label} %{{y:,.2f}} {currency}<extra>%{{x|%B %Y}}</extra>",
                row=2,
                col=1,
            )
    paid = df.filter(pl.col("channel").is_in(channels))
    values = [v for v in [*paid["cac"].to_list(), *paid["cost_per_signup"].to_list()] if v is not None]
    fig.update_yaxes(title_text=f"spend ({currency})", tickformat=",.0f", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(
        title_text=f"{currency} per customer (solid)<br>or per signup (dotted)",
        tickformat=",.0f",
        rangemode="tozero",
        row=2,
        col=1,
    )
    if not values:
        fig.update_yaxes(range=[0, 1], row=2, col=1)
    first, last = df["month"][0], df["month"][-1]
    fig.update_xaxes(**month_axis(first, last, "month"), row=2, col=1)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    latest = totals.row(-1, named=True)
    month = f"{latest['month']:%B %Y}"
    if totals.height > 1:
        prior = totals.row(-2, named=True)

        def versus(column: str, label: str) -> str:
            now, before = latest[column], prior[column]
            if now is None:
                return f"{label} n/a (no {'signups' if column == 'cost_per_signup' else 'new customers'})"
            if before is None:
                return f"{label} {money(now, currency)} ({prior['month']:%B}: none to compare)"
            change = relative(now, before)
            return f"{label} {money(now, currency)} vs {money(before, currency)} in {prior['month']:%B}" + (
                f" ({change})" if change else ""
            )

        takeaway = (
            f"{month}: spend {money(latest['spend'], currency, 0)} "
            f"({relative(latest['spend'], prior['spend']) or 'n/a'} on {prior['month']:%B}); "
            f"{versus('cost_per_signup', 'cost per signup')}; "
            f"{versus('cac', 'CAC per customer')}."
        )
    else:
        takeaway = (
            f"{month}, the first complete month: spend {money(latest['spend'], currency, 0)}, cost per signup "
            f"{money(latest['cost_per_signup'], currency)}, CAC per customer {money(latest['cac'], currency)}."
        )
    notes.insert(0, "Cost per signup = spend ÷ signups; CAC per customer = spend ÷ new paying customers.")
    return Chart("acquisition", title, takeaway, layout(fig, title, height=520, barmode="stack"), " ".join(notes))


def ltv_curves(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(con, "select * from marts.fct_ltv_cohorts order by cohort_month, months_since_signup")
    title = "Cumulative revenue per signup by signup-month cohort"
    complete = df.filter(pl.col("is_complete"))
    waiting = sorted(set(df["cohort_month"].to_list()) - set(complete["cohort_month"].to_list()))
    note = "Months still running are left out" + (
        f" (the {', '.join(f'{c:%B %Y}' for c in waiting)} cohort has no complete month yet)." if waiting else "."
    )
    if not complete.height:
        return Chart("ltv", title, "No cohort has a complete month yet.", None, note)
    fig = go.Figure()
    for cohort in complete["cohort_month"].unique().sort().to_list():
        part = complete.filter(pl.col("cohort_month") == cohort)
        fig.add_scatter(
            x=part["months_since_signup"],
            y=part["ltv_per_user"],
            name=f"{cohort:%b %Y} ({part['cohort_size'][0]:,} signups)",
            mode="lines+markers",
            hovertemplate=f"%{{y:,.2f}} {currency} per signup<extra>{cohort:%b %Y}, month %{{x}}</extra>",
        )
    longest = int(complete["months_since_signup"].max() or 0)  # type: ignore[arg-type]
    fig.update_xaxes(title_text="months since signup (0 = signup month)", dtick=1, range=[-0.3, longest + 0.3])
    fig.update_yaxes(title_text=f"cumulative revenue per signup ({currency})", tickformat=",.0f", rangemode="tozero")
    month0 = complete.filter(pl.col("months_since_signup") == 0).sort("cohort_month")
    latest = month0.row(-1, named=True)
    if month0.height > 1:
        prior = month0.row(-2, named=True)
        change = relative(latest["ltv_per_user"], prior["ltv_per_user"])
        takeaway = (
            f"Month-0 revenue per signup {money(latest['ltv_per_user'], currency)} for the "
            f"{latest['cohort_month']:%B %Y} cohort vs {money(prior['ltv_per_user'], currency)} for "
            f"{prior['cohort_month']:%B %Y}" + (f" ({change})." if change else ".")
        )
    else:
        takeaway = (
            f"Month-0 revenue per signup {money(latest['ltv_per_user'], currency)} for the "
            f"{latest['cohort_month']:%B %Y} cohort, the first complete one."
        )
    return Chart("ltv", title, takeaway, layout(fig, title), note)


def engagement(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _frame(con, "select * from marts.fct_engagement_daily order by session_date")
    title = "Sessions per day and session length"
    if not df.height:
        return Chart("engagement", title, "No sessions yet.", None)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06)
    fig.add_bar(x=df["session_date"], y=df["sessions"], name="sessions", marker_color="#1f77b4", row=1, col=1)
    fig.add_scatter(
        x=df["session_date"],
        y=df["median_session_seconds"] / 60,
        name="median session length",
        mode="lines",
        line_color="#ff7f0e",
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="sessions per day", tickformat=",d", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="median session<br>length (minutes)", rangemode="tozero", row=2, col=1)
    first, last = df["session_date"][0], df["session_date"][-1]
    fig.update_xaxes(**monday_axis(first, last, "date (ticks on Mondays)"), row=2, col=1)
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    recent = df.filter(pl.col("session_date") > last - pl.duration(days=7))
    before = df.filter(
        (pl.col("session_date") > last - pl.duration(days=14)) & (pl.col("session_date") <= last - pl.duration(days=7))
    )
    sessions = sum(recent["sessions"].to_list())
    minutes = statistics.median(recent["median_session_seconds"].to_list()) / 60
    if before.height:
        prior_sessions = sum(before["sessions"].to_list())
        prior_minutes = statistics.median(before["median_session_seconds"].to_list()) / 60
        takeaway = (
            f"7 days to {day(last)}: {sessions:,} sessions, {_change(sessions, prior_sessions)} on the 7 days "
            f"before; typical median session {minutes:.1f} min vs {prior_minutes:.1f}."
        )
    else:
        takeaway = f"7 days to {day(last)}: {sessions:,} sessions; no earlier week to compare."
    note = "Typical median session: the median over the week's days of each day's median session length."
    return Chart("engagement", title, takeaway, layout(fig, title, height=460, showlegend=False), note)


CHARTS: tuple[Builder, ...] = (
    active_users,
    retention_heatmap,
    growth_accounting,
    activation,
    funnel,
    acquisition,
    ltv_curves,
    payback,
    channel_economics,
    predicted_ltv,
    engagement,
)
