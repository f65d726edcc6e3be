"""From an event to the current records: ``owns_event`` and ``records_for_event``.

Each record must be the one the streams give for the same id, fetched with requests
the published reference documents.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from bigcommerce_webhook_support import body_of, check_log, world

from commerce_connectors.errors import AuthenticationError, InvalidRecordError
from commerce_connectors.models import Cart, Order, Platform, Product
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.webhooks import WebhookAction, WebhookEvent, parse_event

RECEIVED = dt.datetime(2024, 10, 1, tzinfo=dt.timezone.utc)


def event(scope: str, data: dict[str, Any], store_hash: str) -> WebhookEvent:
    return parse_event("bigcommerce", {}, body_of(scope, data, store_hash), received_at=RECEIVED)


def first_order(sim: Any, *, status: int | None = None, archived: bool = False) -> int:
    for record in sim.orders.query():
        ok_status = (
            record.data["status_id"] != 0 if status is None else record.data["status_id"] == status
        )
        if ok_status and record.data["is_deleted"] is archived:
            return int(record.id)
    return int(sim.add_order(status_id=status if status is not None else 11, archived=archived).id)


def test_owns_event_compares_the_store_hash() -> None:
    _, sim, conn = world()
    with conn:
        assert conn.owns_event(
            event("store/order/created", {"type": "order", "id": 1}, sim.store_hash)
        )
        assert conn.owns_event(
            event("store/order/created", {"type": "order", "id": 1}, sim.store_hash.upper())
        )
        assert not conn.owns_event(event("store/order/created", {"type": "order", "id": 1}, "zz9"))
        foreign = WebhookEvent(
            platform=Platform.SHOPIFY,
            store_id=sim.store_hash,
            topic="orders/create",
            event_id="e",
            occurred_at=RECEIVED,
            kind="order",
            external_id="1",
            action=WebhookAction.UPSERT,
        )
        assert not conn.owns_event(foreign)


def test_an_order_event_gives_the_order_the_stream_gives() -> None:
    _, sim, conn = world()
    order_id = first_order(sim)
    with conn:
        streamed = {o.external_id: o for o in conn.iter_orders()}
        sim.log.reset()
        for scope in ("store/order/created", "store/order/updated", "store/order/refund/created"):
            records = conn.records_for_event(
                event(scope, {"type": "order", "id": order_id}, sim.store_hash)
            )
            assert records == [streamed[str(order_id)]]
    order = records[0]
    assert isinstance(order, Order)
    assert order.lines
    assert order.store_name == "Simulated Store"
    assert check_log(sim.log) == []


def test_orders_the_streams_skip_are_skipped_here_too() -> None:
    _, sim, conn = world()
    incomplete = first_order(sim, status=0)
    archived = first_order(sim, archived=True)
    with conn:
        assert (
            conn.records_for_event(
                event("store/order/created", {"type": "order", "id": incomplete}, sim.store_hash)
            )
            == []
        )
        assert conn.skipped["incomplete"] == 1
        (kept,) = conn.records_for_event(
            event("store/order/archived", {"type": "order", "id": archived}, sim.store_hash)
        )
        assert kept.extra["is_deleted"] is True
    strict = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        include_archived=False,
        include_incomplete=True,
    )
    with strict:
        assert (
            strict.records_for_event(
                event("store/order/archived", {"type": "order", "id": archived}, sim.store_hash)
            )
            == []
        )
        (placed,) = strict.records_for_event(
            event("store/order/created", {"type": "order", "id": incomplete}, sim.store_hash)
        )
        assert placed.external_id == str(incomplete)


def test_a_customer_event_gives_the_customer_the_stream_gives() -> None:
    _, sim, conn = world()
    customer_id = sim.customers.query()[0].id
    with conn:
        streamed = {c.external_id: c for c in conn.iter_customers()}
        sim.log.reset()
        for scope, data in (
            ("store/customer/updated", {"type": "customer", "id": customer_id}),
            (
                "store/customer/address/created",
                {"type": "customer", "id": 1, "address": {"customer_id": customer_id}},
            ),
        ):
            assert conn.records_for_event(event(scope, data, sim.store_hash)) == [
                streamed[str(customer_id)]
            ]
    assert check_log(sim.log) == []


def test_a_product_event_gives_the_product_the_stream_gives() -> None:
    _, sim, conn = world()
    product_id = sim.products.query()[0].id
    with conn:
        streamed = {p.external_id: p for p in conn.iter_products()}
        sim.log.reset()
        (product,) = conn.records_for_event(
            event("store/product/updated", {"type": "product", "id": product_id}, sim.store_hash)
        )
        assert product == streamed[str(product_id)]
        assert isinstance(product, Product)
        assert product.category
    assert check_log(sim.log) == []


def test_a_new_category_is_read_when_a_product_names_it() -> None:
    _, sim, conn = world()
    product_id = sim.products.query()[0].id
    with conn:
        conn.records_for_event(
            event("store/product/updated", {"type": "product", "id": product_id}, sim.store_hash)
        )
        sim.categories[99] = "Gift Ideas"
        sim.update_product(product_id, {"categories": [99]})
        (product,) = conn.records_for_event(
            event("store/product/updated", {"type": "product", "id": product_id}, sim.store_hash)
        )
    assert isinstance(product, Product)
    assert product.category == "Gift Ideas"


def test_an_abandoned_cart_event_gives_the_cart() -> None:
    _, sim, conn = world()
    cart_id = next(iter(sim.carts))
    with conn:
        (cart,) = conn.records_for_event(
            event(
                "store/cart/abandoned",
                {"type": "cart", "id": cart_id, "token": "t"},
                sim.store_hash,
            )
        )
        assert isinstance(cart, Cart)
        assert cart == conn.get_cart(cart_id)
        assert cart.external_id == cart_id
    assert check_log(sim.log) == []


def test_a_converted_cart_gives_the_order_it_became() -> None:
    _, sim, conn = world()
    cart_id = next(iter(sim.carts))
    order = sim.convert_cart(cart_id)
    converted = event(
        "store/cart/converted", {"type": "cart", "id": cart_id, "orderId": order.id}, sim.store_hash
    )
    assert (converted.action, converted.external_id) == (WebhookAction.CONVERT, cart_id)
    with conn:
        (record,) = conn.records_for_event(converted)
        assert record.external_id == str(order.id)
        assert record.extra["cart_id"] == cart_id
        # The cart itself is gone: an abandonment notice for it now resolves to nothing.
        assert (
            conn.records_for_event(
                event("store/cart/abandoned", {"type": "cart", "id": cart_id}, sim.store_hash)
            )
            == []
        )
    assert check_log(sim.log) == []


@pytest.mark.parametrize(
    ("scope", "data"),
    [
        ("store/order/updated", {"type": "order", "id": 999999}),
        ("store/customer/updated", {"type": "customer", "id": 999999}),
        ("store/product/updated", {"type": "product", "id": 999999}),
        ("store/cart/abandoned", {"type": "cart", "id": "5d0b3f5e-0000-4000-8000-000000000000"}),
        ("store/cart/converted", {"type": "cart", "id": "c1", "orderId": 999999}),
    ],
)
def test_a_record_that_no_longer_exists_gives_nothing(scope: str, data: dict[str, Any]) -> None:
    _, sim, conn = world()
    with conn:
        assert conn.records_for_event(event(scope, data, sim.store_hash)) == []
    assert check_log(sim.log) == []


@pytest.mark.parametrize(
    ("scope", "data"),
    [
        ("store/order/updated", {"type": "order", "id": "12; DROP"}),
        ("store/customer/deleted", {"type": "customer", "id": 1}),
        ("store/product/deleted", {"type": "product", "id": 1}),
        ("store/cart/deleted", {"type": "cart", "id": "c1"}),
        ("store/cart/created", {"type": "cart", "id": "c1"}),
        ("store/app/uninstalled", {"type": "store"}),
        ("store/cart/converted", {"type": "cart", "id": "c1"}),
        ("store/somewhere/else", {"type": "order", "id": 1}),
    ],
)
def test_events_without_a_record_to_fetch_make_no_request(scope: str, data: dict[str, Any]) -> None:
    _, sim, conn = world()
    with conn:
        assert conn.records_for_event(event(scope, data, sim.store_hash)) == []
    assert len(sim.log) == 0


def test_another_store_s_event_makes_no_request() -> None:
    _, sim, conn = world()
    with conn:
        assert (
            conn.records_for_event(
                event("store/order/created", {"type": "order", "id": 100}, "other")
            )
            == []
        )
    assert len(sim.log) == 0


def test_a_record_the_parser_refuses_goes_to_on_invalid() -> None:
    _, sim, conn = world()
    customer = sim.customers.query()[0]
    sim.customers.update(customer.id, {"accepts_product_review_abandoned_cart_emails": "maybe"})
    refused: list[InvalidRecordError] = []
    conn.on_invalid = refused.append
    bad = event("store/customer/updated", {"type": "customer", "id": customer.id}, sim.store_hash)
    with conn:
        assert conn.records_for_event(bad) == []
    (error,) = refused
    assert (error.kind, error.record_id) == ("customer", str(customer.id))
    assert error.payload["id"] == customer.id
    _, sim2, strict = world()
    sim2.customers.update(customer.id, {"accepts_product_review_abandoned_cart_emails": "maybe"})
    with strict, pytest.raises(InvalidRecordError):
        strict.records_for_event(bad)


def test_api_errors_are_raised() -> None:
    _, sim, _ = world()
    revoked = BigCommerceConnector(
        store_hash=sim.store_hash, access_token="revoked-token-000", transport=sim.transport()
    )
    with revoked, pytest.raises(AuthenticationError):
        revoked.records_for_event(
            event("store/order/created", {"type": "order", "id": 100}, sim.store_hash)
        )
