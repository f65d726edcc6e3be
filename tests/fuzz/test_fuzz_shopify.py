"""Fuzz Shopify's public parsers: the REST/webhook shape and the GraphQL node mappers.

The REST seeds are Shopify's own examples (``official-examples/shopify``). The GraphQL
seeds are the same records as the simulator serves them to the connector's own queries
(``ORDERS_QUERY`` & co.), so both shapes start from the published data.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fuzz_kit import FUZZ, bundle_keys, check_outcome, example, mutated
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.models import Cart, Customer, Order, Product
from commerce_connectors.platforms.shopify import (
    ParseOptions,
    constants,
    parse_cart,
    parse_checkout_node,
    parse_customer,
    parse_customer_node,
    parse_order,
    parse_order_node,
    parse_product,
    parse_product_node,
)
from commerce_connectors.platforms.shopify import graphql as gql
from commerce_connectors.testing.simulators.shopify import ShopifySimulator

SHOP = "acme.myshopify.com"
OPTIONS = st.sampled_from([ParseOptions(), ParseOptions(money="presentment")])


def _rest() -> dict[str, list[Any]]:
    ex = lambda name: example("shopify", name)  # noqa: E731
    return {
        "customer": [
            *ex("customers_list.json")["customers"],
            *ex("customers_search.json")["customers"],
            ex("customer_get.json")["customer"],
        ],
        "order": [
            *ex("orders_list.json")["orders"],
            *ex("orders_list_updated_at_min.json")["orders"],
            ex("order_get.json")["order"],
        ],
        "product": [*ex("products_list.json")["products"], ex("product_get.json")["product"]],
        "cart": ex("abandoned_checkouts_list.json")["checkouts"],
    }


def _graphql(rest: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The REST examples as GraphQL nodes, answered by the simulator to the real queries."""
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, shop=SHOP)
    for kind, store, add in (
        ("customer", "customers", sim.add_customer),
        ("order", "orders", sim.add_order),
        ("product", "products", sim.add_product),
        ("cart", "checkouts", sim.add_checkout),
    ):
        for payload in rest[kind]:
            if sim.stores[store].get(int(payload["id"])) is None:  # the examples repeat
                add(payload)
    nodes: dict[str, list[Any]] = {}
    with httpx.Client(transport=sim.transport(), base_url=f"https://{SHOP}") as client:
        for kind, field, query, extra in (
            ("customer", "customers", gql.CUSTOMERS_QUERY, {}),
            ("order", "orders", gql.ORDERS_QUERY, {"lines": 5}),
            ("product", "products", gql.PRODUCTS_QUERY, {"variants": 10}),
            ("cart", "abandonedCheckouts", gql.CHECKOUTS_QUERY, {"lines": 5}),
        ):
            answer = client.post(
                f"/admin/api/{constants.API_VERSION}/graphql.json",
                json={"query": query, "variables": {"first": 5, **extra}},
                headers={"X-Shopify-Access-Token": sim.token},
            ).json()
            assert "errors" not in answer, answer
            nodes[kind] = answer["data"][field]["nodes"]
            assert nodes[kind], kind
    return nodes


REST = _rest()
NODES = _graphql(REST)
SEEDS = {
    **{f"rest-{kind}": [{"payload": p} for p in payloads] for kind, payloads in REST.items()},
    **{f"node-{kind}": [{"payload": n} for n in nodes] for kind, nodes in NODES.items()},
}
KEYS = bundle_keys(*(seed for seeds in SEEDS.values() for seed in seeds))


def _parse(kind: str, options: ParseOptions = ParseOptions()) -> Any:  # noqa: B008
    return {
        "rest-customer": lambda b: parse_customer(b["payload"], shop=SHOP),
        "rest-order": lambda b: parse_order(b["payload"], shop=SHOP, options=options),
        "rest-product": lambda b: parse_product(b["payload"], currency="USD", shop=SHOP),
        "rest-cart": lambda b: parse_cart(b["payload"], shop=SHOP, options=options),
        "node-customer": lambda b: parse_customer_node(b["payload"], shop=SHOP),
        "node-order": lambda b: parse_order_node(b["payload"], shop=SHOP, options=options),
        "node-product": lambda b: parse_product_node(b["payload"], currency="USD", shop=SHOP),
        "node-cart": lambda b: parse_checkout_node(b["payload"], shop=SHOP, options=options),
    }[kind]


TYPES = {"customer": Customer, "order": Order, "product": Product, "cart": Cart}


def _fuzz(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(SEEDS[kind]).flatmap(lambda seed: mutated(seed, KEYS))


@pytest.mark.parametrize(
    ("kind", "seed"), [(kind, seed) for kind, seeds in SEEDS.items() for seed in seeds]
)
def test_every_seed_is_a_valid_record(kind: str, seed: dict[str, Any]) -> None:
    record_type = TYPES[kind.split("-")[1]]
    assert check_outcome(_parse(kind), seed, record_type) is not None


@FUZZ
@given(_fuzz("rest-customer"))
def test_fuzz_parse_customer(bundle: dict[str, Any]) -> None:
    check_outcome(_parse("rest-customer"), bundle, Customer)


@FUZZ
@given(_fuzz("rest-order"), OPTIONS)
def test_fuzz_parse_order(bundle: dict[str, Any], options: ParseOptions) -> None:
    check_outcome(_parse("rest-order", options), bundle, Order)


@FUZZ
@given(_fuzz("rest-product"))
def test_fuzz_parse_product(bundle: dict[str, Any]) -> None:
    check_outcome(_parse("rest-product"), bundle, Product)


@FUZZ
@given(_fuzz("rest-cart"), OPTIONS)
def test_fuzz_parse_cart(bundle: dict[str, Any], options: ParseOptions) -> None:
    check_outcome(_parse("rest-cart", options), bundle, Cart)


@FUZZ
@given(_fuzz("node-customer"))
def test_fuzz_parse_customer_node(bundle: dict[str, Any]) -> None:
    check_outcome(_parse("node-customer"), bundle, Customer)


@FUZZ
@given(_fuzz("node-order"), OPTIONS)
def test_fuzz_parse_order_node(bundle: dict[str, Any], options: ParseOptions) -> None:
    check_outcome(_parse("node-order", options), bundle, Order)


@FUZZ
@given(_fuzz("node-product"))
def test_fuzz_parse_product_node(bundle: dict[str, Any]) -> None:
    check_outcome(_parse("node-product"), bundle, Product)


@FUZZ
@given(_fuzz("node-cart"), OPTIONS)
def test_fuzz_parse_checkout_node(bundle: dict[str, Any], options: ParseOptions) -> None:
    check_outcome(_parse("node-cart", options), bundle, Cart)
