"""
The HTTP side of the emulator, and the :class:`Emulator` that runs it.

It routes, authenticates, injects faults, and serves on a background thread.

Built on the standard library's :class:`~http.server.ThreadingHTTPServer`:
one thread per connection, HTTP/1.1 keep-alive, no dependency. The work per
request is parsing and checking JSON, which a faster server would not speed
up.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from cio_destination._errors import CioDestinationError, ConfigurationError
from cio_destination.emulator import _pipelines, _track
from cio_destination.emulator._faults import Fate, FaultDrawer, Faults
from cio_destination.emulator._reply import OK, Reply, meta_errors, track_error
from cio_destination.emulator._state import Workspace

_log = logging.getLogger(__name__)

DEFAULT_SITE_ID = "emulator-site"
DEFAULT_API_KEY = "emulator-api-key"
DEFAULT_WRITE_KEY = "emulator-write-key"

#: Bodies larger than this are refused unread and the connection closed.
_MAX_READ_BYTES = 8 * 1024 * 1024
#: An idle keep-alive connection is closed after this many seconds.
_IDLE_SECONDS = 120.0
_CUSTOMER = re.compile(
    r"^/api/v1/customers/(?P<identifier>[^/]+)"
    r"(?:/(?P<action>devices(?:/[^/]+)?|suppress|unsuppress|events))?$"
)
_CUSTOMER_ROUTES = {
    "": ("", ("PUT", "DELETE")),
    "devices": ("/devices", ("PUT",)),
    "suppress": ("/suppress", ("POST",)),
    "unsuppress": ("/unsuppress", ("POST",)),
    "events": ("/events", ("POST",)),
}
_PIPELINES_CALLS = (*_pipelines.CALLS, "batch")


@attrs.frozen
class _Request:
    method: str
    params: Mapping[str, str]
    headers: Message
    body: bytes


Handler = Callable[[_Request], Reply]


@attrs.frozen
class _Route:
    #: The path with its variable parts named, the key of the request counters.
    template: str
    handlers: Mapping[str, Handler]
    params: Mapping[str, str] = attrs.field(factory=dict)
    #: Control routes see no faults and are not counted.
    control: bool = False


def _basic_credentials(headers: Message) -> tuple[str, str] | None:
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None

    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None

    user, separator, password = decoded.partition(":")
    return (user, password) if separator else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class _Application:
    """
    Everything but the sockets: routes, credentials, faults and the workspace.
    """

    def __init__(
        self, site_id: str, api_key: str, write_key: str, faults: Faults
    ) -> None:
        self.workspace = Workspace()
        self.drawer = FaultDrawer(faults)
        self.url = ""
        self._site_id = site_id
        self._api_key = api_key
        self._write_key = write_key
        track_v2 = {
            "/api/v2/entity": self._track_v2(_track.entity),
            "/api/v2/batch": self._track_v2(_track.batch),
        }
        self._fixed: dict[str, _Route] = {
            path: _Route(path, {"POST": handler}) for path, handler in track_v2.items()
        }
        self._fixed["/api/v1/metrics"] = _Route(
            "/api/v1/metrics", {"POST": self._metrics}
        )
        self._fixed["/api/v1/accounts/region"] = _Route(
            "/api/v1/accounts/region", {"GET": self._region}
        )
        for call in _PIPELINES_CALLS:
            path = f"/v1/{call}"
            self._fixed[path] = _Route(path, {"POST": self._pipelines(call)})
        controls: dict[str, dict[str, Handler]] = {
            "/_emulator/state": {"GET": self._state},
            "/_emulator/reset": {"POST": self._reset},
            "/_emulator/faults": {"GET": self._get_faults, "POST": self._set_faults},
        }
        for path, handlers in controls.items():
            self._fixed[path] = _Route(path, handlers, control=True)

    # -- routing -------------------------------------------------------------

    def _route(self, path: str) -> _Route | None:
        route = self._fixed.get(path)
        if route is not None:
            return route

        match = _CUSTOMER.match(path)
        if match is None:
            return None

        identifier = unquote(match["identifier"])
        action = match["action"] or ""
        params = {"identifier": identifier, "action": action}
        methods: tuple[str, ...]
        if action.startswith("devices/"):
            params["action"] = "devices/" + unquote(action.removeprefix("devices/"))
            suffix, methods = "/devices/{device_id}", ("DELETE",)
        else:
            suffix, methods = _CUSTOMER_ROUTES[action]
        return _Route(
            "/api/v1/customers/{identifier}" + suffix,
            dict.fromkeys(methods, self._customer),
            params,
        )

    def respond(
        self, method: str, target: str, headers: Message, body: bytes
    ) -> Reply | None:
        """
        The answer to one request, or None to close the connection unanswered.
        """
        path = urlsplit(target).path
        route = self._route(path)
        if route is None:
            self._count(path, 404)
            return track_error(404, "not_found", "path", f"no endpoint at {path}")

        handler = route.handlers.get(method)
        if handler is None:
            if not route.control:
                self._count(route.template, 405)
            return Reply(405, {}, (("Allow", ", ".join(route.handlers)),))

        request = _Request(method, route.params, headers, body)
        if route.control:
            return handler(request)

        fate = self._fate()
        if fate is Fate.DROP:
            self._count(route.template, "dropped")
            return None

        reply = handler(request) if fate is Fate.SERVE else self._refusal(fate)
        self._count(route.template, reply.status)
        return reply

    def _count(self, template: str, status: int | str) -> None:
        with self.workspace.lock:
            self.workspace.count_request(template, str(status))

    def _fate(self) -> Fate:
        fate = self.drawer.draw()
        latency = self.drawer.faults.latency_ms
        if latency:
            time.sleep(latency / 1000)
        return fate

    def _refusal(self, fate: Fate) -> Reply:
        if fate is Fate.THROTTLE:
            retry_after = str(self.drawer.faults.retry_after)
            return track_error(
                429,
                "throttled",
                "",
                "emulated rate limit",
                (("Retry-After", retry_after),),
            )

        return track_error(
            int(fate.value), "unavailable", "", "emulated server failure"
        )

    # -- Track API -----------------------------------------------------------

    def _track_authorized(self, headers: Message) -> bool:
        credentials = _basic_credentials(headers)
        return credentials is not None and (
            _same(credentials[0], self._site_id) & _same(credentials[1], self._api_key)
        )

    def _unauthorized(self, v2: bool) -> Reply:
        message = "Basic credentials site_id:api_key are missing or wrong"
        challenge = (("WWW-Authenticate", 'Basic realm="track"'),)
        if v2:
            return track_error(401, "unauthorized", "authorization", message, challenge)

        return Reply(401, {"meta": {"errors": [message]}}, challenge)

    def _track_v2(self, handler: Callable[[Workspace, bytes], Reply]) -> Handler:
        def serve(request: _Request) -> Reply:
            if not self._track_authorized(request.headers):
                return self._unauthorized(v2=True)

            return handler(self.workspace, request.body)

        return serve

    def _metrics(self, request: _Request) -> Reply:
        # The contract lets /api/v1/metrics go without credentials; wrong
        # ones are still refused, to catch a client sending the wrong key.
        if "Authorization" in request.headers and not self._track_authorized(
            request.headers
        ):
            return self._unauthorized(v2=False)

        return _track.metrics(self.workspace, request.body)

    def _region(self, request: _Request) -> Reply:
        if not self._track_authorized(request.headers):
            return self._unauthorized(v2=False)

        return Reply(200, {"url": self.url, "region": "us", "environment_id": 1})

    def _customer(self, request: _Request) -> Reply:
        if not self._track_authorized(request.headers):
            return self._unauthorized(v2=False)

        return _track.customer(
            self.workspace,
            request.method,
            request.params["identifier"],
            request.params["action"],
            request.body,
        )

    # -- Pipelines API ---------------------------------------------------------

    def _pipelines(self, call: str) -> Handler:
        def serve(request: _Request) -> Reply:
            credentials = _basic_credentials(request.headers)

            def authorized(body: Any) -> bool:
                if credentials is not None:
                    user, password = credentials
                    return _same(user, self._write_key) and not password

                key = body.get("writeKey") if isinstance(body, dict) else None
                return isinstance(key, str) and _same(key, self._write_key)

            strict = request.headers.get("X-Strict-Mode", "").strip() == "1"
            return _pipelines.handle(
                self.workspace,
                call,
                request.body,
                strict=strict,
                authorized=authorized,
            )

        return serve

    # -- control -----------------------------------------------------------------

    def _state(self, _request: _Request) -> Reply:
        with self.workspace.lock:
            return Reply(200, self.workspace.snapshot())

    def _reset(self, _request: _Request) -> Reply:
        with self.workspace.lock:
            self.workspace.reset()
        return OK

    def _get_faults(self, _request: _Request) -> Reply:
        return Reply(200, self.drawer.faults.to_json())

    def _set_faults(self, request: _Request) -> Reply:
        try:
            data = json.loads(request.body or b"{}")
            if not isinstance(data, dict):
                raise ConfigurationError(f"faults must be a JSON object; got {data!r}")

            faults = Faults.from_json(data)
        except ValueError as exc:
            return meta_errors(400, [str(exc)])

        self.drawer.set(faults)
        return Reply(200, faults.to_json())


# -- sockets -----------------------------------------------------------------------


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cio-destination-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = _IDLE_SECONDS
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._send(meta_errors(exc.status, [str(exc)]))
            return

        reply = self.server.app.respond(self.command, self.path, self.headers, body)
        if reply is None:
            self.close_connection = True
            return

        self._send(reply)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = self._read_chunked()
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError as exc:
                raise _BodyError(400, "Content-Length is not a number") from exc
            if not 0 <= length <= _MAX_READ_BYTES:
                raise _BodyError(
                    413, f"the body must be at most {_MAX_READ_BYTES} bytes"
                )

            raw = self.rfile.read(length)

        if self.headers.get("Content-Encoding", "").lower() != "gzip":
            return raw

        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(raw, _MAX_READ_BYTES + 1)
        except zlib.error as exc:
            raise _BodyError(400, "the gzip body cannot be read") from exc
        if len(data) > _MAX_READ_BYTES:
            raise _BodyError(413, f"the body must be at most {_MAX_READ_BYTES} bytes")

        return data

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BodyError(400, "a chunk size is not a number") from exc
            total += size
            if total > _MAX_READ_BYTES:
                raise _BodyError(
                    413, f"the body must be at most {_MAX_READ_BYTES} bytes"
                )

            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)

            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path can hold a person's identifier; log the method and status.
        _log.debug("answered %s with %s", self.command, code)

    def log_error(self, format: str, *args: Any) -> None:
        # The details can quote the raw request line, and so an identifier.
        status = args[0] if args and isinstance(args[0], int) else "no status"
        _log.debug("could not serve a request (%s)", status)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("http: " + format, *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: _Application) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._closing = False
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up in DNS; not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            if self._closing:
                _shut(connection)
            self._connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """
        Wake every connection thread by shutting its socket down.
        """
        with self._connections_lock:
            self._closing = True
            for connection in self._connections:
                _shut(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("a connection failed", exc_info=True)


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        _log.debug("a connection was already closed")


# -- the public front --------------------------------------------------------------


class Emulator:
    """
    A local Customer.io (Track and Pipelines APIs) served over real HTTP.

    ``with Emulator() as emulator:`` starts it on a free port of 127.0.0.1 in
    a background thread and stops it on exit; :attr:`url` is its base URL.
    The credentials it accepts default to :data:`DEFAULT_SITE_ID`,
    :data:`DEFAULT_API_KEY` and :data:`DEFAULT_WRITE_KEY`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        site_id: str = DEFAULT_SITE_ID,
        api_key: str = DEFAULT_API_KEY,
        write_key: str = DEFAULT_WRITE_KEY,
        faults: Faults | None = None,
    ) -> None:
        self._address = (host, port)
        self._app = _Application(
            site_id, api_key, write_key, Faults() if faults is None else faults
        )
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._app.url if self._server is not None else "stopped"
        return f"<Emulator {where}>"

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """
        The base URL, ``http://HOST:PORT``.

        :raises CioDestinationError: the emulator is not running.
        """
        if self._server is None:
            raise CioDestinationError("the emulator is not running; start it first")

        return self._app.url

    @property
    def faults(self) -> Faults:
        """
        The faults in force.
        """
        return self._app.drawer.faults

    def start(self) -> Emulator:
        """
        Listen and serve on a background thread; returns the emulator.

        :raises CioDestinationError: it is already running, or the address
            cannot be listened on.
        """
        if self._server is not None:
            raise CioDestinationError("the emulator is already running")

        host, port = self._address
        try:
            server = _HTTPServer((host, port), self._app)
        except OSError as exc:
            raise CioDestinationError(
                f"the emulator cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from exc

        bound_host, bound_port = server.server_name, server.server_port
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._app.url = f"http://{shown}:{bound_port}"
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"cio-destination-emulator-{bound_port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        _log.info("emulator listening on %s", self._app.url)
        return self

    def stop(self) -> None:
        """
        Stop serving, close every connection and join every thread.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return

        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None
        _log.info("emulator stopped")

    def state(self) -> dict[str, Any]:
        """
        The workspace as JSON-ready data, as ``GET /_emulator/state`` gives it.
        """
        with self._app.workspace.lock:
            return self._app.workspace.snapshot()

    def reset(self) -> None:
        """
        Empty the workspace and the request counters.
        """
        with self._app.workspace.lock:
            self._app.workspace.reset()

    def set_faults(self, faults: Faults) -> None:
        """
        Put ``faults`` in force, restarting the draws from its seed.
        """
        self._app.drawer.set(faults)
