"""
The destination's settings: credentials, region, endpoint and outbox.

Values given in code win; the ``CUSTOMERIO_*`` environment variables fill
what code leaves out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

from cio_destination._errors import ConfigurationError

Region = Literal["us", "eu"]
Transport = Literal["track", "pipelines"]
OnInvalid = Literal["drop", "raise", "pass"]

REGIONS: tuple[Region, ...] = ("us", "eu")
TRANSPORTS: tuple[Transport, ...] = ("track", "pipelines")
ON_INVALID: tuple[OnInvalid, ...] = ("drop", "raise", "pass")

_HOSTS: dict[tuple[Transport, Region], str] = {
    ("track", "us"): "https://track.customer.io",
    ("track", "eu"): "https://track-eu.customer.io",
    ("pipelines", "us"): "https://cdp.customer.io",
    ("pipelines", "eu"): "https://cdp-eu.customer.io",
}

#: Environment variable for each setting it can fill.
ENVIRONMENT = {
    "site_id": "CUSTOMERIO_SITE_ID",
    "api_key": "CUSTOMERIO_API_KEY",
    "write_key": "CUSTOMERIO_WRITE_KEY",
    "region": "CUSTOMERIO_REGION",
    "endpoint": "CUSTOMERIO_ENDPOINT",
    "outbox": "CUSTOMERIO_OUTBOX",
}


def base_url(transport: Transport, region: Region, endpoint: str | None) -> str:
    """
    The scheme and host that requests go to, without a trailing slash.

    ``endpoint``, when given, replaces the regional host (the emulator's URL,
    say).
    """
    if endpoint:
        return endpoint.rstrip("/")

    return _HOSTS[(transport, region)]


def _check_choice(name: str, choices: tuple[str, ...]) -> Any:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value not in choices:
            raise ConfigurationError(
                f"{name} must be one of {', '.join(choices)}; got {value!r}"
            )

    return check


def number_validator(
    name: str, low: float, high: float = float("inf"), *, integer: bool = False
) -> Any:
    """
    An attrs validator: a number (an integer if asked) from ``low`` to ``high``.

    It raises :class:`ConfigurationError` naming ``name``, the rule and the
    value.
    """
    noun = "an integer" if integer else "a number"
    limit = f"from {low:g}" if high == float("inf") else f"from {low:g} to {high:g}"

    def check(_instance: object, _attribute: object, value: object) -> None:
        in_range = (
            not isinstance(value, bool)
            and isinstance(value, int | float)
            and (isinstance(value, int) or not integer)
            and low <= value <= high
        )
        if not in_range:
            raise ConfigurationError(f"{name} must be {noun} {limit}; got {value!r}")

    return check


def _check_endpoint(_instance: object, _attribute: object, value: Any) -> None:
    if value is None:
        return

    if not isinstance(value, str):
        raise ConfigurationError(f"endpoint must be a URL; got {value!r}")

    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL carries a credential.
        raise ConfigurationError(
            "endpoint must not carry a user name or password; give credentials "
            "as site_id and api_key, or write_key"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"endpoint must be an http or https URL with a host; got {value!r}"
        )


@attrs.frozen
class Settings:
    """
    Where and how the Customer.io destination delivers.

    Give ``site_id`` and ``api_key`` for the Track API, or ``write_key`` for
    the Pipelines API. Keys never appear in the repr.
    """

    site_id: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    write_key: str | None = attrs.field(default=None, repr=False)
    region: Region = attrs.field(
        default="us", validator=_check_choice("region", REGIONS)
    )
    endpoint: str | None = attrs.field(default=None, validator=_check_endpoint)
    outbox: str | None = None
    on_invalid: OnInvalid = attrs.field(
        default="drop", validator=_check_choice("on_invalid", ON_INVALID)
    )
    #: Most operations in one request (bytes permitting).
    batch_size: int = attrs.field(
        default=100, validator=number_validator("batch_size", 1, 1000, integer=True)
    )
    #: Longest wait, in seconds, before what was accepted is sent.
    flush_interval: float = attrs.field(
        default=0.5, validator=number_validator("flush_interval", 0)
    )
    #: Most messages waiting in memory for the sender thread.
    max_queue: int = attrs.field(
        default=10_000, validator=number_validator("max_queue", 1, integer=True)
    )
    #: Seconds allowed for connecting to Customer.io, and for each read.
    timeout: float = attrs.field(
        default=10.0, validator=number_validator("timeout", 0.001)
    )

    @property
    def transport(self) -> Transport:
        """
        ``pipelines`` when a write key is set, otherwise ``track``.
        """
        return "pipelines" if self.write_key else "track"

    @property
    def base_url(self) -> str:
        """
        The scheme and host requests go to.
        """
        return base_url(self.transport, self.region, self.endpoint)

    @property
    def has_credentials(self) -> bool:
        """
        True when a write key, or a site id and an API key, are set.
        """
        return bool(self.write_key or (self.site_id and self.api_key))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Any
    ) -> Settings:
        """
        Build settings from ``options``, filling what is None from ``environ``.

        :raises ConfigurationError: an option is unknown or has a bad value.
        """
        env = os.environ if environ is None else environ
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )

        values = {name: value for name, value in options.items() if value is not None}
        for name, variable in ENVIRONMENT.items():
            if name not in values and env.get(variable):
                values[name] = env[variable]
        if "region" in values:
            values["region"] = str(values["region"]).lower()

        return cls(**values)
