"""
Fixtures for checking an app's Customer.io instrumentation under pytest.

Registered through the ``pytest11`` entry point; importing it only defines
fixtures, one report hook and helpers. It starts no thread and creates no
client until a test asks for a fixture.

Fixtures:

- ``cio_client``: a ``segment.analytics.Client`` that sends nothing, with
  the pipeline installed in strict mode: an invalid semantic event or an
  alias makes the call raise :class:`~cio_destination.InvalidEventError`.
- ``cio_default_client``: the same, standing in for the module-level
  client behind ``segment.analytics.track()`` during the test.
- ``cio_recorder``: what would have gone to Customer.io (``events``,
  ``operations``, ``evaluations``).
- ``cio_pipeline``: the pipeline installed on ``cio_client``, to add the
  app's own plugins to.
- ``cio_assert_conforms``: :func:`assert_conforms` for ``cio_transport``.
- ``cio_transport``: ``"track"``; override it to return ``"pipelines"``.
- ``cio_emulator``: a fresh :class:`~cio_destination.emulator.Emulator`,
  a local Customer.io on 127.0.0.1, stopped after the test; read what
  arrived with its ``state()``.
- ``cio_emulator_client``: a strict segment client whose pipeline delivers
  to ``cio_emulator`` through ``cio_transport``, from an in-memory outbox;
  ``flush()`` it before reading the emulator's state.

Helpers: :func:`cio_examples` yields every schema example as a pytest
parameter; :func:`track_message` sends a whole Segment message through a
client. A test failing on an invalid event gets a "Customer.io violations"
section listing each violation's event, path and rule.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet
    from segment.analytics import Client

    from cio_destination._model import Evaluation, Violation
    from cio_destination._pipeline import Pipeline
    from cio_destination._plugins import RecordingPlugin
    from cio_destination._settings import Transport
    from cio_destination.emulator import Emulator

__all__ = [
    "assert_conforms",
    "cio_assert_conforms",
    "cio_client",
    "cio_default_client",
    "cio_emulator",
    "cio_emulator_client",
    "cio_examples",
    "cio_pipeline",
    "cio_recorder",
    "cio_transport",
    "describe_violations",
    "track_message",
]

_WRITE_KEY = "cio-destination-tests"
_SECTION = "Customer.io violations"
#: Seconds the emulator's client may take to deliver what is left at teardown.
_SHUTDOWN_SECONDS = 5.0


def describe_violations(event: object, violations: Sequence[Violation]) -> str:
    """
    The violations of one event, one line each: path, rule and message.
    """
    count = len(violations)
    lines = [f"{event!r} breaks its schema ({count} violation{'s' * (count != 1)}):"]
    for violation in violations:
        lines.append(
            f"  {violation.path or '(message)'} [{violation.rule}] {violation.message}"
        )

    return "\n".join(lines)


def assert_conforms(
    message: Mapping[str, Any], *, transport: Transport = "track"
) -> Evaluation:
    """
    Check ``message`` strictly, as the fixtures do; return its evaluation.

    A message that is not a semantic event conforms trivially.

    :raises AssertionError: the message breaks its event's schema, or uses an
        alias; the text lists every violation.
    """
    __tracebackhide__ = True
    from cio_destination._core import evaluate

    evaluation = evaluate(message, transport=transport, strict=True)
    if evaluation.errors:
        event = evaluation.semantic or message.get("event")
        raise AssertionError(describe_violations(event, evaluation.errors))

    return evaluation


def cio_examples() -> Iterator[ParameterSet]:
    """
    Yield every schema example as a ``pytest.param`` with a readable id.

    Use it as ``@pytest.mark.parametrize("message", cio_examples())``; each
    message is a fresh copy, free to change.
    """
    from cio_destination._schemas import schema_examples

    counts: dict[str, int] = {}
    for event, message in schema_examples():
        counts[event] = counts.get(event, 0) + 1
        yield pytest.param(message, id=f"{event} {counts[event]}")


def track_message(client: Client, message: Mapping[str, Any]) -> tuple[bool, Any]:
    """
    Send a whole Segment track message through ``client.track()``.

    The message's own timestamp, message id and integrations are kept; the
    host fills in what is missing as it does for any call.
    """
    from cio_destination._schemas import parse_timestamp

    timestamp = message.get("timestamp")
    if isinstance(timestamp, str):
        timestamp = parse_timestamp(timestamp)

    return client.track(  # type: ignore[no-any-return]
        user_id=message.get("userId"),
        event=message.get("event"),
        properties=copy.deepcopy(message.get("properties")),
        context=copy.deepcopy(message.get("context")),
        timestamp=timestamp,
        anonymous_id=message.get("anonymousId"),
        integrations=copy.deepcopy(message.get("integrations")),
        message_id=message.get("messageId"),
    )


def _strict_client(recorder: RecordingPlugin) -> Client:
    from segment.analytics import Client

    from cio_destination._install import install

    # No plugin is disabled, whatever CIO_DESTINATION_DISABLED_PLUGINS says:
    # without the recorder, every test would pass on nothing recorded.
    client = Client(_WRITE_KEY, send=False)
    install(client, plugins=[recorder], disabled_plugins=(), on_invalid="raise")
    return client


@pytest.fixture
def cio_transport() -> Transport:
    """
    The Customer.io API the fixtures evaluate for; override to ``"pipelines"``.
    """
    return "track"


@pytest.fixture
def cio_recorder(cio_transport: Transport) -> RecordingPlugin:
    """
    What would have gone to Customer.io from ``cio_client`` during the test.
    """
    from cio_destination._plugins import RecordingPlugin

    return RecordingPlugin(transport=cio_transport, strict=True)


@pytest.fixture
def cio_client(cio_recorder: RecordingPlugin) -> Iterator[Client]:
    """
    A strict, send-nothing segment client recording into ``cio_recorder``.
    """
    from cio_destination._install import uninstall

    client = _strict_client(cio_recorder)
    yield client
    uninstall(client)


@pytest.fixture
def cio_default_client(
    cio_recorder: RecordingPlugin, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    """
    ``cio_client``, standing in for ``segment.analytics``' default client.
    """
    import segment.analytics

    from cio_destination._install import uninstall

    client = _strict_client(cio_recorder)
    monkeypatch.setattr(segment.analytics, "default_client", client)
    yield client
    uninstall(client)


@pytest.fixture
def cio_pipeline(cio_client: Client) -> Pipeline:
    """
    The pipeline installed on ``cio_client``.
    """
    from cio_destination._install import installed_pipeline

    pipeline = installed_pipeline(cio_client)
    if pipeline is None:  # pragma: no cover - cio_client always installs one
        raise RuntimeError("cio_client has no pipeline installed")

    return pipeline


@pytest.fixture
def cio_assert_conforms(
    cio_transport: Transport,
) -> Callable[[Mapping[str, Any]], Evaluation]:
    """
    :func:`assert_conforms` for ``cio_transport``.
    """

    def check(message: Mapping[str, Any]) -> Evaluation:
        __tracebackhide__ = True
        return assert_conforms(message, transport=cio_transport)

    return check


@pytest.fixture
def cio_emulator() -> Iterator[Emulator]:
    """
    A fresh emulated Customer.io on 127.0.0.1, stopped after the test.
    """
    from cio_destination.emulator import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def cio_emulator_client(
    cio_emulator: Emulator, cio_transport: Transport
) -> Iterator[Client]:
    """
    A strict segment client delivering to ``cio_emulator`` via ``cio_transport``.

    Segment gets nothing; an invalid semantic event makes the call raise
    :class:`~cio_destination.InvalidEventError`; ``flush()`` returns once
    what was tracked has reached the emulator.
    """
    from segment.analytics import Client

    from cio_destination._install import install, uninstall
    from cio_destination._outbox import MEMORY
    from cio_destination._settings import Settings
    from cio_destination.emulator import (
        DEFAULT_API_KEY,
        DEFAULT_SITE_ID,
        DEFAULT_WRITE_KEY,
    )

    # Chosen here, not by the environment, so that the machine's CUSTOMERIO_*
    # and CIO_DESTINATION_* variables cannot send the test's events elsewhere.
    # A write key makes the destination use the Pipelines API.
    settings = Settings(
        site_id=DEFAULT_SITE_ID,
        api_key=DEFAULT_API_KEY,
        write_key=DEFAULT_WRITE_KEY if cio_transport == "pipelines" else None,
        endpoint=cio_emulator.url,
        outbox=MEMORY,
    )

    client = Client(_WRITE_KEY, send=False)
    install(
        client,
        plugins=["customerio"],
        disabled_plugins=(),
        settings=settings,
        on_invalid="raise",
    )
    yield client
    uninstall(client, timeout=_SHUTDOWN_SECONDS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """
    List every violation when a test fails on an invalid Customer.io event.
    """
    report = yield
    if call.excinfo is None:
        return report

    from cio_destination._errors import InvalidEventError

    error = call.excinfo.value
    if isinstance(error, InvalidEventError) and error.violations:
        report.sections.append(
            (_SECTION, describe_violations(error.event, error.violations))
        )

    return report
