"""Shared pieces of the bulk-operation tests: a store with long records, readers, the schema."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from shopify_fixtures import rest_checkout, rest_customer, rest_order, rest_product

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.shopify import ShopifyConnector
from commerce_connectors.testing.simulators.shopify import ShopifySimulator

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SCHEMA = SHARED / "official-specs" / "shopify" / "admin_schema_2025-10.graphql"
WALL = dt.datetime(2024, 10, 2, tzinfo=dt.timezone.utc)
KINDS = ("customers", "orders", "products", "carts")

#: Ids of the long records added to the generated store (far from the generated ids).
LONG_ORDER, GUEST_ORDER, LONG_PRODUCT, LONG_CHECKOUT, ODD_CUSTOMER = (
    990000001,
    990000002,
    990000003,
    990000004,
    990000005,
)


@functools.lru_cache(maxsize=1)
def official_schema() -> GraphQLSchema:
    """The published Admin schema (2025-10); ``assume_valid`` as in the webhook tests."""
    return build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid=True)


def request_problems(body: Mapping[str, Any] | None) -> list[str]:
    """Why the published schema would refuse one GraphQL request body (``[]``: it would not)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        return ["no GraphQL query in the body"]
    document = parse(body["query"])
    problems = [e.message for e in validate(official_schema(), document)]
    if problems:
        return problems
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    coerced = get_variable_values(
        official_schema(), operations[0].variable_definitions or (), body.get("variables") or {}
    )
    return [e.message for e in coerced] if isinstance(coerced, list) else []


def leaf_paths(document: DocumentNode) -> set[str]:
    """Every leaf field path a query reads, fragments expanded, connection wrappers folded.

    ``lineItems { edges { node { sku } } }`` and ``lineItems(first: $n) { nodes { sku } }``
    both give ``….lineItems.sku``; ``pageInfo`` is paging, not data, and is left out.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    paths: set[str] = set()

    def walk(selections: SelectionSetNode | None, prefix: str) -> None:
        for sel in selections.selections if selections else ():
            if isinstance(sel, FragmentSpreadNode):
                walk(fragments[sel.name.value].selection_set, prefix)
            elif isinstance(sel, InlineFragmentNode):
                walk(sel.selection_set, prefix)
            elif isinstance(sel, FieldNode):
                name = sel.name.value
                if name == "pageInfo":
                    continue
                if name in ("edges", "node", "nodes"):
                    walk(sel.selection_set, prefix)
                elif sel.selection_set is None:
                    paths.add(f"{prefix}.{name}")
                else:
                    walk(sel.selection_set, f"{prefix}.{name}")

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(definition.selection_set, "")
    return paths


def long_store(**kwargs: Any) -> tuple[ShopifySimulator, FakeClock]:
    """A generated store plus records longer than a page of children, a guest and U+2028."""
    clock = FakeClock(wall_start=WALL)
    options: dict[str, Any] = {
        "seed": 9, "customers": 60, "orders": 200, "products": 25, "checkouts": 40,
    }  # fmt: skip
    options.update(kwargs)
    sim = ShopifySimulator(clock=clock, **options)
    product = rest_product(
        id=LONG_PRODUCT,
        title="Lampe\u2028Berger",  # a line separator inside a JSON string is not a new row
        variants=[
            {"id": 808951000 + k, "title": f"Teinte {k}", "sku": f"LB-{k:02d}", "price": "49.90"}
            for k in range(12)
        ],
    )
    sim.add_product(product)
    lines = [
        {"id": 466158000 + k, "product_id": LONG_PRODUCT, "variant_id": 808951000 + k % 12,
         "title": "Lampe Berger", "name": f"Lampe Berger - {k}", "sku": f"LB-{k % 12:02d}",
         "quantity": 1 + k % 3, "price": "49.90"}
        for k in range(23)
    ]  # fmt: skip
    sim.add_order(rest_order(id=LONG_ORDER, line_items=lines))
    sim.add_order(rest_order(id=GUEST_ORDER, name="#9002", customer=None, line_items=lines[:2]))
    sim.add_checkout(rest_checkout(id=LONG_CHECKOUT, line_items=lines[:14]))
    sim.add_customer(rest_customer(id=ODD_CUSTOMER, first_name="Zoë\u2028", tags="a, b"))
    return sim, clock


def connect(sim: ShopifySimulator, clock: FakeClock, **kwargs: Any) -> ShopifyConnector:
    """A connector on ``sim`` in-process, sharing its fake clock."""
    return ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=sim.transport(),
                            clock=clock, **kwargs)  # fmt: skip


def read_all(conn: ShopifyConnector, since: dt.datetime | None = None) -> dict[str, list[Any]]:
    """Every stream's records, sorted by id (the order of a bulk file is not the pages')."""
    with conn:
        found = {
            "customers": list(conn.iter_customers(since)),
            "orders": list(conn.iter_orders(since)),
            "products": list(conn.iter_products(since)),
            "carts": list(conn.iter_abandoned_carts(since)),
        }
    return {k: sorted(v, key=lambda r: int(r.external_id)) for k, v in found.items()}


def truth(sim: ShopifySimulator) -> dict[str, list[str]]:
    """The ids each stream must yield, sorted."""
    stores = {"customers": "customers", "orders": "orders", "products": "products",
              "carts": "checkouts"}  # fmt: skip
    return {k: sorted(str(r.id) for r in sim.stores[s].query()) for k, s in stores.items()}


def logged(sim: ShopifySimulator, needle: str) -> list[Any]:
    """Logged GraphQL requests whose document contains ``needle``."""
    return [e for e in sim.log if e.json and needle in str(e.json.get("query", ""))]
