"""
The emulator's Pipelines API: auth, strict mode, calls and semantic events.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests
from emulator_support import Client, obj, person
from segment.analytics import Client as SegmentClient

from cio_destination.emulator import DEFAULT_SITE_ID, DEFAULT_WRITE_KEY, Emulator

STRICT = {"X-Strict-Mode": "1"}
AT = "2024-01-01T00:00:00Z"
AT_UNIX = 1704067200


def track_call(event: str, **fields: Any) -> dict[str, Any]:
    """
    A Pipelines track call by user 42.
    """
    return {"userId": "42", "event": event, **fields}


# -- authentication and modes ----------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("wrong", ""), (DEFAULT_WRITE_KEY, "secret"), (DEFAULT_SITE_ID, "")],
    ids=["none", "wrong-key", "with-password", "track-site-id"],
)
def test_unauthenticated_is_200_but_ignored(
    emulator: Emulator, auth: tuple[str, str] | None
) -> None:
    """
    Without the write key: 200 (401 if strict), and nothing is applied.
    """
    url = emulator.url + "/v1/identify"
    body = {"userId": "42", "traits": {"plan": "pro"}}

    permissive = requests.post(url, json=body, auth=auth, timeout=10)
    strict = requests.post(url, json=body, auth=auth, headers=STRICT, timeout=10)

    assert (permissive.status_code, permissive.json()) == (200, {})
    assert strict.status_code == 401
    assert emulator.state()["people"] == {}


def test_write_key_in_the_body_authenticates(emulator: Emulator) -> None:
    """
    A writeKey in the body, as segment-analytics-python sends it, is accepted.
    """
    body = {
        "writeKey": DEFAULT_WRITE_KEY,
        "batch": [{"type": "identify", "userId": "42", "traits": {"plan": "pro"}}],
    }

    response = requests.post(
        emulator.url + "/v1/batch", json=body, headers=STRICT, timeout=10
    )

    assert response.status_code == 200
    assert emulator.state()["people"]["id:42"]["attributes"] == {"plan": "pro"}


INVALID = {
    "not-json": b"{nope",
    "no-identity": {"type": "track", "event": "Signed Up"},
    "no-event": {"type": "track", "userId": "42"},
    "numeric-user-id": {"type": "identify", "userId": 42},
    "bad-timestamp": {
        "type": "track",
        "userId": "42",
        "event": "e",
        "timestamp": "later",
    },
    "unknown-type": {"type": "purchase", "userId": "42"},
    "alias-without-previous": {"type": "alias", "userId": "42"},
    "group-without-group-id": {"type": "group", "userId": "42"},
    "group-object-type": {
        "type": "group",
        "userId": "42",
        "groupId": "acme",
        "traits": {"object_type_id": "companies"},
    },
}


@pytest.mark.parametrize("message", INVALID.values(), ids=INVALID.keys())
def test_invalid_is_200_permissive_and_400_strict(
    pipelines: Client, emulator: Emulator, message: Any
) -> None:
    """
    An unusable call gets 200 and is dropped, or 400 with meta.errors if strict.
    """
    raw = (
        message
        if isinstance(message, bytes)
        else json.dumps({"batch": [message]}).encode()
    )
    headers = {"Content-Type": "application/json"}

    permissive = pipelines.session.post(
        pipelines.url + "/v1/batch", data=raw, headers=headers, timeout=10
    )
    strict = pipelines.session.post(
        pipelines.url + "/v1/batch", data=raw, headers={**headers, **STRICT}, timeout=10
    )

    assert (permissive.status_code, permissive.json()) == (200, {})
    assert strict.status_code == 400
    errors = strict.json()["meta"]["errors"]
    assert errors
    assert all(isinstance(error, str) for error in errors)
    state = emulator.state()
    assert (state["people"], state["events"], state["objects"]) == ({}, [], {})


def test_strict_batch_with_one_bad_call_changes_nothing(
    pipelines: Client, emulator: Emulator
) -> None:
    """
    Strict mode refuses a whole batch with one bad call; permissive drops only it.
    """
    body = {
        "batch": [
            {"type": "identify", "userId": "42", "traits": {"a": 1}},
            {"type": "track", "event": "no one"},
        ]
    }

    strict = pipelines.post("/v1/batch", body, headers=STRICT)
    assert strict.status_code == 400
    assert strict.json()["meta"]["errors"] == [
        "batch[1].userId or anonymousId is required"
    ]
    assert emulator.state()["people"] == {}

    permissive = pipelines.post("/v1/batch", body)
    assert permissive.status_code == 200
    assert list(emulator.state()["people"]) == ["id:42"]


def test_oversize_calls_are_dropped(pipelines: Client, emulator: Emulator) -> None:
    """
    A call of 32 KiB or more answers 200 but does not go through (400 if strict).
    """
    big = track_call("Big", properties={"blob": "x" * 33 * 1024})

    permissive = pipelines.post("/v1/track", big)
    strict = pipelines.post("/v1/track", big, headers=STRICT)
    in_batch = pipelines.post(
        "/v1/batch", {"batch": [{"type": "track", **big}]}, headers=STRICT
    )

    assert permissive.status_code == 200
    assert strict.status_code == 400
    assert in_batch.status_code == 400
    assert emulator.state()["events"] == []


def test_gzip_bodies_are_read(pipelines: Client, emulator: Emulator) -> None:
    """
    A gzip-encoded batch, as segment's client can send, is applied.
    """
    raw = gzip.compress(
        json.dumps({"batch": [{"type": "identify", "userId": "42"}]}).encode()
    )

    response = pipelines.session.post(
        pipelines.url + "/v1/batch",
        data=raw,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )

    assert response.status_code == 200
    assert list(emulator.state()["people"]) == ["id:42"]


# -- ordinary calls -----------------------------------------------------------------


def test_identify_track_page_screen(pipelines: Client, emulator: Emulator) -> None:
    """
    identify sets attributes; track, page and screen record events.
    """
    calls = [
        (
            "/v1/identify",
            {"userId": "42", "traits": {"email": "j@example.com", "plan": "pro"}},
        ),
        ("/v1/identify", {"traits": {"email": "bo@example.com"}}),
        ("/v1/identify", {"anonymousId": "a-1", "traits": {"plan": "free"}}),
        (
            "/v1/track",
            track_call("Signed Up", properties={"p": 1}, timestamp=AT, messageId="m1"),
        ),
        ("/v1/track", {"anonymousId": "a-1", "event": "Browsed"}),
        (
            "/v1/page",
            {"userId": "42", "name": "Pricing", "properties": {"path": "/pricing"}},
        ),
        ("/v1/screen", {"userId": "cio_" + "x", "name": "Home"}),
    ]
    assert [pipelines.post(path, body).status_code for path, body in calls] == [200] * 7

    state = emulator.state()
    assert sorted(state["people"]) == ["email:bo@example.com", "id:42"]
    assert state["people"]["id:42"]["identifiers"]["email"] == "j@example.com"
    assert state["events"] == [
        {
            "person": "id:42",
            "type": "event",
            "name": "Signed Up",
            "id": "m1",
            "timestamp": AT_UNIX,
            "attributes": {"p": 1},
        },
        {
            "person": "anonymous_id:a-1",
            "type": "event",
            "name": "Browsed",
            "id": None,
            "timestamp": None,
            "attributes": {},
        },
        {
            "person": "id:42",
            "type": "page",
            "name": "Pricing",
            "id": None,
            "timestamp": None,
            "attributes": {"path": "/pricing"},
        },
    ]


def test_email_user_id_names_the_person_by_email(
    pipelines: Client, emulator: Emulator
) -> None:
    """
    A userId that is an email address identifies the person by email.
    """
    pipelines.post("/v1/identify", {"userId": "Jane@Example.com", "traits": {"a": 1}})

    assert list(emulator.state()["people"]) == ["email:jane@example.com"]


def test_group_makes_an_object_and_a_relationship(
    pipelines: Client, emulator: Emulator
) -> None:
    """
    group creates the object (type 1 by default) and relates the person.
    """
    pipelines.post(
        "/v1/group",
        {
            "userId": "42",
            "groupId": "acme",
            "traits": {"name": "Acme", "relationshipAttributes": {"role": "admin"}},
        },
    )
    pipelines.post(
        "/v1/group",
        {
            "anonymousId": "a-1",
            "groupId": "course-1",
            "traits": {"object_type_id": "2"},
        },
    )

    state = emulator.state()
    assert sorted(state["objects"]) == ["1:acme", "2:course-1"]
    assert state["objects"]["1:acme"]["attributes"] == {"name": "Acme"}
    assert state["relationships"] == [
        {"object_type_id": "1", "object_id": "acme", "person": "id:42"},
        {"object_type_id": "2", "object_id": "course-1", "person": "anonymous_id:a-1"},
    ]
    assert state["relationship_attributes"] == {"1:acme": {"id:42": {"role": "admin"}}}


def test_alias_merges_the_previous_id(pipelines: Client, emulator: Emulator) -> None:
    """
    alias folds the person under previousId into the one under userId.
    """
    pipelines.post("/v1/identify", {"userId": "old", "traits": {"a": 1}})
    pipelines.post("/v1/identify", {"userId": "42", "traits": {"b": 2}})

    pipelines.post("/v1/alias", {"previousId": "old", "userId": "42"})

    people = emulator.state()["people"]
    assert list(people) == ["id:42"]
    assert people["id:42"]["attributes"] == {"a": 1, "b": 2}


def test_batch_context_applies_to_every_call(
    pipelines: Client, emulator: Emulator
) -> None:
    """
    A batch-level context reaches each call, here the device of a semantic event.
    """
    response = pipelines.post(
        "/v1/batch",
        {
            "context": {"device": {"token": "t-1", "type": "ios"}},
            "batch": [{"type": "track", **track_call("Device Created or Updated")}],
        },
        headers=STRICT,
    )

    assert response.status_code == 200
    assert emulator.state()["devices"]["t-1"]["owner"] == "id:42"


def test_call_context_wins_over_batch_context_field_by_field(
    pipelines: Client, emulator: Emulator
) -> None:
    """
    A call's own context keeps its device when the batch has a context too.
    """
    call = track_call(
        "Device Created or Updated",
        context={"device": {"token": "t-own", "type": "android"}},
    )
    response = pipelines.post(
        "/v1/batch",
        {
            "context": {
                "device": {"token": "t-batch", "type": "ios"},
                "app": {"version": "1.2"},
            },
            "batch": [{"type": "track", **call}],
        },
        headers=STRICT,
    )

    assert response.status_code == 200
    devices = emulator.state()["devices"]
    assert list(devices) == ["t-own"]
    assert devices["t-own"]["platform"] == "android"
    assert devices["t-own"]["attributes"] == {"app_version": "1.2"}


# -- semantic events ------------------------------------------------------------------

SETUP = [
    person("identify", attributes={"email": "jane@example.com"}),
    person("add_device", device={"token": "t-1", "platform": "ios"}),
    obj("identify", cio_relationships=[{"identifiers": {"id": "42"}}]),
    obj("identify", "acme", cio_relationships=[{"identifiers": {"id": "42"}}])
    | {"identifiers": {"object_type_id": "2", "object_id": "acme"}},
]

SEMANTIC = {
    "device-created": (
        track_call(
            "Device Created or Updated",
            context={
                "device": {"token": "t-2", "type": "android"},
                "app": {"version": "2.0"},
            },
            properties={"push_enabled": "true"},
            timestamp=AT,
        ),
        lambda s: (
            s["devices"]["t-2"]
            == {
                "owner": "id:42",
                "platform": "android",
                "last_used": AT_UNIX,
                "attributes": {"push_enabled": "true", "app_version": "2.0"},
            }
        ),
    ),
    "device-updated-without-type": (
        track_call("Device Created or Updated", context={"device": {"token": "t-1"}}),
        lambda s: s["devices"]["t-1"]["platform"] == "ios",
    ),
    "device-deleted": (
        track_call("Device Deleted", context={"device": {"token": "t-1"}}),
        lambda s: s["devices"] == {},
    ),
    "user-deleted": (
        track_call("User Deleted"),
        lambda s: s["people"] == {} and s["devices"] == {} and s["relationships"] == [],
    ),
    "user-deleted-by-email": (
        track_call("User Deleted") | {"userId": "jane@example.com"},
        lambda s: s["people"] == {},
    ),
    "user-suppressed": (
        track_call("User Suppressed", timestamp=AT),
        lambda s: (
            s["people"] == {} and s["suppressed"] == ["email:jane@example.com", "id:42"]
        ),
    ),
    "user-unsuppressed-of-someone-not-suppressed": (
        track_call("User Unsuppressed"),
        lambda s: list(s["people"]) == ["id:42"] and s["suppressed"] == [],
    ),
    "relationship-deleted-default-type": (
        track_call("Relationship Deleted", properties={"objectId": "acme"}),
        lambda s: (
            s["relationships"]
            == [{"object_type_id": "2", "object_id": "acme", "person": "id:42"}]
        ),
    ),
    "relationship-deleted-type-2": (
        track_call(
            "Relationship Deleted", properties={"objectId": "acme", "objectTypeId": 2}
        ),
        lambda s: [r["object_type_id"] for r in s["relationships"]] == ["1"],
    ),
    "relationship-deleted-missing-object": (
        track_call("Relationship Deleted", properties={"objectId": "globex"}),
        lambda s: len(s["relationships"]) == 2 and "1:globex" not in s["objects"],
    ),
    "object-deleted": (
        {
            "anonymousId": "x",
            "event": "Object Deleted",
            "properties": {"objectId": "acme"},
        },
        lambda s: list(s["objects"]) == ["2:acme"] and len(s["relationships"]) == 1,
    ),
    "object-deleted-string-type": (
        {
            "anonymousId": "x",
            "event": "Object Deleted",
            "properties": {"objectId": "acme", "objectTypeId": "2"},
        },
        lambda s: list(s["objects"]) == ["1:acme"],
    ),
    "object-deleted-missing-deletes-nothing": (
        {
            "anonymousId": "x",
            "event": "Object Deleted",
            "properties": {"objectId": "acme", "objectTypeId": 3},
        },
        lambda s: (
            sorted(s["objects"]) == ["1:acme", "2:acme"]
            and len(s["relationships"]) == 2
        ),
    ),
    "report-delivery-event": (
        {
            "anonymousId": "x",
            "event": "Report Delivery Event",
            "timestamp": AT,
            "properties": {
                "deliveryId": "d-1",
                "metric": "clicked",
                "recipient": "t-1",
                "actionValue": "enable push",
                "href": "app://settings",
            },
        },
        lambda s: (
            s["metrics"]
            == [
                {
                    "delivery_id": "d-1",
                    "metric": "clicked",
                    "timestamp": AT_UNIX,
                    "recipient": "t-1",
                    "reason": None,
                    "href": "app://settings",
                    "metadata": {"action_value": "enable push"},
                }
            ]
        ),
    ),
    "report-content-event": (
        {
            "anonymousId": "a-9",
            "event": "Report Content Event",
            "properties": {"actionType": "viewed_content", "contentId": 3},
        },
        lambda s: (
            s["events"][-1]["person"] == "anonymous_id:a-9"
            and s["events"][-1]["type"] == "viewed_content"
            and s["events"][-1]["attributes"] == {"contentId": 3}
        ),
    ),
    "application-installed-is-an-ordinary-event": (
        track_call("Application Installed", context={"device": {"token": "t-9"}}),
        lambda s: (
            "t-9" not in s["devices"]
            and s["events"][-1]["name"] == "Application Installed"
        ),
    ),
}


@pytest.mark.parametrize(("message", "check"), SEMANTIC.values(), ids=SEMANTIC.keys())
def test_semantic_event_acts_on_the_workspace(
    track: Client, pipelines: Client, emulator: Emulator, message: Any, check: Any
) -> None:
    """
    Each semantic event sent to /v1/track acts on the workspace as documented.
    """
    assert track.batch(*SETUP).status_code == 200

    response = pipelines.post("/v1/track", message, headers=STRICT)

    assert (response.status_code, response.json()) == (200, {})
    assert check(emulator.state())


SEMANTIC_INVALID = {
    "device-in-properties-only": track_call(
        "Device Created or Updated",
        properties={"device": {"token": "t-2", "type": "ios"}},
    ),
    "device-type": track_call(
        "Device Created or Updated", context={"device": {"token": "t-2", "type": "iOS"}}
    ),
    "device-deleted-without-user": {
        "anonymousId": "a",
        "event": "Device Deleted",
        "context": {"device": {"token": "t-1"}},
    },
    "user-deleted-anonymous": {"anonymousId": "a", "event": "User Deleted"},
    "relationship-deleted-without-object": track_call(
        "Relationship Deleted", properties={}
    ),
    "relationship-deleted-object-type-zero": track_call(
        "Relationship Deleted", properties={"objectId": "acme", "objectTypeId": 0}
    ),
    "object-deleted-without-anonymous-id": track_call(
        "Object Deleted", properties={"objectId": "acme"}
    ),
    "object-deleted-numeric-object-id": {
        "anonymousId": "x",
        "event": "Object Deleted",
        "properties": {"objectId": 7},
    },
    "report-delivery-other-metric": {
        "anonymousId": "x",
        "event": "Report Delivery Event",
        "properties": {"deliveryId": "d-1", "metric": "bounced"},
    },
    "report-delivery-without-delivery-id": {
        "anonymousId": "x",
        "event": "Report Delivery Event",
        "properties": {"metric": "opened"},
    },
    "report-content-action": {
        "anonymousId": "x",
        "event": "Report Content Event",
        "properties": {"actionType": "opened"},
    },
}


@pytest.mark.parametrize(
    "message", SEMANTIC_INVALID.values(), ids=SEMANTIC_INVALID.keys()
)
def test_unusable_semantic_event_changes_nothing(
    track: Client, pipelines: Client, emulator: Emulator, message: Any
) -> None:
    """
    A semantic event missing what it needs is dropped (400 in strict mode).
    """
    track.batch(*SETUP)
    before = emulator.state()

    permissive = pipelines.post("/v1/track", message)
    strict = pipelines.post("/v1/track", message, headers=STRICT)

    assert permissive.status_code == 200
    assert strict.status_code == 400
    after = emulator.state()
    for key in ("people", "devices", "objects", "relationships", "events", "metrics"):
        assert after[key] == before[key], key


def test_suppressed_user_is_not_recreated_by_pipelines(
    pipelines: Client, emulator: Emulator
) -> None:
    """
    After User Suppressed, identify and track are ignored until User Unsuppressed.
    """
    pipelines.post("/v1/identify", {"userId": "42", "traits": {"plan": "pro"}})
    pipelines.post("/v1/track", track_call("User Suppressed"))
    pipelines.post("/v1/identify", {"userId": "42", "traits": {"plan": "free"}})
    pipelines.post("/v1/track", track_call("Purchased"))

    state = emulator.state()
    assert (state["people"], state["events"], state["suppressed"]) == (
        {},
        [],
        ["id:42"],
    )

    pipelines.post("/v1/track", track_call("User Unsuppressed"))
    pipelines.post("/v1/identify", {"userId": "42", "traits": {"plan": "free"}})

    assert emulator.state()["people"]["id:42"]["attributes"] == {"plan": "free"}


def test_the_segment_client_reaches_the_emulator(emulator: Emulator) -> None:
    """
    segment-analytics-python, pointed at the emulator, delivers a semantic event.
    """
    client = SegmentClient(DEFAULT_WRITE_KEY, host=emulator.url, sync_mode=True)
    client.identify("42", {"plan": "pro"})
    client.track(
        "42",
        "Device Created or Updated",
        {"push_enabled": "true"},
        context={"device": {"token": "t-1", "type": "ios"}},
    )
    client.track("42", "Signed Up", {"plan": "pro"})

    state = emulator.state()
    assert state["people"]["id:42"]["attributes"] == {"plan": "pro"}
    assert state["devices"]["t-1"]["owner"] == "id:42"
    assert state["devices"]["t-1"]["platform"] == "ios"
    assert isinstance(state["devices"]["t-1"]["last_used"], int)
    assert [event["name"] for event in state["events"]] == ["Signed Up"]
    assert state["requests"]["/v1/batch"] == {"200": 3}
