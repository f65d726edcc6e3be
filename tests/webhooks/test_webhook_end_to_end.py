"""End to end over real HTTP, per platform: simulator → uvicorn receiver → SQLite inbox →
worker → SQLite sink.

Each platform's simulator holds subscriptions made through its own API and
delivers signed events to a public https URL; the outbox forwards them to the
receiver on 127.0.0.1, as a tunnel would. Deliveries are duplicated and
reordered: the sink must end with one up-to-date record, written in real time.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.platforms.shopify import ShopifyConnector
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.protocols import EventStatus, RealtimeConnector
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.testing.simulators.square import SquareSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import WebhookEndpoint, WebhookReceiver, WebhookWorker
from commerce_connectors.webhooks.asgi import ReceiverServer, create_app

PUBLIC = "https://hooks.example.com/"
START = dt.datetime(2024, 10, 4, 12, tzinfo=dt.timezone.utc)


class Rig:
    """The real-time path for one connection, served on 127.0.0.1."""

    def __init__(
        self,
        tmp: Path,
        connector: RealtimeConnector,
        *,
        secret: Any,
        url: str,
        clock: Any,
        outbox: Any,
    ) -> None:
        self.path = tmp / "crm.db"
        self.state = SQLiteStateStore(self.path)
        self.sink = SQLiteSink(self.path)
        self.clock = clock
        self.connector = connector
        engine = SyncEngine(connector, self.sink, self.state, clock=clock)
        self.engine = engine
        self.worker = WebhookWorker(self.state, [engine], clock=clock)
        endpoint = WebhookEndpoint(
            connector.connection_id,
            connector.platform,
            secret=secret,
            url=url,
            owns=connector.owns_event,
        )
        receiver = WebhookReceiver(self.state, [endpoint], clock=clock)
        self.server = ReceiverServer(create_app(receiver))
        self.server.start()
        outbox.forward(PUBLIC, self.server.url + "/")
        self.outbox = outbox

    def deliver(self) -> list[Any]:
        results = self.outbox.flush()
        assert results, "the simulator delivered nothing"
        assert all(r.status == 200 for r in results), [(r.topic, r.status) for r in results]
        return results

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as db:
            return db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.server.stop()
        self.outbox.close()
        self.sink.close()
        self.state.close()
        self.connector.close()


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.close()


def _all_done(rig: Rig) -> None:
    counts = rig.state.event_counts()
    assert counts[EventStatus.PENDING] == 0, rig.state.events(status=EventStatus.PENDING)
    assert counts[EventStatus.FAILED] == 0, rig.state.events(status=EventStatus.FAILED)
    assert counts[EventStatus.DONE] > 0


def test_shopify_duplicate_and_reordered_updates_leave_one_current_order(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    clock = FakeClock(wall_start=START)
    sim = ShopifySimulator(seed=3, customers=4, orders=6, products=4, checkouts=2, clock=clock)
    conn = ShopifyConnector(
        shop=sim.shop, access_token=sim.token, transport=sim.transport(), clock=clock
    )
    url = PUBLIC + "webhooks/shopify/" + sim.shop
    conn.ensure_webhooks(url, ["orders/updated"])
    rig = Rig(tmp_path, conn, secret=sim.client_secret, url=url, clock=clock, outbox=sim.webhooks)
    rigs.append(rig)
    order = next(iter(sim.stores["orders"]))
    sim.update_order(order.id, {"note": "first"})
    clock.sleep(60)
    sim.update_order(order.id, {"financial_status": "refunded", "note": "second"})
    sim.webhooks.faults(duplicate=1, reorder=True)
    rig.deliver()
    report = rig.worker.drain()
    assert report.failed == 0
    _all_done(rig)
    rows = rig.rows(
        "SELECT status, trigger_fires, trigger_source FROM orders WHERE external_id = ?",
        str(order.id),
    )
    assert rows == [("refunded", 1, 1)]
    # Two distinct updates were stored once each; their duplicates were dropped.
    assert rig.state.event_counts()[EventStatus.DONE] == 2


def test_bigcommerce_abandoned_cart_reaches_the_sink_in_real_time_then_converts(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(clock=clock, seed=7, customers=6, orders=8, products=5, carts=0)
    conn = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        concurrency=1,
    )
    url = PUBLIC + "webhooks/bigcommerce/" + sim.store_hash
    topics = ["store/order/created", "store/order/updated", "store/cart/abandoned"]
    conn.ensure_webhooks(url, [*topics, "store/cart/converted"])
    rig = Rig(tmp_path, conn, secret=sim.client_secret, url=url, clock=clock, outbox=sim.webhooks)
    rigs.append(rig)
    buyer = sim.customers.query()[0]
    product = sim.products.query()[0]
    placed = sim.add_order(buyer=buyer, status_id=11, created_at=clock.now())
    sim.touch_order(placed.id, {"status_id": 2, "status": "Shipped"})
    cart = sim.add_cart(buyer=buyer, catalogue=[product], created_at=clock.now())
    clock.advance(3601)
    assert sim.tick() == [cart]
    sim.webhooks.faults(duplicate=1, reorder=True)
    rig.deliver()
    rig.worker.drain()
    _all_done(rig)
    assert rig.rows(
        "SELECT raw_status, trigger_source FROM orders WHERE external_id = ?", str(placed.id)
    ) == [("Shipped", 1)]
    carts = rig.rows("SELECT external_id, state, trigger_fires, trigger_source FROM carts")
    assert carts == [(cart, "abandoned", 1, 1)]
    # The shopper comes back and buys: the cart is marked recovered and stops firing.
    sim.webhooks.faults()
    sim.convert_cart(cart)
    rig.deliver()
    rig.worker.drain()
    assert rig.rows("SELECT state, trigger_fires FROM carts") == [("recovered", 0)]


def test_square_refund_after_a_sale_leaves_one_refunded_order(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    clock = FakeClock(wall_start=START)
    sim = SquareSimulator(seed=5, customers=12, payments=30, products=6, clock=clock)
    location = sim.locations[0]
    conn = SquareConnector(
        access_token=sim.token,
        location_id=location.id,
        merchant_id=location.merchant_id,
        transport=sim.transport(),
        clock=clock,
    )
    url = PUBLIC + "webhooks/square"
    (subscription, *_) = conn.ensure_webhooks(
        url, ["payment.created", "payment.updated", "refund.created", "order.updated"]
    )
    assert subscription.signature_key
    rig = Rig(
        tmp_path,
        conn,
        secret=subscription.signature_key,
        url=url,
        clock=clock,
        outbox=sim.webhooks,
    )
    rigs.append(rig)
    (payment,) = sim.add_sale(location.id, via_api=True)
    clock.sleep(30)
    sim.refund(payment, partial=True)
    sim.webhooks.faults(duplicate=1, shuffle=True)
    rig.deliver()
    rig.worker.drain()
    _all_done(rig)
    rows = rig.rows("SELECT status, trigger_source FROM orders")
    assert rows == [("partially_refunded", 1)]


def test_tiendanube_paid_then_cancelled_leaves_the_cancelled_order(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    clock = FakeClock(wall_start=START)
    secret = "tn-e2e-secret"
    sim = TiendanubeSimulator(
        seed=5, customers=4, orders=6, products=3, checkouts=2, clock=clock, client_secret=secret
    )
    conn = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="commerce-connectors tests (dev@example.com)",
        base_url=sim.base_url,
        transport=sim.transport(),
        clock=clock,
    )
    url = PUBLIC + "webhooks/tiendanube/" + str(sim.store_id)
    conn.ensure_webhooks(url, ["order/created", "order/updated", "order/paid"])
    rig = Rig(tmp_path, conn, secret=secret, url=url, clock=clock, outbox=sim.webhooks)
    rigs.append(rig)
    customer = sim.add_customer()
    order = sim.add_order(buyer_id=customer.id, payment_status="pending")
    clock.sleep(5)
    sim.update("orders", order.id, {"payment_status": "paid"})
    clock.sleep(5)
    sim.update("orders", order.id, {"payment_status": "refunded", "status": "cancelled"})
    sim.webhooks.faults(duplicate=1, reorder=True)
    rig.deliver()
    rig.worker.drain()
    _all_done(rig)
    rows = rig.rows(
        "SELECT raw_status, trigger_source FROM orders WHERE external_id = ?", str(order.id)
    )
    assert len(rows) == 1
    assert rows[0][1] == 1
    assert "cancelled" in rows[0][0]
