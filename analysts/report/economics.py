"""Channel economics charts: payback, LTV:CAC and predicted LTV, one CAC vocabulary.

- *cost per signup* = spend / signups (``cost_per_signup``);
- *CAC per customer* = spend / new paying customers (``cac``);
- *LTV:CAC* = LTV / cost per signup (metrics.md ``ltv_cac_ratio``), labelled with that
  denominator wherever it appears: LTV is revenue per signup, so it is set against what a
  signup costs, never against the CAC per customer.

Payback is shown as labelled values: a number of months, or "not paid back" with the months
observed so far when the channel's revenue per signup has not reached its cost per signup.
"""

from __future__ import annotations

from typing import Any

import duckdb
import plotly.graph_objects as go
import polars as pl

from analysts.report.style import ALL_COLOR, Chart, channel_colors, layout, money

ALL_LABEL = "all channels"


def _channel(name: str) -> str:
    return ALL_LABEL if name == "(all)" else name


def _months(count: int) -> str:
    return f"{count} month" + ("" if count == 1 else "s")


def months_observed(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per channel (and ``(all)``): complete months since the signup month of its oldest user.

    This is how far ``ltv_at_month`` reaches (metrics.md: a user's age is the number of
    complete months since the signup month), so how long a channel has had to pay back.
    """
    rows = con.execute(
        """
        with data_end as (
            select max(cohort_month + to_months(cast(months_since_signup as integer))) as month
            from marts.fct_ltv_cohorts
        ), ages as (
            select acquisition_channel as channel,
                   date_diff('month', date_trunc('month', signup_date), (select month from data_end)) as months
            from marts.dim_users
        )
        select channel, max(months) from ages group by channel
        union all
        select '(all)', max(months) from ages
        """
    ).fetchall()
    return {channel: int(months or 0) for channel, months in rows}


def payback_label(cost_per_signup: float | None, payback_months: int | None, observed: int) -> str:
    """What the payback chart writes for a channel (metrics.md ``payback_months``)."""
    if cost_per_signup is None:
        return "no signups"
    if cost_per_signup == 0:
        return "0 months (no spend)"
    if payback_months is not None:
        return _months(payback_months)
    if observed <= 0:
        return "not paid back (no complete month yet)"
    return f"not paid back ({_months(observed)} observed)"


def _economics(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The economics mart, channels alphabetically, (all) last."""
    return con.sql("select * from marts.fct_channel_economics order by channel = '(all)', channel").pl()


def _hover(row: dict[str, Any], currency: str) -> str:
    return (
        f"spend {money(row['spend'], currency, 0)}<br>{row['signups']:,} signups, {row['customers']:,} customers"
        f"<br>cost per signup {money(row['cost_per_signup'], currency)}"
        f"<br>CAC per customer {money(row['cac'], currency)}"
        f"<br>LTV per signup {money(row['ltv'], currency)}"
    )


def payback(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _economics(con)
    title = "Payback by channel: months until revenue per signup covers cost per signup"
    if not df.height:
        return Chart("payback", title, "No channel has signups or spend yet.", None)
    observed = months_observed(con)
    rows = list(df.iter_rows(named=True))
    labels = [
        payback_label(row["cost_per_signup"], row["payback_months"], observed.get(row["channel"], 0)) for row in rows
    ]
    colors = channel_colors(df["channel"].to_list())
    values = [row["payback_months"] or 0 for row in rows]
    fig = go.Figure()
    fig.add_bar(
        y=[_channel(row["channel"]) for row in rows],
        x=values,
        orientation="h",
        text=labels,
        textposition="outside",
        constraintext="none",
        cliponaxis=False,
        marker_color=[colors.get(row["channel"], ALL_COLOR) for row in rows],
        hovertext=[_hover(row, currency) for row in rows],
        hovertemplate="%{y}: %{text}<br>%{hovertext}<extra></extra>",
        name="payback",
    )
    longest = max([*values, 1])
    fig.update_xaxes(
        title_text="payback (months; 0 = no spend)", range=[0, longest * 1.4 + 1.2], dtick=1, tickformat="d"
    )
    fig.update_yaxes(title_text="acquisition channel", autorange="reversed", type="category")
    real = [(row, label) for row, label in zip(rows, labels, strict=True) if row["channel"] != "(all)"]
    paid = sorted(
        (row["payback_months"], row["channel"])
        for row, _ in real
        if row["payback_months"] is not None and row["cost_per_signup"]
    )
    unpaid = [row["channel"] for row, label in real if label.startswith("not paid back")]
    free = [row["channel"] for row, _ in real if row["cost_per_signup"] == 0]
    parts = []
    if paid:
        fastest, slowest = paid[0], paid[-1]
        parts.append(
            f"{fastest[1]} pays back in {_months(fastest[0])}"
            if len(paid) == 1
            else f"fastest {fastest[1]} ({_months(fastest[0])}), slowest {slowest[1]} ({_months(slowest[0])})"
        )
    if unpaid:
        parts.append(f"{_join(unpaid)} not paid back yet")
    if free:
        parts.append(f"{_join(free)} without spend")
    everyone = [label for row, label in zip(rows, labels, strict=True) if row["channel"] == "(all)"]
    if everyone:
        parts.append(f"all channels together {everyone[0]}")
    takeaway = "Payback: " + "; ".join(parts) + "."
    note = (
        "Payback: the first month in which cumulative revenue per signup reaches the channel's cost per signup "
        "(spend ÷ signups), counted from the signup month. \u201cNot paid back\u201d: not reached in the months "
        "observed so far."
    )
    return Chart("payback", title, takeaway, layout(fig, title, showlegend=False), note)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _ratio_label(ratio: float | None, value: float | None, cost_per_signup: float | None, name: str) -> str:
    if cost_per_signup is None:
        return "no signups"
    if cost_per_signup == 0:
        return "no spend"
    if ratio is None or value is None:
        return f"{name} n/a".strip()
    return f"{name} {ratio:.1f}".strip() if name else f"{ratio:.1f}\u00d7"


def _value_vs_cost(
    df: pl.DataFrame, value: str, ratio: str, value_name: str, ratio_name: str, currency: str
) -> go.Figure:
    """Horizontal bars per channel: a per-signup value beside the cost per signup, the ratio as label.

    Horizontal so channel names and labels keep their room on a phone.
    """
    rows = list(df.iter_rows(named=True))
    channels = [_channel(row["channel"]) for row in rows]
    fig = go.Figure()
    fig.add_bar(
        y=channels,
        x=[row[value] or 0 for row in rows],
        orientation="h",
        name=value_name,
        marker_color="#2ca02c",
        text=[_ratio_label(row[ratio], row[value], row["cost_per_signup"], ratio_name) for row in rows],
        textposition="outside",
        constraintext="none",
        cliponaxis=False,
        hovertemplate=f"%{{y}}: {value_name} %{{x:,.2f}} {currency}<extra></extra>",
    )
    fig.add_bar(
        y=channels,
        x=[row["cost_per_signup"] for row in rows],
        orientation="h",
        name="cost per signup",
        marker_color="#9e9e9e",
        hovertemplate=f"%{{y}}: cost per signup %{{x:,.2f}} {currency}<extra></extra>",
    )
    largest = max([0.0, *(row[value] or 0 for row in rows), *(row["cost_per_signup"] or 0 for row in rows)])
    fig.update_yaxes(title_text="acquisition channel", type="category", autorange="reversed")
    fig.update_xaxes(title_text=f"{currency} per signup", tickformat=",.0f", range=[0, (largest or 1) * 1.6])
    return fig


def channel_economics(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    df = _economics(con)
    title = "LTV:CAC by channel: LTV per signup ÷ cost per signup"
    if not df.height:
        return Chart("economics", title, "No channel has signups or spend yet.", None)
    fig = _value_vs_cost(df, "ltv", "ltv_cac_ratio", "LTV per signup", "LTV:CAC", currency)
    real = df.filter(pl.col("channel") != "(all)")
    ranked = real.filter(pl.col("ltv_cac_ratio").is_not_null()).sort("ltv_cac_ratio")
    everyone = df.filter(pl.col("channel") == "(all)")["ltv_cac_ratio"].to_list()
    overall = f"; all channels {everyone[0]:.1f}" if everyone and everyone[0] is not None else ""
    if ranked.height > 1:
        takeaway = (
            f"LTV:CAC (LTV ÷ cost per signup): best {ranked['channel'][-1]} {ranked['ltv_cac_ratio'][-1]:.1f}, "
            f"worst {ranked['channel'][0]} {ranked['ltv_cac_ratio'][0]:.1f}{overall}."
        )
    elif ranked.height:
        takeaway = (
            f"LTV:CAC (LTV ÷ cost per signup) {ranked['ltv_cac_ratio'][0]:.1f} for {ranked['channel'][0]}, "
            f"the only paid channel with signups old enough{overall}."
        )
    else:
        paid = real.filter(pl.col("cost_per_signup") > 0).sort("cost_per_signup")
        spread = (
            f"; cost per signup runs from {money(paid['cost_per_signup'][0], currency)} ({paid['channel'][0]}) "
            f"to {money(paid['cost_per_signup'][-1], currency)} ({paid['channel'][-1]})"
            if paid.height > 1
            else ""
        )
        takeaway = f"LTV:CAC is n/a for every channel: no signups are old enough for the LTV horizon yet{spread}."
    note = (
        "LTV:CAC as metrics.md defines it: LTV (mean revenue per signup over the LTV horizon) ÷ cost per signup "
        "(spend ÷ signups), not ÷ CAC per customer (spend ÷ new customers). n/a until a channel has signups "
        "as old as the horizon."
    )
    return Chart("economics", title, takeaway, layout(fig, title, barmode="group"), note)


def predicted_ltv(con: duckdb.DuckDBPyConnection, currency: str = "USD") -> Chart:
    title = "Predicted LTV per signup ÷ cost per signup by channel"
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_channel_predicted_ltv'"
    ).fetchall()[0][0]
    if not exists:
        return Chart("predicted_ltv", title, "Predictive LTV has not been computed yet.", None)
    df = con.sql("select * from marts.fct_channel_predicted_ltv order by channel = '(all)', channel").pl()
    if not df.height:
        return Chart("predicted_ltv", title, "No channel to predict yet.", None)
    horizon = df["horizon_months"][0]
    name = "predicted LTV per signup (label: ÷ cost per signup)"
    fig = _value_vs_cost(df, "mean_predicted_ltv", "predicted_ltv_cac_ratio", name, "", currency)
    ranked = df.filter((pl.col("channel") != "(all)") & pl.col("predicted_ltv_cac_ratio").is_not_null()).sort(
        "predicted_ltv_cac_ratio"
    )
    ratios = ranked["predicted_ltv_cac_ratio"]
    if ranked.height > 1:
        takeaway = (
            f"Predicted LTV ÷ cost per signup: best {ranked['channel'][-1]} {ratios[-1]:.1f}, "
            f"worst {ranked['channel'][0]} {ratios[0]:.1f}."
        )
    elif ranked.height:
        takeaway = (
            f"Predicted LTV ÷ cost per signup {ranked['predicted_ltv_cac_ratio'][0]:.1f} for "
            f"{ranked['channel'][0]}, the only paid channel."
        )
    else:
        takeaway = "No paid channel to compare yet."
    note = (
        f"Predicted LTV per signup: revenue so far plus the expected next {horizon} months (BG/NBD and Gamma-Gamma), "
        "averaged over every signup of the channel; divided by cost per signup (spend ÷ signups), as LTV:CAC is."
    )
    return Chart("predicted_ltv", title, takeaway, layout(fig, title, barmode="group"), note)
