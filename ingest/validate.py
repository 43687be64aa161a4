"""Validation of one Kafka record against the event contract (docs/events.md).

Pure and total: every input, however broken, gives either an accepted row or a
quarantine code with a detail; nothing raises. Rules are checked in the order of the
quarantine table in docs/events.md, because where several rules fail the first one names the
record's code.
"""

from __future__ import annotations

import json
import re
import sys
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
# The fragments the segment models read (docs/segments.md), kept so that they need not parse
# every payload: traits_raw, the JSON text of the top-level traits object of identify and
# group events (null for other types or when absent); device_type_raw, os_name_raw and
# country_raw, context.device.type, context.os.name and context.location.country of every
# event when they are JSON strings, as sent (untrimmed, "" included; null when absent, when
# the containing object is not an object, or when the value is not a string, which is never
# usable there).
TRAIT_TYPES = frozenset({"identify", "group"})
# properties_raw: the JSON text of the properties object of track events that carry a revenue
# property (exactly those with revenue_raw), for the billing interval of docs/revenue.md,
# whose property name is a dbt var. Only revenue events keep it, so it costs next to nothing
# on the rest.
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
    traits_raw: str | None
    device_type_raw: str | None
    os_name_raw: str | None
    country_raw: str | None
    properties_raw: str | None
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


def _json_text(value: Any) -> str | None:
    """``value`` (parsed by orjson) as compact JSON text.

    orjson reads 1,024 levels of nesting but writes only 254; a deeper fragment goes
    through the json module (the same text but for the rare float spelling) instead of
    raising, which would fail the batch each time the record is read again. Should even that
    run out of stack, the fragment is left out (the payload still has it).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: "Recursion limit reached"
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 4096))
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except RecursionError:
            return None
        finally:
            sys.setrecursionlimit(limit)


def _fragment(container: Any, key: str) -> str | None:
    """JSON text of ``container[key]`` as sent, for staging to interpret; None when absent."""
    if type(container) is not dict:
        return None
    value = container.get(key)
    return None if value is None else _json_text(value)


# The payload's index in an event_row tuple (the Accepted fields before it).
PAYLOAD = Accepted._fields.index("payload")


def validate(value: bytes | None, now: datetime) -> Accepted | Rejected:
    """Check one record value; ``now`` is the moment of ingestion (for the future bound)."""
    outcome = event_row(value, now + FUTURE_TOLERANCE, "", 0, 0)
    if isinstance(outcome, Rejected):
        return outcome
    return Accepted._make((*outcome[:PAYLOAD], outcome[PAYLOAD].decode()))


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
    revenue = properties_text = None
    if kind == "track" and type(properties) is dict and (amount := properties.get("revenue")) is not None:
        revenue = _json_text(amount)
        properties_text = _json_text(properties)
    experiment = None
    if kind == "track" and type(properties) is dict and "experiment_id" in properties:
        experiment = _json_text({key: properties[key] for key in EXPERIMENT_PROPERTIES if key in properties})
    trait_text = _json_text(traits) if traits is not None and kind in TRAIT_TYPES else None
    source = medium = campaign_name = device_type = os_name = country = None
    if context is not None:  # an object here (anything else was rejected above)
        context_get = context.get
        campaign = context_get("campaign")
        if type(campaign) is dict:
            source, medium, campaign_name = (
                _fragment(campaign, "source"),
                _fragment(campaign, "medium"),
                _fragment(campaign, "name"),
            )
        if type(device := context_get("device")) is dict and type(text := device.get("type")) is str:
            device_type = text
        if type(system := context_get("os")) is dict and type(text := system.get("name")) is str:
            os_name = text
        if type(location := context_get("location")) is dict and type(text := location.get("country")) is str:
            country = text
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
        trait_text,
        device_type,
        os_name,
        country,
        properties_text,
        value,
        topic,
        partition,
        offset,
    )
