"""The engine's plumbing: URLs, headers, client ownership, bodies, stats, threads."""

from __future__ import annotations

import random
import threading

import httpx
import pytest
from httpkit import BASE_URL, TOKEN, body_of, make_engine, ok, scripted

from commerce_connectors._http import (
    DEFAULT_USER_AGENT,
    HeaderTokenAuth,
    HttpEngine,
    HttpStats,
    LeakyBucketLimiter,
    Request,
    RetryPolicy,
)
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ConfigurationError, RateLimitError, ServerError


def test_relative_paths_join_the_base_url_and_params_are_encoded() -> None:
    clock = FakeClock()
    handler, seen = scripted([ok(), ok(), ok()])
    with make_engine(handler, clock) as engine:
        engine.get(
            "orders.json", params={"status": "any", "limit": 250, "since_id": None, "ids": [1, 2]}
        )
        engine.get("/customers.json")
        engine.get(f"{BASE_URL}/shop.json")
    assert str(seen[0].url) == f"{BASE_URL}/orders.json?status=any&limit=250&ids=1&ids=2"
    assert str(seen[1].url) == f"{BASE_URL}/customers.json"
    assert str(seen[2].url) == f"{BASE_URL}/shop.json"


def test_headers_default_user_agent_auth_and_per_request() -> None:
    clock = FakeClock()
    handler, seen = scripted([ok(), ok()])
    with make_engine(handler, clock, headers={"Square-Version": "2025-08-20"}) as engine:
        engine.get("a", headers={"X-Extra": "1", "X-Shopify-Access-Token": "forged"})
        engine.post("b", json={"q": 1})
    first = seen[0].headers
    assert first["User-Agent"] == DEFAULT_USER_AGENT
    assert first["Accept"] == "application/json"
    assert first["Square-Version"] == "2025-08-20"
    assert first["X-Extra"] == "1"
    assert first["X-Shopify-Access-Token"] == TOKEN  # the credentials win
    assert seen[1].headers["Content-Type"] == "application/json"
    assert body_of(seen[1]) == {"q": 1}


def test_custom_user_agent_required_by_tiendanube() -> None:
    clock = FakeClock()
    handler, seen = scripted([ok()])
    with make_engine(handler, clock, user_agent="MyApp (dev@example.com)") as engine:
        engine.get("orders")
    assert seen[0].headers["User-Agent"] == "MyApp (dev@example.com)"


def test_client_ownership() -> None:
    clock = FakeClock()
    handler, _ = scripted([ok()])
    own = make_engine(handler, clock)
    own.close()
    assert own.client.is_closed
    own.close()  # idempotent
    with pytest.raises(ConfigurationError, match="closed"):
        own.get("x")

    mine = httpx.Client(transport=httpx.MockTransport(scripted([ok()])[0]))
    with HttpEngine(platform="p", base_url=BASE_URL, client=mine, clock=clock) as engine:
        assert engine.get("x").body == {"ok": True}
    assert not mine.is_closed  # the caller's client stays open
    mine.close()


def test_constructor_validation() -> None:
    transport = httpx.MockTransport(scripted([])[0])
    with (
        httpx.Client() as client,
        pytest.raises(ConfigurationError, match="either client= or transport="),
    ):
        HttpEngine(platform="p", base_url=BASE_URL, client=client, transport=transport)
    with pytest.raises(ConfigurationError, match="absolute"):
        HttpEngine(platform="p", base_url="/relative", transport=transport)


def test_allowed_origins_and_foreign_hosts() -> None:
    clock = FakeClock()
    handler, seen = scripted([ok()])
    with make_engine(handler, clock, allowed_origins=("https://cdn.acme.test",)) as engine:
        engine.get("https://cdn.acme.test/file.json")
        with pytest.raises(ConfigurationError, match="refusing"):
            engine.get("https://elsewhere.test/x")
        with pytest.raises(ConfigurationError, match="refusing"):
            engine.get("http://acme.test/admin/x")  # a downgrade to http is another origin
    assert len(seen) == 1
    assert seen[0].headers["X-Shopify-Access-Token"] == TOKEN


def test_no_content_head_and_non_json_bodies() -> None:
    clock = FakeClock()
    handler, _ = scripted(
        [
            httpx.Response(204),
            httpx.Response(200, content=b"", headers={"X-Total": "3"}),
            httpx.Response(200, content=b"plain text"),
        ]
    )
    with make_engine(handler, clock) as engine:
        assert engine.request("DELETE", "x").body is None
        head = engine.request("HEAD", "x")
        assert head.body is None
        assert head.headers["X-Total"] == "3"
        raw = engine.get("file.txt", expect_json=False)
        assert raw.body is None
        assert raw.raw is not None
        assert raw.raw.text == "plain text"


def test_response_fields() -> None:
    clock = FakeClock()
    handler, _ = scripted([httpx.Response(503), ok({"a": 1}, **{"X-Request-Id": "r1"})])
    with make_engine(handler, clock, retry=RetryPolicy(jitter=0)) as engine:
        req = Request("GET", "orders.json", params={"limit": 5})
        response = engine.send(req)
    assert response.status_code == 200
    assert response.body == {"a": 1}
    assert response.headers["x-request-id"] == "r1"
    assert response.request == req
    assert response.attempts == 2
    assert response.elapsed == 0.0  # MockTransport takes no fake time
    assert "body" not in repr(response)


def test_request_value_object() -> None:
    r = Request("post", "q", json={"a": {"b": 1}}, headers={"X": "1"})
    assert r.method == "POST"
    assert not r.is_idempotent
    assert Request("POST", "q", idempotent=True).is_idempotent
    assert Request("PUT", "q").is_idempotent
    assert r.with_json_field("a.c", 2).json == {"a": {"b": 1, "c": 2}}
    assert r.with_json_field("a.b", None).json == {"a": {}}
    assert r.json == {"a": {"b": 1}}  # untouched
    assert r.with_param("x", True).params == (("x", "true"),)
    assert r.with_param("x", 1).with_param("x", None).params == ()
    assert r.headers == (("X", "1"),)


def test_stats_snapshot_and_shared_stats() -> None:
    clock = FakeClock()
    shared = HttpStats()
    handler, _ = scripted(
        [httpx.Response(429, headers={"Retry-After": "1"}), ok(), httpx.Response(500)]
    )
    with make_engine(handler, clock, stats=shared, retry=RetryPolicy(max_attempts=1)) as engine:
        with pytest.raises(RateLimitError, match="429"):
            engine.get("x")
        engine.get("x")
        with pytest.raises(ServerError):
            engine.get("x")
    snap = shared.snapshot()
    assert snap == {
        "calls": 3,
        "attempts": 3,
        "responses": {200: 1, 429: 1, 500: 1},
        "retries": 0,
        "rate_limited": 1,
        "transport_errors": 0,
        "malformed": 0,
        "give_ups": 2,
        "pages": 0,
        "rate_limit_wait": 0.0,
        "backoff_wait": 0.0,
    }
    shared.reset()
    assert shared.snapshot()["calls"] == 0
    with pytest.raises(AttributeError):
        shared.add(nonsense=1)


def test_a_failing_event_callback_does_not_break_requests() -> None:
    clock = FakeClock()

    def boom(event: object) -> None:
        raise RuntimeError("stats backend down")

    handler, _ = scripted([ok()])
    with make_engine(handler, clock, on_event=boom) as engine:
        assert engine.get("x").body == {"ok": True}


def test_timeout_is_passed_to_httpx() -> None:
    clock = FakeClock()
    seen_timeouts = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_timeouts.append(request.extensions["timeout"])
        return ok()

    with make_engine(handler, clock, timeout=4.0) as engine:
        engine.get("x")
    assert seen_timeouts[0]["read"] == 4.0


def test_threads_share_one_engine_with_faults() -> None:
    """Several threads, one engine and limiter; the server fails some requests at random."""
    clock = FakeClock()
    rng = random.Random(5)
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            roll = rng.random()
        if roll < 0.1:
            return httpx.Response(503)
        if roll < 0.15:
            raise httpx.ReadError("reset")
        return httpx.Response(200, json={"id": request.url.params["i"]})

    limiter = LeakyBucketLimiter(capacity=10, leak_rate=100.0, reader=None, clock=clock)
    results: dict[str, str] = {}
    failures: list[BaseException] = []
    policy = RetryPolicy(max_attempts=10, rng=random.Random(1))
    with make_engine(handler, clock, rate_limiter=limiter, retry=policy) as engine:

        def worker(start: int) -> None:
            for i in range(start, start + 30):
                try:
                    response = engine.get("items", params={"i": i})
                    results[str(i)] = response.body["id"]
                except BaseException as exc:  # pragma: no cover - reported below
                    failures.append(exc)

        threads = [threading.Thread(target=worker, args=(n * 100,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        snap = engine.stats.snapshot()
    assert failures == []
    assert len(results) == 180
    assert all(k == v for k, v in results.items())
    assert snap["calls"] == 180
    assert snap["attempts"] == 180 + snap["retries"]
    assert sum(snap["responses"].values()) + snap["transport_errors"] == snap["attempts"]
    assert limiter.state().in_flight == 0


def test_engine_with_a_real_auth_object_on_the_wire() -> None:
    clock = FakeClock()
    handler, seen = scripted([ok()])
    engine = make_engine(handler, clock, auth=HeaderTokenAuth.tiendanube(TOKEN))
    with engine:
        engine.get("products")
    assert seen[0].headers["Authentication"] == f"bearer {TOKEN}"
