"""
Property-based tests of cio_destination._core.evaluate on arbitrary messages.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cio_destination._catalogue import ALIASES, EVENTS
from cio_destination._core import evaluate
from cio_destination._model import Evaluation
from cio_destination._schemas import schema_examples

NAMES = [*EVENTS, *ALIASES, "user deleted", "Order Completed"]
FIELDS = [
    "type",
    "event",
    "userId",
    "anonymousId",
    "timestamp",
    "messageId",
    "properties",
    "context",
    "device",
    "token",
    "app",
    "version",
    "objectId",
    "objectTypeId",
    "deliveryId",
    "metric",
    "actionType",
    "actionValue",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "track",
            "ios",
            "Android",
            "42",
            "jane@example.com",
            "cio_abc",
            "1",
            "2026-03-14T09:26:53Z",
            "opened",
            "viewed_content",
        ]
    )
)
KEYS = st.sampled_from(FIELDS) | st.text(max_size=8)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)
MESSAGES = st.dictionaries(KEYS, JSON_LIKE, max_size=6).flatmap(
    lambda base: st.fixed_dictionaries(
        {"event": st.sampled_from(NAMES) | JSON_LIKE},
        optional={
            "type": st.just("track") | JSON_LIKE,
            "userId": st.just("42") | JSON_LIKE,
            "properties": st.dictionaries(KEYS, JSON_LIKE, max_size=5) | JSON_LIKE,
            "context": st.fixed_dictionaries(
                {},
                optional={
                    "device": st.dictionaries(KEYS, JSON_LIKE, max_size=3) | JSON_LIKE,
                    "app": JSON_LIKE,
                },
            )
            | JSON_LIKE,
        },
    ).map(lambda fields: {**base, **fields})
)

EXAMPLES = [example for _, example in schema_examples()]
PLACES = ["", "properties", "context", "context.device", "context.app"]


def _perturb(example: dict[str, Any], place: str, key: str, value: Any) -> Any:
    message = copy.deepcopy(example)
    target: Any = message
    for part in filter(None, place.split(".")):
        if not isinstance(target, dict):
            return message
        target = target.setdefault(part, {})
    if isinstance(target, dict):
        target[key] = value
    return message


PERTURBED = st.builds(
    _perturb,
    st.sampled_from(EXAMPLES),
    st.sampled_from(PLACES),
    st.sampled_from(FIELDS),
    st.just(None) | JSON_LIKE,
)


def _check(evaluation: Evaluation) -> None:
    if evaluation.operations:
        assert evaluation.valid
        assert evaluation.semantic is not None
    for operation in evaluation.operations:
        json.dumps(operation.body)
    for error in evaluation.errors:
        assert isinstance(error.path, str)
        assert error.message


@settings(max_examples=200, deadline=None)
@given(
    message=MESSAGES,
    transport=st.sampled_from(["track", "pipelines"]),
    strict=st.booleans(),
)
def test_arbitrary_messages_never_raise_and_are_never_changed(
    message: dict[str, Any], transport: Any, strict: bool
) -> None:
    """
    Any JSON-like message is evaluated without raising and left as it was.
    """
    before = copy.deepcopy(message)

    evaluation = evaluate(message, transport=transport, strict=strict)

    _check(evaluation)
    assert message == before


@settings(max_examples=50, deadline=None)
@given(value=JSON_LIKE)
def test_any_json_value_as_a_message_is_reported_not_raised(value: Any) -> None:
    """
    A message that is any JSON value at all gives an evaluation, never an error.
    """
    _check(evaluate(value))


@settings(max_examples=200, deadline=None)
@given(message=PERTURBED, transport=st.sampled_from(["track", "pipelines"]))
def test_perturbed_examples_never_raise_and_are_never_changed(
    message: dict[str, Any], transport: Any
) -> None:
    """
    A valid example with one field set to anything is evaluated without raising.
    """
    before = copy.deepcopy(message)

    evaluation = evaluate(message, transport=transport)

    _check(evaluation)
    assert message == before
