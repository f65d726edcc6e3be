"""Rate-limit emulation: leaky buckets, fixed windows and GraphQL cost buckets.

Every limiter is driven by ``now``, a reading of the simulator's clock
(``clock.monotonic()``), so tests using a
:class:`~commerce_connectors.clock.FakeClock` decide how fast time goes and
never really wait. Capacities and rates are parameters so a test can scale time
down (a 40-request bucket leaking 50/s drains in under a second of fake time).

A limiter answers :meth:`RateLimiter.admit` with an :class:`Admission`: whether
the request may proceed and the headers to put on the response, in the
platform's style:

* :class:`ShopifyRestRateLimit`: ``X-Shopify-Shop-Api-Call-Limit: n/40``; a 429
  adds ``Retry-After`` (decimal seconds).
* :class:`BigCommerceRateLimit`: ``X-Rate-Limit-Requests-Left``, ``-Requests-Quota``,
  ``-Time-Reset-Ms``, ``-Time-Window-Ms``; a 429 adds ``X-Retry-After`` (whole seconds).
* :class:`TiendanubeRateLimit`: ``x-rate-limit-limit``, ``-remaining``, ``-reset``
  (ms until the bucket is empty).
* :class:`LeakyBucketRateLimit`: no headers at all (Square: a bare 429).

The 429 *body* is the simulator's business (its platform's error shape).

Example:
    >>> limit = ShopifyRestRateLimit(capacity=2, leak_rate=1.0)
    >>> [limit.admit(now=0.0).headers["X-Shopify-Shop-Api-Call-Limit"] for _ in range(2)]
    ['1/2', '2/2']
    >>> refused = limit.admit(now=0.0)
    >>> refused.allowed, refused.headers["Retry-After"]
    (False, '1.0')
    >>> limit.admit(now=1.0).allowed
    True
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "Admission",
    "BigCommerceRateLimit",
    "FixedWindow",
    "FixedWindowRateLimit",
    "GraphQLCharge",
    "GraphQLCostBucket",
    "LeakyBucket",
    "LeakyBucketRateLimit",
    "RateLimiter",
    "ShopifyRestRateLimit",
    "TiendanubeRateLimit",
]

# Platform defaults, from each platform's published rate-limit documentation.
SHOPIFY_REST_CAPACITY = 40
SHOPIFY_REST_LEAK_PER_S = 2.0
BIGCOMMERCE_QUOTA = 150
BIGCOMMERCE_WINDOW_S = 30.0
TIENDANUBE_CAPACITY = 40
TIENDANUBE_LEAK_PER_S = 2.0
SHOPIFY_GRAPHQL_MAXIMUM = 1000.0
SHOPIFY_GRAPHQL_RESTORE_PER_S = 50.0
SHOPIFY_GRAPHQL_MAX_QUERY_COST = 1000


def format_seconds(seconds: float) -> str:
    """Seconds as a short decimal string: ``2.0``, ``0.02``, ``1.5``.

    Shopify sends ``Retry-After: 2.0``; a plain ``%.1f`` would turn a
    scaled-down wait of 0.02 s into ``0.0`` and make clients spin.

    Example:
        >>> format_seconds(2), format_seconds(0.02), format_seconds(0.0004)
        ('2.0', '0.02', '0.001')
    """
    # Round *up* to the millisecond so a client honouring the value never comes back early.
    text = f"{math.ceil(max(seconds, 0.0) * 1000) / 1000:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@attrs.frozen
class Admission:
    """A rate limiter's answer to one request.

    Attributes:
        allowed: ``False`` means the simulator answers 429 without calling the handler.
        headers: headers to add to the response, allowed or not.
        retry_after: seconds until a request would be allowed again (``0`` if allowed).
    """

    allowed: bool
    headers: Mapping[str, str] = attrs.field(factory=dict)
    retry_after: float = 0.0


@runtime_checkable
class RateLimiter(Protocol):
    """What a :class:`~commerce_connectors.testing.simulator.Simulator` needs from a limiter.

    Implement it to emulate a platform not covered here; the classes in this
    module are examples.
    """

    def admit(self, now: float, cost: float = 1.0) -> Admission:
        """Decide on one request arriving at ``now`` (seconds, monotonic)."""
        ...

    def reset(self) -> None:
        """Forget all usage, as if no request had been made."""
        ...


class LeakyBucket:
    """A leaky bucket: each request adds ``cost``; the level drains at ``leak_rate``/s.

    A request is admitted when it fits (``level + cost <= capacity``); a refused
    request adds nothing. Thread-safe.

    Example:
        >>> bucket = LeakyBucket(capacity=40, leak_rate=50.0)   # Shopify, scaled 25x
        >>> all(bucket.try_add(0.0) for _ in range(40)), bucket.try_add(0.0)
        (True, False)
        >>> bucket.level(now=0.4)
        20.0
    """

    def __init__(self, capacity: float, leak_rate: float) -> None:
        if capacity <= 0 or leak_rate <= 0:
            raise ValueError("capacity and leak_rate must be positive")
        self.capacity = float(capacity)
        self.leak_rate = float(leak_rate)
        self._level = 0.0
        self._at: float | None = None
        self._lock = threading.Lock()

    def _drain(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._level = max(0.0, self._level - (now - self._at) * self.leak_rate)
        # Never move the reference time backwards: threads may present readings out of order.
        self._at = now if self._at is None else max(self._at, now)

    def level(self, now: float) -> float:
        """The bucket's fill level at ``now``."""
        with self._lock:
            self._drain(now)
            return self._level

    def try_add(self, now: float, cost: float = 1.0) -> bool:
        """Add ``cost`` if it fits and say whether it did."""
        with self._lock:
            self._drain(now)
            if self._level + cost > self.capacity + 1e-9:
                return False
            self._level += cost
            return True

    def time_until_room(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` would fit (``0.0`` if it fits now)."""
        with self._lock:
            self._drain(now)
            return max(0.0, (self._level + cost - self.capacity) / self.leak_rate)

    def time_until_empty(self, now: float) -> float:
        """Seconds until the bucket is completely drained."""
        with self._lock:
            self._drain(now)
            return self._level / self.leak_rate

    def reset(self) -> None:
        """Empty the bucket."""
        with self._lock:
            self._level = 0.0
            self._at = None

    def __repr__(self) -> str:
        return f"LeakyBucket(capacity={self.capacity}, leak_rate={self.leak_rate})"


class FixedWindow:
    """A quota of requests per fixed window; the window starts at the first request.

    Example:
        >>> window = FixedWindow(quota=2, window=30.0)
        >>> window.try_add(0.0), window.try_add(1.0), window.try_add(2.0), window.try_add(30.0)
        (True, True, False, True)
    """

    def __init__(self, quota: int, window: float) -> None:
        if quota <= 0 or window <= 0:
            raise ValueError("quota and window must be positive")
        self.quota = int(quota)
        self.window = float(window)
        self._start: float | None = None
        self._used = 0
        self._lock = threading.Lock()

    def _roll(self, now: float) -> None:
        if self._start is None:
            self._start = now
        elif now >= self._start + self.window:
            # Jump whole windows so the cadence stays aligned to the first request.
            self._start += math.floor((now - self._start) / self.window) * self.window
            self._used = 0

    def try_add(self, now: float) -> bool:
        """Count one request if the quota allows and say whether it did."""
        with self._lock:
            self._roll(now)
            if self._used >= self.quota:
                return False
            self._used += 1
            return True

    def left(self, now: float) -> int:
        """Requests left in the current window."""
        with self._lock:
            self._roll(now)
            return self.quota - self._used

    def time_until_reset(self, now: float) -> float:
        """Seconds until the current window ends (a full window before any request)."""
        with self._lock:
            self._roll(now)
            assert self._start is not None
            return max(0.0, self._start + self.window - now)

    def reset(self) -> None:
        """Forget all usage."""
        with self._lock:
            self._start = None
            self._used = 0

    def __repr__(self) -> str:
        return f"FixedWindow(quota={self.quota}, window={self.window})"


class LeakyBucketRateLimit:
    """A leaky-bucket limit that sends no rate-limit headers (Square's style).

    Subclasses choose headers by overriding :meth:`headers`.

    Args:
        capacity: the bucket size in requests.
        leak_rate: requests drained per second.

    Example:
        >>> limit = LeakyBucketRateLimit(capacity=1, leak_rate=10.0)
        >>> limit.admit(0.0).allowed, limit.admit(0.0)
        (True, Admission(allowed=False, headers={}, retry_after=0.1))
    """

    def __init__(
        self,
        capacity: float = SHOPIFY_REST_CAPACITY,
        leak_rate: float = SHOPIFY_REST_LEAK_PER_S,
    ) -> None:
        self.bucket = LeakyBucket(capacity, leak_rate)

    def admit(self, now: float, cost: float = 1.0) -> Admission:
        """Add the request to the bucket, or refuse it when it would overflow."""
        allowed = self.bucket.try_add(now, cost)
        retry_after = 0.0 if allowed else self.bucket.time_until_room(now, cost)
        return Admission(allowed, self.headers(now, allowed, retry_after), retry_after)

    def headers(self, now: float, allowed: bool, retry_after: float) -> dict[str, str]:
        """Headers for a response; none in this base class."""
        return {}

    def reset(self) -> None:
        """Empty the bucket."""
        self.bucket.reset()

    def __repr__(self) -> str:
        b = self.bucket
        return f"{type(self).__name__}(capacity={b.capacity:g}, leak_rate={b.leak_rate:g})"


class ShopifyRestRateLimit(LeakyBucketRateLimit):
    """Shopify REST: ``X-Shopify-Shop-Api-Call-Limit: used/capacity``; 429 with ``Retry-After``.

    Defaults are the standard plan (bucket 40, leak 2/s); Plus is 400 and 20/s.
    ``used`` is rounded up, because Shopify reports whole calls.
    """

    def headers(self, now: float, allowed: bool, retry_after: float) -> dict[str, str]:
        """The call-limit header, plus ``Retry-After`` on refusal."""
        used = math.ceil(self.bucket.level(now) - 1e-9)
        out = {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{self.bucket.capacity:g}"}
        if not allowed:
            out["Retry-After"] = format_seconds(retry_after)
        return out


class TiendanubeRateLimit(LeakyBucketRateLimit):
    """Tiendanube: ``x-rate-limit-limit``, ``-remaining`` and ``-reset`` (ms until empty).

    Defaults: bucket 40, leak 2/s (Next/Evolution plans: ×10). The 429 carries the
    same three headers and nothing else: Tiendanube documents no ``Retry-After``.
    """

    def headers(self, now: float, allowed: bool, retry_after: float) -> dict[str, str]:
        """The three ``x-rate-limit-*`` headers."""
        level = self.bucket.level(now)
        return {
            "x-rate-limit-limit": f"{self.bucket.capacity:g}",
            "x-rate-limit-remaining": str(max(0, math.floor(self.bucket.capacity - level))),
            "x-rate-limit-reset": str(math.ceil(self.bucket.time_until_empty(now) * 1000)),
        }


class FixedWindowRateLimit:
    """A fixed-window quota that sends no headers; subclasses choose them.

    Args:
        quota: requests allowed per window.
        window: the window length in seconds.
    """

    def __init__(
        self, quota: int = BIGCOMMERCE_QUOTA, window: float = BIGCOMMERCE_WINDOW_S
    ) -> None:
        self.window = FixedWindow(quota, window)

    def admit(self, now: float, cost: float = 1.0) -> Admission:
        """Count the request, or refuse it when the window's quota is spent.

        ``cost`` is ignored: a window counts requests.
        """
        allowed = self.window.try_add(now)
        retry_after = 0.0 if allowed else self.window.time_until_reset(now)
        return Admission(allowed, self.headers(now, allowed, retry_after), retry_after)

    def headers(self, now: float, allowed: bool, retry_after: float) -> dict[str, str]:
        """Headers for a response; none in this base class."""
        return {}

    def reset(self) -> None:
        """Forget all usage."""
        self.window.reset()

    def __repr__(self) -> str:
        w = self.window
        return f"{type(self).__name__}(quota={w.quota}, window={w.window:g})"


class BigCommerceRateLimit(FixedWindowRateLimit):
    """BigCommerce: a quota per 30 s window (Standard/Plus 150, Pro 450).

    Every response carries ``X-Rate-Limit-Requests-Left``, ``-Requests-Quota``,
    ``-Time-Reset-Ms`` and ``-Time-Window-Ms``; a 429 adds ``X-Retry-After`` in
    whole seconds (rounded up).

    Example:
        >>> limit = BigCommerceRateLimit(quota=1, window=0.5)
        >>> limit.admit(0.0).headers["X-Rate-Limit-Requests-Left"]
        '0'
        >>> refused = limit.admit(0.2)
        >>> refused.allowed, refused.headers["X-Rate-Limit-Time-Reset-Ms"]
        (False, '300')
    """

    def headers(self, now: float, allowed: bool, retry_after: float) -> dict[str, str]:
        """The four ``X-Rate-Limit-*`` headers, plus ``X-Retry-After`` on refusal."""
        w = self.window
        out = {
            "X-Rate-Limit-Requests-Left": str(w.left(now)),
            "X-Rate-Limit-Requests-Quota": str(w.quota),
            "X-Rate-Limit-Time-Reset-Ms": str(math.ceil(w.time_until_reset(now) * 1000 - 1e-6)),
            "X-Rate-Limit-Time-Window-Ms": str(math.ceil(w.window * 1000 - 1e-6)),
        }
        if not allowed:
            out["X-Retry-After"] = str(max(1, math.ceil(retry_after)))
        return out


@attrs.frozen
class GraphQLCharge:
    """The result of charging one GraphQL query to a :class:`GraphQLCostBucket`.

    Attributes:
        throttled: the query was refused (not enough points, or over the per-query cap).
        extensions: the response's ``extensions`` object, ``{"cost": {...}}``.
        errors: the response's ``errors`` list when refused, else empty.
    """

    throttled: bool
    extensions: dict[str, Any]
    errors: list[dict[str, Any]] = attrs.field(factory=list)

    def body(self, data: Any = None) -> dict[str, Any]:
        """A whole GraphQL response body: ``data`` (unless throttled), ``errors``, ``extensions``.

        Example:
            >>> GraphQLCostBucket().charge(0.0, 10).body({"shop": {}})["data"]
            {'shop': {}}
        """
        out: dict[str, Any] = {}
        if not self.throttled:
            out["data"] = data
        if self.errors:
            out["errors"] = self.errors
        out["extensions"] = self.extensions
        return out


class GraphQLCostBucket:
    """Shopify's GraphQL calculated-cost bucket, with the ``extensions.cost`` it reports.

    The requested cost is checked against the points available; when it fits,
    the *actual* cost (which may be lower) is spent. Points restore at
    ``restore_rate`` per second up to ``maximum_available``.

    Args:
        maximum_available: bucket size in points.
        restore_rate: points restored per second.
        max_query_cost: a single query costing more is refused outright
            (``MAX_COST_EXCEEDED``) whatever the bucket holds.

    Example:
        >>> bucket = GraphQLCostBucket(maximum_available=100, restore_rate=10)
        >>> ok = bucket.charge(now=0.0, requested_cost=80, actual_cost=60)
        >>> ok.throttled, ok.extensions["cost"]["throttleStatus"]["currentlyAvailable"]
        (False, 40.0)
        >>> refused = bucket.charge(now=0.0, requested_cost=80)
        >>> refused.throttled, refused.errors[0]["extensions"]["code"]
        (True, 'THROTTLED')
        >>> bucket.charge(now=4.0, requested_cost=80).throttled
        False
    """

    def __init__(
        self,
        maximum_available: float = SHOPIFY_GRAPHQL_MAXIMUM,
        restore_rate: float = SHOPIFY_GRAPHQL_RESTORE_PER_S,
        *,
        max_query_cost: float = SHOPIFY_GRAPHQL_MAX_QUERY_COST,
    ) -> None:
        # A cost bucket is a leaky bucket seen from the other side: "used" = maximum - available.
        self._bucket = LeakyBucket(maximum_available, restore_rate)
        self.max_query_cost = max_query_cost
        self._lock = threading.Lock()

    @property
    def maximum_available(self) -> float:
        """The bucket size in points."""
        return self._bucket.capacity

    @property
    def restore_rate(self) -> float:
        """Points restored per second."""
        return self._bucket.leak_rate

    def currently_available(self, now: float) -> float:
        """Points available at ``now``."""
        return self.maximum_available - self._bucket.level(now)

    def throttle_status(self, now: float) -> dict[str, float]:
        """``{"maximumAvailable", "currentlyAvailable", "restoreRate"}`` at ``now``."""
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": self.currently_available(now),
            "restoreRate": self.restore_rate,
        }

    def charge(
        self, now: float, requested_cost: float, actual_cost: float | None = None
    ) -> GraphQLCharge:
        """Charge a query: spend ``actual_cost`` (default: the requested cost) if it fits."""
        with self._lock:
            actual = requested_cost if actual_cost is None else actual_cost
            if requested_cost > self.max_query_cost:
                return self._refused(
                    now,
                    requested_cost,
                    "MAX_COST_EXCEEDED",
                    f"Query cost is {requested_cost:g}, which exceeds the single query "
                    f"max cost limit ({self.max_query_cost:g}).",
                )
            if self._bucket.time_until_room(now, requested_cost) > 0:
                return self._refused(now, requested_cost, "THROTTLED", "Throttled")
            self._bucket.try_add(now, actual)
            return GraphQLCharge(False, self._extensions(now, requested_cost, actual))

    def _refused(self, now: float, requested: float, code: str, message: str) -> GraphQLCharge:
        errors = [
            {
                "message": message,
                "extensions": {
                    "code": code,
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
        return GraphQLCharge(True, self._extensions(now, requested, None), errors)

    def _extensions(self, now: float, requested: float, actual: float | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.throttle_status(now),
            }
        }

    def reset(self) -> None:
        """Refill the bucket."""
        self._bucket.reset()

    def __repr__(self) -> str:
        return (
            f"GraphQLCostBucket(maximum_available={self.maximum_available:g}, "
            f"restore_rate={self.restore_rate:g})"
        )
