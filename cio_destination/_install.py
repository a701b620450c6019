"""
Putting the pipeline into one ``segment.analytics.Client`` and taking it out.

:func:`install` wraps three methods of one client instance, never the class:

- ``_enqueue``, which every identify, track, page, screen, group and alias
  call ends in. The host completes the message there (timestamp, messageId,
  ``context.library``, cleaned values) and the pipeline runs on that
  completed message, so the destinations see what Segment gets;
- ``flush``, which then flushes the pipeline's plugins too;
- ``join``, which then shuts them down. ``client.shutdown()`` and the
  module's ``shutdown()`` both flush and join, so both reach the plugins.

Segment still gets the original message, unchanged, before the pipeline runs.
A strict pipeline (``on_invalid="raise"``) runs first instead, so that a
refused message reaches neither Segment nor Customer.io; with
``forward=False`` Segment gets nothing.

:func:`uninstall` puts the instance's own attributes back as they were.
"""

from __future__ import annotations

import copy
import logging
import threading
import types
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import segment.analytics
from segment.analytics import Client

from cio_destination._errors import ConfigurationError, InvalidEventError
from cio_destination._pipeline import Message, Pipeline, Plugin
from cio_destination._registry import load_plugins

__all__ = ["install", "installed_pipeline", "uninstall"]

_log = logging.getLogger(__name__)

#: The built-in destination plugin, which ``install()``'s options configure.
_DESTINATION_PLUGIN = "customerio"
#: The client attributes an installation replaces.
_WRAPPED = ("_enqueue", "flush", "join")
_ABSENT = object()
#: How long the client's flush() and shutdown() wait for each plugin, so that
#: an unreachable Customer.io cannot hold the app for the whole retry budget;
#: what is not delivered by then stays in the outbox.
DEFAULT_FLUSH_TIMEOUT = 30.0
_installing = threading.Lock()

_Enqueue = Callable[[Message], "tuple[bool, Message]"]


class _Installation:
    """
    The wrappers put into one client, and what they replaced.
    """

    def __init__(
        self,
        client: Client,
        pipeline: Pipeline,
        *,
        forward: bool,
        flush_timeout: float | None,
    ) -> None:
        self.pipeline = pipeline
        self._forward = forward
        self._flush_timeout = flush_timeout
        self._saved = {name: vars(client).get(name, _ABSENT) for name in _WRAPPED}
        self._segment_enqueue: _Enqueue = client._enqueue
        self._segment_flush: Callable[[], None] = client.flush
        self._segment_join: Callable[[], None] = client.join

        # A copy of the client that never sends: its _enqueue is the host's
        # own code completing a message, then returning it without queueing.
        completer = copy.copy(client)
        completer.send = False
        self._complete: _Enqueue = types.MethodType(type(client)._enqueue, completer)

    def put_into(self, client: Client) -> None:
        client._enqueue = self.enqueue
        client.flush = self.flush
        client.join = self.join

    def take_out_of(self, client: Client) -> None:
        for name, saved in self._saved.items():
            if saved is _ABSENT:
                vars(client).pop(name, None)
            else:
                setattr(client, name, saved)

    def enqueue(self, message: Message) -> tuple[bool, Message]:
        """
        Stand in for the client's ``_enqueue``.
        """
        if not self._forward:
            result = self._complete(message)
            self._run(result[1])
            return result

        if not self.pipeline.strict:
            result = self._segment_enqueue(message)
            self._run(result[1])
            return result

        # Fix the values the host would draw, so that completing the message
        # twice, here and in Segment's _enqueue, gives the same message.
        if message.get("timestamp") is None:
            message["timestamp"] = datetime.now(UTC)
        if message.get("messageId") is None:
            message["messageId"] = str(uuid.uuid4())
        _, completed = self._complete(dict(message))
        self._run(completed)
        return self._segment_enqueue(message)

    def flush(self) -> None:
        """
        Stand in for the client's ``flush``.
        """
        self._segment_flush()
        self.pipeline.flush(self._flush_timeout)

    def join(self) -> None:
        """
        Stand in for the client's ``join``.
        """
        self._segment_join()
        self.pipeline.shutdown(self._flush_timeout)

    def _run(self, message: Message) -> None:
        try:
            self.pipeline.run(message)
        except InvalidEventError:
            raise
        except Exception as exc:  # noqa: BLE001 - never break the app's call
            _log.warning("pipeline raised %s; message skipped", type(exc).__name__)
            _log.debug("pipeline failed", exc_info=exc)


def _installation(client: Client) -> _Installation | None:
    owner = getattr(vars(client).get("_enqueue"), "__self__", None)
    return owner if isinstance(owner, _Installation) else None


def _module_client(*, create: bool) -> Client | None:
    if segment.analytics.default_client is None and create:
        write_key = segment.analytics.write_key
        if not isinstance(write_key, str):
            raise ConfigurationError(
                "segment.analytics.write_key must be a string before install() "
                f"creates the module's default client; got {write_key!r}"
            )
        # The module's own flush() creates the default client from the
        # module-level settings, exactly as its first track() would; the new
        # client's queue is empty, so the flush itself returns at once.
        segment.analytics.flush()

    return segment.analytics.default_client


def install(
    client: Client | None = None,
    *,
    forward: bool = True,
    plugins: Iterable[str | Plugin] | None = None,
    disabled_plugins: Iterable[str] | None = None,
    plugin_options: Mapping[str, Mapping[str, Any]] | None = None,
    flush_timeout: float | None = DEFAULT_FLUSH_TIMEOUT,
    **options: Any,
) -> Pipeline:
    """
    Run every message of a segment client through a pipeline; return it.

    ``client`` is one ``segment.analytics.Client``; None means the module's
    default client, created as the module would if it does not exist yet.
    ``options`` configure the Customer.io destination plugin (``site_id``,
    ``api_key``, ``write_key``, ``region``, ``endpoint``, ``outbox``,
    ``on_invalid``, ``retry``, ``on_error``); the ``CUSTOMERIO_*``
    environment variables fill what is left out. ``on_invalid="raise"``
    makes the pipeline strict. ``plugins``, ``disabled_plugins`` and
    ``plugin_options`` choose and configure plugins by name (see
    :mod:`cio_destination._registry`). ``forward=False`` stops the messages
    going to Segment. ``flush_timeout`` bounds how long the client's
    ``flush()`` and ``shutdown()`` wait for each plugin (None: until done).

    Installing on a client that has a pipeline already returns that
    pipeline; options given then are ignored, with a warning.

    :raises ConfigurationError: the destination's settings cannot work, or
        the module's default client cannot be created without a write key.
    :raises PluginLoadError: a chosen plugin failed to load; it is named.
    :raises PluginError: a plugin object given is not a valid plugin, or two
        chosen plugins have the same name.
    """
    if client is None:
        client = _module_client(create=True)

    with _installing:
        existing = _installation(client)
        if existing is not None:
            changed_timeout = flush_timeout != DEFAULT_FLUSH_TIMEOUT
            if (
                options
                or plugins is not None
                or plugin_options
                or not forward
                or changed_timeout
            ):
                warnings.warn(
                    "install(): the client already has a pipeline; the options "
                    "given are ignored (uninstall() it first to change them)",
                    stacklevel=2,
                )
            return existing.pipeline

        configured = {
            name: dict(values) for name, values in (plugin_options or {}).items()
        }
        destination_options = {**configured.get(_DESTINATION_PLUGIN, {}), **options}
        configured[_DESTINATION_PLUGIN] = destination_options
        loaded = load_plugins(plugins, disabled_plugins, options=configured)
        strict = destination_options.get("on_invalid") == "raise"
        pipeline = Pipeline(loaded, strict=strict)

        installation = _Installation(
            client, pipeline, forward=forward, flush_timeout=flush_timeout
        )
        installation.put_into(client)

    _log.debug("pipeline installed with plugins %s", [p.name for p in loaded])
    return pipeline


def installed_pipeline(client: Client | None = None) -> Pipeline | None:
    """
    The pipeline installed on ``client`` (default: the module's client), or None.
    """
    if client is None:
        client = _module_client(create=False)
    if client is None:
        return None

    installation = _installation(client)
    return None if installation is None else installation.pipeline


def uninstall(client: Client | None = None, *, timeout: float | None = None) -> None:
    """
    Take the pipeline out of ``client`` and shut its plugins down.

    ``client`` defaults to the module's default client. The instance's
    wrapped attributes are restored exactly; a client without a pipeline is
    left alone. ``timeout`` bounds how long each plugin may take to shut
    down.
    """
    if client is None:
        client = _module_client(create=False)
    if client is None:
        return

    with _installing:
        installation = _installation(client)
        if installation is None:
            return
        installation.take_out_of(client)

    installation.pipeline.shutdown(timeout)
