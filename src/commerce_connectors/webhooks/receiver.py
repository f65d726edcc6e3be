"""The receiving end: verify a delivery, store it in the inbox, answer — in that order.

:class:`WebhookReceiver` is framework-free: :meth:`WebhookReceiver.handle`
takes the request's headers, raw body and URL and returns the status and body
to answer with, so it drops into Flask, Django or any ASGI/WSGI app. The
Starlette app in :mod:`commerce_connectors.webhooks.asgi` wraps it.

What it answers:

* **404**: no endpoint at that path (routes come from configuration, never
  from the payload);
* **401**: verification failed (the check is named; nothing is stored);
* **413**: the body is larger than allowed;
Several connections may share one path (Shopify's and Tiendanube's privacy
webhooks go to one URL per app, whatever the store): the event is then given
to the configured connection whose ``owns`` check accepts it. The payload only
chooses among connections you configured; it never names a file or a host.

* **200** otherwise, *after* the event is durably stored: ``accepted``,
  ``duplicate`` (its id is already in the inbox), or ``kept`` for a signed
  delivery that could not be read or names another store (stored as
  ``failed`` with its raw body for inspection: the platform's retries would
  not fix it, and failing deliveries get subscriptions disabled).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._webhooks import (
    DEFAULT_MAX_BODY,
    Headers,
    SecretInput,
    WebhookAction,
    WebhookEvent,
    header,
    normalize_headers,
    secrets_of,
)
from ..clock import Clock, SystemClock
from ..errors import ConfigurationError, WebhookPayloadError, WebhookVerificationError
from ..models import Platform
from ..platforms.bigcommerce.webhooks import standard_webhooks_key
from ..protocols import EventStatus, InboxStore
from ._schemes import parse_event, platform_of, verify

__all__ = ["Acknowledgement", "WebhookEndpoint", "WebhookReceiver", "endpoint_path"]

logger = logging.getLogger("commerce_connectors.webhooks")

#: The header each platform names its topic in (kept when a body is unreadable).
_TOPIC_HEADERS = ("x-shopify-topic",)


def endpoint_path(connection_id: str, prefix: str = "/webhooks") -> str:
    """The default route of a connection's endpoint.

    Example:
        >>> endpoint_path("shopify:acme.myshopify.com")
        '/webhooks/shopify/acme.myshopify.com'
    """
    safe = "".join(c if c.isalnum() or c in "-._~" else "/" for c in connection_id)
    return f"{prefix.rstrip('/')}/{safe.strip('/')}"


def _platform(value: Platform | str) -> Platform:
    return platform_of(value)


@attrs.frozen
class WebhookEndpoint:
    """One connection's webhook endpoint.

    Attributes:
        connection_id: the connection whose events arrive here.
        platform: its platform.
        secret: the signing secret, or several while rotating (never in the repr).
        url: the public URL the platform delivers to. Square signs it with the
            body, so it is required there, byte for byte as subscribed.
        path: the route (default: :func:`endpoint_path` of the connection).
        owns: a check that an event is about this connection's store (the
            connector's ``owns_event``); events that fail it are kept as failed.
    """

    connection_id: str
    platform: Platform = attrs.field(converter=_platform)
    secret: SecretInput = attrs.field(repr=False)
    url: str | None = None
    path: str = attrs.field()
    owns: Callable[[WebhookEvent], bool] | None = attrs.field(default=None, eq=False, repr=False)

    @path.default
    def _default_path(self) -> str:
        if self.url:
            return urlsplit(self.url).path or "/"
        return endpoint_path(self.connection_id)

    def __attrs_post_init__(self) -> None:
        secrets = secrets_of(self.secret)  # refuse a missing or empty secret now, not per delivery
        if self.platform is Platform.BIGCOMMERCE:
            for secret in secrets:  # a malformed whsec_ secret, now rather than at each delivery
                standard_webhooks_key(secret)
        if self.platform is Platform.SQUARE and not self.url:
            raise ConfigurationError(
                f"{self.connection_id}: Square signs the notification URL, so the endpoint "
                "needs url= exactly as in the subscription"
            )


@attrs.frozen
class Acknowledgement:
    """What to answer a delivery with, and what was stored.

    Attributes:
        status: the HTTP status.
        body: a small JSON-able body (no personal data).
        stored: the inbox row, when the delivery was stored.
    """

    status: int
    body: Mapping[str, Any]
    stored: Any = attrs.field(default=None, eq=False, repr=False)


class WebhookReceiver:
    """Verifies deliveries and stores them in the inbox before acknowledging them.

    Args:
        state: the inbox (the state store).
        endpoints: one endpoint per connection.
        clock: the receiver's clock (arrival times; BigCommerce's timestamp window).
        max_body: the largest body accepted, in bytes.
        on_stored: called after each new event is stored (wakes the worker).

    Example:
        >>> import base64, hashlib, hmac
        >>> from commerce_connectors.state import MemoryStateStore
        >>> inbox = MemoryStateStore()
        >>> receiver = WebhookReceiver(inbox, [WebhookEndpoint(
        ...     "tiendanube:123", "tiendanube", secret="app-secret")])
        >>> body = b'{"store_id": 123, "event": "order/paid", "id": 42}'
        >>> sig = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
        >>> ack = receiver.handle({"X-Linkedstore-HMAC-SHA256": sig}, body,
        ...                       "https://hooks.example.com/webhooks/tiendanube/123")
        >>> ack.status, ack.body["status"], inbox.event_counts()[EventStatus.PENDING]
        (200, 'accepted', 1)
    """

    def __init__(
        self,
        state: InboxStore,
        endpoints: Iterable[WebhookEndpoint],
        *,
        clock: Clock | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        grouped: dict[str, list[WebhookEndpoint]] = {}
        for endpoint in endpoints:
            grouped.setdefault(endpoint.path, []).append(endpoint)
        for path, group in grouped.items():
            if len({e.platform for e in group}) > 1:
                raise ConfigurationError(f"endpoints of different platforms share {path}")
            if len(group) > 1 and any(e.owns is None for e in group):
                raise ConfigurationError(
                    f"endpoints sharing {path} need owns= to tell their stores apart"
                )
        #: The endpoints by path (several when connections share an app-wide URL).
        self.endpoints: dict[str, tuple[WebhookEndpoint, ...]] = {
            path: tuple(group) for path, group in grouped.items()
        }
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.max_body = max_body
        self.on_stored = on_stored

    def endpoints_at(self, url_or_path: str) -> tuple[WebhookEndpoint, ...]:
        """The endpoints at the path of a URL (or a path); empty if none."""
        path = urlsplit(url_or_path).path or "/"
        return self.endpoints.get(path) or self.endpoints.get(path.rstrip("/")) or ()

    def handle(self, headers: Headers, body: bytes, url: str) -> Acknowledgement:
        """Verify, parse and store one delivery; return what to answer.

        Args:
            headers: the request's headers as the framework gives them.
            body: the raw body, exactly as received.
            url: the request's URL (its path picks the endpoint).
        """
        group = self.endpoints_at(url)
        if not group:
            return Acknowledgement(404, {"error": "no webhook endpoint at this path"})
        endpoint = group[0]
        now = self.clock.now()
        names = normalize_headers(headers)
        secrets = [s for e in group for s in secrets_of(e.secret)]
        try:
            verify(
                endpoint.platform,
                names,
                body,
                secret=secrets,
                url=endpoint.url or url,
                now=now,
                max_body=self.max_body,
            )
        except WebhookVerificationError as exc:
            logger.warning(
                "webhook for %s refused: %s check failed", endpoint.connection_id, exc.check
            )
            status = 413 if exc.check == "body_too_large" else 401
            return Acknowledgement(status, {"error": f"{exc.check} check failed"})
        try:
            event = parse_event(endpoint.platform, names, body, received_at=now)
        except WebhookPayloadError as exc:
            kept = self._keep(endpoint, names, body, now, str(exc))
            return Acknowledgement(200, {"status": "kept", "reason": "unreadable"}, kept)
        if len(group) > 1:
            return self._route(group, event, names, body, url, now)
        if endpoint.owns is not None and not endpoint.owns(event):
            why = f"event for store {event.store_id!r}, not {endpoint.connection_id}"
            return self._misrouted(endpoint, event, names, body, now, why)
        stored = self.state.add_event(
            endpoint.connection_id, event, body=body, headers=names, received_at=now
        )
        return self._stored([stored], [endpoint], event)

    def _route(
        self,
        group: tuple[WebhookEndpoint, ...],
        event: WebhookEvent,
        names: Mapping[str, str],
        body: bytes,
        url: str,
        now: _dt.datetime,
    ) -> Acknowledgement:
        """An app-wide URL: store the event for every connection that owns it and signed it.

        The store named in the payload is not signed on every platform, so each
        owner must also have signed the delivery with its own secret (one store's
        secret never admits an event for another store). A merchant-wide Square
        event (an authorization revoked, a customer) belongs to every location.
        """
        owners = [e for e in group if e.owns is not None and e.owns(event)]
        signed = [e for e in owners if self._signed_by(e, names, body, url, now)]
        if not signed:
            why = f"event for store {event.store_id!r}, signed by no connection that owns it"
            return self._misrouted(group[0], event, names, body, now, why)
        stored = [
            self.state.add_event(e.connection_id, event, body=body, headers=names, received_at=now)
            for e in signed
        ]
        return self._stored(stored, signed, event)

    def _signed_by(
        self,
        endpoint: WebhookEndpoint,
        names: Mapping[str, str],
        body: bytes,
        url: str,
        now: _dt.datetime,
    ) -> bool:
        try:
            verify(
                endpoint.platform,
                names,
                body,
                secret=endpoint.secret,
                url=endpoint.url or url,
                now=now,
                max_body=self.max_body,
            )
        except WebhookVerificationError:
            return False
        return True

    def _misrouted(
        self,
        endpoint: WebhookEndpoint,
        event: WebhookEvent,
        names: Mapping[str, str],
        body: bytes,
        now: _dt.datetime,
        why: str,
    ) -> Acknowledgement:
        stored = self.state.add_event(
            endpoint.connection_id,
            event,
            body=body,
            headers=names,
            received_at=now,
            status=EventStatus.FAILED,
            outcome=why,
        )
        logger.warning("webhook on %s kept as failed: %s", endpoint.connection_id, why)
        return Acknowledgement(200, {"status": "kept", "reason": "other store"}, stored)

    def _stored(
        self, stored: list[Any], endpoints: list[WebhookEndpoint], event: WebhookEvent
    ) -> Acknowledgement:
        new = [s for s in stored if s is not None]
        if not new:
            logger.info("webhook %s %s: duplicate", event.platform.value, event.event_id)
            return Acknowledgement(200, {"status": "duplicate"})
        for endpoint in endpoints:
            logger.info(
                "webhook %s %s stored for %s (%s)",
                event.platform.value,
                event.topic,
                endpoint.connection_id,
                event.event_id,
            )
        if self.on_stored is not None:
            self.on_stored()
        return Acknowledgement(200, {"status": "accepted"}, new[0])

    def _keep(
        self,
        endpoint: WebhookEndpoint,
        names: Mapping[str, str],
        body: bytes,
        now: _dt.datetime,
        why: str,
    ) -> Any:
        topic = next((v for h in _TOPIC_HEADERS if (v := header(names, h))), "unreadable")
        placeholder = WebhookEvent(
            platform=endpoint.platform,
            store_id="",
            topic=topic,
            event_id="unreadable:" + hashlib.sha256(body).hexdigest(),
            occurred_at=now,
            kind=None,
            external_id=None,
            action=WebhookAction.OTHER,
        )
        logger.warning("webhook on %s kept as failed: %s", endpoint.connection_id, why)
        return self.state.add_event(
            endpoint.connection_id,
            placeholder,
            body=body,
            headers=names,
            received_at=now,
            status=EventStatus.FAILED,
            outcome=why,
        )

    def __repr__(self) -> str:
        return f"WebhookReceiver(endpoints={sorted(self.endpoints)})"
