"""ShopifyConnector: reads a shop through the GraphQL Admin API.

Streams are cursor-paginated connections sorted by ``UPDATED_AT`` (checkouts: by
id) and filtered with a quoted ``updated_at:>='…'`` search for incremental reads.
Pacing follows ``extensions.cost``: the :class:`~commerce_connectors._http.GraphQLCostLimiter`
waits for the points a query needs, ``first`` is tuned from each answer's
``requestedQueryCost`` so a query stays under the 1,000-point cap, and a ``THROTTLED``
answer is retried after the time its numbers imply. GraphQL errors in a 200 answer
are raised, never taken for empty data.

With ``bulk=`` (:class:`~.bulk.BulkOptions`, or ``True`` for the defaults), historical reads
and incremental windows of at least :data:`~.constants.BULK_THRESHOLDS` records go through
a bulk operation instead (:mod:`.bulk`): one export job per stream, polled, its JSONL
streamed and reassembled into the same nodes the pages return, parsed by the same
mappers. Smaller windows keep the pages.

It is also a :class:`~commerce_connectors.protocols.RealtimeConnector`: webhook
subscriptions and the reading back of an event's record live in :mod:`.realtime`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import httpx

from ..._http import (
    DefaultErrorMapper,
    GraphQLCostLimiter,
    GraphQLCursorPaginator,
    HeaderTokenAuth,
    HttpEngine,
    HttpStats,
    JsonResponse,
    PageShapeError,
    Request,
    RetryPolicy,
    extract_error_details,
    get_path,
)
from ..._http.redaction import Redactor
from ..._http.stats import EventCallback
from ..._webhooks import WebhookEvent, WebhookSubscription
from ...clock import Clock, SystemClock
from ...errors import (
    APIError,
    ClientRequestError,
    ConfigurationError,
    MalformedResponseError,
    PaginationLoopError,
    PermissionDeniedError,
)
from ...models import Platform
from ...protocols import InvalidRecordHandler, SourceRecord, Stream
from ..base import BaseConnector, Fetched
from . import bulk as _bulk
from . import constants as c
from . import realtime as _realtime
from ._shared import (
    DEFAULT_OPTIONS,
    PLATFORM_NAME,
    ParseOptions,
    connection_id_for,
    normalize_shop_domain,
)
from .graphql import (
    CHECKOUTS_QUERY,
    CUSTOMERS_QUERY,
    ORDERS_QUERY,
    PRODUCTS_QUERY,
    SHOP_QUERY,
    VARIANTS_QUERY,
    parse_checkout_node,
    parse_customer_node,
    parse_order_node,
    parse_product_node,
    search_filter,
)

__all__ = ["ShopInfo", "ShopifyConnector", "ShopifyErrorMapper", "normalize_shop_domain"]

logger = logging.getLogger("commerce_connectors.shopify")

# stream → (connection field in the query, the query, extra variables)
_QUERIES: Mapping[Stream, tuple[str, str, Mapping[str, int]]] = {
    Stream.CUSTOMERS: ("customers", CUSTOMERS_QUERY, {}),
    Stream.ORDERS: ("orders", ORDERS_QUERY, {"lines": c.LINE_ITEMS_PER_RECORD}),
    Stream.PRODUCTS: ("products", PRODUCTS_QUERY, {"variants": c.VARIANTS_PER_PRODUCT}),
    Stream.ABANDONED_CARTS: (
        "abandonedCheckouts",
        CHECKOUTS_QUERY,
        {"lines": c.LINE_ITEMS_PER_RECORD},
    ),
}

# Lines per follow-up query: each line node costs 7 points (line, variant, product,
# image, a MoneyBag of two MoneyV2), so 100 lines stay well under the 1,000 cap.
_MORE_LINES_PAGE = 100

# Variants per follow-up query: one point each, so a full page stays far under the cap.
_MORE_VARIANTS_PAGE = c.MAX_PAGE_SIZE


@attrs.frozen
class ShopInfo:
    """What the shop says about itself and this app (one query per connector).

    Attributes:
        name: the shop's name.
        currency: the shop's currency (product prices carry none).
        domain: the ``*.myshopify.com`` domain.
        scopes: the access scopes granted to the app.
    """

    name: str | None
    currency: str | None
    domain: str | None
    scopes: frozenset[str]


@attrs.frozen
class ShopifyErrorMapper:
    """Shopify's answers → exceptions: the default GraphQL-aware mapping, stricter.

    The default mapper returns partial data with errors as a success; Shopify's
    ``errors`` next to ``data`` (``ACCESS_DENIED`` on a field the token may not read…)
    mean fields came back null, so they are raised here: never taken for empty data.
    """

    default: DefaultErrorMapper = attrs.field(factory=lambda: DefaultErrorMapper(graphql=True))

    def __call__(
        self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
    ) -> APIError | None:
        """Return the exception for ``response``, or ``None`` for a clean answer."""
        error = self.default(response, body, platform=platform, redactor=redactor)
        if error is not None or response.status_code >= 300:
            return error
        if not isinstance(body, Mapping) or not body.get("errors"):
            return None
        errors = body["errors"]
        codes = [get_path(e, "extensions.code") for e in errors] if isinstance(errors, list) else []
        code, message = extract_error_details(body)
        cls = PermissionDeniedError if "ACCESS_DENIED" in codes else ClientRequestError
        return cls(
            redactor.text(f"GraphQL errors with partial data: {message or 'unspecified'}"),
            platform=platform,
            status_code=response.status_code,
            request_id=self.default.request_id(response.headers),
            method=response.request.method,
            url=redactor.url(str(response.request.url)),
            body_excerpt=self.default.excerpt(response, redactor),
            code=redactor.text(code) if code else None,
        )


class ShopifyConnector(BaseConnector):
    """Reads one Shopify shop (customers, orders, products, abandoned checkouts).

    Args:
        shop: the shop's ``*.myshopify.com`` domain (``https://`` and paths are
            stripped). Anything else is refused unless ``base_url`` is given, so the
            token is never sent to an arbitrary host.
        access_token: the Admin API access token (``X-Shopify-Access-Token``; never
            logged, never in a repr or an exception).
        api_version: a dated Admin API version (default :data:`~.constants.API_VERSION`).
        base_url: where requests go instead of ``https://<shop>``: a simulator, a proxy.
            ``/admin/api/<version>`` is appended unless already there.
        client: an :class:`httpx.Client` you own (never closed by the connector).
        transport: an httpx transport for the client the connector creates.
        clock: where waits happen and "now" is read (a FakeClock in tests).
        options: money and phone choices for the parsers.
        require_all_orders: raise :class:`PermissionDeniedError` instead of logging a
            warning when orders older than 60 days are asked for and the app lacks
            ``read_all_orders``.
        retry: the retry policy (default :class:`RetryPolicy()`).
        stats: HTTP counters to update (default: a new :class:`HttpStats`).
        on_event: called with each HTTP event (redacted).
        page_sizes: first ``first`` per stream name, before the cost figures tune it.
        on_invalid: receives each record that cannot be parsed.
        bulk: read histories and large incremental windows through bulk operations:
            ``True`` (the default) for the default :class:`~.bulk.BulkOptions`, one of
            your own to choose the thresholds, the journal that lets a new process
            re-attach to a running operation (:class:`~.bulk.FileBulkJournal`; the
            default journal lives in memory), the polling; ``False`` or ``None`` pages
            everything (paged reads spend the cost budget: about 41 points per order).

    Raises:
        ConfigurationError: a shop that is not a ``*.myshopify.com`` domain (without
            ``base_url``), an empty token, a malformed API version.

    Example:
        >>> ShopifyConnector(shop="https://Acme.myshopify.com/", access_token="shpat_x")
        ShopifyConnector(connection_id='shopify:acme.myshopify.com')
        >>> ShopifyConnector(shop="evil.example.com", access_token="shpat_x")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: shop must be a *.myshopify.com domain ...
    """

    platform = Platform.SHOPIFY
    streams = frozenset(_QUERIES)
    unsupported: ClassVar[Mapping[Stream, str]] = {}
    default_overlap = c.DEFAULT_OVERLAP

    def __init__(
        self,
        *,
        shop: str,
        access_token: str,
        api_version: str = c.API_VERSION,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        options: ParseOptions = DEFAULT_OPTIONS,
        require_all_orders: bool = False,
        retry: RetryPolicy | None = None,
        stats: HttpStats | None = None,
        on_event: EventCallback | None = None,
        page_sizes: Mapping[str, int] | None = None,
        on_invalid: InvalidRecordHandler | None = None,
        bulk: _bulk.BulkOptions | bool | None = True,
    ) -> None:
        domain = normalize_shop_domain(shop) if isinstance(shop, str) else ""
        if base_url is None and not c.SHOP_DOMAIN_PATTERN.fullmatch(domain):
            raise ConfigurationError(
                f"shop must be a *.myshopify.com domain (got {shop!r}); the access token is "
                "only sent to the shop's own domain unless you pass base_url= explicitly"
            )
        if not domain:
            raise ConfigurationError("shop must name the shop (its *.myshopify.com domain)")
        if not isinstance(access_token, str) or not access_token.strip():
            raise ConfigurationError("ShopifyConnector needs an access_token")
        if not c.API_VERSION_PATTERN.fullmatch(api_version):
            raise ConfigurationError(
                f"api_version must be a dated version such as {c.API_VERSION!r}, "
                f"got {api_version!r}"
            )
        super().__init__(on_invalid=on_invalid)
        self.shop = domain
        self.api_version = api_version
        self.options = options
        self.require_all_orders = require_all_orders
        self.clock: Clock = clock if clock is not None else SystemClock()
        root = (base_url or f"https://{domain}").rstrip("/")
        if "/admin/api/" not in root:
            root = f"{root}/admin/api/{api_version}"
        self.limiter = GraphQLCostLimiter(clock=self.clock)
        self.engine = HttpEngine(
            platform=PLATFORM_NAME,
            base_url=root,
            auth=HeaderTokenAuth.shopify(access_token),
            client=client,
            transport=transport,
            clock=self.clock,
            retry=retry,
            rate_limiter=self.limiter,
            error_mapper=ShopifyErrorMapper(),
            stats=stats,
            on_event=on_event,
        )
        self.page_sizes: dict[Stream, int] = {
            stream: min(c.MAX_PAGE_SIZE, (page_sizes or c.INITIAL_PAGE_SIZES)[stream.value])
            for stream in _QUERIES
        }
        #: How bulk reads are done (``None``: every read pages).
        self.bulk: _bulk.BulkOptions | None = (
            _bulk.BulkOptions() if bulk is True else bulk if isinstance(bulk, _bulk.BulkOptions)
            else None
        )  # fmt: skip
        #: What the bulk reads did (operations started, re-attached, polls, bytes …).
        self.bulk_stats = _bulk.BulkStats()
        #: Problems worth telling the user that did not stop the sync (missing scopes…).
        self.warnings: list[str] = []
        self._shop_info: ShopInfo | None = None

    @property
    def connection_id(self) -> str:
        """``shopify:<domain>``: one connection per shop."""
        return connection_id_for(self.shop)

    @property
    def stats(self) -> HttpStats:
        """The HTTP counters of this connector's engine."""
        return self.engine.stats

    def close(self) -> None:
        """Close the HTTP client if the connector created it."""
        self.engine.close()
        super().close()

    # -- shop facts -------------------------------------------------------------------------

    def shop_info(self) -> ShopInfo:
        """The shop's name, currency, domain and the app's scopes (fetched once)."""
        if self._shop_info is None:
            body = self._query(SHOP_QUERY, {}).body
            scopes = get_path(body, "data.currentAppInstallation.accessScopes") or []
            self._shop_info = ShopInfo(
                name=get_path(body, "data.shop.name"),
                currency=get_path(body, "data.shop.currencyCode"),
                domain=get_path(body, "data.shop.myshopifyDomain"),
                scopes=frozenset(
                    s["handle"] for s in scopes if isinstance(s, dict) and "handle" in s
                ),
            )
        return self._shop_info

    def _check_order_scope(self, since: _dt.datetime | None) -> None:
        # Incremental reads are checked too: an order placed before the 60-day window
        # and refunded or cancelled since is just as invisible without the scope.
        horizon = self.clock.now() - c.RECENT_ORDERS_WINDOW
        info = self.shop_info()
        if c.READ_ALL_ORDERS_SCOPE in info.scopes:
            return
        message = (
            f"{self.shop}: the app lacks the {c.READ_ALL_ORDERS_SCOPE} scope, so Shopify only "
            f"returns orders of the last 60 days; orders placed before "
            f"{horizon.date().isoformat()} will be missing, and so will later changes to "
            f"them (refunds, cancellations). Request {c.READ_ALL_ORDERS_SCOPE} "
            "(granted by Shopify on request) and reinstall the app."
        )
        if self.require_all_orders and (since is None or since < horizon):
            raise PermissionDeniedError(message, platform=PLATFORM_NAME, code="MISSING_SCOPE")
        if message not in self.warnings:
            self.warnings.append(message)
            logger.warning("%s", message)

    # -- webhooks (RealtimeConnector) -------------------------------------------------------

    def ensure_webhooks(
        self, callback_url: str, topics: Sequence[str] | None = None
    ) -> list[WebhookSubscription]:
        """Subscribe ``callback_url`` to ``topics`` (default :data:`~.webhooks.DEFAULT_TOPICS`).

        Idempotent: a topic already delivered to that exact URL is not subscribed
        again. Topics may be written as deliveries name them (``orders/create``) or
        as the API's enum (``ORDERS_CREATE``). Shopify delivers only to HTTPS URLs
        and refuses the others (as it refuses an app without access to a topic's
        data): those refusals raise :class:`~commerce_connectors.errors.ClientRequestError`.

        Returns:
            Every subscription of ``callback_url`` after the call.

        Raises:
            ConfigurationError: an empty URL or topic, or a privacy topic
                (``customers/redact``, ``customers/data_request``, ``shop/redact``),
                which only the app's configuration can subscribe.
            ClientRequestError: Shopify refused a subscription (``userErrors``).

        Example:
            >>> from commerce_connectors.clock import FakeClock
            >>> from commerce_connectors.testing.simulators.shopify import ShopifySimulator
            >>> clock = FakeClock()
            >>> sim = ShopifySimulator(customers=1, orders=1, products=1, checkouts=1, clock=clock)
            >>> conn = ShopifyConnector(shop=sim.shop, access_token=sim.token,
            ...                         transport=sim.transport(), clock=clock)
            >>> subs = conn.ensure_webhooks("https://hooks.example.com/shopify",
            ...                             ["orders/create", "app/uninstalled"])
            >>> sorted(s.topic for s in subs)
            ['app/uninstalled', 'orders/create']
            >>> len(conn.ensure_webhooks("https://hooks.example.com/shopify",
            ...                          ["orders/create", "app/uninstalled"]))
            2
            >>> conn.remove_webhooks("https://hooks.example.com/shopify")
            2
        """
        return _realtime.ensure_webhooks(self, callback_url, topics)

    def list_webhooks(self) -> list[WebhookSubscription]:
        """Every webhook subscription this app holds on the shop, oldest first."""
        return _realtime.list_webhooks(self)

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        """Delete the subscriptions to ``callback_url`` (every one of this app's when ``None``).

        Returns:
            How many were deleted.
        """
        return _realtime.remove_webhooks(self, callback_url)

    def owns_event(self, event: WebhookEvent) -> bool:
        """Whether ``event`` is about this connector's shop (its ``*.myshopify.com`` domain)."""
        return _realtime.owns_event(self, event)

    def records_for_event(self, event: WebhookEvent) -> list[SourceRecord]:
        """The current record an UPSERT or CONVERT event is about, read back by id.

        The record is read with the same selection and parser as the matching
        stream, so it equals what the next poll yields (a webhook body lacks the
        order lines' category, description and image, and may arrive late or out of
        order). Empty for other actions, another shop's event, or a record Shopify
        no longer returns; a converted checkout it no longer returns is read from
        the event's body. A record the parser refuses goes to :attr:`on_invalid`.

        Raises:
            APIError: the read failed (retriable ones were retried within budget).
        """
        return _realtime.records_for_event(self, event)

    # -- fetching ---------------------------------------------------------------------------

    def _fetch(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Fetched]:
        if stream is Stream.ORDERS:
            self._check_order_scope(since)
        parser = self._parser(stream)
        for node in self._select(stream, since):
            yield node, parser

    def _select(
        self, stream: Stream, since: _dt.datetime | None, *, catch_up: bool = True
    ) -> Iterator[Any]:
        """The nodes of ``stream`` since ``since``: by bulk operation or by pages.

        A historical read is a bulk read (when ``bulk`` is on); an incremental one is
        when a ``*Count`` query (1 point, limited to the threshold) finds at least the
        stream's threshold of records in the window.
        """
        if self.bulk is None:
            return self._nodes(stream, since)
        search = search_filter("updated_at", since) if since is not None else None
        threshold = self.bulk.threshold(stream)
        found = _bulk.count(self, stream, search, None if since is None else threshold)
        if since is not None and found < threshold:
            logger.debug("%s: %d %s since %s: paged", self.shop, found, stream.value, since)
            return self._nodes(stream, since)
        return _bulk.read_nodes(self, stream, since, expected=found, catch_up=catch_up)

    def cancel_bulk_operation(self, operation_id: str | None = None) -> _bulk.BulkOperation | None:
        """Ask Shopify to cancel a bulk operation (default: this app's current one, if running).

        A read waiting on it then raises :class:`~.bulk.BulkCanceledError`.

        Returns:
            The operation as the cancel answer reports it (usually ``CANCELING``), or
            ``None`` when no operation of this app is running.

        Raises:
            ClientRequestError: Shopify refused (the operation is not running).
        """
        if operation_id is None:
            found = _bulk.current(self)
            if found is None or not found.running:
                return None
            operation_id = found.id
        return _bulk.cancel(self, operation_id)

    def _parser(self, stream: Stream) -> Callable[[Any], Any]:
        shop, conn, options = self.shop, self.connection_id, self.options
        if stream is Stream.CUSTOMERS:
            return lambda n: parse_customer_node(n, shop=shop, connection_id=conn)
        if stream is Stream.PRODUCTS:
            currency = self.shop_info().currency
            return lambda n: parse_product_node(n, currency=currency, shop=shop, connection_id=conn)
        if stream is Stream.ORDERS:
            name = self.shop_info().name
            return lambda n: parse_order_node(
                n, shop=shop, store_name=name, connection_id=conn, options=options
            )
        # The shop's name, read once per connector (orders read the same query).
        name = self.shop_info().name
        return lambda n: parse_checkout_node(
            n, shop=shop, store_name=name, connection_id=conn, options=options
        )

    def _nodes(
        self, stream: Stream, since: _dt.datetime | None, *, extra: str | None = None
    ) -> Iterator[Any]:
        """Page through ``stream``; ``extra`` is one more search term (``id:>123``)."""
        field, query, sizes = _QUERIES[stream]
        terms = (search_filter("updated_at", since) if since is not None else None, extra)
        variables: dict[str, Any] = {
            "first": self.page_sizes[stream],
            "query": " ".join(t for t in terms if t) or None,
            **sizes,
        }
        request: Request | None = self._graphql_request(query, variables)
        paginator = GraphQLCursorPaginator(f"data.{field}.pageInfo")
        followed: set[str] = set()
        while request is not None:
            response, sent = self._send_fitting(stream, request)
            self.engine.stats.add(pages=1)
            # This page's own cost: the limiter's last figure may be a follow-up query's.
            requested = get_path(response.body, "extensions.cost.requestedQueryCost")
            nodes = get_path(response.body, f"data.{field}.nodes")
            if not isinstance(nodes, list):
                raise self._malformed(response, f"no list at data.{field}.nodes")
            for node in nodes:
                yield self._completed(node) if isinstance(node, dict) else node
            try:
                following = paginator.next_request(sent, response)
            except PageShapeError as exc:
                raise self._malformed(response, f"pagination: {exc}") from exc
            if following is not None:
                cursor = paginator.page_token(following)
                if cursor in followed:
                    raise PaginationLoopError(cursor, platform=PLATFORM_NAME)
                followed.add(cursor)
                following = self._resized(stream, following, requested)
            request = following

    def _graphql_request(self, query: str, variables: Mapping[str, Any]) -> Request:
        body = {"query": query, "variables": {k: v for k, v in variables.items() if v is not None}}
        # A query is a read: retrying it after a 5xx or a reset is safe.
        return Request("POST", c.GRAPHQL_PATH, json=body, idempotent=True)

    def _query(self, query: str, variables: Mapping[str, Any]) -> JsonResponse:
        return self.engine.send(self._graphql_request(query, variables))

    def _send_fitting(self, stream: Stream, request: Request) -> tuple[JsonResponse, Request]:
        """Send; if Shopify refuses the query as too costly, halve ``first`` and resend."""
        while True:
            try:
                return self.engine.send(request), request
            except ClientRequestError as exc:
                first = get_path(request.json, "variables.first")
                if exc.code != "MAX_COST_EXCEEDED" or not isinstance(first, int) or first <= 1:
                    raise
                smaller = max(1, first // 2)
                logger.info("%s: query over the cost cap at first=%d; %d", stream.value, first,
                            smaller)  # fmt: skip
                self.page_sizes[stream] = smaller
                request = request.with_json_field("variables.first", smaller)

    def _resized(self, stream: Stream, request: Request, requested: Any) -> Request:
        """The next page's request with ``first`` tuned to this page's requested cost.

        ``requested`` is the ``requestedQueryCost`` of the page just read: not the
        limiter's last figure, which a follow-up query for more lines may have set.
        """
        first = get_path(request.json, "variables.first")
        if (
            not isinstance(first, int)
            or isinstance(requested, bool)
            or not isinstance(requested, (int, float))
            or requested <= 0
        ):
            return request
        state = self.limiter.state()
        cap = min(float(c.MAX_QUERY_COST), state.maximum - self.limiter.safety_margin)
        # Cost grows linearly with first; aim a little under the cap because the
        # connection's own 2 points do not scale.
        tuned = max(1, min(c.MAX_PAGE_SIZE, math.floor(first * cap * 0.98 / requested)))
        self.page_sizes[stream] = tuned
        expected = requested * tuned / first
        if tuned == first:
            return attrs.evolve(request, cost=expected)
        return attrs.evolve(request.with_json_field("variables.first", tuned), cost=expected)

    def _completed(self, node: dict[str, Any]) -> dict[str, Any]:
        """Fetch the lines and variants past their first page, so no record loses one."""
        # One document per owner type: the published schema refuses order and checkout
        # line fields side by side (their ``title`` types differ).
        checkout = str(node.get("id", "")).startswith(f"{c.GID_PREFIX}AbandonedCheckout/")
        lines = _realtime.CHECKOUT_LINES_QUERY if checkout else _realtime.ORDER_LINES_QUERY
        node = self._complete(node, "lineItems", lines, _MORE_LINES_PAGE)
        return self._complete(node, "variants", VARIANTS_QUERY, _MORE_VARIANTS_PAGE)

    def _complete(self, node: dict[str, Any], field: str, query: str, page: int) -> dict[str, Any]:
        page_info = get_path(node, f"{field}.pageInfo")
        if not isinstance(page_info, dict) or not page_info.get("hasNextPage"):
            return node
        items = list(get_path(node, f"{field}.nodes") or [])
        cursor = page_info.get("endCursor")
        seen: set[str] = set()
        while cursor is not None:
            if not isinstance(cursor, str) or not cursor:
                raise MalformedResponseError(
                    f"{field} of {node.get('id')} has a next page but no endCursor",
                    platform=PLATFORM_NAME,
                )
            if cursor in seen:
                raise PaginationLoopError(cursor, platform=PLATFORM_NAME)
            seen.add(cursor)
            variables = {"id": node.get("id"), "first": page, "after": cursor}
            response = self._query(query, variables)
            more = get_path(response.body, f"data.node.{field}")
            if not isinstance(more, dict) or not isinstance(more.get("nodes"), list):
                raise self._malformed(response, f"no list at data.node.{field}.nodes")
            items.extend(more["nodes"])
            info = more.get("pageInfo") or {}
            cursor = info.get("endCursor") if info.get("hasNextPage") else None
        return {**node, field: {"pageInfo": {"hasNextPage": False}, "nodes": items}}

    def _malformed(self, response: JsonResponse, why: str) -> MalformedResponseError:
        return MalformedResponseError(
            why,
            platform=PLATFORM_NAME,
            status_code=response.status_code,
            request_id=DefaultErrorMapper().request_id(response.headers),
            method="POST",
            url=self.engine.redactor.url(self.engine.url_for(c.GRAPHQL_PATH)),
        )
