"""
Tests for install() and uninstall() on real segment clients.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import segment.analytics
from pipeline_support import Probe, drain, queue_client, tags
from segment.analytics import Client

from cio_destination._errors import ConfigurationError, InvalidEventError, PluginError
from cio_destination._install import (
    DEFAULT_FLUSH_TIMEOUT,
    install,
    installed_pipeline,
    uninstall,
)
from cio_destination._model import Violation

_PROPERTIES = {"plan": "pro"}


@pytest.fixture
def client() -> Iterator[Client]:
    """
    A segment client that sends nothing, uninstalled after the test.
    """
    client = Client("test-write-key", send=False)
    yield client
    uninstall(client)


@pytest.fixture
def module_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """
    The module-level client settings of a send-nothing app, without a client yet.
    """
    monkeypatch.setattr(segment.analytics, "default_client", None)
    monkeypatch.setattr(segment.analytics, "write_key", "test-write-key")
    monkeypatch.setattr(segment.analytics, "send", False)
    yield
    uninstall()


def test_every_kind_of_call_runs_through_the_pipeline(client: Client) -> None:
    """
    identify, track, page, screen, group and alias all reach the destinations.
    """
    destination = Probe("destination")
    install(client, plugins=[destination])

    client.identify("42", {"email": "a@example.com"})
    client.track("42", "Signed Up", _PROPERTIES)
    client.page("42", name="Home")
    client.screen("42", name="Home")
    client.group("42", "acme")
    client.alias("old-42", "42")

    assert [m["type"] for m in destination.seen] == [
        "identify",
        "track",
        "page",
        "screen",
        "group",
        "alias",
    ]


def test_destinations_see_the_completed_message_segment_gets(client: Client) -> None:
    """
    The destination gets the message the host completed, equal to Segment's.
    """
    destination = Probe("destination")
    install(client, plugins=[destination])

    _, segment_message = client.track("42", "Signed Up", _PROPERTIES)

    assert destination.seen == [segment_message]
    seen = destination.seen[0]
    assert seen["messageId"]
    assert seen["timestamp"].endswith("+00:00")
    assert seen["context"]["library"]["name"] == "analytics-python"


def test_segment_gets_the_original_message_unchanged() -> None:
    """
    Enrichment changes what destinations see, never what Segment queues.
    """
    client = queue_client()
    destination = Probe("destination")
    install(client, plugins=[Probe("tagger", "enrichment", action="tag"), destination])

    result = client.track("42", "Signed Up", _PROPERTIES)
    queued = drain(client)
    uninstall(client)

    assert queued == [result[1]]
    assert tags(queued[0]) == []
    assert tags(destination.seen[0]) == ["tagger"]
    assert {**destination.seen[0], "context": {}} == {**queued[0], "context": {}}


def test_forward_false_keeps_messages_from_segment() -> None:
    """
    With forwarding off the destinations get the message and Segment does not.
    """
    client = queue_client()
    destination = Probe("destination")
    install(client, plugins=[destination], forward=False)

    success, message = client.track("42", "Signed Up", _PROPERTIES)
    queued = drain(client)
    uninstall(client)

    assert success is True
    assert queued == []
    assert destination.seen == [message]
    assert message["messageId"]


def test_a_strict_refusal_reaches_neither_segment_nor_later_plugins() -> None:
    """
    With on_invalid="raise" the call raises before Segment is handed the message.
    """
    client = queue_client()
    refusal = InvalidEventError(
        "Object Deleted",
        [Violation("properties.objectId", "required", "objectId is required")],
    )
    refusing = Probe("refusing", action="raise", error=refusal)
    install(client, plugins=[refusing], on_invalid="raise")

    with pytest.raises(InvalidEventError) as caught:
        client.track("42", "Object Deleted", {})
    queued = drain(client)
    uninstall(client)

    assert caught.value is refusal
    assert queued == []


def test_a_strict_pipeline_hands_segment_the_message_its_plugins_saw() -> None:
    """
    Completing a message twice in strict mode gives Segment the same message.
    """
    client = queue_client()
    destination = Probe("destination")
    install(client, plugins=[destination], on_invalid="raise")

    _, returned = client.track("42", "Signed Up", _PROPERTIES)
    queued = drain(client)
    uninstall(client)

    assert queued == [returned]
    assert destination.seen == [returned]


def test_a_failing_plugin_never_breaks_the_apps_call(client: Client) -> None:
    """
    A plugin error stays in the log; the app's call returns as it would.
    """
    install(client, plugins=[Probe("failing", action="raise")])

    success, message = client.track("42", "Signed Up", _PROPERTIES)

    assert success is True
    assert message["event"] == "Signed Up"


def test_the_hosts_own_argument_checks_still_apply(client: Client) -> None:
    """
    A call the host refuses raises as before and never reaches the pipeline.
    """
    destination = Probe("destination")
    install(client, plugins=[destination])

    with pytest.raises(AssertionError):
        client.track(event="Signed Up")

    assert destination.seen == []


def test_uninstall_restores_the_instance_exactly(client: Client) -> None:
    """
    After uninstall the instance's attributes are the very ones it had before.
    """
    client.flush = client.flush  # an attribute of the instance's own, kept as is
    before = dict(vars(client))

    install(client, plugins=[Probe("destination")])
    uninstall(client)

    after = vars(client)
    assert after.keys() == before.keys()
    assert all(after[name] is before[name] for name in before)


def test_installing_wraps_the_instance_not_the_class(client: Client) -> None:
    """
    Another client of the same class is untouched by an install.
    """
    other = Client("test-write-key", send=False)
    destination = Probe("destination")
    install(client, plugins=[destination])

    other.track("42", "Signed Up")

    assert destination.seen == []
    assert installed_pipeline(other) is None
    assert "_enqueue" not in vars(other)


def test_installing_twice_is_harmless(client: Client) -> None:
    """
    A second install returns the same pipeline; messages still run through once.
    """
    destination = Probe("destination")
    first = install(client, plugins=[destination])

    second = install(client)
    client.track("42", "Signed Up")

    assert second is first
    assert len(destination.seen) == 1


def test_installing_twice_with_options_warns_they_are_ignored(client: Client) -> None:
    """
    Options given to a second install are ignored, with a warning saying so.
    """
    first = install(client, plugins=[Probe("destination")])

    with pytest.warns(UserWarning, match="already has a pipeline"):
        second = install(client, plugins=[Probe("other")])

    assert second is first
    assert [p.name for p in second.plugins] == ["destination"]


def test_uninstalling_a_plain_client_does_nothing(client: Client) -> None:
    """
    uninstall on a client without a pipeline leaves it as it is.
    """
    before = dict(vars(client))

    uninstall(client)

    assert vars(client) == before


@pytest.mark.usefixtures("module_client")
def test_install_creates_and_wraps_the_module_default_client() -> None:
    """
    With no client given, the module's default client is created and wrapped.
    """
    destination = Probe("destination")

    pipeline = install(plugins=[destination])
    segment.analytics.track("42", "Signed Up", _PROPERTIES)

    client = segment.analytics.default_client
    assert isinstance(client, Client)
    assert client.send is False
    assert installed_pipeline() is pipeline
    assert [m["event"] for m in destination.seen] == ["Signed Up"]


@pytest.mark.usefixtures("module_client")
def test_uninstall_restores_the_module_default_client() -> None:
    """
    uninstall() with no client restores the module's default client.
    """
    install(plugins=[Probe("destination")])
    client = segment.analytics.default_client

    uninstall()

    assert "_enqueue" not in vars(client)
    assert installed_pipeline() is None


def test_install_wraps_an_existing_module_default_client(
    monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    """
    A default client the app already has is the one install() wraps.
    """
    monkeypatch.setattr(segment.analytics, "default_client", client)
    destination = Probe("destination")

    install(plugins=[destination])
    segment.analytics.identify("42", {"plan": "pro"})

    assert installed_pipeline(client) is not None
    assert [m["type"] for m in destination.seen] == ["identify"]


def test_install_without_a_module_write_key_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    The module cannot create its client without a write key; the error says so.
    """
    monkeypatch.setattr(segment.analytics, "default_client", None)
    monkeypatch.setattr(segment.analytics, "write_key", None)

    with pytest.raises(ConfigurationError, match=r"segment\.analytics\.write_key"):
        install(plugins=[Probe("destination")])

    assert segment.analytics.default_client is None


def test_flush_and_shutdown_reach_the_plugins(client: Client) -> None:
    """
    The client's flush() flushes the plugins; shutdown() also shuts them down.
    """
    destination = Probe("destination")
    install(client, plugins=[destination])

    client.flush()
    assert (len(destination.flushes), len(destination.shutdowns)) == (1, 0)

    client.shutdown()
    assert (len(destination.flushes), len(destination.shutdowns)) == (2, 1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, DEFAULT_FLUSH_TIMEOUT), ({"flush_timeout": 2.5}, 2.5)],
    ids=["default", "given"],
)
def test_the_clients_flush_and_shutdown_wait_a_bounded_time(
    client: Client, options: dict[str, float], expected: float
) -> None:
    """
    The client's flush() and shutdown() give each plugin a bounded timeout.
    """
    destination = Probe("destination")
    install(client, plugins=[destination], **options)

    client.flush()
    client.shutdown()

    assert destination.flushes == [expected, expected]
    assert destination.shutdowns == [expected]


@pytest.mark.usefixtures("module_client")
def test_the_modules_flush_and_shutdown_reach_the_plugins() -> None:
    """
    segment.analytics.flush() and shutdown() reach the plugins of its client.
    """
    destination = Probe("destination")
    install(plugins=[destination])

    segment.analytics.flush()
    segment.analytics.shutdown()

    assert len(destination.flushes) == 2
    assert len(destination.shutdowns) == 1


def test_uninstall_shuts_the_plugins_down(client: Client) -> None:
    """
    Plugins taken out with the pipeline are shut down within the timeout given.
    """
    destination = Probe("destination")
    install(client, plugins=[destination])

    uninstall(client, timeout=3.0)

    assert destination.shutdowns == [3.0]


def test_a_plugin_load_failure_leaves_the_client_untouched(client: Client) -> None:
    """
    When the chosen plugins cannot form a pipeline, nothing is installed.
    """
    before = dict(vars(client))

    with pytest.raises(PluginError, match="chosen twice"):
        install(client, plugins=[Probe("same"), Probe("same", "after")])

    assert vars(client) == before


def test_threads_track_while_plugins_change_on_an_installed_client(
    client: Client,
) -> None:
    """
    Tracking from many threads while plugins come and go loses no message.
    """
    destination = Probe("destination")
    pipeline = install(client, plugins=[destination])
    runners, calls_each = 4, 200
    start = threading.Barrier(runners + 1)

    def track(runner: int) -> None:
        start.wait()
        for number in range(calls_each):
            client.track(str(runner), "Signed Up", {"n": number})

    threads = [threading.Thread(target=track, args=(n,)) for n in range(runners)]
    for thread in threads:
        thread.start()
    start.wait()
    changes = 0
    while any(thread.is_alive() for thread in threads):
        pipeline.add(Probe("tagger", "enrichment", action="tag"))
        pipeline.remove("tagger")
        changes += 1
    for thread in threads:
        thread.join()

    assert changes > 0
    assert len(destination.seen) == runners * calls_each
    for runner in range(runners):
        numbers = [
            m["properties"]["n"] for m in destination.seen if m["userId"] == str(runner)
        ]
        assert numbers == list(range(calls_each))
