"""
Helpers for the pipeline's tests: probe plugins and a client to watch Segment.
"""

from __future__ import annotations

import threading
from typing import Any

from segment.analytics import Client

Message = dict[str, Any]


class Probe:
    """
    A plugin that keeps every message it is given and then acts.

    ``action`` is ``pass`` (return the message), ``tag`` (add its name under
    ``context.tags`` and return it), ``drop`` (return None) or ``raise``
    (raise ``error``).
    """

    def __init__(
        self,
        name: str,
        type: str = "destination",
        *,
        action: str = "pass",
        integration: str | None = None,
        error: Exception | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.action = action
        if integration is not None:
            self.integration = integration
        self.error = error or RuntimeError(f"{name} failed")
        self.seen: list[Message] = []
        self.flushes: list[float | None] = []
        self.shutdowns: list[float | None] = []
        self.flushed = True
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Probe {self.name} {self.type} {self.action}>"

    def process(self, message: Message) -> Message | None:
        with self._lock:
            self.seen.append(message)
        if self.action == "raise":
            raise self.error
        if self.action == "drop":
            return None
        if self.action == "tag":
            message.setdefault("context", {}).setdefault("tags", []).append(self.name)

        return message

    def flush(self, timeout: float | None = None) -> bool:
        self.flushes.append(timeout)
        return self.flushed

    def shutdown(self, timeout: float | None = None) -> None:
        self.shutdowns.append(timeout)


def tags(message: Message) -> list[str]:
    """
    The names the tagging probes added to ``message``, in order.
    """
    return list(message.get("context", {}).get("tags", []))


def queue_client() -> Client:
    """
    A client whose Segment queue keeps what it is handed: nothing drains it.

    Built with ``send=False`` so that no consumer thread starts, then told to
    send, so that ``_enqueue`` queues as a sending client does.
    """
    client = Client("test-write-key", send=False)
    client.send = True
    return client


def drain(client: Client) -> list[Message]:
    """
    Take everything out of a :func:`queue_client`'s queue: what Segment got.
    """
    items = []
    while not client.queue.empty():
        items.append(client.queue.get_nowait())
        client.queue.task_done()
    return items
