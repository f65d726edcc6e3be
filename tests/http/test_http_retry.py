"""Retry policy and the engine's retry loop: backoff, Retry-After, caps, idempotency."""

from __future__ import annotations

import datetime as dt
import random
import traceback

import httpx
import pytest
from httpkit import TOKEN, make_engine, ok, scripted

from commerce_connectors._http import (
    BIGCOMMERCE_WAIT_HEADERS,
    TIENDANUBE_WAIT_HEADERS,
    RetryPolicy,
    WaitHeader,
    parse_wait_value,
)
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    ClientRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


# --- parsing wait headers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("2", "seconds", 2.0),
        ("2.5", "seconds", 2.5),
        (" 0 ", "seconds", 0.0),
        ("1500", "milliseconds", 1.5),
        ("250.5", "milliseconds", 0.2505),
        ("Mon, 01 Jan 2024 00:00:07 GMT", "seconds", 7.0),
        ("Sun, 31 Dec 2023 23:59:00 GMT", "seconds", 0.0),  # in the past: now
        ("-3", "seconds", None),
        ("soon", "seconds", None),
        ("nan", "seconds", None),
        ("", "seconds", None),
        ("Mon, 01 Jan 2024 00:00:07 GMT", "milliseconds", None),
    ],
)
def test_parse_wait_value_every_form(value: str, unit: str, expected: float | None) -> None:
    result = parse_wait_value(value, unit, now=NOW)  # type: ignore[arg-type]
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_server_wait_reads_headers_in_order_and_case_insensitively() -> None:
    policy = RetryPolicy()
    assert policy.server_wait({"retry-after": "3"}, status_code=429, now=NOW) == 3.0
    assert policy.server_wait({"Retry-After-Ms": "200"}, status_code=503, now=NOW) == 0.2
    assert policy.server_wait({"X-Retry-After": "4"}, status_code=429, now=NOW) == 4.0
    # An invalid first candidate falls through to the next one.
    both = {"retry-after-ms": "garbage", "Retry-After": "1.5"}
    assert policy.server_wait(both, status_code=429, now=NOW) == 1.5
    assert policy.server_wait({}, status_code=429, now=NOW) is None


def test_platform_ms_headers_only_on_429() -> None:
    bc = RetryPolicy(wait_headers=BIGCOMMERCE_WAIT_HEADERS)
    headers = {"X-Rate-Limit-Time-Reset-Ms": "15000"}
    assert bc.server_wait(headers, status_code=429, now=NOW) == 15.0
    # BigCommerce sends the window reset on every response: a 500 must not wait for it.
    assert bc.server_wait(headers, status_code=500, now=NOW) is None
    tn = RetryPolicy(wait_headers=TIENDANUBE_WAIT_HEADERS)
    assert tn.server_wait({"x-rate-limit-reset": "750"}, status_code=429, now=NOW) == 0.75
    custom = RetryPolicy(wait_headers=(WaitHeader("X-Wait-Ms", "milliseconds"),))
    assert custom.server_wait({"x-wait-ms": "10"}, status_code=503, now=NOW) == 0.01


# --- pure decisions ---------------------------------------------------------------------------


def test_backoff_is_exponential_capped_and_jittered_within_bounds() -> None:
    exact = RetryPolicy(base_delay=1.0, multiplier=2.0, max_delay=10.0, jitter=0.0)
    assert [exact.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    jittered = RetryPolicy(base_delay=1.0, jitter=0.5, rng=random.Random(3))
    for n in range(1, 5):
        full = 2.0 ** (n - 1)
        assert full * 0.5 <= jittered.backoff(n) <= full
    # Same seed, same waits: tests can be exact.
    a = RetryPolicy(rng=random.Random(42))
    b = RetryPolicy(rng=random.Random(42))
    assert [a.backoff(n) for n in range(1, 5)] == [b.backoff(n) for n in range(1, 5)]


def test_decide_caps_attempts_and_total_wait() -> None:
    policy = RetryPolicy(max_attempts=3, max_total_wait=10.0, base_delay=4.0, jitter=0.0)
    assert policy.decide(attempt=1, waited=0.0, server_wait=None) == 4.0
    assert policy.decide(attempt=2, waited=4.0, server_wait=None) == 6.0  # clamped to budget
    assert policy.decide(attempt=3, waited=0.0, server_wait=None) is None  # attempts spent
    assert policy.decide(attempt=1, waited=10.0, server_wait=None) is None  # budget spent
    # A server wait within the budget is honoured exactly, even above max_delay.
    assert policy.decide(attempt=1, waited=0.0, server_wait=9.5) == 9.5
    # Beyond the remaining budget: give up at once.
    assert policy.decide(attempt=1, waited=2.0, server_wait=9.0) is None


def test_rate_limit_without_header_uses_its_own_progressive_base() -> None:
    policy = RetryPolicy(base_delay=0.1, rate_limit_base_delay=1.0, jitter=0.0)
    assert policy.decide(attempt=1, waited=0, server_wait=None, rate_limited=True) == 1.0
    assert policy.decide(attempt=2, waited=1, server_wait=None, rate_limited=True) == 2.0
    assert policy.decide(attempt=1, waited=0, server_wait=None) == 0.1


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)
    assert RetryPolicy.no_retry().max_attempts == 1


# --- the engine's loop ------------------------------------------------------------------------


def test_get_retries_5xx_with_backoff_on_the_fake_clock() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(503), httpx.Response(502), ok({"id": 1})])
    policy = RetryPolicy(base_delay=1.0, jitter=0.0)
    with make_engine(handler, clock, retry=policy) as engine:
        response = engine.get("orders/1.json")
    assert response.body == {"id": 1}
    assert response.attempts == 3
    assert len(seen) == 3
    assert clock.sleeps == [1.0, 2.0]
    snap = engine.stats.snapshot()
    assert snap["retries"] == 2
    assert snap["backoff_wait"] == 3.0
    assert snap["responses"] == {200: 1, 502: 1, 503: 1}


@pytest.mark.parametrize(
    "retry_after", ["2", "2.5", "Mon, 01 Jan 2024 00:00:04 GMT"], ids=["int", "decimal", "date"]
)
def test_429_honours_retry_after(retry_after: str) -> None:
    clock = FakeClock()
    expected = {"2": 2.0, "2.5": 2.5}.get(retry_after, 4.0)
    handler, _ = scripted([httpx.Response(429, headers={"Retry-After": retry_after}), ok()])
    with make_engine(handler, clock) as engine:
        engine.get("shop.json")
    assert clock.sleeps == [pytest.approx(expected)]


@pytest.mark.parametrize(
    ("policy", "headers", "expected"),
    [
        (
            RetryPolicy(wait_headers=BIGCOMMERCE_WAIT_HEADERS),
            {"X-Rate-Limit-Time-Reset-Ms": "1200"},
            1.2,
        ),
        (RetryPolicy(wait_headers=BIGCOMMERCE_WAIT_HEADERS), {"X-Retry-After": "3"}, 3.0),
        (RetryPolicy(wait_headers=TIENDANUBE_WAIT_HEADERS), {"x-rate-limit-reset": "500"}, 0.5),
        (RetryPolicy(), {"retry-after-ms": "50"}, 0.05),
    ],
    ids=[
        "bigcommerce-reset-ms",
        "bigcommerce-x-retry-after",
        "tiendanube-reset-ms",
        "retry-after-ms",
    ],
)
def test_429_honours_platform_wait_headers(
    policy: RetryPolicy, headers: dict[str, str], expected: float
) -> None:
    clock = FakeClock()
    handler, _ = scripted([httpx.Response(429, headers=headers), ok()])
    with make_engine(handler, clock, retry=policy) as engine:
        engine.get("x")
    assert clock.sleeps == [pytest.approx(expected)]


def test_429_without_wait_header_backs_off_progressively() -> None:
    clock = FakeClock()
    handler, _ = scripted([httpx.Response(429)] * 3 + [ok()])
    policy = RetryPolicy(rate_limit_base_delay=1.0, jitter=0.0)
    with make_engine(handler, clock, retry=policy) as engine:
        engine.get("x")
        assert engine.stats.snapshot()["rate_limited"] == 3
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_attempt_cap_raises_the_last_retriable_error() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(500, json={"errors": "boom"})] * 3)
    with make_engine(handler, clock, retry=RetryPolicy(max_attempts=3, jitter=0)) as engine:
        with pytest.raises(ServerError) as info:
            engine.get("x")
        assert engine.stats.snapshot()["give_ups"] == 1
    assert len(seen) == 3
    assert info.value.status_code == 500
    assert info.value.message == "boom"


def test_server_wait_beyond_budget_gives_up_at_once_with_retry_after() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(429, headers={"Retry-After": "600"})])
    policy = RetryPolicy(max_total_wait=60.0)
    with make_engine(handler, clock, retry=policy) as engine, pytest.raises(RateLimitError) as info:
        engine.get("x")
    assert len(seen) == 1
    assert clock.slept == 0.0  # no pointless waiting
    assert info.value.retry_after == 600.0


def test_total_wait_cap_bounds_the_sum_of_backoffs() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(503)] * 10)
    policy = RetryPolicy(max_attempts=10, max_total_wait=5.0, base_delay=2.0, jitter=0.0)
    with make_engine(handler, clock, retry=policy) as engine, pytest.raises(ServerError):
        engine.get("x")
    assert clock.slept == pytest.approx(5.0)  # 2 + 3 (clamped), then the budget is spent
    assert len(seen) == 3


def test_non_idempotent_post_is_not_retried_on_5xx() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(502)])
    with make_engine(handler, clock) as engine, pytest.raises(ServerError):
        engine.post("ecomOrders", json={"ecomOrder": {"externalid": "1"}})
    assert len(seen) == 1
    assert clock.slept == 0.0


def test_non_idempotent_post_is_not_retried_after_a_read_timeout() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.ReadTimeout("timed out")])
    with make_engine(handler, clock) as engine, pytest.raises(TransportError):
        engine.post("contacts", json={"contact": {}})
    assert len(seen) == 1


def test_non_idempotent_post_is_retried_on_429_and_connect_errors() -> None:
    clock = FakeClock()
    handler, seen = scripted(
        [httpx.ConnectError("refused"), httpx.Response(429, headers={"Retry-After": "1"}), ok()]
    )
    with make_engine(handler, clock) as engine:
        assert engine.post("contacts", json={"contact": {}}).body == {"ok": True}
    assert len(seen) == 3


def test_idempotent_post_is_retried_like_a_read() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(500), httpx.ReadTimeout("slow"), ok()])
    with make_engine(handler, clock) as engine:
        engine.post("v2/orders/search", json={"limit": 500}, idempotent=True)
    assert len(seen) == 3


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectTimeout("connect"),
        httpx.ReadTimeout("read"),
        httpx.ReadError("reset by peer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_errors_are_retried_then_raised_as_transport_error(exc: Exception) -> None:
    clock = FakeClock()
    handler, seen = scripted([exc] * 3)
    with make_engine(handler, clock, retry=RetryPolicy(max_attempts=3)) as engine:
        with pytest.raises(TransportError) as info:
            engine.get("orders.json", params={"access_token": "leaky"})
        assert engine.stats.snapshot()["transport_errors"] == 3
    assert len(seen) == 3
    assert type(exc).__name__ in str(info.value)
    assert "leaky" not in str(info.value)
    assert info.value.platform == "testshop"
    assert isinstance(info.value.__cause__, httpx.TransportError)


def test_a_transport_error_echoing_a_secret_is_not_chained() -> None:
    clock = FakeClock()
    handler, _ = scripted([httpx.ConnectError(f"proxy said {TOKEN}")])
    engine = make_engine(handler, clock, retry=RetryPolicy.no_retry())
    with engine, pytest.raises(TransportError) as info:
        engine.get("x")
    assert info.value.__cause__ is None
    assert TOKEN not in "".join(traceback.format_exception(info.value))


@pytest.mark.parametrize(
    "bad",
    [
        httpx.Response(200, content=b'{"orders": [{"id": 1}, {"id"'),
        httpx.Response(
            200, content=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"}
        ),
        httpx.Response(200, content=b""),
    ],
    ids=["truncated", "html", "empty"],
)
def test_malformed_json_is_retried_then_raised(bad: httpx.Response) -> None:
    clock = FakeClock()
    handler, seen = scripted([bad, ok({"orders": []})])
    with make_engine(handler, clock) as engine:
        assert engine.get("orders.json").body == {"orders": []}
        assert engine.stats.snapshot()["malformed"] == 1
    handler, seen = scripted([bad] * 2)
    policy = RetryPolicy(max_attempts=2)
    with (
        make_engine(handler, clock, retry=policy) as engine,
        pytest.raises(MalformedResponseError) as info,
    ):
        engine.get("orders.json")
    assert len(seen) == 2
    assert info.value.status_code == 200
    assert info.value.retry_after is None


def test_malformed_body_of_a_post_is_not_retried() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(201, content=b"{")])
    with make_engine(handler, clock) as engine, pytest.raises(MalformedResponseError):
        engine.post("contacts", json={})
    assert len(seen) == 1


def test_client_errors_are_never_retried() -> None:
    clock = FakeClock()
    handler, seen = scripted([httpx.Response(422, json={"errors": {"email": ["is invalid"]}})])
    with make_engine(handler, clock) as engine, pytest.raises(ClientRequestError):
        engine.get("x")
    assert len(seen) == 1


def test_graphql_throttled_with_http_200_is_retried_after_the_cost_restores() -> None:
    from commerce_connectors._http import DefaultErrorMapper

    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 202,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 1000,
                    "currentlyAvailable": 2,
                    "restoreRate": 50,
                },
            }
        },
    }
    clock = FakeClock()
    handler, _ = scripted([ok(throttled), ok({"data": {"shop": {}}})])
    mapper = DefaultErrorMapper(graphql=True)
    with make_engine(handler, clock, error_mapper=mapper) as engine:
        response = engine.post("graphql.json", json={"query": "{shop{id}}"}, idempotent=True)
        assert engine.stats.snapshot()["rate_limited"] == 1
    assert response.body == {"data": {"shop": {}}}
    assert clock.sleeps == [pytest.approx(4.0)]  # (202 - 2) / 50
