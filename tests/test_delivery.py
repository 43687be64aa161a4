"""Delivery of reports and alerts (delivery.md, issue #17), against real servers on loopback.

An aiosmtpd SMTP server (with and without AUTH) receives the email, whose MIME is parsed
back; pytest-httpserver plays Slack and the webhook. The warehouse is a real DuckDB file, so
``ops.deliveries`` and the writer lock are the real ones. Retry delays are milliseconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from delivery import ledger
from delivery.destinations import (
    Destinations,
    EmailDestination,
    SmtpServer,
    WebhookDestination,
    load_destinations,
    report_link,
)
from delivery.email import build_email
from delivery.errors import DeliveryError
from delivery.message import Alert, Chart, Message, Period, alert_message, report_message
from delivery.slack import slack_payload
from delivery.transport import RetryPolicy
from delivery.webhook import webhook_document
from tests._mail import Mailbox, free_port, serving
from warehouse.connection import writing
from warehouse.errors import ConfigError
from warehouse.settings import Settings, load_settings

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=5)
PASSWORD = "s3cret-p@ss"
SLACK_PATH = "/services/T0001/B0002/XOXB-TOKEN-SECRET"
HOOK_PATH = "/hooks/growth-SECRET-PATH"
PNG_DAU = b"\x89PNG\r\n\x1a\n dau chart bytes"
PNG_SIGNUPS = b"\x89PNG\r\n\x1a\n signups chart bytes"
REPORT_HTML = '<!DOCTYPE html><html><body><h1>Growth report</h1><script src="plotly"></script>é</body></html>'.encode()
REPORT_URL = "https://reports.example.com/growth/2026-12-02/index.html"
MAIL_OK = {"GROWTH_SMTP_URL": "smtp://h", "GROWTH_MAIL_FROM": "g@x.com", "GROWTH_REPORT_RECIPIENTS": "a@x.com"}
SERVER_LOGGERS = ("werkzeug", "mail.log", "asyncio")  # the test servers' own logs, not ours


pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


# --- servers (the plain SMTP server, `smtp`, and httpserver_listen_address are in conftest.py) ---


@pytest.fixture
def smtp_auth() -> Iterator[Mailbox]:
    """An SMTP server that requires AUTH (over plain TCP: loopback, test only) as growth / PASSWORD."""
    box = Mailbox("127.0.0.1", free_port())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        box.logins.append((mechanism, data.login, data.password))
        ok = (data.login, data.password) == (b"growth", PASSWORD.encode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    with serving(box, authenticator=authenticator, auth_required=True, auth_require_tls=False):
        yield box


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI): (cert, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(params=["starttls", "smtps"])
def smtp_tls(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> Iterator[tuple[Mailbox, str]]:
    """An SMTP server with TLS (STARTTLS required before AUTH, or implicit TLS), AUTH as growth / PASSWORD.

    Yields the mailbox and the GROWTH_SMTP_URL that reaches it.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    box = Mailbox("127.0.0.1", free_port())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        box.logins.append((mechanism, data.login, data.password))
        return AuthResult(success=(data.login, data.password) == (b"growth", PASSWORD.encode()), handled=False)

    credentials = f"growth:{PASSWORD.replace('@', '%40')}"
    if request.param == "starttls":
        options: dict[str, Any] = {"tls_context": context, "require_starttls": True}
        url = f"smtp://{credentials}@{box.host}:{box.port}?starttls=true"
    else:  # aiosmtpd does not count implicit TLS as TLS
        options = {"ssl_context": context, "auth_require_tls": False}
        url = f"smtps://{credentials}@{box.host}:{box.port}"
    with serving(box, authenticator=authenticator, auth_required=True, **options):
        yield box, url


def answer(server: HTTPServer, path: str, statuses: list[int], body: str = "") -> list[Request]:
    """Answer POSTs to ``path`` with ``statuses`` in turn (the last one repeats); returns the requests seen."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        return Response(body or ("ok" if status < 300 else ""), status=status)

    server.expect_request(path, method="POST").respond_with_handler(handler)
    return seen


# --- settings and messages ----------------------------------------------------------------------


def make_settings(tmp_path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Settings with a created warehouse and the given GROWTH_* variables."""
    settings = load_settings(warehouse=tmp_path / "warehouse.duckdb", environ=dict(env or {}))
    with writing(settings, create=True):
        pass
    return settings


def mail_env(box: Mailbox, recipients: str = "ops@example.com", *, auth: bool = False) -> dict[str, str]:
    credentials = f"growth:{PASSWORD.replace('@', '%40')}@" if auth else ""
    return {
        "GROWTH_SMTP_URL": f"smtp://{credentials}{box.host}:{box.port}",
        "GROWTH_MAIL_FROM": "Growth <growth@example.com>",
        "GROWTH_REPORT_RECIPIENTS": recipients,
    }


def daily_report(day: dt.date = dt.date(2026, 12, 2), *, report_url: str | None = REPORT_URL) -> Message:
    return report_message(
        Period("daily", day),
        headline={"Signups": "1,204", "DAU": "3,410", "Revenue & refunds": "$1,234"},
        charts=[
            Chart("Daily active users", "DAU rose 4% week over week", PNG_DAU),
            Chart("Signups", "Signups <fell> 2% & paid search led the drop", PNG_SIGNUPS),
        ],
        report_html=REPORT_HTML,
        report_url=report_url,
    )


def signup_alert() -> Message:
    day = dt.date(2026, 12, 2)
    data = {
        "monitor": "daily_signups",
        "date": day,
        "value": 12,
        "expected": 140.0,
        "low": 98.0,
        "high": 182.0,
        "direction": "down",
        "moved": [{"dimension": "acquisition_channel", "segment": "paid_search", "value": 2, "expected": 80.0}],
    }
    summary = "Daily signups on 2026-12-02: 12, expected 98 to 182 (down); most moved: paid_search (-78)"
    return alert_message("daily_signups", day, [Alert(summary, data)])


def our_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line of ours (and of httpx), without the test servers' request logs."""
    return "\n".join(
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if not record.name.startswith(SERVER_LOGGERS)
    )


def deliveries(settings: Settings) -> list[tuple[str, str, str]]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        rows = con.execute("select kind, key, destination from ops.deliveries order by all").fetchall()
    finally:
        con.close()
    return [(str(kind), str(key), str(destination)) for kind, key, destination in rows]


# --- destinations ----------------------------------------------------------------------------


def test_destinations_from_the_growth_variables(tmp_path: Path) -> None:
    settings = load_settings(
        warehouse=tmp_path / "w.duckdb",
        environ={
            "GROWTH_SMTP_URL": f"smtp://growth:{PASSWORD.replace('@', '%40')}@mail.example.com:2525?starttls=true",
            "GROWTH_MAIL_FROM": "Growth Team <growth@example.com>",
            "GROWTH_REPORT_RECIPIENTS": "ops@example.com, Ceo@Example.com ,ops@example.com",
            "GROWTH_SLACK_WEBHOOK_URL": "https://hooks.slack.com" + SLACK_PATH,
            "GROWTH_WEBHOOK_URL": "https://hooks.example.com" + HOOK_PATH + "?token=abc",
            "GROWTH_REPORT_URL": "https://reports.example.com/growth/",
        },
    )
    found = load_destinations(settings)
    assert [d.name for d in found.report] == [
        "email:ops@example.com",
        "email:ceo@example.com",
        "slack",
        "webhook:hooks.example.com:443",
    ]
    assert [d.name for d in found.alert] == [d.name for d in found.report]  # alerts default to the report's
    mail = found.report[0]
    assert isinstance(mail, EmailDestination)
    assert mail.server == SmtpServer("mail.example.com", 2525, "starttls", "growth", PASSWORD)
    assert mail.sender == "Growth Team <growth@example.com>"
    assert found.report_url == "https://reports.example.com/growth/"
    assert report_link(found.report_url, "2026-12-02/index.html") == REPORT_URL
    # Nothing secret in any repr a log line might print.
    assert PASSWORD not in repr(found) and "XOXB" not in repr(found) and "SECRET" not in repr(found)


def test_smtps_default_port_and_alert_recipients(tmp_path: Path) -> None:
    settings = load_settings(
        warehouse=tmp_path / "w.duckdb",
        environ={
            "GROWTH_SMTP_URL": "smtps://mail.example.com",
            "GROWTH_MAIL_FROM": "growth@example.com",
            "GROWTH_ALERT_RECIPIENTS": "oncall@example.com",
        },
    )
    found = load_destinations(settings)
    assert found.report == ()  # no report recipients: reports go nowhere by mail
    (alert,) = found.alert
    assert isinstance(alert, EmailDestination)
    assert alert.server == SmtpServer("mail.example.com", 465, "ssl", None, None)
    assert alert.name == "email:oncall@example.com"


def test_nothing_configured_is_no_destination(tmp_path: Path) -> None:
    assert load_destinations(load_settings(warehouse=tmp_path / "w.duckdb", environ={})) == Destinations()
    blank = {"GROWTH_SMTP_URL": "", "GROWTH_SLACK_WEBHOOK_URL": " "}  # blank reads as unset
    assert load_destinations(load_settings(warehouse=tmp_path / "w.duckdb", environ=blank)) == Destinations()


@pytest.mark.parametrize(
    ("env", "variable", "secret"),
    [
        ({"GROWTH_SMTP_URL": f"http://growth:{PASSWORD}@mail.example.com"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SMTP_URL": f"smtp://growth:{PASSWORD}@mail.example.com:99999"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SMTP_URL": f"smtp://growth:{PASSWORD}@host?starttls=maybe"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SMTP_URL": f"smtp://growth:{PASSWORD}@host?tls=on"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SMTP_URL": f"smtps://growth:{PASSWORD}@host?starttls=true"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SMTP_URL": f"smtp://:{PASSWORD}@host"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SMTP_URL": f"smtp://growth:{PASSWORD}@/path"}, "GROWTH_SMTP_URL", PASSWORD),
        ({"GROWTH_SLACK_WEBHOOK_URL": "hooks.slack.com" + SLACK_PATH}, "GROWTH_SLACK_WEBHOOK_URL", "XOXB"),
        ({"GROWTH_SLACK_WEBHOOK_URL": "ftp://hooks.slack.com" + SLACK_PATH}, "GROWTH_SLACK_WEBHOOK_URL", "XOXB"),
        ({"GROWTH_WEBHOOK_URL": "https://" + HOOK_PATH}, "GROWTH_WEBHOOK_URL", "SECRET"),
        ({"GROWTH_WEBHOOK_URL": "https://h.example.com:port" + HOOK_PATH}, "GROWTH_WEBHOOK_URL", "SECRET"),
        ({"GROWTH_REPORT_RECIPIENTS": "ops@example.com"}, "GROWTH_REPORT_RECIPIENTS", None),
        ({"GROWTH_SMTP_URL": "smtp://h", "GROWTH_REPORT_RECIPIENTS": "a@example.com"}, "GROWTH_MAIL_FROM", None),
        ({"GROWTH_SMTP_URL": "smtp://h", "GROWTH_MAIL_FROM": "g@example.com"}, "GROWTH_REPORT_RECIPIENTS", None),
        (
            {"GROWTH_SMTP_URL": "smtp://h", "GROWTH_MAIL_FROM": "g@x.com", "GROWTH_REPORT_RECIPIENTS": "a@x.com, nope"},
            "GROWTH_REPORT_RECIPIENTS",
            None,
        ),
        ({**MAIL_OK, "GROWTH_MAIL_FROM": "g@x.com\r\nBcc: y@x.com"}, "GROWTH_MAIL_FROM", None),
        ({**MAIL_OK, "GROWTH_MAIL_FROM": "g@x.com junk"}, "GROWTH_MAIL_FROM", None),
        ({**MAIL_OK, "GROWTH_ALERT_RECIPIENTS": "a@x.com b@x.com"}, "GROWTH_ALERT_RECIPIENTS", None),
    ],
)
def test_a_malformed_destination_is_one_line_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str, secret: str | None
) -> None:
    settings = load_settings(warehouse=tmp_path / "w.duckdb", environ=env)
    with pytest.raises(ConfigError) as caught:
        load_destinations(settings)
    text = str(caught.value)
    assert variable in text and "\n" not in text
    if secret:
        assert secret not in text and secret.lower() not in text.lower()
    assert caught.value.__cause__ is None  # no chained exception to leak from
    assert caught.value.__context__ is None or caught.value.__suppress_context__


# --- email -----------------------------------------------------------------------------------


def test_report_email_renders_offline_with_every_chart_inline(tmp_path: Path, smtp: Mailbox) -> None:
    settings = make_settings(tmp_path, mail_env(smtp, "ops@example.com, ceo@example.com"))
    outcome = ledger.deliver(settings, daily_report(), policy=FAST)
    assert outcome.sent == ("email:ops@example.com", "email:ceo@example.com")
    assert len(smtp.received) == 2  # one message per recipient, each its own destination
    (mail,) = smtp.to("ops@example.com")
    assert mail["Subject"] == "Growth report: 2026-12-02"
    assert mail["From"] == "Growth <growth@example.com>"
    assert mail["To"] == "ops@example.com"

    # multipart/mixed [ multipart/alternative [ text/plain, multipart/related [ text/html, png, png ] ], report ]
    assert mail.get_content_type() == "multipart/mixed"
    alternative, attachment = mail.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    body, *images = related.iter_parts()
    assert body.get_content_type() == "text/html"
    html = body.get_content()

    # Every chart is an inline PNG part whose Content-ID the HTML references, in chart order.
    assert [image.get_content_type() for image in images] == ["image/png", "image/png"]
    assert [image.get_content() for image in images] == [PNG_DAU, PNG_SIGNUPS]
    cids = [image["Content-ID"].strip().strip("<>") for image in images]
    assert all(image.get_content_disposition() == "inline" for image in images)
    assert re.findall(r'src="cid:([^"]+)"', html) == cids
    assert len(set(cids)) == 2

    # Nothing to fetch: every src is cid:, no remote URL outside the one link to the report.
    assert re.findall(r'src="([^"]*)"', html) == [f"cid:{cid}" for cid in cids]
    assert "url(" not in html and "<link" not in html and "<script" not in html
    assert re.findall(r"https?://[^\"'\s<]+", html) == [REPORT_URL]
    assert f'<a href="{REPORT_URL}">' in html

    # Escaped text, headline numbers and takeaways in the HTML.
    assert "Signups &lt;fell&gt; 2% &amp; paid search led the drop" in html
    assert "Revenue &amp; refunds" in html and "$1,234" in html and "1,204" in html and "3,410" in html

    # The plain-text part holds the headline numbers.
    plain = text.get_content().replace("\r\n", "\n")  # as received: CRLF line ends
    for label, value in {"Signups": "1,204", "DAU": "3,410", "Revenue & refunds": "$1,234"}.items():
        assert re.search(rf"^{re.escape(label)} +{re.escape(value)}$", plain, re.MULTILINE), plain
    assert REPORT_URL in plain

    # The attachment opens as the HTML that was given.
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "growth-report.html"
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_payload(decode=True) == REPORT_HTML
    assert deliveries(settings) == [
        ("report", "daily:2026-12-02", "email:ceo@example.com"),
        ("report", "daily:2026-12-02", "email:ops@example.com"),
    ]


def test_a_report_without_charts_or_link_has_no_images_and_no_url(tmp_path: Path) -> None:
    message = report_message(Period("weekly", dt.date(2026, 11, 23)), headline={"WAU": "9,001"})
    destination = EmailDestination(SmtpServer("localhost", 25), "g@example.com", "ops@example.com")
    mail = build_email(message, destination)
    assert mail["Subject"] == "Growth report: week of 2026-11-23 to 2026-11-29"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and html.get_content_type() == "text/html"
    assert "src=" not in html.get_content() and "http" not in html.get_content()
    assert [part.get_content_type() for part in mail.walk()] == ["multipart/alternative", "text/plain", "text/html"]


def test_email_with_smtp_auth(tmp_path: Path, smtp_auth: Mailbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path, mail_env(smtp_auth, auth=True))
    outcome = ledger.deliver(settings, daily_report(), policy=FAST)
    assert outcome.sent == ("email:ops@example.com",)
    assert smtp_auth.logins == [("PLAIN", b"growth", PASSWORD.encode())]
    assert len(smtp_auth.to("ops@example.com")) == 1
    assert PASSWORD not in our_log(caplog)


def test_a_wrong_password_fails_at_once_naming_the_recipient_not_the_password(
    tmp_path: Path, smtp_auth: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = mail_env(smtp_auth, auth=True)
    env["GROWTH_SMTP_URL"] = env["GROWTH_SMTP_URL"].replace("growth:", "mallory:")
    settings = make_settings(tmp_path, env)
    with pytest.raises(DeliveryError) as caught:
        ledger.deliver(settings, daily_report(), policy=FAST)
    text = str(caught.value)
    assert "email:ops@example.com refused the message: login refused (SMTP 535" in text
    assert "\n" not in text
    # smtplib tries each mechanism the server offers once, on one connection; no retry follows.
    assert [mechanism for mechanism, _, _ in smtp_auth.logins] == ["PLAIN", "LOGIN"]
    assert smtp_auth.received == []
    for secret in (PASSWORD, PASSWORD.replace("@", "%40")):
        assert secret not in text and secret not in our_log(caplog)
    assert deliveries(settings) == []


def test_email_over_tls_with_auth(
    tmp_path: Path,
    smtp_tls: tuple[Mailbox, str],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """STARTTLS (the server refuses AUTH before it) and smtps://, each trusting the test CA."""
    box, url = smtp_tls
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # OpenSSL's default trust store, for this test
    settings = make_settings(tmp_path, {**mail_env(box), "GROWTH_SMTP_URL": url})
    assert ledger.deliver(settings, daily_report(), policy=FAST).sent == ("email:ops@example.com",)
    assert box.logins == [("PLAIN", b"growth", PASSWORD.encode())]
    assert len(box.to("ops@example.com")) == 1


def test_an_untrusted_certificate_is_refused_at_once(tmp_path: Path, smtp_tls: tuple[Mailbox, str]) -> None:
    box, url = smtp_tls
    settings = make_settings(tmp_path, {**mail_env(box), "GROWTH_SMTP_URL": url})
    with pytest.raises(DeliveryError, match=r"email:ops@example.com refused the message: TLS certificate not trusted"):
        ledger.deliver(settings, daily_report(), policy=FAST)
    assert box.logins == [] and box.received == []


def test_an_smtp_deferral_is_retried_and_delivered_once(tmp_path: Path, smtp: Mailbox) -> None:
    smtp.answers = ["451 4.3.0 try again later", "421 4.3.2 busy"]
    settings = make_settings(tmp_path, mail_env(smtp))
    outcome = ledger.deliver(settings, daily_report(), policy=FAST)
    assert outcome.sent == ("email:ops@example.com",)
    assert smtp.answers == [] and len(smtp.received) == 1


# --- Slack and the webhook -------------------------------------------------------------------


SLACK_BLOCKS_OF_DAILY_REPORT: dict[str, Any] = {
    "text": "Growth report: 2026-12-02",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Growth report"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "2026-12-02"}]},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Signups*\n1,204"},
                {"type": "mrkdwn", "text": "*DAU*\n3,410"},
                {"type": "mrkdwn", "text": "*Revenue &amp; refunds*\n$1,234"},
            ],
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "• *Daily active users*: DAU rose 4% week over week\n"
                "• *Signups*: Signups &lt;fell&gt; 2% &amp; paid search led the drop",
            },
        },
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open the report"}, "url": REPORT_URL}
            ],
        },
    ],
}


def test_slack_blocks_of_a_report(tmp_path: Path, httpserver: HTTPServer) -> None:
    seen = answer(httpserver, SLACK_PATH, [200])
    settings = make_settings(tmp_path, {"GROWTH_SLACK_WEBHOOK_URL": httpserver.url_for(SLACK_PATH)})
    assert ledger.deliver(settings, daily_report(), policy=FAST).sent == ("slack",)
    (request,) = seen
    assert request.headers["Content-Type"] == "application/json"
    assert request.get_json() == SLACK_BLOCKS_OF_DAILY_REPORT


def test_slack_blocks_of_an_alert_and_of_a_report_without_link() -> None:
    assert slack_payload(signup_alert()) == {
        "text": "Growth alert: daily_signups: 2026-12-02",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Growth alert: daily_signups"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "2026-12-02"}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Alerts*"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "• Daily signups on 2026-12-02: 12, expected 98 to 182 (down); "
                    "most moved: paid_search (-78)",
                },
            },
        ],
    }
    blocks = slack_payload(daily_report(report_url=None))["blocks"]
    assert blocks == SLACK_BLOCKS_OF_DAILY_REPORT["blocks"][:-1]  # no button without GROWTH_REPORT_URL


def test_webhook_documents_of_a_report_and_an_alert(tmp_path: Path, httpserver: HTTPServer) -> None:
    seen = answer(httpserver, HOOK_PATH, [204])
    settings = make_settings(tmp_path, {"GROWTH_WEBHOOK_URL": httpserver.url_for(HOOK_PATH) + "?token=abc"})
    weekly = report_message(
        Period("weekly", dt.date(2026, 11, 23)),
        headline={"WAU": "9,001", "Net new MRR": "$4,210"},
        charts=[Chart("WAU", "flat", PNG_DAU)],
        report_html=REPORT_HTML,
    )
    assert ledger.deliver(settings, weekly, policy=FAST).sent == (f"webhook:127.0.0.1:{httpserver.port}",)
    assert ledger.deliver(settings, signup_alert(), policy=FAST).sent == (f"webhook:127.0.0.1:{httpserver.port}",)
    report_doc, alert_doc = (json.loads(request.get_data()) for request in seen)
    assert list(report_doc) == ["kind", "id", "period", "headline", "alerts", "report_url"]
    assert report_doc == {
        "kind": "report",
        "id": "weekly:2026-11-23",
        "period": {"grain": "weekly", "start": "2026-11-23", "end": "2026-11-29"},
        "headline": {"WAU": "9,001", "Net new MRR": "$4,210"},
        "alerts": [],
        "report_url": None,
    }
    assert list(alert_doc) == ["kind", "id", "date", "headline", "alerts", "report_url"]
    assert alert_doc == {
        "kind": "alert",
        "id": "alert:daily_signups:2026-12-02",
        "date": "2026-12-02",
        "headline": {},
        "alerts": [
            {
                "monitor": "daily_signups",
                "date": "2026-12-02",
                "value": 12,
                "expected": 140.0,
                "low": 98.0,
                "high": 182.0,
                "direction": "down",
                "moved": [{"dimension": "acquisition_channel", "segment": "paid_search", "value": 2, "expected": 80.0}],
                "summary": "Daily signups on 2026-12-02: 12, expected 98 to 182 (down); most moved: paid_search (-78)",
            }
        ],
        "report_url": None,
    }
    assert webhook_document(daily_report())["report_url"] == REPORT_URL


# --- retries and refusals --------------------------------------------------------------------


def test_two_503s_then_acceptance_is_exactly_one_delivery(tmp_path: Path, httpserver: HTTPServer) -> None:
    seen = answer(httpserver, SLACK_PATH, [503, 503, 200])
    settings = make_settings(tmp_path, {"GROWTH_SLACK_WEBHOOK_URL": httpserver.url_for(SLACK_PATH)})
    assert ledger.deliver(settings, daily_report(), policy=FAST).sent == ("slack",)
    assert len(seen) == 3
    assert deliveries(settings) == [("report", "daily:2026-12-02", "slack")]
    assert ledger.deliver(settings, daily_report(), policy=FAST).already_sent == ("slack",)
    assert len(seen) == 3


def test_429_is_retried(tmp_path: Path, httpserver: HTTPServer) -> None:
    seen = answer(httpserver, HOOK_PATH, [429, 200])
    settings = make_settings(tmp_path, {"GROWTH_WEBHOOK_URL": httpserver.url_for(HOOK_PATH)})
    assert ledger.deliver(settings, daily_report(), policy=FAST).sent
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("statuses", "body", "requests", "reason"),
    [
        ([403], "invalid_token", 1, "slack refused the message: HTTP 403 FORBIDDEN: invalid_token"),
        ([404], "no_service", 1, "slack refused the message: HTTP 404 NOT FOUND: no_service"),
        ([301], "", 1, "slack refused the message: HTTP 301 MOVED PERMANENTLY"),
        (
            [503],
            "",
            3,
            "slack did not accept the message: HTTP 503 SERVICE UNAVAILABLE (gave up after 3 attempts)",
        ),
    ],
)
def test_a_refusing_destination_is_named_without_its_secret(
    tmp_path: Path,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    statuses: list[int],
    body: str,
    requests: int,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = answer(httpserver, SLACK_PATH, statuses, body)
    settings = make_settings(tmp_path, {"GROWTH_SLACK_WEBHOOK_URL": httpserver.url_for(SLACK_PATH)})
    with pytest.raises(DeliveryError) as caught:
        ledger.deliver(settings, daily_report(), policy=FAST)
    text = str(caught.value)
    assert text == f"report daily:2026-12-02: nothing new sent; failed: {reason}"
    assert len(seen) == requests
    logged = our_log(caplog)
    assert f'HTTP Request: POST http://127.0.0.1:{httpserver.port}/*** "HTTP/' in logged  # httpx's line, redacted
    for secret in ("XOXB", "T0001", "B0002", SLACK_PATH):
        assert secret not in text and secret not in logged
    assert caught.value.__cause__ is None
    assert deliveries(settings) == []


def test_a_webhook_that_echoes_its_url_does_not_leak_it(tmp_path: Path, httpserver: HTTPServer) -> None:
    url = httpserver.url_for(HOOK_PATH) + "?token=TOPSECRET"
    answer(httpserver, HOOK_PATH, [400], body=f"bad request to {url} ({HOOK_PATH})")
    settings = make_settings(tmp_path, {"GROWTH_WEBHOOK_URL": url})
    with pytest.raises(DeliveryError) as caught:
        ledger.deliver(settings, daily_report(), policy=FAST)
    text = str(caught.value)
    assert f"webhook:127.0.0.1:{httpserver.port} refused the message: HTTP 400 BAD REQUEST: bad request to ***" in text
    assert "TOPSECRET" not in text and "SECRET-PATH" not in text


def test_an_unreachable_destination_is_retried_then_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = make_settings(tmp_path, {"GROWTH_WEBHOOK_URL": f"http://127.0.0.1:{port}{HOOK_PATH}"})
    with pytest.raises(DeliveryError) as caught:
        ledger.deliver(settings, daily_report(), policy=FAST)
    text = str(caught.value)
    assert f"webhook:127.0.0.1:{port} did not accept the message: unreachable (ConnectError" in text
    assert "(gave up after 3 attempts)" in text and "SECRET" not in text


def test_one_failing_destination_does_not_hold_back_the_others(
    tmp_path: Path, httpserver: HTTPServer, smtp: Mailbox
) -> None:
    slack = answer(httpserver, SLACK_PATH, [403, 403, 200], body="later fixed")
    hook = answer(httpserver, HOOK_PATH, [200])
    env = {
        **mail_env(smtp),
        "GROWTH_SLACK_WEBHOOK_URL": httpserver.url_for(SLACK_PATH),
        "GROWTH_WEBHOOK_URL": httpserver.url_for(HOOK_PATH),
    }
    settings = make_settings(tmp_path, env)
    hook_name = f"webhook:127.0.0.1:{httpserver.port}"
    with pytest.raises(DeliveryError, match=rf"sent to email:ops@example.com, {hook_name}; failed: slack refused"):
        ledger.deliver(settings, daily_report(), policy=FAST)
    assert (len(smtp.received), len(slack), len(hook)) == (1, 1, 1)
    with pytest.raises(DeliveryError):  # the next run tries Slack only
        ledger.deliver(settings, daily_report(), policy=FAST)
    outcome = ledger.deliver(settings, daily_report(), policy=FAST)
    assert outcome.sent == ("slack",) and outcome.already_sent == ("email:ops@example.com", hook_name)
    assert (len(smtp.received), len(slack), len(hook)) == (1, 3, 1)


# --- once per key ----------------------------------------------------------------------------


def test_once_per_key_and_a_new_recipient_or_key_is_sent(tmp_path: Path, smtp: Mailbox, httpserver: HTTPServer) -> None:
    hook = answer(httpserver, HOOK_PATH, [200])
    env = {**mail_env(smtp), "GROWTH_WEBHOOK_URL": httpserver.url_for(HOOK_PATH)}
    settings = make_settings(tmp_path, env)
    hook_name = f"webhook:127.0.0.1:{httpserver.port}"

    first = ledger.deliver(settings, daily_report(), policy=FAST)
    assert first.sent == ("email:ops@example.com", hook_name)
    second = ledger.deliver(settings, daily_report(), policy=FAST)  # a re-run or a second tick
    assert second.sent == () and second.already_sent == first.sent
    assert (len(smtp.received), len(hook)) == (1, 1)

    # A new recipient gets it; the others do not get it again (a change of case is not new).
    grown = make_settings(tmp_path, {**env, "GROWTH_REPORT_RECIPIENTS": "OPS@example.com, new@example.com"})
    third = ledger.deliver(grown, daily_report(), policy=FAST)
    assert third.sent == ("email:new@example.com",)
    assert (len(smtp.to("new@example.com")), len(smtp.to("ops@example.com")), len(hook)) == (1, 1, 1)

    # A new key (the next day, an alert) is sent to everyone; alerts go to the report recipients by default.
    assert len(ledger.deliver(grown, daily_report(dt.date(2026, 12, 3)), policy=FAST).sent) == 3
    assert len(ledger.deliver(grown, signup_alert(), policy=FAST).sent) == 3
    assert ledger.deliver(grown, signup_alert(), policy=FAST).sent == ()
    assert len(smtp.received) == 2 + 2 + 2 and len(hook) == 3  # per key: the report, the next day, the alert
    assert ("alert", "alert:daily_signups:2026-12-02", "email:new@example.com") in deliveries(grown)


def test_nothing_configured_sends_nothing_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="delivery")
    settings = load_settings(warehouse=tmp_path / "absent" / "warehouse.duckdb", environ={})
    outcome = ledger.deliver(settings, daily_report())
    assert not outcome.configured and outcome.sent == ()
    assert not settings.warehouse.parent.exists()  # the warehouse is not even opened
    (record,) = [r for r in caplog.records if r.name == "delivery.ledger"]
    assert record.getMessage() == "delivery report daily:2026-12-02: no destination configured, nothing sent"
    assert record.__dict__["delivery_configured"] is False
    assert record.__dict__["delivery_key"] == "daily:2026-12-02"


def test_a_crash_between_acceptance_and_record_repeats_that_one_destination_once(
    tmp_path: Path, smtp: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contract's only repeat window: the destination accepted, the record was never written.

    The first recipient accepts, then recording fails (a crash of the process or of the
    warehouse write): deliver stops there, so the second recipient is not sent either. The
    re-run sends to the first recipient again (its one allowed repeat) and to the second,
    and records both; a third run sends nothing.
    """
    settings = make_settings(tmp_path, mail_env(smtp, "first@example.com, second@example.com"))
    real = ledger.record_delivery
    crashes = [RuntimeError("simulated crash after the destination accepted")]

    def record_once_crashing(con: duckdb.DuckDBPyConnection, kind: str, key: str, destination: str) -> None:
        if crashes:
            raise crashes.pop()
        real(con, kind, key, destination)

    monkeypatch.setattr(ledger, "record_delivery", record_once_crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ledger.deliver(settings, daily_report(), policy=FAST)
    assert (len(smtp.to("first@example.com")), len(smtp.to("second@example.com"))) == (1, 0)
    assert deliveries(settings) == []
    assert ledger.deliver(settings, daily_report(), policy=FAST).sent == (
        "email:first@example.com",
        "email:second@example.com",
    )
    assert (len(smtp.to("first@example.com")), len(smtp.to("second@example.com"))) == (2, 1)
    assert ledger.deliver(settings, daily_report(), policy=FAST).sent == ()
    assert len(smtp.received) == 3


KILLED_RUN = textwrap.dedent(
    """
    import datetime as dt, json, os, sys
    from delivery import ledger
    from delivery.message import Period, report_message
    from delivery.transport import RetryPolicy
    from warehouse.settings import load_settings

    when, warehouse, env = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    real = ledger.record_delivery

    def record_then_die(con, kind, key, destination):
        if when == "before-record":
            os._exit(9)  # the destination accepted; the process dies before the INSERT
        real(con, kind, key, destination)
        os._exit(9)  # the INSERT committed; the process dies before the next destination

    ledger.record_delivery = record_then_die
    message = report_message(Period("daily", dt.date(2026, 12, 2)), headline={"Signups": "1,204"})
    ledger.deliver(load_settings(warehouse=warehouse, environ=env), message, policy=RetryPolicy(attempts=1))
    """
)


@pytest.mark.parametrize(("when", "first_gets"), [("after-record", 1), ("before-record", 2)])
def test_a_killed_run_rerun_repeats_only_an_unrecorded_acceptance(
    tmp_path: Path, smtp: Mailbox, when: str, first_gets: int
) -> None:
    """A process killed (``os._exit``, no cleanup) right after a send, then run again.

    Killed after the record: the record survived the kill (DuckDB's WAL), so the re-run sends
    nothing new to that destination and the rest to the others. Killed between acceptance and
    record: that one destination gets the report twice, the window delivery.md allows.
    """
    env = mail_env(smtp, "first@example.com, second@example.com")
    settings = make_settings(tmp_path, env)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, when, str(settings.warehouse), json.dumps(env)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr
    assert (len(smtp.to("first@example.com")), len(smtp.to("second@example.com"))) == (1, 0)
    message = report_message(Period("daily", dt.date(2026, 12, 2)), headline={"Signups": "1,204"})
    outcome = ledger.deliver(settings, message, policy=FAST)
    assert outcome.sent == (("email:first@example.com",) if first_gets == 2 else ()) + ("email:second@example.com",)
    assert (len(smtp.to("first@example.com")), len(smtp.to("second@example.com"))) == (first_gets, 1)
    assert ledger.deliver(settings, message, policy=FAST).sent == ()


def test_a_message_knows_its_key() -> None:
    assert daily_report().key == "daily:2026-12-02"
    assert report_message(Period("weekly", dt.date(2026, 11, 23))).key == "weekly:2026-11-23"
    assert signup_alert().key == "alert:daily_signups:2026-12-02"
    with pytest.raises(ValueError, match="Monday"):
        Period("weekly", dt.date(2026, 11, 24))
    with pytest.raises(ValueError, match="period"):
        Message(kind="report", key="daily:2026-12-02", title="x", date=dt.date(2026, 12, 2))


def test_explicit_destinations_are_taken_as_given(tmp_path: Path, httpserver: HTTPServer) -> None:
    """deliver() also takes a plain list (the run-failure sensor may pick its own)."""
    seen = answer(httpserver, HOOK_PATH, [200])
    settings = make_settings(tmp_path)
    hook = WebhookDestination(httpserver.url_for(HOOK_PATH), "127.0.0.1", httpserver.port)
    sends: list[str] = []

    def counting(destination: Any, message: Message, policy: RetryPolicy) -> None:
        sends.append(destination.name)
        ledger.send(destination, message, policy)

    sender: Callable[..., object] = counting
    assert ledger.deliver(settings, signup_alert(), [hook], policy=FAST, sender=sender).sent == (hook.name,)
    assert sends == [hook.name] and len(seen) == 1
