"""Logic both state stores share: dead-letter keys and problem merging."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidRecordError
from ..protocols import DeadLetterProblem

__all__ = [
    "dead_letter_key",
    "merge_problems",
    "problems_from_data",
    "problems_to_data",
    "redacted_outcome",
    "stored_headers",
]


def dead_letter_key(error: InvalidRecordError) -> str:
    """The record id, or a fingerprint of the payload when the id could not be read."""
    if error.record_id is not None:
        return error.record_id
    text = json.dumps(error.payload, sort_keys=True, default=str)
    return "payload:" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def merge_problems(
    held: Iterable[DeadLetterProblem], error: InvalidRecordError, at: _dt.datetime
) -> tuple[DeadLetterProblem, ...]:
    """Every bad field ever seen for a record, each with its first and last sighting."""
    by_key = {(p.path, p.reason): p for p in held}
    for problem in error.problems:
        old = by_key.get((problem.path, problem.reason))
        first = old.first_seen if old is not None else at
        by_key[(problem.path, problem.reason)] = DeadLetterProblem(
            problem.path, problem.reason, first, at
        )
    return tuple(sorted(by_key.values(), key=lambda p: (p.path, p.reason)))


def problems_to_data(problems: Iterable[DeadLetterProblem]) -> list[dict[str, Any]]:
    """Problems as JSON-able data."""
    return [
        {
            "path": p.path,
            "reason": p.reason,
            "first_seen": p.first_seen.isoformat(),
            "last_seen": p.last_seen.isoformat(),
        }
        for p in problems
    ]


def problems_from_data(data: Iterable[Mapping[str, Any]]) -> tuple[DeadLetterProblem, ...]:
    """The inverse of :func:`problems_to_data`."""
    return tuple(
        DeadLetterProblem(
            p["path"],
            p["reason"],
            _dt.datetime.fromisoformat(p["first_seen"]),
            _dt.datetime.fromisoformat(p["last_seen"]),
        )
        for p in data
    )


#: Header names never kept with a stored event: signatures (useless once verified)
#: and anything that may carry credentials a platform was told to send.
_DROPPED_HEADER_PARTS = ("signature", "hmac", "authorization", "cookie", "token", "secret")


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping with an inbox event: no signatures, no credentials.

    Example:
        >>> stored_headers({"x-shopify-topic": "orders/create", "x-shopify-hmac-sha256": "x"})
        {'x-shopify-topic': 'orders/create'}
    """
    return {
        name: value
        for name, value in headers.items()
        if not any(part in name.lower() for part in _DROPPED_HEADER_PARTS)
    }


def redacted_outcome(outcome: str | None, *, pending: bool) -> str:
    """An event's outcome once a redaction erased its body."""
    if pending:
        return "cancelled: a redaction erased this event's data before it was applied"
    return f"{outcome or 'processed'} (body erased by a redaction)"
