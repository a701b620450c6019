"""
Helpers the emulator's tests share: a small HTTP client and operation builders.
"""

from __future__ import annotations

from typing import Any

import requests
from state_support import workspace as workspace


class Client:
    """
    A pooled session against one emulator, with the paths as short helpers.
    """

    def __init__(self, url: str, auth: tuple[str, str] | None) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.auth = auth

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=10, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.put(self.url + path, json=body, timeout=10, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.url + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kwargs)

    def entity(self, operation: Any) -> requests.Response:
        return self.post("/api/v2/entity", operation)

    def batch(self, *operations: Any) -> requests.Response:
        return self.post("/api/v2/batch", {"batch": list(operations)})


def person(action: str, identifiers: Any = None, **fields: Any) -> dict[str, Any]:
    """
    A v2 person operation.
    """
    return {
        "type": "person",
        "identifiers": {"id": "42"} if identifiers is None else identifiers,
        "action": action,
        **fields,
    }


def obj(action: str, object_id: str = "acme", **fields: Any) -> dict[str, Any]:
    """
    A v2 object operation on object type 1.
    """
    return {
        "type": "object",
        "identifiers": {"object_type_id": "1", "object_id": object_id},
        "action": action,
        **fields,
    }


#: One well-formed v2 operation for each type and action of the contract.
VALID_OPERATIONS = {
    "person-identify": person(
        "identify",
        timestamp=1700000000,
        attributes={"plan": "pro", "cio_subscription_preferences": {"topics": {}}},
        cio_relationships=[
            {
                "identifiers": {"object_type_id": "1", "object_id": "acme"},
                "relationship_attributes": {"role": "admin"},
            }
        ],
    ),
    "person-identify-by-email": person("identify", {"email": "jane@example.com"}),
    "person-identify-by-phone": person("identify", {"phone": "+14155552671"}),
    "person-delete": person("delete"),
    "person-event": person("event", name="purchase", id="01H", timestamp=1),
    "person-anonymous-event": person("event", {"anonymous_id": "a-1"}, name="viewed"),
    "person-page": person("page", name="/pricing", attributes={"path": "/pricing"}),
    "person-screen": person("screen", name="home"),
    "person-viewed-content": person(
        "viewed_content",
        {"anonymous_id": "a-1"},
        name="viewed_content",
        attributes={"contentId": 3},
    ),
    "person-clicked-content": person("clicked_content", {"anonymous_id": "a-1"}),
    "person-add-relationships": person(
        "add_relationships",
        cio_relationships=[{"identifiers": {"cio_object_id": "ob1"}}],
    ),
    "person-delete-relationships": person(
        "delete_relationships",
        cio_relationships=[{"identifiers": {"object_type_id": "2", "object_id": "x"}}],
    ),
    "person-add-device": person(
        "add_device",
        device={
            "token": "t-1",
            "platform": "android",
            "last_used": 1700000000,
            "attributes": {"push_enabled": "true", "app_version": "1.2"},
        },
    ),
    "person-delete-device": person("delete_device", device={"token": "t-1"}),
    "person-merge": {
        "type": "person",
        "action": "merge",
        "primary": {"id": "42"},
        "secondary": {"email": "old@example.com"},
    },
    "person-suppress": person("suppress"),
    "person-unsuppress": person("unsuppress", {"email": "jane@example.com"}),
    "object-identify": obj(
        "identify",
        attributes={"name": "Acme"},
        cio_relationships=[{"identifiers": {"email": "jane@example.com"}}],
    ),
    "object-identify-by-cio-object-id": {
        "type": "object",
        "identifiers": {"cio_object_id": "ob1"},
        "action": "identify",
        "attributes": {"name": "Acme"},
    },
    "object-identify-anonymous": obj(
        "identify_anonymous",
        anonymous_id="a-1",
        cio_relationships=[{"identifiers": {"anonymous_id": "a-2"}}],
    ),
    "object-delete": obj("delete"),
    "object-add-relationships": obj(
        "add_relationships", cio_relationships=[{"identifiers": {"id": "42"}}]
    ),
    "object-delete-relationships": obj(
        "delete_relationships", cio_relationships=[{"identifiers": {"cio_id": "c1"}}]
    ),
    "delivery-event": {
        "type": "delivery",
        "action": "event",
        "identifiers": {"id": "d-1"},
        "name": "opened",
        "attributes": {"device_token": "t-1"},
    },
}
