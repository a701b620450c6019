"""
How fast the emulator takes Track API v2 batches.

Starts ``cio-destination emulate`` as a separate process (so the client does
not share its interpreter), then posts batches of mixed operations over
pooled keep-alive connections from one and from several client threads, and
prints requests/s and operations/s. A second figure sends the same batches to
``/v1/batch`` of the Pipelines API.

    python bench/bench_emulator.py [--requests 300] [--ops 100] [--clients 1 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID, DEFAULT_WRITE_KEY


def track_batch(seed: int, size: int) -> dict[str, Any]:
    """
    A v2 batch of ``size`` operations: identifies, events and devices.
    """
    operations: list[dict[str, Any]] = []
    for index in range(size):
        person = {"id": f"user-{seed}-{index % 10}"}
        kind = index % 3
        if kind == 0:
            operations.append(
                {
                    "type": "person",
                    "identifiers": person,
                    "action": "identify",
                    "attributes": {"plan": "pro", "seats": index, "email": None},
                }
            )
        elif kind == 1:
            operations.append(
                {
                    "type": "person",
                    "identifiers": person,
                    "action": "event",
                    "name": "purchase",
                    "timestamp": 1_700_000_000 + index,
                    "attributes": {"price": 9.5, "sku": f"sku-{index}"},
                }
            )
        else:
            operations.append(
                {
                    "type": "person",
                    "identifiers": person,
                    "action": "add_device",
                    "device": {
                        "token": f"token-{seed}-{index}",
                        "platform": "ios",
                        "last_used": 1_700_000_000,
                    },
                }
            )
    return {"batch": operations}


def pipelines_batch(seed: int, size: int) -> dict[str, Any]:
    """
    A Pipelines batch of ``size`` track calls.
    """
    calls = [
        {
            "type": "track",
            "userId": f"user-{seed}-{index % 10}",
            "event": "purchase",
            "properties": {"price": 9.5, "sku": f"sku-{index}"},
            "timestamp": "2024-01-01T00:00:00Z",
            "messageId": f"m-{seed}-{index}",
        }
        for index in range(size)
    ]
    return {"batch": calls}


def run(
    url: str, path: str, auth: tuple[str, str], bodies: list[Any], clients: int
) -> tuple[float, int]:
    """
    Post ``bodies`` split among ``clients`` threads; returns (seconds, failures).
    """
    failures = [0]
    lock = threading.Lock()

    def client(share: list[Any]) -> None:
        with requests.Session() as session:
            session.auth = auth
            for body in share:
                response = session.post(url + path, json=body, timeout=30)
                if response.status_code != 200:
                    with lock:
                        failures[0] += 1

    threads = [
        threading.Thread(target=client, args=(bodies[index::clients],))
        for index in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, failures[0]


def main() -> int:
    """
    Run the benchmark and print its figures.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--ops", type=int, default=100)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    command = [sys.executable, "-m", "cio_destination._cli", "emulate", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            print(
                f"emulator at {url}; {args.requests} requests of {args.ops} operations"
            )
            cases = [
                ("/api/v2/batch", (DEFAULT_SITE_ID, DEFAULT_API_KEY), track_batch),
                ("/v1/batch", (DEFAULT_WRITE_KEY, ""), pipelines_batch),
            ]
            for path, auth, build in cases:
                bodies = [build(seed, args.ops) for seed in range(args.requests)]
                for clients in args.clients:
                    requests.post(f"{url}/_emulator/reset", timeout=10)
                    seconds, failures = run(url, path, auth, bodies, clients)
                    rate = args.requests / seconds
                    print(
                        f"{path:<14} clients={clients}  {rate:8.1f} requests/s  "
                        f"{rate * args.ops:10.0f} operations/s  failures={failures}"
                    )
        finally:
            server.terminate()
    return server.returncode


if __name__ == "__main__":
    sys.exit(main())
