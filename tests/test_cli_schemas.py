"""
Tests for cio_destination._cli_schemas, the ``schemas`` subcommand.
"""

from __future__ import annotations

import json

import pytest

from cio_destination._catalogue import EVENTS
from cio_destination._cli import main


def test_listing_names_every_event_and_its_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    Without NAME, every event is listed with its schema file, then the common file.
    """
    status = main(["schemas"])
    lines = capsys.readouterr().out.splitlines()

    assert status == 0
    assert len(lines) == len(EVENTS) + 1
    for line, spec in zip(lines, EVENTS.values(), strict=False):
        assert line.startswith(spec.name)
        assert spec.schema in line
    assert "common.json" in lines[-1]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Object Deleted", "Object Deleted"),
        ("Delete Object", "Object Deleted"),
        ("object_deleted.json", "Object Deleted"),
        ("report_content_event", "Report Content Event"),
        ("common", "Parts shared by the Customer.io semantic event schemas"),
    ],
    ids=["canonical", "alias", "file-name", "file-stem", "common"],
)
def test_printing_one_schema(
    capsys: pytest.CaptureFixture[str], name: str, title: str
) -> None:
    """
    NAME may be an event name, an alias, or a file name; the schema is printed.
    """
    status = main(["schemas", name])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["title"] == title


def test_unknown_name_exits_2_with_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """
    An unknown NAME exits 2, suggesting the event it probably meant.
    """
    status = main(["schemas", "user deleted"])

    assert status == 2
    assert "did you mean 'User Deleted'" in capsys.readouterr().err
