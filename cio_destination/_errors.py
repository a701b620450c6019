"""
The package's exceptions, one tree under :class:`CioDestinationError`.

::

    CioDestinationError
     +-- ConfigurationError (ValueError)    settings that cannot work
     +-- InvalidEventError (ValueError)     a message breaks an event's schema
     +-- DeliveryError                      Customer.io did not take an operation
     |    +-- DeliveryRejectedError         refused for good (400, 401, 207 item)
     |    +-- DeliveryGaveUpError           still failing when the retry budget ran out
     +-- OutboxError                        the durable outbox cannot be used
     +-- PluginError                        a pipeline plugin cannot be used
          +-- PluginLoadError               a named plugin failed to load

Third-party errors (requests, sqlite3, jsonschema) are translated into these at
one boundary each and chained with ``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cio_destination._model import Violation


class CioDestinationError(Exception):
    """
    The base of every error this package raises on purpose.
    """


class ConfigurationError(CioDestinationError, ValueError):
    """
    Settings that cannot work, such as a Track transport without an API key.
    """


class InvalidEventError(CioDestinationError, ValueError):
    """
    A message that breaks the schema of the semantic event it names.

    ``violations`` holds every problem found, the most relevant first; the
    message text leads with that one.
    """

    def __init__(self, event: str | None, violations: Sequence[Violation]) -> None:
        self.event = event
        self.violations = tuple(violations)
        first = self.violations[0].message if self.violations else "invalid event"
        more = len(self.violations) - 1
        suffix = f" (and {more} more)" if more > 0 else ""
        super().__init__(f"{first}{suffix}")


class DeliveryError(CioDestinationError):
    """
    Customer.io did not take an operation.
    """


class DeliveryRejectedError(DeliveryError):
    """
    Customer.io refused an operation for good; retrying cannot help.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class DeliveryGaveUpError(DeliveryError):
    """
    An operation was still failing when the retry budget ran out.

    What was not delivered stays in the outbox.
    """


class OutboxError(CioDestinationError):
    """
    The durable outbox cannot be opened, read or written.
    """


class PluginError(CioDestinationError):
    """
    A pipeline plugin cannot be used.
    """


class PluginLoadError(PluginError):
    """
    A plugin named in code or in the environment failed to load.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(f"plugin {name!r} failed to load: {reason}")
