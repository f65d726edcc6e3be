"""Tiendanube's pagination: the ``Link`` header, else page numbers and ``X-Total-Count``.

Shared by the connector's stream walks and its webhook listing (``GET /webhooks``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import attrs

from ..._http import JsonResponse, Request, parse_link_header
from . import constants as c

__all__ = ["TiendanubePaginator"]


def _page_number(request: Request) -> int:
    raw = request.param("page")
    if raw is None:
        query = dict(parse_qsl(urlsplit(request.url).query))
        raw = query.get("page")
    try:
        return int(raw) if raw is not None else 1
    except ValueError:
        return 1


def _page_size(request: Request, default: int) -> int:
    raw = request.param("per_page") or dict(parse_qsl(urlsplit(request.url).query)).get("per_page")
    return int(raw) if raw is not None and c.NUMERIC_ID.fullmatch(raw) and int(raw) > 0 else default


def _total(response: JsonResponse) -> int | None:
    raw = response.headers.get(c.TOTAL_COUNT_HEADER)
    return int(raw) if raw is not None and c.NUMERIC_ID.fullmatch(raw.strip()) else None


@attrs.frozen
class TiendanubePaginator:
    """Follows ``Link: <…>; rel="next"``; without one, asks for ``page + 1`` while
    ``X-Total-Count`` says more records remain.

    Example:
        >>> p = TiendanubePaginator()
        >>> first = Request("GET", "orders", params={"per_page": 2})
        >>> page = JsonResponse(200, body=[{"id": 1}, {"id": 2}], request=first,
        ...                     headers={"X-Total-Count": "3"})
        >>> p.next_request(first, page).params
        (('per_page', '2'), ('page', '2'))
    """

    page_size: int = c.PAGE_SIZE

    def next_request(self, request: Request, response: JsonResponse) -> Request | None:
        """The ``next`` link's request, or the next page number's, or ``None``."""
        body = response.body
        if not isinstance(body, list) or not body:
            return None
        url = parse_link_header(response.headers.get("Link")).get("next")
        if url:
            return request.with_url(url)
        total = _total(response)
        page, size = _page_number(request), _page_size(request, self.page_size)
        if total is not None:
            return request.with_param("page", page + 1) if page * size < total else None
        return request.with_param("page", page + 1) if len(body) >= size else None

    def page_token(self, request: Request) -> str:
        """The URL with its query: page numbers and Link URLs are both unique per page."""
        if not request.params:
            return request.url
        return request.url + "?" + "&".join(f"{k}={v}" for k, v in request.params)

    def fingerprint(self, response: JsonResponse) -> str | None:
        """No same-page check: the repair walks deal with shifting pages."""
        return None
