"""The header-driven rate limiter against the simulator kit's leaky bucket, in real time.

300 pages through a bucket of 40 leaking at 50/s: the client must never be
answered 429 and should run close to the allowed rate. Only the zero-429 part
and a loose lower bound are asserted (timing on a shared CI machine varies);
``benchmarks/ratelimit.py`` prints the achieved fraction.
"""

from __future__ import annotations

import time

from commerce_connectors.clock import SystemClock
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.simulator import TiendanubeRateLimit

PAGES = 300
CAPACITY = 40
LEAK_RATE = 50.0


def test_300_pages_through_a_40_at_50_per_second_bucket_get_zero_429() -> None:
    clock = SystemClock()
    sim = ToyShopSimulator(
        seed=3,
        customers=1,
        orders=0,
        products=PAGES,
        clock=clock,
        rate_limit=TiendanubeRateLimit(capacity=CAPACITY, leak_rate=LEAK_RATE),
    )
    with ToyShopConnector(
        token=sim.token, transport=sim.transport(), clock=clock, page_size=1
    ) as conn:
        started = time.monotonic()
        products = list(conn.iter_products())
        elapsed = time.monotonic() - started

    assert len(products) == PAGES
    statuses = sim.log.count_by_status()
    assert statuses.get(429, 0) == 0, statuses
    assert statuses == {200: PAGES}
    # The fastest legal schedule: one full bucket at once, then the leak rate.
    ideal = (PAGES - CAPACITY) / LEAK_RATE
    fraction = ideal / elapsed
    assert fraction > 0.5, f"achieved {fraction:.2%} of the allowed rate in {elapsed:.2f}s"
