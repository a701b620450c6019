"""
The retry policy: which failures are worth another attempt, and when.

A :class:`RetryPolicy` is a frozen value. Its methods are pure functions of
an HTTP status (or None for a request that got no answer), the attempt number
and the time already spent, so it can be tested by feeding it statuses and
reading the delays it returns: no sleeping, no sockets.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import math
import random
from collections.abc import Callable

import attrs

from cio_destination._settings import number_validator

#: Statuses that say "not now" rather than "never", besides every 5xx.
RETRY_STATUSES = frozenset({408, 429})


class Verdict(enum.Enum):
    """
    What to do after a failed request.
    """

    #: Try the same request again after ``Decision.delay`` seconds.
    RETRY = "retry"
    #: Customer.io refused it for good; retrying cannot help.
    REJECT = "reject"
    #: Retrying could help, but the time budget is spent.
    GIVE_UP = "give up"


@attrs.frozen
class Decision:
    """
    A :class:`Verdict` and, for a retry, how long to wait first.
    """

    verdict: Verdict
    delay: float = 0.0


@attrs.frozen
class RetryPolicy:
    """
    When and how often to retry: capped exponential backoff with jitter.

    Connection errors and timeouts (status None), ``retry_statuses`` and,
    when ``retry_server_errors`` is set, every 5xx are retried. Any other
    failure is a rejection. The n-th retry waits ``base_delay *
    multiplier ** (n - 1)`` seconds, capped at ``max_delay``, less a random
    share of up to ``jitter`` of it; a ``Retry-After`` answer raises the wait
    to what the server asked, capped at ``max_retry_after``. Once the next
    wait would end more than ``give_up_after`` seconds after the first
    failure, the verdict is :attr:`Verdict.GIVE_UP`; what was not delivered
    stays in the outbox.

    ``rng`` returns floats in [0, 1) and exists so tests can pin the jitter.

    :raises ConfigurationError: a field is out of range.
    """

    retry_statuses: frozenset[int] = attrs.field(
        default=RETRY_STATUSES, converter=frozenset
    )
    retry_server_errors: bool = True
    base_delay: float = attrs.field(
        default=0.5, validator=number_validator("retry base_delay", 0)
    )
    multiplier: float = attrs.field(
        default=2.0, validator=number_validator("retry multiplier", 1)
    )
    max_delay: float = attrs.field(
        default=30.0, validator=number_validator("retry max_delay", 0)
    )
    jitter: float = attrs.field(
        default=0.5, validator=number_validator("retry jitter", 0, 1)
    )
    max_retry_after: float = attrs.field(
        default=120.0, validator=number_validator("retry max_retry_after", 0)
    )
    give_up_after: float = attrs.field(
        default=300.0, validator=number_validator("retry give_up_after", 0)
    )
    rng: Callable[[], float] = attrs.field(default=random.random, eq=False, repr=False)

    def retryable(self, status: int | None) -> bool:
        """
        True when a request that ended with ``status`` is worth repeating.

        None stands for a request that got no answer: a connection error or
        a timeout.
        """
        if status is None:
            return True

        if self.retry_server_errors and 500 <= status <= 599:
            return True

        return status in self.retry_statuses

    def backoff(self, attempt: int) -> float:
        """
        The wait before retry number ``attempt`` (from 1), jitter applied.
        """
        exponent = max(attempt - 1, 0)
        try:
            raw = self.base_delay * self.multiplier**exponent
        except OverflowError:
            raw = math.inf
        capped = min(raw, self.max_delay)
        return capped * (1 - self.jitter * self.rng())

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """
        The wait before retry number ``attempt``, honouring ``retry_after``.

        The server's ``Retry-After`` is capped at ``max_retry_after``; the
        wait is never shorter than the backoff.
        """
        wait = self.backoff(attempt)
        if retry_after is None:
            return wait

        return max(wait, min(max(retry_after, 0.0), self.max_retry_after))

    def decide(
        self,
        status: int | None,
        *,
        attempt: int,
        elapsed: float,
        retry_after: float | None = None,
    ) -> Decision:
        """
        What to do after a failure ending with ``status``.

        ``attempt`` is the number of the retry being considered (1 for the
        first); ``elapsed`` the seconds since the first failure of this
        request.
        """
        if not self.retryable(status):
            return Decision(Verdict.REJECT)

        wait = self.delay(attempt, retry_after)
        if elapsed + wait > self.give_up_after:
            return Decision(Verdict.GIVE_UP)

        return Decision(Verdict.RETRY, wait)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """
    Seconds to wait according to a ``Retry-After`` header.

    None when the header is absent or unreadable. The header holds either
    seconds or an HTTP date; ``now`` is the current Unix time, used for the
    date form.
    """
    if value is None:
        return None

    text = value.strip()
    if text.isdigit():
        return float(text)

    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return max(moment.timestamp() - now, 0.0)
