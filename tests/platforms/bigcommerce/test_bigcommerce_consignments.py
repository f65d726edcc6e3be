"""Consignment parsing: the lines and shipping methods an order carries with
``include=consignments.line_items&consignment_structure=object``.

The shapes are the reference's (orders.v2.oas2.yml ``orderConsignment_Get``: pickups,
shipping, downloads, ``email.gift_certificates``), and the reference's own examples are
read as they are.
"""

from __future__ import annotations

from typing import Any

import pytest
from bigcommerce_spec_support import spec

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.platforms.bigcommerce import parse_order
from commerce_connectors.platforms.bigcommerce.parsers import (
    CONSIGNMENT_KINDS,
    consignment_lines,
    consignment_shipping,
)


def line(line_id: int, *, kind: str = "physical", price: str = "10.0000", qty: int = 1) -> dict:
    return {
        "id": line_id,
        "order_id": 900,
        "product_id": line_id + 100 if kind != "giftcertificate" else 0,
        "variant_id": line_id + 200 if kind != "giftcertificate" else 0,
        "name": f"{kind} {line_id}",
        "sku": f"SKU-{line_id}",
        "type": kind,
        "price_inc_tax": price,
        "total_inc_tax": price,
        "quantity": qty,
    }


def order(consignments: Any) -> dict[str, Any]:
    return {
        "id": 900,
        "customer_id": 5,
        "date_created": "Thu, 03 Oct 2024 18:22:07 +0000",
        "date_modified": "Mon, 07 Oct 2024 09:01:59 +0000",
        "status_id": 11,
        "status": "Awaiting Fulfillment",
        "currency_code": "USD",
        "default_currency_code": "USD",
        "total_inc_tax": "95.0000",
        "items_total": 5,
        "billing_address": {"first_name": "Ana", "email": "ana@example.com"},
        "consignments": consignments,
    }


EVERY_KIND = {
    "pickups": [],
    "shipping": [
        {"id": 1, "shipping_method": "UPS Ground", "line_items": [line(13), line(11)]},
        {"id": 2, "shipping_method": "Flat Rate", "line_items": [line(12, qty=2)]},
    ],
    "downloads": [{"recipient_email": "ana@example.com", "line_items": [line(14, kind="digital")]}],
    "email": {
        "gift_certificates": [
            {
                "recipient_email": "friend@example.com",
                "line_items": [line(15, kind="giftcertificate", price="25.0000")],
            }
        ]
    },
}


def test_lines_come_from_every_kind_of_consignment_in_line_order() -> None:
    parsed = parse_order(order(EVERY_KIND), coupons=[])
    assert [x.external_id for x in parsed.lines] == ["11", "12", "13", "14", "15"]
    assert [x.quantity for x in parsed.lines] == [1, 2, 1, 1, 1]
    gift = parsed.lines[-1]
    assert gift.product_id is None
    assert str(gift.unit_price.amount) == "25.0000"
    assert parsed.shipping_method == "UPS Ground, Flat Rate"


def test_a_pickup_names_the_shipping_method() -> None:
    pickup = {
        "pickups": [
            {
                "id": 99,
                "pickup_method_id": 1,
                "pickup_method_display_name": "Pick Up",
                "location": {"id": 1, "name": "Location 1"},
                "line_items": [line(21)],
            }
        ],
        "shipping": [],
        "downloads": [],
        "email": {"gift_certificates": []},
    }
    parsed = parse_order(order(pickup))
    assert parsed.shipping_method == "Pick Up"
    assert [x.external_id for x in parsed.lines] == ["21"]


def test_lists_passed_in_win_over_the_consignments() -> None:
    parsed = parse_order(
        order(EVERY_KIND),
        products=[line(31)],
        shipping_addresses=[{"shipping_method": "Courier"}],
    )
    assert [x.external_id for x in parsed.lines] == ["31"]
    assert parsed.shipping_method == "Courier"


def test_a_bad_line_is_reported_where_it_is_in_the_payload() -> None:
    broken = {**EVERY_KIND, "shipping": [{"id": 1, "line_items": [line(1, price="12,50")]}]}
    with pytest.raises(InvalidRecordError) as refused:
        parse_order(order(broken))
    paths = [p.path for p in refused.value.problems]
    assert "$.consignments.shipping[0].line_items[0].price_inc_tax" in paths


def test_a_line_in_two_consignments_is_one_line() -> None:
    twice = {"shipping": [{"line_items": [line(1)]}, {"line_items": [line(1)]}]}
    found = consignment_lines(order(twice))
    assert found is not None
    assert [path for path, _ in found] == ["consignments.shipping[0].line_items[0]"]


@pytest.mark.parametrize(
    "consignments",
    [
        None,
        {"url": "https://api.bigcommerce.com/...", "resource": "/orders/900/consignments"},
        [],
        {"shipping": [{"line_items": [{"url": "u", "resource": "/orders/900/products/1"}]}]},
        {"downloads": [{"line_items": {"url": "u", "resource": "/orders/900/products/1"}}]},
    ],
    ids=["absent", "a link", "not an object", "links to lines", "one link"],
)
def test_no_lines_are_read_where_the_payload_does_not_carry_them(consignments: Any) -> None:
    payload = order(consignments)
    assert consignment_lines(payload) is None
    assert parse_order(payload).lines == ()


def test_the_references_own_consignment_examples() -> None:
    # orderConsignment_Get's examples show line items as links (include=consignments):
    # no lines are read from them, and the shipping consignment's method is.
    schema = spec("orders.v2.oas2.yml")["components"]["schemas"]["orderConsignment_Get"]
    examples = schema["x-examples"]
    assert set(schema["properties"]) == {"pickups", "shipping", "downloads", "email"}
    assert {k.split(".")[0] for k in CONSIGNMENT_KINDS} == set(schema["properties"])
    for name, consignments in examples.items():
        payload = order(consignments)
        assert consignment_lines(payload) is None, name
        shipping = consignment_shipping(payload)
        assert shipping is not None
        assert len(shipping) == len(consignments["shipping"])
    shipped = parse_order(order(examples["order with shipping consignments"]))
    assert shipped.shipping_method == "Free Shipping"
    picked = parse_order(order(examples["order with pickup consignments"]))
    assert picked.shipping_method == "Pick Up"
