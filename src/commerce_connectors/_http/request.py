"""Pure request and response values, plus small parsing helpers.

A :class:`Request` describes one API call without doing it: method, path or URL,
query parameters, JSON body, extra headers and whether it is safe to retry. It is
frozen, so paginators derive the next page's request with ``with_param`` /
``with_json_field`` instead of mutating anything, and an async engine could share
every paginator unchanged.

Example:
    >>> r = Request("get", "/orders.json", params={"limit": 250, "status": "any"})
    >>> r.method, r.params
    ('GET', (('limit', '250'), ('status', 'any')))
    >>> r.with_param("page_info", "abc").param("page_info")
    'abc'
    >>> r.is_idempotent, Request("POST", "/graphql.json").is_idempotent
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeAlias

import attrs
import httpx

__all__ = [
    "IDEMPOTENT_METHODS",
    "JsonResponse",
    "Params",
    "Request",
    "get_path",
    "normalize_params",
    "parse_link_header",
]

#: Methods that HTTP defines as idempotent: repeating them has the effect of doing them once.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: What ``params=`` accepts: a mapping or (name, value) pairs. ``None`` values are dropped;
#: lists and tuples become repeated parameters; booleans become ``true``/``false``.
Params: TypeAlias = "Mapping[str, Any] | Iterable[tuple[str, Any]] | None"
ParamPairs: TypeAlias = "tuple[tuple[str, str], ...]"


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalize_params(params: Params) -> ParamPairs:
    """Turn ``params`` into a tuple of ``(name, str value)`` pairs, keeping their order.

    Example:
        >>> normalize_params({"a": 1, "b": None, "c": [1, 2], "d": True})
        (('a', '1'), ('c', '1'), ('c', '2'), ('d', 'true'))
    """
    if params is None:
        return ()
    items: Iterable[tuple[str, Any]] = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((str(name), _param_value(v)) for v in value if v is not None)
        else:
            pairs.append((str(name), _param_value(value)))
    return tuple(pairs)


def _normalize_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> ParamPairs:
    if headers is None:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), str(v)) for k, v in items)


def _upper(method: str) -> str:
    return method.upper()


@attrs.frozen
class Request:
    """One API call, described but not performed.

    Attributes:
        method: the HTTP method, upper-cased.
        url: a path joined to the engine's ``base_url``, or an absolute URL (``Link`` headers).
        params: query parameters as ordered ``(name, value)`` pairs.
        json: the JSON body, or ``None`` for no body.
        headers: extra headers for this call only.
        idempotent: ``True`` to allow retries after the request may have reached the server
            (GraphQL queries, Square ``Search*`` POSTs); ``None`` to decide from the method.
        cost: the rate-limit cost this call is expected to have (GraphQL query points),
            or ``None`` to let the limiter guess from what it observed.
        expect_json: whether the body must be JSON (a 2xx that is not raises
            :class:`~commerce_connectors.errors.MalformedResponseError`).
    """

    method: str = attrs.field(converter=_upper)
    url: str
    params: ParamPairs = attrs.field(default=(), converter=normalize_params)
    json: Any = attrs.field(default=None, eq=True)
    headers: ParamPairs = attrs.field(default=(), converter=_normalize_headers)
    idempotent: bool | None = None
    cost: float | None = None
    expect_json: bool = True

    @property
    def is_idempotent(self) -> bool:
        """Whether a retry is safe after the request may have reached the server."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method in IDEMPOTENT_METHODS

    def param(self, name: str) -> str | None:
        """Return the last value of query parameter ``name``, or ``None``."""
        found: str | None = None
        for key, value in self.params:
            if key == name:
                found = value
        return found

    def with_param(self, name: str, value: Any) -> Request:
        """Return a copy with ``name`` set to ``value`` (removed when ``value`` is ``None``)."""
        kept = [(k, v) for k, v in self.params if k != name]
        if value is not None:
            kept.append((name, _param_value(value)))
        return attrs.evolve(self, params=tuple(kept))

    def with_url(self, url: str, *, params: Params = None) -> Request:
        """Return a copy aimed at ``url`` with ``params`` replacing the old parameters."""
        return attrs.evolve(self, url=url, params=normalize_params(params))

    def with_json_field(self, path: str, value: Any) -> Request:
        """Return a copy whose JSON body has ``value`` at dotted ``path`` (copies on the way).

        ``None`` removes the field. The original body is never mutated.

        Example:
            >>> r = Request("POST", "/q", json={"variables": {"first": 50}})
            >>> r.with_json_field("variables.after", "c1").json
            {'variables': {'first': 50, 'after': 'c1'}}
        """
        keys = path.split(".")
        body: dict[str, Any] = dict(self.json) if isinstance(self.json, Mapping) else {}
        node = body
        for key in keys[:-1]:
            child = node.get(key)
            child = dict(child) if isinstance(child, Mapping) else {}
            node[key] = child
            node = child
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
        return attrs.evolve(self, json=body)


def _to_headers(value: httpx.Headers | Mapping[str, str] | None) -> httpx.Headers:
    if isinstance(value, httpx.Headers):
        return value
    return httpx.Headers(value or {})


@attrs.frozen
class JsonResponse:
    """A successful response with its JSON body already parsed.

    Attributes:
        status_code: the HTTP status (2xx or 3xx).
        body: the parsed JSON (``None`` for 204/205 or when JSON was not expected).
        headers: the response headers (case-insensitive).
        request: the :class:`Request` that produced this response.
        elapsed: seconds from the last attempt's send to its parsed body, on the engine clock.
        attempts: how many attempts the call took (1 when no retry was needed).
        raw: the underlying :class:`httpx.Response`, when there is one.
    """

    status_code: int
    body: Any = attrs.field(repr=False)
    headers: httpx.Headers = attrs.field(factory=httpx.Headers, converter=_to_headers, repr=False)
    request: Request = attrs.field(factory=lambda: Request("GET", "/"), repr=False)
    elapsed: float = 0.0
    attempts: int = 1
    raw: httpx.Response | None = attrs.field(default=None, repr=False, eq=False)


# --- helpers ---------------------------------------------------------------------------------

_MISSING: Final = object()


def get_path(data: Any, path: str | None, default: Any = None) -> Any:
    """Return the value at dotted ``path`` in parsed JSON, or ``default``.

    Integer segments index lists. An empty or ``None`` path returns ``data`` itself.

    Example:
        >>> get_path({"meta": {"pagination": {"total_pages": 3}}}, "meta.pagination.total_pages")
        3
        >>> get_path({"a": [{"b": 1}]}, "a.0.b"), get_path({}, "x.y", "none")
        (1, 'none')
    """
    if not path:
        return data
    node: Any = data
    for key in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(key, _MISSING)
        elif isinstance(node, list) and key.lstrip("-").isdigit():
            index = int(key)
            node = node[index] if -len(node) <= index < len(node) else _MISSING
        else:
            return default
        if node is _MISSING:
            return default
    return node


_LINK_RE: Final = re.compile(r"<(?P<url>[^>]*)>(?P<params>[^<]*)")
_REL_RE: Final = re.compile(r"""\brel\s*=\s*(?:"(?P<q>[^"]*)"|(?P<t>[^\s;,"]+))""", re.IGNORECASE)


def parse_link_header(value: str | None) -> dict[str, str]:
    """Parse an RFC 8288 ``Link`` header into ``{rel: url}``.

    A link with several relation types (``rel="next last"``) appears under each. The URL
    is returned exactly as given: Shopify requires ``page_info`` to be used untouched.
    Parsing by ``<...>`` rather than by commas keeps URLs that contain commas whole.

    Example:
        >>> parse_link_header('<https://s/a?page_info=x>; rel="next", <https://s/a?page_info=w>; rel="previous"')
        {'next': 'https://s/a?page_info=x', 'previous': 'https://s/a?page_info=w'}
    """  # noqa: E501
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_RE.finditer(value):
        rel = _REL_RE.search(match.group("params"))
        if rel is None:
            continue
        for name in (rel.group("q") or rel.group("t") or "").split():
            links.setdefault(name.lower(), match.group("url").strip())
    return links
