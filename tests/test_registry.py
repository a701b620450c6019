"""
Tests for finding, choosing and loading plugins through entry points.

Each test plugin lives in a real distribution written to a temporary
directory on ``sys.path``: a module and a ``*.dist-info`` whose
``entry_points.txt`` registers it, found by ``importlib.metadata`` as an
installed package would be.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pipeline_support import Probe, tags
from segment.analytics import Client

from cio_destination._errors import ConfigurationError, PluginError, PluginLoadError
from cio_destination._install import install, uninstall
from cio_destination._registry import (
    ENTRY_POINT_GROUP,
    load_plugin,
    load_plugins,
    registered_plugins,
    select_plugins,
)

_MODULE = '''
"""Plugins a third-party package would ship."""

from cio_destination import ConfigurationError

BUILT = []


class Tagger:
    type = "enrichment"

    def __init__(self, tag="tagger", name="tagger"):
        self.tag = tag
        self.name = name
        BUILT.append(self)

    def process(self, message):
        message.setdefault("context", {}).setdefault("tags", []).append(self.tag)
        return message

    def shutdown(self, timeout=None):
        self.shut_down = True


def broken_factory(**options):
    raise RuntimeError("no database")


def refusing_factory(**options):
    raise ConfigurationError("tagger_url must be an http URL; got 'ftp://x'")


NOT_CALLABLE = 3


def not_a_plugin(**options):
    return object()
'''

Register = Callable[[dict[str, str]], str]


@pytest.fixture
def register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Register]:
    """
    Install a distribution whose entry points are ``{name: "module:attr"}``.

    Returns the name of the module holding the test plugins (``_MODULE``);
    a value naming ``missing_module`` points at a module that cannot import.
    """
    modules: list[str] = []

    def register(entry_points: dict[str, str]) -> str:
        number = len(modules)
        module = f"cio_test_plugins_{tmp_path.name.replace('-', '_')}_{number}"
        site = tmp_path / f"site-{number}"
        info = site / f"{module}-1.0.dist-info"
        info.mkdir(parents=True)
        (site / f"{module}.py").write_text(_MODULE)
        (site / "missing_module.py").write_text("import no_such_dependency_here\n")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n"
        )
        lines = [
            f"{name} = {value.format(module=module)}"
            for name, value in entry_points.items()
        ]
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n"
        )
        monkeypatch.syspath_prepend(str(site))
        modules.append(module)
        return module

    yield register
    for module in [*modules, "missing_module"]:
        sys.modules.pop(module, None)


def test_the_built_in_plugin_is_registered_in_the_group() -> None:
    """
    The Customer.io destination is found through the entry-point group.
    """
    entry = registered_plugins()["customerio"]

    assert entry.value == "cio_destination._plugins:CustomerIOPlugin"


def test_a_plugin_another_distribution_ships_is_discovered(register: Register) -> None:
    """
    A distribution registering an entry point adds its plugin to the registry.
    """
    module = register({"tagger": "{module}:Tagger"})

    found = registered_plugins()

    assert found["tagger"].value == f"{module}:Tagger"
    assert "customerio" in found


def test_a_plugin_is_loaded_by_name_with_its_options(register: Register) -> None:
    """
    load_plugin builds the registered factory with the options given.
    """
    register({"tagger": "{module}:Tagger"})

    plugin = load_plugin("tagger", tag="tenant-7")

    assert plugin.name == "tagger"
    assert plugin.type == "enrichment"
    assert tags(plugin.process({}) or {}) == ["tenant-7"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("missing_module:Plugin", "cannot import", id="import-fails"),
        pytest.param("{module}:Absent", "cannot import", id="attribute-missing"),
        pytest.param(
            "{module}:broken_factory", "RuntimeError: no database", id="build-fails"
        ),
        pytest.param("{module}:NOT_CALLABLE", "is not callable", id="not-callable"),
        pytest.param("{module}:not_a_plugin", "name must be", id="not-a-plugin"),
    ],
)
def test_a_plugin_that_fails_to_load_is_named(
    register: Register, value: str, reason: str
) -> None:
    """
    Every way of failing to load gives a PluginLoadError naming the plugin.
    """
    register({"flaky": value})

    with pytest.raises(PluginLoadError, match=reason) as caught:
        load_plugin("flaky")

    assert caught.value.name == "flaky"
    assert "plugin 'flaky' failed to load" in str(caught.value)


def test_a_failure_to_load_keeps_its_cause(register: Register) -> None:
    """
    The error the plugin raised is chained as the load error's cause.
    """
    register({"flaky": "{module}:broken_factory"})

    with pytest.raises(PluginLoadError) as caught:
        load_plugin("flaky")

    assert isinstance(caught.value.__cause__, RuntimeError)


def test_an_unregistered_name_lists_the_registered_ones() -> None:
    """
    Asking for a plugin nobody registered says which names exist.
    """
    with pytest.raises(PluginLoadError, match="registered: customerio") as caught:
        load_plugin("segmnet")

    assert caught.value.name == "segmnet"


def test_a_plugin_refusing_its_options_raises_the_configuration_error(
    register: Register,
) -> None:
    """
    A plugin's own ConfigurationError, which names the setting, is kept as is.
    """
    register({"picky": "{module}:refusing_factory"})

    with pytest.raises(ConfigurationError, match="tagger_url"):
        load_plugin("picky")


def test_by_default_every_registered_plugin_is_chosen_in_name_order(
    register: Register,
) -> None:
    """
    With nothing chosen in code or environment, all registered plugins are.
    """
    register({"zeta": "{module}:Tagger", "alpha": "{module}:Tagger"})

    assert select_plugins() == ["alpha", "customerio", "zeta"]


def test_the_environment_chooses_and_orders_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    CIO_DESTINATION_PLUGINS names the plugins to use, in its order.
    """
    monkeypatch.setenv("CIO_DESTINATION_PLUGINS", " zeta , alpha,,customerio ")

    assert select_plugins() == ["zeta", "alpha", "customerio"]


def test_the_environment_disables_plugins(
    monkeypatch: pytest.MonkeyPatch, register: Register
) -> None:
    """
    CIO_DESTINATION_DISABLED_PLUGINS leaves the plugins it names out.
    """
    register({"alpha": "{module}:Tagger"})
    monkeypatch.setenv("CIO_DESTINATION_DISABLED_PLUGINS", "customerio")

    assert select_plugins() == ["alpha"]


def test_code_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Plugins and disabled names given in code replace the environment's.
    """
    monkeypatch.setenv("CIO_DESTINATION_PLUGINS", "alpha,beta")
    monkeypatch.setenv("CIO_DESTINATION_DISABLED_PLUGINS", "gamma")
    probe = Probe("delta")

    assert select_plugins(["gamma", probe], disabled=["beta"]) == ["gamma", probe]


def test_disabling_an_unknown_name_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    A disabled name that matches nothing, a likely typo, is reported.
    """
    with caplog.at_level(logging.WARNING, logger="cio_destination._registry"):
        chosen = select_plugins(["customerio"], disabled=["custmerio"])

    assert chosen == ["customerio"]
    assert "'custmerio'" in caplog.text


def test_load_plugins_shuts_down_what_it_built_when_one_fails(
    register: Register,
) -> None:
    """
    When a later plugin fails to load, the ones already built are shut down.
    """
    module = register({"tagger": "{module}:Tagger", "flaky": "{module}:broken_factory"})

    with pytest.raises(PluginLoadError, match="'flaky'"):
        load_plugins(["tagger", "flaky"])

    (built,) = sys.modules[module].BUILT
    assert built.shut_down is True


def test_load_plugins_refuses_two_plugins_of_one_name() -> None:
    """
    Two chosen plugins with one name cannot share a pipeline.
    """
    with pytest.raises(PluginError, match="'twin' was chosen twice"):
        load_plugins([Probe("twin"), Probe("twin", "after")])


def test_install_takes_plugins_and_their_options_from_code(register: Register) -> None:
    """
    install() chooses plugins by name and configures each from plugin_options.
    """
    register({"tagger": "{module}:Tagger"})
    destination = Probe("destination")
    client = Client("test-write-key", send=False)

    pipeline = install(
        client,
        plugins=["tagger", destination],
        plugin_options={"tagger": {"tag": "eu-west"}},
    )
    client.track("42", "Signed Up")
    uninstall(client)

    assert [p.name for p in pipeline.plugins] == ["tagger", "destination"]
    assert tags(destination.seen[0]) == ["eu-west"]


def test_install_takes_plugins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, register: Register
) -> None:
    """
    install() with no plugins in code uses the ones the environment names.
    """
    register({"tagger": "{module}:Tagger", "other": "{module}:Tagger"})
    monkeypatch.setenv("CIO_DESTINATION_DISABLED_PLUGINS", "customerio,other")
    client = Client("test-write-key", send=False)

    pipeline = install(client)
    uninstall(client)

    assert [p.name for p in pipeline.plugins] == ["tagger"]


def test_install_names_the_plugin_that_failed_to_load(register: Register) -> None:
    """
    A plugin failing to load stops install() with an error that names it.
    """
    register({"flaky": "{module}:broken_factory"})
    client = Client("test-write-key", send=False)

    with pytest.raises(PluginLoadError, match="plugin 'flaky' failed to load"):
        install(client, plugins=["flaky"])

    assert "_enqueue" not in vars(client)
