"""
The destination end to end: from submit() to the emulator's workspace.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from delivery_support import (
    answering,
    closed_port_url,
    delivery_metric,
    device_created,
    invalid_device,
    person_event,
    shuffled_history,
    workspace,
)

from cio_destination._destination import CustomerIODestination
from cio_destination._errors import (
    CioDestinationError,
    ConfigurationError,
    DeliveryError,
    DeliveryGaveUpError,
    DeliveryRejectedError,
    InvalidEventError,
)
from cio_destination._outbox import MESSAGE, DeadLetter, Outbox
from cio_destination._retry import RetryPolicy
from cio_destination._settings import Settings
from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
    Faults,
)

Errors = list[tuple[CioDestinationError, Any]]
Factory = Callable[..., CustomerIODestination]


@pytest.fixture
def errors() -> Errors:
    return []


@pytest.fixture
def make(
    emulator: Emulator, quick: RetryPolicy, tmp_path: Path, errors: Errors
) -> Iterator[Factory]:
    """
    Build destinations for the emulator with quick retries; shut them all down after.
    """
    made: list[CustomerIODestination] = []

    def build(**options: Any) -> CustomerIODestination:
        retry = options.pop("retry", quick)
        if "write_key" not in options:
            options.setdefault("site_id", DEFAULT_SITE_ID)
            options.setdefault("api_key", DEFAULT_API_KEY)
        options.setdefault("endpoint", emulator.url)
        options.setdefault("outbox", str(tmp_path / "outbox.sqlite3"))
        options.setdefault("flush_interval", 0.01)
        destination = CustomerIODestination(
            retry=retry,
            on_error=lambda error, message: errors.append((error, message)),
            **options,
        )
        made.append(destination)
        return destination

    yield build
    for destination in made:
        destination.shutdown(5)


def dead_letters(path: Path) -> list[DeadLetter]:
    with Outbox(path) as outbox:
        return list(outbox.dead_letters())


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        pause.wait(0.005)


def test_valid_events_reach_the_workspace(make: Factory, emulator: Emulator) -> None:
    """
    Semantic events become operations that the workspace shows after flush().
    """
    destination = make()
    destination.submit(device_created("u1", "tok-1"))
    destination.submit(delivery_metric("d-1", "opened"))

    assert destination.flush(10)

    state = emulator.state()
    assert state["devices"]["tok-1"]["owner"] == "id:u1"
    assert [metric["delivery_id"] for metric in state["metrics"]] == ["d-1"]
    counters = destination.counters
    assert (
        counters.accepted,
        counters.processed,
        counters.operations,
        counters.sent,
    ) == (
        2,
        2,
        2,
        2,
    )


def test_other_messages_send_nothing(make: Factory, emulator: Emulator) -> None:
    """
    Identify calls and ordinary events produce no request at all.
    """
    destination = make()
    destination.submit({"type": "identify", "userId": "u1", "traits": {}})
    destination.submit({"type": "track", "event": "Signed In", "userId": "u1"})

    assert destination.flush(10)

    assert emulator.state()["requests"] == {}
    assert destination.counters.accepted == 1
    assert destination.counters.operations == 0


def test_the_callers_message_is_left_alone(make: Factory, emulator: Emulator) -> None:
    """
    submit() copies the message; changing it afterwards changes nothing sent.
    """
    destination = make(flush_interval=60.0)
    message = device_created("u1", "tok-1")
    destination.submit(message)
    message["userId"] = "someone-else"

    assert destination.flush(10)
    assert emulator.state()["devices"]["tok-1"]["owner"] == "id:u1"


@pytest.mark.parametrize(
    ("faults", "options"),
    [
        (Faults(fail_rate=1.0, seed=3), {}),
        (Faults(throttle_rate=1.0, retry_after=30), {}),
        (Faults(drop_rate=1.0), {}),
        (Faults(latency_ms=400), {"timeout": 0.05}),
    ],
    ids=["5xx", "429-retry-after", "dropped-connection", "timeout"],
)
def test_retryable_failures_are_retried_until_delivered(
    faults: Faults, options: dict[str, Any], make: Factory, emulator: Emulator
) -> None:
    """
    Each retryable class is retried, and the operation lands once it clears.
    """
    emulator.set_faults(faults)
    destination = make(**options)
    destination.submit(device_created("u1", "tok-1"))

    wait_until(lambda: destination.counters.retried >= 2)
    emulator.set_faults(Faults())

    assert destination.flush(10)
    assert "tok-1" in emulator.state()["devices"]
    assert destination.counters.sent == 1
    assert destination.counters.dead_lettered == 0


def test_207_dead_letters_only_the_listed_items(
    make: Factory, tmp_path: Path, errors: Errors
) -> None:
    """
    A 207 keeps the refused item as a dead letter; the others count as sent.
    """
    refusal = {
        "errors": [{"batch_index": 1, "reason": "invalid", "field": "identifiers.id"}]
    }

    with answering(207, refusal) as url:
        destination = make(endpoint=url, flush_interval=60.0)
        for user, token in (("u1", "tok-1"), ("u2", "tok-2"), ("u3", "tok-3")):
            destination.submit(device_created(user, token))
        assert destination.flush(10)
        destination.shutdown(5)

    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert letter.status == 207
    assert "identifiers.id" in letter.reason
    assert '"tok-2"' in letter.body
    assert (destination.counters.sent, destination.counters.dead_lettered) == (2, 1)
    [(error, message)] = errors
    assert isinstance(error, DeliveryRejectedError)
    assert error.status == 207
    assert message is None


def test_a_207_that_names_no_item_is_reported(
    make: Factory, errors: Errors, caplog: pytest.LogCaptureFixture
) -> None:
    """
    A refusal Customer.io attaches to no item is logged and reported, not ignored.
    """
    caplog.set_level(logging.WARNING, logger="cio_destination")
    refusal = {"errors": [{"reason": "invalid", "message": "too long"}]}

    with answering(207, refusal) as url:
        destination = make(endpoint=url)
        destination.submit(device_created("u1", "tok-1"))
        assert destination.flush(10)
        destination.shutdown(5)

    assert "without naming them" in caplog.text
    [(error, message)] = errors
    assert isinstance(error, DeliveryRejectedError)
    assert (error.status, message) == (207, None)
    assert "invalid: too long" in str(error)


def test_401_is_not_retried_and_never_shows_the_key(
    make: Factory,
    emulator: Emulator,
    tmp_path: Path,
    errors: Errors,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    Refused credentials dead-letter at once, and no message or log shows the key.
    """
    caplog.set_level(logging.DEBUG, logger="cio_destination")
    secret = "sk-live-do-not-print-me"
    destination = make(api_key=secret)
    destination.submit(device_created("u1", "tok-1"))

    assert destination.flush(10)
    destination.shutdown(5)

    assert destination.counters.retried == 0
    assert emulator.state()["requests"] == {"/api/v2/batch": {"401": 1}}
    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert letter.status == 401
    [(error, _)] = errors
    assert isinstance(error, DeliveryRejectedError)
    assert error.status == 401
    assert "refused site id" in str(error)
    texts = [str(error), letter.reason, repr(destination), caplog.text]
    assert all(secret not in text for text in texts)


def test_a_refused_batch_is_halved_to_find_the_culprit(
    make: Factory, emulator: Emulator, tmp_path: Path
) -> None:
    """
    A 400 for a whole batch dead-letters only the call to blame.
    """
    destination = make(
        write_key=DEFAULT_WRITE_KEY, on_invalid="pass", flush_interval=60.0
    )
    users = [f"u{number}" for number in range(7)]
    messages = [person_event("User Suppressed", user) for user in users]
    messages.insert(
        4, {"type": "track", "event": "Relationship Deleted", "properties": {}}
    )
    for message in messages:
        destination.submit(message)

    assert destination.flush(10)
    destination.shutdown(5)

    assert emulator.state()["suppressed"] == sorted(f"id:{user}" for user in users)
    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert (letter.status, letter.kind) == (400, "pipelines")
    assert "userId" in letter.reason


def test_oversize_operations_are_never_sent(
    make: Factory, emulator: Emulator, tmp_path: Path
) -> None:
    """
    An operation over 32 KB is a dead letter with its reason, and no request goes.
    """
    destination = make()
    message = device_created("u1", "tok-1")
    # Many attributes, each within Customer.io's limits, that add up to 36 KB.
    message["properties"] = {f"note_{n}": "a" * 600 for n in range(60)}
    destination.submit(message)

    assert destination.flush(10)
    destination.shutdown(5)

    assert emulator.state()["requests"] == {}
    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert "never sent" in letter.reason
    assert letter.seq is None


def test_invalid_events_are_reported_and_kept(
    make: Factory,
    emulator: Emulator,
    tmp_path: Path,
    errors: Errors,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """
    An invalid event is logged without personal data, counted, reported and kept.
    """
    caplog.set_level(logging.WARNING, logger="cio_destination")
    destination = make()
    message = invalid_device("jane.doe@example.com")
    destination.submit(message)

    assert destination.flush(10)
    destination.shutdown(5)

    assert emulator.state()["requests"] == {}
    assert destination.counters.invalid == 1
    assert "Device Deleted" in caplog.text
    assert "context.device.token" in caplog.text
    assert "jane.doe" not in caplog.text
    [(error, reported)] = errors
    assert isinstance(error, InvalidEventError)
    assert reported == message
    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert letter.kind == MESSAGE
    assert "jane.doe@example.com" in letter.body
    assert "context.device.token" in letter.reason


def test_pass_sends_invalid_events_through_pipelines(
    make: Factory, emulator: Emulator, tmp_path: Path
) -> None:
    """
    With on_invalid="pass", an invalid event is sent; the API has the last word.
    """
    destination = make(write_key=DEFAULT_WRITE_KEY, on_invalid="pass")
    destination.submit(invalid_device("u1"))

    assert destination.flush(10)
    destination.shutdown(5)

    assert emulator.state()["requests"] == {"/v1/batch": {"400": 1}}
    assert destination.counters.invalid == 1
    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert (letter.kind, letter.status) == ("pipelines", 400)


def test_pass_cannot_send_invalid_events_to_track(
    make: Factory, emulator: Emulator, tmp_path: Path
) -> None:
    """
    With the Track transport, "pass" keeps the invalid event and says why.
    """
    destination = make(on_invalid="pass")
    destination.submit(invalid_device("u1"))

    assert destination.flush(10)
    destination.shutdown(5)

    assert emulator.state()["requests"] == {}
    [letter] = dead_letters(tmp_path / "outbox.sqlite3")
    assert "Pipelines API" in letter.reason


def test_raise_refuses_invalid_events_before_queueing(
    make: Factory, emulator: Emulator
) -> None:
    """
    Strict mode raises every violation on the caller's thread and queues nothing.
    """
    destination = make(on_invalid="raise")

    with pytest.raises(InvalidEventError) as caught:
        destination.submit(invalid_device("u1"))
    destination.submit(device_created("u1", "tok-1"))

    assert isinstance(caught.value, ValueError)
    assert [violation.path for violation in caught.value.violations] == [
        "context.device.token"
    ]
    assert destination.flush(10)
    assert list(emulator.state()["devices"]) == ["tok-1"]
    assert (destination.counters.accepted, destination.counters.invalid) == (1, 1)


def test_a_full_queue_drops_and_reports(
    make: Factory, errors: Errors, caplog: pytest.LogCaptureFixture
) -> None:
    """
    A message beyond max_queue is dropped, counted, logged and reported.
    """
    caplog.set_level(logging.WARNING, logger="cio_destination")
    destination = make(max_queue=2, flush_interval=60.0, batch_size=1000)
    for number in range(3):
        destination.submit(device_created("u1", f"tok-{number}"))

    assert destination.counters.dropped == 1
    assert "full queue" in caplog.text
    [(error, message)] = errors
    assert type(error) is DeliveryError
    assert message is not None
    assert message["context"]["device"]["token"] == "tok-2"
    assert destination.flush(10)
    assert destination.counters.sent == 2


def test_an_in_memory_outbox_is_bounded(make: Factory, errors: Errors) -> None:
    """
    Without durability, at most max_queue operations wait; the rest are reported.
    """
    destination = make(endpoint=closed_port_url(), outbox=":memory:", max_queue=3)
    for number in range(3):
        destination.submit(device_created("u1", f"tok-{number}"))
    wait_until(lambda: destination.counters.processed == 3)
    for number in range(3, 5):
        destination.submit(device_created("u1", f"tok-{number}"))
    wait_until(lambda: destination.counters.processed == 5)

    assert destination.counters.dropped == 2
    assert any("in-memory outbox is full" in str(error) for error, _ in errors)
    destination.shutdown(0.05)


def test_an_in_memory_outbox_bounds_its_dead_letters(
    make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """
    Without durability, a stream of invalid events keeps only max_queue dead letters.
    """
    caplog.set_level(logging.WARNING, logger="cio_destination._sender")
    destination = make(outbox=":memory:", max_queue=3, batch_size=1)
    for number in range(8):
        destination.submit(invalid_device(f"user-{number}@example.com"))
        assert destination.flush(10)

    assert destination._sender._outbox.dead_letter_count() == 3
    assert destination.counters.dead_lettered == 8
    assert destination.counters.dropped == 5
    [warning] = [
        record.getMessage()
        for record in caplog.records
        if "dead letters" in record.getMessage()
    ]
    assert "newest 3 dead letters" in warning
    assert "example.com" not in caplog.text


def test_shutdown_drains_and_is_idempotent(make: Factory, emulator: Emulator) -> None:
    """
    shutdown() delivers what waits; later calls and messages change nothing.
    """
    destination = make(flush_interval=60.0)
    destination.submit(device_created("u1", "tok-1"))

    destination.shutdown(10)
    destination.shutdown(10)
    destination.submit(device_created("u1", "tok-2"))

    assert list(emulator.state()["devices"]) == ["tok-1"]
    assert destination.counters.dropped == 1
    assert destination.flush(1)


def test_giving_up_keeps_operations_for_the_next_start(
    make: Factory, emulator: Emulator, tmp_path: Path, errors: Errors
) -> None:
    """
    A spent retry budget leaves operations in the outbox; a restart delivers them.
    """
    unreachable = make(endpoint=closed_port_url(), retry=RetryPolicy(give_up_after=0.0))
    for number in range(5):
        unreachable.submit(delivery_metric(f"d-{number}", "opened"))

    assert not unreachable.flush(10)
    unreachable.shutdown(5)
    assert unreachable.counters.gave_up >= 1
    assert any(isinstance(error, DeliveryGaveUpError) for error, _ in errors)
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        assert outbox.pending_count() == 5

    restarted = make()

    assert restarted.flush(10)
    delivered = [metric["delivery_id"] for metric in emulator.state()["metrics"]]
    assert delivered == [f"d-{number}" for number in range(5)]


def test_shutdown_leaves_a_claimed_outbox_to_its_deliverer(
    make: Factory, tmp_path: Path
) -> None:
    """
    shutdown() with no timeout ends once its messages are written, if another delivers.
    """
    deliverer = make(endpoint=closed_port_url())
    deliverer.submit(device_created("u1", "tok-1"))
    wait_until(lambda: deliverer.counters.retried >= 1)
    bystander = make()
    bystander.submit(device_created("u2", "tok-2"))

    stopping = threading.Thread(target=bystander.shutdown, daemon=True)
    stopping.start()
    stopping.join(10)

    assert not stopping.is_alive()
    assert bystander.counters.processed == 1
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        assert outbox.pending_count() == 2
    deliverer.shutdown(0.05)


def test_a_released_claim_passes_to_a_waiting_sender(
    make: Factory, emulator: Emulator
) -> None:
    """
    A sender that found the outbox claimed delivers it once the claim is released.
    """
    deliverer = make(endpoint=closed_port_url())
    deliverer.submit(device_created("u1", "tok-1"))
    wait_until(lambda: deliverer.counters.retried >= 1)
    waiting = make()
    waiting.submit(device_created("u2", "tok-2"))
    wait_until(lambda: waiting.counters.processed == 1)

    deliverer.shutdown(0.05)

    assert waiting.flush(10)
    assert sorted(emulator.state()["devices"]) == ["tok-1", "tok-2"]


def test_an_idle_claimant_delivers_what_another_process_writes(
    make: Factory, emulator: Emulator
) -> None:
    """
    The sender holding the outbox delivers what others write while it is idle.
    """
    claimant = make()
    claimant.submit(device_created("u1", "tok-1"))
    assert claimant.flush(10)
    writer = make()
    writer.submit(device_created("u2", "tok-2"))

    assert writer.flush(10)
    assert sorted(emulator.state()["devices"]) == ["tok-1", "tok-2"]
    assert writer.counters.sent == 0


def test_flush_times_out_while_retrying(make: Factory) -> None:
    """
    flush() returns False when its timeout ends before delivery.
    """
    destination = make(endpoint=closed_port_url())
    destination.submit(device_created("u1", "tok-1"))

    assert not destination.flush(0.05)
    destination.shutdown(0.05)


def test_order_survives_random_faults(make: Factory, emulator: Emulator) -> None:
    """
    The workspace after a run through faults equals the one after a clean run.
    """
    history = shuffled_history(seed=11, count=300)
    clean = make(batch_size=7, outbox=":memory:")
    for message in history:
        clean.submit(message)
    assert clean.flush(30)
    expected = workspace(emulator.state())
    emulator.reset()

    emulator.set_faults(
        Faults(fail_rate=0.25, throttle_rate=0.2, drop_rate=0.1, retry_after=1, seed=5)
    )
    faulty = make(batch_size=7, outbox=":memory:")
    for message in history:
        faulty.submit(message)

    assert faulty.flush(60)
    assert faulty.counters.retried > 5
    assert workspace(emulator.state()) == expected


def test_threads_keep_their_own_order(make: Factory, emulator: Emulator) -> None:
    """
    Messages from many threads all arrive, each thread's in its order.
    """
    destination = make(outbox=":memory:")

    def send(thread: int) -> None:
        for number in range(50):
            destination.submit(delivery_metric(f"t{thread}-{number}", "opened"))

    threads = [threading.Thread(target=send, args=(thread,)) for thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert destination.flush(20)
    arrived = [metric["delivery_id"] for metric in emulator.state()["metrics"]]
    assert len(arrived) == 200
    for thread in range(4):
        mine = [name for name in arrived if name.startswith(f"t{thread}-")]
        assert mine == [f"t{thread}-{number}" for number in range(50)]


def test_a_failing_callback_is_contained(
    emulator: Emulator, quick: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """
    An on_error that raises is logged; delivery and the caller carry on.
    """

    def explode(error: CioDestinationError, message: Any) -> None:
        raise RuntimeError("callback bug")

    with CustomerIODestination(
        retry=quick,
        on_error=explode,
        site_id=DEFAULT_SITE_ID,
        api_key=DEFAULT_API_KEY,
        endpoint=emulator.url,
        outbox=":memory:",
    ) as destination:
        destination.submit(invalid_device("u1"))
        destination.submit(device_created("u1", "tok-1"))
        assert destination.flush(10)

    assert "on_error callback raised" in caplog.text
    assert list(emulator.state()["devices"]) == ["tok-1"]


def test_a_callback_cannot_deadlock_on_flush(
    emulator: Emulator, quick: RetryPolicy
) -> None:
    """
    flush() from on_error, on the sender's own thread, returns False at once.
    """
    answers: list[bool] = []
    destination = CustomerIODestination(
        retry=quick,
        on_error=lambda error, message: answers.append(destination.flush(30)),
        site_id=DEFAULT_SITE_ID,
        api_key=DEFAULT_API_KEY,
        endpoint=emulator.url,
        outbox=":memory:",
    )
    with destination:
        destination.submit(invalid_device("u1"))

        assert destination.flush(10)

    assert answers == [False]


def test_counters_are_a_frozen_snapshot(make: Factory) -> None:
    """
    The counters cannot be changed by their reader.
    """
    counters = make().counters

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        counters.sent = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "CUSTOMERIO_SITE_ID"),
        ({"site_id": "s"}, "api_key"),
        ({"api_key": "k", "endpoint": "http://127.0.0.1:9"}, "site_id"),
    ],
    ids=["nothing", "no-api-key", "no-site-id"],
)
def test_missing_credentials_are_named(options: dict[str, Any], named: str) -> None:
    """
    Without usable credentials, construction fails naming what is missing.
    """
    with pytest.raises(ConfigurationError, match=named):
        CustomerIODestination(outbox=":memory:", **options)


def test_options_complete_given_settings(emulator: Emulator) -> None:
    """
    Options beside settings replace its fields; unknown ones are refused.
    """
    settings = Settings(
        site_id="s", api_key="k", endpoint=emulator.url, outbox=":memory:"
    )

    with CustomerIODestination(settings, batch_size=5) as destination:
        assert destination.settings.batch_size == 5
    with pytest.raises(ConfigurationError, match="unknown setting 'colour'"):
        CustomerIODestination(settings, colour="blue")


_AT_EXIT = """
from cio_destination._destination import CustomerIODestination
destination = CustomerIODestination(
    site_id={site_id!r}, api_key={api_key!r}, endpoint={url!r}, outbox=":memory:",
    flush_interval=60.0,
)
destination.submit({message!r})
"""


def test_exiting_the_interpreter_delivers(emulator: Emulator) -> None:
    """
    A program that never calls shutdown() still delivers at exit.
    """
    script = _AT_EXIT.format(
        site_id=DEFAULT_SITE_ID,
        api_key=DEFAULT_API_KEY,
        url=emulator.url,
        message=device_created("u1", "tok-exit"),
    )

    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=60
    )

    assert list(emulator.state()["devices"]) == ["tok-exit"]
