"""
Fixtures for the delivery tests: one emulator per module, emptied per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cio_destination._retry import RetryPolicy
from cio_destination.emulator import Emulator, Faults


@pytest.fixture(scope="module")
def running() -> Iterator[Emulator]:
    """
    One emulator for the whole module.
    """
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(running: Emulator) -> Emulator:
    """
    The module's emulator, emptied and without faults.
    """
    running.reset()
    running.set_faults(Faults())
    return running


@pytest.fixture
def quick() -> RetryPolicy:
    """
    A retry policy with millisecond waits, so retries cost no test time.
    """
    return RetryPolicy(
        base_delay=0.001,
        max_delay=0.005,
        max_retry_after=0.005,
        give_up_after=10.0,
        rng=lambda: 0.5,
    )
