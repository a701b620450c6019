"""
Fault injection: what share of requests fail, are throttled, dropped or slowed.

One random draw per API request picks its fate, before its body is looked at,
so a request that fails changes nothing but the request counters.
"""

from __future__ import annotations

import enum
import random
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from cio_destination._errors import ConfigurationError


def _rate(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, float) or not 0.0 <= value <= 1.0:
        raise ConfigurationError(
            f"{attribute.name} must be a number from 0 to 1; got {value!r}"
        )


def _non_negative(
    _instance: object, attribute: attrs.Attribute[int], value: int
) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"{attribute.name} must be a whole number from 0; got {value!r}"
        )


def _seed(
    _instance: object, attribute: attrs.Attribute[int | None], value: object
) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigurationError(
            f"{attribute.name} must be a whole number or null; got {value!r}"
        )


def _to_float(value: Any) -> Any:
    return (
        float(value)
        if isinstance(value, int) and not isinstance(value, bool)
        else value
    )


@attrs.frozen
class Faults:
    """
    How the emulator misbehaves, for testing clients; all off by default.

    ``fail_rate`` answers 500 or 503 (half each), ``throttle_rate`` answers
    429 with ``Retry-After: retry_after`` seconds, ``drop_rate`` closes the
    connection without an answer; the three rates add up to at most 1.
    ``latency_ms`` delays every API answer. ``seed`` makes the draws
    reproducible.

    :raises ConfigurationError: a rate outside 0..1, rates adding up to more
        than 1, or a negative ``retry_after`` or ``latency_ms``.
    """

    fail_rate: float = attrs.field(default=0.0, converter=_to_float, validator=_rate)
    throttle_rate: float = attrs.field(
        default=0.0, converter=_to_float, validator=_rate
    )
    retry_after: int = attrs.field(default=1, validator=_non_negative)
    latency_ms: int = attrs.field(default=0, validator=_non_negative)
    drop_rate: float = attrs.field(default=0.0, converter=_to_float, validator=_rate)
    seed: int | None = attrs.field(default=None, validator=_seed)

    def __attrs_post_init__(self) -> None:
        total = self.fail_rate + self.throttle_rate + self.drop_rate
        if total > 1.0 + 1e-9:  # 0.1 + 0.2 + 0.7 is a little over 1 in floats
            raise ConfigurationError(
                "fail_rate, throttle_rate and drop_rate must add up to at most 1; "
                f"got {total:g}"
            )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        """
        Faults from a JSON object; missing fields keep their defaults.

        :raises ConfigurationError: an unknown field or a bad value.
        """
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            listed = ", ".join(sorted(known))
            raise ConfigurationError(
                f"unknown fault setting {unknown[0]!r}; known: {listed}"
            )

        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise

            raise ConfigurationError(f"bad fault settings: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        """
        The settings as a JSON object.
        """
        return attrs.asdict(self)


class Fate(enum.Enum):
    """
    What a fault draw decided for one request.
    """

    SERVE = "serve"
    DROP = "drop"
    FAIL_500 = "500"
    FAIL_503 = "503"
    THROTTLE = "429"


class FaultDrawer:
    """
    Draws each request's fate from the current :class:`Faults`, thread-safely.
    """

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.set(faults)

    @property
    def faults(self) -> Faults:
        """
        The faults in force.
        """
        return self._faults

    def set(self, faults: Faults) -> None:
        """
        Put ``faults`` in force and restart the draws from its seed.
        """
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)

    def draw(self) -> Fate:
        """
        The fate of the next request.
        """
        with self._lock:
            faults = self._faults
            if not (faults.drop_rate or faults.fail_rate or faults.throttle_rate):
                return Fate.SERVE

            roll = self._random.random()

        if roll < faults.drop_rate:
            return Fate.DROP

        roll -= faults.drop_rate
        if roll < faults.fail_rate:
            return Fate.FAIL_500 if roll < faults.fail_rate / 2 else Fate.FAIL_503

        roll -= faults.fail_rate
        if roll < faults.throttle_rate:
            return Fate.THROTTLE

        return Fate.SERVE
