"""BigCommerce webhook subscriptions (``/v3/hooks``) and event resolution for the connector.

:class:`BigCommerceRealtime` is mixed into
:class:`~commerce_connectors.platforms.bigcommerce.BigCommerceConnector`; with it the
connector is a :class:`~commerce_connectors.protocols.RealtimeConnector`. Every call
goes through the connector's HTTP engine (its rate limiter, retries and error mapping).

* Subscriptions: ``GET /v3/hooks`` (paged, ``meta.pagination``), ``POST /v3/hooks``
  with ``{scope, destination, is_active, headers?}``, ``PUT /v3/hooks/{id}`` to
  reactivate a hook BigCommerce deactivated, ``DELETE /v3/hooks/{id}``. The hooks
  listed are those of the app (the API account) that owns the access token.
* Events: webhook bodies are light, so records are always fetched, with the same
  requests and parsers as the streams (an order with its line items, shipping
  addresses and coupons; a customer with its addresses; a product with its variants
  and images; a cart by id).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from ..._webhooks import WebhookAction, WebhookEvent, WebhookSubscription
from ...errors import ConfigurationError, MalformedResponseError, NotFoundError
from ...models import Cart, Customer, Order, Platform, Product
from ...protocols import Stream
from . import constants as c
from .parsers import parse_cart, parse_customer, parse_product
from .webhooks import DEFAULT_TOPICS, topic_covers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from ..._http import HttpEngine
    from ..base import Fetched, Record

__all__ = ["HOOKS_PATH", "BigCommerceRealtime", "check_destination"]

#: The hooks resource, under the store's API root.
HOOKS_PATH = f"{c.V3}/hooks"
#: Carts are read with their physical items' options, as the cart endpoint offers.
_CART_INCLUDE = "line_items.physical_items.options"

SourceRecord = Customer | Order | Product | Cart


def check_destination(url: str) -> str:
    """The callback URL if BigCommerce can deliver to it, else a ``ConfigurationError``.

    BigCommerce delivers HTTPS webhooks, and "Destination URL must be served on port
    443 (custom ports are not currently supported)".

    Example:
        >>> check_destination("https://hooks.example.com/bigcommerce")
        'https://hooks.example.com/bigcommerce'
        >>> check_destination("https://hooks.example.com:8443/bigcommerce")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: ...port 443...
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError(f"not a URL: {url!r}") from None
    if parsed.scheme != "https" or not parsed.host:
        raise ConfigurationError(
            f"BigCommerce delivers webhooks only to https:// URLs, got {url!r}"
        )
    if parsed.port not in (None, 443):
        raise ConfigurationError(
            f"BigCommerce delivers webhooks only on port 443 (custom ports are not "
            f"supported), got port {parsed.port} in {url!r}"
        )
    return url


def _subscription(hook: Any, where: str) -> WebhookSubscription:
    if not isinstance(hook, Mapping):
        raise MalformedResponseError(
            f"{where}: expected a webhook object, got {type(hook).__name__}",
            platform=c.PLATFORM_NAME,
        )
    hook_id, scope, destination = hook.get("id"), hook.get("scope"), hook.get("destination")
    if hook_id is None or not isinstance(scope, str) or not isinstance(destination, str):
        raise MalformedResponseError(
            f"{where}: a webhook without id, scope or destination", platform=c.PLATFORM_NAME
        )
    return WebhookSubscription(
        id=str(hook_id),
        topic=scope,
        url=destination,
        # A hook is active unless the platform says otherwise (is_active defaults to true).
        active=hook.get("is_active") is not False,
    )


class BigCommerceRealtime:
    """The :class:`~commerce_connectors.protocols.RealtimeConnector` half of the connector.

    Example:
        >>> from commerce_connectors.protocols import RealtimeConnector
        >>> from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
        >>> with BigCommerceConnector(store_hash="abc123", access_token="tok-0123456789") as conn:
        ...     isinstance(conn, RealtimeConnector)
        True
    """

    if TYPE_CHECKING:
        # Provided by BigCommerceConnector and BaseConnector; declared for the type checker
        # only, so nothing here shadows them at run time.
        engine: HttpEngine
        store_hash: str

        @property
        def connection_id(self) -> str: ...

        def _parse(
            self, stream: Stream, payload: Any, parser: Callable[[Any], Record]
        ) -> Record | None: ...

        def _walk(
            self, path: str, params: Mapping[str, Any], *, v3: bool
        ) -> Iterator[list[Any]]: ...

        def _keep(self, order: Any) -> bool: ...

        def _order_params(self) -> dict[str, str]: ...

        def _order_page(
            self, orders: Sequence[Any], *, keep_all: bool = False
        ) -> Iterator[Fetched]: ...

        def _category_names(self) -> dict[str, str]: ...

        def _categories(self) -> dict[str, str]: ...

        def _store_currency(self) -> str: ...

        def store_info(self) -> Mapping[str, Any]: ...

        def _store_name(self, *, read: bool = True) -> str | None: ...

        _category_cache: dict[str, str] | None

    # -- subscriptions ------------------------------------------------------------------

    def list_webhooks(self) -> list[WebhookSubscription]:
        """Every hook of this app on this store (``GET /v3/hooks``, every page).

        Raises:
            APIError: the listing failed.
            MalformedResponseError: a hook without id, scope or destination.
        """
        # No limit is sent: the reference gives none for hooks, and an app has few.
        return [
            _subscription(hook, f"GET /{HOOKS_PATH}")
            for records in self._walk(HOOKS_PATH, {}, v3=True)
            for hook in records
        ]

    def ensure_webhooks(
        self,
        callback_url: str,
        topics: Sequence[str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> list[WebhookSubscription]:
        """Subscribe ``callback_url`` to each scope not already delivered to it.

        A scope counts as delivered when a hook to the same URL has that scope, or a
        wildcard covering it (``store/order/*``). Such a hook that BigCommerce
        deactivated (after 48 hours of failed deliveries, or 90 days without events)
        is reactivated (``PUT /v3/hooks/{id}`` with ``is_active: true``) instead of
        duplicated. Running it twice creates nothing the second time.

        Args:
            callback_url: an ``https://`` URL on port 443.
            topics: the scopes (default:
                :data:`~commerce_connectors.platforms.bigcommerce.webhooks.DEFAULT_TOPICS`).
            headers: custom headers BigCommerce sends with every delivery of the hooks
                created here (a shared secret, basic auth…); existing hooks keep theirs.

        Returns:
            Every hook to ``callback_url`` after the call.

        Raises:
            ConfigurationError: the URL is not ``https`` on port 443, or a scope is empty.
            APIError: BigCommerce refused a call (a 422 names the bad field).
        """
        url = check_destination(callback_url)
        wanted = list(dict.fromkeys(DEFAULT_TOPICS if topics is None else topics))
        for topic in wanted:
            if not isinstance(topic, str) or not topic.strip():
                raise ConfigurationError(f"a webhook scope must be a non-empty string: {topic!r}")
        mine = [s for s in self.list_webhooks() if s.url == url]
        for topic in wanted:
            found = next((s for s in mine if s.topic == topic), None) or next(
                (s for s in mine if topic_covers(s.topic, topic)), None
            )
            if found is None:
                body: dict[str, Any] = {"scope": topic, "destination": url, "is_active": True}
                if headers:
                    body["headers"] = dict(headers)
                created = self.engine.post(HOOKS_PATH, json=body).body
                mine.append(_subscription(_data(created), f"POST /{HOOKS_PATH}"))
            elif not found.active:
                path = f"{HOOKS_PATH}/{quote(found.id, safe='')}"
                updated = self.engine.request("PUT", path, json={"is_active": True}).body
                mine[mine.index(found)] = _subscription(_data(updated), f"PUT /{path}")
        return mine

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        """Delete this app's hooks to ``callback_url`` (every hook when ``None``).

        A hook already gone (404) is not counted.

        Returns:
            How many hooks were deleted.
        """
        removed = 0
        for sub in self.list_webhooks():
            if callback_url is not None and sub.url != callback_url:
                continue
            try:
                self.engine.request("DELETE", f"{HOOKS_PATH}/{quote(sub.id, safe='')}")
            except NotFoundError:
                continue
            removed += 1
        return removed

    # -- events -------------------------------------------------------------------------

    def owns_event(self, event: WebhookEvent) -> bool:
        """Whether ``event`` comes from this connection's store (its ``producer`` hash).

        Store hashes are compared without regard to case.
        """
        return (
            event.platform is Platform.BIGCOMMERCE
            and event.store_id.casefold() == self.store_hash.casefold()
        )

    def records_for_event(self, event: WebhookEvent) -> list[SourceRecord]:
        """Fetch the current record an event is about, parsed as the streams parse it.

        * orders (``UPSERT``): ``GET /v2/orders/{id}`` with its consignments (line items,
          shipping addresses) and, for an order with a coupon discount, its coupons: the
          same :class:`~commerce_connectors.models.Order`
          ``iter_orders`` gives. An order the streams skip (status 0 "Incomplete"
          unless ``include_incomplete``; archived with ``include_archived=False``) gives
          ``[]``, counted in ``skipped``.
        * customers: ``GET /v3/customers?id:in={id}&include=addresses``.
        * products: ``GET /v3/catalog/products/{id}?include=variants,images``.
        * carts (``store/cart/abandoned``): ``GET /v3/carts/{id}``, with the store's name
          (``GET /v2/store``, read once per connector) as ``store_name``.
        * ``CONVERT`` (``store/cart/converted``): the cart is deleted by then; the order
          it became (``data.orderId``) is returned.

        Anything else (deletions, uninstall, other events) gives ``[]``, as do a record
        that no longer exists (404) and an event from another store. A payload the
        parsers refuse goes to ``on_invalid``.

        Raises:
            APIError: a fetch failed.
        """
        if not self.owns_event(event) or event.external_id is None:
            return []
        if event.action is WebhookAction.CONVERT:
            data = event.payload.get("data") if isinstance(event.payload, Mapping) else None
            order_id = data.get("orderId") if isinstance(data, Mapping) else None
            if isinstance(order_id, bool) or not isinstance(order_id, (int, str)):
                return []
            return self._order_records(str(order_id))
        if event.action is not WebhookAction.UPSERT:
            return []
        if event.kind == "order":
            return self._order_records(event.external_id)
        if event.kind == "customer":
            return self._customer_records(event.external_id)
        if event.kind == "product":
            return self._product_records(event.external_id)
        if event.kind == "cart":
            return self._cart_records(event.external_id)
        return []

    def _parsed(self, stream: Stream, pairs: Iterable[Fetched]) -> list[SourceRecord]:
        records: list[SourceRecord] = []
        for payload, parser in pairs:
            record = self._parse(stream, payload, parser)
            if record is not None:
                records.append(record)
        return records

    def _order_records(self, order_id: str) -> list[SourceRecord]:
        if not order_id.isdigit():
            return []  # v2 order ids are integers: no such order
        try:
            order = self.engine.get(f"{c.V2}/orders/{order_id}", params=self._order_params()).body
        except NotFoundError:
            return []
        if not self._keep(order):
            return []
        return self._parsed(Stream.ORDERS, self._order_page([order], keep_all=True))

    def _customer_records(self, customer_id: str) -> list[SourceRecord]:
        if not customer_id.isdigit():
            return []
        # v3 has no GET /customers/{id}: the listing filtered on one id stands in.
        params = {"id:in": customer_id, "include": "addresses"}
        parser = functools.partial(parse_customer, connection_id=self.connection_id)
        pairs = [
            (record, parser)
            for records in self._walk(f"{c.V3}/customers", params, v3=True)
            for record in records
        ]
        return self._parsed(Stream.CUSTOMERS, pairs)

    def _product_records(self, product_id: str) -> list[SourceRecord]:
        if not product_id.isdigit():
            return []
        try:
            response = self.engine.get(
                f"{c.V3}/catalog/products/{product_id}", params={"include": "variants,images"}
            )
        except NotFoundError:
            return []
        product = _data(response.body)
        names = self._category_names()
        ids = product.get("categories") if isinstance(product, Mapping) else None
        if isinstance(ids, list) and any(str(i) not in names for i in ids):
            # A category created since the names were read: read them again, once.
            self._category_cache = names = self._categories()
        store_url = self.store_info().get("secure_url")
        parser = functools.partial(
            parse_product,
            currency=self._store_currency(),
            categories=names,
            store_url=store_url if isinstance(store_url, str) else None,
            connection_id=self.connection_id,
        )
        return self._parsed(Stream.PRODUCTS, [(product, parser)])

    def _cart_records(self, cart_id: str) -> list[SourceRecord]:
        try:
            response = self.engine.get(
                f"{c.V3}/carts/{quote(cart_id, safe='')}", params={"include": _CART_INCLUDE}
            )
        except NotFoundError:
            return []  # converted or deleted since
        parser = functools.partial(
            parse_cart, store_name=self._store_name(), connection_id=self.connection_id
        )
        return self._parsed(Stream.ABANDONED_CARTS, [(_data(response.body), parser)])


def _data(body: Any) -> Any:
    """The ``data`` member of a v3 single-object answer (the body itself if it has none)."""
    return body.get("data") if isinstance(body, Mapping) and "data" in body else body
