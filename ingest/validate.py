"""Validation of one Kafka record against the event contract (docs/events.md).

Pure and total: every input, however broken, gives either an accepted row or a
quarantine code with a detail; nothing raises. Rules are checked in the order of the
quarantine table in docs/events.md, because where several rules fail the first one names the
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
# The properties of an experiment exposure (docs/experiments.md), kept as sent for staging.
# Which track event marks an exposure is a dbt var, so every track event carrying an
# experiment_id keeps them (a few bytes, and none for the events that do not).
EXPERIMENT_PROPERTIES = ("experiment_id", "variation_id", "experiment_name", "variation_name")
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)

# The quarantine codes of docs/events.md, in precedence order.
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
    experiment_raw: str | None
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


def parse_timestamp(text: str) -> datetime | None:
    """The contract's ISO-8601 subset; None when it is not one (or not a real date/time)."""
    if TIMESTAMP.fullmatch(text) is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    tz = moment.tzinfo
    if tz is UTC:  # "Z" and "+00:00", the common case: already what we store
        return moment
    if tz is None:
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
    outcome = event_row(value, now + FUTURE_TOLERANCE, "", 0, 0)
    if isinstance(outcome, Rejected):
        return outcome
    return Accepted._make((*outcome[:14], outcome[14].decode()))


def event_row(
    value: bytes | None, latest: datetime, topic: str, partition: int, offset: int
) -> tuple[Any, ...] | Rejected:
    """:func:`validate` on the hot path: the raw.events row, or why the record is rejected.

    The row holds the :class:`Accepted` fields, except that the payload stays the bytes
    as received (orjson has checked they are UTF-8 JSON; Arrow takes bytes for a string
    column at a quarter of the cost of a str), followed by the Kafka coordinates.
    ``latest`` is the moment of ingestion plus the 24-hour tolerance, computed once per
    batch. Same rules and codes as :func:`validate`, in the same order.
    """
    if value is None:
        return Rejected("invalid_json", "empty record value (tombstone)")
    if len(value) > MAX_PAYLOAD_BYTES:
        return Rejected("payload_too_large", f"{len(value)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        data = orjson.loads(value)  # rejects invalid UTF-8 like a strict decode would
    except orjson.JSONDecodeError as exc:
        return Rejected("invalid_json", str(exc)[:200])
    if type(data) is not dict:
        return Rejected("not_an_object", f"top-level JSON is {type(data).__name__}")
    get = data.get
    message_id = get("messageId")
    if type(message_id) is not str or not message_id:
        return Rejected("missing_message_id", "messageId absent, empty or not a string")
    kind = get("type")
    if type(kind) is not str or kind not in TYPES:
        return Rejected("invalid_type", f"type {repr(kind)[:60]} is not one of {sorted(TYPES)}")
    # Ids: a string as it is ("" is absent), an integer as its decimal string; any other
    # type counts as absent here and is reported (after the earlier rules) as a bad field.
    bad_id: str | None = None
    user_id = get("userId")
    if type(user_id) is str:
        user_id = user_id or None
    elif user_id is not None and (user_id := _id(user_id)) is None:
        bad_id = "userId"
    anonymous_id = get("anonymousId")
    if type(anonymous_id) is str:
        anonymous_id = anonymous_id or None
    elif anonymous_id is not None and (anonymous_id := _id(anonymous_id)) is None:
        bad_id = bad_id or "anonymousId"
    previous_id = get("previousId")
    if type(previous_id) is str:
        previous_id = previous_id or None
    elif previous_id is not None and (previous_id := _id(previous_id)) is None:
        bad_id = bad_id or "previousId"
    group_id = get("groupId")
    if type(group_id) is str:
        group_id = group_id or None
    elif group_id is not None and (group_id := _id(group_id)) is None:
        bad_id = bad_id or "groupId"
    if user_id is None and anonymous_id is None:
        return Rejected("missing_identity", "neither userId nor anonymousId")
    if kind == "alias" and (user_id is None or previous_id is None):
        return Rejected("missing_identity", "alias needs userId and previousId")
    if kind == "group" and group_id is None:
        return Rejected("missing_identity", "group needs groupId")
    event = get("event")
    if kind != "track":
        event = None
    elif type(event) is not str or not event:
        return Rejected("missing_event_name", "track without a non-empty string event")
    raw_timestamp = get("timestamp")
    if raw_timestamp is None:
        return Rejected("missing_timestamp", "timestamp absent")
    timestamp = parse_timestamp(raw_timestamp) if type(raw_timestamp) is str else None
    if timestamp is None:
        return Rejected(
            "invalid_timestamp", f"timestamp {str(raw_timestamp)[:60]!r} is not YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM]"
        )
    if timestamp < EARLIEST or timestamp > latest:
        return Rejected("timestamp_out_of_range", f"timestamp {raw_timestamp} outside [2000-01-01, now + 24 h]")
    properties, traits, context = get("properties"), get("traits"), get("context")
    if not (
        (properties is None or type(properties) is dict)
        and (traits is None or type(traits) is dict)
        and (context is None or type(context) is dict)
    ):
        for field, member in (("properties", properties), ("traits", traits), ("context", context)):
            if member is not None and type(member) is not dict:
                return Rejected("invalid_field_type", f"{field} is {type(member).__name__}, not an object")
    if bad_id is not None:
        return Rejected("invalid_field_type", f"{bad_id} is {type(data[bad_id]).__name__}, not a string or integer")
    name = get("name")
    revenue = None
    if kind == "track" and type(properties) is dict and (amount := properties.get("revenue")) is not None:
        revenue = orjson.dumps(amount).decode()
    experiment = None
    if kind == "track" and type(properties) is dict and "experiment_id" in properties:
        experiment = orjson.dumps({key: properties[key] for key in EXPERIMENT_PROPERTIES if key in properties}).decode()
    campaign = context.get("campaign") if context is not None else None
    if type(campaign) is dict:
        source, medium, campaign_name = (
            _fragment(campaign, "source"),
            _fragment(campaign, "medium"),
            _fragment(campaign, "name"),
        )
    else:
        source = medium = campaign_name = None
    return (
        message_id,
        kind,
        event,
        name if type(name) is str else None,
        user_id,
        anonymous_id,
        previous_id,
        group_id,
        timestamp,
        revenue,
        source,
        medium,
        campaign_name,
        experiment,
        value,
        topic,
        partition,
        offset,
    )
