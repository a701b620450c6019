"""
Fixtures for the emulator's tests: HTTP clients of the shared emulator.

The emulator itself, one per module and emptied per test, comes from
``tests/conftest.py``.
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
)


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
