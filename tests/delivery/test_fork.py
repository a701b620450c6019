"""
A destination made before os.fork() delivers from the child, on its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from delivery_support import delivery_metric

from cio_destination._destination import CustomerIODestination
from cio_destination._retry import RetryPolicy
from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID, Emulator, Faults

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()"),
    # Newer Pythons warn about forking a process that runs threads, as the
    # emulator and the sender do: making that safe is what is under test.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

Factory = Callable[..., CustomerIODestination]


@pytest.fixture
def make(emulator: Emulator, quick: RetryPolicy) -> Iterator[Factory]:
    """
    Build destinations for the emulator that hold what they are given for a minute.
    """
    made: list[CustomerIODestination] = []

    def build(**options: Any) -> CustomerIODestination:
        options.setdefault("outbox", ":memory:")
        options.setdefault("flush_interval", 60.0)
        destination = CustomerIODestination(
            site_id=DEFAULT_SITE_ID,
            api_key=DEFAULT_API_KEY,
            endpoint=emulator.url,
            retry=quick,
            **options,
        )
        made.append(destination)
        return destination

    yield build
    for destination in made:
        destination.shutdown(5)


def in_child(body: Callable[[], int], between: Callable[[], None] | None = None) -> int:
    """
    Run ``body`` in a forked child, ``between`` here meanwhile; the child's status.

    The child never returns into pytest: it leaves through ``os._exit``, with
    status 3 if ``body`` raised.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which reports nothing
        status = 3
        try:
            status = body()
        finally:
            os._exit(status)

    try:
        if between is not None:
            between()
    finally:
        _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


def delivered(emulator: Emulator) -> list[str]:
    return [metric["delivery_id"] for metric in emulator.state()["metrics"]]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            return False

        pause.wait(0.005)
    return True


def test_a_forked_child_delivers_its_own_messages(
    make: Factory, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """
    The child starts afresh and delivers; the parent delivers what it had queued.
    """
    caplog.set_level(logging.INFO, logger="cio_destination._destination")
    destination = make()
    destination.submit(delivery_metric("parent-1", "opened"))

    def child() -> int:
        destination.submit(delivery_metric("child-1", "opened"))
        destination.submit(delivery_metric("child-2", "clicked"))
        if not destination.flush(5):
            return 1

        counters = destination.counters
        if (counters.accepted, counters.sent) != (2, 2):
            return 2

        if caplog.text.count("starts afresh in forked process") != 1:
            return 4

        return 0

    assert in_child(child) == 0
    assert delivered(emulator) == ["child-1", "child-2"]

    destination.submit(delivery_metric("parent-2", "opened"))

    assert destination.flush(10)
    assert delivered(emulator) == ["child-1", "child-2", "parent-1", "parent-2"]
    assert (destination.counters.accepted, destination.counters.sent) == (2, 2)


def test_a_forked_child_shares_a_durable_outbox(
    make: Factory, emulator: Emulator, tmp_path: Path
) -> None:
    """
    The child writes to the parent's file, and delivers it once the parent stops.

    The child inherits the parent's claim on the file; it must let go of it,
    or no process could ever claim the file again while the child lives.
    """
    # A waiting sender tries to claim the file again every flush_interval.
    destination = make(outbox=str(tmp_path / "outbox.sqlite3"), flush_interval=0.05)
    destination.submit(delivery_metric("parent-1", "opened"))
    assert destination.flush(10)  # the parent has claimed the file
    ready_in, ready_out = os.pipe()
    go_in, go_out = os.pipe()

    def child() -> int:
        os.close(ready_in)
        os.close(go_out)
        destination.submit(delivery_metric("child-1", "opened"))
        destination.submit(delivery_metric("child-2", "clicked"))
        if not wait_until(lambda: destination.counters.processed == 2):
            return 1

        os.write(ready_out, b".")
        os.read(go_in, 1)
        return 0 if destination.flush(5) else 2

    def parent() -> None:
        os.close(ready_out)
        os.close(go_in)
        if os.read(ready_in, 1) != b".":
            return  # the child has ended early; its status says why

        emulator.set_faults(Faults(fail_rate=1.0))
        destination.shutdown(0.2)  # stops retrying and lets go of the file
        emulator.set_faults(Faults())
        os.write(go_out, b".")

    try:
        status = in_child(child, between=parent)
    finally:
        for end in (ready_in, go_out):
            os.close(end)

    assert status == 0
    assert delivered(emulator) == ["parent-1", "child-1", "child-2"]
