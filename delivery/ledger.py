"""Once per report and alert: the ``ops.deliveries`` table and :func:`deliver`.

delivery.md: every delivery is recorded in ``ops.deliveries`` (kind, key, destination,
sent_at) after the destination accepted it; a re-run, a retry after a crash or a second
schedule tick never sends the same key to the same destination twice, while a new
destination or a new key is sent. The only window for a repeat is a crash between the
acceptance and the record, kept to the one INSERT that follows the send.

The table lives in the warehouse, so it is written the one way every writer writes:
inside ``warehouse.connection.writing`` (the cross-process writer lock, then the file). The
lock is held from the check to the last record, which is what makes the check-then-send
safe against a second deliverer (two schedule ticks, a manual ``--send`` beside Dagster):
the second waits, then finds the records of the first. Sends are bounded by the retry
policy (attempts x timeout plus backoff), so other writers wait seconds, not minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb

from delivery.destinations import (
    Destination,
    Destinations,
    EmailDestination,
    SlackDestination,
    WebhookDestination,
    load_destinations,
)
from delivery.email import send_email
from delivery.errors import DeliveryError
from delivery.message import Message
from delivery.slack import send_slack
from delivery.transport import RetryPolicy, retry_policy
from delivery.webhook import send_webhook
from warehouse.connection import writing
from warehouse.settings import Settings

log = logging.getLogger(__name__)

DELIVERIES_DDL = """
create schema if not exists ops;

create table if not exists ops.deliveries (
    kind        varchar     not null,  -- 'report' or 'alert'
    key         varchar     not null,  -- 'daily:2026-12-02', 'weekly:2026-11-23', 'alert:<monitor>:<date>'
    destination varchar     not null,  -- the public name: 'email:ops@example.com', 'slack', 'webhook:host:port'
    sent_at     timestamptz not null,  -- when the destination accepted the message
    primary key (kind, key, destination)
);
"""

Sender = Callable[[Destination, Message, RetryPolicy], object]


def ensure_deliveries(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``ops.deliveries`` if it is missing (idempotent)."""
    con.execute(DELIVERIES_DDL)


def recorded(con: duckdb.DuckDBPyConnection, kind: str, key: str) -> set[str]:
    """The destinations that already accepted the message (kind, key)."""
    rows = con.execute("select destination from ops.deliveries where kind = ? and key = ?", [kind, key]).fetchall()
    return {destination for (destination,) in rows}


def record_delivery(con: duckdb.DuckDBPyConnection, kind: str, key: str, destination: str) -> None:
    """The one statement after an acceptance: a crash before it is the only way to send twice."""
    con.execute(
        "insert into ops.deliveries (kind, key, destination, sent_at) values (?, ?, ?, current_timestamp)",
        [kind, key, destination],
    )


def send(destination: Destination, message: Message, policy: RetryPolicy) -> None:
    """Send ``message`` to one destination through its channel (with retries)."""
    if isinstance(destination, EmailDestination):
        send_email(destination, message, policy)
    elif isinstance(destination, SlackDestination):
        send_slack(destination, message, policy)
    elif isinstance(destination, WebhookDestination):
        send_webhook(destination, message, policy)
    else:  # pragma: no cover - the union is closed
        raise TypeError(f"unknown destination {destination!r}")


@dataclass(frozen=True)
class Outcome:
    """What one :func:`deliver` call did, by public destination name."""

    kind: str
    key: str
    sent: tuple[str, ...] = ()
    already_sent: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # the one-line reasons, each starting with the destination's name

    @property
    def configured(self) -> bool:
        """Whether any destination was configured for this kind of message."""
        return bool(self.sent or self.already_sent or self.failed)

    def summary(self) -> str:
        """One line for people: what was sent where, what had been sent before."""
        if not self.configured:
            return f"{self.kind} {self.key}: no destination configured, nothing sent"
        parts = [f"sent to {', '.join(self.sent)}" if self.sent else "nothing new sent"]
        if self.already_sent:
            parts.append(f"already sent to {', '.join(self.already_sent)}")
        if self.failed:
            parts.append(f"failed: {'; '.join(self.failed)}")
        return f"{self.kind} {self.key}: " + "; ".join(parts)


def _log(outcome: Outcome) -> None:
    """One structured line per call: the text for people, the fields (``extra``) for machines."""
    log.info(
        "delivery %s",
        outcome.summary(),
        extra={
            "delivery_kind": outcome.kind,
            "delivery_key": outcome.key,
            "delivery_sent": list(outcome.sent),
            "delivery_already_sent": list(outcome.already_sent),
            "delivery_failed": len(outcome.failed),
            "delivery_configured": outcome.configured,
        },
    )


def deliver(
    settings: Settings,
    message: Message,
    destinations: Destinations | Iterable[Destination] | None = None,
    *,
    policy: RetryPolicy | None = None,
    sender: Sender = send,
) -> Outcome:
    """Send ``message`` to every destination of its kind that has not accepted it yet.

    ``destinations`` defaults to those of the settings (:func:`load_destinations`); a plain
    sequence is taken as it is. For each one: skip it when ``(kind, key, destination)`` is
    recorded, else send (with retries) and record the acceptance at once. A destination that
    fails does not stop the others; once all were tried, DeliveryError names every failed one
    (the accepted ones are recorded and will not be sent again). Nothing configured: nothing
    is sent, the warehouse is not touched, and the log line says so.

    An exception other than DeliveryError (the warehouse cannot be written, the process is
    interrupted) stops at once: a destination that accepted and was not recorded is sent
    again by the next call, the one repeat delivery.md allows.
    """
    if destinations is None:
        destinations = load_destinations(settings)
    targets = destinations.for_kind(message.kind) if isinstance(destinations, Destinations) else tuple(destinations)
    if not targets:
        outcome = Outcome(message.kind, message.key)
        _log(outcome)
        return outcome
    policy = policy or retry_policy(settings)
    sent: list[str] = []
    already: list[str] = []
    failed: list[str] = []
    with writing(settings, on_wait=log.warning) as con:
        ensure_deliveries(con)
        done = recorded(con, message.kind, message.key)
        for destination in targets:
            name = destination.name
            if name in done:
                already.append(name)
                continue
            try:
                sender(destination, message, policy)
            except DeliveryError as exc:
                failed.append(str(exc))
                continue
            record_delivery(con, message.kind, message.key, name)
            done.add(name)
            sent.append(name)
    outcome = Outcome(message.kind, message.key, tuple(sent), tuple(already), tuple(failed))
    _log(outcome)
    if failed:
        raise DeliveryError(outcome.summary())
    return outcome


def delivered(settings: Settings, kind: str, key: str) -> set[str]:
    """The destinations recorded for (kind, key): for ``--dry-run`` and status output."""
    with writing(settings, on_wait=log.warning) as con:
        ensure_deliveries(con)
        return recorded(con, kind, key)
