"""The webhook event model and the signature primitives every platform shares.

Private: the platform packages build on it (their signature scheme, topic
table and subscription calls live with the rest of the platform), and
:mod:`commerce_connectors.webhooks` re-exports the public names. It imports
nothing from either, so both can import it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .errors import ConfigurationError, FieldProblem, WebhookPayloadError, WebhookVerificationError
from .models import Platform, ensure_aware_utc

__all__ = [
    "DEFAULT_MAX_BODY",
    "Headers",
    "SecretInput",
    "WebhookAction",
    "WebhookEvent",
    "WebhookSubscription",
    "b64_hmac",
    "decode_json_object",
    "header",
    "hex_hmac",
    "is_base64",
    "matches_any",
    "normalize_headers",
    "require_header",
    "secrets_of",
]

#: The largest body :func:`commerce_connectors.webhooks.verify` accepts by default (bytes).
#: Shopify's order payloads with hundreds of lines stay well under it.
DEFAULT_MAX_BODY = 4 * 1024 * 1024

#: Request headers as any framework gives them: a mapping or ``(name, value)`` pairs,
#: names in any case (``X-Shopify-Topic``, ``x-shopify-topic``) or in the WSGI/Django
#: ``HTTP_X_SHOPIFY_TOPIC`` form. Bytes are decoded as Latin-1, as HTTP does.
Headers = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes]]

#: A signing secret, or several while one is being rotated.
SecretInput = str | bytes | Sequence[str | bytes]


class WebhookAction(str, enum.Enum):
    """What an event asks the receiver to do."""

    #: A record was created or changed: fetch/parse it and upsert it.
    UPSERT = "upsert"
    #: A record was deleted at the platform.
    DELETE = "delete"
    #: A cart became an order: its abandonment, if pending, is cancelled.
    CONVERT = "convert"
    #: The app was uninstalled (or its authorization revoked): stop calling the API.
    UNINSTALL = "uninstall"
    #: The platform suspended the app for a while (unpaid): pause the connection.
    SUSPEND = "suspend"
    #: The platform lifted a suspension: resume a connection it paused.
    RESUME = "resume"
    #: Erase personal data (a customer's, or a whole store's).
    REDACT = "redact"
    #: A customer asked for their data: record it for the app owner.
    DATA_REQUEST = "data_request"
    #: Anything else (kept, acknowledged, not acted upon).
    OTHER = "other"


def _aware(value: _dt.datetime) -> _dt.datetime:
    return ensure_aware_utc(value, field="occurred_at")


@attrs.frozen
class WebhookEvent:
    """One verified webhook delivery, read into what the receiver needs to act on it.

    Attributes:
        platform: the platform that sent it.
        store_id: the store as the event names it (Shopify shop domain,
            BigCommerce store hash, Square merchant id, Tiendanube store id).
        topic: the platform's own topic name (``orders/create``, ``store/cart/abandoned``,
            ``order.updated``, ``order/paid``).
        event_id: the delivery's dedupe key: the same event delivered twice has
            the same id.
        occurred_at: when the event happened at the platform (aware, UTC).
        kind: the record kind it is about (``customer``, ``order``, ``product``,
            ``cart``), ``store`` for store-wide events, ``None`` when it names none.
        external_id: the record's id at the platform (as our parsers give it).
        action: what to do with it.
        payload: the decoded JSON body, exactly as received.
        location_id: for Square, the location the record belongs to when the event says it.
        subject: for redaction and data requests, who they are about (email,
            customer ids), as plain data.
    """

    platform: Platform
    store_id: str
    topic: str
    event_id: str
    occurred_at: _dt.datetime = attrs.field(converter=_aware)
    kind: str | None
    external_id: str | None
    action: WebhookAction
    payload: Any = attrs.field(eq=False, repr=False, default=None)
    location_id: str | None = None
    subject: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False, hash=False)


@attrs.frozen
class WebhookSubscription:
    """A webhook subscription as the platform reports it.

    Attributes:
        id: the platform's id for it.
        topic: the platform's topic name.
        url: where deliveries go.
        active: whether the platform delivers to it (BigCommerce deactivates hooks
            that keep failing; Square subscriptions can be disabled).
        signature_key: for Square, the subscription's own signing key when the
            platform returned it (kept out of the repr).
    """

    id: str
    topic: str
    url: str
    active: bool = True
    signature_key: str | None = attrs.field(default=None, repr=False)


# ---------------------------------------------------------------------------- headers


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _name(raw: str | bytes) -> str:
    name = _text(raw).strip().lower().replace("_", "-")
    return name[5:] if name.startswith("http-") else name


def normalize_headers(headers: Headers) -> dict[str, str]:
    """Header names lower-cased (``HTTP_X_FOO`` read as ``x-foo``); repeated names joined.

    Example:
        >>> normalize_headers({"HTTP_X_SHOPIFY_TOPIC": "orders/create", "Webhook-Id": "m1"})
        {'x-shopify-topic': 'orders/create', 'webhook-id': 'm1'}
    """
    pairs: Iterable[tuple[Any, Any]]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name, value = _name(raw_name), _text(raw_value)
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header of :func:`normalize_headers`' output, stripped; ``None`` if absent or blank."""
    value = headers.get(name.lower())
    if value is None or not value.strip():
        return None
    return value.strip()


def require_header(platform: str, headers: Mapping[str, str], name: str) -> str:
    """A header the scheme needs; a :class:`WebhookVerificationError` when it is missing."""
    value = header(headers, name)
    if value is None:
        raise WebhookVerificationError(platform, "missing_header", f"no {name} header")
    return value


# ---------------------------------------------------------------------------- secrets


def secrets_of(secret: SecretInput) -> tuple[bytes, ...]:
    """Every secret to try, as bytes (UTF-8 for text); refuses none or an empty one.

    Example:
        >>> secrets_of(["new", b"old"])
        (b'new', b'old')
    """
    items: Sequence[str | bytes] = [secret] if isinstance(secret, (str, bytes)) else secret
    out = tuple(s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in items)
    if not out or any(not s for s in out):
        raise ConfigurationError("a webhook secret must be given and must not be empty")
    return out


def b64_hmac(key: bytes, message: bytes) -> bytes:
    """Base64 of HMAC-SHA256(key, message), as ASCII bytes."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())


def hex_hmac(key: bytes, message: bytes) -> bytes:
    """Lower-case hex of HMAC-SHA256(key, message), as ASCII bytes."""
    return hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii")


def matches_any(expected: Iterable[bytes], given: Iterable[bytes]) -> bool:
    """Whether any given signature equals any expected one, each compared in constant time.

    Every pair is compared (no early exit), so the time does not tell which
    secret or which signature matched.
    """
    found = False
    given = tuple(given)
    for e in expected:
        for g in given:
            found |= hmac.compare_digest(e, g)
    return found


def is_base64(value: str) -> bool:
    """Whether ``value`` is strict base64 (standard alphabet, padded)."""
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(value)


# ---------------------------------------------------------------------------- bodies


def decode_json_object(platform: str, body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a :class:`WebhookPayloadError` saying why not."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookPayloadError(platform, [FieldProblem("$", f"not JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise WebhookPayloadError(
            platform, [FieldProblem("$", f"expected a JSON object, got {type(data).__name__}")]
        )
    return data
