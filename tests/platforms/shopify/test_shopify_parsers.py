"""Shopify parsers: REST/webhook shape, GraphQL nodes, and their agreement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from shopify_fixtures import SHOP, rest_checkout, rest_customer, rest_order, rest_product

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.models import Money, OrderStatus
from commerce_connectors.platforms.shopify import (
    ParseOptions,
    ShopifyConnector,
    enrich_lines,
    parse_cart,
    parse_customer,
    parse_customer_node,
    parse_order,
    parse_order_node,
    parse_product,
)
from commerce_connectors.rules import choose_phone, consent_from
from commerce_connectors.testing.simulators.shopify import ShopifySimulator


def _simulated(*, orders=(), customers=(), products=(), checkouts=()):
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock,
                           shop=SHOP, shop_name="Atelier", currency="EUR")  # fmt: skip
    for p in products:
        sim.add_product(p)
    for c in customers:
        sim.add_customer(c)
    for o in orders:
        sim.add_order(o)
    for c in checkouts:
        sim.add_checkout(c)
    conn = ShopifyConnector(shop=SHOP, access_token=sim.token, transport=sim.transport(),
                            clock=clock)  # fmt: skip
    return sim, conn


def test_rest_and_graphql_shapes_of_the_same_order_give_equal_records() -> None:
    order, product = rest_order(), rest_product()
    _sim, conn = _simulated(orders=[order], products=[product])
    with conn:
        (from_graphql,) = conn.iter_orders()
    catalogue = {"632910392": parse_product(product, currency="EUR", shop=SHOP)}
    from_rest = parse_order(order, shop=SHOP, store_name="Atelier")
    # REST lines carry no product type nor image: the catalogue fills them in.
    assert from_rest.lines[0].category is None
    assert enrich_lines(from_rest, catalogue) == from_graphql
    assert from_graphql.raw["id"] == "gid://shopify/Order/450789469"  # raw is what came
    assert from_rest.raw is order


@pytest.mark.parametrize(
    ("kind", "payload"),
    [("customer", rest_customer()), ("product", rest_product()), ("cart", rest_checkout())],
)
def test_rest_and_graphql_shapes_agree_for_every_stream(kind: str, payload: dict) -> None:
    product = rest_product()
    if kind == "customer":
        _sim, conn = _simulated(customers=[payload])
        expected = parse_customer(payload, shop=SHOP)
        with conn:
            got = list(conn.iter_customers())
    elif kind == "product":
        _sim, conn = _simulated(products=[payload])
        expected = parse_product(payload, currency="EUR", shop=SHOP)
        with conn:
            got = list(conn.iter_products())
    else:
        _sim, conn = _simulated(checkouts=[payload], products=[product])
        catalogue = {"632910392": parse_product(product, currency="EUR", shop=SHOP)}
        expected = enrich_lines(parse_cart(payload, shop=SHOP, store_name="Atelier"), catalogue)
        with conn:
            got = list(conn.iter_abandoned_carts())
    assert got == [expected]


def test_order_fields() -> None:
    order = parse_order(rest_order(), shop=SHOP, store_name="Atelier")
    assert order.external_id == "450789469"
    assert order.order_number == "#1001"
    assert order.total == Money("94.70", "EUR")
    assert order.discount_total == Money("10.00", "EUR")
    assert order.discount_codes == ("BIENVENUE10",)
    assert order.shipping_method == "Colissimo"
    assert order.shipping_total == Money("4.90", "EUR")
    assert order.order_url == f"https://{SHOP}/admin/orders/450789469"
    assert (order.status, order.raw_status, order.raw_fulfillment_status) == (
        OrderStatus.FULFILLED, "paid", "fulfilled",
    )  # fmt: skip
    line = order.lines[0]
    assert (line.product_id, line.variant_id, line.sku, line.name, line.quantity) == (
        "632910392", "808950810", "LB-ROSE", "Lampe Berger", 2,
    )  # fmt: skip
    assert line.unit_price == Money("49.90", "EUR")
    assert order.customer is not None
    assert order.customer_external_id == "207119551"
    assert order.created_at == dt.datetime(2024, 9, 12, 14, 0, tzinfo=dt.timezone.utc)


def test_presentment_money_only_when_configured() -> None:
    shop_money = parse_order(rest_order())
    presentment = parse_order(rest_order(), options=ParseOptions(money="presentment"))
    assert shop_money.total == Money("94.70", "EUR")
    assert presentment.total == Money("101.30", "CHF")


def test_phone_fallback_example_from_the_seed() -> None:
    # The seed: the customer record's phone first, else the default (shipping)
    # address phone, else no phone at all.
    with_own = parse_customer(rest_customer(phone="+33 6 11 22 33 44"))
    assert choose_phone(with_own).value == "+33611223344"
    without = parse_customer(rest_customer(phone=None))
    assert without.phone is None  # the parser never invents or moves a number
    result = choose_phone(without)
    assert (result.value, result.source) == ("+33142685300", "default_address.phone")
    neither = parse_customer(
        rest_customer(phone=None, default_address={**rest_customer()["default_address"],
                                                   "phone": None})
    )  # fmt: skip
    assert choose_phone(neither).value is None


def test_buyer_phone_fallback_to_billing_only_if_configured() -> None:
    payload = rest_order(customer=rest_customer(phone=None, default_address=None))
    assert parse_order(payload).customer.phone is None
    configured = parse_order(payload, options=ParseOptions(buyer_phone_fallback=True))
    assert configured.customer.phone == "+33 1 42 68 53 01"


def test_guest_order_becomes_a_contact_from_email_and_billing() -> None:
    order = parse_order(rest_order(customer=None, buyer_accepts_marketing=True), shop=SHOP)
    guest = order.customer
    assert guest is not None
    assert guest.is_guest
    assert order.customer_external_id is None
    assert (guest.email, guest.first_name, guest.last_name, guest.company) == (
        "Chloe.Martin@Example.fr ", "Chloé", "Martin", "Atelier Martin",
    )  # fmt: skip
    assert guest.phone == "+33 1 42 68 53 01"  # billing phone before the order phone
    assert guest.accepts_marketing is True  # the ticked checkbox
    assert choose_phone(order).value == "+33142685301"
    assert consent_from(order).value is True


def test_guest_order_without_billing_phone_takes_the_order_phone() -> None:
    billing = {**rest_order()["billing_address"], "phone": None}
    order = parse_order(rest_order(customer=None, billing_address=billing))
    assert order.customer is not None
    assert order.customer.phone == "+33 6 12 34 56 78"


def test_refunded_and_cancelled_orders() -> None:
    refunded = parse_order(rest_order(financial_status="refunded", fulfillment_status=None))
    assert (refunded.status, refunded.raw_status) == (OrderStatus.REFUNDED, "refunded")
    partly = parse_order(rest_order(financial_status="partially_refunded"))
    assert partly.status is OrderStatus.PARTIALLY_REFUNDED
    cancelled = parse_order(
        rest_order(financial_status="voided", fulfillment_status=None,
                   cancelled_at="2024-09-14T09:00:00-04:00", cancel_reason="customer")
    )  # fmt: skip
    assert (cancelled.status, cancelled.raw_status) == (OrderStatus.CANCELLED, "voided")
    assert cancelled.extra["cancel_reason"] == "customer"


def test_refunded_and_cancelled_orders_through_graphql() -> None:
    refunded = rest_order(id=1, financial_status="refunded", fulfillment_status=None)
    cancelled = rest_order(id=2, financial_status="refunded", cancel_reason="fraud",
                           cancelled_at="2024-09-14T09:00:00-04:00")  # fmt: skip
    _, conn = _simulated(orders=[refunded, cancelled])
    with conn:
        got = {o.external_id: o for o in conn.iter_orders()}
    assert got["1"].status is OrderStatus.REFUNDED
    assert (got["2"].status, got["2"].raw_status) == (OrderStatus.CANCELLED, "refunded")
    assert got["2"].extra["cancel_reason"] == "fraud"


def test_tags_with_non_ascii_text() -> None:
    customer = parse_customer(rest_customer(tags="Fidèle, Été 2024,  Ünïcode ☕ ,, 顧客"))
    assert customer.tags == ("Fidèle", "Été 2024", "Ünïcode ☕", "顧客")
    _, conn = _simulated(customers=[rest_customer(tags="Fidèle, Été 2024, 顧客")])
    with conn:
        (through_graphql,) = conn.iter_customers()
    assert through_graphql.tags == ("Fidèle", "Été 2024", "顧客")


def test_consent_states() -> None:
    def state(value: str) -> bool | None:
        c = parse_customer(rest_customer(email_marketing_consent={"state": value}))
        return c.accepts_marketing

    assert [state(s) for s in ("subscribed", "not_subscribed", "unsubscribed", "pending")] == [
        True, False, False, None,
    ]  # fmt: skip
    legacy = rest_customer(email_marketing_consent=None, accepts_marketing=True)
    assert parse_customer(legacy).accepts_marketing is True


def test_company_is_the_default_address_company() -> None:
    assert parse_customer(rest_customer()).company == "Atelier Martin"


def test_product_fields() -> None:
    product = parse_product(rest_product(), currency="EUR", shop=SHOP)
    assert (product.name, product.category, product.sku) == (
        "Lampe Berger",
        "Décoration",
        "LB-ROSE",
    )
    assert product.price == Money(Decimal("49.90"), "EUR")
    assert product.url == f"https://{SHOP}/products/lampe-berger"
    assert product.image_url == "https://cdn.shopify.com/s/files/1/lampe.png"
    assert len(product.variants) == 2
    assert parse_product(rest_product()).price is None  # no currency, no invented one


def test_cart_fields() -> None:
    cart = parse_cart(rest_checkout(), shop=SHOP)
    assert cart.recovery_url
    assert cart.completed_at is None
    assert cart.total == Money("49.90", "EUR")
    assert cart.customer_external_id == "207119551"


def test_every_bad_field_is_reported_with_its_path() -> None:
    bad = rest_order(total_price="12,34", created_at="yesterday",
                     line_items=[{"quantity": "two", "price": "1.00"}])  # fmt: skip
    with pytest.raises(InvalidRecordError) as info:
        parse_order(bad)
    paths = {p.path for p in info.value.problems}
    assert {"$.total_price", "$.created_at", "$.line_items[0].quantity"} <= paths
    assert info.value.payload is bad
    assert info.value.record_id == "450789469"


@pytest.mark.parametrize("codes", ["TENOFF", 5, {"code": "TENOFF"}])
def test_graphql_discount_codes_that_are_not_a_list_are_a_field_problem(codes: object) -> None:
    # Fuzzing found iteration over an int (TypeError) and over a string's characters.
    node = {
        "id": "gid://shopify/Order/450789469",
        "createdAt": "2024-04-02T13:59:11Z",
        "updatedAt": "2024-04-02T13:59:11Z",
        "totalPriceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "EUR"}},
        "discountCodes": codes,
    }
    with pytest.raises(InvalidRecordError) as info:
        parse_order_node(node, shop=SHOP)
    assert [p.path for p in info.value.problems] == ["$.discountCodes"]


@pytest.mark.parametrize("gid", ["gid://shopify/Customer/", "gid://shopify/Customer/?x=1"])
def test_a_global_id_without_its_number_is_a_field_problem(gid: str) -> None:
    node = {"id": gid, "createdAt": "2024-04-02T13:59:11Z", "updatedAt": "2024-04-02T13:59:11Z"}
    with pytest.raises(InvalidRecordError) as info:
        parse_customer_node(node)
    assert [p.path for p in info.value.problems] == ["$.id"]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"total_price": "-598.94"}, "$.total_price"),
        ({"total_discounts": "-10.00"}, "$.total_discounts"),
        ({"total_price": "1e30"}, "$.total_price"),
        ({"line_items": [{"quantity": -1, "price": "1.00"}]}, "$.line_items[0].quantity"),
        ({"line_items": [{"quantity": 1, "price": "-1.00"}]}, "$.line_items[0].price"),
    ],
)
def test_negative_or_unbounded_order_amounts_are_field_problems(
    changes: dict[str, object], path: str
) -> None:
    with pytest.raises(InvalidRecordError) as info:
        parse_order(rest_order(**changes))
    assert [p.path for p in info.value.problems] == [path]


def test_graphql_node_errors_name_the_numeric_id() -> None:
    with pytest.raises(InvalidRecordError) as info:
        parse_order_node({"id": "gid://shopify/Order/42", "createdAt": "nope"})
    assert info.value.record_id == "42"
    assert "$.totalPriceSet" in {p.path for p in info.value.problems}
