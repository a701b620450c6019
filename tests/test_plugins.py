"""
Tests for the built-in plugins, end to end from track() to the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import drain, queue_client
from segment.analytics import Client

from cio_destination._errors import (
    CioDestinationError,
    ConfigurationError,
    InvalidEventError,
)
from cio_destination._install import install, uninstall
from cio_destination._model import OperationKind
from cio_destination._outbox import Outbox
from cio_destination._pipeline import Pipeline
from cio_destination._plugins import CustomerIOPlugin, RecordingPlugin
from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
)

_DEVICE = {"device": {"token": "tok-1", "type": "ios"}}


@pytest.fixture
def outbox(tmp_path: Path) -> str:
    """
    The path of an outbox file of this test's own.
    """
    return str(tmp_path / "outbox.sqlite3")


@pytest.fixture
def track_options(emulator: Emulator, outbox: str) -> dict[str, Any]:
    """
    Destination options for the emulator's Track API.
    """
    return {
        "site_id": DEFAULT_SITE_ID,
        "api_key": DEFAULT_API_KEY,
        "endpoint": emulator.url,
        "outbox": outbox,
        "flush_interval": 0.01,
    }


@pytest.fixture
def pipelines_options(emulator: Emulator, outbox: str) -> dict[str, Any]:
    """
    Destination options for the emulator's Pipelines API.
    """
    return {
        "write_key": DEFAULT_WRITE_KEY,
        "endpoint": emulator.url,
        "outbox": outbox,
        "flush_interval": 0.01,
    }


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    """
    A segment client that sends nothing, uninstalled before the emulator stops.
    """
    client = Client("test-write-key", send=False)
    yield client
    uninstall(client, timeout=5)


def _customerio(pipeline: Pipeline) -> CustomerIOPlugin:
    plugin = pipeline.find("customerio")
    assert isinstance(plugin, CustomerIOPlugin)
    return plugin


def test_install_uses_the_registered_customerio_plugin(
    client: Client, track_options: dict[str, Any]
) -> None:
    """
    With nothing chosen, the pipeline holds the entry point's Customer.io plugin.
    """
    pipeline = install(client, **track_options)

    assert [p.name for p in pipeline.plugins] == ["customerio"]
    assert (
        _customerio(pipeline).destination.settings.endpoint == track_options["endpoint"]
    )


def test_install_fills_settings_from_the_environment(
    client: Client,
    emulator: Emulator,
    outbox: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    CUSTOMERIO_* variables fill the settings install() was not given.
    """
    monkeypatch.setenv("CUSTOMERIO_SITE_ID", DEFAULT_SITE_ID)
    monkeypatch.setenv("CUSTOMERIO_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("CUSTOMERIO_ENDPOINT", emulator.url)

    pipeline = install(client, outbox=outbox, flush_interval=0.01)
    client.track("42", "User Suppressed")
    client.flush()

    settings = _customerio(pipeline).destination.settings
    assert (settings.site_id, settings.endpoint) == (DEFAULT_SITE_ID, emulator.url)
    assert "id:42" in emulator.state()["suppressed"]


def test_install_without_credentials_names_what_is_missing(client: Client) -> None:
    """
    No credentials and no endpoint is a configuration error, not a load error.
    """
    with pytest.raises(ConfigurationError, match=r"no Customer\.io credentials"):
        install(client)

    assert "_enqueue" not in vars(client)


def test_track_reaches_the_workspace_through_the_track_api(
    client: Client, emulator: Emulator, track_options: dict[str, Any]
) -> None:
    """
    Semantic events tracked by the app change the emulated workspace in order.
    """
    install(client, **track_options)

    client.track("42", "Device Created or Updated", _DEVICE)
    client.flush()
    added = emulator.state()["devices"]
    client.track("42", "Device Deleted", _DEVICE)
    client.track("42", "User Suppressed")
    client.flush()
    state = emulator.state()

    assert added["tok-1"] == {**added["tok-1"], "owner": "id:42", "platform": "ios"}
    assert state["devices"] == {}
    assert state["suppressed"] == ["id:42"]


def test_track_reaches_the_workspace_through_the_pipelines_api(
    client: Client, emulator: Emulator, pipelines_options: dict[str, Any]
) -> None:
    """
    With a write key the same call goes through the Pipelines API.
    """
    install(client, **pipelines_options)

    client.track("42", "Device Created or Updated", _DEVICE)
    client.flush()

    state = emulator.state()
    assert state["devices"]["tok-1"]["owner"] == "id:42"
    assert "/v1/batch" in state["requests"]


def test_ordinary_events_are_left_to_segment(
    client: Client, track_options: dict[str, Any]
) -> None:
    """
    Calls that are not semantic events never reach the destination.
    """
    pipeline = install(client, **track_options)

    client.identify("42", {"plan": "pro"})
    client.track("42", "Signed Up", {"plan": "pro"})
    client.page("42", name="Home")

    assert _customerio(pipeline).destination.counters.accepted == 0


@pytest.mark.parametrize(
    ("integrations", "accepted"),
    [
        pytest.param({"Customer.io": False}, 0, id="customerio-off"),
        pytest.param({"All": False}, 0, id="all-off"),
        pytest.param({"All": False, "Customer.io": True}, 1, id="all-off-but-cio"),
        pytest.param({"Amplitude": False}, 1, id="another-off"),
    ],
)
def test_integrations_can_keep_an_event_from_customerio(
    client: Client,
    track_options: dict[str, Any],
    integrations: dict[str, Any],
    accepted: int,
) -> None:
    """
    A message's integrations turn the Customer.io destination off as Segment's do.
    """
    pipeline = install(client, **track_options)

    client.track("42", "User Deleted", integrations=integrations)

    assert _customerio(pipeline).destination.counters.accepted == accepted


def test_segment_still_gets_the_original_message(
    emulator: Emulator, track_options: dict[str, Any]
) -> None:
    """
    A sending client's message reaches Segment's endpoint as the host sends it.
    """
    client = Client(DEFAULT_WRITE_KEY, host=emulator.url, upload_interval=0.01)
    install(client, **track_options)

    client.track("42", "Signed Up", {"plan": "pro"})
    client.shutdown()
    uninstall(client, timeout=5)

    state = emulator.state()
    assert state["requests"]["/v1/batch"] == {"200": 1}
    assert [event["name"] for event in state["events"]] == ["Signed Up"]


def test_on_invalid_raise_refuses_the_call_with_every_violation(
    emulator: Emulator, track_options: dict[str, Any]
) -> None:
    """
    on_invalid="raise": the call raises, and neither Segment nor Customer.io gets it.
    """
    client = queue_client()
    pipeline = install(client, on_invalid="raise", **track_options)

    with pytest.raises(InvalidEventError) as caught:
        client.track("42", "Device Created or Updated", {"device": {"type": "pc"}})
    assert isinstance(caught.value, ValueError)
    flushed = _customerio(pipeline).flush(5)
    queued = drain(client)
    uninstall(client, timeout=5)

    assert [v.path for v in caught.value.violations] == [
        "context.device.token",
        "context.device.type",
    ]
    assert flushed is True
    assert queued == []
    assert emulator.state()["devices"] == {}


def test_on_invalid_drop_reports_and_dead_letters_while_segment_gets_it(
    emulator: Emulator, track_options: dict[str, Any], outbox: str
) -> None:
    """
    on_invalid="drop": the call returns, on_error hears, the outbox keeps it.
    """
    errors: list[CioDestinationError] = []
    client = queue_client()
    pipeline = install(
        client, on_error=lambda error, _message: errors.append(error), **track_options
    )

    success, message = client.track("42", "Object Deleted", {"objectTypeId": "x"})
    _customerio(pipeline).flush(5)
    queued = drain(client)
    counters = _customerio(pipeline).destination.counters
    uninstall(client, timeout=5)
    with Outbox(outbox) as kept:
        reasons = [letter.reason for letter in kept.dead_letters()]

    assert success is True
    assert queued == [message]
    assert counters.invalid == 1
    assert [type(error) for error in errors] == [InvalidEventError]
    assert len(reasons) == 1
    assert "objectId" in reasons[0]
    assert emulator.state()["requests"] == {}


def test_on_invalid_pass_sends_the_event_anyway(
    client: Client, emulator: Emulator, pipelines_options: dict[str, Any]
) -> None:
    """
    on_invalid="pass": an invalid event still goes out (and the API refuses it).
    """
    pipeline = install(client, on_invalid="pass", **pipelines_options)

    client.track("42", "User Deleted")
    client.track("42", "Object Deleted", {"objectTypeId": "x"})
    client.flush()

    counters = _customerio(pipeline).destination.counters
    assert (counters.invalid, counters.operations, counters.sent) == (1, 2, 1)
    assert "400" in emulator.state()["requests"]["/v1/batch"]


def test_a_plugin_takes_a_destination_or_options_not_both(
    client: Client, track_options: dict[str, Any]
) -> None:
    """
    CustomerIOPlugin refuses a ready destination given together with options.
    """
    pipeline = install(client, **track_options)
    destination = _customerio(pipeline).destination

    with pytest.raises(ConfigurationError, match="not both"):
        CustomerIOPlugin(destination, region="eu")


def test_the_recorder_keeps_what_would_be_sent() -> None:
    """
    The recording plugin evaluates semantic events and keeps their operations.
    """
    recorder = RecordingPlugin()
    pipeline = Pipeline([recorder])

    pipeline.run({"type": "track", "event": "Signed Up", "userId": "42"})
    pipeline.run({"type": "identify", "userId": "42"})
    pipeline.run({"type": "track", "event": "User Deleted", "userId": "42"})

    assert recorder.events == ["User Deleted"]
    assert [op.kind for op in recorder.operations] == [OperationKind.ENTITY]
    recorder.clear()
    assert recorder.evaluations == ()


def test_a_lenient_recorder_keeps_invalid_events_without_raising() -> None:
    """
    With strict off, invalid events are kept among evaluations but not as sent.
    """
    recorder = RecordingPlugin(strict=False)

    recorder.process({"type": "track", "event": "Delete Person", "userId": "42"})
    recorder.process({"type": "track", "event": "Object Deleted", "userId": "42"})

    assert [e.valid for e in recorder.evaluations] == [True, False]
    assert recorder.events == ["User Deleted"]


def test_a_strict_recorder_raises_on_an_invalid_event() -> None:
    """
    A strict recorder refuses an invalid event as on_invalid="raise" would.
    """
    recorder = RecordingPlugin(transport="pipelines")

    with pytest.raises(InvalidEventError) as caught:
        recorder.process({"type": "track", "event": "Object Deleted", "userId": "42"})

    assert caught.value.event == "Object Deleted"
    assert len(recorder.evaluations) == 1


def test_a_recorder_for_an_unknown_transport_is_refused() -> None:
    """
    The recorder names the transport it cannot evaluate for.
    """
    with pytest.raises(ConfigurationError, match="'smtp'"):
        RecordingPlugin(transport="smtp")  # type: ignore[arg-type]
