"""
Tests for cio_destination._cli_check, the ``check`` subcommand.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cio_destination._catalogue import EVENTS
from cio_destination._cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FIELDS = [
    "index",
    "type",
    "event",
    "semantic",
    "valid",
    "errors",
    "warnings",
    "requests",
]
USER_DELETED = {"type": "track", "event": "User Deleted", "userId": "42"}


def _jsonl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[Any]]:
    status = main(["check", *argv, "--format", "jsonl"])
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "messages.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_examples_are_all_valid_and_cover_every_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    The bundled examples check clean, exit 0, and reach all nine events.
    """
    status, reports = _jsonl(capsys, str(EXAMPLES / "messages.jsonl"))

    assert status == 0
    assert all(list(report) == FIELDS for report in reports)
    assert all(report["valid"] for report in reports)
    assert {report["semantic"] for report in reports} - {None} == set(EVENTS)
    assert [report["index"] for report in reports] == list(range(len(reports)))


def test_ordinary_message_is_valid_with_no_requests(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    An identify call is reported valid, not semantic, with no requests.
    """
    message = {"type": "identify", "userId": "42", "traits": {"plan": "pro"}}

    status, reports = _jsonl(capsys, _write(tmp_path, json.dumps(message)))

    assert status == 0
    assert reports == [
        {
            "index": 0,
            "type": "identify",
            "event": None,
            "semantic": None,
            "valid": True,
            "errors": [],
            "warnings": [],
            "requests": [],
        }
    ]


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        ([], "https://track.customer.io/api/v2/entity"),
        (["--region", "eu"], "https://track-eu.customer.io/api/v2/entity"),
        (["--transport", "pipelines"], "https://cdp.customer.io/v1/track"),
        (
            ["--transport", "pipelines", "--region", "eu"],
            "https://cdp-eu.customer.io/v1/track",
        ),
        (
            ["--endpoint", "http://127.0.0.1:8099/"],
            "http://127.0.0.1:8099/api/v2/entity",
        ),
    ],
    ids=["track-us", "track-eu", "pipelines-us", "pipelines-eu", "endpoint"],
)
def test_request_url_follows_region_transport_and_endpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], url: str
) -> None:
    """
    The request URL is the region's host, or the endpoint, plus the kind's path.
    """
    _, reports = _jsonl(capsys, _write(tmp_path, json.dumps(USER_DELETED)), *argv)

    assert [request["url"] for request in reports[0]["requests"]] == [url]
    assert reports[0]["requests"][0]["method"] == "POST"


def test_eu_region_carries_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    """
    With --region eu every request of the examples goes to the EU Track host.
    """
    _, reports = _jsonl(capsys, str(EXAMPLES / "messages.jsonl"), "--region", "eu")

    urls = {request["url"] for report in reports for request in report["requests"]}
    assert urls == {
        "https://track-eu.customer.io/api/v2/entity",
        "https://track-eu.customer.io/api/v1/metrics",
    }


def test_request_json_is_the_operation_body(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    A request's json is the Track API body for the message.
    """
    message = {
        "type": "track",
        "event": "Relationship Deleted",
        "userId": "jane@example.com",
        "properties": {"objectId": "Acme"},
    }

    _, reports = _jsonl(capsys, _write(tmp_path, json.dumps(message)))

    assert reports[0]["requests"][0]["json"] == {
        "type": "object",
        "action": "delete_relationships",
        "identifiers": {"object_type_id": "1", "object_id": "Acme"},
        "cio_relationships": [{"identifiers": {"email": "jane@example.com"}}],
    }


def test_mistakes_are_reported_with_paths(capsys: pytest.CaptureFixture[str]) -> None:
    """
    The mistakes file exits 1, and each typical mistake is named by its path.
    """
    status, reports = _jsonl(capsys, str(EXAMPLES / "mistakes.jsonl"))

    errors = {
        report["index"]: [error["path"] for error in report["errors"]]
        for report in reports
    }
    warned = {report["index"] for report in reports if report["warnings"]}
    assert status == 1
    assert errors == {
        0: [],
        1: [],
        2: [],
        3: [],
        4: [],
        5: [],
        6: ["context.device.type"],
        7: ["context.device.type"],
        8: ["context.device.token"],
        9: ["properties.objectId"],
        10: ["properties.objectTypeId"],
        11: [],
        12: ["userId"],
        13: ["properties.objectTypeId"],
        14: ["properties.metric"],
        15: ["properties.deliveryId"],
        16: ["properties.actionType"],
        17: ["userId", "timestamp"],
    }
    assert warned == {0, 1, 2, 3, 4, 5}
    assert reports[0]["semantic"] is None
    assert reports[2]["semantic"] == "User Deleted"


def test_strict_flag_refuses_aliases(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    --strict turns an alias into an error on the event field.
    """
    message = {**USER_DELETED, "event": "Delete Person"}

    status, reports = _jsonl(capsys, _write(tmp_path, json.dumps(message)), "--strict")

    assert status == 1
    assert reports[0]["errors"][0]["path"] == "event"


def test_json_array_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """
    A JSON array of messages is read as those messages, in order.
    """
    messages = [USER_DELETED, {"type": "page", "userId": "42"}]

    status, reports = _jsonl(capsys, _write(tmp_path, json.dumps(messages, indent=2)))

    assert status == 0
    assert [report["type"] for report in reports] == ["track", "page"]


def test_batch_body_input_shares_its_context(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    A Segment batch body is read message by message, with its context applied.
    """
    body = {
        "batch": [
            {
                "type": "track",
                "event": "Device Deleted",
                "userId": "42",
                "context": {"locale": "en-GB"},
            }
        ],
        "context": {"device": {"token": "t-1", "type": "ios"}},
    }

    status, reports = _jsonl(
        capsys, _write(tmp_path, json.dumps(body)), "--transport", "pipelines"
    )

    assert status == 0
    assert reports[0]["requests"][0]["json"]["context"] == {
        "device": {"token": "t-1", "type": "ios"},
        "locale": "en-GB",
    }


def test_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    - (and no FILE at all) reads the messages from standard input.
    """
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(USER_DELETED) + "\n"))

    status, reports = _jsonl(capsys)

    assert status == 0
    assert reports[0]["semantic"] == "User Deleted"


def test_line_that_is_not_json_is_reported_and_the_rest_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    A broken line is reported by its line number; the lines after it still count.
    """
    text = "\n".join(
        [json.dumps(USER_DELETED), "", "{not json", json.dumps(USER_DELETED)]
    )

    status, reports = _jsonl(capsys, _write(tmp_path, text))

    assert status == 1
    assert [report["valid"] for report in reports] == [True, False, True]
    assert "line 3" in reports[1]["errors"][0]["message"]
    assert len(reports[2]["requests"]) == 1


@pytest.mark.parametrize(
    "text",
    ['{"batch": "nope"}'],
    ids=["batch-not-a-list"],
)
def test_unusable_document_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    """
    A document whose shape cannot hold messages exits 2 with a reason.
    """
    status = main(["check", _write(tmp_path, text)])

    assert status == 2
    assert "batch" in capsys.readouterr().err


def test_missing_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    A file that cannot be read exits 2 and says which.
    """
    status = main(["check", str(tmp_path / "absent.jsonl")])

    assert status == 2
    assert "absent.jsonl" in capsys.readouterr().err


def test_text_format_is_one_line_per_message_with_errors_indented(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """
    Text output has a line per message, indented errors, and a summary.
    """
    messages = [
        USER_DELETED,
        {"type": "track", "event": "Object Deleted", "properties": {}},
        {"type": "identify", "userId": "42"},
    ]

    status = main(["check", _write(tmp_path, json.dumps(messages))])
    lines = capsys.readouterr().out.splitlines()

    assert status == 1
    assert lines[0].startswith("#0")
    assert "person delete" in lines[0]
    assert lines[1].startswith("#1")
    assert "invalid" in lines[1]
    assert lines[2].startswith("    error: properties.objectId of Object Deleted")
    assert lines[3].startswith("#2")
    assert lines[-1] == "3 messages: 2 valid, 1 invalid, 1 request"


@pytest.mark.slow
def test_console_script_checks_the_examples() -> None:
    """
    The installed cio-destination command checks the examples and exits 0.
    """
    command = shutil.which("cio-destination")
    if command is None:
        pytest.skip("the package is not installed with its console script")

    result = subprocess.run(
        [command, "check", str(EXAMPLES / "messages.jsonl"), "--format", "jsonl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(
        (EXAMPLES / "messages.jsonl").read_text().splitlines()
    )
