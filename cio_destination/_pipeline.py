"""
The plugin timeline every message of an installed client runs through.

Plugins have one of four types and run in this order::

    before -> enrichment -> destination(s) -> after

A plugin's ``process(message)`` returns the message, changed or not, or None
to drop it for what follows. Before and enrichment plugins work on a copy, so
the dict handed to :meth:`Pipeline.run` (the one Segment sends) never
changes. Each destination gets the same enriched message, must not change it,
and may keep it (to deliver later, say); what it returns matters to no one
else. After plugins work on a copy of their own.

A plugin that raises is logged and skipped. A before plugin that raises drops
the message, as if it had returned None: a gate that fails stays shut. A
strict pipeline lets :class:`~cio_destination.InvalidEventError` through to
the app's call instead.

Plugins are added and removed while other threads track: the timeline is a
tuple that is replaced, never changed, so :meth:`Pipeline.run` reads it
without a lock. A run that started before a removal may still reach the
removed plugin once.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attrs

from cio_destination._errors import InvalidEventError, PluginError

__all__ = [
    "Message",
    "Pipeline",
    "Plugin",
    "PluginType",
    "check_plugin",
    "integration_enabled",
]

_log = logging.getLogger(__name__)

#: A Segment message: the JSON object the host library sends.
Message = dict[str, Any]

_Process = Callable[[Message], "Message | None"]


class PluginType(enum.StrEnum):
    """
    Where in the timeline a plugin runs.
    """

    #: Runs first; may drop a message for everything that follows.
    BEFORE = "before"
    #: Adds to or changes the message the destinations get.
    ENRICHMENT = "enrichment"
    #: Sends the message somewhere; destinations do not affect each other.
    DESTINATION = "destination"
    #: Runs last, after every destination had the message.
    AFTER = "after"


class Plugin(Protocol):
    """
    What the pipeline needs of a plugin.

    ``type`` is a :class:`PluginType` or its string value and ``name`` is
    unique within a pipeline. A plugin may also provide
    ``flush(timeout) -> bool`` and ``shutdown(timeout) -> None``, which the
    pipeline calls when the client is flushed or shut down, and a destination
    may name its ``integration`` key (``"Customer.io"``), which lets a
    message's ``integrations`` turn it off.
    """

    @property
    def type(self) -> PluginType | str:
        """
        Where in the timeline the plugin runs.
        """

    @property
    def name(self) -> str:
        """
        The plugin's name, unique within a pipeline.
        """

    def process(self, message: Message) -> Message | None:
        """
        Return the message, changed or not, or None to drop it.
        """


def integration_enabled(message: Mapping[str, Any], key: str) -> bool:
    """
    Whether a message's ``integrations`` let the destination ``key`` have it.

    As Segment reads them: ``{key: false}`` turns the destination off;
    ``{"All": false}`` turns every destination off except those set to true.
    """
    integrations = message.get("integrations")
    if not integrations or not isinstance(integrations, Mapping):
        return True

    setting = integrations.get(key)
    if setting is None:
        return integrations.get("All") is not False

    return setting is not False


@attrs.frozen
class _Destination:
    plugin: Plugin
    process: _Process
    integration: str | None


@attrs.frozen
class _Timeline:
    before: tuple[Plugin, ...] = ()
    enrichment: tuple[Plugin, ...] = ()
    destination: tuple[_Destination, ...] = ()
    after: tuple[Plugin, ...] = ()

    @property
    def changes_messages(self) -> bool:
        return bool(self.before or self.enrichment)

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        destinations = tuple(entry.plugin for entry in self.destination)
        return (*self.before, *self.enrichment, *destinations, *self.after)

    def with_plugin(self, plugin: Plugin, kind: PluginType) -> _Timeline:
        if kind is PluginType.BEFORE:
            return attrs.evolve(self, before=(*self.before, plugin))
        if kind is PluginType.ENRICHMENT:
            return attrs.evolve(self, enrichment=(*self.enrichment, plugin))
        if kind is PluginType.AFTER:
            return attrs.evolve(self, after=(*self.after, plugin))

        integration = getattr(plugin, "integration", None)
        entry = _Destination(plugin, plugin.process, integration)
        return attrs.evolve(self, destination=(*self.destination, entry))

    def without(self, plugin: Plugin) -> _Timeline:
        def keep(plugins: tuple[Plugin, ...]) -> tuple[Plugin, ...]:
            return tuple(each for each in plugins if each is not plugin)

        return _Timeline(
            before=keep(self.before),
            enrichment=keep(self.enrichment),
            destination=tuple(
                entry for entry in self.destination if entry.plugin is not plugin
            ),
            after=keep(self.after),
        )


def _copy(value: Any) -> Any:
    """
    Copy the dicts and lists of a JSON-shaped value; leave the leaves shared.
    """
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def check_plugin(plugin: object) -> PluginType:
    """
    Return the type of ``plugin`` once sure it can go into a pipeline.

    :raises PluginError: the plugin has no valid ``type``, no name, or no
        ``process`` method.
    """
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin name must be a non-empty string; got {name!r}")

    declared = getattr(plugin, "type", None)
    try:
        kind = PluginType(str(declared))
    except ValueError:
        choices = ", ".join(kind.value for kind in PluginType)
        raise PluginError(
            f"plugin type must be one of {choices}; {name!r} has {declared!r}"
        ) from None

    if not callable(getattr(plugin, "process", None)):
        raise PluginError(f"plugin {name!r} must have a process(message) method")

    return kind


class Pipeline:
    """
    The plugin timeline: before, enrichment, destination and after plugins.

    ``strict`` lets an :class:`~cio_destination.InvalidEventError` raised by
    a plugin reach the caller of :meth:`run`; otherwise it is logged and
    skipped like any other error.
    """

    def __init__(self, plugins: Iterable[Plugin] = (), *, strict: bool = False) -> None:
        self.strict = strict
        self._timeline = _Timeline()
        self._changing = threading.Lock()
        for plugin in plugins:
            self.add(plugin)

    def __repr__(self) -> str:
        names = ", ".join(repr(plugin.name) for plugin in self.plugins)
        return f"<Pipeline strict={self.strict} plugins=[{names}]>"

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        """
        Every plugin, in the order the timeline runs them.
        """
        return self._timeline.plugins

    def find(self, name: str) -> Plugin | None:
        """
        The plugin called ``name``, or None.
        """
        for plugin in self.plugins:
            if plugin.name == name:
                return plugin

        return None

    def add(self, plugin: Plugin) -> Plugin:
        """
        Add ``plugin`` after the others of its type and return it.

        Safe while other threads run the pipeline.

        :raises PluginError: the plugin has no valid ``type``, no ``process``,
            or a name already in the pipeline.
        """
        kind = check_plugin(plugin)
        name = plugin.name
        with self._changing:
            if any(each.name == name for each in self._timeline.plugins):
                raise PluginError(
                    f"plugin names must be unique; {name!r} is already in the pipeline"
                )
            self._timeline = self._timeline.with_plugin(plugin, kind)

        return plugin

    def remove(self, plugin: Plugin | str) -> Plugin:
        """
        Take a plugin, or the plugin of that name, out and return it.

        The plugin is not shut down; do that when done with it. Safe while
        other threads run the pipeline.

        :raises PluginError: no such plugin is in the pipeline.
        """
        with self._changing:
            timeline = self._timeline
            for each in timeline.plugins:
                if each is plugin or each.name == plugin:
                    self._timeline = timeline.without(each)
                    return each

        name = plugin if isinstance(plugin, str) else plugin.name
        raise PluginError(f"plugin {name!r} is not in the pipeline")

    def run(self, message: Message) -> Message | None:
        """
        Run ``message`` through the timeline; return what the after plugins left.

        The dict given is never changed. Errors in plugins are logged, not
        raised.

        :raises InvalidEventError: only in a strict pipeline, when a plugin
            refuses the message.
        """
        timeline = self._timeline
        if timeline.changes_messages:
            before = self._through(timeline.before, _copy(message), failing_drops=True)
            if before is None:
                return None
            enriched = self._through(timeline.enrichment, before, failing_drops=False)
            if enriched is None:
                return None
            message = enriched

        for destination in timeline.destination:
            if destination.integration is not None and not integration_enabled(
                message, destination.integration
            ):
                continue
            try:
                destination.process(message)
            except Exception as exc:  # noqa: BLE001 - a plugin must not break the app
                self._failed(destination.plugin, exc)

        if not timeline.after:
            return message

        return self._through(timeline.after, _copy(message), failing_drops=False)

    def _through(
        self, plugins: tuple[Plugin, ...], message: Message, *, failing_drops: bool
    ) -> Message | None:
        for plugin in plugins:
            try:
                result = plugin.process(message)
            except Exception as exc:  # noqa: BLE001 - a plugin must not break the app
                self._failed(plugin, exc)
                if failing_drops:
                    return None
                continue
            if result is None:
                return None
            message = result

        return message

    def flush(self, timeout: float | None = None) -> bool:
        """
        Flush every plugin that can be flushed; True when all of them finished.

        ``timeout`` is passed to each plugin's ``flush``. A plugin whose flush
        raises is logged and counts as unfinished.
        """
        finished = True
        for plugin in self.plugins:
            flush = getattr(plugin, "flush", None)
            if flush is None:
                continue
            try:
                finished = bool(flush(timeout)) and finished
            except Exception as exc:  # noqa: BLE001 - flushing must not break the app
                self._failed(plugin, exc, during="flush")
                finished = False

        return finished

    def shutdown(self, timeout: float | None = None) -> None:
        """
        Shut down every plugin that can be; errors are logged.
        """
        for plugin in self.plugins:
            shutdown = getattr(plugin, "shutdown", None)
            if shutdown is None:
                continue
            try:
                shutdown(timeout)
            except Exception as exc:  # noqa: BLE001 - must not break the app
                self._failed(plugin, exc, during="shutdown")

    def _failed(self, plugin: Plugin, exc: Exception, during: str = "process") -> None:
        if during == "process" and self.strict and isinstance(exc, InvalidEventError):
            raise exc

        _log.warning(
            "%s plugin %r raised %s in %s; skipped",
            plugin.type,
            plugin.name,
            type(exc).__name__,
            during,
        )
        _log.debug("%s plugin %r failed", plugin.type, plugin.name, exc_info=exc)
