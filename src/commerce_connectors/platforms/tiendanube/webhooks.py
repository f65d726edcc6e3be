"""Tiendanube / Nuvemshop webhooks: the signature scheme, the events and how each reads.

Tiendanube signs every delivery with ``X-Linkedstore-HMAC-SHA256``: the
lower-case hex HMAC-SHA256 of the raw body keyed with the app's secret (its
``client_secret``). The body names the store, the event and the resource id
only; the receiver fetches the resource.

A delivery carries no id and no time of its own (``{"store_id": 123, "event":
"order/paid", "id": 456}``), so :func:`parse_event` dates it with the moment it
was received and builds its dedupe key from the store, the event, the resource
id and that moment to the second: a delivery repeated within the same second is
recognised as a repeat; a later one is processed again, which is harmless
because the worker fetches the record's current state each time.

Example:
    >>> import datetime as dt
    >>> event = parse_event({}, b'{"store_id": 123, "event": "order/paid", "id": 456}',
    ...                     received_at=dt.datetime(2024, 10, 1, 12, 0, 5, 250000,
    ...                                             tzinfo=dt.timezone.utc))
    >>> event.kind, event.external_id, event.action.value
    ('order', '456', 'upsert')
    >>> event.event_id
    '123:order/paid:456:2024-10-01T12:00:05.250000+00:00'
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from ..._webhooks import (
    WebhookAction,
    WebhookEvent,
    decode_json_object,
    hex_hmac,
    matches_any,
    require_header,
)
from ...errors import (
    ConfigurationError,
    FieldProblem,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ...models import Platform

__all__ = [
    "DEFAULT_TOPICS",
    "PRIVACY_TOPICS",
    "SIGNATURE_HEADER",
    "TOPICS",
    "check_callback_url",
    "parse_event",
    "topic_rule",
    "verify",
]

_PLATFORM = "tiendanube"
#: The header carrying the signature.
SIGNATURE_HEADER = "x-linkedstore-hmac-sha256"
_HEX = re.compile(r"[0-9a-fA-F]{64}")

_U = WebhookAction.UPSERT
_D = WebhookAction.DELETE
_O = WebhookAction.OTHER

#: Every event name we know, with the record kind it is about and what it asks for.
#: Events of the legacy docs' table and 422 example, the 2025-03 additions, and the
#: three data-protection (LGPD) events. Anything else reads as ``(None, OTHER)``.
TOPICS: Final[Mapping[str, tuple[str | None, WebhookAction]]] = MappingProxyType(
    {
        # The app itself. A suspension (the app is unpaid) is temporary and keeps the
        # token: API calls answer 402 and deliveries stop until app/resumed. It pauses
        # the connection (no failing runs meanwhile) and app/resumed resumes it; an
        # uninstall disables it for good.
        "app/uninstalled": ("store", WebhookAction.UNINSTALL),
        "app/suspended": ("store", WebhookAction.SUSPEND),
        "app/resumed": ("store", WebhookAction.RESUME),
        "order/created": ("order", _U),
        "order/updated": ("order", _U),
        "order/paid": ("order", _U),
        "order/packed": ("order", _U),
        "order/fulfilled": ("order", _U),
        "order/cancelled": ("order", _U),
        "order/custom_fields_updated": ("order", _U),
        "order/edited": ("order", _U),
        "order/pending": ("order", _U),
        "order/voided": ("order", _U),
        "order/unpacked": ("order", _U),
        "customer/created": ("customer", _U),
        "customer/updated": ("customer", _U),
        "customer/deleted": ("customer", _D),
        "product/created": ("product", _U),
        "product/updated": ("product", _U),
        "product/deleted": ("product", _D),
        # Only in the legacy 422 example's list; no documented payload and no link to
        # GET /checkouts ids, so they are recorded but not acted upon.
        "cart/created": ("cart", _O),
        "cart/updated": ("cart", _O),
        "category/created": (None, _O),
        "category/updated": (None, _O),
        "category/deleted": (None, _O),
        "domain/updated": (None, _O),
        "theme/updated": (None, _O),
        "store/redact": ("store", WebhookAction.REDACT),
        "customers/redact": ("customer", WebhookAction.REDACT),
        "customers/data_request": ("customer", WebhookAction.DATA_REQUEST),
    }
)

#: The data-protection events. Their URLs are set in the app's settings in the
#: partner portal, not through ``POST /webhooks`` (whose list of allowed events does
#: not name them), so :data:`DEFAULT_TOPICS` leaves them out.
PRIVACY_TOPICS: Final = ("store/redact", "customers/redact", "customers/data_request")

#: What ``ensure_webhooks`` subscribes to by default: every order change, customers and
#: products (created, updated, deleted) and the app's lifecycle. Tiendanube has no
#: abandoned-checkout event: checkouts stay on ``iter_abandoned_carts``.
DEFAULT_TOPICS: Final = (
    "order/created",
    "order/updated",
    "order/paid",
    "order/packed",
    "order/fulfilled",
    "order/cancelled",
    "customer/created",
    "customer/updated",
    "customer/deleted",
    "product/created",
    "product/updated",
    "product/deleted",
    "app/uninstalled",
    "app/suspended",
    "app/resumed",
)

# Kinds whose create/update/delete events name the record in ``id`` (then required).
_RECORD_KINDS: Final = frozenset({"order", "customer", "product"})


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check ``X-Linkedstore-HMAC-SHA256`` against each secret (headers already normalised)."""
    given = require_header(_PLATFORM, headers, SIGNATURE_HEADER)
    if not _HEX.fullmatch(given):
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", f"{SIGNATURE_HEADER} is not a hex SHA-256 digest"
        )
    if not matches_any((hex_hmac(s, body) for s in secrets), [given.lower().encode("ascii")]):
        raise WebhookVerificationError(
            _PLATFORM, "signature", "the body's HMAC matches no configured secret"
        )


def topic_rule(topic: str) -> tuple[str | None, WebhookAction]:
    """The record kind and action of an event name; ``(None, OTHER)`` when unknown.

    Example:
        >>> topic_rule("product/deleted")
        ('product', <WebhookAction.DELETE: 'delete'>)
        >>> topic_rule("location/created")
        (None, <WebhookAction.OTHER: 'other'>)
    """
    return TOPICS.get(topic, (None, _O))


#: Host names Tiendanube refuses as webhook targets: its own brands' domains.
_PLATFORM_HOST_WORDS: Final = ("tiendanube", "nuvemshop")


def check_callback_url(url: str) -> str:
    """Refuse a callback URL Tiendanube would refuse, before any request is made.

    Tiendanube delivers only to ``https`` URLs and refuses localhost and its own
    (tiendanube / nuvemshop) domains. Addresses it could not reach anyway (loopback,
    private and link-local IPs) are refused too: expose the receiver publicly (a
    tunnel in development) and register that URL.

    Returns:
        The URL, unchanged.

    Raises:
        ConfigurationError: the URL is not one Tiendanube delivers to, saying why.

    Example:
        >>> check_callback_url("https://hooks.example.com/tiendanube")
        'https://hooks.example.com/tiendanube'
        >>> check_callback_url("http://hooks.example.com/tiendanube")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: Tiendanube delivers webhooks to https URLs only, got 'http://hooks.example.com/tiendanube'
    """  # noqa: E501
    if not isinstance(url, str):
        raise ConfigurationError(f"the callback URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        raise ConfigurationError(f"not a valid URL: {url!r}") from None
    if parts.scheme.lower() != "https":
        raise ConfigurationError(f"Tiendanube delivers webhooks to https URLs only, got {url!r}")
    if not host:
        raise ConfigurationError(f"the callback URL has no host: {url!r}")
    if host == "localhost" or host.endswith(".localhost"):
        raise ConfigurationError(f"Tiendanube refuses localhost callback URLs: {url!r}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (
        address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified
    ):
        raise ConfigurationError(
            f"Tiendanube cannot reach {host} (not a public address): {url!r}; "
            "register a public URL that reaches your receiver"
        )
    if any(word in label for label in host.split(".") for word in _PLATFORM_HOST_WORDS):
        raise ConfigurationError(
            f"Tiendanube refuses callback URLs on its own (tiendanube/nuvemshop) domains: {url!r}"
        )
    return url


def _id_text(value: Any) -> str | None:
    """An id as our parsers write it: integers as decimal text, strings as given."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _text(value: Any) -> str | None:
    # Phones may come as numbers ("phone: +55..." in the docs' sketch): keep them as text.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, str)):
        text = str(value)
        return text if text.strip() else None
    return None


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [i for i in (_id_text(v) for v in value) if i is not None]


def _inferred_topic(data: Mapping[str, Any]) -> str | None:
    """The data-protection event a body without ``event`` must be, from its documented shape.

    The docs' sketches of these three payloads show no ``event`` field (the general
    rule says every delivery has one); a signed body of exactly one of these shapes
    can only be that request.
    """
    if "orders_to_redact" in data:
        return "customers/redact"
    requested = ("orders_requested", "checkouts_requested", "drafts_orders_requested")
    if "data_request" in data or any(k in data for k in requested):
        return "customers/data_request"
    if set(data) == {"store_id"}:
        return "store/redact"
    return None


def _subject(data: Mapping[str, Any], action: WebhookAction) -> dict[str, Any]:
    """Who a redaction or data request is about, as plain data (missing parts ``None``)."""
    raw = data.get("customer")
    customer: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    email = customer.get("email")
    subject: dict[str, Any] = {
        "customer_id": _id_text(customer.get("id")),
        "email": email if isinstance(email, str) and email.strip() else None,
        "phone": _text(customer.get("phone")),
        "identification": _text(customer.get("identification")),
    }
    if action is WebhookAction.REDACT:
        subject["order_ids"] = _ids(data.get("orders_to_redact"))
    else:
        request = data.get("data_request")
        subject["order_ids"] = _ids(data.get("orders_requested"))
        subject["checkout_ids"] = _ids(data.get("checkouts_requested"))
        subject["draft_order_ids"] = _ids(data.get("drafts_orders_requested"))
        subject["data_request_id"] = (
            _id_text(request.get("id")) if isinstance(request, Mapping) else None
        )
    return subject


def parse_event(
    headers: Mapping[str, str], body: bytes, *, received_at: _dt.datetime
) -> WebhookEvent:
    """Read a verified Tiendanube delivery into a :class:`WebhookEvent`.

    The body names the store (``store_id``), the event (``event``) and, for record
    events, the record (``id``). ``occurred_at`` is ``received_at`` (the body has no
    time); ``event_id`` is ``"<store_id>:<event>:<id>:<received_at>"`` (to the
    microsecond: two deliveries are never taken for one, so a genuine second update
    within the same second is not lost; a repeated delivery is processed again,
    which is harmless because the worker fetches the record's current state).
    Unknown events read as ``OTHER``. Data-protection deliveries without an ``event``
    field are recognised by their documented shape.

    Args:
        headers: the request headers, names lower-cased (unused: everything is in the body).
        body: the raw body.
        received_at: when the delivery arrived (aware).

    Raises:
        WebhookPayloadError: not a JSON object, no event name, no valid ``store_id``, or
            a record event without the record's ``id``; each problem with its JSON path.

    Example:
        >>> import datetime as dt
        >>> at = dt.datetime(2024, 10, 1, tzinfo=dt.timezone.utc)
        >>> e = parse_event({}, b'{"store_id": 1, "customer": {"id": 7, "email": "a@b.co"},'
        ...                     b' "orders_to_redact": [3]}', received_at=at)
        >>> e.topic, e.action.value, e.external_id, e.subject["order_ids"]
        ('customers/redact', 'redact', '7', ['3'])
        >>> parse_event({}, b'{"store_id": 1, "id": 2}', received_at=at)
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.WebhookPayloadError: tiendanube webhook: unreadable event ($.event: ...)
    """  # noqa: E501
    data = decode_json_object(_PLATFORM, body)
    problems: list[FieldProblem] = []

    raw_topic = data.get("event")
    if raw_topic is None:
        raw_topic = _inferred_topic(data)
    topic = raw_topic.strip() if isinstance(raw_topic, str) else ""
    if not topic:
        problems.append(
            FieldProblem("$.event", "required: the event name, e.g. 'order/paid'", raw_topic)
        )

    store_raw = data.get("store_id")
    store = _id_text(store_raw)
    store = store.strip() if store is not None else None
    if store is None:
        problems.append(FieldProblem("$.store_id", "required: the store's id", store_raw))

    kind, action = topic_rule(topic)
    record_raw = data.get("id")
    record_id = _id_text(record_raw)
    if kind in _RECORD_KINDS and action in (_U, _D) and record_id is None:
        problems.append(FieldProblem("$.id", f"required for {topic}: the record's id", record_raw))
    if problems:
        raise WebhookPayloadError(_PLATFORM, problems)
    assert store is not None  # for mypy: a missing store_id was a problem above

    subject: dict[str, Any] = {}
    external_id: str | None = None
    if action in (WebhookAction.REDACT, WebhookAction.DATA_REQUEST) and kind == "customer":
        subject = _subject(data, action)
        external_id = subject["customer_id"]
    elif kind in _RECORD_KINDS or kind == "cart":
        external_id = record_id

    # The dedupe key's reference: the resource id, else the data request's or the
    # customer's id (privacy events carry no top-level id).
    ref = record_id or subject.get("data_request_id") or subject.get("customer_id") or ""
    at = received_at.astimezone(_dt.timezone.utc)
    return WebhookEvent(
        platform=Platform.TIENDANUBE,
        store_id=store,
        topic=topic,
        event_id=f"{store}:{topic}:{ref}:{at.isoformat()}",
        occurred_at=received_at,
        kind=kind,
        external_id=external_id,
        action=action,
        payload=data,
        subject=subject,
    )
