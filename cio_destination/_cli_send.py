"""
``cio-destination send``: deliver a file of recorded Segment messages.

Input is read as ``check`` reads it (JSON lines, a JSON array, or a batch
body ``{"batch": [...]}``) and goes through the same destination the library
uses: outbox, batches, retries. Without credentials or an endpoint the
messages go to an in-process emulator, whose workspace is printed. Exit 0
when everything was delivered, 1 when anything was not (invalid, refused,
or still waiting in the outbox), 2 when the input or the settings cannot be
used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from cio_destination._cli_check import parse, read_input
from cio_destination._destination import CustomerIODestination
from cio_destination._errors import CioDestinationError
from cio_destination._outbox import Outbox, default_path
from cio_destination._retry import RetryPolicy
from cio_destination._sender import Counters
from cio_destination._settings import REGIONS, Settings

if TYPE_CHECKING:
    from cio_destination.emulator import Emulator

EXIT_DELIVERED = 0
EXIT_UNDELIVERED = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130

#: Inputs with at least this many messages get a progress bar on a terminal.
PROGRESS_FROM = 200
#: The retry budget of the command line, in seconds, unless given.
GIVE_UP_AFTER = 60.0
_SHUTDOWN_TIMEOUT = 5.0
#: Seconds between looks at the sender's queue while it is full.
_ROOM_POLL = 0.002
_BAR_WIDTH = 24
_LETTERS_SHOWN = 10


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """
    Add the ``send`` subcommand.
    """
    parser = subparsers.add_parser(
        "send",
        help="deliver recorded Segment messages to Customer.io",
        description=(
            "Deliver Segment messages (JSON lines, a JSON array, or a batch body "
            '{"batch": [...]}) to Customer.io through the outbox, in order, with '
            "retries. Without credentials or an endpoint, deliver to an in-process "
            "emulator and print its workspace. Exit 0 when everything was "
            "delivered, 1 when anything was not, 2 when the input or the settings "
            "cannot be used."
        ),
    )
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="the messages to send; - (the default) reads standard input",
    )
    add_delivery_arguments(parser)
    parser.add_argument(
        "--on-invalid",
        choices=("drop", "pass"),
        default=None,
        help=(
            "drop (the default) keeps invalid events as dead letters; pass sends "
            "them anyway (Pipelines API only)"
        ),
    )
    parser.set_defaults(handler=run)


def add_delivery_arguments(
    parser: argparse.ArgumentParser, *, outbox: bool = True
) -> None:
    """
    Add the credential, address and retry options ``send`` and ``outbox`` share.

    ``outbox`` adds ``--outbox PATH``, for commands that do not take the
    path as an argument.
    """
    group = parser.add_argument_group(
        "delivery",
        "Options left out are read from CUSTOMERIO_SITE_ID, CUSTOMERIO_API_KEY, "
        "CUSTOMERIO_WRITE_KEY, CUSTOMERIO_REGION, CUSTOMERIO_ENDPOINT and "
        "CUSTOMERIO_OUTBOX.",
    )
    group.add_argument("--site-id", metavar="S", help="Track API site id")
    group.add_argument("--api-key", metavar="K", help="Track API key")
    group.add_argument(
        "--write-key", metavar="W", help="Pipelines API write key (instead of the two)"
    )
    group.add_argument(
        "--region",
        choices=REGIONS,
        default=None,
        help="Customer.io region (default us)",
    )
    group.add_argument(
        "--endpoint", metavar="URL", help="a base URL that replaces Customer.io's host"
    )
    if outbox:
        group.add_argument(
            "--outbox",
            metavar="PATH",
            help="the outbox file (default: one per destination under ~/.local/state)",
        )
    group.add_argument(
        "--give-up-after",
        type=float,
        default=GIVE_UP_AFTER,
        metavar="SECONDS",
        help=f"stop retrying after this long (default {GIVE_UP_AFTER:g})",
    )


def settings_from(args: argparse.Namespace, **options: Any) -> Settings:
    """
    Settings from the delivery options in ``args``, the environment filling gaps.

    :raises ConfigurationError: a bad value.
    """
    return Settings.from_env(
        site_id=args.site_id,
        api_key=args.api_key,
        write_key=args.write_key,
        region=args.region,
        endpoint=args.endpoint,
        **options,
    )


def retry_from(args: argparse.Namespace) -> RetryPolicy:
    """
    The retry policy the delivery options in ``args`` ask for.

    :raises ConfigurationError: a negative ``--give-up-after``.
    """
    return RetryPolicy(give_up_after=args.give_up_after)


def run(args: argparse.Namespace) -> int:
    """
    Send the messages named by ``args`` and return the exit status.
    """
    try:
        text = read_input(args.file)
        settings = settings_from(args, outbox=args.outbox, on_invalid=args.on_invalid)
        policy = retry_from(args)
    except CioDestinationError as exc:
        print(f"cio-destination send: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    # Messages are parsed as they are submitted, so that parsing overlaps
    # with the sender's requests instead of preceding them.
    reading = _Reading(text)
    with contextlib.ExitStack() as stack:
        settings, emulator = _with_emulator(settings, stack)
        try:
            delivery = deliver(settings, policy, reading)
        except CioDestinationError as exc:
            print(f"cio-destination send: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE

        if emulator is not None:
            print("Workspace of the in-process emulator after the run:")
            print(json.dumps(emulator.state(), indent=2, sort_keys=True))
        print_summary(delivery, reading.messages)

    if delivery.interrupted:
        return EXIT_INTERRUPTED

    complete = delivery.complete and not reading.unreadable
    return EXIT_DELIVERED if complete else EXIT_UNDELIVERED


class _Reading:
    """
    The messages of an input, parsed one at a time, with what could not be read.

    Each unreadable entry is reported on standard error as it is met.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self.messages = 0
        self.unreadable = 0

    def __iter__(self) -> Iterator[Any]:
        for entry in parse(self._text):
            if entry.problem is not None:
                self.unreadable += 1
                print(f"cio-destination send: {entry.problem}", file=sys.stderr)
                continue

            self.messages += 1
            yield entry.message


@attrs.frozen
class Delivery:
    """
    How a run of the command line ended.
    """

    settings: Settings
    outbox: str
    counters: Counters
    pending: int
    letters: tuple[str, ...]
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """
        True when every message was delivered: nothing invalid, refused or left.
        """
        counters = self.counters
        return not (
            self.pending
            or counters.dead_lettered
            or counters.invalid
            or counters.dropped
        )


def deliver(
    settings: Settings,
    policy: RetryPolicy,
    messages: Iterable[Any],
) -> Delivery:
    """
    Submit ``messages`` (none for a replay), wait for delivery, shut down.

    Submitting waits while ``settings.max_queue`` messages are still to be
    written to the outbox, so that a long input is never dropped for a full
    queue.

    :raises CioDestinationError: the destination cannot be set up, or the
        input turns out to be unusable.
    """
    started = time.time()
    destination = CustomerIODestination(settings, retry=policy)
    interrupted = False
    submitted = 0
    try:
        for message in messages:
            _wait_for_room(destination, settings.max_queue)
            destination.submit(message)
            submitted += 1
        _wait(destination, submitted)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted; stopping", file=sys.stderr)
    finally:
        destination.shutdown(_SHUTDOWN_TIMEOUT)

    path = settings.outbox or str(default_path(settings))
    with Outbox(path) as outbox:
        pending = outbox.pending_count()
        letters = tuple(
            f"{letter.subject or letter.kind}: {letter.reason}"
            for letter in outbox.dead_letters()
            if (letter.failed_at or 0) >= started
        )
    return Delivery(settings, path, destination.counters, pending, letters, interrupted)


def _wait_for_room(destination: CustomerIODestination, max_queue: int) -> None:
    while True:
        counters = destination.counters
        if counters.accepted - counters.processed < max_queue:
            return

        time.sleep(_ROOM_POLL)


def _wait(destination: CustomerIODestination, total: int) -> None:
    if not (sys.stderr.isatty() and total >= PROGRESS_FROM):
        destination.flush()
        return

    gave_up = destination.counters.gave_up
    while True:
        done = destination.flush(0.1)
        counters = destination.counters
        _draw(counters, total)
        if done or counters.gave_up > gave_up:
            print(file=sys.stderr)
            return


def _draw(counters: Counters, total: int) -> None:
    share = counters.processed / total if total else 1.0
    filled = round(share * _BAR_WIDTH)
    bar = "#" * filled + "." * (_BAR_WIDTH - filled)
    print(
        f"\r[{bar}] {counters.processed}/{total} messages, {counters.sent} "
        f"operations sent, {counters.retried} retries",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _with_emulator(
    settings: Settings, stack: contextlib.ExitStack
) -> tuple[Settings, Emulator | None]:
    if settings.has_credentials or settings.endpoint:
        return settings, None

    from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID, Emulator

    emulator = stack.enter_context(Emulator())
    outbox = settings.outbox
    if outbox is None:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        outbox = str(Path(folder) / "outbox.sqlite3")
    print(
        "No Customer.io credentials or endpoint given (--site-id and --api-key, "
        "--write-key, or CUSTOMERIO_*), so this run delivers to an in-process "
        f"emulator at {emulator.url}: nothing leaves this machine.",
        file=sys.stderr,
    )
    settings = attrs.evolve(
        settings,
        endpoint=emulator.url,
        site_id=DEFAULT_SITE_ID,
        api_key=DEFAULT_API_KEY,
        outbox=outbox,
    )
    return settings, emulator


def print_summary(delivery: Delivery, messages: int | None) -> None:
    """
    Print what a run delivered, its dead letters, and what it left waiting.
    """
    counters = delivery.counters
    source = "" if messages is None else f" from {messages} messages"
    print(
        f"sent {counters.sent} operations{source} to "
        f"{delivery.settings.base_url}; {counters.invalid} invalid, "
        f"{counters.dead_lettered} dead letters, {counters.retried} retries"
    )
    for line in delivery.letters[:_LETTERS_SHOWN]:
        print(f"  dead letter: {line}", file=sys.stderr)
    if len(delivery.letters) > _LETTERS_SHOWN:
        print(
            f"  ... and {len(delivery.letters) - _LETTERS_SHOWN} more",
            file=sys.stderr,
        )
    if delivery.pending:
        print(
            f"{delivery.pending} operations were not delivered and wait in "
            f"{delivery.outbox}; `cio-destination outbox replay {delivery.outbox}` "
            "tries again",
            file=sys.stderr,
        )
