"""Fuzz Tiendanube's public parsers from Tiendanube's own examples."""

from __future__ import annotations

from typing import Any

from fuzz_kit import example, fuzz_suite

from commerce_connectors.models import Cart, Customer, Order, Product
from commerce_connectors.platforms.tiendanube import (
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)


def _seeds() -> dict[str, list[dict[str, Any]]]:
    ex = lambda name: example("tiendanube", name)  # noqa: E731
    return {
        "customer": [{"payload": c} for c in (*ex("customers_list.json"), ex("customer_get.json"))],
        "order": [{"payload": o} for o in (*ex("orders_list.json"), ex("order_get.json"))],
        "product": [{"payload": p} for p in (*ex("products_list.json"), ex("product_get.json"))],
        "cart": [{"payload": c} for c in (*ex("checkouts_list.json"), ex("checkout_get.json"))],
    }


SEEDS = _seeds()

PARSERS: dict[str, tuple[Any, type]] = {
    "customer": (lambda b: parse_customer(b["payload"], connection_id="tiendanube:1"), Customer),
    "order": (
        lambda b: parse_order(
            b["payload"], order_url_template="https://s.test/admin/orders/{id}", store_name="S"
        ),
        Order,
    ),
    "product": (
        lambda b: parse_product(b["payload"], language="es", currency="BRL"),
        Product,
    ),
    "cart": (lambda b: parse_cart(b["payload"], store_name="S"), Cart),
}


test_every_seed_is_a_valid_record, test_fuzz_public_parsers = fuzz_suite(SEEDS, PARSERS)
