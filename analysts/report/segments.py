"""The report's "Who retains" section (issue #16): retention by segment, features, accounts.

Four kinds of section, read from the marts of the segments contract (segments.md):

- week-4 retention by segment, one chart per breakdown dimension of
  ``marts.fct_retention_by_segment``. One cohort is a few dozen users per segment, too few
  to compare, so the latest :data:`POOLED_COHORTS` weekly cohorts whose week 4 is complete
  are pooled: a segment's rate is its retained users summed over those cohorts divided by
  its cohort sizes summed over them (users-weighted, never a mean of rates). The all-users
  line comes from the same rows: a dimension's segments partition the users, so their sums
  are the unsegmented figures;
- the feature table (``marts.fct_feature_retention``): adopters' against non-adopters'
  week-4 retention, always labelled an association (adopters choose to adopt and differ in
  other ways; only an experiment measures an effect), with each feature's adoption trend;
- feature adoption by week (``marts.fct_feature_adoption``), complete weeks only;
- account retention in week 4 by cohort (``marts.fct_account_retention``), with the number
  of accounts and of accounts active in the last 30 days (``marts.dim_accounts``).

A snapshot published before these marts existed gets one section saying so in a sentence;
running periods are left out of the marks and named in the notes, as elsewhere in the report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import plotly.graph_objects as go

from analysts.report.style import ALL_COLOR, PALETTE, Chart, day, layout, monday_axis, signed, week

SEGMENT_MARTS = (
    "fct_retention_by_segment",
    "fct_activation_by_segment",
    "fct_feature_adoption",
    "fct_feature_retention",
    "dim_accounts",
    "fct_account_retention",
)
TITLE = "Who retains"
POOLED_COHORTS = 4  # weekly cohorts pooled per segment: the latest ones whose week 4 is complete
RETENTION_WEEK = 4
TREND_WEEKS = 4  # adoption change: the latest complete week against the week this many before
RESERVED = ("(none)", "(other)")
RANKED_USERS = 30  # a takeaway names the highest and lowest segment among those this large: 2 of 2 is noise
NOT_THERE_YET = (
    "Retention by segment, feature adoption and account retention are not in the published data yet: "
    "they appear after the first build that makes their marts."
)
FEATURE_TITLE = f"{TITLE}: features that go with retention (association, not cause \u2014 experiments measure effects)"
RETENTION_AXIS = "retained in week 4 (% of users)"
SEGMENT_COLOR = PALETTE[0]
RESERVED_COLOR = "#9e9e9e"


@dataclass(frozen=True)
class Pooled:
    """A segment's week-4 figures summed over the pooled cohorts."""

    segment: str
    cohort_size: int
    retained: int

    @property
    def rate(self) -> float:
        return self.retained / self.cohort_size if self.cohort_size else 0.0

    @property
    def label(self) -> str:
        """The bar's label: the segment as the mart names it (``(none)``, ``(other)`` too) and its n."""
        return f"{self.segment} (n={self.cohort_size:,})"


# --- formats -------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    """A rate in percent with one decimal (``40.0%``): pooled rates differ by fractions of a point."""
    return "n/a" if value is None else f"{value:.1%}"


def points(value: float | None) -> str:
    """A difference of rates in percentage points, signed: ``+15.0 pt``, ``\u22122.5 pt``."""
    return "n/a" if value is None else f"{signed(value * 100, 1)} pt"


def change_in_points(value: float, previous: float) -> str:
    """``up 5.0 points``, ``down 1.5 points`` or ``unchanged`` (a tenth of a point resolution)."""
    diff = round((value - previous) * 100, 1)
    if diff == 0:
        return "unchanged"
    return f"{'up' if diff > 0 else 'down'} {abs(diff):.1f} points"


def dimension_name(dimension: str) -> str:
    """A dim_users column as readers say it: ``trait_plan`` is the plan, ``latest_trait_plan`` the latest plan."""
    if dimension.startswith("latest_trait_"):
        return "latest " + dimension.removeprefix("latest_trait_").replace("_", " ")
    return dimension.removeprefix("trait_").replace("_", " ")


def cohort_dates(cohorts: Sequence[date]) -> str:
    """The Mondays of the pooled cohorts, oldest first: ``20 Apr, 27 Apr, 4 May and 11 May 2026``."""
    ordered = sorted(cohorts)
    if not ordered:
        return ""
    same_year = all(cohort.year == ordered[-1].year for cohort in ordered)
    names = [f"{cohort.day} {cohort:%b}" if same_year else day(cohort) for cohort in ordered[:-1]]
    names.append(day(ordered[-1]))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _key(name: str) -> str:
    return "segments-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x")


# --- reading the snapshot ------------------------------------------------------------------


def present_marts(con: duckdb.DuckDBPyConnection, marts: Sequence[str] = SEGMENT_MARTS) -> set[str]:
    """Which of ``marts`` (the segment marts) this snapshot holds (none in one published before they existed)."""
    rows = con.execute(
        "select table_name from duckdb_tables() where schema_name = 'marts' and table_name in (select unnest(?))",
        [list(marts)],
    ).fetchall()
    return {name for (name,) in rows}


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# --- week-4 retention by segment -------------------------------------------------------------


def latest_complete_cohorts(rows: Sequence[dict[str, Any]], count: int = POOLED_COHORTS) -> list[date]:
    """The ``count`` latest cohorts whose week 4 is complete, oldest first.

    The same cohorts for every segment of a dimension (completeness depends on the cohort
    only), so the bars and the all-users line count the same signups.
    """
    complete = {row["cohort_start"] for row in rows if row["is_complete"]}
    return sorted(complete)[-count:]


def pool(rows: Sequence[dict[str, Any]], cohorts: Sequence[date]) -> list[Pooled]:
    """Each segment's retained users and cohort sizes summed over ``cohorts`` (segments with users only)."""
    sizes: dict[str, int] = {}
    retained: dict[str, int] = {}
    for row in rows:
        if row["cohort_start"] in cohorts and row["is_complete"]:
            segment = str(row["segment"])
            sizes[segment] = sizes.get(segment, 0) + int(row["cohort_size"])
            retained[segment] = retained.get(segment, 0) + int(row["retained_users"])
    return [Pooled(segment, sizes[segment], retained[segment]) for segment in sizes if sizes[segment]]


def ordered_segments(pooled: Sequence[Pooled]) -> list[Pooled]:
    """Best retained first; ``(none)`` and ``(other)`` (no value, the cut-off tail) after the real values."""
    return sorted(pooled, key=lambda p: (p.segment in RESERVED, -p.rate, -p.cohort_size, p.segment))


def segment_figure(pooled: Sequence[Pooled], overall: Pooled, title: str, name: str) -> go.Figure:
    """Horizontal bars of the pooled rates, labelled with segment and n, the all-users rate dashed."""
    labels = [p.label for p in pooled]
    fig = go.Figure()
    fig.add_bar(
        y=labels,
        x=[p.rate for p in pooled],
        orientation="h",
        name="week-4 retention",
        text=[percent(p.rate) for p in pooled],
        textposition="auto",  # inside a bar long enough for it, clear of the dashed line
        constraintext="none",
        cliponaxis=False,
        marker_color=[RESERVED_COLOR if p.segment in RESERVED else SEGMENT_COLOR for p in pooled],
        customdata=[[p.retained, p.cohort_size] for p in pooled],
        hovertemplate="%{customdata[0]:,} of %{customdata[1]:,} retained in week 4 (%{x:.1%})<extra>%{y}</extra>",
    )
    fig.add_vline(
        x=overall.rate,
        line_dash="dash",
        line_width=1.5,
        line_color=ALL_COLOR,
        layer="below",  # visible between the bars, never across a bar's label
        annotation_text=f"all users {percent(overall.rate)}",
        annotation_position="top",
        annotation_font_color=ALL_COLOR,
    )
    top = max([overall.rate, *(p.rate for p in pooled)])
    fig.update_xaxes(title_text=RETENTION_AXIS, tickformat=".0%", range=[0, min(1.0, top * 1.3) or 0.1])
    fig.update_yaxes(
        title_text=name,
        type="category",
        categoryorder="array",
        categoryarray=labels,
        autorange="reversed",
    )
    margin = {"l": 10, "r": 10, "t": 50, "b": 10}  # room above the plot for the all-users label
    return layout(fig, title, height=140 + 34 * len(pooled), showlegend=False, margin=margin)


def segment_takeaway(name: str, pooled: Sequence[Pooled], overall: Pooled) -> str:
    """Highest and lowest pooled rate with their n, against all users of the same cohorts.

    Only segments of :data:`RANKED_USERS` users or more are ranked (all of them when fewer than
    two are that large): a segment of a handful of users tops or tails the list by chance.
    """
    if len(pooled) == 1:
        [only] = pooled
        return (
            f"Week-4 retention by {name}: one segment, {only.segment} at {percent(only.rate)} (n={only.cohort_size:,})."
        )
    large = [p for p in pooled if p.cohort_size >= RANKED_USERS]
    ranked = sorted(large if len(large) > 1 else pooled, key=lambda p: (-p.rate, -p.cohort_size, p.segment))
    best, worst = ranked[0], ranked[-1]
    left_out = len(pooled) - len(ranked)
    return (
        f"Week-4 retention by {name}: {best.segment} highest at {percent(best.rate)} (n={best.cohort_size:,}), "
        f"{worst.segment} lowest at {percent(worst.rate)} (n={worst.cohort_size:,}), "
        f"against {percent(overall.rate)} for all users"
        + (
            f" ({left_out} segment{'s' if left_out > 1 else ''} under {RANKED_USERS} users not ranked)."
            if left_out
            else "."
        )
    )


def segment_note(cohorts: Sequence[date], overall: Pooled) -> str:
    """Which cohorts were pooled and how: the PNG's subtitle and the HTML note."""
    many = len(cohorts) > 1
    return (
        f"Pooled: the {len(cohorts)} latest weekly signup cohort{'s' if many else ''} whose week 4 is complete "
        f"(week{'s' if many else ''} of {cohort_dates(cohorts)}). Each bar: the segment's users active in week 4 "
        f"(weeks counted from the signup week, week 0) \u00f7 its users in those cohorts (n). Dashed line: all "
        f"{overall.cohort_size:,} users of those cohorts ({percent(overall.rate)}). Later cohorts are still "
        "inside week 4 and left out."
    )


def segment_chart(dimension: str, rows: Sequence[dict[str, Any]]) -> Chart:
    """One dimension's week-4 rows (grain week, period 4) as a chart of pooled rates by segment."""
    name = dimension_name(dimension)
    title = f"{TITLE}: week-4 retention by {name}"
    cohorts = latest_complete_cohorts(rows)
    pooled = pool(rows, cohorts)
    if not pooled:
        return Chart(_key(dimension), title, "No weekly cohort has a complete week 4 yet.", None)
    overall = Pooled("all users", sum(p.cohort_size for p in pooled), sum(p.retained for p in pooled))
    shown = ordered_segments(pooled)
    return Chart(
        _key(dimension),
        title,
        segment_takeaway(name, shown, overall),
        segment_figure(shown, overall, title, name),
        segment_note(cohorts, overall),
    )


def segment_retention_charts(con: duckdb.DuckDBPyConnection) -> list[Chart]:
    """One chart per breakdown dimension present in the mart, by dimension name."""
    rows = _records(
        con,
        "select dimension, segment, cohort_start, cohort_size, retained_users, is_complete "
        f"from marts.fct_retention_by_segment where grain = 'week' and period_number = {RETENTION_WEEK} "
        "order by dimension, cohort_start, segment",
    )
    if not rows:
        title = f"{TITLE}: week-4 retention by segment"
        return [Chart(_key("retention"), title, "No weekly cohort has reached week 4 yet.", None)]
    by_dimension: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_dimension.setdefault(str(row["dimension"]), []).append(row)
    return [segment_chart(dimension, part) for dimension, part in by_dimension.items()]


# --- features: retention of adopters (an association) and adoption ------------------------------


def adoption_trend(adoption: Sequence[dict[str, Any]], feature: str) -> tuple[float | None, float | None]:
    """A feature's adoption rate in the latest complete week and :data:`TREND_WEEKS` weeks before it."""
    rates = {row["week_start"]: row["adoption_rate"] for row in adoption if row["feature"] == feature}
    if not rates:
        return None, None
    latest = max(rates)
    return rates[latest], rates.get(latest - timedelta(weeks=TREND_WEEKS))


def _trend_cell(latest: float | None, before: float | None) -> str:
    if latest is None:
        return "n/a"
    return percent(latest) + ("" if before is None else f"<br>{points(latest - before)}")


def _wrapped(name: str, width: int = 14) -> str:
    """Feature names on lines of about ``width`` characters: table cells do not wrap by themselves."""
    lines: list[str] = []
    for word in name.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


TABLE_HEADER = (
    "feature",
    "adoption<br>(4-week<br>change)",
    "adopters:<br>week-4<br>retention",
    "non-<br>adopters:<br>week-4<br>retention",
    "difference<br>(points)",
)


def _group_cell(rate: float | None, users: int) -> str:
    return f"{percent(rate)}<br>n={users:,}"


def feature_table(retention: Sequence[dict[str, Any]], adoption: Sequence[dict[str, Any]]) -> go.Figure:
    """The feature table as a plotly table (it exports with the other figures).

    Five narrow columns, each value on two short lines, so that it reads on a 390 px phone:
    plotly's table cells never wrap by themselves.
    """
    columns = [
        [_wrapped(str(row["feature"])) for row in retention],
        [_trend_cell(*adoption_trend(adoption, str(row["feature"]))) for row in retention],
        [_group_cell(row["adopter_week_4_retention"], row["adopters"]) for row in retention],
        [_group_cell(row["non_adopter_week_4_retention"], row["non_adopters"]) for row in retention],
        [points(row["retention_difference"]) for row in retention],
    ]
    fig = go.Figure()
    fig.add_table(
        columnwidth=[1.4, 1.0, 1.1, 1.1, 1.1],
        header={
            "values": [f"<b>{text}</b>" for text in TABLE_HEADER],
            "align": "left",
            "fill_color": "#f5f7fa",
            "font": {"size": 11},
            "height": 64,
        },
        cells={"values": columns, "align": ["left"] + ["right"] * 4, "font": {"size": 11}, "height": 36},
    )
    return layout(fig, FEATURE_TITLE, height=90 + 46 * len(retention), margin={"l": 4, "r": 4, "t": 10, "b": 4})


def feature_takeaway(retention: Sequence[dict[str, Any]]) -> str:
    """The largest difference in week-4 retention between adopters and non-adopters, said as an association."""
    compared = [row for row in retention if row["retention_difference"] is not None]
    if not compared:
        return "No feature has both adopters and non-adopters among users who signed up 5 weeks ago or more yet."
    row = max(compared, key=lambda r: (abs(r["retention_difference"]), str(r["feature"])))
    difference = row["retention_difference"]
    if round(difference * 100, 1) == 0:
        comparison = "retain in week 4 like non-adopters"
    else:
        comparison = (
            f"retain {abs(difference) * 100:.1f} points {'better' if difference > 0 else 'worse'} in week 4 "
            "than non-adopters"
        )
    return (
        f"Early adopters of {row['feature']} {comparison} "
        f"({percent(row['adopter_week_4_retention'])} vs {percent(row['non_adopter_week_4_retention'])}): "
        "an association, not an effect of the feature."
    )


FEATURE_NOTE = (
    "Association, not cause: users who adopt a feature differ in other ways too (intent, plan, channel), so "
    "a difference here does not say what the feature does; an experiment measures that. Adopters used the "
    "feature in their first days after signup (dbt var feature_early_days, default 7); both groups are users "
    "who signed up at least 5 weeks before the data end, and week-4 retention is activity 28 to 34 days after "
    "signup (n: users in the group). Adoption: share of the week's active users who used the feature in the "
    "latest complete week, and its change in points on 4 weeks before."
)


def feature_chart(retention: Sequence[dict[str, Any]], adoption: Sequence[dict[str, Any]]) -> Chart:
    """The feature table section: its title and note say association; no feature, no table."""
    if not retention:
        return Chart(
            _key("features"),
            FEATURE_TITLE,
            "No feature to compare: none configured and no track event used by at least 1% of users.",
            None,
        )
    return Chart(
        _key("features"), FEATURE_TITLE, feature_takeaway(retention), feature_table(retention, adoption), FEATURE_NOTE
    )


def adoption_chart(rows: Sequence[dict[str, Any]]) -> Chart:
    """Adoption rate by week per feature, complete weeks only; the running week named in the note."""
    title = f"{TITLE}: feature adoption by week (share of active users)"
    running = sorted({row["week_start"] for row in rows if not row["is_complete"]})
    note = " ".join(f"Week of {week(start)} still running: left out." for start in running)
    complete = [row for row in rows if row["is_complete"]]
    if not complete:
        return Chart(_key("adoption"), title, "No complete week of feature use yet.", None, note)
    features = sorted({str(row["feature"]) for row in complete})
    fig = go.Figure()
    for index, feature in enumerate(features):
        part = sorted((row for row in complete if row["feature"] == feature), key=lambda row: row["week_start"])
        fig.add_scatter(
            x=[row["week_start"] for row in part],
            y=[row["adoption_rate"] for row in part],
            name=feature,
            mode="lines+markers",
            line={"color": PALETTE[index % len(PALETTE)], "dash": "solid" if index < len(PALETTE) else "dot"},
            customdata=[[row["feature_users"], row["active_users"]] for row in part],
            hovertemplate=f"{feature}: %{{customdata[0]:,}} of %{{customdata[1]:,}} active users (%{{y:.1%}})"
            "<extra>week of %{x}</extra>",
        )
    weeks = sorted({row["week_start"] for row in complete})
    fig.update_xaxes(**monday_axis(weeks[0], weeks[-1], "week (ticks on Mondays)"))
    fig.update_yaxes(title_text="used the feature (% of active users)", tickformat=".0%", rangemode="tozero")
    latest = weeks[-1]
    trends = {feature: adoption_trend(complete, feature) for feature in features}
    top, (rate, before) = max(trends.items(), key=lambda item: (item[1][0] or 0.0, item[0]))
    since = (
        ""
        if before is None or rate is None
        else f", {change_in_points(rate, before)} on the week of {week(latest - timedelta(weeks=TREND_WEEKS))}"
    )
    takeaway = f"Week of {week(latest)}: {top} is the most used feature ({percent(rate)} of active users{since})."
    return Chart(_key("adoption"), title, takeaway, layout(fig, title, height=440), note)


# --- accounts ------------------------------------------------------------------------------


def account_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Accounts with a user, and those with a user active in the last 30 days of data."""
    [(accounts, active)] = con.execute(
        "select count(*), count(*) filter (where active_users_30d > 0) from marts.dim_accounts"
    ).fetchall()
    return int(accounts), int(active)


def account_chart(rows: Sequence[dict[str, Any]], accounts: int, active: int) -> Chart:
    """Week-4 account retention by weekly cohort (complete cohorts), headed by the account counts."""
    title = f"{TITLE}: accounts active in week 4 after their first activity"
    if not accounts:
        takeaway = "No accounts yet: no group call with a known user reached the warehouse."
        return Chart(_key("accounts"), title, takeaway, None)
    headline = f"{accounts:,} account{'' if accounts == 1 else 's'}, {active:,} active in the last 30 days"
    complete = sorted((row for row in rows if row["is_complete"]), key=lambda row: row["cohort_start"])
    running = [row for row in rows if not row["is_complete"]]
    note = (
        "An account's cohort is the week of its first activity; it counts as active in week 4 when one of its users "
        "is. Cohorts still inside week 4 are left out"
        + (f" ({len(running)} cohort{'' if len(running) == 1 else 's'})." if running else ".")
    )
    if not complete:
        return Chart(_key("accounts"), title, f"{headline}; no account cohort has a complete week 4 yet.", None, note)
    fig = go.Figure()
    fig.add_bar(
        x=[row["cohort_start"] for row in complete],
        y=[row["retention_rate"] for row in complete],
        name="week-4 account retention",
        marker_color=SEGMENT_COLOR,
        text=[percent(row["retention_rate"]) for row in complete],
        customdata=[[row["retained_accounts"], row["cohort_accounts"]] for row in complete],
        hovertemplate="%{customdata[0]:,} of %{customdata[1]:,} accounts active in week 4<extra>week of %{x}</extra>",
    )
    first, last = complete[0]["cohort_start"], complete[-1]["cohort_start"]
    fig.update_xaxes(**monday_axis(first, last, "first-activity week (ticks on Mondays)"))
    fig.update_yaxes(title_text="accounts active in week 4 (% of cohort)", tickformat=".0%", rangemode="tozero")
    latest = complete[-1]
    cohort = (
        f"week-4 account retention {percent(latest['retention_rate'])} for the {day(latest['cohort_start'])} cohort "
        f"({latest['cohort_accounts']:,} account{'' if latest['cohort_accounts'] == 1 else 's'})"
    )
    if len(complete) > 1:
        prior = complete[-2]
        cohort += (
            f", {change_in_points(latest['retention_rate'], prior['retention_rate'])} on the cohort before "
            f"({percent(prior['retention_rate'])})"
        )
    return Chart(_key("accounts"), title, f"{headline}; {cohort}.", layout(fig, title, showlegend=False), note)


# --- the section ---------------------------------------------------------------------------


def segment_charts(con: duckdb.DuckDBPyConnection) -> list[Chart]:
    """The "Who retains" sections, in reading order; one sentence when the snapshot predates the marts."""
    present = present_marts(con)
    charts: list[Chart] = []
    if "fct_retention_by_segment" in present:
        charts += segment_retention_charts(con)
    if "fct_feature_retention" in present:
        adoption = (
            _records(con, "select * from marts.fct_feature_adoption order by week_start, feature")
            if "fct_feature_adoption" in present
            else []
        )
        retention = _records(
            con, "select * from marts.fct_feature_retention order by retention_difference desc nulls last, feature"
        )
        charts.append(feature_chart(retention, [row for row in adoption if row["is_complete"]]))
        if adoption:
            charts.append(adoption_chart(adoption))
    if {"fct_account_retention", "dim_accounts"} <= present:
        rows = _records(
            con,
            "select * from marts.fct_account_retention "
            f"where grain = 'week' and period_number = {RETENTION_WEEK} order by cohort_start",
        )
        charts.append(account_chart(rows, *account_counts(con)))
    return charts or [Chart("segments", TITLE, NOT_THERE_YET, None)]
