"""The store's name on carts, and what links an order to its checkout on Tiendanube.

The official examples and resource docs are read where they lie (``../shared`` beside
the project), never copied.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from commerce_connectors.platforms.tiendanube import parse_cart, parse_order
from commerce_connectors.testing.simulators.tiendanube import TiendanubeHarness

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
EXAMPLES = SHARED / "official-examples" / "tiendanube"
RESOURCES = SHARED / "official-specs" / "tiendanube" / "resources"
STORE = "Mi Tienda (es)"  # the simulator's GET /store name, main language


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_bytes())


def properties(resource: str, heading: str) -> set[str]:
    """The property names of one table of a resource doc (``| name | ... |`` rows)."""
    text = (RESOURCES / resource).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    names: set[str] = set()
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        match = re.match(r"^\|\s*([a-z_]+)\s*\|", line)
        if match:
            names.add(match.group(1))
    return names


def store_reads(harness: TiendanubeHarness) -> int:
    return sum(1 for e in harness.simulator.log.entries if e.path.endswith("/store"))


def test_the_published_docs_give_no_order_checkout_link() -> None:
    order = properties("order.md", "## Properties")
    checkout = properties("abandoned_checkout.md", "#### Abandoned Checkout")
    # The check can fail: it reads the tables.
    assert {"id", "token", "number"} <= order
    assert {"id", "token", "abandoned_checkout_url"} <= checkout
    assert not {"checkout_id", "cart_id"} & order
    assert "order_id" not in checkout


def test_official_orders_and_checkouts_parse_without_link_keys() -> None:
    order = parse_order(example("order_get.json"), connection_id="tiendanube:1")
    assert not {"checkout_id", "checkout_token", "cart_id"} & set(order.extra)
    cart = parse_cart(example("checkout_get.json"), connection_id="tiendanube:1")
    # promotional_discount.order_id is a draft order's id, not the checkout's order.
    assert cart.order_external_id is None


def test_the_cart_parser_copies_the_store_name_only_when_given() -> None:
    payload = example("checkout_get.json")
    assert parse_cart(payload).store_name is None
    assert parse_cart(payload, store_name=STORE).store_name == STORE


def test_carts_carry_the_store_name_the_orders_read() -> None:
    harness = TiendanubeHarness(customers=3, orders=3, products=2, checkouts=3)
    with harness.make_connector() as conn:
        orders = list(conn.iter_orders())
        carts = list(conn.iter_abandoned_carts())
    assert carts
    assert {o.store_name for o in orders} == {c.store_name for c in carts} == {STORE}
    assert store_reads(harness) == 1


def test_the_checkouts_walk_sends_no_request_for_the_store_name() -> None:
    harness = TiendanubeHarness(customers=3, orders=0, products=2, checkouts=3)
    with harness.make_connector() as conn:
        carts = list(conn.iter_abandoned_carts())
    assert carts
    assert {c.store_name for c in carts} == {None}
    assert store_reads(harness) == 0
