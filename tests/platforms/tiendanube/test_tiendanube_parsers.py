"""Pure Tiendanube parsers: shapes from the documented payloads, written for these tests."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.models import OrderStatus
from commerce_connectors.platforms.tiendanube import (
    localized,
    order_status,
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)
from commerce_connectors.rules import merge_contacts, prepare_contact

UTC = dt.timezone.utc

CUSTOMER: dict[str, Any] = {
    "id": 5501,
    "name": "Lucía Fernández Paz",
    "email": " Lucia.Fernandez@Correo.com.ar ",
    "phone": "011 15-4848-1212",
    "identification": "27345678",
    "note": None,
    "total_spent": "15300.50",
    "total_spent_currency": "ARS",
    "last_order_id": 90210,
    "billing_phone": "+54 9 351 555-0101",
    "billing_address": "Av. Colón",
    "billing_number": "1200",
    "billing_city": "Córdoba",
    "billing_country": "AR",
    "extra": {"talle": "M"},
    "default_address": {
        "address": "Av. Corrientes",
        "number": "3456",
        "floor": "4B",
        "locality": "Almagro",
        "city": "Buenos Aires",
        "province": "CABA",
        "zipcode": "C1194",
        "country": "AR",
        "phone": "011 4862-0000",
        "name": "Lucía Fernández Paz",
    },
    "addresses": [],
    "created_at": "2023-04-07T09:11:51-03:00",
    "updated_at": "2024-02-08T11:11:51-0300",
}

ORDER: dict[str, Any] = {
    "id": 771001,
    "store_id": "998877",
    "number": 1452,
    "token": "ab12cd",
    "currency": "BRL",
    "language": "pt",
    "status": "open",
    "payment_status": "paid",
    "shipping_status": "unpacked",
    "subtotal": "300.00",
    "discount": "5.00",
    "discount_coupon": "30.00",
    "discount_gateway": "1.50",
    "shipping_cost_customer": "25.90",
    "total": "289.40",
    "coupon": [{"code": "VOLTA30"}],
    "shipping_option": "Sedex",
    "shipping": "correios",
    "gateway": "pagseguro",
    "completed_at": {"date": "2024-03-02 15:04:05.000000", "timezone_type": 3, "timezone": "UTC"},
    "created_at": "2024-03-02T15:04:05+0000",
    "updated_at": "2024-03-03T09:00:00+0000",
    "products": [
        {
            "id": 1,
            "product_id": 321,
            "variant_id": "654",
            "name": "Camiseta (Azul)",
            "price": "150.00",
            "quantity": "2",
            "sku": "CAM-AZ",
            "image": {"src": "https://cdn.test/cam.jpg"},
        }
    ],
    "customer": {
        "id": 42,
        "name": "João Silva",
        "email": "joao@exemplo.com.br",
        "phone": "+55 11 91234-5678",
        "identification": "12345678909",
        "default_address": {"address": "Rua A", "number": "10", "country": "BR"},
        "accepts_marketing": True,
        "accepts_marketing_updated_at": "2024-03-01T10:00:00+0000",
        "created_at": "2022-01-01T00:00:00+0000",
        "updated_at": "2024-03-01T10:00:00+0000",
    },
}

CHECKOUT: dict[str, Any] = {
    "id": 880001,
    "store_id": 998877,
    "token": "tok",
    "abandoned_checkout_url": "https://loja.test/checkout/v3/order/proxy/880001/tok",
    "contact_email": "Maria@Exemplo.com.br",
    "contact_name": "Maria Souza",
    "contact_phone": "+5511988887777",
    "contact_identification": "98765432100",
    "billing_phone": "+5511977776666",
    "shipping_phone": "+5511955554444",
    "shipping_address": "Rua B",
    "shipping_number": "20",
    "shipping_city": "Santos",
    "shipping_country": "BR",
    "currency": "BRL",
    "subtotal": "120.00",
    "total": "120.00",
    "completed_at": None,
    "created_at": "2024-05-12T19:08:06+0000",
    "updated_at": "2024-05-12T19:30:00+0000",
    "products": [{"id": 9, "product_id": 8, "variant_id": 7, "price": "60.00", "quantity": 2}],
}

PRODUCT: dict[str, Any] = {
    "id": 321,
    "name": {"es": "Remera", "pt": "Camiseta", "en": "T-shirt"},
    "description": {"es": "<p>Algodón</p>", "pt": "<p>Algodão</p>", "en": ""},
    "handle": {"es": "remera", "pt": "camiseta"},
    "categories": [{"id": 10, "name": {"es": "Ropa", "pt": "Roupas"}}],
    "images": [
        {"id": 2, "src": "https://cdn.test/b.jpg", "position": 2},
        {"id": 1, "src": "https://cdn.test/a.jpg", "position": 1},
    ],
    "variants": [
        {"id": 654, "price": "150.00", "sku": "CAM-AZ", "values": [{"es": "Azul", "pt": "Azul"}]},
        {"id": 655, "price": "155.00", "sku": "CAM-VR", "image_id": 2, "values": [{"es": "Rojo"}]},
    ],
    "tags": "verano, algodón",
    "created_at": "2023-01-03T09:11:51-03:00",
    "updated_at": "2024-03-11T09:14:11-0300",
}


def test_customer_keeps_raw_contact_details_and_identification() -> None:
    c = parse_customer(CUSTOMER, connection_id="tiendanube:998877")
    assert (c.external_id, c.first_name, c.last_name) == ("5501", "Lucía", "Fernández Paz")
    assert c.email == " Lucia.Fernandez@Correo.com.ar "  # the rules normalise, not the parser
    assert c.phone == "011 15-4848-1212"
    assert c.default_address is not None
    assert c.default_address.phone == "011 4862-0000"
    assert c.default_address.line1 == "Av. Corrientes 3456"
    assert c.default_address.line2 == "4B, Almagro"
    assert c.extra["identification"] == "27345678"
    assert c.extra["custom_fields"] == {"talle": "M"}
    assert c.accepts_marketing is None  # not in the customer resource: unknown, not False
    assert c.tags == ()
    assert c.company is None
    assert not c.is_guest
    assert c.raw is CUSTOMER
    # The billing phone is kept in the addresses (and in raw for the rules' chain).
    assert [a.phone for a in c.addresses] == ["+54 9 351 555-0101"]


def test_offset_with_and_without_colon_both_parse() -> None:
    c = parse_customer(CUSTOMER)
    assert c.created_at == dt.datetime(2023, 4, 7, 12, 11, 51, tzinfo=UTC)
    assert c.updated_at == dt.datetime(2024, 2, 8, 14, 11, 51, tzinfo=UTC)
    assert c.connection_id == "tiendanube"  # customers do not carry their store id


def test_order_fields_completed_at_object_and_numeric_strings() -> None:
    o = parse_order(ORDER, order_url_template="https://loja.test/admin/v2/orders/{id}")
    assert o.connection_id == "tiendanube:998877"
    assert o.order_number == "1452"
    assert o.status is OrderStatus.PAID
    assert o.raw_status == "open"
    assert o.raw_fulfillment_status == "unpacked"
    assert o.extra["payment_status"] == "paid"
    assert o.total.amount == Decimal("289.40")
    assert o.total.currency == "BRL"
    assert o.discount_total is not None
    assert o.discount_total.amount == Decimal("36.50")
    assert o.discount_codes == ("VOLTA30",)
    assert o.shipping_method == "Sedex"
    assert o.shipping_total is not None
    assert o.shipping_total.amount == Decimal("25.90")
    assert o.order_url == "https://loja.test/admin/v2/orders/771001"
    assert o.extra["completed_at"] == "2024-03-02T15:04:05+00:00"
    line = o.lines[0]
    assert (line.quantity, line.variant_id, line.product_id) == (2, "654", "321")
    assert line.unit_price.amount == Decimal("150.00")
    assert line.image_url == "https://cdn.test/cam.jpg"
    assert o.customer is not None
    assert o.customer_external_id == "42"
    assert o.customer.accepts_marketing is True
    assert o.customer.phone == "+55 11 91234-5678"
    assert o.email == "joao@exemplo.com.br"


def test_order_integer_quantities_and_string_ids_are_equal() -> None:
    as_numbers = copy.deepcopy(ORDER)
    as_numbers["products"][0].update(quantity=2, variant_id=654)
    assert parse_order(as_numbers).lines == parse_order(ORDER).lines


def test_order_with_legacy_price_and_colon_offsets() -> None:
    legacy = copy.deepcopy(ORDER)
    del legacy["total"]
    legacy["price"] = "58.00"
    legacy["created_at"] = "2008-01-10T11:00:00-05:00"
    o = parse_order(legacy)
    assert o.total.amount == Decimal("58.00")
    assert o.created_at == dt.datetime(2008, 1, 10, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "payment", "shipping", "expected"),
    [
        ("open", "pending", "unpacked", OrderStatus.PENDING),
        ("open", "authorized", None, OrderStatus.AUTHORIZED),
        ("open", "paid", "shipped", OrderStatus.FULFILLED),
        ("closed", "paid", "shipped", OrderStatus.COMPLETED),
        ("cancelled", "voided", "unpacked", OrderStatus.CANCELLED),
        ("open", "refunded", "unpacked", OrderStatus.REFUNDED),
        ("open", "voided", None, OrderStatus.VOIDED),
        ("open", "abandoned", None, OrderStatus.INCOMPLETE),
        ("open", "partially_paid", None, OrderStatus.PARTIALLY_PAID),
        ("open", "wat", None, OrderStatus.UNKNOWN),
    ],
)
def test_order_status_mapping(
    status: str, payment: str, shipping: str | None, expected: OrderStatus
) -> None:
    assert order_status(status, payment, shipping) is expected


def test_guest_order_gets_buyer_from_contact_fields() -> None:
    guest = copy.deepcopy(ORDER)
    guest["customer"] = None
    guest.update(contact_email="guest@x.com", contact_name="Ana Lima", contact_phone="11 5555")
    o = parse_order(guest)
    assert o.customer is not None
    assert o.customer.is_guest
    assert o.customer_external_id is None
    assert o.email == "guest@x.com"
    assert (o.customer.first_name, o.customer.phone) == ("Ana", "11 5555")


def test_every_bad_field_is_reported_with_its_path() -> None:
    bad = copy.deepcopy(ORDER)
    bad["total"] = "12,34"
    bad["created_at"] = "yesterday"
    bad["products"][0]["quantity"] = "two"
    with pytest.raises(InvalidRecordError) as info:
        parse_order(bad)
    paths = {p.path for p in info.value.problems}
    assert {"$.total", "$.created_at", "$.products[0].quantity"} <= paths
    assert info.value.payload is bad
    assert info.value.record_id == "771001"


def test_cart_shopper_becomes_a_contact_then_is_updated_by_the_order() -> None:
    cart = parse_cart(CHECKOUT)
    assert cart.connection_id == "tiendanube:998877"
    assert cart.recovery_url == CHECKOUT["abandoned_checkout_url"]
    assert cart.completed_at is None
    assert cart.total.amount == Decimal("120.00")
    assert cart.customer is not None
    assert cart.customer.is_guest
    assert cart.lines[0].quantity == 2
    shopper = prepare_contact(cart)
    assert shopper.contact is not None
    assert shopper.contact.email == "maria@exemplo.com.br"
    assert shopper.contact.phone == "+5511988887777"  # contact_phone, not the shipping phone
    # Later she buys: the order's details update the same contact.
    order = copy.deepcopy(ORDER)
    order["updated_at"] = "2024-05-13T10:00:00+0000"  # after the checkout
    order["customer"] = {**order["customer"], "email": "maria@exemplo.com.br", "name": "Maria S."}
    buyer = prepare_contact(parse_order(order))
    assert buyer.contact is not None
    merged = merge_contacts([shopper.contact, buyer.contact])
    (contact,) = merged.values()
    assert contact.last_name == "S."
    assert contact.accepts_marketing is True


def test_cart_completed_at_object_form() -> None:
    converted = {
        **CHECKOUT,
        "completed_at": {"date": "2024-05-12 20:00:00.000000", "timezone": "America/Sao_Paulo"},
    }
    cart = parse_cart(converted)
    assert cart.completed_at == dt.datetime(2024, 5, 12, 23, tzinfo=UTC)


def test_product_languages_categories_variants_images() -> None:
    p = parse_product(PRODUCT, language="pt", currency="BRL")
    assert (p.name, p.category, p.description) == ("Camiseta", "Roupas", "<p>Algodão</p>")
    assert p.extra["name_translations"] == PRODUCT["name"]
    assert p.sku == "CAM-AZ"
    assert p.price is not None
    assert p.price.amount == Decimal("150.00")
    assert p.image_url == "https://cdn.test/a.jpg"  # lowest position first
    assert [v.name for v in p.variants] == ["Azul", "Rojo"]
    assert p.variants[1].image_url == "https://cdn.test/b.jpg"
    assert p.extra["tags"] == ("verano", "algodón")
    es = parse_product(PRODUCT, language="es")
    assert (es.name, es.category, es.price) == ("Remera", "Ropa", None)
    assert es.extra["price"] == "150.00"
    # An empty translation falls back (en description is empty).
    assert parse_product(PRODUCT, language="en", currency="BRL").description == "<p>Algodón</p>"


@pytest.mark.parametrize("values", [5, "Azul", {"es": "Azul"}])
def test_variant_values_that_are_not_a_list_are_a_field_problem(values: object) -> None:
    # Fuzzing found iteration over an int (TypeError) and over a string's characters.
    product = copy.deepcopy(PRODUCT)
    product["variants"][0]["values"] = values
    with pytest.raises(InvalidRecordError) as info:
        parse_product(product, language="es", currency="BRL")
    assert [p.path for p in info.value.problems] == ["$.variants[0].values"]


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("total", "-120.00", "$.total"),
        ("total", "1e30", "$.total"),
        ("total", "NaN", "$.total"),
        ("subtotal", "-1", "$.subtotal"),
        ("discount_coupon", "-10.00", "$.discount_coupon"),
    ],
)
def test_negative_or_unbounded_checkout_amounts_are_field_problems(
    field: str, value: str, path: str
) -> None:
    with pytest.raises(InvalidRecordError) as info:
        parse_cart({**CHECKOUT, field: value})
    assert [p.path for p in info.value.problems] == [path]


@pytest.mark.parametrize(
    ("changes", "path"),
    [({"price": ""}, "$.price"), ({"total": ""}, "$.total"), ({"price": None}, "$.total")],
)
def test_an_empty_total_or_legacy_price_is_a_field_problem(
    changes: dict[str, Any], path: str
) -> None:
    # Fuzzing found "price": "" (no "total") reaching an assert: the order had no total
    # and no problem was recorded.
    legacy = {k: v for k, v in ORDER.items() if k != "total"}
    with pytest.raises(InvalidRecordError) as info:
        parse_order({**legacy, **changes})
    assert [p.path for p in info.value.problems] == [path]


def test_negative_product_quantities_are_field_problems() -> None:
    checkout = copy.deepcopy(CHECKOUT)
    checkout["products"][0]["quantity"] = -2
    with pytest.raises(InvalidRecordError) as info:
        parse_cart(checkout)
    assert [p.path for p in info.value.problems] == ["$.products[0].quantity"]


def test_discounts_are_summed_exactly() -> None:
    cart = parse_cart({**CHECKOUT, "discount": "1.10", "discount_coupon": "2.20"})
    assert cart.extra["discount_total"].amount == Decimal("3.30")


def test_localized_regional_keys_and_bad_shapes() -> None:
    assert localized({"pt_BR": "Bola"}, "pt") == "Bola"
    assert localized(None) is None
    assert localized({"es": ""}) is None
    with pytest.raises(InvalidRecordError) as info:
        parse_product({**PRODUCT, "name": ["not", "a", "name"]})
    assert info.value.problems[0].path == "$.name"
