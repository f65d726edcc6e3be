"""BigCommerce webhooks: Standard Webhooks signatures, the scopes and how each event reads.

BigCommerce signs HTTPS webhooks per the Standard Webhooks specification:
``webhook-signature`` holds one or more space-separated ``v1,<base64>``
signatures, each the HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``
keyed with the app's client secret; ``webhook-timestamp`` is in Unix seconds and
deliveries more than five minutes off are refused (replay protection). A
secret written the Standard Webhooks way (``whsec_`` + base64) is decoded
first, so the same function checks any Standard Webhooks sender.

Event bodies are light (``{"scope", "store_id", "data": {"type", "id"}, "hash",
"created_at", "producer"}``): the receiver fetches the record.
:func:`parse_event` reads one into a :class:`~commerce_connectors._webhooks.WebhookEvent`:

* ``store_id`` is the **store hash** from ``producer`` (``stores/<hash>``), the id
  the connector's ``connection_id`` is built from; the numeric ``store_id`` of the
  body is another identifier and stays in ``payload``.
* ``event_id`` is the ``webhook-id`` header (the same on every redelivery, per
  Standard Webhooks). Without it, it is ``{scope}:{created_at}:{hash}``: BigCommerce
  documents ``hash`` as the SHA-1 of the event's ``data``, and its own examples give
  ``store/order/created`` and ``store/order/updated`` of one order the same hash, so
  the hash alone would merge distinct events.
* ``occurred_at`` is ``created_at`` (Unix seconds); some documented bodies lack it,
  so the ``webhook-timestamp`` header, then the receipt time, stand in.
* ``kind``, ``action`` and ``external_id`` come from :data:`TOPICS`. Cart events
  name the cart in ``data.cartId`` (line-item events) or ``data.id``; customer
  address events name the customer in ``data.address.customer_id``.

BigCommerce has no customer-redaction or data-request webhooks, so no event parses
to ``REDACT`` or ``DATA_REQUEST``; ``store/app/uninstalled`` is a subscribable scope
and parses to ``UNINSTALL``.

Example:
    >>> import datetime as dt
    >>> body = (b'{"scope":"store/cart/converted","store_id":"1025646","data":{"type":"cart",'
    ...         b'"id":"d30016e2","orderId":252},"hash":"b86db7c7","created_at":1561486893,'
    ...         b'"producer":"stores/abc123"}')
    >>> event = parse_event({"webhook-id": "msg_1"}, body,
    ...                     received_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    >>> event.store_id, event.kind, event.external_id, event.action.value, event.event_id
    ('abc123', 'cart', 'd30016e2', 'convert', 'msg_1')
    >>> event.occurred_at.isoformat()
    '2019-06-25T18:21:33+00:00'
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

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
from ...errors import (
    ConfigurationError,
    FieldProblem,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ...models import Platform, ensure_aware_utc

__all__ = [
    "DEFAULT_TOPICS",
    "RECORD_KINDS",
    "SIGNATURE_HEADER",
    "TOLERANCE",
    "TOPICS",
    "TopicRule",
    "parse_event",
    "standard_webhooks_key",
    "topic_covers",
    "verify",
]

_PLATFORM = "bigcommerce"
#: The header carrying the signatures.
SIGNATURE_HEADER = "webhook-signature"
#: How far ``webhook-timestamp`` may be from now (the reference libraries' tolerance).
TOLERANCE = _dt.timedelta(minutes=5)
_PREFIX = b"whsec_"
_PRODUCER_PREFIX = "stores/"

#: The record kinds the connector resolves (``records_for_event``).
RECORD_KINDS: Final = frozenset({"customer", "order", "product", "cart"})


def standard_webhooks_key(secret: bytes) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` decoded, any other secret as it is.

    Example:
        >>> standard_webhooks_key(b"whsec_c2VjcmV0")
        b'secret'
        >>> standard_webhooks_key(b"my-client-secret")
        b'my-client-secret'
    """
    if not secret.startswith(_PREFIX):
        return secret
    try:
        return base64.b64decode(secret[len(_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("a whsec_ secret must be base64 after the prefix") from None


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check the Standard Webhooks headers (already normalised) against each secret.

    Args:
        headers: the request headers, names lower-cased.
        body: the raw body.
        secrets: the secrets to try (the app's client secret; several while rotating).
        url: unused (BigCommerce does not sign the URL).
        now: the current time (aware); default: the system clock.

    Raises:
        WebhookVerificationError: a header is missing or malformed, the timestamp
            is more than :data:`TOLERANCE` from ``now``, or no ``v1`` signature
            matches any secret.
        NaiveDatetimeError: ``now`` has no timezone.

    Example:
        >>> import base64, datetime as dt, hashlib, hmac
        >>> body = b'{"scope":"store/order/created"}'
        >>> mac = hmac.new(b"client-secret", b"msg_1.1700000000." + body, hashlib.sha256)
        >>> headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000",
        ...            "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()}
        >>> at = dt.datetime.fromtimestamp(1700000060, dt.timezone.utc)
        >>> verify(headers, body, secrets=(b"client-secret",), now=at)
        >>> verify(headers, body, secrets=(b"other-secret",), now=at)
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.WebhookVerificationError: bigcommerce webhook: signature check failed: ...
    """  # noqa: E501
    msg_id = require_header(_PLATFORM, headers, "webhook-id")
    stamp = require_header(_PLATFORM, headers, "webhook-timestamp")
    signatures = require_header(_PLATFORM, headers, SIGNATURE_HEADER)
    # str.isdigit() also accepts non-ASCII digits ("²"), which int() then refuses.
    if not (stamp.isascii() and stamp.isdigit()):
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", "webhook-timestamp is not Unix seconds"
        )
    now = (
        ensure_aware_utc(now, field="now")
        if now is not None
        else _dt.datetime.now(_dt.timezone.utc)
    )
    try:
        sent = _dt.datetime.fromtimestamp(int(stamp), _dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        raise WebhookVerificationError(
            _PLATFORM, "timestamp", "webhook-timestamp is out of range"
        ) from None
    if abs(now - sent) > TOLERANCE:
        raise WebhookVerificationError(
            _PLATFORM, "timestamp", "webhook-timestamp is more than 5 minutes from now"
        )
    given = []
    for part in signatures.split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and is_base64(value):
            given.append(value.encode("ascii"))
    if not given:
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", "webhook-signature has no v1,<base64> signature"
        )
    message = f"{msg_id}.{stamp}.".encode() + body
    keys = (standard_webhooks_key(s) for s in secrets)
    if not matches_any((b64_hmac(k, message) for k in keys), given):
        raise WebhookVerificationError(
            _PLATFORM, "signature", "no v1 signature matches a configured secret"
        )


# ---------------------------------------------------------------------------- topics


class TopicRule(NamedTuple):
    """How one scope reads.

    Attributes:
        kind: the record kind it is about (``None`` when it names none).
        action: what the receiver does with it.
        id_paths: dotted paths under ``data`` to the record's id, tried in order.
    """

    kind: str | None
    action: WebhookAction
    id_paths: tuple[str, ...] = ("id",)


_UPSERT, _DELETE, _OTHER = WebhookAction.UPSERT, WebhookAction.DELETE, WebhookAction.OTHER
#: Line-item events put the line item in ``data.id`` and the cart in ``data.cartId``.
_CART_ID = ("cartId", "id")

#: Every scope this library reads, from the webhooks reference (``webhooks.v3.yml``) and
#: the events index. Scopes not listed here parse to ``OTHER`` with no kind.
TOPICS: Final[Mapping[str, TopicRule]] = MappingProxyType(
    {
        # Orders. "Any change to an existing order" fires store/order/updated, status
        # changes included; statusUpdated and refund/created are read the same way.
        "store/order/created": TopicRule("order", _UPSERT),
        "store/order/updated": TopicRule("order", _UPSERT),
        "store/order/statusUpdated": TopicRule("order", _UPSERT),
        "store/order/refund/created": TopicRule("order", _UPSERT),
        # Archiving sets is_deleted; the order is still a purchase (see the connector).
        "store/order/archived": TopicRule("order", _UPSERT),
        "store/order/message/created": TopicRule("order", _OTHER),
        "store/order/transaction/created": TopicRule("order", _OTHER, ("order_id",)),
        "store/order/transaction/updated": TopicRule("order", _OTHER, ("order_id",)),
        "store/shipment/created": TopicRule("order", _OTHER, ("orderId",)),
        "store/shipment/updated": TopicRule("order", _OTHER, ("orderId",)),
        "store/shipment/deleted": TopicRule("order", _OTHER, ("orderId",)),
        # Customers. store/customer/updated "does not currently track changes to the
        # customer address", yet the customer record carries its addresses (and the
        # phone fallback reads them): address events refresh the customer.
        "store/customer/created": TopicRule("customer", _UPSERT),
        "store/customer/updated": TopicRule("customer", _UPSERT),
        "store/customer/deleted": TopicRule("customer", _DELETE),
        "store/customer/address/created": TopicRule("customer", _UPSERT, ("address.customer_id",)),
        "store/customer/address/updated": TopicRule("customer", _UPSERT, ("address.customer_id",)),
        "store/customer/address/deleted": TopicRule("customer", _UPSERT, ("address.customer_id",)),
        "store/customer/payment/instrument/default/updated": TopicRule("customer", _OTHER),
        # Products.
        "store/product/created": TopicRule("product", _UPSERT),
        "store/product/updated": TopicRule("product", _UPSERT),
        "store/product/deleted": TopicRule("product", _DELETE),
        "store/product/inventory/updated": TopicRule("product", _OTHER),
        "store/product/inventory/order/updated": TopicRule("product", _OTHER),
        "store/sku/created": TopicRule("product", _OTHER, ("sku.product_id",)),
        "store/sku/updated": TopicRule("product", _OTHER, ("sku.product_id",)),
        "store/sku/deleted": TopicRule("product", _OTHER, ("sku.product_id",)),
        "store/sku/inventory/updated": TopicRule("product", _OTHER, ("inventory.product_id",)),
        "store/sku/inventory/order/updated": TopicRule(
            "product", _OTHER, ("inventory.product_id",)
        ),
        # Carts are synced once abandoned: creation and edits are only noted.
        "store/cart/abandoned": TopicRule("cart", _UPSERT, _CART_ID),
        "store/cart/converted": TopicRule("cart", WebhookAction.CONVERT, _CART_ID),
        "store/cart/deleted": TopicRule("cart", _DELETE, _CART_ID),
        "store/cart/created": TopicRule("cart", _OTHER, _CART_ID),
        "store/cart/updated": TopicRule("cart", _OTHER, _CART_ID),
        "store/cart/couponApplied": TopicRule("cart", _OTHER, _CART_ID),
        "store/cart/lineItem/created": TopicRule("cart", _OTHER, _CART_ID),
        "store/cart/lineItem/updated": TopicRule("cart", _OTHER, _CART_ID),
        "store/cart/lineItem/deleted": TopicRule("cart", _OTHER, _CART_ID),
        # The store.
        "store/app/uninstalled": TopicRule("store", WebhookAction.UNINSTALL, ()),
        "store/information/updated": TopicRule("store", _OTHER, ()),
    }
)

#: The scopes ``ensure_webhooks`` subscribes to by default: what keeps customers,
#: orders, products and abandoned carts current, and the uninstall notice.
#: ``store/order/statusUpdated`` is left out because ``store/order/updated`` already
#: fires on every change, status included (one fetch per change, not two); cart
#: creation and edits are left out because carts are synced once abandoned.
DEFAULT_TOPICS: tuple[str, ...] = (
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/refund/created",
    "store/customer/created",
    "store/customer/updated",
    "store/customer/deleted",
    "store/customer/address/created",
    "store/customer/address/updated",
    "store/customer/address/deleted",
    "store/product/created",
    "store/product/updated",
    "store/product/deleted",
    "store/cart/abandoned",
    "store/cart/converted",
    "store/cart/deleted",
    "store/app/uninstalled",
)


def topic_covers(subscribed: str, scope: str) -> bool:
    """Whether a subscription to ``subscribed`` delivers ``scope`` (``store/order/*`` covers
    ``store/order/created`` and ``store/order/refund/created``).

    Example:
        >>> topic_covers("store/order/*", "store/order/refund/created")
        True
        >>> topic_covers("store/order/created", "store/order/updated")
        False
    """
    if subscribed == scope:
        return True
    return subscribed.endswith("/*") and scope.startswith(subscribed[:-1])


# ---------------------------------------------------------------------------- parsing


def _at(data: Any, dotted: str) -> Any:
    node = data
    for key in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _id_text(value: Any) -> str | None:
    """An id as our parsers write it: integers in decimal, strings unchanged."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _unix(value: Any) -> _dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def parse_event(
    headers: Mapping[str, str], body: bytes, *, received_at: _dt.datetime
) -> WebhookEvent:
    """Read a verified BigCommerce delivery (see the module docstring for the rules).

    Args:
        headers: the request headers, names lower-cased.
        body: the raw body.
        received_at: when it arrived (aware); dates events whose body and headers carry
            no time.

    Raises:
        WebhookPayloadError: the body is not a JSON object, ``scope`` or ``producer``
            is missing or malformed, ``created_at`` is not Unix seconds, or an event that
            names a record (create, update, delete, convert) lacks its id. Every problem
            is listed with its JSON path.
    """
    payload = decode_json_object(_PLATFORM, body)
    problems: list[FieldProblem] = []

    scope = payload.get("scope")
    if not isinstance(scope, str) or not scope.strip():
        problems.append(FieldProblem("$.scope", "required: the event's scope", scope))
        scope = ""

    producer = payload.get("producer")
    store_hash = ""
    if isinstance(producer, str) and producer.startswith(_PRODUCER_PREFIX):
        store_hash = producer[len(_PRODUCER_PREFIX) :].strip()
    if not store_hash:
        problems.append(FieldProblem("$.producer", "required: 'stores/<store_hash>'", producer))

    raw_created = payload.get("created_at")
    occurred = _unix(raw_created)
    if raw_created is not None and occurred is None:
        problems.append(FieldProblem("$.created_at", "expected Unix seconds", raw_created))

    rule = TOPICS.get(scope)
    data = payload.get("data")
    external_id: str | None = None
    if rule is not None and rule.id_paths:
        external_id = next(
            (i for p in rule.id_paths if (i := _id_text(_at(data, p))) is not None), None
        )
        if external_id is None and rule.action is not WebhookAction.OTHER:
            path = "$.data" if not isinstance(data, Mapping) else f"$.data.{rule.id_paths[-1]}"
            problems.append(FieldProblem(path, f"required: the {rule.kind}'s id", None))

    if problems:
        raise WebhookPayloadError(_PLATFORM, problems)

    if occurred is None:
        stamp = header(headers, "webhook-timestamp")
        occurred = _unix(int(stamp)) if stamp and stamp.isascii() and stamp.isdigit() else None
    return WebhookEvent(
        platform=Platform.BIGCOMMERCE,
        store_id=store_hash,
        topic=scope,
        event_id=_event_id(headers, payload, scope, raw_created, body),
        occurred_at=occurred if occurred is not None else received_at,
        kind=rule.kind if rule is not None else None,
        external_id=external_id,
        action=rule.action if rule is not None else WebhookAction.OTHER,
        payload=payload,
    )


def _event_id(
    headers: Mapping[str, str], payload: Mapping[str, Any], scope: str, created: Any, body: bytes
) -> str:
    msg_id = header(headers, "webhook-id")
    if msg_id is not None:
        return msg_id
    digest = payload.get("hash")
    if isinstance(digest, str) and digest.strip():
        return f"{scope}:{'' if created is None else created}:{digest}"
    # No id and no hash: only the bytes themselves identify a redelivery.
    return "sha256:" + hashlib.sha256(body).hexdigest()
