"""
How fast the emulator takes Track API v2 batches.

Starts ``cio-destination emulate`` as a separate process (so the client does
not share its interpreter), then posts batches of mixed operations over
pooled keep-alive connections from one and from several client threads, and
prints requests/s and operations/s. A second figure sends batches of track
calls to ``/v1/batch`` of the Pipelines API.

For scale, the same requests also go to a null server (the same standard
library HTTP server, in its own process, answering ``{}`` without looking at
the body); the ratio says how much of the null server's throughput the
emulator keeps, i.e. how much its checking and bookkeeping cost.

    python bench/bench_emulator.py [--requests 300] [--ops 100] [--clients 1 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _NullHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """
        Keep quiet.
        """


def serve_null() -> int:
    """
    Serve the null server until killed, printing its URL first.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NullHandler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


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
    parser.add_argument("--null-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.null_server:
        return serve_null()

    emulator = [sys.executable, "-m", "cio_destination._cli", "emulate", "--port", "0"]
    null = [sys.executable, __file__, "--null-server"]
    cases = [
        ("/api/v2/batch", (DEFAULT_SITE_ID, DEFAULT_API_KEY), track_batch),
        ("/v1/batch", (DEFAULT_WRITE_KEY, ""), pipelines_batch),
    ]
    print(f"{args.requests} requests of {args.ops} operations each")
    with (
        subprocess.Popen(emulator, stdout=subprocess.PIPE, text=True) as server,
        subprocess.Popen(null, stdout=subprocess.PIPE, text=True) as baseline,
    ):
        try:
            assert server.stdout is not None
            assert baseline.stdout is not None
            url = server.stdout.readline().strip()
            null_url = baseline.stdout.readline().strip()
            for path, auth, build in cases:
                bodies = [build(seed, args.ops) for seed in range(args.requests)]
                for clients in args.clients:
                    requests.post(f"{url}/_emulator/reset", timeout=10)
                    seconds, failures = run(url, path, auth, bodies, clients)
                    null_seconds, _ = run(null_url, path, auth, bodies, clients)
                    rate = args.requests / seconds
                    print(
                        f"{path:<14} clients={clients}  {rate:7.1f} requests/s  "
                        f"{rate * args.ops:8.0f} operations/s  "
                        f"{null_seconds / seconds:5.2f} of the null server  "
                        f"failures={failures}"
                    )
        finally:
            server.terminate()
            baseline.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
