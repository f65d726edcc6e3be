"""BigCommerce's retry policy: short retries for transient failures, long ones for a 500
that repeats.

BigCommerce's status-codes page asks, for a **500**: "Re-attempt the request three to
five times, with increasing delays of at least a minute between attempts". Applied to
every failure, that advice makes a sync crawl: under a steady 10 % of random 5xx
answers each failed request costs one to two minutes, and a large store never
finishes. Gateway errors (502, 503, 504), timeouts and dropped connections are not 500s:
they are the network or a proxy, and a retry a second later usually succeeds. A single
500 is just as often a one-off. So:

* a 502/503/504, a timeout, a reset, a malformed body or a call's **first** 500: a short
  exponential backoff (about 1 s, 2 s, 4 s ... capped at 30 s, jittered), the server's
  ``Retry-After`` when it gives one;
* a **repeated** 500 (the call already got a 500): BigCommerce's advice, at least a
  minute and increasing (60-120 s, 120-240 s, then 150-300 s), at most five
  re-attempts after the first 500, and never shortened to fit the call's budget;
* a 429: unchanged (the window's reset time, or a progressive backoff from 1 s).

The engine asks the policy twice per failed attempt, in this order, on the calling
thread: :meth:`~commerce_connectors._http.RetryPolicy.server_wait` (only when a response
came, with its status) and then :meth:`~commerce_connectors._http.RetryPolicy.decide`.
The policy notes the status in the first call and reads it in the second, per thread
(one call runs on one thread), so it needs nothing new from the shared engine. A
failure without a response (a timeout, a reset) never reaches ``server_wait`` and reads
as transient.

Example:
    >>> import datetime as dt, random
    >>> policy = BigCommerceRetryPolicy(rng=random.Random(1), jitter=0.0)
    >>> now = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    >>> def fail(attempt: int, status: int | None) -> float | None:
    ...     if status is not None:
    ...         policy.server_wait({}, status_code=status, now=now)
    ...     return policy.decide(attempt=attempt, waited=0.0, server_wait=None)
    >>> fail(1, 503), fail(2, None), fail(3, 502)  # transient: short
    (1.0, 2.0, 4.0)
    >>> fail(1, 500), fail(2, 500), fail(3, 500)  # the first 500 short, then >= 1 minute
    (1.0, 120.0, 240.0)
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from ..._http import BIGCOMMERCE_WAIT_HEADERS, RetryPolicy, WaitHeader
from ..._http import constants as _hc
from . import constants as c

__all__ = ["WAIT_HEADERS", "BigCommerceRetryPolicy"]

_SERVER_ERROR = 500

#: On a 429 the window's reset time is the exact wait ("on 429, wait
#: X-Rate-Limit-Time-Reset-Ms"); X-Retry-After is the same rounded up to whole seconds,
#: so it comes second. A 429 with neither header is platform load: the policy then
#: backs off progressively from ``rate_limit_base_delay``.
WAIT_HEADERS: tuple[WaitHeader, ...] = (
    WaitHeader(_hc.BIGCOMMERCE_TIME_RESET_MS_HEADER, "milliseconds", rate_limit_only=True),
    *(h for h in BIGCOMMERCE_WAIT_HEADERS if h.name != _hc.BIGCOMMERCE_TIME_RESET_MS_HEADER),
)


@attrs.frozen
class BigCommerceRetryPolicy(RetryPolicy):
    """A :class:`~commerce_connectors._http.RetryPolicy` that tells a repeated 500 apart.

    The inherited fields keep their meaning for transient failures and 429s
    (``base_delay``, ``max_delay``, ``multiplier``, ``jitter``, ``max_attempts``,
    ``max_total_wait``, ``wait_headers``); the defaults are BigCommerce's (see the module
    docstring and :mod:`~commerce_connectors.platforms.bigcommerce.constants`), the wait
    headers :data:`WAIT_HEADERS`.

    Attributes:
        server_error_base_delay: the first long wait, before jitter (a repeated 500).
        server_error_max_delay: the ceiling of one long wait, before jitter.
        server_error_retries: re-attempts allowed after a call's first 500.

    Example:
        >>> policy = BigCommerceRetryPolicy()
        >>> policy.max_attempts, policy.server_error_retries
        (8, 5)
    """

    max_attempts: int = attrs.field(default=c.RETRY_MAX_ATTEMPTS, validator=attrs.validators.ge(1))
    max_total_wait: float = attrs.field(
        default=c.RETRY_MAX_TOTAL_WAIT_SECONDS, validator=attrs.validators.ge(0.0)
    )
    base_delay: float = attrs.field(
        default=c.TRANSIENT_BASE_DELAY_SECONDS, validator=attrs.validators.ge(0.0)
    )
    max_delay: float = attrs.field(
        default=c.TRANSIENT_MAX_DELAY_SECONDS, validator=attrs.validators.ge(0.0)
    )
    server_error_base_delay: float = attrs.field(
        default=c.SERVER_ERROR_BASE_DELAY_SECONDS, validator=attrs.validators.ge(0.0)
    )
    server_error_max_delay: float = attrs.field(
        default=c.SERVER_ERROR_MAX_DELAY_SECONDS, validator=attrs.validators.ge(0.0)
    )
    server_error_retries: int = attrs.field(
        default=c.SERVER_ERROR_MAX_RETRIES, validator=attrs.validators.ge(0)
    )
    wait_headers: tuple[WaitHeader, ...] = attrs.field(default=WAIT_HEADERS, converter=tuple)
    _calls: threading.local = attrs.field(factory=threading.local, init=False, eq=False, repr=False)

    def server_wait(
        self, headers: Mapping[str, str], *, status_code: int | None, now: _dt.datetime
    ) -> float | None:
        """The server's wait (as the base policy reads it); also notes the status."""
        self._calls.status = status_code
        return super().server_wait(headers, status_code=status_code, now=now)

    def server_error_backoff(self, repeat: int) -> float:
        """The jittered wait before re-attempt number ``repeat`` after repeated 500s (1-based)."""
        delay = min(
            self.server_error_max_delay,
            self.server_error_base_delay * self.multiplier ** max(0, repeat - 1),
        )
        if self.jitter:
            delay *= 1.0 - self.jitter * self.rng.random()
        return delay

    def decide(
        self,
        *,
        attempt: int,
        waited: float,
        server_wait: float | None,
        rate_limited: bool = False,
    ) -> float | None:
        """How long to wait before the next attempt, or ``None`` to give up (see the class)."""
        calls: Any = self._calls
        status = getattr(calls, "status", None)
        calls.status = None
        if attempt <= 1 or not hasattr(calls, "statuses"):
            calls.statuses = []
            calls.longest = 0.0
        statuses: list[int | None] = calls.statuses
        statuses.append(status)
        if rate_limited or status != _SERVER_ERROR:
            return super().decide(
                attempt=attempt, waited=waited, server_wait=server_wait, rate_limited=rate_limited
            )
        fives = statuses.count(_SERVER_ERROR)
        if fives == 1:  # a first 500: likely a one-off, retried like a gateway error
            return super().decide(attempt=attempt, waited=waited, server_wait=server_wait)
        if fives > self.server_error_retries or attempt >= self.max_attempts:
            return None
        # "Increasing delays": jitter may not undo the growth (the capped draws overlap).
        wait = max(self.server_error_backoff(fives - 1), server_wait or 0.0, calls.longest)
        calls.longest = wait
        # Never shortened to fit: waiting less than BigCommerce asks would defeat it.
        return wait if waited + wait <= self.max_total_wait else None
