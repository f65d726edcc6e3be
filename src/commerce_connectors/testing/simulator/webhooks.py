"""Webhook delivery for simulators: a queue of signed events sent over real HTTP, with faults.

A platform simulator keeps its subscriptions (through the platform's own
subscription endpoints), builds each event's body and headers and signs them
with the platform's scheme, then hands the delivery to a :class:`WebhookOutbox`.
:meth:`WebhookOutbox.flush` POSTs every due delivery to its URL, the way the
platform would: a non-2xx answer or no answer is retried on a later flush, up
to ``max_attempts``.

Platforms deliver only to public HTTPS URLs (BigCommerce only on port 443), so
a test registers the public URL and forwards it to the receiver on the
loopback with :meth:`WebhookOutbox.forward`, as a tunnel would: the body and
headers, Square's URL-bound signature included, are those of the public URL.

Faults reproduce what the platforms warn about: the same event delivered more
than once, events out of order, late deliveries, and a bad signature (a
forged or corrupted delivery the receiver must refuse).

Example:
    >>> import httpx
    >>> from commerce_connectors.clock import FakeClock
    >>> seen = []
    >>> def receiver(request):
    ...     seen.append((request.headers["x-topic"], request.content))
    ...     return httpx.Response(200)
    >>> outbox = WebhookOutbox(clock=FakeClock(), transport=httpx.MockTransport(receiver))
    >>> _ = outbox.enqueue("https://hooks.test/a", "orders/create", b'{"id": 1}',
    ...     {"x-topic": "orders/create", "x-sig": "abc"}, signature_header="x-sig")
    >>> outbox.faults(duplicate=1)
    >>> [r.status for r in outbox.flush()]
    [200, 200]
    >>> seen[0] == seen[1]
    True
"""

from __future__ import annotations

import datetime as _dt
import random
import threading
import time
from collections.abc import Callable, Mapping

import attrs
import httpx

from ...clock import Clock, SystemClock

__all__ = ["Delivery", "DeliveryResult", "WebhookOutbox", "tamper"]


@attrs.define
class Delivery:
    """One event waiting to be delivered.

    Attributes:
        url: where it goes.
        topic: the platform's topic (for tests and logs).
        body: the exact bytes that were signed.
        headers: every header, the signature included.
        signature_header: the header holding the signature (what the
            bad-signature fault corrupts).
        queued_at: when the simulator queued it (its clock).
        due: the earliest moment it may be sent.
        attempts: how many times it was sent without a 2xx.
        sign: for schemes that sign the sending time (Standard Webhooks), gives
            the signature headers for the body at the moment it is sent, so a
            delayed delivery or a retry carries a fresh timestamp, as the
            platform's own retries do.
    """

    url: str
    topic: str
    body: bytes
    headers: dict[str, str]
    signature_header: str
    queued_at: _dt.datetime
    due: _dt.datetime
    attempts: int = 0
    sign: Callable[[bytes, _dt.datetime], Mapping[str, str]] | None = None


@attrs.frozen
class DeliveryResult:
    """What one POST of a delivery gave.

    Attributes:
        url: where it went.
        topic: its topic.
        status: the receiver's HTTP status (``None`` when no answer came).
        error: why no answer came.
        attempt: 1 for the first try.
        duplicate: a copy sent by the duplicate-delivery fault.
        elapsed: seconds until the answer (real time).
    """

    url: str
    topic: str
    status: int | None
    error: str | None
    attempt: int
    duplicate: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """A 2xx answer: the platform counts the delivery done."""
        return self.status is not None and 200 <= self.status < 300


def tamper(value: str) -> str:
    """The same signature with one character changed (still well-formed).

    Example:
        >>> tamper("v1,abcd")
        'v1,abce'
    """
    for i in range(len(value) - 1, -1, -1):
        ch = value[i]
        if ch.isalnum():
            swapped = (
                "0" if ch == "9" else "a" if ch == "z" else "A" if ch == "Z" else chr(ord(ch) + 1)
            )
            return value[:i] + swapped + value[i + 1 :]
    return value + "0"


class WebhookOutbox:
    """Signed deliveries waiting to be POSTed, with delivery faults.

    Args:
        clock: the simulator's clock (delays and ``queued_at`` use it).
        transport: an httpx transport for the POSTs (default: real HTTP).
        timeout: seconds to wait for the receiver; Shopify gives 5.
        max_attempts: tries before a delivery is dropped (kept in :attr:`failed`).
        seed: seeds the shuffling fault.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 5.0,
        max_attempts: int = 5,
        seed: int = 0,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._client = httpx.Client(transport=transport, timeout=timeout)
        self.max_attempts = max_attempts
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.pending: list[Delivery] = []
        #: Every POST made, in order.
        self.results: list[DeliveryResult] = []
        #: Deliveries given up after ``max_attempts``.
        self.failed: list[Delivery] = []
        self._duplicate = 0
        self._reorder = False
        self._shuffle = False
        self._delay = _dt.timedelta(0)
        self._bad_signature = False
        self._forwards: list[tuple[str, str]] = []

    def forward(self, public_prefix: str, local_prefix: str) -> None:
        """POST deliveries for URLs starting with ``public_prefix`` to ``local_prefix`` instead.

        Example:
            >>> outbox = WebhookOutbox()
            >>> outbox.forward("https://hooks.example.com/", "http://127.0.0.1:8123/")
            >>> outbox.target("https://hooks.example.com/shopify/a")
            'http://127.0.0.1:8123/shopify/a'
        """
        self._forwards.append((public_prefix, local_prefix))

    def target(self, url: str) -> str:
        """Where a delivery for ``url`` is actually POSTed (after :meth:`forward`)."""
        for public, local in self._forwards:
            if url.startswith(public):
                return local + url[len(public) :]
        return url

    # -- faults -------------------------------------------------------------------------

    def faults(
        self,
        *,
        duplicate: int = 0,
        reorder: bool = False,
        shuffle: bool = False,
        delay: _dt.timedelta | float = 0.0,
        bad_signature: bool = False,
    ) -> None:
        """Set the delivery faults (each call replaces the previous settings).

        Args:
            duplicate: send every delivery this many extra times (same id, same body).
            reorder: send the due deliveries newest first.
            shuffle: send them in a seeded random order.
            delay: hold each delivery this long after it was queued.
            bad_signature: corrupt the signature of every delivery.
        """
        self._duplicate = duplicate
        self._reorder = reorder
        self._shuffle = shuffle
        self._delay = delay if isinstance(delay, _dt.timedelta) else _dt.timedelta(seconds=delay)
        self._bad_signature = bad_signature

    # -- queue --------------------------------------------------------------------------

    def enqueue(
        self,
        url: str,
        topic: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        signature_header: str,
        sign: Callable[[bytes, _dt.datetime], Mapping[str, str]] | None = None,
    ) -> Delivery:
        """Queue a signed delivery; it is sent by a later :meth:`flush`.

        ``sign``, when given, re-signs the body at each sending (see :class:`Delivery`).
        """
        now = self.clock.now()
        delivery = Delivery(
            url, topic, body, dict(headers), signature_header, now, now + self._delay, 0, sign
        )
        with self._lock:
            self.pending.append(delivery)
        return delivery

    def flush(self) -> list[DeliveryResult]:
        """POST every due delivery (faults applied); keep failures for a later flush."""
        now = self.clock.now()
        with self._lock:
            due = [d for d in self.pending if d.due <= now]
            self.pending = [d for d in self.pending if d.due > now]
        if self._reorder:
            due.reverse()
        elif self._shuffle:
            self._random.shuffle(due)
        results: list[DeliveryResult] = []
        retry: list[Delivery] = []
        for delivery in due:
            first = self._post(delivery, duplicate=False)
            results.append(first)
            results.extend(self._post(delivery, duplicate=True) for _ in range(self._duplicate))
            if not first.ok:
                delivery.attempts += 1
                (retry if delivery.attempts < self.max_attempts else self.failed).append(delivery)
        with self._lock:
            self.pending.extend(retry)
            self.results.extend(results)
        return results

    def _headers(self, delivery: Delivery) -> dict[str, str]:
        headers = dict(delivery.headers)
        if delivery.sign is not None:
            headers.update(delivery.sign(delivery.body, self.clock.now()))
        name = delivery.signature_header
        if self._bad_signature and name in headers:
            headers[name] = tamper(headers[name])
        return headers

    def _post(self, delivery: Delivery, *, duplicate: bool) -> DeliveryResult:
        headers = self._headers(delivery)
        start = time.perf_counter()
        try:
            response = self._client.post(
                self.target(delivery.url), content=delivery.body, headers=headers
            )
            status, error = response.status_code, None
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        return DeliveryResult(
            delivery.url,
            delivery.topic,
            status,
            error,
            delivery.attempts + 1,
            duplicate,
            time.perf_counter() - start,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def __repr__(self) -> str:
        return f"WebhookOutbox(pending={len(self.pending)}, sent={len(self.results)})"
