"""Order and cart bodies: minor units from exact Money, dates, lines, discounts, refusals."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from _acfakes import CONN, at, cart, one, order, pair
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.mapping import DEFAULT_MAPS, LINE_MAP
from commerce_connectors.models import LineItem, Money, Order
from commerce_connectors.sinks.activecampaign import UnrepresentableError, minor_units, order_body


def body_of(item, **kw):  # type: ignore[no-untyped-def]
    return order_body(item.record, item.fields, key=item.key.external_id, email="a@b.co", **kw)


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("19.99", "USD", 1999),
        ("1500", "JPY", 1500),  # zero decimals: yen are already the minor unit
        ("2500", "CLP", 2500),
        ("12.345", "KWD", 12345),  # three decimals
        ("0.500", "BHD", 500),
        ("7", "EUR", 700),
        ("0", "USD", 0),
    ],
)
def test_amounts_in_the_currency_minor_units(amount: str, currency: str, units: int) -> None:
    item = order("1", total=amount, currency=currency)
    body = body_of(item).body
    assert body["totalPrice"] == units
    assert body["currency"] == currency
    assert body["orderProducts"][0]["price"] == units


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("10.005", "USD", "more decimals than USD"),
        ("1500.5", "JPY", "more decimals than JPY"),
        ("1.0005", "KWD", "more decimals than KWD"),
        ("-1.00", "USD", "negative"),
        ("21474836.48", "USD", "32-bit"),
        ("1", "XAU", "no minor unit"),
    ],
)
def test_what_cannot_be_represented_is_refused(amount: str, currency: str, why: str) -> None:
    record = Order(
        "shopify", CONN, "1", at(0), at(0), status="paid", raw_status="paid",
        total=Money(amount, currency), lines=[LineItem("Mug", 1, Money(amount, currency))],
    )  # fmt: skip
    with pytest.raises(UnrepresentableError, match=why) as caught:
        order_body(record, {}, key="1", email="a@b.co")
    assert {p.path for p in caught.value.problems} >= {"total"}


def test_rounding_is_a_choice() -> None:
    body = body_of(order("1", total="10.005", currency="USD"), inexact="round").body
    assert body["totalPrice"] == 1000  # half to even


def test_every_bad_field_is_listed() -> None:
    lines = (
        LineItem("Rope", Decimal("1.5"), Money("2.00", "USD"), product_id="r"),
        LineItem("Hook", 1, Money("3.00", "EUR"), product_id="h"),
    )
    item = order("1", total="-1", lines=lines)
    with pytest.raises(UnrepresentableError) as caught:
        body_of(item)
    paths = [p.path for p in caught.value.problems]
    assert paths == ["total", "lines[0].quantity", "lines[1].unit_price"]


@given(
    cents=st.integers(min_value=0, max_value=2**31 - 1),
    currency=st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLP", "BHD"]),
)
def test_exact_amounts_round_trip(cents: int, currency: str) -> None:
    money = Money.from_minor_units(cents, currency)
    assert minor_units(money, "total", []) == cents


def test_order_fields_and_dates() -> None:
    item = order(
        "1001",
        hours=2.000001,
        order_number="#1001",
        order_url="https://acme.example/admin/orders/1001",
        shipping_method="UPS Ground",
        shipping_total=Money("5.00", "USD"),
        tax_total=Money("1.50", "USD"),
        discount_total=Money("2.00", "USD"),
        discount_codes=("SPRING", "VIP"),
    )
    body = body_of(item).body
    assert body["externalid"] == "1001"
    assert "externalcheckoutid" not in body
    assert body["orderNumber"] == "#1001"
    assert body["orderUrl"] == "https://acme.example/admin/orders/1001"
    assert body["shippingMethod"] == "UPS Ground"
    assert (body["shippingAmount"], body["taxAmount"], body["discountAmount"]) == (500, 150, 200)
    assert body["orderDiscounts"] == [
        {"name": "SPRING, VIP", "type": "order", "discountAmount": 200}
    ]
    # ISO 8601 with an offset, whole seconds (what ActiveCampaign's examples send).
    assert body["externalCreatedDate"] == "2024-03-01T12:00:00+00:00"
    assert body["externalUpdatedDate"] == "2024-03-01T14:00:00+00:00"
    assert "source" not in body
    assert "connectionid" not in body


def test_lines_take_the_field_map_and_fill_what_activecampaign_requires() -> None:
    lines = (
        LineItem(
            "Mug",
            2,
            Money("4.50", "USD"),
            product_id="p1",
            sku="MUG",
            category="Kitchen",
            description="Blue",
            image_url="https://cdn.example/mug.png",
        ),
        LineItem(None, 1, Money("1.00", "USD"), external_id="li-2"),  # a custom line
    )
    body = body_of(order("1", total="10.00", lines=lines)).body
    first, custom = body["orderProducts"]
    assert first == {
        "externalid": "p1",
        "name": "Mug",
        "price": 450,
        "quantity": 2,
        "category": "Kitchen",
        "sku": "MUG",
        "description": "Blue",
        "imageUrl": "https://cdn.example/mug.png",
    }
    # No product id or name: the line's own id at the platform, never a made-up one.
    assert custom == {"externalid": "li-2", "name": "li-2", "price": 100, "quantity": 1}


def test_a_field_dropped_from_the_map_is_not_sent() -> None:
    item = order("1", order_url="https://acme.example/o/1", shipping_method="Post")
    fields = DEFAULT_MAPS["order"].drop("orderUrl").apply(item.record).fields
    body = order_body(item.record, fields, key="1", email="a@b.co").body
    assert "orderUrl" not in body
    assert body["shippingMethod"] == "Post"


def test_cart_body() -> None:
    item = cart("chk-9", hours=3)
    built = body_of(item)
    body = built.body
    assert built.is_cart
    assert body["externalcheckoutid"] == "chk-9"
    assert "externalid" not in body
    # abandonedDate is required with externalcheckoutid: the cart's last activity.
    assert body["abandonedDate"] == "2024-03-01T15:00:00+00:00"
    assert body["orderUrl"] == "https://acme.example/recover/chk-9"
    assert body["totalPrice"] == 4000


def test_an_order_names_the_checkout_it_came_from() -> None:
    record = Order(
        "bigcommerce",
        CONN,
        "100",
        at(0),
        at(0),
        status="paid",
        raw_status="Completed",
        total=Money("5", "USD"),
        extra={"cart_id": "c0ffee"},
    )
    built = order_body(record, {}, key="100", email="a@b.co")
    assert built.checkout_ids == ("c0ffee",)


@pytest.mark.parametrize(
    ("line", "externalid"),
    [
        (LineItem("Mug", 1, Money("1", "USD"), product_id="p1", variant_id="v1"), "p1"),
        (LineItem("Mug", 1, Money("1", "USD"), variant_id="v1", sku="MUG"), "v1"),
        (LineItem("Mug", 1, Money("1", "USD"), sku="MUG", external_id="li-1"), "MUG"),
        (LineItem("Gift wrap", 1, Money("1", "USD"), external_id="li-1"), "Gift wrap"),
        (LineItem(None, 1, Money("1", "USD"), external_id="li-1"), "li-1"),
    ],
)
def test_a_line_externalid_comes_from_the_lines_data(line: LineItem, externalid: str) -> None:
    body = body_of(order("1", total="1.00", lines=(line,))).body
    assert body["orderProducts"][0]["externalid"] == externalid


def test_no_made_up_line_ids_shared_across_orders() -> None:
    custom = (
        LineItem("Mug", 1, Money("1", "USD"), product_id="p1"),
        LineItem("Gift wrap", 1, Money("1", "USD")),  # custom lines: a name, no ids
    )
    other = (
        LineItem("Tea", 1, Money("1", "USD"), product_id="p2"),
        LineItem("Engraving", 1, Money("1", "USD")),
    )
    ids = [
        [
            p["externalid"]
            for p in body_of(order(o, total="2.00", lines=lines)).body["orderProducts"]
        ]
        for o, lines in (("1", custom), ("2", other))
    ]
    assert ids == [["p1", "Gift wrap"], ["p2", "Engraving"]]  # never "line-2" in both


def test_a_line_with_nothing_to_identify_it_is_refused() -> None:
    lines = (LineItem(None, 1, Money("1", "USD")),)
    with pytest.raises(UnrepresentableError, match="orderProducts") as caught:
        body_of(order("1", total="1.00", lines=lines))
    assert [p.path for p in caught.value.problems] == ["lines[0].product_id"]


def test_a_map_that_drops_the_lines_sends_none() -> None:
    item = order("1")
    fields = DEFAULT_MAPS["order"].drop("orderProducts").apply(item.record).fields
    body = order_body(item.record, fields, key="1", email="a@b.co").body
    assert "orderProducts" not in body
    assert body["totalPrice"] == 2500
    # Without a map (None), every value comes from the record, lines included.
    whole = order_body(item.record, None, key="1", email="a@b.co").body
    assert whole["orderProducts"][0]["externalid"] == "p1"


def test_a_line_field_dropped_from_the_line_map_is_not_sent() -> None:
    line = LineItem("Mug", 1, Money("1", "USD"), product_id="p1", category="Kitchen", sku="M")
    item = order("1", total="1.00", lines=(line,))
    lines_map = LINE_MAP.drop("category")
    fields = (
        DEFAULT_MAPS["order"]
        .replace("orderProducts", "lines", each=lines_map)
        .apply(item.record)
        .fields
    )
    (sent,) = order_body(item.record, fields, key="1", email="a@b.co").body["orderProducts"]
    assert "category" not in sent
    assert sent["sku"] == "M"


def test_a_dropped_lines_field_keeps_the_stored_lines_on_update() -> None:
    sim, sink = pair()
    one(sink, order("1", hours=1))
    item = order("1", hours=2, total="30.00")
    fields = DEFAULT_MAPS["order"].drop("orderProducts").apply(item.record).fields
    assert one(sink, attrs.evolve(item, fields=fields)).action.value == "updated"
    (stored,) = sim.orders()
    assert (stored["totalPrice"], len(stored["lines"])) == (3000, 1)
    put = sim.log.filter(method="PUT", route="/api/3/ecomOrders/{id}")[-1]
    assert "orderProducts" not in put.json["ecomOrder"]
