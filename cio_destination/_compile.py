"""
A fast yes-or-no check compiled from a JSON Schema.

jsonschema explains *why* a value is invalid, but walking a schema costs it
tens of microseconds per value. Almost every value our callers check is
valid, so they run the closure compiled here first and ask jsonschema only
about the values it rejects, to write the messages. The closure follows
Draft 2020-12 for the keywords below, and refuses to compile a schema with
any other, so that it can never silently accept what jsonschema would reject:

- ``type``, ``enum`` and ``const`` (of strings only), ``pattern``,
  ``minLength`` and ``minimum``;
- ``properties``, ``additionalProperties``, ``required``, ``minProperties``,
  ``maxProperties``, ``items`` and ``minItems``;
- ``allOf``, ``anyOf`` and ``if``/``then``/``else``;
- ``format``, asserted only for the formats the caller gives a check for, as
  jsonschema asserts only those its ``FormatChecker`` knows; any other format
  is an annotation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence, Sized
from types import MappingProxyType
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that annotate, or hold schemas only a ``$ref`` applies; never fail.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
    }
)
_NO_FORMATS: Mapping[str, Check] = MappingProxyType({})


def _is_integer(value: Any) -> bool:
    # As jsonschema: a float with no fractional part is an integer too.
    if isinstance(value, bool):
        return False

    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: Mapping[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def _type(expected: str | Sequence[str]) -> Check:
    if isinstance(expected, str):
        return _TYPES[expected]

    return _some([_TYPES[name] for name in expected])


def _every(checks: Sequence[Check]) -> Check:
    def check(value: Any) -> bool:
        # A plain loop: all() would build a generator on every call.
        for each in checks:  # noqa: SIM110
            if not each(value):
                return False
        return True

    return check


def _some(checks: Sequence[Check]) -> Check:
    def check(value: Any) -> bool:
        # A plain loop: any() would build a generator on every call.
        for each in checks:  # noqa: SIM110
            if each(value):
                return True
        return False

    return check


def _strings(values: Sequence[Any]) -> frozenset[str]:
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"only string enums and consts compile; got {values!r}")

    return frozenset(values)


def _one_of_strings(values: frozenset[str]) -> Check:
    return lambda value: isinstance(value, str) and value in values


def _properties(schema: Mapping[str, Any], formats: Mapping[str, Check]) -> Check:
    known = {
        name: compile_check(sub, formats=formats)
        for name, sub in schema["properties"].items()
    }

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True

        for name, check_property in known.items():
            if name in value and not check_property(value[name]):
                return False
        return True

    return check


def _additional(schema: Mapping[str, Any], formats: Mapping[str, Check]) -> Check:
    known = frozenset(schema.get("properties", ()))
    rule = schema["additionalProperties"]
    if rule is True:
        return lambda value: True

    others: Check = (
        (lambda _value: False)
        if rule is False
        else compile_check(rule, formats=formats)
    )

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True

        for name, item in value.items():
            if name not in known and not others(item):
                return False
        return True

    return check


def _required(names: Sequence[str]) -> Check:
    return lambda value: not isinstance(value, dict) or all(n in value for n in names)


def _sized(kind: type[Sized], low: int | None, high: int | None) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, kind):
            return True

        size = len(value)
        return (low is None or size >= low) and (high is None or size <= high)

    return check


def _pattern(expression: str) -> Check:
    compiled = re.compile(expression)
    return lambda value: not isinstance(value, str) or bool(compiled.search(value))


def _minimum(bound: float) -> Check:
    return lambda value: not _is_number(value) or value >= bound


def _items(schema: Any, formats: Mapping[str, Check]) -> Check:
    each = compile_check(schema, formats=formats)
    return lambda value: not isinstance(value, list) or all(map(each, value))


def _conditional(schema: Mapping[str, Any], formats: Mapping[str, Check]) -> Check:
    test = compile_check(schema["if"], formats=formats)
    then = compile_check(schema.get("then", True), formats=formats)
    otherwise = compile_check(schema.get("else", True), formats=formats)
    return lambda value: then(value) if test(value) else otherwise(value)


def compile_check(schema: Any, *, formats: Mapping[str, Check] = _NO_FORMATS) -> Check:
    """
    A function telling whether a value is valid against ``schema``.

    ``schema`` must hold no ``$ref`` (inline them first). ``formats`` maps a
    format name to the check asserting it; a format it lacks is ignored.

    :raises ValueError: the schema uses a keyword this compiler lacks.
    """
    if schema is True:
        return lambda value: True

    if schema is False:
        return lambda value: False

    checks: list[Check] = []
    for keyword, argument in schema.items():
        if keyword in _ANNOTATIONS or keyword.startswith("x-"):
            continue

        if keyword in ("then", "else", "additionalProperties"):
            continue

        if keyword == "type":
            checks.insert(0, _type(argument))
        elif keyword == "enum":
            checks.append(_one_of_strings(_strings(argument)))
        elif keyword == "const":
            checks.append(_one_of_strings(_strings([argument])))
        elif keyword == "properties":
            checks.append(_properties(schema, formats))
        elif keyword == "required":
            checks.append(_required(argument))
        elif keyword == "minProperties":
            checks.append(_sized(dict, argument, None))
        elif keyword == "maxProperties":
            checks.append(_sized(dict, None, argument))
        elif keyword == "minLength":
            checks.append(_sized(str, argument, None))
        elif keyword == "minItems":
            checks.append(_sized(list, argument, None))
        elif keyword == "pattern":
            checks.append(_pattern(argument))
        elif keyword == "minimum":
            checks.append(_minimum(argument))
        elif keyword == "items":
            checks.append(_items(argument, formats))
        elif keyword == "if":
            checks.append(_conditional(schema, formats))
        elif keyword == "allOf":
            checks.append(_every([compile_check(s, formats=formats) for s in argument]))
        elif keyword == "anyOf":
            checks.append(_some([compile_check(s, formats=formats) for s in argument]))
        elif keyword == "format":
            # As jsonschema: a known format's check sees every value, not
            # only strings; an unknown format is an annotation.
            if argument in formats:
                checks.append(formats[argument])
        else:
            raise ValueError(f"the keyword {keyword!r} does not compile")
    if "additionalProperties" in schema:
        checks.append(_additional(schema, formats))

    if not checks:
        return lambda value: True

    return checks[0] if len(checks) == 1 else _every(checks)
