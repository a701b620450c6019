"""
The semantic event schemas: loaded once from the package, joined in one registry.

The files live in ``schemas/`` and ship inside the wheel. Each event schema
names its shared parts with ``$ref`` into ``common.json``; the
:mod:`referencing` registry built here resolves them. Validators are built on
first use and kept for the life of the process.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType
from typing import Any

import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from referencing._core import Resolver

from cio_destination._catalogue import EVENTS
from cio_destination._errors import CioDestinationError

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


def _inline(node: Any, resolver: Resolver[Any]) -> Any:
    """
    ``node`` with every ``$ref`` replaced by what it names in the registry.

    The bundled schemas have no cycles, and a validator that does not follow
    references at run time is about twice as fast.
    """
    if isinstance(node, list):
        return [_inline(item, resolver) for item in node]
    if not isinstance(node, Mapping):
        return node

    if "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        rest = {key: value for key, value in node.items() if key != "$ref"}
        target = _inline(resolved.contents, resolved.resolver)
        return {**target, **_inline(rest, resolver)}

    return {key: _inline(value, resolver) for key, value in node.items()}


@functools.cache
def _validators() -> Mapping[str, Draft202012Validator]:
    shared = registry()
    built = {}
    for name, spec in EVENTS.items():
        schema = _files()[spec.schema]
        resolver = shared.resolver(base_uri=schema.get("$id", ""))
        try:
            flat = _inline(schema, resolver)
        except referencing.exceptions.Unresolvable as exc:
            raise CioDestinationError(
                f"the bundled schema {spec.schema!r} names a missing part: {exc}"
            ) from exc
        built[name] = Draft202012Validator(
            flat, registry=shared, format_checker=_FORMATS
        )

    return MappingProxyType(built)


def validator(event: str) -> Draft202012Validator:
    """
    The validator for the canonical semantic event name ``event``.

    :raises KeyError: ``event`` is not a canonical semantic event name.
    :raises CioDestinationError: a bundled schema file is missing or broken.
    """
    return _validators()[event]


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
