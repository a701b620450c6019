"""
Fixtures every test module shares.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cio_destination.emulator import Emulator, Faults

_OUR_VARIABLE_PREFIXES = ("CUSTOMERIO_", "CIO_DESTINATION_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Keep the machine's Customer.io settings out of every test.
    """
    for name in list(os.environ):
        if name.startswith(_OUR_VARIABLE_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def running() -> Iterator[Emulator]:
    """
    One emulator for the whole module: starting one per test costs time.
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
