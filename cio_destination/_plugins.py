"""
The built-in plugins.

:class:`CustomerIOPlugin` is the destination that validates and delivers
Customer.io semantic events; it is registered as ``customerio``.
:class:`RecordingPlugin` stands in for it where nothing may be sent, keeping
what would have been; the pytest fixtures use it.

Both act on ``track`` messages whose event the catalogue recognizes (a
semantic event, an alias of one, or a near miss worth a "did you mean");
everything else passes in a dictionary lookup. Both are skipped for a
message whose ``integrations`` turn ``Customer.io`` off.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cio_destination._catalogue import recognize
from cio_destination._core import evaluate
from cio_destination._errors import ConfigurationError, InvalidEventError
from cio_destination._model import Evaluation, Operation
from cio_destination._pipeline import Message, PluginType
from cio_destination._settings import TRANSPORTS, Transport

if TYPE_CHECKING:
    from cio_destination._destination import CustomerIODestination

__all__ = ["INTEGRATION", "CustomerIOPlugin", "RecordingPlugin"]

#: The key of the Customer.io destination in a message's ``integrations``.
INTEGRATION = "Customer.io"


def _concerns_customerio(message: Message) -> bool:
    if message.get("type") != "track":
        return False

    recognition = recognize(message.get("event"))
    return recognition.canonical is not None or recognition.suggestion is not None


class CustomerIOPlugin:
    """
    The destination plugin that hands semantic events to Customer.io.

    Give a ready :class:`CustomerIODestination`, or the options to build one
    (``site_id``, ``api_key``, ``write_key``, ``region``, ``endpoint``,
    ``outbox``, ``on_invalid``, ``retry``, ``on_error``), which the
    ``CUSTOMERIO_*`` environment variables complete.

    :raises ConfigurationError: both a destination and options are given, or
        the options cannot work.
    """

    type = PluginType.DESTINATION
    name = "customerio"
    integration = INTEGRATION

    def __init__(
        self, destination: CustomerIODestination | None = None, **options: Any
    ) -> None:
        if destination is not None and options:
            raise ConfigurationError(
                "CustomerIOPlugin takes a destination or the options to build one, "
                f"not both; got options {', '.join(sorted(options))}"
            )

        if destination is None:
            # Imported here: the recorder and the pytest fixtures, which use
            # this module, need none of the delivery machinery.
            from cio_destination._destination import CustomerIODestination

            destination = CustomerIODestination(**options)
        self.destination = destination

    def __repr__(self) -> str:
        return f"<CustomerIOPlugin {self.destination.settings!r}>"

    def process(self, message: Message) -> Message:
        """
        Submit a semantic event to the destination; pass every message on.

        :raises InvalidEventError: the event is invalid and the destination's
            ``on_invalid`` is ``"raise"``.
        """
        if _concerns_customerio(message):
            self.destination.submit(message)

        return message

    def flush(self, timeout: float | None = None) -> bool:
        """
        Wait until what was submitted is delivered; False on timeout.
        """
        return self.destination.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """
        Flush within ``timeout`` and stop the destination.
        """
        self.destination.shutdown(timeout)


class RecordingPlugin:
    """
    A Customer.io destination that keeps what it would send and sends nothing.

    Each semantic event is evaluated for ``transport`` as it arrives. When
    ``strict`` (the default), aliases are refused and an invalid event
    raises, as ``on_invalid="raise"`` does.

    :raises ConfigurationError: ``transport`` is not ``track`` or
        ``pipelines``.
    """

    type = PluginType.DESTINATION
    name = "customerio-recorder"
    integration = INTEGRATION

    def __init__(self, *, transport: Transport = "track", strict: bool = True) -> None:
        if transport not in TRANSPORTS:
            raise ConfigurationError(
                f"transport must be one of {', '.join(TRANSPORTS)}; got {transport!r}"
            )

        self.transport = transport
        self.strict = strict
        self._evaluations: list[Evaluation] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"<RecordingPlugin transport={self.transport!r} "
            f"evaluations={len(self._evaluations)}>"
        )

    def process(self, message: Message) -> Message:
        """
        Evaluate and keep a semantic event; pass every message on.

        :raises InvalidEventError: when strict, the event is invalid.
        """
        if not _concerns_customerio(message):
            return message

        evaluation = evaluate(message, transport=self.transport, strict=self.strict)
        with self._lock:
            self._evaluations.append(evaluation)
        if self.strict and evaluation.errors:
            raise InvalidEventError(
                evaluation.semantic or message.get("event"), evaluation.errors
            )

        return message

    @property
    def evaluations(self) -> tuple[Evaluation, ...]:
        """
        Every evaluation, valid or not, in the order the messages came.
        """
        with self._lock:
            return tuple(self._evaluations)

    @property
    def sent(self) -> tuple[Evaluation, ...]:
        """
        The evaluations of the valid semantic events: what would be sent.
        """
        return tuple(each for each in self.evaluations if each.valid and each.semantic)

    @property
    def events(self) -> list[str]:
        """
        The canonical names of the events that would be sent, in order.
        """
        return [each.semantic for each in self.sent if each.semantic]

    @property
    def operations(self) -> list[Operation]:
        """
        The Customer.io operations that would be sent, in order.
        """
        return [operation for each in self.sent for operation in each.operations]

    def clear(self) -> None:
        """
        Forget everything recorded so far.
        """
        with self._lock:
            self._evaluations.clear()
