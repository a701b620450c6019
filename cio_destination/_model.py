"""
Value types shared by the core, delivery and the pipeline.

A Segment message goes in; an :class:`Evaluation` comes out, holding the
canonical message, every :class:`Violation` found, the warnings, and the
Customer.io :class:`Operation` values it stands for.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


@attrs.frozen
class Violation:
    """
    One way a message breaks its event's schema.

    ``path`` is the dotted JSON path of the field (``properties.objectId``);
    ``rule`` the schema keyword it breaks (``required``, ``enum``, ``type``,
    ...); ``value`` the offending value, or None when the field is missing;
    ``message`` a sentence naming the field, the rule and the value.
    """

    path: str
    rule: str
    message: str
    value: Any = None


class OperationKind(enum.Enum):
    """
    Which Customer.io endpoint an operation is written for.
    """

    #: One Track API v2 operation; batched under ``/api/v2/batch``.
    ENTITY = "entity"
    #: One Track API v1 delivery metric; each is its own request.
    METRIC = "metric"
    #: One Pipelines API track call; batched under ``/v1/batch``.
    PIPELINES = "pipelines"

    @property
    def path(self) -> str:
        """
        The path that takes one operation of this kind.
        """
        return _SINGLE_PATHS[self]

    @property
    def batch_path(self) -> str | None:
        """
        The path that takes many operations of this kind, if there is one.
        """
        return _BATCH_PATHS[self]


_SINGLE_PATHS = {
    OperationKind.ENTITY: "/api/v2/entity",
    OperationKind.METRIC: "/api/v1/metrics",
    OperationKind.PIPELINES: "/v1/track",
}
_BATCH_PATHS = {
    OperationKind.ENTITY: "/api/v2/batch",
    OperationKind.METRIC: None,
    OperationKind.PIPELINES: "/v1/batch",
}


@attrs.frozen
class Operation:
    """
    One request body for Customer.io, and what it acts on.

    ``body`` is the JSON body of a single-operation request to
    ``kind.path``. ``subject`` names the person, object or delivery it acts
    on (``person:id:42``, ``object:1:acme``, ``delivery:d-1``), so that
    order can be reasoned about per subject.
    """

    kind: OperationKind
    body: dict[str, Any]
    subject: str


@attrs.frozen
class Evaluation:
    """
    What the core made of one Segment message.

    ``semantic`` is the canonical semantic event name, or None for a message
    that is not a semantic event (which is valid and has no operations).
    ``message`` is the normalized copy with defaults filled; the caller's
    dict is never changed.
    """

    message: dict[str, Any]
    semantic: str | None
    errors: tuple[Violation, ...] = ()
    warnings: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()

    @property
    def valid(self) -> bool:
        """
        True when no violation was found.
        """
        return not self.errors
