"""ShopifyConnector against the GraphQL simulator: paging, cost throttling, errors."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import pytest
from shopify_fixtures import rest_order, rest_product

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    NaiveDatetimeError,
    PaginationLoopError,
    PermissionDeniedError,
)
from commerce_connectors.platforms.shopify import (
    API_VERSION,
    ShopifyConnector,
    parse_product,
    search_filter,
)
from commerce_connectors.protocols import Stream
from commerce_connectors.testing.conformance import CONNECTOR_CHECKS
from commerce_connectors.testing.simulator import GraphQLCostBucket
from commerce_connectors.testing.simulators.shopify import (
    ShopifyHarness,
    ShopifySimulator,
)

WALL = dt.datetime(2024, 10, 2, tzinfo=dt.timezone.utc)


def _connector(sim: ShopifySimulator, clock: FakeClock, **kwargs: object) -> ShopifyConnector:
    # These tests are about the paged path (bulk reads: test_shopify_bulk*.py).
    kwargs.setdefault("bulk", False)
    return ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=sim.transport(),
                            clock=clock, **kwargs)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture(scope="module")
def big_shop() -> tuple[ShopifySimulator, FakeClock]:
    clock = FakeClock(wall_start=WALL)
    sim = ShopifySimulator(seed=5, customers=400, orders=5000, products=60, checkouts=0,
                           clock=clock)  # fmt: skip
    return sim, clock


def test_historical_sync_of_a_large_shop_is_exact_and_never_throttled(
    big_shop: tuple[ShopifySimulator, FakeClock], caplog: pytest.LogCaptureFixture
) -> None:
    sim, clock = big_shop
    sim.reset()
    start = clock.monotonic()
    with _connector(sim, clock) as conn:
        ids = [o.external_id for o in conn.iter_orders()]
        stats = conn.stats.snapshot()
    truth = {str(r.id) for r in sim.stores["orders"].query()}
    assert len(ids) == len(set(ids)) == 5000
    assert set(ids) == truth
    report = sim.cost_report()
    statuses = sim.log.count_by_status()
    assert statuses.get(429, 0) == 0
    assert report.throttled == 0
    assert sim.refused == 0
    assert stats["rate_limited"] == 0
    assert stats["pages"] >= 400  # many pages
    assert report.requested <= report.queries * 1000
    # The figures for the closing note (printed with -s).
    print(
        f"\nshopify historical: {report.queries} queries, {stats['pages']} pages, "
        f"{report.actual} points used of {report.available:.0f} available "
        f"(requested {report.requested}), {clock.monotonic() - start:.1f} s simulated, "
        f"{report.restore_rate_fraction:.3f} of the restore rate"
    )
    assert report.restore_rate_fraction > 0.9


def test_incremental_sync_picks_up_exactly_the_updated_and_created_orders(
    big_shop: tuple[ShopifySimulator, FakeClock],
) -> None:
    sim, clock = big_shop
    store = sim.stores["orders"]
    clock.advance(3600)
    checkpoint = clock.now()
    clock.advance(60)
    touched = [r.id for r in store.query(sort="id")[::700]]
    for ident in touched:
        store.update(ident, {"financial_status": "refunded"})
    created = [sim.add_order(rest_order(id=990000000 + n, created_at=clock.now().isoformat(),
                                        updated_at=clock.now().isoformat())).id
               for n in range(3)]  # fmt: skip
    with _connector(sim, clock) as conn:
        got = {o.external_id: o for o in conn.iter_orders(since=checkpoint)}
    assert set(got) == {str(i) for i in touched + created}
    assert all(got[str(i)].raw_status == "refunded" for i in touched)
    queries = [e.json["variables"].get("query") for e in sim.log.entries[-3:] if e.json]
    # The filter starts at the whole second (rounded down); the exact bound is applied here.
    second = checkpoint.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert f"updated_at:>='{second}'" in queries


def test_unauthorized_token_raises_authentication_error_without_the_token() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=3, orders=0, products=0, checkouts=0, clock=clock)
    conn = ShopifyConnector(shop=sim.shop, access_token="shpat_wrong_secret_value",
                            transport=sim.transport(), clock=clock)  # fmt: skip
    with conn, pytest.raises(AuthenticationError) as info:
        list(conn.iter_customers())
    assert info.value.status_code == 401
    assert "Invalid API key or access token" in str(info.value)
    for text in (str(info.value), repr(info.value), repr(conn)):
        assert "shpat_wrong_secret_value" not in text


@pytest.mark.parametrize(
    "shop",
    ["evil.example.com", "acme.myshopify.com.evil.test", "acme", "", "acme.myshopify.co"],
)
def test_invalid_shop_domain_is_refused(shop: str) -> None:
    with pytest.raises(ConfigurationError, match=r"myshopify\.com"):
        ShopifyConnector(shop=shop, access_token="shpat_x")


def test_shop_domain_and_version_defaults() -> None:
    conn = ShopifyConnector(shop="HTTPS://Acme.MyShopify.com/admin", access_token="shpat_x")
    assert conn.engine.base_url == f"https://acme.myshopify.com/admin/api/{API_VERSION}"
    assert conn.connection_id == "shopify:acme.myshopify.com"
    with pytest.raises(ConfigurationError):
        ShopifyConnector(shop="acme.myshopify.com", access_token="shpat_x", api_version="2024-13")
    with pytest.raises(ConfigurationError):
        ShopifyConnector(shop="acme.myshopify.com", access_token=" ")
    proxied = ShopifyConnector(shop="acme", access_token="x", base_url="http://127.0.0.1:9/")
    assert proxied.engine.base_url == f"http://127.0.0.1:9/admin/api/{API_VERSION}"


def test_throttled_answer_is_waited_out_from_its_cost_numbers() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=60, orders=0, products=0, checkouts=0, clock=clock)
    sim.cost.charge(clock.monotonic(), 995)  # another app drained the shop's bucket
    with _connector(sim, clock) as conn:
        ids = {c.external_id for c in conn.iter_customers()}
        stats = conn.stats.snapshot()
    assert ids == {str(r.id) for r in sim.stores["customers"].query()}
    assert sim.cost_report().throttled >= 1
    assert stats["rate_limited"] >= 1
    throttled = [e for e in sim.log.entries if e.status == 200 and e.time == 0.0]
    assert throttled  # the first query went out at once and was refused
    # The retry came only once the requested points were back (restore 100/s).
    first_ok = next(t for t, _, actual, refused in sim._queries if not refused)
    assert first_ok >= 0.5


def test_page_size_shrinks_under_the_cost_cap() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=20, orders=40, products=0, checkouts=0, clock=clock)
    with _connector(sim, clock, page_sizes={"customers": 250, "orders": 250, "products": 25,
                                            "abandoned_carts": 10}) as conn:  # fmt: skip
        assert len(list(conn.iter_orders())) == 40
        assert conn.page_sizes[Stream.ORDERS] < 250
    assert sim.refused >= 1  # 250 orders with their lines cost far more than 1,000
    assert all(q[1] <= 1000 for q in sim._queries)


def test_orders_with_more_lines_than_the_first_page_keep_every_line() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    line = rest_order()["line_items"][0]
    lines = [{**line, "id": 1000 + n, "sku": f"SKU-{n}"} for n in range(27)]
    sim.add_order(rest_order(line_items=lines))
    with _connector(sim, clock) as conn:
        (order,) = conn.iter_orders()
    assert [li.sku for li in order.lines] == [f"SKU-{n}" for n in range(27)]


def test_graphql_errors_with_partial_data_are_raised_not_taken_for_data() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    sim.add_order(rest_order(financial_status="mysterious"))  # not an enum value
    with _connector(sim, clock) as conn, pytest.raises(ClientRequestError, match="partial"):
        list(conn.iter_orders())


def test_simulator_validates_queries_against_the_schema() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=1, orders=0, products=0, checkouts=0, clock=clock)
    client = httpx.Client(transport=sim.transport(), base_url=f"https://{sim.shop}",
                          headers={"X-Shopify-Access-Token": sim.token})  # fmt: skip
    url = f"/admin/api/{API_VERSION}/graphql.json"
    misspelled = client.post(url, json={"query": "{ customers(first: 1) { nodes { emial } } }"})
    assert misspelled.status_code == 200
    assert "Cannot query field 'emial'" in misspelled.json()["errors"][0]["message"]
    bad_arg = client.post(url, json={"query": "{ orders(frist: 1) { nodes { id } } }"})
    assert "frist" in bad_arg.json()["errors"][0]["message"]
    bad_sort = client.post(
        url,
        json={"query": "{ abandonedCheckouts(first: 1, sortKey: UPDATED_AT) { nodes { id } } }"},
    )
    assert "UPDATED_AT" in bad_sort.json()["errors"][0]["message"]
    ok = client.post(url, json={"query": "{ customers(first: 1) { nodes { id } } }"}).json()
    assert ok["extensions"]["cost"]["requestedQueryCost"] == 3
    assert ok["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 1000


def test_unquoted_timestamps_lose_their_time_part_in_the_simulator() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    sim.add_order(rest_order(id=1, updated_at="2024-09-13T08:00:00Z"))
    client = httpx.Client(transport=sim.transport(), base_url=f"https://{sim.shop}",
                          headers={"X-Shopify-Access-Token": sim.token})  # fmt: skip
    url = f"/admin/api/{API_VERSION}/graphql.json"

    def count(search: str) -> int:
        q = "query($q: String) { orders(first: 5, query: $q) { nodes { id } } }"
        body = client.post(url, json={"query": q, "variables": {"q": search}}).json()
        return len(body["data"]["orders"]["nodes"])

    assert count("updated_at:>='2024-09-13T09:00:00Z'") == 0
    assert count("updated_at:>=2024-09-13T09:00:00Z") == 1  # read as the whole day


def test_missing_read_all_orders_scope_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(wall_start=WALL)
    sim = ShopifySimulator(customers=2, orders=3, products=1, checkouts=0, clock=clock,
                           scopes=("read_orders", "read_customers"))  # fmt: skip
    week_ago = (clock.now() - dt.timedelta(days=7)).isoformat()
    sim.add_order(rest_order(id=7, created_at=week_ago, updated_at=week_ago))
    horizon = clock.now() - dt.timedelta(days=60)
    visible = {str(r.id) for r in sim.stores["orders"].query(created_at_min=horizon)}
    assert "7" in visible
    assert len(visible) < len(sim.stores["orders"])  # the 3 generated ones are older
    with caplog.at_level(logging.WARNING), _connector(sim, clock) as conn:
        # As on Shopify, orders placed more than 60 days ago are simply not returned.
        assert {o.external_id for o in conn.iter_orders()} == visible
        assert conn.warnings
        assert "read_all_orders" in conn.warnings[0]
        recent = clock.now() - dt.timedelta(days=10)
        list(conn.iter_orders(since=recent))
        assert len(conn.warnings) == 1
    assert "read_all_orders" in caplog.text
    with _connector(sim, clock, require_all_orders=True) as strict:
        with pytest.raises(PermissionDeniedError, match="read_all_orders"):
            list(strict.iter_orders())
        assert list(strict.iter_orders(since=clock.now() - dt.timedelta(days=1))) == []


def test_throttled_with_http_429_is_survived_too() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=30, orders=0, products=0, checkouts=0, clock=clock,
                           throttled_status=429, cost=GraphQLCostBucket(200, 50))  # fmt: skip
    with _connector(sim, clock, page_sizes={"customers": 30, "orders": 5, "products": 5,
                                            "abandoned_carts": 5}) as conn:  # fmt: skip
        assert len(list(conn.iter_customers())) == 30


@pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
def test_conformance(check) -> None:  # type: ignore[no-untyped-def]
    check(ShopifyHarness())


def test_follow_up_line_queries_do_not_mistune_the_next_page() -> None:
    # An order with more lines than the first page needs a follow-up query of another
    # cost; the next page must still be sized from its own query's cost, not that one's
    # (which asked for 13 orders at once: over the 1,000-point cap, refused).
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    line = rest_order()["line_items"][0]
    for i in range(40):
        lines = [{**line, "id": 100 * i + k} for k in range(27 if i % 10 == 9 else 1)]
        stamp = f"2024-09-13T11:{i:02d}:00-04:00"
        sim.add_order(rest_order(id=1000 + i, updated_at=stamp, line_items=lines))
    with _connector(sim, clock) as conn:
        orders = list(conn.iter_orders())
    assert len(orders) == 40
    assert sum(len(o.lines) for o in orders) == 4 * 27 + 36
    assert sim.refused == 0
    pages = [e.json["variables"]["first"] for e in sim.log.entries
             if e.json and "lines" in e.json.get("variables", {})]  # fmt: skip
    assert pages == [10, 10, 10, 10]


def test_products_with_more_variants_than_the_first_page_keep_every_variant() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    variants = [{"id": 808950800 + n, "title": f"V{n}", "sku": f"SKU-{n}", "price": f"{n}.50"}
                for n in range(12)]  # fmt: skip
    payload = rest_product(variants=variants)
    sim.add_product(payload)
    with _connector(sim, clock) as conn:
        (product,) = conn.iter_products()
    assert [v.sku for v in product.variants] == [f"SKU-{n}" for n in range(12)]
    assert product == parse_product(payload, currency=sim.currency, shop=sim.shop)


def test_a_repeating_line_cursor_raises_instead_of_dropping_lines() -> None:
    clock = FakeClock()
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    line = rest_order()["line_items"][0]
    sim.add_order(rest_order(line_items=[{**line, "id": 1000 + n} for n in range(15)]))
    inner = sim.transport()
    stuck = {"data": {"node": {"lineItems": {
        "pageInfo": {"hasNextPage": True, "endCursor": "stuck"}, "nodes": []}}}}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        if b"MoreLines" in request.content:
            return httpx.Response(200, json=stuck)
        return inner.handle_request(request)

    conn = ShopifyConnector(shop=sim.shop, access_token=sim.token,
                            transport=httpx.MockTransport(handler), clock=clock,
                            bulk=False)  # fmt: skip
    with conn, pytest.raises(PaginationLoopError):
        list(conn.iter_orders())


def test_search_filter_refuses_naive_datetimes() -> None:
    with pytest.raises(NaiveDatetimeError):
        search_filter("updated_at", dt.datetime(2024, 10, 4, 9, 30))
    paris = dt.timezone(dt.timedelta(hours=2))
    stamp = dt.datetime(2024, 10, 4, 11, 30, tzinfo=paris)
    assert search_filter("updated_at", stamp) == "updated_at:>='2024-10-04T09:30:00Z'"


def test_missing_read_all_orders_scope_is_reported_on_incremental_reads_too() -> None:
    # An order placed 90 days ago and refunded today is invisible without the scope,
    # even to an incremental read whose checkpoint is yesterday: say so.
    clock = FakeClock(wall_start=WALL)
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock,
                           scopes=("read_orders", "read_customers"))  # fmt: skip
    old = (clock.now() - dt.timedelta(days=90)).isoformat()
    sim.add_order(rest_order(id=1, created_at=old, updated_at=clock.now().isoformat(),
                             financial_status="refunded"))  # fmt: skip
    with _connector(sim, clock) as conn:
        assert list(conn.iter_orders(since=clock.now() - dt.timedelta(days=1))) == []
        assert len(conn.warnings) == 1
        assert "read_all_orders" in conn.warnings[0]
        assert "later changes" in conn.warnings[0]
