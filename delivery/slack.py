"""The Slack message: Block Kit JSON posted to an incoming webhook.

delivery.md: the headline numbers and takeaways as Slack blocks, with a link to the report
when GROWTH_REPORT_URL is set. Slack shows no attachments through an incoming webhook and
cannot see our PNGs, so the takeaways carry what the charts say in words. Texts are cut to
Slack's limits (a longer one makes Slack refuse the whole message) and escaped for mrkdwn
(``&``, ``<`` and ``>``), so a label can neither break the layout nor forge a link.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from delivery.destinations import SlackDestination
from delivery.message import Message
from delivery.transport import RetryPolicy, post_json

HEADER_CHARS = 150  # Slack's limits for a header, a section field and a section text
FIELD_CHARS = 2000
TEXT_CHARS = 3000
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _bullets(lines: list[str]) -> list[dict[str, Any]]:
    """Sections of bullet lines, each under Slack's text limit."""
    sections: list[dict[str, Any]] = []
    current = ""
    for line in lines:
        line = _cut(f"• {line}", TEXT_CHARS)
        if current and len(current) + 1 + len(line) > TEXT_CHARS:
            sections.append({"type": "section", "text": _mrkdwn(current)})
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        sections.append({"type": "section", "text": _mrkdwn(current)})
    return sections


def slack_payload(message: Message) -> dict[str, Any]:
    """The webhook body: a notification text and the blocks.

    header (the title), context (the period or date), the headline numbers as section
    fields (``*label*`` over the value, ten per section), the alerts, the takeaways, and a
    button to the report when ``report_url`` is set.
    """
    esc = mrkdwn_escape
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, HEADER_CHARS)}},
        {"type": "context", "elements": [_mrkdwn(esc(message.when))]},
    ]
    fields = [_mrkdwn(_cut(f"*{esc(label)}*\n{esc(value)}", FIELD_CHARS)) for label, value in message.headline.items()]
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]})
    if message.alerts:
        blocks.append({"type": "section", "text": _mrkdwn("*Alerts*")})
        blocks += _bullets([esc(alert.summary) for alert in message.alerts])
    takeaways = [f"*{esc(chart.title)}*: {esc(chart.takeaway)}" for chart in message.charts if chart.takeaway]
    if takeaways:
        blocks.append({"type": "divider"})
        blocks += _bullets(takeaways)
    link: list[dict[str, Any]] = []
    if message.report_url:
        label = {"type": "plain_text", "text": "Open the report"}
        button = {"type": "button", "text": label, "url": message.report_url}
        link.append({"type": "actions", "elements": [button]})
    blocks = blocks[: MAX_BLOCKS - len(link)] + link
    return {"text": f"{message.title}: {message.when}", "blocks": blocks}


def send_slack(
    destination: SlackDestination,
    message: Message,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post ``message`` to the Slack webhook, with retries; return the attempts it took."""
    return post_json(destination.name, destination.url, slack_payload(message), policy, sleep=sleep)
