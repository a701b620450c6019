"""
The core: one Segment message in, one :class:`Evaluation` out.

recognize -> normalize -> validate (defaults filled) -> translate. The same
path serves the destination plugin and the ``check`` command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cio_destination._catalogue import recognize
from cio_destination._errors import ConfigurationError
from cio_destination._model import Evaluation, Operation, Violation
from cio_destination._normalize import normalize
from cio_destination._settings import TRANSPORTS, Transport
from cio_destination._translate import to_pipelines, translate
from cio_destination._validate import validate


def evaluate(
    message: Mapping[str, Any],
    *,
    transport: Transport = "track",
    strict: bool = False,
) -> Evaluation:
    """
    Recognize, normalize, validate and translate one Segment message.

    A message that is not a semantic event is valid and has no operations.
    A semantic event gets every violation in ``errors`` and, only when it has
    none, the operations for ``transport``: Track API entity or metrics
    bodies, or one Pipelines track message. An alias of the docs is routed
    with a warning, or refused when ``strict`` is true. A near miss (``user
    deleted``) is an ordinary event with a "did you mean" warning, or an
    error when ``strict`` is true: in tests it is almost always a typo.
    ``message`` is never changed; ``Evaluation.message`` is the normalized
    copy.

    :raises ConfigurationError: ``transport`` is not ``track`` or
        ``pipelines``.
    """
    if transport not in TRANSPORTS:
        raise ConfigurationError(
            f"transport must be one of {', '.join(TRANSPORTS)}; got {transport!r}"
        )

    given: object = message
    if not isinstance(given, Mapping):
        return Evaluation(
            message={},
            semantic=None,
            errors=(
                Violation(
                    path="",
                    rule="type",
                    message=(
                        f"the message must be a JSON object; got {type(given).__name__}"
                    ),
                    value=given,
                ),
            ),
        )

    if message.get("type", "track") != "track":
        return Evaluation(message=dict(message), semantic=None)

    recognition = recognize(message.get("event"))
    event = recognition.canonical
    if event is None and strict and recognition.suggestion is not None:
        return Evaluation(
            message=dict(message),
            semantic=None,
            errors=(_near_miss_refused(recognition.name, recognition.suggestion),),
        )

    if event is None:
        warning = recognition.warning
        return Evaluation(
            message=dict(message),
            semantic=None,
            warnings=(warning,) if warning else (),
        )

    canonical, warnings = normalize(message, event)
    errors: list[Violation] = []
    if recognition.is_alias and strict:
        errors.append(
            Violation(
                path="event",
                rule="const",
                message=(
                    f"event {recognition.name!r} is an alias of {event!r}, "
                    "which strict mode refuses; send the canonical name"
                ),
                value=recognition.name,
            )
        )
    elif recognition.is_alias and recognition.warning:
        warnings.insert(0, recognition.warning)

    errors.extend(validate(canonical, event, transport))
    if errors:
        return Evaluation(
            message=canonical,
            semantic=event,
            errors=tuple(errors),
            warnings=tuple(warnings),
        )

    return Evaluation(
        message=canonical,
        semantic=event,
        warnings=tuple(warnings),
        operations=(_operation(canonical, event, transport),),
    )


def _near_miss_refused(name: object, suggestion: str) -> Violation:
    return Violation(
        path="event",
        rule="enum",
        message=(
            f"event {name!r} is not a Customer.io semantic event, which strict "
            f"mode refuses for a near miss; did you mean {suggestion!r}?"
        ),
        value=name,
    )


def _operation(
    message: Mapping[str, Any], event: str, transport: Transport
) -> Operation:
    if transport == "pipelines":
        return to_pipelines(message)

    return translate(message, event)
