"""Read a (simulated) Tiendanube store: customers, orders, products, abandoned checkouts.

Runs offline against the in-process simulator, with a fake clock so the 2 requests/s
budget costs no real time, and prints what a historical sync would send to a CRM plus
the rate-limit figures. Point it at a real store by replacing the simulator arguments
with ``store_id=`` and ``access_token=`` (and dropping ``base_url``/``transport``/``clock``).

    python examples/tiendanube_sync.py [orders] [checkouts]
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.rules import prepare_contact
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator


def main(orders: int = 2_000, checkouts: int = 300) -> None:
    clock = FakeClock()
    sim = TiendanubeSimulator(
        seed=7, customers=orders // 4, orders=orders, products=120, checkouts=checkouts,
        clock=clock, languages=("pt", "es"), currency="BRL",
    )  # fmt: skip
    clock.advance(6 * 3600)  # let the generated checkouts appear
    conn = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="ExampleCRM (integrations@example.com)",
        base_url=sim.base_url,
        transport=sim.transport(),
        clock=clock,
    )
    started_wall, started_fake = time.perf_counter(), clock.monotonic()
    with conn:
        customers = list(conn.iter_customers())
        products = list(conn.iter_products())
        order_list = list(conn.iter_orders())
        carts = list(conn.iter_abandoned_carts())
        states = Counter(conn.cart_status(c).state.value for c in carts)
    wall, fake = time.perf_counter() - started_wall, clock.monotonic() - started_fake
    records = len(customers) + len(products) + len(order_list) + len(carts)
    contacts = [d.contact for d in map(prepare_contact, [*customers, *carts]) if d.contact]
    requests = len(sim.log.entries)
    print(f"store {conn.connection_id}: main language {conn.main_language()}")
    print(f"customers {len(customers)}, products {len(products)}, orders {len(order_list)}, "
          f"checkouts {len(carts)} -> contacts {len(contacts)}")  # fmt: skip
    print("orders by status:", dict(Counter(o.status.value for o in order_list).most_common()))
    print("checkouts by abandonment state:", dict(states))
    print(f"first product: {products[0].name!r} (also {products[0].extra['name_translations']})")
    ideal = max(0.0, (requests - 40) / 2)  # a burst of 40, then 2 per second
    pace = f"{records / fake:.1f} records per simulated second" if fake else "no wait needed"
    print(f"{requests} requests, 429 seen: {sim.log.count_by_status().get(429, 0)}, "
          f"simulated time {fake:.1f} s (bucket ideal {ideal:.1f} s), {pace}, "
          f"{records / wall:.0f} records per wall second")  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
