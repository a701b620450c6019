"""
Tests for cio_destination._schemas and the files in schemas/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from cio_destination._catalogue import EVENTS
from cio_destination._schemas import (
    COMMON_SCHEMA,
    _merge,
    common_schema,
    event_schemas,
    parse_timestamp,
    registry,
    schema_examples,
    validator,
)

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
FILES = sorted(path.name for path in SCHEMAS.glob("*.json"))
EVENT_FILES = [name for name in FILES if name != COMMON_SCHEMA]
EXAMPLES = [
    pytest.param(spec.name, example, id=f"{spec.schema}-{number}")
    for spec in EVENTS.values()
    for number, example in enumerate(
        json.loads((SCHEMAS / spec.schema).read_text())["examples"]
    )
]


def _load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return schema


def _keys(node: object) -> list[str]:
    if isinstance(node, dict):
        return [
            key
            for name, value in node.items()
            if name != "examples"
            for key in [name, *_keys(value)]
        ]
    if isinstance(node, list):
        return [key for item in node for key in _keys(item)]
    return []


def test_one_schema_file_per_semantic_event() -> None:
    """
    The folder holds the common schema and exactly one file per catalogue event.
    """
    assert sorted(EVENT_FILES) == sorted(spec.schema for spec in EVENTS.values())
    assert COMMON_SCHEMA in FILES


@pytest.mark.parametrize("name", FILES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    """
    Each schema file is itself a valid Draft 2020-12 schema with an id and a title.
    """
    schema = _load(name)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:cio-destination:schema:")
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize("name", EVENT_FILES)
def test_event_schema_documents_itself(name: str) -> None:
    """
    Each event schema names its event, its required fields and has examples.
    """
    schema = _load(name)

    assert schema["properties"]["event"]["const"] == schema["title"]
    assert EVENTS[schema["title"]].schema == name
    assert "event" in schema["required"]
    assert len(schema["examples"]) >= 1


@pytest.mark.parametrize(("event", "example"), EXAMPLES)
def test_schema_example_validates(event: str, example: dict[str, Any]) -> None:
    """
    Each example of each schema passes that schema's validator as it stands.
    """
    errors = [error.message for error in validator(event).iter_errors(example)]

    assert errors == []
    assert example["event"] == event


@pytest.mark.parametrize("name", FILES)
def test_schema_validates_with_its_refs_resolved_through_the_registry(
    name: str,
) -> None:
    """
    A validator built on the plain file plus the registry resolves every $ref.
    """
    schema = _load(name)
    plain = Draft202012Validator(schema, registry=registry())

    for _event, example in schema_examples():
        if name == COMMON_SCHEMA or example["event"] != schema["title"]:
            continue
        assert plain.is_valid(example)


def test_shared_parts_are_referenced_not_repeated() -> None:
    """
    Every event schema takes the track call, and device or object parts, by $ref.
    """
    for name in EVENT_FILES:
        schema = _load(name)
        keys = set(_keys(schema))
        assert schema["allOf"] == [
            {"$ref": "urn:cio-destination:schema:common#/$defs/trackCall"}
        ]
        assert "token" not in keys
        assert "objectTypeId" not in keys


def test_object_type_id_defaults_to_one() -> None:
    """
    The object reference documents objectTypeId as an integer from 1, default 1.
    """
    object_type_id = common_schema()["$defs"]["objectReference"]["properties"][
        "objectTypeId"
    ]

    assert object_type_id == {**object_type_id, "type": "integer", "minimum": 1}
    assert object_type_id["default"] == 1


def test_report_content_event_requires_action_type_and_says_why() -> None:
    """
    Report Content Event requires actionType and notes the contract's activityType.
    """
    schema = event_schemas()["Report Content Event"]

    assert schema["properties"]["properties"]["required"] == ["actionType"]
    assert "activityType" in schema["description"]


def test_event_schemas_are_keyed_by_canonical_name_in_catalogue_order() -> None:
    """
    event_schemas() maps the nine canonical names to their schemas.
    """
    schemas = event_schemas()

    assert list(schemas) == list(EVENTS)
    assert len(schemas) == 9
    assert all(schemas[name]["title"] == name for name in schemas)


def test_schema_examples_yields_fresh_copies() -> None:
    """
    Changing a yielded example changes neither the schema nor the next yield.
    """
    first_event, first = next(iter(schema_examples()))
    first["event"] = "changed"

    again_event, again = next(iter(schema_examples()))

    assert again_event == first_event
    assert again["event"] == first_event
    assert event_schemas()[first_event]["examples"][0]["event"] == first_event


def test_schema_examples_cover_every_event() -> None:
    """
    Every semantic event has at least one example message.
    """
    assert {event for event, _ in schema_examples()} == set(EVENTS)


def test_packaged_schemas_are_the_files_in_schemas_folder() -> None:
    """
    The schemas loaded from the package are the plain files at the top level.
    """
    for name, spec in EVENTS.items():
        assert event_schemas()[name] == _load(spec.schema)
    assert common_schema() == _load(COMMON_SCHEMA)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-14T09:26:53.000+00:00", 1773480413),
        ("2026-03-14T09:26:53Z", 1773480413),
        ("2026-03-14T10:26:53+01:00", 1773480413),
        ("2026-03-14T09:26:53", 1773480413),
    ],
    ids=["milliseconds-offset", "zulu", "plus-one-hour", "naive-is-utc"],
)
def test_parse_timestamp_reads_iso_8601(text: str, expected: int) -> None:
    """
    ISO-8601 date-times, with or without an offset, give the same instant.
    """
    assert int(parse_timestamp(text).timestamp()) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "14/03/2026", "", "2026-02-30T10:00:00Z"]
)
def test_parse_timestamp_refuses_what_is_not_a_date_time(text: str) -> None:
    """
    Text that is not an ISO-8601 date-time, or no real day, raises ValueError.
    """
    with pytest.raises(ValueError):  # noqa: PT011
        parse_timestamp(text)


def _error_keys(
    checker: Draft202012Validator, message: object
) -> set[tuple[tuple[object, ...], str]]:
    return {
        (tuple(error.absolute_path), str(error.validator))
        for error in checker.iter_errors(message)
    }


PROBES = st.recursive(
    st.none()
    | st.integers(-1, 3)
    | st.text(max_size=4)
    | st.sampled_from(["ios", "1"]),
    lambda children: st.dictionaries(
        st.sampled_from(
            ["userId", "properties", "context", "device", "token", "type", "objectId"]
        ),
        children,
        max_size=3,
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    event=st.sampled_from(list(EVENTS)),
    field=st.sampled_from(
        ["userId", "anonymousId", "properties", "context", "timestamp"]
    ),
    value=PROBES,
)
def test_compiled_validator_agrees_with_the_plain_schema(
    event: str, field: str, value: object
) -> None:
    """
    The fast validator finds the same errors as one following the files' $refs.
    """
    plain = Draft202012Validator(
        event_schemas()[event],
        registry=registry(),
        format_checker=validator(event).format_checker,
    )
    example = next(message for name, message in schema_examples() if name == event)
    example[field] = value

    assert _error_keys(validator(event), example) == _error_keys(plain, example)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            {"properties": {"a": {}}, "additionalProperties": False},
            {"properties": {"b": {}}},
        ),
        ({"properties": {"b": {}}}, {"additionalProperties": False}),
        (
            {"properties": {"a": {}}, "additionalProperties": False},
            {"properties": {"b": {}}, "additionalProperties": False},
        ),
    ],
    ids=["closed-first", "closed-second", "both-closed"],
)
def test_merge_keeps_additional_properties_to_its_own_names(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """
    A merged schema rejects a name that one part's additionalProperties refuses.
    """
    merged = Draft202012Validator(_merge(first, second))

    assert not merged.is_valid({"b": 1})
