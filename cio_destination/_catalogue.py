"""
The catalogue of Customer.io semantic events: names, aliases, schemas, targets.

:func:`recognize` runs on every ``track()`` of the host app, so it is a
dictionary lookup; the near-miss search behind a "did you mean" runs once per
distinct unknown name and is remembered.
"""

from __future__ import annotations

import difflib
import functools
import re
from types import MappingProxyType

import attrs


@attrs.frozen
class EventSpec:
    """
    One semantic event: its canonical name, schema file and Customer.io target.

    ``target`` names what the event becomes at the Track API: an entity type
    and action (``person delete``) or ``metric`` for the v1 metrics endpoint.
    """

    name: str
    schema: str
    target: str


EVENTS = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            EventSpec(
                "Device Created or Updated",
                "device_created_or_updated.json",
                "person add_device",
            ),
            EventSpec("Device Deleted", "device_deleted.json", "person delete_device"),
            EventSpec("User Deleted", "user_deleted.json", "person delete"),
            EventSpec("User Suppressed", "user_suppressed.json", "person suppress"),
            EventSpec(
                "User Unsuppressed", "user_unsuppressed.json", "person unsuppress"
            ),
            EventSpec("Object Deleted", "object_deleted.json", "object delete"),
            EventSpec(
                "Relationship Deleted",
                "relationship_deleted.json",
                "object delete_relationships",
            ),
            EventSpec("Report Delivery Event", "report_delivery_event.json", "metric"),
            EventSpec(
                "Report Content Event",
                "report_content_event.json",
                "person viewed_content / clicked_content",
            ),
        )
    }
)

#: The names Customer.io's docs use in headings and examples, and the
#: canonical event each stands for.
ALIASES = MappingProxyType(
    {
        "Create Device": "Device Created or Updated",
        "Update Device": "Device Created or Updated",
        "Create or Update Device": "Device Created or Updated",
        "Delete Device": "Device Deleted",
        "Delete Person": "User Deleted",
        "Suppress Person": "User Suppressed",
        "Unsuppress Person": "User Unsuppressed",
        "Delete Object": "Object Deleted",
        "Delete Relationship": "Relationship Deleted",
    }
)

_ROUTED = {**{name: name for name in EVENTS}, **ALIASES}
_SEPARATORS = re.compile(r"[\s_\-.]+")
_SIMILARITY = 0.88


@attrs.frozen
class Recognition:
    """
    What an event name is to the catalogue.

    ``canonical`` is the semantic event the name is routed to, or None when
    it is not routed; ``is_alias`` says it got there through an alias of the
    docs; ``suggestion`` is the canonical name a near miss (a case, spacing or
    spelling variant) probably meant, for a "did you mean".
    """

    name: object
    canonical: str | None = None
    is_alias: bool = False
    suggestion: str | None = None

    @property
    def warning(self) -> str | None:
        """
        The sentence to report for an alias or a near miss, or None.
        """
        if self.is_alias:
            return (
                f"event {self.name!r} is an alias of {self.canonical!r}; "
                f"sent as {self.canonical!r}"
            )
        if self.suggestion is not None:
            return (
                f"event {self.name!r} is not a Customer.io semantic event and is "
                f"sent as an ordinary event; did you mean {self.suggestion!r}?"
            )
        return None


def _fold(name: str) -> str:
    return _SEPARATORS.sub(" ", name).strip().casefold()


_FOLDED = {_fold(name): canonical for name, canonical in _ROUTED.items()}


_ROUTED_RECOGNITIONS = {
    name: Recognition(name, canonical=canonical, is_alias=canonical != name)
    for name, canonical in _ROUTED.items()
}


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


_FOLDED_BIGRAMS = {folded: _bigrams(folded) for folded in _FOLDED}
# A spelling close enough for _SIMILARITY shares most of its letter pairs;
# this cheap overlap keeps difflib away from the app's ordinary event names.
_BIGRAM_OVERLAP = 0.5


def _spelling_candidates(folded: str) -> list[str]:
    pairs = _bigrams(folded)
    return [
        known
        for known, known_pairs in _FOLDED_BIGRAMS.items()
        if 2 * len(pairs & known_pairs)
        >= _BIGRAM_OVERLAP * (len(pairs) + len(known_pairs))
    ]


@functools.lru_cache(maxsize=2048)
def _near_miss(name: str) -> Recognition:
    folded = _fold(name)
    suggestion = _FOLDED.get(folded)
    if suggestion is None:
        candidates = _spelling_candidates(folded)
        close = difflib.get_close_matches(folded, candidates, n=1, cutoff=_SIMILARITY)
        suggestion = _FOLDED[close[0]] if close else None

    return Recognition(name, suggestion=suggestion)


def recognize(event_name: object) -> Recognition:
    """
    Tell whether ``event_name`` is a semantic event, an alias, or a near miss.

    Never raises; a name that is not a string is an ordinary event.
    """
    if not isinstance(event_name, str):
        return Recognition(event_name)

    routed = _ROUTED_RECOGNITIONS.get(event_name)
    if routed is not None:
        return routed

    return _near_miss(event_name)


def spec(event: str) -> EventSpec:
    """
    The catalogue entry of the canonical semantic event name ``event``.

    :raises KeyError: ``event`` is not a canonical semantic event name.
    """
    return EVENTS[event]
