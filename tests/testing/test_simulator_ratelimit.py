"""Rate-limit emulation: buckets, windows, header styles, 429s, GraphQL cost."""

from __future__ import annotations

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import (
    BigCommerceRateLimit,
    FixedWindow,
    GraphQLCostBucket,
    LeakyBucket,
    LeakyBucketRateLimit,
    RateLimiter,
    ShopifyRestRateLimit,
    TiendanubeRateLimit,
    format_seconds,
)

from .demo import MakeShop


def _client(sim: object) -> httpx.Client:
    return httpx.Client(transport=sim.transport(), base_url="https://demo.test")  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- primitives
def test_leaky_bucket_fills_drains_and_refuses_without_adding() -> None:
    bucket = LeakyBucket(capacity=3, leak_rate=2.0)
    assert [bucket.try_add(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.level(0.0) == 3.0
    assert bucket.time_until_room(0.0) == pytest.approx(0.5)
    assert bucket.time_until_empty(0.0) == pytest.approx(1.5)
    assert bucket.level(1.0) == pytest.approx(1.0)
    assert bucket.level(10.0) == 0.0
    # An out-of-order (earlier) reading from another thread does not refill the bucket.
    bucket.try_add(10.0)
    assert bucket.level(9.0) == pytest.approx(1.0)
    bucket.reset()
    assert bucket.level(0.0) == 0.0


@pytest.mark.parametrize(("capacity", "leak"), [(0, 1.0), (1, 0.0)])
def test_leaky_bucket_refuses_nonsense(capacity: float, leak: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        LeakyBucket(capacity, leak)


def test_fixed_window_rolls_over_in_whole_windows() -> None:
    window = FixedWindow(quota=2, window=10.0)
    assert window.time_until_reset(5.0) == 10.0  # the first reading opens the window
    window.reset()
    assert [window.try_add(t) for t in (0.0, 1.0, 2.0)] == [True, True, False]
    assert window.left(9.0) == 0
    assert window.time_until_reset(9.0) == pytest.approx(1.0)
    # 25 s later we are in the window that started at 20.
    assert window.try_add(25.0)
    assert window.time_until_reset(25.0) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="positive"):
        FixedWindow(0, 1.0)


@pytest.mark.parametrize(
    ("seconds", "text"), [(2, "2.0"), (0.02, "0.02"), (1.5, "1.5"), (0.0001, "0.001"), (0, "0.0")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_limiters_satisfy_the_protocol() -> None:
    for limiter in (
        LeakyBucketRateLimit(),
        ShopifyRestRateLimit(),
        TiendanubeRateLimit(),
        BigCommerceRateLimit(),
    ):
        assert isinstance(limiter, RateLimiter)
        assert type(limiter).__name__ in repr(limiter)


# --------------------------------------------------------------------------- styles, hammered
def test_shopify_style_counts_up_then_429_with_retry_after(
    make_shop: MakeShop, clock: FakeClock
) -> None:
    # Scaled down 25x: bucket 40 leaking 50/s.
    sim = make_shop(rate_limit=ShopifyRestRateLimit(capacity=40, leak_rate=50.0))
    with _client(sim) as c:
        responses = [c.get("/shop.json") for _ in range(42)]
        assert [r.headers["X-Shopify-Shop-Api-Call-Limit"] for r in responses[:3]] == [
            "1/40",
            "2/40",
            "3/40",
        ]
        assert responses[39].status_code == 200
        assert responses[39].headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
        refused = responses[40]
        assert refused.status_code == 429
        assert refused.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
        assert refused.headers["Retry-After"] == "0.02"
        assert refused.json() == {"errors": "Too Many Requests"}  # the simulator's error shape
        assert "Retry-After" not in responses[0].headers
        clock.advance(0.02)
        again = c.get("/shop.json")
        assert again.status_code == 200
        assert again.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
        clock.advance(0.4)
        assert c.get("/shop.json").headers["X-Shopify-Shop-Api-Call-Limit"] == "21/40"
    assert sim.log.count_by_status() == {200: 42, 429: 2}
    assert len(sim.log.filter(fault="rate_limited")) == 2


def test_shopify_style_client_honouring_retry_after_never_gets_refused_twice(
    make_shop: MakeShop, clock: FakeClock
) -> None:
    sim = make_shop(rate_limit=ShopifyRestRateLimit(capacity=4, leak_rate=2.0))
    statuses: list[int] = []
    with _client(sim) as c:
        while len(statuses) < 30:
            r = c.get("/shop.json")
            statuses.append(r.status_code)
            if r.status_code == 429:
                clock.sleep(float(r.headers["Retry-After"]))
    # After the first refusal, each wait buys exactly one request.
    assert "429,429" not in ",".join(map(str, statuses))
    assert sim.log.max_in_window(1.0) <= 4 + 2 + 1


def test_bigcommerce_style_fixed_window_headers_and_429(
    make_shop: MakeShop, clock: FakeClock
) -> None:
    sim = make_shop(rate_limit=BigCommerceRateLimit(quota=5, window=3.0))
    with _client(sim) as c:
        first = c.get("/shop.json")
        assert first.headers["X-Rate-Limit-Requests-Left"] == "4"
        assert first.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert first.headers["X-Rate-Limit-Time-Window-Ms"] == "3000"
        assert first.headers["X-Rate-Limit-Time-Reset-Ms"] == "3000"
        clock.advance(1.25)
        rest = [c.get("/shop.json") for _ in range(5)]
        assert [r.status_code for r in rest] == [200, 200, 200, 200, 429]
        refused = rest[-1]
        assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
        assert refused.headers["X-Rate-Limit-Time-Reset-Ms"] == "1750"
        assert refused.headers["X-Retry-After"] == "2"
        assert "Retry-After" not in refused.headers
        clock.advance(1.75)
        fresh = c.get("/shop.json")
        assert fresh.status_code == 200
        assert fresh.headers["X-Rate-Limit-Requests-Left"] == "4"


def test_tiendanube_style_remaining_and_reset_in_ms(make_shop: MakeShop, clock: FakeClock) -> None:
    sim = make_shop(rate_limit=TiendanubeRateLimit(capacity=40, leak_rate=2.0))
    with _client(sim) as c:
        first = c.get("/shop.json")
        assert first.headers["x-rate-limit-limit"] == "40"
        assert first.headers["x-rate-limit-remaining"] == "39"
        assert first.headers["x-rate-limit-reset"] == "500"  # 1 request at 2/s
        responses = [c.get("/shop.json") for _ in range(40)]
        refused = responses[-1]
        assert refused.status_code == 429
        assert refused.headers["x-rate-limit-remaining"] == "0"
        assert refused.headers["x-rate-limit-reset"] == "20000"
        assert "Retry-After" not in refused.headers
        clock.advance(5.0)
        after = c.get("/shop.json")
        assert after.status_code == 200
        assert after.headers["x-rate-limit-remaining"] == "9"  # 10 leaked, 1 added


def test_square_style_bare_429(make_shop: MakeShop) -> None:
    sim = make_shop(rate_limit=LeakyBucketRateLimit(capacity=3, leak_rate=1.0))
    with _client(sim) as c:
        responses = [c.get("/shop.json") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    for r in responses:
        assert not any(h.lower().startswith(("x-rate", "retry-after")) for h in r.headers)


def test_unknown_routes_do_not_spend_the_quota(make_shop: MakeShop) -> None:
    sim = make_shop(rate_limit=LeakyBucketRateLimit(capacity=1, leak_rate=1.0))
    with _client(sim) as c:
        assert c.get("/nowhere").status_code == 404
        assert c.get("/shop.json").status_code == 200


def test_limiter_reset() -> None:
    for limiter in (ShopifyRestRateLimit(capacity=1), BigCommerceRateLimit(quota=1)):
        assert limiter.admit(0.0).allowed
        assert not limiter.admit(0.0).allowed
        limiter.reset()
        assert limiter.admit(0.0).allowed


# --------------------------------------------------------------------------- GraphQL cost
def test_graphql_cost_bucket_charges_actual_cost_and_restores() -> None:
    bucket = GraphQLCostBucket(maximum_available=1000, restore_rate=50)
    ok = bucket.charge(0.0, requested_cost=900, actual_cost=300)
    assert not ok.throttled
    cost = ok.extensions["cost"]
    assert cost["requestedQueryCost"] == 900
    assert cost["actualQueryCost"] == 300
    assert cost["throttleStatus"] == {
        "maximumAvailable": 1000.0,
        "currentlyAvailable": 700.0,
        "restoreRate": 50.0,
    }
    assert ok.body({"orders": []}) == {"data": {"orders": []}, "extensions": ok.extensions}
    assert bucket.currently_available(2.0) == pytest.approx(800.0)


def test_graphql_throttled_has_the_shopify_shape() -> None:
    bucket = GraphQLCostBucket(maximum_available=100, restore_rate=10)
    bucket.charge(0.0, 90)
    refused = bucket.charge(0.0, 50)
    assert refused.throttled
    body = refused.body({"ignored": True})
    assert "data" not in body
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 10.0
    # Refusals cost nothing; 4 s restore 40 points, enough for 50.
    assert not bucket.charge(4.0, 50).throttled


def test_graphql_single_query_cap() -> None:
    bucket = GraphQLCostBucket(max_query_cost=1000)
    refused = bucket.charge(0.0, 1001)
    assert refused.throttled
    assert refused.errors[0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert bucket.currently_available(0.0) == bucket.maximum_available
    bucket.charge(0.0, 10)
    bucket.reset()
    assert bucket.currently_available(0.0) == 1000.0
    assert "GraphQLCostBucket(" in repr(bucket)
