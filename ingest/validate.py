"""Validation of one Kafka record against the event contract (events.md).

Pure and total: every input, however broken, gives either an accepted row or a
quarantine code with a detail; nothing raises. Rules are checked in the order of the
quarantine table in events.md, because where several rules fail the first one names the
record's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

MAX_PAYLOAD_BYTES = 1_048_576
TYPES = frozenset({"track", "identify", "page", "screen", "alias", "group"})
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(hours=24)
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
ID_FIELDS = ("userId", "anonymousId", "previousId", "groupId")
OBJECT_FIELDS = ("properties", "traits", "context")

# The quarantine codes of events.md, in precedence order.
CODES = (
    "payload_too_large",
    "invalid_json",
    "not_an_object",
    "missing_message_id",
    "invalid_type",
    "missing_identity",
    "missing_event_name",
    "missing_timestamp",
    "invalid_timestamp",
    "timestamp_out_of_range",
    "invalid_field_type",
)


class Accepted(NamedTuple):
    """The typed columns of one raw.events row (Kafka coordinates are added by the batch).

    A tuple, so the batch can append a row with one C-level operation per record.
    """

    message_id: str
    type: str
    event: str | None
    name: str | None
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    group_id: str | None
    timestamp: datetime
    revenue_raw: str | None
    campaign_source_raw: str | None
    campaign_medium_raw: str | None
    campaign_name_raw: str | None
    payload: str


@dataclass(frozen=True, slots=True)
class Rejected:
    code: str
    detail: str


def _id(value: Any) -> str | None:
    """An id as the contract reads it: integers become decimal strings; "" and null are absent."""
    if type(value) is str:  # the common case first: this runs four times per record
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _is_bad_id(value: Any) -> bool:
    return value is not None and not isinstance(value, str) and (not isinstance(value, int) or isinstance(value, bool))


def parse_timestamp(text: str) -> datetime | None:
    """The contract's ISO-8601 subset; None when it is not one (or not a real date/time)."""
    if TIMESTAMP.fullmatch(text) is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: a real moment, just outside datetime's range
        return datetime.min.replace(tzinfo=UTC) if moment.year < 2000 else datetime.max.replace(tzinfo=UTC)


def _fragment(container: Any, key: str) -> str | None:
    """JSON text of ``container[key]`` as sent, for staging to interpret; None when absent."""
    if type(container) is not dict:
        return None
    value = container.get(key)
    return None if value is None else orjson.dumps(value).decode()


def validate(value: bytes | None, now: datetime) -> Accepted | Rejected:
    """Check one record value; ``now`` is the moment of ingestion (for the future bound)."""
    if value is not None and len(value) > MAX_PAYLOAD_BYTES:
        return Rejected("payload_too_large", f"{len(value)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        if value is None:
            raise ValueError("empty record value (tombstone)")
        text = value.decode("utf-8")
        data = orjson.loads(text)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return Rejected("invalid_json", str(exc)[:200])
    if not isinstance(data, dict):
        return Rejected("not_an_object", f"top-level JSON is {type(data).__name__}")
    message_id = data.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return Rejected("missing_message_id", "messageId absent, empty or not a string")
    kind = data.get("type")
    if kind not in TYPES:
        return Rejected("invalid_type", f"type {kind!r} is not one of {sorted(TYPES)}")
    user_id, anonymous_id = _id(data.get("userId")), _id(data.get("anonymousId"))
    previous_id, group_id = _id(data.get("previousId")), _id(data.get("groupId"))
    if user_id is None and anonymous_id is None:
        return Rejected("missing_identity", "neither userId nor anonymousId")
    if kind == "alias" and (user_id is None or previous_id is None):
        return Rejected("missing_identity", "alias needs userId and previousId")
    if kind == "group" and group_id is None:
        return Rejected("missing_identity", "group needs groupId")
    event = data.get("event")
    if kind == "track" and (not isinstance(event, str) or not event):
        return Rejected("missing_event_name", "track without a non-empty string event")
    raw_timestamp = data.get("timestamp")
    if raw_timestamp is None:
        return Rejected("missing_timestamp", "timestamp absent")
    timestamp = parse_timestamp(raw_timestamp) if isinstance(raw_timestamp, str) else None
    if timestamp is None:
        return Rejected(
            "invalid_timestamp", f"timestamp {str(raw_timestamp)[:60]!r} is not YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM]"
        )
    if timestamp < EARLIEST or timestamp > now + FUTURE_TOLERANCE:
        return Rejected("timestamp_out_of_range", f"timestamp {raw_timestamp} outside [2000-01-01, now + 24 h]")
    for field in OBJECT_FIELDS:
        if data.get(field) is not None and not isinstance(data[field], dict):
            return Rejected("invalid_field_type", f"{field} is {type(data[field]).__name__}, not an object")
    for field in ID_FIELDS:
        if field in data and _is_bad_id(data[field]):
            return Rejected("invalid_field_type", f"{field} is {type(data[field]).__name__}, not a string or integer")
    name = data.get("name")
    context = data.get("context")
    campaign = context.get("campaign") if isinstance(context, dict) else None
    return Accepted(  # positional, in field order: cheaper than keywords on the hot path
        message_id,
        kind,
        event if kind == "track" else None,
        name if isinstance(name, str) else None,
        user_id,
        anonymous_id,
        previous_id,
        group_id,
        timestamp,
        _fragment(data.get("properties"), "revenue") if kind == "track" else None,
        _fragment(campaign, "source"),
        _fragment(campaign, "medium"),
        _fragment(campaign, "name"),
        text,
    )
