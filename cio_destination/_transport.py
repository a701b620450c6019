"""
HTTP transports for the Track and Pipelines APIs.

One :class:`Transport` holds one pooled ``requests`` session for one
destination. It posts a request body, reads the answer and returns a
:class:`Reply`: the status, the ``Retry-After`` wait, and for a 207 the
items Customer.io refused. What the reply means (deliver, retry, reject) is
the sender's and the retry policy's business, not this module's.

``requests`` exceptions are translated here, and nowhere else: an answer
that never came is a :class:`Reply` whose ``status`` is None.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import attrs
import requests
import requests.adapters

from cio_destination._batching import request_body
from cio_destination._errors import ConfigurationError
from cio_destination._model import OperationKind
from cio_destination._retry import parse_retry_after
from cio_destination._settings import Settings

logger = logging.getLogger(__name__)

_REASON_CHARS = 300


def _user_agent() -> str:
    try:
        version = metadata.version("cio-destination")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a tree
        version = "0"
    return f"cio-destination/{version} python-requests/{requests.__version__}"


@attrs.frozen
class Reply:
    """
    What came back for one request.

    ``status`` is None when no answer came (connection refused or reset, a
    timeout). ``rejected`` maps the batch index of each item a 207 refused
    to Customer.io's reason; ``unattributed`` holds the reasons of a 207's
    errors that name no item of the batch. ``detail`` is a short description
    for logs and errors; it never holds a key or a request body.
    """

    status: int | None
    detail: str
    retry_after: float | None = None
    rejected: Mapping[int, str] = attrs.field(factory=dict)
    unattributed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """
        True for a 2xx answer (a 207 accepted every item it does not list).
        """
        return self.status is not None and 200 <= self.status <= 299


def _check_endpoint(endpoint: str) -> None:
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"endpoint must be an http:// or https:// URL with a host; got {endpoint!r}"
        )


def _error_text(item: Any) -> str:
    if isinstance(item, Mapping):
        parts = [
            str(item[key]) for key in ("field", "reason", "message") if item.get(key)
        ]
        return ": ".join(parts) or "no reason given"

    return str(item)


def _errors_of(payload: Any) -> list[Any]:
    if not isinstance(payload, Mapping):
        return []

    errors = payload.get("errors")
    if errors is None and isinstance(payload.get("meta"), Mapping):
        meta = payload["meta"]
        errors = meta.get("errors") or ([meta["error"]] if meta.get("error") else None)
    return list(errors) if isinstance(errors, list) else []


class Transport:
    """
    Posts request bodies to Customer.io (or to ``settings.endpoint``).

    The Track API gets Basic ``site_id:api_key``; the Pipelines API gets
    Basic with the write key and an empty password, plus ``X-Strict-Mode: 1``
    so that it answers errors with error statuses. ``timeout`` bounds both
    connecting and each read, in seconds.

    :raises ConfigurationError: the endpoint is not an http(s) URL.
    """

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        if settings.endpoint:
            _check_endpoint(settings.endpoint)

        self.base_url = settings.base_url
        self._timeout = timeout
        self._unauthorized = self._describe_refusal(settings)
        self._session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=2, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"Content-Type": "application/json", "User-Agent": _user_agent()}
        )

        if settings.transport == "pipelines":
            self._session.auth = (settings.write_key or "", "")
            self._session.headers["X-Strict-Mode"] = "1"
        elif settings.site_id or settings.api_key:
            self._session.auth = (settings.site_id or "", settings.api_key or "")

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def _describe_refusal(self, settings: Settings) -> str:
        if settings.transport == "pipelines":
            return (
                f"Customer.io at {self.base_url} refused the write key (HTTP 401); "
                "check write_key or CUSTOMERIO_WRITE_KEY"
            )

        return (
            f"Customer.io at {self.base_url} refused site id {settings.site_id!r} with "
            "the API key given (HTTP 401); check site_id and api_key or "
            "CUSTOMERIO_SITE_ID and CUSTOMERIO_API_KEY"
        )

    def url(self, kind: OperationKind) -> str:
        """
        Where requests carrying operations of ``kind`` go.

        Kinds with a batch endpoint always use it, even for one operation,
        so that every answer has the same shape.
        """
        return f"{self.base_url}{kind.batch_path or kind.path}"

    def post(self, kind: OperationKind, bodies: list[bytes]) -> Reply:
        """
        Send ``bodies`` (encoded operations of ``kind``) in one request.

        Never raises for a network failure: a request that got no answer
        comes back as a reply with ``status`` None.
        """
        url = self.url(kind)
        data = request_body(kind, bodies)
        try:
            response = self._session.post(url, data=data, timeout=self._timeout)
        except requests.Timeout as exc:
            return Reply(
                None,
                f"no answer from {url} within {self._timeout:g}s"
                f" ({type(exc).__name__})",
            )
        except requests.RequestException as exc:
            return Reply(None, f"request to {url} failed ({type(exc).__name__})")

        with response:
            return self._read(url, response, len(bodies))

    def _read(self, url: str, response: requests.Response, count: int) -> Reply:
        status = response.status_code
        retry_after = parse_retry_after(
            response.headers.get("Retry-After"), now=time.time()
        )
        if status == 401:
            return Reply(status, self._unauthorized, retry_after)

        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = None

        errors = _errors_of(payload)
        if status == 207:
            rejected: dict[int, str] = {}
            unattributed: list[str] = []
            for item in errors:
                index = item.get("batch_index") if isinstance(item, Mapping) else None
                if type(index) is int and 0 <= index < count:
                    rejected[index] = _error_text(item)
                else:
                    unattributed.append(_error_text(item)[:_REASON_CHARS])
            detail = f"HTTP 207 from {url}"
            return Reply(status, detail, retry_after, rejected, tuple(unattributed))

        detail = f"HTTP {status} from {url}"
        if errors:
            reasons = "; ".join(_error_text(item) for item in errors)
            detail = f"{detail}: {reasons[:_REASON_CHARS]}"
        return Reply(status, detail, retry_after)

    def close(self) -> None:
        """
        Close the pooled connections.
        """
        self._session.close()
