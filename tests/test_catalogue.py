"""
Tests for cio_destination._catalogue.
"""

from __future__ import annotations

import difflib

import hypothesis
import pytest
from hypothesis import strategies as st

from cio_destination import _catalogue
from cio_destination._catalogue import ALIASES, EVENTS, Recognition, recognize, spec


@pytest.mark.parametrize("name", list(EVENTS))
def test_canonical_name_is_recognized_as_itself(name: str) -> None:
    """
    Each canonical name routes to itself, with no alias warning.
    """
    recognition = recognize(name)

    assert recognition.canonical == name
    assert not recognition.is_alias
    assert recognition.warning is None


@pytest.mark.parametrize(("alias", "canonical"), list(ALIASES.items()))
def test_alias_routes_to_canonical_name_with_a_warning(
    alias: str, canonical: str
) -> None:
    """
    Each name of the docs' headings and examples routes to its canonical event.
    """
    recognition = recognize(alias)

    assert recognition.canonical == canonical
    assert recognition.is_alias
    assert recognition.warning is not None
    assert alias in recognition.warning
    assert canonical in recognition.warning


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("user deleted", "User Deleted"),
        ("USER DELETED", "User Deleted"),
        ("User  Deleted", "User Deleted"),
        ("user_deleted", "User Deleted"),
        ("UserDeleted", "User Deleted"),
        ("User Delted", "User Deleted"),
        ("Device Created Or Updated", "Device Created or Updated"),
        ("device-deleted", "Device Deleted"),
        ("report delivery event", "Report Delivery Event"),
        ("delete person", "User Deleted"),
        ("Delete Objects", "Object Deleted"),
    ],
)
def test_near_miss_is_not_routed_but_gets_a_suggestion(
    name: str, suggestion: str
) -> None:
    """
    Case, spacing and spelling variants stay ordinary but suggest the real name.
    """
    recognition = recognize(name)

    assert recognition.canonical is None
    assert recognition.suggestion == suggestion
    assert recognition.warning is not None
    assert f"did you mean {suggestion!r}" in recognition.warning


@pytest.mark.parametrize(
    "name",
    [
        "Order Completed",
        "Product Viewed",
        "Signed In",
        "Relationship Created",
        "Device Updated",
        "Account Deleted",
        "User Subscribed",
        "",
    ],
)
def test_ordinary_name_is_neither_routed_nor_suggested(name: str) -> None:
    """
    An ordinary event name, even one close in meaning, gets no suggestion.
    """
    recognition = recognize(name)

    assert recognition == Recognition(name)
    assert recognition.warning is None


@pytest.mark.parametrize(
    "name", [None, 42, ["User Deleted"], {"event": "User Deleted"}, b"User Deleted"]
)
def test_name_that_is_not_a_string_is_ordinary(name: object) -> None:
    """
    recognize() takes any value and calls a non-string an ordinary event.
    """
    recognition = recognize(name)

    assert recognition.canonical is None
    assert recognition.suggestion is None


def test_recognition_of_a_known_name_is_shared() -> None:
    """
    The hot path hands back one prepared answer per known name, built once.
    """
    assert recognize("User Deleted") is recognize("User Deleted")
    assert recognize("Delete Person") is recognize("Delete Person")


def test_every_alias_names_a_catalogue_event() -> None:
    """
    No alias points at a name the catalogue does not hold, or shadows one.
    """
    assert set(ALIASES.values()) <= set(EVENTS)
    assert not set(ALIASES) & set(EVENTS)


def test_spec_names_schema_and_target() -> None:
    """
    spec() gives the schema file and the Track API target of an event.
    """
    entry = spec("Object Deleted")

    assert entry.schema == "object_deleted.json"
    assert entry.target == "object delete"
    with pytest.raises(KeyError):
        spec("Delete Object")


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    known=st.sampled_from(sorted(_catalogue._FOLDED)),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["replace", "delete", "insert"]),
            st.integers(min_value=0, max_value=40),
            st.sampled_from("abcdefghijklmnopqrstuvwxyz "),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_spelling_prefilter_keeps_every_close_match(
    known: str, edits: list[tuple[str, int, str]]
) -> None:
    """
    The letter-pair prefilter never hides a name difflib would suggest.
    """
    letters = list(known)
    for operation, position, letter in edits:
        where = position % len(letters) if letters else 0
        if operation == "replace" and letters:
            letters[where] = letter
        elif operation == "delete" and letters:
            del letters[where]
        else:
            letters.insert(where, letter)
    typo = "".join(letters)

    everything = difflib.get_close_matches(
        typo, list(_catalogue._FOLDED), n=1, cutoff=_catalogue._SIMILARITY
    )
    prefiltered = difflib.get_close_matches(
        typo, _catalogue._spelling_candidates(typo), n=1, cutoff=_catalogue._SIMILARITY
    )

    assert prefiltered == everything
