"""Pure parsers: v2 orders (RFC 2822, 4-decimal strings), v3 customers/products/carts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.models import Money, OrderStatus
from commerce_connectors.platforms.bigcommerce import (
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)
from commerce_connectors.platforms.bigcommerce.constants import ORDER_STATUSES
from commerce_connectors.rules import Reason, admit_record, defaults_for, prepare_contact

UTC = dt.timezone.utc
CONN = "bigcommerce:q8x2m4"


def v2_order(**changes: Any) -> dict[str, Any]:
    """A v2 order shaped as documented (written for these tests, not copied)."""
    order: dict[str, Any] = {
        "id": 4021,
        "customer_id": 57,
        "date_created": "Thu, 03 Oct 2024 18:22:07 +0000",
        "date_modified": "Mon, 07 Oct 2024 09:01:59 +0200",
        "date_shipped": "",
        "status_id": 10,
        "status": "Completed",
        "subtotal_inc_tax": "120.5000",
        "shipping_cost_inc_tax": "9.9900",
        "total_tax": "0.0000",
        "total_inc_tax": "118.4850",
        "discount_amount": "0.0050",
        "coupon_discount": "12.0000",
        "refunded_amount": "0.0000",
        "currency_code": "EUR",
        "default_currency_code": "EUR",
        "is_email_opt_in": False,
        "is_deleted": False,
        "billing_address": {
            "first_name": "Begoña",
            "last_name": "Ibáñez",
            "company": "Café Olé S.A.",
            "street_1": "Calle Mayor 3",
            "street_2": "",
            "city": "Logroño",
            "state": "La Rioja",
            "zip": "26001",
            "country": "Spain",
            "country_iso2": "ES",
            "phone": "+34 612 34 56 78",
            "email": "  Begona.Ibanez@Example.com ",
        },
    }
    order.update(changes)
    return order


LINES = [
    {"id": 1, "product_id": 88, "variant_id": 120, "name": "Rústico Mug", "sku": "MUG-1",
     "quantity": 2, "price_inc_tax": "45.2500", "total_inc_tax": "90.5000"},
    {"id": 2, "product_id": 0, "name": "Gift wrap", "sku": "", "quantity": 1,
     "price_inc_tax": "30.0000", "total_inc_tax": "30.0000"},
]  # fmt: skip


def test_rfc2822_dates_and_four_decimal_money_are_exact() -> None:
    order = parse_order(v2_order(), products=LINES, connection_id=CONN)
    assert order.created_at == dt.datetime(2024, 10, 3, 18, 22, 7, tzinfo=UTC)
    # +0200 offset honoured, then normalised to UTC.
    assert order.updated_at == dt.datetime(2024, 10, 7, 7, 1, 59, tzinfo=UTC)
    assert order.total == Money(Decimal("118.4850"), "EUR")
    assert order.total.amount.as_tuple().exponent == -4
    assert order.discount_total == Money(Decimal("12.0050"), "EUR")
    assert order.lines[0].unit_price == Money(Decimal("45.2500"), "EUR")
    assert order.lines[0].total == Money(Decimal("90.5000"), "EUR")
    assert order.subtotal == Money(Decimal("120.5000"), "EUR")
    assert order.shipping_total == Money(Decimal("9.9900"), "EUR")


@given(st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False))
def test_any_four_decimal_amount_round_trips(amount: Decimal) -> None:
    text = str(amount.quantize(Decimal("0.0001")))
    order = parse_order(v2_order(total_inc_tax=text), connection_id=CONN)
    assert order.total.amount == Decimal(text)
    assert str(order.total.amount) == text


def test_order_fields_and_subresources() -> None:
    order = parse_order(
        v2_order(),
        products=LINES,
        shipping_addresses=[{"shipping_method": "UPS Ground"}, {"shipping_method": "Pickup"}],
        coupons=[{"code": "OTOÑO12", "discount": 12}],
        product_categories={"88": "Kitchen"},
        product_images={"88": "https://cdn.example.com/88.jpg"},
        store_name="Tienda",
        connection_id=CONN,
    )
    assert order.external_id == order.order_number == "4021"
    assert order.status is OrderStatus.COMPLETED
    assert order.raw_status == "Completed"
    assert order.shipping_method == "UPS Ground, Pickup"
    assert order.discount_codes == ("OTOÑO12",)
    assert order.customer_external_id == "57"
    assert order.customer is not None
    assert not order.customer.is_guest
    # Raw email and phone, untouched: the rules normalise them.
    assert order.email == "  Begona.Ibanez@Example.com "
    assert order.customer.addresses[0].phone == "+34 612 34 56 78"
    first, custom = order.lines
    assert (first.product_id, first.variant_id, first.category) == ("88", "120", "Kitchen")
    assert first.image_url == "https://cdn.example.com/88.jpg"
    assert (custom.product_id, custom.category) == (None, None)  # custom product: id 0
    assert order.store_name == "Tienda"
    assert order.raw["id"] == 4021
    assert order.extra["status_id"] == 10


def test_guest_order_email_only_in_billing_and_excluded_by_rules() -> None:
    order = parse_order(v2_order(customer_id=0), connection_id=CONN)
    assert order.customer_external_id is None
    assert order.customer is not None
    assert order.customer.is_guest
    assert order.email == "  Begona.Ibanez@Example.com "
    decision = admit_record(order, defaults_for("bigcommerce").guests)
    assert decision.reason is Reason.GUEST_EXCLUDED


def test_currency_falls_back_to_the_default_currency() -> None:
    # One documented example misspells the key ("currency_code\""): the store's default
    # currency is then the order's currency.
    payload = v2_order()
    del payload["currency_code"]
    payload['currency_code"'] = "USD"
    assert parse_order(payload, connection_id=CONN).total.currency == "EUR"


def test_amounts_are_in_the_transactional_currency_not_the_display_currency() -> None:
    # Orders v2 reference: default_currency_code is "the transactional currency the
    # shopper pays in"; currency_code is the storefront's display currency.
    order = parse_order(
        v2_order(currency_code="EUR", default_currency_code="USD"),
        products=LINES,
        connection_id=CONN,
    )
    assert order.total == Money(Decimal("118.4850"), "USD")
    assert order.lines[0].unit_price.currency == "USD"
    no_default = v2_order(currency_code="EUR")
    del no_default["default_currency_code"]
    assert parse_order(no_default, connection_id=CONN).total.currency == "EUR"


def test_a_zero_discount_keeps_the_four_decimal_scale() -> None:
    order = parse_order(
        v2_order(discount_amount="0.0000", coupon_discount="0.0000"), connection_id=CONN
    )
    assert order.discount_total is not None
    assert str(order.discount_total.amount) == "0.0000"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        # orders.v2.oas2.yml: totals, prices and discounts "can't be negative".
        ({"total_inc_tax": "-1.0000"}, "$.total_inc_tax"),
        ({"discount_amount": "-5.0000"}, "$.discount_amount"),
        ({"coupon_discount": "-5.0000"}, "$.coupon_discount"),
        ({"total_inc_tax": "1e30"}, "$.total_inc_tax"),
        ({"total_inc_tax": "Infinity"}, "$.total_inc_tax"),
    ],
)
def test_negative_or_unbounded_order_amounts_are_field_problems(
    changes: dict[str, Any], path: str
) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        parse_order(v2_order(**changes), connection_id=CONN)
    assert [p.path for p in caught.value.problems] == [path]


def test_negative_line_quantities_and_prices_are_field_problems() -> None:
    with pytest.raises(InvalidRecordError) as caught:
        parse_order(
            v2_order(),
            products=[
                {"id": 1, "quantity": -1, "price_inc_tax": "1.0000"},
                {"id": 2, "quantity": 1, "price_inc_tax": "-1.0000"},
            ],
            connection_id=CONN,
        )
    assert [p.path for p in caught.value.problems] == [
        "$products[0].quantity",
        "$products[1].price_inc_tax",
    ]


def test_the_discount_is_the_sum_of_both_discounts() -> None:
    order = parse_order(
        v2_order(discount_amount="1.5000", coupon_discount="2.2500"), connection_id=CONN
    )
    assert order.discount_total == Money(Decimal("3.7500"), "EUR")


@pytest.mark.parametrize(("status_id", "expected"), sorted(ORDER_STATUSES.items()))
def test_every_status_id_maps(status_id: int, expected: OrderStatus) -> None:
    assert parse_order(v2_order(status_id=status_id), connection_id=CONN).status is expected


def test_unknown_status_is_kept_raw() -> None:
    order = parse_order(v2_order(status_id=99, status="Ready to Dance"), connection_id=CONN)
    assert order.status is OrderStatus.UNKNOWN
    assert order.raw_status == "Ready to Dance"


def test_opt_in_checkbox_is_consent_only_when_ticked() -> None:
    ticked = parse_order(v2_order(is_email_opt_in=True), connection_id=CONN)
    unticked = parse_order(v2_order(), connection_id=CONN)
    assert ticked.customer is not None
    assert ticked.customer.accepts_marketing is True
    assert unticked.customer is not None
    assert unticked.customer.accepts_marketing is None


def test_every_bad_field_is_reported_with_its_path() -> None:
    bad = v2_order(total_inc_tax="12,34", date_created="yesterday", default_currency_code="EURO")
    with pytest.raises(InvalidRecordError) as caught:
        parse_order(bad, products=[{"id": 9, "quantity": "two", "price_inc_tax": "1"}])
    paths = {p.path for p in caught.value.problems}
    assert {"$.date_created", "$.default_currency_code", "$products[0].quantity"} <= paths
    assert caught.value.record_id == "4021"
    assert caught.value.payload is bad


def v3_customer(**changes: Any) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "id": 57,
        "email": "Begona.Ibanez@Example.com",
        "first_name": "Begoña",
        "last_name": "Ibáñez",
        "company": "",
        "phone": "",
        "customer_group_id": 2,
        "date_created": "2024-02-01T10:00:00Z",
        "date_modified": "2024-09-30T23:59:59Z",
        "accepts_product_review_abandoned_cart_emails": True,
        "addresses": [
            {"id": 1, "address1": "Calle Mayor 3", "city": "Logroño", "country_code": "ES",
             "postal_code": "26001", "state_or_province": "La Rioja", "phone": "612 34 56 78"},
        ],
    }  # fmt: skip
    customer.update(changes)
    return customer


def test_customer_gets_the_tag_and_the_address_phone() -> None:
    customer = parse_customer(v3_customer(), connection_id=CONN)
    assert customer.tags == ()
    assert customer.company is None
    assert customer.phone is None
    assert customer.addresses[0].country_code == "ES"
    decision = prepare_contact(customer)
    assert decision.contact is not None
    assert "bigcommerce-customer" in decision.contact.tags
    assert decision.contact.key.value == "begona.ibanez@example.com"


def test_review_and_abandoned_cart_flags_are_not_marketing_consent() -> None:
    v3 = parse_customer(v3_customer(), connection_id=CONN)
    assert v3.accepts_marketing is None
    assert v3.extra["accepts_product_review_abandoned_cart_emails"] is True
    # v2's accepts_marketing "describes whether the customer accepts product review
    # emails or abandon cart emails" (customers.v2.yml): the same flag, not consent.
    payload = {
        k: v
        for k, v in v3_customer(accepts_marketing=False).items()
        if k != "accepts_product_review_abandoned_cart_emails"
    }
    legacy = parse_customer(payload, connection_id=CONN)
    assert legacy.accepts_marketing is None
    assert legacy.extra["accepts_product_review_abandoned_cart_emails"] is False


def test_v3_product_numbers_are_exact_and_categories_resolved() -> None:
    product = parse_product(
        {
            "id": 88,
            "name": "Rústico Mug",
            "type": "physical",
            "sku": "",
            "price": 10.1,
            "categories": [21, 99],
            "base_variant_id": 120,
            "variants": [
                {"id": 119, "sku": "MUG-S", "price": 9.9, "option_values": [{"label": "S"}]},
                {"id": 120, "sku": "MUG-M", "price": 10.1, "option_values": [{"label": "M"}]},
            ],
            "images": [
                {"url_standard": "https://cdn.example.com/a.jpg", "is_thumbnail": False},
                {"url_standard": "https://cdn.example.com/b.jpg", "is_thumbnail": True},
            ],
            "date_created": "2018-08-15T14:48:46+00:00",
            "date_modified": "2018-09-05T20:42:07+00:00",
        },
        currency="USD",
        categories={"21": "Kitchen"},
        connection_id=CONN,
    )
    assert product.price == Money(Decimal("10.1"), "USD")
    assert product.category == "Kitchen"
    assert product.extra["category_ids"] == ("21", "99")
    assert product.sku == "MUG-M"
    assert [v.name for v in product.variants] == ["S", "M"]
    assert product.variants[0].price == Money(Decimal("9.9"), "USD")
    assert product.image_url == "https://cdn.example.com/b.jpg"


def test_cart_reads_every_kind_of_item() -> None:
    cart = parse_cart(
        {
            "id": "0f1e2d3c-aaaa-bbbb-cccc-001122334455",
            "customer_id": 57,
            "email": "begona@example.com",
            "currency": {"code": "EUR"},
            "cart_amount": 76.3,
            "base_amount": 80.3,
            "discount_amount": 4,
            "coupons": [{"code": "HOLA4"}],
            "line_items": {
                "physical_items": [
                    {"id": "p1", "product_id": 88, "variant_id": 120, "name": "Mug",
                     "quantity": 2, "sale_price": 10.15, "extended_sale_price": 20.3}
                ],
                "digital_items": [
                    {"id": "d1", "product_id": 90, "name": "E-book", "quantity": 1,
                     "sale_price": 5, "extended_sale_price": 5}
                ],
                "custom_items": [{"id": "c1", "name": "Engraving", "quantity": 1,
                                  "list_price": 5, "extended_list_price": 5}],
                "gift_certificates": [{"id": "g1", "name": "Gift", "amount": 50, "quantity": 1}],
            },
            "created_time": "2024-10-01T08:00:00.000Z",
            "updated_time": "2024-10-01T08:30:00.000Z",
        },
        connection_id=CONN,
    )  # fmt: skip
    assert cart.total == Money(Decimal("76.3"), "EUR")
    assert [line.name for line in cart.lines] == ["Mug", "E-book", "Engraving", "Gift"]
    assert cart.lines[0].unit_price.amount == Decimal("10.15")
    assert cart.customer_external_id == "57"
    assert cart.customer is not None
    assert cart.extra["coupon_codes"] == ("HOLA4",)
    assert cart.updated_at == dt.datetime(2024, 10, 1, 8, 30, tzinfo=UTC)
