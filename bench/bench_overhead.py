"""
What the pipeline adds to the app's ``track()`` call.

Two segment clients, one bare and one with the pipeline installed and
delivering to the bundled emulator over real HTTP, take the same valid
semantic event in turns; the script reports the median time per call of each
and their ratio (installed / bare). The timings are interleaved call by call,
alternating which client goes first, so that drift in the machine's load
falls on both alike.

Both Segment clients are made with ``send=False``: what Segment's own
consumer thread does with a message is the same for both and outside the
app's call, and leaving it out keeps the comparison to the app's thread with
no Segment endpoint needed. The installed client's Customer.io destination
does deliver: its sender thread evaluates, writes the outbox and posts to the
emulator while the timings run, so its work competes for the interpreter as
it would in an app. Between rounds (not timed) the destination is flushed, so
its bounded queue never fills and every call is measured doing full work.

Run: ``python bench/bench_overhead.py [--rounds 20] [--calls 500]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from segment.analytics import Client

from cio_destination._install import install, uninstall
from cio_destination._plugins import CustomerIOPlugin
from cio_destination.emulator import DEFAULT_API_KEY, DEFAULT_SITE_ID, Emulator

_DEVICE = {"device": {"token": "f3a1c2e4b5d6978812ab34cd56ef7890", "type": "ios"}}


def _semantic(client: Client) -> None:
    client.track("42", "Device Created or Updated", {"push_enabled": True}, _DEVICE)


def _ordinary(client: Client) -> None:
    client.track("42", "Signed Up", {"plan": "pro", "seats": 3})


def _measure(
    call: Callable[[Client], None],
    bare: Client,
    installed: Client,
    plugin: CustomerIOPlugin,
    *,
    rounds: int,
    calls: int,
) -> tuple[float, float]:
    """
    Median seconds per call on the bare and the installed client.
    """
    clock = time.perf_counter
    timings: dict[int, list[float]] = {id(bare): [], id(installed): []}
    for round_number in range(rounds):
        pair = (bare, installed) if round_number % 2 == 0 else (installed, bare)
        for _ in range(calls):
            for client in pair:
                start = clock()
                call(client)
                timings[id(client)].append(clock() - start)
        plugin.flush(30)

    return statistics.median(timings[id(bare)]), statistics.median(
        timings[id(installed)]
    )


def main() -> int:
    """
    Run the benchmark and print the medians and the ratio.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=500, help="calls per round")
    args = parser.parse_args()

    with Emulator() as emulator, tempfile.TemporaryDirectory() as folder:
        bare = Client("bench-write-key", send=False)
        installed = Client("bench-write-key", send=False)
        pipeline = install(
            installed,
            site_id=DEFAULT_SITE_ID,
            api_key=DEFAULT_API_KEY,
            endpoint=emulator.url,
            outbox=str(Path(folder) / "outbox.sqlite3"),
        )
        plugin = pipeline.find("customerio")
        if not isinstance(plugin, CustomerIOPlugin):
            raise SystemExit("the customerio plugin is not in the pipeline")

        for call in (_semantic, _ordinary):  # warm caches and connections
            _measure(call, bare, installed, plugin, rounds=2, calls=100)

        results = {
            name: _measure(
                call, bare, installed, plugin, rounds=args.rounds, calls=args.calls
            )
            for name, call in (("semantic", _semantic), ("ordinary", _ordinary))
        }
        counters = plugin.destination.counters
        devices = len(emulator.state()["devices"])
        uninstall(installed, timeout=30)

    print(f"python {sys.version.split()[0]}, {args.rounds} rounds x {args.calls} calls")
    for name, (bare_median, installed_median) in results.items():
        print(
            f"{name:>9} event: bare {bare_median * 1e6:7.2f} us, "
            f"installed {installed_median * 1e6:7.2f} us, "
            f"ratio {installed_median / bare_median:.3f}"
        )
    print(
        f"delivered: {counters.sent} operations sent, {counters.dropped} dropped, "
        f"{counters.dead_lettered} dead letters; emulator devices: {devices}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
