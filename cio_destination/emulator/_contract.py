"""
The Track API's contract: which request bodies the emulator takes.

The shapes live in ``schemas/track/*.json``, written from Customer.io's
published contract; this module loads them, checks bodies against them, and
adds the byte limits JSON Schema cannot say (it counts characters). Every
problem comes back as a :class:`~cio_destination._model.Violation` whose
``path`` is the field, ``rule`` the broken rule and ``message`` a sentence
naming both and the value.

A body is first run through a check compiled from its schema
(:mod:`cio_destination._compile`); only a body that fails it is handed to
jsonschema, whose errors become the violations.

Nothing here knows how the package translates events: the emulator must catch
a translation mistake, not repeat it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

import attrs
from jsonschema import Draft202012Validator, ValidationError

from cio_destination._compile import Check, compile_check
from cio_destination._errors import CioDestinationError
from cio_destination._model import Violation

#: A v2 ``/entity`` body and each v2 ``/batch`` item must stay within this.
MAX_OPERATION_BYTES = 32 * 1024
#: A v2 ``/batch`` body must stay under this.
MAX_BATCH_BYTES = 500 * 1024
MAX_ID_BYTES = 150
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_ATTRIBUTES = 300
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000

_FILES = ("entity", "batch", "metrics", "customer", "device", "event")
_URN = "urn:cio-destination:track:"
_REPR_LIMIT = 80

#: Keys of a v1 identify body that are not attributes.
V1_RESERVED = frozenset({"_update", "_timestamp", "cio_relationships"})


@functools.cache
def _documents() -> Mapping[str, Mapping[str, Any]]:
    folder = resources.files("cio_destination") / "schemas" / "track"
    loaded = {}
    for name in _FILES:
        try:
            text = (folder / f"{name}.json").read_text(encoding="utf-8")
            loaded[name] = json.loads(text)
        except (OSError, ValueError) as exc:
            raise CioDestinationError(
                f"the bundled schema track/{name}.json cannot be read: {exc}"
            ) from exc

    return loaded


def _inline(node: Any, home: str, documents: Mapping[str, Mapping[str, Any]]) -> Any:
    # Replace every $ref by what it points at. The schemas hold no cycles,
    # and a validator without references runs several times faster.
    if isinstance(node, list):
        return [_inline(item, home, documents) for item in node]

    if not isinstance(node, dict):
        return node

    reference = node.get("$ref")
    if isinstance(reference, str):
        target, _, pointer = reference.partition("#/$defs/")
        document = home if not target else target.removeprefix(_URN)
        return _inline(documents[document]["$defs"][pointer], document, documents)

    return {key: _inline(value, home, documents) for key, value in node.items()}


@attrs.frozen
class _Checker:
    """
    A compiled yes-or-no check, and jsonschema to explain a no.
    """

    accepts: Check
    validator: Draft202012Validator

    def violations(self, instance: Any) -> list[Violation]:
        """
        Every problem jsonschema finds, or none when the fast check passes.
        """
        if self.accepts(instance):
            return []

        return _violations(self.validator, instance)


def _checker(name: str, pointer: str | None = None) -> _Checker:
    documents = _documents()
    schema = documents[name]
    if pointer is not None:
        schema = schema["$defs"][pointer]
    schema = {k: v for k, v in schema.items() if k not in ("$id", "$defs")}
    inlined = _inline(schema, name, documents)
    return _Checker(compile_check(inlined), Draft202012Validator(inlined))


@functools.cache
def actions() -> Mapping[str, tuple[str, ...]]:
    """
    The action matrix: the actions each operation ``type`` allows.
    """
    matrix = _documents()["entity"]["x-actions"]
    return {kind: tuple(names) for kind, names in matrix.items()}


@functools.cache
def _operation_checkers() -> Mapping[str, _Checker]:
    return {
        f"{kind}_{action}": _checker("entity", f"{kind}_{action}")
        for kind, names in actions().items()
        for action in names
    }


@functools.cache
def _body_checker(name: str) -> _Checker:
    return _checker(name)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"

    return f"{path}.{part}" if path else part


def _path(parts: Iterable[str | int], prefix: str = "") -> str:
    path = prefix
    for part in parts:
        path = _join(path, part)
    return path


def _describe(error: ValidationError, prefix: str) -> Iterator[Violation]:
    path = _path(error.absolute_path, prefix)
    shown = path or "the body"
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    keyword = str(error.validator)
    rule = schema.get("x-rule")

    if keyword == "required":
        for name in schema.get("required", ()):
            if isinstance(value, dict) and name not in value:
                field = _join(path, name)
                yield Violation(field, "required", f"{field} is required")
        return

    if isinstance(rule, str):
        message = f"{shown} {rule}; got {_show(value)}"
    elif keyword == "additionalProperties" and isinstance(value, dict):
        known = schema.get("properties", {})
        for name in sorted(set(value) - set(known)):
            field = _join(path, name)
            yield Violation(
                field,
                "unknown",
                f"{field} is not a field of {shown}; "
                f"known fields: {', '.join(known) or 'none'}",
                value[name],
            )
        return
    elif keyword == "type":
        message = f"{shown} must be of type {error.validator_value}; got {_show(value)}"
    elif keyword in ("enum", "const"):
        choices = schema["enum"] if keyword == "enum" else [schema["const"]]
        listed = ", ".join(json.dumps(choice) for choice in choices)
        message = f"{shown} must be one of {listed}; got {_show(value)}"
    elif keyword == "minLength":
        message = f"{shown} must not be empty"
    elif keyword == "minItems":
        message = f"{shown} must hold at least {error.validator_value} item(s)"
    elif keyword == "maxProperties":
        message = f"{shown} must hold at most {error.validator_value} field(s)"
    elif keyword == "minimum":
        message = (
            f"{shown} must be at least {error.validator_value}; got {_show(value)}"
        )
    else:
        message = f"{shown}: {error.message}"
    yield Violation(path, keyword, message, value)


def _violations(
    validator: Draft202012Validator, instance: Any, prefix: str = ""
) -> list[Violation]:
    found: list[Violation] = []
    for error in validator.iter_errors(instance):
        found.extend(_describe(error, prefix))
    return found


def encoded_size(value: Any) -> int:
    """
    The size of ``value`` in bytes: UTF-8 for a string, compact JSON otherwise.
    """
    if isinstance(value, str):
        return len(value.encode())

    if isinstance(value, int) and not isinstance(value, bool):
        return len(str(value))

    if value is None or isinstance(value, (bool, float)):
        return len(json.dumps(value))

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode())


def _too_big(path: str, value: Any, limit: int, what: str = "") -> Violation | None:
    size = encoded_size(value)
    if size <= limit:
        return None

    subject = f"{path} {what}" if what else path
    return Violation(
        path, "limit", f"{subject} is {size} bytes; the limit is {limit}", value
    )


def _attribute_limits(path: str, attributes: Mapping[str, Any]) -> Iterator[Violation]:
    if len(attributes) > MAX_ATTRIBUTES:
        yield Violation(
            path,
            "limit",
            f"{path} holds {len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}",
        )
    for name, value in attributes.items():
        field = _join(path, name)
        for problem in (
            _too_big(field, name, MAX_ATTRIBUTE_NAME_BYTES, "name"),
            _too_big(field, value, MAX_ATTRIBUTE_VALUE_BYTES, "value"),
        ):
            if problem is not None:
                yield problem


def _identifier_limits(path: str, identifiers: Any) -> Iterator[Violation]:
    if not isinstance(identifiers, dict):
        return

    for name in ("id", "object_id"):
        if name in identifiers:
            problem = _too_big(_join(path, name), identifiers[name], MAX_ID_BYTES)
            if problem is not None:
                yield problem


def _event_limits(
    name: Any, data: Any, name_path: str, data_path: str
) -> Iterator[Violation]:
    if name is not None:
        problem = _too_big(name_path, name, MAX_EVENT_NAME_BYTES)
        if problem is not None:
            yield problem
    if data is not None:
        problem = _too_big(data_path, data, MAX_EVENT_DATA_BYTES)
        if problem is not None:
            yield problem


def _operation_limits(operation: Mapping[str, Any]) -> Iterator[Violation]:
    yield from _identifier_limits("identifiers", operation.get("identifiers"))
    action = operation["action"]
    if action in ("event", "page", "screen", "viewed_content", "clicked_content"):
        yield from _event_limits(
            operation.get("name"), operation.get("attributes"), "name", "attributes"
        )
    elif "attributes" in operation:
        yield from _attribute_limits("attributes", operation["attributes"])
    for index, item in enumerate(operation.get("cio_relationships", ())):
        path = f"cio_relationships[{index}]"
        yield from _identifier_limits(f"{path}.identifiers", item["identifiers"])
        if "relationship_attributes" in item:
            yield from _attribute_limits(
                f"{path}.relationship_attributes", item["relationship_attributes"]
            )


def check_operation(operation: Any) -> list[Violation]:
    """
    Every way a Track v2 operation breaks the contract; empty when it is valid.
    """
    if not isinstance(operation, dict):
        return [
            Violation(
                "",
                "type",
                f"an operation must be a JSON object; got {_show(operation)}",
            )
        ]

    matrix = actions()
    kind = operation.get("type")
    if not isinstance(kind, str) or kind not in matrix:
        listed = ", ".join(sorted(matrix))
        return [
            Violation(
                "type", "enum", f"type must be one of {listed}; got {_show(kind)}", kind
            )
        ]

    action = operation.get("action")
    if action not in matrix[kind]:
        listed = ", ".join(matrix[kind])
        return [
            Violation(
                "action",
                "enum",
                f"action of a {kind} operation must be one of {listed}; "
                f"got {_show(action)}",
                action,
            )
        ]

    found = _operation_checkers()[f"{kind}_{action}"].violations(operation)
    if found:
        return found

    return list(_operation_limits(operation))


def check_batch_envelope(body: Any) -> list[Violation]:
    """
    Problems with a v2 batch body as a whole (not with its items).
    """
    return _body_checker("batch").violations(body)


def check_metric(body: Any) -> list[Violation]:
    """
    Every way a v1 ``/metrics`` body breaks the contract.
    """
    return _body_checker("metrics").violations(body)


def check_path_identifier(identifier: str) -> list[Violation]:
    """
    Problems with the person identifier in a v1 path.
    """
    problem = _too_big("identifier", identifier, MAX_ID_BYTES)
    return [] if problem is None else [problem]


def check_v1_identify(body: Any) -> list[Violation]:
    """
    Every way a v1 identify body breaks the contract.
    """
    found = _body_checker("customer").violations(body)
    if found or not isinstance(body, dict):
        return found

    attributes = {k: v for k, v in body.items() if k not in V1_RESERVED}
    found.extend(_attribute_limits("", attributes))
    relationships = body.get("cio_relationships", {}).get("relationships", ())
    for index, item in enumerate(relationships):
        path = f"cio_relationships.relationships[{index}]"
        found.extend(_identifier_limits(f"{path}.identifiers", item["identifiers"]))
    return found


def check_v1_device(body: Any) -> list[Violation]:
    """
    Every way a v1 add-device body breaks the contract.
    """
    return _body_checker("device").violations(body)


def check_v1_event(body: Any) -> list[Violation]:
    """
    Every way a v1 person-event body breaks the contract.
    """
    found = _body_checker("event").violations(body)
    if found:
        return found

    name = body["name"].strip()
    if not name:
        return [Violation("name", "minLength", "name must not be blank", body["name"])]

    return list(_event_limits(name, body.get("data"), "name", "data"))


def messages(violations: Sequence[Violation]) -> list[str]:
    """
    The sentences of ``violations``, for the v1 ``meta.errors`` answer.
    """
    return [violation.message for violation in violations]
