"""Webhooks: verify deliveries, read them as events, keep them in an inbox, apply them.

The real-time path, in the order data flows::

    platform ──POST──► receiver ──verify──► inbox (state store) ──200──►
                                                 │
                       sink ◄── engine (real-time triggers) ◄── worker (fetch if light)

* :func:`verify` and :func:`parse_event` are pure (no I/O) and work in any
  framework: Shopify (``X-Shopify-Hmac-Sha256``), BigCommerce (Standard
  Webhooks), Square (URL + body, signature key per subscription) and
  Tiendanube (``X-Linkedstore-HMAC-SHA256``).
* :class:`WebhookReceiver` verifies, stores the event durably, then answers;
  :meth:`WebhookReceiver.handle` plugs into Flask or Django, and
  :mod:`commerce_connectors.webhooks.asgi` serves it with Starlette/uvicorn
  (the ``webhooks`` extra).
* :class:`WebhookWorker` drains the inbox through the same engine path as
  polling, with automations firing (source 1).

Example:
    >>> import hashlib, hmac
    >>> body = b'{"store_id": 123, "event": "order/paid", "id": 42}'
    >>> sig = hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    >>> verify("tiendanube", {"X-Linkedstore-HMAC-SHA256": sig}, body, secret="app-secret")
    >>> event = parse_event("tiendanube", {}, body)
    >>> event.topic, event.kind, event.external_id, event.action.value
    ('order/paid', 'order', '42', 'upsert')
"""

from __future__ import annotations

from .._webhooks import (
    DEFAULT_MAX_BODY,
    WebhookAction,
    WebhookEvent,
    WebhookSubscription,
    normalize_headers,
)
from ..errors import WebhookError, WebhookPayloadError, WebhookVerificationError
from ._schemes import default_topics, parse_event, verify
from .receiver import Acknowledgement, WebhookEndpoint, WebhookReceiver, endpoint_path
from .worker import Backoff, DrainReport, RealtimeState, WebhookWorker

__all__ = [
    "DEFAULT_MAX_BODY",
    "Acknowledgement",
    "Backoff",
    "DrainReport",
    "RealtimeState",
    "WebhookAction",
    "WebhookEndpoint",
    "WebhookError",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookReceiver",
    "WebhookSubscription",
    "WebhookVerificationError",
    "WebhookWorker",
    "default_topics",
    "endpoint_path",
    "normalize_headers",
    "parse_event",
    "verify",
]
