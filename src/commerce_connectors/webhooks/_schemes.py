"""Verification and parsing by platform name: the one place the four schemes meet."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from types import ModuleType

from .._webhooks import (
    DEFAULT_MAX_BODY,
    Headers,
    SecretInput,
    WebhookEvent,
    normalize_headers,
    secrets_of,
)
from ..errors import ConfigurationError, WebhookVerificationError
from ..models import Platform, ensure_aware_utc
from ..platforms.bigcommerce import webhooks as _bigcommerce
from ..platforms.shopify import webhooks as _shopify
from ..platforms.square import webhooks as _square
from ..platforms.tiendanube import webhooks as _tiendanube

__all__ = ["default_topics", "parse_event", "platform_of", "verify"]

_MODULES: Mapping[Platform, ModuleType] = {
    Platform.SHOPIFY: _shopify,
    Platform.BIGCOMMERCE: _bigcommerce,
    Platform.SQUARE: _square,
    Platform.TIENDANUBE: _tiendanube,
}


def platform_of(platform: Platform | str) -> Platform:
    """The platform named (``"shopify"`` …), or a :class:`ConfigurationError`."""
    try:
        value = Platform(platform)
    except ValueError:
        value = None
    if value is None or value not in _MODULES:
        names = ", ".join(p.value for p in _MODULES)
        raise ConfigurationError(f"no webhook scheme for {platform!r}; use one of {names}")
    return value


def verify(
    platform: Platform | str,
    headers: Headers,
    body: bytes,
    *,
    secret: SecretInput,
    url: str | None = None,
    now: _dt.datetime | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> None:
    """Check that a delivery was signed by the platform; return ``None`` or raise.

    Pure: no I/O, no clock read unless ``now`` is omitted (BigCommerce's
    timestamp check). Header names are matched case-insensitively (``HTTP_X_…``
    WSGI names too); signatures are compared in constant time against every
    secret given (pass several while rotating: Shopify takes up to an hour to
    switch to a new client secret).

    Args:
        platform: ``shopify``, ``bigcommerce``, ``square`` or ``tiendanube``.
        headers: the request's headers, as your framework gives them.
        body: the raw request body, exactly as received (not re-serialised JSON).
        secret: the signing secret (Shopify and Tiendanube: the app's client
            secret; BigCommerce: the app's client secret or a ``whsec_`` secret;
            Square: the subscription's signature key), or a sequence of them.
        url: Square only: the notification URL exactly as the subscription has it.
        now: the current time, for BigCommerce's five-minute timestamp window.
        max_body: refuse bodies larger than this many bytes.

    Raises:
        WebhookVerificationError: which check failed (``check``); never the secret or body.
        ConfigurationError: an unknown platform, no secret, or Square without ``url``.

    Example:
        >>> import base64, hashlib, hmac
        >>> body = b'{"id": 820982911946154508}'
        >>> sig = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
        >>> verify("shopify", {"X-Shopify-Hmac-Sha256": sig}, body, secret="s3cret")
        >>> verify("shopify", {"X-Shopify-Hmac-Sha256": sig}, body + b" ", secret="s3cret")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.WebhookVerificationError: ...
    """
    value = platform_of(platform)
    secrets = secrets_of(secret)
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise ConfigurationError("pass the raw request body as bytes, exactly as received")
    raw = bytes(body)
    if len(raw) > max_body:
        raise WebhookVerificationError(
            value.value, "body_too_large", f"body of {len(raw)} bytes exceeds {max_body}"
        )
    _MODULES[value].verify(normalize_headers(headers), raw, secrets=secrets, url=url, now=now)


def parse_event(
    platform: Platform | str,
    headers: Headers,
    body: bytes,
    *,
    received_at: _dt.datetime | None = None,
) -> WebhookEvent:
    """Read a (verified) delivery into a :class:`WebhookEvent`.

    Unknown topics parse to ``action=OTHER``; they never raise.

    Args:
        platform: the platform.
        headers: the request's headers.
        body: the raw body.
        received_at: when the delivery arrived (default: now). Tiendanube's
            deliveries carry no time and no id of their own, so it dates them.

    Raises:
        WebhookPayloadError: the body is not the JSON event the platform documents,
            or a header the event needs (the topic) is missing.
    """
    value = platform_of(platform)
    at = received_at if received_at is not None else _dt.datetime.now(_dt.timezone.utc)
    event: WebhookEvent = _MODULES[value].parse_event(
        normalize_headers(headers),
        bytes(body),
        received_at=ensure_aware_utc(at, field="received_at"),
    )
    return event


def default_topics(platform: Platform | str) -> tuple[str, ...]:
    """The topics :meth:`ensure_webhooks` subscribes to by default on ``platform``."""
    topics: tuple[str, ...] = _MODULES[platform_of(platform)].DEFAULT_TOPICS
    return topics
