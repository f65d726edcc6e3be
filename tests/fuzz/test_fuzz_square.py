"""Fuzz Square's public parsers from Square's own examples (``official-examples/square``)."""

from __future__ import annotations

from typing import Any

from fuzz_kit import example, fuzz_suite

from commerce_connectors.models import Customer, Order, Payment, Product
from commerce_connectors.platforms.square import (
    SquareLocation,
    catalog_refs,
    parse_customer,
    parse_location,
    parse_order,
    parse_payment,
    parse_product,
)


def _seeds() -> dict[str, list[dict[str, Any]]]:
    ex = lambda name: example("square", name)  # noqa: E731
    payments = ex("list_payments_response.json")["payments"]
    orders = [*ex("batch_retrieve_orders_response.json")["orders"]]
    for order in orders:
        # The BatchRetrieveOrders example leaves out the read-only timestamps every real
        # order has; give it RetrieveOrder's so the seed is a valid record to mutate.
        order.setdefault("created_at", "2020-05-18T16:30:49.614Z")
        order.setdefault("updated_at", "2020-05-18T16:30:49.614Z")
    orders.append(ex("retrieve_order_response.json")["order"])
    items = ex("search_catalog_objects_response.json")["objects"]
    items += ex("search_catalog_items_response.json")["items"]
    related = ex("list_catalog_response.json")["objects"]
    return {
        "customer": [
            {"payload": c}
            for c in (
                *ex("list_customers_response.json")["customers"],
                *ex("search_customers_response.json")["customers"],
                ex("retrieve_customer_response.json")["customer"],
            )
        ],
        "payment": [
            {"payload": p, "order": orders[0]}
            for p in (*payments, ex("get_payment_response.json")["payment"])
        ],
        "order": [{"payload": o, "payments": payments} for o in orders],
        "product": [{"payload": item, "related": related} for item in items],
        "location": [{"payload": loc} for loc in ex("list_locations_response.json")["locations"]],
    }


SEEDS = _seeds()
CATALOG = catalog_refs(
    example("square", "search_catalog_objects_response.json")["objects"],
    example("square", "list_catalog_response.json")["objects"],
)

PARSERS: dict[str, tuple[Any, type]] = {
    "customer": (lambda b: parse_customer(b["payload"]), Customer),
    "payment": (lambda b: parse_payment(b["payload"], b["order"]), Payment),
    "order": (
        lambda b: parse_order(b["payload"], b["payments"], catalog=CATALOG, store_name="Shop"),
        Order,
    ),
    "product": (lambda b: parse_product(b["payload"], b["related"]), Product),
    "location": (lambda b: parse_location(b["payload"]), SquareLocation),
}


test_every_seed_is_a_valid_record, test_fuzz_public_parsers = fuzz_suite(SEEDS, PARSERS)
