"""Retry policy: which failures to retry, how long to wait, and when to give up.

Pure decisions, no sleeping: the engine asks :meth:`RetryPolicy.decide` for a wait and
sleeps on its injected clock, so an async engine could share the policy unchanged.

Waits come from the server when it says how long (``Retry-After`` as integer or decimal
seconds or an HTTP-date, ``retry-after-ms``, BigCommerce ``X-Retry-After`` and
``X-Rate-Limit-Time-Reset-Ms``, Tiendanube ``x-rate-limit-reset`` in milliseconds) and
from exponential backoff with jitter otherwise. Two caps bound a call: the number of
attempts and the total time spent waiting between them. When the server asks for a
wait longer than what is left of that budget, the policy gives up at once (the
exception carries ``retry_after`` so a scheduler can come back later) instead of
sleeping and failing anyway.

Example:
    >>> import random
    >>> policy = RetryPolicy(max_attempts=4, base_delay=1.0, jitter=0.0, rng=random.Random(0))
    >>> [policy.backoff(n) for n in (1, 2, 3)]
    [1.0, 2.0, 4.0]
    >>> policy.decide(attempt=1, waited=0.0, server_wait=2.5)
    2.5
    >>> policy.decide(attempt=4, waited=0.0, server_wait=None) is None  # attempts spent
    True
"""

from __future__ import annotations

import datetime as _dt
import math
import random
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Final, Literal

import attrs

from . import constants as c

__all__ = [
    "BIGCOMMERCE_WAIT_HEADERS",
    "DEFAULT_WAIT_HEADERS",
    "TIENDANUBE_WAIT_HEADERS",
    "RetryPolicy",
    "WaitHeader",
    "parse_wait_value",
]

WaitUnit = Literal["seconds", "milliseconds"]


@attrs.frozen
class WaitHeader:
    """A response header that tells how long to wait before retrying.

    Attributes:
        name: the header's name (compared case-insensitively).
        unit: ``"seconds"`` (integer, decimal or HTTP-date) or ``"milliseconds"``.
        rate_limit_only: trust it only on a rate-limited answer (429). Set this for headers
            a platform sends on *every* response (BigCommerce's window reset), which would
            otherwise make a 500 wait for the end of the rate-limit window.
    """

    name: str
    unit: WaitUnit = "seconds"
    rate_limit_only: bool = False


#: Generic wait headers, tried in order: the first one present and valid wins.
DEFAULT_WAIT_HEADERS: Final = (
    WaitHeader("retry-after-ms", "milliseconds"),
    WaitHeader("Retry-After"),
    WaitHeader(c.BIGCOMMERCE_RETRY_AFTER_HEADER),
)

#: BigCommerce: ``X-Retry-After`` (s) then the window reset (ms), the latter on 429 only.
BIGCOMMERCE_WAIT_HEADERS: Final = (
    *DEFAULT_WAIT_HEADERS,
    WaitHeader(c.BIGCOMMERCE_TIME_RESET_MS_HEADER, "milliseconds", rate_limit_only=True),
)

#: Tiendanube: ``x-rate-limit-reset`` is the time until the bucket is *empty* (ms). Waiting
#: for all of it after a 429 is more than needed, but it is the only signal and it is safe.
TIENDANUBE_WAIT_HEADERS: Final = (
    *DEFAULT_WAIT_HEADERS,
    WaitHeader(c.TIENDANUBE_RESET_MS_HEADER, "milliseconds", rate_limit_only=True),
)


def parse_wait_value(value: str, unit: WaitUnit = "seconds", *, now: _dt.datetime) -> float | None:
    """Parse one wait header value into seconds, or ``None`` when it is not valid.

    Args:
        value: the header value: ``"2"``, ``"2.5"``, an HTTP-date, ``"1500"`` (ms).
        unit: how to read a number; an HTTP-date is accepted in ``"seconds"`` mode only.
        now: the current wall-clock time (aware), to turn an HTTP-date into a delay.

    Returns:
        Seconds to wait (never negative: a date in the past means "now"), or ``None``.

    Example:
        >>> now = _dt.datetime(2015, 10, 21, 7, 27, 58, tzinfo=_dt.timezone.utc)
        >>> parse_wait_value("2.5", now=now), parse_wait_value("1500", "milliseconds", now=now)
        (2.5, 1.5)
        >>> parse_wait_value("Wed, 21 Oct 2015 07:28:00 GMT", now=now)
        2.0
    """
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0:
            return None
        return number / 1000.0 if unit == "milliseconds" else number
    if unit != "seconds":
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _check_positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


def _wait_headers(value: Iterable[WaitHeader]) -> tuple[WaitHeader, ...]:
    # A typed converter (not bare ``tuple``) so mypy accepts any iterable of WaitHeader.
    return tuple(value)


@attrs.frozen
class RetryPolicy:
    """Bounded retries with exponential backoff, jitter and ``Retry-After``.

    Only retriable failures reach the policy (the engine decides which: 429 always;
    5xx, malformed bodies and timeouts after sending only for idempotent requests;
    connect errors always, since the request never left).

    Attributes:
        max_attempts: attempts in all, the first included (1 disables retries).
        max_total_wait: seconds one call may spend waiting between attempts in all.
        base_delay: the first backoff for server and transport errors.
        rate_limit_base_delay: the first backoff for a 429 that says nothing about when to
            come back (platform load: BigCommerce and Shopify both advise waiting >= 1 s).
        multiplier: growth factor between attempts.
        max_delay: ceiling of one computed backoff (server-requested waits are not capped
            by it, only by ``max_total_wait``).
        jitter: fraction of each backoff that is random: the wait is drawn uniformly in
            ``[delay * (1 - jitter), delay]`` so that threads and stores do not retry in step.
        wait_headers: headers read, in order, for a server-requested wait.
        rng: the random source of the jitter; pass ``random.Random(seed)`` in tests.

    Example:
        >>> RetryPolicy.no_retry().max_attempts
        1
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    max_total_wait: float = attrs.field(default=120.0, validator=_check_positive)
    base_delay: float = attrs.field(default=0.5, validator=_check_positive)
    rate_limit_base_delay: float = attrs.field(default=1.0, validator=_check_positive)
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1.0))
    max_delay: float = attrs.field(default=30.0, validator=_check_positive)
    jitter: float = attrs.field(
        default=0.5, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    wait_headers: tuple[WaitHeader, ...] = attrs.field(
        default=DEFAULT_WAIT_HEADERS, converter=_wait_headers
    )
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int, *, rate_limited: bool = False) -> float:
        """Return the jittered backoff after failed attempt number ``attempt`` (1-based)."""
        base = self.rate_limit_base_delay if rate_limited else self.base_delay
        delay = min(self.max_delay, base * self.multiplier ** max(0, attempt - 1))
        if self.jitter:
            delay *= 1.0 - self.jitter * self.rng.random()
        return delay

    def server_wait(
        self, headers: Mapping[str, str], *, status_code: int | None, now: _dt.datetime
    ) -> float | None:
        """Return the wait the server asked for, in seconds, or ``None`` if it did not say.

        Args:
            headers: the response headers (a case-insensitive mapping such as httpx.Headers).
            status_code: the response status (headers marked ``rate_limit_only`` are read on
                429 only).
            now: the current wall-clock time, for HTTP-dates.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        for header in self.wait_headers:
            if header.rate_limit_only and status_code != 429:
                continue
            raw = lowered.get(header.name.lower())
            if raw is None:
                continue
            wait = parse_wait_value(raw, header.unit, now=now)
            if wait is not None:
                return wait
        return None

    def decide(
        self,
        *,
        attempt: int,
        waited: float,
        server_wait: float | None,
        rate_limited: bool = False,
    ) -> float | None:
        """Return how long to wait before the next attempt, or ``None`` to give up.

        Args:
            attempt: the attempt that just failed (1-based).
            waited: seconds already spent waiting between attempts of this call.
            server_wait: the wait the server asked for, if it did.
            rate_limited: whether the failure was a rate limit (429 / throttled).
        """
        if attempt >= self.max_attempts:
            return None
        remaining = self.max_total_wait - waited
        if server_wait is not None:
            # The server knows best; but waiting past the budget only to give up then is
            # pointless: give up now and let the caller come back after retry_after.
            return server_wait if server_wait <= remaining else None
        if remaining <= 0:
            return None
        return min(self.backoff(attempt, rate_limited=rate_limited), remaining)
