"""
Lenient input to one canonical message, with the documented defaults filled.

Only what changes is copied: the message's top level always, ``properties``
and ``context`` (and ``context.device``) when something in them moves or is
converted. The caller's dict is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

#: The anonymousId given to an ``Object Deleted`` that has none. Customer.io
#: requires one but does not use it.
OBJECT_DELETED_ANONYMOUS_ID = "cio-destination"

_DEVICE_EVENTS = frozenset({"Device Created or Updated", "Device Deleted"})
_OBJECT_EVENTS = frozenset({"Object Deleted", "Relationship Deleted"})
_ID_FIELDS = ("userId", "anonymousId")
_NULLABLE_FIELDS = ("userId", "anonymousId", "timestamp", "messageId")


def normalize(
    message: Mapping[str, Any], event: str
) -> tuple[dict[str, Any], list[str]]:
    """
    The canonical copy of ``message`` for the semantic event ``event``, and notes.

    The event name becomes ``event``; null identifiers and timestamps are
    dropped; numeric ids become strings, as the Segment client makes them;
    a device in ``properties`` moves to ``context.device`` (the context wins
    field by field); the device type is case-folded; an ``objectTypeId`` of
    digits becomes an integer and a missing one becomes 1; an ``Object
    Deleted`` without an ``anonymousId`` gets one. The notes say what was
    moved. Values of the wrong type are left for validation to report.
    """
    canonical = {
        key: value
        for key, value in message.items()
        if not (value is None and key in _NULLABLE_FIELDS)
    }
    canonical["event"] = event
    notes: list[str] = []

    for key in _ID_FIELDS:
        value = canonical.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            canonical[key] = _number_text(value)

    timestamp = canonical.get("timestamp")
    if isinstance(timestamp, date):
        canonical["timestamp"] = _date_text(timestamp)

    if event in _DEVICE_EVENTS:
        _normalize_device(canonical, notes)
    elif event in _OBJECT_EVENTS:
        _normalize_object(canonical)

    if event == "Object Deleted" and "anonymousId" not in canonical:
        canonical["anonymousId"] = OBJECT_DELETED_ANONYMOUS_ID

    return canonical, notes


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))

    return str(value)


def _date_text(value: date) -> str:
    if isinstance(value, datetime):
        return value.isoformat()

    return value.isoformat() + "T00:00:00"


def _normalize_device(canonical: dict[str, Any], notes: list[str]) -> None:
    properties = canonical.get("properties")
    context = canonical.get("context")
    moved = None
    if isinstance(properties, Mapping) and "device" in properties:
        moved = properties["device"]
        canonical["properties"] = {
            key: value for key, value in properties.items() if key != "device"
        }

    if context is None:
        context = canonical["context"] = {}
    if not isinstance(context, Mapping):
        return

    device = context.get("device")
    if moved is not None:
        notes.append("properties.device was moved to context.device")
        if isinstance(moved, Mapping) and isinstance(device, Mapping):
            device = {**moved, **device}
        elif device is None:
            device = moved

    if isinstance(device, Mapping) and isinstance(device.get("type"), str):
        device = {**device, "type": device["type"].casefold()}

    if device is not context.get("device"):
        canonical["context"] = {**context, "device": device}


def _as_integer(value: object) -> object:
    """
    ``value`` as an int when it is a string of digits or a whole float.

    Anything else, and a digit string longer than ``int()`` reads, is
    returned as it is, for validation to report.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:
            return value

    if isinstance(value, float) and value.is_integer():
        return int(value)

    return value


def _normalize_object(canonical: dict[str, Any]) -> None:
    properties = canonical.get("properties")
    if not isinstance(properties, Mapping):
        return

    type_id = _as_integer(properties.get("objectTypeId", 1))
    if type_id is not properties.get("objectTypeId"):
        canonical["properties"] = {**properties, "objectTypeId": type_id}
