"""The report and alert email: a MIME message built with the standard library, sent with smtplib.

delivery.md asks for an HTML body that renders in common mail clients without fetching
anything. So every chart travels inside the message as an inline PNG (``cid:`` parts of a
multipart/related), every text is escaped, styles are inline, and the only URL is the
optional ``<a href>`` to the published report. The full interactive report is attached as
one HTML file (it embeds plotly.js and works offline), and a plain-text alternative carries
the headline numbers for clients that show no HTML. The structure::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                 headline numbers, alerts, takeaways, link
    │   └── multipart/related
    │       ├── text/html              the body, <img src="cid:...">
    │       └── image/png ...          one per chart, Content-ID referenced by the body
    └── text/html (attachment)         the interactive report
"""

from __future__ import annotations

import html
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from delivery.destinations import EmailDestination, SmtpServer
from delivery.message import Chart, Message
from delivery.transport import Refused, RetryPolicy, Transient, with_retries

CID_DOMAIN = "growth-warehouse.local"
FONT = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933"


def subject(message: Message) -> str:
    return f"{message.title}: {message.when}"


def plain_text(message: Message) -> str:
    """The text/plain alternative: everything the HTML says except the pictures."""
    lines = [subject(message), ""]
    if message.headline:
        width = max(len(label) for label in message.headline)
        lines += [f"{label.ljust(width)}  {value}" for label, value in message.headline.items()]
        lines.append("")
    if message.alerts:
        lines += ["Alerts:", *(f"- {alert.summary}" for alert in message.alerts), ""]
    if message.charts:
        lines += [f"{chart.title}: {chart.takeaway}" for chart in message.charts]
        lines.append("")
    if message.report_url:
        lines.append(f"The report: {message.report_url}")
    if message.report_html is not None:
        lines.append(f"The interactive report is attached ({message.report_filename}); it opens offline.")
    return "\n".join(lines).rstrip() + "\n"


def html_body(message: Message, chart_cids: Sequence[str]) -> str:
    """The HTML body; ``chart_cids`` are the Content-IDs (without angle brackets) of the charts."""
    esc = html.escape
    parts = [
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{esc(subject(message))}</title></head>',
        f'<body style="margin:0;padding:16px;{FONT}">',
        f'<h1 style="font-size:22px;margin:0 0 4px">{esc(message.title)}</h1>',
        f'<p style="margin:0 0 16px;color:#52606d">{esc(message.when)}</p>',
    ]
    if message.headline:
        cells = "".join(
            '<td style="padding:8px 16px 8px 0;vertical-align:top">'
            f'<div style="font-size:12px;color:#52606d">{esc(label)}</div>'
            f'<div style="font-size:20px;font-weight:bold">{esc(value)}</div></td>'
            for label, value in message.headline.items()
        )
        parts.append(f'<table role="presentation" cellpadding="0" cellspacing="0"><tr>{cells}</tr></table>')
    if message.alerts:
        items = "".join(f'<li style="margin:4px 0">{esc(alert.summary)}</li>' for alert in message.alerts)
        parts.append(f'<h2 style="font-size:17px;margin:20px 0 4px">Alerts</h2><ul>{items}</ul>')
    for chart, cid in zip(message.charts, chart_cids, strict=True):
        parts += [
            f'<h2 style="font-size:17px;margin:24px 0 4px">{esc(chart.title)}</h2>',
            f'<p style="margin:0 0 8px">{esc(chart.takeaway)}</p>',
            f'<img src="cid:{esc(cid)}" alt="{esc(chart.title)}" width="640" '
            'style="display:block;max-width:100%;height:auto;border:0">',
        ]
    footer = []
    if message.report_url:
        footer.append(f'<a href="{esc(message.report_url)}">Open the report</a>')
    if message.report_html is not None:
        footer.append(f"The interactive report is attached ({esc(message.report_filename)}); it opens offline.")
    if footer:
        parts.append(f'<p style="margin:24px 0 0;color:#52606d">{" ".join(footer)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _cid(index: int) -> str:
    """A Content-ID unique to this message (``make_msgid`` adds time and randomness)."""
    return make_msgid(idstring=f"chart{index}", domain=CID_DOMAIN)[1:-1]


def build_email(message: Message, destination: EmailDestination) -> EmailMessage:
    """The MIME message of ``message`` for one recipient."""
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = destination.sender
    mail["To"] = destination.recipient
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=CID_DOMAIN)
    mail.set_content(plain_text(message))
    cids = [_cid(index) for index in range(1, len(message.charts) + 1)]
    mail.add_alternative(html_body(message, cids), subtype="html")
    if message.charts:
        body = mail.get_body(preferencelist=("html",))  # made multipart/related by add_related
        assert isinstance(body, EmailMessage)
        _add_charts(body, message.charts, cids)
    if message.report_html is not None:
        mail.add_attachment(
            message.report_html,
            maintype="text",
            subtype="html",
            filename=message.report_filename,
            params={"charset": "utf-8"},
        )
    return mail


def _add_charts(body: EmailMessage, charts: Sequence[Chart], cids: Sequence[str]) -> None:
    for index, (chart, cid) in enumerate(zip(charts, cids, strict=True), start=1):
        body.add_related(chart.png, "image", "png", cid=f"<{cid}>", disposition="inline", filename=f"chart-{index}.png")


def _smtp_reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"SMTP {code} {text}".strip()


def _transmit(server: SmtpServer, mail: EmailMessage, timeout: float) -> None:
    """One attempt: connect, secure, log in, send. Classifies every failure for the retries."""
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
            if server.security == "ssl"
            else smtplib.SMTP(server.host, server.port, timeout=timeout)
        )
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=context)
            if server.username and server.password:
                smtp.login(server.username, server.password)
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise Refused(f"login refused ({_smtp_reply(exc.smtp_code, exc.smtp_error)})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        reasons = "; ".join(_smtp_reply(code, reply) for code, reply in exc.recipients.values())
        if codes and all(400 <= code < 500 for code in codes):
            raise Transient(f"recipient deferred ({reasons})") from None
        raise Refused(f"recipient refused ({reasons})") from None
    except smtplib.SMTPResponseException as exc:
        reason = _smtp_reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            raise Transient(reason) from None
        raise Refused(reason) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Refused(f"the server does not support it: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise Refused(f"TLS certificate not trusted ({exc.verify_message})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise Transient(f"unreachable ({type(exc).__name__}: {exc})") from None


def send_email(
    destination: EmailDestination,
    message: Message,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send ``message`` to one recipient, with retries; return the attempts it took."""
    mail = build_email(message, destination)

    def attempt() -> None:
        _transmit(destination.server, mail, policy.timeout)

    return with_retries(destination.name, attempt, policy, secrets=(destination.server.password,), sleep=sleep)
