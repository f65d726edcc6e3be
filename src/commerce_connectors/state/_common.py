"""Logic the state stores share: dead-letter keys, problem merging, lease decisions."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigurationError, InvalidRecordError
from ..protocols import DeadLetterProblem, Lease

__all__ = [
    "check_ttl",
    "dead_letter_key",
    "lease_renewed",
    "lease_taken",
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


class Redaction:
    """Which inbox events and dead letters a redaction erases: one rule for every store.

    A record matches by its (kind, id), or when its text holds one of the needles
    (case-insensitive: an email, a phone number); ``everything`` matches all.

    Example:
        >>> r = Redaction(["José@Example.com"], [("order", "7")], everything=False)
        >>> r.hits_payload("customer", "1", {"email": "josé@example.com"})
        True
        >>> r.hits_body("order", "7", b"{}"), r.hits_body("order", "8", b"{}")
        (True, False)
    """

    def __init__(
        self, needles: Iterable[str], records: Iterable[tuple[str, str]], *, everything: bool
    ) -> None:
        self.needles = [n.lower() for n in needles if n]
        self.records = set(records)
        self.everything = everything

    def _hits(self, kind: str | None, external_id: str | None, text: str) -> bool:
        return (
            self.everything
            or (kind, external_id) in self.records
            or any(n in text for n in self.needles)
        )

    def hits_body(self, kind: str | None, external_id: str | None, body: bytes) -> bool:
        """Whether an inbox event (its raw body) is to be erased."""
        return self._hits(kind, external_id, bytes(body).decode("utf-8", "replace").lower())

    def hits_payload(self, kind: str | None, record_id: str | None, payload: Any) -> bool:
        """Whether a dead letter (its decoded payload) is to be erased."""
        text = json.dumps(payload, ensure_ascii=False, default=str).lower()
        return self._hits(kind, record_id, text)


def redacted_outcome(outcome: str | None, *, pending: bool) -> str:
    """An event's outcome once a redaction erased its body."""
    if pending:
        return "cancelled: a redaction erased this event's data before it was applied"
    return f"{outcome or 'processed'} (body erased by a redaction)"


def check_ttl(ttl: _dt.timedelta) -> None:
    """A lease lasts a positive time.

    Raises:
        ConfigurationError: ``ttl`` is zero or negative.
    """
    if ttl <= _dt.timedelta(0):
        raise ConfigurationError(f"a lease's ttl must be positive, got {ttl}")


def lease_taken(
    held: Lease | None, connection_id: str, holder: str, ttl: _dt.timedelta, now: _dt.datetime
) -> Lease | None:
    """The lease after ``holder`` asks for it at ``now`` (``None``: someone else holds it).

    ``held`` is the stored lease (lapsed or not). The token grows when the
    lease changes hands or is taken again after it lapsed or was released.

    Example:
        >>> t = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
        >>> a = lease_taken(None, "c", "a", _dt.timedelta(seconds=30), t)
        >>> lease_taken(a, "c", "b", _dt.timedelta(seconds=30), t) is None
        True
        >>> later = t + _dt.timedelta(seconds=31)
        >>> lease_taken(a, "c", "b", _dt.timedelta(seconds=30), later).token
        2
    """
    check_ttl(ttl)
    live = held is not None and held.expires_at > now
    if held is not None and live and held.holder != holder:
        return None
    if held is not None and live:
        return Lease(connection_id, holder, held.token, held.acquired_at, now + ttl)
    token = 1 if held is None else held.token + 1
    return Lease(connection_id, holder, token, now, now + ttl)


def lease_renewed(
    held: Lease | None, lease: Lease, ttl: _dt.timedelta, now: _dt.datetime
) -> Lease | None:
    """The lease after its holder renews it at ``now`` (``None``: lost to another holder)."""
    check_ttl(ttl)
    if held is None or (held.holder, held.token) != (lease.holder, lease.token):
        return None
    if held.expires_at <= held.acquired_at:
        return None  # released
    return Lease(held.connection_id, held.holder, held.token, held.acquired_at, now + ttl)
