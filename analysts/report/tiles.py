"""Headline tiles: the last complete week and month, each against the period before it.

Every tile names its period (the group's heading) and its change on the previous complete
period; money carries the currency. Running periods never make a tile: a week or month that
has not ended would show as a drop.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from typing import Literal

import duckdb

from analysts.report.style import relative, signed, week

Kind = Literal["count", "money", "rate", "ratio"]


@dataclass(frozen=True)
class Tile:
    label: str
    value: float | None
    previous: float | None
    kind: Kind
    decimals: int = 0  # money only: 0 for totals, 2 for unit costs

    def value_text(self, currency: str) -> str:
        if self.value is None:
            return "n/a"
        if self.kind == "count":
            return f"{self.value:,.0f}"
        if self.kind == "money":
            return f"{self.value:,.{self.decimals}f} {currency}"
        if self.kind == "rate":
            return f"{self.value:.1%}"
        return f"{self.value:.2f}"

    def change_text(self, currency: str) -> str:
        """``+28 (+30%)`` for counts and money, ``+1.0 pt`` for rates, ``+1.07`` for ratios; else ``n/a``."""
        if self.value is None:
            return "n/a"
        if self.previous is None:
            return "no earlier value"
        diff = self.value - self.previous
        if self.kind == "rate":
            return f"{signed(diff * 100, 1)} pt"
        if self.kind == "ratio":
            return signed(diff, 2)
        amount = signed(diff, self.decimals if self.kind == "money" else 0)
        if self.kind == "money":
            amount += f" {currency}"
        rel = relative(self.value, self.previous)
        return f"{amount} ({rel})" if rel else amount


@dataclass(frozen=True)
class TileGroup:
    period: str  # the week (Monday to Sunday) or the month
    previous: str  # the period before it; "" when there is no earlier complete period
    tiles: tuple[Tile, ...]


def _week_group(con: duckdb.DuckDBPyConnection) -> TileGroup | None:
    rows = con.execute(
        "select period_start, active_users, churn_rate, quick_ratio from marts.fct_growth_accounting "
        "where grain = 'week' and is_complete order by period_start desc limit 2"
    ).fetchall()
    if not rows:
        return None
    signups = dict(
        con.execute("select cohort_start, signups from marts.fct_activation where grain = 'week'").fetchall()
    )
    now, before = rows[0], (rows[1] if len(rows) > 1 else None)

    def pair(index: int) -> tuple[float | None, float | None]:
        return now[index], (before[index] if before else None)

    tiles = (
        Tile("Active users", *pair(1), "count"),
        Tile("Signups", signups.get(now[0], 0), signups.get(before[0], 0) if before else None, "count"),
        Tile("Churn rate", *pair(2), "rate"),
        Tile("Quick ratio", *pair(3), "ratio"),
    )
    return TileGroup(f"Week {week(now[0])}", week(before[0]) if before else "", tiles)


def _revenue_by_month(con: duckdb.DuckDBPyConnection) -> dict[date, float]:
    """Revenue per calendar month: each cohort's revenue at month offset m falls in cohort + m."""
    rows = con.execute(
        "select cohort_month + to_months(cast(months_since_signup as integer)) as month, sum(revenue) "
        "from marts.fct_ltv_cohorts group by 1"
    ).fetchall()
    return {(month.date() if hasattr(month, "date") else month): float(revenue or 0) for month, revenue in rows}


def _month_group(con: duckdb.DuckDBPyConnection) -> TileGroup | None:
    rows = con.execute(
        "select a.month, a.spend, a.new_customers, a.cost_per_signup, a.cac, g.active_users "
        "from marts.fct_acquisition a join marts.fct_growth_accounting g "
        "on g.grain = 'month' and g.period_start = a.month and g.is_complete "
        "where a.channel = '(all)' order by a.month desc limit 2"
    ).fetchall()
    if not rows:
        return None
    revenue = _revenue_by_month(con)
    now, before = rows[0], (rows[1] if len(rows) > 1 else None)

    def pair(index: int) -> tuple[float | None, float | None]:
        return now[index], (before[index] if before else None)

    tiles = (
        Tile("Active users", *pair(5), "count"),
        Tile("Revenue", revenue.get(now[0], 0.0), revenue.get(before[0], 0.0) if before else None, "money"),
        Tile("Spend", *pair(1), "money"),
        Tile("New customers", *pair(2), "count"),
        Tile("Cost per signup", *pair(3), "money", 2),
        Tile("CAC per customer", *pair(4), "money", 2),
    )
    return TileGroup(f"{now[0]:%B %Y}", f"{before[0]:%B %Y}" if before else "", tiles)


def headline_tiles(con: duckdb.DuckDBPyConnection) -> list[TileGroup]:
    """The last complete week's and month's tiles (a group is missing until its period ended)."""
    return [group for group in (_week_group(con), _month_group(con)) if group is not None]


def tiles_html(groups: list[TileGroup], currency: str) -> str:
    parts = []
    for group in groups:
        versus = f"vs {group.previous}" if group.previous else "first complete period"
        tiles = "".join(
            f'<div class="kpi"><span class="label">{html.escape(tile.label)}</span>'
            f"<b>{html.escape(tile.value_text(currency))}</b>"
            f'<span class="change">{html.escape(tile.change_text(currency))}</span></div>'
            for tile in group.tiles
        )
        parts.append(
            f'<section class="tiles"><h2 class="period">{html.escape(group.period)} '
            f'<span class="versus">{html.escape(versus)}</span></h2><div class="headline">{tiles}</div></section>'
        )
    return "".join(parts)
