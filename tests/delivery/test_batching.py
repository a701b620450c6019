"""
Encoding operations, size limits, and the choice of what one request carries.
"""

from __future__ import annotations

import datetime
import json

import attrs
import pytest

from cio_destination._batching import (
    MAX_OPERATION_BYTES,
    MAX_REQUEST_BYTES,
    Backlog,
    encode,
    oversize_reason,
    request_body,
    take_batch,
)
from cio_destination._model import Operation, OperationKind

ENTITY = OperationKind.ENTITY
METRIC = OperationKind.METRIC
PIPELINES = OperationKind.PIPELINES


@attrs.frozen
class Item:
    kind: OperationKind
    body: bytes


def items(kind: OperationKind, count: int, size: int = 10) -> list[Item]:
    return [Item(kind, b"x" * size) for _ in range(count)]


def test_encode_is_compact_json() -> None:
    """
    An entity operation is encoded as compact UTF-8 JSON of its body.
    """
    operation = Operation(ENTITY, {"type": "person", "name": "Zoë"}, "person:id:1")

    assert encode(operation) == '{"type":"person","name":"Zoë"}'.encode()


def test_encode_marks_pipelines_calls_as_track() -> None:
    """
    A Pipelines call carries its type inside a batch.
    """
    operation = Operation(PIPELINES, {"event": "User Deleted"}, "person:id:1")

    assert json.loads(encode(operation)) == {"event": "User Deleted", "type": "track"}


def test_encode_writes_dates_as_iso_text() -> None:
    """
    Dates that slipped into a body become ISO-8601 strings.
    """
    moment = datetime.datetime(2026, 3, 14, 9, 20, tzinfo=datetime.UTC)
    operation = Operation(METRIC, {"at": moment}, "delivery:d")

    assert json.loads(encode(operation)) == {"at": "2026-03-14T09:20:00+00:00"}


def test_encode_refuses_what_json_cannot_hold() -> None:
    """
    A body holding an arbitrary object is an error, not a silent string.
    """
    with pytest.raises(TypeError, match="object"):
        encode(Operation(ENTITY, {"x": object()}, "person:id:1"))


@pytest.mark.parametrize(
    ("size", "allowed"),
    [(MAX_OPERATION_BYTES, True), (MAX_OPERATION_BYTES + 1, False)],
    ids=["exactly-32KB", "one-byte-over"],
)
def test_operation_size_limit(size: int, allowed: bool) -> None:
    """
    An operation may take 32 KB and not one byte more.
    """
    reason = oversize_reason(size)

    assert (reason is None) is allowed
    if reason is not None:
        assert str(size) in reason
        assert "never sent" in reason


def test_batch_is_a_run_of_one_kind() -> None:
    """
    A batch stops at the first operation of another kind, keeping order.
    """
    queue = [*items(ENTITY, 3), *items(PIPELINES, 2), *items(ENTITY, 1)]

    assert take_batch(queue, max_count=100) == queue[:3]
    assert take_batch(queue[3:], max_count=100) == queue[3:5]


def test_batch_respects_the_count() -> None:
    """
    A batch carries at most max_count operations.
    """
    queue = items(ENTITY, 10)

    assert len(take_batch(queue, max_count=4)) == 4


def test_metrics_go_one_per_request() -> None:
    """
    Delivery metrics have no batch endpoint, so each is its own request.
    """
    queue = items(METRIC, 5)

    assert take_batch(queue, max_count=100) == queue[:1]


def test_batch_stays_under_the_request_limit() -> None:
    """
    Full-size operations fill a request to just under 500 KB, never to it.
    """
    queue = items(ENTITY, 40, size=MAX_OPERATION_BYTES)

    batch = take_batch(queue, max_count=100)
    body = request_body(ENTITY, [item.body for item in batch])

    assert len(body) < MAX_REQUEST_BYTES
    assert len(body) + MAX_OPERATION_BYTES + 1 >= MAX_REQUEST_BYTES
    assert len(batch) == 15


def test_batch_size_boundary_is_exclusive() -> None:
    """
    A request that would reach exactly max_bytes is one operation shorter.
    """
    envelope = len(request_body(ENTITY, [b""]))
    queue = items(ENTITY, 2, size=10)
    exact = envelope + 10 + 1 + 10

    assert len(take_batch(queue, max_count=9, max_bytes=exact)) == 1
    assert len(take_batch(queue, max_count=9, max_bytes=exact + 1)) == 2


def test_empty_queue_gives_an_empty_batch() -> None:
    """
    Nothing waiting means nothing to send.
    """
    assert list(take_batch([], max_count=10)) == []


def test_request_body_wraps_batches() -> None:
    """
    Batchable kinds are wrapped as {"batch": [...]} without re-encoding.
    """
    body = request_body(ENTITY, [b'{"a":1}', b'{"b":2}'])

    assert json.loads(body) == {"batch": [{"a": 1}, {"b": 2}]}


def test_request_body_refuses_several_metrics() -> None:
    """
    Two metrics cannot share a request.
    """
    with pytest.raises(ValueError, match="one per request"):
        request_body(METRIC, [b"{}", b"{}"])


def test_backlog_waits_for_the_interval() -> None:
    """
    A partial batch is due one interval after its oldest operation.
    """
    backlog = Backlog(max_count=10, interval=0.5)
    backlog.add(3, 300, at=100.0)
    backlog.add(2, 200, at=100.2)

    assert backlog.due_at() == 100.5


@pytest.mark.parametrize(
    ("count", "size"), [(10, 100), (1, MAX_REQUEST_BYTES)], ids=["by-count", "by-bytes"]
)
def test_backlog_full_batch_is_due_at_once(count: int, size: int) -> None:
    """
    A full batch, by count or by bytes, is due as soon as it is there.
    """
    backlog = Backlog(max_count=10, interval=0.5)
    backlog.add(count, size, at=100.0)

    assert backlog.due_at() == 100.0


def test_backlog_empties() -> None:
    """
    Once everything left, nothing is due and the next add starts afresh.
    """
    backlog = Backlog(max_count=10, interval=0.5)
    backlog.add(3, 300, at=100.0)
    backlog.remove(3, 300)

    assert backlog.due_at() is None
    backlog.add(1, 10, at=200.0)
    assert backlog.due_at() == 200.5
