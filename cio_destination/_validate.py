"""
Validation of a normalized message against its event schema and transport.

Every problem becomes a :class:`Violation` with the dotted path of the field
and a sentence naming the field, the rule and the value. jsonschema's errors
are translated here and nowhere else.

Walking a schema costs jsonschema tens of microseconds, and almost every
message is valid, so a message is first given to the event's compiled check
(:func:`cio_destination._schemas.check`); jsonschema sees only the messages
that check rejects, to say why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import relevance

from cio_destination._model import Violation
from cio_destination._schemas import check, validator
from cio_destination._settings import Transport

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}
_VALUE_LIMIT = 60
#: The Track API's limit on a person or object id, in UTF-8 bytes.
_TRACK_ID_BYTES = 150


def validate(
    message: Mapping[str, Any], event: str, transport: Transport
) -> list[Violation]:
    """
    Every violation of ``event``'s schema and of ``transport``'s needs.

    The most relevant violation comes first: a missing or mistyped field
    before what it contains. The Track API needs a device type to add a
    device; the Pipelines API needs a userId or an anonymousId on every call.
    """
    violations: list[Violation] = []
    if not check(event)(message):
        errors = validator(event).iter_errors(message)
        ranked = sorted(errors, key=relevance, reverse=True)
        violations.extend(_translate_errors(ranked, event))

    needs = _track_needs if transport == "track" else _pipelines_needs
    found = {(violation.path, violation.rule) for violation in violations}
    for violation in needs(message, event):
        if (violation.path, violation.rule) not in found:
            violations.append(violation)

    return violations


def _translate_errors(
    errors: Iterable[ValidationError], event: str
) -> Iterable[Violation]:
    seen: set[tuple[str, str]] = set()
    for error in errors:
        for violation in _violations(error, event):
            key = (violation.path, violation.rule)
            if key not in seen:
                seen.add(key)
                yield violation


def _violations(error: ValidationError, event: str) -> Iterable[Violation]:
    where = [str(part) for part in error.absolute_path]
    keyword = str(error.validator)
    expected: Any = error.validator_value
    if keyword == "required":
        present = error.instance if isinstance(error.instance, Mapping) else {}
        for name in expected:
            if name not in present:
                yield _missing(_dotted([*where, name]), event)
        return

    if keyword == "anyOf" and _all_required(expected):
        names = [schema["required"][0] for schema in expected]
        path = _dotted([*where, names[-1]])
        yield Violation(
            path=path,
            rule="required",
            message=(f"{event} needs one of {', '.join(names)}; got none of them"),
        )
        return

    path = _dotted(where)
    yield Violation(
        path=path,
        rule=keyword,
        message=(
            f"{_label(path)} of {event} {_rule(error)}; got {_show(error.instance)}"
        ),
        value=error.instance,
    )


def _all_required(schemas: object) -> bool:
    return isinstance(schemas, list) and all(
        isinstance(schema, Mapping)
        and list(schema) == ["required"]
        and len(schema["required"]) == 1
        for schema in schemas
    )


def _rule(error: ValidationError) -> str:
    keyword = str(error.validator)
    expected: Any = error.validator_value
    schema: Mapping[str, Any] = (
        error.schema if isinstance(error.schema, Mapping) else {}
    )
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        text = " or ".join(_TYPE_NAMES.get(str(kind), str(kind)) for kind in kinds)
        if "minimum" in schema:
            text += f" from {schema['minimum']}"
        return f"must be {text}"
    if keyword == "enum":
        return f"must be one of {', '.join(map(str, expected))}"
    if keyword == "const":
        return f"must be {_show(expected)}"
    if keyword == "minimum":
        kind = _TYPE_NAMES.get(str(schema.get("type")), "a number")
        return f"must be {kind} from {expected}"
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"needs {expected} characters"
    if keyword == "format" and expected == "date-time":
        return "must be an ISO-8601 date-time"
    return f"breaks the rule {keyword} {_show(expected)}"


def _missing(path: str, event: str) -> Violation:
    return Violation(
        path=path,
        rule="required",
        message=f"{_label(path)} of {event} is required; got nothing",
    )


def _track_needs(message: Mapping[str, Any], event: str) -> Iterable[Violation]:
    yield from _track_limits(message, event)
    if event != "Device Created or Updated":
        return

    context = message.get("context")
    device = context.get("device") if isinstance(context, Mapping) else None
    if isinstance(device, Mapping) and "type" not in device:
        yield Violation(
            path="context.device.type",
            rule="required",
            message=(
                f"context.device.type of {event} is required by the Track API, "
                "whose add_device needs a platform (ios or android); got nothing"
            ),
        )

    properties = message.get("properties")
    push_enabled = (
        properties.get("push_enabled") if isinstance(properties, Mapping) else None
    )
    # None is left out of the device attributes; a boolean becomes its text.
    if (
        push_enabled is not None
        and not isinstance(push_enabled, bool)
        and (push_enabled not in ("true", "false"))
    ):
        yield Violation(
            path="properties.push_enabled",
            rule="enum",
            message=(
                f"properties.push_enabled of {event} must be true or false (the "
                'Track API takes the device attribute as "true" or "false"); '
                f"got {_show(push_enabled)}"
            ),
            value=push_enabled,
        )


def _track_limits(message: Mapping[str, Any], event: str) -> Iterable[Violation]:
    properties = message.get("properties")
    identifiers = {
        "userId": message.get("userId"),
        "properties.objectId": (
            properties.get("objectId") if isinstance(properties, Mapping) else None
        ),
    }
    for path, value in identifiers.items():
        if isinstance(value, str) and len(value.encode()) > _TRACK_ID_BYTES:
            yield Violation(
                path=path,
                rule="maxLength",
                message=(
                    f"{path} of {event} must be at most {_TRACK_ID_BYTES} bytes for "
                    f"the Track API; got {len(value.encode())} bytes: {_show(value)}"
                ),
                value=value,
            )


def _pipelines_needs(message: Mapping[str, Any], event: str) -> Iterable[Violation]:
    if "userId" in message or "anonymousId" in message:
        return

    yield Violation(
        path="anonymousId",
        rule="required",
        message=(
            f"{event} needs a userId or an anonymousId for the Pipelines API, "
            "which requires one on every track call; got neither"
        ),
    )


def _dotted(parts: Iterable[str]) -> str:
    return ".".join(parts)


def _label(path: str) -> str:
    return path or "the message"


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _VALUE_LIMIT:
        text = text[: _VALUE_LIMIT - 3] + "..."
    return text
