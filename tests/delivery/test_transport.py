"""
The transports against the emulator: auth, endpoints, and how answers are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
import pytest
from delivery_support import answering, closed_port_url

from cio_destination._errors import ConfigurationError
from cio_destination._model import OperationKind
from cio_destination._settings import Region, Settings
from cio_destination._transport import Transport
from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
    Faults,
)

ENTITY = OperationKind.ENTITY
METRIC = OperationKind.METRIC
PIPELINES = OperationKind.PIPELINES
DELETE = {"type": "person", "identifiers": {"id": "1"}, "action": "delete"}
TWO_IDS = {
    "type": "person",
    "identifiers": {"id": "1", "email": "a@b.c"},
    "action": "delete",
}


def encoded(*bodies: object) -> list[bytes]:
    return [json.dumps(body).encode() for body in bodies]


@pytest.fixture
def track(emulator: Emulator) -> Iterator[Transport]:
    settings = Settings(
        site_id=DEFAULT_SITE_ID, api_key=DEFAULT_API_KEY, endpoint=emulator.url
    )
    transport = Transport(settings, timeout=5.0)
    yield transport
    transport.close()


@pytest.fixture
def pipelines(emulator: Emulator) -> Iterator[Transport]:
    transport = Transport(Settings(write_key=DEFAULT_WRITE_KEY, endpoint=emulator.url))
    yield transport
    transport.close()


def test_track_batch_is_delivered(track: Transport, emulator: Emulator) -> None:
    """
    Entity operations go to /api/v2/batch with Basic site_id:api_key.
    """
    reply = track.post(ENTITY, encoded(DELETE, DELETE))

    assert (reply.status, reply.ok, dict(reply.rejected)) == (200, True, {})
    assert emulator.state()["requests"] == {"/api/v2/batch": {"200": 1}}


def test_metrics_go_to_v1(track: Transport, emulator: Emulator) -> None:
    """
    A delivery metric goes alone to /api/v1/metrics.
    """
    reply = track.post(METRIC, encoded({"delivery_id": "d-1", "metric": "opened"}))

    assert reply.status == 200
    assert emulator.state()["metrics"][0]["delivery_id"] == "d-1"


def test_pipelines_batch_is_delivered(pipelines: Transport, emulator: Emulator) -> None:
    """
    Pipelines calls go to /v1/batch with the write key, in strict mode.
    """
    call = {"type": "track", "event": "User Deleted", "userId": "1", "properties": {}}

    reply = pipelines.post(PIPELINES, encoded(call))

    assert reply.status == 200
    assert emulator.state()["requests"] == {"/v1/batch": {"200": 1}}


def test_strict_mode_makes_pipelines_errors_visible(pipelines: Transport) -> None:
    """
    A bad call inside a Pipelines batch is answered 400, with the reason.
    """
    reply = pipelines.post(PIPELINES, encoded({"type": "track", "properties": {}}))

    assert reply.status == 400
    assert "event is required" in reply.detail


def test_207_lists_the_refused_items(track: Transport) -> None:
    """
    A 207 is a success whose refused items are mapped by batch index.
    """
    reply = track.post(ENTITY, encoded(DELETE, TWO_IDS, DELETE))

    assert (reply.status, reply.ok) == (207, True)
    assert list(reply.rejected) == [1]
    assert "identifiers" in reply.rejected[1]


def test_207_errors_naming_no_item_are_kept_apart() -> None:
    """
    A 207 error without a usable batch index is kept with its reason, not lost.
    """
    errors = [
        {"batch_index": 1, "reason": "invalid"},
        {"reason": "nameless"},
        {"batch_index": 5, "reason": "beyond the batch"},
        {"batch_index": True, "reason": "not an index"},
    ]
    settings = Settings(site_id="s", api_key="k")

    with answering(207, {"errors": errors}) as url:
        transport = Transport(attrs.evolve(settings, endpoint=url), timeout=5.0)
        reply = transport.post(ENTITY, encoded(DELETE, DELETE))
        transport.close()

    assert reply.rejected == {1: "invalid"}
    assert reply.unattributed == ("nameless", "beyond the batch", "not an index")


def test_400_carries_the_reasons(track: Transport, emulator: Emulator) -> None:
    """
    A refused request says why, taken from Customer.io's errors.
    """
    reply = track.post(METRIC, encoded({"metric": "opened"}))

    assert (reply.status, reply.ok) == (400, False)
    assert "delivery_id" in reply.detail
    assert emulator.url in reply.detail


@pytest.mark.parametrize("kind", ["track", "pipelines"])
def test_401_never_shows_the_key(kind: str, emulator: Emulator) -> None:
    """
    Refused credentials are described without the key that was refused.
    """
    secret = "sk-live-0123456789abcdef"
    settings = (
        Settings(site_id=DEFAULT_SITE_ID, api_key=secret, endpoint=emulator.url)
        if kind == "track"
        else Settings(write_key=secret, endpoint=emulator.url)
    )
    transport = Transport(settings)
    operation = ENTITY if kind == "track" else PIPELINES
    try:
        reply = transport.post(operation, encoded({"type": "track", "event": "x"}))
    finally:
        transport.close()

    assert reply.status == 401
    assert "401" in reply.detail
    assert secret not in reply.detail
    assert secret not in repr(transport)


@pytest.mark.parametrize(
    ("faults", "status"),
    [(Faults(fail_rate=1.0, seed=1), {500, 503}), (Faults(throttle_rate=1.0), {429})],
    ids=["server-error", "throttled"],
)
def test_faults_come_back_as_statuses(
    faults: Faults, status: set[int], track: Transport, emulator: Emulator
) -> None:
    """
    Server errors and throttling come back as their status, to be retried.
    """
    emulator.set_faults(faults)

    reply = track.post(ENTITY, encoded(DELETE))

    assert reply.status in status
    assert not reply.ok


def test_retry_after_is_read(track: Transport, emulator: Emulator) -> None:
    """
    A 429's Retry-After header is read into seconds.
    """
    emulator.set_faults(Faults(throttle_rate=1.0, retry_after=7))

    assert track.post(ENTITY, encoded(DELETE)).retry_after == 7.0


def test_a_dropped_connection_has_no_status(
    track: Transport, emulator: Emulator
) -> None:
    """
    A connection closed without an answer is a reply without a status.
    """
    emulator.set_faults(Faults(drop_rate=1.0))

    reply = track.post(ENTITY, encoded(DELETE))

    assert reply.status is None
    assert "failed" in reply.detail


def test_a_timeout_has_no_status(emulator: Emulator) -> None:
    """
    An answer slower than the timeout is a reply without a status.
    """
    emulator.set_faults(Faults(latency_ms=500))
    settings = Settings(
        site_id=DEFAULT_SITE_ID, api_key=DEFAULT_API_KEY, endpoint=emulator.url
    )
    transport = Transport(settings, timeout=0.05)
    try:
        reply = transport.post(ENTITY, encoded(DELETE))
    finally:
        transport.close()

    assert reply.status is None
    assert "within 0.05s" in reply.detail


def test_nobody_listening_has_no_status() -> None:
    """
    A refused connection is a reply without a status, not an exception.
    """
    settings = Settings(site_id="s", api_key="k", endpoint=closed_port_url())
    transport = Transport(settings)
    try:
        reply = transport.post(ENTITY, encoded(DELETE))
    finally:
        transport.close()

    assert reply.status is None


@pytest.mark.parametrize(
    "endpoint", ["ftp://example.com", "127.0.0.1:8080", "http://"], ids=str
)
def test_endpoint_must_be_an_http_url(endpoint: str) -> None:
    """
    An endpoint that is not an http(s) URL with a host is a configuration error.
    """
    with pytest.raises(ConfigurationError, match="endpoint"):
        Transport(Settings(site_id="s", api_key="k", endpoint=endpoint))


@pytest.mark.parametrize(
    ("region", "host"),
    [("us", "https://track.customer.io"), ("eu", "https://track-eu.customer.io")],
)
def test_regions_pick_the_host(region: Region, host: str) -> None:
    """
    Without an endpoint, the region picks Customer.io's host.
    """
    transport = Transport(Settings(site_id="s", api_key="k", region=region))
    transport.close()

    assert transport.url(ENTITY) == f"{host}/api/v2/batch"
    assert transport.url(METRIC) == f"{host}/api/v1/metrics"
