"""
What the core costs next to the host's own ``track()``.

Times segment-analytics-python's ``Client.track()`` (with ``send=False``, so
it only builds and checks the message) as the yardstick, then
``recognize()`` on the hot path and ``evaluate()`` for an ordinary event,
for each semantic event's first schema example, and for one invalid event
(the slow path: the compiled check says no, so jsonschema explains), and
prints each as microseconds and as a ratio to the yardstick.

    python bench/bench_core.py [--number 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

from segment.analytics import Client

from cio_destination._catalogue import recognize
from cio_destination._core import evaluate
from cio_destination._schemas import schema_examples


def best_microseconds(call: Callable[[], Any], number: int, repeat: int) -> float:
    """
    The fastest of ``repeat`` runs of ``number`` calls, per call, in µs.
    """
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    """
    Print the table of timings and ratios.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    client = Client("bench-write-key", send=False)
    properties = {"plan": "pro", "total": 42.5}
    baseline = best_microseconds(
        lambda: client.track("42", "Order Completed", properties),
        args.number,
        args.repeat,
    )
    ordinary = {"type": "track", "event": "Order Completed", "userId": "42"}
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("recognize(ordinary name)", lambda: recognize("Order Completed")),
        ("recognize(semantic name)", lambda: recognize("User Deleted")),
        ("evaluate(ordinary event)", lambda: evaluate(ordinary)),
    ]
    seen: set[str] = set()
    for event, example in schema_examples():
        if event not in seen:
            seen.add(event)
            cases.append((f"evaluate({event})", lambda m=example: evaluate(m)))
    invalid = {**ordinary, "event": "Device Deleted", "context": {"device": {}}}
    cases.append(("evaluate(invalid Device Deleted)", lambda: evaluate(invalid)))

    print(f"{'segment Client.track(), send=False':<44} {baseline:8.1f} µs   1.00x")
    for label, call in cases:
        cost = best_microseconds(call, args.number, args.repeat)
        print(f"{label:<44} {cost:8.1f} µs  {cost / baseline:5.2f}x")
    client.shutdown()


if __name__ == "__main__":
    main()
