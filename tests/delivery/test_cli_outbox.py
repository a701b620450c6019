"""
``cio-destination outbox list|replay|purge``: inspecting and mending an outbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delivery_support import closed_port_url, device_created, invalid_device

from cio_destination._cli import main
from cio_destination._model import OperationKind
from cio_destination._outbox import Outbox
from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID, Emulator

CREDENTIALS = ["--site-id", DEFAULT_SITE_ID, "--api-key", DEFAULT_API_KEY]


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite3"


def send(messages: list[dict[str, Any]], tmp_path: Path, *argv: str) -> int:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(message) + "\n" for message in messages))
    return main(
        ["send", str(path), "--outbox", str(tmp_path / "outbox.sqlite3"), *argv]
    )


def refused_run(emulator: Emulator, tmp_path: Path) -> None:
    """
    Leave two operations refused with 401 and one invalid message.
    """
    messages = [
        device_created("u1", "t1"),
        invalid_device("u2"),
        device_created("u3", "t3"),
    ]
    argv = [
        "--endpoint",
        emulator.url,
        "--site-id",
        DEFAULT_SITE_ID,
        "--api-key",
        "bad",
    ]
    assert send(messages, tmp_path, *argv) == 1


def test_list_shows_waiting_and_dead(
    outbox_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    The text listing counts both tables and gives each row with its reason.
    """
    with Outbox(outbox_path) as outbox:
        outbox.append([(OperationKind.ENTITY, "person:id:1", b"{}")] * 2)
        outbox.settle(rejected=[(outbox.head(1)[0], "HTTP 400: bad field", 400)])

    status = main(["outbox", "list", str(outbox_path)])

    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines()[0] == f"{outbox_path}: 1 waiting, 1 dead letters"
    assert "waiting  seq 2" in out
    assert "dead     seq 1" in out
    assert "HTTP 400: bad field" in out


def test_list_as_json_lines(
    emulator: Emulator,
    tmp_path: Path,
    outbox_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    The jsonl listing gives each row with its body as JSON.
    """
    refused_run(emulator, tmp_path)
    capsys.readouterr()

    assert main(["outbox", "list", str(outbox_path), "--format", "jsonl"]) == 0

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["state"], r["kind"], r["status"]) for r in records] == [
        ("dead", "message", None),
        ("dead", "entity", 401),
        ("dead", "entity", 401),
    ]
    assert records[1]["body"]["device"]["token"] == "t1"


def test_replay_puts_refused_operations_back_and_delivers(
    emulator: Emulator, tmp_path: Path, outbox_path: Path
) -> None:
    """
    After a key fix, replay --dead-letters delivers what the old key had refused.
    """
    refused_run(emulator, tmp_path)

    argv = ["outbox", "replay", str(outbox_path), "--dead-letters"]
    status = main([*argv, "--endpoint", emulator.url, *CREDENTIALS])

    assert status == 0
    assert sorted(emulator.state()["devices"]) == ["t1", "t3"]
    with Outbox(outbox_path) as outbox:
        assert [letter.kind for letter in outbox.dead_letters()] == ["message"]


def test_replay_fails_while_unreachable(
    emulator: Emulator, tmp_path: Path, outbox_path: Path
) -> None:
    """
    Replay exits 1 when it cannot deliver, and the operations keep waiting.
    """
    argv = ["--endpoint", closed_port_url(), *CREDENTIALS, "--give-up-after", "0"]
    assert send([device_created("u1", "t1")], tmp_path, *argv) == 1

    assert main(["outbox", "replay", str(outbox_path), *argv]) == 1

    with Outbox(outbox_path) as outbox:
        assert outbox.pending_count() == 1


def test_replay_waits_its_turn(
    emulator: Emulator, outbox_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Replay refuses to deliver from an outbox another process is delivering from.
    """
    with Outbox(outbox_path) as holder:
        assert holder.claim()

        status = main(
            [
                "outbox",
                "replay",
                str(outbox_path),
                "--endpoint",
                emulator.url,
                *CREDENTIALS,
            ]
        )

    assert status == 1
    assert "another process" in capsys.readouterr().err


def test_replay_needs_credentials(
    outbox_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Replay without credentials or endpoint is a usage problem, exit 2.
    """
    Outbox(outbox_path).close()

    assert main(["outbox", "replay", str(outbox_path)]) == 2
    assert "CUSTOMERIO_SITE_ID" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["list", "replay", "purge"])
def test_a_missing_outbox_exits_2(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Naming an outbox that does not exist is an error, and none is created.
    """
    path = tmp_path / "nothing.sqlite3"

    status = main(
        ["outbox", action, str(path), *(CREDENTIALS if action == "replay" else [])]
    )

    assert status == 2
    assert "no outbox at" in capsys.readouterr().err
    assert not path.exists()


def test_purge_deletes_dead_letters_then_waiting(
    outbox_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """
    Purge removes dead letters; with --pending, the waiting operations too.
    """
    with Outbox(outbox_path) as outbox:
        outbox.append([(OperationKind.ENTITY, "person:id:1", b"{}")] * 3)
        outbox.settle(rejected=[(outbox.head(1)[0], "refused", 400)])

    assert main(["outbox", "purge", str(outbox_path)]) == 0
    assert main(["outbox", "purge", str(outbox_path), "--pending"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "deleted 1 dead letters and 0 waiting operations",
        "deleted 0 dead letters and 2 waiting operations",
    ]
