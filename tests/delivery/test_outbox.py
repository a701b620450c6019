"""
The SQLite outbox: order, settling, dead letters, durability and sharing.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cio_destination._errors import OutboxError
from cio_destination._model import OperationKind
from cio_destination._outbox import MESSAGE, DeadLetter, Outbox, default_path
from cio_destination._settings import Settings

ENTITY = OperationKind.ENTITY


def ops(*names: str) -> list[tuple[OperationKind, str, bytes]]:
    return [
        (ENTITY, f"person:id:{name}", f'{{"n":"{name}"}}'.encode()) for name in names
    ]


@pytest.fixture(params=["file", "memory"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    path = str(tmp_path / "outbox.sqlite3") if request.param == "file" else None
    with Outbox(path) as box:
        yield box


def subjects(box: Outbox) -> list[str]:
    return [entry.subject for entry in box.pending()]


def test_operations_come_out_in_the_order_they_went_in(outbox: Outbox) -> None:
    """
    The outbox is first in, first out, across appends.
    """
    outbox.append(ops("a", "b"))
    outbox.append(ops("c"))

    assert [entry.subject for entry in outbox.head(2)] == ["person:id:a", "person:id:b"]
    assert subjects(outbox) == ["person:id:a", "person:id:b", "person:id:c"]


def test_settle_removes_delivered_and_buries_rejected(outbox: Outbox) -> None:
    """
    Settling deletes what was delivered and keeps what was refused, and why.
    """
    outbox.append(ops("a", "b", "c"))
    a, b, c = outbox.head(3)

    outbox.settle(delivered=[a, c], rejected=[(b, "bad attribute", 207)])

    assert not outbox.has_pending()
    [letter] = outbox.dead_letters()
    assert (letter.seq, letter.subject, letter.reason, letter.status) == (
        b.seq,
        "person:id:b",
        "bad attribute",
        207,
    )
    assert letter.body == '{"n":"b"}'


def test_dead_letters_can_be_written_with_operations(outbox: Outbox) -> None:
    """
    An invalid message's dead letter is written beside the operations of others.
    """
    letter = DeadLetter(kind=MESSAGE, body='{"event":"x"}', reason="invalid")

    outbox.append(ops("a"), [letter])

    assert outbox.pending_count() == 1
    [kept] = outbox.dead_letters()
    assert (kept.kind, kept.reason, kept.seq) == (MESSAGE, "invalid", None)
    assert kept.failed_at is not None


def letters(*reasons: str) -> list[DeadLetter]:
    return [DeadLetter(kind=MESSAGE, body="{}", reason=reason) for reason in reasons]


def test_a_memory_outbox_keeps_only_the_newest_dead_letters() -> None:
    """
    In memory, dead letters past the limit push out the oldest, and are counted.
    """
    with Outbox(dead_letter_limit=3) as outbox:
        assert outbox.append(ops("a"), letters("1", "2")) == 0
        assert outbox.append((), letters("3", "4")) == 1
        [a] = outbox.head(1)
        assert outbox.settle(rejected=[(a, "5", 400)]) == 1

        assert [letter.reason for letter in outbox.dead_letters()] == ["3", "4", "5"]


def test_a_file_keeps_every_dead_letter(tmp_path: Path) -> None:
    """
    A file is the user's record: the limit does not apply to it.
    """
    with Outbox(tmp_path / "outbox.sqlite3", dead_letter_limit=1) as outbox:
        assert outbox.append(ops("a"), letters("1", "2")) == 0
        [a] = outbox.head(1)
        assert outbox.settle(rejected=[(a, "3", 400)]) == 0

        assert outbox.dead_letter_count() == 3


def test_requeue_puts_refused_operations_back_in_their_places(outbox: Outbox) -> None:
    """
    Requeued operations take their original place in line, ahead of later ones.
    """
    outbox.append(ops("a", "b", "c"))
    a, b, _ = outbox.head(3)
    outbox.settle(rejected=[(a, "401", 401), (b, "401", 401)])
    outbox.append(ops("d"), [DeadLetter(kind=MESSAGE, body="{}", reason="invalid")])

    assert outbox.requeue_dead_letters() == 2

    assert subjects(outbox) == [
        "person:id:a",
        "person:id:b",
        "person:id:c",
        "person:id:d",
    ]
    assert [letter.kind for letter in outbox.dead_letters()] == [MESSAGE]


def test_purge(outbox: Outbox) -> None:
    """
    Purge deletes dead letters, and waiting operations only when asked.
    """
    outbox.append(ops("a", "b"))
    outbox.settle(rejected=[(outbox.head(1)[0], "bad", 400)])

    assert outbox.purge() == (0, 1)
    assert outbox.pending_count() == 1
    assert outbox.purge(pending=True) == (1, 0)
    assert outbox.pending_count() == 0


def test_pending_bytes_counts_encoded_bytes(outbox: Outbox) -> None:
    """
    The byte tally counts UTF-8 bytes, not characters.
    """
    outbox.append([(ENTITY, "person:id:z", '"Zoë"'.encode())])

    assert outbox.pending_bytes() == len('"Zoë"'.encode())


def test_listing_pages_through_everything(outbox: Outbox) -> None:
    """
    Listing reads more rows than one page holds, in order.
    """
    names = [str(number) for number in range(1234)]
    outbox.append(ops(*names))

    assert subjects(outbox) == [f"person:id:{name}" for name in names]


def test_a_file_outlives_the_object(tmp_path: Path) -> None:
    """
    What a closed outbox held is there when the file is opened again.
    """
    path = tmp_path / "deep" / "folder" / "outbox.sqlite3"
    with Outbox(path) as first:
        first.append(ops("a"))

    with Outbox(path) as second:
        assert subjects(second) == ["person:id:a"]


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    """
    A durable outbox uses SQLite's write-ahead log.
    """
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).close()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_not_a_database_is_an_outbox_error(tmp_path: Path) -> None:
    """
    A file that is not SQLite gives OutboxError naming the path.
    """
    path = tmp_path / "notes.txt"
    path.write_text("these are not the rows you are looking for\n" * 100)

    with pytest.raises(OutboxError, match=r"notes\.txt") as caught:
        Outbox(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_an_unusable_folder_is_an_outbox_error(tmp_path: Path) -> None:
    """
    A path below a plain file cannot hold an outbox, and says so.
    """
    (tmp_path / "file").write_text("")

    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(tmp_path / "file" / "outbox.sqlite3")


def test_an_unknown_format_version_is_refused(tmp_path: Path) -> None:
    """
    An outbox written by a newer format is refused rather than misread.
    """
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    db.close()

    with pytest.raises(OutboxError, match="format version 99"):
        Outbox(path)


def test_delivery_claim_is_exclusive(tmp_path: Path) -> None:
    """
    Only one outbox object at a time may deliver from a file; closing frees it.
    """
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as first, Outbox(path) as second:
        assert first.claim()
        assert first.claim()
        assert not second.claim()
        first.release()
        assert second.claim()


def test_memory_outboxes_are_separate() -> None:
    """
    Two in-memory outboxes share nothing and are always free to deliver.
    """
    with Outbox() as first, Outbox(":memory:") as second:
        first.append(ops("a"))

        assert not first.durable
        assert second.claim()
        assert not second.has_pending()


def test_threads_append_safely(outbox: Outbox) -> None:
    """
    Appends from many threads all land, each thread's in its own order.
    """

    def append(thread: int) -> None:
        for number in range(50):
            outbox.append(ops(f"{thread}-{number}"))

    threads = [threading.Thread(target=append, args=(thread,)) for thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    seen = subjects(outbox)
    assert len(seen) == 200
    for thread in range(4):
        mine = [
            subject for subject in seen if subject.startswith(f"person:id:{thread}-")
        ]
        assert mine == [f"person:id:{thread}-{number}" for number in range(50)]


_APPENDER = """
import sys
from cio_destination._model import OperationKind
from cio_destination._outbox import Outbox

with Outbox(sys.argv[1]) as box:
    for number in range(200):
        box.append([(OperationKind.ENTITY, f"child:{number}", b"{}")])
"""


def test_processes_append_safely(tmp_path: Path) -> None:
    """
    Another process appending to the same file at the same time loses nothing.
    """
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        child = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path)])
        for number in range(200):
            box.append([(ENTITY, f"parent:{number}", b"{}")])
        assert child.wait(timeout=60) == 0

        seen = subjects(box)
    assert [s for s in seen if s.startswith("child:")] == [
        f"child:{n}" for n in range(200)
    ]
    assert [s for s in seen if s.startswith("parent:")] == [
        f"parent:{n}" for n in range(200)
    ]


def test_default_path_depends_on_the_destination_not_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """
    Each destination gets its own file under XDG_STATE_HOME, and no key shows.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    us = default_path(Settings(site_id="site", api_key="secret-key"))
    eu = default_path(Settings(site_id="site", api_key="secret-key", region="eu"))
    pipelines = default_path(Settings(write_key="secret-write-key"))

    assert len({us, eu, pipelines}) == 3
    assert us.parent == tmp_path / "cio-destination"
    assert all("secret" not in str(path) for path in (us, eu, pipelines))
