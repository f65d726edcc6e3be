"""Fuzz BigCommerce's public parsers from BigCommerce's own examples.

The v2 order is fuzzed together with its sub-resources (products, shipping addresses,
coupons: ``official-examples/bigcommerce/v2_order_*_list.json``), whose problems are
reported with paths such as ``$products[1].price_inc_tax``.
"""

from __future__ import annotations

from typing import Any

from fuzz_kit import example, fuzz_suite

from commerce_connectors.models import Cart, Customer, Order, Product
from commerce_connectors.platforms.bigcommerce import (
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)


def _seeds() -> dict[str, list[dict[str, Any]]]:
    ex = lambda name: example("bigcommerce", name)  # noqa: E731
    subresources = {
        "products": ex("v2_order_products_list.json"),
        "shipping_addresses": ex("v2_order_shipping_addresses_list.json"),
        "coupons": ex("v2_order_coupons_list.json"),
    }
    orders = [*ex("v2_orders_list.json"), ex("v2_order_get.json")]
    customers = ex("v3_customers_list.json")["data"]
    for number, customer in enumerate(customers, start=1):
        # The schema example leaves out the read-only id and dates every stored customer
        # has; give them so the seed is a valid record to mutate.
        customer.setdefault("id", number)
        customer.setdefault("date_created", "2018-08-15T14:48:46+00:00")
        customer.setdefault("date_modified", "2018-09-05T20:42:07+00:00")
    return {
        "customer": [{"payload": c} for c in customers],
        "order": [{"payload": o, **subresources} for o in orders],
        "product": [{"payload": ex("v3_catalog_product_get.json")["data"]}],
        "cart": [{"payload": ex("v3_cart_response.json")["data"]}],
    }


SEEDS = _seeds()
CATEGORIES = {
    str(c["id"]): c["name"]
    for c in example("bigcommerce", "v3_catalog_categories_list.json")["data"]
}

PARSERS: dict[str, tuple[Any, type]] = {
    "customer": (lambda b: parse_customer(b["payload"], connection_id="bigcommerce:s"), Customer),
    "order": (
        lambda b: parse_order(
            b["payload"],
            products=b["products"],
            shipping_addresses=b["shipping_addresses"],
            coupons=b["coupons"],
            store_name="Store",
        ),
        Order,
    ),
    "product": (
        lambda b: parse_product(
            b["payload"], currency="USD", categories=CATEGORIES, store_url="https://s.test"
        ),
        Product,
    ),
    "cart": (lambda b: parse_cart(b["payload"], store_name="Store"), Cart),
}


test_every_seed_is_a_valid_record, test_fuzz_public_parsers = fuzz_suite(SEEDS, PARSERS)
