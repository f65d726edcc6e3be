"""Helpers for the HTTP engine tests: engines on MockTransport and scripted servers.

Named so it cannot clash with another test folder's helpers (these folders have no
``__init__.py``: a ``tests/http`` package would shadow the standard library's ``http``).
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from commerce_connectors._http import HeaderTokenAuth, HttpEngine, RetryPolicy
from commerce_connectors.clock import FakeClock

TOKEN = "shpat_TOPSECRET_0123456789abcdef"
BASE_URL = "https://acme.test/admin/api/2024-04"

Handler = Callable[[httpx.Request], httpx.Response]


def make_engine(handler: Handler, clock: FakeClock, **kwargs: Any) -> HttpEngine:
    """An engine for platform "testshop" on a MockTransport, with a seeded retry policy."""
    kwargs.setdefault("retry", RetryPolicy(rng=random.Random(7)))
    kwargs.setdefault("auth", HeaderTokenAuth.shopify(TOKEN))
    return HttpEngine(
        platform="testshop",
        base_url=BASE_URL,
        transport=httpx.MockTransport(handler),
        clock=clock,
        **kwargs,
    )


def scripted(
    responses: Iterable[httpx.Response | Exception],
) -> tuple[Handler, list[httpx.Request]]:
    """A handler that plays ``responses`` in order (raising the exceptions) and logs requests."""
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def ok(body: Any = None, **headers: str) -> httpx.Response:
    """A 200 JSON response."""
    return httpx.Response(200, json={"ok": True} if body is None else body, headers=headers)


def body_of(request: httpx.Request) -> Any:
    """The JSON body a request carried."""
    return json.loads(request.content) if request.content else None


class LeakyBucketServer:
    """A scripted leaky-bucket API on a FakeClock: answers 429 when the bucket is full.

    ``style`` picks the headers: ``"shopify"`` (``used/size``, used rounded down so the
    client sees a slightly optimistic number) or ``"tiendanube"`` (limit / remaining /
    ms-to-empty).
    """

    def __init__(
        self, clock: FakeClock, *, capacity: int = 40, leak: float = 2.0, style: str = "shopify"
    ) -> None:
        self.clock = clock
        self.capacity = capacity
        self.leak = leak
        self.style = style
        self.level = 0.0
        self.t = clock.monotonic()
        self.accepted = 0
        self.rejected = 0
        self.max_level = 0.0
        self._lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        if self.style == "shopify":
            return {"X-Shopify-Shop-Api-Call-Limit": f"{math.floor(self.level)}/{self.capacity}"}
        used = math.floor(self.level)
        return {
            "x-rate-limit-limit": str(self.capacity),
            "x-rate-limit-remaining": str(self.capacity - used),
            "x-rate-limit-reset": str(math.ceil(self.level / self.leak * 1000)),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            now = self.clock.monotonic()
            self.level = max(0.0, self.level - self.leak * (now - self.t))
            self.t = now
            if self.level + 1 > self.capacity + 1e-9:
                self.rejected += 1
                return httpx.Response(429, json={"errors": "Exceeded"}, headers=self._headers())
            self.level += 1
            self.max_level = max(self.max_level, self.level)
            self.accepted += 1
            return httpx.Response(200, json={"n": self.accepted}, headers=self._headers())


class WindowServer:
    """A scripted fixed-window API (BigCommerce headers) on a FakeClock."""

    def __init__(self, clock: FakeClock, *, quota: int = 150, window: float = 30.0) -> None:
        self.clock = clock
        self.quota = quota
        self.window = window
        self.start = clock.monotonic()
        self.used = 0
        self.accepted = 0
        self.rejected = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            now = self.clock.monotonic()
            if now >= self.start + self.window:
                self.start += math.floor((now - self.start) / self.window) * self.window
                self.used = 0
            reset_ms = math.ceil((self.start + self.window - now) * 1000)
            if self.used >= self.quota:
                self.rejected += 1
                return httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": str(reset_ms)})
            self.used += 1
            self.accepted += 1
            return httpx.Response(
                200,
                json={"data": []},
                headers={
                    "X-Rate-Limit-Requests-Left": str(self.quota - self.used),
                    "X-Rate-Limit-Requests-Quota": str(self.quota),
                    "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
                    "X-Rate-Limit-Time-Window-Ms": str(int(self.window * 1000)),
                },
            )
