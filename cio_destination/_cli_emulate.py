"""
``cio-destination emulate``: serve a local Customer.io until stopped.

The first line printed is the base URL (``http://127.0.0.1:PORT``), so a
script can start it with ``--port 0`` and read where it listens. SIGINT or
SIGTERM stops it cleanly with status 0. Keys are never printed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from cio_destination._errors import CioDestinationError, ConfigurationError
from cio_destination.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
    Faults,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """
    Add the ``emulate`` subcommand.
    """
    parser = subparsers.add_parser(
        "emulate",
        help="serve a local Customer.io (Track and Pipelines APIs) for tests",
        description=(
            "Serve an emulated Customer.io workspace over HTTP until SIGINT or "
            "SIGTERM. The first line printed is the base URL. GET "
            "/_emulator/state shows the workspace, POST /_emulator/reset "
            "empties it, POST /_emulator/faults changes the faults."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    parser.add_argument(
        "--port", type=int, default=0, help="0 picks a free port (the default)"
    )
    parser.add_argument(
        "--site-id", default=DEFAULT_SITE_ID, help="default: %(default)s"
    )
    parser.add_argument(
        "--api-key", default=DEFAULT_API_KEY, help="default: the emulator's own key"
    )
    parser.add_argument(
        "--write-key", default=DEFAULT_WRITE_KEY, help="default: the emulator's own key"
    )
    faults = parser.add_argument_group("faults (all off by default)")
    faults.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of 500 and 503 answers"
    )
    faults.add_argument(
        "--throttle-rate", type=float, default=0.0, help="share of 429 answers"
    )
    faults.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After of a 429, in seconds"
    )
    faults.add_argument(
        "--latency-ms", type=int, default=0, help="delay before every API answer"
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="share of connections closed without an answer",
    )
    faults.add_argument("--seed", type=int, default=None, help="seed of the draws")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """
    Serve until SIGINT or SIGTERM; return the exit status.
    """
    try:
        faults = Faults(
            fail_rate=args.fail_rate,
            throttle_rate=args.throttle_rate,
            retry_after=args.retry_after,
            latency_ms=args.latency_ms,
            drop_rate=args.drop_rate,
            seed=args.seed,
        )
    except ConfigurationError as exc:
        return _failed(exc, EXIT_USAGE)

    emulator = Emulator(
        host=args.host,
        port=args.port,
        site_id=args.site_id,
        api_key=args.api_key,
        write_key=args.write_key,
        faults=faults,
    )
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {number: signal.signal(number, request_stop) for number in _STOP_SIGNALS}
    try:
        emulator.start()
    except CioDestinationError as exc:
        _restore(previous)
        return _failed(exc, EXIT_FAILED)

    try:
        print(emulator.url, flush=True)
        stop.wait()
    finally:
        emulator.stop()
        _restore(previous)
    return EXIT_OK


def _failed(error: CioDestinationError, status: int) -> int:
    print(f"cio-destination emulate: {error}", file=sys.stderr)
    return status


def _restore(handlers: dict[signal.Signals, signal._HANDLER]) -> None:
    for number, handler in handlers.items():
        signal.signal(number, handler)
