"""Report delivery (issue #17, delivery.md): `growth report --send` and the Dagster report asset.

The report of the session's demo warehouse (tests/conftest.py: data ends Thursday 2026-12-03,
so the daily key is ``daily:2026-12-02`` and the weekly one ``weekly:2026-11-23``) goes to
real servers on loopback: aiosmtpd receives the email, whose MIME is parsed back;
pytest-httpserver plays Slack and the webhook. What the message says is checked against the
attached report page (its charts, takeaways and tiles) and the page's tiles against SQL on
the marts written here.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from tests._mail import Mailbox, free_port, serving
from tests.conftest import copy_warehouse
from warehouse.settings import Settings, load_settings

GROWTH = [sys.executable, "-m", "orchestration.cli"]
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DAILY, WEEKLY = "daily:2026-12-02", "weekly:2026-11-23"
SLACK_PATH = "/services/T0001/B0002/REPORT-TOKEN"
REPORT_URL = "https://reports.example.com/growth/"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="the email's PNG charts need Chromium")


# --- running the command ------------------------------------------------------------------------


def environment(settings: Settings, extra: Mapping[str, str]) -> dict[str, str]:
    """The process environment of one `growth` run: no GROWTH_* of the caller, the copy's paths."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GROWTH_")}
    env.update(
        GROWTH_WAREHOUSE=str(settings.warehouse),
        GROWTH_PUBLISHED=str(settings.published),
        GROWTH_REPORT_DIR=str(settings.report_dir),
        GROWTH_DELIVERY_BACKOFF_SECONDS="0.01",
        **extra,
    )
    return env


def growth_send(settings: Settings, extra: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GROWTH, "report", "--send", *args],
        cwd=settings.warehouse.parent.parent,
        env=environment(settings, extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def mail_env(box: Mailbox, recipients: str) -> dict[str, str]:
    return {
        "GROWTH_SMTP_URL": f"smtp://{box.host}:{box.port}",
        "GROWTH_MAIL_FROM": "Growth <growth@example.com>",
        "GROWTH_REPORT_RECIPIENTS": recipients,
    }


def no_chromium(tmp_path: Path) -> dict[str, str]:
    """BROWSER_PATH pointing nowhere: the report skips its PNGs (fast), which only mail needs."""
    return {"BROWSER_PATH": str(tmp_path / "no-chromium")}


def deliveries(settings: Settings) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute("select kind, key, destination from ops.deliveries order by all").fetchall()
    return [(str(kind), str(key), str(destination)) for kind, key, destination in rows]


def report_path(result: subprocess.CompletedProcess[str]) -> Path:
    [line] = [line for line in result.stdout.splitlines() if line.startswith("report: ")]
    return Path(line.removeprefix("report: "))


# --- the report page, and its tiles from the marts ------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    takeaway: str
    drawn: bool


SECTION = re.compile(
    r'<section class="chart" id="([^"]+)"><h2>(.*?)</h2>(?:<p class="warning">.*?</p>)*<p class="takeaway">(.*?)</p>'
)
TILES = re.compile(
    r'<section class="tiles"><h2 class="period">(.*?) <span class="versus">(.*?)</span></h2>'
    r'<div class="headline">(.*?)</div></section>'
)
KPI = re.compile(
    r'<div class="kpi"><span class="label">(.*?)</span><b>(.*?)</b><span class="change">(.*?)</span></div>'
)


def sections(page: str) -> list[Section]:
    """The page's charts in order; drawn ones carry their plotly div (``id="chart-<key>"``)."""
    return [
        Section(key, html.unescape(title), html.unescape(takeaway), f'id="chart-{key}"' in page)
        for key, title, takeaway in SECTION.findall(page)
    ]


def page_tiles(page: str) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """(period, versus, [(label, value, change)]) of each tile group, as the page shows them."""
    groups = []
    for period, versus, body in TILES.findall(page):
        kpis = [tuple(html.unescape(part) for part in kpi) for kpi in KPI.findall(body)]
        groups.append((html.unescape(period), html.unescape(versus), kpis))
    return groups  # type: ignore[return-value]


def mail_headline(page: str) -> dict[str, str]:
    """What the message must say of the page's tiles: each labelled with its period, with its change."""
    headline = {}
    for period, versus, kpis in page_tiles(page):
        for label, value, change in kpis:
            shown = value if value == "n/a" or not versus.startswith("vs ") else f"{value} \u00b7 {change} {versus}"
            headline[f"{period}: {label}"] = shown
    return headline


def week_text(start: date) -> str:
    end = start + timedelta(days=6)
    if end.month == start.month:
        return f"{start.day}\u2013{end.day} {end:%b %Y}"
    if end.year == start.year:
        return f"{start.day} {start:%b} \u2013 {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} \u2013 {end.day} {end:%b %Y}"


def tiles_from_marts(settings: Settings) -> dict[str, dict[str, str]]:
    """The tiles worked out here from the marts: the last complete week and month, formatted."""
    with duckdb.connect(str(settings.published), read_only=True) as con:
        [(week, active, churn, quick)] = con.execute(
            "select period_start, active_users, churn_rate, quick_ratio from marts.fct_growth_accounting "
            "where grain = 'week' and is_complete order by period_start desc limit 1"
        ).fetchall()
        [(signups,)] = con.execute(
            "select coalesce(sum(signups), 0) from marts.fct_activation where grain = 'week' and cohort_start = ?",
            [week],
        ).fetchall()
        [(month, month_active)] = con.execute(
            "select period_start, active_users from marts.fct_growth_accounting "
            "where grain = 'month' and is_complete order by period_start desc limit 1"
        ).fetchall()
        [(spend, customers, per_signup, cac)] = con.execute(
            "select spend, new_customers, cost_per_signup, cac from marts.fct_acquisition "
            "where channel = '(all)' and month = ?",
            [month],
        ).fetchall()
        [(revenue,)] = con.execute(
            "select coalesce(sum(revenue), 0) from marts.fct_ltv_cohorts "
            "where cohort_month + to_months(cast(months_since_signup as integer)) = ?",
            [month],
        ).fetchall()

    def money(value: float | None, decimals: int) -> str:
        return "n/a" if value is None else f"{value:,.{decimals}f} USD"

    return {
        f"Week {week_text(week)}": {
            "Active users": f"{active:,}",
            "Signups": f"{signups:,}",
            "Churn rate": "n/a" if churn is None else f"{churn:.1%}",
            "Quick ratio": "n/a" if quick is None else f"{quick:.2f}",
        },
        f"{month:%B %Y}": {
            "Active users": f"{month_active:,}",
            "Revenue": money(revenue, 0),
            "Spend": money(spend, 0),
            "New customers": f"{customers:,}",
            "Cost per signup": money(per_signup, 2),
            "CAC per customer": money(cac, 2),
        },
    }


# --- the email ------------------------------------------------------------------------------------


def body(mail: EmailMessage, subtype: str) -> str:
    part = mail.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@dataclass
class Sent:
    settings: Settings
    box: Mailbox
    result: subprocess.CompletedProcess[str]
    mail: EmailMessage
    page: str


@pytest.fixture(scope="module")
def sent(demo_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    """`growth report --send` of a copy of the demo warehouse to a real SMTP server (one recipient)."""
    if CHROMIUM is None:
        pytest.skip("the email's PNG charts need Chromium")
    settings = copy_warehouse(demo_warehouse, tmp_path_factory.mktemp("report_send"))
    with serving(Mailbox("127.0.0.1", free_port())) as box:
        result = growth_send(settings, mail_env(box, "ops@example.com"))
        assert result.returncode == 0, result.stderr[-2000:]
        [mail] = box.to("ops@example.com")
        yield Sent(settings, box, result, mail, report_path(result).read_text(encoding="utf-8"))


@needs_chromium
def test_the_email_shows_every_chart_of_the_report_inline(sent: Sent) -> None:
    """Every drawn chart of the attached page is one inline PNG referenced by its cid:, in page
    order, with its title and takeaway beside it; each PNG is the report's own export."""
    mail = sent.mail
    assert mail["Subject"] == "Growth report: 2026-12-02"
    assert sent.result.stdout.splitlines()[-1] == f"report {DAILY}: sent to email:ops@example.com"
    drawn = [section for section in sections(sent.page) if section.drawn]
    assert len(drawn) >= 10  # activity, retention, growth accounting, ..., segments, experiments
    page_html = body(mail, "html")
    images = re.findall(r'<img src="cid:([^"]+)" alt="([^"]*)"', page_html)
    assert [html.unescape(alt) for _, alt in images] == [section.title for section in drawn]
    related = {str(part["Content-ID"]).strip().strip("<>"): part for part in mail.walk() if part.get("Content-ID")}
    assert set(related) == {cid for cid, _ in images}
    folder = report_path(sent.result).parent
    for (cid, _), section in zip(images, drawn, strict=True):
        part = related[cid]
        assert part.get_content_type() == "image/png" and part.get_content_disposition() == "inline"
        data = part.get_content()
        assert isinstance(data, bytes) and len(data) > 10_000
        width, height = png_size(data)
        assert 600 <= width <= 2400 and 300 <= height <= 3000, (section.key, width, height)
        assert data == (folder / f"{section.key}.png").read_bytes()  # the report's own export
        # title, takeaway and picture together, in that order
        title, takeaway = re.escape(html.escape(section.title)), re.escape(html.escape(section.takeaway))
        block = rf'>{title}</h2>\s*<p[^>]*>{takeaway}</p>\s*<img src="cid:{re.escape(cid)}"'
        assert re.search(block, page_html), section.key


@needs_chromium
def test_the_email_is_self_contained_and_attaches_the_interactive_report(sent: Sent) -> None:
    page_html = body(sent.mail, "html")
    assert re.search(r"https?:|ftp:|url\(|@import|<link|<script", page_html, re.IGNORECASE) is None
    sources = re.findall(r'\b(?:src|href|background)\s*=\s*"([^"]*)"', page_html, re.IGNORECASE)
    assert sources and all(source.startswith("cid:") for source in sources)
    [attachment] = list(sent.mail.iter_attachments())
    assert attachment.get_filename() == "growth-report-daily-2026-12-02.html"
    assert attachment.get_content_type() == "text/html"
    content = attachment.get_content()
    text = content.decode() if isinstance(content, bytes) else str(content)
    assert text == sent.page  # the page the run wrote, byte for byte
    assert text.lower().startswith("<!doctype html>") and "Plotly.newPlot" in text
    assert re.search(r'<script[^>]+src="https?:', text) is None  # plotly.js embedded: it opens offline


@needs_chromium
def test_the_headline_numbers_are_the_tiles_of_the_report_and_of_the_marts(sent: Sent) -> None:
    """The page's tiles equal SQL on the marts; the HTML body and the text part show each of them,
    labelled with its period, with its change as the page writes it."""
    shown = {period: {label: value for label, value, _ in kpis} for period, _, kpis in page_tiles(sent.page)}
    assert shown == tiles_from_marts(sent.settings)
    headline = mail_headline(sent.page)
    assert len(headline) == 10
    page_html, text = body(sent.mail, "html"), body(sent.mail, "plain").replace("\r\n", "\n")
    for label, value in headline.items():
        assert f">{html.escape(label)}</div>" in page_html and f">{html.escape(value)}</div>" in page_html, label
        assert re.search(rf"^{re.escape(label)} +{re.escape(value)}$", text, re.MULTILINE), label
    for section in sections(sent.page):
        if section.drawn:
            assert f"{section.title}: {section.takeaway}" in text
    # one takeaway worked out here: MAU on the last day of data and the day a week before it
    with duckdb.connect(str(sent.settings.published), read_only=True) as con:
        [(day, mau)] = con.execute(
            "select activity_date, mau from marts.fct_daily_active_users order by activity_date desc limit 1"
        ).fetchall()
    assert f"MAU {mau:,} on {day.day} {day:%b %Y}, " in html.unescape(page_html)


@needs_chromium
def test_a_second_send_for_the_period_sends_nothing_and_a_new_recipient_gets_it(sent: Sent) -> None:
    again = growth_send(sent.settings, mail_env(sent.box, "ops@example.com"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[-1] == f"report {DAILY}: nothing new sent; already sent to email:ops@example.com"
    assert len(sent.box.received) == 1
    widened = growth_send(sent.settings, mail_env(sent.box, "ops@example.com, CFO@example.com"))
    assert widened.returncode == 0, widened.stderr[-2000:]
    assert widened.stdout.splitlines()[-1] == (
        f"report {DAILY}: sent to email:cfo@example.com; already sent to email:ops@example.com"
    )
    assert [rcpts for rcpts, _ in sent.box.received] == [["ops@example.com"], ["CFO@example.com"]]
    assert deliveries(sent.settings) == [
        ("report", DAILY, "email:cfo@example.com"),
        ("report", DAILY, "email:ops@example.com"),
    ]


def test_slack_gets_the_headline_blocks_and_the_report_link(
    demo_warehouse: Settings, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The weekly report to Slack: header, the week, every tile as a field, every chart's takeaway
    (in words: no PNG is needed, so none is exported here), and the button to the published page."""
    from orchestration.report_delivery import send_report

    settings = copy_warehouse(demo_warehouse, tmp_path)
    httpserver.expect_oneshot_request(SLACK_PATH, method="POST").respond_with_data("ok")
    env = {
        **environment(settings, {}),
        **no_chromium(tmp_path),
        "GROWTH_SLACK_WEBHOOK_URL": httpserver.url_for(SLACK_PATH),
        "GROWTH_REPORT_URL": REPORT_URL,
    }
    sent = send_report(load_settings(environ=env), "weekly")
    assert sent.outcome.sent == ("slack",) and sent.charts > 0
    [(request, _)] = httpserver.log
    payload: dict[str, Any] = json.loads(request.get_data())
    page = sent.path.read_text(encoding="utf-8")
    assert "<h1>Weekly growth report</h1>" in page and sent.path.parent.name.endswith("-weekly")
    blocks = payload["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Weekly growth report"}}
    assert blocks[1]["elements"][0]["text"] == "week of 2026-11-23 to 2026-11-29"
    fields = [field["text"] for block in blocks if "fields" in block for field in block["fields"]]
    escape = lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    assert fields == [f"*{escape(label)}*\n{escape(value)}" for label, value in mail_headline(page).items()]
    bullets = "\n".join(block["text"]["text"] for block in blocks if block.get("text", {}).get("type") == "mrkdwn")
    for section in sections(page):
        if section.drawn:
            assert f"• *{escape(section.title)}*: {escape(section.takeaway)}" in bullets
    [button] = blocks[-1]["elements"]
    assert button["url"] == f"{REPORT_URL}{sent.path.parent.name}/index.html"
    assert payload["text"] == "Weekly growth report: week of 2026-11-23 to 2026-11-29"
    assert deliveries(settings) == [("report", WEEKLY, "slack")]


def test_nothing_configured_renders_sends_nothing_and_says_so(demo_warehouse: Settings, tmp_path: Path) -> None:
    settings = copy_warehouse(demo_warehouse, tmp_path)
    result = growth_send(settings, no_chromium(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        f"report: {settings.report_dir.resolve()}/{report_path(result).parent.name}/index.html",
        f"report {DAILY}: no destination configured, nothing sent",
    ]
    assert report_path(result).is_file()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:  # the warehouse was not written
        assert con.execute("select count(*) from information_schema.tables where table_schema = 'ops'").fetchone() == (
            0,
        )


def test_a_refusing_destination_fails_the_command_in_one_line(demo_warehouse: Settings, tmp_path: Path) -> None:
    settings = copy_warehouse(demo_warehouse, tmp_path)
    port = free_port()  # nothing listens there
    env = {
        **no_chromium(tmp_path),
        "GROWTH_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "GROWTH_DELIVERY_ATTEMPTS": "2",
    }
    result = growth_send(settings, env, "--period", "weekly")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()  # the retry's warning, then the one error line
    [line] = [text for text in lines if text.startswith("error:")]
    assert line == lines[-1] and any(text.startswith("WARNING: delivery to webhook") for text in lines)
    assert line.startswith(f"error: report {WEEKLY}: nothing new sent; failed: webhook:127.0.0.1:{port}")
    assert "Traceback" not in result.stderr and "/hook" not in line


def test_a_malformed_destination_fails_before_rendering(demo_warehouse: Settings, tmp_path: Path) -> None:
    settings = copy_warehouse(demo_warehouse, tmp_path)
    result = growth_send(
        settings, {"GROWTH_SMTP_URL": "smtp://mail.example.com", "GROWTH_REPORT_RECIPIENTS": "a@x.com"}
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: GROWTH_SMTP_URL is set but GROWTH_MAIL_FROM is not: mail needs a sender address"
    )
    assert not settings.report_dir.exists()
    bad = growth_send(settings, {}, "--period", "monthly")
    assert bad.returncode == 2 and "must be daily or weekly" in bad.stderr


def test_the_dagster_report_asset_delivers_once_per_period(
    demo_warehouse: Settings, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weekly schedule's run config on a real materialization: the webhook receives the
    document of weekly:2026-11-23 with the report's tiles; a second run sends nothing."""
    from dagster import materialize

    from orchestration.defs.reports import growth_report, report_config
    from orchestration.defs.resources import GrowthResource

    settings = copy_warehouse(demo_warehouse, tmp_path)
    httpserver.expect_oneshot_request("/hooks/growth", method="POST").respond_with_data("ok")
    for key in [key for key in os.environ if key.startswith("GROWTH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GROWTH_PUBLISHED", str(settings.published))
    monkeypatch.setenv("GROWTH_WEBHOOK_URL", httpserver.url_for("/hooks/growth"))
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    growth = GrowthResource(warehouse=str(settings.warehouse), report_dir=str(settings.report_dir))

    def run() -> Any:
        result = materialize([growth_report], resources={"growth": growth}, run_config=report_config("weekly"))
        assert result.success
        return result.asset_materializations_for_node("growth_report")[0].metadata

    name = f"webhook:127.0.0.1:{httpserver.port}"
    first = run()
    assert first["delivery"].value == f"report {WEEKLY}: sent to {name}"
    [(request, _)] = httpserver.log
    document = json.loads(request.get_data())
    page = Path(str(first["path"].value)).read_text(encoding="utf-8")
    assert document == {
        "kind": "report",
        "id": WEEKLY,
        "period": {"grain": "weekly", "start": "2026-11-23", "end": "2026-11-29"},
        "headline": mail_headline(page),
        "alerts": [],
        "report_url": None,
    }
    second = run()
    assert second["delivery"].value == f"report {WEEKLY}: nothing new sent; already sent to {name}"
    assert len(httpserver.log) == 1
    assert deliveries(settings) == [("report", WEEKLY, name)]
