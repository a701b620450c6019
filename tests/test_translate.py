"""
Tests for cio_destination._translate.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from cio_destination._model import OperationKind
from cio_destination._translate import (
    person_identifiers,
    to_pipelines,
    translate,
    unix_seconds,
)

TIMESTAMP = "2026-03-14T09:26:53.000+00:00"
UNIX = 1773480413
TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"

#: (user id, Track identifiers, subject) for the three ways to name a person.
PEOPLE = [
    pytest.param("42", {"id": "42"}, "person:id:42", id="plain-id"),
    pytest.param(
        "jane@example.com",
        {"email": "jane@example.com"},
        "person:email:jane@example.com",
        id="email",
    ),
    pytest.param(
        "cio_03000001", {"cio_id": "03000001"}, "person:cio_id:03000001", id="cio-id"
    ),
]


def _message(event: str, user_id: str | None = "42", **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "properties": {},
        "timestamp": TIMESTAMP,
        "messageId": "m-1",
    }
    if user_id is not None:
        message["userId"] = user_id
    message.update(fields)
    return message


@pytest.mark.parametrize(("user_id", "identifiers", "subject"), PEOPLE)
@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("User Deleted", "delete"),
        ("User Suppressed", "suppress"),
        ("User Unsuppressed", "unsuppress"),
    ],
)
def test_person_action_events(
    event: str, action: str, user_id: str, identifiers: dict[str, str], subject: str
) -> None:
    """
    Delete, suppress and unsuppress become bare person operations for the id.
    """
    operation = translate(_message(event, user_id), event)

    assert operation.kind is OperationKind.ENTITY
    assert operation.body == {
        "type": "person",
        "action": action,
        "identifiers": identifiers,
    }
    assert operation.subject == subject


@pytest.mark.parametrize(("user_id", "identifiers", "subject"), PEOPLE)
def test_device_created_or_updated_becomes_add_device(
    user_id: str, identifiers: dict[str, str], subject: str
) -> None:
    """
    The device's token and type, the timestamp and the properties make add_device.
    """
    message = _message(
        "Device Created or Updated",
        user_id,
        properties={"push_enabled": True, "device_locale": "en-GB"},
        context={
            "app": {"version": "4.12.0"},
            "device": {"token": TOKEN, "type": "ios"},
        },
    )

    operation = translate(message, "Device Created or Updated")

    assert operation.body == {
        "type": "person",
        "action": "add_device",
        "identifiers": identifiers,
        "device": {
            "token": TOKEN,
            "platform": "ios",
            "last_used": UNIX,
            "attributes": {
                "push_enabled": "true",
                "device_locale": "en-GB",
                "app_version": "4.12.0",
            },
        },
    }
    assert operation.subject == subject


def test_device_attributes_become_strings() -> None:
    """
    Every device attribute value is sent as text; nulls are left out.
    """
    message = _message(
        "Device Created or Updated",
        properties={
            "text": "a",
            "off": False,
            "count": 3,
            "ratio": 0.5,
            "seen": datetime(2026, 3, 14, 9, 0, tzinfo=UTC),
            "tags": ["a", "b"],
            "nested": {"k": 1},
            "gone": None,
            "app_version": "overridden",
        },
        context={"app": {"version": 7}, "device": {"token": TOKEN, "type": "android"}},
    )

    attributes = translate(message, "Device Created or Updated").body["device"][
        "attributes"
    ]

    assert attributes == {
        "text": "a",
        "off": "false",
        "count": "3",
        "ratio": "0.5",
        "seen": '"2026-03-14T09:00:00+00:00"',
        "tags": '["a","b"]',
        "nested": '{"k":1}',
        "app_version": "7",
    }


def test_device_without_timestamp_or_properties_has_only_token_and_platform() -> None:
    """
    last_used and attributes are left out when there is nothing to put in them.
    """
    message = _message(
        "Device Created or Updated", context={"device": {"token": TOKEN, "type": "ios"}}
    )
    del message["timestamp"]

    device = translate(message, "Device Created or Updated").body["device"]

    assert device == {"token": TOKEN, "platform": "ios"}


@pytest.mark.parametrize(("user_id", "identifiers", "subject"), PEOPLE)
def test_device_deleted_becomes_delete_device(
    user_id: str, identifiers: dict[str, str], subject: str
) -> None:
    """
    Device Deleted names only the token of the device to remove.
    """
    message = _message(
        "Device Deleted", user_id, context={"device": {"token": TOKEN, "type": "ios"}}
    )

    operation = translate(message, "Device Deleted")

    assert operation.body == {
        "type": "person",
        "action": "delete_device",
        "identifiers": identifiers,
        "device": {"token": TOKEN},
    }
    assert operation.subject == subject


@pytest.mark.parametrize(
    ("type_id", "sent"),
    [(1, "1"), (2, "2"), (None, "1")],
    ids=["one", "two", "default"],
)
def test_object_deleted_becomes_object_delete(type_id: int | None, sent: str) -> None:
    """
    The object type id is sent to the Track API as a string, "1" by default.
    """
    properties: dict[str, Any] = {"objectId": "Acme"}
    if type_id is not None:
        properties["objectTypeId"] = type_id
    message = _message("Object Deleted", None, anonymousId="x", properties=properties)

    operation = translate(message, "Object Deleted")

    assert operation.body == {
        "type": "object",
        "action": "delete",
        "identifiers": {"object_type_id": sent, "object_id": "Acme"},
    }
    assert operation.subject == f"object:{sent}:Acme"


@pytest.mark.parametrize(("user_id", "identifiers", "subject"), PEOPLE)
def test_relationship_deleted_names_the_person_in_cio_relationships(
    user_id: str, identifiers: dict[str, str], subject: str
) -> None:
    """
    Relationship Deleted becomes the object's delete_relationships for the person.
    """
    message = _message(
        "Relationship Deleted",
        user_id,
        properties={"objectId": "Acme", "objectTypeId": 3},
    )

    operation = translate(message, "Relationship Deleted")

    assert operation.body == {
        "type": "object",
        "action": "delete_relationships",
        "identifiers": {"object_type_id": "3", "object_id": "Acme"},
        "cio_relationships": [{"identifiers": identifiers}],
    }
    assert operation.subject == "object:3:Acme"


def test_report_delivery_event_becomes_a_metric() -> None:
    """
    The docs' example becomes a v1 metrics body with actionValue in metadata.
    """
    message = _message(
        "Report Delivery Event",
        properties={
            "deliveryId": "delivery-id",
            "metric": "clicked",
            "recipient": "device-token",
            "actionValue": "enable push",
            "href": "myApp://settings/push",
        },
    )

    operation = translate(message, "Report Delivery Event")

    assert operation.kind is OperationKind.METRIC
    assert operation.body == {
        "delivery_id": "delivery-id",
        "metric": "clicked",
        "timestamp": UNIX,
        "recipient": "device-token",
        "href": "myApp://settings/push",
        "metadata": {"action_value": "enable push"},
    }
    assert operation.subject == "delivery:delivery-id"


def test_report_delivery_event_without_timestamp_leaves_it_out() -> None:
    """
    Without a timestamp the metrics body has none, and Customer.io uses its clock.
    """
    message = _message(
        "Report Delivery Event", properties={"deliveryId": "d", "metric": "opened"}
    )
    del message["timestamp"]

    body = translate(message, "Report Delivery Event").body

    assert body == {"delivery_id": "d", "metric": "opened"}


@pytest.mark.parametrize("action", ["viewed_content", "clicked_content"])
def test_anonymous_report_content_event_uses_the_anonymous_id(action: str) -> None:
    """
    Without a userId, the content event is a person operation for the anonymous_id.
    """
    message = _message(
        "Report Content Event",
        None,
        anonymousId="anon-1",
        properties={"actionType": action, "contentId": 1203, "templateId": 88},
    )

    operation = translate(message, "Report Content Event")

    assert operation.body == {
        "type": "person",
        "action": action,
        "name": action,
        "identifiers": {"anonymous_id": "anon-1"},
        "timestamp": UNIX,
        "attributes": {"contentId": 1203, "templateId": 88},
    }
    assert operation.subject == "person:anonymous_id:anon-1"


@pytest.mark.parametrize(("user_id", "identifiers", "subject"), PEOPLE)
def test_identified_report_content_event_uses_the_user_id(
    user_id: str, identifiers: dict[str, str], subject: str
) -> None:
    """
    With a userId, the content event names the person by it, not the anonymous id.
    """
    message = _message(
        "Report Content Event",
        user_id,
        anonymousId="anon-1",
        properties={"actionType": "clicked_content"},
    )

    operation = translate(message, "Report Content Event")

    assert operation.body["identifiers"] == identifiers
    assert operation.body["attributes"] == {}
    assert operation.subject == subject


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"userId": "42"}, {"id": "42"}),
        ({"userId": "jane@example.com"}, {"email": "jane@example.com"}),
        ({"userId": "cio_abc"}, {"cio_id": "abc"}),
        ({"userId": "cio_"}, {"id": "cio_"}),
        ({"userId": "not@an-email"}, {"id": "not@an-email"}),
        ({"userId": "a b@example.com"}, {"id": "a b@example.com"}),
        ({"anonymousId": "anon"}, {"anonymous_id": "anon"}),
        ({"userId": "", "anonymousId": "anon"}, {"anonymous_id": "anon"}),
        ({}, {}),
        ({"userId": 42}, {}),
    ],
    ids=[
        "plain",
        "email",
        "cio-prefix",
        "bare-prefix",
        "no-dot-domain",
        "space",
        "anonymous",
        "empty-user-id",
        "nothing",
        "not-a-string",
    ],
)
def test_person_identifiers(message: dict[str, Any], expected: dict[str, str]) -> None:
    """
    The userId's shape picks id, email or cio_id; the anonymousId is the fallback.
    """
    assert person_identifiers(message) == expected


def test_unix_seconds_reads_the_message_timestamp() -> None:
    """
    An ISO-8601 timestamp becomes whole Unix seconds; none gives None.
    """
    assert unix_seconds({"timestamp": "2026-03-14T09:26:53.999Z"}) == UNIX
    assert unix_seconds({}) is None


def test_pipelines_operation_is_the_canonical_track_message() -> None:
    """
    The Pipelines body keeps event, ids, properties, context, timestamp, messageId.
    """
    message = _message(
        "Device Created or Updated",
        anonymousId="anon-1",
        properties={"push_enabled": True},
        context={"device": {"token": TOKEN, "type": "ios"}, "library": {"name": "x"}},
        integrations={"All": True},
    )

    operation = to_pipelines(message)

    assert operation.kind is OperationKind.PIPELINES
    assert operation.body == {
        "type": "track",
        "event": "Device Created or Updated",
        "userId": "42",
        "anonymousId": "anon-1",
        "context": {
            "device": {"token": TOKEN, "type": "ios"},
            "library": {"name": "x"},
        },
        "timestamp": TIMESTAMP,
        "messageId": "m-1",
        "properties": {"push_enabled": True},
    }
    assert operation.subject == "person:id:42"


@pytest.mark.parametrize(
    ("message", "subject"),
    [
        (
            {
                "event": "Object Deleted",
                "properties": {"objectId": "Acme", "objectTypeId": 2},
            },
            "object:2:Acme",
        ),
        (
            {
                "event": "Relationship Deleted",
                "userId": "42",
                "properties": {"objectId": "A"},
            },
            "object:1:A",
        ),
        (
            {"event": "Report Delivery Event", "properties": {"deliveryId": "d-1"}},
            "delivery:d-1",
        ),
        ({"event": "User Deleted", "userId": "cio_abc"}, "person:cio_id:abc"),
        ({"event": "Object Deleted", "properties": "junk"}, "person:unknown"),
        ({"event": ["odd"], "userId": 42, "properties": None}, "person:unknown"),
    ],
    ids=["object", "relationship", "delivery", "person", "bad-properties", "junk"],
)
def test_pipelines_operation_for_any_message(
    message: dict[str, Any], subject: str
) -> None:
    """
    to_pipelines() builds an operation for any message, valid or not.
    """
    operation = to_pipelines(message)

    assert operation.subject == subject
    assert operation.body["type"] == "track"
    json.dumps(operation.body)


def test_bodies_are_json_and_share_nothing_with_the_message() -> None:
    """
    Dates and decimals in the message become JSON values in a separate copy.
    """
    message = _message(
        "Report Content Event",
        properties={
            "actionType": "viewed_content",
            "when": date(2026, 3, 14),
            "price": Decimal("9.5"),
            "tags": ("a",),
            "deep": {"list": [1]},
        },
    )
    before = copy.deepcopy(message)

    content = translate(message, "Report Content Event")
    pipelines = to_pipelines(message)
    json.dumps(content.body)
    json.dumps(pipelines.body)
    content.body["attributes"]["deep"]["list"].append(2)
    pipelines.body["properties"]["deep"]["list"].append(2)

    assert message == before
    assert content.body["attributes"]["when"] == "2026-03-14"
    assert content.body["attributes"]["price"] == 9.5
    assert pipelines.body["properties"]["tags"] == ["a"]
