"""
Canonical messages to Customer.io operations.

The operations are Track API v2 entity bodies, v1 metrics bodies, or
Pipelines track messages. The translators expect a message that is normalized
and valid, except :func:`to_pipelines`, which copes with any message. Values
taken from the message are copied into the bodies as JSON (dates become
ISO-8601 text), so an operation shares nothing with the message it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cio_destination._model import Operation, OperationKind
from cio_destination._schemas import parse_timestamp

#: The prefix of a userId that is a Customer.io id.
CIO_ID_PREFIX = "cio_"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PIPELINES_FIELDS = ("userId", "anonymousId", "context", "timestamp", "messageId")
_OBJECT_EVENTS = frozenset({"Object Deleted", "Relationship Deleted"})

Translator = Callable[[Mapping[str, Any]], Operation]


def person_identifiers(message: Mapping[str, Any]) -> dict[str, str]:
    """
    The Track API identifiers of the person a message is about.

    A ``userId`` starting with ``cio_`` names the Customer.io id after the
    prefix, one shaped like an email address names the email, any other
    names the id. Without a ``userId``, the ``anonymousId`` is used; without
    either, the result is empty.
    """
    user_id = message.get("userId")
    if isinstance(user_id, str) and user_id:
        if user_id.startswith(CIO_ID_PREFIX) and len(user_id) > len(CIO_ID_PREFIX):
            return {"cio_id": user_id[len(CIO_ID_PREFIX) :]}
        if _EMAIL.fullmatch(user_id):
            return {"email": user_id}
        return {"id": user_id}

    anonymous_id = message.get("anonymousId")
    if isinstance(anonymous_id, str) and anonymous_id:
        return {"anonymous_id": anonymous_id}

    return {}


def unix_seconds(message: Mapping[str, Any]) -> int | None:
    """
    The message's ISO-8601 ``timestamp`` as Unix seconds, or None without one.

    :raises ValueError: the timestamp is not an ISO-8601 date-time.
    """
    timestamp = message.get("timestamp")
    if not isinstance(timestamp, str):
        return None

    return int(parse_timestamp(timestamp).timestamp())


def translate(message: Mapping[str, Any], event: str) -> Operation:
    """
    The Track API operation for the valid, normalized semantic event ``event``.

    :raises KeyError: ``event`` is not a canonical semantic event name.
    """
    return _TRACK[event](message)


def to_pipelines(message: Mapping[str, Any]) -> Operation:
    """
    The Pipelines ``/v1/track`` operation carrying ``message``, valid or not.

    The body is the Segment track message with its event, identifiers,
    properties, context (and so ``context.device``), timestamp and message
    id. Never raises for JSON-like input.
    """
    body: dict[str, Any] = {"type": "track", "event": message.get("event")}
    for key in _PIPELINES_FIELDS:
        if message.get(key) is not None:
            body[key] = _json(message[key])
    properties = message.get("properties")
    body["properties"] = _json(properties) if properties is not None else {}

    return Operation(OperationKind.PIPELINES, body, _subject(message))


def _subject(message: Mapping[str, Any]) -> str:
    event = message.get("event")
    if not isinstance(event, str):
        event = ""
    properties = message.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}

    if event in _OBJECT_EVENTS and isinstance(properties.get("objectId"), str):
        type_id = properties.get("objectTypeId", 1)
        return f"object:{type_id}:{properties['objectId']}"
    if event == "Report Delivery Event" and isinstance(
        properties.get("deliveryId"), str
    ):
        return f"delivery:{properties['deliveryId']}"

    return _person_subject(person_identifiers(message))


def _person_subject(identifiers: Mapping[str, str]) -> str:
    for kind, value in identifiers.items():
        return f"person:{kind}:{value}"

    return "person:unknown"


def _person_operation(
    message: Mapping[str, Any], action: str, **fields: Any
) -> Operation:
    identifiers = person_identifiers(message)
    body = {"type": "person", "action": action, "identifiers": identifiers, **fields}
    return Operation(OperationKind.ENTITY, body, _person_subject(identifiers))


def _person(action: str) -> Translator:
    def build(message: Mapping[str, Any]) -> Operation:
        return _person_operation(message, action)

    return build


def _device(message: Mapping[str, Any]) -> dict[str, Any]:
    device: dict[str, Any] = message["context"]["device"]
    return device


def _add_device(message: Mapping[str, Any]) -> Operation:
    source = _device(message)
    device: dict[str, Any] = {"token": source["token"], "platform": source["type"]}
    last_used = unix_seconds(message)
    if last_used is not None:
        device["last_used"] = last_used

    attributes = _device_attributes(message)
    if attributes:
        device["attributes"] = attributes

    return _person_operation(message, "add_device", device=device)


def _device_attributes(message: Mapping[str, Any]) -> dict[str, str]:
    """
    The event's properties as device attributes, every value as a string.

    The Track API types custom device attributes as strings: text stays as
    it is, true and false become ``"true"`` and ``"false"``, numbers their
    JSON text, dates ISO-8601 text, objects and arrays their compact JSON;
    null values are left out. The app's version from ``context.app.version``
    becomes ``app_version``.
    """
    properties = message.get("properties") or {}
    attributes = {
        str(key): _attribute_text(value)
        for key, value in properties.items()
        if value is not None
    }
    app = message["context"].get("app")
    if isinstance(app, Mapping) and app.get("version") is not None:
        attributes["app_version"] = _attribute_text(app["version"])

    return attributes


def _attribute_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"

    return json.dumps(_json(value), ensure_ascii=False, separators=(",", ":"))


def _delete_device(message: Mapping[str, Any]) -> Operation:
    device = {"token": _device(message)["token"]}
    return _person_operation(message, "delete_device", device=device)


def _object_identifiers(message: Mapping[str, Any]) -> dict[str, str]:
    properties = message["properties"]
    return {
        "object_type_id": str(properties.get("objectTypeId", 1)),
        "object_id": properties["objectId"],
    }


def _object_subject(identifiers: Mapping[str, str]) -> str:
    return f"object:{identifiers['object_type_id']}:{identifiers['object_id']}"


def _delete_object(message: Mapping[str, Any]) -> Operation:
    identifiers = _object_identifiers(message)
    body = {"type": "object", "action": "delete", "identifiers": identifiers}
    return Operation(OperationKind.ENTITY, body, _object_subject(identifiers))


def _delete_relationship(message: Mapping[str, Any]) -> Operation:
    identifiers = _object_identifiers(message)
    body = {
        "type": "object",
        "action": "delete_relationships",
        "identifiers": identifiers,
        "cio_relationships": [{"identifiers": person_identifiers(message)}],
    }
    return Operation(OperationKind.ENTITY, body, _object_subject(identifiers))


def _report_delivery(message: Mapping[str, Any]) -> Operation:
    properties = message["properties"]
    body: dict[str, Any] = {
        "delivery_id": properties["deliveryId"],
        "metric": properties["metric"],
    }
    timestamp = unix_seconds(message)
    if timestamp is not None:
        body["timestamp"] = timestamp
    for key in ("recipient", "reason", "href"):
        if properties.get(key) is not None:
            body[key] = properties[key]
    if properties.get("actionValue") is not None:
        body["metadata"] = {"action_value": properties["actionValue"]}

    return Operation(OperationKind.METRIC, body, f"delivery:{body['delivery_id']}")


def _report_content(message: Mapping[str, Any]) -> Operation:
    properties = message["properties"]
    action = properties["actionType"]
    fields: dict[str, Any] = {"name": action}
    timestamp = unix_seconds(message)
    if timestamp is not None:
        fields["timestamp"] = timestamp
    fields["attributes"] = {
        key: _json(value) for key, value in properties.items() if key != "actionType"
    }

    return _person_operation(message, action, **fields)


def _json(value: Any) -> Any:
    """
    A copy of ``value`` that ``json.dumps`` takes: dates as ISO-8601 text.
    """
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)

    return str(value)


_TRACK: dict[str, Translator] = {
    "Device Created or Updated": _add_device,
    "Device Deleted": _delete_device,
    "User Deleted": _person("delete"),
    "User Suppressed": _person("suppress"),
    "User Unsuppressed": _person("unsuppress"),
    "Object Deleted": _delete_object,
    "Relationship Deleted": _delete_relationship,
    "Report Delivery Event": _report_delivery,
    "Report Content Event": _report_content,
}
