"""
Tests for cio_destination._core.evaluate, the path every message takes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from segment.analytics import Client

from cio_destination import ConfigurationError, OperationKind
from cio_destination._catalogue import EVENTS
from cio_destination._core import evaluate
from cio_destination._normalize import OBJECT_DELETED_ANONYMOUS_ID
from cio_destination._schemas import schema_examples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
SCHEMA_EXAMPLES = [
    pytest.param(event, example, id=f"{event}-{number}")
    for number, (event, example) in enumerate(schema_examples())
]


def _lines(name: str) -> list[dict[str, Any]]:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _track(event: str, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "properties": {}, **fields}


@pytest.fixture
def segment_client() -> Iterator[Client]:
    """
    A real segment client that builds messages and sends nothing.
    """
    client = Client("test-write-key", send=False)
    yield client
    client.shutdown()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "identify", "userId": "42", "traits": {"email": "jane@example.com"}},
        {"type": "page", "userId": "42", "name": "Pricing"},
        _track("Order Completed", userId="42", properties={"total": 10}),
        {"type": "group", "userId": "42", "groupId": "acme"},
        {"type": "identify", "event": "User Deleted", "userId": "42"},
    ],
    ids=["identify", "page", "track", "group", "identify-with-event-field"],
)
def test_ordinary_message_is_valid_with_no_operations(message: dict[str, Any]) -> None:
    """
    A message that is not a semantic event passes through untouched and valid.
    """
    evaluation = evaluate(message)

    assert evaluation.valid
    assert evaluation.semantic is None
    assert evaluation.operations == ()
    assert evaluation.warnings == ()
    assert evaluation.message == message


@pytest.mark.parametrize(("event", "example"), SCHEMA_EXAMPLES)
@pytest.mark.parametrize("transport", ["track", "pipelines"])
def test_schema_example_evaluates_to_one_operation(
    event: str, example: dict[str, Any], transport: Any
) -> None:
    """
    Each schema example is valid and becomes one operation of the right kind.
    """
    evaluation = evaluate(example, transport=transport)

    assert evaluation.errors == ()
    assert evaluation.semantic == event
    assert len(evaluation.operations) == 1
    operation = evaluation.operations[0]
    if transport == "pipelines":
        assert operation.kind is OperationKind.PIPELINES
        assert operation.body["event"] == event
    elif event == "Report Delivery Event":
        assert operation.kind is OperationKind.METRIC
    else:
        assert operation.kind is OperationKind.ENTITY
    json.dumps(operation.body)


@pytest.mark.parametrize(
    ("message", "path", "rule", "shown"),
    [
        (
            _track(
                "Device Created or Updated",
                userId="42",
                context={"device": {"type": "ios"}},
            ),
            "context.device.token",
            "required",
            "context.device.token",
        ),
        (
            _track("Device Deleted", userId="42"),
            "context.device",
            "required",
            "context.device",
        ),
        (
            _track(
                "Device Created or Updated",
                userId="42",
                context={"device": {"token": TOKEN, "type": "windows"}},
            ),
            "context.device.type",
            "enum",
            '"windows"',
        ),
        (
            _track(
                "Device Created or Updated",
                userId="42",
                context={"device": {"token": TOKEN}},
            ),
            "context.device.type",
            "required",
            "Track API",
        ),
        (
            _track("Object Deleted", userId="42", properties={"objectTypeId": 1}),
            "properties.objectId",
            "required",
            "properties.objectId",
        ),
        (
            _track(
                "Object Deleted",
                properties={"objectId": "Acme", "objectTypeId": "acme"},
            ),
            "properties.objectTypeId",
            "type",
            '"acme"',
        ),
        (
            _track(
                "Relationship Deleted",
                properties={"objectId": "Acme", "objectTypeId": 1.5},
            ),
            "properties.objectTypeId",
            "type",
            "1.5",
        ),
        (
            _track(
                "Relationship Deleted",
                userId="42",
                properties={"objectId": "Acme", "objectTypeId": 0},
            ),
            "properties.objectTypeId",
            "minimum",
            "0",
        ),
        (
            _track(
                "Relationship Deleted", anonymousId="a", properties={"objectId": "Acme"}
            ),
            "userId",
            "required",
            "userId",
        ),
        (_track("User Deleted", anonymousId="a"), "userId", "required", "userId"),
        (_track("User Suppressed", userId=""), "userId", "minLength", '""'),
        (
            _track("User Unsuppressed", userId="42", timestamp="yesterday"),
            "timestamp",
            "format",
            '"yesterday"',
        ),
        (
            _track(
                "Report Delivery Event",
                properties={"deliveryId": "d", "metric": "bounced"},
            ),
            "properties.metric",
            "enum",
            '"bounced"',
        ),
        (
            _track("Report Delivery Event", properties={"metric": "opened"}),
            "properties.deliveryId",
            "required",
            "properties.deliveryId",
        ),
        (
            _track(
                "Report Content Event",
                anonymousId="a",
                properties={"activityType": "viewed_content"},
            ),
            "properties.actionType",
            "required",
            "properties.actionType",
        ),
        (
            _track("Report Content Event", properties={"actionType": "viewed_content"}),
            "anonymousId",
            "required",
            "userId, anonymousId",
        ),
        (
            _track("Object Deleted", properties=["Acme"]),
            "properties",
            "type",
            '["Acme"]',
        ),
    ],
    ids=[
        "device-token-missing",
        "device-missing",
        "device-type-outside-enum",
        "device-type-missing-for-track",
        "object-id-missing",
        "object-type-id-not-integer",
        "object-type-id-fraction",
        "object-type-id-zero",
        "relationship-user-id-missing",
        "user-id-missing",
        "user-id-empty",
        "timestamp-not-iso",
        "metric-outside-enum",
        "delivery-id-missing",
        "action-type-missing",
        "content-person-missing",
        "properties-not-object",
    ],
)
def test_invalid_event_names_the_field(
    message: dict[str, Any], path: str, rule: str, shown: str
) -> None:
    """
    Each invalid case yields a violation at the field's path naming field and value.
    """
    evaluation = evaluate(message)

    assert not evaluation.valid
    assert evaluation.operations == ()
    matching = [error for error in evaluation.errors if error.path == path]
    assert matching, evaluation.errors
    assert matching[0].rule == rule
    assert shown in matching[0].message
    assert message["event"] in matching[0].message


def test_violations_lead_with_the_shallowest_field() -> None:
    """
    A missing userId is reported before a problem deeper in the message.
    """
    message = _track(
        "Device Created or Updated", context={"device": {"token": TOKEN, "type": "web"}}
    )

    errors = evaluate(message).errors

    assert [error.path for error in errors] == ["userId", "context.device.type"]
    assert errors[1].value == "web"


def test_every_violation_is_reported() -> None:
    """
    All problems of a message are collected, not only the first.
    """
    message = _track(
        "Report Delivery Event",
        timestamp="soon",
        properties={"metric": "bounced", "href": 5},
    )

    paths = {error.path for error in evaluate(message).errors}

    assert paths == {
        "timestamp",
        "properties.deliveryId",
        "properties.metric",
        "properties.href",
    }


def test_device_type_is_required_only_by_the_track_transport() -> None:
    """
    A device without a type is fine for Pipelines but not for the Track API.
    """
    message = _track(
        "Device Created or Updated", userId="42", context={"device": {"token": TOKEN}}
    )

    assert not evaluate(message, transport="track").valid
    assert evaluate(message, transport="pipelines").valid
    assert evaluate(
        _track("Device Deleted", userId="42", context={"device": {"token": TOKEN}})
    ).valid


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("Delete Person", "User Deleted"),
        ("Suppress Person", "User Suppressed"),
        ("Unsuppress Person", "User Unsuppressed"),
    ],
)
def test_alias_is_routed_with_a_warning(alias: str, canonical: str) -> None:
    """
    A name of the docs' examples is sent as the canonical event, with a warning.
    """
    evaluation = evaluate(_track(alias, userId="42"))

    assert evaluation.valid
    assert evaluation.semantic == canonical
    assert evaluation.message["event"] == canonical
    assert len(evaluation.warnings) == 1
    assert alias in evaluation.warnings[0]
    assert len(evaluation.operations) == 1


def test_alias_in_pipelines_is_sent_under_the_canonical_name() -> None:
    """
    The Pipelines message of an alias carries the canonical event name.
    """
    evaluation = evaluate(
        _track("Delete Object", anonymousId="a", properties={"objectId": "Acme"}),
        transport="pipelines",
    )

    assert evaluation.operations[0].body["event"] == "Object Deleted"


def test_strict_mode_refuses_an_alias() -> None:
    """
    With strict=True an alias is an error on the event field, and nothing is sent.
    """
    evaluation = evaluate(_track("Delete Person", userId="42"), strict=True)

    assert not evaluation.valid
    assert evaluation.semantic == "User Deleted"
    assert evaluation.errors[0].path == "event"
    assert evaluation.errors[0].value == "Delete Person"
    assert "strict" in evaluation.errors[0].message
    assert evaluation.operations == ()


def test_strict_mode_accepts_canonical_names() -> None:
    """
    Strict mode changes nothing for a canonical name.
    """
    assert evaluate(_track("User Deleted", userId="42"), strict=True).valid


def test_near_miss_stays_ordinary_with_a_did_you_mean() -> None:
    """
    "user deleted" is not routed; the warning suggests "User Deleted".
    """
    evaluation = evaluate(_track("user deleted", userId="42"))

    assert evaluation.valid
    assert evaluation.semantic is None
    assert evaluation.operations == ()
    assert "did you mean 'User Deleted'" in evaluation.warnings[0]


def test_strict_mode_refuses_a_near_miss() -> None:
    """
    With strict=True "user deleted" is an error that names the likely event.
    """
    evaluation = evaluate(_track("user deleted", userId="42"), strict=True)

    assert not evaluation.valid
    assert evaluation.semantic is None
    assert [(e.path, e.rule, e.value) for e in evaluation.errors] == [
        ("event", "enum", "user deleted")
    ]
    assert "did you mean 'User Deleted'" in evaluation.errors[0].message


def test_strict_mode_leaves_unrelated_events_alone() -> None:
    """
    Strict mode does not refuse an ordinary event that resembles no semantic one.
    """
    assert evaluate(_track("Order Completed", userId="42"), strict=True).valid


def test_device_in_properties_moves_to_context() -> None:
    """
    The docs' properties.device is moved to context.device, with a warning.
    """
    message = _track(
        "Device Created or Updated",
        userId="42",
        properties={"device": {"token": TOKEN, "type": "iOS"}, "push_enabled": True},
    )

    evaluation = evaluate(message)

    assert evaluation.valid
    assert evaluation.message["context"]["device"] == {"token": TOKEN, "type": "ios"}
    assert evaluation.message["properties"] == {"push_enabled": True}
    assert evaluation.warnings == ("properties.device was moved to context.device",)
    device = evaluation.operations[0].body["device"]
    assert device["attributes"] == {"push_enabled": "true"}


def test_context_device_wins_field_by_field() -> None:
    """
    When both carry a device, the context's fields win and the rest are kept.
    """
    message = _track(
        "Device Created or Updated",
        userId="42",
        properties={"device": {"token": "from-properties", "type": "android"}},
        context={"device": {"token": TOKEN}, "locale": "en-GB"},
    )

    evaluation = evaluate(message)

    assert evaluation.message["context"] == {
        "device": {"token": TOKEN, "type": "android"},
        "locale": "en-GB",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [("2", 2), (3, 3), (2.0, 2), (None, 1)],
    ids=["digit-string", "integer", "integral-float", "missing"],
)
def test_object_type_id_is_converted_or_defaulted(given: Any, expected: int) -> None:
    """
    Digit strings become integers and a missing objectTypeId becomes 1.
    """
    properties: dict[str, Any] = {"objectId": "Acme"}
    if given is not None:
        properties["objectTypeId"] = given

    evaluation = evaluate(
        _track("Relationship Deleted", userId="42", properties=properties)
    )

    assert evaluation.valid
    assert evaluation.message["properties"]["objectTypeId"] == expected
    identifiers = evaluation.operations[0].body["identifiers"]
    assert identifiers["object_type_id"] == str(expected)


def test_object_type_id_too_long_for_int_is_reported() -> None:
    """
    A digit string longer than int() reads is a violation, not a ValueError.
    """
    digits = "9" * 5000
    message = _track(
        "Relationship Deleted",
        userId="42",
        properties={"objectId": "Acme", "objectTypeId": digits},
    )

    evaluation = evaluate(message)

    assert not evaluation.valid
    assert evaluation.errors[0].path == "properties.objectTypeId"
    assert evaluation.errors[0].value == digits


def test_object_deleted_gets_an_anonymous_id() -> None:
    """
    An Object Deleted without anonymousId gets the placeholder Customer.io ignores.
    """
    evaluation = evaluate(
        _track("Object Deleted", userId="42", properties={"objectId": "A"})
    )

    assert evaluation.valid
    assert evaluation.message["anonymousId"] == OBJECT_DELETED_ANONYMOUS_ID


def test_object_deleted_keeps_a_given_anonymous_id() -> None:
    """
    A given anonymousId is left as it is.
    """
    evaluation = evaluate(
        _track("Object Deleted", anonymousId="mine", properties={"objectId": "A"})
    )

    assert evaluation.message["anonymousId"] == "mine"


def test_null_ids_and_numeric_ids_are_made_canonical() -> None:
    """
    Null ids are dropped and numbers become strings, as Segment's client does.
    """
    message = _track("User Deleted", userId=42, anonymousId=None, timestamp=None)

    evaluation = evaluate(message)

    assert evaluation.valid
    assert evaluation.message["userId"] == "42"
    assert "anonymousId" not in evaluation.message
    assert "timestamp" not in evaluation.message


def test_datetime_timestamp_is_accepted() -> None:
    """
    A timestamp given as a datetime becomes ISO-8601 text and Unix seconds.
    """
    message = _track(
        "Device Created or Updated",
        userId="42",
        timestamp=datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC),
        context={"device": {"token": TOKEN, "type": "ios"}},
    )

    evaluation = evaluate(message)

    assert evaluation.message["timestamp"] == "2026-03-14T09:26:53+00:00"
    assert evaluation.operations[0].body["device"]["last_used"] == 1773480413


def _all_messages() -> list[Any]:
    return [
        *(example for _, example in schema_examples()),
        *_lines("messages.jsonl"),
        *_lines("mistakes.jsonl"),
    ]


@pytest.mark.parametrize("transport", ["track", "pipelines"])
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_input_is_never_mutated(transport: Any, strict: bool) -> None:
    """
    Evaluating any example or mistake leaves the caller's dict as it was.
    """
    for message in _all_messages():
        before = copy.deepcopy(message)

        evaluation = evaluate(message, transport=transport, strict=strict)
        for operation in evaluation.operations:
            operation.body.clear()

        assert message == before


def test_every_example_message_is_valid() -> None:
    """
    examples/messages.jsonl holds only valid messages, each semantic one translated.
    """
    semantic = set()
    for message in _lines("messages.jsonl"):
        evaluation = evaluate(message)
        assert evaluation.valid, (message, evaluation.errors)
        assert evaluation.warnings == ()
        if evaluation.semantic:
            semantic.add(evaluation.semantic)
            assert len(evaluation.operations) == 1

    assert semantic == set(EVENTS)


def test_message_that_is_not_an_object_is_invalid() -> None:
    """
    A JSON value that is not an object is reported, not raised.
    """
    evaluation = evaluate(["User Deleted"])  # type: ignore[arg-type]

    assert not evaluation.valid
    assert evaluation.errors[0].rule == "type"
    assert "list" in evaluation.errors[0].message


def test_unknown_transport_is_a_configuration_error() -> None:
    """
    A transport other than track or pipelines raises ConfigurationError.
    """
    unknown: Any = "smoke-signals"
    with pytest.raises(ConfigurationError, match="smoke-signals"):
        evaluate(_track("User Deleted", userId="42"), transport=unknown)


def test_messages_built_by_segment_client_evaluate(segment_client: Client) -> None:
    """
    Messages as segment-analytics-python builds them are recognized and translated.
    """
    _, deleted = segment_client.track("42", "User Deleted")
    _, device = segment_client.track(
        "jane@example.com",
        "Device Created or Updated",
        {"push_enabled": True},
        context={
            "device": {"token": TOKEN, "type": "android"},
            "app": {"version": "1.0"},
        },
        timestamp=datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC),
    )
    _, content = segment_client.track(
        event="Report Content Event",
        anonymous_id="anon-1",
        properties={"actionType": "viewed_content", "contentId": 7},
    )

    evaluations = [evaluate(message) for message in (deleted, device, content)]

    assert [evaluation.errors for evaluation in evaluations] == [(), (), ()]
    assert evaluations[0].operations[0].subject == "person:id:42"
    assert evaluations[1].operations[0].body["device"] == {
        "token": TOKEN,
        "platform": "android",
        "last_used": 1773480413,
        "attributes": {"push_enabled": "true", "app_version": "1.0"},
    }
    assert evaluations[1].operations[0].subject == "person:email:jane@example.com"
    assert evaluations[2].operations[0].body["identifiers"] == {
        "anonymous_id": "anon-1"
    }


def test_pipelines_transport_needs_a_person_or_anonymous_id() -> None:
    """
    A Report Delivery Event without any id is fine for Track, not for Pipelines.
    """
    message = _track(
        "Report Delivery Event", properties={"deliveryId": "d", "metric": "opened"}
    )

    errors = evaluate(message, transport="pipelines").errors

    assert evaluate(message).valid
    assert [(error.path, error.rule) for error in errors] == [
        ("anonymousId", "required")
    ]
    assert "Pipelines API" in errors[0].message


def test_transport_need_is_not_reported_twice() -> None:
    """
    When the schema already reports the missing id, the transport adds nothing.
    """
    message = _track(
        "Report Content Event", properties={"actionType": "viewed_content"}
    )

    errors = evaluate(message, transport="pipelines").errors

    assert [(error.path, error.rule) for error in errors] == [
        ("anonymousId", "required")
    ]


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (_track("User Deleted", userId="é" * 76), "userId"),
        (
            _track("Object Deleted", properties={"objectId": "o" * 151}),
            "properties.objectId",
        ),
    ],
    ids=["user-id", "object-id"],
)
def test_ids_over_the_track_limit_are_refused_for_track_only(
    message: dict[str, Any], path: str
) -> None:
    """
    An id over 150 UTF-8 bytes is refused for the Track API only.
    """
    track = evaluate(message)

    assert [(e.path, e.rule) for e in track.errors] == [(path, "maxLength")]
    assert "150 bytes" in track.errors[0].message
    assert evaluate(message, transport="pipelines").valid


@pytest.mark.parametrize("push_enabled", ["yes", 1, 0, "True"], ids=repr)
def test_push_enabled_must_be_a_boolean_for_track(push_enabled: object) -> None:
    """
    A push_enabled other than true or false is refused, as the Track API does.
    """
    message = _track(
        "Device Created or Updated",
        userId="42",
        properties={"push_enabled": push_enabled},
        context={"device": {"token": "t", "type": "ios"}},
    )

    evaluation = evaluate(message)

    assert [(e.path, e.rule) for e in evaluation.errors] == [
        ("properties.push_enabled", "enum")
    ]


@pytest.mark.parametrize("push_enabled", [True, False, "true", "false"], ids=repr)
def test_push_enabled_booleans_reach_the_device_as_text(push_enabled: object) -> None:
    """
    A boolean push_enabled, or its text, reaches the device as "true"/"false".
    """
    message = _track(
        "Device Created or Updated",
        userId="42",
        properties={"push_enabled": push_enabled},
        context={"device": {"token": "t", "type": "ios"}},
    )

    (operation,) = evaluate(message).operations

    assert (
        operation.body["device"]["attributes"]["push_enabled"]
        == str(push_enabled).lower()
    )
