"""Requests per order and per contact into ActiveCampaign, and orders per minute at 5 req/s.

Writes through ``ActiveCampaignSink`` into the in-process ActiveCampaign simulator on a
fake clock (the 5 requests/s pace costs no real time; simulated time is what a real
account would take) and prints, per kind of write, the requests it costs and the
throughput that gives at the account's limit:

* a new contact (two tags, a company, consent to the list) with its customer record;
* a new order (and an unchanged or updated one) of a contact already seen, i.e. with
  the sink's cached lookups;
* an order that takes over the abandoned cart it names (``checkout_id``);
* the same orders re-sent by a restarted process (no cache: lookups again);
* a whole historical sync of a realistic store through ``SyncEngine``.

Run with ``python -m benchmarks.activecampaign`` or ``nox -s bench``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

import attrs

from commerce_connectors.clock import FakeClock
from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import Cart, Customer, LineItem, Money, Order
from commerce_connectors.protocols import SinkBatch, SinkItem, Stream
from commerce_connectors.rules import Contact, ContactKey, RecordKey, SourceRef, TriggerDecision
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink, activecampaign_limiter
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator

CONN = "custom:bench-store"
RATE = 5.0


_T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def _t(hours: float = 0.0) -> dt.datetime:
    return _T0 + dt.timedelta(hours=hours)


class Bench:
    """One simulator, one sink, one clock; counts requests per step."""

    def __init__(self) -> None:
        # The account's "now" is after the records' dates: a cart's abandonedDate is past.
        self.clock = FakeClock(wall_start=_T0 + dt.timedelta(days=30))
        self.sim = ActiveCampaignSimulator(clock=self.clock)
        # One pacer per account, shared by every sink of it (a restarted one included).
        self.limiter = activecampaign_limiter(RATE, clock=self.clock)
        self.sink = self.new_sink()
        self.seq = 0

    def new_sink(self) -> ActiveCampaignSink:
        return ActiveCampaignSink(
            api_url=self.sim.api_url,
            api_token=self.sim.token,
            transport=self.sim.transport(),
            clock=self.clock,
            list_name="Master Contact List",
            rate_limiter=self.limiter,
        )

    def write(self, *items: SinkItem) -> None:
        for item in items:  # batch size 1, as the engine sends them
            self.seq += 1
            self.sink.write(SinkBatch((item,), CONN, None, self.seq))

    def measure(self, count: int, step: Callable[[int], None]) -> tuple[float, float]:
        """Requests per unit and simulated seconds per unit over ``count`` units."""
        before, t0 = len(self.sim.log), self.clock.monotonic()
        for n in range(count):
            step(n)
        return (len(self.sim.log) - before) / count, (self.clock.monotonic() - t0) / count

    def contact(self, n: int, hours: float = 0.0) -> SinkItem:
        email = f"shopper{n}@example.com"
        record = Contact(
            ContactKey("email", email),
            _t(hours),
            email=email,
            first_name=f"Shopper{n}",
            last_name="Bench",
            phone=f"+1415555{n % 10000:04d}",
            company=f"Company {n % 7}",
            tags=("bench", f"segment-{n % 5}"),
            accepts_marketing=n % 2 == 0,
            sources=[SourceRef("custom", CONN, str(n), _t(hours))],
        )
        fields = DEFAULT_MAPS["contact"].apply(record).fields
        return SinkItem(RecordKey("", "contact", email), record, fields)

    def customer(self, n: int) -> SinkItem:
        email = f"shopper{n}@example.com"
        t = _t()
        record = Customer("custom", CONN, str(n), t, t, email=email, accepts_marketing=n % 2 == 0)
        fields = DEFAULT_MAPS["customer"].apply(record).fields
        return SinkItem(RecordKey(CONN, "customer", str(n)), record, fields, contact=email)

    def order(self, n: int, buyer: int, hours: float = 1.0, total: str = "42.50") -> SinkItem:
        email = f"shopper{buyer}@example.com"
        t = _t(hours)
        record = Order(
            "custom",
            CONN,
            f"o{n}",
            _t(),
            t,
            status="paid",
            raw_status="paid",
            total=Money(total, "USD"),
            email=email,
            customer_external_id=str(buyer),
            lines=[
                LineItem("Mug", 1, Money("20.00", "USD"), product_id="p1", sku="MUG"),
                LineItem("Tea", 1, Money(total, "USD") - Money("20.00", "USD"), product_id="p2"),
            ],
        )
        fields = DEFAULT_MAPS["order"].apply(record).fields
        trigger = TriggerDecision(False)
        return SinkItem(RecordKey(CONN, "order", f"o{n}"), record, fields, trigger, contact=email)

    def cart(self, n: int, buyer: int) -> SinkItem:
        email = f"shopper{buyer}@example.com"
        record = Cart(
            "custom",
            CONN,
            f"chk{n}",
            _t(),
            _t(),
            total=Money("20.00", "USD"),
            email=email,
            lines=[LineItem("Mug", 1, Money("20.00", "USD"), product_id="p1")],
        )
        fields = DEFAULT_MAPS["cart"].apply(record).fields
        key = RecordKey(CONN, "cart", f"chk{n}")
        trigger = TriggerDecision(False)
        return SinkItem(key, record, fields, trigger, contact=email, status="abandoned")

    def recovery(self, n: int, buyer: int) -> SinkItem:
        """An order naming the checkout it came from (``Order.extra["checkout_id"]``)."""
        item = self.order(10_000 + n, buyer)
        assert isinstance(item.record, Order)
        record = attrs.evolve(item.record, extra={"checkout_id": f"chk{n}"})
        return attrs.evolve(item, record=record, trigger=TriggerDecision(True))


def per_write(contacts: int, orders: int) -> list[tuple[str, float, float]]:
    """Requests and simulated seconds per write, for each kind of write."""
    b = Bench()
    rows = []
    req, sec = b.measure(contacts, lambda n: b.write(b.contact(n), b.customer(n)))
    rows.append(("new contact + its customer (2 tags, company, consent)", req, sec))
    req, sec = b.measure(contacts, lambda n: b.write(b.contact(n), b.customer(n)))
    rows.append(("the same contact + customer again (cached)", req, sec))
    # The engine sends the buyer's contact before each order: unchanged, it costs nothing.

    def buy(n: int) -> None:
        b.write(b.contact(n % contacts), b.order(n, n % contacts))

    req, sec = b.measure(orders, buy)
    rows.append(("new order of a contact already seen", req, sec))
    req, sec = b.measure(orders, buy)
    rows.append(("the same order again (unchanged)", req, sec))
    req, sec = b.measure(
        orders, lambda n: b.write(b.order(n, n % contacts, hours=2.0, total="45.00"))
    )
    rows.append(("an updated order (newer, changed)", req, sec))
    for n in range(orders):
        b.write(b.cart(n, n % contacts))  # abandoned carts, written earlier
    req, sec = b.measure(orders, lambda n: b.write(b.recovery(n, n % contacts)))
    rows.append(("an order taking over its abandoned cart", req, sec))
    carts = [o for o in b.sim.records("ecomOrders") if o.get("externalcheckoutid")]
    assert {o["state"] for o in carts} == {3}, "an order did not take over its cart"
    b.sink = b.new_sink()  # a restarted process: nothing cached

    def resend(n: int) -> None:
        b.write(b.contact(n % contacts), b.order(n, n % contacts, hours=2.0, total="45.00"))

    req, sec = b.measure(orders, resend)
    rows.append(("an unchanged order after a restart (lookups)", req, sec))
    assert b.sim.rate_limited == 0, "the pacer let a 429 through"
    return rows


def historical(customers: int, orders: int) -> dict[str, float]:
    """A whole historical sync of a realistic ToyShop store."""
    clock = FakeClock()
    shop = ToyShopSimulator(
        seed=11,
        customers=customers,
        orders=orders,
        products=30,
        clock=clock,
        realistic=True,
        now=clock.now(),
    )
    ac = ActiveCampaignSimulator(clock=clock)
    sink = ActiveCampaignSink(
        api_url=ac.api_url, api_token=ac.token, transport=ac.transport(), clock=clock
    )
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    wall = time.perf_counter()
    t0 = clock.monotonic()
    report = SyncEngine(connector, sink, MemoryStateStore(), clock=clock).run("historical")
    simulated = clock.monotonic() - t0
    written = report.stream(Stream.ORDERS).new
    return {
        "orders": float(written),
        "contacts": float(ac.count("contacts")),
        "requests": float(len(ac.log)),
        "simulated_s": simulated,
        "wall_s": time.perf_counter() - wall,
        "http_429": float(ac.rate_limited),
        "orders_per_min": written / (simulated / 60) if simulated else 0.0,
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--store-orders", type=int, default=600)
    args = parser.parse_args()

    print(f"ActiveCampaign sink into the simulator, paced at {RATE:g} requests/s (simulated time)")
    print(f"{'write':<56} {'req/unit':>8} {'units/min':>10}")
    for label, req, _sec in per_write(args.contacts, args.orders):
        per_min = f"{60 * RATE / req:.0f}" if req else "no limit"
        print(f"{label:<56} {req:>8.2f} {per_min:>10}")
    h = historical(args.store_orders // 3, args.store_orders)
    print(
        f"historical sync, realistic store: {h['orders']:.0f} orders, {h['contacts']:.0f} "
        f"contacts, {h['requests']:.0f} requests ({h['requests'] / max(h['orders'], 1):.2f} per "
        f"order all included), {h['simulated_s'] / 60:.1f} simulated min -> "
        f"{h['orders_per_min']:.0f} orders/min; 429s: {h['http_429']:.0f}; "
        f"wall {h['wall_s']:.1f}s"
    )


if __name__ == "__main__":
    main()
