"""The :class:`Simulator` base: routing, rate limits, faults and the request log.

A simulator is a request handler, ``httpx.Request -> httpx.Response``. The same
object runs in-process behind :class:`httpx.MockTransport` and on a real
loopback socket, so a connector's tests can go through either path and get the
same answers.

Example:
    >>> class Hello(Simulator):
    ...     @route("GET", "/hello/{name}")
    ...     def hello(self, request, params):
    ...         return json_response({"hello": params["name"]})
    >>> sim = Hello()
    >>> with httpx.Client(transport=sim.transport(), base_url="https://sim.test") as client:
    ...     client.get("/hello/world").json()
    {'hello': 'world'}
    >>> sim.log.count_by_status()
    {200: 1}
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal, TypeVar

import attrs
import httpx

from ...clock import Clock, SystemClock
from .faults import (
    ConnectionReset,
    ErrorStatus,
    Fault,
    FaultState,
    Latency,
    MalformedBody,
    Mutate,
    RateLimitBurst,
    SlowResponse,
)
from .log import RequestLog
from .ratelimit import RateLimiter, format_seconds

__all__ = ["Handler", "Simulator", "json_response", "request_json", "route"]

#: A route handler: the request and the named path parameters, to a response.
Handler = Callable[[httpx.Request, dict[str, str]], httpx.Response]

_F = TypeVar("_F", bound=Callable[..., httpx.Response])
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ROUTE_ATTR = "_simulator_routes"

_HTML_ERROR_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
_GARBAGE = b"\x00\xff{not json at all"


def route(method: str, pattern: str) -> Callable[[_F], _F]:
    """Register a :class:`Simulator` method as the handler of ``method pattern``.

    ``{name}`` in the pattern matches one path segment (no ``/``) and is passed to
    the handler in its ``params`` dict; the rest matches literally. Routes are
    tried in the order they are defined, base classes first, so define
    ``/orders/count.json`` before ``/orders/{id}.json``. A method may carry
    several ``@route`` decorators.

    Example:
        >>> class Shop(Simulator):
        ...     @route("GET", "/admin/api/{version}/orders/{id}.json")
        ...     def order(self, request, params):
        ...         return json_response({"order": {"id": int(params["id"])}})
    """

    def decorate(func: _F) -> _F:
        routes = list(getattr(func, _ROUTE_ATTR, ()))
        routes.append((method.upper(), pattern))
        setattr(func, _ROUTE_ATTR, routes)
        return func

    return decorate


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON response (UTF-8, no ASCII escaping, ``Content-Type: application/json``).

    Example:
        >>> json_response({"errors": "Not Found"}, 404).status_code
        404
    """
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return httpx.Response(status, headers=all_headers, content=body)


def request_json(request: httpx.Request) -> Any:
    """The request body parsed as JSON, or ``None`` if it is empty or not JSON.

    Example:
        >>> request_json(httpx.Request("POST", "https://sim.test/x", json={"a": 1}))
        {'a': 1}
    """
    content = request.read()
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


@attrs.frozen
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


def _compile(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("/"):
        raise ValueError(f"route patterns start with '/': {pattern!r}")
    parts: list[str] = []
    last = 0
    for m in _PARAM.finditer(pattern):
        parts.append(re.escape(pattern[last : m.start()]))
        parts.append(f"(?P<{m.group(1)}>[^/]+)")
        last = m.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts) + r"\Z")


TransportAction = Literal["reset", "disconnect", "timeout"]


@attrs.frozen
class _Outcome:
    """What the simulator decided for one request (used by the in-process and served paths).

    Attributes:
        response: the response to send, or ``None`` for a dropped connection.
        action: a transport-level fault to enact instead of (or before) answering.
        delay: for ``action="timeout"``, how long the answer takes.
    """

    response: httpx.Response | None
    action: TransportAction | None = None
    delay: float = 0.0


class Simulator:
    """Base class for platform simulators: routes, rate limit, faults, request log.

    Subclasses register handlers with :func:`route` (or :meth:`add_route`) and may
    override :meth:`error_body` (the platform's error JSON), :meth:`response_headers`
    (headers on every response) and :meth:`before_request` (e.g. authentication).

    Each request goes through, in order: route matching, :class:`Mutate` hooks,
    :class:`Latency`, :class:`ConnectionReset`, :meth:`before_request` and the rate
    limiter (known routes only), :class:`RateLimitBurst`, :class:`ErrorStatus`, the
    handler (a 404 if no route matched), :meth:`response_headers`,
    :class:`MalformedBody` (2xx only), :class:`SlowResponse`. Then it is logged in
    :attr:`log`.

    Handlers run one at a time under the simulator's lock, so they may read and
    change shared data freely; sleeps happen outside it.

    Args:
        clock: every sleep and reading of time goes through it; use a
            :class:`~commerce_connectors.clock.FakeClock` in tests.
        rate_limit: a :class:`RateLimiter`, or ``None`` for no limit.
        faults: faults to inject (see :mod:`.faults`).
        seed: seeds the faults' dice.

    Attributes:
        clock: the injected clock.
        rate_limit: the rate limiter, or ``None``.
        log: the :class:`RequestLog` of every request.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> class Demo(Simulator):
        ...     @route("GET", "/ping")
        ...     def ping(self, request, params):
        ...         return json_response({"ok": True})
        >>> sim = Demo(clock=FakeClock(), faults=[ErrorStatus(status=503, on=2)])
        >>> client = httpx.Client(transport=sim.transport(), base_url="https://sim.test")
        >>> [client.get("/ping").status_code for _ in range(3)]
        [200, 503, 200]
    """

    _class_routes: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Collected once per class, by attribute name, so that a subclass overriding
        # a handler method (without re-decorating it) keeps the route.
        inherited = list(cls._class_routes)
        for name, value in cls.__dict__.items():
            for method, pattern in getattr(value, _ROUTE_ATTR, ()):
                inherited.append((method, pattern, name))
        cls._class_routes = tuple(inherited)

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rate_limit: RateLimiter | None = None,
        faults: Iterable[Fault] = (),
        seed: int = 0,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.rate_limit = rate_limit
        self.log = RequestLog()
        self.seed = seed
        self._lock = threading.RLock()
        self._routes: list[_Route] = []
        self._faults: list[FaultState] = []
        for method, pattern, name in self._class_routes:
            self.add_route(method, pattern, getattr(self, name))
        for fault in faults:
            self.add_fault(fault)

    # ----------------------------------------------------------------- configuration

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler(request, params)`` for ``method`` and ``pattern``.

        Example:
            >>> sim = Simulator()
            >>> sim.add_route("GET", "/items/{id}", lambda r, p: json_response({"id": p["id"]}))
        """
        with self._lock:
            self._routes.append(_Route(method.upper(), pattern, _compile(pattern), handler))

    def add_fault(self, fault: Fault) -> None:
        """Start injecting ``fault`` (its counters start at zero)."""
        with self._lock:
            self._faults.append(FaultState(fault, self.seed, len(self._faults)))

    def clear_faults(self) -> None:
        """Stop injecting every fault."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Start afresh: empty the log, refill the rate limit, restart every fault's counters.

        The faults stay configured, and their dice restart from the seed, so a test
        can run the same scenario twice on one simulator. Data is the subclass's.
        """
        with self._lock:
            self.log.reset()
            if self.rate_limit is not None:
                self.rate_limit.reset()
            self._faults = [FaultState(s.fault, self.seed, i) for i, s in enumerate(self._faults)]

    @property
    def routes(self) -> list[tuple[str, str]]:
        """The registered ``(method, pattern)`` pairs, in matching order."""
        with self._lock:
            return [(r.method, r.pattern) for r in self._routes]

    # ----------------------------------------------------------------- subclass hooks

    def error_body(self, status: int, message: str) -> Any:
        """The JSON body of an error the simulator itself produces (404, 429, 5xx).

        Override to reproduce the platform's error shape, e.g. Shopify's
        ``{"errors": message}`` or Square's ``{"errors": [{"category": ..., "code": ...}]}``.
        """
        return {"error": message, "status": status}

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        """Headers added to every response (a request id, an API version …). None by default."""
        return {}

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        """Return a response to answer without calling the handler (e.g. a 401), else ``None``.

        Runs before the rate limiter for known routes only.
        """
        return None

    def error_response(self, status: int, message: str) -> httpx.Response:
        """A JSON response carrying :meth:`error_body`."""
        return json_response(self.error_body(status, message), status)

    # ----------------------------------------------------------------- entry points

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request in-process; transport faults raise httpx exceptions.

        This is the handler for ``httpx.MockTransport``.
        """
        outcome = self._process(request)
        if outcome.action == "reset":
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if outcome.action == "disconnect":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if outcome.action == "timeout":
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        assert outcome.response is not None
        return outcome.response

    def transport(self) -> httpx.MockTransport:
        """An :class:`httpx.MockTransport` calling :meth:`handle`.

        Example:
            >>> client = httpx.Client(transport=Simulator().transport(), base_url="https://x.test")
            >>> client.get("/nowhere").status_code
            404
        """
        return httpx.MockTransport(self.handle)

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve this simulator on a real socket; yields the base URL.

        A stdlib ``ThreadingHTTPServer`` runs in a background thread and is shut
        down when the block exits. ``port=0`` picks a free port.

        Example:
            >>> with Simulator().serve() as base_url:
            ...     httpx.get(base_url + "/nowhere").status_code
            404
        """
        from .server import serve  # the server module is only needed in served mode

        with serve(self, host, port) as base_url:
            yield base_url

    # ----------------------------------------------------------------- the pipeline

    def _process(self, request: httpx.Request, *, served: bool = False) -> _Outcome:
        """Run the whole pipeline for one request and log it.

        The shared core of :meth:`handle` and the server. With ``served=True`` a
        :class:`SlowResponse` never raises: the server enacts it by really sleeping.
        """
        request.read()
        method = request.method.upper()
        path = request.url.path
        arrived = self.clock.monotonic()
        applied: list[str] = []

        with self._lock:
            matched, params = self._match(method, path)
            pattern = matched.pattern if matched else None
            # Every fault decides on every request up front, so counters stay meaningful.
            states = [s for s in self._faults if s.decide(method, pattern)]
            hits = [s.fault for s in states]
            delay = 0.0
            for state in states:
                fault = state.fault
                if isinstance(fault, Mutate):
                    fault.hook(request)
                    applied.append(fault.name)
                elif isinstance(fault, Latency):
                    delay += fault.seconds + state.jitter(fault.jitter)
                    applied.append(fault.name)

        if delay > 0:
            self.clock.sleep(delay)

        reset = next((f for f in hits if isinstance(f, ConnectionReset)), None)
        if reset is not None:
            applied.append(reset.name)
            self._log(request, arrived, None, pattern, applied)
            return _Outcome(None, reset.mode)

        with self._lock:
            response = self._respond(request, matched, params, hits, applied)
            response.headers.update(self.response_headers(request, response))
            malformed = next((f for f in hits if isinstance(f, MalformedBody)), None)
            if malformed is not None and 200 <= response.status_code < 300:
                response = _corrupt(response, malformed.mode)
                applied.append(malformed.name)

        slow = next((f for f in hits if isinstance(f, SlowResponse)), None)
        if slow is not None:
            applied.append(slow.name)
            if served:
                self._log(request, arrived, response.status_code, pattern, applied)
                return _Outcome(response, "timeout", slow.seconds)
            timeout = request.extensions.get("timeout", {}).get("read")
            if isinstance(timeout, (int, float)) and slow.seconds > timeout:
                self.clock.sleep(float(timeout))
                self._log(request, arrived, None, pattern, applied)
                return _Outcome(None, "timeout", slow.seconds)
            self.clock.sleep(slow.seconds)

        self._log(request, arrived, response.status_code, pattern, applied)
        return _Outcome(response)

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for r in self._routes:
            if r.method != method:
                continue
            m = r.regex.match(path)
            if m:
                return r, m.groupdict()
        return None, {}

    def _respond(
        self,
        request: httpx.Request,
        matched: _Route | None,
        params: dict[str, str],
        hits: list[Fault],
        applied: list[str],
    ) -> httpx.Response:
        """Everything between "the connection stays up" and "the body is final"."""
        limit_headers: Mapping[str, str] = {}
        # Authentication and the rate limit only concern known routes; injected faults
        # concern every request they target, unknown routes included.
        if matched is not None:
            early = self.before_request(request, params)
            if early is not None:
                return early
            if self.rate_limit is not None:
                admission = self.rate_limit.admit(self.clock.monotonic())
                limit_headers = admission.headers
                if not admission.allowed:
                    applied.append("rate_limited")
                    response = self.error_response(429, "Too Many Requests")
                    response.headers.update(limit_headers)
                    return response
        for fault in hits:
            if isinstance(fault, RateLimitBurst):
                applied.append(fault.name)
                response = self.error_response(429, "Too Many Requests")
                if fault.header:
                    response.headers[fault.header] = format_seconds(fault.retry_after)
                return response
            if isinstance(fault, ErrorStatus):
                applied.append(fault.name)
                return self.error_response(fault.status, fault.message)
        if matched is None:
            return self.error_response(404, f"Not Found: {request.method} {request.url.path}")
        response = matched.handler(request, params)
        response.headers.update(limit_headers)
        return response

    def _log(
        self,
        request: httpx.Request,
        arrived: float,
        status: int | None,
        pattern: str | None,
        applied: list[str],
    ) -> None:
        self.log.record(
            time=arrived,
            method=request.method,
            path=request.url.path,
            query=tuple(request.url.params.multi_items()),
            json=request_json(request),
            status=status,
            route=pattern,
            faults=tuple(applied),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(routes={len(self._routes)}, faults={len(self._faults)}, "
            f"rate_limit={self.rate_limit!r})"
        )


def _corrupt(response: httpx.Response, mode: str) -> httpx.Response:
    body = response.read()
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    if mode == "truncate":
        content = body[: len(body) // 2]
    elif mode == "html":
        content = _HTML_ERROR_PAGE
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        headers["Content-Type"] = "text/html"
    else:
        content = _GARBAGE
    return httpx.Response(response.status_code, headers=headers, content=content)
