"""The anomaly rule of delivery.md ("Monitors and alerts") on daily series.

SQL reduces every monitor to one series, ``{date: value}``, and every (dimension, segment)
of a count or revenue monitor to another (``delivery.monitors``); the small pure functions
here turn those series into verdicts, in the manner of GrowthBook's stats engine: no
warehouse, no clock, every formula named with its source.

The rule, per monitor and day ``d``:

- **history**: the values of the same weekday over the previous 8 weeks, ``d - 7``,
  ``d - 14``, …, ``d - 56``; a date missing from the series (or null) is not present;
- **expected**: the median of the history, when at least 4 values are present (else no
  verdict);
- **spread**: ``1.4826 * MAD`` of the history, floored at 5% of ``|expected|`` and, for
  count monitors, at 1;
- **anomalous** when ``|value - expected| > threshold * spread`` (default 3, strictly
  greater), or when the value is outside the monitor's fixed bounds, if it has any.

"What moved" gives every (dimension, segment) series its own expected value by the same
history and median and lists the three largest ``value - expected`` in the direction of
the anomaly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

# The normal-consistency constant of the median absolute deviation: 1 / Φ⁻¹(3/4) ≈ 1.4826,
# so that 1.4826 * MAD estimates sigma for normal data (Rousseeuw & Croux 1993, "Alternatives
# to the Median Absolute Deviation", JASA 88(424); Leys et al. 2013, "Detecting outliers:
# Do not use standard deviation around the mean, use absolute deviation around the
# median", J. Exp. Soc. Psychol. 49(4)).
MAD_NORMAL_CONSISTENCY = 1.4826
HISTORY_WEEKS = 8  # d - 7 … d - 56
MIN_HISTORY = 4  # present values needed for a verdict
RELATIVE_FLOOR_DIVISOR = 20  # the spread is at least |expected| / 20 = 5% of it (exact in binary for round numbers)
COUNT_FLOOR = 1.0  # ... and at least 1 for count monitors (delivery.md)
DEFAULT_THRESHOLD = 3.0
WHAT_MOVED_LIMIT = 3

Direction = Literal["up", "down"]
Series = Mapping[date, float | None]


def same_weekday_history(series: Series, day: date, weeks: int = HISTORY_WEEKS) -> list[float]:
    """The present values at ``day - 7k`` for ``k = 1 … weeks``, most recent first.

    A date absent from ``series``, or holding None or NaN, is not present: a ratio with a
    zero denominator (metrics.md "Numbers": null) is no observation.
    """
    values = []
    for k in range(1, weeks + 1):
        value = series.get(day - timedelta(days=7 * k))
        if value is not None and not math.isnan(value):
            values.append(float(value))
    return values


def median(values: list[float]) -> float:
    """The sample median (the mean of the two middle values for an even count)."""
    return float(np.median(np.asarray(values, dtype=float)))


def mad_spread(values: list[float]) -> float:
    """``1.4826 * median(|x - median(x)|)``: the MAD scaled to estimate sigma for normal data
    (Rousseeuw & Croux 1993; Leys et al. 2013; see MAD_NORMAL_CONSISTENCY)."""
    center = median(values)
    return MAD_NORMAL_CONSISTENCY * median([abs(x - center) for x in values])


def floored_spread(robust_spread: float, expected: float, *, count: bool) -> float:
    """The spread with delivery.md's floors: at least 5% of ``|expected|``, and at least 1
    for a count monitor, so a quiet series (all equal, MAD 0) does not alarm on any change."""
    floors = [robust_spread, abs(expected) / RELATIVE_FLOOR_DIVISOR]
    if count:
        floors.append(COUNT_FLOOR)
    return max(floors)


@dataclass(frozen=True)
class Baseline:
    """What the history of one day says: the expected value, the spread, and how many of the
    8 weeks were present."""

    expected: float
    spread: float
    history_size: int


def baseline(series: Series, day: date, *, count: bool) -> Baseline | None:
    """Expected value and spread of ``day`` from its same-weekday history; None with fewer
    than MIN_HISTORY values present (delivery.md: at least 4 of the 8 weeks)."""
    history = same_weekday_history(series, day)
    if len(history) < MIN_HISTORY:
        return None
    expected = median(history)
    return Baseline(expected, floored_spread(mad_spread(history), expected, count=count), len(history))


def exceeds(value: float, expected: float, spread: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """``|value - expected| > threshold * spread``: strictly greater, so a value exactly
    ``threshold`` spreads away is still normal."""
    return abs(value - expected) > threshold * spread


@dataclass(frozen=True)
class Bounds:
    """Fixed bounds of a monitor: a value below ``minimum`` or above ``maximum`` is anomalous
    whatever the history (a value equal to a bound is not). Either may be None."""

    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"fixed bounds: minimum {self.minimum} is above maximum {self.maximum}")

    def broken_by(self, value: float) -> Direction | None:
        if self.minimum is not None and value < self.minimum:
            return "down"
        if self.maximum is not None and value > self.maximum:
            return "up"
        return None

    @property
    def is_set(self) -> bool:
        return self.minimum is not None or self.maximum is not None


@dataclass(frozen=True)
class Verdict:
    """One monitor on one day. ``expected``, ``low`` and ``high`` (the expected range,
    ``expected ± threshold * spread``) are None when the history is too short and only
    fixed bounds judged the day."""

    day: date
    value: float
    expected: float | None
    spread: float | None
    low: float | None
    high: float | None
    threshold: float
    history_size: int
    out_of_range: bool  # beyond threshold * spread from expected
    out_of_bounds: bool  # outside the fixed bounds
    bounds: Bounds = field(default_factory=Bounds)

    @property
    def anomalous(self) -> bool:
        return self.out_of_range or self.out_of_bounds

    @property
    def direction(self) -> Direction:
        """``up`` or ``down``: against the expected value, else against the broken bound."""
        if self.expected is not None and self.value != self.expected:
            return "up" if self.value > self.expected else "down"
        return self.bounds.broken_by(self.value) or "up"


def judge(
    series: Series,
    day: date,
    *,
    count: bool,
    threshold: float = DEFAULT_THRESHOLD,
    bounds: Bounds | None = None,
) -> Verdict | None:
    """The verdict on ``day``; None when the day has no value, or has neither enough
    history nor fixed bounds to judge it by."""
    raw = series.get(day)
    if raw is None or math.isnan(raw):
        return None
    value = float(raw)
    bounds = bounds or Bounds()
    base = baseline(series, day, count=count)
    if base is None and not bounds.is_set:
        return None
    out_of_bounds = bounds.broken_by(value) is not None
    if base is None:
        return Verdict(day, value, None, None, None, None, threshold, 0, False, out_of_bounds, bounds)
    margin = threshold * base.spread
    return Verdict(
        day=day,
        value=value,
        expected=base.expected,
        spread=base.spread,
        low=base.expected - margin,
        high=base.expected + margin,
        threshold=threshold,
        history_size=base.history_size,
        out_of_range=exceeds(value, base.expected, base.spread, threshold),
        out_of_bounds=out_of_bounds,
        bounds=bounds,
    )


@dataclass(frozen=True)
class Moved:
    """One (dimension, segment) on the anomalous day: its value, its own expected value
    (the median of its same-weekday history) and the difference."""

    dimension: str
    segment: str
    value: float
    expected: float

    @property
    def change(self) -> float:
        return self.value - self.expected


def what_moved(
    segments: Mapping[tuple[str, str], Series],
    day: date,
    direction: Direction,
    limit: int = WHAT_MOVED_LIMIT,
) -> list[Moved]:
    """The ``limit`` (dimension, segment) pairs that moved furthest in ``direction`` on ``day``.

    Each pair's expected value is the median of its own same-weekday history (at least 4
    present, as for the monitor; a pair without a value on ``day`` or without enough
    history is left out). For ``up`` the largest positive ``value - expected`` come first,
    for ``down`` the most negative; a pair that did not move in that direction (change 0 or
    the other sign) is never listed, so fewer than ``limit`` may come back. Ties are in
    (dimension, segment) order.
    """
    sign = 1.0 if direction == "up" else -1.0
    moved = []
    for (dimension, segment), series in segments.items():
        raw = series.get(day)
        history = same_weekday_history(series, day)
        if raw is None or math.isnan(raw) or len(history) < MIN_HISTORY:
            continue
        item = Moved(dimension, segment, float(raw), median(history))
        if sign * item.change > 0:
            moved.append(item)
    moved.sort(key=lambda item: (-sign * item.change, item.dimension, item.segment))
    return moved[:limit]


MonitorKind = Literal["count", "money", "ratio"]


@dataclass(frozen=True)
class Alert:
    """An anomalous day of a monitor, as delivered (delivery.md: the monitor, the date, the
    value, the expected range and the direction; what moved for count and revenue
    monitors). ``key`` is the once-per-alert key of ``ops.deliveries``."""

    monitor: str
    label: str
    kind: MonitorKind
    verdict: Verdict
    moved: tuple[Moved, ...] = ()

    @property
    def date(self) -> date:
        return self.verdict.day

    @property
    def direction(self) -> Direction:
        return self.verdict.direction

    @property
    def key(self) -> str:
        return f"alert:{self.monitor}:{self.verdict.day.isoformat()}"

    def summary(self) -> str:
        """One plain line: ``Daily signups on 2026-11-30: 52, expected 128 (104 - 152), down``."""
        v = self.verdict
        text = f"{self.label} on {v.day.isoformat()}: {_fmt(v.value, self.kind)}"
        if v.expected is not None and v.low is not None and v.high is not None:
            text += f", expected {_fmt(v.expected, self.kind)} ({_fmt(v.low, self.kind)} - {_fmt(v.high, self.kind)})"
        if v.out_of_bounds:
            lo = "" if v.bounds.minimum is None else _fmt(v.bounds.minimum, self.kind)
            hi = "" if v.bounds.maximum is None else _fmt(v.bounds.maximum, self.kind)
            text += f", outside the fixed bounds [{lo}, {hi}]"
        text += f", {self.direction}"
        if self.moved:
            parts = [
                f"{m.dimension}={m.segment} {_fmt(m.value, self.kind)} vs {_fmt(m.expected, self.kind)} "
                f"({'+' if m.change > 0 else '-'}{_fmt(abs(m.change), self.kind)})"
                for m in self.moved
            ]
            text += "; what moved: " + ", ".join(parts)
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the webhook's ``alerts`` list and for messages."""
        v = self.verdict
        return {
            "key": self.key,
            "monitor": self.monitor,
            "label": self.label,
            "kind": self.kind,
            "date": v.day.isoformat(),
            "value": v.value,
            "expected": v.expected,
            "expected_range": None if v.low is None else [v.low, v.high],
            "threshold": v.threshold,
            "bounds": [v.bounds.minimum, v.bounds.maximum] if v.bounds.is_set else None,
            "direction": self.direction,
            "what_moved": [
                {"dimension": m.dimension, "segment": m.segment, "value": m.value, "expected": m.expected}
                for m in self.moved
            ],
        }


def format_value(value: float, kind: MonitorKind) -> str:
    """A monitor's value as people read it: a ratio as a percentage, money with cents, a count whole."""
    if kind == "ratio":
        return f"{value:.1%}"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


_fmt = format_value
