"""BigCommerce's retry policy: transient failures retried within seconds, a repeated 500
retried at least a minute apart, and syncs that finish under a steady 10 % of 5xx.

BigCommerce's status-codes page, on a 500: "Re-attempt the request three to five times,
with increasing delays of at least a minute between attempts". Waiting a minute or two
after *every* 5xx made a sync of a store under a steady 10 % of random 5xx answers spend
hours backing off; gateway errors, timeouts and one-off 500s now cost seconds, and only a
500 that repeats waits as BigCommerce asks. Everything runs in fake time.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any

import httpx
import pytest

from commerce_connectors._http import RetryPolicy
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ServerError
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector, BigCommerceRetryPolicy
from commerce_connectors.platforms.bigcommerce import constants as c
from commerce_connectors.platforms.bigcommerce._retry import WAIT_HEADERS
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine, SyncStatus
from commerce_connectors.testing.simulator import ConnectionReset, ErrorStatus, Fault, SlowResponse
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

STORE = "/stores/{store_hash}/v2/store"
NOW = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
#: Four faults, one per status, each firing with this probability: together a request
#: gets a 5xx with probability 1 - (1 - r) ** 4 = 10 %, spread evenly over 500/502/503/504.
EACH = 1 - 0.9**0.25


def store_info_with(
    faults: list[Fault], **kwargs: Any
) -> tuple[BigCommerceSimulator, ConcurrentFakeClock, BigCommerceConnector]:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=1, orders=5, clock=clock, quota=0, faults=faults)
    conn = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        **kwargs,
    )
    return sim, clock, conn


# ---------------------------------------------------------------- the policy, through the engine


def test_a_repeated_500_is_retried_at_least_a_minute_apart() -> None:
    sim, clock, conn = store_info_with([ErrorStatus(status=500, on=(1, 2, 3), route=STORE)])
    with conn:
        assert conn.store_info()["name"] == "Simulated Store"
        assert conn.stats.retries == 3
    assert [e.status for e in sim.log.entries] == [500, 500, 500, 200]
    first, second, third = clock.sleeps
    assert first <= c.TRANSIENT_BASE_DELAY_SECONDS  # one 500 is likely a one-off
    assert 60.0 <= second <= 120.0  # it repeated: BigCommerce's minute, at least
    assert 120.0 <= third <= 240.0  # and increasing
    assert isinstance(conn.engine.retry, BigCommerceRetryPolicy)


def test_a_500_that_keeps_coming_back_is_re_attempted_five_times_then_given_up() -> None:
    sim, clock, conn = store_info_with([ErrorStatus(status=500, route=STORE)])
    with conn, pytest.raises(ServerError) as failed:
        conn.store_info()
    assert [e.status for e in sim.log.entries] == [500] * 6  # "three to five times"
    short, *long = clock.sleeps
    assert short <= 1.0
    assert len(long) == 4
    assert all(wait >= 60.0 for wait in long)
    assert long == sorted(long)
    assert sum(clock.sleeps) <= c.RETRY_MAX_TOTAL_WAIT_SECONDS
    assert failed.value.status_code == 500


@pytest.mark.parametrize(
    "fault",
    [
        ErrorStatus(status=502, message="Bad Gateway", on=(1, 2, 3), route=STORE),
        ErrorStatus(status=503, on=(1, 2, 3), route=STORE),
        ErrorStatus(status=504, message="Gateway Timeout", on=(1, 2, 3), route=STORE),
        ConnectionReset(on=(1, 2, 3), route=STORE),
        SlowResponse(seconds=60.0, on=(1, 2, 3), route=STORE),  # past the 30 s read timeout
    ],
    ids=["502", "503", "504", "reset", "timeout"],
)
def test_gateway_errors_and_timeouts_are_retried_within_seconds(fault: Fault) -> None:
    sim, clock, conn = store_info_with([fault])
    with conn:
        assert conn.store_info()["name"] == "Simulated Store"
        assert conn.stats.retries == 3
    assert [e.status for e in sim.log.entries][-1] == 200
    waits = [w for w in clock.sleeps if w != 30.0]  # a timeout sleeps its 30 s read first
    assert len(waits) == 3
    assert max(waits) <= 4.0  # 0.5-1 s, 1-2 s, 2-4 s


def test_a_500_between_gateway_errors_is_not_a_repeat() -> None:
    faults: list[Fault] = [
        ErrorStatus(status=502, on=(1, 3), route=STORE),
        ErrorStatus(status=500, on=(2,), route=STORE),
    ]
    sim, clock, conn = store_info_with(faults)
    with conn:
        conn.store_info()
    assert [e.status for e in sim.log.entries] == [502, 500, 502, 200]
    assert max(clock.sleeps) <= 4.0


def test_a_retry_after_on_a_503_is_honoured() -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "7"}, json=[{"status": 503}])])
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"name": "S", "currency": "USD"}))

    with BigCommerceConnector(
        store_hash="abc123",
        access_token="tok-0123456789",
        transport=httpx.MockTransport(handler),
        clock=clock,
    ) as conn:
        conn.store_info()
        assert conn.stats.backoff_wait == 7.0


# ---------------------------------------------------------------- the policy alone


def _failure(policy: RetryPolicy, attempt: int, status: int | None) -> float | None:
    if status is not None:  # the engine asks for the server's wait only with a response
        policy.server_wait({}, status_code=status, now=NOW)
    return policy.decide(attempt=attempt, waited=0.0, server_wait=None)


def test_the_policy_tells_calls_on_different_threads_apart() -> None:
    # Two calls fail at once on two threads, each with its first 500: neither is a repeat.
    policy = BigCommerceRetryPolicy(rng=random.Random(3))
    barrier = threading.Barrier(2, timeout=5)
    waits: dict[str, list[float | None]] = {}

    def call(name: str) -> None:
        got = []
        for attempt in (1, 2):
            policy.server_wait({}, status_code=500 if attempt == 1 else 502, now=NOW)
            barrier.wait()  # the other thread's failure lands in between
            got.append(policy.decide(attempt=attempt, waited=0.0, server_wait=None))
        waits[name] = got

    threads = [threading.Thread(target=call, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(w is not None and w <= 2.0 for got in waits.values() for w in got)


def test_a_new_call_starts_afresh() -> None:
    policy = BigCommerceRetryPolicy(jitter=0.0)
    assert _failure(policy, 1, 500) == 1.0
    assert _failure(policy, 1, 500) == 1.0  # attempt 1 again: another call, a first 500
    assert _failure(policy, 2, 500) == 120.0


def test_a_long_wait_is_never_shortened_to_fit_the_budget() -> None:
    policy = BigCommerceRetryPolicy(jitter=0.0)
    _failure(policy, 1, 500)
    policy.server_wait({}, status_code=500, now=NOW)
    assert policy.decide(attempt=2, waited=1000.0, server_wait=None) is None  # 120 > 80 left


def test_429s_keep_their_own_path() -> None:
    policy = BigCommerceRetryPolicy(jitter=0.0)
    headers = {"X-Rate-Limit-Time-Reset-Ms": "2500"}
    wait = policy.server_wait(headers, status_code=429, now=NOW)
    assert policy.decide(attempt=1, waited=0.0, server_wait=wait, rate_limited=True) == 2.5
    policy.server_wait({}, status_code=429, now=NOW)
    assert policy.decide(attempt=2, waited=0.0, server_wait=None, rate_limited=True) == 2.0


def test_other_platforms_keep_the_shared_policy() -> None:
    # Nothing changed in the shared engine or RetryPolicy: its backoff is what it was.
    policy = RetryPolicy(jitter=0.0)
    assert [policy.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert not isinstance(policy, BigCommerceRetryPolicy)


# ---------------------------------------------------------------- whole syncs under 10 % 5xx


def _sync(
    seed: int, faults: list[Fault], retry: RetryPolicy | None = None, *, embed: bool = True
) -> tuple[Any, MemorySink, BigCommerceConnector]:
    clock = FakeClock()
    sim = BigCommerceSimulator(
        seed=seed, customers=30, orders=120, products=15, clock=clock, faults=faults
    )
    conn = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        page_size=5,  # many small pages: many requests for the faults to hit
        retry=retry,
        embed_order_lines=embed,
    )
    sink = MemorySink()
    with conn:
        report = SyncEngine(conn, sink, MemoryStateStore(), clock=clock).run("historical")
    return report, sink, conn


def _random_5xx() -> list[Fault]:
    return [ErrorStatus(status=s, rate=EACH) for s in (500, 502, 503, 504)]


@pytest.mark.parametrize("seed", range(6))
def test_a_sync_under_ten_percent_random_5xx_finishes_with_the_exact_record_set(
    seed: int,
) -> None:
    clean, clean_sink, _ = _sync(seed, [])
    report, sink, conn = _sync(seed, _random_5xx())
    assert report.status is SyncStatus.OK, report.error
    assert conn.stats.give_ups == 0
    faulted = conn.stats.snapshot()["responses"]
    assert sum(n for status, n in faulted.items() if status >= 500) >= report.requests * 0.05
    assert sink.snapshot() == clean_sink.snapshot()  # the very same records, field by field
    assert [(s.stream, s.read, s.written, s.dead_lettered) for s in report.streams.values()] == [
        (s.stream, s.read, s.written, s.dead_lettered) for s in clean.streams.values()
    ]
    # Seconds of backing off, not hours: a repeated 500 (1 % of calls) waits its minute.
    assert report.retry_wait < 60.0 * (1 + faulted.get(500, 0) // 4)


def test_the_old_policy_spent_most_of_an_hour_backing_off_where_this_one_spends_seconds() -> None:
    old = RetryPolicy(  # every 5xx and timeout waited 60-120 s, then more
        wait_headers=WAIT_HEADERS, base_delay=120.0, max_delay=300.0, max_total_wait=960.0
    )
    # Both with a request per order or two (the sub-request path), as syncs were then.
    before, before_sink, _ = _sync(0, _random_5xx(), retry=old, embed=False)
    after, after_sink, _ = _sync(0, _random_5xx(), embed=False)
    assert before.status is after.status is SyncStatus.OK
    assert before_sink.snapshot() == after_sink.snapshot()
    # 120 orders, 341 requests: some 30 failed requests at 60-120 s each.
    assert before.retry_wait > 2700.0
    assert after.retry_wait < before.retry_wait / 20
