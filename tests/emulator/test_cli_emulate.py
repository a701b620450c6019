"""
``cio-destination emulate`` as a real process: URL first, serve, stop on signal.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from cio_destination.emulator import DEFAULT_SITE_ID

COMMAND = [sys.executable, "-m", "cio_destination._cli", "emulate"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"]
)
def test_serves_until_signalled(stop: signal.Signals) -> None:
    """
    It prints its URL first, answers requests, and exits 0 on SIGTERM or SIGINT.
    """
    arguments = [
        *COMMAND,
        "--port",
        "0",
        "--api-key",
        "cli-secret",
        "--throttle-rate",
        "1",
    ]
    with subprocess.Popen(
        arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        try:
            throttled = requests.post(
                url + "/api/v2/entity",
                json={},
                auth=(DEFAULT_SITE_ID, "cli-secret"),
                timeout=10,
            )
            state = requests.get(url + "/_emulator/state", timeout=10)
        finally:
            process.send_signal(stop)
        out, err = process.communicate(timeout=20)

    assert url.startswith("http://127.0.0.1:")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "1")
    assert state.json()["requests"] == {"/api/v2/entity": {"429": 1}}
    assert process.returncode == 0
    assert out == ""
    assert "cli-secret" not in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["--fail-rate", "2"], 2, "fail_rate must be a number from 0 to 1"),
        (["--fail-rate", "0.6", "--drop-rate", "0.6"], 2, "add up to at most 1"),
        (["--host", "192.0.2.1"], 1, "cannot listen on 192.0.2.1"),
    ],
    ids=["rate-over-1", "rates-over-1", "address-not-local"],
)
def test_bad_settings_exit_with_a_message(
    arguments: list[str], status: int, message: str
) -> None:
    """
    Bad fault settings exit 2 and an address it cannot take exits 1, saying why.
    """
    completed = subprocess.run(
        [*COMMAND, "--port", "0", *arguments],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )

    assert completed.returncode == status
    assert completed.stdout == ""
    assert message in completed.stderr
