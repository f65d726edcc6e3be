"""Fuzz BigCommerce's public parsers from BigCommerce's own examples.

The v2 order is fuzzed together with its sub-resources (products, shipping addresses,
coupons: ``official-examples/bigcommerce/v2_order_*_list.json``), whose problems are
reported with paths such as ``$products[1].price_inc_tax``.
"""

from __future__ import annotations

from typing import Any

import pytest
from fuzz_kit import FUZZ, bundle_keys, check_outcome, example, mutated
from hypothesis import given
from hypothesis import strategies as st

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
KEYS = bundle_keys(*(seed for seeds in SEEDS.values() for seed in seeds))
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


def _fuzz(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(SEEDS[kind]).flatmap(lambda seed: mutated(seed, KEYS))


@pytest.mark.parametrize(
    ("kind", "seed"), [(kind, seed) for kind, seeds in SEEDS.items() for seed in seeds]
)
def test_every_seed_is_a_valid_record(kind: str, seed: dict[str, Any]) -> None:
    parse, record_type = PARSERS[kind]
    assert check_outcome(parse, seed, record_type) is not None


@FUZZ
@given(_fuzz("customer"))
def test_fuzz_parse_customer(bundle: dict[str, Any]) -> None:
    check_outcome(PARSERS["customer"][0], bundle, Customer)


@FUZZ
@given(_fuzz("order"))
def test_fuzz_parse_order(bundle: dict[str, Any]) -> None:
    check_outcome(PARSERS["order"][0], bundle, Order)


@FUZZ
@given(_fuzz("product"))
def test_fuzz_parse_product(bundle: dict[str, Any]) -> None:
    check_outcome(PARSERS["product"][0], bundle, Product)


@FUZZ
@given(_fuzz("cart"))
def test_fuzz_parse_cart(bundle: dict[str, Any]) -> None:
    check_outcome(PARSERS["cart"][0], bundle, Cart)
