"""
The emulated workspace, changed only through the methods here.

It holds people, devices, objects, relationships, suppressions, events and
delivery metrics.

Every method takes values that already passed the contract checks, so none
of them raises on input. The caller holds :attr:`Workspace.lock` around a
request's changes, which makes each request atomic with respect to others.

People are named by *references*: ``(kind, value)`` pairs where ``kind`` is
``id``, ``email``, ``phone``, ``cio_id`` or ``anonymous_id``. A person's key in
the state is the reference that created them, written ``kind:value`` (emails
lower-cased, as Customer.io matches them without regard to case).
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import attrs

#: The identifiers that create a person and that a person can hold besides
#: the cio_id the workspace gives them.
_OWN_KINDS = ("id", "email", "phone")

PersonRef = tuple[str, str]
ObjectRef = tuple[str, str]
"""``(object_type_id, object_id)``, or ``("cio_object_id", value)``."""

JSONDict = dict[str, Any]


def reference_key(ref: PersonRef) -> str:
    """
    The ``kind:value`` spelling of a person reference.
    """
    kind, value = ref
    return f"{kind}:{value.lower() if kind == 'email' else value}"


def object_key(object_type_id: str, object_id: str) -> str:
    """
    The ``type_id:object_id`` key of an object.
    """
    return f"{object_type_id}:{object_id}"


def _derived_id(prefix: str, key: str) -> str:
    # Derived from the creating key rather than from a counter, so that the
    # same operations give the same ids whatever order unrelated requests
    # arrive in.
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:12]


def _merge_attributes(target: JSONDict, changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        if value is None or value == "":
            target.pop(name, None)
        else:
            target[name] = copy.deepcopy(value)


@attrs.define
class _Person:
    key: str
    identifiers: dict[str, str]
    attributes: JSONDict = attrs.Factory(dict)


@attrs.define
class _Object:
    object_type_id: str
    object_id: str
    cio_object_id: str
    attributes: JSONDict = attrs.Factory(dict)


class Workspace:
    """
    The mutable state of one emulated Customer.io workspace.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """
        Empty the workspace and the request counters.
        """
        self._people: dict[str, _Person] = {}
        self._index: dict[str, str] = {}
        self._devices: dict[str, JSONDict] = {}
        self._objects: dict[str, _Object] = {}
        self._cio_objects: dict[str, str] = {}
        self._relationships: dict[tuple[str, str], JSONDict] = {}
        self._suppressed: dict[str, frozenset[str]] = {}
        self._events: list[JSONDict] = []
        self._event_ids: set[str] = set()
        self._metrics: list[JSONDict] = []
        self._requests: dict[str, dict[str, int]] = {}

    # -- reading -------------------------------------------------------------

    def snapshot(self) -> JSONDict:
        """
        The whole workspace as plain JSON-ready data (see the package docs).
        """
        people = {
            key: {
                "identifiers": dict(sorted(person.identifiers.items())),
                "attributes": copy.deepcopy(person.attributes),
            }
            for key, person in sorted(self._people.items())
        }
        objects = {
            key: {
                "object_type_id": item.object_type_id,
                "object_id": item.object_id,
                "cio_object_id": item.cio_object_id,
                "attributes": copy.deepcopy(item.attributes),
            }
            for key, item in sorted(self._objects.items())
        }
        relationships = []
        relationship_attributes: dict[str, dict[str, JSONDict]] = {}
        for (obj, person), attributes in sorted(self._relationships.items()):
            item = self._objects[obj]
            relationships.append(
                {
                    "object_type_id": item.object_type_id,
                    "object_id": item.object_id,
                    "person": person,
                }
            )
            if attributes:
                per_object = relationship_attributes.setdefault(obj, {})
                per_object[person] = copy.deepcopy(attributes)

        return {
            "people": people,
            "devices": copy.deepcopy(dict(sorted(self._devices.items()))),
            "objects": objects,
            "relationships": relationships,
            "relationship_attributes": relationship_attributes,
            "suppressed": sorted(self._suppressed),
            "events": copy.deepcopy(self._events),
            "metrics": copy.deepcopy(self._metrics),
            "requests": copy.deepcopy(self._requests),
        }

    def count_request(self, route: str, status: str) -> None:
        """
        Count one answered (or dropped) request to ``route``.
        """
        per_status = self._requests.setdefault(route, {})
        per_status[status] = per_status.get(status, 0) + 1

    def is_suppressed(self, ref: PersonRef) -> bool:
        """
        True when ``ref`` names a suppressed identifier.
        """
        return reference_key(ref) in self._suppressed

    # -- people --------------------------------------------------------------

    def _find(self, ref: PersonRef) -> _Person | None:
        key = self._index.get(reference_key(ref))
        return None if key is None else self._people[key]

    def _attach(self, person: _Person, kind: str, value: str) -> None:
        key = reference_key((kind, value))
        if key in self._index or key in self._suppressed:
            return

        previous = person.identifiers.get(kind)
        if previous is not None:
            self._index.pop(reference_key((kind, previous)), None)
        person.identifiers[kind] = value
        self._index[key] = person.key

    def _person(self, ref: PersonRef, *, create: bool = True) -> _Person | None:
        found = self._find(ref)
        if found is not None or not create:
            return found

        kind, _value = ref
        if kind not in _OWN_KINDS or self.is_suppressed(ref):
            return None

        key = reference_key(ref)
        person = _Person(key=key, identifiers={})
        self._people[key] = person
        self._attach(person, *ref)
        self._attach(person, "cio_id", _derived_id("", key))
        return person

    def actor_key(self, ref: PersonRef, *, create: bool = True) -> str | None:
        """
        The state key of whoever ``ref`` names, creating a missing person.

        An ``anonymous_id`` is its own key; None means the reference cannot
        act (suppressed, or an unknown ``cio_id``).
        """
        if ref[0] == "anonymous_id":
            return reference_key(ref)

        person = self._person(ref, create=create)
        return None if person is None else person.key

    def identify(
        self,
        ref: PersonRef,
        attributes: Mapping[str, Any],
        *,
        update_only: bool = False,
    ) -> str | None:
        """
        Create or update a person; returns their key, or None if ignored.

        ``email``, ``id`` and ``phone`` attributes also become identifiers
        when no one else holds them.
        """
        person = self._person(ref, create=not update_only)
        if person is None:
            return None

        _merge_attributes(person.attributes, attributes)
        for kind in _OWN_KINDS:
            value = attributes.get(kind)
            if isinstance(value, str) and value and kind not in person.identifiers:
                self._attach(person, kind, value)

        return person.key

    def _remove_person(self, person: _Person) -> None:
        del self._people[person.key]
        for kind, value in person.identifiers.items():
            self._index.pop(reference_key((kind, value)), None)
        for token in [t for t, d in self._devices.items() if d["owner"] == person.key]:
            del self._devices[token]
        for pair in [pair for pair in self._relationships if pair[1] == person.key]:
            del self._relationships[pair]

    def delete_person(self, ref: PersonRef) -> None:
        """
        Delete a person with their devices and relationships; no-op if missing.
        """
        person = self._find(ref)
        if person is not None:
            self._remove_person(person)

    def suppress(self, ref: PersonRef) -> None:
        """
        Delete a person and block every identifier they had, with ``ref``.
        """
        blocked = {reference_key(ref)}
        person = self._find(ref)
        if person is not None:
            blocked.update(
                reference_key((kind, value))
                for kind, value in person.identifiers.items()
                if kind != "cio_id"
            )
            self._remove_person(person)

        group = frozenset(blocked)
        for key in group:
            self._suppressed[key] = group

    def unsuppress(self, ref: PersonRef) -> None:
        """
        Free ``ref`` and the identifiers suppressed together with it.
        """
        group = self._suppressed.get(reference_key(ref), frozenset())
        for key in group:
            self._suppressed.pop(key, None)

    def merge(self, primary: PersonRef, secondary: PersonRef) -> None:
        """
        Fold ``secondary`` into ``primary``; no-op unless both exist.

        The primary's attribute values win; the secondary's devices,
        relationships and missing identifiers move over.
        """
        keep = self._find(primary)
        gone = self._find(secondary)
        if keep is None or gone is None or keep is gone:
            return

        for name, value in gone.attributes.items():
            keep.attributes.setdefault(name, value)
        for device in self._devices.values():
            if device["owner"] == gone.key:
                device["owner"] = keep.key
        for obj, person in list(self._relationships):
            if person == gone.key:
                attributes = self._relationships.pop((obj, person))
                self._relationships.setdefault((obj, keep.key), attributes)
        identifiers = dict(gone.identifiers)
        self._remove_person(gone)
        for kind in _OWN_KINDS:
            if kind in identifiers and kind not in keep.identifiers:
                self._attach(keep, kind, identifiers[kind])

    # -- devices -------------------------------------------------------------

    def add_device(
        self,
        ref: PersonRef,
        token: str,
        platform: str | None,
        last_used: int | None,
        attributes: Mapping[str, Any],
    ) -> None:
        """
        Add or update a device; a token owned by someone else moves over.

        ``last_used`` None stands for "the time of the request", which the
        state leaves out so that it stays reproducible.
        """
        owner = self.actor_key(ref)
        if owner is None or ref[0] == "anonymous_id":
            return

        device = self._devices.get(token)
        if device is None:
            device = {"owner": owner, "platform": platform, "last_used": None}
            device["attributes"] = {}
            self._devices[token] = device
        device["owner"] = owner
        if platform is not None:
            device["platform"] = platform
        device["last_used"] = last_used
        _merge_attributes(device["attributes"], attributes)

    def delete_device(self, ref: PersonRef, token: str) -> None:
        """
        Remove a person's device; a token of someone else is left alone.
        """
        person = self._find(ref)
        device = self._devices.get(token)
        if person is not None and device is not None and device["owner"] == person.key:
            del self._devices[token]

    # -- objects and relationships -------------------------------------------

    def _object(self, ref: ObjectRef, *, create: bool) -> _Object | None:
        first, second = ref
        if first == "cio_object_id":
            found = self._cio_objects.get(second)
            return None if found is None else self._objects[found]

        key = object_key(first, second)
        item = self._objects.get(key)
        if item is None and create:
            item = _Object(first, second, _derived_id("ob", key))
            self._objects[key] = item
            self._cio_objects[item.cio_object_id] = key
        return item

    def identify_object(self, ref: ObjectRef, attributes: Mapping[str, Any]) -> None:
        """
        Create or update an object (a ``cio_object_id`` only updates).
        """
        item = self._object(ref, create=True)
        if item is not None:
            _merge_attributes(item.attributes, attributes)

    def delete_object(self, ref: ObjectRef) -> None:
        """
        Delete an object and its relationships; no-op when it is missing.
        """
        item = self._object(ref, create=False)
        if item is None:
            return

        key = object_key(item.object_type_id, item.object_id)
        del self._objects[key]
        del self._cio_objects[item.cio_object_id]
        for pair in [pair for pair in self._relationships if pair[0] == key]:
            del self._relationships[pair]

    def relate(
        self, obj: ObjectRef, ref: PersonRef, attributes: Mapping[str, Any]
    ) -> None:
        """
        Relate a person (created if missing) to an object (likewise).
        """
        person = self.actor_key(ref)
        item = self._object(obj, create=True)
        if person is None or item is None:
            return

        pair = (object_key(item.object_type_id, item.object_id), person)
        _merge_attributes(self._relationships.setdefault(pair, {}), attributes)

    def unrelate(self, obj: ObjectRef, ref: PersonRef) -> None:
        """
        Remove a relationship; no-op when the object or the person is missing.
        """
        person = self.actor_key(ref, create=False)
        item = self._object(obj, create=False)
        if person is None or item is None:
            return

        pair = (object_key(item.object_type_id, item.object_id), person)
        self._relationships.pop(pair, None)

    # -- events and metrics --------------------------------------------------

    def record_event(
        self,
        ref: PersonRef,
        kind: str,
        name: str,
        *,
        event_id: str | None,
        timestamp: int | None,
        attributes: Mapping[str, Any],
    ) -> None:
        """
        Record an event; a repeated ``event_id`` is dropped as a duplicate.

        The person is created when missing; a suppressed one records nothing.
        """
        if event_id is not None and event_id in self._event_ids:
            return

        actor = self.actor_key(ref)
        if actor is None:
            return

        if event_id is not None:
            self._event_ids.add(event_id)
        self._events.append(
            {
                "person": actor,
                "type": kind,
                "name": name,
                "id": event_id,
                "timestamp": timestamp,
                "attributes": copy.deepcopy(dict(attributes)),
            }
        )

    def record_metric(
        self,
        delivery_id: str,
        metric: str,
        *,
        timestamp: int | None = None,
        recipient: str | int | None = None,
        reason: str | None = None,
        href: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """
        Record a delivery metric.
        """
        self._metrics.append(
            {
                "delivery_id": delivery_id,
                "metric": metric,
                "timestamp": timestamp,
                "recipient": recipient,
                "reason": reason,
                "href": href,
                "metadata": copy.deepcopy(dict(metadata)) if metadata else None,
            }
        )
