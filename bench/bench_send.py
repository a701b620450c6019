"""
How fast ``cio-destination send`` delivers, beside the official client.

Starts ``cio-destination emulate`` as its own process, writes a file of
semantic events (devices added and removed, people suppressed, freed and
deleted), then measures, against that one emulator:

1. ``cio-destination send FILE`` as a whole process (interpreter start,
   evaluation, outbox, batches): events/s;
2. the official ``customerio`` package sending the same events one request
   per event through its v1 calls (``add_device``, ``delete_device``,
   ``suppress``, ``unsuppress``, ``delete``): events/s;
3. the same package's ``batch()`` posting the same events as hand-built v2
   operations, 100 per request: events/s.

It prints the three rates and the ratios of the first to the others (the
goal is at least 10 and at least 0.3). The official client only builds
``https://`` URLs, so its requests are sent to the emulator's ``http://``
URL by rewriting the scheme in ``send_request``; nothing else is changed.

    python bench/bench_send.py [--events 20000] [--single 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import customerio
import requests

from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID

USERS = 50
TOKENS = 3


def events(count: int) -> list[tuple[str, str, str]]:
    """
    ``(action, user, token)`` triples, in a fixed order that depends on order.
    """
    actions = ("add_device", "add_device", "delete_device", "suppress", "unsuppress")
    chosen = []
    for number in range(count):
        action = actions[number % len(actions)] if number % 11 else "delete"
        user = f"user-{number * 7 % USERS}"
        token = f"tok-{user}-{number % TOKENS}"
        chosen.append((action, user, token))
    return chosen


def segment_message(action: str, user: str, token: str) -> dict[str, Any]:
    """
    The Segment track call an app would make for one event.
    """
    names = {
        "add_device": "Device Created or Updated",
        "delete_device": "Device Deleted",
        "suppress": "User Suppressed",
        "unsuppress": "User Unsuppressed",
        "delete": "User Deleted",
    }
    message: dict[str, Any] = {
        "type": "track",
        "event": names[action],
        "userId": user,
        "properties": {},
        "timestamp": "2026-03-14T09:20:00+00:00",
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
    }
    if action in ("add_device", "delete_device"):
        message["context"]["device"] = {"token": token, "type": "ios"}
    return message


def v2_operation(action: str, user: str, token: str) -> dict[str, Any]:
    """
    The Track API v2 operation for one event, written by hand.
    """
    operation: dict[str, Any] = {
        "type": "person",
        "identifiers": {"id": user},
        "action": action,
    }
    if action == "add_device":
        operation["device"] = {"token": token, "platform": "ios"}
    elif action == "delete_device":
        operation["device"] = {"token": token}
    return operation


def single_call(client: Any, action: str, user: str, token: str) -> None:
    """
    The official client's one-request call for one event.
    """
    if action == "add_device":
        client.add_device(user, token, "ios")
    elif action == "delete_device":
        client.delete_device(user, token)
    else:
        getattr(client, action)(user)


def official_client(url: str) -> Any:
    """
    A ``customerio.CustomerIO`` whose requests go to the emulator over http.
    """
    parts = urllib.parse.urlsplit(url)
    client = customerio.CustomerIO(
        DEFAULT_SITE_ID, DEFAULT_API_KEY, host=parts.hostname, port=parts.port
    )
    send_request = client.send_request

    def over_http(method: str, target: str, data: Any) -> Any:
        return send_request(method, target.replace("https://", "http://", 1), data)

    client.send_request = over_http
    return client


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """
    ``cio-destination emulate`` in its own process, and its base URL.
    """
    command = [sys.executable, "-m", "cio_destination._cli", "emulate", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    return process, url


def reset(session: requests.Session, url: str) -> None:
    session.post(f"{url}/_emulator/reset", timeout=10).raise_for_status()


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_send(path: Path, url: str, outbox: Path) -> None:
    command = [sys.executable, "-m", "cio_destination._cli", "send", str(path)]
    command += ["--endpoint", url, "--site-id", DEFAULT_SITE_ID]
    command += ["--api-key", DEFAULT_API_KEY, "--outbox", str(outbox)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    chosen = events(args.events)
    process, url = start_emulator()
    session = requests.Session()
    client = official_client(url)
    rates: dict[str, list[float]] = {"send": [], "single": [], "batch": []}
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "events.jsonl"
            path.write_text(
                "".join(json.dumps(segment_message(*event)) + "\n" for event in chosen)
            )
            operations = [v2_operation(*event) for event in chosen]
            few = chosen[: args.single]
            for round_ in range(args.rounds):
                reset(session, url)
                outbox = Path(folder) / f"outbox-{round_}.sqlite3"
                seconds = timed(lambda: run_send(path, url, outbox))  # noqa: B023
                rates["send"].append(len(chosen) / seconds)

                reset(session, url)
                seconds = timed(lambda: [single_call(client, *event) for event in few])
                rates["single"].append(len(few) / seconds)

                reset(session, url)
                seconds = timed(
                    lambda: [
                        client.batch(operations[start : start + 100])
                        for start in range(0, len(operations), 100)
                    ]
                )
                rates["batch"].append(len(operations) / seconds)
    finally:
        client.close()
        session.close()
        process.terminate()
        process.wait(timeout=10)

    send, single, batch = (statistics.median(rates[key]) for key in rates)
    print(f"events: {len(chosen)} (send, batch()), {args.single} (one request each)")
    print(f"cio-destination send, whole process: {send:10.0f} events/s")
    print(f"customerio, one request per event:   {single:10.0f} events/s")
    print(f"customerio batch() of 100:           {batch:10.0f} events/s")
    print(f"send / one request per event: {send / single:6.2f}  (goal >= 10)")
    print(f"send / batch() of 100:        {send / batch:6.2f}  (goal >= 0.3)")


if __name__ == "__main__":
    main()
