"""Category names from the category trees, every storefront's.

``GET /v3/catalog/categories`` is deprecated; it works "with categories of a default
BigCommerce storefront (`channel_id=1`)" (categories_catalog.v3.yml), so on a
multi-storefront store the categories of the other storefronts' trees had no name. The
connector reads ``GET /v3/catalog/trees/categories`` (category-trees_catalog.v3.yml:
"Use catalog trees categories endpoints, instead of categories (deprecated)"), which
lists the categories of every tree.
"""

from __future__ import annotations

import httpx

from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

TREES = "/stores/{store_hash}/v3/catalog/trees/categories"


def test_products_and_order_lines_name_the_categories_of_every_storefront() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=4, customers=10, orders=60, products=20, clock=clock)
    second = {cid for cid, tree in sim.category_tree.items() if tree == 2}
    in_second = [p for p in sim.products if set(p.data["categories"]) & second]
    assert in_second  # the simulated store has a second storefront with its own tree
    with BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        currency="USD",
    ) as conn:
        products = {p.external_id: p for p in conn.iter_products()}
        orders = list(conn.iter_orders())
    for record in sim.products:
        names = [sim.categories[c] for c in record.data["categories"]]
        assert products[str(record.id)].category == ", ".join(names)
    lines = [line for o in orders for line in o.lines if line.product_id]
    for line in lines:
        product = sim.products.get(int(line.product_id or 0))
        assert product is not None
        assert line.category == ", ".join(sim.categories[c] for c in product.data["categories"])
    outlet = {sim.categories[c] for c in second}
    assert any(outlet & set((line.category or "").split(", ")) for line in lines)
    routes = [e.route for e in sim.log.entries]
    assert routes.count(TREES) == 2  # once per pass (products, then orders)
    assert "/stores/{store_hash}/v3/catalog/categories" not in routes
    trees = [e for e in sim.log.entries if e.route == TREES]
    assert dict(trees[0].query) == {"include_fields": "category_id,name", "limit": "250"}


def test_the_deprecated_listing_only_knows_the_default_storefront() -> None:
    # What the connector read before: the second tree's categories were missing.
    sim = BigCommerceSimulator(seed=4, customers=1, orders=0, products=5, quota=0)
    client = httpx.Client(
        transport=sim.transport(),
        base_url=f"https://api.bigcommerce.com/stores/{sim.store_hash}/v3/catalog",
        headers={"X-Auth-Token": sim.access_token},
    )
    old = {c["id"] for c in client.get("/categories", params={"limit": 250}).json()["data"]}
    every = client.get("/trees/categories", params={"limit": 250}).json()["data"]
    assert old == {cid for cid, tree in sim.category_tree.items() if tree == 1}
    assert {c["category_id"] for c in every} == set(sim.categories)
    assert {c["tree_id"] for c in every} == {1, 2}
    two = client.get("/trees/categories", params={"tree_id:in": "2", "include_fields": "name"})
    assert {tuple(sorted(c)) for c in two.json()["data"]} == {("category_id", "name")}
    trees = client.get("/trees").json()["data"]
    assert [(t["id"], t["channels"]) for t in trees] == [(1, [1]), (2, [2])]
