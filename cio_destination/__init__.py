"""
Validated, durable delivery of Customer.io semantic events.

The public names are re-exported here; the modules behind them are private.
"""

from cio_destination._core import evaluate
from cio_destination._errors import (
    CioDestinationError,
    ConfigurationError,
    DeliveryError,
    DeliveryGaveUpError,
    DeliveryRejectedError,
    InvalidEventError,
    OutboxError,
    PluginError,
    PluginLoadError,
)
from cio_destination._model import Evaluation, Operation, OperationKind, Violation
from cio_destination._schemas import event_schemas, schema_examples
from cio_destination._settings import Settings

__all__ = [
    "CioDestinationError",
    "ConfigurationError",
    "DeliveryError",
    "DeliveryGaveUpError",
    "DeliveryRejectedError",
    "Evaluation",
    "InvalidEventError",
    "Operation",
    "OperationKind",
    "OutboxError",
    "PluginError",
    "PluginLoadError",
    "Settings",
    "Violation",
    "evaluate",
    "event_schemas",
    "schema_examples",
]
