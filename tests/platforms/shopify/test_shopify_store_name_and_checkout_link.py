"""The shop's name on carts, and the order → checkout link, checked against Shopify's files.

The official example order and the published Admin schema are read where they lie
(``../shared`` beside the project), never copied.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

from graphql import ObjectTypeDefinitionNode, parse
from shopify_fixtures import SHOP, rest_checkout, rest_order, rest_product

from commerce_connectors.clock import FakeClock
from commerce_connectors.mapping import CART_MAP
from commerce_connectors.models import Cart, Platform
from commerce_connectors.platforms.shopify import (
    ShopifyConnector,
    parse_cart,
    parse_checkout_node,
    parse_order,
)
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.webhooks import WebhookAction, WebhookEvent

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
EXAMPLES = SHARED / "official-examples" / "shopify"
SCHEMA = SHARED / "official-specs" / "shopify" / "admin_schema_2025-10.graphql"
AT = dt.datetime(2024, 10, 4, tzinfo=dt.timezone.utc)


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_bytes())


@functools.lru_cache(maxsize=1)
def schema_fields() -> dict[str, set[str]]:
    """Field names of each object type of the published Admin schema (2025-10)."""
    document = parse(SCHEMA.read_text(encoding="utf-8"), no_location=True)
    return {
        d.name.value: {f.name.value for f in d.fields or ()}
        for d in document.definitions
        if isinstance(d, ObjectTypeDefinitionNode)
    }


def simulated(**checkouts: Any) -> tuple[ShopifySimulator, ShopifyConnector]:
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock,
                           shop=SHOP, shop_name="Atelier", currency="EUR")  # fmt: skip
    sim.add_product(rest_product())
    sim.add_checkout(rest_checkout(**checkouts))
    conn = ShopifyConnector(shop=SHOP, access_token=sim.token, transport=sim.transport(),
                            clock=clock, bulk=False)  # fmt: skip
    return sim, conn


def event(external_id: str, action: WebhookAction, **kw: Any) -> WebhookEvent:
    return WebhookEvent(platform=Platform.SHOPIFY, store_id=SHOP, topic="checkouts/update",
                        event_id="e1", occurred_at=AT, kind="cart", external_id=external_id,
                        action=action, **kw)  # fmt: skip


# -- the order → checkout link -------------------------------------------------------------


def test_the_official_example_order_keeps_its_checkout_as_strings() -> None:
    # official-examples/shopify/order_get.json: "checkout_id": 901414060 (a number),
    # "checkout_token": "bd5a8aa1ecd019dd3520ff791ee3a24c".
    payload = example("order_get.json")["order"]
    order = parse_order(payload, shop=SHOP)
    assert order.extra["checkout_id"] == str(payload["checkout_id"]) == "901414060"
    assert order.extra["checkout_token"] == payload["checkout_token"]
    assert isinstance(order.extra["checkout_token"], str)


def test_an_order_without_a_checkout_has_no_link_keys() -> None:
    order = parse_order(rest_order(checkout_id=None, checkout_token=None), shop=SHOP)
    assert "checkout_id" not in order.extra
    assert "checkout_token" not in order.extra
    assert "checkout_id" not in parse_order(rest_order(), shop=SHOP).extra


def test_the_order_link_names_the_cart_the_connector_reads() -> None:
    # The id space: an order's checkout_id is the abandoned checkout's id, which is
    # the Cart's external_id whether the checkout came through GraphQL or REST.
    checkout = rest_checkout()
    _sim, conn = simulated()
    with conn:
        (cart,) = conn.iter_abandoned_carts()
    order = parse_order(
        rest_order(checkout_id=checkout["id"], checkout_token=checkout["token"]), shop=SHOP
    )
    assert order.extra["checkout_id"] == cart.external_id == str(checkout["id"])
    assert parse_cart(checkout, shop=SHOP).external_id == cart.external_id


def test_the_published_schema_links_no_order_to_its_checkout() -> None:
    # If a schema update adds such a field, the GraphQL streams can carry the link too:
    # this test then fails on purpose.
    fields = schema_fields()
    order = {f.lower() for f in fields["Order"]}
    assert not {f for f in order if "checkout" in f or f in {"cartid", "carttoken"}}
    assert "checkoutToken" not in fields["Order"]
    checkout = {f.lower() for f in fields["AbandonedCheckout"]}
    assert not {f for f in checkout if "order" in f}
    # The check can fail: the types and fields it reads are there.
    assert {"legacyResourceId", "name"} <= fields["Order"]
    assert {"abandonedCheckoutUrl", "completedAt"} <= fields["AbandonedCheckout"]


# -- the shop's name on carts --------------------------------------------------------------


def test_the_cart_stream_carries_the_shop_name_to_the_cart_map() -> None:
    _sim, conn = simulated()
    with conn:
        carts = list(conn.iter_abandoned_carts())
    assert [c.store_name for c in carts] == ["Atelier"]
    assert CART_MAP.apply(carts[0]).fields["storeName"] == "Atelier"


def test_the_shop_is_read_once_for_orders_and_carts() -> None:
    sim, conn = simulated()
    sim.add_order(rest_order())
    with conn:
        orders = list(conn.iter_orders())
        carts = list(conn.iter_abandoned_carts())
    assert {o.store_name for o in orders} == {c.store_name for c in carts} == {"Atelier"}
    shop_queries = [e for e in sim.log if "query ShopInfo" in e.json["query"]]
    assert len(shop_queries) == 1


def test_a_cart_event_gives_the_cart_with_the_shop_name() -> None:
    _sim, conn = simulated()
    checkout_id = str(rest_checkout()["id"])
    with conn:
        (polled,) = conn.iter_abandoned_carts()
        (record,) = conn.records_for_event(event(checkout_id, WebhookAction.UPSERT))
    assert isinstance(record, Cart)
    assert record.store_name == "Atelier"
    assert record == polled


def test_a_converted_checkout_read_from_the_body_has_the_shop_name() -> None:
    sim, conn = simulated()
    checkout = sim.rest("checkouts", next(iter(sim.stores["checkouts"])))
    sim.stores["checkouts"].delete(checkout["id"])
    done = {**checkout, "completed_at": "2024-10-04T10:00:00-04:00"}
    with conn:
        (record,) = conn.records_for_event(
            event(str(checkout["id"]), WebhookAction.CONVERT, payload=done)
        )
    assert isinstance(record, Cart)
    assert record.store_name == "Atelier"
    assert record.completed_at is not None


def test_the_parsers_copy_the_store_name_only_when_given() -> None:
    assert parse_cart(rest_checkout(), shop=SHOP).store_name is None
    assert parse_cart(rest_checkout(), shop=SHOP, store_name="Atelier").store_name == "Atelier"
    node = {
        "id": "gid://shopify/AbandonedCheckout/7",
        "createdAt": "2024-09-20T14:00:00Z",
        "updatedAt": "2024-09-20T14:05:00Z",
        "abandonedCheckoutUrl": "https://acme.example/recover",
        "discountCodes": [],
        "totalPriceSet": {"shopMoney": {"amount": "1.00", "currencyCode": "EUR"}},
        "lineItems": {"nodes": []},
    }
    cart = parse_checkout_node(node, shop=SHOP, store_name="Atelier")
    assert (cart.external_id, cart.store_name) == ("7", "Atelier")
