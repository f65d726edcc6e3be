"""The Square connector: one Square **location** per connection.

Reading strategy, per stream:

* **customers**: ``POST /v2/customers/search`` filtered on ``updated_at`` (Square
  cannot *sort* by it, so the walk sorts by ``CREATED_AT`` and pages by cursor inside
  the filter window). Customers are merchant-wide: every location's connection reads
  them all. Customers without an email are skipped with
  :attr:`~commerce_connectors.rules.Reason.EMAIL_REQUIRED` (the rule CRM integrations for
  Square follow: customers without an email are not synced),
  reported to ``on_skip`` and counted in :attr:`SquareConnector.skipped`.
* **orders** (payments first): ``GET /v2/payments?location_id=…&sort_field=UPDATED_AT
  &updated_at_begin_time=…``, so refunds and captures of old payments come back; each
  page's orders are fetched with ``POST /v2/orders/batch-retrieve`` (and the item
  details of their lines with ``POST /v2/catalog/batch-retrieve``, cached). One
  canonical order per Square order, whose status reflects its payments.
* **products**: ``POST /v2/catalog/search`` for ``ITEM`` objects with their related
  CATEGORY and IMAGE objects, incremental on ``begin_time``; items not available at the
  connection's location are left out.
* **abandoned carts**: Square has none (:class:`UnsupportedStreamError`).

Webhooks (:mod:`.realtime`): :meth:`SquareConnector.ensure_webhooks` subscribes a
callback URL through the Webhook Subscriptions API, and
:meth:`SquareConnector.records_for_event` turns a notification into the records above.

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.testing.simulators.square import SquareSimulator
    >>> clock = FakeClock()
    >>> sim = SquareSimulator(seed=3, customers=20, payments=30, products=5, clock=clock)
    >>> location = sim.locations[0]
    >>> with SquareConnector(access_token=sim.token, location_id=location.id,
    ...                      transport=sim.transport(), clock=clock) as conn:
    ...     orders = list(conn.iter_orders())
    ...     conn.connection_id == f"square:{location.id}"
    True
    >>> len(orders) == len(sim.order_ids(location.id))
    True
"""

from __future__ import annotations

import collections
import datetime as _dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import httpx

from ..._http import (
    BearerAuth,
    CursorPaginator,
    HttpEngine,
    HttpStats,
    JsonResponse,
    LeakyBucketLimiter,
    Request,
    RetryPolicy,
)
from ..._http.ratelimit import RateLimiter
from ..._http.stats import EventCallback
from ..._parsing import parse_datetime
from ..._webhooks import WebhookEvent, WebhookSubscription
from ...clock import Clock
from ...errors import ConfigurationError, NotFoundError, PermissionDeniedError
from ...models import Order, Platform
from ...protocols import InvalidRecordHandler, Stream
from ...rules import Reason
from ..base import BaseConnector, Fetched, Record
from . import constants as c
from . import realtime
from ._ids import is_safe_id
from .errors import InvalidCursorError, SquareErrorMapper
from .parsers import (
    CatalogRef,
    SquareLocation,
    catalog_refs,
    is_present_at,
    parse_customer,
    parse_location,
    parse_order,
    parse_product,
)

__all__ = ["SkippedRecord", "SquareConnector", "list_locations"]

logger = logging.getLogger("commerce_connectors.square")

_PLATFORM_NAME = "square"
#: The ``Square-Version`` header's format (``2025-08-20``).
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso(value: _dt.datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Square writes its own timestamps."""
    value = value.astimezone(_dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _has_email(payload: Any) -> bool:
    email = payload.get("email_address") if isinstance(payload, Mapping) else None
    return isinstance(email, str) and bool(email.strip())


def _when(value: Any) -> _dt.datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@attrs.frozen
class SkippedRecord:
    """A record the connector read and deliberately did not yield, and why.

    Attributes:
        stream: the stream it belongs to.
        external_id: its id on Square, when it has one.
        reason: the machine-readable reason (``Reason.EMAIL_REQUIRED`` …).
        detail: a sentence for humans.
        payload: the record as received (not compared, not shown in repr).
    """

    stream: Stream
    external_id: str | None
    reason: Reason
    detail: str
    payload: Any = attrs.field(default=None, eq=False, repr=False)


SkipHandler = Callable[[SkippedRecord], None]


def _make_engine(
    *,
    access_token: str,
    environment: str,
    square_version: str,
    base_url: str | None,
    client: httpx.Client | None,
    transport: httpx.BaseTransport | None,
    clock: Clock | None,
    retry: RetryPolicy | None,
    rate_limiter: RateLimiter | None,
    stats: HttpStats | None,
    on_event: EventCallback | None,
    timeout: float | httpx.Timeout | None,
) -> HttpEngine:
    if not isinstance(access_token, str) or not access_token.strip():
        raise ConfigurationError("Square needs an access_token")
    if environment not in c.ENVIRONMENTS:
        raise ConfigurationError(
            f"environment must be one of {sorted(c.ENVIRONMENTS)}, got {environment!r}"
        )
    if not isinstance(square_version, str) or not _VERSION.fullmatch(square_version):
        raise ConfigurationError(
            f"square_version must be a YYYY-MM-DD date string, got {square_version!r}"
        )
    return HttpEngine(
        platform=_PLATFORM_NAME,
        base_url=base_url or c.ENVIRONMENTS[environment],
        auth=BearerAuth(access_token),
        client=client,
        transport=transport,
        timeout=timeout,
        retry=retry,
        rate_limiter=rate_limiter
        if rate_limiter is not None
        else LeakyBucketLimiter(
            capacity=c.PACER_BURST,
            leak_rate=c.PACER_RATE,
            reader=None,
            safety_margin=0,
            clock=clock,
        ),
        error_mapper=SquareErrorMapper(),
        clock=clock,
        headers={c.SQUARE_VERSION_HEADER: square_version},
        stats=stats,
        on_event=on_event,
    )


def list_locations(
    access_token: str,
    *,
    environment: str = "production",
    square_version: str = c.SQUARE_VERSION,
    base_url: str | None = None,
    client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> list[SquareLocation]:
    """The seller's locations (``GET /v2/locations``), to create one connection each.

    Square lists them alphabetically by name, inactive ones included (see
    :attr:`SquareLocation.is_active`). Needs the ``MERCHANT_PROFILE_READ`` scope.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> from commerce_connectors.testing.simulators.square import SquareSimulator
        >>> sim = SquareSimulator(seed=1, customers=0, payments=0, products=0)
        >>> [loc.name for loc in list_locations(sim.token, transport=sim.transport(),
        ...                                     clock=FakeClock())]
        ['Downtown', 'Shibuya']
    """
    engine = _make_engine(
        access_token=access_token,
        environment=environment,
        square_version=square_version,
        base_url=base_url,
        client=client,
        transport=transport,
        clock=clock,
        retry=None,
        rate_limiter=None,
        stats=None,
        on_event=None,
        timeout=None,
    )
    with engine:
        return _list_locations(engine)


def _list_locations(engine: HttpEngine) -> list[SquareLocation]:
    body = engine.get("/v2/locations").body
    items = body.get("locations") if isinstance(body, Mapping) else None
    return [parse_location(item) for item in items or ()]


class SquareConnector(BaseConnector):
    """Reads one Square location: customers, orders (from payments) and catalog products.

    Args:
        access_token: an OAuth or personal access token (``Authorization: Bearer``;
            never logged, never in a repr or an error).
        location_id: the location this connection reads (see :func:`list_locations`).
        environment: ``"production"`` or ``"sandbox"``.
        square_version: the ``Square-Version`` header (default
            :data:`~commerce_connectors.platforms.square.constants.SQUARE_VERSION`).
        merchant_id: the seller's id, kept for reference (not part of the connection
            id); when omitted it is read once from ``GET /v2/locations/{location_id}``.
        base_url: the API root (a simulator, a proxy); overrides ``environment``.
        client: an :class:`httpx.Client` you own (not closed by the connector).
        transport: an httpx transport for the client the connector creates.
        clock: where pacing and backoff sleep (a FakeClock in tests).
        retry: the retry policy (default: 5 attempts, backoff with jitter, Retry-After).
        rate_limiter: the client-side pacer (default: 10 requests/s, bursts of 10;
            Square publishes no limits).
        stats: shared :class:`HttpStats` counters (default: a new one, :attr:`stats`).
        on_event: receives each HTTP event (retries, waits…).
        on_invalid: receives each record that cannot be parsed.
        on_skip: receives each record skipped on purpose (:class:`SkippedRecord`).
        require_email: skip customers without an email (as CRM integrations for Square
            do).
        enrich_lines: look order lines up in the catalog for the item id, SKU,
            description, category and image (one batch call per new variations).
        overlap: the recommended re-read window (default 72 h: late offline orders).
        timeout: HTTP timeout.
        webhook_token: the application's **personal access token**, for the Webhook
            Subscriptions API (subscriptions belong to the application, and Square
            refuses OAuth tokens there). Default: ``access_token``, which is right when
            it is the application owner's personal access token.

    Raises:
        ConfigurationError: missing token or location, a ``location_id`` or
            ``merchant_id`` that is not a Square id (letters, digits, ``_``, ``-``),
            unknown environment, both ``client`` and ``transport``, an empty
            ``webhook_token``.
    """

    platform: ClassVar[Platform] = Platform.SQUARE
    streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.CUSTOMERS, Stream.ORDERS, Stream.PRODUCTS}
    )
    unsupported: ClassVar[Mapping[Stream, str]] = {
        Stream.ABANDONED_CARTS: (
            "Square has no cart or checkout API to list abandoned carts; sales arrive as "
            "payments and orders (iter_orders), and unpaid orders as OPEN orders"
        ),
    }
    default_overlap: ClassVar[_dt.timedelta] = c.RECOMMENDED_OVERLAP

    def __init__(
        self,
        *,
        access_token: str,
        location_id: str,
        environment: str = "production",
        square_version: str = c.SQUARE_VERSION,
        merchant_id: str | None = None,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        stats: HttpStats | None = None,
        on_event: EventCallback | None = None,
        on_invalid: InvalidRecordHandler | None = None,
        on_skip: SkipHandler | None = None,
        require_email: bool = True,
        enrich_lines: bool = True,
        overlap: _dt.timedelta | None = None,
        timeout: float | httpx.Timeout | None = None,
        webhook_token: str | None = None,
    ) -> None:
        if not isinstance(location_id, str) or not location_id.strip():
            raise ConfigurationError(
                "a Square connection is one location: pass location_id "
                "(list them with commerce_connectors.platforms.square.list_locations)"
            )
        # The location id goes into GET /v2/locations/{location_id}; the merchant id is
        # compared with webhook payloads. Both must look like Square ids (letters,
        # digits, "_" or "-"): "L1/../../evil" must never become a path on Square's host.
        if not is_safe_id(location_id.strip()):
            raise ConfigurationError(
                f"location_id must be a Square location id (letters, digits, '_' or '-'), "
                f"got {location_id!r}"
            )
        if merchant_id is not None and not is_safe_id(merchant_id):
            raise ConfigurationError(
                f"merchant_id must be a Square merchant id (letters, digits, '_' or '-'), "
                f"got {merchant_id!r}"
            )
        self.engine = _make_engine(
            access_token=access_token,
            environment=environment,
            square_version=square_version,
            base_url=base_url,
            client=client,
            transport=transport,
            clock=clock,
            retry=retry,
            rate_limiter=rate_limiter,
            stats=stats,
            on_event=on_event,
            timeout=timeout,
        )
        if webhook_token is not None and (
            not isinstance(webhook_token, str) or not webhook_token.strip()
        ):
            self.engine.close()
            raise ConfigurationError("webhook_token, when given, must be a non-empty token")
        # The same token twice needs no second engine.
        self._webhook_token = None if webhook_token == access_token else webhook_token
        self._webhook_engine: HttpEngine | None = None
        super().__init__(on_invalid=on_invalid)
        self.location_id = location_id.strip()
        self.square_version = square_version
        self.environment = environment
        self.require_email = require_email
        self.enrich_lines = enrich_lines
        self.on_skip = on_skip
        self._merchant_id = merchant_id
        self._location: SquareLocation | None = None
        self._overlap = overlap
        #: Records skipped on purpose, per (stream, reason), over the connector's life.
        self.skipped: collections.Counter[tuple[Stream, Reason]] = collections.Counter()
        # variation id -> what order lines need from the catalog (None: not in the catalog)
        self._catalog: dict[str, CatalogRef | None] = {}
        # category / image id -> its catalog object (None: not in the catalog)
        self._catalog_related: dict[str, Mapping[str, Any] | None] = {}
        #: Why order lines are not enriched from the catalog, when they cannot be.
        self.catalog_unavailable: str | None = None

    # -- identity -------------------------------------------------------------

    @property
    def stats(self) -> HttpStats:
        """The HTTP counters (requests, retries, 429s, waits) of this connection."""
        return self.engine.stats

    @property
    def location(self) -> SquareLocation:
        """The connection's location (fetched once: ``GET /v2/locations/{id}``)."""
        if self._location is None:
            body = self.engine.get(f"/v2/locations/{quote(self.location_id, safe='')}").body
            payload = body.get("location") if isinstance(body, Mapping) else None
            self._location = parse_location(payload)
            if self._merchant_id is None:
                self._merchant_id = self._location.merchant_id
        return self._location

    @property
    def merchant_id(self) -> str:
        """The seller's id (read from the location when not given)."""
        if self._merchant_id is None:
            _ = self.location
        return self._merchant_id or "unknown-merchant"

    @property
    def connection_id(self) -> str:
        """``square:{location_id}``: one connection per location.

        Square location ids are unique across sellers, so the location alone
        identifies the connection. It is known offline and never changes, unlike
        a merchant id that would need a request to learn (and an identity that
        changed with it would split one connection's records in two).
        """
        return f"square:{self.location_id}"

    @property
    def recommended_overlap(self) -> _dt.timedelta:
        """72 h by default: offline POS payments arrive late with their original times."""
        return self._overlap if self._overlap is not None else self.default_overlap

    def list_locations(self) -> list[SquareLocation]:
        """Every location of the seller (to create one connection per location)."""
        return _list_locations(self.engine)

    # -- webhooks (RealtimeConnector) -------------------------------------------

    def ensure_webhooks(
        self, callback_url: str, topics: Sequence[str] | None = None
    ) -> list[WebhookSubscription]:
        """Subscribe ``callback_url`` to ``topics`` (default: :data:`.webhooks.DEFAULT_TOPICS`).

        Idempotent: the URL's existing subscription is reused (re-enabled and given
        the missing event types with ``UpdateWebhookSubscription``); a new one is
        created only when the URL has none. Square subscriptions belong to the
        application, so one subscription serves every seller and location: pass
        ``webhook_token`` if this connector's token is an OAuth token.

        Args:
            callback_url: the public ``https`` URL Square will POST to, exactly as the
                receiver will verify it (Square signs it).
            topics: Square event types (``payment.updated`` …).

        Returns:
            Every subscription entry of that URL after the call, one per event type,
            each with the subscription's ``signature_key`` (the secret for
            :func:`commerce_connectors.webhooks.verify`).

        Raises:
            ConfigurationError: the URL is not an absolute ``https`` URL.
            APIError: Square refused a call (an OAuth token gives a permission error).

        Example:
            >>> from commerce_connectors.clock import FakeClock
            >>> from commerce_connectors.testing.simulators.square import SquareSimulator
            >>> sim = SquareSimulator(seed=1, customers=0, payments=0, products=0)
            >>> conn = SquareConnector(access_token=sim.token, location_id=sim.locations[0].id,
            ...                        transport=sim.transport(), clock=FakeClock())
            >>> url = "https://hooks.example.com/square"
            >>> subs = conn.ensure_webhooks(url, ["payment.created", "payment.updated"])
            >>> [(s.topic, s.active, bool(s.signature_key)) for s in subs]
            [('payment.created', True, True), ('payment.updated', True, True)]
            >>> conn.ensure_webhooks(url, ["payment.created"]) == subs  # nothing new
            True
            >>> conn.remove_webhooks(url)
            2
        """
        return realtime.ensure_webhooks(self, callback_url, topics)

    def list_webhooks(self) -> list[WebhookSubscription]:
        """Every subscription of the application, one entry per event type.

        Disabled subscriptions are included (``active=False``). Square's list leaves
        the signature keys out (``signature_key`` is ``None``); :meth:`ensure_webhooks`
        returns them.
        """
        return realtime.list_webhooks(self)

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        """Delete the subscriptions to ``callback_url`` (all the application's when ``None``).

        Returns:
            How many entries went, in :meth:`list_webhooks`' unit (one per event type).
        """
        return realtime.remove_webhooks(self, callback_url)

    def owns_event(self, event: WebhookEvent) -> bool:
        """Whether ``event`` is this connection's: its merchant, and its location if it names one.

        Customer, catalog and authorization events are seller-wide: every location's
        connection owns them (customers and products are read seller-wide too).
        """
        return realtime.owns_event(self, event)

    def records_for_event(self, event: WebhookEvent) -> list[Record]:
        """The current canonical records an upsert event is about (``[]`` if none).

        * ``order.*``: ``GET /v2/orders/{id}``, its payments (tenders), then the same
          :class:`~commerce_connectors.models.Order` :meth:`iter_orders` yields. An
          order without any payment yet gives ``[]``: ``iter_orders`` reads orders
          through their payments, and the first payment's events bring it.
        * ``payment.*`` / ``refund.*``: ``GET /v2/payments/{id}`` (the current state,
          not the event's copy), then its order as above (or the order built from the
          payment when it has none, as in :meth:`iter_orders`).
        * ``customer.created`` / ``customer.updated``: parsed from the event (it carries
          the whole customer); a customer without email is skipped as in
          :meth:`iter_customers`.
        * ``catalog.version.updated``: the products changed since the catalog
          version's time (minus a minute), as :meth:`iter_products` reads them.

        A record another location owns, or one Square no longer has (404), gives
        ``[]``; a payload the parsers refuse goes to ``on_invalid``.

        Raises:
            APIError: a fetch failed.
        """
        return realtime.records_for_event(self, event)

    @property
    def webhook_engine(self) -> HttpEngine:
        """The engine for the Webhook Subscriptions API (``webhook_token``'s, else :attr:`engine`).

        It shares the connector's HTTP client, pacer, retry policy and counters.
        """
        if self._webhook_token is None:
            return self.engine
        if self._webhook_engine is None:
            self._webhook_engine = HttpEngine(
                platform=_PLATFORM_NAME,
                base_url=self.engine.base_url,
                auth=BearerAuth(self._webhook_token),
                client=self.engine.client,
                retry=self.engine.retry,
                rate_limiter=self.engine.rate_limiter,
                error_mapper=SquareErrorMapper(),
                clock=self.engine.clock,
                headers={c.SQUARE_VERSION_HEADER: self.square_version},
                stats=self.engine.stats,
                on_event=self.engine.on_event,
            )
        return self._webhook_engine

    def close(self) -> None:
        """Close the HTTP client if the connector created it."""
        if self._webhook_engine is not None:
            self._webhook_engine.close()  # shares the main client: closes only its redactor
        self.engine.close()
        super().close()

    def __repr__(self) -> str:
        # No network here: the merchant id is shown only once known.
        return f"SquareConnector(connection_id={self.connection_id!r})"

    # -- streams ----------------------------------------------------------------

    def _fetch(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Fetched]:
        if stream is Stream.CUSTOMERS:
            return self._customers(since)
        if stream is Stream.ORDERS:
            return self._orders(since)
        if stream is Stream.PRODUCTS:
            return self._products(since)
        raise AssertionError(f"unexpected stream {stream}")  # pragma: no cover

    def _skip(self, stream: Stream, payload: Any, reason: Reason, detail: str) -> None:
        ident = payload.get("id") if isinstance(payload, Mapping) else None
        skipped = SkippedRecord(
            stream, None if ident is None else str(ident), reason, detail, payload
        )
        self.skipped[(stream, reason)] += 1
        logger.info("square %s %s skipped: %s", stream.value, skipped.external_id, detail)
        if self.on_skip is not None:
            self.on_skip(skipped)

    def _walk(
        self,
        first: Request,
        paginator: CursorPaginator,
        resume: Callable[[], Request] | None = None,
    ) -> Iterator[JsonResponse]:
        """Every page of a cursor walk; an INVALID_CURSOR restarts it (from ``resume()``).

        Re-reading after a restart is harmless: the base class never yields the same
        version of a record twice in one pass.
        """
        request = first
        restarts = 0
        while True:
            try:
                yield from self.engine.paginate(request, paginator)
                return
            except InvalidCursorError:
                restarts += 1
                if restarts > c.MAX_CURSOR_RESTARTS:
                    raise
                logger.warning("square: INVALID_CURSOR, restarting the walk (%d)", restarts)
                request = resume() if resume is not None else first

    # customers ------------------------------------------------------------------

    def _customers(self, since: _dt.datetime | None) -> Iterator[Fetched]:
        conn = self.connection_id
        last_created: list[str] = []

        def request(created_from: str | None = None) -> Request:
            query_filter: dict[str, Any] = {}
            if since is not None:
                query_filter["updated_at"] = {"start_at": _iso(since - c.FILTER_SLACK)}
            if created_from is not None:
                query_filter["created_at"] = {"start_at": created_from}
            query: dict[str, Any] = {"sort": {"field": "CREATED_AT", "order": "ASC"}}
            if query_filter:
                query["filter"] = query_filter
            body = {"limit": c.CUSTOMERS_PAGE_SIZE, "query": query}
            return Request("POST", "/v2/customers/search", json=body, idempotent=True)

        def resume() -> Request:
            return request(last_created[-1] if last_created else None)

        def parser(payload: Any) -> Any:
            return parse_customer(payload, connection_id=conn)

        for page in self._walk(request(), CursorPaginator(location="body"), resume):
            for item in _items(page.body, "customers"):
                if isinstance(item, Mapping) and isinstance(item.get("created_at"), str):
                    last_created[:] = [item["created_at"]]
                if not self._keep_customer(item):
                    continue
                yield item, parser

    def _keep_customer(self, item: Any) -> bool:
        """Whether a customer payload is synced; a skip is reported when it is not."""
        if self.require_email and isinstance(item, Mapping) and not _has_email(item):
            self._skip(
                Stream.CUSTOMERS,
                item,
                Reason.EMAIL_REQUIRED,
                "the customer has no email address (Square syncs need one)",
            )
            return False
        return True

    # orders ---------------------------------------------------------------------

    def _store_name(self) -> str | None:
        """The orders' ``store_name``: the location's name, else its business's name.

        One connection is one location, so the location's own name (unique within the
        seller) is what tells connections apart; ``business_name`` is the same for every
        location of a business and only stands in when the location has no name.
        """
        location = self.location
        return location.name or location.business_name

    def _orders(self, since: _dt.datetime | None) -> Iterator[Fetched]:
        conn = self.connection_id
        store_name = self._store_name()
        last_updated: list[_dt.datetime] = []
        begin = since - c.FILTER_SLACK if since is not None else None

        def request(updated_from: _dt.datetime | None) -> Request:
            params: dict[str, Any] = {
                "location_id": self.location_id,
                # ListPayments defaults begin_time (created_at) to one year ago, which
                # would hide refunds of older payments: always open the range fully.
                "begin_time": _iso(c.PAYMENTS_BEGIN_TIME),
                "sort_field": "UPDATED_AT",
                "sort_order": "ASC",
                "limit": c.PAYMENTS_PAGE_SIZE,
            }
            if updated_from is not None:
                params["updated_at_begin_time"] = _iso(updated_from)
            return Request("GET", "/v2/payments", params=params)

        def resume() -> Request:
            return request(last_updated[-1] - c.FILTER_SLACK if last_updated else begin)

        # order id -> newest payment updated_at already reflected in a yielded order; the
        # most recent ids only (like BaseConnector's repeat filter), for constant memory:
        # an order forgotten and met again is re-sent, which sinks absorb as unchanged.
        emitted: collections.OrderedDict[str, _dt.datetime] = collections.OrderedDict()
        for page in self._walk(request(begin), CursorPaginator(location="query"), resume):
            payments = [p for p in _items(page.body, "payments") if isinstance(p, Mapping)]
            stamps = [t for t in (_when(p.get("updated_at")) for p in payments) if t]
            if stamps:
                last_updated[:] = [max(stamps)]
            yield from self._orders_for(payments, emitted, conn, store_name)

    def _orders_for(
        self,
        payments: Sequence[Mapping[str, Any]],
        emitted: collections.OrderedDict[str, _dt.datetime],
        conn: str,
        store_name: str | None,
        *,
        known: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Iterator[Fetched]:
        """``(order, parser)`` for the orders of ``payments`` (``known``: orders already read)."""
        by_order: dict[str, list[Mapping[str, Any]]] = {}
        for payment in payments:
            location = payment.get("location_id")
            if location is not None and location != self.location_id:
                # ListPayments filters by location; this guards the connection anyway.
                logger.warning(
                    "square: payment %s of location %s ignored", payment.get("id"), location
                )
                continue
            order_id = payment.get("order_id") or payment.get("id")
            updated = _when(payment.get("updated_at"))
            seen = emitted.get(str(order_id))
            if seen is not None and updated is not None and updated <= seen:
                continue  # this payment's state is already in the order we yielded
            by_order.setdefault(str(order_id), []).append(payment)
        if not by_order:
            return
        orders = dict(known or {})
        orders.update(
            self._batch_orders(
                [oid for oid, ps in by_order.items() if ps[0].get("order_id") and oid not in orders]
            )
        )
        if self.enrich_lines and self.catalog_unavailable is None:
            self._learn_catalog(orders.values())
        refs = {k: v for k, v in self._catalog.items() if v is not None}
        for order_id, page_payments in by_order.items():
            order = orders.get(order_id)
            all_payments = self._payments_of(order, page_payments)
            stamps = [t for t in (_when(p.get("updated_at")) for p in all_payments) if t]
            if stamps:
                emitted[order_id] = max(stamps)
                emitted.move_to_end(order_id)
                if len(emitted) > self.dedup_window:
                    emitted.popitem(last=False)
            if order is None:
                payload: Mapping[str, Any] = _order_from_payments(order_id, all_payments)
            else:
                payload = order

            def parser(
                payload: Any,
                _payments: Sequence[Mapping[str, Any]] = all_payments,
                _refs: Mapping[str, CatalogRef] = refs,
            ) -> Order:
                return parse_order(
                    payload, _payments, connection_id=conn, catalog=_refs, store_name=store_name
                )

            yield payload, parser

    def _batch_orders(self, order_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(order_ids), c.ORDERS_BATCH_SIZE):
            chunk = list(order_ids[start : start + c.ORDERS_BATCH_SIZE])
            body = self.engine.send(
                Request(
                    "POST",
                    "/v2/orders/batch-retrieve",
                    json={"location_id": self.location_id, "order_ids": chunk},
                    idempotent=True,
                )
            ).body
            for order in _items(body, "orders"):
                if isinstance(order, Mapping) and isinstance(order.get("id"), str):
                    found[order["id"]] = order
            missing = set(chunk) - set(found)
            if missing:
                logger.warning(
                    "square: batch-retrieve returned no order for %d id(s), e.g. %s",
                    len(missing),
                    sorted(missing)[:3],
                )
        return found

    def _payments_of(
        self, order: Mapping[str, Any] | None, page_payments: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """The order's payments: those on the page, plus its other tenders' (split payments)."""
        payments = {str(p.get("id")): p for p in page_payments}
        tenders = order.get("tenders") if order is not None else None
        for tender in tenders if isinstance(tenders, list) else ():
            payment_id = tender.get("payment_id") if isinstance(tender, Mapping) else None
            if not isinstance(payment_id, str) or payment_id in payments:
                continue
            if not is_safe_id(payment_id):
                # An order read through a webhook's id: its tenders must not pick a path.
                logger.warning("square: tender payment id %r is not a Square id", payment_id[:40])
                continue
            try:
                body = self.engine.get(f"/v2/payments/{quote(payment_id, safe='')}").body
            except NotFoundError:
                logger.warning("square: tender payment %s not found", payment_id)
                continue
            payment = body.get("payment") if isinstance(body, Mapping) else None
            if isinstance(payment, Mapping):
                payments[payment_id] = payment
        return list(payments.values())

    def _learn_catalog(self, orders: Iterable[Mapping[str, Any]]) -> None:
        wanted: list[str] = []
        for order in orders:
            for line in order.get("line_items") or ():
                vid = line.get("catalog_object_id") if isinstance(line, Mapping) else None
                if isinstance(vid, str) and vid not in self._catalog and vid not in wanted:
                    wanted.append(vid)
        for start in range(0, len(wanted), c.CATALOG_BATCH_SIZE):
            if self.catalog_unavailable is not None:
                return
            chunk = wanted[start : start + c.CATALOG_BATCH_SIZE]
            try:
                body = self._batch_catalog(chunk, related=True)
                objects = _items(body, "objects")
                related = _items(body, "related_objects")
                # Related objects go "one level deep": a variation brings its parent ITEM
                # but not the item's CATEGORY and IMAGE objects; fetch those (cached).
                related.extend(self._item_references([*objects, *related]))
            except PermissionDeniedError as exc:
                # Orders and payments are readable without ITEMS_READ: keep syncing them,
                # with lines that name the variation but not the item. Said loudly, once.
                self.catalog_unavailable = str(exc)
                logger.warning(
                    "square: order lines are not enriched from the catalog (ITEMS_READ "
                    "missing?): %s",
                    exc,
                )
                return
            refs = catalog_refs(objects, related)
            for vid in chunk:
                # None remembers "not in the catalog" (deleted items, custom amounts).
                self._catalog[vid] = refs.get(vid)

    def _batch_catalog(self, object_ids: Sequence[str], *, related: bool) -> Any:
        body: dict[str, Any] = {"object_ids": list(object_ids)}
        if related:
            body["include_related_objects"] = True
        return self.engine.send(
            Request("POST", "/v2/catalog/batch-retrieve", json=body, idempotent=True)
        ).body

    def _item_references(self, objects: Sequence[Any]) -> list[Mapping[str, Any]]:
        """The CATEGORY and IMAGE objects the ITEMs among ``objects`` reference (cached)."""
        present = {str(o.get("id")) for o in objects if isinstance(o, Mapping)}
        wanted: list[str] = []
        for obj in objects:
            data = obj.get("item_data") if isinstance(obj, Mapping) else None
            if not isinstance(data, Mapping):
                continue
            ids = [
                *(
                    cat.get("id")
                    for cat in data.get("categories") or ()
                    if isinstance(cat, Mapping)
                ),
                (data.get("reporting_category") or {}).get("id"),
                data.get("category_id"),
                *(data.get("image_ids") or ()),
            ]
            for oid in ids:
                if isinstance(oid, str) and oid not in present and oid not in wanted:
                    wanted.append(oid)
        missing = [oid for oid in wanted if oid not in self._catalog_related]
        for start in range(0, len(missing), c.CATALOG_BATCH_SIZE):
            chunk = missing[start : start + c.CATALOG_BATCH_SIZE]
            found = {
                str(o["id"]): o
                for o in _items(self._batch_catalog(chunk, related=False), "objects")
                if isinstance(o, Mapping) and "id" in o
            }
            for oid in chunk:
                # None remembers "not in the catalog" (a deleted category or image).
                self._catalog_related[oid] = found.get(oid)
        return [obj for oid in wanted if (obj := self._catalog_related.get(oid)) is not None]

    # products -------------------------------------------------------------------

    def _products(self, since: _dt.datetime | None) -> Iterator[Fetched]:
        conn = self.connection_id
        body: dict[str, Any] = {
            "object_types": ["ITEM"],
            "include_related_objects": True,
            "include_deleted_objects": False,
            "limit": c.CATALOG_PAGE_SIZE,
        }
        if since is not None:
            # begin_time is exclusive ("modified after"); the slack makes it inclusive.
            body["begin_time"] = _iso(since - c.FILTER_SLACK)
        first = Request("POST", "/v2/catalog/search", json=body, idempotent=True)
        for page in self._walk(first, CursorPaginator(location="body")):
            related = {
                str(o["id"]): o
                for o in _items(page.body, "related_objects")
                if isinstance(o, Mapping) and "id" in o
            }

            def parser(payload: Any, _related: Mapping[str, Any] = related) -> Any:
                return parse_product(payload, _related, connection_id=conn)

            for item in _items(page.body, "objects"):
                if isinstance(item, Mapping) and item.get("type") not in (None, "ITEM"):
                    continue
                if isinstance(item, Mapping) and not is_present_at(item, self.location_id):
                    continue  # another location's product: not this connection's
                yield item, parser


def _items(body: Any, key: str) -> list[Any]:
    items = body.get(key) if isinstance(body, Mapping) else None
    return items if isinstance(items, list) else []


def _order_from_payments(order_id: str, payments: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A minimal order for payments whose order Square did not return (or that have none).

    Marked with ``"_built_from_payments": true``: it is not a Square payload.
    """
    first = min(payments, key=lambda p: str(p.get("created_at")))
    money = first.get("total_money") or first.get("amount_money")
    return {
        "id": order_id,
        "location_id": first.get("location_id"),
        "created_at": first.get("created_at"),
        "updated_at": max(str(p.get("updated_at")) for p in payments),
        "total_money": money,
        "customer_id": first.get("customer_id"),
        "_built_from_payments": True,
    }
