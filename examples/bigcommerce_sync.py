"""Read a simulated BigCommerce store offline: orders, customers, products, a cart.

Run it with ``python examples/bigcommerce_sync.py``. It needs no network and no
credentials: the connector talks to an in-process :class:`BigCommerceSimulator`,
and both share a fake clock, so the store's rate-limit windows pass instantly.
To read a real store, drop ``transport=`` and ``clock=`` and pass your store hash
and API token.
"""

from __future__ import annotations

import collections
import datetime as dt

from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.rules import admit_record, defaults_for, prepare_contact
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)


def main() -> None:
    clock = ConcurrentFakeClock()
    store = BigCommerceSimulator(seed=7, customers=200, orders=800, products=60, clock=clock)
    rules = defaults_for("bigcommerce")
    with BigCommerceConnector(
        store_hash=store.store_hash,
        access_token=store.access_token,
        transport=store.transport(),  # remove for a real store
        clock=clock,  # remove for a real store
    ) as conn:
        orders = list(conn.iter_orders())
        kept = collections.Counter(
            "synced" if admit_record(o, rules.guests) else "guest (not synced)" for o in orders
        )
        print(f"orders: {len(orders)} read, {dict(kept)}, skipped {dict(conn.skipped)}")
        first = orders[0]
        print(
            f"  #{first.order_number} {first.status.value} {first.total} "
            f"shipping={first.shipping_method!r} lines={[line.name for line in first.lines]}"
        )

        customers = list(conn.iter_customers())
        contact = prepare_contact(customers[0]).contact
        print(f"customers: {len(customers)}; first contact tags: {contact.tags if contact else ()}")

        products = list(conn.iter_products())
        print(f"products: {len(products)}; e.g. {products[0].name!r} in {products[0].category!r}")

        cart = conn.get_cart(next(iter(store.carts)))  # the abandoned-cart webhook path
        print(f"cart: {cart.external_id if cart else None} total {cart.total if cart else None}")

        since = clock.now() - dt.timedelta(days=400)
        recent = sum(1 for _ in conn.iter_orders(since=since))
        print(f"incremental since {since:%Y-%m-%d}: {recent} orders")
        stats = conn.stats.snapshot()
        print(f"HTTP: {stats['calls']} requests, {stats['rate_limited']} rate-limited")


if __name__ == "__main__":
    main()
