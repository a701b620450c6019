"""
``cio-destination send``: files of messages delivered, summarized, and exit codes.
"""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from delivery_support import (
    closed_port_url,
    device_created,
    invalid_device,
    operation_count,
    shuffled_history,
    workspace,
)

from cio_destination._cli import main
from cio_destination._cli_send import deliver
from cio_destination._retry import RetryPolicy
from cio_destination._settings import Settings
from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
    Faults,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CREDENTIALS = ["--site-id", DEFAULT_SITE_ID, "--api-key", DEFAULT_API_KEY]


def write_lines(path: Path, messages: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(message) + "\n" for message in messages))
    return str(path)


def send(emulator: Emulator, tmp_path: Path, *argv: str) -> int:
    return main(
        [
            "send",
            *argv,
            "--endpoint",
            emulator.url,
            *CREDENTIALS,
            "--outbox",
            str(tmp_path / "outbox.sqlite3"),
        ]
    )


def test_without_credentials_it_uses_an_emulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    With no credentials and no endpoint, the run goes to an emulator and says so.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))

    status = main(["send", str(EXAMPLES / "messages.jsonl")])

    captured = capsys.readouterr()
    assert status == 0
    assert "in-process emulator" in captured.err
    assert "nothing leaves this machine" in captured.err
    workspace_text = captured.out.split("\n", 1)[1].rsplit("\nsent ", 1)[0]
    assert "suppressed" in json.loads(workspace_text)
    assert captured.out.splitlines()[-1].startswith("sent ")
    assert not list(tmp_path.iterdir())


def test_delivers_to_an_endpoint(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Messages go to the endpoint; the summary counts them and the exit is 0.
    """
    path = write_lines(
        tmp_path / "in.jsonl",
        [device_created("u1", "tok-1"), device_created("u2", "tok-2")],
    )

    status = send(emulator, tmp_path, path)

    assert status == 0
    assert sorted(emulator.state()["devices"]) == ["tok-1", "tok-2"]
    summary = capsys.readouterr().out
    assert summary.startswith("sent 2 operations from 2 messages to http://127.0.0.1")
    assert "0 invalid, 0 dead letters, 0 retries" in summary


def test_credentials_come_from_the_environment(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    CUSTOMERIO_* variables stand in for every delivery option.
    """
    monkeypatch.setenv("CUSTOMERIO_SITE_ID", DEFAULT_SITE_ID)
    monkeypatch.setenv("CUSTOMERIO_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("CUSTOMERIO_ENDPOINT", emulator.url)
    monkeypatch.setenv("CUSTOMERIO_OUTBOX", str(tmp_path / "outbox.sqlite3"))
    path = write_lines(tmp_path / "in.jsonl", [device_created("u1", "tok-1")])

    assert main(["send", path]) == 0

    assert list(emulator.state()["devices"]) == ["tok-1"]
    assert (tmp_path / "outbox.sqlite3").exists()


def test_a_write_key_sends_through_pipelines(
    emulator: Emulator, tmp_path: Path
) -> None:
    """
    --write-key sends the events to the Pipelines batch endpoint.
    """
    path = write_lines(tmp_path / "in.jsonl", [device_created("u1", "tok-1")])
    argv = ["send", path, "--endpoint", emulator.url, "--write-key", DEFAULT_WRITE_KEY]

    assert main([*argv, "--outbox", str(tmp_path / "outbox.sqlite3")]) == 0

    state = emulator.state()
    assert state["requests"] == {"/v1/batch": {"200": 1}}
    assert list(state["devices"]) == ["tok-1"]


def test_reads_a_batch_body_from_stdin(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A Segment batch body on standard input is read like a file.
    """
    body = {"batch": [device_created("u1", "tok-1")]}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(body)))

    assert send(emulator, tmp_path, "-") == 0
    assert list(emulator.state()["devices"]) == ["tok-1"]


def test_invalid_messages_make_it_fail(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Invalid events are listed as dead letters, the rest sent, and the exit is 1.
    """
    path = write_lines(
        tmp_path / "in.jsonl", [invalid_device("u1"), device_created("u1", "t")]
    )

    status = send(emulator, tmp_path, path)

    captured = capsys.readouterr()
    assert status == 1
    assert "1 invalid, 1 dead letters" in captured.out
    assert "dead letter: message: invalid Device Deleted" in captured.err
    assert list(emulator.state()["devices"]) == ["t"]


def test_a_broken_line_is_reported_and_the_rest_sent(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A line that is not JSON is named, the others are delivered, and the exit is 1.
    """
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(device_created("u1", "t")) + "\n{not json\n")

    status = send(emulator, tmp_path, str(path))

    assert status == 1
    assert "line 2 is not JSON" in capsys.readouterr().err
    assert list(emulator.state()["devices"]) == ["t"]


def test_an_unreadable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A missing input file is a usage problem, exit 2.
    """
    status = main(["send", str(tmp_path / "missing.jsonl"), "--endpoint", "http://x"])

    assert status == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_refused_credentials_exit_1_without_the_key(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    A refused key fails the run, and the output never shows the key.
    """
    path = write_lines(tmp_path / "in.jsonl", [device_created("u1", "t")])
    secret = "sk-this-must-not-appear"

    argv = ["send", path, "--endpoint", emulator.url, "--site-id", "s"]
    argv += ["--api-key", secret, "--outbox", str(tmp_path / "outbox.sqlite3")]
    status = main(argv)

    captured = capsys.readouterr()
    assert status == 1
    assert "HTTP 401" in captured.err
    assert secret not in captured.out + captured.err


def test_undelivered_operations_wait_for_a_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    When Customer.io cannot be reached, the run exits 1 and names the replay.
    """
    path = write_lines(tmp_path / "in.jsonl", [device_created("u1", "t")])
    outbox = tmp_path / "outbox.sqlite3"

    argv = ["send", path, "--endpoint", closed_port_url(), *CREDENTIALS]
    argv += ["--outbox", str(outbox), "--give-up-after", "0"]
    status = main(argv)

    assert status == 1
    assert f"cio-destination outbox replay {outbox}" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_progress_bar_only_on_a_terminal(
    terminal: bool, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    A long input shows a progress bar on a terminal, and none elsewhere.
    """
    errors = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", errors)
    messages = [device_created(f"u{number}", f"t{number}") for number in range(250)]

    assert send(emulator, tmp_path, write_lines(tmp_path / "in.jsonl", messages)) == 0

    assert ("250/250 messages" in errors.getvalue()) is terminal


@pytest.mark.slow
def test_faults_do_not_change_the_workspace(emulator: Emulator, tmp_path: Path) -> None:
    """
    A run through failures and throttling leaves the workspace a clean run leaves.
    """
    path = write_lines(tmp_path / "in.jsonl", shuffled_history(seed=5, count=30))
    assert send(emulator, tmp_path / "clean", path) == 0
    expected = workspace(emulator.state())
    emulator.reset()
    emulator.set_faults(Faults(fail_rate=0.3, throttle_rate=0.2, retry_after=0, seed=2))

    assert send(emulator, tmp_path / "faulty", path) == 0

    counts = emulator.state()["requests"]
    assert any(status != "200" for by_status in counts.values() for status in by_status)
    assert workspace(emulator.state()) == expected


def pending_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            count = int(db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])
        db.close()
    except sqlite3.Error:
        return 0
    return count


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        pause.wait(0.02)


@pytest.mark.slow
def test_a_killed_process_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """
    After SIGKILL while Customer.io is unreachable, replay applies everything.
    """
    messages = shuffled_history(seed=23, count=200)
    path = write_lines(tmp_path / "in.jsonl", messages)
    assert send(emulator, tmp_path / "clean-", path) == 0
    expected = workspace(emulator.state())
    emulator.reset()
    outbox = tmp_path / "outbox.sqlite3"
    command = [sys.executable, "-m", "cio_destination._cli", "send", path]
    command += ["--endpoint", closed_port_url(), *CREDENTIALS, "--outbox", str(outbox)]
    command += ["--give-up-after", "600"]

    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as child:
        try:
            wait_until(lambda: pending_rows(outbox) == operation_count(messages), 60)
        finally:
            child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL

    status = main(
        ["outbox", "replay", str(outbox), "--endpoint", emulator.url, *CREDENTIALS]
    )

    assert status == 0
    assert pending_rows(outbox) == 0
    assert workspace(emulator.state()) == expected


def test_an_input_longer_than_the_queue_waits_instead_of_dropping(
    emulator: Emulator, tmp_path: Path
) -> None:
    """
    Submitting more messages than the queue holds waits for room; none is dropped.
    """
    settings = Settings(
        site_id=DEFAULT_SITE_ID,
        api_key=DEFAULT_API_KEY,
        endpoint=emulator.url,
        outbox=str(tmp_path / "outbox.sqlite3"),
        max_queue=3,
    )
    messages = [device_created(f"u{number}", f"t{number}") for number in range(40)]

    delivery = deliver(settings, RetryPolicy(), messages)

    assert delivery.complete
    assert delivery.counters.dropped == 0
    assert delivery.counters.sent == 40
    assert len(emulator.state()["devices"]) == 40
