"""
Tests for cio_destination._errors.
"""

from __future__ import annotations

import pytest

import cio_destination
from cio_destination import InvalidEventError, Violation


def _violation(path: str) -> Violation:
    return Violation(path=path, rule="required", message=f"{path} is required")


def test_every_public_error_descends_from_the_base() -> None:
    """
    Catching CioDestinationError catches every error the package exports.
    """
    errors = [
        getattr(cio_destination, name)
        for name in cio_destination.__all__
        if name.endswith("Error")
    ]

    assert len(errors) >= 8
    for error in errors:
        assert issubclass(error, cio_destination.CioDestinationError)


def test_invalid_event_is_a_value_error_carrying_every_violation() -> None:
    """
    An invalid event is a ValueError that leads with the first violation.
    """
    error = InvalidEventError(
        "Object Deleted", [_violation("properties.objectId"), _violation("userId")]
    )

    assert isinstance(error, ValueError)
    assert error.event == "Object Deleted"
    assert [v.path for v in error.violations] == ["properties.objectId", "userId"]
    assert str(error) == "properties.objectId is required (and 1 more)"


def test_plugin_load_error_names_the_plugin() -> None:
    """
    A plugin that fails to load is named in the error and kept as an attribute.
    """
    error = cio_destination.PluginLoadError("geo", "No module named 'geo'")

    assert error.name == "geo"
    with pytest.raises(cio_destination.PluginError, match="'geo'"):
        raise error
