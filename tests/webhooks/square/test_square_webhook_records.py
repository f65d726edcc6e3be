"""records_for_event and owns_event against the simulator: the same records as the streams."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from commerce_connectors._webhooks import WebhookAction, WebhookEvent
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import AuthenticationError, InvalidRecordError
from commerce_connectors.models import Customer, Order, OrderStatus, Product
from commerce_connectors.platforms.square import SkippedRecord, SquareConnector
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import Reason
from commerce_connectors.testing.simulators.square import SquareSimulator

try:  # the public façade, once it exists; the dispatch module until then
    from commerce_connectors.webhooks import parse_event
except ImportError:
    from commerce_connectors.webhooks._schemes import parse_event

Connect = Callable[..., SquareConnector]
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def _parse(event: dict[str, Any]) -> WebhookEvent:
    return parse_event("square", {}, json.dumps(event).encode(), received_at=NOW)


def _last(sim: SquareSimulator, event_type: str) -> WebhookEvent:
    return _parse(next(e for e in reversed(sim.events) if e["type"] == event_type))


def _hand_made(sim: SquareSimulator, event_type: str, data: dict[str, Any]) -> WebhookEvent:
    return _parse(
        {
            "merchant_id": sim.merchant_id,
            "type": event_type,
            "event_id": "hand-made",
            "created_at": "2026-03-01T00:00:00Z",
            "data": data,
        }
    )


def _customer_with_email(sim: SquareSimulator) -> str:
    return sorted(sim.customer_ids_with_email())[0]


def _requests(recorder: Any, since: int) -> list[str]:
    return [f"{r.method} {r.url.path}" for r, _ in recorder.calls[since:]]


def test_payment_events_give_the_order_iter_orders_gives(
    connect: Connect, sim: SquareSimulator
) -> None:
    conn = connect()
    location = sim.locations[0].id
    (payment_id,) = sim.add_sale(location, customer_id=_customer_with_email(sim))
    event = _last(sim, "payment.created")
    assert event.location_id == location
    assert conn.owns_event(event)
    (order,) = conn.records_for_event(event)
    assert isinstance(order, Order)
    streamed = {o.external_id: o for o in conn.iter_orders()}
    assert order == streamed[event.external_id]
    assert order.extra["payment_ids"] == (payment_id,)


def test_refund_events_give_the_refunded_order(connect: Connect, sim: SquareSimulator) -> None:
    conn = connect()
    (payment_id,) = sim.add_sale(sim.locations[0].id)
    sim.refund(payment_id)
    for event_type in ("refund.created", "payment.updated", "order.updated"):
        (order,) = conn.records_for_event(_last(sim, event_type))
        assert isinstance(order, Order)
        assert order.status is OrderStatus.REFUNDED, event_type


def test_order_events_fetch_the_order_and_its_payments(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    conn = connect()
    sim.add_sale(sim.locations[0].id, via_api=True)
    created = _last(sim, "order.created")
    assert created.payload["data"]["object"]["order_created"]["state"] == "OPEN"
    before = len(recorder.calls)
    (order,) = conn.records_for_event(created)  # read now: the order is paid by now
    assert isinstance(order, Order)
    assert order.external_id == created.external_id
    assert order.status in (OrderStatus.COMPLETED, OrderStatus.PAID)
    assert f"GET /v2/orders/{created.external_id}" in _requests(recorder, before)
    assert conn.records_for_event(_last(sim, "order.updated")) == [order]


def test_an_order_nobody_paid_is_not_an_order_of_the_stream(
    connect: Connect, sim: SquareSimulator
) -> None:
    conn = connect()
    sim.add_sale(sim.locations[0].id, via_api=True, status="FAILED")
    # A failed payment is no tender of the order: the order alone names no payment...
    assert conn.records_for_event(_last(sim, "order.updated")) == []
    # ...and the payment's own event brings the (failed) order, as iter_orders does.
    (order,) = conn.records_for_event(_last(sim, "payment.created"))
    assert isinstance(order, Order)
    assert order.status is OrderStatus.FAILED


def test_records_gone_from_square_give_nothing(connect: Connect, sim: SquareSimulator) -> None:
    conn = connect()
    location = sim.locations[0].id
    order = {"order_id": "NO-SUCH-ORDER", "location_id": location}
    payment = {"id": "NO-SUCH-PAYMENT", "location_id": location}
    events = [
        _hand_made(sim, "order.updated", {"id": "x", "object": {"order_updated": order}}),
        _hand_made(sim, "payment.updated", {"id": "x", "object": {"payment": payment}}),
        _hand_made(
            sim, "refund.updated", {"id": "x", "object": {"refund": {"payment_id": "NOPE"}}}
        ),
        _hand_made(sim, "customer.updated", {"id": "NO-SUCH-CUSTOMER"}),
    ]
    for event in events:
        assert conn.owns_event(event)
        assert conn.records_for_event(event) == [], event.topic


def test_other_locations_and_merchants_are_not_this_connections(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    downtown, shibuya = connect(0), connect(1)
    sim.add_sale(sim.locations[1].id)
    event = _last(sim, "payment.created")
    assert shibuya.owns_event(event)
    assert not downtown.owns_event(event)
    before = len(recorder.calls)
    assert downtown.records_for_event(event) == []
    assert recorder.calls[before:] == []
    assert len(shibuya.records_for_event(event)) == 1

    foreign = WebhookEvent(**{**_event_fields(event), "store_id": "ANOTHER-MERCHANT"})
    assert not shibuya.owns_event(foreign)
    assert shibuya.records_for_event(foreign) == []

    # A payment the event places nowhere, that Square places at another location.
    payment_id = event.payload["data"]["object"]["payment"]["id"]
    unplaced = _hand_made(sim, "payment.updated", {"id": payment_id})
    assert downtown.owns_event(unplaced)
    assert downtown.records_for_event(unplaced) == []


def _event_fields(event: WebhookEvent) -> dict[str, Any]:
    names = ("platform", "store_id", "topic", "event_id", "occurred_at", "kind")
    more = ("external_id", "action", "payload", "location_id", "subject")
    return {name: getattr(event, name) for name in (*names, *more)}


def test_customer_events_are_parsed_from_the_payload(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    conn = connect()
    customer_id = _customer_with_email(sim)
    sim.update("customers", customer_id, {"given_name": "Zuzanna"})
    event = _last(sim, "customer.updated")
    assert event.location_id is None
    for location in (0, 1):  # customers are seller-wide
        assert connect(location).owns_event(event)
    before = len(recorder.calls)
    (customer,) = conn.records_for_event(event)
    assert recorder.calls[before:] == []  # the event carries the whole customer
    assert isinstance(customer, Customer)
    assert customer.first_name == "Zuzanna"
    streamed = {c.external_id: c for c in conn.iter_customers()}
    assert customer.external_id in streamed
    assert customer.email == streamed[customer_id].email
    assert customer.updated_at == streamed[customer_id].updated_at


def test_a_light_customer_event_is_fetched(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    conn = connect()
    customer_id = _customer_with_email(sim)
    before = len(recorder.calls)
    (customer,) = conn.records_for_event(_hand_made(sim, "customer.updated", {"id": customer_id}))
    assert _requests(recorder, before) == [f"GET /v2/customers/{customer_id}"]
    assert isinstance(customer, Customer)
    assert customer.external_id == customer_id


def test_customers_without_email_are_skipped_as_in_the_stream(
    connect: Connect, sim: SquareSimulator
) -> None:
    skipped: list[SkippedRecord] = []
    conn = connect(on_skip=skipped.append)
    sim.add_customer(given_name="Phone", phone="+14155550123")
    assert conn.records_for_event(_last(sim, "customer.created")) == []
    assert [s.reason for s in skipped] == [Reason.EMAIL_REQUIRED]
    assert conn.skipped[(Stream.CUSTOMERS, Reason.EMAIL_REQUIRED)] == 1
    sim.add_customer(email="New.Buyer@example.com")
    (customer,) = conn.records_for_event(_last(sim, "customer.created"))
    assert isinstance(customer, Customer)
    assert customer.email == "New.Buyer@example.com"


def test_deletes_and_uninstalls_resolve_to_nothing(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    conn = connect()
    customer_id = _customer_with_email(sim)
    sim.delete_customer(customer_id)
    deleted = _last(sim, "customer.deleted")
    assert (deleted.action, deleted.external_id) == (WebhookAction.DELETE, customer_id)
    sim.uninstall_app()
    revoked = _last(sim, "oauth.authorization.revoked")
    assert (revoked.action, revoked.kind) == (WebhookAction.UNINSTALL, "store")
    before = len(recorder.calls)
    assert conn.records_for_event(deleted) == []
    assert conn.records_for_event(revoked) == []
    assert recorder.calls[before:] == []
    with pytest.raises(AuthenticationError) as caught:
        list(conn.iter_customers())
    assert caught.value.code == "ACCESS_TOKEN_REVOKED"


def test_catalog_events_give_the_products_changed_since(
    connect: Connect, sim: SquareSimulator, clock: FakeClock
) -> None:
    conn = connect()
    location = sim.locations[0].id
    everything = {p.external_id for p in conn.iter_products()}
    clock.advance(3600)
    item_id = sorted(sim.item_ids(location))[0]
    record = sim.get("catalog", item_id)
    assert record is not None
    item_data = {**record.data["item_data"], "name": "Renamed Roast"}
    sim.update("catalog", item_id, {"item_data": item_data})
    event = _last(sim, "catalog.version.updated")
    assert (event.kind, event.external_id, event.action) == ("product", None, WebhookAction.UPSERT)
    products = conn.records_for_event(event)
    assert [p.external_id for p in products] == [item_id]
    assert isinstance(products[0], Product)
    assert products[0].name == "Renamed Roast"
    assert len(everything) > 1


def test_refused_payloads_go_to_on_invalid(connect: Connect, sim: SquareSimulator) -> None:
    customer = {"id": "C-BAD", "email_address": "a@example.com", "created_at": "yesterday"}
    event = _hand_made(
        sim, "customer.updated", {"id": "C-BAD", "object": {"customer": {**customer}}}
    )
    refused: list[InvalidRecordError] = []
    assert connect(on_invalid=refused.append).records_for_event(event) == []
    assert [(e.kind, e.record_id) for e in refused] == [("customer", "C-BAD")]
    assert {p.path for p in refused[0].problems} >= {"$.created_at", "$.updated_at"}
    with pytest.raises(InvalidRecordError):
        connect().records_for_event(event)  # the default handler raises, as in streams


def test_every_request_of_event_resolution_conforms_to_the_spec(
    connect: Connect, sim: SquareSimulator, recorder: Any, spec: Any
) -> None:
    conn = connect()
    location = sim.locations[0].id
    (payment_id,) = sim.add_sale(location, via_api=True, customer_id=_customer_with_email(sim))
    sim.refund(payment_id)
    sim.update("catalog", sorted(sim.item_ids(location))[0])
    for event in sim.events:
        conn.records_for_event(_parse(event))
    conn.records_for_event(_hand_made(sim, "customer.updated", {"id": _customer_with_email(sim)}))
    conn.records_for_event(_hand_made(sim, "order.updated", {"id": "NO-SUCH-ORDER"}))
    paths = {r.url.path for r, _ in recorder.calls}
    assert {f"/v2/orders/{sim.events[0]['data']['id']}", f"/v2/payments/{payment_id}"} <= paths
    for request, response in recorder.calls:
        assert spec.check_httpx(request) == [], (request.method, request.url)
        if response.status_code == 200:
            body = json.loads(response.content)
            assert spec.check_response(request.method, request.url.path, body) == [], request.url
