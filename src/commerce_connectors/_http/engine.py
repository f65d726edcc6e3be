"""The HTTP engine: one object per store connection, shared by every stream and thread.

:class:`HttpEngine` turns a :class:`~commerce_connectors._http.request.Request` into a
:class:`~commerce_connectors._http.request.JsonResponse`, doing in order, per attempt:

1. ask the rate limiter for a slot (it may sleep on the clock);
2. add default headers, the User-Agent and the auth header, and send with httpx;
3. tell the limiter what the response said (or that none came);
4. map an error response to an exception (per-platform mapper), or parse the JSON;
5. on a retriable failure, ask the :class:`RetryPolicy` how long to wait, sleep on the
   clock and try again, or raise.

What is retried: 429 always (the server refused before doing anything); connect errors
always (the request never left); 5xx, timeouts after sending, resets and malformed
bodies only when the request is idempotent (GET/PUT/DELETE, or ``idempotent=True`` for
reads sent as POST such as GraphQL queries and Square ``Search*``), because a
non-idempotent POST may already have taken effect.

Example:
    >>> import httpx
    >>> from commerce_connectors.clock import FakeClock
    >>> def handler(request: httpx.Request) -> httpx.Response:
    ...     return httpx.Response(200, json={"shop": {"name": "Acme"}})
    >>> with HttpEngine(platform="shopify", base_url="https://acme.myshopify.com/admin/api/2024-04",
    ...                 auth=HeaderTokenAuth.shopify("shpat_secret"), clock=FakeClock(),
    ...                 transport=httpx.MockTransport(handler)) as engine:
    ...     engine.request("GET", "shop.json").body
    {'shop': {'name': 'Acme'}}
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import httpx

from ..clock import Clock, SystemClock
from ..errors import (
    APIError,
    ConfigurationError,
    MalformedResponseError,
    RateLimitError,
    RetriableError,
    TransportError,
)
from .auth import Auth, HeaderTokenAuth, NoAuth  # noqa: F401 - used by the doctests
from .errormap import DefaultErrorMapper, ErrorMapper
from .pagination import PageShapeError, PageWalk, Paginator
from .ratelimit import RateLimiter, announcing_waits
from .redaction import (
    DEFAULT_SENSITIVE_PARAMS,
    Redactor,
    get_logger,
    register_redactor,
    unregister_redactor,
)
from .request import JsonResponse, Params, Request
from .retry import RetryPolicy
from .stats import EventCallback, EventKind, HttpEvent, HttpStats

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_USER_AGENT", "HttpEngine"]

try:
    _VERSION = version("commerce-connectors")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    _VERSION = "0+unknown"

#: Sent unless the caller gives its own (Tiendanube *requires* one naming the app).
DEFAULT_USER_AGENT: Final = (
    f"commerce-connectors/{_VERSION} (+https://pypi.org/project/commerce-connectors/)"
)

#: Connect 10 s, read/write/pool 30 s: long pages of a big store take a while to build.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)

# httpx errors raised before any byte of the request reached the server: always safe to retry.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_NO_BODY_STATUSES: Final = frozenset({204, 205, 304})

_log = get_logger()

# Request ids and body excerpts of malformed responses use the default rules whatever the
# platform's mapper is.
_EXCERPTS: Final = DefaultErrorMapper()

try:  # the ``fast`` extra: a faster reader of response bodies
    import orjson as _orjson
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

# Every byte as "0" if it is an ASCII digit, " " otherwise: 19 zeros in a row in a
# translated body mark a number (or a string) of 19 digits or more somewhere in it.
_DIGITS: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS: Final = b"0" * 19


def decode_json(content: bytes) -> Any:
    """A response body's JSON: exactly what :func:`json.loads` gives, or raises.

    With ``orjson`` installed (the ``fast`` extra) it reads the body when its result
    is the standard library's: orjson turns integers beyond 64 bits into floats, so a
    body holding a run of 19 digits or more (an integer that may not fit, wherever it
    is) goes to :func:`json.loads`, as does anything orjson refuses (``NaN``, numbers
    beyond a float's range, lone surrogates, a byte order mark, UTF-16), which also
    raises the standard library's own errors for bodies that are not JSON.
    """
    if _orjson is not None and _LONG_DIGITS not in content.translate(_DIGITS):
        try:
            return _orjson.loads(content)
        except _orjson.JSONDecodeError:
            pass
    return _json.loads(content)


@attrs.frozen
class _Failure:
    """One failed attempt: the exception, the response if any, and whether it was sent."""

    error: APIError | TransportError
    response: httpx.Response | None
    safe_url: str
    sent: bool = True


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default_port


class HttpEngine:
    """Sends requests to one platform store with auth, retries, rate limiting and redaction.

    Thread-safe: one engine (and its rate limiter) serves every stream of a store and every
    worker thread.

    Args:
        platform: the platform's name, carried by every exception (``"shopify"`` …).
        base_url: absolute URL that relative request paths are joined to.
        auth: the authentication strategy (default: none).
        client: an :class:`httpx.Client` the caller owns (never closed by the engine).
        transport: an httpx transport for a client the engine creates (and closes).
        timeout: seconds or an :class:`httpx.Timeout`; ``None`` keeps the client's own
            (or :data:`DEFAULT_TIMEOUT` for a client the engine creates).
        retry: the retry policy (default :class:`RetryPolicy()`).
        rate_limiter: shared per store; ``None`` for no client-side limiting.
        error_mapper: response → exception (default :class:`DefaultErrorMapper()`).
        clock: where every sleep and time reading goes (default the real clock).
        user_agent: the ``User-Agent`` header.
        headers: default headers for every request (``Square-Version`` …).
        stats: the counters to update (default: a new :class:`HttpStats`).
        on_event: called with an :class:`HttpEvent` for each notable step.
        allowed_origins: other absolute origins (``https://host[:port]``) to which the
            credentials may be sent; absolute URLs elsewhere are refused.
        sensitive_params: extra query parameter names to redact.

    Raises:
        ConfigurationError: both ``client`` and ``transport`` given, or a bad ``base_url``.

    Example:
        >>> from commerce_connectors._http import LeakyBucketLimiter, LinkHeaderPaginator
        >>> engine = HttpEngine(
        ...     platform="shopify",
        ...     base_url="https://acme.myshopify.com/admin/api/2024-04",
        ...     auth=HeaderTokenAuth.shopify("shpat_0123456789"),
        ...     rate_limiter=LeakyBucketLimiter.shopify(),
        ... )
        >>> engine
        HttpEngine(platform='shopify', base_url='https://acme.myshopify.com/admin/api/2024-04', auth=HeaderTokenAuth(header='X-Shopify-Access-Token', token='***'))
        >>> first = Request("GET", "orders.json", params={"status": "any", "limit": 250})
        >>> # for page in engine.paginate(first, LinkHeaderPaginator()): ...
        >>> engine.close()
    """  # noqa: E501

    def __init__(
        self,
        *,
        platform: str,
        base_url: str,
        auth: Auth | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        error_mapper: ErrorMapper | None = None,
        clock: Clock | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        headers: Mapping[str, str] | None = None,
        stats: HttpStats | None = None,
        on_event: EventCallback | None = None,
        allowed_origins: tuple[str, ...] = (),
        sensitive_params: tuple[str, ...] = (),
    ) -> None:
        if client is not None and transport is not None:
            raise ConfigurationError("pass either client= or transport=, not both")
        scheme, host, _ = _origin(base_url)
        if scheme not in ("http", "https") or not host:
            raise ConfigurationError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self.platform = platform
        self.auth: Auth = auth if auth is not None else NoAuth()
        self.redactor = Redactor(
            self.auth.secrets,
            sensitive_params=DEFAULT_SENSITIVE_PARAMS | frozenset(sensitive_params),
        )
        register_redactor(self.redactor)
        self.base_url = base_url.rstrip("/")
        self.retry = retry if retry is not None else RetryPolicy()
        self.rate_limiter = rate_limiter
        self.error_mapper: ErrorMapper = (
            error_mapper if error_mapper is not None else DefaultErrorMapper()
        )
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.stats = stats if stats is not None else HttpStats()
        self.on_event = on_event
        self.default_headers: dict[str, str] = {
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        if headers:
            self.default_headers.update(headers)
        self._origins = {_origin(self.base_url)} | {_origin(o) for o in allowed_origins}
        self._owns_client = client is None
        self._timeout: httpx.Timeout | None = None
        if timeout is not None:
            self._timeout = (
                timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
            )
        if client is None:
            client = httpx.Client(
                transport=transport,
                timeout=self._timeout if self._timeout is not None else DEFAULT_TIMEOUT,
                follow_redirects=False,
            )
        self.client = client
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client if the engine created it, and forget the engine's secrets' filter."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self.client.close()
        unregister_redactor(self.redactor)

    def __enter__(self) -> HttpEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"HttpEngine(platform={self.platform!r}, "
            f"base_url={self.redactor.url(self.base_url)!r}, auth={self.auth!r})"
        )

    # --- public calls ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Params = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        cost: float | None = None,
        expect_json: bool = True,
    ) -> JsonResponse:
        """Send one request, with retries and rate limiting, and return its parsed response.

        Args:
            method: the HTTP method.
            path_or_url: a path joined to ``base_url``, or an absolute URL on an allowed origin.
            params: query parameters (``None`` values dropped).
            json: a JSON body.
            headers: extra headers for this call.
            idempotent: ``True`` for reads sent as POST (GraphQL queries, Square Search*);
                ``None`` decides from the method.
            cost: the expected rate-limit cost (GraphQL points).
            expect_json: whether a 2xx must carry JSON.

        Returns:
            The response, body parsed.

        Raises:
            APIError: a subclass by status (see :mod:`~commerce_connectors._http.errormap`).
            MalformedResponseError: a 2xx body that is not JSON, after retries.
            TransportError: no response, after retries.
            ConfigurationError: an absolute URL outside the allowed origins.
        """
        return self.send(
            Request(
                method,
                path_or_url,
                params=params,
                json=json,
                headers=headers,
                idempotent=idempotent,
                cost=cost,
                expect_json=expect_json,
            )
        )

    def get(self, path_or_url: str, *, params: Params = None, **kwargs: Any) -> JsonResponse:
        """``request("GET", ...)``."""
        return self.request("GET", path_or_url, params=params, **kwargs)

    def post(self, path_or_url: str, *, json: Any = None, **kwargs: Any) -> JsonResponse:
        """``request("POST", ...)`` (not retried after sending unless ``idempotent=True``)."""
        return self.request("POST", path_or_url, json=json, **kwargs)

    def paginate(
        self, first: Request, paginator: Paginator, *, max_pages: int | None = None
    ) -> Iterator[JsonResponse]:
        """Yield every page, starting with ``first``, as the paginator derives them.

        Each page is a full :meth:`send` (retries and rate limiting apply per page). The
        walk stops when the paginator returns ``None`` or after ``max_pages``.

        Raises:
            PaginationLoopError: a page token repeats (or the same records come back).
            MalformedResponseError: a page lacks what the paginator needs (``pageInfo`` …).
        """
        walk = PageWalk(
            paginator, first, platform=self.platform, redact=self.redactor.url, max_pages=max_pages
        )
        request: Request | None = first
        while request is not None:
            response = self.send(request)
            self.stats.add(pages=1)
            yield response
            try:
                request = walk.advance(response)
            except PageShapeError as exc:
                raise self._malformed(response, response.request, f"pagination: {exc}") from exc

    def url_for(self, path_or_url: str) -> str:
        """Return the absolute URL a request to ``path_or_url`` goes to.

        Raises:
            ConfigurationError: an absolute URL outside the allowed origins (the token would
                be sent to a foreign host).
        """
        if path_or_url.startswith(("http://", "https://")):
            if _origin(path_or_url) not in self._origins:
                raise ConfigurationError(
                    f"{self.platform}: refusing to send credentials to "
                    f"{self.redactor.url(path_or_url)!r}: not the base URL's origin"
                )
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def send(self, request: Request) -> JsonResponse:
        """Send ``request`` with retries and rate limiting; see :meth:`request`."""
        if self._closed:
            raise ConfigurationError(f"{self.platform}: the HTTP engine is closed")
        url = self.url_for(request.url)
        self.stats.add(calls=1)
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(request, url, attempt)
            if isinstance(outcome, JsonResponse):
                return outcome
            error, response, safe_url = outcome.error, outcome.response, outcome.safe_url
            if not isinstance(error, RetriableError) or not self._retriable(outcome, request):
                self._give_up(error, request, safe_url, attempt, "not retriable")
                raise error
            # The server's wait: from the headers the policy knows, or from the mapper (a
            # GraphQL cost); the longer one when both speak. The error keeps it either way,
            # so a caller that gets it raised knows when to come back.
            waits = [error.retry_after]
            if response is not None:
                waits.append(
                    self.retry.server_wait(
                        response.headers, status_code=response.status_code, now=self.clock.now()
                    )
                )
            known = [w for w in waits if w is not None]
            server_wait = max(known) if known else None
            error.retry_after = server_wait
            wait = self.retry.decide(
                attempt=attempt,
                waited=waited,
                server_wait=server_wait,
                rate_limited=isinstance(error, RateLimitError),
            )
            if wait is None:
                self._give_up(error, request, safe_url, attempt, "retry budget spent")
                raise error
            self.stats.add(retries=1, backoff_wait=wait)
            self._emit("retry", request, safe_url, attempt, wait=wait, error=error)
            _log.info(
                "%s %s %s: attempt %d failed (%s); retrying in %.3fs",
                self.platform,
                request.method,
                safe_url,
                attempt,
                _short(error),
                wait,
            )
            if wait > 0:
                self.clock.sleep(wait)
            waited += wait

    # --- internals ---------------------------------------------------------------------------

    def _attempt(self, request: Request, url: str, attempt: int) -> JsonResponse | _Failure:
        limiter = self.rate_limiter
        if limiter is not None:
            if self.on_event is None:
                slept = limiter.acquire(request.cost)
            else:
                announced = self.redactor.url(url)

                def announce(wait: float) -> None:
                    self._emit("rate_limit_waiting", request, announced, attempt, wait=wait)

                with announcing_waits(announce):
                    slept = limiter.acquire(request.cost)
            if slept > 0:
                self.stats.add(rate_limit_wait=slept)
                self._emit("rate_limit_wait", request, self.redactor.url(url), attempt, wait=slept)
        headers = dict(self.default_headers)
        headers.update(request.headers)
        # Auth last: a per-request header must not silently replace the credentials.
        headers.update(self.auth.headers())
        try:
            built = self.client.build_request(
                request.method,
                url,
                params=list(request.params) if request.params else None,
                json=request.json,
                headers=headers,
                timeout=self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except Exception:
            if limiter is not None:
                limiter.cancel()
            raise
        safe_url = self.redactor.url(str(built.url))
        self.stats.add(attempts=1)
        started = self.clock.monotonic()
        try:
            # Never follow a redirect, even on a client the caller configured to: the
            # credential header (X-Auth-Token, Api-Token …) would go to another host.
            response = self.client.send(built, follow_redirects=False)
        except httpx.TransportError as exc:
            if limiter is not None:
                limiter.cancel()
            self.stats.add(transport_errors=1)
            terr = TransportError(
                f"{type(exc).__name__}: {self.redactor.text(str(exc)) or 'no detail'}",
                platform=self.platform,
                method=request.method,
                url=safe_url,
            )
            # Chain httpx's error for debugging, unless its text holds a secret: a traceback
            # prints the cause verbatim.
            if self.redactor.text(str(exc)) == str(exc):
                terr.__cause__ = exc
            else:
                terr.__suppress_context__ = True
            self._emit("transport_error", request, safe_url, attempt, error=terr)
            _log.debug(
                "%s %s %s -> %s (attempt %d)",
                self.platform,
                request.method,
                safe_url,
                _short(terr),
                attempt,
            )
            return _Failure(terr, None, safe_url, sent=not isinstance(exc, _NOT_SENT))
        except BaseException:
            if limiter is not None:
                limiter.cancel()
            raise
        elapsed = self.clock.monotonic() - started
        status = response.status_code
        body, parse_error = self._parse(request, response)
        if response.is_stream_consumed:
            # httpx binds each response's stream back to the response: a reference cycle
            # that keeps the raw body alive until the cyclic collector's next full pass,
            # which a long read runs rarely (tens of raw pages piled up in between). The
            # body is read and kept in ``content``; an empty stream breaks the cycle.
            response.stream = httpx.ByteStream(b"")
        if limiter is not None:
            limiter.observe(response.headers, body)
        self.stats.record_response(status)
        self._emit("response", request, safe_url, attempt, status_code=status, elapsed=elapsed)
        _log.debug(
            "%s %s %s -> %d in %.3fs (attempt %d)",
            self.platform,
            request.method,
            safe_url,
            status,
            elapsed,
            attempt,
        )
        error = self.error_mapper(response, body, platform=self.platform, redactor=self.redactor)
        if error is not None:
            if isinstance(error, RateLimitError) and status != 429:
                self.stats.add(rate_limited=1)  # e.g. GraphQL THROTTLED with HTTP 200
            return _Failure(error, response, safe_url)
        if parse_error is not None:
            self.stats.add(malformed=1)
            malformed = self._malformed_from(response, request, safe_url, parse_error)
            return _Failure(malformed, response, safe_url)
        return JsonResponse(
            status_code=status,
            body=body,
            headers=response.headers,
            request=request,
            elapsed=elapsed,
            attempts=attempt,
            raw=response,
        )

    @staticmethod
    def _parse(request: Request, response: httpx.Response) -> tuple[Any, str | None]:
        """Return (parsed body or None, why it is not the JSON expected or None)."""
        no_body = request.method == "HEAD" or response.status_code in _NO_BODY_STATUSES
        if no_body or (not request.expect_json and response.status_code < 300):
            return None, None
        content = response.content
        if not content.strip():
            return None, "empty body"
        try:
            return decode_json(content), None
        except (ValueError, UnicodeDecodeError) as exc:
            # json.JSONDecodeError is a ValueError: truncated bodies and HTML error pages.
            return None, f"body is not valid JSON ({exc.__class__.__name__}: {exc})"

    def _malformed_from(
        self, response: httpx.Response, request: Request, safe_url: str, why: str
    ) -> MalformedResponseError:
        excerpt_source = _EXCERPTS
        content_type = response.headers.get("Content-Type", "?")
        return MalformedResponseError(
            f"{why}; content-type {content_type}",
            platform=self.platform,
            status_code=response.status_code,
            request_id=excerpt_source.request_id(response.headers),
            method=request.method,
            url=safe_url,
            body_excerpt=excerpt_source.excerpt(response, self.redactor),
        )

    def _malformed(self, page: JsonResponse, request: Request, why: str) -> MalformedResponseError:
        safe_url = self.redactor.url(
            str(page.raw.request.url) if page.raw is not None else request.url
        )
        if page.raw is not None:
            return self._malformed_from(page.raw, request, safe_url, why)
        return MalformedResponseError(
            why, platform=self.platform, method=request.method, url=safe_url
        )

    @staticmethod
    def _retriable(failure: _Failure, request: Request) -> bool:
        error = failure.error
        if isinstance(error, RateLimitError):
            return True  # refused before it was processed: safe even for a POST
        if not failure.sent:
            return True  # connect error: the request never left
        return isinstance(error, RetriableError) and request.is_idempotent

    def _give_up(
        self, error: Exception, request: Request, safe_url: str, attempt: int, why: str
    ) -> None:
        self.stats.add(give_ups=1)
        self._emit("give_up", request, safe_url, attempt, error=error)
        level = 30 if isinstance(error, RetriableError) else 20  # WARNING / INFO
        _log.log(
            level,
            "%s %s %s: giving up after %d attempt(s), %s: %s",
            self.platform,
            request.method,
            safe_url,
            attempt,
            why,
            _short(error),
        )

    def _emit(
        self,
        kind: EventKind,
        request: Request,
        safe_url: str,
        attempt: int,
        *,
        status_code: int | None = None,
        wait: float | None = None,
        elapsed: float | None = None,
        error: Exception | None = None,
    ) -> None:
        if self.on_event is None:
            return
        event = HttpEvent(
            kind=kind,
            platform=self.platform,
            method=request.method,
            url=safe_url,
            attempt=attempt,
            status_code=status_code,
            wait=wait,
            elapsed=elapsed,
            error=self.redactor.text(_short(error)) if error is not None else None,
        )
        try:
            self.on_event(event)
        except Exception:  # a broken stats hook must not break a sync
            _log.exception("%s: the on_event callback raised; ignored", self.platform)


def _short(error: BaseException) -> str:
    if isinstance(error, APIError):
        code = f" {error.code}" if error.code else ""
        return f"{type(error).__name__} {error.status_code}{code}: {error.message}"
    return f"{type(error).__name__}: {error}"
