"""
The emulator as a server: lifecycle, keep-alive, concurrency and control paths.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from urllib.parse import urlsplit

import pytest
import requests
from emulator_support import Client, person

from cio_destination import CioDestinationError
from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
    Faults,
)


def _connection(emulator: Emulator) -> http.client.HTTPConnection:
    address = urlsplit(emulator.url)
    assert address.hostname is not None
    return http.client.HTTPConnection(address.hostname, address.port, timeout=10)


def _auth_header() -> dict[str, str]:
    session = requests.Session()
    session.auth = (DEFAULT_SITE_ID, DEFAULT_API_KEY)
    with session:
        prepared = session.prepare_request(requests.Request("GET", "http://x/"))
    return {"Authorization": prepared.headers["Authorization"]}


def test_lifecycle_starts_and_stops_cleanly() -> None:
    """
    The context manager serves on a free local port and leaves no thread behind.
    """
    before = set(threading.enumerate())
    emulator = Emulator(api_key="a-secret-key", faults=Faults(seed=1))

    with pytest.raises(CioDestinationError, match="not running"):
        _ = emulator.url
    with emulator as running:
        assert running is emulator
        assert urlsplit(emulator.url).hostname == "127.0.0.1"
        assert (urlsplit(emulator.url).port or 0) > 0
        assert "a-secret-key" not in repr(emulator)
        with pytest.raises(CioDestinationError, match="already running"):
            emulator.start()
        url = emulator.url

    assert set(threading.enumerate()) <= before
    assert repr(emulator) == "<Emulator stopped>"
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_emulator/state", timeout=5)


def test_stop_closes_idle_keep_alive_connections() -> None:
    """
    Stopping while clients hold idle keep-alive connections closes them.
    """
    before = set(threading.enumerate())
    sessions = [requests.Session() for _ in range(3)]
    with Emulator() as emulator:
        for session in sessions:
            assert session.get(emulator.url + "/_emulator/state", timeout=5).ok
        assert len(set(threading.enumerate()) - before) == 4

    assert set(threading.enumerate()) <= before
    for session in sessions:
        session.close()


def test_a_taken_port_is_reported() -> None:
    """
    Starting on a port already in use raises CioDestinationError.
    """
    with Emulator() as first:
        port = urlsplit(first.url).port or 0
        second = Emulator(port=port)

        with pytest.raises(
            CioDestinationError, match=f"cannot listen on 127.0.0.1:{port}"
        ):
            second.start()


def test_keep_alive_serves_many_requests_on_one_connection(emulator: Emulator) -> None:
    """
    HTTP/1.1 keep-alive: several requests go over one open connection.
    """
    connection = _connection(emulator)
    body = json.dumps(person("identify")).encode()
    try:
        connection.connect()
        sock = connection.sock
        for _ in range(3):
            connection.request(
                "POST",
                "/api/v2/entity",
                body=body,
                headers={"Content-Type": "application/json", **_auth_header()},
            )
            response = connection.getresponse()
            assert response.status == 200
            assert response.read() == b"{}"
            assert not response.will_close
        assert connection.sock is sock
    finally:
        connection.close()


def test_chunked_bodies_are_read(track: Client, emulator: Emulator) -> None:
    """
    A body sent with chunked transfer encoding is read whole.
    """
    text = json.dumps({"batch": [person("identify"), person("event", name="e")]})
    pieces = iter([text[:10].encode(), text[10:].encode()])

    response = track.session.post(
        track.url + "/api/v2/batch",
        data=pieces,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 200
    assert len(emulator.state()["events"]) == 1


def test_an_absurd_length_is_refused_unread(emulator: Emulator) -> None:
    """
    A declared body over 8 MiB gets 413 and the connection is closed.
    """
    connection = _connection(emulator)
    try:
        connection.putrequest("POST", "/api/v2/batch")
        connection.putheader("Content-Length", str(9 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()

        assert response.status == 413
        assert response.will_close
        response.read()
    finally:
        connection.close()


def test_concurrent_clients_are_all_applied(emulator: Emulator) -> None:
    """
    Eight threads with their own sessions have every request applied.
    """
    failures: list[int] = []

    def client(number: int) -> None:
        with requests.Session() as session:
            session.auth = (DEFAULT_SITE_ID, DEFAULT_API_KEY)
            for index in range(25):
                operation = person("event", {"id": f"c{number}"}, name=f"e{index}")
                response = session.post(
                    emulator.url + "/api/v2/entity", json=operation, timeout=10
                )
                if response.status_code != 200:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    state = emulator.state()
    assert failures == []
    assert len(state["people"]) == 8
    assert len(state["events"]) == 200
    for number in range(8):
        mine = [e["name"] for e in state["events"] if e["person"] == f"id:c{number}"]
        assert mine == [f"e{index}" for index in range(25)]
    assert state["requests"] == {"/api/v2/entity": {"200": 200}}


def test_state_and_reset_over_http(track: Client, emulator: Emulator) -> None:
    """
    GET /_emulator/state equals state(); POST /_emulator/reset empties it.
    """
    track.entity(person("identify", attributes={"plan": "pro"}))

    over_http = track.get("/_emulator/state").json()

    assert over_http == emulator.state()
    assert set(over_http) >= {
        "people",
        "devices",
        "objects",
        "relationships",
        "suppressed",
        "events",
        "metrics",
        "requests",
    }
    assert track.post("/_emulator/reset").json() == {}
    assert emulator.state() == {
        "people": {},
        "devices": {},
        "objects": {},
        "relationships": [],
        "relationship_attributes": {},
        "suppressed": [],
        "events": [],
        "metrics": [],
        "requests": {},
    }


def test_custom_credentials(emulator: Emulator) -> None:
    """
    An emulator built with other credentials takes those and refuses the defaults.
    """
    with Emulator(site_id="s", api_key="k", write_key="w") as custom:
        ok = requests.post(
            custom.url + "/api/v2/entity",
            json=person("identify"),
            auth=("s", "k"),
            timeout=5,
        )
        default = requests.post(
            custom.url + "/api/v2/entity",
            json=person("identify"),
            auth=(DEFAULT_SITE_ID, DEFAULT_API_KEY),
            timeout=5,
        )
        strict = requests.post(
            custom.url + "/v1/identify",
            json={"userId": "42"},
            auth=(DEFAULT_WRITE_KEY, ""),
            headers={"X-Strict-Mode": "1"},
            timeout=5,
        )

        assert (ok.status_code, default.status_code, strict.status_code) == (
            200,
            401,
            401,
        )


def test_a_malformed_request_line_is_not_logged(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """
    A request the server cannot parse leaves its identifiers out of the log.
    """
    url = urlsplit(emulator.url)
    caplog.set_level(logging.DEBUG, logger="cio_destination")

    with socket.create_connection((url.hostname, url.port), timeout=10) as raw:
        raw.sendall(b"PUT /api/v1/customers/jane@example.com x HTTP/1.1\r\n\r\n")
        answer = raw.recv(1024)

    assert b"400" in answer
    assert caplog.records
    assert "jane@example.com" not in caplog.text
