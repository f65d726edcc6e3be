"""Paginators (pure) and engine.paginate, including loop detection."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest
from httpkit import BASE_URL, TOKEN, body_of, make_engine

from commerce_connectors._http import (
    CursorPaginator,
    GraphQLCursorPaginator,
    JsonResponse,
    LinkHeaderPaginator,
    PageNumberPaginator,
    PageShapeError,
    PageWalk,
    Paginator,
    Request,
    parse_link_header,
)
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    ConfigurationError,
    MalformedResponseError,
    PaginationLoopError,
)


def page(body: object, request: Request, **headers: str) -> JsonResponse:
    return JsonResponse(200, body=body, request=request, headers=headers)


def test_all_paginators_satisfy_the_protocol() -> None:
    for p in (
        LinkHeaderPaginator(),
        PageNumberPaginator(),
        CursorPaginator(),
        GraphQLCursorPaginator("data.x.pageInfo"),
    ):
        assert isinstance(p, Paginator)


# --- Link header --------------------------------------------------------------------------------


def test_parse_link_header_shapes() -> None:
    value = (
        '<https://s.test/a.json?page_info=p2&limit=50&fields=id,name>; rel="next", '
        '<https://s.test/a.json?page_info=p0&limit=50>; rel="previous"'
    )
    links = parse_link_header(value)
    assert links["next"] == "https://s.test/a.json?page_info=p2&limit=50&fields=id,name"
    assert links["previous"] == "https://s.test/a.json?page_info=p0&limit=50"
    tn = parse_link_header('<https://t/p?page=3>; rel=next, <https://t/p?page=9>; rel="last first"')
    assert tn == {
        "next": "https://t/p?page=3",
        "last": "https://t/p?page=9",
        "first": "https://t/p?page=9",
    }
    assert parse_link_header(None) == {}
    assert parse_link_header("garbage") == {}


def test_link_header_paginator_follows_next_exactly_and_drops_old_params() -> None:
    p = LinkHeaderPaginator()
    first = Request("GET", "orders.json", params={"limit": 250, "status": "any"})
    nxt = p.next_request(
        first, page([], first, Link=f'<{BASE_URL}/orders.json?page_info=abc&limit=250>; rel="next"')
    )
    assert nxt is not None
    assert nxt.url == f"{BASE_URL}/orders.json?page_info=abc&limit=250"
    assert nxt.params == ()
    assert p.next_request(nxt, page([], nxt)) is None
    assert p.next_request(nxt, page([], nxt, Link='<https://x/p>; rel="previous"')) is None


def test_engine_paginates_a_link_header_api() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        info = parse_qs(request.url.query.decode()).get("page_info", ["p1"])[0]
        n = int(info[1:])
        headers = {}
        if n < 3:
            headers["Link"] = f'<{BASE_URL}/orders.json?page_info=p{n + 1}&limit=2>; rel="next"'
        return httpx.Response(
            200, json={"orders": [{"id": n * 10}, {"id": n * 10 + 1}]}, headers=headers
        )

    with make_engine(handler, clock) as engine:
        pages = list(
            engine.paginate(
                Request("GET", "orders.json", params={"limit": 2}), LinkHeaderPaginator()
            )
        )
        assert engine.stats.snapshot()["pages"] == 3
    assert [o["id"] for p in pages for o in p.body["orders"]] == [10, 11, 20, 21, 30, 31]


def test_link_header_loop_is_detected() -> None:
    clock = FakeClock()
    link = f'<{BASE_URL}/orders.json?page_info=same>; rel="next"'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"orders": [{"id": 1}]}, headers={"Link": link})

    with make_engine(handler, clock) as engine, pytest.raises(PaginationLoopError) as info:
        list(engine.paginate(Request("GET", "orders.json"), LinkHeaderPaginator()))
    assert "page_info=same" in str(info.value)
    assert info.value.platform == "testshop"


def test_link_to_a_foreign_host_is_refused() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=[], headers={"Link": '<https://evil.test/steal?p=2>; rel="next"'}
        )

    with make_engine(handler, clock) as engine:
        pages = engine.paginate(Request("GET", "orders.json"), LinkHeaderPaginator())
        next(pages)
        with pytest.raises(ConfigurationError, match="refusing to send credentials"):
            next(pages)


# --- page number ------------------------------------------------------------------------------


def test_page_number_stops_at_total_pages_in_the_body() -> None:
    p = PageNumberPaginator.bigcommerce_v3()
    first = Request("GET", "v3/catalog/products", params={"limit": 2})
    meta = {"pagination": {"total_pages": 2, "current_page": 1}}
    second = p.next_request(first, page({"data": [{"id": 1}, {"id": 2}], "meta": meta}, first))
    assert second is not None
    assert second.param("page") == "2"
    assert p.next_request(second, page({"data": [{"id": 3}], "meta": meta}, second)) is None


def test_page_number_stops_at_total_count_header() -> None:
    p = PageNumberPaginator.tiendanube()
    first = Request("GET", "orders", params={"per_page": 2})
    second = p.next_request(first, page([{"id": 1}, {"id": 2}], first, **{"X-Total-Count": "3"}))
    assert second is not None
    assert p.next_request(second, page([{"id": 3}], second, **{"X-Total-Count": "3"})) is None
    exact = Request("GET", "orders", params={"per_page": 2, "page": 2})
    assert (
        p.next_request(exact, page([{"id": 3}, {"id": 4}], exact, **{"X-Total-Count": "4"})) is None
    )


def test_page_number_stops_on_short_empty_or_no_content_page() -> None:
    p = PageNumberPaginator.bigcommerce_v2()
    first = Request("GET", "v2/orders", params={"limit": 3})
    assert p.next_request(first, page([{"id": 1}, {"id": 2}], first)) is None  # short
    assert p.next_request(first, page([], first)) is None  # empty
    assert p.next_request(first, JsonResponse(204, body=None, request=first)) is None  # BC v2
    full = p.next_request(first, page([{"id": 1}, {"id": 2}, {"id": 3}], first))
    assert full is not None
    assert full.param("page") == "2"


def test_page_number_rejects_a_body_without_its_record_list() -> None:
    p = PageNumberPaginator.bigcommerce_v3()
    first = Request("GET", "v3/customers")
    with pytest.raises(PageShapeError):
        p.next_request(first, page({"title": "oops"}, first))
    with pytest.raises(PageShapeError):
        p.next_request(Request("GET", "x", params={"page": "two"}), page({"data": [1]}, first))


def test_page_number_loop_when_the_server_ignores_the_page_param() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 1}, {"id": 2}])  # always page 1

    with (
        make_engine(handler, clock) as engine,
        pytest.raises(PaginationLoopError, match="same records"),
    ):
        list(
            engine.paginate(
                Request("GET", "v2/orders", params={"limit": 2}),
                PageNumberPaginator.bigcommerce_v2(),
            )
        )


def test_engine_paginates_bigcommerce_v2_until_204() -> None:
    clock = FakeClock()
    data = list(range(5))

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", "1"))
        chunk = data[(n - 1) * 2 : n * 2]
        return (
            httpx.Response(200, json=[{"id": i} for i in chunk]) if chunk else httpx.Response(204)
        )

    with make_engine(handler, clock) as engine:
        first = Request("GET", "v2/orders", params={"limit": 2})
        # stop_on_short_page=False forces the walk to the 204 past the end.
        pager = PageNumberPaginator(page_size_param="limit", stop_on_short_page=False)
        pages = list(engine.paginate(first, pager))
    assert [p.status_code for p in pages] == [200, 200, 200, 204]
    assert [r["id"] for p in pages[:-1] for r in p.body] == data


def test_max_pages_stops_early() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"p": request.url.params.get("page")}])

    with make_engine(handler, clock) as engine:
        pages = list(
            engine.paginate(
                Request("GET", "x"), PageNumberPaginator(stop_on_short_page=False), max_pages=4
            )
        )
    assert len(pages) == 4


# --- cursor -------------------------------------------------------------------------------------


def test_cursor_in_query_for_square_list_endpoints() -> None:
    p = CursorPaginator(location="query")
    first = Request("GET", "v2/customers", params={"limit": 100})
    second = p.next_request(first, page({"customers": [], "cursor": "c2"}, first))
    assert second is not None
    assert second.params == (("limit", "100"), ("cursor", "c2"))
    assert p.next_request(second, page({"customers": []}, second)) is None
    assert p.next_request(second, page({"cursor": ""}, second)) is None
    with pytest.raises(PageShapeError):
        p.next_request(second, page({"cursor": {"a": 1}}, second))


def test_cursor_in_body_for_square_search_endpoints() -> None:
    clock = FakeClock()
    cursors = {None: "c2", "c2": "c3", "c3": None}
    seen_bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        seen_bodies.append(body)
        nxt = cursors[body.get("cursor")]
        return httpx.Response(
            200, json={"orders": [{"id": body.get("cursor")}], **({"cursor": nxt} if nxt else {})}
        )

    query = {"location_ids": ["L1"], "limit": 500, "query": {"sort": {"sort_field": "UPDATED_AT"}}}
    first = Request("POST", "v2/orders/search", json=query, idempotent=True)
    with make_engine(handler, clock) as engine:
        pages = list(engine.paginate(first, CursorPaginator(location="body")))
    assert len(pages) == 3
    # The same query every time, plus the cursor; the first request's body is untouched.
    assert [b.get("cursor") for b in seen_bodies] == [None, "c2", "c3"]
    assert all(b["query"] == query["query"] and b["location_ids"] == ["L1"] for b in seen_bodies)
    assert "cursor" not in first.json


def test_cursor_loop_is_detected() -> None:
    walk = PageWalk(CursorPaginator(), Request("GET", "v2/payments"))
    first = walk.advance(page({"cursor": "A"}, Request("GET", "v2/payments")))
    assert first is not None
    assert walk.advance(page({"cursor": "B"}, first)) is not None
    with pytest.raises(PaginationLoopError, match="'A'"):
        walk.advance(page({"cursor": "A"}, first))  # A -> B -> A


def test_empty_pages_with_a_cursor_are_not_a_loop() -> None:
    walk = PageWalk(CursorPaginator(location="body"), Request("POST", "v2/orders/search", json={}))
    for token in ("a", "b", "c"):
        assert walk.advance(page({"orders": [], "cursor": token}, Request("GET", "x"))) is not None
    assert walk.pages == 3


# --- GraphQL ------------------------------------------------------------------------------------


QUERY = (
    "query($first:Int!,$after:String){orders(first:$first,after:$after)"
    "{pageInfo{hasNextPage endCursor} edges{node{id}}}}"
)


def gql_page(has_next: bool, cursor: str | None) -> dict[str, object]:
    return {
        "data": {
            "orders": {"pageInfo": {"hasNextPage": has_next, "endCursor": cursor}, "edges": []}
        }
    }


def test_graphql_cursor_passes_end_cursor_as_the_after_variable() -> None:
    p = GraphQLCursorPaginator("data.orders.pageInfo")
    first = Request(
        "POST", "graphql.json", json={"query": QUERY, "variables": {"first": 50}}, idempotent=True
    )
    second = p.next_request(first, page(gql_page(True, "E1"), first))
    assert second is not None
    assert second.json == {"query": QUERY, "variables": {"first": 50, "after": "E1"}}
    assert second.is_idempotent
    assert first.json == {"query": QUERY, "variables": {"first": 50}}
    assert p.next_request(second, page(gql_page(False, "E2"), second)) is None


def test_graphql_cursor_shape_errors() -> None:
    p = GraphQLCursorPaginator("data.orders.pageInfo")
    first = Request("POST", "graphql.json", json={"query": QUERY})
    with pytest.raises(PageShapeError, match="pageInfo"):
        p.next_request(first, page({"data": None, "errors": [{"message": "x"}]}, first))
    with pytest.raises(PageShapeError, match="endCursor"):
        p.next_request(first, page(gql_page(True, None), first))


def test_engine_graphql_walk_and_loop() -> None:
    clock = FakeClock()
    script = {None: gql_page(True, "E1"), "E1": gql_page(True, "E2"), "E2": gql_page(True, "E1")}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Shopify-Access-Token"] == TOKEN
        return httpx.Response(200, json=script[body_of(request)["variables"].get("after")])

    first = Request(
        "POST", "graphql.json", json={"query": QUERY, "variables": {"first": 50}}, idempotent=True
    )
    with make_engine(handler, clock) as engine, pytest.raises(PaginationLoopError, match="E1"):
        list(engine.paginate(first, GraphQLCursorPaginator("data.orders.pageInfo")))


def test_engine_reports_a_page_shape_error_as_malformed() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"orders": None}})

    first = Request("POST", "graphql.json", json={"query": QUERY}, idempotent=True)
    with (
        make_engine(handler, clock) as engine,
        pytest.raises(MalformedResponseError, match="pageInfo"),
    ):
        list(engine.paginate(first, GraphQLCursorPaginator("data.orders.pageInfo")))
