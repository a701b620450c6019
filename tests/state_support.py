"""
Reading the emulator's state in tests of every part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def workspace(state: Mapping[str, Any]) -> dict[str, Any]:
    """
    The emulator's state without its request counts.
    """
    return {key: value for key, value in state.items() if key != "requests"}
