"""Raw page bodies are freed as soon as their page is, without Python's cyclic collector.

httpx binds each response's stream back to the response (a reference cycle), so a raw
body (about 750 KB for a page of 250 orders with their consignments) would otherwise
live until the collector's next full pass, which a long read runs rarely: the reader of
200,000 orders peaked 12 MiB higher with the bytes of tens of pages piled up. Here the
collector is switched off during the read, so only reference counting frees anything.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import httpx
import pytest

from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)


class WatchedTransport(httpx.BaseTransport):
    """Passes requests to the simulator and keeps a weak reference to each response."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.responses: list[tuple[str, weakref.ref[httpx.Response]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.responses.append((request.url.path, weakref.ref(response)))
        return response

    def alive(self, fragment: str) -> list[str]:
        """Paths of the responses to requests whose path holds ``fragment``, still in memory."""
        return [path for path, ref in self.responses if fragment in path and ref() is not None]


@pytest.fixture
def no_cyclic_collector() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


@pytest.mark.usefixtures("no_cyclic_collector")
@pytest.mark.parametrize("embed", [True, False])
def test_order_and_catalog_pages_are_freed_by_reference_counting(embed: bool) -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(
        seed=7, customers=60, orders=1000, products=400, carts=0, clock=clock
    )
    watched = WatchedTransport(sim.transport())
    with BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=watched,
        clock=clock,
        embed_order_lines=embed,
        concurrency=1,
    ) as conn:
        most_alive = 0
        read = 0
        for _ in conn.iter_orders():
            read += 1
            most_alive = max(most_alive, len(watched.alive("/v2/orders")))
        assert read == len(sim.expected_order_ids())
    list_pages = [p for p, _ in watched.responses if p.endswith("/v2/orders")]
    catalog_pages = [p for p, _ in watched.responses if "/v3/catalog/" in p]
    assert len(list_pages) >= 4  # 1,000 orders, 250 a page
    assert catalog_pages  # the ordered products' categories and images
    # While orders are yielded, at most the page being read is still in memory; after
    # the read, no order or catalog response is.
    assert most_alive <= 1
    assert watched.alive("/v2/orders") == []
    assert watched.alive("/v3/catalog/") == []
