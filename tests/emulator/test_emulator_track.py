"""
The emulator's Track API: answers, contract checks, limits and workspace effects.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from emulator_support import VALID_OPERATIONS, Client, obj, person

from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID, Emulator

# -- answers and authentication -----------------------------------------------


def test_entity_applies_an_identify(track: Client, emulator: Emulator) -> None:
    """
    A valid entity request answers 200 {} and creates the person.
    """
    response = track.entity(person("identify", attributes={"plan": "pro"}))

    assert (response.status_code, response.json()) == (200, {})
    assert response.headers["Content-Type"] == "application/json"
    people = emulator.state()["people"]
    assert list(people) == ["id:42"]
    assert people["id:42"]["attributes"] == {"plan": "pro"}
    assert people["id:42"]["identifiers"]["id"] == "42"


@pytest.mark.parametrize(
    "auth",
    [None, (DEFAULT_SITE_ID, "wrong"), ("other-site", DEFAULT_API_KEY)],
    ids=["no-credentials", "wrong-key", "wrong-site"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v2/entity", person("identify")),
        ("POST", "/api/v2/batch", {"batch": [person("identify")]}),
        ("PUT", "/api/v1/customers/42", {"plan": "pro"}),
        ("POST", "/api/v1/customers/42/suppress", None),
        ("GET", "/api/v1/accounts/region", None),
    ],
    ids=["entity", "batch", "v1-identify", "v1-suppress", "region"],
)
def test_bad_credentials_get_401_and_change_nothing(
    emulator: Emulator, auth: Any, method: str, path: str, body: Any
) -> None:
    """
    Track requests without the site id and API key are refused with 401.
    """
    response = requests.request(
        method, emulator.url + path, json=body, auth=auth, timeout=10
    )

    assert response.status_code == 401
    state = emulator.state()
    assert state["people"] == {}
    assert state["suppressed"] == []


def test_v2_401_has_the_errors_shape(emulator: Emulator) -> None:
    """
    A v2 401 names the authorization as the field at fault.
    """
    response = requests.post(
        emulator.url + "/api/v2/entity", json=person("identify"), timeout=10
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "authorization"
    assert DEFAULT_API_KEY not in response.text


def test_metrics_need_no_credentials_but_refuse_wrong_ones(emulator: Emulator) -> None:
    """
    /api/v1/metrics takes anonymous requests, as documented, but not a wrong key.
    """
    body = {"delivery_id": "d-1", "metric": "opened"}
    anonymous = requests.post(emulator.url + "/api/v1/metrics", json=body, timeout=10)
    wrong = requests.post(
        emulator.url + "/api/v1/metrics",
        json=body,
        auth=(DEFAULT_SITE_ID, "wrong"),
        timeout=10,
    )

    assert anonymous.status_code == 200
    assert wrong.status_code == 401
    assert len(emulator.state()["metrics"]) == 1


def test_region_names_the_emulator(track: Client, emulator: Emulator) -> None:
    """
    The region endpoint answers with the emulator's own URL.
    """
    response = track.get("/api/v1/accounts/region")

    assert response.status_code == 200
    assert response.json() == {"url": emulator.url, "region": "us", "environment_id": 1}


def test_unknown_path_and_wrong_method(track: Client, emulator: Emulator) -> None:
    """
    An unknown path answers 404 and a known one with the wrong method 405.
    """
    missing = track.post("/api/v3/entity", {})
    wrong_method = track.get("/api/v2/batch")

    assert missing.status_code == 404
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"
    assert emulator.state()["requests"]["/api/v2/batch"] == {"405": 1}


# -- the contract -------------------------------------------------------------


@pytest.mark.parametrize(
    "operation", VALID_OPERATIONS.values(), ids=VALID_OPERATIONS.keys()
)
def test_every_action_of_the_matrix_is_accepted(
    track: Client, operation: dict[str, Any]
) -> None:
    """
    Each type and action pair of the contract, well formed, answers 200 {}.
    """
    response = track.entity(operation)

    assert (response.status_code, response.json()) == (200, {})


def _big(size: int) -> str:
    return "x" * size


INVALID = {
    "two-identifiers": (
        person("identify", {"id": "1", "email": "a@example.com"}),
        "identifiers",
        "maxProperties",
    ),
    "no-identifier": (person("identify", {}), "identifiers", "minProperties"),
    "identifiers-missing": (
        {"type": "person", "action": "identify"},
        "identifiers",
        "required",
    ),
    "anonymous-id-on-identify": (
        person("identify", {"anonymous_id": "a-1"}),
        "identifiers",
        "additionalProperties",
    ),
    "empty-id": (person("identify", {"id": ""}), "identifiers.id", "minLength"),
    "integer-id": (person("identify", {"id": 42}), "identifiers.id", "type"),
    "phone-not-e164": (
        person("identify", {"phone": "4155552671"}),
        "identifiers.phone",
        "pattern",
    ),
    "unknown-type": ({"type": "account", "action": "identify"}, "type", "enum"),
    "unknown-action": (person("fly"), "action", "enum"),
    "device-action-on-object": (obj("add_device"), "action", "enum"),
    "integer-object-type-id": (
        {
            "type": "object",
            "identifiers": {"object_type_id": 1, "object_id": "acme"},
            "action": "delete",
        },
        "identifiers.object_type_id",
        "type",
    ),
    "object-type-id-not-digits": (
        {
            "type": "object",
            "identifiers": {"object_type_id": "accounts", "object_id": "acme"},
            "action": "delete",
        },
        "identifiers.object_type_id",
        "pattern",
    ),
    "object-id-missing": (
        {"type": "object", "identifiers": {"object_type_id": "1"}, "action": "delete"},
        "identifiers.object_id",
        "required",
    ),
    "device-platform": (
        person("add_device", device={"token": "t", "platform": "windows"}),
        "device.platform",
        "enum",
    ),
    "device-platform-missing": (
        person("add_device", device={"token": "t"}),
        "device.platform",
        "required",
    ),
    "device-token-missing": (
        person("delete_device", device={}),
        "device.token",
        "required",
    ),
    "device-attribute-not-string": (
        person(
            "add_device",
            device={
                "token": "t",
                "platform": "ios",
                "attributes": {"push_enabled": True},
            },
        ),
        "device.attributes.push_enabled",
        "enum",
    ),
    "last-used-float": (
        person(
            "add_device", device={"token": "t", "platform": "ios", "last_used": 1.5}
        ),
        "device.last_used",
        "type",
    ),
    "timestamp-iso-string": (
        person("event", name="e", timestamp="2024-01-01T00:00:00Z"),
        "timestamp",
        "type",
    ),
    "event-without-name": (person("event"), "name", "required"),
    "unknown-field": (
        person("identify", attribute={"plan": "pro"}),
        "attribute",
        "unknown",
    ),
    "delivery-metric": (
        {
            "type": "delivery",
            "action": "event",
            "identifiers": {"id": "d"},
            "name": "clicked",
            "attributes": {"device_token": "t"},
        },
        "name",
        "enum",
    ),
    "relationships-empty": (
        person("add_relationships", cio_relationships=[]),
        "cio_relationships",
        "minItems",
    ),
    "merge-without-secondary": (
        {"type": "person", "action": "merge", "primary": {"id": "1"}},
        "secondary",
        "required",
    ),
    "id-over-150-bytes": (
        person("identify", {"id": _big(151)}),
        "identifiers.id",
        "limit",
    ),
    "object-id-over-150-bytes": (
        obj("identify", object_id="é" * 76),
        "identifiers.object_id",
        "limit",
    ),
    "attribute-value-over-1000-bytes": (
        person("identify", attributes={"bio": _big(1001)}),
        "attributes.bio",
        "limit",
    ),
    "attribute-name-over-150-bytes": (
        person("identify", attributes={_big(151): 1}),
        f"attributes.{_big(151)}",
        "limit",
    ),
    "over-300-attributes": (
        person("identify", attributes={f"a{i}": i for i in range(301)}),
        "attributes",
        "limit",
    ),
    "event-name-over-100-bytes": (person("event", name=_big(101)), "name", "limit"),
    "relationship-attribute-over-1000-bytes": (
        obj(
            "add_relationships",
            cio_relationships=[
                {
                    "identifiers": {"id": "1"},
                    "relationship_attributes": {"r": _big(1001)},
                }
            ],
        ),
        "cio_relationships[0].relationship_attributes.r",
        "limit",
    ),
}


@pytest.mark.parametrize(
    ("operation", "field", "reason"), INVALID.values(), ids=INVALID.keys()
)
def test_a_contract_breach_gets_400_naming_the_field(
    track: Client,
    emulator: Emulator,
    operation: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    """
    An invalid entity answers 400 naming the field and rule, and does nothing.
    """
    response = track.entity(operation)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"field": field, "reason": reason} in [
        {"field": error["field"], "reason": error["reason"]} for error in errors
    ]
    assert all(set(error) == {"reason", "field", "message"} for error in errors)
    assert field.split(".")[-1][:20] in errors[0]["message"]
    state = emulator.state()
    assert (state["people"], state["objects"], state["events"]) == ({}, {}, [])


def test_the_limits_allow_their_exact_size(track: Client) -> None:
    """
    Values exactly at the byte limits are accepted.
    """
    response = track.entity(
        person(
            "identify",
            {"id": _big(150)},
            attributes={_big(150): _big(1000), **{f"a{i}": i for i in range(299)}},
        )
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "json"),
        (b"[]", "type"),
        (b'{"batch": []}', "minItems"),
        (b'{"batch": {}}', "type"),
        (b'{"operations": []}', "required"),
    ],
    ids=["not-json", "array", "empty-batch", "batch-object", "no-batch"],
)
def test_a_malformed_batch_gets_400(track: Client, raw: bytes, reason: str) -> None:
    """
    A batch malformed as a whole answers 400 without batch_index.
    """
    response = track.session.post(
        track.url + "/api/v2/batch",
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert reason in {error["reason"] for error in errors}
    assert all("batch_index" not in error for error in errors)


def test_entity_of_32_kib_is_refused(track: Client, emulator: Emulator) -> None:
    """
    An entity request of 32 KiB or more answers 400 with a limit error.
    """
    operation = person("event", name="big", attributes={"blob": _big(32 * 1024)})

    response = track.entity(operation)

    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "limit"
    assert emulator.state()["events"] == []


def test_batch_of_500_kib_is_refused_whole(track: Client, emulator: Emulator) -> None:
    """
    A batch body of 500 KiB or more answers 400 and applies nothing.
    """
    operations = [
        person("event", {"id": f"p{i}"}, name="e", attributes={"blob": _big(20_000)})
        for i in range(26)
    ]

    response = track.batch(*operations)

    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "limit"
    assert emulator.state()["events"] == []


def test_batch_item_over_32_kib_is_named(track: Client, emulator: Emulator) -> None:
    """
    An item over 32 KiB gets a 207 error at its index; the others are applied.
    """
    small = person("event", name="small")
    large = person("event", name="large", attributes={"blob": _big(33 * 1024)})

    response = track.batch(small, large, small)

    assert response.status_code == 207
    (error,) = response.json()["errors"]
    assert (error["batch_index"], error["reason"]) == (1, "limit")
    assert [event["name"] for event in emulator.state()["events"]] == ["small", "small"]


def test_500_operations_with_one_bad_item(track: Client, emulator: Emulator) -> None:
    """
    A 500-operation batch with one bad item gets a 207 naming it; 499 are applied.
    """
    operations = [
        person("identify", {"id": f"user-{i}"}, attributes={"n": i}) for i in range(500)
    ]
    operations[321] = person("identify", {"id": "user-321", "email": "x@example.com"})

    response = track.batch(*operations)

    assert response.status_code == 207
    errors = response.json()["errors"]
    assert [error["batch_index"] for error in errors] == [321]
    assert errors[0]["field"] == "identifiers"
    assert set(errors[0]) == {"batch_index", "reason", "field", "message"}
    people = emulator.state()["people"]
    assert len(people) == 499
    assert "id:user-321" not in people
    assert people["id:user-499"]["attributes"] == {"n": 499}


def test_a_valid_batch_answers_200(track: Client, emulator: Emulator) -> None:
    """
    A batch of valid mixed operations answers 200 {} and applies them in order.
    """
    response = track.batch(
        person("identify", attributes={"plan": "free"}),
        obj("identify", attributes={"name": "Acme"}),
        obj("add_relationships", cio_relationships=[{"identifiers": {"id": "42"}}]),
        person("identify", attributes={"plan": "pro"}),
    )

    assert (response.status_code, response.json()) == (200, {})
    state = emulator.state()
    assert state["people"]["id:42"]["attributes"] == {"plan": "pro"}
    assert state["relationships"] == [
        {"object_type_id": "1", "object_id": "acme", "person": "id:42"}
    ]


# -- workspace effects --------------------------------------------------------


def test_identify_merges_attributes_and_removes_null_and_empty(
    track: Client, emulator: Emulator
) -> None:
    """
    Later identifies update attributes; null and "" remove them.
    """
    track.batch(
        person("identify", attributes={"a": 1, "b": 2, "c": 3}),
        person("identify", attributes={"a": 10, "b": None, "c": ""}),
    )

    assert emulator.state()["people"]["id:42"]["attributes"] == {"a": 10}


def test_update_only_identify_creates_no_one(track: Client, emulator: Emulator) -> None:
    """
    attributes._update true updates someone who exists and creates no one.
    """
    track.batch(
        person("identify", {"id": "new"}, attributes={"_update": True, "a": 1}),
        person("identify", attributes={"a": 1}),
        person("identify", attributes={"_update": True, "a": 2}),
    )

    people = emulator.state()["people"]
    assert list(people) == ["id:42"]
    assert people["id:42"]["attributes"] == {"a": 2}


def test_email_attribute_becomes_an_identifier(
    track: Client, emulator: Emulator
) -> None:
    """
    An email attribute lets later operations name the person by any-case email.
    """
    track.batch(
        person("identify", attributes={"email": "Jane@Example.com"}),
        person("event", {"email": "jane@example.com"}, name="opened_app"),
        person("identify", {"email": "JANE@example.com"}, attributes={"plan": "pro"}),
    )

    state = emulator.state()
    assert list(state["people"]) == ["id:42"]
    assert state["people"]["id:42"]["identifiers"]["email"] == "Jane@Example.com"
    assert state["people"]["id:42"]["attributes"]["plan"] == "pro"
    assert state["events"][0]["person"] == "id:42"


def test_cio_id_names_but_never_creates(track: Client, emulator: Emulator) -> None:
    """
    A person's cio_id reaches them, and an unknown cio_id creates no one.
    """
    track.entity(person("identify"))
    cio_id = emulator.state()["people"]["id:42"]["identifiers"]["cio_id"]

    track.batch(
        person("identify", {"cio_id": cio_id}, attributes={"via": "cio"}),
        person("identify", {"cio_id": "unknown"}, attributes={"via": "cio"}),
    )

    people = emulator.state()["people"]
    assert list(people) == ["id:42"]
    assert people["id:42"]["attributes"] == {"via": "cio"}


def test_delete_takes_devices_and_relationships(
    track: Client, emulator: Emulator
) -> None:
    """
    Deleting a person removes their devices and relationships too.
    """
    track.batch(
        person("add_device", device={"token": "t-1", "platform": "ios"}),
        person(
            "add_relationships",
            cio_relationships=[{"identifiers": obj("")["identifiers"]}],
        ),
        person("add_device", {"id": "7"}, device={"token": "t-7", "platform": "ios"}),
        person("delete"),
    )

    state = emulator.state()
    assert list(state["people"]) == ["id:7"]
    assert list(state["devices"]) == ["t-7"]
    assert state["relationships"] == []
    assert list(state["objects"]) == ["1:acme"]


def test_devices_by_token(track: Client, emulator: Emulator) -> None:
    """
    A device is keyed by token, moves with it, and only its owner deletes it.
    """
    track.batch(
        person(
            "add_device",
            device={
                "token": "t-1",
                "platform": "ios",
                "attributes": {"app_version": "1"},
            },
        ),
        person(
            "add_device", {"id": "7"}, device={"token": "t-1", "platform": "android"}
        ),
        person("delete_device", device={"token": "t-1"}),
    )

    devices = emulator.state()["devices"]
    assert devices == {
        "t-1": {
            "owner": "id:7",
            "platform": "android",
            "last_used": None,
            "attributes": {"app_version": "1"},
        }
    }

    track.entity(person("delete_device", {"id": "7"}, device={"token": "t-1"}))

    assert emulator.state()["devices"] == {}


def test_object_identify_relates_people(track: Client, emulator: Emulator) -> None:
    """
    An object identify with relationships creates the object, people and links.
    """
    track.entity(
        obj(
            "identify",
            attributes={"name": "Acme"},
            cio_relationships=[
                {
                    "identifiers": {"id": "42"},
                    "relationship_attributes": {"role": "admin"},
                },
                {"identifiers": {"email": "bo@example.com"}},
            ],
        )
    )

    state = emulator.state()
    assert state["objects"]["1:acme"]["attributes"] == {"name": "Acme"}
    assert state["relationships"] == [
        {"object_type_id": "1", "object_id": "acme", "person": "email:bo@example.com"},
        {"object_type_id": "1", "object_id": "acme", "person": "id:42"},
    ]
    assert state["relationship_attributes"] == {"1:acme": {"id:42": {"role": "admin"}}}


def test_object_delete_removes_its_relationships(
    track: Client, emulator: Emulator
) -> None:
    """
    Deleting an object also removes its relationships; a missing one is a no-op.
    """
    related = [{"identifiers": {"id": "42"}}]
    track.batch(
        obj("identify", cio_relationships=related),
        obj("identify", "globex", cio_relationships=related),
        obj("delete"),
        obj("delete", "missing"),
    )

    state = emulator.state()
    assert list(state["objects"]) == ["1:globex"]
    assert state["relationships"] == [
        {"object_type_id": "1", "object_id": "globex", "person": "id:42"}
    ]


def test_relationship_delete_of_a_missing_object_is_a_no_op(
    track: Client, emulator: Emulator
) -> None:
    """
    Deleting a relationship to a missing object creates and removes nothing.
    """
    track.batch(
        obj("identify", cio_relationships=[{"identifiers": {"id": "42"}}]),
        person(
            "delete_relationships",
            cio_relationships=[
                {"identifiers": {"object_type_id": "2", "object_id": "acme"}}
            ],
        ),
        obj(
            "delete_relationships",
            "missing",
            cio_relationships=[{"identifiers": {"id": "42"}}],
        ),
    )

    state = emulator.state()
    assert list(state["objects"]) == ["1:acme"]
    assert len(state["relationships"]) == 1

    track.entity(
        obj("delete_relationships", cio_relationships=[{"identifiers": {"id": "42"}}])
    )

    assert emulator.state()["relationships"] == []


def test_cio_object_id_updates_but_never_creates(
    track: Client, emulator: Emulator
) -> None:
    """
    An object's cio_object_id reaches it; an unknown one creates nothing.
    """
    track.entity(obj("identify"))
    cio_object_id = emulator.state()["objects"]["1:acme"]["cio_object_id"]
    by_cio = {"type": "object", "action": "identify", "attributes": {"a": 1}}

    track.batch(
        {**by_cio, "identifiers": {"cio_object_id": cio_object_id}},
        {**by_cio, "identifiers": {"cio_object_id": "unknown"}},
    )

    objects = emulator.state()["objects"]
    assert list(objects) == ["1:acme"]
    assert objects["1:acme"]["attributes"] == {"a": 1}


def test_merge_folds_the_secondary_into_the_primary(
    track: Client, emulator: Emulator
) -> None:
    """
    A merge keeps the primary's values and takes the secondary's devices and ids.
    """
    track.batch(
        person("identify", attributes={"plan": "pro"}),
        person(
            "identify",
            {"email": "old@example.com"},
            attributes={"plan": "free", "x": 1},
        ),
        person(
            "add_device",
            {"email": "old@example.com"},
            device={"token": "t", "platform": "ios"},
        ),
        {
            "type": "person",
            "action": "merge",
            "primary": {"id": "42"},
            "secondary": {"email": "old@example.com"},
        },
    )

    state = emulator.state()
    assert list(state["people"]) == ["id:42"]
    assert state["people"]["id:42"]["attributes"] == {"plan": "pro", "x": 1}
    assert state["people"]["id:42"]["identifiers"]["email"] == "old@example.com"
    assert state["devices"]["t"]["owner"] == "id:42"


def test_events_record_and_deduplicate(track: Client, emulator: Emulator) -> None:
    """
    Events are listed in arrival order; a repeated id is dropped as a duplicate.
    """
    track.batch(
        person(
            "event",
            name="purchase",
            id="01A",
            timestamp=1700000000,
            attributes={"p": 1},
        ),
        person(
            "event",
            name="purchase",
            id="01A",
            timestamp=1700000000,
            attributes={"p": 1},
        ),
        person("page", {"anonymous_id": "a-1"}, name="/pricing"),
        {
            "type": "delivery",
            "action": "event",
            "identifiers": {"id": "d-1"},
            "name": "delivered",
            "attributes": {"device_token": "t-1"},
        },
    )

    state = emulator.state()
    assert state["events"] == [
        {
            "person": "id:42",
            "type": "event",
            "name": "purchase",
            "id": "01A",
            "timestamp": 1700000000,
            "attributes": {"p": 1},
        },
        {
            "person": "anonymous_id:a-1",
            "type": "page",
            "name": "/pricing",
            "id": None,
            "timestamp": None,
            "attributes": {},
        },
    ]
    assert state["metrics"] == [
        {
            "delivery_id": "d-1",
            "metric": "delivered",
            "timestamp": None,
            "recipient": "t-1",
            "reason": None,
            "href": None,
            "metadata": None,
        }
    ]
    assert list(state["people"]) == ["id:42"]


# -- suppression --------------------------------------------------------------


def test_suppression_blocks_until_unsuppressed(
    track: Client, emulator: Emulator
) -> None:
    """
    Suppress deletes the person and blocks their identifiers until unsuppressed.
    """
    track.batch(
        person("identify", attributes={"email": "jane@example.com", "plan": "pro"}),
        person("add_device", device={"token": "t", "platform": "ios"}),
        person("suppress"),
    )
    state = emulator.state()
    assert state["people"] == {}
    assert state["devices"] == {}
    assert state["suppressed"] == ["email:jane@example.com", "id:42"]

    blocked = track.batch(
        person("identify", attributes={"plan": "free"}),
        person("identify", {"email": "jane@example.com"}),
        person("event", name="purchase"),
        person("add_device", device={"token": "t", "platform": "ios"}),
    )
    assert (blocked.status_code, blocked.json()) == (200, {})
    state = emulator.state()
    assert (state["people"], state["events"], state["devices"]) == ({}, [], {})

    track.entity(person("unsuppress", {"email": "jane@example.com"}))
    track.entity(person("identify", attributes={"plan": "free"}))

    state = emulator.state()
    assert state["suppressed"] == []
    assert state["people"]["id:42"]["attributes"] == {"plan": "free"}


def test_suppressing_someone_unknown_blocks_the_identifier(
    track: Client, emulator: Emulator
) -> None:
    """
    Suppressing an identifier nobody holds still blocks it.
    """
    track.batch(person("suppress", {"id": "9"}), person("identify", {"id": "9"}))

    state = emulator.state()
    assert state["suppressed"] == ["id:9"]
    assert state["people"] == {}


# -- v1 endpoints -------------------------------------------------------------


def test_v1_person_endpoints(track: Client, emulator: Emulator) -> None:
    """
    The v1 identify, device, event, delete and suppress endpoints all apply.
    """
    answers = [
        track.put(
            "/api/v1/customers/jane%40example.com", {"plan": "pro", "_timestamp": 5}
        ),
        track.put("/api/v1/customers/42", {"email": "bo@example.com", "created_at": 1}),
        track.put(
            "/api/v1/customers/42/devices",
            {"device": {"id": "t-1", "platform": "ios", "last_used": 1700000000}},
        ),
        track.post(
            "/api/v1/customers/42/events",
            {"name": "  signed_up ", "type": "page", "timestamp": 3, "data": {"a": 1}},
        ),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [(200, {})] * 4

    state = emulator.state()
    assert state["people"]["email:jane@example.com"]["attributes"] == {"plan": "pro"}
    assert state["people"]["id:42"]["identifiers"]["email"] == "bo@example.com"
    assert state["devices"]["t-1"] == {
        "owner": "id:42",
        "platform": "ios",
        "last_used": 1700000000,
        "attributes": {},
    }
    assert state["events"][0] == {
        "person": "id:42",
        "type": "page",
        "name": "signed_up",
        "id": None,
        "timestamp": 3,
        "attributes": {"a": 1},
    }

    answers = [
        track.delete("/api/v1/customers/42/devices/t-1"),
        track.delete("/api/v1/customers/jane%40example.com"),
        track.post("/api/v1/customers/bo%40example.com/suppress"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    state = emulator.state()
    assert (state["people"], state["devices"]) == ({}, {})
    assert state["suppressed"] == ["email:bo@example.com", "id:42"]

    track.post("/api/v1/customers/42/unsuppress")

    assert emulator.state()["suppressed"] == []
    requests_by_route = emulator.state()["requests"]
    assert requests_by_route["/api/v1/customers/{identifier}"] == {"200": 3}
    assert requests_by_route["/api/v1/customers/{identifier}/devices/{device_id}"] == {
        "200": 1
    }


def test_v1_relationships_and_cio_prefix(track: Client, emulator: Emulator) -> None:
    """
    A v1 identify relates objects, and a cio_ path names a person by cio_id.
    """
    track.put(
        "/api/v1/customers/42",
        {
            "cio_relationships": {
                "action": "add_relationships",
                "relationships": [
                    {"identifiers": {"object_type_id": "1", "object_id": "a"}}
                ],
            }
        },
    )
    cio_id = emulator.state()["people"]["id:42"]["identifiers"]["cio_id"]

    track.put(f"/api/v1/customers/cio_{cio_id}", {"plan": "pro"})

    state = emulator.state()
    assert state["people"]["id:42"]["attributes"] == {"plan": "pro"}
    assert state["relationships"] == [
        {"object_type_id": "1", "object_id": "a", "person": "id:42"}
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/v1/customers/42", {"_timestamp": "yesterday"}),
        ("PUT", "/api/v1/customers/42", {"_update": "yes"}),
        ("PUT", "/api/v1/customers/42", {"bio": _big(1001)}),
        ("PUT", f"/api/v1/customers/{_big(151)}", {"plan": "pro"}),
        (
            "PUT",
            "/api/v1/customers/42/devices",
            {"device": {"id": "t", "platform": "web"}},
        ),
        ("PUT", "/api/v1/customers/42/devices", {"token": "t"}),
        ("POST", "/api/v1/customers/42/events", {"data": {}}),
        ("POST", "/api/v1/customers/42/events", {"name": "   "}),
        ("POST", "/api/v1/customers/42/events", {"name": "e", "type": "click"}),
        ("POST", "/api/v1/metrics", {"delivery_id": "d", "metric": "sent"}),
        ("POST", "/api/v1/metrics", {"metric": "opened"}),
        (
            "POST",
            "/api/v1/metrics",
            {"delivery_id": "d", "metric": "opened", "timestamp": 1.5},
        ),
    ],
    ids=[
        "timestamp-string",
        "update-not-boolean",
        "attribute-too-long",
        "identifier-too-long",
        "device-platform",
        "device-missing",
        "event-without-name",
        "event-blank-name",
        "event-type",
        "metric-unknown",
        "metric-without-delivery",
        "metric-float-timestamp",
    ],
)
def test_v1_errors_have_the_meta_shape(
    track: Client, emulator: Emulator, method: str, path: str, body: Any
) -> None:
    """
    Invalid v1 bodies answer 400 {"meta": {"errors": [...]}} and change nothing.
    """
    response = track.session.request(method, track.url + path, json=body, timeout=10)

    assert response.status_code == 400
    errors = response.json()["meta"]["errors"]
    assert errors
    assert all(isinstance(error, str) for error in errors)
    state = emulator.state()
    assert (state["people"], state["events"], state["metrics"]) == ({}, [], [])


def test_metrics_take_every_documented_field(track: Client, emulator: Emulator) -> None:
    """
    A metric with recipient, reason, href and Segment's metadata is recorded.
    """
    response = track.post(
        "/api/v1/metrics",
        {
            "delivery_id": "d-1",
            "metric": "clicked",
            "timestamp": 1700000000,
            "recipient": "jane@example.com",
            "reason": "none",
            "href": "https://example.com",
            "metadata": {"action_name": "open", "action_value": "settings"},
        },
    )
    sms = track.post(
        "/api/v1/metrics",
        {"delivery_id": "d-2", "metric": "bounced", "recipient": 14155552671},
    )

    assert (response.status_code, sms.status_code) == (200, 200)
    metrics = emulator.state()["metrics"]
    assert metrics[0] == {
        "delivery_id": "d-1",
        "metric": "clicked",
        "timestamp": 1700000000,
        "recipient": "jane@example.com",
        "reason": "none",
        "href": "https://example.com",
        "metadata": {"action_name": "open", "action_value": "settings"},
    }
    assert metrics[1]["recipient"] == 14155552671
