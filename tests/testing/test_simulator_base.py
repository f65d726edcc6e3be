"""The Simulator base: routing, 404s, hooks, in-process vs served parity, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import (
    ShopifyRestRateLimit,
    Simulator,
    json_response,
    request_json,
    route,
)

from .demo import DemoShop, MakeShop


def test_routes_dispatch_with_named_path_params(client: httpx.Client) -> None:
    r = client.get("/orders/3.json")
    assert r.status_code == 200
    assert r.json()["order"]["id"] == 3


def test_specific_route_defined_first_wins_over_parameterised_one(client: httpx.Client) -> None:
    assert client.get("/orders/count.json").json() == {"count": 5}


def test_unknown_route_is_404_in_the_platform_error_shape(
    client: httpx.Client, shop: DemoShop
) -> None:
    r = client.get("/nowhere.json")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"errors": "Not Found: GET /nowhere.json"}
    # The wrong method on a known path is unknown too.
    assert client.delete("/shop.json").status_code == 404
    assert [e.route for e in shop.log] == [None, None]


def test_param_does_not_cross_slashes(client: httpx.Client) -> None:
    assert client.get("/orders/1/2.json").status_code == 404


def test_default_error_body_and_add_route() -> None:
    sim = Simulator()
    sim.add_route("GET", "/items/{id}", lambda req, p: json_response({"id": p["id"]}))
    with httpx.Client(transport=sim.transport(), base_url="https://x.test") as c:
        assert c.get("/items/é").json() == {"id": "é"}
        assert c.get("/other").json() == {"error": "Not Found: GET /other", "status": 404}
    assert sim.routes == [("GET", "/items/{id}")]


def test_bad_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="start with"):
        Simulator().add_route("GET", "items", lambda r, p: json_response({}))


def test_response_headers_hook_applies_to_every_response(client: httpx.Client) -> None:
    for path in ("/shop.json", "/nowhere"):
        assert client.get(path).headers["X-Demo-Version"] == "1"


def test_before_request_can_answer_early(client: httpx.Client) -> None:
    assert client.get("/private/secrets.json").status_code == 401
    ok = client.get("/private/secrets.json", headers={"X-Token": "s3cret"})
    assert ok.json() == {"secret": 42}


def test_subclass_routes_inherit_and_overrides_keep_the_route() -> None:
    class Base(Simulator):
        @route("GET", "/a")
        def a(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
            return json_response({"from": "base"})

    class Child(Base):
        def a(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
            return json_response({"from": "child"})

        @route("GET", "/b")
        @route("GET", "/b2")
        def b(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
            return json_response({"b": True})

    sim = Child()
    with httpx.Client(transport=sim.transport(), base_url="https://x.test") as c:
        assert c.get("/a").json() == {"from": "child"}
        assert c.get("/b").json() == c.get("/b2").json() == {"b": True}
    assert Base().routes == [("GET", "/a")]


def test_post_body_is_seen_by_handler_and_log(client: httpx.Client, shop: DemoShop) -> None:
    r = client.post("/orders.json", json={"order": {"name": "#2000", "note": "Grüße"}})
    assert r.status_code == 201
    assert r.json()["order"]["id"] == 6
    assert shop.log.entries[-1].json == {"order": {"name": "#2000", "note": "Grüße"}}


def test_request_json_tolerates_non_json() -> None:
    assert request_json(httpx.Request("POST", "https://x.test", content=b"{nope")) is None
    assert request_json(httpx.Request("GET", "https://x.test")) is None


def test_handler_exception_propagates_in_process(client: httpx.Client) -> None:
    with pytest.raises(RuntimeError, match="handler bug"):
        client.get("/boom")


# --------------------------------------------------------------------------- served mode
REQUESTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/shop.json", {}),
    ("GET", "/orders.json", {"params": {"limit": "3"}}),
    ("GET", "/orders/2.json", {}),
    ("GET", "/orders/99.json", {}),
    ("GET", "/nowhere", {}),
    ("GET", "/private/secrets.json", {}),
    ("POST", "/orders.json", {"json": {"order": {"name": "Ünïcødé"}}}),
    ("GET", "/orders/count.json", {}),
]


def _transcript(client: httpx.Client) -> list[tuple[int, object, str | None, str | None]]:
    out = []
    for method, path, kwargs in REQUESTS:
        r = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        out.append(
            (
                r.status_code,
                r.json(),
                r.headers.get("X-Request-Id"),
                r.headers.get("X-Shopify-Shop-Api-Call-Limit"),
            )
        )
    return out


def test_same_handler_in_process_and_served_gives_the_same_answers(make_shop: MakeShop) -> None:
    in_process = make_shop(rate_limit=ShopifyRestRateLimit())
    served = make_shop(rate_limit=ShopifyRestRateLimit())
    with httpx.Client(transport=in_process.transport(), base_url="https://demo.test") as c:
        expected = _transcript(c)
    with served.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        assert base_url.startswith("http://127.0.0.1:")
        got = _transcript(c)
    # The Link header's host differs; the bodies, statuses and hook headers must not.
    assert got == expected
    assert [e.status for e in served.log] == [e.status for e in in_process.log]


def test_served_link_header_points_back_at_the_server(shop: DemoShop) -> None:
    with shop.serve() as base_url, httpx.Client(timeout=5) as c:
        r = c.get(base_url + "/orders.json", params={"limit": "2"})
        assert r.links["next"]["url"].startswith(base_url + "/orders.json?")
        assert c.get(r.links["next"]["url"]).json()["orders"][0]["id"] == 3


def test_served_handler_exception_becomes_a_500_and_server_survives(shop: DemoShop) -> None:
    with shop.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        r = c.get("/boom")
        assert r.status_code == 500
        assert "errors" in r.json()
        assert c.get("/shop.json").status_code == 200


def test_served_head_has_no_body(shop: DemoShop) -> None:
    shop.add_route("HEAD", "/shop.json", shop.shop)
    with shop.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        r = c.head("/shop.json")
        assert r.status_code == 200
        assert r.content == b""


def test_serve_shuts_down_cleanly_with_an_open_keep_alive_connection(shop: DemoShop) -> None:
    before = threading.active_count()
    with httpx.Client(timeout=5) as c:
        with shop.serve() as base_url:
            assert c.get(base_url + "/shop.json").status_code == 200
        # The client still holds its connection; the server is gone and its threads joined.
        assert threading.active_count() <= before, threading.enumerate()
        with pytest.raises(httpx.TransportError):
            c.get(base_url + "/shop.json")


# --------------------------------------------------------------------------- threads
def _hammer(get: Callable[[str], httpx.Response], n_threads: int, per_thread: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(per_thread):
            s = get("/shop.json").status_code
            with lock:
                statuses.append(s)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_thread_safe_in_process_rate_limit_admits_exactly_capacity(make_shop: MakeShop) -> None:
    sim = make_shop(rate_limit=ShopifyRestRateLimit(capacity=40, leak_rate=2.0))
    with httpx.Client(transport=sim.transport(), base_url="https://demo.test") as c:
        statuses = _hammer(c.get, n_threads=8, per_thread=25)
    # Fake time never moves, so exactly the bucket's capacity gets through.
    assert statuses.count(200) == 40
    assert statuses.count(429) == 160
    assert len(sim.log) == 200
    assert sorted(e.seq for e in sim.log) == list(range(1, 201))


def test_thread_safe_served(make_shop: MakeShop) -> None:
    sim = make_shop(rate_limit=ShopifyRestRateLimit(capacity=10, leak_rate=0.001))
    with sim.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        statuses = _hammer(c.get, n_threads=4, per_thread=5)
    assert statuses.count(200) == 10
    assert statuses.count(429) == 10


def test_default_clock_is_the_system_clock() -> None:
    assert type(Simulator().clock).__name__ == "SystemClock"
    assert isinstance(DemoShop.__mro__[1], type)
    assert "routes=" in repr(Simulator(clock=FakeClock()))


def test_served_chunked_request_body(shop: DemoShop) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"order": {"name": '
        yield b'"chunked"}}'

    with shop.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        r = c.post("/orders.json", content=body(), headers={"Content-Type": "application/json"})
        assert r.json()["order"]["name"] == "chunked"
    assert shop.log.entries[-1].json == {"order": {"name": "chunked"}}
