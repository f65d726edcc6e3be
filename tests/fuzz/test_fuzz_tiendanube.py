"""Fuzz Tiendanube's public parsers from Tiendanube's own examples."""

from __future__ import annotations

from typing import Any

import pytest
from fuzz_kit import FUZZ, bundle_keys, check_outcome, example, mutated
from hypothesis import given
from hypothesis import strategies as st

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
KEYS = bundle_keys(*(seed for seeds in SEEDS.values() for seed in seeds))

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
