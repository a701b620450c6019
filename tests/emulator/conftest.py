"""
Fixtures for the emulator's tests: one server per module, emptied per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_support import Client

from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
    Faults,
)


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
def track(emulator: Emulator) -> Iterator[Client]:
    """
    A Track API client with the emulator's credentials.
    """
    client = Client(emulator.url, (DEFAULT_SITE_ID, DEFAULT_API_KEY))
    with client.session:
        yield client


@pytest.fixture
def pipelines(emulator: Emulator) -> Iterator[Client]:
    """
    A Pipelines API client with the emulator's write key.
    """
    client = Client(emulator.url, (DEFAULT_WRITE_KEY, ""))
    with client.session:
        yield client
