"""Read a Square seller, one connection per location, offline against the simulator.

Run it with ``python examples/square_sync.py``. It builds a simulated seller with two
locations (USD and JPY), lists the locations, reads each one's customers, orders and
products, then plays "30 minutes later": a refund of an old sale and an offline sale
uploaded 48 hours late, both caught by the next incremental pass thanks to the
connector's recommended overlap. Everything runs in fake time: nothing sleeps.

Against the real API, drop the simulator and pass your access token:
``SquareConnector(access_token="EAAA…", location_id=…)``.
"""

from __future__ import annotations

import collections
import datetime as dt

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.square import SkippedRecord, SquareConnector, list_locations
from commerce_connectors.testing.simulators.square import SquareSimulator


def main() -> None:
    clock = FakeClock()
    sim = SquareSimulator(seed=42, customers=200, payments=1500, products=40, clock=clock)
    locations = list_locations(sim.token, transport=sim.transport(), clock=clock)
    print(f"{len(locations)} locations: {', '.join(loc.name or loc.id for loc in locations)}")

    checkpoints: dict[str, dt.datetime] = {}
    for location in locations:
        skipped: list[SkippedRecord] = []
        with SquareConnector(
            access_token=sim.token,
            location_id=location.id,
            merchant_id=location.merchant_id,
            transport=sim.transport(),
            clock=clock,
            on_skip=skipped.append,
        ) as conn:
            checkpoints[location.id] = clock.now()
            customers = list(conn.iter_customers())
            orders = list(conn.iter_orders())
            products = list(conn.iter_products())
            statuses = collections.Counter(o.status.value for o in orders)
            print(f"\n{conn.connection_id} ({location.name}, {location.currency})")
            print(f"  customers: {len(customers)} (skipped without email: {len(skipped)})")
            print(f"  orders:    {len(orders)} {dict(statuses.most_common(4))}")
            print(f"  products:  {len(products)}")
            example = orders[0]
            print(
                f"  e.g. order {example.order_number}: {example.total} "
                f"{example.status.value} {example.order_url}"
            )
            print(f"  requests: {conn.stats.snapshot()['calls']}")

    # 30 minutes later: a refund of an old sale, and an offline sale arriving 48 h late.
    clock.advance(30 * 60)
    tokyo = locations[1]
    old_payment = min(
        (p for p in sim.payments if p.data["location_id"] == tokyo.id),
        key=lambda p: p.created_at,
    )
    sim.refund(old_payment.data["id"])
    sim.add_sale(tokyo.id, at=clock.now() - dt.timedelta(hours=48))
    with SquareConnector(
        access_token=sim.token, location_id=tokyo.id, transport=sim.transport(), clock=clock
    ) as conn:
        since = checkpoints[tokyo.id] - conn.recommended_overlap
        changed = list(conn.iter_orders(since=since))
    print(f"\nincremental for {tokyo.name} since {since:%Y-%m-%d %H:%M} (72 h overlap):")
    for order in changed:
        created = f"{order.created_at:%Y-%m-%d}"
        print(f"  {order.external_id} {order.total} {order.status.value} created {created}")


if __name__ == "__main__":
    main()
