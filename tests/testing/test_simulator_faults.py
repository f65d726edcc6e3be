"""Fault injection: each fault type, targeting, counting, determinism, mutate-while-paging."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import (
    ConnectionReset,
    ErrorStatus,
    Fault,
    Latency,
    MalformedBody,
    Mutate,
    RateLimitBurst,
    ShopifyRestRateLimit,
    SlowResponse,
)

from .demo import DemoShop, MakeShop


def _client(sim: DemoShop, **kwargs: object) -> httpx.Client:
    return httpx.Client(transport=sim.transport(), base_url="https://demo.test", **kwargs)  # type: ignore[arg-type]


def _statuses(sim: DemoShop, n: int, path: str = "/shop.json") -> list[int]:
    with _client(sim) as c:
        return [c.get(path).status_code for _ in range(n)]


# --------------------------------------------------------------------------- latency
def test_latency_sleeps_on_the_clock(make_shop: MakeShop, clock: FakeClock) -> None:
    sim = make_shop(faults=[Latency(seconds=0.25)])
    assert _statuses(sim, 4) == [200] * 4
    assert clock.sleeps == [0.25] * 4
    assert [e.time for e in sim.log] == [0.0, 0.25, 0.5, 0.75]
    assert all(e.faults == ("latency",) for e in sim.log)


def test_latency_jitter_is_seeded(make_shop: MakeShop, clock: FakeClock) -> None:
    def sleeps(seed: int) -> list[float]:
        clock.sleeps.clear()
        _statuses(make_shop(faults=[Latency(seconds=0.1, jitter=0.5)], seed=seed), 5)
        return list(clock.sleeps)

    first = sleeps(1)
    assert first == sleeps(1)
    assert first != sleeps(2)
    assert all(0.1 <= s < 0.6 for s in first)


# --------------------------------------------------------------------------- 429 bursts
def test_rate_limit_burst_answers_n_consecutive_429s(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[RateLimitBurst(length=3, retry_after=2.0, on=2)])
    with _client(sim) as c:
        responses = [c.get("/shop.json") for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 429, 429, 429, 200, 200]
    assert responses[1].headers["Retry-After"] == "2.0"
    assert responses[1].json() == {"errors": "Too Many Requests"}
    assert sim.log.filter(status=429)[0].faults == ("rate_limit_burst",)


@pytest.mark.parametrize(("header", "present"), [("X-Retry-After", True), (None, False)])
def test_rate_limit_burst_header_styles(
    make_shop: MakeShop, header: str | None, present: bool
) -> None:
    sim = make_shop(faults=[RateLimitBurst(length=1, retry_after=1.5, header=header)])
    with _client(sim) as c:
        r = c.get("/shop.json")
    assert r.status_code == 429
    assert ("X-Retry-After" in r.headers) is present
    assert "Retry-After" not in r.headers


def test_burst_count_limited_by_times(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[RateLimitBurst(length=2, times=2, on=(1, 5, 9))])
    assert _statuses(sim, 10) == [429, 429, 200, 200, 429, 429, 200, 200, 200, 200]


# --------------------------------------------------------------------------- 5xx
def test_the_third_request_gets_a_503(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[ErrorStatus(status=503, on=3)])
    assert _statuses(sim, 5) == [200, 200, 503, 200, 200]


def test_error_status_uses_the_platform_error_shape(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[ErrorStatus(status=502, message="Bad Gateway")])
    with _client(sim) as c:
        r = c.get("/shop.json")
    assert (r.status_code, r.json()) == (502, {"errors": "Bad Gateway"})
    assert r.headers["X-Demo-Version"] == "1"


def test_5xx_at_a_rate_is_seeded_and_roughly_that_rate(make_shop: MakeShop) -> None:
    def run(seed: int) -> list[int]:
        return _statuses(make_shop(faults=[ErrorStatus(status=500, rate=0.25)], seed=seed), 400)

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 60 <= first.count(500) <= 140


def test_adding_a_fault_does_not_change_the_dice_of_another(make_shop: MakeShop) -> None:
    flaky = ErrorStatus(status=500, rate=0.3)
    alone = _statuses(make_shop(faults=[flaky], seed=3), 100)
    with_other = make_shop(faults=[flaky, Latency(seconds=0.01, rate=0.5)], seed=3)
    # Reusing the same frozen fault in a second simulator starts fresh counters too.
    assert _statuses(with_other, 100) == alone


def test_times_limits_a_fault(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[ErrorStatus(status=500, times=2)])
    assert _statuses(sim, 4) == [500, 500, 200, 200]


def test_faults_target_routes_and_methods(make_shop: MakeShop) -> None:
    sim = make_shop(
        faults=[
            ErrorStatus(status=503, route="/orders/{id}.json", on=2),
            ErrorStatus(status=500, method="post"),
        ]
    )
    with _client(sim) as c:
        got = [
            c.get("/orders/1.json").status_code,
            c.get("/shop.json").status_code,
            c.get("/orders/2.json").status_code,  # 2nd request on that route
            c.get("/orders/3.json").status_code,
            c.post("/orders.json", json={}).status_code,
        ]
    assert got == [200, 200, 503, 200, 500]
    assert len(sim.store) == 5  # the failed POST never reached the handler


def test_untargeted_faults_also_hit_unknown_routes(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[ErrorStatus(status=503, on=1)])
    assert _statuses(sim, 2, "/nowhere") == [503, 404]


def test_several_faults_on_one_request_are_all_logged(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[Latency(seconds=0.1), ErrorStatus(status=500, on=1)])
    _statuses(sim, 1)
    assert sim.log.entries[0].faults == ("latency", "error_status")


def test_clear_faults(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[ErrorStatus(status=500)])
    sim.clear_faults()
    assert _statuses(sim, 2) == [200, 200]
    sim.add_fault(ErrorStatus(status=500, on=2))
    assert _statuses(sim, 2) == [200, 500]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ErrorStatus(rate=1.5), "rate"),
        (lambda: ErrorStatus(on=0), "1-based"),
        (lambda: ErrorStatus(on=(1, -2)), "1-based"),
    ],
)
def test_fault_validation(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_fault_base_targets() -> None:
    f = Fault(route="/a", method="get")
    assert f.method == "GET"
    assert f.targets("get", "/a")
    assert not f.targets("POST", "/a")
    assert not f.targets("GET", None)


# --------------------------------------------------------------------------- resets
@pytest.mark.parametrize(
    ("mode", "error"), [("reset", httpx.ReadError), ("disconnect", httpx.RemoteProtocolError)]
)
def test_connection_reset_in_process(
    make_shop: MakeShop, mode: str, error: type[Exception]
) -> None:
    sim = make_shop(faults=[ConnectionReset(mode=mode, on=1)])  # type: ignore[arg-type]
    with _client(sim) as c:
        with pytest.raises(error):
            c.post("/orders.json", json={"order": {"name": "lost"}})
        assert c.get("/shop.json").status_code == 200
    assert len(sim.store) == 5  # the handler never ran
    first = sim.log.entries[0]
    assert (first.status, first.faults) == (None, ("connection_reset",))
    assert first.json == {"order": {"name": "lost"}}


@pytest.mark.parametrize("mode", ["reset", "disconnect"])
def test_connection_reset_served_drops_the_socket(make_shop: MakeShop, mode: str) -> None:
    sim = make_shop(faults=[ConnectionReset(mode=mode, on=2)])  # type: ignore[arg-type]
    with sim.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        assert c.get("/shop.json").status_code == 200  # opens a keep-alive connection
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            c.get("/shop.json")
        assert c.get("/shop.json").status_code == 200  # a new connection works
    assert [e.status for e in sim.log] == [200, None, 200]


# --------------------------------------------------------------------------- malformed bodies
def test_truncated_body_keeps_status_and_is_invalid_json(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[MalformedBody(mode="truncate", on=1)])
    with _client(sim) as c:
        whole = c.get("/orders.json").content
        r = c.get("/orders.json")
    # The first request was corrupted, the second is whole: compare lengths.
    assert r.status_code == 200
    assert len(whole) == len(r.content) // 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(whole)
    assert sim.log.entries[0].faults == ("malformed_body",)


@pytest.mark.parametrize(
    ("mode", "content_type"), [("garbage", "application/json"), ("html", "text/html")]
)
def test_malformed_modes(make_shop: MakeShop, mode: str, content_type: str) -> None:
    sim = make_shop(faults=[MalformedBody(mode=mode)])  # type: ignore[arg-type]
    with _client(sim) as c:
        r = c.get("/shop.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(content_type)
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        r.json()


def test_malformed_body_spares_error_responses(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[MalformedBody()])
    with _client(sim) as c:
        assert c.get("/nowhere").json() == {"errors": "Not Found: GET /nowhere"}


def test_malformed_body_served(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[MalformedBody(mode="truncate", on=1)])
    with sim.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        r = c.get("/orders.json")
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == len(r.content)
        with pytest.raises(json.JSONDecodeError):
            r.json()
        assert c.get("/orders.json").json()["orders"]


# --------------------------------------------------------------------------- slow responses
def test_slow_response_beyond_the_client_timeout_raises_read_timeout(
    make_shop: MakeShop, clock: FakeClock
) -> None:
    sim = make_shop(faults=[SlowResponse(seconds=30.0, on=1)])
    with _client(sim, timeout=5.0) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/shop.json")
        assert c.get("/shop.json").status_code == 200
    assert clock.slept == 5.0  # the client waited its timeout, in fake time
    assert [e.status for e in sim.log] == [None, 200]


def test_slow_response_within_the_timeout_just_takes_long(
    make_shop: MakeShop, clock: FakeClock
) -> None:
    sim = make_shop(faults=[SlowResponse(seconds=2.0)])
    with _client(sim, timeout=5.0) as c:
        assert c.get("/shop.json").status_code == 200
    with _client(sim, timeout=None) as c:
        assert c.get("/shop.json").status_code == 200
    assert clock.sleeps == [2.0, 2.0]


def test_slow_response_served_really_times_out(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[SlowResponse(seconds=0.3, on=1)])
    with sim.serve() as base_url, httpx.Client(base_url=base_url, timeout=5.0) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/shop.json", timeout=httpx.Timeout(5.0, read=0.1))
        # A generous timeout for the healthy request, so a loaded machine cannot flake it.
        assert c.get("/shop.json").status_code == 200


# --------------------------------------------------------------------------- mutate while paging
def _bump_first_record(sim: DemoShop, clock: FakeClock) -> Mutate:
    def bump(request: httpx.Request) -> None:
        # Record 1 was on page 1; edited "now", it sorts after every other record.
        sim.store.update(1, {"note": "edited"})

    return Mutate(hook=bump, on=2)


def test_mutate_between_offset_pages_reproduces_the_skipped_record(
    make_shop: MakeShop, clock: FakeClock
) -> None:
    sim = make_shop()
    sim.add_fault(_bump_first_record(sim, clock))
    seen: list[int] = []
    with _client(sim) as c:
        for page in (1, 2, 3):
            seen += [o["id"] for o in c.get("/pages.json", params={"page": page}).json()]
    # Offset pagination over a moving sort: record 3 is skipped and record 1 comes twice.
    assert seen == [1, 2, 4, 5, 1]
    assert [e.faults for e in sim.log] == [(), ("mutate",), ()]


def test_mutate_between_cursor_pages_loses_nothing(make_shop: MakeShop, clock: FakeClock) -> None:
    sim = make_shop()
    sim.add_fault(_bump_first_record(sim, clock))
    seen: list[int] = []
    url: str | None = "/orders.json?limit=2"
    with _client(sim) as c:
        while url:
            r = c.get(url)
            seen += [o["id"] for o in r.json()["orders"]]
            url = r.links.get("next", {}).get("url")
    # Keyset pages: every record is seen; the edited one again, with its new updated_at.
    assert seen == [1, 2, 3, 4, 5, 1]
    assert sim.store.get(1).data["note"] == "edited"  # type: ignore[union-attr]
    assert sim.store.get(1).updated_at == clock.now()  # type: ignore[union-attr]


def test_mutate_can_insert_during_paging(make_shop: MakeShop) -> None:
    sim = make_shop()

    def insert(request: httpx.Request) -> None:
        old = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        sim.store.insert({"name": "#late"}, created_at=old)

    sim.add_fault(Mutate(hook=insert, route="/orders.json", method="GET", on=2, times=1))
    with _client(sim) as c:
        first = c.get("/orders.json", params={"limit": 2}).json()["orders"]
        c.get("/shop.json")  # not the targeted route: does not count
        nxt = c.get("/orders.json", params={"limit": 10}).json()["orders"]
    assert [o["id"] for o in first] == [1, 2]
    assert nxt[0]["id"] == 6  # the old-dated insert sorts first


def test_simulator_reset_replays_the_same_scenario(make_shop: MakeShop) -> None:
    sim = make_shop(
        faults=[ErrorStatus(status=500, rate=0.3), RateLimitBurst(length=2, on=4)],
        rate_limit=ShopifyRestRateLimit(capacity=8, leak_rate=1.0),
    )
    first = _statuses(sim, 12)
    assert 429 in first
    sim.reset()
    assert len(sim.log) == 0
    assert _statuses(sim, 12) == first
