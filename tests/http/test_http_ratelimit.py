"""Rate limiters against scripted header sequences and scripted servers on a fake clock."""

from __future__ import annotations

import threading

import httpx
import pytest
from httpkit import LeakyBucketServer, WindowServer, make_engine

from commerce_connectors._http import (
    CallLimitHeader,
    GraphQLCostLimiter,
    HttpEngine,
    LeakyBucketLimiter,
    RateLimiter,
    RemainingResetHeaders,
    RetryPolicy,
    WindowQuotaLimiter,
    fit_page_size,
)
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ConfigurationError


def shopify(used: int, size: int = 40) -> dict[str, str]:
    return {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{size}"}


def test_every_limiter_satisfies_the_protocol() -> None:
    clock = FakeClock()
    for limiter in (
        LeakyBucketLimiter.shopify(clock=clock),
        LeakyBucketLimiter.tiendanube(clock=clock),
        WindowQuotaLimiter.bigcommerce(clock=clock),
        GraphQLCostLimiter(clock=clock),
    ):
        assert isinstance(limiter, RateLimiter)
        assert "waited" in repr(limiter)


# --- leaky bucket: header readers -------------------------------------------------------------


def test_call_limit_header_reader() -> None:
    read = CallLimitHeader()
    assert read(shopify(32)) is not None
    assert read({"x-shopify-shop-api-call-limit": "40/400"}).capacity == 400  # type: ignore[union-attr]
    for bad in ({}, {"X-Shopify-Shop-Api-Call-Limit": "lots"}, shopify(1, 0)):
        assert read(bad) is None


def test_remaining_reset_reader_reveals_the_leak_rate() -> None:
    read = RemainingResetHeaders()
    reading = read(
        {"x-rate-limit-limit": "400", "x-rate-limit-remaining": "300", "x-rate-limit-reset": "5000"}
    )
    assert reading is not None
    assert (reading.used, reading.capacity, reading.leak_rate) == (100, 400, 20.0)
    empty = read(
        {"x-rate-limit-limit": "40", "x-rate-limit-remaining": "40", "x-rate-limit-reset": "0"}
    )
    assert empty is not None
    assert empty.leak_rate is None
    assert read({"x-rate-limit-limit": "40"}) is None


# --- leaky bucket: scripted header sequences ---------------------------------------------------


def test_leaky_bucket_bursts_then_waits_before_the_bucket_is_full() -> None:
    clock = FakeClock()
    bucket = LeakyBucketLimiter.shopify(clock=clock)  # 40 leaking 2/s, margin 2
    used = 0
    waits = []
    for _ in range(45):
        waits.append(bucket.acquire())
        used += 1  # the scripted server's count, never leaking (time only moves on sleeps)
        used = max(0, used - round(waits[-1] * 2))
        bucket.observe(shopify(used))
    # 38 requests go at once; from then on each waits one leak interval (0.5 s).
    assert waits[:38] == [0.0] * 38
    assert waits[38:] == [pytest.approx(0.5)] * 7
    assert used <= 38  # never reached the 40 that would have been a 429
    state = bucket.state()
    assert state.waited == pytest.approx(3.5)
    assert state.waits == 7


def test_leaky_bucket_follows_the_server_when_it_says_more_is_used() -> None:
    clock = FakeClock()
    bucket = LeakyBucketLimiter.shopify(clock=clock)
    bucket.acquire()
    # Another app (or another process) filled the bucket: the server says 39/40.
    bucket.observe(shopify(39))
    assert bucket.acquire() == pytest.approx(1.0)  # (39 + 1 - 38) / 2
    bucket.observe(shopify(20))  # and when it says less, the limiter uses the room again
    clock.advance(5)
    assert bucket.acquire() == 0.0


def test_leaky_bucket_adopts_the_capacity_from_the_header() -> None:
    clock = FakeClock()
    bucket = LeakyBucketLimiter.shopify(plus=True, clock=clock)
    assert (bucket.capacity, bucket.leak_rate) == (400, 20)
    bucket.acquire()
    bucket.observe(shopify(10, 80))
    assert bucket.capacity == 80


def test_tiendanube_limiter_learns_the_leak_rate_from_reset_ms() -> None:
    clock = FakeClock()
    bucket = LeakyBucketLimiter.tiendanube(clock=clock)
    bucket.acquire()
    # A "Next" store: 400 requests leaking at 20/s, revealed by remaining and reset.
    bucket.observe(
        {"x-rate-limit-limit": "400", "x-rate-limit-remaining": "1", "x-rate-limit-reset": "19950"}
    )
    assert bucket.capacity == 400
    assert bucket.leak_rate == pytest.approx(20.0)
    # 399 used, ceiling 398: wait for 2 to leak at 20/s.
    assert bucket.acquire() == pytest.approx(0.1)


def test_client_side_pacer_without_headers() -> None:
    clock = FakeClock()
    pacer = LeakyBucketLimiter(capacity=5, leak_rate=5, reader=None, safety_margin=0, clock=clock)
    waits = [pacer.acquire() for _ in range(10)]
    assert waits[:5] == [0.0] * 5
    assert waits[5:] == [pytest.approx(0.2)] * 5
    assert clock.monotonic() == pytest.approx(1.0)


def test_limiter_validation() -> None:
    with pytest.raises(ConfigurationError):
        LeakyBucketLimiter(capacity=0)
    with pytest.raises(ConfigurationError):
        WindowQuotaLimiter(window=0)
    with pytest.raises(ConfigurationError):
        GraphQLCostLimiter(restore_rate=0)


# --- leaky bucket: a scripted server, end to end -----------------------------------------------


def run_bucket(
    n: int, server: LeakyBucketServer, limiter: LeakyBucketLimiter, clock: FakeClock
) -> HttpEngine:
    engine = make_engine(server, clock, rate_limiter=limiter)
    with engine:
        for _ in range(n):
            engine.get("orders.json")
    return engine


def test_300_requests_through_a_40_bucket_leaking_50_per_second_never_see_a_429() -> None:
    clock = FakeClock()
    server = LeakyBucketServer(clock, capacity=40, leak=50.0)
    limiter = LeakyBucketLimiter(capacity=40, leak_rate=50.0, reader=CallLimitHeader(), clock=clock)
    engine = run_bucket(300, server, limiter, clock)
    assert server.rejected == 0
    assert server.accepted == 300
    ideal = (300 - 40) / 50  # 5.2 s: the whole bucket at once, then the leak rate
    assert ideal <= clock.monotonic() <= ideal * 1.10
    snap = engine.stats.snapshot()
    assert snap["rate_limited"] == 0
    assert snap["rate_limit_wait"] == pytest.approx(clock.slept)
    assert server.max_level <= 40


def test_shopify_defaults_against_a_standard_bucket() -> None:
    clock = FakeClock()
    server = LeakyBucketServer(clock, capacity=40, leak=2.0)
    engine = run_bucket(100, server, LeakyBucketLimiter.shopify(clock=clock), clock)
    assert server.rejected == 0
    assert engine.stats.snapshot()["responses"] == {200: 100}
    assert clock.monotonic() <= (100 - 40) / 2 * 1.10


def test_tiendanube_limiter_against_a_next_plan_bucket_it_was_not_told_about() -> None:
    # Configured for a standard store (40, 2/s) but the store is on Next (400, 20/s):
    # the headers reveal both and the limiter speeds up instead of crawling at 2/s.
    clock = FakeClock()
    server = LeakyBucketServer(clock, capacity=400, leak=20.0, style="tiendanube")
    engine = run_bucket(800, server, LeakyBucketLimiter.tiendanube(clock=clock), clock)
    assert server.rejected == 0
    assert engine.stats.snapshot()["responses"] == {200: 800}
    assert clock.monotonic() <= (800 - 400) / 20 * 1.10


def test_without_a_limiter_the_same_server_answers_429s() -> None:
    # The control experiment: the scripted server really does enforce its bucket.
    clock = FakeClock()
    server = LeakyBucketServer(clock, capacity=40, leak=50.0)
    engine = make_engine(
        server, clock, retry=RetryPolicy(max_attempts=10, rate_limit_base_delay=0.05)
    )
    with engine:
        for _ in range(100):
            engine.get("orders.json")
    assert server.rejected > 0


# --- window quota (BigCommerce) ----------------------------------------------------------------


def bc_headers(
    left: int, reset_ms: int, quota: int = 150, window_ms: int = 30000
) -> dict[str, str]:
    return {
        "X-Rate-Limit-Requests-Left": str(left),
        "X-Rate-Limit-Requests-Quota": str(quota),
        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        "X-Rate-Limit-Time-Window-Ms": str(window_ms),
    }


def test_window_quota_uses_the_window_then_waits_for_the_reset() -> None:
    clock = FakeClock()
    limiter = WindowQuotaLimiter.bigcommerce(quota=10, clock=clock)
    waits = []
    for left in range(9, 1, -1):  # the server counts down 9 .. 2 left, 20 s to the reset
        waits.append(limiter.acquire())
        limiter.observe(bc_headers(left, reset_ms=20000, quota=10))
    # 8 requests (10 minus the margin of 2) go at once; the 9th waits for the reset.
    assert waits == [0.0] * 8
    assert limiter.acquire() == pytest.approx(20.0)
    limiter.observe(bc_headers(9, reset_ms=30000, quota=10))  # first of the new window
    assert limiter.acquire() == 0.0
    state = limiter.state()
    assert (state.quota, state.window, state.waits, state.waited) == (10, 30, 1, 20.0)
    assert state.resets_in == pytest.approx(30.0)


def test_window_quota_follows_the_server_count_of_other_apps() -> None:
    clock = FakeClock()
    limiter = WindowQuotaLimiter.bigcommerce(clock=clock)
    limiter.acquire()
    limiter.observe(bc_headers(left=3, reset_ms=12000))  # other apps used most of it
    assert limiter.acquire() == 0.0  # 3 left -> 2 after this one
    limiter.observe(bc_headers(left=2, reset_ms=12000))
    assert limiter.acquire() == pytest.approx(12.0)


def test_window_quota_against_a_scripted_bigcommerce_server() -> None:
    clock = FakeClock()
    server = WindowServer(clock, quota=150, window=30.0)
    limiter = WindowQuotaLimiter.bigcommerce(clock=clock)
    with make_engine(server, clock, rate_limiter=limiter) as engine:
        for _ in range(500):
            engine.get("v3/catalog/products")
    assert server.rejected == 0
    assert server.accepted == 500
    # 148 per 30 s window: 500 requests need 3 full waits (4 windows).
    assert clock.monotonic() == pytest.approx(90.0, abs=0.01)


# --- GraphQL cost ------------------------------------------------------------------------------


def cost_body(
    requested: float,
    available: float,
    actual: float | None = None,
    *,
    maximum: float = 1000,
    restore: float = 50,
) -> dict[str, object]:
    return {
        "data": {},
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": requested if actual is None else actual,
                "throttleStatus": {
                    "maximumAvailable": maximum,
                    "currentlyAvailable": available,
                    "restoreRate": restore,
                },
            }
        },
    }


def test_graphql_cost_paces_so_the_next_query_is_affordable() -> None:
    clock = FakeClock()
    limiter = GraphQLCostLimiter(clock=clock, safety_margin=10)
    assert limiter.acquire() == 0.0
    limiter.observe({}, cost_body(requested=300, available=700))
    assert limiter.acquire() == 0.0  # 700 >= 310
    limiter.observe({}, cost_body(requested=300, available=400))
    assert limiter.acquire() == 0.0  # 400 >= 310
    limiter.observe({}, cost_body(requested=300, available=100))
    assert limiter.acquire() == pytest.approx((310 - 100) / 50)
    state = limiter.state()
    assert (state.maximum, state.restore_rate, state.expected_cost) == (1000, 50, 300)
    assert state.last_requested == 300


def test_graphql_cost_uses_an_explicit_cost_and_never_waits_for_more_than_the_bucket() -> None:
    clock = FakeClock()
    limiter = GraphQLCostLimiter(clock=clock, maximum=100, restore_rate=10, safety_margin=0)
    assert limiter.acquire(cost=100) == 0.0
    assert limiter.acquire(cost=5000) == pytest.approx(10.0)  # a full bucket, no more


def test_graphql_cost_helps_shrink_first_under_the_single_query_cap() -> None:
    clock = FakeClock()
    limiter = GraphQLCostLimiter(clock=clock)
    assert limiter.page_size_for(250) == 250  # nothing seen yet
    limiter.observe({}, cost_body(requested=2502, available=1000, maximum=2000))
    assert limiter.page_size_for(250) == 99
    assert fit_page_size(250, cost=1000.0) == 250
    assert fit_page_size(10, cost=1e9) == 1


def test_graphql_cost_against_a_scripted_server() -> None:
    clock = FakeClock()
    state = {"available": 1000.0, "t": 0.0, "throttled": 0}
    restore, query_cost = 50.0, 102.0

    def server(request: httpx.Request) -> httpx.Response:
        now = clock.monotonic()
        state["available"] = min(1000.0, state["available"] + restore * (now - state["t"]))
        state["t"] = now
        if state["available"] < query_cost:
            state["throttled"] += 1
            body = cost_body(query_cost, state["available"], restore=restore)
            body["errors"] = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
            return httpx.Response(200, json=body)
        state["available"] -= query_cost
        return httpx.Response(200, json=cost_body(query_cost, state["available"], restore=restore))

    limiter = GraphQLCostLimiter(clock=clock)
    from commerce_connectors._http import DefaultErrorMapper

    with make_engine(
        server, clock, rate_limiter=limiter, error_mapper=DefaultErrorMapper(graphql=True)
    ) as engine:
        for _ in range(60):
            engine.post(
                "graphql.json",
                json={"query": "{orders(first:50){edges{node{id}}}}"},
                idempotent=True,
            )
    # The first query is priced at the initial guess (50) and the server had 1000: fine.
    assert state["throttled"] == 0
    ideal = (60 * query_cost - 1000) / restore
    assert ideal <= clock.monotonic() <= ideal * 1.10


# --- thread safety -----------------------------------------------------------------------------


def test_threads_sharing_one_engine_and_limiter() -> None:
    clock = FakeClock()
    server = LeakyBucketServer(clock, capacity=40, leak=20.0)
    limiter = LeakyBucketLimiter(capacity=40, leak_rate=20.0, reader=CallLimitHeader(), clock=clock)
    errors: list[BaseException] = []
    with make_engine(server, clock, rate_limiter=limiter) as engine:

        def worker() -> None:
            try:
                for _ in range(25):
                    assert engine.get("orders.json").status_code == 200
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        snap = engine.stats.snapshot()
    assert errors == []
    assert snap["calls"] == 200
    assert snap["responses"].get(200) == 200
    assert server.accepted == 200
    assert server.rejected == 0
    state = limiter.state()
    assert state.in_flight == 0


def test_window_quota_books_waiting_callers_into_the_next_window() -> None:
    class FrozenClock(FakeClock):
        """Sleeps return at once without moving time: many threads asking at one instant."""

        def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)

    clock = FrozenClock()
    limiter = WindowQuotaLimiter(quota=4, window=10.0, safety_margin=0, clock=clock)
    # Four go now; the next four are booked into the next window, all due at t=10.
    plan = [limiter.acquire() for _ in range(8)]
    assert plan == [0.0] * 4 + [10.0] * 4
    # A late response from the first window says it resets sooner: bookings move up.
    limiter.observe(bc_headers(0, reset_ms=6000, quota=4, window_ms=10000))
    assert limiter.state().resets_in == pytest.approx(16.0)
    # A response from the current window when nothing is booked ahead re-synchronises.
    later = WindowQuotaLimiter(quota=4, window=10.0, safety_margin=0, clock=FakeClock())
    later.acquire()
    later.observe({})  # no headers: nothing learnt, nothing broken
    assert later.state().left == 3
