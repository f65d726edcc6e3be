"""The connector: contract tests on cassettes, and behaviour against the simulator."""

from __future__ import annotations

import datetime as dt
import pathlib
import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
import vcr

from commerce_connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    PermissionDeniedError,
    UnsupportedStreamError,
)
from commerce_connectors.models import Money, OrderStatus
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulator import ErrorStatus, Mutate, RateLimitBurst
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

UTC = dt.timezone.utc
CASSETTES = pathlib.Path(__file__).parents[2] / "cassettes" / "bigcommerce"
TOKEN = "cassette-token-never-recorded-7f3a"
recorder = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    filter_headers=["X-Auth-Token"],
    match_on=["method", "scheme", "host", "port", "path", "query"],
)


def cassette_connector(**kwargs: Any) -> BigCommerceConnector:
    return BigCommerceConnector(
        store_hash="q8x2m4",
        access_token=TOKEN,
        clock=ConcurrentFakeClock(),
        resolve_line_categories=False,
        **kwargs,
    )


# ----------------------------------------------------------------- contract (cassettes)


def test_cassettes_hold_no_credentials() -> None:
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert TOKEN not in text
        assert "X-Auth-Token" not in text


def test_orders_contract_from_cassette() -> None:
    # The recording is of the sub-request path (orders without consignments, each with
    # its /products, /shipping_addresses and /coupons). The embedded path's fallback to
    # those sub-requests is tested in test_bigcommerce_embedded_orders.py.
    since = dt.datetime(2024, 10, 4, tzinfo=UTC)
    with (
        recorder.use_cassette("orders_incremental.yaml") as tape,
        cassette_connector(embed_order_lines=False) as conn,
    ):
        orders = list(conn.iter_orders(since=since))
        assert tape.all_played
    assert [o.external_id for o in orders] == ["7002", "7003"]
    assert conn.skipped == {"incomplete": 1}
    guest, refunded = orders
    assert guest.customer is not None
    assert guest.customer.is_guest
    assert guest.email == "inigo.pena@example.com"
    assert guest.total == Money(Decimal("40.5000"), "EUR")
    assert guest.shipping_method == "Correos Express"
    assert guest.discount_codes == ("OTONO10",)
    assert guest.lines[0].quantity == 2
    assert guest.store_name == "Tienda Rioja"
    assert refunded.status is OrderStatus.REFUNDED
    assert refunded.customer_external_id == "57"
    assert refunded.updated_at == dt.datetime(2024, 11, 20, 12, 5, 9, tzinfo=UTC)
    assert refunded.shipping_method is None  # digital order: no shipping sub-request made


def test_customers_and_cart_contract_from_cassette() -> None:
    # This cassette holds no Subscribers API answer; the consent contract, with it, is in
    # test_bigcommerce_consent.py.
    with (
        recorder.use_cassette("customers_and_cart.yaml") as tape,
        cassette_connector(read_subscribers=False) as conn,
    ):
        customers = list(conn.iter_customers())
        cart = conn.get_cart("0f1e2d3c-aaaa-bbbb-cccc-001122334455")
        gone = conn.get_cart("ffffffff-0000-0000-0000-000000000000")
        assert tape.all_played
    assert [c.external_id for c in customers] == ["57"]
    assert customers[0].addresses[0].phone == "612 34 56 78"
    assert cart is not None
    assert cart.total == Money(Decimal("40.6"), "EUR")
    assert gone is None


def test_401_and_403_are_mapped_without_leaking_the_token() -> None:
    with recorder.use_cassette("auth_errors.yaml"), cassette_connector() as conn:
        with pytest.raises(AuthenticationError) as unauthorized:
            list(conn.iter_orders())
        with pytest.raises(PermissionDeniedError) as forbidden:
            list(conn.iter_customers())
    assert unauthorized.value.status_code == 401
    assert "not authorized" in unauthorized.value.message
    assert "check the store hash" in unauthorized.value.message
    assert unauthorized.value.request_id == "req-401-abc"
    assert "Customers (store_v2_customers_read_only)" in forbidden.value.message
    for error in (unauthorized.value, forbidden.value):
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error)


# ----------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "store_hash", ["", "store-abc123", "https://store-abc.mybigcommerce.com", "abc/123", "a b"]
)
def test_store_hash_is_validated(store_hash: str) -> None:
    with pytest.raises(ConfigurationError, match="store_hash"):
        BigCommerceConnector(store_hash=store_hash, access_token=TOKEN)


def test_defaults_headers_and_repr() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"name": "S", "currency": "USD"})

    conn = BigCommerceConnector(
        store_hash="abc123", access_token=TOKEN, transport=httpx.MockTransport(handler)
    )
    with conn:
        conn.store_info()
        assert TOKEN not in repr(conn)
        assert TOKEN not in repr(conn.engine)
    request = seen[0]
    assert str(request.url) == "https://api.bigcommerce.com/stores/abc123/v2/store"
    assert request.headers["X-Auth-Token"] == TOKEN
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert "commerce-connectors" in request.headers["User-Agent"]
    assert "bigcommerce" in request.headers["User-Agent"]


def test_abandoned_carts_say_why_and_what_to_use() -> None:
    conn = BigCommerceConnector(store_hash="abc123", access_token=TOKEN)
    with conn, pytest.raises(UnsupportedStreamError) as caught:
        conn.iter_abandoned_carts()
    assert "store/cart/abandoned" in caught.value.reason
    assert "get_cart" in caught.value.reason


# ----------------------------------------------------------------- simulator behaviour


def make(
    sim: BigCommerceSimulator, clock: ConcurrentFakeClock, **kwargs: Any
) -> BigCommerceConnector:
    return BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        **kwargs,
    )


def test_incomplete_and_archived_orders() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=2, customers=10, orders=120, products=8, clock=clock)
    incomplete = {str(r.id) for r in sim.orders if r.data["status_id"] == 0}
    archived = {str(r.id) for r in sim.orders if r.data["is_deleted"]}
    assert incomplete
    assert archived
    with make(sim, clock, page_size=25) as conn:
        got = {o.external_id: o for o in conn.iter_orders()}
        assert set(got) == sim.expected_order_ids()
        assert conn.skipped["incomplete"] == len(incomplete)
        assert all(got[i].extra["is_deleted"] for i in archived - incomplete)
    with make(sim, clock, page_size=25, include_incomplete=True) as conn:
        with_incomplete = {o.external_id: o for o in conn.iter_orders()}
        assert set(with_incomplete) == {str(r.id) for r in sim.orders}
        assert {with_incomplete[i].status for i in incomplete} == {OrderStatus.INCOMPLETE}
    with make(sim, clock, page_size=25, include_archived=False) as conn:
        assert not {o.external_id for o in conn.iter_orders()} & archived
        assert conn.skipped["archived"] == len(archived - incomplete)


@pytest.mark.parametrize("empty_page", ["204", "[]"])
def test_v2_end_of_list_either_way(empty_page: Any) -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=4, orders=40, clock=clock, empty_page=empty_page)
    with make(sim, clock, page_size=10) as conn:
        assert {o.external_id for o in conn.iter_orders()} == sim.expected_order_ids()


def test_get_order_and_cart_by_id() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=6, orders=10, carts=2, clock=clock)
    first = next(iter(sim.orders))
    cart_id = next(iter(sim.carts))
    with make(sim, clock) as conn:
        order = conn.get_order(first.id)
        assert order is not None
        assert order.external_id == str(first.id)
        assert len(order.lines) == len(sim.order_products[first.id])
        assert conn.get_order(999999) is None
        cart = conn.get_cart(cart_id)
        assert cart is not None
        assert cart.external_id == cart_id


def test_429_without_headers_backs_off_progressively() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(
        seed=1, orders=5, clock=clock, quota=0, faults=[RateLimitBurst(length=3, header=None, on=1)]
    )
    with make(sim, clock) as conn:
        assert conn.store_info()["name"] == "Simulated Store"
        assert conn.stats.rate_limited == 3
    waits = clock.sleeps
    assert len(waits) == 3
    assert waits[0] < waits[1] < waits[2]
    assert waits[0] >= 0.5  # from the 1 s rate-limit base delay, jittered by up to half


# A 500 that repeats is retried at least a minute apart, gateway errors within seconds:
# test_bigcommerce_retry.py.


def test_429_with_window_headers_waits_the_reset_time() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=1, orders=5, clock=clock, quota=3, window=10.0)
    other_app = httpx.Client(transport=sim.transport(), base_url="https://api.bigcommerce.com")
    for _ in range(3):  # another app on the store spends the whole window
        other_app.get(
            f"/stores/{sim.store_hash}/v2/store", headers={"X-Auth-Token": sim.access_token}
        )
    clock.advance(4.0)
    with make(sim, clock, quota=3, safety_margin=0) as conn:
        conn.store_info()
    refused, served = sim.log.entries[-2:]
    assert refused.status == 429
    assert served.status == 200
    assert served.time - refused.time == pytest.approx(6.0)  # the window's reset, not more


def test_403_from_the_simulator_names_the_scope() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(
        seed=1,
        clock=clock,
        faults=[
            ErrorStatus(
                status=403,
                message="Missing scope",
                route="/stores/{store_hash}/v3/catalog/products",
            )
        ],
    )
    with (
        make(sim, clock, currency="USD") as conn,
        pytest.raises(PermissionDeniedError, match="Products"),
    ):
        list(conn.iter_products())


def test_records_modified_while_paging_are_not_lost() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=8, customers=10, orders=200, products=5, clock=clock)
    ordered = sim.orders.query(sort="updated_at")
    moved = [r.id for r in ordered[:8] if r.data["status_id"] != 0]  # served on page 1

    def touch(request: httpx.Request) -> None:
        for order_id in moved:
            sim.touch_order(order_id)

    sim.add_fault(Mutate(hook=touch, route="/stores/{store_hash}/v2/orders", on=2))
    with make(sim, clock, page_size=25) as conn:
        got = {o.external_id: o for o in conn.iter_orders()}
    assert set(got) == sim.expected_order_ids()
    for order_id in moved:  # seen again with the newer version
        assert got[str(order_id)].updated_at == sim.orders.get(order_id).updated_at  # type: ignore[union-attr]


def test_plain_page_numbers_would_skip_an_order() -> None:
    # The hazard the seek walk avoids: the same mutation under page=N paging loses one.
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=8, customers=10, orders=60, products=5, clock=clock)
    first = sim.orders.query(sort="updated_at")[0].id
    client = httpx.Client(transport=sim.transport(), base_url="https://api.bigcommerce.com")
    seen: set[int] = set()
    for page in (1, 2, 3):
        if page == 2:
            sim.touch_order(first)
        response = client.get(
            f"/stores/{sim.store_hash}/v2/orders",
            params={"sort": "date_modified:asc", "limit": 20, "page": page},
            headers={"X-Auth-Token": sim.access_token},
        )
        seen |= {o["id"] for o in response.json()}
    assert len({r.id for r in sim.orders} - seen) == 1


def test_sub_requests_really_run_concurrently() -> None:
    # Four sub-requests must be in flight at once for the barrier to open; run one by
    # one, the first would wait alone until the barrier's timeout and the test fails.
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=3, customers=5, orders=30, products=5, clock=clock)
    barrier = threading.Barrier(4, timeout=10)
    entered = iter(range(4))
    crossed: list[int] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:  # exactly the first four sub-requests meet at the barrier
            first_four = "/v2/orders/" in request.url.path and next(entered, None) is not None
        if first_four:
            crossed.append(barrier.wait())
        return sim.handle(request)

    with BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=httpx.MockTransport(handler),
        clock=clock,
        concurrency=4,
        embed_order_lines=False,  # several sub-requests per order, to overlap
    ) as conn:
        assert {o.external_id for o in conn.iter_orders()} == sim.expected_order_ids()
    assert sorted(crossed) == [0, 1, 2, 3]
