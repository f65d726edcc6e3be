"""Square webhooks: the signature scheme, the event types and how each event reads.

Square signs every notification with ``x-square-hmacsha256-signature``: the
base64 HMAC-SHA256, keyed with the subscription's **signature key**, of the
notification URL exactly as configured for the subscription followed by the
raw body. The receiver must therefore know the URL byte for byte: a proxy that
rewrites the scheme or host makes every signature fail.

Every notification is one JSON object, whatever its type::

    {"merchant_id": "6SSW7HV8K2ST5", "type": "payment.updated",
     "event_id": "6a8f5f28-…", "created_at": "2020-02-06T21:27:34.308Z",
     "data": {"type": "payment", "id": "hYy9…", "object": {"payment": {…}}}}

:data:`TOPICS` says what each event type the library acts on means (the record
kind, the action); :func:`parse_event` reads a body into a
:class:`~commerce_connectors._webhooks.WebhookEvent`. Square sends no topic
header: the type is in the body. Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from ..._parsing import parse_datetime
from ..._webhooks import (
    WebhookAction,
    WebhookEvent,
    b64_hmac,
    decode_json_object,
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
from ...models import Platform

__all__ = ["DEFAULT_TOPICS", "SIGNATURE_HEADER", "TOPICS", "SquareTopic", "parse_event", "verify"]

_PLATFORM = "square"
#: The header carrying the signature.
SIGNATURE_HEADER = "x-square-hmacsha256-signature"


class SquareTopic(NamedTuple):
    """What one Square event type means to the library.

    Attributes:
        kind: the canonical record kind it is about (``order``, ``customer``,
            ``product``, ``store``).
        action: what the receiver does with it.
        holder: the key under ``data.object`` that holds the event's object
            (``payment``, ``order_updated`` …), ``None`` when there is none to read.
    """

    kind: str
    action: WebhookAction
    holder: str | None


_UPSERT, _DELETE = WebhookAction.UPSERT, WebhookAction.DELETE

#: The event types the library acts on. Every other type parses to ``OTHER``.
#:
#: * ``order.*``: the body carries only the order id, state, version and location:
#:   the connector fetches the order (and its payments).
#: * ``payment.*`` and ``refund.*``: a payment is one of an order's tenders, so the
#:   record is the **order** (``external_id`` is the payment's ``order_id``, or the
#:   payment id for a payment without an order, as ``iter_orders`` names it).
#: * ``catalog.version.updated``: only a timestamp; ``external_id`` is ``None`` and the
#:   connector re-reads the products changed since then.
#: * ``oauth.authorization.revoked``: the seller revoked the application's access.
TOPICS: Final[Mapping[str, SquareTopic]] = {
    "order.created": SquareTopic("order", _UPSERT, "order_created"),
    "order.updated": SquareTopic("order", _UPSERT, "order_updated"),
    "order.fulfillment.updated": SquareTopic("order", _UPSERT, "order_fulfillment_updated"),
    "payment.created": SquareTopic("order", _UPSERT, "payment"),
    "payment.updated": SquareTopic("order", _UPSERT, "payment"),
    "refund.created": SquareTopic("order", _UPSERT, "refund"),
    "refund.updated": SquareTopic("order", _UPSERT, "refund"),
    "customer.created": SquareTopic("customer", _UPSERT, "customer"),
    "customer.updated": SquareTopic("customer", _UPSERT, "customer"),
    "customer.deleted": SquareTopic("customer", _DELETE, "customer"),
    "catalog.version.updated": SquareTopic("product", _UPSERT, "catalog_version"),
    "oauth.authorization.revoked": SquareTopic("store", WebhookAction.UNINSTALL, None),
}

#: What :meth:`SquareConnector.ensure_webhooks` subscribes to by default: every type in
#: :data:`TOPICS`. Square has no customer-redaction or data-request events (the
#: privacy requests other platforms send as webhooks), so there are none to subscribe.
DEFAULT_TOPICS: Final[tuple[str, ...]] = tuple(TOPICS)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check ``x-square-hmacsha256-signature`` over ``url + body`` against each signature key.

    The same computation as Square's own SDK helper (``verify_signature``): the
    key and the URL as UTF-8, the body as received, base64 of the digest,
    compared in constant time.

    Raises:
        ConfigurationError: no ``url`` was given (Square signs it with the body).
        WebhookVerificationError: the signature is missing, malformed or wrong.
    """
    if not url:
        raise ConfigurationError(
            "square signs the notification URL with the body: pass url= exactly as "
            "configured in the subscription"
        )
    given = require_header(_PLATFORM, headers, SIGNATURE_HEADER)
    if not is_base64(given):
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", f"{SIGNATURE_HEADER} is not base64"
        )
    message = url.encode("utf-8") + body
    if not matches_any((b64_hmac(s, message) for s in secrets), [given.encode("ascii")]):
        raise WebhookVerificationError(
            _PLATFORM,
            "signature",
            "the HMAC of the URL and body matches no signature key "
            "(is the URL exactly the subscription's notification URL?)",
        )


# ---------------------------------------------------------------------------- parsing


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _required_text(data: Mapping[str, Any], key: str, problems: list[FieldProblem]) -> str:
    value = _text(data.get(key))
    if value is None:
        problems.append(FieldProblem(f"$.{key}", "required non-empty string", data.get(key)))
        return ""
    return value


def _record_ids(
    rule: SquareTopic, data: Any, problems: list[FieldProblem]
) -> tuple[str | None, str | None]:
    """``(external_id, location_id)`` of a known topic's record, recording what is missing."""
    node: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    holder = rule.holder
    objects = node.get("object")
    obj = objects.get(holder) if holder and isinstance(objects, Mapping) else None
    obj = obj if isinstance(obj, Mapping) else {}
    location = _text(obj.get("location_id"))
    data_id = _text(node.get("id"))
    if rule.kind == "order" and holder in ("payment", "refund"):
        order_id = _text(obj.get("order_id"))
        if holder == "refund":
            # Without the refund's order id, only the payment names the order: the
            # connector resolves it; the event does not guess.
            return order_id, location
        payment_id = _text(obj.get("id")) or data_id
        if order_id is None and payment_id is None:
            problems.append(FieldProblem("$.data.object.payment.id", "no payment id"))
        # iter_orders names a payment without an order after the payment.
        return order_id or payment_id, location
    if rule.kind == "order":
        order_id = _text(obj.get("order_id")) or data_id
        if order_id is None:
            problems.append(FieldProblem(f"$.data.object.{holder}.order_id", "no order id"))
        return order_id, location
    if rule.kind == "customer":
        customer_id = _text(obj.get("id")) or data_id
        if customer_id is None:
            problems.append(FieldProblem("$.data.id", "no customer id"))
        return customer_id, None
    return None, location


def parse_event(
    headers: Mapping[str, str], body: bytes, *, received_at: _dt.datetime
) -> WebhookEvent:
    """Read a verified Square notification into a :class:`WebhookEvent`.

    ``event_id`` is Square's ``event_id`` (the same on every retry of a delivery),
    ``occurred_at`` its ``created_at``, ``store_id`` the ``merchant_id``, and
    ``location_id`` the location the event's order, payment or refund names (or a
    top-level ``location_id``, which some event types carry). Customer, catalog
    and authorization events are seller-wide: no location. Square events carry
    their own id and time, so ``received_at`` is not used.

    Args:
        headers: the request's headers, normalised (Square needs none of them here).
        body: the raw body.
        received_at: when the delivery arrived.

    Raises:
        WebhookPayloadError: the body is not a JSON object, or lacks ``type``,
            ``event_id``, ``merchant_id``, a readable ``created_at``, or the id of the
            record a known event type is about (every problem listed with its path).

    Example:
        >>> import datetime as dt
        >>> body = (b'{"merchant_id": "M1", "type": "customer.deleted", "event_id": "e-1",'
        ...         b' "created_at": "2022-11-09T21:26:50Z", "data": {"type": "customer",'
        ...         b' "id": "C1", "deleted": true}}')
        >>> event = parse_event({}, body, received_at=dt.datetime.now(dt.timezone.utc))
        >>> event.kind, event.external_id, event.action.value, event.store_id
        ('customer', 'C1', 'delete', 'M1')
    """
    data = decode_json_object(_PLATFORM, body)
    problems: list[FieldProblem] = []
    topic = _required_text(data, "type", problems)
    event_id = _required_text(data, "event_id", problems)
    merchant_id = _required_text(data, "merchant_id", problems)
    occurred_at: _dt.datetime | None = None
    try:
        occurred_at = parse_datetime(data.get("created_at"))
    except ValueError as exc:
        problems.append(FieldProblem("$.created_at", str(exc), data.get("created_at")))
    event_data = data.get("data")
    if event_data is not None and not isinstance(event_data, Mapping):
        problems.append(FieldProblem("$.data", "expected an object", event_data))
    rule = TOPICS.get(topic)
    external_id = location_id = None
    if rule is not None:
        external_id, location_id = _record_ids(rule, event_data, problems)
    if problems:
        raise WebhookPayloadError(_PLATFORM, problems)
    assert occurred_at is not None
    top_location = _text(data.get("location_id"))
    return WebhookEvent(
        platform=Platform.SQUARE,
        store_id=merchant_id,
        topic=topic,
        event_id=event_id,
        occurred_at=occurred_at,
        kind=rule.kind if rule is not None else None,
        external_id=external_id,
        action=rule.action if rule is not None else WebhookAction.OTHER,
        payload=data,
        location_id=location_id or top_location,
    )
