"""
The Customer.io destination: what the pipeline hands each message to.

:class:`CustomerIODestination` takes Segment messages on the app's thread
and delivers what they stand for from a background thread, through the
durable outbox, in order, with retries. Only strict mode
(``on_invalid="raise"``) does any work on the app's thread.

A destination survives ``os.fork()`` (a server that loads the app before
forking its workers, ``multiprocessing`` with the fork start method): the
child lets go of what it inherited and, on its first use, starts afresh
with an outbox connection, a transport and a sender thread of its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import attrs

from cio_destination._batching import to_json_or_repr
from cio_destination._core import evaluate
from cio_destination._errors import (
    CioDestinationError,
    ConfigurationError,
    DeliveryError,
    InvalidEventError,
    OutboxError,
)
from cio_destination._model import Evaluation
from cio_destination._outbox import MESSAGE, DeadLetter, Outbox, default_path
from cio_destination._retry import RetryPolicy
from cio_destination._sender import Counters, Prepared, Sender, Tally
from cio_destination._settings import ENVIRONMENT, Settings
from cio_destination._translate import to_pipelines
from cio_destination._transport import Transport

logger = logging.getLogger(__name__)

#: Seconds the interpreter's exit waits for the sender to drain.
ATEXIT_TIMEOUT = 5.0
_WARNINGS_REMEMBERED = 256
_DROP_LOG_EVERY = 1000

OnError = Callable[[CioDestinationError, Mapping[str, Any] | None], None]

#: Every destination not yet collected, for the hook that runs after a fork.
_DESTINATIONS: weakref.WeakSet[CustomerIODestination] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for destination in list(_DESTINATIONS):
        destination._forked()


if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _check_credentials(settings: Settings) -> None:
    if settings.write_key:
        return

    missing = [name for name in ("site_id", "api_key") if not getattr(settings, name)]
    if len(missing) == 1:
        name = missing[0]
        raise ConfigurationError(
            f"{name} is missing ({ENVIRONMENT[name]}): the Track API needs both "
            "site_id and api_key"
        )

    if missing and not settings.endpoint:
        raise ConfigurationError(
            "no Customer.io credentials: set site_id and api_key "
            "(CUSTOMERIO_SITE_ID, CUSTOMERIO_API_KEY) for the Track API, or "
            "write_key (CUSTOMERIO_WRITE_KEY) for the Pipelines API"
        )


def _settings(settings: Settings | None, options: Mapping[str, Any]) -> Settings:
    if settings is None:
        return Settings.from_env(**options)

    known = {field.name for field in attrs.fields(Settings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )

    return attrs.evolve(settings, **options)


class CustomerIODestination:
    """
    Delivers Customer.io semantic events from Segment messages.

    Give ``settings``, or keyword options that :meth:`Settings.from_env`
    completes from the ``CUSTOMERIO_*`` environment variables (options given
    beside ``settings`` replace its fields). ``retry`` replaces the default
    :class:`RetryPolicy`. ``on_error`` is called, from whichever thread
    notices, with each error and the message it concerns (None when it
    concerns operations rather than one message): invalid events, refused
    operations, a full queue, a spent retry budget, an outbox that cannot be
    written. It should return quickly and must not block.

    A background thread starts at once. Call :meth:`shutdown` when done; an
    ``atexit`` hook does so, waiting up to :data:`ATEXIT_TIMEOUT` seconds,
    for destinations still running when the interpreter exits. In a process
    forked from the one that made it, the destination starts afresh on its
    first :meth:`submit` or :meth:`flush`, with a new outbox connection (to
    the same file, or a new empty one in memory), new counters and a new
    thread; what the parent had queued stays the parent's to deliver.

    :raises ConfigurationError: settings that cannot work, such as no
        credentials and no endpoint, or an unknown option.
    :raises OutboxError: the outbox file cannot be opened.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        retry: RetryPolicy | None = None,
        on_error: OnError | None = None,
        **options: Any,
    ) -> None:
        self.settings = _settings(settings, options)
        _check_credentials(self.settings)
        self._on_error = on_error
        self._strict = self.settings.on_invalid == "raise"
        self._transport_name = self.settings.transport
        self._policy = retry or RetryPolicy()
        self._tally = Tally()
        self._warned: set[str] = set()
        self._closed = False
        # None only in a forked child that has not started afresh yet.
        self._sender: Sender | None = self._start_sender()
        self._restart_lock = threading.Lock()
        atexit.register(self._at_exit)
        _DESTINATIONS.add(self)

    def _start_sender(self) -> Sender:
        path = self.settings.outbox or str(default_path(self.settings))
        transport = Transport(self.settings, timeout=self.settings.timeout)
        try:
            outbox = Outbox(path, dead_letter_limit=self.settings.max_queue)
        except OutboxError:
            transport.close()
            raise

        sender = Sender(
            outbox=outbox,
            transport=transport,
            policy=self._policy,
            prepare=self._prepare,
            report=self._report,
            tally=self._tally,
            batch_size=self.settings.batch_size,
            flush_interval=self.settings.flush_interval,
            max_queue=self.settings.max_queue,
        )
        sender.start()
        logger.debug("delivering to %s through outbox %s", self.settings.base_url, path)
        return sender

    def __repr__(self) -> str:
        return f"CustomerIODestination({self.settings!r})"

    def __enter__(self) -> CustomerIODestination:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    @property
    def counters(self) -> Counters:
        """
        What this destination has done so far, as a frozen snapshot.
        """
        return self._tally.snapshot()

    def submit(self, message: Mapping[str, Any]) -> None:
        """
        Accept one Segment message for delivery.

        Queues a shallow copy for the sender thread and returns: it never
        blocks beyond taking a lock and never raises, except in strict mode.
        A message that is not a ``track`` call is ignored at once. A full
        queue drops the message and reports it. The first call in a forked
        child also starts the destination afresh there.

        :raises InvalidEventError: only with ``on_invalid="raise"``, when the
            message is an invalid semantic event; nothing is queued then.
        """
        if self._strict:
            self._submit_strict(message)
            return

        given: object = message
        if not isinstance(given, Mapping):
            self._enqueue(given)
            return

        kind = message.get("type")
        if kind is not None and kind != "track":
            return

        self._enqueue(dict(message))

    def _submit_strict(self, message: Mapping[str, Any]) -> None:
        evaluation = evaluate(message, transport=self._transport_name, strict=True)
        self._log_warnings(evaluation.warnings)
        if not evaluation.valid:
            self._tally.add("invalid")
            raise InvalidEventError(evaluation.semantic, evaluation.errors)

        if evaluation.operations:
            self._enqueue(evaluation)

    def _enqueue(self, item: Any) -> None:
        sender = self._sender or self._restarted()
        if sender is not None and sender.put(item):
            return

        self._tally.add("dropped")
        dropped = self._tally.snapshot().dropped
        if self._closed:
            reason = "is shut down"
        elif sender is None:
            reason = "cannot open its outbox"
        else:
            reason = "has a full queue"
        if dropped % _DROP_LOG_EVERY == 1:
            logger.warning(
                "the Customer.io destination %s; message dropped (%d so far)",
                reason,
                dropped,
            )
        error = DeliveryError(
            f"the Customer.io destination {reason} "
            f"(max_queue={self.settings.max_queue}); the message was dropped"
        )
        self._report(error, item if isinstance(item, Mapping) else None)

    def flush(self, timeout: float | None = None) -> bool:
        """
        Wait until everything accepted so far is delivered or dead-lettered.

        Returns True when it is; False when ``timeout`` seconds pass first,
        when the retry budget runs out while waiting (the operations stay in
        the outbox), or after :meth:`shutdown` left operations undelivered.
        """
        sender = self._sender or self._restarted()
        if sender is None:
            return self._closed

        return sender.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """
        Deliver what can be delivered within ``timeout`` seconds, then stop.

        Messages arriving afterwards are dropped and reported. What was not
        delivered stays in a durable outbox for the next start or ``outbox
        replay``. Safe to call more than once.
        """
        with self._restart_lock:
            if not self._closed:
                self._closed = True
                atexit.unregister(self._at_exit)
            sender = self._sender
        if sender is None:
            # A forked child that never used the destination: nothing of its
            # own to deliver, so nothing to start.
            return

        if not sender.stop(timeout):
            logger.warning("the Customer.io sender thread did not stop in time")

    def _at_exit(self) -> None:
        self.shutdown(ATEXIT_TIMEOUT)

    # In a forked child.

    def _forked(self) -> None:
        # Right after fork(), on the child's only thread: any lock a thread of
        # the parent held is held for good here, so nothing inherited that
        # has one is used again. The restart itself waits for the first use.
        self._restart_lock = threading.Lock()
        self._tally = Tally()
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.forsake()

    def _restarted(self) -> Sender | None:
        with self._restart_lock:
            if self._sender is not None or self._closed:
                return self._sender

            try:
                self._sender = self._start_sender()
            except OutboxError as exc:
                failure = exc
            else:
                logger.info(
                    "the Customer.io destination starts afresh in forked process %d",
                    os.getpid(),
                )
                return self._sender

        # Reported outside the lock: the callback may well call shutdown().
        logger.error("the outbox cannot be opened after a fork: %s", failure)
        self._report(failure, None)
        return None

    # On the sender thread.

    def _prepare(self, item: Any) -> Prepared:
        if isinstance(item, Evaluation):
            return Prepared(item.operations)

        evaluation = evaluate(item, transport=self._transport_name)
        self._log_warnings(evaluation.warnings)
        if evaluation.valid:
            return Prepared(evaluation.operations)

        return self._invalid(item, evaluation)

    def _invalid(self, item: Any, evaluation: Evaluation) -> Prepared:
        self._tally.add("invalid")
        error = InvalidEventError(evaluation.semantic, evaluation.errors)
        logger.warning(
            "invalid %s message (%s)",
            evaluation.semantic or "Segment",
            ", ".join(f"{v.path or 'message'}: {v.rule}" for v in evaluation.errors),
        )
        message = item if isinstance(item, Mapping) else None
        self._report(error, message)

        on_invalid = self.settings.on_invalid
        if on_invalid == "pass" and self._transport_name == "pipelines" and message:
            return Prepared([to_pipelines(evaluation.message or message)])

        violations = "; ".join(violation.message for violation in evaluation.errors)
        reason = f"invalid {evaluation.semantic or 'message'}: {violations}"
        if on_invalid == "pass":
            reason = (
                f"{reason}; not sent: on_invalid='pass' sends invalid events only "
                "through the Pipelines API, and the Track API cannot carry an "
                "event that does not translate"
            )
        return Prepared(
            dead_letters=[
                DeadLetter(kind=MESSAGE, body=to_json_or_repr(item), reason=reason)
            ]
        )

    def _log_warnings(self, warnings: tuple[str, ...]) -> None:
        for warning in warnings:
            if warning in self._warned:
                continue

            if len(self._warned) < _WARNINGS_REMEMBERED:
                self._warned.add(warning)
            logger.warning("%s", warning)

    def _report(
        self, error: CioDestinationError, message: Mapping[str, Any] | None
    ) -> None:
        if self._on_error is None:
            return

        try:
            self._on_error(error, message)
        except Exception:  # a failing callback must not reach the app or the sender
            logger.exception("the on_error callback raised")
