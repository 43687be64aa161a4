"""What every chart of the report shares: the Chart record, number formats and axes.

Axis rules (issue #14): every axis carries a title with its unit (money with the currency),
ticks are round (plotly's automatic ticks, never synced to another axis), weekly and daily
date axes put their ticks on Mondays (ISO weeks are named by their Monday), and an outlier at
the start of a history is cut off the axis and named instead of flattening the rest.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import plotly.graph_objects as go

WEEK_MS = 7 * 24 * 3600 * 1000
MAX_TICKS = 6  # date ticks per axis: two-line labels of ~45 px each stay apart at a 390 px screen
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
ALL_COLOR = "#555555"


@dataclass(frozen=True)
class Line:
    """A line of a section's list (an experiment's decisions): ``alert`` lines show in red."""

    text: str
    alert: bool = False
    tone: str = ""  # a CSS class naming its kind (an experiment's decision: win, loss, ...)


@dataclass(frozen=True)
class Chart:
    """One section of the report: its title, the change it shows, caveats, and the figure.

    ``note`` names what the figure leaves out or cuts (running periods, a trimmed axis); the
    HTML shows it under the takeaway and the PNG export as the figure's subtitle. ``figure``
    is None when there is nothing to draw (the section then shows its takeaway only).
    ``warnings`` (red, above the takeaway) say that the section's numbers cannot be trusted;
    ``lines`` list findings under the takeaway (an experiment's decisions).
    """

    key: str
    title: str
    takeaway: str
    figure: go.Figure | None
    note: str = ""
    warnings: tuple[str, ...] = ()
    lines: tuple[Line, ...] = ()


# --- numbers -------------------------------------------------------------------------------


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def money(value: float | None, currency: str, decimals: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f} {currency}"


def signed(value: float, decimals: int = 0) -> str:
    """``+12``, ``0``, or a negative number written with a real minus sign (U+2212)."""
    text = f"{abs(value):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        return text
    return ("+" if value > 0 else "\u2212") + text


def relative(value: float | None, previous: float | None) -> str | None:
    """Relative change as ``+25%``; None when there is no previous value to compare with."""
    if value is None or previous is None or previous == 0:
        return None
    return signed((value - previous) / abs(previous) * 100) + "%"


def day(value: date) -> str:
    """``18 May 2026``."""
    return f"{value.day} {value:%b %Y}"


def week(value: date) -> str:
    """An ISO week by its Monday and Sunday (``18-24 May 2026``, written with an en dash)."""
    end = value + timedelta(days=6)
    if end.month == value.month:
        return f"{value.day}\u2013{day(end)}"
    if end.year == value.year:
        return f"{value.day} {value:%b} \u2013 {day(end)}"
    return f"{day(value)} \u2013 {day(end)}"


def wrap(text: str, width: int = 120) -> str:
    """Plotly text does not wrap: break long notes into <br>-separated lines."""
    return "<br>".join(textwrap.wrap(text, width)) if text else ""


# --- axes ----------------------------------------------------------------------------------


def monday(value: date) -> date:
    return value - timedelta(days=value.weekday())


def monday_axis(first: date, last: date, title: str) -> dict[str, object]:
    """A date axis ticked on Mondays, every k weeks so that at most MAX_TICKS labels show.

    Plotly's automatic weekly ticks fall on Sundays; a bar of the week named by its Monday
    sits on the Monday, so the tick must too (linear ticks from a Monday, 7-day steps).
    """
    start = monday(first)
    weeks = (last - start).days // 7 + 1
    step = max(1, math.ceil(weeks / MAX_TICKS))
    return {
        "title": {"text": title},
        "type": "date",
        "tickmode": "linear",
        "tick0": start.isoformat(),
        "dtick": step * WEEK_MS,
        "tickformat": "%-d %b<br>%Y",
        "hoverformat": "%a %-d %b %Y",
    }


def month_axis(first: date, last: date, title: str) -> dict[str, object]:
    """A date axis ticked on the first of a month, every k months (at most MAX_TICKS)."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    step = max(1, math.ceil(months / MAX_TICKS))
    return {
        "title": {"text": title},
        "type": "date",
        "tickmode": "linear",
        "tick0": first.replace(day=1).isoformat(),
        "dtick": f"M{step}",
        "tickformat": "%b %Y",
        "hoverformat": "%B %Y",
    }


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times 10^k that is at least ``value``."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for mantissa in (1, 2, 2.5, 5, 10):
        candidate = mantissa * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


def early_outliers(values: Sequence[float | None], factor: float = 1.5) -> tuple[float | None, list[int]]:
    """An axis top that keeps outliers at the start of a history from flattening the rest.

    A value in the first half of the history counts as an outlier when it exceeds ``factor``
    times the largest value of the second half (the recent one, never cut). Returns the
    axis top (a round number above every other value) and the indices of the cut values, or
    ``(None, [])`` when nothing needs cutting.
    """
    present = [(index, value) for index, value in enumerate(values) if value is not None]
    if len(present) < 4:
        return None, []
    half = len(present) // 2
    recent = max(value for _, value in present[half:])
    if recent <= 0:
        return None, []
    cut = [index for index, value in present[:half] if value > factor * recent]
    if not cut:
        return None, []
    kept = max(value for index, value in present if index not in cut)
    return nice_ceiling(kept * 1.1), cut


def layout(fig: go.Figure, title: str, *, height: int = 420, **kwargs: object) -> go.Figure:
    """The report's common layout: white template, legend above the plot, sized by its page.

    No width: the HTML figure fills its container (plotly's ``responsive`` config redraws it
    when the page resizes); the PNG export sets its own width.
    """
    base: dict[str, object] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "template": "plotly_white",
        "autosize": True,
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        "font": {"size": 12},
    }
    fig.update_layout(**(base | kwargs))
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def channel_colors(channels: Sequence[str]) -> dict[str, str]:
    """One color per channel (in the order given), the same in every chart; (all) in grey."""
    real = sorted(channel for channel in channels if channel != "(all)")
    return {"(all)": ALL_COLOR} | {channel: PALETTE[index % len(PALETTE)] for index, channel in enumerate(real)}
