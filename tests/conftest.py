"""
Fixtures every test module shares.
"""

from __future__ import annotations

import os

import pytest

_OUR_VARIABLE_PREFIXES = ("CUSTOMERIO_", "CIO_DESTINATION_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Keep the machine's Customer.io settings out of every test.
    """
    for name in list(os.environ):
        if name.startswith(_OUR_VARIABLE_PREFIXES):
            monkeypatch.delenv(name)
