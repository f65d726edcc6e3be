"""How close the header-driven rate limiter runs to the platform's allowed rate.

Pages through the ToyShop simulator behind a leaky bucket (Tiendanube-style
headers) in real time and prints the achieved fraction of the fastest legal
schedule (one full bucket at once, then the leak rate), the 429 count and the
time spent waiting. Run with ``python -m benchmarks.ratelimit`` or ``nox -s bench``.
"""

from __future__ import annotations

import time

from commerce_connectors.clock import SystemClock
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.simulator import TiendanubeRateLimit

SCENARIOS = [
    # (pages, bucket capacity, leak rate per second)
    (300, 40, 50.0),
    (600, 40, 100.0),
    (400, 100, 100.0),
]


def run(pages: int, capacity: int, leak_rate: float) -> dict[str, float]:
    """Page ``pages`` times through one bucket; return the figures."""
    clock = SystemClock()
    sim = ToyShopSimulator(
        seed=3,
        customers=1,
        orders=0,
        products=pages,
        clock=clock,
        rate_limit=TiendanubeRateLimit(capacity=capacity, leak_rate=leak_rate),
    )
    with ToyShopConnector(
        token=sim.token, transport=sim.transport(), clock=clock, page_size=1
    ) as conn:
        started = time.monotonic()
        count = sum(1 for _ in conn.iter_products())
        elapsed = time.monotonic() - started
        waited = conn.engine.stats.rate_limit_wait
    ideal = max(pages - capacity, 0) / leak_rate
    return {
        "records": count,
        "elapsed_s": elapsed,
        "ideal_s": ideal,
        "fraction": ideal / elapsed if elapsed else 0.0,
        "http_429": sim.log.count_by_status().get(429, 0),
        "waited_s": float(waited),
    }


def main() -> None:
    """Print one line per scenario."""
    print("rate limiter vs a leaky bucket (real time, in-process simulator)")
    print(
        f"{'pages':>6} {'bucket':>7} {'leak/s':>7} {'elapsed':>8} {'ideal':>7} "
        f"{'fraction':>9} {'429s':>5} {'waited':>7}"
    )
    for pages, capacity, leak in SCENARIOS:
        r = run(pages, capacity, leak)
        print(
            f"{pages:>6} {capacity:>7} {leak:>7.0f} {r['elapsed_s']:>7.2f}s {r['ideal_s']:>6.2f}s "
            f"{r['fraction']:>9.1%} {r['http_429']:>5} {r['waited_s']:>6.2f}s"
        )


if __name__ == "__main__":
    main()
