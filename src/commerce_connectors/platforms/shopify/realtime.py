"""The real-time half of the Shopify connector: webhook subscriptions and event resolution.

:class:`~commerce_connectors.platforms.shopify.ShopifyConnector` delegates its
:class:`~commerce_connectors.protocols.RealtimeConnector` methods here.

* Subscriptions go through the GraphQL Admin API: ``webhookSubscriptions``
  (cursor-paged), ``webhookSubscriptionCreate`` with the callback in ``uri`` (the
  current field; ``callbackUrl`` is deprecated in the 2025-10 schema) and
  ``webhookSubscriptionDelete``. Their ``userErrors`` become
  :class:`~commerce_connectors.errors.ClientRequestError`.
* An event's record is always read back by id (``order(id:)``, ``customer(id:)``,
  ``product(id:)``, ``node(id:)`` for an abandoned checkout), with the very
  selection the streams use, and parsed by the same node mappers. Webhook bodies
  are the REST shape and lack what the streams carry (order lines' category,
  description and image), deliveries can come late or out of order, and a read
  by id is never behind the search index the streams' filters use; so a record
  written from a webhook equals what the next poll reads, and is the current one.

The GraphQL documents are public constants so tests can validate them against the
published Admin schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..._http import HttpEngine, JsonResponse, Request, get_path
from ..._webhooks import WebhookAction, WebhookEvent, WebhookSubscription
from ...errors import (
    ClientRequestError,
    ConfigurationError,
    MalformedResponseError,
    PaginationLoopError,
)
from ...models import Platform
from ...protocols import Stream
from . import constants as c
from ._shared import PLATFORM_NAME, ParseOptions, legacy_id, normalize_shop_domain
from .graphql import (
    _ADDRESS,
    _BAG,
    _CHECKOUT_LINE,
    _CUSTOMER,
    _ORDER_LINE,
    CHECKOUT_FIELDS,
    ORDER_FIELDS,
    PRODUCT_FIELDS,
)
from .rest import parse_cart
from .webhooks import DEFAULT_TOPICS, PRIVACY_TOPICS, topic_enum, topic_name

if TYPE_CHECKING:
    from ...protocols import SourceRecord

__all__ = [
    "CHECKOUT_LINES_QUERY",
    "CHECKOUT_QUERY",
    "CUSTOMER_QUERY",
    "ORDER_LINES_QUERY",
    "ORDER_QUERY",
    "PRODUCT_QUERY",
    "WEBHOOKS_QUERY",
    "WEBHOOK_CREATE_MUTATION",
    "WEBHOOK_DELETE_MUTATION",
    "RealtimeHost",
    "ensure_webhooks",
    "list_webhooks",
    "owns_event",
    "records_for_event",
    "remove_webhooks",
]


class _Named(Protocol):
    @property
    def name(self) -> str | None: ...


class RealtimeHost(Protocol):
    """What these functions use of the :class:`~.connector.ShopifyConnector` they serve.

    The connector passes itself; naming only this keeps the data flowing one way
    (the connector imports this module, never the reverse).
    """

    @property
    def engine(self) -> HttpEngine:
        """The connector's HTTP engine (GraphQL Admin API)."""

    @property
    def shop(self) -> str:
        """The shop's ``*.myshopify.com`` domain."""

    @property
    def connection_id(self) -> str:
        """The connection id records carry."""

    @property
    def options(self) -> ParseOptions:
        """How payloads are parsed."""

    def shop_info(self) -> _Named:
        """The shop's details (its ``name`` names carts read from a webhook body)."""

    def _query(self, query: str, variables: Mapping[str, Any]) -> JsonResponse: ...

    def _malformed(self, response: JsonResponse, why: str) -> MalformedResponseError: ...

    def _completed(self, node: dict[str, Any]) -> dict[str, Any]: ...

    def _parser(self, stream: Stream) -> Callable[[Any], Any]: ...

    def _parse(
        self, stream: Stream, payload: Any, parser: Callable[[Any], SourceRecord]
    ) -> SourceRecord | None: ...


# -- single records -------------------------------------------------------------------------
# Each selection is the one its stream's query (graphql.py) asks of every node, field for
# field: tests compare them, so a field added to a stream cannot be forgotten here.

#: One order by id, as ``ORDERS_QUERY`` reads each node (the same fragment).
ORDER_QUERY: Final = (
    """
query Order($id: ID!, $lines: Int!) {
  order(id: $id) { ...OrderFields }
}"""
    + ORDER_FIELDS
)

#: One customer by id, as ``CUSTOMERS_QUERY`` reads each node.
CUSTOMER_QUERY: Final = (
    """
query Customer($id: ID!) {
  customer(id: $id) { ...CustomerFields }
}"""
    + _CUSTOMER
    + _ADDRESS
)

#: One product by id, as ``PRODUCTS_QUERY`` reads each node (the same fragment).
PRODUCT_QUERY: Final = (
    """
query Product($id: ID!, $variants: Int!) {
  product(id: $id) { ...ProductFields }
}"""
    + PRODUCT_FIELDS
)

#: One abandoned checkout by id. The Admin API has no ``abandonedCheckout(id:)`` root
#: field; ``AbandonedCheckout`` implements ``Node``, so ``node(id:)`` reads it.
CHECKOUT_QUERY: Final = (
    """
query AbandonedCheckout($id: ID!, $lines: Int!) {
  node(id: $id) { ...CheckoutFields }
}"""
    + CHECKOUT_FIELDS
)

#: The rest of one order's lines. One type per document: asking ``LineItem`` and
#: ``AbandonedCheckoutLineItem`` fields side by side under ``lineItems`` is refused by
#: the published schema (``title`` is ``String!`` on one, ``String`` on the other).
ORDER_LINES_QUERY: Final = (
    """
query MoreLines($id: ID!, $first: Int!, $after: String) {
  node(id: $id) {
    ... on Order {
      lineItems(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { ...LineFields }
      }
    }
  }
}"""
    + _BAG
    + _ORDER_LINE
)

#: The rest of one abandoned checkout's lines (see :data:`ORDER_LINES_QUERY`).
CHECKOUT_LINES_QUERY: Final = (
    """
query MoreCheckoutLines($id: ID!, $first: Int!, $after: String) {
  node(id: $id) {
    ... on AbandonedCheckout {
      lineItems(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { ...CheckoutLineFields }
      }
    }
  }
}"""
    + _BAG
    + _CHECKOUT_LINE
)

# -- subscriptions --------------------------------------------------------------------------

_SUBSCRIPTION: Final = """
fragment SubscriptionFields on WebhookSubscription { id topic uri format }"""

#: Every webhook subscription of this app on this shop, oldest first.
WEBHOOKS_QUERY: Final = (
    """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after, sortKey: CREATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...SubscriptionFields }
  }
}"""
    + _SUBSCRIPTION
)

#: Subscribe one topic; the destination goes in ``webhookSubscription.uri``.
WEBHOOK_CREATE_MUTATION: Final = (
    """
mutation WebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { ...SubscriptionFields }
    userErrors { field message }
  }
}"""
    + _SUBSCRIPTION
)

#: Remove one subscription by id.
WEBHOOK_DELETE_MUTATION: Final = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}"""

#: Subscriptions per page: each node costs one point, so a page stays cheap.
_SUBSCRIPTIONS_PAGE = 100

#: "Mutation: 10" points (https://shopify.dev/docs/api/usage/limits).
_MUTATION_COST = 10.0

# A subscription to this topic and address exists already: created meanwhile by
# another process, so the call's goal is met (message as Shopify words it).
_TAKEN = "already been taken"

# kind -> (stream, query, the gid type, extra variables)
_READS: Mapping[str, tuple[Stream, str, str, Mapping[str, int]]] = {
    "order": (Stream.ORDERS, ORDER_QUERY, "Order", {"lines": c.LINE_ITEMS_PER_RECORD}),
    "customer": (Stream.CUSTOMERS, CUSTOMER_QUERY, "Customer", {}),
    "product": (Stream.PRODUCTS, PRODUCT_QUERY, "Product", {"variants": c.VARIANTS_PER_PRODUCT}),
    "cart": (
        Stream.ABANDONED_CARTS,
        CHECKOUT_QUERY,
        "AbandonedCheckout",
        {"lines": c.LINE_ITEMS_PER_RECORD},
    ),
}


def _mutation(conn: RealtimeHost, query: str, variables: Mapping[str, Any]) -> JsonResponse:
    """Send a mutation once: a create repeated after a lost answer could subscribe twice.

    Throttled answers are still retried (Shopify refused them before running them).
    """
    body = {"query": query, "variables": dict(variables)}
    # A mutation costs 10 points (Shopify's API limits page): said up front so the
    # limiter does not wait for the cost of the last (larger) query.
    return conn.engine.send(
        Request("POST", c.GRAPHQL_PATH, json=body, idempotent=False, cost=_MUTATION_COST)
    )


def _user_errors(
    conn: RealtimeHost, response: JsonResponse, what: str, errors: Any
) -> ClientRequestError:
    """``userErrors`` of a mutation (an HTTP 200 answer) as the exception a 4xx would give."""
    listed = "; ".join(
        f"{'.'.join(e.get('field') or ()) or '-'}: {e.get('message')}"
        for e in errors
        if isinstance(e, Mapping)
    )
    return ClientRequestError(
        conn.engine.redactor.text(f"{what} refused: {listed}"),
        platform=PLATFORM_NAME,
        status_code=response.status_code,
        request_id=response.headers.get("X-Request-Id"),
        method="POST",
        url=conn.engine.redactor.url(conn.engine.url_for(c.GRAPHQL_PATH)),
        code="USER_ERRORS",
    )


def _subscription(node: Any) -> WebhookSubscription | None:
    if not isinstance(node, Mapping) or not node.get("id"):
        return None
    return WebhookSubscription(
        id=str(node["id"]),
        topic=topic_name(str(node.get("topic") or "")),
        url=str(node.get("uri") or ""),
        # Shopify keeps no enabled flag: a subscription that exists is delivered to.
        active=True,
    )


def list_webhooks(conn: RealtimeHost) -> list[WebhookSubscription]:
    """Every subscription this app holds on the shop (every page of ``webhookSubscriptions``)."""
    found: list[WebhookSubscription] = []
    after: str | None = None
    seen: set[str] = set()
    while True:
        response = conn._query(WEBHOOKS_QUERY, {"first": _SUBSCRIPTIONS_PAGE, "after": after})
        connection = get_path(response.body, "data.webhookSubscriptions")
        nodes = get_path(connection, "nodes")
        if not isinstance(nodes, list):
            raise conn._malformed(response, "no list at data.webhookSubscriptions.nodes")
        found.extend(s for s in map(_subscription, nodes) if s is not None)
        info = get_path(connection, "pageInfo") or {}
        cursor = info.get("endCursor") if info.get("hasNextPage") else None
        if cursor is None:
            return found
        if not isinstance(cursor, str) or cursor in seen:
            raise PaginationLoopError(str(cursor), platform=PLATFORM_NAME)
        seen.add(cursor)
        after = cursor


def _topics(topics: Sequence[str] | None) -> list[str]:
    wanted: list[str] = []
    for topic in DEFAULT_TOPICS if topics is None else topics:
        if not isinstance(topic, str) or not topic.strip():
            raise ConfigurationError(f"a webhook topic must be a non-empty string, got {topic!r}")
        name = topic_name(topic_enum(topic))
        if name in PRIVACY_TOPICS:
            raise ConfigurationError(
                f"{name} is a mandatory compliance topic: Shopify does not let apps subscribe "
                "to it through the API. Set its URL in the app's configuration "
                "(compliance topics of shopify.app.toml, or the Partner Dashboard)."
            )
        enum = topic_enum(topic)
        if enum not in wanted:
            wanted.append(enum)
    return wanted


def ensure_webhooks(
    conn: RealtimeHost, callback_url: str, topics: Sequence[str] | None = None
) -> list[WebhookSubscription]:
    """Subscribe ``callback_url`` to each topic it is not subscribed to yet."""
    if not isinstance(callback_url, str) or not callback_url.strip():
        raise ConfigurationError("ensure_webhooks needs the callback URL deliveries go to")
    wanted = _topics(topics)
    mine = [s for s in list_webhooks(conn) if s.url == callback_url]
    have = {topic_enum(s.topic) for s in mine}
    raced = False
    for enum in wanted:
        if enum in have:
            continue
        response = _mutation(
            conn,
            WEBHOOK_CREATE_MUTATION,
            {"topic": enum, "webhookSubscription": {"uri": callback_url, "format": "JSON"}},
        )
        payload = get_path(response.body, "data.webhookSubscriptionCreate")
        errors = get_path(payload, "userErrors") or []
        if errors:
            if all(_TAKEN in str(e.get("message", "")) for e in errors if isinstance(e, Mapping)):
                raced = True
                continue
            raise _user_errors(conn, response, f"webhookSubscriptionCreate({enum})", errors)
        created = _subscription(get_path(payload, "webhookSubscription"))
        if created is None:
            raise conn._malformed(response, "webhookSubscriptionCreate returned no subscription")
        mine.append(created)
        have.add(enum)
    if raced:
        return [s for s in list_webhooks(conn) if s.url == callback_url]
    return mine


def remove_webhooks(conn: RealtimeHost, callback_url: str | None = None) -> int:
    """Delete the subscriptions to ``callback_url`` (all of this app's when ``None``)."""
    removed = 0
    for sub in list_webhooks(conn):
        if callback_url is not None and sub.url != callback_url:
            continue
        response = _mutation(conn, WEBHOOK_DELETE_MUTATION, {"id": sub.id})
        payload = get_path(response.body, "data.webhookSubscriptionDelete")
        errors = get_path(payload, "userErrors") or []
        if get_path(payload, "deletedWebhookSubscriptionId"):
            removed += 1
        elif errors:
            raise _user_errors(conn, response, f"webhookSubscriptionDelete({sub.id})", errors)
    return removed


def owns_event(conn: RealtimeHost, event: WebhookEvent) -> bool:
    """Whether the event is about this connector's shop (domains compared normalised)."""
    return event.platform is Platform.SHOPIFY and normalize_shop_domain(event.store_id) == conn.shop


def records_for_event(conn: RealtimeHost, event: WebhookEvent) -> list[SourceRecord]:
    """The current record an UPSERT/CONVERT event names, read back by id.

    ``[]`` for other actions, another shop's event, or a record Shopify no longer
    returns. A converted checkout Shopify no longer lists is read from the body
    instead, so the conversion still reaches the sink.
    """
    if event.action not in (WebhookAction.UPSERT, WebhookAction.CONVERT):
        return []
    read = _READS.get(event.kind or "")
    if read is None or not event.external_id or not owns_event(conn, event):
        return []
    stream, query, gid_type, extra = read
    number = legacy_id(event.external_id)
    if number is None or not number.isdigit():
        return []  # not a Shopify record id: nothing of this shop's can be read by it
    field = "node" if event.kind == "cart" else event.kind
    body = conn._query(query, {"id": f"{c.GID_PREFIX}{gid_type}/{number}", **extra}).body
    node = get_path(body, f"data.{field}")
    if isinstance(node, dict) and node.get("id"):
        record = conn._parse(stream, conn._completed(node), conn._parser(stream))
    elif event.action is WebhookAction.CONVERT and isinstance(event.payload, Mapping):
        shop, conn_id, options = conn.shop, conn.connection_id, conn.options
        name = conn.shop_info().name
        record = conn._parse(
            stream,
            event.payload,
            lambda p: parse_cart(
                p, shop=shop, store_name=name, connection_id=conn_id, options=options
            ),
        )
    else:
        return []
    return [record] if record is not None else []
