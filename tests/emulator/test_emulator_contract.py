"""
The Track schemas under ``schemas/track`` and the checks compiled from them.
"""

from __future__ import annotations

import ast
import copy
import json
from importlib import resources
from typing import Any

import pytest
import referencing
import referencing.jsonschema
from emulator_support import VALID_OPERATIONS
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import cio_destination.emulator
from cio_destination.emulator import _contract

FOLDER = resources.files("cio_destination") / "schemas" / "track"
NAMES = ["entity", "batch", "metrics", "customer", "device", "event"]


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FOLDER / f"{name}.json").read_text("utf-8"))
    return loaded


def _registry() -> referencing.Registry[Any]:
    resources_ = [
        referencing.jsonschema.DRAFT202012.create_resource(_load(name))
        for name in NAMES
    ]
    return referencing.Registry().with_resources(
        (resource.id() or "", resource) for resource in resources_
    )


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_valid_and_its_examples_pass(name: str) -> None:
    """
    Every bundled Track schema is valid Draft 2020-12 and accepts its examples.
    """
    schema = _load(name)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, registry=_registry())

    assert schema["$id"] == f"urn:cio-destination:track:{name}"
    assert schema["examples"]
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []


def test_the_whole_entity_schema_agrees_with_the_dispatch() -> None:
    """
    entity.json used whole, as other tools would, accepts each valid operation.
    """
    validator = Draft202012Validator(_load("entity"), registry=_registry())

    for operation in VALID_OPERATIONS.values():
        assert list(validator.iter_errors(operation)) == [], operation
        assert _contract.check_operation(operation) == []
    wrong = {"type": "person", "identifiers": {"id": "1"}, "action": "add_device"}
    assert not validator.is_valid(wrong)


def test_every_action_of_the_matrix_has_a_valid_example() -> None:
    """
    The shared valid operations cover the whole action matrix.
    """
    covered = {(op["type"], op["action"]) for op in VALID_OPERATIONS.values()}

    matrix = {
        (kind, action)
        for kind, names in _contract.actions().items()
        for action in names
    }
    assert covered == matrix


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2_000_000_000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "1", "0", "ios", "web", "+1415", "a@b.co", "x" * 151])
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _near(value: Any) -> st.SearchStrategy[Any]:
    """
    Values close to ``value`` that often cross one rule of the contract.
    """
    if isinstance(value, bool):
        return st.sampled_from([not value, 1, "true", None])
    if isinstance(value, int):
        return st.sampled_from([value + 0.5, float(value), -1, 0, True, str(value)])
    if isinstance(value, str):
        return st.sampled_from(
            ["", " ", "x" * 151, "9", "ios", "web", 7, None, value * 2]
        )
    if isinstance(value, dict):
        return st.sampled_from([{}, [], {**value, "extra": 1}, {"id": "1", **value}])
    return st.sampled_from([[], [{}], [value], {}])


@st.composite
def mutated_operations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """
    A valid operation's schema name, and the operation with one value changed.
    """
    original = draw(st.sampled_from(list(VALID_OPERATIONS.values())))
    name = f"{original['type']}_{original['action']}"
    operation = copy.deepcopy(original)
    path = draw(st.sampled_from(_paths(operation)[1:]))
    parent: Any = operation
    for part in path[:-1]:
        parent = parent[part]
    change = draw(st.sampled_from(["near", "near", "replace", "remove", "add"]))
    if change == "near":
        parent[path[-1]] = draw(_near(parent[path[-1]]))
    elif change == "replace":
        parent[path[-1]] = draw(JSON_VALUES)
    elif change == "remove" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["id", "email", "extra", "token", "name"]))] = draw(
            JSON_VALUES
        )
    return name, operation


@settings(max_examples=600, deadline=None)
@given(mutated_operations())
def test_the_compiled_check_agrees_with_jsonschema(
    case: tuple[str, dict[str, Any]],
) -> None:
    """
    On near-valid operations the fast check and jsonschema give the same verdict.
    """
    name, operation = case
    checker = _contract._operation_checkers()[name]

    assert checker.accepts(operation) == checker.validator.is_valid(operation)


def test_the_emulator_shares_no_code_with_the_translation() -> None:
    """
    No emulator module imports the core, the catalogue or the translation.
    """
    forbidden = {"_core", "_catalogue", "_translate", "_normalize", "_validate"}
    folder = resources.files(cio_destination.emulator)
    imported: set[str] = set()
    for entry in folder.iterdir():
        if not entry.name.endswith(".py"):
            continue
        tree = ast.parse(entry.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)

    assert any(name.startswith("cio_destination.emulator") for name in imported)
    assert {name.rsplit(".", 1)[-1] for name in imported} & forbidden == set()
