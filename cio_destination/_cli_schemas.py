"""
``cio-destination schemas [NAME]``: list the semantic event schemas, or print one.

NAME is a canonical event name, an alias of the docs, a schema file name (with
or without ``.json``), or ``common`` for the shared parts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from cio_destination._catalogue import EVENTS, recognize
from cio_destination._schemas import COMMON_SCHEMA, common_schema, event_schemas

EXIT_OK = 0
EXIT_UNKNOWN = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """
    Add the ``schemas`` subcommand.
    """
    parser = subparsers.add_parser(
        "schemas",
        help="list the semantic event schemas, or print one",
        description=(
            "Without NAME, list the semantic events with their schema files. "
            "With NAME (an event name, a schema file name, or common), print "
            "that JSON Schema."
        ),
    )
    parser.add_argument("name", nargs="?", metavar="NAME")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """
    List the schemas, or print the one ``args.name`` names; return the status.
    """
    if args.name is None:
        width = max(map(len, EVENTS))
        for name, spec in EVENTS.items():
            print(f"{name:<{width}}  {spec.schema:<32}  {spec.target}")
        print(f"{'(shared parts)':<{width}}  {COMMON_SCHEMA}")
        return EXIT_OK

    schema = find(args.name)
    if schema is None:
        suggestion = recognize(args.name).suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else "."
        print(
            f"cio-destination schemas: no schema named {args.name!r}{hint} "
            "Run 'cio-destination schemas' for the list.",
            file=sys.stderr,
        )
        return EXIT_UNKNOWN

    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return EXIT_OK


def find(name: str) -> Mapping[str, Any] | None:
    """
    The schema ``name`` stands for, or None.
    """
    stem = name.removesuffix(".json")
    if stem == COMMON_SCHEMA.removesuffix(".json"):
        return common_schema()

    schemas = event_schemas()
    canonical = recognize(name).canonical
    if canonical is not None:
        return schemas[canonical]

    for event, spec in EVENTS.items():
        if spec.schema.removesuffix(".json") == stem:
            return schemas[event]

    return None
