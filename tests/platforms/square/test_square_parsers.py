"""Pure Square parsers: money exactness, quantities, consent, statuses, catalog, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.mapping import CONTACT_MAP
from commerce_connectors.models import Money, OrderStatus, Payment
from commerce_connectors.platforms.square import (
    catalog_refs,
    is_present_at,
    order_status,
    parse_customer,
    parse_location,
    parse_order,
    parse_payment,
    parse_product,
)
from commerce_connectors.rules import defaults_for, prepare_contact

T0 = "2024-05-01T10:00:00.000Z"
T1 = "2024-05-01T10:00:05.000Z"


def customer(**fields: Any) -> dict[str, Any]:
    return {"id": "C1", "created_at": T0, "updated_at": T1, **fields}


def payment(pid: str = "P1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": pid,
        "created_at": T0,
        "updated_at": T1,
        "status": "COMPLETED",
        "order_id": "O1",
        "total_money": {"amount": 1000, "currency": "USD"},
        "receipt_number": pid[:4],
        "receipt_url": f"https://squareup.com/receipt/preview/{pid}",
    }
    base.update(fields)
    return base


def order(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "O1",
        "location_id": "L1",
        "state": "COMPLETED",
        "created_at": T0,
        "updated_at": T1,
        "total_money": {"amount": 1000, "currency": "USD"},
        "line_items": [
            {
                "uid": "u1",
                "name": "Latte",
                "quantity": "2",
                "catalog_object_id": "V1",
                "base_price_money": {"amount": 500, "currency": "USD"},
                "total_money": {"amount": 1000, "currency": "USD"},
            }
        ],
    }
    base.update(fields)
    return base


# -- customers -------------------------------------------------------------------------


def test_customer_keeps_email_and_phone_as_given() -> None:
    c = parse_customer(
        customer(
            email_address="  Amelia.Earhart@Example.com ",
            phone_number="+1-212-555-4240",
            given_name="Amelia",
            family_name="Earhart",
            company_name="Lockheed",
            address={"address_line_1": "500 Electric Ave", "locality": "New York", "country": "us"},
            group_ids=["G1"],
            segment_ids=["S1"],
        ),
        connection_id="square:M:L1",
    )
    assert c.email == "  Amelia.Earhart@Example.com "
    assert c.phone == "+1-212-555-4240"
    assert c.tags == ()  # Square has no customer tags
    assert c.extra["group_ids"] == ("G1",)
    assert c.default_address is not None
    assert c.default_address.country_code == "US"
    assert c.default_address.phone is None  # Square addresses carry no phone
    assert c.company == "Lockheed"
    assert c.connection_id == "square:M:L1"


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [({"email_unsubscribed": True}, False), ({"email_unsubscribed": False}, None), ({}, None)],
)
def test_consent_unsubscribed_is_a_no_and_false_is_unknown(
    preferences: dict[str, Any], expected: bool | None
) -> None:
    assert parse_customer(customer(preferences=preferences)).accepts_marketing is expected


def test_square_consent_rule_agrees_with_the_parser() -> None:
    rules = defaults_for("square")
    yes = parse_customer(customer(email_address="a@b.co", preferences={"email_unsubscribed": True}))
    decision = prepare_contact(yes, rules)
    assert decision.contact is not None
    assert decision.contact.accepts_marketing is False


def test_reference_id_can_be_the_external_id_through_the_field_map() -> None:
    c = parse_customer(customer(email_address="a@b.co", reference_id="crm-42"))
    mapped = CONTACT_MAP.with_external_id("$.reference_id").apply(c)
    assert mapped.external_id == "crm-42"


def test_customer_without_email_parses_and_the_rules_refuse_it() -> None:
    c = parse_customer(customer(phone_number="+12126668929"))
    assert c.email is None
    decision = prepare_contact(c, defaults_for("square"))
    assert decision.contact is None
    assert decision.reason is not None
    assert decision.reason.value == "email_required"


def test_customer_reports_every_bad_field() -> None:
    with pytest.raises(InvalidRecordError) as exc:
        parse_customer(
            {"id": "C9", "created_at": "yesterday", "preferences": {"email_unsubscribed": 3}}
        )
    paths = {p.path for p in exc.value.problems}
    assert paths == {"$.created_at", "$.updated_at", "$.preferences.email_unsubscribed"}
    assert exc.value.record_id == "C9"
    assert exc.value.payload["id"] == "C9"


# -- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "currency", "amount"),
    [
        (1500, "JPY", "1500"),
        (1599, "USD", "15.99"),
        (12345, "KWD", "12.345"),
        (0, "USD", "0.00"),
        (2**63 - 1, "USD", "92233720368547758.07"),
    ],
)
def test_minor_units_convert_exactly(units: int, currency: str, amount: str) -> None:
    p = parse_payment(payment(total_money={"amount": units, "currency": currency}))
    assert p.amount == Money(Decimal(amount), currency)
    assert p.amount.to_minor_units() == units


@given(
    units=st.integers(min_value=0, max_value=2**63 - 1),
    currency=st.sampled_from(["JPY", "USD", "EUR", "KWD", "CLP", "BHD"]),
)
def test_money_round_trips_exactly(units: int, currency: str) -> None:
    p = parse_payment(payment(total_money={"amount": units, "currency": currency}))
    assert p.amount.to_minor_units() == units
    assert p.amount.currency == currency


@pytest.mark.parametrize("units", [-250, -1, 2**63, 10**30])
def test_negative_or_oversized_payment_amounts_are_field_problems(units: int) -> None:
    # Square's Money.amount is int64, and a payment's amounts are never negative (refunds
    # are PaymentRefund objects; refunded_money is a positive total): the sign policy.
    with pytest.raises(InvalidRecordError) as exc:
        parse_payment(payment(total_money={"amount": units, "currency": "USD"}))
    assert [p.path for p in exc.value.problems] == ["$.total_money.amount"]


def test_negative_line_quantities_are_field_problems() -> None:
    bad = order()
    bad["line_items"][0]["quantity"] = "-2"
    with pytest.raises(InvalidRecordError) as exc:
        parse_order(bad)
    assert [p.path for p in exc.value.problems] == ["$.line_items[0].quantity"]


def test_payment_falls_back_to_amount_money_and_to_the_orders_customer() -> None:
    raw = payment(customer_id=None)
    del raw["total_money"]
    raw["amount_money"] = {"amount": 777, "currency": "JPY"}
    p = parse_payment(raw, {"id": "O1", "customer_id": "C7"})
    assert p.amount == Money(777, "JPY")
    assert p.customer_external_id == "C7"


def test_float_or_string_amounts_are_problems() -> None:
    with pytest.raises(InvalidRecordError) as exc:
        parse_payment(payment(total_money={"amount": 10.5, "currency": "USD"}))
    assert [p.path for p in exc.value.problems] == ["$.total_money.amount"]


# -- orders -----------------------------------------------------------------------------


def test_order_maps_the_seed_fields() -> None:
    o = parse_order(
        order(
            discounts=[{"name": "Happy hour", "applied_money": {"amount": 100, "currency": "USD"}}],
            total_discount_money={"amount": 100, "currency": "USD"},
            fulfillments=[{"type": "PICKUP", "state": "COMPLETED"}],
        ),
        [payment(buyer_email_address="Buyer@Example.com", customer_id="C1")],
        connection_id="square:M:L1",
        store_name="Downtown",
        catalog=catalog_refs(
            [
                {
                    "type": "ITEM_VARIATION",
                    "id": "V1",
                    "item_variation_data": {"item_id": "I1", "sku": "LAT"},
                }
            ],
            [
                {
                    "type": "ITEM",
                    "id": "I1",
                    "item_data": {"name": "Latte", "description": "Milk coffee"},
                }
            ],
        ),
    )
    assert o.order_number == "P1"
    assert o.order_url == "https://squareup.com/receipt/preview/P1"
    assert o.total == Money("10.00", "USD")
    assert o.email == "Buyer@Example.com"
    assert o.customer is not None
    assert o.customer.external_id == "C1"
    assert o.store_name == "Downtown"
    assert o.discount_codes == ("Happy hour",)
    assert o.discount_total == Money("1.00", "USD")
    assert (o.shipping_method, o.raw_fulfillment_status) == ("PICKUP", "COMPLETED")
    (line,) = o.lines
    assert (line.product_id, line.variant_id, line.sku, line.description) == (
        "I1",
        "V1",
        "LAT",
        "Milk coffee",
    )
    assert line.quantity == 2
    assert line.unit_price == Money("5.00", "USD")
    assert o.raw_status == "order:COMPLETED payments:COMPLETED"


def test_decimal_quantities_stay_decimal() -> None:
    items = [
        {
            "uid": "u",
            "name": "Beans (kg)",
            "quantity": "1.25",
            "base_price_money": {"amount": 2000, "currency": "USD"},
        }
    ]
    o = parse_order(order(line_items=items))
    assert o.lines[0].quantity == Decimal("1.25")


def test_jpy_order_is_exact() -> None:
    items = [
        {
            "uid": "u",
            "name": "Matcha",
            "quantity": "3",
            "base_price_money": {"amount": 480, "currency": "JPY"},
            "total_money": {"amount": 1440, "currency": "JPY"},
        }
    ]
    o = parse_order(
        order(total_money={"amount": 1440, "currency": "JPY"}, line_items=items),
        [payment(total_money={"amount": 1440, "currency": "JPY"})],
    )
    assert o.total == Money(1440, "JPY")
    assert str(o.total.amount) == "1440"
    assert o.lines[0].unit_price.amount * o.lines[0].quantity == o.total.amount


def test_newest_timestamp_wins_and_payment_date_is_the_order_date() -> None:
    refunded = payment(
        created_at="2020-01-01T00:00:00Z",
        updated_at="2024-06-01T00:00:00Z",
        refunded_money={"amount": 1000, "currency": "USD"},
    )
    o = parse_order(
        order(created_at="2019-12-31T23:59:00Z", updated_at="2020-01-01T00:00:01Z"), [refunded]
    )
    assert o.updated_at.year == 2024
    assert o.created_at.isoformat() == "2020-01-01T00:00:00+00:00"
    assert o.status is OrderStatus.REFUNDED
    assert o.extra["order_created_at"].year == 2019


def _p(status: str, amount: int = 1000, refunded: int | None = None) -> Payment:
    fields: dict[str, Any] = {
        "status": status,
        "total_money": {"amount": amount, "currency": "USD"},
    }
    if refunded is not None:
        fields["refunded_money"] = {"amount": refunded, "currency": "USD"}
    return parse_payment(payment(**fields))


@pytest.mark.parametrize(
    ("state", "payments", "expected"),
    [
        ("COMPLETED", [_p("COMPLETED")], OrderStatus.COMPLETED),
        ("OPEN", [_p("COMPLETED")], OrderStatus.PAID),
        ("OPEN", [_p("COMPLETED", 400)], OrderStatus.PARTIALLY_PAID),
        ("COMPLETED", [_p("COMPLETED", 500), _p("COMPLETED", 500)], OrderStatus.COMPLETED),
        ("COMPLETED", [_p("COMPLETED", refunded=1000)], OrderStatus.REFUNDED),
        ("COMPLETED", [_p("COMPLETED", refunded=300)], OrderStatus.PARTIALLY_REFUNDED),
        ("OPEN", [_p("APPROVED")], OrderStatus.AUTHORIZED),
        ("OPEN", [_p("PENDING")], OrderStatus.PENDING),
        ("OPEN", [_p("CANCELED")], OrderStatus.VOIDED),
        ("OPEN", [_p("FAILED")], OrderStatus.FAILED),
        ("OPEN", [_p("FAILED"), _p("CANCELED")], OrderStatus.FAILED),
        ("OPEN", [_p("FAILED"), _p("COMPLETED")], OrderStatus.PAID),
        ("CANCELED", [_p("CANCELED")], OrderStatus.CANCELLED),
        ("OPEN", [], OrderStatus.PENDING),
        ("DRAFT", [], OrderStatus.PENDING),
        ("COMPLETED", [], OrderStatus.COMPLETED),
        ("WEIRD", [], OrderStatus.UNKNOWN),
    ],
)
def test_order_status(state: str, payments: list[Payment], expected: OrderStatus) -> None:
    assert order_status(state, payments, Money("10.00", "USD")) is expected


def test_bad_order_lists_every_problem_including_its_payments() -> None:
    bad = order(total_money={"amount": "12,34", "currency": "USD"})
    bad["line_items"][0]["quantity"] = "two"
    with pytest.raises(InvalidRecordError) as exc:
        parse_order(
            bad, [payment(status="COMPLETED", total_money={"amount": 1, "currency": "XXQ"})]
        )
    paths = {p.path for p in exc.value.problems}
    assert paths == {
        "$.total_money.amount",
        "$.line_items[0].quantity",
        "$payments[0].total_money.currency",
    }
    assert exc.value.record_id == "O1"


# -- catalog and locations ----------------------------------------------------------------


def _item(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "ITEM",
        "id": "I1",
        "updated_at": "2017-10-26T15:41:32.337Z",
        "item_data": {
            "name": "Tea - Black",
            "description": "A delicious blend of black tea.",
            "categories": [{"id": "CAT", "ordinal": 0}],
            "image_ids": ["IMG"],
            "variations": [
                {
                    "type": "ITEM_VARIATION",
                    "id": "V2",
                    "item_variation_data": {
                        "ordinal": 2,
                        "name": "Large",
                        "pricing_type": "VARIABLE_PRICING",
                    },
                },
                {
                    "type": "ITEM_VARIATION",
                    "id": "V1",
                    "item_variation_data": {
                        "ordinal": 1,
                        "name": "Regular",
                        "sku": "T-1",
                        "price_money": {"amount": 150, "currency": "USD"},
                    },
                },
                {
                    "type": "ITEM_VARIATION",
                    "id": "V0",
                    "is_deleted": True,
                    "item_variation_data": {"ordinal": 0, "name": "Gone"},
                },
            ],
        },
    }
    base.update(fields)
    return base


RELATED = [
    {"type": "CATEGORY", "id": "CAT", "category_data": {"name": "Beverages"}},
    {"type": "IMAGE", "id": "IMG", "image_data": {"url": "https://img.test/tea.jpeg"}},
]


def test_product_uses_related_objects_and_the_first_live_variation() -> None:
    p = parse_product(_item(), RELATED, connection_id="square:M:L1")
    assert (p.name, p.category, p.image_url, p.sku) == (
        "Tea - Black",
        "Beverages",
        "https://img.test/tea.jpeg",
        "T-1",
    )
    assert p.price == Money("1.50", "USD")
    assert [(v.external_id, v.price) for v in p.variants] == [
        ("V1", Money("1.50", "USD")),
        ("V2", None),
    ]
    assert p.created_at == p.updated_at
    assert p.extra["created_at_known"] is False


def test_product_without_related_objects_has_no_category_or_image() -> None:
    p = parse_product(_item())
    assert p.category is None
    assert p.image_url is None


def test_variation_ordinals_of_mixed_types_sort_without_a_type_error() -> None:
    # Fuzzing found sort() comparing "2" with 1 (TypeError). Ordinals are integers;
    # digit strings are read as such, a missing one sorts as 0.
    item = _item()
    variations = item["item_data"]["variations"]
    variations[0]["item_variation_data"]["ordinal"] = "2"
    del variations[1]["item_variation_data"]["ordinal"]
    p = parse_product(item, RELATED)
    assert [v.external_id for v in p.variants] == ["V1", "V2"]
    variations[0]["item_variation_data"]["ordinal"] = "first"
    with pytest.raises(InvalidRecordError) as exc:
        parse_product(item, RELATED)
    assert [p.path for p in exc.value.problems] == [
        "$.item_data.variations[0].item_variation_data.ordinal"
    ]


def test_related_objects_of_the_wrong_shape_are_ignored_not_a_crash() -> None:
    related = [
        {"type": "CATEGORY", "id": "CAT", "category_data": ["Beverages"]},
        {"type": "IMAGE", "id": "IMG", "image_data": "https://img.test/tea.jpeg"},
    ]
    p = parse_product(_item(), related)
    assert (p.category, p.image_url) == (None, None)
    odd = _item()
    odd["item_data"]["image_ids"] = "IMG"
    refs = catalog_refs([odd, {"type": "ITEM", "id": "I2", "item_data": ["x"]}], related)
    assert refs["V1"].image_url is None
    assert "I2" not in {r.item_id for r in refs.values()}


def test_non_item_objects_are_refused() -> None:
    with pytest.raises(InvalidRecordError) as exc:
        parse_product({"type": "CATEGORY", "id": "CAT", "updated_at": "2017-10-26T15:41:32Z"})
    assert [p.path for p in exc.value.problems] == ["$.type"]


@pytest.mark.parametrize(
    ("obj", "at_l1", "at_l2"),
    [
        ({}, True, True),
        ({"present_at_all_locations": True, "absent_at_location_ids": ["L2"]}, True, False),
        ({"present_at_all_locations": False, "present_at_location_ids": ["L2"]}, False, True),
        ({"present_at_all_locations": False}, False, False),
    ],
)
def test_catalog_presence(obj: dict[str, Any], at_l1: bool, at_l2: bool) -> None:
    assert (is_present_at(obj, "L1"), is_present_at(obj, "L2")) == (at_l1, at_l2)


def test_catalog_refs_from_items_and_variations() -> None:
    refs = catalog_refs([_item()], RELATED)
    assert refs["V1"].item_id == "I1"
    assert refs["V1"].category == "Beverages"
    assert refs["V1"].image_url == "https://img.test/tea.jpeg"
    assert refs["V2"].sku is None


def test_location() -> None:
    loc = parse_location(
        {
            "id": "L1",
            "name": "Shibuya",
            "merchant_id": "M1",
            "currency": "JPY",
            "status": "INACTIVE",
            "created_at": "2016-09-19T17:33:12Z",
        }
    )
    assert (loc.id, loc.name, loc.merchant_id, loc.currency, loc.is_active) == (
        "L1",
        "Shibuya",
        "M1",
        "JPY",
        False,
    )
