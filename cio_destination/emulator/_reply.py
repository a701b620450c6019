"""
What a request handler answers, before it becomes HTTP.
"""

from __future__ import annotations

from typing import Any

import attrs

from cio_destination._model import Violation


@attrs.frozen
class Reply:
    """
    A status, a JSON body (None for no body) and extra headers.
    """

    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


OK = Reply(200, {})


def track_errors(status: int, violations: list[Violation]) -> Reply:
    """
    A Track v2 error answer: ``{"errors": [{"reason", "field", "message"}]}``.
    """
    return Reply(
        status,
        {
            "errors": [
                {"reason": v.rule, "field": v.path, "message": v.message}
                for v in violations
            ]
        },
    )


def track_error(
    status: int,
    reason: str,
    field: str,
    message: str,
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    """
    A Track v2 answer holding one error.
    """
    return Reply(
        status,
        {"errors": [{"reason": reason, "field": field, "message": message}]},
        headers,
    )


def meta_errors(status: int, messages: list[str]) -> Reply:
    """
    A v1 or Pipelines error answer: ``{"meta": {"errors": [...]}}``.
    """
    return Reply(status, {"meta": {"errors": messages}})
