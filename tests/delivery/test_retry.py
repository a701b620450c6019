"""
The retry policy, fed statuses and read for decisions and delays.
"""

from __future__ import annotations

import pytest

from cio_destination._errors import ConfigurationError
from cio_destination._retry import Decision, RetryPolicy, Verdict, parse_retry_after

NO_JITTER = RetryPolicy(base_delay=1.0, multiplier=2.0, max_delay=10.0, jitter=0.0)


@pytest.mark.parametrize(
    "status",
    [None, 408, 429, 500, 502, 503, 504, 522, 599],
    ids=["no-answer", "408", "429", "500", "502", "503", "504", "522", "599"],
)
def test_retryable_classes_are_retried(status: int | None) -> None:
    """
    Connection errors and timeouts, 408, 429 and every 5xx are retried.
    """
    decision = NO_JITTER.decide(status, attempt=1, elapsed=0.0)

    assert decision == Decision(Verdict.RETRY, 1.0)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_other_failures_are_rejected(status: int) -> None:
    """
    A 4xx other than 408 and 429 is refused for good, without a retry.
    """
    assert NO_JITTER.decide(status, attempt=1, elapsed=0.0).verdict is Verdict.REJECT


def test_server_errors_can_be_excluded() -> None:
    """
    With retry_server_errors off, only the listed statuses are retried.
    """
    policy = RetryPolicy(retry_server_errors=False, retry_statuses={429})

    assert [policy.retryable(status) for status in (429, 500, 408, None)] == [
        True,
        False,
        False,
        True,
    ]


def test_backoff_doubles_up_to_the_cap() -> None:
    """
    Each retry waits twice the one before, never more than max_delay.
    """
    delays = [NO_JITTER.backoff(attempt) for attempt in range(1, 7)]

    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_survives_huge_attempt_numbers() -> None:
    """
    An attempt number that overflows the power still yields the cap.
    """
    assert NO_JITTER.backoff(100_000) == 10.0


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, 4.0), (0.5, 3.0), (0.999, 2.002)],
    ids=["lowest-draw", "middle-draw", "highest-draw"],
)
def test_jitter_takes_a_random_share_off(draw: float, expected: float) -> None:
    """
    Jitter removes up to its fraction of the delay, as the random source says.
    """
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.5, rng=lambda: draw)

    assert policy.backoff(3) == pytest.approx(expected)


def test_retry_after_raises_the_wait() -> None:
    """
    A Retry-After longer than the backoff is waited for.
    """
    decision = NO_JITTER.decide(429, attempt=1, elapsed=0.0, retry_after=7.0)

    assert decision == Decision(Verdict.RETRY, 7.0)


def test_retry_after_is_capped() -> None:
    """
    A Retry-After beyond max_retry_after waits only max_retry_after.
    """
    policy = RetryPolicy(base_delay=1.0, jitter=0.0, max_retry_after=20.0)

    assert policy.delay(1, retry_after=3600.0) == 20.0


def test_short_retry_after_keeps_the_backoff() -> None:
    """
    A Retry-After shorter than the backoff does not shorten the wait.
    """
    assert NO_JITTER.delay(4, retry_after=0.5) == 8.0


def test_gives_up_when_the_budget_is_spent() -> None:
    """
    A retry that would end after give_up_after is a give-up instead.
    """
    policy = RetryPolicy(base_delay=1.0, jitter=0.0, give_up_after=10.0)

    assert policy.decide(503, attempt=1, elapsed=9.0).verdict is Verdict.RETRY
    assert policy.decide(503, attempt=1, elapsed=9.5).verdict is Verdict.GIVE_UP


def test_rejection_wins_over_the_budget() -> None:
    """
    A refusal is reported as such even when the budget is spent.
    """
    policy = RetryPolicy(give_up_after=0.0)

    assert policy.decide(400, attempt=9, elapsed=99.0).verdict is Verdict.REJECT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_delay", -1.0),
        ("multiplier", 0.5),
        ("max_delay", -0.1),
        ("jitter", 1.5),
        ("max_retry_after", -2.0),
        ("give_up_after", float("nan")),
    ],
)
def test_out_of_range_fields_are_refused(field: str, value: float) -> None:
    """
    Each numeric field is checked, and the error names it.
    """
    with pytest.raises(ConfigurationError, match=field):
        RetryPolicy(**{field: value})


def test_policies_compare_by_value() -> None:
    """
    Two policies with the same fields are equal, whatever their random source.
    """
    assert RetryPolicy(rng=lambda: 0.0) == RetryPolicy()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("12", 12.0),
        (" 3 ", 3.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
    ids=[
        "absent",
        "empty",
        "seconds",
        "padded",
        "date",
        "past-date",
        "words",
        "negative",
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    """
    Retry-After is read as seconds or as an HTTP date; anything else is ignored.
    """
    now = 1445412450.0  # 30 seconds before 07:28:00 GMT that day

    assert parse_retry_after(header, now=now) == expected
