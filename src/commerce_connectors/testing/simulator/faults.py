"""Fault injection: declarative, targeted, countable and deterministic.

A fault is a frozen description. The simulator keeps the counters and a random
generator per fault, seeded from the simulator's seed and the fault's position,
so the same requests in the same order meet the same faults on every run, and
adding a fault does not change the dice of the others.

Every fault accepts the same targeting keywords:

* ``route``: a route pattern exactly as registered (``"/orders/{id}.json"``);
  ``None`` targets every request, unknown routes included.
* ``method``: an HTTP method; ``None`` for any.
* ``on``: 1-based positions among the *matching* requests, e.g. ``on=(3,)``
  for "the 3rd request". Empty means every matching request is a candidate.
* ``rate``: the probability that a candidate is hit (seeded), default 1.
* ``times``: the most times the fault may fire; ``None`` for no limit.

Every matching request advances every fault's counter, even when another fault
already decided its fate (a reset before a 503, say), so ``on=(3,)`` always
means the 3rd matching request to arrive.

Example:
    >>> third_fails = ErrorStatus(status=503, on=(3,))
    >>> flaky = ErrorStatus(status=500, rate=0.1, route="/orders.json")
    >>> burst = RateLimitBurst(length=3, retry_after=2.0, on=(5,))
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import ClassVar, Literal

import attrs
import httpx

__all__ = [
    "ConnectionReset",
    "ErrorStatus",
    "Fault",
    "Latency",
    "MalformedBody",
    "Mutate",
    "RateLimitBurst",
    "SlowResponse",
]


def _positions(value: int | tuple[int, ...] | list[int] | range) -> tuple[int, ...]:
    out = (value,) if isinstance(value, int) else tuple(value)
    if any(p < 1 for p in out):
        raise ValueError(f"positions are 1-based: {out}")
    return out


def _upper(method: str | None) -> str | None:
    return method.upper() if method is not None else None


def _check_rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value}")


@attrs.frozen(kw_only=True)
class Fault:
    """Base of every fault: the targeting and limiting keywords (see the module doc).

    Attributes:
        route: the registered route pattern to target, or ``None`` for all.
        method: the HTTP method to target, or ``None`` for all.
        on: 1-based positions among matching requests; an int is accepted.
        rate: probability of firing on a candidate request.
        times: the most times this fault fires, or ``None``.
    """

    name: ClassVar[str] = "fault"

    route: str | None = None
    method: str | None = attrs.field(default=None, converter=_upper)
    on: tuple[int, ...] = attrs.field(default=(), converter=_positions)
    rate: float = attrs.field(default=1.0, validator=_check_rate)
    times: int | None = None

    def targets(self, method: str, route: str | None) -> bool:
        """Whether a request with this method and matched route pattern is in scope."""
        return (self.method is None or self.method == method.upper()) and (
            self.route is None or self.route == route
        )


@attrs.frozen(kw_only=True)
class Latency(Fault):
    """Delay the answer by ``seconds`` (plus up to ``jitter``), sleeping on the clock.

    With a :class:`~commerce_connectors.clock.FakeClock` the delay only moves fake
    time forward, so it is free in tests.
    """

    name: ClassVar[str] = "latency"

    seconds: float = 0.1
    jitter: float = 0.0


@attrs.frozen(kw_only=True)
class RateLimitBurst(Fault):
    """Answer ``length`` consecutive matching requests with 429, from each trigger on.

    Independent of the simulator's rate limiter: it models a platform that
    throttles for its own reasons. The 429 body comes from
    :meth:`Simulator.error_body`; the wait goes in ``header`` (``Retry-After`` by
    default; BigCommerce uses ``X-Retry-After``; ``None`` for no header, as
    Square does).
    """

    name: ClassVar[str] = "rate_limit_burst"

    length: int = 3
    retry_after: float = 1.0
    header: str | None = "Retry-After"


@attrs.frozen(kw_only=True)
class ErrorStatus(Fault):
    """Answer with an HTTP error (5xx by default) in the platform's error shape."""

    name: ClassVar[str] = "error_status"

    status: int = 503
    message: str = "Service Unavailable"


@attrs.frozen(kw_only=True)
class ConnectionReset(Fault):
    """Drop the connection without an answer; the handler is not called.

    In process, ``mode="reset"`` raises :class:`httpx.ReadError` and
    ``mode="disconnect"`` raises :class:`httpx.RemoteProtocolError`. Served on a
    socket, ``reset`` closes it with an RST (``SO_LINGER`` 0) and ``disconnect``
    closes it cleanly before any byte of the response.
    """

    name: ClassVar[str] = "connection_reset"

    mode: Literal["reset", "disconnect"] = "reset"


@attrs.frozen(kw_only=True)
class MalformedBody(Fault):
    """Corrupt the handler's answer body while keeping its status and headers.

    Modes: ``"truncate"`` keeps the first half of the bytes (invalid JSON with a
    correct ``Content-Length``), ``"garbage"`` sends bytes that are not JSON,
    ``"html"`` sends a proxy's HTML error page with ``Content-Type: text/html``.
    """

    name: ClassVar[str] = "malformed_body"

    mode: Literal["truncate", "garbage", "html"] = "truncate"


@attrs.frozen(kw_only=True)
class SlowResponse(Fault):
    """Answer after ``seconds``: slower than a client's read timeout when it is shorter.

    In process the simulator reads the client's read timeout from the request
    (httpx puts it in ``request.extensions["timeout"]``): if ``seconds`` exceeds it,
    the clock sleeps for the timeout and :class:`httpx.ReadTimeout` is raised;
    otherwise the clock sleeps ``seconds`` and the answer is normal. Served on a
    socket, the server thread *really* sleeps ``seconds`` before answering (keep it
    short, e.g. 0.3 s against a 0.1 s client timeout).
    """

    name: ClassVar[str] = "slow_response"

    seconds: float = 1.0


@attrs.frozen(kw_only=True)
class Mutate(Fault):
    """Call ``hook(request)`` before handling the targeted request, to change the data.

    This is how records get inserted or updated while a client pages through:
    target the 2nd page request and bump ``updated_at`` of a record the 1st page
    already served, so it moves to a later page. The hook runs under the
    simulator's lock, so handlers never see a half-made change.

    Example:
        >>> def bump(request):
        ...     pass  # e.g. store.update(1)
        >>> Mutate(hook=bump, route="/orders.json", on=2)
        Mutate(route='/orders.json', method=None, on=(2,), ..., hook=<function bump ...>)
    """

    name: ClassVar[str] = "mutate"

    hook: Callable[[httpx.Request], None]


class FaultState:
    """The mutable side of one fault inside one simulator: counters and its dice."""

    def __init__(self, fault: Fault, seed: int, index: int) -> None:
        self.fault = fault
        # A string seed is hashed deterministically by random.Random (not PYTHONHASHSEED).
        self._rng = random.Random(f"{seed}:{index}:{fault.name}")
        self.seen = 0
        self.fired = 0
        self._burst_left = 0

    def decide(self, method: str, route: str | None) -> bool:
        """Advance the counters for one request and say whether the fault hits it."""
        f = self.fault
        if not f.targets(method, route):
            return False
        self.seen += 1
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        if f.times is not None and self.fired >= f.times:
            return False
        if f.on and self.seen not in f.on:
            return False
        # Draw only when needed, so a rate of 1 never consumes randomness.
        if f.rate < 1.0 and self._rng.random() >= f.rate:
            return False
        self.fired += 1
        if isinstance(f, RateLimitBurst):
            self._burst_left = max(0, f.length - 1)
        return True

    def jitter(self, amount: float) -> float:
        """A seeded extra delay in ``[0, amount)``."""
        return self._rng.uniform(0.0, amount) if amount > 0 else 0.0
