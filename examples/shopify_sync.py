"""Read a simulated Shopify shop offline: orders, customers, products, abandoned checkouts.

Run it with ``python examples/shopify_sync.py``. It uses the library's Shopify
simulator (no network, no real waiting: a FakeClock is shared by both sides) and
prints the cost figures of the run. Point ``ShopifyConnector`` at a real shop by
giving it ``shop="your-shop.myshopify.com"`` and an Admin API access token instead.
"""

from __future__ import annotations

import datetime as dt

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.shopify import ShopifyConnector
from commerce_connectors.rules import choose_phone
from commerce_connectors.testing.simulators.shopify import ShopifySimulator


def main() -> None:
    clock = FakeClock(wall_start=dt.datetime(2024, 10, 2, tzinfo=dt.timezone.utc))
    sim = ShopifySimulator(seed=42, customers=200, orders=600, products=40, checkouts=50,
                           clock=clock)  # fmt: skip
    connector = ShopifyConnector(
        shop=sim.shop, access_token=sim.token, transport=sim.transport(), clock=clock
    )
    with connector:
        orders = list(connector.iter_orders())
        customers = list(connector.iter_customers())
        products = list(connector.iter_products())
        carts = list(connector.iter_abandoned_carts())
        guests = sum(1 for o in orders if o.customer is not None and o.customer.is_guest)
        phones = sum(1 for c in customers if choose_phone(c).value is not None)
        print(f"{len(orders)} orders ({guests} by guests), {len(customers)} customers "
              f"({phones} with a usable phone), {len(products)} products, "
              f"{len(carts)} abandoned checkouts")  # fmt: skip
        first = orders[0]
        print(f"e.g. {first.order_number}: {first.total} {first.status.value} "
              f"({first.raw_status}), {len(first.lines)} line(s), {first.order_url}")  # fmt: skip
        since = clock.now()
        clock.advance(60)
        sim.stores["orders"].update(sim.stores["orders"].query()[0].id, {"tags": "vip"})
        changed = [o.external_id for o in connector.iter_orders(since=since)]
        print(f"incremental since {since:%Y-%m-%d %H:%M}Z: {changed}")
        stats = connector.stats.snapshot()
    report = sim.cost_report()
    print(f"{stats['calls']} requests, {report.actual} cost points used of "
          f"{report.available:.0f} available, {report.throttled} throttled, "
          f"{report.restore_rate_fraction:.2f} of the restore rate, "
          f"{clock.monotonic():.0f} s of (simulated) waiting")  # fmt: skip


if __name__ == "__main__":
    main()
