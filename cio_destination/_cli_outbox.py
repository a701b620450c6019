"""
``cio-destination outbox list|replay|purge PATH``: inspect and mend an outbox.

``list`` shows the operations still waiting and the dead letters with their
reasons; ``replay`` delivers what waits (and, with ``--dead-letters``, the
operations Customer.io refused, back in their places) and exits 0 only when
all of it was delivered; ``purge`` deletes dead letters, and with
``--pending`` the waiting operations too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import attrs

from cio_destination._cli_send import (
    EXIT_DELIVERED,
    EXIT_INTERRUPTED,
    EXIT_UNDELIVERED,
    EXIT_UNUSABLE,
    add_delivery_arguments,
    deliver,
    print_summary,
    retry_from,
    settings_from,
)
from cio_destination._errors import CioDestinationError, OutboxError
from cio_destination._outbox import DeadLetter, Entry, Outbox


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """
    Add the ``outbox`` subcommand and its ``list``, ``replay`` and ``purge``.
    """
    parser = subparsers.add_parser(
        "outbox",
        help="list, replay or purge what an outbox holds",
        description="Inspect and mend a cio-destination outbox file.",
    )
    actions = parser.add_subparsers(dest="action", required=True)

    listing = actions.add_parser(
        "list", help="show waiting operations and dead letters with their reasons"
    )
    listing.add_argument("path", metavar="PATH", help="the outbox file")
    listing.add_argument(
        "--format", choices=("text", "jsonl"), default="text", help="output format"
    )
    listing.set_defaults(handler=run_list)

    replay = actions.add_parser(
        "replay",
        help="deliver what waits; exit 0 only when all of it was delivered",
    )
    replay.add_argument("path", metavar="PATH", help="the outbox file")
    replay.add_argument(
        "--dead-letters",
        action="store_true",
        help="first put operations Customer.io refused back in their places",
    )
    add_delivery_arguments(replay, outbox=False)
    replay.set_defaults(handler=run_replay)

    purge = actions.add_parser("purge", help="delete dead letters")
    purge.add_argument("path", metavar="PATH", help="the outbox file")
    purge.add_argument(
        "--pending",
        action="store_true",
        help="also delete the operations still waiting; they will never be sent",
    )
    purge.set_defaults(handler=run_purge)


def _open(path: str) -> Outbox:
    if not os.path.isfile(path):
        raise OutboxError(f"no outbox at {path}")

    return Outbox(path)


def run_list(args: argparse.Namespace) -> int:
    """
    Print what the outbox at ``args.path`` holds; exit 0, or 2 if unreadable.
    """
    try:
        with _open(args.path) as outbox:
            if args.format == "jsonl":
                _list_jsonl(outbox)
            else:
                _list_text(outbox)
    except OutboxError as exc:
        print(f"cio-destination outbox: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    return EXIT_DELIVERED


def _list_text(outbox: Outbox) -> None:
    print(
        f"{outbox.path}: {outbox.pending_count()} waiting, "
        f"{outbox.dead_letter_count()} dead letters"
    )
    for entry in outbox.pending():
        print(f"waiting  seq {entry.seq:<6} {entry.kind.value:<9} {entry.subject}")
    for letter in outbox.dead_letters():
        seq = "-" if letter.seq is None else str(letter.seq)
        print(
            f"dead     seq {seq:<6} {letter.kind:<9} {letter.subject or '-'}\n"
            f"         {letter.reason}"
        )


def _list_jsonl(outbox: Outbox) -> None:
    for entry in outbox.pending():
        print(json.dumps(_pending_record(entry), ensure_ascii=False))
    for letter in outbox.dead_letters():
        print(json.dumps(_dead_record(letter), ensure_ascii=False))


def _pending_record(entry: Entry) -> dict[str, Any]:
    return {
        "state": "waiting",
        "seq": entry.seq,
        "kind": entry.kind.value,
        "subject": entry.subject,
        "body": json.loads(entry.body),
    }


def _dead_record(letter: DeadLetter) -> dict[str, Any]:
    record = attrs.asdict(letter)
    record["body"] = json.loads(letter.body)
    return {"state": "dead", **record}


def run_replay(args: argparse.Namespace) -> int:
    """
    Deliver what waits in ``args.path``; 0 only when all of it was delivered.
    """
    try:
        settings = settings_from(args, outbox=args.path)
        policy = retry_from(args)
        with _open(args.path) as outbox:
            if not outbox.claim():
                print(
                    f"cio-destination outbox: {args.path} is being delivered by "
                    "another process",
                    file=sys.stderr,
                )
                return EXIT_UNDELIVERED

            requeued = outbox.requeue_dead_letters() if args.dead_letters else 0
        if requeued:
            print(f"put {requeued} refused operations back in line", file=sys.stderr)
        delivery = deliver(settings, policy, [])
    except CioDestinationError as exc:
        print(f"cio-destination outbox: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    print_summary(delivery, None)
    if delivery.interrupted:
        return EXIT_INTERRUPTED

    return EXIT_DELIVERED if delivery.complete else EXIT_UNDELIVERED


def run_purge(args: argparse.Namespace) -> int:
    """
    Delete the dead letters (and with ``--pending`` what waits) in ``args.path``.
    """
    try:
        with _open(args.path) as outbox:
            pending, dead = outbox.purge(pending=args.pending, dead_letters=True)
    except OutboxError as exc:
        print(f"cio-destination outbox: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    print(f"deleted {dead} dead letters and {pending} waiting operations")
    return EXIT_DELIVERED
