"""The report's Experiments section: one readout per experiment (docs/experiments.md).

Each experiment gets a section: the sample-ratio-mismatch warning in red when its split is
broken, a one-line takeaway, the decision of every treatment x metric comparison in words
(a guardrail loss in red right after that treatment's other results), the facts a reader
needs to weigh them (users, comparisons made without correction, unusable exposures, users
whose windows are still open) and a forest plot of relative lift: per comparison the
always-valid (sequential) interval as a thick bar (the one decisions are made on), the
fixed-horizon interval as a thin line inside it, and the point estimate.

Everything comes from ``marts.dim_experiments`` and ``marts.fct_experiment_results``; a
snapshot without those marts (built before experiments existed) gets no section, one with
no experiment gets a one-line section saying so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import duckdb
import plotly.graph_objects as go

from analysts.report.style import Chart, Line, day, layout, signed

TITLE = "Experiments"
AXIS_TITLE = "Relative lift vs control (%)"
SEQUENTIAL = "always-valid interval (decide on this)"
FIXED = "fixed-horizon interval"
DECISION_COLORS = {"win": "#2ca02c", "loss": "#d62728", "inconclusive": "#7f7f7f", "invalid": "#7f7f7f"}
DECISION_SYMBOLS = {"win": "circle", "loss": "circle", "inconclusive": "circle-open", "invalid": "x"}
SEQUENTIAL_COLOR = "rgba(31, 119, 180, 0.45)"


def lift(value: float) -> str:
    """A relative lift in percent, one decimal, signed: ``+12.3 %``, a negative one with a real minus sign (U+2212)."""
    return f"{signed(value * 100, 1)} %"


def p_text(value: float) -> str:
    """A p-value written out in decimals, one significant digit below 0.001: ``0.00001``."""
    if value >= 0.001:
        return f"{value:.3f}"
    if value < 1e-6:
        return "< 0.000001"
    return f"{value:.{-math.floor(math.log10(value))}f}"


def srm_warning(p_value: float) -> str:
    p = p_text(p_value)
    return (
        f"Sample ratio mismatch (p {p if p.startswith('<') else '= ' + p}): the split is broken, results are invalid."
    )


def _label(row: dict[str, Any]) -> str:
    return str(row["variation_name"] or row["variation_id"])


def _metric(row: dict[str, Any]) -> str:
    return f"{row['metric_name']} (guardrail)" if row["is_guardrail"] else str(row["metric_name"])


def decision_text(row: dict[str, Any]) -> str:
    """One comparison's decision in words, with the lift and the always-valid interval."""
    name, metric, decision = _label(row), _metric(row), row["decision"]
    low, high, point = row["seq_ci_low"], row["seq_ci_high"], row["relative_lift"]
    interval = "" if low is None else f"always-valid interval {lift(low)} to {lift(high)}"
    if decision == "invalid":
        measured = f" ({lift(point)} measured, not to be trusted)" if point is not None else ""
        return f"{name} on {metric}: invalid, the split is broken{measured}"
    if low is None:
        return (
            f"{name} on {metric}: inconclusive, too little data for an interval "
            f"({row['users']:,} users counted, {row['users_in_progress']:,} in progress)"
        )
    if decision == "win":
        return f"{name} wins on {metric}: {lift(point)} ({interval})"
    if decision == "loss":
        return f"{name} loses on {metric}: {lift(point)} ({interval})"
    return f"{name} on {metric}: inconclusive, {lift(point)} ({interval}, includes 0)"


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Treatment rows per treatment (in variation order), its guardrails after its other metrics."""
    treatments = list(dict.fromkeys(row["variation_id"] for row in rows))
    return sorted(rows, key=lambda row: (treatments.index(row["variation_id"]), row["is_guardrail"]))


def _takeaway(info: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    if info["srm_flag"]:
        return "Invalid: the users per variation do not match the configured split; no result can be trusted."
    if not rows:
        return "No comparison yet: no treatment has users who count."
    wins = [row for row in rows if row["decision"] == "win"]
    guard = [row for row in rows if row["decision"] == "loss" and row["is_guardrail"]]
    losses = [row for row in rows if row["decision"] == "loss" and not row["is_guardrail"]]
    parts = [f"{_label(row)} wins on {row['metric_name']} ({lift(row['relative_lift'])})" for row in wins]
    parts += [f"{_label(row)} loses on {row['metric_name']}" for row in losses]
    parts += [f"{_label(row)} loses on the guardrail {row['metric_name']}" for row in guard]
    if not parts:
        return f"No decision yet: all {len(rows)} comparisons inconclusive."
    return "; ".join(parts) + "."


def _facts(info: dict[str, Any], rows: list[dict[str, Any]], results: list[dict[str, Any]]) -> str:
    first, last = info["first_exposure_date"], info["last_exposure_date"]
    period = (
        (f"running since {day(first)}" if info["is_running"] else f"exposures from {day(first)} to {day(last)}")
        if first is not None
        else "no usable exposure"
    )
    facts = [
        f"{info['experiment_id']}, {period}: {info['users']:,} users in {info['variations']} variations "
        f"(control: {_control(info, results)})."
    ]
    facts.append(
        f"{len(rows)} treatment \u00d7 metric comparison{'' if len(rows) == 1 else 's'}, no correction for "
        "multiple comparisons: the more comparisons, the likelier one wins by chance."
    )
    exposed = info["users"] + info["multiple_exposure_users"] + info["unusable_exposures"]
    unusable = info["unusable_exposures"]
    if unusable:
        facts.append(
            f"Unusable exposures: {unusable:,} ({unusable / exposed * 100:.1f} % of exposures, each assigned "
            "user counted once), mostly anonymous visitors never identified; they are left out, and a "
            "treatment that changes sign-up rates biases the users who remain."
        )
    else:
        facts.append("Unusable exposures: none.")
    if info["multiple_exposure_users"]:
        facts.append(f"{info['multiple_exposure_users']:,} users saw more than one variation: left out.")
    waiting: dict[int, list[str]] = {}
    for metric, users in _in_progress(results).items():
        if users:
            waiting.setdefault(users, []).append(metric)
    if waiting:
        facts.append(
            "Users in progress (window still open, not counted yet): "
            + "; ".join(f"{users:,} for {', '.join(metrics)}" for users, metrics in waiting.items())
            + "."
        )
    return " ".join(facts)


def _control(info: dict[str, Any], results: list[dict[str, Any]]) -> str:
    names = [_label(row) for row in results if row["is_control"]]
    return names[0] if names else str(info["control_id"] or "none")


def _in_progress(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Users in progress per metric, every variation (the control included) summed."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["metric_name"]] = totals.get(row["metric_name"], 0) + int(row["users_in_progress"] or 0)
    return totals


def tick_format(values: Sequence[float]) -> str:
    """Percent ticks with as many decimals as the span of the axis needs (``.0%`` from 5 % up)."""
    span = max(values) - min(values) if values else 0.0
    return ".0%" if span >= 0.05 else ".1%" if span >= 0.005 else ".2%"


def forest_plot(rows: list[dict[str, Any]], title: str) -> go.Figure:
    """Relative lift per treatment x metric: the always-valid interval thick, the fixed one thin."""
    labels = [f"{_label(row)}<br>{_metric(row)}" for row in rows]
    fig = go.Figure()
    for name, low, high, width, color in (
        (SEQUENTIAL, "seq_ci_low", "seq_ci_high", 12, SEQUENTIAL_COLOR),
        (FIXED, "ci_low", "ci_high", 2, "#333333"),
    ):
        xs: list[float | None] = []
        ys: list[str | None] = []
        for label, row in zip(labels, rows, strict=True):
            if row[low] is not None:
                xs += [row[low], row[high], None]
                ys += [label, label, None]
        fig.add_scatter(x=xs, y=ys, name=name, mode="lines", line={"width": width, "color": color}, hoverinfo="skip")
    for decision, color in DECISION_COLORS.items():
        picked = [(label, row) for label, row in zip(labels, rows, strict=True) if row["decision"] == decision]
        points = [(label, row) for label, row in picked if row["relative_lift"] is not None]
        if not points:
            continue
        fig.add_scatter(
            x=[row["relative_lift"] for _, row in points],
            y=[label for label, _ in points],
            name=decision,
            mode="markers",
            marker={"size": 11, "color": color, "symbol": DECISION_SYMBOLS[decision], "line": {"width": 2}},
            customdata=[
                [row["users"], _interval(row, "seq_ci_low", "seq_ci_high"), _interval(row, "ci_low", "ci_high")]
                for _, row in points
            ],
            hovertemplate="lift %{x:+.1%}<br>always-valid %{customdata[1]}<br>fixed-horizon %{customdata[2]}"
            "<br>%{customdata[0]:,} users counted<extra>%{y}</extra>",
        )
    values = [0.0] + [
        row[column]
        for row in rows
        for column in ("relative_lift", "seq_ci_low", "seq_ci_high", "ci_low", "ci_high")
        if row[column] is not None
    ]
    pad = (max(values) - min(values)) * 0.06 or 0.01
    fig.add_vline(x=0, line_width=1.5, line_color="#222222")
    fig.update_xaxes(
        title_text=AXIS_TITLE,
        tickformat=tick_format(values),
        hoverformat="+.1%",
        range=[min(values) - pad, max(values) + pad],
        zeroline=False,
    )
    fig.update_yaxes(
        title_text="treatment, metric",
        type="category",
        categoryorder="array",
        categoryarray=labels,
        autorange="reversed",
    )
    return layout(fig, title, height=150 + 56 * len(rows))


def _interval(row: dict[str, Any], low: str, high: str) -> str:
    return "n/a" if row[low] is None else f"{lift(row[low])} to {lift(row[high])}"


def _key(experiment_id: str) -> str:
    return "experiment-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", experiment_id).strip("-") or "x")


def experiment_chart(info: dict[str, Any], results: list[dict[str, Any]]) -> Chart:
    """The readout of one experiment: a row of dim_experiments and its result rows."""
    name = info["experiment_name"]
    title = f"Experiment: {name}" if name else f"Experiment {info['experiment_id']}"
    rows = _ordered([row for row in results if not row["is_control"]])
    warnings = (srm_warning(info["srm_p_value"]),) if info["srm_flag"] else ()
    # A guardrail loss is red and follows its treatment's other results, wins included (_ordered).
    lines = tuple(
        Line(decision_text(row), alert=row["decision"] == "loss" and row["is_guardrail"], tone=row["decision"])
        for row in rows
    )
    figure = forest_plot(rows, title) if any(row["relative_lift"] is not None for row in rows) else None
    return Chart(
        _key(str(info["experiment_id"])),
        title,
        _takeaway(info, rows),
        figure,
        _facts(info, rows, results),
        warnings=warnings,
        lines=lines,
    )


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def experiment_charts(con: duckdb.DuckDBPyConnection) -> list[Chart]:
    """One section per experiment, the most recently exposed first; [] without the marts."""
    [(present,)] = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'marts' "
        "and table_name in ('dim_experiments', 'fct_experiment_results')"
    ).fetchall()
    if present < 2:
        return []
    experiments = _records(
        con,
        "select * from marts.dim_experiments "
        "order by last_exposure_date desc nulls last, first_exposure_date desc nulls last, experiment_id",
    )
    if not experiments:
        return [
            Chart(
                "experiments",
                TITLE,
                "No experiments: no experiment exposure reached the warehouse yet.",
                None,
                "Send an `Experiment Viewed` track event per exposure (see docs/experiments.md).",
            )
        ]
    results = _records(
        con, "select * from marts.fct_experiment_results order by experiment_id, metric_name, variation_id"
    )
    by_experiment: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        by_experiment.setdefault(row["experiment_id"], []).append(row)
    return [experiment_chart(info, by_experiment.get(info["experiment_id"], [])) for info in experiments]
