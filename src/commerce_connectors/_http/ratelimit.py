"""Rate limiters driven by the platform's own signals, shared by every stream of one store.

A limiter sits in front of every request to one store: :meth:`RateLimiter.acquire` is
called before each attempt and sleeps (on the injected clock) until the request may go;
:meth:`RateLimiter.observe` is called with the response's headers and parsed body and
re-synchronises the limiter's model with what the server says; :meth:`RateLimiter.cancel`
is called instead when no response arrived. The engine guarantees exactly one
``observe`` or ``cancel`` per ``acquire``.

Every limiter

* slows down *before* the budget runs out (it never waits for a 429 to learn);
* bursts while capacity remains, then paces at the rate the budget refills;
* keeps a small safety margin (other apps share the store's budget);
* is thread-safe, so one instance serves every stream and worker thread of a store; and
* records the time it made callers wait (:attr:`waited`, :attr:`waits`).

Implementations:

=============================  ==============================================================
:class:`LeakyBucketLimiter`    a bucket that leaks at a steady rate. Reads Shopify's
                               ``X-Shopify-Shop-Api-Call-Limit: 32/40``
                               (:class:`CallLimitHeader`) or Tiendanube's ``x-rate-limit-limit``
                               / ``-remaining`` / ``-reset`` (ms to empty, which also reveals
                               the leak rate; :class:`RemainingResetHeaders`). Without a
                               header reader it is a plain client-side pacer (e.g. 5 req/s for
                               ActiveCampaign).
:class:`WindowQuotaLimiter`    a fixed quota per time window (BigCommerce
                               ``X-Rate-Limit-Requests-Left`` / ``-Quota`` / ``-Time-Reset-Ms``
                               / ``-Time-Window-Ms``).
:class:`GraphQLCostLimiter`    Shopify GraphQL calculated query cost from the body's
                               ``extensions.cost``; paces so the next query's expected cost is
                               available and tells callers how big a page may be.
=============================  ==============================================================

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> clock = FakeClock()
    >>> bucket = LeakyBucketLimiter.shopify(clock=clock)
    >>> bucket.acquire()  # an empty bucket: no wait
    0.0
    >>> bucket.observe({"X-Shopify-Shop-Api-Call-Limit": "39/40"})
    >>> round(bucket.acquire(), 3)  # 39 used, 2 kept in reserve: wait for 2 to leak at 2/s
    1.0
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from ..clock import Clock, SystemClock
from ..errors import ConfigurationError
from . import constants as c
from .request import get_path

__all__ = [
    "BucketHeaderReader",
    "BucketReading",
    "CallLimitHeader",
    "GraphQLCostLimiter",
    "GraphQLCostState",
    "LeakyBucketLimiter",
    "LeakyBucketState",
    "RateLimiter",
    "RemainingResetHeaders",
    "WindowQuotaLimiter",
    "WindowQuotaState",
    "announcing_waits",
    "fit_page_size",
]


@runtime_checkable
class RateLimiter(Protocol):
    """What the engine needs from a rate limiter (one instance per store, thread-safe)."""

    def acquire(self, cost: float | None = None) -> float:
        """Block (on the clock) until a request of ``cost`` may be sent.

        Args:
            cost: what the request will consume (1 request; GraphQL: query points).
                ``None`` means the limiter's own estimate.

        Returns:
            The seconds waited.
        """
        ...

    def observe(self, headers: Mapping[str, str], body: Any = None) -> None:
        """Learn from a response (headers, and the parsed JSON body when there is one)."""
        ...

    def cancel(self) -> None:
        """An acquired request produced no response (transport error)."""
        ...


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# Per thread: who to tell before a limiter sleeps (the engine sending the request).
_announcer = threading.local()


@contextlib.contextmanager
def announcing_waits(callback: Callable[[float], None]) -> Iterator[None]:
    """Within the block, limiters call ``callback(seconds)`` on this thread before waiting.

    The HTTP engine wraps :meth:`RateLimiter.acquire` in it, so a progress display can
    say "waiting for the rate limit" while the wait lasts rather than after it.
    """
    previous = getattr(_announcer, "callback", None)
    _announcer.callback = callback
    try:
        yield
    finally:
        _announcer.callback = previous


class _LimiterBase:
    """Lock, clock, in-flight count and wait accounting shared by the limiters."""

    def __init__(self, clock: Clock | None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.waited = 0.0
        self.waits = 0

    def _sleep(self, seconds: float) -> float:
        # Called outside the lock: other threads compute their own (later) slots meanwhile.
        if seconds > 0:
            announce = getattr(_announcer, "callback", None)
            if announce is not None:
                announce(seconds)
            self._clock.sleep(seconds)
        return seconds

    def _account(self, wait: float) -> None:
        # Called under the lock.
        self._in_flight += 1
        if wait > 0:
            self.waited += wait
            self.waits += 1

    def _done(self) -> int:
        """Mark one request finished; return how many others are still in flight."""
        self._in_flight = max(0, self._in_flight - 1)
        return self._in_flight

    def cancel(self) -> None:
        """An acquired request produced no response: forget it."""
        with self._lock:
            self._done()


# --- leaky bucket ----------------------------------------------------------------------------


@attrs.frozen
class BucketReading:
    """What one response says about a leaky bucket.

    Attributes:
        used: requests in the bucket now.
        capacity: the bucket's size.
        leak_rate: requests leaked per second, when the headers reveal it.
    """

    used: float
    capacity: float
    leak_rate: float | None = None


class BucketHeaderReader(Protocol):
    """Turns response headers into a :class:`BucketReading` (``None`` if absent)."""

    def __call__(self, headers: Mapping[str, str]) -> BucketReading | None:
        """Read the bucket state from ``headers``."""
        ...


@attrs.frozen
class CallLimitHeader:
    """Reads a ``used/size`` header such as Shopify's ``X-Shopify-Shop-Api-Call-Limit: 32/40``.

    Example:
        >>> CallLimitHeader()({"x-shopify-shop-api-call-limit": "32/40"})
        BucketReading(used=32.0, capacity=40.0, leak_rate=None)
    """

    name: str = c.SHOPIFY_CALL_LIMIT_HEADER

    def __call__(self, headers: Mapping[str, str]) -> BucketReading | None:
        """Parse the header; ``None`` when it is missing or not ``used/size``."""
        raw = _lower(headers).get(self.name.lower())
        if raw is None or "/" not in raw:
            return None
        used_text, _, size_text = raw.partition("/")
        used, size = _number(used_text), _number(size_text)
        if used is None or size is None or size <= 0 or used < 0:
            return None
        return BucketReading(used=used, capacity=size)


@attrs.frozen
class RemainingResetHeaders:
    """Reads limit / remaining / ms-to-empty headers (Tiendanube's ``x-rate-limit-*``).

    ``remaining`` is the room left in the bucket, so ``used = limit - remaining``;
    ``reset`` is the time until the bucket is empty, so ``leak rate = used / reset``.

    Example:
        >>> RemainingResetHeaders()(
        ...     {"x-rate-limit-limit": "40", "x-rate-limit-remaining": "30", "x-rate-limit-reset": "5000"}
        ... )
        BucketReading(used=10.0, capacity=40.0, leak_rate=2.0)
    """  # noqa: E501

    limit: str = c.TIENDANUBE_LIMIT_HEADER
    remaining: str = c.TIENDANUBE_REMAINING_HEADER
    reset_ms: str | None = c.TIENDANUBE_RESET_MS_HEADER

    def __call__(self, headers: Mapping[str, str]) -> BucketReading | None:
        """Parse the headers; ``None`` when limit or remaining is missing."""
        lowered = _lower(headers)
        limit = _number(lowered.get(self.limit.lower()))
        remaining = _number(lowered.get(self.remaining.lower()))
        if limit is None or remaining is None or limit <= 0:
            return None
        used = min(limit, max(0.0, limit - remaining))
        leak: float | None = None
        if self.reset_ms is not None:
            reset = _number(lowered.get(self.reset_ms.lower()))
            # A tiny bucket level gives a coarse estimate (integer ms); only trust >= 1.
            if reset is not None and reset > 0 and used >= 1:
                leak = used / (reset / 1000.0)
        return BucketReading(used=used, capacity=limit, leak_rate=leak)


@attrs.frozen
class LeakyBucketState:
    """A snapshot of a :class:`LeakyBucketLimiter` (for reports and tests)."""

    level: float
    capacity: float
    leak_rate: float
    in_flight: int
    waited: float
    waits: int


class LeakyBucketLimiter(_LimiterBase):
    """A leaky bucket: ``capacity`` requests that drain at ``leak_rate`` per second.

    The limiter keeps its own model of the bucket's level, bumps it by one per request
    and drains it with time; each response with bucket headers resets the model to the
    server's number (plus requests still in flight, which the server may not have
    counted yet). A request waits only when the bucket would rise above
    ``capacity - safety_margin``, so a fresh bucket is used in one burst and then the
    limiter paces at the leak rate.

    Args:
        capacity: bucket size assumed until a response tells.
        leak_rate: requests drained per second (Shopify 2, Plus 20; Tiendanube 2, Next 20).
        reader: turns headers into a reading; ``None`` for a purely client-side pacer.
        safety_margin: requests kept in reserve below the capacity.
        learn_leak_rate: adopt the leak rate the headers reveal (Tiendanube's reset ms).
        clock: where to sleep and read time.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> pacer = LeakyBucketLimiter(capacity=5, leak_rate=5, reader=None, safety_margin=0,
        ...                            clock=FakeClock())
        >>> [pacer.acquire() for _ in range(6)][-1]  # five go at once, the sixth waits 1/5 s
        0.2
    """

    def __init__(
        self,
        *,
        capacity: float = c.SHOPIFY_BUCKET_SIZE,
        leak_rate: float = c.SHOPIFY_LEAK_RATE,
        reader: BucketHeaderReader | None = None,
        safety_margin: float = 2.0,
        learn_leak_rate: bool = True,
        clock: Clock | None = None,
    ) -> None:
        if capacity <= 0 or leak_rate <= 0 or safety_margin < 0:
            raise ConfigurationError(
                "capacity and leak_rate must be > 0 and safety_margin >= 0, got "
                f"{capacity=}, {leak_rate=}, {safety_margin=}"
            )
        super().__init__(clock)
        self.capacity = float(capacity)
        self.leak_rate = float(leak_rate)
        self.reader = reader
        self.safety_margin = float(safety_margin)
        self.learn_leak_rate = learn_leak_rate
        self._level = 0.0
        self._t = self._clock.monotonic()

    @classmethod
    def shopify(
        cls, *, plus: bool = False, safety_margin: float = 2.0, clock: Clock | None = None
    ) -> LeakyBucketLimiter:
        """Shopify REST: bucket 40 leaking 2/s (Plus: 400, 20/s), from the call-limit header."""
        return cls(
            capacity=c.SHOPIFY_PLUS_BUCKET_SIZE if plus else c.SHOPIFY_BUCKET_SIZE,
            leak_rate=c.SHOPIFY_PLUS_LEAK_RATE if plus else c.SHOPIFY_LEAK_RATE,
            reader=CallLimitHeader(),
            safety_margin=safety_margin,
            # The call-limit header does not reveal the leak rate.
            learn_leak_rate=False,
            clock=clock,
        )

    @classmethod
    def tiendanube(
        cls, *, multiplier: float = 1.0, safety_margin: float = 2.0, clock: Clock | None = None
    ) -> LeakyBucketLimiter:
        """Tiendanube: bucket 40 leaking 2/s (Next/Evolution plans: ``multiplier=10``)."""
        return cls(
            capacity=c.TIENDANUBE_BUCKET_SIZE * multiplier,
            leak_rate=c.TIENDANUBE_LEAK_RATE * multiplier,
            reader=RemainingResetHeaders(),
            safety_margin=safety_margin,
            clock=clock,
        )

    def _level_at(self, now: float) -> float:
        # When _t is in the future (slots reserved by sleeping threads) this is larger than
        # _level, which is exactly what makes later callers queue behind them.
        return max(0.0, self._level - self.leak_rate * (now - self._t))

    def acquire(self, cost: float | None = None) -> float:
        """Wait until ``cost`` requests (default 1) fit below ``capacity - safety_margin``."""
        need = 1.0 if cost is None else float(cost)
        with self._lock:
            now = self._clock.monotonic()
            level = self._level_at(now)
            ceiling = max(need, self.capacity - self.safety_margin)
            wait = max(0.0, (level + need - ceiling) / self.leak_rate)
            # Reserve our slot at the moment we will send.
            self._level = max(0.0, level - self.leak_rate * wait) + need
            self._t = now + wait
            self._account(wait)
        return self._sleep(wait)

    def observe(self, headers: Mapping[str, str], body: Any = None) -> None:
        """Re-synchronise with the bucket headers of a response, if it has them."""
        reading = self.reader(headers) if self.reader is not None else None
        with self._lock:
            others = self._done()
            if reading is None:
                return
            now = self._clock.monotonic()
            self.capacity = reading.capacity
            if self.learn_leak_rate and reading.leak_rate:
                self.leak_rate = reading.leak_rate
            # Requests still in flight may not be counted by the server yet: count them.
            self._level = min(reading.capacity + others, reading.used + others)
            self._t = now

    def state(self) -> LeakyBucketState:
        """Return the current model of the bucket."""
        with self._lock:
            return LeakyBucketState(
                level=self._level_at(self._clock.monotonic()),
                capacity=self.capacity,
                leak_rate=self.leak_rate,
                in_flight=self._in_flight,
                waited=self.waited,
                waits=self.waits,
            )

    def __repr__(self) -> str:
        return (
            f"LeakyBucketLimiter(capacity={self.capacity:g}, leak_rate={self.leak_rate:g}, "
            f"safety_margin={self.safety_margin:g}, waited={self.waited:.3f})"
        )


# --- fixed window quota ----------------------------------------------------------------------


@attrs.frozen
class WindowQuotaState:
    """A snapshot of a :class:`WindowQuotaLimiter`."""

    left: float
    quota: float
    window: float
    resets_in: float
    in_flight: int
    waited: float
    waits: int


class WindowQuotaLimiter(_LimiterBase):
    """A fixed number of requests per time window (BigCommerce: 150 or 450 per 30 s).

    Requests go at once while the window has more than ``safety_margin`` requests left;
    then callers sleep until the window resets and start on the next one. Every response
    with the headers re-synchronises the count left and the reset time.

    Args:
        quota: requests per window assumed until a response tells.
        window: the window's length in seconds, assumed until a response tells.
        safety_margin: requests left unused in each window (the quota is shared by every
            app installed on the store).
        left_header: requests left in the current window.
        quota_header: requests per window.
        reset_ms_header: milliseconds until the window resets.
        window_ms_header: the window's length in milliseconds.
        clock: where to sleep and read time.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> clock = FakeClock()
        >>> bc = WindowQuotaLimiter.bigcommerce(clock=clock)
        >>> bc.acquire()
        0.0
        >>> bc.observe({"X-Rate-Limit-Requests-Left": "2", "X-Rate-Limit-Time-Reset-Ms": "4000"})
        >>> bc.acquire()  # only the safety margin is left: wait for the reset
        4.0
    """

    def __init__(
        self,
        *,
        quota: float = c.BIGCOMMERCE_QUOTA,
        window: float = c.BIGCOMMERCE_WINDOW_SECONDS,
        safety_margin: float = 2.0,
        left_header: str = c.BIGCOMMERCE_REQUESTS_LEFT_HEADER,
        quota_header: str = c.BIGCOMMERCE_REQUESTS_QUOTA_HEADER,
        reset_ms_header: str = c.BIGCOMMERCE_TIME_RESET_MS_HEADER,
        window_ms_header: str = c.BIGCOMMERCE_TIME_WINDOW_MS_HEADER,
        clock: Clock | None = None,
    ) -> None:
        if quota <= 0 or window <= 0 or safety_margin < 0:
            raise ConfigurationError(
                f"quota and window must be > 0 and safety_margin >= 0, got "
                f"{quota=}, {window=}, {safety_margin=}"
            )
        super().__init__(clock)
        self.quota = float(quota)
        self.window = float(window)
        self.safety_margin = float(safety_margin)
        self.left_header = left_header
        self.quota_header = quota_header
        self.reset_ms_header = reset_ms_header
        self.window_ms_header = window_ms_header
        now = self._clock.monotonic()
        self._left = self.quota
        # Until a response says otherwise, assume a window starts with our first request.
        self._start = now
        self._end = now + self.window

    @classmethod
    def bigcommerce(
        cls,
        *,
        quota: float = c.BIGCOMMERCE_QUOTA,
        safety_margin: float = 2.0,
        clock: Clock | None = None,
    ) -> WindowQuotaLimiter:
        """BigCommerce: ``quota`` (150 Standard/Plus, 450 Pro) per 30 s, from the X-Rate-Limit headers."""  # noqa: E501
        return cls(quota=quota, safety_margin=safety_margin, clock=clock)

    def _roll(self, t: float) -> None:
        # Move to the window that contains t; a deficit (requests we sent beyond what the
        # server said was left) is carried into the new window instead of forgotten.
        if t < self._end:
            return
        skipped = math.floor((t - self._end) / self.window)
        self._start = self._end + skipped * self.window
        self._end = self._start + self.window
        self._left = self.quota + min(0.0, self._left)

    def acquire(self, cost: float | None = None) -> float:
        """Wait until the current (or next) window has room for ``cost`` requests (default 1)."""
        need = 1.0 if cost is None else float(cost)
        with self._lock:
            now = self._clock.monotonic()
            t = max(now, self._start)
            self._roll(t)
            if self._left - need < min(self.safety_margin, self.quota - need):
                t = self._end
                self._roll(t)
            self._left -= need
            wait = t - now
            self._account(wait)
        return self._sleep(wait)

    def observe(self, headers: Mapping[str, str], body: Any = None) -> None:
        """Re-synchronise with the window headers of a response, if it has them."""
        lowered = _lower(headers)
        left = _number(lowered.get(self.left_header.lower()))
        reset_ms = _number(lowered.get(self.reset_ms_header.lower()))
        quota = _number(lowered.get(self.quota_header.lower()))
        window_ms = _number(lowered.get(self.window_ms_header.lower()))
        with self._lock:
            others = self._done()
            if quota is not None and quota > 0:
                self.quota = quota
            if window_ms is not None and window_ms > 0:
                self.window = window_ms / 1000.0
            if left is None or reset_ms is None or reset_ms < 0:
                return
            now = self._clock.monotonic()
            end = now + reset_ms / 1000.0
            if self._start > now:
                # Callers are already booked into a later window; the response (from the
                # current one) can only tell that this window ends earlier than we thought.
                if end < self._start:
                    self._start, self._end = end, end + self.window
                return
            self._left = left - others
            self._start = now
            self._end = end

    def state(self) -> WindowQuotaState:
        """Return the current model of the window."""
        with self._lock:
            now = self._clock.monotonic()
            return WindowQuotaState(
                left=self._left,
                quota=self.quota,
                window=self.window,
                resets_in=max(0.0, self._end - now),
                in_flight=self._in_flight,
                waited=self.waited,
                waits=self.waits,
            )

    def __repr__(self) -> str:
        return (
            f"WindowQuotaLimiter(quota={self.quota:g}, window={self.window:g}, "
            f"safety_margin={self.safety_margin:g}, waited={self.waited:.3f})"
        )


# --- GraphQL calculated query cost -----------------------------------------------------------


def fit_page_size(
    first: int,
    cost: float,
    *,
    max_cost: float = c.SHOPIFY_GRAPHQL_MAX_QUERY_COST,
    minimum: int = 1,
) -> int:
    """Shrink a page size so a query that cost ``cost`` at ``first`` items fits ``max_cost``.

    Connection costs grow linearly with ``first``, so scaling ``first`` by
    ``max_cost / cost`` keeps the next query under the cap.

    Example:
        >>> fit_page_size(250, cost=2502.0)
        99
        >>> fit_page_size(50, cost=52.0)
        50
    """
    if cost <= max_cost or cost <= 0:
        return first
    return max(minimum, math.floor(first * max_cost / cost))


@attrs.frozen
class GraphQLCostState:
    """The GraphQL cost numbers, as last seen and modelled.

    Attributes:
        maximum: the bucket's size in points (``throttleStatus.maximumAvailable``).
        available: points available now, in the limiter's model.
        restore_rate: points restored per second.
        expected_cost: the cost assumed for the next query.
        last_requested: the last ``requestedQueryCost`` seen.
        last_actual: the last ``actualQueryCost`` seen.
        waited: seconds callers were made to wait in all.
    """

    maximum: float
    available: float
    restore_rate: float
    expected_cost: float
    last_requested: float | None
    last_actual: float | None
    waited: float


class GraphQLCostLimiter(_LimiterBase):
    """Paces GraphQL queries by their calculated cost (Shopify's ``extensions.cost``).

    Before a query, waits until ``expected cost + safety_margin`` points are available;
    the expected cost is the request's ``cost`` if given, else the last
    ``requestedQueryCost`` seen (pages of one query cost the same). Each response's
    ``throttleStatus`` re-synchronises the available points, the bucket size and the
    restore rate.

    Args:
        maximum: bucket size assumed until a response tells.
        restore_rate: points per second assumed until a response tells.
        initial_cost: expected cost before any response was seen.
        safety_margin: points kept in reserve.
        max_query_cost: the platform's single-query cap (Shopify: 1000).
        cost_path: where the cost object is in the body.
        clock: where to sleep and read time.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> gql = GraphQLCostLimiter(clock=FakeClock())
        >>> gql.observe({}, {"extensions": {"cost": {
        ...     "requestedQueryCost": 502, "actualQueryCost": 480,
        ...     "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 300,
        ...                        "restoreRate": 50}}}})
        >>> gql.acquire()  # needs 502 + 10 points, has 300, restores 50/s
        4.24
        >>> gql.page_size_for(250)  # that query fits the 1000-point cap as it is
        250
    """

    def __init__(
        self,
        *,
        maximum: float = c.SHOPIFY_GRAPHQL_BUCKET,
        restore_rate: float = c.SHOPIFY_GRAPHQL_RESTORE_RATE,
        initial_cost: float = 50.0,
        safety_margin: float = 10.0,
        max_query_cost: float = c.SHOPIFY_GRAPHQL_MAX_QUERY_COST,
        cost_path: str = "extensions.cost",
        clock: Clock | None = None,
    ) -> None:
        if maximum <= 0 or restore_rate <= 0 or initial_cost < 0 or safety_margin < 0:
            raise ConfigurationError(
                "maximum and restore_rate must be > 0, initial_cost and safety_margin >= 0"
            )
        super().__init__(clock)
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self.safety_margin = float(safety_margin)
        self.max_query_cost = float(max_query_cost)
        self.cost_path = cost_path
        self._expected = float(initial_cost)
        self._available = self.maximum
        self._t = self._clock.monotonic()
        self.last_requested: float | None = None
        self.last_actual: float | None = None

    def _available_at(self, now: float) -> float:
        return min(self.maximum, self._available + self.restore_rate * (now - self._t))

    def acquire(self, cost: float | None = None) -> float:
        """Wait until the query's expected cost (plus the margin) is available."""
        with self._lock:
            expected = self._expected if cost is None else float(cost)
            # A query can never need more than a full bucket; waiting for more would hang.
            need = min(expected + self.safety_margin, self.maximum)
            now = self._clock.monotonic()
            available = self._available_at(now)
            wait = max(0.0, (need - available) / self.restore_rate)
            self._available = min(self.maximum, available + self.restore_rate * wait) - expected
            self._t = now + wait
            self._account(wait)
        return self._sleep(wait)

    def observe(self, headers: Mapping[str, str], body: Any = None) -> None:
        """Re-synchronise with ``extensions.cost`` of a response body, if present."""
        cost = get_path(body, self.cost_path)
        with self._lock:
            others = self._done()
            if not isinstance(cost, Mapping):
                return
            requested = _as_float(cost.get("requestedQueryCost"))
            actual = _as_float(cost.get("actualQueryCost"))
            if requested is not None:
                self.last_requested = requested
                self._expected = requested
            if actual is not None:
                self.last_actual = actual
            throttle = cost.get("throttleStatus")
            if not isinstance(throttle, Mapping):
                return
            maximum = _as_float(throttle.get("maximumAvailable"))
            available = _as_float(throttle.get("currentlyAvailable"))
            restore = _as_float(throttle.get("restoreRate"))
            if maximum is not None and maximum > 0:
                self.maximum = maximum
            if restore is not None and restore > 0:
                self.restore_rate = restore
            if available is not None:
                # Queries still in flight will be charged too: assume the usual cost each.
                self._available = available - others * self._expected
                self._t = self._clock.monotonic()

    def page_size_for(self, first: int, *, minimum: int = 1) -> int:
        """Return ``first``, shrunk if the last query's cost says it would exceed the caps.

        The cap is the smaller of the single-query cap and the bucket size less the margin.
        """
        with self._lock:
            last = self.last_requested
            cap = min(self.max_query_cost, self.maximum - self.safety_margin)
        if last is None:
            return first
        return fit_page_size(first, last, max_cost=cap, minimum=minimum)

    def state(self) -> GraphQLCostState:
        """Return the current cost numbers."""
        with self._lock:
            return GraphQLCostState(
                maximum=self.maximum,
                available=self._available_at(self._clock.monotonic()),
                restore_rate=self.restore_rate,
                expected_cost=self._expected,
                last_requested=self.last_requested,
                last_actual=self.last_actual,
                waited=self.waited,
            )

    def __repr__(self) -> str:
        return (
            f"GraphQLCostLimiter(maximum={self.maximum:g}, restore_rate={self.restore_rate:g}, "
            f"safety_margin={self.safety_margin:g}, waited={self.waited:.3f})"
        )


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
