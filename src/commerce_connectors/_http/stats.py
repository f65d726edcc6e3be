"""Counters and events of the HTTP engine, for sync reports and benchmarks.

One :class:`HttpStats` per engine (or shared by several, it is thread-safe) counts
calls, attempts, responses by status, retries, 429s, transport errors and the time
spent waiting in the rate limiter and in backoff. An optional event callback receives
one :class:`HttpEvent` per notable step, with URLs already redacted.

Example:
    >>> stats = HttpStats()
    >>> stats.record_response(200)
    >>> stats.record_response(429)
    >>> stats.snapshot()["responses"], stats.snapshot()["rate_limited"]
    ({200: 1, 429: 1}, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

import attrs

__all__ = ["EventKind", "HttpEvent", "HttpStats"]

EventKind = Literal[
    "response",
    "transport_error",
    "rate_limit_wait",
    "rate_limit_waiting",
    "retry",
    "give_up",
    "page",
]


@attrs.frozen
class HttpEvent:
    """One step of the engine's work, as told to an ``on_event`` callback.

    Attributes:
        kind: ``response``, ``transport_error``, ``rate_limit_waiting`` (the rate
            limiter is about to wait ``wait`` seconds), ``rate_limit_wait`` (it waited
            ``wait`` seconds), ``retry``, ``give_up`` or ``page``.
        platform: the engine's platform.
        method: the HTTP method.
        url: the request URL, redacted.
        attempt: the attempt number (1-based).
        status_code: the response status, when there was a response.
        wait: seconds waited or about to be waited (``rate_limit_wait``, ``retry``).
        elapsed: seconds the attempt took, on the engine clock.
        error: the redacted error text (``transport_error``, ``retry``, ``give_up``).
    """

    kind: EventKind
    platform: str
    method: str
    url: str
    attempt: int = 1
    status_code: int | None = None
    wait: float | None = None
    elapsed: float | None = None
    error: str | None = None


#: The callback type: called synchronously, from whichever thread made the request.
EventCallback = Callable[[HttpEvent], None]


@attrs.define
class HttpStats:
    """Thread-safe counters of one engine.

    Attributes:
        calls: logical requests (one per ``request()``/``send()``, retries excluded).
        attempts: HTTP attempts made (each retry counts).
        responses: responses by status code.
        retries: attempts that were retried.
        rate_limited: 429 responses (and GraphQL ``THROTTLED`` answers).
        transport_errors: attempts that got no response.
        malformed: 2xx responses whose body was not the JSON expected.
        give_ups: calls that failed after their retries (or were not retriable).
        pages: pages yielded by ``paginate()``.
        rate_limit_wait: seconds spent waiting in the rate limiter.
        backoff_wait: seconds spent waiting between attempts.
    """

    calls: int = 0
    attempts: int = 0
    responses: dict[int, int] = attrs.field(factory=dict)
    retries: int = 0
    rate_limited: int = 0
    transport_errors: int = 0
    malformed: int = 0
    give_ups: int = 0
    pages: int = 0
    rate_limit_wait: float = 0.0
    backoff_wait: float = 0.0
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False, eq=False)

    def add(self, **counters: float) -> None:
        """Add to numeric counters by name (``stats.add(retries=1, backoff_wait=2.0)``)."""
        with self._lock:
            for name, amount in counters.items():
                if name == "responses" or name.startswith("_") or not hasattr(self, name):
                    raise AttributeError(f"HttpStats has no counter {name!r}")
                setattr(self, name, getattr(self, name) + amount)

    def record_response(self, status_code: int) -> None:
        """Count one response (and a rate-limited one when it is a 429)."""
        with self._lock:
            self.responses[status_code] = self.responses.get(status_code, 0) + 1
            if status_code == 429:
                self.rate_limited += 1

    def snapshot(self) -> dict[str, Any]:
        """Return a consistent copy of every counter as a plain dict."""
        with self._lock:
            return {
                "calls": self.calls,
                "attempts": self.attempts,
                "responses": dict(sorted(self.responses.items())),
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "transport_errors": self.transport_errors,
                "malformed": self.malformed,
                "give_ups": self.give_ups,
                "pages": self.pages,
                "rate_limit_wait": self.rate_limit_wait,
                "backoff_wait": self.backoff_wait,
            }

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self.calls = self.attempts = self.retries = self.rate_limited = 0
            self.transport_errors = self.malformed = self.give_ups = self.pages = 0
            self.responses = {}
            self.rate_limit_wait = self.backoff_wait = 0.0
