"""records_for_event and owns_event: each kind fetched and parsed exactly as the streams
parse it, 404s, other stores, refused payloads and API errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tiendanube_webhook_kit import START, Spec, connector, parse_event, simulator, spec

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    AuthenticationError,
    ClientRequestError,
    InvalidRecordError,
)
from commerce_connectors.models import Customer, Order, Platform, Product
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import WebhookEvent


def _event(sim: TiendanubeSimulator, topic: str, record_id: object) -> WebhookEvent:
    body = json.dumps({"store_id": sim.store_id, "event": topic, "id": record_id}).encode()
    return parse_event("tiendanube", {}, body, received_at=START)


def _documented(sim: TiendanubeSimulator) -> list[str]:
    published: Spec = spec()
    out: list[str] = []
    for e in sim.log:
        out += published.problems(e.method, e.path, [k for k, _ in e.query], e.json)
    return out


def test_an_order_is_fetched_and_parsed_as_iter_orders_does() -> None:
    sim = simulator()
    buyer = next(iter(sim.stores["customers"]))
    order = sim.add_order(buyer_id=buyer.id)
    conn = connector(sim)
    event = _event(sim, "order/paid", order.id)
    records = conn.records_for_event(event)
    assert [type(r) for r in records] == [Order]
    (fetched,) = records
    assert isinstance(fetched, Order)
    assert fetched.external_id == event.external_id == str(order.id)
    listed = [o for o in conn.iter_orders() if o.external_id == str(order.id)]
    assert records == listed
    assert fetched.order_url is not None  # the store's details, as the stream has them
    assert fetched.connection_id == conn.connection_id
    assert _documented(sim) == []


def test_a_customer_and_a_product() -> None:
    sim = simulator()
    customer = sim.add_customer(name="Ana María López", email="Ana@Example.com")
    product = sim.add_product()
    conn = connector(sim)
    (c,) = conn.records_for_event(_event(sim, "customer/created", customer.id))
    (p,) = conn.records_for_event(_event(sim, "product/updated", product.id))
    assert isinstance(c, Customer)
    assert isinstance(p, Product)
    assert (c.first_name, c.email) == ("Ana", "Ana@Example.com")
    assert [x for x in conn.iter_customers() if x.external_id == c.external_id] == [c]
    assert [x for x in conn.iter_products() if x.external_id == p.external_id] == [p]
    assert p.name is not None
    assert _documented(sim) == []


def test_the_current_state_is_fetched_not_the_state_at_the_event() -> None:
    clock = FakeClock(wall_start=START)
    sim = simulator(clock=clock)
    order = sim.add_order(payment_status="pending")
    event = _event(sim, "order/created", order.id)
    clock.advance(60)
    sim.update("orders", order.id, {"payment_status": "refunded", "status": "cancelled"})
    (fetched,) = connector(sim).records_for_event(event)
    assert isinstance(fetched, Order)
    assert fetched.extra["payment_status"] == "refunded"


def test_a_record_gone_is_an_empty_list() -> None:
    sim = simulator()
    product = sim.add_product()
    event = _event(sim, "product/updated", product.id)
    sim.delete("products", product.id)
    assert connector(sim).records_for_event(event) == []
    assert [e.status for e in sim.log if e.path.endswith(f"/products/{product.id}")] == [404]
    assert connector(sim).records_for_event(_event(sim, "order/paid", 987654)) == []


@pytest.mark.parametrize(
    "topic",
    ["product/deleted", "customer/deleted", "app/uninstalled", "category/updated", "cart/created"],
)
def test_events_that_are_not_upserts_fetch_nothing(topic: str) -> None:
    sim = simulator()
    assert connector(sim).records_for_event(_event(sim, topic, 1)) == []
    assert len(sim.log) == 0


def test_privacy_events_fetch_nothing() -> None:
    sim = simulator()
    body = json.dumps(
        {"store_id": sim.store_id, "customer": {"id": 1}, "orders_to_redact": [1]}
    ).encode()
    event = parse_event("tiendanube", {}, body, received_at=START)
    assert connector(sim).records_for_event(event) == []
    assert len(sim.log) == 0


def test_ownership_is_the_store_id() -> None:
    sim = simulator()
    conn = connector(sim)
    mine = _event(sim, "order/paid", 1)
    assert conn.owns_event(mine)
    other_body = json.dumps({"store_id": 999, "event": "order/paid", "id": 1}).encode()
    other = parse_event("tiendanube", {}, other_body, received_at=START)
    assert not conn.owns_event(other)
    assert conn.records_for_event(other) == []
    as_text = json.dumps({"store_id": str(sim.store_id), "event": "x", "id": 1}).encode()
    assert conn.owns_event(parse_event("tiendanube", {}, as_text, received_at=START))
    foreign = WebhookEvent(
        platform=Platform.SHOPIFY,
        store_id=str(sim.store_id),
        topic="orders/create",
        event_id="e",
        occurred_at=START,
        kind="order",
        external_id="1",
        action=mine.action,
    )
    assert not conn.owns_event(foreign)
    assert len(sim.log) == 0


def test_an_id_that_is_not_a_number_is_not_fetched() -> None:
    sim = simulator()
    assert connector(sim).records_for_event(_event(sim, "order/paid", "../store")) == []
    assert len(sim.log) == 0


def test_a_refused_payload_goes_to_on_invalid() -> None:
    sim = simulator()
    order = sim.add_order()
    sim.stores["orders"].update(order.id, {"total": "12,34"})
    refused: list[InvalidRecordError] = []
    conn = connector(sim, on_invalid=refused.append)
    assert conn.records_for_event(_event(sim, "order/updated", order.id)) == []
    (error,) = refused
    assert error.record_id == str(order.id)
    assert error.payload["total"] == "12,34"
    assert conn.invalid_counts
    # The default handler raises, as the streams' does.
    with pytest.raises(InvalidRecordError):
        connector(sim).records_for_event(_event(sim, "order/updated", order.id))


def test_api_errors_raise() -> None:
    sim = simulator()
    order = sim.add_order()
    sim.suspend_app()
    with pytest.raises(ClientRequestError) as info:
        connector(sim).records_for_event(_event(sim, "order/paid", order.id))
    assert info.value.status_code == 402
    sim.resume_app()
    assert len(connector(sim).records_for_event(_event(sim, "order/paid", order.id))) == 1
    sim.uninstall_app()
    with pytest.raises(AuthenticationError):
        connector(sim).records_for_event(_event(sim, "order/paid", order.id))


def test_a_naive_arrival_time_is_refused() -> None:
    sim = simulator()
    naive = dt.datetime(2024, 10, 1, 12, 0)  # no tzinfo: the mistake under test
    body = json.dumps({"store_id": sim.store_id, "event": "order/paid", "id": 1}).encode()
    with pytest.raises(ValueError, match="naive"):
        parse_event("tiendanube", {}, body, received_at=naive)
