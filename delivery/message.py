"""The neutral message every channel renders: what a report or an alert says, not how.

The orchestration layer fills a :class:`Message` from the rendered report (headline numbers,
chart PNGs with their takeaways, the interactive HTML) or from the monitors' verdicts; the
email, Slack and webhook modules each turn it into their own format. Keeping the model free
of any channel means a new channel never changes what the report layer hands over.

Keys are the once-per-key identity of ``ops.deliveries`` (delivery.md): a report's period
(``daily:2026-12-02``, ``weekly:2026-11-23``) or an alert's monitor and date
(``alert:daily_signups:2026-12-02``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["report", "alert"]
Grain = Literal["daily", "weekly"]
KINDS: tuple[Kind, ...] = ("report", "alert")


@dataclass(frozen=True)
class Period:
    """A report's period: the last complete day, or the last complete week (Monday first)."""

    grain: Grain
    start: dt.date

    def __post_init__(self) -> None:
        if self.grain not in ("daily", "weekly"):
            raise ValueError(f"a report period is daily or weekly, not {self.grain!r}")
        if self.grain == "weekly" and self.start.weekday() != 0:
            raise ValueError(f"a weekly period starts on a Monday, {self.start} is not one")

    @property
    def end(self) -> dt.date:
        """The last day of the period, inclusive."""
        return self.start if self.grain == "daily" else self.start + dt.timedelta(days=6)

    @property
    def key(self) -> str:
        """``daily:2026-12-02`` or ``weekly:2026-11-23``: the report's once-per-key identity."""
        return f"{self.grain}:{self.start.isoformat()}"

    def label(self) -> str:
        """How people read the period in a subject line or a heading."""
        if self.grain == "daily":
            return self.start.isoformat()
        return f"week of {self.start.isoformat()} to {self.end.isoformat()}"

    def as_json(self) -> dict[str, str]:
        """The webhook's ``period`` member."""
        return {"grain": self.grain, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Chart:
    """One chart as people see it in mail: a static PNG with its title and takeaway."""

    title: str
    takeaway: str
    png: bytes = field(repr=False)


@dataclass(frozen=True)
class Alert:
    """One alert: a sentence for people and the structured facts for machines.

    ``summary`` is what Slack and email show (the monitor, the date, the value, the expected
    range, the direction and what moved, in words); ``data`` is the JSON-ready object the
    webhook carries (the monitors fill it; this layer does not interpret it).
    """

    summary: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The webhook's element of ``alerts``: the data, with the summary beside it."""
        return {**self.data, "summary": self.summary}


@dataclass(frozen=True)
class Message:
    """A report or an alert, ready for any channel.

    ``headline`` maps labels to values already formatted for people (``"Signups": "1,204"``),
    in display order. ``report_html`` is the whole interactive report, attached to the email;
    ``report_url`` is the public link of the report (GROWTH_REPORT_URL joined with the report's
    path) when one is published.
    """

    kind: Kind
    key: str
    title: str
    period: Period | None = None
    date: dt.date | None = None
    headline: Mapping[str, str] = field(default_factory=dict)
    charts: Sequence[Chart] = ()
    report_html: bytes | None = field(default=None, repr=False)
    report_filename: str = "growth-report.html"
    alerts: Sequence[Alert] = ()
    report_url: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a message is a report or an alert, not {self.kind!r}")
        if not self.key or any(ch.isspace() for ch in self.key):
            raise ValueError(f"a message key is a non-empty word, got {self.key!r}")
        if self.kind == "report" and (self.period is None or self.date is not None):
            raise ValueError("a report message has a period and no date")
        if self.kind == "alert" and (self.date is None or self.period is not None):
            raise ValueError("an alert message has a date and no period")

    @property
    def when(self) -> str:
        """The period or the date in words, for subjects and headings."""
        if self.period is not None:
            return self.period.label()
        assert self.date is not None
        return self.date.isoformat()


def report_message(
    period: Period,
    *,
    title: str = "Growth report",
    headline: Mapping[str, str] | None = None,
    charts: Sequence[Chart] = (),
    report_html: bytes | None = None,
    report_filename: str = "growth-report.html",
    alerts: Sequence[Alert] = (),
    report_url: str | None = None,
) -> Message:
    """The report of ``period``, keyed by the period (``daily:2026-12-02``)."""
    return Message(
        kind="report",
        key=period.key,
        title=title,
        period=period,
        headline=dict(headline or {}),
        charts=tuple(charts),
        report_html=report_html,
        report_filename=report_filename,
        alerts=tuple(alerts),
        report_url=report_url,
    )


def alert_key(monitor: str, date: dt.date) -> str:
    """``alert:<monitor>:<date>``: one alert per monitor and day, whatever else changes."""
    return f"alert:{monitor}:{date.isoformat()}"


def alert_message(
    monitor: str,
    date: dt.date,
    alerts: Sequence[Alert],
    *,
    title: str | None = None,
    headline: Mapping[str, str] | None = None,
    report_url: str | None = None,
) -> Message:
    """The alert of ``monitor`` on ``date``, keyed ``alert:<monitor>:<date>``."""
    return Message(
        kind="alert",
        key=alert_key(monitor, date),
        title=title or f"Growth alert: {monitor}",
        date=date,
        headline=dict(headline or {}),
        alerts=tuple(alerts),
        report_url=report_url,
    )
