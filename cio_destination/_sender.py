"""
The background sender: from the app's queue to the outbox to Customer.io.

The app's thread only appends to a bounded in-memory queue. One daemon
thread per destination does everything else, in steps:

1. take what is queued, turn each message into operations (the
   destination's ``prepare``), encode them, refuse oversize ones, and write
   the operations and any dead letters to the outbox in one transaction;
2. when the outbox's head is due (a full batch, ``flush_interval`` elapsed,
   or a flush or shutdown asked for it) and no retry wait is running, send
   one batch from the head and settle it: delivered operations leave the
   outbox, refused ones become dead letters, a retryable failure leaves the
   batch at the head and sets the next attempt's time;
3. tell waiting :meth:`Sender.flush` callers when nothing is left.

Only the head is ever sent, one batch at a time, so the outbox's order is
the order of delivery.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from cio_destination._batching import (
    MAX_OPERATION_BYTES,
    Backlog,
    encode,
    oversize_reason,
    take_batch,
    to_json_or_repr,
)
from cio_destination._errors import (
    CioDestinationError,
    DeliveryError,
    DeliveryGaveUpError,
    DeliveryRejectedError,
    OutboxError,
)
from cio_destination._model import Operation, OperationKind
from cio_destination._outbox import MESSAGE, DeadLetter, Entry, Outbox
from cio_destination._retry import RetryPolicy, Verdict
from cio_destination._transport import Reply, Transport

logger = logging.getLogger(__name__)

#: Seconds before writing to an outbox that failed is tried again.
_OUTBOX_RETRY = 1.0
#: Fewest seconds between giving up and trying again with a fresh budget.
_MIN_COOLDOWN = 1.0
#: Fewest seconds between attempts to claim an outbox another process holds.
_MIN_CLAIM_WAIT = 0.1
#: Seconds between looks at a durable outbox that this sender holds while
#: it has nothing of its own to send: other processes may be writing to it.
_IDLE_LOOK_INTERVAL = 1.0

Report = Callable[[CioDestinationError, Mapping[str, Any] | None], None]

#: What senders forsaken in a forked child held, kept unclosed while it lives.
_FORSAKEN: list[tuple[Outbox, Transport]] = []


@attrs.frozen
class Counters:
    """
    A snapshot of what a destination has done since it started.

    ``accepted``: messages ``submit()`` took. ``processed``: of those, the
    ones evaluated and written to the outbox. ``operations``: operations
    written to the outbox. ``sent``: operations Customer.io acknowledged.
    ``retried``: requests repeated after a retryable failure.
    ``dead_lettered``: messages and operations kept as dead letters.
    ``invalid``: invalid semantic events seen. ``dropped``: messages refused
    because the queue was full or the destination was shut down, messages
    lost at shutdown before reaching the outbox, operations an in-memory
    outbox had no room for, and the oldest dead letters an in-memory outbox
    let go to keep at most ``max_queue``. ``gave_up``: times the retry budget
    ran out.
    """

    accepted: int = 0
    processed: int = 0
    operations: int = 0
    sent: int = 0
    retried: int = 0
    dead_lettered: int = 0
    invalid: int = 0
    dropped: int = 0
    gave_up: int = 0


class Tally:
    """
    The running counts behind :class:`Counters`, safe to bump from any thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(
            (field.name for field in attrs.fields(Counters)), 0
        )

    def add(self, name: str, count: int = 1) -> None:
        """
        Add ``count`` to the counter ``name``.
        """
        with self._lock:
            self._values[name] += count

    def snapshot(self) -> Counters:
        """
        The counts as they are now.
        """
        with self._lock:
            return Counters(**self._values)


@attrs.frozen
class Prepared:
    """
    What one queued message becomes: operations to send, dead letters to keep.
    """

    operations: Sequence[Operation] = ()
    dead_letters: Sequence[DeadLetter] = ()


@attrs.define
class _Flight:
    """
    A batch on its way, and the answer once it comes.
    """

    batch: Sequence[Entry]
    reply: Reply | None = None


@attrs.define
class _Unwritten:
    rows: list[tuple[OperationKind, str, bytes]]
    letters: list[DeadLetter]
    messages: int
    since: float


class Sender:
    """
    The thread that delivers a destination's messages.

    ``prepare`` turns one queued item into :class:`Prepared` (it runs on the
    sender's thread); ``report`` hands an error and the message it concerns,
    if any, to the user, and must not raise. The sender owns ``outbox`` and
    ``transport`` and closes them when its thread ends.
    """

    def __init__(
        self,
        *,
        outbox: Outbox,
        transport: Transport,
        policy: RetryPolicy,
        prepare: Callable[[Any], Prepared],
        report: Report,
        tally: Tally,
        batch_size: int,
        flush_interval: float,
        max_queue: int,
    ) -> None:
        self._outbox = outbox
        self._transport = transport
        self._policy = policy
        self._prepare = prepare
        self._report = report
        self._tally = tally
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_queue = max_queue

        # Shared with the app's threads, guarded by _lock.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: collections.deque[Any] = collections.deque()
        self._queued_since = 0.0
        self._flush_asked = 0
        self._flush_done = 0
        self._flush_failed = 0
        self._stopping = False
        self._stop_deadline = math.inf
        self._finished = False
        self._drained = False

        # The sender thread's own state.
        self._backlog = Backlog(max_count=batch_size, interval=flush_interval)
        self._unwritten: _Unwritten | None = None
        self._flight: _Flight | None = None
        self._unwritten_retry_at = 0.0
        self._claimed = False
        self._claim_again_at = 0.0
        self._look_again_at = math.inf
        self._attempt = 0
        self._failing_since: float | None = None
        self._retry_at: float | None = None
        self._stalled_at_ticket: int | None = None
        self._narrow: int | None = None
        self._narrow_until = 0
        self._letters_lost = False
        self._thread = threading.Thread(
            target=self._run, name="cio-destination-sender", daemon=True
        )

    def start(self) -> None:
        """
        Start the thread.
        """
        self._thread.start()

    def forsake(self) -> None:
        """
        Let go of this sender in a child process forked while it ran.

        Call it in the child only, before any other thread runs there, and
        use the sender no more. Its thread did not survive the fork, and what
        it queued is the parent's, which delivers it: the child's copy is
        dropped. The outbox lets go of its claim; it and the transport are
        otherwise left as they are for as long as the child lives, since
        closing them could wait on locks that a thread of the parent held at
        the fork, or touch the parent's SQLite connection or sockets.
        """
        self._queue.clear()
        self._unwritten = None
        self._outbox.forsake()
        _FORSAKEN.append((self._outbox, self._transport))

    # The app's side.

    def put(self, item: Any) -> bool:
        """
        Queue ``item`` for the thread; False when the queue is full or closed.

        Never blocks beyond taking a lock.
        """
        with self._lock:
            size = len(self._queue)
            if self._stopping or self._finished or size >= self._max_queue:
                return False

            self._queue.append(item)
            self._tally.add("accepted")
            if size == 0:
                self._queued_since = time.monotonic()
                self._wake.notify()
            elif size + 1 == self._batch_size:
                self._wake.notify()
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """
        Wait until everything queued so far is delivered or dead-lettered.

        Returns False when ``timeout`` seconds pass first, when the retry
        budget runs out while waiting, when the thread has ended with
        operations left, or at once when called from the thread itself (from
        a callback), which cannot wait for its own work.
        """
        if threading.current_thread() is self._thread:
            return False

        deadline = math.inf if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._finished:
                return self._drained

            self._flush_asked += 1
            ticket = self._flush_asked
            self._wake.notify()
            while self._flush_done < ticket:
                if self._flush_failed >= ticket or self._finished:
                    return self._flush_done >= ticket

                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False

                self._settled.wait(None if remaining == math.inf else remaining)
        return True

    def stop(self, timeout: float | None = None) -> bool:
        """
        Drain what can be drained within ``timeout`` seconds, then end the thread.

        Returns True when the thread has ended. Safe to call more than once.
        """
        with self._lock:
            if not self._stopping:
                self._stopping = True
                if timeout is not None:
                    self._stop_deadline = time.monotonic() + timeout
                self._wake.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(None if timeout is None else timeout + 1.0)
        return not self._thread.is_alive()

    # The sender thread.

    def _run(self) -> None:
        try:
            self._start_up()
            while self._step():
                pass
        except Exception:  # the thread must end cleanly and say why
            logger.exception("the Customer.io sender stopped on an unexpected error")
        finally:
            self._finish()

    def _start_up(self) -> None:
        try:
            self._try_claim()
            if self._outbox.has_pending():
                count = self._outbox.pending_count()
                self._backlog.add(count, self._outbox.pending_bytes(), at=-math.inf)
                logger.info(
                    "resuming delivery of %d operations left in the outbox", count
                )
        except OutboxError as exc:
            self._report(exc, None)

    def _step(self) -> bool:
        items, since = self._wait()
        now = time.monotonic()
        try:
            if items or self._unwritten is not None:
                self._ingest(items, since, now)
            landed = self._landed()
            if landed is not None:
                self._land(*landed)
            if self._flight is None:
                claimed = self._claimed or self._try_claim()
                if claimed and self._delivery_due(now):
                    self._launch()
            has_pending = self._flight is not None or self._outbox.has_pending()
            if self._outbox.durable:
                self._look_again_at = now + _IDLE_LOOK_INTERVAL
        except OutboxError as exc:
            logger.error("the outbox cannot be used: %s", exc)
            self._report(exc, None)
            self._retry_at = time.monotonic() + _OUTBOX_RETRY
            has_pending = True
        return self._review(has_pending)

    def _wait(self) -> tuple[list[Any], float]:
        with self._lock:
            while True:
                now = time.monotonic()
                deadline = self._next_step_at(now)
                if deadline <= now:
                    break

                self._wake.wait(None if deadline == math.inf else deadline - now)

            if self._unwritten is not None:
                return [], self._queued_since

            # A batch's worth at a time: about what one request carries, so
            # evaluating keeps pace with sending while a request is out.
            taken = [
                self._queue.popleft()
                for _ in range(min(len(self._queue), self._batch_size))
            ]
            return taken, self._queued_since

    def _next_step_at(self, now: float) -> float:
        if self._flight is not None:
            # While a request is out, keep evaluating what is queued.
            return -math.inf if self._flight.reply is not None else self._queue_due()

        if self._urgent() and self._nothing_left():
            return -math.inf

        if self._stopping and self._retries_outlast_stop():
            return -math.inf

        deadline = min(self._queue_due(), self._delivery_due_at(now))
        if self._stopping:
            deadline = min(deadline, self._stop_deadline)
        return deadline

    def _urgent(self) -> bool:
        return self._stopping or self._flush_done < self._flush_asked

    def _retries_outlast_stop(self) -> bool:
        if self._stalled_at_ticket is not None:
            return True

        return self._retry_at is not None and self._retry_at > self._stop_deadline

    def _nothing_left(self) -> bool:
        return (
            not self._queue
            and self._unwritten is None
            and self._flight is None
            and self._backlog.count == 0
        )

    def _queue_due(self) -> float:
        if self._unwritten is not None:
            return self._unwritten_retry_at

        if not self._queue:
            return math.inf

        if self._urgent() or len(self._queue) >= self._batch_size:
            return -math.inf

        return self._queued_since + self._interval

    def _delivery_due_at(self, now: float) -> float:
        if self._backlog.count == 0:
            return self._look_again_at if self._claimed else math.inf

        if not self._claimed:
            return self._claim_again_at

        if self._retry_at is not None:
            fresh_flush = (
                self._stalled_at_ticket is not None
                and self._flush_asked > self._stalled_at_ticket
            )
            return -math.inf if fresh_flush else self._retry_at

        if self._urgent():
            return -math.inf

        due = self._backlog.due_at()
        return math.inf if due is None else due

    def _delivery_due(self, now: float) -> bool:
        with self._lock:
            return self._delivery_due_at(now) <= now

    def _try_claim(self) -> bool:
        self._claimed = self._outbox.claim()
        if not self._claimed:
            wait = max(self._interval, _MIN_CLAIM_WAIT)
            self._claim_again_at = time.monotonic() + wait
            logger.debug("another process is delivering from %s", self._outbox.path)
        return self._claimed

    def _ingest(self, items: list[Any], since: float, now: float) -> None:
        if self._unwritten is None:
            self._unwritten = self._encode(items, since)
            self._bound_memory(self._unwritten)
        elif now < self._unwritten_retry_at:
            return

        batch = self._unwritten
        try:
            lost_letters = self._outbox.append(batch.rows, batch.letters)
        except OutboxError:
            self._unwritten_retry_at = now + _OUTBOX_RETRY
            raise

        self._unwritten = None
        size = sum(len(body) for _, _, body in batch.rows)
        self._backlog.add(len(batch.rows), size, at=batch.since)
        self._tally.add("processed", batch.messages)
        self._tally.add("operations", len(batch.rows))
        self._tally.add("dead_lettered", len(batch.letters))
        self._count_lost_letters(lost_letters)

    def _bound_memory(self, batch: _Unwritten) -> None:
        room = self._max_queue - self._backlog.count
        if self._outbox.durable or len(batch.rows) <= room:
            return

        dropped = len(batch.rows) - max(room, 0)
        del batch.rows[max(room, 0) :]
        self._tally.add("dropped", dropped)
        logger.warning(
            "the in-memory outbox is full (%d operations wait); %d dropped",
            self._backlog.count,
            dropped,
        )
        error = DeliveryError(
            f"the in-memory outbox is full ({self._backlog.count} operations wait, "
            f"max_queue={self._max_queue}); {dropped} operations were dropped"
        )
        self._report(error, None)

    def _count_lost_letters(self, count: int) -> None:
        # Only an in-memory outbox drops dead letters, to stay bounded.
        if not count:
            return

        self._tally.add("dropped", count)
        if not self._letters_lost:
            self._letters_lost = True
            logger.warning(
                "the in-memory outbox keeps only the newest %d dead letters; "
                "older ones are dropped from now on",
                self._max_queue,
            )

    def _encode(self, items: list[Any], since: float) -> _Unwritten:
        rows: list[tuple[OperationKind, str, bytes]] = []
        letters: list[DeadLetter] = []
        for item in items:
            try:
                prepared = self._prepare(item)
            except Exception as exc:  # one message must not stop delivery
                logger.exception("cannot evaluate a message; kept as a dead letter")
                letters.append(self._letter_for_bug(item, exc))
                continue

            letters.extend(prepared.dead_letters)
            for operation in prepared.operations:
                encoded = self._encode_operation(operation)
                if isinstance(encoded, DeadLetter):
                    letters.append(encoded)
                else:
                    rows.append((operation.kind, operation.subject, encoded))
        return _Unwritten(rows, letters, len(items), since)

    def _encode_operation(self, operation: Operation) -> bytes | DeadLetter:
        try:
            body = encode(operation)
        except (TypeError, ValueError) as exc:
            return DeadLetter(
                kind=operation.kind.value,
                body=to_json_or_repr(operation.body),
                reason=f"operation body cannot be encoded as JSON: {exc}",
                subject=operation.subject,
            )

        oversize = oversize_reason(len(body))
        if oversize is None:
            return body

        logger.warning(
            "an operation of %d bytes exceeds Customer.io's %d; kept as a dead letter",
            len(body),
            MAX_OPERATION_BYTES,
        )
        self._report(DeliveryRejectedError(oversize), None)
        return DeadLetter(
            kind=operation.kind.value,
            body=body.decode("utf-8"),
            reason=oversize,
            subject=operation.subject,
        )

    @staticmethod
    def _letter_for_bug(item: Any, exc: Exception) -> DeadLetter:
        reason = f"internal error while evaluating the message: {type(exc).__name__}"
        return DeadLetter(kind=MESSAGE, body=to_json_or_repr(item), reason=reason)

    def _batch_limit(self, head: Entry) -> int:
        if self._narrow is not None and head.seq <= self._narrow_until:
            return self._narrow

        self._narrow = None
        return self._batch_size

    def _launch(self) -> None:
        entries = self._outbox.head(self._batch_size)
        if not entries:
            self._backlog.clear()
            return

        if len(entries[0].body) > MAX_OPERATION_BYTES:
            reason = oversize_reason(len(entries[0].body))
            self._settle_rejected(entries[:1], reason, None)
            return

        flight = _Flight(take_batch(entries, max_count=self._batch_limit(entries[0])))
        self._flight = flight
        courier = threading.Thread(
            target=self._fly,
            args=(flight,),
            name="cio-destination-request",
            daemon=True,
        )
        courier.start()

    def _fly(self, flight: _Flight) -> None:
        kind = flight.batch[0].kind
        try:
            reply = self._transport.post(kind, [entry.body for entry in flight.batch])
        except Exception as exc:  # the batch must come back whatever happens
            logger.exception("the request to Customer.io failed unexpectedly")
            reply = Reply(None, f"request failed: {type(exc).__name__}")
        with self._lock:
            flight.reply = reply
            self._wake.notify()

    def _landed(self) -> tuple[Sequence[Entry], Reply] | None:
        with self._lock:
            flight = self._flight
            if flight is None or flight.reply is None:
                return None

            self._flight = None
            return flight.batch, flight.reply

    def _land(self, batch: Sequence[Entry], reply: Reply) -> None:
        if reply.ok:
            self._settle_delivered(batch, reply)
        else:
            self._settle_failed(batch, reply)

    def _reset_retries(self) -> None:
        self._attempt = 0
        self._failing_since = None
        self._retry_at = None
        self._stalled_at_ticket = None

    def _settle_delivered(self, batch: Sequence[Entry], reply: Reply) -> None:
        refused = reply.rejected
        rejected = [
            (batch[index], reason, reply.status) for index, reason in refused.items()
        ]
        delivered = [entry for index, entry in enumerate(batch) if index not in refused]
        self._count_lost_letters(self._outbox.settle(delivered, rejected))
        self._backlog.remove(len(batch), sum(len(entry.body) for entry in batch))
        self._reset_retries()
        self._tally.add("sent", len(delivered))
        self._tally.add("dead_lettered", len(rejected))
        logger.info(
            "delivered %d operations to %s (HTTP %s)",
            len(delivered),
            self._transport.url(batch[0].kind),
            reply.status,
        )
        if reply.unattributed:
            self._report_unattributed(batch, reply)
        if not rejected:
            return

        logger.warning(
            "Customer.io refused %d of %d operations (HTTP 207); kept as dead letters",
            len(rejected),
            len(batch),
        )
        for entry, reason, _ in rejected:
            error = DeliveryRejectedError(
                f"Customer.io refused operation {entry.seq} ({entry.kind.value}) "
                f"with HTTP 207: {reason}",
                status=207,
            )
            self._report(error, None)

    def _report_unattributed(self, batch: Sequence[Entry], reply: Reply) -> None:
        # Customer.io refused something without naming the item: the batch
        # counts as delivered, but the refusal must not pass unnoticed.
        logger.warning(
            "Customer.io refused %d items of a batch of %d operations "
            "(HTTP 207) without naming them",
            len(reply.unattributed),
            len(batch),
        )
        error = DeliveryRejectedError(
            f"Customer.io refused items of a batch of operations {batch[0].seq} to "
            f"{batch[-1].seq} ({batch[0].kind.value}) with HTTP 207 without naming "
            f"them: {'; '.join(reply.unattributed)}",
            status=207,
        )
        self._report(error, None)

    def _settle_failed(self, batch: Sequence[Entry], reply: Reply) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        decision = self._policy.decide(
            reply.status,
            attempt=self._attempt + 1,
            elapsed=now - self._failing_since,
            retry_after=reply.retry_after,
        )
        if decision.verdict is Verdict.RETRY:
            self._attempt += 1
            self._retry_at = now + decision.delay
            self._stalled_at_ticket = None
            self._tally.add("retried")
            logger.debug(
                "retry %d of %d operations in %.3fs after %s",
                self._attempt,
                len(batch),
                decision.delay,
                reply.detail,
            )
        elif decision.verdict is Verdict.REJECT:
            self._reject(batch, reply)
        else:
            self._give_up(batch, reply, now)

    def _reject(self, batch: Sequence[Entry], reply: Reply) -> None:
        if len(batch) > 1 and reply.status != 401:
            # Customer.io refused the whole request: find the operation to
            # blame by halving the batch until it is alone.
            self._narrow = max(len(batch) // 2, 1)
            self._narrow_until = batch[-1].seq
            logger.debug("narrowing batches to %d after %s", self._narrow, reply.detail)
            return

        self._settle_rejected(batch, reply.detail, reply.status)
        self._report(DeliveryRejectedError(reply.detail, status=reply.status), None)

    def _settle_rejected(
        self, batch: Sequence[Entry], reason: str | None, status: int | None
    ) -> None:
        text = reason or "refused"
        rejected = [(entry, text, status) for entry in batch]
        self._count_lost_letters(self._outbox.settle(rejected=rejected))
        self._backlog.remove(len(batch), sum(len(entry.body) for entry in batch))
        self._reset_retries()
        self._tally.add("dead_lettered", len(batch))
        logger.warning(
            "Customer.io refused %d operations (HTTP %s); kept as dead letters",
            len(batch),
            status,
        )

    def _give_up(self, batch: Sequence[Entry], reply: Reply, now: float) -> None:
        spent = now - (self._failing_since or now)
        message = (
            f"gave up delivering {len(batch)} operations after {spent:.1f}s and "
            f"{self._attempt} retries; last: {reply.detail}; they stay in the outbox"
        )
        logger.warning(
            "gave up delivering %d operations after %.1fs and %d retries; "
            "they stay in the outbox",
            len(batch),
            spent,
            self._attempt,
        )
        self._tally.add("gave_up")
        self._attempt = 0
        self._failing_since = None
        self._retry_at = now + max(self._policy.max_delay, _MIN_COOLDOWN)
        with self._lock:
            self._stalled_at_ticket = self._flush_asked
            self._flush_failed = self._flush_asked
            self._settled.notify_all()
        self._report(DeliveryGaveUpError(message), None)

    def _review(self, has_pending: bool) -> bool:
        if not has_pending:
            self._backlog.clear()
        elif self._backlog.count == 0:
            # Another process appended to the outbox.
            self._backlog.add(1, 0, at=time.monotonic())

        now = time.monotonic()
        with self._lock:
            written = not self._queue and self._unwritten is None
            idle = written and not has_pending
            if idle and self._flush_done < self._flush_asked:
                self._flush_done = self._flush_asked
                self._settled.notify_all()
            if not self._stopping or self._flight is not None:
                return True

            # Unclaimed, what is pending is the claiming process's to deliver:
            # once this sender's messages are in the outbox, it is done.
            done = idle or (written and not self._claimed)
            return not (
                done or now >= self._stop_deadline or self._retries_outlast_stop()
            )

    def _finish(self) -> None:
        with self._lock:
            lost = len(self._queue) + (
                self._unwritten.messages if self._unwritten else 0
            )
            self._queue.clear()
        if lost:
            self._tally.add("dropped", lost)
            logger.warning(
                "%d accepted messages were not written to the outbox before shutdown",
                lost,
            )

        pending = 0
        try:
            pending = self._outbox.pending_count()
        except OutboxError as exc:
            logger.error("the outbox cannot be read at shutdown: %s", exc)
            pending = -1
        if pending > 0 and self._outbox.durable:
            logger.warning(
                "%d operations wait in %s for the next start or "
                "`cio-destination outbox replay`",
                pending,
                self._outbox.path,
            )
        elif pending > 0:
            logger.warning(
                "%d operations were not delivered; the in-memory outbox loses them",
                pending,
            )

        self._transport.close()
        self._outbox.close()
        with self._lock:
            self._drained = lost == 0 and pending == 0
            self._finished = True
            self._settled.notify_all()
