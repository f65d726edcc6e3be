"""The simulator delivers signed events over real HTTP (127.0.0.1) to a tiny receiver that
checks each one with the library's verify, as a production receiver would.

Subscriptions are registered with a public https URL (Tiendanube refuses anything
else) and forwarded to the loopback receiver, as a tunnel would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest
from tiendanube_webhook_kit import START, connector, parse_event, simulator, verify

from commerce_connectors.errors import WebhookVerificationError
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import WebhookAction, WebhookEvent

PUBLIC = "https://hooks.example.com/"
CALLBACK = PUBLIC + "tiendanube/events"
SECRET = "receiver-test-client-secret"


@attrs.define
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def prefix(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = dict(self.headers.items())
        try:
            verify("tiendanube", headers, body, secret=self.server.secret)
            status = 200
        except WebhookVerificationError:
            status = 401
        with self.server.lock:
            self.server.received.append(Received(self.path, headers, body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    # A short poll so shutdown() returns at once (the default waits up to 0.5 s).
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[TiendanubeSimulator]:
    store = simulator(client_secret=SECRET)
    store.webhooks.forward(PUBLIC, receiver.prefix)
    try:
        yield store
    finally:
        store.webhooks.close()


def _events(receiver: Receiver) -> list[WebhookEvent]:
    return [
        parse_event("tiendanube", r.headers, r.body, received_at=START)
        for r in receiver.received
        if r.status == 200
    ]


def test_mutations_are_delivered_signed_and_read_back(
    sim: TiendanubeSimulator, receiver: Receiver
) -> None:
    conn = connector(sim)
    conn.ensure_webhooks(CALLBACK)
    customer = sim.add_customer()
    sim.update("customers", customer.id, {"phone": "+5491155550000"})
    product = sim.add_product()
    sim.update("products", product.id, {"published": False})
    order = sim.add_order(buyer_id=customer.id, payment_status="pending")
    sim.update("orders", order.id, {"payment_status": "paid"})
    sim.update("orders", order.id, {"payment_status": "refunded", "status": "cancelled"})
    checkout = next(iter(sim.stores["checkouts"]))
    sim.convert_checkout(checkout.id)
    sim.update("checkouts", checkout.id, {})  # no checkout event exists
    sim.delete("products", product.id)
    assert receiver.received == []  # queued, not sent, until flush

    results = sim.webhooks.flush()
    assert results
    assert all(r.ok for r in results)
    assert {r.path for r in receiver.received} == {"/tiendanube/events"}
    events = _events(receiver)
    converted = str(sim.stores["checkouts"].get(checkout.id).data["order_id"])  # type: ignore[union-attr]
    assert [(e.topic, e.external_id) for e in events] == [
        ("customer/created", str(customer.id)),
        ("customer/updated", str(customer.id)),
        ("product/created", str(product.id)),
        ("product/updated", str(product.id)),
        ("order/created", str(order.id)),
        ("order/updated", str(order.id)),
        ("order/paid", str(order.id)),
        ("order/updated", str(order.id)),
        ("order/cancelled", str(order.id)),
        ("order/created", converted),
        ("order/paid", converted),
        ("product/deleted", str(product.id)),
    ]
    assert all(conn.owns_event(e) for e in events)
    # The current records behind the upserts, fetched and parsed.
    upserts = [e for e in events if e.action is WebhookAction.UPSERT]
    fetched = [r for e in upserts for r in conn.records_for_event(e)]
    assert {r.external_id for r in fetched} == {str(customer.id), str(order.id), converted}


def test_the_signature_is_the_hex_hmac_of_the_exact_body(
    sim: TiendanubeSimulator, receiver: Receiver
) -> None:
    connector(sim).ensure_webhooks(CALLBACK, ["product/created"])
    sim.add_product()
    sim.webhooks.flush()
    (got,) = receiver.received
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Linkedstore-HMAC-SHA256"] == expected
    assert got.headers["Content-Type"] == "application/json"


def test_a_bad_signature_is_refused_and_redelivered(
    sim: TiendanubeSimulator, receiver: Receiver
) -> None:
    connector(sim).ensure_webhooks(CALLBACK, ["customer/created"])
    sim.webhooks.faults(bad_signature=True)
    sim.add_customer()
    first = sim.webhooks.flush()
    assert [r.status for r in first] == [401]
    assert len(sim.webhooks.pending) == 1  # the platform retries what was not acknowledged
    sim.webhooks.faults()
    sim.add_customer()
    results = sim.webhooks.flush()
    assert [r.status for r in results if r.attempt == 1] == [200]  # a fresh event passes
    assert [r.attempt for r in results if r.attempt > 1] == [2]  # the refused one came again


def test_deliveries_are_told_apart_by_their_arrival_time(
    sim: TiendanubeSimulator, receiver: Receiver
) -> None:
    connector(sim).ensure_webhooks(CALLBACK, ["order/created"])
    sim.webhooks.faults(duplicate=2)
    sim.add_order()
    assert [r.ok for r in sim.webhooks.flush()] == [True, True, True]
    arrivals = [START + dt.timedelta(microseconds=n) for n in range(3)]
    ids = {
        parse_event("tiendanube", r.headers, r.body, received_at=at).event_id
        for r, at in zip(receiver.received, arrivals, strict=True)
    }
    assert len(ids) == 3  # never merged: a second genuine update within a second survives


def test_only_subscribed_topics_and_urls_receive(
    sim: TiendanubeSimulator, receiver: Receiver
) -> None:
    conn = connector(sim)
    conn.ensure_webhooks(CALLBACK, ["order/paid"])
    conn.ensure_webhooks(PUBLIC + "other", ["customer/created"])
    sim.add_customer()
    sim.add_product()  # nobody subscribed
    sim.webhooks.flush()
    assert [(r.path, r.status) for r in receiver.received] == [("/other", 200)]


def test_app_lifecycle(sim: TiendanubeSimulator, receiver: Receiver) -> None:
    conn = connector(sim)
    conn.ensure_webhooks(CALLBACK)
    sim.suspend_app()
    sim.add_customer()  # nothing is delivered while suspended
    sim.resume_app()
    sim.uninstall_app()
    sim.add_customer()  # nor once uninstalled
    sim.webhooks.flush()
    events = _events(receiver)
    assert [(e.topic, e.action) for e in events] == [
        ("app/suspended", WebhookAction.SUSPEND),
        ("app/resumed", WebhookAction.RESUME),
        ("app/uninstalled", WebhookAction.UNINSTALL),
    ]
    assert events[-1].payload["id"] == sim.app_id
    assert {e.kind for e in events} == {"store"}


def test_privacy_requests(sim: TiendanubeSimulator, receiver: Receiver) -> None:
    customer = next(iter(sim.stores["customers"]))
    order = sim.add_order(buyer_id=customer.id)
    assert sim.request_store_redaction() is None  # no URL set in the app's settings
    with pytest.raises(ValueError, match="https"):
        sim.configure_privacy_webhooks(store_redact="http://hooks.example.com/x")
    sim.configure_privacy_webhooks(
        store_redact=PUBLIC + "privacy/store",
        customers_redact=PUBLIC + "privacy/redact",
        customers_data_request=PUBLIC + "privacy/data",
    )
    sim.request_customer_redaction(customer.id)
    sim.request_customer_data(customer.id)
    sim.request_store_redaction()
    sim.webhooks.flush()
    assert [r.path for r in receiver.received] == [
        "/privacy/redact",
        "/privacy/data",
        "/privacy/store",
    ]
    redact, data, store = _events(receiver)
    assert (redact.action, redact.kind, redact.external_id) == (
        WebhookAction.REDACT,
        "customer",
        str(customer.id),
    )
    assert redact.subject["email"] == customer.data["email"]
    assert str(order.id) in redact.subject["order_ids"]
    assert data.action is WebhookAction.DATA_REQUEST
    assert data.subject["data_request_id"] == "1"
    assert str(order.id) in data.subject["order_ids"]
    assert (store.action, store.kind) == (WebhookAction.REDACT, "store")
    with pytest.raises(KeyError):
        sim.request_customer_redaction(10**9)
