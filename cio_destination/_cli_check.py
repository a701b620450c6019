"""
``cio-destination check``: what a file of Segment messages would become.

Reads JSON lines, a JSON array, or a Segment batch body ``{"batch": [...]}``
and reports, for each message, its errors, its warnings and the requests it
would turn into. Exit status 0 when every message is valid, 1 when any is
not, 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import attrs

from cio_destination._core import evaluate
from cio_destination._errors import CioDestinationError
from cio_destination._model import Evaluation, Violation
from cio_destination._settings import REGIONS, TRANSPORTS, Transport, base_url

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


@attrs.frozen
class Entry:
    """
    One message of the input, or the line that failed to parse in its place.
    """

    index: int
    message: Any = None
    problem: str | None = None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """
    Add the ``check`` subcommand.
    """
    parser = subparsers.add_parser(
        "check",
        help="show what recorded Segment messages would become at Customer.io",
        description=(
            "Validate Segment messages (JSON lines, a JSON array, or a batch "
            'body {"batch": [...]}) and print the Customer.io requests each '
            "would turn into. Exit 0 when all are valid, 1 when any is not, 2 "
            "when the input cannot be read."
        ),
    )
    parser.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="the messages to check; - (the default) reads standard input",
    )
    parser.add_argument(
        "--format", choices=("text", "jsonl"), default="text", help="output format"
    )
    parser.add_argument("--region", choices=REGIONS, default="us")
    parser.add_argument("--transport", choices=TRANSPORTS, default="track")
    parser.add_argument(
        "--endpoint", help="a base URL that replaces Customer.io's host in the URLs"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse the docs' alias names and near misses of the event names",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """
    Check the messages named by ``args`` and return the exit status.
    """
    try:
        text = read_input(args.file)
        entries = list(parse(text))
    except CioDestinationError as exc:
        print(f"cio-destination check: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE

    url = base_url(args.transport, args.region, args.endpoint)
    write = _write_jsonl if args.format == "jsonl" else _write_text
    invalid = write(entries, sys.stdout, url=url, options=_options(args))
    return EXIT_INVALID if invalid else EXIT_VALID


def _options(args: argparse.Namespace) -> dict[str, Any]:
    transport: Transport = args.transport
    return {"transport": transport, "strict": args.strict}


def read_input(name: str) -> str:
    """
    The text of the file ``name``, or of standard input for ``-``.

    :raises CioDestinationError: it cannot be read as UTF-8 text.
    """
    if name == "-":
        try:
            return sys.stdin.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CioDestinationError(f"cannot read standard input: {exc}") from exc

    try:
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CioDestinationError(f"cannot read {name}: {exc}") from exc


def parse(text: str) -> Iterator[Entry]:
    """
    The messages in ``text``: a JSON array, a batch body, or JSON lines.

    A line that is not JSON becomes an entry naming its line number.

    :raises CioDestinationError: a batch body whose ``batch`` is not a list.
    """
    try:
        document = json.loads(text)
    except ValueError:
        yield from _parse_lines(text)
        return

    if isinstance(document, list):
        messages: Sequence[Any] = document
    elif isinstance(document, Mapping) and "batch" in document:
        messages = _batch_messages(document)
    elif isinstance(document, Mapping):
        messages = [document]
    else:
        messages = []
        yield Entry(0, problem=f"the input is a JSON {type(document).__name__}")

    for index, message in enumerate(messages):
        yield Entry(index, message=message)


def _batch_messages(document: Mapping[str, Any]) -> Sequence[Any]:
    batch = document["batch"]
    if not isinstance(batch, list):
        raise CioDestinationError(
            f"batch must be a list of messages; got {type(batch).__name__}"
        )

    shared = document.get("context")
    if not isinstance(shared, Mapping):
        return batch

    return [_with_context(message, shared) for message in batch]


def _with_context(message: Any, shared: Mapping[str, Any]) -> Any:
    if not isinstance(message, Mapping):
        return message

    context = message.get("context")
    own = context if isinstance(context, Mapping) else {}
    return {**message, "context": {**shared, **own}}


def _parse_lines(text: str) -> Iterator[Entry]:
    index = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue

        try:
            yield Entry(index, message=json.loads(line))
        except ValueError as exc:
            yield Entry(index, problem=f"line {number} is not JSON: {exc}")
        index += 1


def _evaluate(entry: Entry, options: Mapping[str, Any]) -> Evaluation | None:
    if entry.problem is not None:
        return None

    return evaluate(entry.message, **options)


def _report(entry: Entry, url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    evaluation = _evaluate(entry, options)
    message = entry.message if isinstance(entry.message, Mapping) else {}
    if evaluation is None:
        evaluation = Evaluation(
            message={},
            semantic=None,
            errors=(Violation(path="", rule="json", message=entry.problem or ""),),
        )

    return {
        "index": entry.index,
        "type": message.get("type"),
        "event": message.get("event"),
        "semantic": evaluation.semantic,
        "valid": evaluation.valid,
        "errors": [
            {"path": error.path, "message": error.message}
            for error in evaluation.errors
        ],
        "warnings": list(evaluation.warnings),
        "requests": [
            {"method": "POST", "url": url + operation.kind.path, "json": operation.body}
            for operation in evaluation.operations
        ],
    }


def _write_jsonl(
    entries: Sequence[Entry], out: TextIO, *, url: str, options: Mapping[str, Any]
) -> int:
    invalid = 0
    for entry in entries:
        report = _report(entry, url, options)
        invalid += not report["valid"]
        out.write(json.dumps(report, ensure_ascii=False) + "\n")

    return invalid


def _write_text(
    entries: Sequence[Entry], out: TextIO, *, url: str, options: Mapping[str, Any]
) -> int:
    invalid = requests = 0
    for entry in entries:
        report = _report(entry, url, options)
        for line in _text_lines(report):
            out.write(line + "\n")
        invalid += not report["valid"]
        requests += len(report["requests"])

    total = len(entries)
    out.write(
        f"{total} message{'s' * (total != 1)}: {total - invalid} valid, "
        f"{invalid} invalid, {requests} request{'s' * (requests != 1)}\n"
    )
    return invalid


def _text_lines(report: Mapping[str, Any]) -> Iterator[str]:
    label = _label(report)
    number = f"#{report['index']}"
    if not report["valid"]:
        yield f"{number:<5} invalid {label}"
        for error in report["errors"]:
            yield f"    error: {error['message']}"
    elif report["semantic"] is None:
        yield f"{number:<5} ok      {label} (not a semantic event)"
    else:
        for request in report["requests"]:
            yield (
                f"{number:<5} ok      {label} -> {_describe(request['json'])}"
                f", POST {request['url']}"
            )
    for warning in report["warnings"]:
        yield f"    warning: {warning}"


def _describe(body: Mapping[str, Any]) -> str:
    if "metric" in body:
        return f"metric {body['metric']}"
    if "action" in body:
        return f"{body['type']} {body['action']}"
    return f"track {json.dumps(body.get('event'), ensure_ascii=False)}"


def _label(report: Mapping[str, Any]) -> str:
    event = report["event"]
    if isinstance(event, str):
        return json.dumps(event, ensure_ascii=False)

    kind = report["type"]
    return kind if isinstance(kind, str) else "message"
