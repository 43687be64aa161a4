"""The growth report delivered: `growth report --send` and the Dagster report schedules.

Renders the report as `growth report` does (``analysts.report``), turns what it says into a
``delivery.message.Message`` (headline tiles, every drawn chart as its exported PNG with its
title and takeaway, the interactive page attached, the public link when GROWTH_REPORT_URL
is set) and hands it to ``delivery.ledger.deliver``, which sends it once per period and
destination and records each acceptance in ``ops.deliveries``.

The period is the report's key (delivery.md): the last complete day (``daily:2026-12-02``)
or the last complete week, Monday to Sunday (``weekly:2026-11-23``), as of the warehouse's
``data_end_date``, never the wall clock: a day is complete once ``data_end_date`` is past it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from analysts.report import render
from analysts.report.digest import Digest, digest
from delivery.destinations import Destinations, EmailDestination, load_destinations, report_link
from delivery.ledger import Outcome, deliver
from delivery.message import Chart, Grain, Message, Period, report_message
from delivery.monitors import data_end_date, reading
from warehouse.errors import GrowthError
from warehouse.settings import Settings

GRAINS: tuple[str, ...] = get_args(Grain)  # ("daily", "weekly")
TITLES = {"daily": "Growth report", "weekly": "Weekly growth report"}


def grain_of(value: str) -> Grain:
    """``daily`` or ``weekly``; anything else is a one-line error."""
    if value == "daily":
        return "daily"
    if value == "weekly":
        return "weekly"
    raise GrowthError(f"a report period is daily or weekly, not {value!r}")


def last_complete(end: dt.date, grain: Grain) -> Period:
    """The last complete day or week (Monday first) when the data ends on ``end``.

    A day is complete once ``end`` is past it, so the last complete day is ``end - 1``, and
    the last complete week is the latest Monday-to-Sunday week whose Sunday is at most
    ``end - 1``: with ``end`` = Thursday 2026-12-03, ``daily:2026-12-02`` and
    ``weekly:2026-11-23``; with ``end`` = Monday 2026-11-30, ``weekly:2026-11-23`` too.
    """
    last_day = end - dt.timedelta(days=1)
    if grain == "daily":
        return Period("daily", last_day)
    sunday = last_day - dt.timedelta(days=(last_day.weekday() + 1) % 7)
    return Period("weekly", sunday - dt.timedelta(days=6))


def report_period(settings: Settings, grain: Grain) -> Period:
    """The period of the report as of the warehouse's ``data_end_date`` (read under the writer lock)."""
    with reading(settings) as con:
        tables = {
            name
            for (name,) in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
        if "intermediate.int_reporting_period" not in tables:
            raise GrowthError("the warehouse has no marts yet: run `growth build` before `growth report --send`")
        end = data_end_date(con)
    if end is None:
        raise GrowthError("the warehouse holds no valid events: there is no complete period to report")
    return last_complete(end, grain)


def report_message_of(report: Digest, period: Period, destinations: Destinations) -> Message:
    """The neutral message of one rendered report for ``period``."""
    return report_message(
        period,
        title=TITLES[period.grain],
        headline=report.headline,
        charts=[Chart(chart.title, chart.takeaway, chart.png or b"") for chart in report.charts],
        report_html=report.html,
        report_filename=f"growth-report-{period.grain}-{period.start.isoformat()}.html",
        report_url=report_link(destinations.report_url, report.relative),
    )


@dataclass(frozen=True)
class SentReport:
    """What `growth report --send` did: the page it rendered and what was delivered where."""

    path: Path
    outcome: Outcome
    charts: int


def send_report(settings: Settings, grain: Grain, out_dir: Path | None = None) -> SentReport:
    """Render the ``grain`` report and deliver it once per period and destination.

    Destinations are read first (a malformed GROWTH_* variable fails before any work); with
    none configured the report is still rendered and nothing is sent (the outcome says so).
    Mail shows the charts as PNGs, so mail with drawn charts that could not be exported
    (no Chromium) is refused rather than sent without its pictures; Slack and the webhook
    carry the takeaways in words and go out without them.
    """
    destinations = load_destinations(settings)
    period = report_period(settings, grain)
    rendered = render(settings, out_dir, weekly=grain == "weekly")
    report = digest(rendered)
    mail = any(isinstance(target, EmailDestination) for target in destinations.report)
    if mail and not report.exported:
        raise GrowthError(
            f"the report's {len(report.charts)} charts were not exported as PNG, which mail needs: install Debian's "
            "chromium or set BROWSER_PATH (the report is at "
            f"{rendered.path}); nothing sent"
        )
    outcome = deliver(settings, report_message_of(report, period, destinations), destinations)
    return SentReport(rendered.path, outcome, len(report.charts))
