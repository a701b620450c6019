"""
The fast checks of cio_destination._compile, held against jsonschema.
"""

from __future__ import annotations

import ast
import copy
import sys
from collections.abc import Iterator
from importlib import resources
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

import cio_destination
from cio_destination._catalogue import EVENTS
from cio_destination._compile import compile_check
from cio_destination._schemas import check, schema_examples, validator


def _walk(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict):
        return

    yield schema
    for part in schema.get("properties", {}).values():
        yield from _walk(part)
    for keyword in ("allOf", "anyOf"):
        for part in schema.get(keyword, ()):
            yield from _walk(part)
    for keyword in ("items", "additionalProperties", "if", "then", "else"):
        yield from _walk(schema.get(keyword))


SCHEMA_PARTS = [part for event in EVENTS for part in _walk(validator(event).schema)]
#: Every property name and every enum or const value the event schemas name.
NAMES = sorted({name for part in SCHEMA_PARTS for name in part.get("properties", ())})
WORDS = sorted(
    {
        value
        for part in SCHEMA_PARTS
        for value in [*part.get("enum", ()), part.get("const")]
        if isinstance(value, str)
    }
)
DATE_TIMES = [
    "2026-03-14T09:26:53Z",
    "2026-03-14T09:26:53+00:00",
    "2026-03-14T09:26:53.123-07:00",
    "2026-03-14T09:26:53",
    "2026-03-14",
    "2026-03-14 09:26",
    "2026-13-14T09:26:53Z",
    "2026-03-14T25:00:00Z",
    "14/03/2026",
    "yesterday",
    "",
]
DIGITS = ["0", "1", "42", "-1", "007", "1.5", "1e3", " 1", "٣"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.integers()
    | st.sampled_from([0.0, 1.0, 1.5, -1.0, 2.0**53, float("inf")])
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from([*DATE_TIMES, *DIGITS, *WORDS, "x" * 151])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(NAMES) | st.text(max_size=4), inner, max_size=3
        )
    ),
    max_leaves=8,
)
EXAMPLES = [(event, example) for event, example in schema_examples()]


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _places(item, (*prefix, index))
    return found


def _at(message: Any, place: tuple[Any, ...]) -> Any:
    for part in place:
        message = message[part]
    return message


@attrs.frozen
class Change:
    """
    One change to a message: what to do, at the ``where``-th place, with what.

    ``nearby`` holds a replacement for each kind of value, close to the
    values the schemas take: a string, a number, and new keys for an object.
    """

    where: int
    action: str
    value: Any
    nearby: dict[str, Any]

    def apply(self, message: Any) -> Any:
        """
        ``message`` changed in place, or a new value replacing it whole.
        """
        places = _places(message)
        # Leaves count twice: most rules are about them.
        places += [
            place for place in places if not isinstance(_at(message, place), dict)
        ]
        place = places[self.where % len(places)]
        if not place:
            return copy.deepcopy(self.value)

        parent = _at(message, place[:-1])
        if self.action == "drop":
            del parent[place[-1]]
        elif self.action == "replace":
            parent[place[-1]] = copy.deepcopy(self.value)
        else:
            parent[place[-1]] = self._near(parent[place[-1]])
        return message

    def _near(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {**value, **copy.deepcopy(self.nearby["object"])}
        if isinstance(value, str):
            return self.nearby["string"]
        if isinstance(value, int | float):
            return self.nearby["number"]
        return copy.deepcopy(self.value)


NEARBY = st.fixed_dictionaries(
    {
        "string": st.sampled_from([*DATE_TIMES, *DIGITS, *WORDS, 42, 1.5])
        | st.text(max_size=3),
        "number": st.sampled_from([0, 1, -1, 1.0, 1.5, 10**20, True, False, "1"]),
        "object": st.dictionaries(
            st.sampled_from(NAMES),
            SCALARS | st.dictionaries(st.sampled_from(NAMES), SCALARS, max_size=2),
            max_size=2,
        ),
    }
)
CHANGES = st.lists(
    st.builds(
        Change,
        where=st.integers(0, 10**6),
        action=st.sampled_from(["drop", "replace", "near", "near"]),
        value=JSON_VALUES,
        nearby=NEARBY,
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=250, deadline=None)
@given(CHANGES)
def test_every_event_check_agrees_with_its_validator(changes: list[Change]) -> None:
    """
    On each schema example, a few fields changed, the fast check and jsonschema agree.
    """
    for event, example in EXAMPLES:
        message: Any = copy.deepcopy(example)
        for change in changes:
            message = change.apply(message)

        assert check(event)(message) == validator(event).is_valid(message), event


def _is_even(value: object) -> bool:
    if not isinstance(value, int):
        return True

    return value % 2 == 0


_EVEN = FormatChecker(formats=())
_EVEN.checks("even")(_is_even)
#: Schemas that use what the event schemas do not: allOf, if/then/else,
#: formats on any type, unknown formats, and more.
SCHEMAS = {
    "all of": {"allOf": [{"type": "integer"}, {"minimum": 2}, {"format": "even"}]},
    "any of": {"anyOf": [{"type": "string", "minLength": 2}, {"format": "even"}]},
    "unknown format": {"type": "string", "format": "email"},
    "unused defs": {"$defs": {"text": {"type": "string"}}, "type": "integer"},
    "if then else": {
        "if": {"type": "object", "required": ["kind"]},
        "then": {"properties": {"kind": {"enum": ["a", "b"]}}},
        "else": {"type": "array", "minItems": 1, "items": {"pattern": "^[0-9]+$"}},
    },
    "closed object": {
        "type": "object",
        "properties": {"n": {"type": ["integer", "null"]}},
        "additionalProperties": {"const": "x"},
        "minProperties": 1,
        "maxProperties": 2,
    },
}


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(SCHEMAS)), value=JSON_VALUES)
def test_other_keywords_agree_with_jsonschema(name: str, value: Any) -> None:
    """
    On arbitrary values each keyword compiled agrees with jsonschema.
    """
    schema = SCHEMAS[name]
    compiled = compile_check(schema, formats={"even": _is_even})

    expected = Draft202012Validator(schema, format_checker=_EVEN).is_valid(value)
    assert compiled(value) == expected


def test_a_format_without_a_check_is_an_annotation() -> None:
    """
    A format the caller gives no check for accepts every value, as jsonschema.
    """
    compiled = compile_check({"format": "date-time"})

    assert compiled("yesterday")
    assert not compile_check({"format": "even"}, formats={"even": _is_even})(3)


@pytest.mark.parametrize(
    ("schema", "refusal"),
    [
        pytest.param({"type": "string", "maxLength": 3}, "'maxLength'", id="maxLength"),
        pytest.param({"oneOf": [{"type": "string"}]}, "'oneOf'", id="oneOf"),
        pytest.param({"not": {"type": "string"}}, "'not'", id="not"),
        pytest.param({"$ref": "#/$defs/x"}, "'\\$ref'", id="ref"),
        pytest.param({"enum": [1, 2]}, "string enums", id="integer enum"),
        pytest.param({"const": None}, "string enums", id="null const"),
        pytest.param(
            {"properties": {"a": {"maximum": 3}}}, "'maximum'", id="nested maximum"
        ),
    ],
)
def test_unknown_keywords_do_not_compile(schema: dict[str, Any], refusal: str) -> None:
    """
    The compiler refuses a keyword or value it does not implement.
    """
    with pytest.raises(ValueError, match=refusal):
        compile_check(schema)


def test_the_compiler_imports_only_the_standard_library() -> None:
    """
    _compile knows JSON Schema only: it imports nothing of the package or beyond.
    """
    source = resources.files(cio_destination).joinpath("_compile.py")
    tree = ast.parse(source.read_text("utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else []
        )
    }

    assert imported - {"__future__"} <= sys.stdlib_module_names
