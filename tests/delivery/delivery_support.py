"""
Segment messages and helpers the delivery tests share.
"""

from __future__ import annotations

import http.server
import json
import random
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from state_support import workspace as workspace

from cio_destination._core import evaluate


def device_created(user: str, token: str, platform: str = "ios") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Device Created or Updated",
        "userId": user,
        "properties": {"app_version": "1.0"},
        "context": {"device": {"token": token, "type": platform}},
        "timestamp": "2026-03-14T09:20:00+00:00",
    }


def device_deleted(user: str, token: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Device Deleted",
        "userId": user,
        "properties": {},
        "context": {"device": {"token": token}},
    }


def person_event(event: str, user: str) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": user, "properties": {}}


def delivery_metric(delivery: str, metric: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Report Delivery Event",
        "userId": "42",
        "properties": {"deliveryId": delivery, "metric": metric},
        "timestamp": "2026-03-14T10:00:00+00:00",
    }


def object_deleted(object_id: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Object Deleted",
        "anonymousId": "cio-destination",
        "properties": {"objectId": object_id},
    }


def invalid_device(user: str) -> dict[str, Any]:
    """
    A device event without its token: invalid, and it names a person.
    """
    return {
        "type": "track",
        "event": "Device Deleted",
        "userId": user,
        "properties": {},
        "context": {"device": {}},
    }


def shuffled_history(seed: int, count: int) -> list[dict[str, Any]]:
    """
    Events for a few people whose outcome depends on their order.

    Devices are added and removed, people suppressed and freed, metrics
    appended.
    """
    draw = random.Random(seed)  # noqa: S311 - reproducible, not secret
    builders: list[Callable[[str, int], dict[str, Any]]] = [
        lambda user, n: device_created(user, f"tok-{user}-{n % 3}", "ios"),
        lambda user, n: device_created(user, f"tok-{user}-{n % 3}", "android"),
        lambda user, n: device_deleted(user, f"tok-{user}-{n % 3}"),
        lambda user, _: person_event("User Suppressed", user),
        lambda user, _: person_event("User Unsuppressed", user),
        lambda user, _: person_event("User Deleted", user),
        lambda user, n: delivery_metric(f"d-{user}-{n}", "opened"),
    ]
    users = ["u1", "u2", "u3", "ann@example.com"]
    return [
        draw.choice(builders)(draw.choice(users), number) for number in range(count)
    ]


def operation_count(messages: list[Mapping[str, Any]]) -> int:
    return sum(len(evaluate(message).operations) for message in messages)


def closed_port_url() -> str:
    """
    An http URL on 127.0.0.1 where nothing listens.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def answering(status: int, payload: Any) -> Iterator[str]:
    """
    The URL of a server on 127.0.0.1 that answers every POST with ``payload``.

    For answers Customer.io might give that the emulator never does.
    """
    body = json.dumps(payload).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        serving = threading.Thread(target=server.serve_forever)
        serving.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            serving.join()
