"""
Finding, choosing and loading plugins by name.

A package ships a plugin by naming a factory in the ``cio_destination.plugins``
entry-point group; the factory is called with the plugin's options as keyword
arguments and returns the plugin (a plugin class is such a factory). The
built-ins are registered there too.

Which plugins a pipeline gets, in this order of precedence:

1. the names (or plugin objects) given in code;
2. the comma-separated names in ``CIO_DESTINATION_PLUGINS``;
3. every registered plugin, in name order.

Names given in code as disabled, or else in
``CIO_DESTINATION_DISABLED_PLUGINS``, are then left out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from cio_destination._errors import ConfigurationError, PluginError, PluginLoadError
from cio_destination._pipeline import Plugin, check_plugin

__all__ = [
    "DISABLED_VARIABLE",
    "ENTRY_POINT_GROUP",
    "PLUGINS_VARIABLE",
    "load_plugin",
    "load_plugins",
    "registered_plugins",
    "select_plugins",
]

_log = logging.getLogger(__name__)

#: The entry-point group plugins are registered in.
ENTRY_POINT_GROUP = "cio_destination.plugins"
#: Names the plugins to use, comma-separated, when code does not.
PLUGINS_VARIABLE = "CIO_DESTINATION_PLUGINS"
#: Names plugins to leave out, comma-separated, when code does not.
DISABLED_VARIABLE = "CIO_DESTINATION_DISABLED_PLUGINS"


def registered_plugins() -> dict[str, EntryPoint]:
    """
    Every plugin registered in the entry-point group, by name.

    When two distributions register one name, the first found wins.
    """
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry)

    return found


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _name_of(plugin: str | Plugin) -> str:
    return plugin if isinstance(plugin, str) else plugin.name


def select_plugins(
    plugins: Iterable[str | Plugin] | None = None,
    disabled: Iterable[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[str | Plugin]:
    """
    The names and plugin objects a pipeline should get, in order.

    ``plugins`` and ``disabled`` come from code; when either is None, its
    environment variable fills it (see the module's docstring).
    """
    env = os.environ if environ is None else environ
    if plugins is None:
        named = _names(env.get(PLUGINS_VARIABLE, ""))
        plugins = named or sorted(registered_plugins())
    if disabled is None:
        disabled = _names(env.get(DISABLED_VARIABLE, ""))

    chosen = list(plugins)
    left_out = set(disabled)
    unknown = left_out - {_name_of(plugin) for plugin in chosen}
    unknown -= set(registered_plugins())
    for name in sorted(unknown):
        _log.warning("disabled plugin %r is neither chosen nor registered", name)

    return [plugin for plugin in chosen if _name_of(plugin) not in left_out]


def load_plugin(name: str, **options: Any) -> Plugin:
    """
    Load the plugin registered as ``name``, configured with ``options``.

    :raises PluginLoadError: no plugin of that name is registered, or it
        cannot be imported, built, or is not a plugin.
    :raises ConfigurationError: the plugin refused its options.
    """
    entry = registered_plugins().get(name)
    if entry is None:
        known = ", ".join(sorted(registered_plugins())) or "none"
        raise PluginLoadError(
            name,
            f"no plugin of that name in {ENTRY_POINT_GROUP!r}; registered: {known}",
        )

    try:
        factory = entry.load()
    except Exception as exc:  # any import failure is the plugin's
        raise PluginLoadError(
            name, f"cannot import {entry.value!r}: {type(exc).__name__}: {exc}"
        ) from exc

    if not callable(factory):
        raise PluginLoadError(name, f"{entry.value!r} is not callable")

    try:
        plugin = factory(**options)
    except ConfigurationError:
        raise
    except Exception as exc:  # any failure to build is the plugin's
        raise PluginLoadError(
            name, f"{entry.value!r} raised {type(exc).__name__}: {exc}"
        ) from exc

    return _checked(name, plugin)


def _checked(name: str, plugin: Any) -> Plugin:
    try:
        check_plugin(plugin)
    except PluginError as exc:
        raise PluginLoadError(name, str(exc)) from exc

    checked: Plugin = plugin
    return checked


def load_plugins(
    plugins: Iterable[str | Plugin] | None = None,
    disabled: Iterable[str] | None = None,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Plugin]:
    """
    Choose plugins as :func:`select_plugins` does and load those given by name.

    ``options`` maps a plugin's name to the keyword options it is built
    with. If one plugin fails, those this call already built are shut down,
    so the plugins returned can always go into one :class:`Pipeline`.

    :raises PluginLoadError: a chosen plugin failed to load; it is named.
    :raises ConfigurationError: a chosen plugin refused its options.
    :raises PluginError: a plugin given as an object is not a valid plugin,
        or two chosen plugins have the same name.
    """
    options = options or {}
    loaded: list[Plugin] = []
    built: list[Plugin] = []
    try:
        for choice in select_plugins(plugins, disabled, environ=environ):
            if isinstance(choice, str):
                plugin = load_plugin(choice, **options.get(choice, {}))
                built.append(plugin)
            else:
                check_plugin(choice)
                plugin = choice
            loaded.append(plugin)

        _check_unique(loaded)
    except Exception:
        _shut_down(built)
        raise

    return loaded


def _check_unique(plugins: Sequence[Plugin]) -> None:
    seen: set[str] = set()
    for plugin in plugins:
        if plugin.name in seen:
            raise PluginError(
                f"plugin names must be unique; {plugin.name!r} was chosen twice"
            )
        seen.add(plugin.name)


def _shut_down(plugins: Sequence[Plugin]) -> None:
    for plugin in plugins:
        shutdown = getattr(plugin, "shutdown", None)
        if shutdown is None:
            continue
        try:
            shutdown(0)
        except Exception as exc:  # noqa: BLE001 - the load error is the one to report
            _log.warning(
                "plugin %r raised %s while shutting down",
                plugin.name,
                type(exc).__name__,
            )
