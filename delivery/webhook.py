"""The generic webhook: one JSON document per report and per alert, exactly as delivery.md says.

``{"kind": "report"|"alert", "id", "period" or "date", "headline": {...}, "alerts": [...],
"report_url"}``: ``id`` is the message's once-per-key identity (``daily:2026-12-02``,
``alert:daily_signups:2026-12-02``), so a receiver can deduplicate on it as well; a report
carries ``period`` (``{"grain", "start", "end"}``, ISO dates, end inclusive) and an alert
carries ``date``; ``headline`` holds the labels and values as people read them; each alert
is its structured data with its ``summary`` sentence; ``report_url`` is null when no public
report URL is configured. Nothing else is added, so the document stays the contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from delivery.destinations import WebhookDestination
from delivery.message import Message
from delivery.transport import RetryPolicy, post_json


def webhook_document(message: Message) -> dict[str, Any]:
    """The JSON document of ``message``, members in the order of delivery.md."""
    document: dict[str, Any] = {"kind": message.kind, "id": message.key}
    if message.period is not None:
        document["period"] = message.period.as_json()
    else:
        assert message.date is not None
        document["date"] = message.date.isoformat()
    document["headline"] = dict(message.headline)
    document["alerts"] = [alert.as_json() for alert in message.alerts]
    document["report_url"] = message.report_url
    return document


def send_webhook(
    destination: WebhookDestination,
    message: Message,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post the document to the webhook, with retries; return the attempts it took."""
    return post_json(destination.name, destination.url, webhook_document(message), policy, sleep=sleep)
