"""
The emulator's fault knobs.

Validation, rates, reproducibility, and that a faulted request changes nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
from emulator_support import Client, person, workspace

from cio_destination import ConfigurationError
from cio_destination.emulator import Emulator, Faults

REQUESTS = 400


@pytest.mark.parametrize(
    "settings",
    [
        {"fail_rate": 1.5},
        {"throttle_rate": -0.1},
        {"drop_rate": True},
        {"fail_rate": "half"},
        {"fail_rate": 0.5, "throttle_rate": 0.4, "drop_rate": 0.2},
        {"retry_after": -1},
        {"retry_after": 1.5},
        {"latency_ms": -5},
        {"seed": "seven"},
    ],
    ids=[
        "fail-over-1",
        "throttle-negative",
        "drop-boolean",
        "fail-text",
        "rates-over-1",
        "retry-after-negative",
        "retry-after-fraction",
        "latency-negative",
        "seed-text",
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any]) -> None:
    """
    Faults refuses rates outside 0..1, sums over 1 and negative durations.
    """
    with pytest.raises(ConfigurationError) as caught:
        Faults(**settings)

    assert next(iter(settings)) in str(caught.value)


def test_rates_may_add_up_to_exactly_one() -> None:
    """
    Rates whose float sum lands a hair over 1 are still accepted.
    """
    faults = Faults(fail_rate=0.33, throttle_rate=0.56, drop_rate=0.11)

    assert faults.fail_rate + faults.throttle_rate + faults.drop_rate > 1.0


def test_faults_round_trip_through_json() -> None:
    """
    Faults read from JSON equal the original and reject unknown fields.
    """
    faults = Faults(
        fail_rate=0.1, throttle_rate=0.2, retry_after=3, latency_ms=5, seed=9
    )

    assert Faults.from_json(faults.to_json()) == faults
    with pytest.raises(ConfigurationError, match="unknown fault setting 'rate'"):
        Faults.from_json({"rate": 0.5})


def _statuses(client: Client, count: int) -> list[int | str]:
    seen: list[int | str] = []
    for index in range(count):
        try:
            response = client.entity(person("identify", {"id": f"p{index}"}))
        except requests.ConnectionError:
            seen.append("dropped")
        else:
            seen.append(response.status_code)
    return seen


def test_rates_hold_over_many_requests(track: Client, emulator: Emulator) -> None:
    """
    Over 400 seeded requests each fault comes at about its rate.
    """
    emulator.set_faults(
        Faults(fail_rate=0.2, throttle_rate=0.15, drop_rate=0.1, retry_after=4, seed=7)
    )

    statuses = Counter(_statuses(track, REQUESTS))

    share = {key: count / REQUESTS for key, count in statuses.items()}
    assert share[500] + share[503] == pytest.approx(0.2, abs=0.07)
    assert min(share[500], share[503]) > 0.04
    assert share[429] == pytest.approx(0.15, abs=0.06)
    assert share["dropped"] == pytest.approx(0.1, abs=0.05)
    assert share[200] == pytest.approx(0.55, abs=0.08)
    state = emulator.state()
    assert len(state["people"]) == statuses[200]
    counted = state["requests"]["/api/v2/entity"]
    assert counted == {str(key): count for key, count in statuses.items()}


def test_throttle_sends_retry_after_and_changes_nothing(
    track: Client, emulator: Emulator
) -> None:
    """
    A throttled request gets 429 with Retry-After and leaves the workspace alone.
    """
    emulator.set_faults(Faults(throttle_rate=1.0, retry_after=3))

    response = track.entity(person("identify"))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert emulator.state()["people"] == {}


def test_a_drop_closes_the_connection_unanswered(
    track: Client, emulator: Emulator
) -> None:
    """
    A dropped request fails at the client with a connection error; the next works.
    """
    emulator.set_faults(Faults(drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        track.entity(person("identify"))

    emulator.set_faults(Faults())
    response = track.entity(person("identify", {"id": "7"}))

    assert response.status_code == 200
    assert list(emulator.state()["people"]) == ["id:7"]
    assert emulator.state()["requests"]["/api/v2/entity"] == {"dropped": 1, "200": 1}


def test_the_same_seed_gives_the_same_draws(track: Client, emulator: Emulator) -> None:
    """
    Setting the same seeded faults again replays the same fates.
    """
    faults = Faults(fail_rate=0.3, throttle_rate=0.3, seed=11)
    emulator.set_faults(faults)
    first = _statuses(track, 40)

    emulator.set_faults(faults)
    second = _statuses(track, 40)

    assert first == second
    assert len(set(first)) > 2


def test_faults_over_http(track: Client, emulator: Emulator) -> None:
    """
    POST /_emulator/faults sets the faults; bad settings get 400, change nothing.
    """
    settings = {"latency_ms": 2, "fail_rate": 0.1, "seed": 5}

    changed = track.post("/_emulator/faults", settings)
    refused = [
        track.post("/_emulator/faults", {"fail_rate": 2}),
        track.post("/_emulator/faults", {"bogus": 1}),
        track.post("/_emulator/faults", [1]),
    ]

    assert changed.status_code == 200
    assert [response.status_code for response in refused] == [400, 400, 400]
    assert "fail_rate" in refused[0].json()["meta"]["errors"][0]
    expected = Faults(latency_ms=2, fail_rate=0.1, seed=5)
    assert emulator.faults == expected
    assert track.get("/_emulator/faults").json() == expected.to_json()


def test_control_paths_see_no_faults(track: Client, emulator: Emulator) -> None:
    """
    State and reset answer even when every API request fails, and are not counted.
    """
    emulator.set_faults(Faults(fail_rate=1.0))

    assert track.get("/_emulator/state").status_code == 200
    assert track.post("/_emulator/reset").status_code == 200
    assert track.entity(person("identify")).status_code in (500, 503)
    assert list(emulator.state()["requests"]) == ["/api/v2/entity"]


def _deliver(client: Client, batches: list[list[dict[str, Any]]]) -> int:
    attempts = 0
    for operations in batches:
        while True:
            attempts += 1
            try:
                response = client.batch(*operations)
            except requests.ConnectionError:
                continue
            if response.status_code == 200:
                break
            assert response.status_code in (429, 500, 503)
    return attempts


def test_retried_run_under_faults_equals_a_clean_run(
    track: Client, emulator: Emulator
) -> None:
    """
    Retrying through random faults leaves the same workspace as a clean run.
    """
    operations = []
    for index in range(60):
        who = {"id": f"u{index % 7}"}
        operations += [
            person("identify", who, attributes={"step": index}),
            person("event", who, name=f"e{index}"),
            person(
                "add_device", who, device={"token": f"t{index % 5}", "platform": "ios"}
            ),
        ]
        if index % 9 == 0:
            operations.append(person("suppress", who))
        if index % 13 == 0:
            operations.append(person("unsuppress", who))
    batches = [
        operations[start : start + 10] for start in range(0, len(operations), 10)
    ]

    _deliver(track, batches)
    clean = workspace(emulator.state())

    emulator.reset()
    emulator.set_faults(
        Faults(fail_rate=0.2, throttle_rate=0.2, drop_rate=0.1, retry_after=0, seed=3)
    )
    attempts = _deliver(track, batches)

    assert attempts > len(batches)
    assert workspace(emulator.state()) == clean
