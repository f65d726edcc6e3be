"""A kit for writing platform simulators: fake shop APIs that run in your tests.

A simulator is a request handler with routes, a rate limiter, fault injection
and a request log. It runs in-process behind :class:`httpx.MockTransport`
(:meth:`Simulator.transport`) or on a real loopback socket
(:meth:`Simulator.serve`), with the same answers either way. All time goes
through an injected :class:`~commerce_connectors.clock.Clock`.

Example:
    >>> import httpx
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.testing.simulator import (
    ...     ErrorStatus, ShopifyRestRateLimit, Simulator, json_response, route,
    ... )
    >>> class Shop(Simulator):
    ...     def error_body(self, status, message):
    ...         return {"errors": message}
    ...     @route("GET", "/admin/api/{version}/shop.json")
    ...     def shop(self, request, params):
    ...         return json_response({"shop": {"name": "Acme"}})
    >>> sim = Shop(clock=FakeClock(), rate_limit=ShopifyRestRateLimit(),
    ...            faults=[ErrorStatus(status=503, on=2)])
    >>> client = httpx.Client(transport=sim.transport(), base_url="https://acme.test")
    >>> [client.get("/admin/api/2024-04/shop.json").status_code for _ in range(3)]
    [200, 503, 200]
    >>> client.get("/admin/api/2024-04/shop.json").headers["X-Shopify-Shop-Api-Call-Limit"]
    '4/40'

See ``docs/simulators.md`` for a guide.
"""

from __future__ import annotations

from .base import Handler, Simulator, json_response, request_json, route
from .data import FakeAddress, FakeData, FakePerson, Page, RecordStore, StoredRecord
from .faults import (
    ConnectionReset,
    ErrorStatus,
    Fault,
    Latency,
    MalformedBody,
    Mutate,
    RateLimitBurst,
    SlowResponse,
)
from .log import LoggedRequest, RequestLog
from .ratelimit import (
    Admission,
    BigCommerceRateLimit,
    FixedWindow,
    FixedWindowRateLimit,
    GraphQLCharge,
    GraphQLCostBucket,
    LeakyBucket,
    LeakyBucketRateLimit,
    RateLimiter,
    ShopifyRestRateLimit,
    TiendanubeRateLimit,
    format_seconds,
)

__all__ = [
    "Admission",
    "BigCommerceRateLimit",
    "ConnectionReset",
    "ErrorStatus",
    "FakeAddress",
    "FakeData",
    "FakePerson",
    "Fault",
    "FixedWindow",
    "FixedWindowRateLimit",
    "GraphQLCharge",
    "GraphQLCostBucket",
    "Handler",
    "Latency",
    "LeakyBucket",
    "LeakyBucketRateLimit",
    "LoggedRequest",
    "MalformedBody",
    "Mutate",
    "Page",
    "RateLimitBurst",
    "RateLimiter",
    "RecordStore",
    "RequestLog",
    "ShopifyRestRateLimit",
    "Simulator",
    "SlowResponse",
    "StoredRecord",
    "TiendanubeRateLimit",
    "format_seconds",
    "json_response",
    "request_json",
    "route",
]
