"""Paginators: small, pure strategy objects that derive the next page's request.

A paginator answers one question: given the request just made and its parsed
response, what is the next request (or ``None`` when this was the last page)? It holds
no state, so one instance can serve any number of walks at once, and an async engine
could use it unchanged. :class:`PageWalk` drives one walk and detects loops: a page
token (URL, cursor, page number) seen twice, or the same non-empty page of records
served twice in a row, raises :class:`~commerce_connectors.errors.PaginationLoopError`
instead of spinning for ever.

==============================  =========================================================
:class:`LinkHeaderPaginator`    ``Link: <…>; rel="next"`` (Shopify REST, Tiendanube)
:class:`PageNumberPaginator`    ``page=N`` until a total (header or body) or a short page
                                (BigCommerce v2/v3, Tiendanube)
:class:`CursorPaginator`        a cursor in the body sent back as a query parameter or a
                                JSON body field (Square List* / Search* endpoints)
:class:`GraphQLCursorPaginator` ``pageInfo {hasNextPage endCursor}`` → ``variables.after``
==============================  =========================================================

Example:
    >>> p = CursorPaginator(location="body")
    >>> first = Request("POST", "/v2/orders/search", json={"limit": 500}, idempotent=True)
    >>> page = JsonResponse(200, body={"orders": [], "cursor": "c2"}, request=first)
    >>> p.next_request(first, page).json
    {'limit': 500, 'cursor': 'c2'}
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlencode

import attrs

from ..errors import PaginationLoopError
from .request import JsonResponse, Request, get_path, parse_link_header

__all__ = [
    "CursorPaginator",
    "GraphQLCursorPaginator",
    "LinkHeaderPaginator",
    "PageNumberPaginator",
    "PageShapeError",
    "PageWalk",
    "Paginator",
]


class PageShapeError(ValueError):
    """A page's body lacks what the paginator needs (the engine reports it as malformed)."""


@runtime_checkable
class Paginator(Protocol):
    """A pure pagination strategy."""

    def next_request(self, request: Request, response: JsonResponse) -> Request | None:
        """Return the request for the page after ``response``, or ``None`` if it was the last.

        Raises:
            PageShapeError: the body does not have the shape the paginator expects.
        """
        ...

    def page_token(self, request: Request) -> str:
        """Return what identifies the page ``request`` asks for (its URL, cursor, number)."""
        ...

    def fingerprint(self, response: JsonResponse) -> str | None:
        """Return a digest of the page's records, or ``None`` to skip the same-page check."""
        ...


def _digest(records: Any) -> str:
    text = json.dumps(records, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.frozen
class LinkHeaderPaginator:
    """Follows the ``Link`` header's ``rel="next"`` URL exactly as given.

    The next request keeps the method, body and headers and replaces the URL and query
    (Shopify's ``page_info`` "must be used exactly as it appears in the link header URL":
    the link carries ``limit`` and ``fields`` itself).

    Attributes:
        rel: the relation to follow.
        header: the header holding the links.

    Example:
        >>> p = LinkHeaderPaginator()
        >>> first = Request("GET", "/orders.json", params={"limit": 250})
        >>> link = '<https://s.test/orders.json?limit=250&page_info=abc>; rel="next"'
        >>> page = JsonResponse(200, body={"orders": []}, request=first, headers={"Link": link})
        >>> p.next_request(first, page).url
        'https://s.test/orders.json?limit=250&page_info=abc'
    """

    rel: str = "next"
    header: str = "Link"

    def next_request(self, request: Request, response: JsonResponse) -> Request | None:
        """Return a request for the ``rel`` link, or ``None`` when there is none."""
        url = parse_link_header(response.headers.get(self.header)).get(self.rel.lower())
        if not url:
            return None
        return request.with_url(url)

    def page_token(self, request: Request) -> str:
        """The full URL with its query."""
        if not request.params:
            return request.url
        return f"{request.url}?{urlencode(request.params)}"

    def fingerprint(self, response: JsonResponse) -> str | None:
        """No same-page check: the URL check covers link loops."""
        return None


@attrs.frozen
class PageNumberPaginator:
    """Asks for ``page=1, 2, 3 …`` until the last page.

    The last page is known, in order of preference, from a total-pages field in the body
    (BigCommerce v3 ``meta.pagination.total_pages``), from a total-count header and the
    page size (Tiendanube ``X-Total-Count``), from an empty page or a 204 No Content
    (BigCommerce v2), or from a page shorter than the page size.

    Because page numbers only go up, a loop shows as the *same records* on two pages in a
    row (a server ignoring ``page``): :meth:`fingerprint` lets :class:`PageWalk` catch it.

    Attributes:
        param: the page-number query parameter.
        start: the first page's number when the first request does not carry one.
        page_size_param: the query parameter holding the page size (``limit``, ``per_page``).
        page_size: the page size when the request does not carry it.
        records_path: dotted path of the record list in the body (``None``: the body itself).
        total_pages_path: dotted path of the number of pages in the body.
        total_count_header: header giving the number of records in all.
        stop_on_short_page: treat a page shorter than the page size as the last.

    Example:
        >>> p = PageNumberPaginator(page_size_param="limit", records_path="data",
        ...                         total_pages_path="meta.pagination.total_pages")
        >>> first = Request("GET", "/v3/catalog/products", params={"limit": 2})
        >>> body = {"data": [{"id": 1}, {"id": 2}], "meta": {"pagination": {"total_pages": 3}}}
        >>> p.next_request(first, JsonResponse(200, body=body, request=first)).params
        (('limit', '2'), ('page', '2'))
    """

    param: str = "page"
    start: int = 1
    page_size_param: str | None = "per_page"
    page_size: int | None = None
    records_path: str | None = None
    total_pages_path: str | None = None
    total_count_header: str | None = None
    stop_on_short_page: bool = True

    @classmethod
    def bigcommerce_v3(cls) -> PageNumberPaginator:
        """BigCommerce v3: ``page``/``limit``, records in ``data``, total in ``meta.pagination``."""
        return cls(
            page_size_param="limit",
            records_path="data",
            total_pages_path="meta.pagination.total_pages",
        )

    @classmethod
    def bigcommerce_v2(cls) -> PageNumberPaginator:
        """BigCommerce v2: ``page``/``limit``, a bare array, 204 (no body) past the end."""
        return cls(page_size_param="limit")

    @classmethod
    def tiendanube(cls) -> PageNumberPaginator:
        """Tiendanube: ``page``/``per_page``, a bare array, total in ``X-Total-Count``."""
        return cls(page_size_param="per_page", total_count_header="X-Total-Count")

    def _current(self, request: Request) -> int:
        raw = request.param(self.param)
        if raw is None:
            return self.start
        try:
            return int(raw)
        except ValueError as exc:
            raise PageShapeError(f"page parameter {self.param}={raw!r} is not a number") from exc

    def _size(self, request: Request) -> int | None:
        raw = request.param(self.page_size_param) if self.page_size_param else None
        if raw is not None and raw.isdigit() and int(raw) > 0:
            return int(raw)
        return self.page_size

    def _records(self, response: JsonResponse) -> list[Any] | None:
        records = get_path(response.body, self.records_path)
        return records if isinstance(records, list) else None

    def next_request(self, request: Request, response: JsonResponse) -> Request | None:
        """Return the request for the next page number, or ``None`` after the last page."""
        if response.body is None or response.status_code == 204:
            return None
        current = self._current(request)
        records = self._records(response)
        if records is None and self.records_path is not None:
            raise PageShapeError(f"no record list at {self.records_path!r}")
        if records is not None and not records:
            return None
        if self.total_pages_path is not None:
            total_pages = get_path(response.body, self.total_pages_path)
            if isinstance(total_pages, (int, float)) and not isinstance(total_pages, bool):
                return (
                    None if current >= total_pages else request.with_param(self.param, current + 1)
                )
        size = self._size(request)
        if self.total_count_header is not None and size:
            raw = response.headers.get(self.total_count_header)
            if raw is not None and raw.strip().isdigit():
                pages = math.ceil(int(raw) / size)
                return None if current >= pages else request.with_param(self.param, current + 1)
        if self.stop_on_short_page and size and records is not None and len(records) < size:
            return None
        return request.with_param(self.param, current + 1)

    def page_token(self, request: Request) -> str:
        """``page=N``."""
        return f"{self.param}={self._current(request)}"

    def fingerprint(self, response: JsonResponse) -> str | None:
        """A digest of a non-empty page's records."""
        records = self._records(response)
        return _digest(records) if records else None


@attrs.frozen
class CursorPaginator:
    """Sends back the cursor found in the body, as a query parameter or a JSON body field.

    Square: ``List*`` endpoints take ``?cursor=``; ``Search*`` POSTs take ``"cursor"`` in
    the body, "with the same query". An absent or empty cursor ends the walk.

    Attributes:
        cursor_path: dotted path of the next cursor in the response body.
        param: the query parameter or dotted JSON field to send it in.
        location: ``"query"`` or ``"body"``.

    Example:
        >>> p = CursorPaginator(location="query")
        >>> first = Request("GET", "/v2/customers", params={"limit": 100})
        >>> nxt = p.next_request(first, JsonResponse(200, body={"cursor": "abc"}, request=first))
        >>> nxt.param("cursor")
        'abc'
    """

    cursor_path: str = "cursor"
    param: str = "cursor"
    location: Literal["query", "body"] = "query"

    def next_request(self, request: Request, response: JsonResponse) -> Request | None:
        """Return the request carrying the next cursor, or ``None`` when there is none."""
        cursor = get_path(response.body, self.cursor_path)
        if cursor is None or cursor == "":
            return None
        if not isinstance(cursor, (str, int)):
            raise PageShapeError(f"cursor at {self.cursor_path!r} is not a string: {cursor!r}")
        if self.location == "body":
            return request.with_json_field(self.param, str(cursor))
        return request.with_param(self.param, str(cursor))

    def page_token(self, request: Request) -> str:
        """The cursor the request sends (empty for the first page)."""
        if self.location == "body":
            value = get_path(request.json, self.param)
        else:
            value = request.param(self.param)
        return "" if value is None else str(value)

    def fingerprint(self, response: JsonResponse) -> str | None:
        """No same-page check (Square may return empty pages with a cursor)."""
        return None


@attrs.frozen
class GraphQLCursorPaginator:
    """Follows a GraphQL connection's ``pageInfo {hasNextPage endCursor}``.

    The cursor goes into the query's variables (``variables.after`` by default), so the
    query must declare ``$after: String`` and use ``after: $after``.

    Attributes:
        page_info_path: dotted path of ``pageInfo`` in the body (``data.orders.pageInfo``).
        variable: the variable that receives the cursor.
        variables_key: the body key holding the variables.

    Example:
        >>> p = GraphQLCursorPaginator("data.orders.pageInfo")
        >>> first = Request("POST", "/graphql.json", idempotent=True,
        ...                 json={"query": "…", "variables": {"first": 50}})
        >>> body = {"data": {"orders": {"pageInfo": {"hasNextPage": True, "endCursor": "e1"}}}}
        >>> p.next_request(first, JsonResponse(200, body=body, request=first)).json["variables"]
        {'first': 50, 'after': 'e1'}
    """

    page_info_path: str
    variable: str = "after"
    variables_key: str = "variables"

    def next_request(self, request: Request, response: JsonResponse) -> Request | None:
        """Return the request for the next page, or ``None`` when ``hasNextPage`` is false."""
        page_info = get_path(response.body, self.page_info_path)
        if not isinstance(page_info, dict):
            raise PageShapeError(f"no pageInfo object at {self.page_info_path!r}")
        if not page_info.get("hasNextPage"):
            return None
        cursor = page_info.get("endCursor")
        if not isinstance(cursor, str) or not cursor:
            raise PageShapeError("hasNextPage is true but endCursor is missing")
        return request.with_json_field(f"{self.variables_key}.{self.variable}", cursor)

    def page_token(self, request: Request) -> str:
        """The ``after`` cursor the request sends (empty for the first page)."""
        value = get_path(request.json, f"{self.variables_key}.{self.variable}")
        return "" if value is None else str(value)

    def fingerprint(self, response: JsonResponse) -> str | None:
        """No same-page check: cursors are unique."""
        return None


class PageWalk:
    """Drives one pagination walk and refuses to loop.

    Pure: it never performs I/O. Feed it each response; it returns the next request.

    Args:
        paginator: the strategy.
        first: the first request of the walk.
        platform: the platform's name, for the error.
        redact: cleans a page token before it goes into an exception (URLs may hold secrets).
        max_pages: stop after this many pages (``None``: no limit).

    Raises:
        PaginationLoopError: from :meth:`advance`, when a page token repeats or the same
            records come back twice in a row.

    Example:
        >>> walk = PageWalk(CursorPaginator(), Request("GET", "/v2/payments"))
        >>> r2 = walk.advance(JsonResponse(200, body={"cursor": "a"}))
        >>> r3 = walk.advance(JsonResponse(200, body={"cursor": "a"}))
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.PaginationLoopError: pagination loop: the next-page token 'a' was already followed
    """  # noqa: E501

    def __init__(
        self,
        paginator: Paginator,
        first: Request,
        *,
        platform: str | None = None,
        redact: Callable[[str], str] = str,
        max_pages: int | None = None,
    ) -> None:
        self.paginator = paginator
        self.current: Request | None = first
        self.platform = platform
        self.pages = 0
        self.max_pages = max_pages
        self._redact = redact
        self._seen = {paginator.page_token(first)}
        self._last_fingerprint: str | None = None

    def advance(self, response: JsonResponse) -> Request | None:
        """Record ``response`` as the current page's and return the next request, or ``None``."""
        if self.current is None:
            raise RuntimeError("the walk is over")
        self.pages += 1
        fingerprint = self.paginator.fingerprint(response)
        if fingerprint is not None and fingerprint == self._last_fingerprint:
            token = self._redact(self.paginator.page_token(self.current))
            raise PaginationLoopError(
                f"{token} (same records as the previous page)", platform=self.platform
            )
        self._last_fingerprint = fingerprint
        nxt = self.paginator.next_request(self.current, response)
        if nxt is not None and self.max_pages is not None and self.pages >= self.max_pages:
            nxt = None
        if nxt is not None:
            token = self.paginator.page_token(nxt)
            if token in self._seen:
                raise PaginationLoopError(self._redact(token), platform=self.platform)
            self._seen.add(token)
        self.current = nxt
        return nxt
