"""
Fixtures for the delivery tests; the emulator comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

from cio_destination._retry import RetryPolicy


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
