"""
The ``cio-destination`` command line.

Each subcommand lives in its own ``_cli_<name>`` module, which provides
``register(subparsers)``; the parser it adds carries its handler as the
``handler`` default. A handler returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
