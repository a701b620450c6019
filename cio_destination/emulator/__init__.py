"""
A local Customer.io: a stateful emulator of the Track and Pipelines APIs.

Start it from Python (``with Emulator() as emulator: ...``) or from the
command line (``cio-destination emulate``), point a client at its URL, then
read what the client did from :meth:`Emulator.state` or
``GET /_emulator/state``. ``POST /_emulator/reset`` empties it, and
``GET``/``POST /_emulator/faults`` read and change the :class:`Faults` in
force. Neither control path sees faults or is counted.

Endpoints: Track ``POST /api/v2/entity``, ``POST /api/v2/batch``,
``POST /api/v1/metrics``, ``GET /api/v1/accounts/region`` and the v1 person
endpoints under ``/api/v1/customers/{identifier}`` (``PUT``/``DELETE``,
``PUT devices``, ``DELETE devices/{token}``, ``POST suppress``,
``unsuppress``, ``events``), with Basic auth ``site_id:api_key``; Pipelines
``POST /v1/identify|track|page|screen|group|alias|batch`` with Basic auth
``write_key:`` or a ``writeKey`` in the body, permissive unless the request
carries ``X-Strict-Mode: 1``.

The state is one JSON object; the same operations always give the same
state, as nothing in it comes from the server's clock (a missing timestamp
stays ``null`` where Customer.io would use the time of the request)::

    {
      "people": {                      # keyed by the identifier that created them
        "id:42": {
          "identifiers": {"id": "42", "email": "jane@example.com",
                          "cio_id": "3f0c..."},
          "attributes": {"plan": "pro", "email": "jane@example.com"}
        }
      },
      "devices": {                     # keyed by token
        "tok-1": {"owner": "id:42", "platform": "ios",
                  "last_used": 1700000000, "attributes": {}}
      },
      "objects": {                     # keyed by "object_type_id:object_id"
        "1:acme": {"object_type_id": "1", "object_id": "acme",
                   "cio_object_id": "ob9a1e...", "attributes": {"name": "Acme"}}
      },
      "relationships": [               # sorted
        {"object_type_id": "1", "object_id": "acme", "person": "id:42"}
      ],
      "relationship_attributes": {"1:acme": {"id:42": {"role": "admin"}}},
      "suppressed": ["email:jane@example.com", "id:42"],   # sorted
      "events": [                      # in arrival order
        {"person": "id:42", "type": "event", "name": "purchase", "id": null,
         "timestamp": 1700000000, "attributes": {"price": 10}}
      ],
      "metrics": [                     # in arrival order
        {"delivery_id": "d-1", "metric": "opened", "timestamp": null,
         "recipient": null, "reason": null, "href": null, "metadata": null}
      ],
      "requests": {"/api/v2/batch": {"200": 3, "207": 1, "429": 2, "dropped": 1}}
    }

A person is named ``kind:value`` (``id``, ``email`` lower-cased, ``phone``,
``cio_id``); an anonymous visitor's events and relationships use
``anonymous_id:value``. Events of type ``event``, ``page``, ``screen``,
``viewed_content`` and ``clicked_content`` share the ``events`` list; v2
``delivery`` operations, v1 metrics and ``Report Delivery Event`` share
``metrics``. ``requests`` counts answers by route template (such as
``/api/v1/customers/{identifier}``) and status, ``dropped`` for connections
closed by a fault.
"""

from cio_destination.emulator._faults import Faults
from cio_destination.emulator._server import (
    DEFAULT_API_KEY,
    DEFAULT_SITE_ID,
    DEFAULT_WRITE_KEY,
    Emulator,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_SITE_ID",
    "DEFAULT_WRITE_KEY",
    "Emulator",
    "Faults",
]
