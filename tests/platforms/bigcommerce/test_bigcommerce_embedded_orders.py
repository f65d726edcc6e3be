"""Orders with their lines inside the list page (``include=consignments.line_items``).

The embedded path must give exactly the orders the sub-request path gives (one per
order for lines, shipping addresses and coupons), on a store whose orders have every
kind of consignment the reference shows: shipping (one address or several), pickup,
downloads and gift certificates. It must also cost about one request per page of
orders, stay inside the window quota, and fall back to the sub-requests for an order
whose page does not answer for all of its lines or addresses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest

from commerce_connectors.models import Order
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulator import StoredRecord
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
    fixed_windows,
)

ORDERS_ROUTE = "/stores/{store_hash}/v2/orders"
SUB_ROUTES_COUPONS = "/stores/{store_hash}/v2/orders/{order_id}/coupons"
SUB_ROUTES = {
    "/stores/{store_hash}/v2/orders/{order_id}/products",
    "/stores/{store_hash}/v2/orders/{order_id}/shipping_addresses",
    "/stores/{store_hash}/v2/orders/{order_id}/coupons",
}


def connect(
    sim: BigCommerceSimulator,
    clock: ConcurrentFakeClock,
    transport: httpx.BaseTransport | None = None,
    **kwargs: Any,
) -> BigCommerceConnector:
    return BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=transport if transport is not None else sim.transport(),
        clock=clock,
        **kwargs,
    )


def read(sim: BigCommerceSimulator, clock: ConcurrentFakeClock, **kwargs: Any) -> dict[str, Order]:
    with connect(sim, clock, **kwargs) as conn:
        return {o.external_id: o for o in conn.iter_orders()}


def assert_same_orders(
    sim: BigCommerceSimulator, embedded: dict[str, Order], legacy: dict[str, Order]
) -> None:
    """Order by order, field by field (lines included), the same canonical orders."""
    assert set(embedded) == set(legacy)
    for order_id, order in legacy.items():
        got = embedded[order_id]
        if sim.order_consignments[int(order_id)]["pickups"]:
            # The one difference, on purpose: the sub-requests cannot see a pickup (it is
            # neither a product nor a shipping address); the consignments name it.
            assert got.shipping_method == "Pick Up In Store"
            assert order.shipping_method is None
            got = attrs.evolve(got, shipping_method=None)
        assert got.lines == order.lines, order_id  # line by line, in /products order
        assert got == order, order_id


def kinds(sim: BigCommerceSimulator, order_id: int) -> set[str]:
    shapes = sim.order_consignments[order_id]
    found = {kind for kind, items in shapes.items() if items}
    if len(shapes["shipping"]) > 1:
        found.add("several shipping")
    return found


@attrs.frozen
class Mixed:
    sim: BigCommerceSimulator
    clock: ConcurrentFakeClock
    notable: dict[str, int]
    legacy: dict[str, Order]  # the store read through the sub-requests


@pytest.fixture(scope="module")
def mixed() -> Mixed:
    """A store with every kind of consignment, and one order of each notable shape."""
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(
        seed=21, customers=40, orders=250, products=25, clock=clock, mixed_fulfilment=True
    )
    buyer = sim.customers.query(sort="id")[0]
    notable: dict[str, int] = {}
    for _ in range(20):  # the draw decides how many physical lines an order has
        record = sim.add_order(
            buyer=buyer, status_id=11, shipments=3, digital_items=1, gift_certificates=1
        )
        if len(sim.order_consignments[record.id]["shipping"]) >= 2:
            notable["several consignments, a download and a gift certificate"] = record.id
            break
    notable["pickup with a gift certificate"] = sim.add_order(
        buyer=buyer, status_id=8, pickup=True, gift_certificates=1
    ).id
    legacy = read(sim, clock, embed_order_lines=False)
    sim.log.reset()
    return Mixed(sim, clock, notable, legacy)


def test_the_embedded_orders_equal_the_sub_request_orders(
    mixed: Mixed,
) -> None:
    sim, clock, notable = mixed.sim, mixed.clock, mixed.notable
    assert len(notable) == 2
    several = notable["several consignments, a download and a gift certificate"]
    assert {"several shipping", "downloads", "gift_certificates"} <= kinds(sim, several)
    seen: set[str] = set()
    for record in sim.orders:
        if record.data["status_id"] != 0:
            seen |= kinds(sim, record.id)
    assert seen == {"shipping", "several shipping", "pickups", "downloads", "gift_certificates"}

    sim.log.reset()
    embedded = read(sim, clock)
    legacy = mixed.legacy
    assert set(embedded) == set(legacy) == sim.expected_order_ids()
    assert not [e for e in sim.log.entries if e.route in SUB_ROUTES - {SUB_ROUTES_COUPONS}]

    assert_same_orders(sim, embedded, legacy)
    for order_id, order in embedded.items():
        assert [line.external_id for line in order.lines] == [
            str(line["id"]) for line in sim.order_products[int(order_id)]
        ]

    order = embedded[str(several)]
    addresses = sim.order_shipping[several]
    assert order.shipping_method == ", ".join(
        dict.fromkeys(a["shipping_method"] for a in addresses)
    )
    assert {line.name for line in order.lines} >= {
        line["name"]
        for line in sim.order_products[several]
        if line["type"] in ("digital", "giftcertificate")
    }
    gift = next(line for line in order.lines if "Gift Certificate" in (line.name or ""))
    assert gift.product_id is None  # a gift certificate is no catalogue product
    assert str(gift.unit_price.amount) in {"25.0000", "50.0000", "100.0000"}


def test_a_store_without_coupons_costs_a_request_per_page_of_orders() -> None:
    # A Standard store (150 requests per 30 s), 5,000 orders, no coupon: what is left
    # per order is nothing; per page, the page. Figures per 1,000 orders.
    orders = 5000
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(
        seed=5,
        customers=600,
        orders=orders,
        products=120,
        clock=clock,
        coupon_share=0.0,
        mixed_fulfilment=True,
    )
    with connect(sim, clock, quota=150) as conn:
        got = {o.external_id for o in conn.iter_orders()}
        stats = conn.stats.snapshot()
    assert got == sim.expected_order_ids()
    log = sim.log.entries
    per_thousand = len(log) / orders * 1000
    assert per_thousand <= 10, [e.path for e in log]
    assert sim.log.count_by_status() == {200: len(log)}  # zero 429
    assert stats["rate_limited"] == stats["retries"] == 0
    assert max(fixed_windows([e.time for e in log], 30.0)) <= 148
    assert not [e for e in log if e.route in SUB_ROUTES]
    # What the requests are: the order pages, the store profile, category names, and
    # the catalogue look-ups of the ordered products (categories and images).
    assert {e.route for e in log} == {
        ORDERS_ROUTE,
        "/stores/{store_hash}/v2/store",
        "/stores/{store_hash}/v3/catalog/trees/categories",
        "/stores/{store_hash}/v3/catalog/products",
    }


def test_coupons_are_the_only_sub_request_left() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=9, customers=30, orders=300, products=20, clock=clock)
    with connect(sim, clock) as conn:
        got = {o.external_id: o for o in conn.iter_orders()}
    with_coupon = {str(r.id) for r in sim.orders if sim.order_coupons[r.id] and str(r.id) in got}
    asked = {e.path.split("/")[5] for e in sim.log.entries if e.route in SUB_ROUTES}
    assert asked == with_coupon
    for order_id in with_coupon:
        codes = tuple(c["code"] for c in sim.order_coupons[int(order_id)])
        assert got[order_id].discount_codes == codes


def _rewrite(
    sim: BigCommerceSimulator, change: Callable[[dict[str, Any]], None]
) -> httpx.MockTransport:
    """The simulator, with ``change`` applied to every order of the order list pages."""

    def handler(request: httpx.Request) -> httpx.Response:
        response = sim.handle(request)
        if request.url.path.endswith("/v2/orders") and response.status_code == 200:
            body = json.loads(response.content)
            for order in body:
                change(order)
            return httpx.Response(200, json=body, headers=response.headers)
        return response

    return httpx.MockTransport(handler)


def _first(sim: BigCommerceSimulator, test: Callable[[StoredRecord], bool]) -> StoredRecord:
    return next(r for r in sim.orders.query(sort="id") if r.data["status_id"] and test(r))


@pytest.mark.parametrize(
    "damage",
    ["a line missing", "lines as links", "a shipping address missing", "no consignments"],
)
def test_an_order_the_page_does_not_answer_for_gets_its_sub_requests(
    mixed: Mixed, damage: str
) -> None:
    sim, clock, notable = mixed.sim, mixed.clock, mixed.notable
    victim = notable["several consignments, a download and a gift certificate"]

    def change(order: dict[str, Any]) -> None:
        if order["id"] != victim:
            return
        shipping = order["consignments"]["shipping"]
        if damage == "a line missing":
            shipping[0]["line_items"].pop()
        elif damage == "lines as links":
            for line in shipping[0]["line_items"]:
                line.clear()
                line.update({"url": "https://x/products/1", "resource": "/orders/1/products/1"})
        elif damage == "a shipping address missing":
            shipping.pop()
        else:
            order["consignments"] = {"url": "https://x", "resource": "/orders/1/consignments"}

    sim.log.reset()
    damaged = read(sim, clock, transport=_rewrite(sim, change))
    subs = [e for e in sim.log.entries if e.route in SUB_ROUTES - {SUB_ROUTES_COUPONS}]
    expected = {
        "a line missing": {"products"},
        "lines as links": {"products"},
        # The consignment took its lines with it: both are fetched.
        "a shipping address missing": {"products", "shipping_addresses"},
        "no consignments": {"products", "shipping_addresses"},
    }[damage]
    assert {e.path.split("/")[-1] for e in subs} == expected
    assert {e.path.split("/")[5] for e in subs} == {str(victim)}
    assert_same_orders(sim, damaged, mixed.legacy)


def test_get_order_reads_the_consignments_with_the_order(
    mixed: Mixed,
) -> None:
    sim, clock, notable = mixed.sim, mixed.clock, mixed.notable
    order_id = notable["several consignments, a download and a gift certificate"]
    sim.log.reset()
    with connect(sim, clock) as conn:
        order = conn.get_order(order_id)
        assert order is not None
        assert len(order.lines) == len(sim.order_products[order_id])
    orders = [e for e in sim.log.entries if "/v2/orders" in e.path]
    assert orders[0].route == "/stores/{store_hash}/v2/orders/{order_id}"
    assert dict(orders[0].query) == {
        "include": "consignments.line_items",
        "consignment_structure": "object",
    }
    assert not [e for e in orders if e.route in SUB_ROUTES - {SUB_ROUTES_COUPONS}]


def test_the_simulator_serves_the_include_as_the_reference_describes() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=3, orders=30, clock=clock, mixed_fulfilment=True)
    client = httpx.Client(
        transport=sim.transport(),
        base_url=f"https://api.bigcommerce.com/stores/{sim.store_hash}",
        headers={"X-Auth-Token": sim.access_token},
    )
    plain = client.get("/v2/orders", params={"limit": 5}).json()
    assert all("consignments" not in o for o in plain)
    full = client.get(
        "/v2/orders",
        params={
            "limit": 5,
            "include": "consignments.line_items",
            "consignment_structure": "object",
        },
    ).json()
    linked = client.get(
        "/v2/orders",
        params={"limit": 5, "include": "consignments", "consignment_structure": "object"},
    ).json()
    for order, links in zip(full, linked, strict=True):
        consignments = order["consignments"]
        assert set(consignments) == {"pickups", "shipping", "downloads", "email"}
        assert set(consignments["email"]) == {"gift_certificates"}
        lines = [
            line
            for kind in ("pickups", "shipping", "downloads")
            for c in consignments[kind]
            for line in c["line_items"]
        ] + [line for c in consignments["email"]["gift_certificates"] for line in c["line_items"]]
        assert sorted(line["id"] for line in lines) == [
            line["id"] for line in sim.order_products[order["id"]]
        ]
        for kind in ("pickups", "shipping", "downloads"):
            for c in links["consignments"][kind]:
                assert all(set(item) == {"url", "resource"} for item in c["line_items"])
    one = client.get(
        f"/v2/orders/{full[0]['id']}/consignments", params={"include": "consignments.line_items"}
    ).json()
    assert one == full[0]["consignments"]
    bad = client.get("/v2/orders", params={"include": "everything"})
    assert bad.status_code == 400
    # Without consignment_structure=object the include is not honoured.
    loose = client.get("/v2/orders", params={"limit": 1, "include": "consignments"}).json()
    assert "consignments" not in loose[0]


def test_a_store_serving_fewer_orders_per_page_than_asked_loses_none() -> None:
    # Whether BigCommerce caps the page size when includes are asked is not documented
    # (v3 products serve 10 per page with some includes). A page as long as the longest
    # one served is not taken for the last.
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=2, customers=20, orders=300, products=10, clock=clock)

    def capped(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v2/orders") and request.url.params.get("limit") == "250":
            url = request.url.copy_set_param("limit", "40")  # the store serves 40 at most
            request = httpx.Request(request.method, url, headers=request.headers)
        return sim.handle(request)

    with connect(sim, clock, transport=httpx.MockTransport(capped)) as conn:
        got = {o.external_id for o in conn.iter_orders()}
    assert got == sim.expected_order_ids()
