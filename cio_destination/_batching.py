"""
Batching by bytes: encoding operations, size limits, and when to send.

Customer.io takes at most 32 KB per operation and less than 500 KB per batch
request (facts sheet, section 3.1). An operation is encoded once, when it is
accepted, into the exact bytes that go inside a request; an oversize one is
refused there and never sent. A batch is a run of consecutive operations of
the same kind from the head of the outbox, so sending batches in turn keeps
the outbox's order.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import attrs

from cio_destination._model import Operation, OperationKind

#: The largest encoded operation Customer.io takes, in bytes.
MAX_OPERATION_BYTES = 32 * 1024
#: Every request body stays below this many bytes.
MAX_REQUEST_BYTES = 500_000

_BATCH_OPEN = b'{"batch":['
_BATCH_CLOSE = b"]}"
_ENVELOPE_BYTES = len(_BATCH_OPEN) + len(_BATCH_CLOSE)


class Item(Protocol):
    """
    An encoded operation waiting to be sent.
    """

    @property
    def kind(self) -> OperationKind: ...  # pragma: no cover

    @property
    def body(self) -> bytes: ...  # pragma: no cover


_T = TypeVar("_T", bound=Item)


def _json_default(value: object) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()

    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)

    if isinstance(value, set | frozenset | tuple):
        return list(value)

    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(value: Any) -> str:
    """
    Compact JSON for ``value``; dates become ISO-8601 strings.

    :raises TypeError: ``value`` holds something JSON cannot represent.
    :raises ValueError: ``value`` holds a reference cycle.
    """
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def to_json_or_repr(value: Any) -> str:
    """
    JSON for ``value``, or its ``repr`` as a JSON string when JSON cannot hold it.
    """
    try:
        return to_json(value)
    except (TypeError, ValueError):
        return to_json(repr(value))


def encode(operation: Operation) -> bytes:
    """
    The bytes ``operation`` takes inside a request of its kind.

    A Pipelines call inside ``/v1/batch`` carries its ``type``; the other
    kinds are sent as they are.

    :raises TypeError: the body holds something JSON cannot represent.
    """
    body = operation.body
    if operation.kind is OperationKind.PIPELINES:
        body = {**body, "type": "track"}
    return to_json(body).encode("utf-8")


def oversize_reason(size: int) -> str | None:
    """
    Why an operation of ``size`` bytes cannot be sent, or None if it can.
    """
    if size <= MAX_OPERATION_BYTES:
        return None

    return (
        f"operation is {size} bytes encoded; Customer.io takes at most "
        f"{MAX_OPERATION_BYTES} bytes per operation, so it was never sent"
    )


def take_batch(
    items: Sequence[_T], *, max_count: int, max_bytes: int = MAX_REQUEST_BYTES
) -> Sequence[_T]:
    """
    The longest run from the head of ``items`` that one request can carry.

    The run holds operations of one kind, at most ``max_count`` of them, and
    its request body stays below ``max_bytes``. A kind without a batch
    endpoint goes one operation per request. The first item is always taken,
    so an empty result means ``items`` was empty.
    """
    if not items:
        return items

    kind = items[0].kind
    if kind.batch_path is None:
        return items[:1]

    size = _ENVELOPE_BYTES
    count = 0
    for item in items:
        if item.kind is not kind or count >= max_count:
            break

        grown = size + len(item.body) + (1 if count else 0)
        if count and grown >= max_bytes:
            break

        size = grown
        count += 1
    return items[:count]


def request_body(kind: OperationKind, bodies: Sequence[bytes]) -> bytes:
    """
    The body of one request carrying ``bodies``, all of ``kind``.

    A kind with a batch endpoint gets ``{"batch": [...]}``; a kind without
    one takes exactly one body.

    :raises ValueError: several bodies for a kind that has no batch endpoint.
    """
    if kind.batch_path is not None:
        return _BATCH_OPEN + b",".join(bodies) + _BATCH_CLOSE

    if len(bodies) != 1:
        raise ValueError(
            f"{kind.value} operations go one per request; got {len(bodies)}"
        )

    return bodies[0]


@attrs.define
class Backlog:
    """
    When to send: the count and bytes waiting, and since when.

    Operations are sent as soon as a full batch is waiting (by count or by
    bytes) or the oldest has waited ``interval`` seconds; once due, the whole
    backlog is due until it is empty. The sender keeps this tally beside the
    outbox so it never has to count rows to decide.
    """

    max_count: int
    interval: float
    max_bytes: int = MAX_REQUEST_BYTES
    count: int = 0
    size: int = 0
    since: float | None = None

    def add(self, count: int, size: int, *, at: float) -> None:
        """
        Record ``count`` operations of ``size`` bytes in all, accepted ``at``.
        """
        if count <= 0:
            return

        self.count += count
        self.size += size
        if self.since is None:
            self.since = at

    def remove(self, count: int, size: int) -> None:
        """
        Record that ``count`` operations of ``size`` bytes left the outbox.
        """
        self.count = max(self.count - count, 0)
        self.size = max(self.size - size, 0)
        if self.count == 0:
            self.size = 0
            self.since = None

    def clear(self) -> None:
        """
        Record that the outbox is empty.
        """
        self.remove(self.count, self.size)

    def due_at(self) -> float | None:
        """
        When the waiting operations should be sent; None when none wait.
        """
        if self.since is None:
            return None

        if self.count >= self.max_count or self.size >= self.max_bytes:
            return self.since

        return self.since + self.interval
