"""Square webhooks for :class:`~commerce_connectors.platforms.square.SquareConnector`.

Two halves, both called through the connector's methods:

* **subscriptions** (``ensure_webhooks``, ``list_webhooks``, ``remove_webhooks``): the
  Webhook Subscriptions API, ``/v2/webhooks/subscriptions``. A Square subscription
  belongs to the **application**, not to a seller: one subscription delivers the
  events of every seller who authorised the application, and Square refuses OAuth
  access tokens on this API ("you must use the application's personal access
  token"). The connector sends these calls with ``webhook_token`` when it was given
  one, else with its own token (right when that is the application owner's personal
  access token). One subscription holds many event types; the library lists it as
  one :class:`~commerce_connectors._webhooks.WebhookSubscription` per event type.
* **events** (``owns_event``, ``records_for_event``): which connection an event is
  for (the merchant, and the location its order, payment or refund names) and the
  canonical records it is about, built exactly as ``iter_orders`` /
  ``iter_customers`` / ``iter_products`` build them.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit

from ..._http import CursorPaginator, HttpEngine, Request
from ..._parsing import parse_datetime
from ..._webhooks import WebhookAction, WebhookEvent, WebhookSubscription
from ...errors import (
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
)
from ...models import Platform, Product
from ...protocols import Stream
from ..base import Fetched, Record
from ._ids import is_safe_id
from .parsers import parse_customer
from .webhooks import DEFAULT_TOPICS, TOPICS

__all__ = [
    "CATALOG_EVENT_LOOKBACK",
    "SUBSCRIPTIONS_PAGE_SIZE",
    "SUBSCRIPTIONS_PATH",
    "SUBSCRIPTION_NAME",
    "RealtimeHost",
    "check_callback_url",
    "ensure_webhooks",
    "list_webhooks",
    "owns_event",
    "records_for_event",
    "remove_webhooks",
]

logger = logging.getLogger("commerce_connectors.square")

#: The Webhook Subscriptions API's collection.
SUBSCRIPTIONS_PATH: Final = "/v2/webhooks/subscriptions"
#: The ``name`` of the subscriptions the connector creates (Square allows 64 characters).
SUBSCRIPTION_NAME: Final = "commerce-connectors"
#: ListWebhookSubscriptions ``limit``: "the default value of 100 is also the maximum".
SUBSCRIPTIONS_PAGE_SIZE: Final = 100
#: ``catalog.version.updated`` names no object: the products changed since the catalog
#: version's time are re-read, from this much earlier (the event's time and the
#: objects' ``updated_at`` come from different clocks; re-reading is harmless).
CATALOG_EVENT_LOOKBACK: Final = _dt.timedelta(minutes=1)


class RealtimeHost(Protocol):
    """What these functions use of the :class:`~.connector.SquareConnector` they serve.

    The connector passes itself; naming only this keeps the data flowing one way
    (the connector imports this module, never the reverse).
    """

    @property
    def engine(self) -> HttpEngine:
        """The connector's HTTP engine (records are read back through it)."""

    @property
    def webhook_engine(self) -> HttpEngine:
        """The engine for the Webhook Subscriptions API."""

    @property
    def square_version(self) -> str:
        """The ``Square-Version`` the subscriptions are made for."""

    @property
    def merchant_id(self) -> str:
        """The seller's id (an event's ``merchant_id``)."""

    @property
    def location_id(self) -> str:
        """The location this connection reads."""

    @property
    def connection_id(self) -> str:
        """The connection id records carry."""

    def iter_products(self, since: _dt.datetime | None = None) -> Iterator[Product]:
        """Catalogue products created or updated at/after ``since``."""

    def _payments_of(
        self, order: Mapping[str, Any] | None, page_payments: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]: ...

    def _orders_for(
        self,
        payments: Sequence[Mapping[str, Any]],
        emitted: collections.OrderedDict[str, _dt.datetime],
        conn: str,
        store_name: str | None,
        *,
        known: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Iterator[Fetched]: ...

    def _store_name(self) -> str | None: ...

    def _keep_customer(self, item: Any) -> bool: ...

    def _parse(
        self, stream: Stream, payload: Any, parser: Callable[[Any], Record]
    ) -> Record | None: ...


# ---------------------------------------------------------------------------- subscriptions


def check_callback_url(url: Any) -> str:
    """The callback URL, if Square can deliver to it: an absolute ``https`` URL.

    Square requires notification URLs to use HTTPS. The URL is kept exactly as
    given: Square signs it, byte for byte, with every notification.

    Example:
        >>> check_callback_url("https://hooks.example.com/square")
        'https://hooks.example.com/square'
        >>> check_callback_url("http://hooks.example.com/square")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: Square delivers webhooks only to ...
    """
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or url != url.strip():
        raise ConfigurationError(
            f"Square delivers webhooks only to https URLs with a host, got {url!r}"
        )
    return str(url)


def _topics(topics: Sequence[str] | None) -> list[str]:
    chosen = DEFAULT_TOPICS if topics is None else topics
    if isinstance(chosen, str):
        raise ConfigurationError("topics must be a sequence of event types, not one string")
    bad = [t for t in chosen if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ConfigurationError(f"event types must be non-empty strings, got {bad!r}")
    return list(dict.fromkeys(chosen))


def _event_types(subscription: Mapping[str, Any]) -> list[str]:
    types = subscription.get("event_types")
    return [t for t in types if isinstance(t, str)] if isinstance(types, list) else []


def _entries(
    subscription: Mapping[str, Any], signature_key: str | None = None
) -> list[WebhookSubscription]:
    """One entry per event type (one with an empty topic if it has none)."""
    key = signature_key or subscription.get("signature_key")
    return [
        WebhookSubscription(
            id=str(subscription.get("id")),
            topic=topic,
            url=str(subscription.get("notification_url") or ""),
            active=subscription.get("enabled") is not False,
            signature_key=key if isinstance(key, str) else None,
        )
        for topic in _event_types(subscription) or [""]
    ]


def _subscription_of(body: Any, response_of: str) -> Mapping[str, Any]:
    found = body.get("subscription") if isinstance(body, Mapping) else None
    if not isinstance(found, Mapping) or not isinstance(found.get("id"), str):
        raise MalformedResponseError(f"{response_of} returned no subscription", platform="square")
    return found


def _all_subscriptions(engine: HttpEngine) -> list[Mapping[str, Any]]:
    """Every subscription of the application, disabled ones included, over every page."""
    first = Request(
        "GET",
        SUBSCRIPTIONS_PATH,
        params={"include_disabled": True, "limit": SUBSCRIPTIONS_PAGE_SIZE},
    )
    found: list[Mapping[str, Any]] = []
    for page in engine.paginate(first, CursorPaginator(location="query")):
        items = page.body.get("subscriptions") if isinstance(page.body, Mapping) else None
        found.extend(s for s in items or () if isinstance(s, Mapping) and "id" in s)
    return found


@contextlib.contextmanager
def _application_calls() -> Iterator[None]:
    """Say what to do when Square refuses the token on the Webhook Subscriptions API."""
    try:
        yield
    except PermissionDeniedError as exc:
        raise PermissionDeniedError(
            f"{exc.message} (Square webhook subscriptions belong to the application and "
            "refuse OAuth tokens: pass webhook_token=<the application's personal access "
            "token> to the connector)",
            platform=exc.platform,
            status_code=exc.status_code,
            request_id=exc.request_id,
            method=exc.method,
            url=exc.url,
            body_excerpt=exc.body_excerpt,
            code=exc.code,
        ) from exc


def _path(subscription_id: Any) -> str:
    if not is_safe_id(subscription_id):
        raise MalformedResponseError(
            f"Square returned a webhook subscription id that is not an id: "
            f"{str(subscription_id)[:40]!r}",
            platform="square",
        )
    return f"{SUBSCRIPTIONS_PATH}/{quote(str(subscription_id), safe='')}"


def ensure_webhooks(
    conn: RealtimeHost, callback_url: str, topics: Sequence[str] | None = None
) -> list[WebhookSubscription]:
    """See :meth:`SquareConnector.ensure_webhooks`."""
    url = check_callback_url(callback_url)
    wanted = _topics(topics)
    with _application_calls():
        return _ensure(conn.webhook_engine, url, wanted, conn.square_version)


def _ensure(
    engine: HttpEngine, url: str, wanted: Sequence[str], api_version: str
) -> list[WebhookSubscription]:
    mine = [s for s in _all_subscriptions(engine) if s.get("notification_url") == url]
    delivered = {t for s in mine if s.get("enabled") is not False for t in _event_types(s)}
    missing = [t for t in wanted if t not in delivered]
    if missing:
        # Reuse the URL's subscription (an enabled one first) rather than adding a
        # second: each subscription has its own signature key, and one key per URL
        # keeps the receiver's configuration simple.
        target = next((s for s in mine if s.get("enabled") is not False), None) or (
            mine[0] if mine else None
        )
        if target is None:
            body = {
                # The key makes a retried POST (timeout, 5xx) return the same subscription.
                "idempotency_key": str(uuid.uuid4()),
                "subscription": {
                    "name": SUBSCRIPTION_NAME,
                    "event_types": missing,
                    "notification_url": url,
                    "api_version": api_version,
                },
            }
            answer = engine.send(Request("POST", SUBSCRIPTIONS_PATH, json=body, idempotent=True))
            mine.append(_subscription_of(answer.body, "CreateWebhookSubscription"))
        else:
            types = list(dict.fromkeys([*_event_types(target), *missing]))
            change = {"subscription": {"event_types": types, "enabled": True}}
            answer = engine.send(Request("PUT", _path(target["id"]), json=change))
            updated = {**target, **_subscription_of(answer.body, "UpdateWebhookSubscription")}
            mine = [updated if s is target else s for s in mine]
    out: list[WebhookSubscription] = []
    for subscription in mine:
        key = subscription.get("signature_key")
        if not isinstance(key, str) or not key:
            # ListWebhookSubscriptions leaves the key out; RetrieveWebhookSubscription has it.
            fetched = engine.get(_path(subscription["id"])).body
            key = _subscription_of(fetched, "RetrieveWebhookSubscription").get("signature_key")
        out.extend(_entries(subscription, key if isinstance(key, str) else None))
    return out


def list_webhooks(conn: RealtimeHost) -> list[WebhookSubscription]:
    """See :meth:`SquareConnector.list_webhooks`."""
    with _application_calls():
        return [e for s in _all_subscriptions(conn.webhook_engine) for e in _entries(s)]


def remove_webhooks(conn: RealtimeHost, callback_url: str | None = None) -> int:
    """See :meth:`SquareConnector.remove_webhooks`."""
    with _application_calls():
        return _remove(conn.webhook_engine, callback_url)


def _remove(engine: HttpEngine, callback_url: str | None) -> int:
    removed = 0
    for subscription in _all_subscriptions(engine):
        if callback_url is not None and subscription.get("notification_url") != callback_url:
            continue
        try:
            engine.send(Request("DELETE", _path(subscription["id"])))
        except NotFoundError:
            continue  # deleted meanwhile (another worker): nothing left to remove
        removed += len(_entries(subscription))
    return removed


# ---------------------------------------------------------------------------- events


def owns_event(conn: RealtimeHost, event: WebhookEvent) -> bool:
    """See :meth:`SquareConnector.owns_event`."""
    if event.platform is not Platform.SQUARE or event.store_id != conn.merchant_id:
        return False
    return event.location_id is None or event.location_id == conn.location_id


def _event_object(event: WebhookEvent) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """``(data, data.object.<holder>)`` of a known event, empty mappings where absent."""
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    data = payload.get("data")
    data = data if isinstance(data, Mapping) else {}
    rule = TOPICS.get(event.topic)
    objects = data.get("object")
    obj = (
        objects.get(rule.holder) if rule and rule.holder and isinstance(objects, Mapping) else None
    )
    return data, obj if isinstance(obj, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def records_for_event(conn: RealtimeHost, event: WebhookEvent) -> list[Record]:
    """See :meth:`SquareConnector.records_for_event`."""
    if event.action not in (WebhookAction.UPSERT, WebhookAction.CONVERT):
        return []
    rule = TOPICS.get(event.topic)
    if rule is None or not owns_event(conn, event):
        return []
    data, obj = _event_object(event)
    if rule.holder == "payment":
        return _payment_orders(conn, _text(obj.get("id")) or _text(data.get("id")))
    if rule.holder == "refund":
        return _payment_orders(conn, _text(obj.get("payment_id")))
    if rule.kind == "order":
        return _order(conn, event.external_id)
    if rule.kind == "customer":
        return _customer(conn, obj, event.external_id)
    if rule.kind == "product":
        return _products(conn, event, obj)
    return []


def _get(conn: RealtimeHost, collection: str, record_id: str, key: str) -> Mapping[str, Any] | None:
    """``body[key]`` of ``GET {collection}/{record_id}``, ``None`` on a 404 (the record is
    gone) or when the id, which comes from a webhook payload, is not a Square id: a
    payload never decides a path (``..`` or ``a/b`` would change which one)."""
    if not is_safe_id(record_id):
        logger.warning(
            "square: event names %s id %r, not a Square id; ignored", key, record_id[:40]
        )
        return None
    try:
        body = conn.engine.get(f"{collection}/{quote(record_id, safe='')}").body
    except NotFoundError:
        return None
    found = body.get(key) if isinstance(body, Mapping) else None
    return found if isinstance(found, Mapping) else None


def _elsewhere(conn: RealtimeHost, record: Mapping[str, Any]) -> bool:
    location = record.get("location_id")
    return location is not None and location != conn.location_id


def _order(conn: RealtimeHost, order_id: str | None) -> list[Record]:
    if order_id is None:
        return []
    order = _get(conn, "/v2/orders", order_id, "order")
    if order is None or _elsewhere(conn, order):
        return []
    payments = conn._payments_of(order, [])
    if not payments:
        # iter_orders reads orders through their payments; an order nobody has paid
        # yet is not one of its records. Its first payment's events will bring it.
        logger.info("square: order %s has no payment yet; not synced", order_id)
        return []
    return _orders_of(conn, payments, {order_id: order})


def _payment_orders(conn: RealtimeHost, payment_id: str | None) -> list[Record]:
    if payment_id is None:
        return []
    # Fetched, not taken from the event: deliveries come late and out of order, and
    # the record must be the payment's current state.
    payment = _get(conn, "/v2/payments", payment_id, "payment")
    if payment is None or _elsewhere(conn, payment):
        return []
    return _orders_of(conn, [payment], {})


def _orders_of(
    conn: RealtimeHost,
    payments: Sequence[Mapping[str, Any]],
    known: Mapping[str, Mapping[str, Any]],
) -> list[Record]:
    fetched = conn._orders_for(
        payments, collections.OrderedDict(), conn.connection_id, conn._store_name(), known=known
    )
    return _parsed(conn, Stream.ORDERS, fetched)


def _parsed(conn: RealtimeHost, stream: Stream, fetched: Iterable[Any]) -> list[Record]:
    out: list[Record] = []
    for payload, parser in fetched:
        record = conn._parse(stream, payload, parser)
        if record is not None:
            out.append(record)
    return out


def _customer(conn: RealtimeHost, obj: Mapping[str, Any], customer_id: str | None) -> list[Record]:
    # customer.created/updated carry the whole customer (without segment_ids, which
    # the canonical record keeps only in extra): parsed as it is, no request.
    payload: Mapping[str, Any] | None = obj if obj.get("id") else None
    if payload is None and customer_id is not None:
        payload = _get(conn, "/v2/customers", customer_id, "customer")
    if payload is None or not conn._keep_customer(payload):
        return []
    connection = conn.connection_id

    def parser(item: Any) -> Record:
        return parse_customer(item, connection_id=connection)

    return _parsed(conn, Stream.CUSTOMERS, [(payload, parser)])


def _products(conn: RealtimeHost, event: WebhookEvent, obj: Mapping[str, Any]) -> list[Record]:
    anchor = event.occurred_at
    with contextlib.suppress(ValueError):  # without a catalog version time: the event's
        anchor = min(anchor, parse_datetime(obj.get("updated_at")))
    return list(conn.iter_products(since=anchor - CATALOG_EVENT_LOOKBACK))
