"""
The Track API: v2 ``/entity`` and ``/batch``, v1 metrics and person endpoints.

Each handler checks the whole request first (:mod:`._contract`), then
applies what is valid to the workspace under its lock, so a request is
atomic. A suppressed identifier is accepted with 200 and ignored: the
contract has no error for it and Customer.io only promises that the person
is not added back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cio_destination._model import Violation
from cio_destination.emulator import _contract
from cio_destination.emulator._reply import (
    OK,
    Reply,
    meta_errors,
    track_error,
    track_errors,
)
from cio_destination.emulator._state import ObjectRef, PersonRef, Workspace

_EVENT_ACTIONS = frozenset(
    {"event", "page", "screen", "viewed_content", "clicked_content"}
)


class _BadJSON(ValueError):
    pass


def _parse(raw: bytes, *, empty: Any = None) -> Any:
    if not raw.strip() and empty is not None:
        return empty

    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _BadJSON(f"the body is not JSON: {exc}") from exc


def person_ref(identifiers: Mapping[str, str]) -> PersonRef:
    """
    The reference named by a one-key ``identifiers`` object.
    """
    ((kind, value),) = identifiers.items()
    return kind, value


def object_ref(identifiers: Mapping[str, str]) -> ObjectRef:
    """
    The reference named by an object's ``identifiers``.
    """
    if "cio_object_id" in identifiers:
        return "cio_object_id", identifiers["cio_object_id"]

    return identifiers["object_type_id"], identifiers["object_id"]


def path_ref(identifier: str) -> PersonRef:
    """
    The person a v1 path identifier names, read from its shape.
    """
    if identifier.startswith("cio_"):
        return "cio_id", identifier.removeprefix("cio_")

    if "@" in identifier:
        return "email", identifier

    return "id", identifier


# -- applying v2 operations ---------------------------------------------------


def _apply_person(workspace: Workspace, operation: Mapping[str, Any]) -> None:
    action = operation["action"]
    if action == "merge":
        workspace.merge(
            person_ref(operation["primary"]), person_ref(operation["secondary"])
        )
        return

    ref = person_ref(operation["identifiers"])
    relationships = operation.get("cio_relationships", ())
    if action == "identify":
        attributes = dict(operation.get("attributes", {}))
        update_only = attributes.pop("_update", False) is True
        if workspace.identify(ref, attributes, update_only=update_only) is not None:
            for item in relationships:
                workspace.relate(
                    object_ref(item["identifiers"]),
                    ref,
                    item.get("relationship_attributes", {}),
                )
    elif action in _EVENT_ACTIONS:
        workspace.record_event(
            ref,
            action,
            operation.get("name", action),
            event_id=operation.get("id"),
            timestamp=operation.get("timestamp"),
            attributes=operation.get("attributes", {}),
        )
    elif action == "add_relationships":
        for item in relationships:
            workspace.relate(
                object_ref(item["identifiers"]),
                ref,
                item.get("relationship_attributes", {}),
            )
    elif action == "delete_relationships":
        for item in relationships:
            workspace.unrelate(object_ref(item["identifiers"]), ref)
    elif action == "add_device":
        device = operation["device"]
        workspace.add_device(
            ref,
            device["token"],
            device["platform"],
            device.get("last_used"),
            device.get("attributes", {}),
        )
    elif action == "delete_device":
        workspace.delete_device(ref, operation["device"]["token"])
    elif action == "delete":
        workspace.delete_person(ref)
    elif action == "suppress":
        workspace.suppress(ref)
    elif action == "unsuppress":
        workspace.unsuppress(ref)


def _apply_object(workspace: Workspace, operation: Mapping[str, Any]) -> None:
    action = operation["action"]
    ref = object_ref(operation["identifiers"])
    relationships = operation.get("cio_relationships", ())
    if action in ("identify", "identify_anonymous"):
        workspace.identify_object(ref, operation.get("attributes", {}))
        for item in relationships:
            workspace.relate(
                ref,
                person_ref(item["identifiers"]),
                item.get("relationship_attributes", {}),
            )
        if "anonymous_id" in operation:
            workspace.relate(ref, ("anonymous_id", operation["anonymous_id"]), {})
    elif action == "delete":
        workspace.delete_object(ref)
    elif action == "add_relationships":
        for item in relationships:
            workspace.relate(
                ref,
                person_ref(item["identifiers"]),
                item.get("relationship_attributes", {}),
            )
    elif action == "delete_relationships":
        for item in relationships:
            workspace.unrelate(ref, person_ref(item["identifiers"]))


def apply_operation(workspace: Workspace, operation: Mapping[str, Any]) -> None:
    """
    Apply one valid v2 operation; the caller holds the workspace lock.
    """
    kind = operation["type"]
    if kind == "person":
        _apply_person(workspace, operation)
    elif kind == "object":
        _apply_object(workspace, operation)
    else:
        workspace.record_metric(
            operation["identifiers"]["id"],
            operation["name"],
            recipient=operation["attributes"]["device_token"],
        )


# -- v2 endpoints ---------------------------------------------------------------


def _read(raw: bytes, limit: int) -> tuple[Any, Reply | None]:
    # A whole request at or over its byte limit, or not JSON, is refused.
    if len(raw) >= limit:
        return None, track_error(
            400,
            "limit",
            "",
            f"the request is {len(raw)} bytes; it must be smaller than {limit}",
        )

    try:
        return _parse(raw), None
    except _BadJSON as exc:
        return None, track_error(400, "json", "", str(exc))


def entity(workspace: Workspace, raw: bytes) -> Reply:
    """
    ``POST /api/v2/entity``: one operation, smaller than 32 KiB.
    """
    operation, refusal = _read(raw, _contract.MAX_OPERATION_BYTES)
    if refusal is not None:
        return refusal

    problems = _contract.check_operation(operation)
    if problems:
        return track_errors(400, problems)

    with workspace.lock:
        apply_operation(workspace, operation)
    return OK


def batch(workspace: Workspace, raw: bytes) -> Reply:
    """
    ``POST /api/v2/batch``: valid items are applied, the others named in a 207.
    """
    body, refusal = _read(raw, _contract.MAX_BATCH_BYTES)
    if refusal is not None:
        return refusal

    problems = _contract.check_batch_envelope(body)
    if problems:
        return track_errors(400, problems)

    errors: list[dict[str, Any]] = []
    valid = []
    # No item of a body that small can be over the per-operation limit.
    measure = len(raw) > _contract.MAX_OPERATION_BYTES
    for index, operation in enumerate(body["batch"]):
        size = _contract.encoded_size(operation) if measure else 0
        if size > _contract.MAX_OPERATION_BYTES:
            found = [
                Violation(
                    "",
                    "limit",
                    f"the operation is {size} bytes; the limit is "
                    f"{_contract.MAX_OPERATION_BYTES}",
                )
            ]
        else:
            found = _contract.check_operation(operation)
        if not found:
            valid.append(operation)
        errors.extend(
            {
                "batch_index": index,
                "reason": v.rule,
                "field": v.path,
                "message": v.message,
            }
            for v in found
        )

    with workspace.lock:
        for operation in valid:
            apply_operation(workspace, operation)
    return Reply(207, {"errors": errors}) if errors else OK


# -- v1 endpoints ---------------------------------------------------------------


def _v1_body(raw: bytes, check: Any) -> tuple[Any, Reply | None]:
    try:
        body = _parse(raw, empty={})
    except _BadJSON as exc:
        return None, meta_errors(400, [str(exc)])

    problems: list[Violation] = check(body)
    if problems:
        return None, meta_errors(400, _contract.messages(problems))

    return body, None


def metrics(workspace: Workspace, raw: bytes) -> Reply:
    """
    ``POST /api/v1/metrics``: one delivery metric.
    """
    body, refusal = _v1_body(raw, _contract.check_metric)
    if refusal is not None:
        return refusal

    with workspace.lock:
        workspace.record_metric(
            body["delivery_id"],
            body["metric"],
            timestamp=body.get("timestamp"),
            recipient=body.get("recipient"),
            reason=body.get("reason"),
            href=body.get("href"),
            metadata=body.get("metadata"),
        )
    return OK


def customer(
    workspace: Workspace, method: str, identifier: str, action: str, raw: bytes
) -> Reply:
    """
    The v1 person endpoints under ``/api/v1/customers/{identifier}``.

    ``action`` is the path after the identifier: ``""``, ``devices``,
    ``devices/<token>``, ``suppress``, ``unsuppress`` or ``events``.
    """
    problems = _contract.check_path_identifier(identifier)
    if problems:
        return meta_errors(400, _contract.messages(problems))

    ref = path_ref(identifier)
    if action == "" and method == "PUT":
        return _v1_identify(workspace, ref, raw)

    if action == "devices":
        return _v1_device(workspace, ref, raw)

    if action == "events":
        return _v1_event(workspace, ref, raw)

    with workspace.lock:
        if action == "":
            workspace.delete_person(ref)
        elif action == "suppress":
            workspace.suppress(ref)
        elif action == "unsuppress":
            workspace.unsuppress(ref)
        else:
            workspace.delete_device(ref, action.removeprefix("devices/"))
    return OK


def _v1_identify(workspace: Workspace, ref: PersonRef, raw: bytes) -> Reply:
    body, refusal = _v1_body(raw, _contract.check_v1_identify)
    if refusal is not None:
        return refusal

    attributes = {k: v for k, v in body.items() if k not in _contract.V1_RESERVED}
    relationships = body.get("cio_relationships", {})
    with workspace.lock:
        key = workspace.identify(
            ref, attributes, update_only=body.get("_update") is True
        )
        for item in relationships.get("relationships", ()) if key else ():
            obj = object_ref(item["identifiers"])
            if relationships["action"] == "add_relationships":
                workspace.relate(obj, ref, item.get("relationship_attributes", {}))
            else:
                workspace.unrelate(obj, ref)
    return OK


def _v1_device(workspace: Workspace, ref: PersonRef, raw: bytes) -> Reply:
    body, refusal = _v1_body(raw, _contract.check_v1_device)
    if refusal is not None:
        return refusal

    device = body["device"]
    with workspace.lock:
        workspace.add_device(
            ref,
            device["id"],
            device["platform"],
            device.get("last_used"),
            device.get("attributes", {}),
        )
    return OK


def _v1_event(workspace: Workspace, ref: PersonRef, raw: bytes) -> Reply:
    body, refusal = _v1_body(raw, _contract.check_v1_event)
    if refusal is not None:
        return refusal

    with workspace.lock:
        workspace.record_event(
            ref,
            body.get("type", "event"),
            body["name"].strip(),
            event_id=body.get("id"),
            timestamp=body.get("timestamp"),
            attributes=body.get("data", {}),
        )
    return OK
