"""
The outbox: accepted operations wait here until Customer.io acknowledges them.

It is one SQLite file in WAL mode (or an in-memory database for users who
opt out of durability) with two tables: ``pending``, in the order operations
were accepted, and ``dead_letters``, what will not be delivered and why. A
file keeps every dead letter, the user's record, until ``outbox purge``; an
in-memory outbox may be given a limit and then keeps only the newest.
Every change is one transaction, so a process killed at any moment leaves
each operation either pending or settled, never lost. Several threads and
processes may write to the same file; delivering from it is reserved to one
at a time by an advisory lock on a ``.lock`` file beside it.

sqlite3 errors (and the file system's) are translated into
:class:`OutboxError` here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

import attrs

from cio_destination._errors import OutboxError
from cio_destination._model import OperationKind

if TYPE_CHECKING:
    from cio_destination._settings import Settings

#: The ``outbox`` setting that keeps the outbox in memory.
MEMORY = ":memory:"
#: The kind of a dead letter that holds a whole Segment message.
MESSAGE = "message"

_FORMAT_VERSION = 1
_PAGE = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    accepted_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER,
    kind TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    status INTEGER,
    failed_at REAL NOT NULL
);
"""


@attrs.frozen
class Entry:
    """
    One pending operation: its place in line, kind, subject and encoded body.
    """

    seq: int
    kind: OperationKind
    subject: str
    body: bytes


@attrs.frozen
class DeadLetter:
    """
    Something that will not be delivered, and why.

    ``kind`` is an :class:`OperationKind` value, or ``"message"`` for a
    Segment message that never became operations (an invalid event).
    ``body`` is its JSON text. ``seq`` is the place in line a rejected
    operation had, so that it can be put back there; ``status`` the HTTP
    status that rejected it, if any. ``id`` and ``failed_at`` are filled by
    the outbox.
    """

    kind: str
    body: str
    reason: str
    subject: str | None = None
    status: int | None = None
    seq: int | None = None
    id: int | None = None
    failed_at: float | None = None


def default_path(settings: Settings) -> Path:
    """
    Where the outbox for ``settings`` lives when no path is given.

    One file per destination (transport, address and account) under
    ``$XDG_STATE_HOME/cio-destination`` (``~/.local/state`` by default). The
    file name carries a digest, never a key.
    """
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    account = settings.write_key or settings.site_id or ""
    identity = f"{settings.transport}\n{settings.base_url}\n{account}"
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return Path(state) / "cio-destination" / f"outbox-{digest}.sqlite3"


class Outbox:
    """
    A FIFO of pending operations and a table of dead letters, in SQLite.

    ``path`` names the database file (created with its folders if missing);
    None or ``":memory:"`` keeps everything in memory for the life of this
    object. In memory, ``dead_letter_limit`` caps the dead letters kept: past
    it, the oldest make way for the newest. A file ignores it and keeps them
    all. An instance may be shared between threads.

    :raises OutboxError: the file cannot be opened or is not an outbox.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        dead_letter_limit: int | None = None,
    ) -> None:
        self.path = MEMORY if path is None or str(path) == MEMORY else str(path)
        self._dead_letter_limit = None if self.durable else dead_letter_limit
        self._lock = threading.RLock()
        self._claim_file: IO[bytes] | None = None
        with self._translate("open"):
            if self.durable:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        try:
            with self._translate("open"):
                self._prepare()
        except OutboxError:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"Outbox({self.path!r})"

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def durable(self) -> bool:
        """
        True when the outbox is a file that outlives the process.
        """
        return self.path != MEMORY

    def _prepare(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _FORMAT_VERSION):
            raise OutboxError(
                f"outbox {self.path} has format version {version}; "
                f"this version of cio-destination reads version {_FORMAT_VERSION}"
            )

        if self.durable:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        self._db.execute(f"PRAGMA user_version={_FORMAT_VERSION}")

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot {action} outbox {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def append(
        self,
        operations: Iterable[tuple[OperationKind, str, bytes]],
        dead_letters: Iterable[DeadLetter] = (),
    ) -> int:
        """
        Add encoded operations at the tail, and dead letters, in one transaction.

        Each operation is ``(kind, subject, body)``. Returns how many of the
        oldest dead letters were dropped to keep within ``dead_letter_limit``.

        :raises OutboxError: the outbox cannot be written.
        """
        now = time.time()
        rows = [
            (kind.value, subject, body.decode("utf-8"), now)
            for kind, subject, body in operations
        ]
        with self._lock, self._translate("write to"), self._write() as db:
            db.executemany(
                "INSERT INTO pending (kind, subject, body, accepted_at)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
            return self._bury(db, dead_letters, now)

    def _bury(
        self, db: sqlite3.Connection, letters: Iterable[DeadLetter], now: float
    ) -> int:
        db.executemany(
            "INSERT INTO dead_letters"
            " (seq, kind, subject, body, reason, status, failed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    letter.seq,
                    letter.kind,
                    letter.subject,
                    letter.body,
                    letter.reason,
                    letter.status,
                    now,
                )
                for letter in letters
            ],
        )
        if self._dead_letter_limit is None:
            return 0

        # Everything older than the newest dead_letter_limit goes.
        cursor = db.execute(
            "DELETE FROM dead_letters WHERE id <= (SELECT id FROM dead_letters"
            " ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (self._dead_letter_limit,),
        )
        return cursor.rowcount

    def head(self, limit: int) -> list[Entry]:
        """
        The first ``limit`` pending operations, oldest first.

        :raises OutboxError: the outbox cannot be read.
        """
        return self._page(after=None, limit=limit)

    def _page(self, *, after: int | None, limit: int) -> list[Entry]:
        with self._lock, self._translate("read"):
            rows = self._db.execute(
                "SELECT seq, kind, subject, body FROM pending"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (-1 if after is None else after, limit),
            ).fetchall()
        return [
            Entry(seq, OperationKind(kind), subject, body.encode("utf-8"))
            for seq, kind, subject, body in rows
        ]

    def settle(
        self,
        delivered: Iterable[Entry] = (),
        rejected: Iterable[tuple[Entry, str, int | None]] = (),
    ) -> int:
        """
        Remove what was delivered and turn what was rejected into dead letters.

        Each rejected item is ``(entry, reason, status)``. Both happen in one
        transaction. Returns how many of the oldest dead letters were dropped
        to keep within ``dead_letter_limit``.

        :raises OutboxError: the outbox cannot be written.
        """
        now = time.time()
        rejected = list(rejected)
        letters = [
            DeadLetter(
                kind=entry.kind.value,
                body=entry.body.decode("utf-8"),
                reason=reason,
                subject=entry.subject,
                status=status,
                seq=entry.seq,
            )
            for entry, reason, status in rejected
        ]
        seqs = [(entry.seq,) for entry in delivered] + [
            (entry.seq,) for entry, _, _ in rejected
        ]
        with self._lock, self._translate("write to"), self._write() as db:
            db.executemany("DELETE FROM pending WHERE seq = ?", seqs)
            return self._bury(db, letters, now)

    def has_pending(self) -> bool:
        """
        True when at least one operation waits.

        :raises OutboxError: the outbox cannot be read.
        """
        with self._lock, self._translate("read"):
            return (
                self._db.execute("SELECT 1 FROM pending LIMIT 1").fetchone() is not None
            )

    def pending_count(self) -> int:
        """
        How many operations wait.

        :raises OutboxError: the outbox cannot be read.
        """
        return self._count("SELECT COUNT(*) FROM pending")

    def pending_bytes(self) -> int:
        """
        How many bytes of encoded operations wait.

        :raises OutboxError: the outbox cannot be read.
        """
        with self._lock, self._translate("read"):
            row = self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0) FROM pending"
            )
            return int(row.fetchone()[0])

    def dead_letter_count(self) -> int:
        """
        How many dead letters are kept.

        :raises OutboxError: the outbox cannot be read.
        """
        return self._count("SELECT COUNT(*) FROM dead_letters")

    def _count(self, query: str) -> int:
        with self._lock, self._translate("read"):
            return int(self._db.execute(query).fetchone()[0])

    def pending(self) -> Iterator[Entry]:
        """
        Every pending operation, oldest first, read a page at a time.

        :raises OutboxError: the outbox cannot be read.
        """
        after: int | None = None
        while page := self._page(after=after, limit=_PAGE):
            yield from page
            after = page[-1].seq

    def dead_letters(self) -> Iterator[DeadLetter]:
        """
        Every dead letter, oldest first, read a page at a time.

        :raises OutboxError: the outbox cannot be read.
        """
        after = 0
        while True:
            with self._lock, self._translate("read"):
                rows = self._db.execute(
                    "SELECT id, seq, kind, subject, body, reason, status, failed_at"
                    " FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?",
                    (after, _PAGE),
                ).fetchall()
            if not rows:
                return

            for id_, seq, kind, subject, body, reason, status, failed_at in rows:
                yield DeadLetter(
                    kind=kind,
                    body=body,
                    reason=reason,
                    subject=subject,
                    status=status,
                    seq=seq,
                    id=id_,
                    failed_at=failed_at,
                )
            after = rows[-1][0]

    def requeue_dead_letters(self) -> int:
        """
        Put rejected operations back in line, where they were, and return how many.

        Only operations that were once pending return (those rejected by
        Customer.io); invalid messages and oversize operations stay dead
        letters, since sending them again cannot succeed.

        :raises OutboxError: the outbox cannot be written.
        """
        now = time.time()
        with self._lock, self._translate("write to"), self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO pending (seq, kind, subject, body, accepted_at)"
                " SELECT seq, kind, COALESCE(subject, ''), body, ? FROM dead_letters"
                " WHERE seq IS NOT NULL AND kind != ?",
                (now, MESSAGE),
            )
            moved = cursor.rowcount
            db.execute(
                "DELETE FROM dead_letters WHERE seq IS NOT NULL AND kind != ?",
                (MESSAGE,),
            )
        return moved

    def purge(
        self, *, pending: bool = False, dead_letters: bool = True
    ) -> tuple[int, int]:
        """
        Delete pending operations and or dead letters; return how many of each.

        :raises OutboxError: the outbox cannot be written.
        """
        with self._lock, self._translate("write to"), self._write() as db:
            removed_pending = (
                db.execute("DELETE FROM pending").rowcount if pending else 0
            )
            removed_dead = (
                db.execute("DELETE FROM dead_letters").rowcount if dead_letters else 0
            )
        return removed_pending, removed_dead

    def claim(self) -> bool:
        """
        Reserve delivery from this outbox to this object; False if another has it.

        The reservation is an advisory lock on ``PATH.lock`` that the
        operating system releases when the process ends, however it ends.
        An in-memory outbox is always free.

        :raises OutboxError: the lock file cannot be opened.
        """
        if not self.durable or self._claim_file is not None:
            return True

        if sys.platform == "win32":  # pragma: no cover - no advisory locks there
            return True

        import fcntl

        try:
            # Held open until release(): the claim lasts as long as the handle.
            handle = open(self.path + ".lock", "a+b")  # noqa: SIM115
        except OSError as exc:
            raise OutboxError(f"cannot lock outbox {self.path}: {exc}") from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False

        self._claim_file = handle
        return True

    def release(self) -> None:
        """
        Give up the delivery reservation, if this object holds it.
        """
        handle, self._claim_file = self._claim_file, None
        if handle is not None:
            handle.close()

    def forsake(self) -> None:
        """
        In a child forked while this outbox was open, let go of its claim.

        Call it in the child only, before any other thread runs there, and
        use the object no more: the child opens an outbox of its own. The
        SQLite connection is left as it is, never closed: SQLite forbids
        using a connection across ``fork()``, and closing it is a use.
        """
        handle, self._claim_file = self._claim_file, None
        if handle is None:
            return

        # The claim is an flock() lock, which belongs to the open file
        # description that fork() shares between parent and child, not to a
        # process (unlike fcntl() record locks, which the child never
        # inherits). Closing the child's descriptor leaves the parent's lock
        # in place: only LOCK_UN, or closing every descriptor of the
        # description, releases it. Kept open, it would hold the lock past
        # the parent's exit, and no process, this child included, could
        # deliver from the file while the child lives.
        handle.close()

    def close(self) -> None:
        """
        Release the reservation and close the database; safe to call twice.
        """
        self.release()
        with self._lock:
            self._db.close()
