"""The simulator delivers signed events over real HTTP; the library verifies and resolves them.

A tiny receiver (``http.server`` on 127.0.0.1) stands for the app: it checks each
delivery with the library's ``verify``, answers 401 when it fails, and keeps the parsed
event otherwise. Hooks are registered with a public https URL, as BigCommerce requires,
and the outbox forwards them to the receiver like a tunnel would.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bigcommerce_webhook_support import world

from commerce_connectors.clock import Clock
from commerce_connectors.errors import WebhookVerificationError
from commerce_connectors.models import Cart, Customer, Order, Product
from commerce_connectors.webhooks import WebhookAction, WebhookEvent, parse_event, verify

PUBLIC = "https://hooks.example.com/"
URL = PUBLIC + "bigcommerce"


class Receiver:
    """An app's webhook endpoint on the loopback, verifying with the library."""

    def __init__(self, secret: str, clock: Clock) -> None:
        self.secret = secret
        self.clock = clock
        self.events: list[WebhookEvent] = []
        self.refused: list[str] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = list(self.headers.items())
                try:
                    verify(
                        "bigcommerce",
                        headers,
                        body,
                        secret=receiver.secret,
                        now=receiver.clock.now(),
                    )
                except WebhookVerificationError as exc:
                    receiver.refused.append(exc.check)
                    self.send_response(401)
                else:
                    receiver.headers.append({k.lower(): v for k, v in headers})
                    receiver.events.append(
                        parse_event("bigcommerce", headers, body, received_at=receiver.clock.now())
                    )
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll keeps shutdown() quick (the default polls every half second).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def setup() -> Iterator[tuple[Any, Any, Any, Receiver]]:
    clock, sim, conn = world()
    receiver = Receiver(sim.client_secret, clock)
    sim.webhooks.forward(PUBLIC, receiver.url)
    try:
        with conn:
            yield clock, sim, conn, receiver
    finally:
        sim.webhooks.close()
        receiver.close()


def test_store_changes_arrive_signed_and_resolve_to_records(setup: Any) -> None:
    clock, sim, conn, receiver = setup
    conn.ensure_webhooks(URL)
    buyer = sim.customers.query()[0]
    product = sim.products.query()[0]

    placed = sim.add_order(buyer=buyer, status_id=11, created_at=clock.now())
    clock.advance(60)
    sim.touch_order(placed.id, {"status_id": 2, "status": "Shipped"})
    sim.refund_order(placed.id)
    sim.update_customer(buyer.id, {"first_name": "Renamed"})
    sim.update_customer(
        buyer.id, {"addresses": [{**buyer.data["addresses"][0], "phone": "555-0100"}]}
    )
    sim.update_product(product.id, {"name": "Renamed product"})
    quiet = sim.add_cart(buyer=buyer, catalogue=[product], created_at=clock.now())
    bought = sim.add_cart(buyer=buyer, catalogue=[product], created_at=clock.now())
    assert sim.tick() == []  # not an hour yet
    # Deliveries are signed when queued: send them before the clock moves on, or the
    # receiver's five-minute window would refuse them (as it would real late ones).
    results = sim.webhooks.flush()
    clock.advance(3600)
    assert sim.tick() == [quiet, bought]
    order = sim.convert_cart(bought)
    sim.uninstall_app()
    results += sim.webhooks.flush()
    assert results
    assert all(r.ok for r in results), results
    assert receiver.refused == []
    topics = [e.topic for e in receiver.events]
    assert topics == [
        "store/order/created",
        "store/order/updated",  # the status change (statusUpdated is not subscribed)
        "store/order/refund/created",
        "store/order/updated",
        "store/customer/updated",
        "store/customer/address/updated",
        "store/product/updated",
        # cart creation and edits are not subscribed by default
        "store/cart/abandoned",
        "store/cart/abandoned",
        "store/order/created",
        "store/cart/converted",
        "store/app/uninstalled",
    ]
    assert len({e.event_id for e in receiver.events}) == len(receiver.events)
    assert all(conn.owns_event(e) for e in receiver.events)
    assert all(e.store_id == sim.store_hash for e in receiver.events)

    resolved = {e.event_id: conn.records_for_event(e) for e in receiver.events}
    by_topic: dict[str, list[Any]] = {}
    for e in receiver.events:
        by_topic.setdefault(e.topic, []).append(resolved[e.event_id])
    (first_order,) = by_topic["store/order/created"][0]
    assert isinstance(first_order, Order)
    assert first_order.external_id == str(placed.id)
    # Resolved now, so it is the order as it is now: refunded.
    assert first_order.raw_status == "Refunded"
    (customer,) = by_topic["store/customer/updated"][0]
    assert isinstance(customer, Customer)
    assert customer.first_name == "Renamed"
    (by_address,) = by_topic["store/customer/address/updated"][0]
    assert by_address.addresses[0].phone == "555-0100"
    (renamed,) = by_topic["store/product/updated"][0]
    assert isinstance(renamed, Product)
    assert renamed.name == "Renamed product"
    abandoned = list(by_topic["store/cart/abandoned"])
    # One cart is still there; the other was converted since, so it resolves to nothing.
    assert sorted(len(r) for r in abandoned) == [0, 1]
    assert isinstance(next(r for r in abandoned if r)[0], Cart)
    (converted_order,) = by_topic["store/cart/converted"][0]
    assert converted_order.external_id == str(order.id)
    uninstalled = next(e for e in receiver.events if e.topic == "store/app/uninstalled")
    assert (uninstalled.kind, uninstalled.action) == ("store", WebhookAction.UNINSTALL)
    assert resolved[uninstalled.event_id] == []


def test_a_cart_is_reported_abandoned_once_per_quiet_hour(setup: Any) -> None:
    clock, sim, conn, receiver = setup
    conn.ensure_webhooks(URL, ["store/cart/abandoned", "store/cart/deleted"])
    cart = sim.add_cart(catalogue=sim.products.query()[:1], created_at=clock.now())
    clock.advance(3599)
    assert sim.tick() == []
    clock.advance(1)
    assert sim.tick() == [cart]
    assert sim.tick() == []
    sim.webhooks.flush()
    sim.update_cart(cart, {"email": "later@example.com"})
    clock.advance(3600)
    sim.delete_cart(cart)
    assert sim.flush_webhooks()  # tick (nothing: deleted before a second report), then send
    assert [(e.topic, e.external_id) for e in receiver.events] == [
        ("store/cart/abandoned", cart),
        ("store/cart/deleted", cart),
    ]
    assert receiver.events[0].payload["data"]["token"]
    assert receiver.events[1].action is WebhookAction.DELETE


def test_redeliveries_keep_their_event_id(setup: Any) -> None:
    _, sim, conn, receiver = setup
    conn.ensure_webhooks(URL, ["store/order/updated"])
    sim.webhooks.faults(duplicate=2)
    order_id = sim.orders.query()[0].id
    sim.touch_order(order_id)
    sim.webhooks.flush()
    assert len(receiver.events) == 3
    assert len({e.event_id for e in receiver.events}) == 1


def test_two_updates_of_one_order_share_the_hash_not_the_event_id(setup: Any) -> None:
    clock, sim, conn, receiver = setup
    conn.ensure_webhooks(URL, ["store/order/updated"])
    order_id = sim.orders.query()[0].id
    sim.touch_order(order_id)
    clock.advance(5)
    sim.touch_order(order_id)
    sim.webhooks.flush()
    first, second = receiver.events
    assert first.payload["hash"] == second.payload["hash"]
    assert first.event_id != second.event_id
    # Without the webhook-id header the fallback id still tells them apart.
    bodies = [json.dumps(e.payload).encode() for e in (first, second)]
    at = dt.datetime(2024, 10, 1, tzinfo=dt.timezone.utc)
    ids = {parse_event("bigcommerce", {}, b, received_at=at).event_id for b in bodies}
    assert len(ids) == 2


def test_a_bad_signature_is_refused_and_retried_until_dropped(setup: Any) -> None:
    _, sim, conn, receiver = setup
    conn.ensure_webhooks(URL, ["store/product/updated"])
    sim.webhooks.faults(bad_signature=True)
    sim.update_product(sim.products.query()[0].id, {"name": "x"})
    for _ in range(sim.webhooks.max_attempts):
        assert [r.status for r in sim.webhooks.flush()] == [401]
    assert receiver.events == []
    assert set(receiver.refused) == {"signature"}
    assert len(sim.webhooks.failed) == 1


def test_a_late_delivery_is_signed_when_sent_but_a_replay_fails_the_timestamp(
    setup: Any,
) -> None:
    clock, sim, conn, receiver = setup
    conn.ensure_webhooks(URL, ["store/customer/created"])
    sim.add_customer()
    (delivery,) = sim.webhooks.pending
    clock.advance(301)
    # BigCommerce signs each attempt when it sends it: a late delivery passes.
    assert [r.status for r in sim.webhooks.flush()] == [200]
    # The same bytes sent again more than five minutes after signing do not.
    signed = delivery.sign(delivery.body, clock.now())
    clock.advance(301)
    replay = httpx.post(
        sim.webhooks.target(delivery.url),
        content=delivery.body,
        headers={**delivery.headers, **signed},
    )
    assert replay.status_code == 401
    assert receiver.refused == ["timestamp"]


def test_custom_headers_and_inactive_hooks(setup: Any) -> None:
    _, sim, conn, receiver = setup
    conn.ensure_webhooks(URL, ["store/product/created"], headers={"X-Shared-Secret": "k3y"})
    (other,) = conn.ensure_webhooks(PUBLIC + "paused", ["store/product/created"])
    sim.hooks[int(other.id)]["is_active"] = False
    sim.add_product("Lamp")
    sim.webhooks.flush()
    (event,) = receiver.events
    assert event.topic == "store/product/created"
    assert receiver.headers[0]["x-shared-secret"] == "k3y"
    assert receiver.headers[0]["content-type"] == "application/json"
