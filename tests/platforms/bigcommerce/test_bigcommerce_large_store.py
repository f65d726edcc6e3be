"""A historical pass over a 5,000-order simulated store, then an incremental pass.

Orders come with their consignments (line items, shipping addresses) in the list page;
the per-order sub-request path is compared with it in
``test_bigcommerce_embedded_orders.py``.

The sync engine is not part of this package, so "sync" is tested at the connector
level: a full ``iter_orders`` pass compared with the simulator's ground truth, the
BigCommerce guest policy applied as the engine will apply it, and the figures taken
from the simulator's request log and the connector's ``HttpStats``. All in fake time.
"""

from __future__ import annotations

import collections
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

from commerce_connectors.models import Order, OrderStatus
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.rules import Reason, admit_record, defaults_for
from commerce_connectors.testing.simulator import Mutate
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
    fixed_windows,
)

ORDERS = 5000
QUOTA = 450  # a Pro store: 450 requests per 30 s window
WINDOW = 30.0
SUB_ROUTES = {
    "/stores/{store_hash}/v2/orders/{order_id}/products",
    "/stores/{store_hash}/v2/orders/{order_id}/shipping_addresses",
    "/stores/{store_hash}/v2/orders/{order_id}/coupons",
}


@attrs.frozen
class Run:
    sim: BigCommerceSimulator
    clock: ConcurrentFakeClock
    orders: list[Order]
    stats: dict[str, Any]
    skipped: dict[str, int]
    fake_seconds: float
    real_seconds: float


@pytest.fixture(scope="module")
def historical() -> Iterator[Run]:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(
        seed=2024,
        customers=900,
        orders=ORDERS,
        products=150,
        clock=clock,
        quota=QUOTA,
        window=WINDOW,
    )
    with BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        quota=QUOTA,
        concurrency=4,
    ) as conn:
        started, fake_start = time.perf_counter(), clock.monotonic()
        orders = list(conn.iter_orders())
        yield Run(
            sim,
            clock,
            orders,
            conn.stats.snapshot(),
            dict(conn.skipped),
            clock.monotonic() - fake_start,
            time.perf_counter() - started,
        )


def test_historical_pass_matches_ground_truth_and_skips_guests(historical: Run) -> None:
    sim, orders = historical.sim, historical.orders
    statuses = collections.Counter(r.data["status_id"] for r in sim.orders)
    assert len(statuses) == 15
    assert statuses[4]
    assert statuses[14]
    ids = [o.external_id for o in orders]
    assert len(ids) == len(set(ids)) == len(sim.expected_order_ids())
    assert set(ids) == sim.expected_order_ids()
    assert historical.skipped == {
        "incomplete": sum(1 for r in sim.orders if r.data["status_id"] == 0)
    }

    # The seed's rule: guest checkouts are not synced, and they are counted with a reason.
    policy = defaults_for("bigcommerce").guests
    decisions = [(o, admit_record(o, policy)) for o in orders]
    synced = {o.external_id for o, d in decisions if d}
    skipped = collections.Counter(d.reason for _, d in decisions if not d)
    truth_registered = {
        str(r.id) for r in sim.orders if r.data["status_id"] != 0 and r.data["customer_id"] != 0
    }
    truth_guests = {
        str(r.id) for r in sim.orders if r.data["status_id"] != 0 and r.data["customer_id"] == 0
    }
    assert synced == truth_registered
    assert skipped == {Reason.GUEST_EXCLUDED: len(truth_guests)}
    assert len(truth_guests) > ORDERS // 10

    # Every order is complete: lines, totals to the 4th decimal, shipping and coupons.
    by_id = {o.external_id: o for o in orders}
    for record in sim.orders:
        order = by_id.get(str(record.id))
        if order is None:
            continue
        assert str(order.total.amount) == record.data["total_inc_tax"]
        assert len(order.lines) == len(sim.order_products[record.id])
        assert order.discount_codes == tuple(c["code"] for c in sim.order_coupons[record.id])
        shipping = sim.order_shipping[record.id]
        assert order.shipping_method == (shipping[0]["shipping_method"] if shipping else None)
    assert any(o.status is OrderStatus.REFUNDED for o in orders)


def test_historical_pass_stays_within_the_rate_budget(historical: Run) -> None:
    log = historical.sim.log
    assert log.count_by_status() == {200: len(log)}  # zero 429 (and nothing else)
    assert historical.stats["rate_limited"] == 0
    assert historical.stats["retries"] == 0
    windows = fixed_windows([e.time for e in log.entries], WINDOW)
    assert max(windows) <= QUOTA - 2  # the limiter keeps its safety margin for other apps
    # Lines and shipping addresses came inside the order pages (their consignments): the
    # only sub-requests left are the coupons of the orders with a coupon discount.
    subs = [e for e in log.entries if e.route in SUB_ROUTES]
    assert {e.route for e in subs} == {"/stores/{store_hash}/v2/orders/{order_id}/coupons"}
    with_coupon = {str(r.id) for r in historical.sim.orders if historical.sim.order_coupons[r.id]}
    assert {e.path.split("/")[5] for e in subs} == with_coupon & {
        o.external_id for o in historical.orders
    }

    requests_per_order = len(log) / len(historical.orders)
    fraction = len(log) / (len(windows) * QUOTA)
    print(
        f"\nBigCommerce historical pass: {len(historical.orders)} orders, {len(log)} requests "
        f"({requests_per_order:.2f} per order), {len(windows)} windows of {WINDOW:g} s, "
        f"{fraction:.1%} of the {QUOTA}/window quota (busiest window {max(windows)}), "
        f"{historical.fake_seconds:.0f} s of store time, "
        f"{len(historical.orders) / historical.real_seconds:.0f} orders/s in the simulator"
    )
    assert requests_per_order < 0.25  # 2.11 when every order had its own sub-requests


def test_incremental_with_orders_modified_during_paging_loses_nothing(historical: Run) -> None:
    sim, clock = historical.sim, historical.clock
    # After the historical pass, time moves on and some orders change.
    clock.advance(3600)
    checkpoint = clock.now()
    changed = [r.id for r in sim.orders.query(sort="id")[::97]]
    for order_id in changed:
        clock.advance(1)
        sim.touch_order(order_id)
    # While the incremental pass pages, more orders change: the first ones it already read.
    during: list[int] = []

    def touch_during(request: httpx.Request) -> None:
        for order_id in sorted(set(changed) - set(during))[:3]:
            during.append(order_id)
            sim.touch_order(order_id)

    sim.add_fault(Mutate(hook=touch_during, route="/stores/{store_hash}/v2/orders", on=(2, 3)))
    sim.log.reset()
    with BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        quota=QUOTA,
        concurrency=8,
        page_size=20,
    ) as conn:
        since = checkpoint - conn.recommended_overlap
        got = {o.external_id: o for o in conn.iter_orders(since=since)}
    sim.clear_faults()
    expected = sim.expected_order_ids(since)
    assert during
    assert set(got) == expected
    for order_id in map(int, expected):  # each at its newest version
        record = sim.orders.get(order_id)
        assert record is not None
        assert got[str(order_id)].updated_at == record.updated_at
    assert sim.log.count_by_status().get(429) is None
    # Only orders modified mid-pass had their sub-resources (coupons) fetched twice (once
    # per version); the seek walk re-asks page 1 of /v2/orders with a new cursor each time.
    refetched = {e.path.split("/")[5] for e in sim.log.repeated() if e.route in SUB_ROUTES}
    assert refetched <= {str(i) for i in during}
    assert dt.timedelta(minutes=5) <= conn.recommended_overlap
