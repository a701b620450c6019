"""
Tests for cio_destination._cli, the command line's entry point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_every_subcommand_is_registered() -> None:
    """
    The five subcommands ARCHITECTURE.md names are all reachable.
    """
    result = subprocess.run(
        [sys.executable, "-m", "cio_destination._cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )

    for command in ("check", "send", "emulate", "outbox", "schemas"):
        assert command in result.stdout


@pytest.mark.slow
def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """
    A reader that closes the pipe early gets exit 141 and no traceback.
    """
    message = {"type": "track", "event": "User Deleted", "userId": "42"}
    messages = tmp_path / "many.jsonl"
    messages.write_text((json.dumps(message) + "\n") * 20_000)

    with subprocess.Popen(
        [sys.executable, "-m", "cio_destination._cli", "check", str(messages)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        errors = process.stderr.read()
        status = process.wait(timeout=60)

    assert first.startswith(b"#0")
    assert status == 141
    assert errors == b""
