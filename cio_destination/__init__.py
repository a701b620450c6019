"""
Validated, durable delivery of Customer.io semantic events.

Two lines put it into an app that sends analytics with
``segment-analytics-python``::

    import cio_destination
    cio_destination.install(site_id="...", api_key="...")

The public names are re-exported here; the modules behind them are private.
The local Customer.io emulator is the public module
:mod:`cio_destination.emulator`.
"""

from cio_destination._core import evaluate
from cio_destination._destination import CustomerIODestination
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
from cio_destination._install import install, installed_pipeline, uninstall
from cio_destination._model import Evaluation, Operation, OperationKind, Violation
from cio_destination._pipeline import Pipeline, Plugin, PluginType
from cio_destination._plugins import CustomerIOPlugin, RecordingPlugin
from cio_destination._retry import RetryPolicy
from cio_destination._schemas import event_schemas, schema_examples
from cio_destination._sender import Counters
from cio_destination._settings import Settings

__all__ = [
    "CioDestinationError",
    "ConfigurationError",
    "Counters",
    "CustomerIODestination",
    "CustomerIOPlugin",
    "DeliveryError",
    "DeliveryGaveUpError",
    "DeliveryRejectedError",
    "Evaluation",
    "InvalidEventError",
    "Operation",
    "OperationKind",
    "OutboxError",
    "Pipeline",
    "Plugin",
    "PluginError",
    "PluginLoadError",
    "PluginType",
    "RecordingPlugin",
    "RetryPolicy",
    "Settings",
    "Violation",
    "evaluate",
    "event_schemas",
    "install",
    "installed_pipeline",
    "schema_examples",
    "uninstall",
]
