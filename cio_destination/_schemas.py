"""
The semantic event schemas: loaded once from the package, joined in one registry.

The files live in ``schemas/`` and ship inside the wheel. Each event schema
names its shared parts with ``$ref`` into ``common.json``; the
:mod:`referencing` registry built here resolves them. Validators, and the
fast yes-or-no checks compiled from the same schemas
(:mod:`cio_destination._compile`), are built on first use and kept for the
life of the process.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from cio_destination._catalogue import EVENTS
from cio_destination._compile import Check, compile_check
from cio_destination._errors import CioDestinationError

if TYPE_CHECKING:
    from referencing._core import Resolver

#: The file every event schema takes its shared parts from.
COMMON_SCHEMA = "common.json"


def parse_timestamp(value: str) -> datetime:
    """
    Read an ISO-8601 date-time; one without an offset is taken as UTC.

    :raises ValueError: ``value`` is not an ISO-8601 date-time.
    """
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)

    return moment


def _check_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True

    parse_timestamp(instance)
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time", raises=ValueError)(_check_date_time)


@functools.cache
def _files() -> Mapping[str, Mapping[str, Any]]:
    folder = resources.files("cio_destination") / "schemas"
    loaded: dict[str, Mapping[str, Any]] = {}
    names = [COMMON_SCHEMA, *(spec.schema for spec in EVENTS.values())]
    for name in names:
        try:
            loaded[name] = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CioDestinationError(
                f"the bundled schema {name!r} cannot be read: {exc}"
            ) from exc

    return MappingProxyType(loaded)


@functools.cache
def registry() -> referencing.Registry[Any]:
    """
    The registry holding every bundled schema under its ``$id``.

    :raises CioDestinationError: a bundled schema file is missing or broken.
    """
    resources_ = [
        referencing.jsonschema.DRAFT202012.create_resource(contents)
        for contents in _files().values()
    ]
    built: referencing.Registry[Any] = referencing.Registry().with_resources(
        (resource.id() or "", resource) for resource in resources_
    )
    return built.crawl()


_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES = frozenset(
    {"items", "not", "if", "then", "else", "contains", "additionalProperties"}
)


def _compile(schema: Mapping[str, Any], resolver: Resolver[Any]) -> dict[str, Any]:
    """
    The same constraints as ``schema``, in the shape that validates fastest.

    Every ``$ref`` is replaced by what it names in the registry, ``allOf``
    parts are merged into their schema where they do not conflict, and
    annotations are left out. A validator that neither follows references
    nor descends into ``allOf`` at run time takes about half the time; the
    bundled schemas have no cycles.
    """
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        target = _compile(resolved.contents, resolved.resolver)
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        return _merge(target, _compile(rest, resolver))

    compiled: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue

        if key in _SCHEMA_MAPS:
            value = {name: _compile(part, resolver) for name, part in value.items()}
        elif key in _SCHEMA_LISTS:
            value = [_compile(part, resolver) for part in value]
        elif key in _SCHEMA_VALUES and isinstance(value, Mapping):
            value = _compile(value, resolver)
        compiled[key] = value

    for part in compiled.pop("allOf", ()):
        compiled = _merge(part, compiled)
    return compiled


def _merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """
    One schema that an instance passes exactly when it passes both.

    ``required`` lists are joined and ``properties`` merged name by name; any
    other keyword both give differently leaves the two side by side in an
    ``allOf``, and so does ``additionalProperties`` next to properties of the
    other schema, which merging would let through.
    """
    if _closes_over(first, second) or _closes_over(second, first):
        return {"allOf": [first, second]}

    merged = dict(first)
    for key, value in second.items():
        if key not in merged or merged[key] == value:
            merged[key] = value
        elif key == "required":
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "properties":
            mine = merged[key]
            merged[key] = {**mine}
            for name, part in value.items():
                merged[key][name] = _merge(mine[name], part) if name in mine else part
        else:
            return {"allOf": [first, second]}

    return merged


def _closes_over(schema: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    # The properties ``schema`` calls additional depend on its own list of
    # names, which a merge would lengthen with the other schema's.
    return "additionalProperties" in schema and (
        "properties" in other or "additionalProperties" in other
    )


@functools.cache
def _validators() -> Mapping[str, Draft202012Validator]:
    shared = registry()
    built = {}
    for name, spec in EVENTS.items():
        schema = _files()[spec.schema]
        resolver = shared.resolver(base_uri=schema.get("$id", ""))
        try:
            compiled = _compile(schema, resolver)
        except referencing.exceptions.Unresolvable as exc:
            raise CioDestinationError(
                f"the bundled schema {spec.schema!r} names a missing part: {exc}"
            ) from exc
        built[name] = Draft202012Validator(
            compiled, registry=shared, format_checker=_FORMATS
        )

    return MappingProxyType(built)


def validator(event: str) -> Draft202012Validator:
    """
    The validator for the canonical semantic event name ``event``.

    :raises KeyError: ``event`` is not a canonical semantic event name.
    :raises CioDestinationError: a bundled schema file is missing or broken.
    """
    return _validators()[event]


@functools.cache
def _checks() -> Mapping[str, Check]:
    # The same formats as the validators assert, through the same checker.
    formats = {
        name: functools.partial(_FORMATS.conforms, format=name)
        for name in _FORMATS.checkers
    }
    built = {}
    for name, each in _validators().items():
        try:
            built[name] = compile_check(each.schema, formats=formats)
        except ValueError as exc:
            raise CioDestinationError(
                f"the bundled schema {EVENTS[name].schema!r} does not compile "
                f"to a fast check: {exc}"
            ) from exc

    return MappingProxyType(built)


def check(event: str) -> Check:
    """
    A fast check that a message is valid for the event ``event``.

    It gives the same verdict as :func:`validator`'s ``is_valid()`` in a few
    microseconds, but says nothing of why; ask the validator for that.

    :raises KeyError: ``event`` is not a canonical semantic event name.
    :raises CioDestinationError: a bundled schema file is missing or broken,
        or uses a keyword the compiler lacks.
    """
    return _checks()[event]


def event_schemas() -> Mapping[str, Mapping[str, Any]]:
    """
    Every event schema, keyed by its canonical event name, in catalogue order.

    The schemas are shared; treat them as read-only.

    :raises CioDestinationError: a bundled schema file is missing or broken.
    """
    files = _files()
    return MappingProxyType({name: files[spec.schema] for name, spec in EVENTS.items()})


def common_schema() -> Mapping[str, Any]:
    """
    The schema holding the parts the event schemas share.

    :raises CioDestinationError: a bundled schema file is missing or broken.
    """
    return _files()[COMMON_SCHEMA]


def schema_examples() -> Iterator[tuple[str, dict[str, Any]]]:
    """
    Yield ``(canonical event name, example message)`` for every schema example.

    Each example is a whole Segment track message and a fresh copy, free to
    change.

    :raises CioDestinationError: a bundled schema file is missing or broken.
    """
    for name, schema in event_schemas().items():
        for example in schema.get("examples", ()):
            yield name, copy.deepcopy(example)
