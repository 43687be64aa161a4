"""Quarantine codes exactly per docs/events.md, one case per rule, and the precedence order."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from ingest.validate import Accepted, Rejected, validate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GOOD = {"type": "track", "messageId": "m1", "event": "Signed Up", "userId": "u1", "timestamp": "2026-05-01T10:00:00Z"}


def with_(**changes: object) -> bytes:
    event = {**GOOD, **changes}
    return orjson.dumps({k: v for k, v in event.items() if v is not ...})


CASES = [
    ("payload_too_large", b"{" + b" " * 1_048_576),  # 1 MiB + 1 byte
    ("invalid_json", b'{"type": "track"'),
    ("invalid_json", b"\xff\xfe"),
    ("invalid_json", None),
    ("not_an_object", b"[1, 2]"),
    ("not_an_object", b'"text"'),
    ("missing_message_id", with_(messageId=...)),
    ("missing_message_id", with_(messageId="")),
    ("missing_message_id", with_(messageId=7)),
    ("invalid_type", with_(type=...)),
    ("invalid_type", with_(type="purchase")),
    ("invalid_type", with_(type=["track"])),  # unhashable: a code, not a crash
    ("invalid_type", with_(type={"track": 1})),
    ("missing_identity", with_(userId=...)),
    ("missing_identity", with_(userId="", anonymousId=None)),
    ("missing_identity", with_(type="alias", userId="u1", previousId=None)),
    ("missing_identity", with_(type="alias", userId=..., anonymousId="a1", previousId="p")),
    ("missing_identity", with_(type="group", groupId="")),
    ("missing_event_name", with_(event=...)),
    ("missing_event_name", with_(event="")),
    ("missing_event_name", with_(event=5)),
    ("missing_timestamp", with_(timestamp=...)),
    ("missing_timestamp", with_(timestamp=None)),
    ("invalid_timestamp", with_(timestamp="2026-05-01")),
    ("invalid_timestamp", with_(timestamp="2026-05-01T10:00:00+0200")),
    ("invalid_timestamp", with_(timestamp="2026-05-01 10:00:00Z")),
    ("invalid_timestamp", with_(timestamp=1714557600)),
    ("invalid_timestamp", with_(timestamp="2026-02-30T10:00:00Z")),
    ("invalid_timestamp", with_(timestamp="2026-05-01T10:00:00.1234567890Z")),
    ("timestamp_out_of_range", with_(timestamp="1999-12-31T23:59:59Z")),
    ("timestamp_out_of_range", with_(timestamp="2026-06-02T12:00:01Z")),
    ("timestamp_out_of_range", with_(timestamp="2000-01-01T00:30:00+01:00")),
    ("timestamp_out_of_range", with_(timestamp="0001-01-01T00:00:00+01:00")),  # before year 1 in UTC
    ("timestamp_out_of_range", with_(timestamp="9999-12-31T23:59:59-01:00")),  # after year 9999 in UTC
    ("invalid_field_type", with_(properties=[1])),
    ("invalid_field_type", with_(traits="x")),
    ("invalid_field_type", with_(context=3)),
    ("invalid_field_type", with_(anonymousId=1.5)),
    ("invalid_field_type", with_(anonymousId=True)),
]


@pytest.mark.parametrize(("code", "value"), CASES)
def test_each_rule_gives_its_code(code: str, value: bytes | None) -> None:
    outcome = validate(value, NOW)
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code == code, outcome.detail


def test_every_code_of_the_spec_is_covered() -> None:
    from ingest.validate import CODES

    assert {code for code, _ in CASES} == set(CODES)


def test_exactly_one_mebibyte_is_accepted_one_more_byte_is_not() -> None:
    body = orjson.dumps({**GOOD, "properties": {"pad": ""}})
    pad = 1_048_576 - len(body)
    exact = orjson.dumps({**GOOD, "properties": {"pad": "x" * pad}})
    assert len(exact) == 1_048_576
    assert isinstance(validate(exact, NOW), Accepted)
    over = orjson.dumps({**GOOD, "properties": {"pad": "x" * (pad + 1)}})
    outcome = validate(over, NOW)
    assert isinstance(outcome, Rejected) and outcome.code == "payload_too_large"


def test_first_failing_rule_in_table_order_names_the_code() -> None:
    # no messageId AND bad type AND no identity: missing_message_id comes first
    outcome = validate(orjson.dumps({"type": "nope", "timestamp": "x"}), NOW)
    assert isinstance(outcome, Rejected) and outcome.code == "missing_message_id"
    # bad properties AND out-of-range timestamp: timestamp_out_of_range comes first
    outcome = validate(with_(properties=1, timestamp="1990-01-01T00:00:00Z"), NOW)
    assert isinstance(outcome, Rejected) and outcome.code == "timestamp_out_of_range"


def test_ids_are_converted_and_offsets_honoured() -> None:
    outcome = validate(with_(userId=42, anonymousId="", timestamp="2026-05-01T12:00:00.123456789+02:00"), NOW)
    assert isinstance(outcome, Accepted)
    assert outcome.user_id == "42" and outcome.anonymous_id is None
    assert outcome.timestamp == datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    naive = validate(with_(timestamp="2026-05-01T12:00:00"), NOW)
    assert isinstance(naive, Accepted) and naive.timestamp == datetime(2026, 5, 1, 12, tzinfo=UTC)
    edge = validate(with_(timestamp="2026-06-02T12:00:00Z"), NOW)  # exactly 24 h ahead is allowed
    assert isinstance(edge, Accepted)


def test_revenue_and_campaign_fragments_are_kept_as_sent() -> None:
    value = with_(
        properties={"revenue": "12.50"},
        context={"campaign": {"source": " Google ", "medium": 3, "name": "Brand"}},
        anonymousId=77,
    )
    outcome = validate(value, NOW)
    assert isinstance(outcome, Accepted)
    assert outcome.revenue_raw == '"12.50"'
    assert (outcome.campaign_source_raw, outcome.campaign_medium_raw, outcome.campaign_name_raw) == (
        '" Google "',
        "3",
        '"Brand"',
    )
    assert outcome.anonymous_id == "77"
    assert outcome.payload == value.decode()


def test_experiment_properties_are_kept_as_sent_for_track_events_with_an_experiment_id() -> None:
    exposure = validate(
        with_(properties={"experiment_id": " exp ", "variation_id": 7, "variation_name": "B", "plan": "pro"}), NOW
    )
    assert isinstance(exposure, Accepted)
    # Only the four experiment properties, each as sent (spaces and integers included); absent ones left out.
    assert orjson.loads(exposure.experiment_raw or "null") == {
        "experiment_id": " exp ",
        "variation_id": 7,
        "variation_name": "B",
    }
    explicit_null = validate(with_(properties={"experiment_id": None}), NOW)
    assert isinstance(explicit_null, Accepted) and explicit_null.experiment_raw == '{"experiment_id":null}'
    for other in (with_(properties={"variation_id": "A"}), with_(type="page", properties={"experiment_id": "e"})):
        outcome = validate(other, NOW)
        assert isinstance(outcome, Accepted) and outcome.experiment_raw is None


# The segment fragments (docs/segments.md): column, context member, key.
SEGMENT_CONTEXT = [
    ("device_type_raw", "device", "type"),
    ("os_name_raw", "os", "name"),
    ("country_raw", "location", "country"),
]
# Every event type, each with what it needs to be accepted.
EVERY_TYPE = [
    {},
    {"type": "page", "event": ...},
    {"type": "screen", "event": ...},
    {"type": "identify", "event": ...},
    {"type": "group", "event": ..., "groupId": "g1"},
    {"type": "alias", "event": ..., "previousId": "a1"},
]


@pytest.mark.parametrize(("column", "member", "key"), SEGMENT_CONTEXT)
@pytest.mark.parametrize("kind", EVERY_TYPE, ids=lambda kind: str(kind.get("type", "track")))
def test_segment_context_strings_are_kept_as_sent(column: str, member: str, key: str, kind: dict[str, object]) -> None:
    for sent, kept in [(" Mobile ", " Mobile "), ("", ""), ("de", "de")]:
        outcome = validate(with_(**kind, context={member: {key: sent}}), NOW)
        assert isinstance(outcome, Accepted), outcome
        assert getattr(outcome, column) == kept
        # The other two columns stay empty.
        assert [getattr(outcome, other) for other, _, _ in SEGMENT_CONTEXT if other != column] == [None, None]


@pytest.mark.parametrize(("column", "member", "key"), SEGMENT_CONTEXT)
def test_segment_context_values_that_are_not_strings_are_null(column: str, member: str, key: str) -> None:
    contexts: list[object] = [
        ...,  # no context
        {},  # no member
        {member: {}},  # no key
        {member: {key: None}},
        {member: {key: 3}},
        {member: {key: 1.5}},
        {member: {key: True}},
        {member: {key: {"value": "mobile"}}},
        {member: {key: ["mobile"]}},
        {member: "mobile"},  # the member is not an object
        {member: [{key: "mobile"}]},
        {member: None},
        {key: "mobile"},  # the key at the wrong level
    ]
    for context in contexts:
        outcome = validate(with_(context=context), NOW)
        assert isinstance(outcome, Accepted), (context, outcome)
        assert getattr(outcome, column) is None, context


def test_all_three_context_strings_of_one_event() -> None:
    outcome = validate(
        with_(
            type="identify",
            event=...,
            context={
                "device": {"type": "tablet", "model": "X"},
                "os": {"name": " Android", "version": "14"},
                "location": {"country": "fr ", "city": "Lyon"},
                "campaign": {"source": "Ads"},
            },
        ),
        NOW,
    )
    assert isinstance(outcome, Accepted)
    assert (outcome.device_type_raw, outcome.os_name_raw, outcome.country_raw) == ("tablet", " Android", "fr ")
    assert outcome.campaign_source_raw == '"Ads"'


def test_traits_of_identify_and_group_events_are_kept_as_json() -> None:
    identify = validate(with_(type="identify", event=..., traits={"plan": " pro ", "n": 3}), NOW)
    assert isinstance(identify, Accepted) and identify.traits_raw is not None
    assert json.loads(identify.traits_raw) == {"plan": " pro ", "n": 3}
    # Each value as sent: an integer stays one, a float keeps its point, nested values and null stay.
    group = validate(
        with_(
            type="group",
            event=...,
            groupId="g1",
            traits={"name": " Acme ", "size": 10.0, "tags": ["a"], "owner": {"id": 1}, "x": None, "ok": False},
        ),
        NOW,
    )
    assert isinstance(group, Accepted) and group.traits_raw is not None
    assert json.loads(group.traits_raw) == {
        "name": " Acme ",
        "size": 10.0,
        "tags": ["a"],
        "owner": {"id": 1},
        "x": None,
        "ok": False,
    }
    assert '"size":10.0' in group.traits_raw and '"owner":{"id":1}' in group.traits_raw
    empty = validate(with_(type="identify", event=..., traits={}), NOW)
    assert isinstance(empty, Accepted) and empty.traits_raw == "{}"


def test_traits_are_null_for_other_types_and_when_absent() -> None:
    for value in [
        with_(traits={"plan": "pro"}),  # a track event
        with_(type="page", event=..., traits={"plan": "pro"}),
        with_(type="alias", event=..., previousId="a1", traits={"plan": "pro"}),
        with_(type="identify", event=...),
        with_(type="identify", event=..., traits=None),
        with_(type="group", event=..., groupId="g1", context={"traits": {"plan": "pro"}}),  # not context.traits
    ]:
        outcome = validate(value, NOW)
        assert isinstance(outcome, Accepted), outcome
        assert outcome.traits_raw is None, value


def test_fragments_nested_deeper_than_orjson_writes_are_kept_not_raised() -> None:
    # orjson reads 1,024 levels but writes 254: the fragment is kept anyway (a raise would
    # fail the batch every time the record is read again).
    deep = "[" * 300 + "]" * 300
    value = (
        with_(type="identify", event=..., traits={"plan": "pro", "deep": 0})
        .decode()
        .replace('"deep":0', f'"deep":{deep}')
        .encode()
    )
    outcome = validate(value, NOW)
    assert isinstance(outcome, Accepted)
    assert outcome.traits_raw == '{"plan":"pro","deep":' + deep + "}"
    revenue = with_(properties={"revenue": 0}).decode().replace('"revenue":0', f'"revenue":{deep}').encode()
    outcome = validate(revenue, NOW)
    assert isinstance(outcome, Accepted) and outcome.revenue_raw == deep
