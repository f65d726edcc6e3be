"""Shopify webhooks: the signature scheme, the topics and how each event reads.

Shopify signs every delivery with ``X-Shopify-Hmac-Sha256``: the base64
HMAC-SHA256 of the raw body keyed with the app's client secret. Other headers
name the topic (``X-Shopify-Topic``), the shop (``X-Shopify-Shop-Domain``), the
API version the body is written in, the delivery (``X-Shopify-Webhook-Id``, the
dedupe key) and when Shopify triggered it (``X-Shopify-Triggered-At``).

Bodies are the record in the REST shape (an ``orders/create`` body is one order
as ``GET /orders/{id}.json`` gives it), a bare ``{"id": …}`` for deletions, the
shop for ``app/uninstalled``, and a small request object for the three privacy
topics. :func:`parse_event` reads any of them into a
:class:`~commerce_connectors.webhooks.WebhookEvent`; the connector's
``records_for_event`` then fetches the record itself, so what a webhook writes
is what a poll would read.

Example:
    >>> import datetime as dt
    >>> event = parse_event(
    ...     {"x-shopify-topic": "orders/create", "x-shopify-shop-domain": "acme.myshopify.com",
    ...      "x-shopify-webhook-id": "b54557e4-0001",
    ...      "x-shopify-triggered-at": "2024-10-04T16:00:01.123456789Z"},
    ...     b'{"id": 450789469, "created_at": "2024-10-04T11:00:00-05:00"}',
    ...     received_at=dt.datetime(2024, 10, 4, 16, 0, 3, tzinfo=dt.timezone.utc))
    >>> event.kind, event.external_id, event.action.value, event.event_id
    ('order', '450789469', 'upsert', 'b54557e4-0001')
    >>> event.occurred_at.isoformat()
    '2024-10-04T16:00:01.123456+00:00'
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..._parsing import PayloadReader, parse_datetime
from ..._webhooks import (
    WebhookAction,
    WebhookEvent,
    b64_hmac,
    decode_json_object,
    header,
    is_base64,
    matches_any,
    require_header,
)
from ...errors import FieldProblem, WebhookPayloadError, WebhookVerificationError
from ._shared import PLATFORM, PLATFORM_NAME, legacy_id

__all__ = [
    "API_VERSION_HEADER",
    "DEFAULT_TOPICS",
    "EVENT_ID_HEADER",
    "PRIVACY_TOPICS",
    "SHOP_HEADER",
    "SIGNATURE_HEADER",
    "TOPICS",
    "TOPIC_HEADER",
    "TRIGGERED_AT_HEADER",
    "WEBHOOK_ID_HEADER",
    "TopicRule",
    "parse_event",
    "topic_enum",
    "topic_name",
    "verify",
]

#: The header carrying the signature.
SIGNATURE_HEADER: Final = "x-shopify-hmac-sha256"
#: The topic, e.g. ``orders/create``.
TOPIC_HEADER: Final = "x-shopify-topic"
#: The ``*.myshopify.com`` domain of the shop the event is about.
SHOP_HEADER: Final = "x-shopify-shop-domain"
#: "A unique composite key per delivery": the dedupe key (a retry keeps it).
WEBHOOK_ID_HEADER: Final = "x-shopify-webhook-id"
#: "Timestamp of when Shopify triggered the delivery".
TRIGGERED_AT_HEADER: Final = "x-shopify-triggered-at"
#: "Shared across all deliveries produced by the same merchant action" (not a dedupe
#: key: ``orders/create`` and ``orders/updated`` of one checkout share it).
EVENT_ID_HEADER: Final = "x-shopify-event-id"
#: The API version the body is serialised in.
API_VERSION_HEADER: Final = "x-shopify-api-version"


@attrs.frozen
class TopicRule:
    """How one topic reads.

    Attributes:
        kind: the record kind (``customer``, ``order``, ``product``, ``cart``,
            ``store``), ``None`` for events about no record we keep.
        action: what the event asks for.
        id_path: where the record's id sits in the body (``None``: no record id).
        subscribable: whether ``webhookSubscriptionCreate`` accepts it (the privacy
            topics are set in the app's configuration instead).
    """

    kind: str | None
    action: WebhookAction
    id_path: str | None = "id"
    subscribable: bool = True


_UPSERT, _DELETE = WebhookAction.UPSERT, WebhookAction.DELETE

#: Every topic the library reads, with its kind and action. Names are those of the
#: ``WebhookSubscriptionTopic`` enum descriptions of the Admin schema ("The webhook
#: topic for `orders/create` events"); the privacy topics are Shopify's compliance
#: topics. Anything else parses as ``OTHER``.
TOPICS: Final[Mapping[str, TopicRule]] = {
    # orders/updated fires on every change (payment, fulfilment, cancellation, edits,
    # refunds); the narrower order topics are read the same way when subscribed.
    "orders/create": TopicRule("order", _UPSERT),
    "orders/updated": TopicRule("order", _UPSERT),
    "orders/paid": TopicRule("order", _UPSERT),
    "orders/cancelled": TopicRule("order", _UPSERT),
    "orders/fulfilled": TopicRule("order", _UPSERT),
    "orders/partially_fulfilled": TopicRule("order", _UPSERT),
    "orders/delete": TopicRule("order", _DELETE),
    # A refund's body is the refund; its order is what changed.
    "refunds/create": TopicRule("order", _UPSERT, id_path="order_id"),
    "customers/create": TopicRule("customer", _UPSERT),
    "customers/update": TopicRule("customer", _UPSERT),
    "customers/enable": TopicRule("customer", _UPSERT),
    "customers/disable": TopicRule("customer", _UPSERT),
    "customers/delete": TopicRule("customer", _DELETE),
    "products/create": TopicRule("product", _UPSERT),
    "products/update": TopicRule("product", _UPSERT),
    "products/delete": TopicRule("product", _DELETE),
    # Checkouts are the abandoned carts (their id is the cart's external id). An
    # update that carries ``completed_at`` reads as CONVERT (see parse_event).
    "checkouts/create": TopicRule("cart", _UPSERT),
    "checkouts/update": TopicRule("cart", _UPSERT),
    "checkouts/paid": TopicRule("cart", WebhookAction.CONVERT),
    "checkouts/delete": TopicRule("cart", _DELETE),
    "app/uninstalled": TopicRule("store", WebhookAction.UNINSTALL, id_path=None),
    "customers/redact": TopicRule(
        "customer", WebhookAction.REDACT, id_path=None, subscribable=False
    ),
    "customers/data_request": TopicRule(
        "customer", WebhookAction.DATA_REQUEST, id_path=None, subscribable=False
    ),
    "shop/redact": TopicRule("store", WebhookAction.REDACT, id_path=None, subscribable=False),
}

#: What ``ensure_webhooks`` subscribes to by default: every change to the four record
#: kinds and the uninstall. ``orders/updated`` already covers payment, fulfilment,
#: cancellation and refunds, so the narrower order topics would only repeat it;
#: ``checkouts/paid`` is kept because it is the explicit conversion signal.
DEFAULT_TOPICS: Final[tuple[str, ...]] = (
    "orders/create",
    "orders/updated",
    "orders/delete",
    "customers/create",
    "customers/update",
    "customers/delete",
    "products/create",
    "products/update",
    "products/delete",
    "checkouts/create",
    "checkouts/update",
    "checkouts/paid",
    "checkouts/delete",
    "app/uninstalled",
)

#: The mandatory compliance topics. ``WebhookSubscriptionTopic`` has no value for them:
#: they are set in the app's configuration (``shopify.app.toml``) or the Partner
#: Dashboard, never through the API.
PRIVACY_TOPICS: Final = frozenset(t for t, rule in TOPICS.items() if not rule.subscribable)

_ENUM_TO_TOPIC: Final = {t.upper().replace("/", "_"): t for t in TOPICS}


def topic_enum(topic: str) -> str:
    """A topic as the ``WebhookSubscriptionTopic`` enum spells it (either form accepted).

    Example:
        >>> topic_enum("orders/partially_fulfilled"), topic_enum("APP_UNINSTALLED")
        ('ORDERS_PARTIALLY_FULFILLED', 'APP_UNINSTALLED')
    """
    return topic.strip().upper().replace("/", "_")


def topic_name(value: str) -> str:
    """An enum value as the topic name deliveries carry (unknown values are kept).

    The enum cannot be turned back mechanically (``CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE``
    is ``customers_email_marketing_consent/update``), so only the topics of
    :data:`TOPICS` are translated.

    Example:
        >>> topic_name("CHECKOUTS_DELETE"), topic_name("INVENTORY_LEVELS_UPDATE")
        ('checkouts/delete', 'INVENTORY_LEVELS_UPDATE')
    """
    return _ENUM_TO_TOPIC.get(value, value)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check ``X-Shopify-Hmac-Sha256`` against each secret (headers already normalised).

    ``url`` and ``now`` are not part of Shopify's scheme (its deliveries carry
    no signed timestamp; dedupe on the webhook id instead).
    """
    given = require_header(PLATFORM_NAME, headers, SIGNATURE_HEADER)
    if not is_base64(given):
        raise WebhookVerificationError(
            PLATFORM_NAME, "malformed_signature", f"{SIGNATURE_HEADER} is not base64"
        )
    if not matches_any((b64_hmac(s, body) for s in secrets), [given.encode("ascii")]):
        raise WebhookVerificationError(
            PLATFORM_NAME, "signature", "the body's HMAC matches no configured secret"
        )


# ---------------------------------------------------------------------------- events


def _time(value: Any) -> _dt.datetime | None:
    try:
        return parse_datetime(value) if value is not None else None
    except ValueError:
        return None


def _occurred_at(
    headers: Mapping[str, str], payload: Mapping[str, Any], received_at: _dt.datetime
) -> _dt.datetime:
    """When Shopify triggered it; else the record's own change time; else arrival.

    The header is not signed, so a value that does not parse is ignored rather
    than refusing an otherwise good event.
    """
    for value in (
        header(headers, TRIGGERED_AT_HEADER),
        payload.get("updated_at"),
        payload.get("created_at"),
    ):
        found = _time(value)
        if found is not None:
            return found
    return received_at


#: The privacy bodies' documented keys. Shopify signs the body but not the topic
#: header, so a signed body of another topic replayed under a privacy topic must
#: not read as a request to erase a customer or a whole shop.
_PRIVACY_SHAPES: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    # topic: (keys that must be present, keys allowed besides them)
    "shop/redact": (frozenset({"shop_domain"}), frozenset({"shop_id"})),
    "customers/redact": (
        frozenset({"shop_domain", "customer"}),
        frozenset({"shop_id", "orders_to_redact"}),
    ),
    "customers/data_request": (
        frozenset({"shop_domain", "customer"}),
        frozenset({"shop_id", "orders_requested", "data_request"}),
    ),
}


def _privacy_shape(
    topic: str, payload: Mapping[str, Any], shop_header: str | None
) -> list[FieldProblem]:
    required, optional = _PRIVACY_SHAPES[topic]
    keys = set(payload)
    problems = [FieldProblem(f"$.{k}", f"missing from a {topic} body") for k in required - keys]
    extra = sorted(keys - required - optional)
    if extra:
        problems.append(FieldProblem("$", f"not a {topic} body: unexpected keys {extra}"))
    domain = payload.get("shop_domain")
    if shop_header and isinstance(domain, str) and domain.strip().lower() != shop_header.lower():
        problems.append(FieldProblem("$.shop_domain", "names another shop than the shop header"))
    return problems


def _store_id(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str | None:
    # The privacy bodies name the shop too, and app/uninstalled's body is the shop:
    # they stand in when a relay dropped the header.
    for value in (
        header(headers, SHOP_HEADER),
        payload.get("shop_domain"),
        payload.get("myshopify_domain"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


def _event_id(headers: Mapping[str, str], topic: str, store: str, body: bytes) -> str:
    given = header(headers, WEBHOOK_ID_HEADER)
    if given is not None:
        return given
    # No delivery id (a hand-made or relayed delivery): the same bytes for the same
    # topic and shop are the same event, so a digest still deduplicates redeliveries.
    digest = hashlib.sha256(b"\n".join((topic.encode(), store.encode(), body))).hexdigest()
    return f"sha256:{digest}"


def _ids(r: PayloadReader, path: str) -> list[str]:
    value = r.raw(path)
    if value is None:
        return []
    if not isinstance(value, list):
        r.problem(path, f"expected a list of order ids, got {type(value).__name__}", value)
        return []
    found = (legacy_id(v) for v in value if isinstance(v, (str, int)))
    return [v for v in found if v is not None]


def _subject(r: PayloadReader, orders_path: str) -> dict[str, Any]:
    """Who a privacy request is about, as the body gives it (absent values are ``None``)."""
    customer = r.raw("customer")
    if customer is not None and not isinstance(customer, Mapping):
        r.problem("customer", f"expected an object, got {type(customer).__name__}", customer)
    who = r.child("customer") if isinstance(customer, Mapping) else None
    return {
        "customer_id": legacy_id(who.text("id")) if who else None,
        "email": who.text("email") if who else None,
        "phone": who.text("phone") if who else None,
        "order_ids": _ids(r, orders_path),
    }


def parse_event(
    headers: Mapping[str, str], body: bytes, *, received_at: _dt.datetime
) -> WebhookEvent:
    """Read one delivery (headers already normalised to lower case) into a WebhookEvent.

    * ``event_id`` is ``X-Shopify-Webhook-Id`` (a digest of topic, shop and body
      when a relay dropped it);
    * ``occurred_at`` is ``X-Shopify-Triggered-At``, else the body's
      ``updated_at``/``created_at``, else ``received_at``;
    * ``store_id`` is the shop's ``*.myshopify.com`` domain, lower-cased;
    * ``external_id`` is the record id as the parsers give it (a refund gives its
      order's id); ``checkouts/update`` with a ``completed_at`` is a ``CONVERT``;
    * privacy requests carry ``subject`` = ``customer_id``, ``email``, ``phone``,
      ``order_ids`` (and ``data_request_id`` for data requests);
    * a topic not in :data:`TOPICS` is ``OTHER``, never an error.

    Raises:
        WebhookPayloadError: the body is not a JSON object, the topic or shop is
            missing, a record topic's body has no usable id, or a privacy topic's
            body is not the documented shape for it (each with its path): the topic
            header is not signed, so a signed body of another topic replayed as
            ``shop/redact`` must not erase a shop.

    Example:
        >>> import datetime as dt
        >>> at = dt.datetime(2024, 10, 4, tzinfo=dt.timezone.utc)
        >>> e = parse_event({"x-shopify-topic": "customers/redact",
        ...                  "x-shopify-shop-domain": "acme.myshopify.com"},
        ...                 b'{"shop_id": 954889, "shop_domain": "acme.myshopify.com",'
        ...                 b' "customer": {"id": 191167, "email": "j@x.io"},'
        ...                 b' "orders_to_redact": [299938, 280263]}', received_at=at)
        >>> e.action.value, e.kind, e.external_id, dict(e.subject)["order_ids"]
        ('redact', 'customer', '191167', ['299938', '280263'])
        >>> parse_event({"x-shopify-topic": "bulk_operations/finish",
        ...              "x-shopify-shop-domain": "acme.myshopify.com"}, b"{}",
        ...             received_at=at).action.value
        'other'
    """
    payload = decode_json_object(PLATFORM_NAME, body)
    problems: list[FieldProblem] = []
    topic = header(headers, TOPIC_HEADER)
    if topic is None:
        problems.append(FieldProblem(f"headers.{TOPIC_HEADER}", "missing: no topic is named"))
    store = _store_id(headers, payload)
    if store is None:
        problems.append(
            FieldProblem(f"headers.{SHOP_HEADER}", "missing: no shop is named (nor shop_domain)")
        )
    rule = TOPICS.get(topic.lower()) if topic is not None else None
    r = PayloadReader(
        payload, platform=PLATFORM_NAME, kind=(rule.kind if rule else None) or "event"
    )
    external_id: str | None = None
    subject: dict[str, Any] = {}
    action = rule.action if rule is not None else WebhookAction.OTHER
    if rule is not None and rule.id_path is not None:
        external_id = r.id(rule.id_path)
    if rule is not None and rule.action is WebhookAction.REDACT and rule.kind == "customer":
        subject = _subject(r, "orders_to_redact")
        external_id = subject["customer_id"]
    elif rule is not None and rule.action is WebhookAction.DATA_REQUEST:
        subject = _subject(r, "orders_requested")
        subject["data_request_id"] = legacy_id(r.text("data_request.id"))
        external_id = subject["customer_id"]
    if topic is not None and topic.lower() in _PRIVACY_SHAPES:
        problems.extend(_privacy_shape(topic.lower(), payload, header(headers, SHOP_HEADER)))
    if topic is not None and topic.lower() == "checkouts/update" and _time(r.raw("completed_at")):
        action = WebhookAction.CONVERT
    problems.extend(r.problems)
    if problems or topic is None or store is None:
        raise WebhookPayloadError(PLATFORM_NAME, problems)
    return WebhookEvent(
        platform=PLATFORM,
        store_id=store,
        topic=topic,
        event_id=_event_id(headers, topic, store, body),
        occurred_at=_occurred_at(headers, payload, received_at),
        kind=rule.kind if rule is not None else None,
        external_id=external_id,
        action=action,
        payload=payload,
        subject=subject,
    )
