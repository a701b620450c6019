"""
Tests for cio_destination._settings.
"""

from __future__ import annotations

import pytest

from cio_destination import ConfigurationError, Settings
from cio_destination._settings import base_url


@pytest.mark.parametrize(
    ("transport", "region", "expected"),
    [
        ("track", "us", "https://track.customer.io"),
        ("track", "eu", "https://track-eu.customer.io"),
        ("pipelines", "us", "https://cdp.customer.io"),
        ("pipelines", "eu", "https://cdp-eu.customer.io"),
    ],
    ids=["track-us", "track-eu", "pipelines-us", "pipelines-eu"],
)
def test_base_url_per_transport_and_region(
    transport: str, region: str, expected: str
) -> None:
    """
    Each transport and region resolves to Customer.io's documented host.
    """
    assert base_url(transport, region, None) == expected  # type: ignore[arg-type]


def test_endpoint_replaces_the_host() -> None:
    """
    An endpoint replaces the regional host, without a trailing slash.
    """
    settings = Settings(site_id="s", api_key="k", endpoint="http://127.0.0.1:9/")

    assert settings.base_url == "http://127.0.0.1:9"


def test_write_key_selects_the_pipelines_transport() -> None:
    """
    A write key means the Pipelines API; site id and API key mean Track.
    """
    assert Settings(write_key="w").transport == "pipelines"
    assert Settings(site_id="s", api_key="k").transport == "track"


def test_environment_fills_what_code_leaves_out() -> None:
    """
    CUSTOMERIO_* variables fill unset options and never override given ones.
    """
    environ = {
        "CUSTOMERIO_SITE_ID": "env-site",
        "CUSTOMERIO_API_KEY": "env-key",
        "CUSTOMERIO_REGION": "EU",
        "CUSTOMERIO_ENDPOINT": "http://127.0.0.1:1",
    }

    settings = Settings.from_env(environ, site_id="code-site")

    assert settings.site_id == "code-site"
    assert settings.api_key == "env-key"
    assert settings.region == "eu"
    assert settings.endpoint == "http://127.0.0.1:1"


def test_unknown_option_is_named() -> None:
    """
    A misspelt option is refused with its name, not silently ignored.
    """
    with pytest.raises(ConfigurationError, match="'site'"):
        Settings.from_env({}, site="s")


def test_bad_region_names_the_setting_and_value() -> None:
    """
    A region outside us and eu is refused with the setting and the value.
    """
    with pytest.raises(
        ConfigurationError, match=r"region must be one of us, eu; got 'ap'"
    ):
        Settings(region="ap")  # type: ignore[arg-type]


def test_keys_stay_out_of_the_repr() -> None:
    """
    Neither the API key nor the write key appears in the settings' repr.
    """
    settings = Settings(site_id="site", api_key="secret-api", write_key="secret-write")

    assert "secret-api" not in repr(settings)
    assert "secret-write" not in repr(settings)
    assert "site" in repr(settings)


def test_an_endpoint_carrying_credentials_is_refused_without_echoing_them() -> None:
    """
    An endpoint with a password is refused without repeating the password.
    """
    with pytest.raises(ConfigurationError, match="user name or password") as caught:
        Settings(write_key="w", endpoint="https://me:hunter2@proxy.example")

    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "endpoint", ["127.0.0.1:8787", "ftp://127.0.0.1", "http://"], ids=repr
)
def test_an_endpoint_that_is_not_an_http_url_is_named(endpoint: str) -> None:
    """
    An endpoint that is not an http(s) URL with a host is refused with its value.
    """
    with pytest.raises(ConfigurationError, match="http or https URL"):
        Settings(write_key="w", endpoint=endpoint)
