"""
Helpers the emulator's tests share: a small HTTP client and operation builders.
"""

from __future__ import annotations

from typing import Any

import requests


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


def workspace(state: dict[str, Any]) -> dict[str, Any]:
    """
    The state without its request counters.
    """
    return {key: value for key, value in state.items() if key != "requests"}
