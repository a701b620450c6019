"""
The Pipelines API, read the way Customer.io's Journeys destination reads it.

Endpoints: ``/v1/identify``, ``track``, ``page``, ``screen``, ``group``,
``alias`` and ``batch``.

Each message is first interpreted into a list of changes (or the reasons it
cannot be used); the changes are then applied under the workspace lock. In
the default, permissive mode the answer is 200 whatever happened, and what
cannot be used is dropped, as Customer.io does; with ``X-Strict-Mode: 1`` a
request with any unusable message is answered 400 and changes nothing, and
bad credentials are answered 401.

Semantic events (``track`` calls with reserved names) act on the workspace as
Customer.io's semantic-events page describes, read here independently of the
package's own translation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cio_destination.emulator import _contract
from cio_destination.emulator._reply import OK, Reply, meta_errors
from cio_destination.emulator._state import PersonRef, Workspace

Change = Callable[[Workspace], None]

CALLS = ("identify", "track", "page", "screen", "group", "alias")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DIGITS = re.compile(r"^[1-9][0-9]*$")
_PLATFORMS = ("ios", "android")
_DELIVERY_METRICS = ("delivered", "clicked", "converted", "opened")
_CONTENT_ACTIONS = ("viewed_content", "clicked_content")


class _Unusable(ValueError):
    """
    A message Customer.io cannot use; the text names the field and the rule.
    """


def _text(message: Mapping[str, Any], name: str) -> str | None:
    value = message.get(name)
    if value is None or value == "":
        return None

    if not isinstance(value, str):
        raise _Unusable(f"{name} must be a string; got {value!r}")

    return value


def _required(message: Mapping[str, Any], name: str) -> str:
    value = _text(message, name)
    if value is None:
        raise _Unusable(f"{name} is required")

    return value


def _object(message: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = message.get(name)
    if value is None:
        return {}

    if not isinstance(value, dict):
        raise _Unusable(f"{name} must be an object; got {value!r}")

    return value


def _unix_time(message: Mapping[str, Any]) -> int | None:
    value = message.get("timestamp")
    if value is None:
        return None

    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _Unusable(f"timestamp must be an ISO-8601 date-time; got {value!r}")

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def user_ref(user_id: str) -> PersonRef:
    """
    The person a ``userId`` names.

    A ``cio_`` prefix makes it a cio_id, an email address an email, anything
    else an id.
    """
    if user_id.startswith("cio_"):
        return "cio_id", user_id.removeprefix("cio_")

    if _EMAIL.match(user_id):
        return "email", user_id

    return "id", user_id


def _user(message: Mapping[str, Any]) -> PersonRef:
    return user_ref(_required(message, "userId"))


def _actor(message: Mapping[str, Any]) -> PersonRef:
    user_id = _text(message, "userId")
    if user_id is not None:
        return user_ref(user_id)

    anonymous_id = _text(message, "anonymousId")
    if anonymous_id is None:
        raise _Unusable("userId or anonymousId is required")

    return "anonymous_id", anonymous_id


def _object_type(value: Any, field: str) -> str:
    if value is None:
        return "1"

    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)

    if isinstance(value, str) and _DIGITS.match(value):
        return value

    raise _Unusable(f"{field} must be an integer from 1; got {value!r}")


def _device(message: Mapping[str, Any]) -> dict[str, Any]:
    device = _object(_object(message, "context"), "device")
    token = device.get("token")
    if not isinstance(token, str) or not token:
        raise _Unusable(
            f"context.device.token must be a non-empty string; got {token!r}"
        )

    platform = device.get("type")
    if platform is not None and platform not in _PLATFORMS:
        raise _Unusable(f"context.device.type must be ios or android; got {platform!r}")

    return device


def _event(
    ref: PersonRef,
    kind: str,
    name: str,
    message: Mapping[str, Any],
    attributes: Mapping[str, Any],
) -> Change:
    timestamp = _unix_time(message)
    event_id = _text(message, "messageId")

    def change(workspace: Workspace) -> None:
        workspace.record_event(
            ref,
            kind,
            name,
            event_id=event_id,
            timestamp=timestamp,
            attributes=attributes,
        )

    return change


# -- reading each kind of call ---------------------------------------------------


def _identify(message: Mapping[str, Any]) -> list[Change]:
    traits = _object(message, "traits")
    user_id = _text(message, "userId")
    email = traits.get("email")
    if user_id is not None:
        ref = user_ref(user_id)
    elif isinstance(email, str) and email:
        ref = ("email", email)
    elif _text(message, "anonymousId") is not None:
        return []
    else:
        raise _Unusable("userId, anonymousId or traits.email is required")

    def change(workspace: Workspace) -> None:
        workspace.identify(ref, traits)

    return [change]


def _page_or_screen(kind: str) -> Callable[[Mapping[str, Any]], list[Change]]:
    def read(message: Mapping[str, Any]) -> list[Change]:
        ref = _actor(message)
        name = _text(message, "name") or ""
        return [_event(ref, kind, name, message, _object(message, "properties"))]

    return read


def _group(message: Mapping[str, Any]) -> list[Change]:
    group_id = _required(message, "groupId")
    ref = _actor(message)
    traits = dict(_object(message, "traits"))
    type_id = _object_type(
        traits.pop("object_type_id", message.get("objectTypeId")),
        "traits.object_type_id",
    )
    relationship = traits.pop("relationshipAttributes", None) or {}
    if not isinstance(relationship, dict):
        raise _Unusable(
            f"traits.relationshipAttributes must be an object; got {relationship!r}"
        )

    obj = (type_id, group_id)

    def change(workspace: Workspace) -> None:
        workspace.identify_object(obj, traits)
        workspace.relate(obj, ref, relationship)

    return [change]


def _alias(message: Mapping[str, Any]) -> list[Change]:
    previous = _required(message, "previousId")
    keep = _user(message)
    gone = user_ref(previous)
    return [lambda workspace: workspace.merge(keep, gone)]


def _track(message: Mapping[str, Any]) -> list[Change]:
    event = _required(message, "event")
    properties = _object(message, "properties")
    timestamp = _unix_time(message)
    semantic = _SEMANTIC.get(event)
    if semantic is not None:
        return semantic(message, properties, timestamp)

    return [_event(_actor(message), "event", event, message, properties)]


# -- semantic events ---------------------------------------------------------------

Semantic = Callable[[Mapping[str, Any], dict[str, Any], "int | None"], list[Change]]


def _device_created(
    message: Mapping[str, Any], properties: dict[str, Any], timestamp: int | None
) -> list[Change]:
    ref = _user(message)
    device = _device(message)
    attributes = dict(properties)
    version = _object(_object(message, "context"), "app").get("version")
    if version is not None:
        attributes["app_version"] = version

    def change(workspace: Workspace) -> None:
        workspace.add_device(
            ref, device["token"], device.get("type"), timestamp, attributes
        )

    return [change]


def _device_deleted(
    message: Mapping[str, Any], _properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    ref = _user(message)
    token = _device(message)["token"]
    return [lambda workspace: workspace.delete_device(ref, token)]


def _user_deleted(
    message: Mapping[str, Any], _properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    ref = _user(message)
    return [lambda workspace: workspace.delete_person(ref)]


def _user_suppressed(
    message: Mapping[str, Any], _properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    ref = _user(message)
    return [lambda workspace: workspace.suppress(ref)]


def _user_unsuppressed(
    message: Mapping[str, Any], _properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    ref = _user(message)
    return [lambda workspace: workspace.unsuppress(ref)]


def _object_named(properties: Mapping[str, Any]) -> tuple[str, str]:
    object_id = properties.get("objectId")
    if not isinstance(object_id, str) or not object_id:
        raise _Unusable(
            f"properties.objectId must be a non-empty string; got {object_id!r}"
        )

    type_id = _object_type(properties.get("objectTypeId"), "properties.objectTypeId")
    return type_id, object_id


def _relationship_deleted(
    message: Mapping[str, Any], properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    ref = _user(message)
    obj = _object_named(properties)
    return [lambda workspace: workspace.unrelate(obj, ref)]


def _object_deleted(
    message: Mapping[str, Any], properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    _required(message, "anonymousId")
    obj = _object_named(properties)
    return [lambda workspace: workspace.delete_object(obj)]


def _report_delivery(
    message: Mapping[str, Any], properties: dict[str, Any], timestamp: int | None
) -> list[Change]:
    delivery_id = _required(properties, "deliveryId")
    metric = properties.get("metric")
    if metric not in _DELIVERY_METRICS:
        raise _Unusable(
            f"properties.metric must be one of {', '.join(_DELIVERY_METRICS)}; "
            f"got {metric!r}"
        )

    recipient = _text(properties, "recipient")
    reason = _text(properties, "reason")
    href = _text(properties, "href")
    action_value = _text(properties, "actionValue")
    metadata = {"action_value": action_value} if action_value is not None else None

    def change(workspace: Workspace) -> None:
        workspace.record_metric(
            delivery_id,
            metric,
            timestamp=timestamp,
            recipient=recipient,
            reason=reason,
            href=href,
            metadata=metadata,
        )

    return [change]


def _report_content(
    message: Mapping[str, Any], properties: dict[str, Any], _timestamp: int | None
) -> list[Change]:
    ref = _actor(message)
    action = properties.get("actionType", properties.get("activityType"))
    if action not in _CONTENT_ACTIONS:
        raise _Unusable(
            f"properties.actionType must be one of {', '.join(_CONTENT_ACTIONS)}; "
            f"got {action!r}"
        )

    attributes = {
        k: v for k, v in properties.items() if k not in ("actionType", "activityType")
    }
    return [_event(ref, action, action, message, attributes)]


_SEMANTIC: Mapping[str, Semantic] = {
    "Device Created or Updated": _device_created,
    "Device Deleted": _device_deleted,
    "User Deleted": _user_deleted,
    "User Suppressed": _user_suppressed,
    "User Unsuppressed": _user_unsuppressed,
    "Relationship Deleted": _relationship_deleted,
    "Object Deleted": _object_deleted,
    "Report Delivery Event": _report_delivery,
    "Report Content Event": _report_content,
}

_READERS: Mapping[str, Callable[[Mapping[str, Any]], list[Change]]] = {
    "identify": _identify,
    "track": _track,
    "page": _page_or_screen("page"),
    "screen": _page_or_screen("screen"),
    "group": _group,
    "alias": _alias,
}


def interpret(call: str, message: Any) -> list[Change]:
    """
    The changes one ``call`` message makes.

    :raises ValueError: the message cannot be used; the text says why.
    """
    if not isinstance(message, dict):
        raise _Unusable(f"a message must be a JSON object; got {message!r}")

    return _READERS[call](message)


# -- the endpoint --------------------------------------------------------------------


def _messages(call: str, body: Any, size: int) -> list[tuple[str, Any, Any]]:
    """
    ``(where, call, message)`` for each message in a request body.
    """
    if call != "batch":
        if size >= _contract.MAX_OPERATION_BYTES:
            raise _Unusable(
                f"the request is {size} bytes; it must be smaller than "
                f"{_contract.MAX_OPERATION_BYTES}"
            )

        return [("", call, body)]

    if size >= _contract.MAX_BATCH_BYTES:
        raise _Unusable(
            f"the request is {size} bytes; it must be smaller than "
            f"{_contract.MAX_BATCH_BYTES}"
        )

    items = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise _Unusable("batch must be an array of messages")

    shared = {name: body[name] for name in ("context", "integrations") if name in body}
    found: list[tuple[str, Any, Any]] = []
    for index, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        message = _with_shared(item, shared) if kind else item
        found.append((f"batch[{index}].", kind, message))
    return found


def _with_shared(item: dict[str, Any], shared: Mapping[str, Any]) -> dict[str, Any]:
    """
    ``item`` with the batch's ``context`` and ``integrations`` filled in.

    The call's own value wins, field by field when both are objects.
    """
    message = dict(item)
    for name, value in shared.items():
        own = item.get(name)
        if isinstance(own, dict) and isinstance(value, dict):
            message[name] = {**value, **own}
        elif own is None:
            message[name] = value
    return message


def handle(
    workspace: Workspace,
    call: str,
    raw: bytes,
    *,
    strict: bool,
    authorized: Callable[[Any], bool],
) -> Reply:
    """
    Answer a request to ``/v1/<call>``.

    ``authorized(body)`` tells whether the request carries the write key, in
    its Basic credentials or (as segment-analytics-python sends it) in the
    body's ``writeKey``.
    """
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not authorized(body):
        return Reply(401, {"meta": {"errors": ["unauthorized"]}}) if strict else OK

    problems: list[str] = []
    changes: list[Change] = []
    messages = []
    try:
        if body is None:
            raise _Unusable("the body is not JSON")

        messages = _messages(call, body, len(raw))
    except _Unusable as exc:
        problems.append(str(exc))

    for where, kind, message in messages:
        if kind not in CALLS:
            problems.append(
                f"{where}type must be one of {', '.join(CALLS)}; got {kind!r}"
            )
            continue

        if (
            call == "batch"
            and _contract.encoded_size(message) > _contract.MAX_OPERATION_BYTES
        ):
            problems.append(f"{where.rstrip('.')} is larger than 32 KiB")
            continue

        try:
            changes.extend(interpret(kind, message))
        except _Unusable as exc:
            problems.append(f"{where}{exc}")

    if strict and problems:
        return meta_errors(400, problems)

    with workspace.lock:
        for change in changes:
            change(workspace)
    return OK
