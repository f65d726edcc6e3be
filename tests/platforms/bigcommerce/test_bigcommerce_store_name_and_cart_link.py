"""The store's name on carts, and the order → cart link (``cart_id``), on BigCommerce.

The official example order and webhook bodies are read where they lie (``../shared``
beside the project), never copied.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.models import Cart, Order
from commerce_connectors.platforms.bigcommerce import (
    BigCommerceConnector,
    parse_cart,
    parse_order,
)
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)
from commerce_connectors.webhooks import parse_event

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
EXAMPLES = SHARED / "official-examples" / "bigcommerce"
RECEIVED = dt.datetime(2024, 10, 1, tzinfo=dt.timezone.utc)
STORE = "Simulated Store"  # the simulator's GET /v2/store name


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_bytes())


def world() -> tuple[BigCommerceSimulator, BigCommerceConnector]:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=5, customers=4, orders=3, products=4, carts=2, clock=clock)
    conn = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        concurrency=1,
    )
    return sim, conn


def delivery(name: str, store_hash: str, **data: Any) -> Any:
    """An official example callback body, addressed to this store, with ``data`` changed."""
    body = copy.deepcopy(example(name))
    body["producer"] = f"stores/{store_hash}"
    body["data"].update(data)
    return parse_event("bigcommerce", {}, json.dumps(body).encode(), received_at=RECEIVED)


def store_reads(sim: BigCommerceSimulator) -> int:
    return sum(1 for e in sim.log.entries if e.path.endswith("/v2/store"))


# -- the order → cart link ---------------------------------------------------------------


def test_the_official_example_order_keeps_its_cart_id() -> None:
    # official-examples/bigcommerce/v2_order_get.json:
    # "cart_id": "7e48f7ef-2e88-4817-aea4-b0ed01490114"
    payload = example("v2_order_get.json")
    order = parse_order(payload, connection_id="bigcommerce:abc")
    assert order.extra["cart_id"] == "7e48f7ef-2e88-4817-aea4-b0ed01490114"


def test_cart_ids_are_strings_and_absent_when_not_given() -> None:
    payload = example("v2_order_get.json")
    assert "cart_id" not in parse_order({**payload, "cart_id": None}).extra
    assert "cart_id" not in parse_order({**payload, "cart_id": ""}).extra
    assert "cart_id" not in parse_order({k: v for k, v in payload.items() if k != "cart_id"}).extra


def test_a_cart_id_that_is_not_an_id_is_reported_with_its_path() -> None:
    payload = example("v2_order_get.json")
    with pytest.raises(InvalidRecordError) as caught:
        parse_order({**payload, "cart_id": {"id": "x"}})
    assert "$.cart_id" in {p.path for p in caught.value.problems}


def test_the_order_a_cart_becomes_names_the_cart_external_id() -> None:
    # The id space: the v3 cart id (a UUID, carts.v3.yml Cart_Full.id) is what the
    # order keeps in cart_id ("Correlates with the Cart API", orders.v2.oas2.yml).
    sim, conn = world()
    cart_id = next(iter(sim.carts))
    with conn:
        cart = conn.get_cart(cart_id)
        assert cart is not None
        order_record = sim.convert_cart(cart_id)
        records = conn.records_for_event(
            delivery(
                "webhook_store_cart_converted.json",
                sim.store_hash,
                id=cart_id,
                orderId=int(order_record.id),
            )
        )
    (order,) = records
    assert isinstance(order, Order)
    assert order.external_id == str(order_record.id)
    assert order.extra["cart_id"] == cart.external_id == cart_id


# -- the store's name on carts -------------------------------------------------------------


def test_an_abandoned_cart_event_gives_the_cart_with_the_store_name() -> None:
    sim, conn = world()
    cart_id = next(iter(sim.carts))
    with conn:
        (cart,) = conn.records_for_event(
            delivery("webhook_store_cart_abandoned.json", sim.store_hash, id=cart_id)
        )
        again = conn.records_for_event(
            delivery("webhook_store_cart_abandoned.json", sim.store_hash, id=cart_id)
        )
    assert isinstance(cart, Cart)
    assert cart.store_name == STORE
    assert again == [cart]
    assert store_reads(sim) == 1  # read once per connector


def test_get_cart_sends_no_request_for_the_store_name() -> None:
    sim, conn = world()
    cart_id = next(iter(sim.carts))
    with conn:
        before = conn.get_cart(cart_id)
        assert store_reads(sim) == 0
        orders = list(conn.iter_orders())  # reads the store profile, once
        after = conn.get_cart(cart_id)
    assert before is not None
    assert after is not None
    assert before.store_name is None
    assert after.store_name == STORE
    assert {o.store_name for o in orders} == {STORE}
    assert store_reads(sim) == 1


def test_parse_cart_copies_the_store_name_only_when_given() -> None:
    payload = example("v3_cart_response.json")["data"]
    assert parse_cart(payload).store_name is None
    cart = parse_cart(payload, store_name=STORE)
    assert cart.store_name == STORE
    assert cart.order_external_id is None  # a v3 cart names no order
