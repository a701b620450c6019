"""
Tests that the README's two set-up commands stay true.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_command(marker: str) -> str:
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "readme-command"), marker],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize("marker", ["main-command", "test-command"])
def test_readme_holds_each_set_up_command(marker: str) -> None:
    """
    Each set-up command is found after its marker and starts by installing.
    """
    command = _readme_command(marker)

    assert command.startswith("python3 -m pip install ")


def test_main_command_names_files_that_exist() -> None:
    """
    Every repository path the main command names exists in the checkout.
    """
    words = shlex.split(_readme_command("main-command"))
    paths = [word for word in words if "/" in word]

    assert paths
    for path in paths:
        assert (ROOT / path).is_file(), path


def test_ci_runs_the_readme_test_command() -> None:
    """
    CI reads its command from the README rather than keeping a copy of it.
    """
    ci_script = (ROOT / ".ci" / "run").read_text()

    assert "readme-command test-command" in ci_script
