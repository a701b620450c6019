"""
The ``cio-destination`` command line.

Each subcommand lives in its own ``_cli_<name>`` module, which provides
``register(subparsers)``; the parser it adds carries its handler as the
``handler`` default. A handler returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

#: The status of a command whose reader closed standard output early, as
#: the shell reports a process that SIGPIPE ended (128 + 13).
_EXIT_BROKEN_PIPE = 141

_SUBCOMMAND_MODULES = ("check", "schemas", "emulate", "send", "outbox")


def build_parser() -> argparse.ArgumentParser:
    """
    The top-level parser with every subcommand registered.
    """
    parser = argparse.ArgumentParser(
        prog="cio-destination",
        description="Validate and deliver Customer.io semantic events.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _SUBCOMMAND_MODULES:
        module = importlib.import_module(f"cio_destination._cli_{name}")
        module.register(subparsers)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the command line and return its exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except BrokenPipeError:
        # The reader (``head``, say) has seen enough: stop quietly, and keep
        # the interpreter from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _EXIT_BROKEN_PIPE

    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
