"""The BigCommerce connector: v2 orders, v3 customers and catalog, v3 carts by id.

One :class:`BigCommerceConnector` reads one store. It talks to the store
through one :class:`~commerce_connectors._http.HttpEngine` (thread-safe) and
one :class:`~commerce_connectors._http.WindowQuotaLimiter` shared by every
stream and worker thread, so the store's window quota (150 or 450 requests per
30 s, shared by every app) is respected whatever runs at once.

Orders are listed with their consignments (``include=consignments.line_items``), which
carry each order's line items and shipping addresses inside the list page; the few
sub-requests left (coupons, and lines or addresses a page cannot answer for) run on a
small thread pool, inside the same quota. The pool only hides network latency; the
limiter decides how fast requests go.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import datetime as _dt
import functools
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, NamedTuple, TypeVar

import httpx

from ..._http import (
    DEFAULT_USER_AGENT,
    DefaultErrorMapper,
    HeaderTokenAuth,
    HttpEngine,
    HttpStats,
    PageNumberPaginator,
    Request,
    RetryPolicy,
    WindowQuotaLimiter,
)
from ..._http import constants as _hc
from ..._http.redaction import Redactor
from ..._http.stats import EventCallback
from ..._parsing import parse_datetime
from ...clock import Clock
from ...errors import (
    APIError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
)
from ...models import Cart, Order, Platform
from ...protocols import InvalidRecordHandler, Stream
from ..base import BaseConnector, Fetched
from . import constants as c
from ._realtime import BigCommerceRealtime
from ._retry import BigCommerceRetryPolicy
from ._subscribers import ConsentLookup, Page, subscriber_key
from .parsers import (
    consignment_lines,
    consignment_shipping,
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)

__all__ = ["BigCommerceConnector", "BigCommerceErrorMapper"]

_T = TypeVar("_T")

_UNSUPPORTED_CARTS = (
    "BigCommerce has no endpoint that lists carts or abandoned carts. Subscribe to the "
    "store/cart/abandoned webhook and fetch each cart with "
    "BigCommerceConnector.get_cart(cart_id) (GET /v3/carts/{id})"
)

_SCOPE_HINTS = {
    "orders": "Orders (store_v2_orders_read_only)",
    "customers": "Customers (store_v2_customers_read_only)",
    "catalog": "Products (store_v2_products_read_only)",
    "carts": "Carts (store_cart_read_only)",
    "store": "Information & Settings (store_v2_information_read_only)",
}


class BigCommerceErrorMapper:
    """Maps BigCommerce error responses, adding what to do to 401 and 403 messages.

    Both v2 (``[{"status", "message"}]``) and v3 (``{"status", "title", "type",
    "errors"}``) bodies are read by the default mapper; this wrapper only says which
    credential or scope to check, since BigCommerce's own messages are terse.

    Example:
        >>> mapper = BigCommerceErrorMapper()
        >>> request = httpx.Request("GET", "https://api.bigcommerce.com/stores/abc/v3/customers")
        >>> response = httpx.Response(403, json={"code": 403, "message": "Missing scope"},
        ...                           request=request)
        >>> error = mapper(response, response.json(), platform="bigcommerce",
        ...                redactor=Redactor())
        >>> type(error).__name__, error.message
        ('PermissionDeniedError', 'Missing scope (the API account needs the read scope Customers (store_v2_customers_read_only))')
    """  # noqa: E501

    def __init__(self, default: DefaultErrorMapper | None = None) -> None:
        self.default = default if default is not None else DefaultErrorMapper()

    def __call__(
        self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
    ) -> APIError | None:
        """Return the exception for ``response``, or ``None`` for a success."""
        error = self.default(response, body, platform=platform, redactor=redactor)
        if error is None:
            return None
        if error.status_code == 401:
            error.message += " (check the store hash and the API account's access token)"
        elif isinstance(error, NotFoundError) and _no_such_store(response, error.message):
            # A store hash no store has answers 404 on every path: say so, rather than
            # let a caller read it as a missing record or a missing scope.
            error.code = STORE_NOT_FOUND
            error.message += (
                " (no store has this store hash: check it, and the base URL if one is set)"
            )
        elif isinstance(error, PermissionDeniedError):
            path = response.request.url.path
            scope = next((s for key, s in _SCOPE_HINTS.items() if f"/{key}" in path), None)
            if scope:
                error.message += f" (the API account needs the read scope {scope})"
        return error


#: The ``code`` of the :class:`NotFoundError` raised when no store has the store hash.
STORE_NOT_FOUND = "STORE_NOT_FOUND"


def _no_such_store(response: httpx.Response, message: str) -> bool:
    """A 404 about the store itself: on its profile, or saying the store does not exist."""
    if response.request.url.path.rstrip("/").endswith(f"/{c.V2}/store"):
        return True
    text = message.lower()
    return "store" in text and ("not exist" in text or "not found" in text)


def _default_retry() -> RetryPolicy:
    # Transient failures (502/503/504, timeouts, a first 500) are retried within seconds;
    # a 500 that repeats waits at least a minute, increasing, as BigCommerce asks ("three
    # to five times, with increasing delays of at least a minute"). 429s keep their own
    # path: the window's reset time, or a short progressive backoff. See _retry.py.
    return BigCommerceRetryPolicy()


def _floor_seconds(value: _dt.datetime) -> _dt.datetime:
    # Platform filters have second granularity; flooring keeps the filter inclusive.
    return value.astimezone(_dt.timezone.utc).replace(microsecond=0)


def _v2_date(value: _dt.datetime) -> str:
    # v2 accepts RFC 2822 or ISO 8601; ISO with an explicit offset is unambiguous.
    return _floor_seconds(value).isoformat()


def _v3_date(value: _dt.datetime) -> str:
    earlier = value - _dt.timedelta(hours=c.V3_DATE_FILTER_MARGIN_HOURS)
    return _floor_seconds(earlier).replace(tzinfo=None).isoformat()


def _newest(records: Sequence[Any]) -> str | None:
    """The latest ``date_modified`` of a page, as the API wrote it."""
    best: tuple[_dt.datetime, str] | None = None
    for record in records:
        raw = record.get("date_modified") if isinstance(record, Mapping) else None
        try:
            when = parse_datetime(raw)
        except ValueError:
            continue
        if best is None or when > best[0]:
            best = (when, str(raw))
    return None if best is None else best[1]


def _same_second(a: str, b: str) -> bool:
    try:
        return parse_datetime(a) == parse_datetime(b)
    except ValueError:
        return False


def _is_zero(value: Any) -> bool:
    try:
        return Decimal(str(value)) == 0
    except (InvalidOperation, ValueError):
        return False


def _email(record: Any) -> Any:
    return record.get("email") if isinstance(record, Mapping) else None


def _count(value: Any) -> Decimal | None:
    """A count the API wrote as a JSON number (or a numeric string); ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _embedded_lines(order: Mapping[str, Any]) -> list[Any] | None:
    """The order's line items from its consignments, when they are all there.

    "All there" is checked, not assumed: the lines' quantities must add up to the order's
    ``items_total`` ("the total number of items in the order"). Anything else (no
    consignments, links instead of lines, a quantity that is not an integer, another
    total) sends the order to ``/orders/{id}/products``, which is always complete.
    """
    found = consignment_lines(order)
    if found is None:
        return None
    lines = [line for _, line in found]
    quantities = [line.get("quantity") for line in lines]
    if any(isinstance(q, bool) or not isinstance(q, int) for q in quantities):
        return None
    total = _count(order.get("items_total"))
    return lines if total is not None and total == sum(quantities) else None


def _embedded_shipping(order: Mapping[str, Any]) -> bool:
    """Whether the order's shipping consignments are all its shipping addresses
    (as many as its ``shipping_address_count``)."""
    found = consignment_shipping(order)
    count = _count(order.get("shipping_address_count"))
    return found is not None and count is not None and count == len(found)


class _OrderJob(NamedTuple):
    """One order of a page and what its parser will get."""

    order: Any
    products: cf.Future[list[Any]]
    shipping: cf.Future[list[Any]]
    coupons: cf.Future[list[Any]]
    lines_inside: bool = False  # the lines are the order's consignments' (complete)
    shipping_inside: bool = False  # so are the shipping addresses


def _resolved(value: _T) -> cf.Future[_T]:
    future: cf.Future[_T] = cf.Future()
    future.set_result(value)
    return future


class BigCommerceConnector(BigCommerceRealtime, BaseConnector):
    """Reads one BigCommerce store: orders (v2), customers and products (v3), carts by id.

    Streams:

    * **orders** of every status, sorted by ``date_modified`` ascending, with
      ``min_date_modified`` for incremental syncs, each with its line items and
      shipping method from its consignments (``include=consignments.line_items``, in the
      list page) and its coupon codes (``/orders/{id}/coupons``, only for orders with a
      coupon discount; sub-requests run concurrently). Status 0
      ("Incomplete": checkout never completed) is skipped unless
      ``include_incomplete=True``; archived (``is_deleted``) orders are yielded with
      ``extra["is_deleted"] = True`` unless ``include_archived=False``. Skips are
      counted in :attr:`skipped`.
    * **customers** from ``/v3/customers?include=addresses``, each with its newsletter
      consent from ``/v3/customers/subscribers`` (matched by e-mail address; see
      ``read_subscribers``). Incremental passes also yield the customers whose
      subscription changed since ``since`` although their profile did not.
    * **products** from ``/v3/catalog/products?include=variants,images``, category
      names resolved from the category trees (``/v3/catalog/trees/categories``: every
      storefront's tree, where the deprecated ``/v3/catalog/categories`` only knows the
      default storefront's).
    * **abandoned carts**: BigCommerce cannot list them;
      :meth:`iter_abandoned_carts` raises
      :class:`~commerce_connectors.errors.UnsupportedStreamError`. Use :meth:`get_cart`
      from the ``store/cart/abandoned`` webhook.

    **Webhooks**: :meth:`ensure_webhooks`, :meth:`list_webhooks` and
    :meth:`remove_webhooks` manage the app's hooks (``/v3/hooks``); :meth:`owns_event`
    and :meth:`records_for_event` resolve a parsed event to the current records,
    fetched as the streams fetch them.

    Page-number pagination can skip a record when another one is modified while paging
    (it jumps to the end and the rest shift back). The orders walk seeks on
    ``date_modified`` instead of counting pages, and v3 walks use orders that edits do
    not change (``date_created``, ``id``); the base class drops repeats within a pass,
    and :attr:`recommended_overlap` re-reads the last minutes on incremental syncs.

    Args:
        store_hash: the store's permanent id (``id30h7ohwf`` in
            ``store-id30h7ohwf.mybigcommerce.com``).
        access_token: the API account's token (sent as ``X-Auth-Token``; never logged).
        base_url: the API root to use instead of
            ``https://api.bigcommerce.com/stores/{store_hash}`` (a simulator or proxy);
            ``/v2/...`` and ``/v3/...`` are appended to it.
        client: an :class:`httpx.Client` you own (never closed by the connector).
        transport: an httpx transport for the client the connector creates.
        clock: where waits happen (a fake clock in tests).
        quota: requests per 30 s window assumed until the first response tells
            (Standard/Plus 150, Pro 450).
        safety_margin: requests left unused in each window for the store's other apps.
        concurrency: worker threads for per-order sub-requests (1: none, all inline).
        embed_order_lines: list orders with their consignments
            (``include=consignments.line_items&consignment_structure=object``), which
            carry the line items and shipping addresses: about one request per page of
            orders instead of two per order. ``False`` fetches ``/orders/{id}/products``
            and ``/shipping_addresses`` for every order, as before; both give the same
            orders (except pickups: see ``docs/platforms/bigcommerce.md``). Lines or
            addresses a page does not fully answer for are fetched either way.
        page_size: records per page (at most 250).
        include_incomplete: also yield status 0 "Incomplete" orders (asked for
            explicitly with ``status_id=0``, since the default listing may omit them).
        include_archived: yield archived (``is_deleted``) orders.
        resolve_line_categories: look up each ordered product's category names and
            image in the catalog (about one request per page of orders).
        read_subscribers: read each customer's newsletter consent from the Subscribers
            API (same Customers read scope). A pass reads the whole subscriber list
            (one request per ``page_size`` subscribers) or, when that would cost more,
            looks up each customer's address (one request each) plus the subscribers
            modified since ``since``. ``False`` leaves every customer's consent unknown.
        currency: the store's currency for catalog prices; ``None`` reads it once from
            ``/v2/store``.
        retry: the retry policy (default: a
            :class:`~commerce_connectors.platforms.bigcommerce.BigCommerceRetryPolicy`:
            BigCommerce's wait headers, transient failures retried within seconds, a
            repeated 500 retried at least a minute apart as BigCommerce asks).
        stats: HTTP counters to update (default: a new :class:`HttpStats`).
        on_event: receives each HTTP event (URLs redacted).
        user_agent: the ``User-Agent`` header; BigCommerce asks integrations to
            identify themselves.
        on_invalid: receives each record that cannot be parsed.

    Raises:
        ConfigurationError: a malformed store hash, an empty token, a bad page size.

    Example:
        >>> conn = BigCommerceConnector(store_hash="abc123", access_token="tok-secret-0123")
        >>> conn.connection_id, conn.engine.base_url
        ('bigcommerce:abc123', 'https://api.bigcommerce.com/stores/abc123')
        >>> conn.iter_abandoned_carts()
        Traceback (most recent call last):
        ...
        UnsupportedStreamError: bigcommerce has no abandoned_carts stream: ...
        >>> conn.close()
    """

    platform: ClassVar[Platform] = Platform.BIGCOMMERCE
    streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CUSTOMERS, Stream.ORDERS, Stream.PRODUCTS}
    )
    unsupported: ClassVar[Mapping[Stream, str]] = {Stream.ABANDONED_CARTS: _UNSUPPORTED_CARTS}
    default_overlap: ClassVar[_dt.timedelta] = _dt.timedelta(minutes=c.DEFAULT_OVERLAP_MINUTES)
    #: The walks here drop their own repeats (the orders walk its boundary second; v3
    #: walks page in an order edits cannot change), so the base class's repeat filter is
    #: a safety net only; a short one keeps a long read's memory flat.
    dedup_window: ClassVar[int] = c.DEDUP_WINDOW

    def __init__(
        self,
        *,
        store_hash: str,
        access_token: str,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        quota: int = _hc.BIGCOMMERCE_QUOTA,
        safety_margin: int = 2,
        concurrency: int = c.DEFAULT_CONCURRENCY,
        embed_order_lines: bool = True,
        page_size: int = c.MAX_PAGE_SIZE,
        include_incomplete: bool = False,
        include_archived: bool = True,
        resolve_line_categories: bool = True,
        read_subscribers: bool = True,
        currency: str | None = None,
        retry: RetryPolicy | None = None,
        stats: HttpStats | None = None,
        on_event: EventCallback | None = None,
        user_agent: str | None = None,
        on_invalid: InvalidRecordHandler | None = None,
    ) -> None:
        if not isinstance(store_hash, str) or not c.STORE_HASH_PATTERN.fullmatch(store_hash):
            raise ConfigurationError(
                f"store_hash must be the store's alphanumeric id (e.g. 'id30h7ohwf' from "
                f"store-id30h7ohwf.mybigcommerce.com), got {store_hash!r}"
            )
        if not 1 <= page_size <= c.MAX_PAGE_SIZE:
            raise ConfigurationError(f"page_size must be within 1..{c.MAX_PAGE_SIZE}")
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        super().__init__(on_invalid=on_invalid)
        self.store_hash = store_hash
        self.page_size = page_size
        self.concurrency = concurrency
        self.embed_order_lines = embed_order_lines
        self.include_incomplete = include_incomplete
        self.include_archived = include_archived
        self.resolve_line_categories = resolve_line_categories
        self.read_subscribers = read_subscribers
        self.currency = currency
        #: Orders not yielded, by reason (``"incomplete"``, ``"archived"``).
        self.skipped: collections.Counter[str] = collections.Counter()
        self.limiter = WindowQuotaLimiter.bigcommerce(
            quota=quota, safety_margin=safety_margin, clock=clock
        )
        self.engine = HttpEngine(
            platform=c.PLATFORM_NAME,
            base_url=base_url or c.API_ROOT.format(store_hash=store_hash),
            auth=HeaderTokenAuth.bigcommerce(access_token),
            client=client,
            transport=transport,
            clock=clock,
            retry=retry if retry is not None else _default_retry(),
            rate_limiter=self.limiter,
            error_mapper=BigCommerceErrorMapper(),
            user_agent=user_agent or f"{DEFAULT_USER_AGENT} {c.USER_AGENT}",
            headers={"Content-Type": "application/json"},
            stats=stats,
            on_event=on_event,
        )
        self._pool: cf.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._store: Mapping[str, Any] | None = None
        self._line_catalog: dict[str, tuple[str | None, str | None]] = {}
        self._category_cache: dict[str, str] | None = None

    # -- identity and lifecycle ---------------------------------------------------------

    @property
    def connection_id(self) -> str:
        """``bigcommerce:<store_hash>``."""
        return f"{c.CONNECTION_PREFIX}:{self.store_hash}"

    @property
    def stats(self) -> HttpStats:
        """The HTTP counters (requests, retries, 429s, waits) of this connector."""
        return self.engine.stats

    def close(self) -> None:
        """Stop the worker threads and close the HTTP client if the connector created it."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.engine.close()
        super().close()

    # -- single records (webhook path) --------------------------------------------------

    def get_cart(self, cart_id: str) -> Cart | None:
        """Fetch one cart by id (``GET /v3/carts/{id}``); ``None`` if it no longer exists.

        This is how abandoned carts are read on BigCommerce: the ``store/cart/abandoned``
        webhook carries the cart id. A converted cart is deleted, hence ``None``.

        The cart's ``store_name`` is the store profile's name once the connector has read
        that profile (``GET /v2/store``, read once: by the orders stream, products, or a
        webhook event through :meth:`records_for_event`); this call sends no request of
        its own for it.

        Raises:
            InvalidRecordError: the cart cannot be parsed.
        """
        try:
            response = self.engine.get(
                f"{c.V3}/carts/{cart_id}", params={"include": "line_items.physical_items.options"}
            )
        except NotFoundError:
            return None
        data = response.body.get("data") if isinstance(response.body, Mapping) else None
        return parse_cart(
            data, store_name=self._store_name(read=False), connection_id=self.connection_id
        )

    def get_order(self, order_id: int | str) -> Order | None:
        """Fetch one order (``GET /v2/orders/{id}``, with its consignments); ``None`` if absent.

        Raises:
            InvalidRecordError: the order cannot be parsed.
        """
        try:
            response = self.engine.get(f"{c.V2}/orders/{order_id}", params=self._order_params())
        except NotFoundError:
            return None
        payload, parser = next(iter(self._order_page([response.body], keep_all=True)))
        order = parser(payload)
        assert isinstance(order, Order)
        return order

    def store_info(self) -> Mapping[str, Any]:
        """The store's profile (``GET /v2/store``: name, currency, secure_url…), read once.

        Empty when the API account lacks the Information & Settings scope.
        """
        if self._store is None:
            try:
                body = self.engine.get(f"{c.V2}/store").body
            except PermissionDeniedError:
                body = {}
            except NotFoundError as exc:
                if exc.code == STORE_NOT_FOUND:
                    raise
                body = {}
            self._store = body if isinstance(body, Mapping) else {}
        return self._store

    def _store_name(self, *, read: bool = True) -> str | None:
        """The store's name from its profile (read first when ``read``; else only if known)."""
        info = self.store_info() if read else (self._store or {})
        name = info.get("name")
        return name if isinstance(name, str) and name.strip() else None

    # -- streams -------------------------------------------------------------------------

    def _fetch(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Fetched]:
        if stream is Stream.ORDERS:
            return self._orders(since)
        if stream is Stream.CUSTOMERS:
            return self._customers(since)
        return self._products(since)

    def _walk(self, path: str, params: Mapping[str, Any], *, v3: bool) -> Iterator[list[Any]]:
        """Yield the record list of every page of a listing."""
        for records, _ in self._pages(path, params, v3=v3):
            yield records

    def _pages(
        self, path: str, params: Mapping[str, Any], *, v3: bool
    ) -> Generator[Page, None, None]:
        """Yield each page's records with its ``meta.pagination`` (v2: an empty mapping)."""
        paginator = (
            PageNumberPaginator.bigcommerce_v3() if v3 else PageNumberPaginator.bigcommerce_v2()
        )
        for page in self.engine.paginate(Request("GET", path, params=params), paginator):
            body = page.body
            records = body.get("data") if v3 and isinstance(body, Mapping) else body
            if records is None and not v3:
                return  # v2: 204 No Content past the last page
            if not isinstance(records, list):
                raise MalformedResponseError(
                    f"{path}: expected a list of records, got {type(records).__name__}",
                    platform=c.PLATFORM_NAME,
                    status_code=page.status_code,
                    method="GET",
                    url=self.engine.redactor.url(self.engine.url_for(path)),
                )
            meta = body.get("meta") if v3 and isinstance(body, Mapping) else None
            pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
            yield records, pagination if isinstance(pagination, Mapping) else {}

    def _customers(self, since: _dt.datetime | None) -> Iterator[Fetched]:
        params: dict[str, Any] = {
            "include": "addresses",
            # date_created never changes, so a customer edited while we page keeps its
            # place and nobody is skipped (date_modified order would move it to the end).
            "sort": "date_created:asc",
            "limit": self.page_size,
        }
        if since is not None:
            params["date_modified:min"] = _v3_date(since)
        parser = functools.partial(parse_customer, connection_id=self.connection_id)
        path = f"{c.V3}/customers"
        if not self.read_subscribers:
            for records in self._walk(path, params, v3=True):
                for record in records:
                    yield record, parser
            return
        consent = self._consent_lookup(since)
        walked: set[Any] = set()  # customer ids yielded by the walk (incremental only)
        walked_keys: set[str] = set()
        for records, pagination in self._pages(path, params, v3=True):
            total = pagination.get("total")
            consent.prepare(total if isinstance(total, int) else None)
            found = consent.for_emails(_email(record) for record in records)
            for record in records:
                key = subscriber_key(_email(record))
                if since is not None:
                    walked.add(record.get("id") if isinstance(record, Mapping) else None)
                    if key is not None:
                        walked_keys.add(key)
                yield record, functools.partial(parser, subscriber=found.get(key or ""))
        if since is not None:
            yield from self._consent_changes(consent, since, parser, walked, walked_keys)

    def _consent_lookup(self, since: _dt.datetime | None) -> ConsentLookup:
        path = f"{c.V3}/{c.SUBSCRIBERS_PATH}"

        def listing(params: Mapping[str, Any]) -> Generator[Page, None, None]:
            return self._pages(path, params, v3=True)

        def by_email(email: str) -> list[Any]:
            return next(self._walk(path, {"email": email}, v3=True), [])

        return ConsentLookup(
            listing=listing,
            by_email=by_email,
            page_size=self.page_size,
            since=since,
            since_param=_v3_date(since) if since is not None else None,
        )

    def _consent_changes(
        self,
        consent: ConsentLookup,
        since: _dt.datetime,
        parser: Callable[..., Any],
        walked: set[Any],
        walked_keys: set[str],
    ) -> Iterator[Fetched]:
        """The customers whose subscription changed since ``since`` but who were not walked.

        Subscribers are a resource of their own: nothing in the reference says that a
        subscription change moves the customer's ``date_modified``, so the incremental
        walk may not see it. The registered customers among those subscribers are
        fetched by address (``email:in``, in batches); the rest are guests or newsletter
        sign-ups without an account, which are not customers.
        """
        emails = [
            email
            for record in consent.changed_since(since)
            if isinstance(email := record.get("email"), str)
            and subscriber_key(email) not in walked_keys
            and "," not in email  # cannot be written in a comma-separated filter
        ]
        path = f"{c.V3}/customers"
        for start in range(0, len(emails), c.EMAIL_IN_BATCH):
            params = {
                "email:in": ",".join(e.strip() for e in emails[start : start + c.EMAIL_IN_BATCH]),
                "include": "addresses",
                "limit": self.page_size,
            }
            for records in self._walk(path, params, v3=True):
                for record in records:
                    customer_id = record.get("id") if isinstance(record, Mapping) else None
                    if customer_id is not None and customer_id in walked:
                        continue
                    walked.add(customer_id)
                    yield record, functools.partial(parser, subscriber=consent.get(_email(record)))

    def _categories(self) -> dict[str, str]:
        """Category id → name, over every category tree (every storefront) of the store.

        ``GET /v3/catalog/trees/categories`` without a ``tree_id:in`` filter lists the
        categories of all trees; ids are unique in the store, and a product's
        ``categories`` may name any of them. The deprecated ``/v3/catalog/categories``
        only knows the default storefront's tree, so a multi-storefront store's other
        categories would have no name.
        """
        names: dict[str, str] = {}
        params = {"include_fields": "category_id,name", "limit": c.MAX_PAGE_SIZE}
        for records in self._walk(f"{c.V3}/{c.TREE_CATEGORIES_PATH}", params, v3=True):
            for category in records:
                if isinstance(category, Mapping) and category.get("category_id") is not None:
                    names[str(category["category_id"])] = str(category.get("name") or "")
        return names

    def _store_currency(self) -> str:
        currency = self.currency or self.store_info().get("currency")
        if not isinstance(currency, str) or not currency:
            raise ConfigurationError(
                "the store's currency is unknown (reading it needs the API account's "
                "Information & Settings scope): give the store's currency code, e.g. USD "
                "(--currency on the command line, the connector's currency otherwise)"
            )
        return currency

    def _products(self, since: _dt.datetime | None) -> Iterator[Fetched]:
        currency = self._store_currency()
        store_url = self.store_info().get("secure_url")
        parser = functools.partial(
            parse_product,
            currency=currency,
            categories=self._categories(),
            store_url=store_url if isinstance(store_url, str) else None,
            connection_id=self.connection_id,
        )
        params: dict[str, Any] = {
            "include": "variants,images",
            # Ids never change: an edited product keeps its place while we page.
            "sort": "id",
            "direction": "asc",
            "limit": self.page_size,
        }
        if since is not None:
            params["date_modified:min"] = _v3_date(since)
        for records in self._walk(f"{c.V3}/catalog/products", params, v3=True):
            for record in records:
                yield record, parser

    # -- orders --------------------------------------------------------------------------

    def _orders(self, since: _dt.datetime | None) -> Iterator[Fetched]:
        # A new pass sees catalog changes; the store's name goes on every order.
        self._line_catalog.clear()
        self._category_cache = None
        self.store_info()
        cursor = _v2_date(since) if since is not None else None
        yield from self._seek_orders(cursor, {})
        if self.include_incomplete:
            # Whether the default listing includes status 0 is not documented: ask for it.
            yield from self._seek_orders(cursor, {"status_id": c.STATUS_INCOMPLETE})

    def _seek_orders(self, cursor: str | None, extra: Mapping[str, Any]) -> Iterator[Fetched]:
        """Walk ``/v2/orders`` by ``date_modified``, seeking instead of counting pages.

        Page numbers are offsets into a list that moves: an order modified while we page
        jumps to the end and every later order shifts back one place, so ``page=N+1``
        would skip one that was never modified (and no later sync would look for it).
        Instead each request asks for page 1 of the orders modified at or after the
        newest ``date_modified`` seen so far (sent back exactly as the API wrote it). The
        boundary second is served again and dropped here; a modified order is met again
        later with its new date. Only when a whole page shares one second does the walk
        step through page numbers within that second. The walk ends on a short page:
        with ``include``, shorter than the longest page served (or empty), so a store
        that serves fewer orders per page than asked costs one more request, never a
        missed order.
        """
        seen: dict[Any, Any] = {}  # order id -> date_modified already yielded in this walk
        page = 1
        # The page size the store really serves. Whether BigCommerce serves fewer orders
        # per page with `include` (as v3 products do with some includes) is not
        # documented: with it, the largest page seen is the page size, so a capped page
        # is not taken for the last (at worst one more request per walk).
        served = 0 if self.embed_order_lines else self.page_size
        while True:
            params: dict[str, Any] = {
                "sort": "date_modified:asc",
                "limit": self.page_size,
                "page": page,
                **self._order_params(),
                **extra,
            }
            if cursor is not None:
                params["min_date_modified"] = cursor
            records = self._one_page(f"{c.V2}/orders", params)
            fresh = [
                o
                for o in records
                if not isinstance(o, Mapping) or seen.get(o.get("id")) != o.get("date_modified")
            ]
            for order in fresh:
                if isinstance(order, Mapping):
                    seen[order.get("id")] = order.get("date_modified")
            yield from self._order_page(fresh)
            served = max(served, len(records))
            if not records or len(records) < served:
                return
            newest = _newest(records)
            if newest is None:
                raise MalformedResponseError(
                    "orders without a readable date_modified: cannot page by date",
                    platform=c.PLATFORM_NAME,
                    method="GET",
                    url=self.engine.redactor.url(self.engine.url_for(f"{c.V2}/orders")),
                )
            records = fresh = []  # let this page go before the next one is read
            if cursor is not None and _same_second(newest, cursor):
                page += 1  # a whole page within one second: count pages inside it
            else:
                cursor, page = newest, 1
                # Only the boundary second can be served again: forget the rest, so a walk
                # over a large store keeps constant memory.
                seen = {k: v for k, v in seen.items() if _same_second(v, cursor)}

    def _order_params(self) -> dict[str, str]:
        """What ``/v2/orders`` (and ``/v2/orders/{id}``) are asked to include."""
        return dict(c.ORDER_INCLUDE) if self.embed_order_lines else {}

    def _one_page(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        """One page of a v2 listing (204 No Content and an empty array are both empty)."""
        page = self.engine.get(path, params=params)
        body = page.body
        if body is None:
            return []
        if not isinstance(body, list):
            raise MalformedResponseError(
                f"{path}: expected a JSON array, got {type(body).__name__}",
                platform=c.PLATFORM_NAME,
                status_code=page.status_code,
                method="GET",
                url=self.engine.redactor.url(self.engine.url_for(path)),
            )
        return body

    def _keep(self, order: Any) -> bool:
        if not isinstance(order, Mapping):
            return True  # the parser refuses it, and on_invalid gets the payload
        if order.get("status_id") == c.STATUS_INCOMPLETE and not self.include_incomplete:
            self.skipped["incomplete"] += 1
            return False
        if order.get("is_deleted") is True and not self.include_archived:
            self.skipped["archived"] += 1
            return False
        return True

    def _executor(self) -> cf.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="bigcommerce-subrequests"
                )
            return self._pool

    def _submit(self, fn: Callable[[], _T]) -> cf.Future[_T]:
        if self.concurrency == 1:
            future: cf.Future[_T] = cf.Future()
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered through the future, like the pool does
                future.set_exception(exc)
            return future
        return self._executor().submit(fn)

    def _sub_list(self, path: str) -> list[Any]:
        """Every record of an order sub-resource; an absent order or list is empty."""
        records: list[Any] = []
        try:
            for page in self._walk(path, {"limit": c.MAX_PAGE_SIZE}, v3=False):
                records.extend(page)
        except NotFoundError:
            pass  # the order was deleted since it was listed, or the list is empty
        return records

    def _order_page(self, orders: Sequence[Any], *, keep_all: bool = False) -> Iterator[Fetched]:
        """Yield one page of orders, each with a parser that has what the order needs.

        Lines and shipping addresses come from the order's consignments when it carries
        them all (:func:`_embedded_lines`, :func:`_embedded_shipping`); otherwise, and for
        coupon codes, the order's sub-resources are fetched, concurrently. Requests the
        order says are empty are not made: no shipping address
        (``shipping_address_count`` 0), no coupon (``coupon_discount`` 0).
        """
        kept = list(orders) if keep_all else [o for o in orders if self._keep(o)]
        pending: list[cf.Future[list[Any]]] = []
        jobs: list[_OrderJob] = []
        empty: cf.Future[list[Any]] = _resolved([])
        try:
            for order in kept:
                order_id = order.get("id") if isinstance(order, Mapping) else None
                if not isinstance(order_id, int) or isinstance(order_id, bool):
                    jobs.append(_OrderJob(order, empty, empty, empty))
                    continue
                base = f"{c.V2}/orders/{order_id}"
                embedded = _embedded_lines(order) if self.embed_order_lines else None
                if embedded is not None:
                    products, lines_inside = _resolved(embedded), True
                else:
                    products = self._submit(functools.partial(self._sub_list, f"{base}/products"))
                    lines_inside = False
                    pending.append(products)
                shipping_inside = self.embed_order_lines and _embedded_shipping(order)
                if shipping_inside or order.get("shipping_address_count") == 0:
                    shipping = empty  # a digital or pickup order has no shipping address
                else:
                    shipping = self._submit(
                        functools.partial(self._sub_list, f"{base}/shipping_addresses")
                    )
                    pending.append(shipping)
                # Coupon codes are nowhere in the order: line items' applied_discounts name
                # product coupons only, not shipping or free-shipping ones (coupon types
                # 3 and 4), so the coupons are read whenever the order has a coupon discount.
                if _is_zero(order.get("coupon_discount", "1")):
                    coupons = empty
                else:
                    coupons = self._submit(functools.partial(self._sub_list, f"{base}/coupons"))
                    pending.append(coupons)
                jobs.append(
                    _OrderJob(order, products, shipping, coupons, lines_inside, shipping_inside)
                )
            lines = {id(job.order): job.products.result() for job in jobs}
            categories, images = self._resolve_lines(lines.values())
            store_name = self._store_name()
            for job in jobs:
                parser = functools.partial(
                    parse_order,
                    # None: the parser reads them from the order's consignments.
                    products=None if job.lines_inside else lines[id(job.order)],
                    shipping_addresses=None if job.shipping_inside else job.shipping.result(),
                    coupons=job.coupons.result(),
                    product_categories=categories,
                    product_images=images,
                    store_name=store_name,
                    connection_id=self.connection_id,
                )
                yield job.order, parser
        finally:
            # On an error (or a consumer that stops early) nothing keeps running behind it.
            for future in pending:
                future.cancel()

    def _resolve_lines(self, pages: Iterable[list[Any]]) -> tuple[dict[str, str], dict[str, str]]:
        """Category names and images of the ordered products, from the catalog (cached).

        The maps returned hold this page's products only: copying the whole cache for
        every page would cost time and memory in proportion to the catalog.
        """
        if not self.resolve_line_categories:
            return {}, {}
        ordered_ids: set[str] = set()
        for products in pages:
            for item in products:
                pid = item.get("product_id") if isinstance(item, Mapping) else None
                if isinstance(pid, int) and pid > 0:
                    ordered_ids.add(str(pid))
        wanted = {pid for pid in ordered_ids if pid not in self._line_catalog}
        if wanted:
            names = self._category_names()
            ordered = sorted(wanted, key=int)
            for start in range(0, len(ordered), c.MAX_PAGE_SIZE):
                chunk = ordered[start : start + c.MAX_PAGE_SIZE]
                params = {
                    "id:in": ",".join(chunk),
                    # "The ID and the specified fields will be returned": `id` itself is
                    # not an accepted value (products_catalog.v3.yml include_fields enum).
                    "include_fields": "categories",
                    "include": "primary_image",
                    "limit": c.MAX_PAGE_SIZE,
                }
                for records in self._walk(f"{c.V3}/catalog/products", params, v3=True):
                    for product in records:
                        if isinstance(product, Mapping):
                            self._remember(product, names)
                for pid in chunk:  # deleted products: remember that there is nothing
                    self._line_catalog.setdefault(pid, (None, None))
        known = [(pid, self._line_catalog[pid]) for pid in ordered_ids]
        categories = {pid: cat for pid, (cat, _) in known if cat}
        images = {pid: img for pid, (_, img) in known if img}
        return categories, images

    def _category_names(self) -> dict[str, str]:
        if self._category_cache is None:
            self._category_cache = self._categories()
        return self._category_cache

    def _remember(self, product: Mapping[str, Any], names: Mapping[str, str]) -> None:
        ids = product.get("categories")
        labels = [names[str(i)] for i in ids if str(i) in names] if isinstance(ids, list) else []
        image = product.get("primary_image")
        url = image.get("url_standard") if isinstance(image, Mapping) else None
        self._line_catalog[str(product.get("id"))] = (
            ", ".join(labels) or None,
            url if isinstance(url, str) and url else None,
        )
