"""The request log and its assertion helpers."""

from __future__ import annotations

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.testing.simulator import ConnectionReset, ErrorStatus, RequestLog
from commerce_connectors.testing.simulators.square import SquareSimulator

from .demo import MakeShop


def _log(times: list[float], status: int = 200) -> RequestLog:
    log = RequestLog()
    for t in times:
        log.record(time=t, method="GET", path="/x", status=status)
    return log


def test_simulator_logs_everything_it_saw(make_shop: MakeShop, clock: FakeClock) -> None:
    sim = make_shop(faults=[ConnectionReset(on=3)])
    with httpx.Client(transport=sim.transport(), base_url="https://demo.test") as c:
        c.get("/orders.json", params={"limit": 2, "tag": ["a", "b"]})
        clock.advance(1.5)
        c.post("/orders.json", json={"order": {"name": "x"}})
        with pytest.raises(httpx.ReadError):
            c.get("/shop.json")
        c.get("/nowhere")
    first, second, third, fourth = sim.log.entries
    assert (first.seq, first.time, first.method, first.path) == (1, 0.0, "GET", "/orders.json")
    assert first.query == (("limit", "2"), ("tag", "a"), ("tag", "b"))
    assert first.params == {"limit": "2", "tag": "b"}
    assert (first.route, first.status, first.json) == ("/orders.json", 200, None)
    assert (second.time, second.status, second.json) == (1.5, 201, {"order": {"name": "x"}})
    assert (third.status, third.faults) == (None, ("connection_reset",))
    assert (fourth.status, fourth.route) == (404, None)
    assert sim.log.count_by_status() == {200: 1, 201: 1, None: 1, 404: 1}


def test_count_by_status_and_filter() -> None:
    log = RequestLog()
    log.record(time=0, method="get", path="/a", status=200, route="/a")
    log.record(time=0, method="GET", path="/a", status=429, faults=("rate_limited",))
    log.record(time=0, method="POST", path="/b", status=201)
    assert log.count_by_status() == {200: 1, 429: 1, 201: 1}
    assert [e.seq for e in log.filter(method="GET")] == [1, 2]
    assert [e.seq for e in log.filter(path="/b")] == [3]
    assert [e.seq for e in log.filter(route="/a")] == [1]
    assert [e.seq for e in log.filter(status=429)] == [2]
    assert [e.seq for e in log.filter(fault="rate_limited")] == [2]
    assert [e.seq for e in log.filter(method="GET", status=200)] == [1]
    assert "3 requests" in repr(log)


@pytest.mark.parametrize(
    ("times", "window", "expected"),
    [
        ([], 1.0, 0),
        ([0.0], 1.0, 1),
        ([0.0, 0.5, 0.99, 1.0, 1.5], 1.0, 3),  # [0, 1) holds 3; [0.5, 1.5) holds 3
        ([0.0, 0.1, 0.2, 5.0, 5.0, 5.0, 5.0], 1.0, 4),
        ([3.0, 1.0, 2.0], 10.0, 3),  # order of arrival does not matter
    ],
)
def test_max_in_window(times: list[float], window: float, expected: int) -> None:
    assert _log(times).max_in_window(window) == expected


def test_peak_rate_and_window_validation() -> None:
    log = _log([0.0, 0.25, 0.5, 0.75, 2.0])
    assert log.peak_rate(1.0) == 4.0
    assert log.peak_rate(0.5) == 4.0
    with pytest.raises(ValueError, match="positive"):
        log.max_in_window(0)


def test_peak_rate_of_a_client_against_the_simulator(make_shop: MakeShop, clock: FakeClock) -> None:
    sim = make_shop()
    with httpx.Client(transport=sim.transport(), base_url="https://demo.test") as c:
        for _ in range(10):
            c.get("/shop.json")
            clock.sleep(0.5)  # a client pacing itself at 2 requests/s
    assert sim.log.peak_rate(1.0) == 2.0
    assert sim.log.max_in_window(5.0) == 10


def test_repeated_pages(make_shop: MakeShop) -> None:
    sim = make_shop(faults=[ErrorStatus(status=503, on=2)])
    with httpx.Client(transport=sim.transport(), base_url="https://demo.test") as c:
        c.get("/pages.json", params={"page": 1, "limit": 2})
        c.get("/pages.json", params={"page": 2, "limit": 2})  # 503
        c.get("/pages.json", params={"limit": 2, "page": 2})  # a retry, params reordered
        c.get("/pages.json", params={"page": 1, "limit": 2})  # a real duplicate
    repeated = sim.log.repeated()
    assert [(e.seq, e.params) for e in repeated] == [(1, {"page": "1", "limit": "2"})]
    # Counting failed attempts too, the retried page 2 shows up as well.
    assert [e.seq for e in sim.log.repeated(successful_only=False)] == [1, 2]


def test_reset_starts_over() -> None:
    log = _log([0.0, 1.0])
    log.reset()
    assert len(log) == 0
    assert log.count_by_status() == {}
    log.record(time=2.0, method="GET", path="/x")
    assert log.entries[0].seq == 1
    assert list(log) == log.entries


def test_repeated_pages_of_post_paged_apis_are_told_apart_by_their_body(clock: FakeClock) -> None:
    """Square's searches page with a cursor in the body: one method and path, many pages.
    Only an identical body (key order aside) is a repeat."""
    sim = SquareSimulator(
        seed=1, customers=12, payments=0, products=0, max_page_size=5, clock=clock
    )
    with SquareConnector(
        access_token=sim.token,
        location_id=sim.locations[0].id,
        transport=sim.transport(),
        clock=clock,
    ) as conn:
        list(conn.iter_customers())
        searches = sim.log.filter(method="POST", path="/v2/customers/search", status=200)
        assert len(searches) == 3
        assert sim.log.repeated() == []
        # The first page once more, its keys in another order: a real repeat.
        first = searches[0].json
        conn.engine.post("/v2/customers/search", json=dict(reversed(list(first.items()))))
    assert [e.seq for e in sim.log.repeated()] == [searches[0].seq]
    assert searches[0].key[:3] == searches[1].key[:3]  # same method, path and (no) query


def test_a_request_without_a_json_body_keys_on_method_path_and_query() -> None:
    log = RequestLog()
    log.record(time=0, method="GET", path="/a", query=(("b", "2"), ("a", "1")), status=200)
    log.record(time=0, method="GET", path="/a", query=(("a", "1"), ("b", "2")), status=200)
    log.record(time=0, method="POST", path="/a", json={"page": 1}, status=200)
    log.record(time=0, method="POST", path="/a", json={"page": 2}, status=200)
    assert log.entries[0].key == ("GET", "/a", (("a", "1"), ("b", "2")), None)
    assert log.entries[2].key == ("POST", "/a", (), '{"page": 1}')
    assert [e.seq for e in log.repeated()] == [1]
