"""The request log: what a simulator saw and answered, for assertions after the fact.

Example:
    >>> log = RequestLog()
    >>> log.record(time=0.0, method="GET", path="/orders", query=(("page", "1"),), status=200)
    >>> log.record(time=0.5, method="GET", path="/orders", query=(("page", "1"),), status=200)
    >>> log.count_by_status()
    {200: 2}
    >>> log.max_in_window(1.0)
    2
    >>> [(e.path, e.params) for e in log.repeated()]
    [('/orders', {'page': '1'})]

POST-paged APIs (Square's searches, GraphQL) send the page in the body, so the body
is part of what makes a request "the same page":

    >>> log.record(time=1.0, method="POST", path="/search", json={"cursor": None}, status=200)
    >>> log.record(time=1.1, method="POST", path="/search", json={"cursor": "c2"}, status=200)
    >>> [e.path for e in log.repeated()]
    ['/orders']
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator
from typing import Any

import attrs

__all__ = ["LoggedRequest", "RequestKey", "RequestLog"]

#: ``(method, path, sorted query, canonical JSON body or None)``: see :attr:`LoggedRequest.key`.
RequestKey = tuple[str, str, tuple[tuple[str, str], ...], str | None]


@attrs.frozen
class LoggedRequest:
    """One request as the simulator saw it, and what it did with it.

    Attributes:
        seq: 1-based arrival number since the log was created or reset.
        time: the simulator clock's ``monotonic()`` reading when the request arrived.
        method: the HTTP method, upper case.
        path: the URL path, without the query string.
        query: the query parameters in order, repeated keys kept.
        json: the request body parsed as JSON, or ``None`` when empty or not JSON.
        status: the status the client received; ``None`` when it received no response
            (connection reset, timeout).
        route: the route pattern that matched, or ``None`` for an unknown route.
        faults: the names of the faults that took effect on this request, e.g.
            ``("latency", "error_status")``; also ``"rate_limited"`` when the rate
            limiter refused it.
    """

    seq: int
    time: float
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    json: Any = None
    status: int | None = None
    route: str | None = None
    faults: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, str]:
        """The query parameters as a dict (the last value wins for repeated keys)."""
        return dict(self.query)

    @property
    def key(self) -> RequestKey:
        """What identifies "the same page": method, path, the sorted query and the body.

        The body is the JSON body in a canonical form (keys sorted), so that two
        searches for different cursors differ and one re-sent with its keys in another
        order does not; ``None`` without a JSON body (the log keeps only JSON bodies).
        """
        body = None if self.json is None else json.dumps(self.json, sort_keys=True, default=str)
        return (self.method, self.path, tuple(sorted(self.query)), body)


class RequestLog:
    """A thread-safe, append-only list of :class:`LoggedRequest` with assertion helpers.

    A :class:`~commerce_connectors.testing.simulator.Simulator` appends one entry per
    request, whatever happened to it (404, 429, injected fault, reset).

    Example:
        >>> log = RequestLog()
        >>> log.record(time=1.0, method="GET", path="/a", status=429, faults=("rate_limited",))
        >>> log.count_by_status(), len(log)
        ({429: 1}, 1)
        >>> log.reset(); len(log)
        0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def record(
        self,
        *,
        time: float,
        method: str,
        path: str,
        query: tuple[tuple[str, str], ...] = (),
        json: Any = None,
        status: int | None = None,
        route: str | None = None,
        faults: tuple[str, ...] = (),
    ) -> None:
        """Append an entry (the simulator calls this; tests rarely need to)."""
        with self._lock:
            entry = LoggedRequest(
                seq=len(self._entries) + 1,
                time=time,
                method=method.upper(),
                path=path,
                query=query,
                json=json,
                status=status,
                route=route,
                faults=faults,
            )
            self._entries.append(entry)

    @property
    def entries(self) -> list[LoggedRequest]:
        """A snapshot copy of every entry, oldest first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.entries)

    def reset(self) -> None:
        """Forget every entry (sequence numbers start again at 1)."""
        with self._lock:
            self._entries.clear()

    def filter(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        route: str | None = None,
        status: int | None = None,
        fault: str | None = None,
    ) -> list[LoggedRequest]:
        """The entries matching every given criterion.

        Example:
            >>> log = RequestLog()
            >>> log.record(time=0, method="GET", path="/a", status=200)
            >>> log.record(time=0, method="POST", path="/a", status=201)
            >>> [e.status for e in log.filter(method="post")]
            [201]
        """
        return [
            e
            for e in self.entries
            if (method is None or e.method == method.upper())
            and (path is None or e.path == path)
            and (route is None or e.route == route)
            and (status is None or e.status == status)
            and (fault is None or fault in e.faults)
        ]

    def count_by_status(self) -> dict[int | None, int]:
        """How many requests got each status (``None``: no response at all)."""
        return dict(collections.Counter(e.status for e in self.entries))

    def max_in_window(self, window: float) -> int:
        """The largest number of requests that arrived within any ``window`` seconds.

        The window is half-open, ``[t, t + window)``, and slides over every arrival
        time, so with ``window=1.0`` this is the peak requests-per-second a client
        actually produced.
        """
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        times = sorted(e.time for e in self.entries)
        best = 0
        start = 0
        # Two pointers over sorted arrival times: O(n) after the sort.
        for end, t in enumerate(times):
            while t - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def peak_rate(self, window: float = 1.0) -> float:
        """:meth:`max_in_window` expressed in requests per second."""
        return self.max_in_window(window) / window

    def repeated(self, *, successful_only: bool = True) -> list[LoggedRequest]:
        """Pages fetched more than once: the first entry of each repeated request.

        Two requests are "the same page" when method, path, query parameters (order
        ignored) and JSON body (key order ignored) are equal: APIs that page with a
        cursor in a POST body (Square's searches, GraphQL) send one path many times.
        By default only 2xx answers count, because retrying a 429, a 5xx or a reset
        is correct behaviour, while fetching a page that was already *received*
        points to a pagination bug.
        """
        counts: collections.Counter[RequestKey] = collections.Counter()
        first: dict[RequestKey, LoggedRequest] = {}
        for e in self.entries:
            if successful_only and (e.status is None or not 200 <= e.status < 300):
                continue
            counts[e.key] += 1
            first.setdefault(e.key, e)
        return [first[k] for k, n in counts.items() if n > 1]

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests, by status {self.count_by_status()})"
