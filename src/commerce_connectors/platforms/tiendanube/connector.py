"""``TiendanubeConnector``: customers, orders, products and abandoned checkouts of one store.

How it reads the API, and why:

* ``Authentication: bearer <token>`` (not ``Authorization``) and a ``User-Agent``
  naming the app and a contact, which the API requires (400 without it): the
  connector refuses to be built without one.
* Page-number pagination with ``per_page=200`` (the maximum), following the ``Link``
  header (falling back to ``page + 1`` while ``X-Total-Count`` says there is more).
  ``X-Total-Count`` feeds ``on_progress`` and the consistency check below.
* The sort order is not documented (developers report ``created_at``), and offset
  pages shift when the store changes during a walk. Each walk therefore watches for
  the signs of a shift (the total shrinking between pages, a record served twice
  with a newer ``updated_at``, fewer records seen than the final total, a 404 past
  the last page) and, when it sees one, walks again, yielding only records not yet
  yielded or newer versions (at most ``max_repair_walks`` times).
* A walk never goes deeper than ``max_result_window`` records (``page * per_page``):
  it starts a new window with ``since_id`` (ascending ids), ``created_at_min`` (oldest
  first) or ``created_at_max`` (newest first), or fails loudly if none fits.
* Customers, orders and products are filtered server-side with ``updated_at_min``
  (one second early: the docs say "after"); checkouts have no ``*_min`` filter, so
  every retained checkout is read and filtered here.
* ``payment_status=any`` (the default) covers authorised, pending and paid orders
  only, per the docs: refunded, voided and abandoned orders are read by one more walk
  each, so orders of every status arrive.
* Rate limiting from ``x-rate-limit-*`` (bucket 40 leaking 2/s; ``×10`` on Next and
  Evolution plans: ``rate_limit_multiplier=10``); 429 and 5xx are retried.
* Webhooks (``ensure_webhooks``, ``list_webhooks``, ``remove_webhooks``, ``owns_event``,
  ``records_for_event``) come from :mod:`._realtime`: subscriptions through
  ``/webhooks``, and each event's record fetched by id and parsed as the streams parse it.

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
    >>> clock = FakeClock()
    >>> sim = TiendanubeSimulator(customers=30, orders=40, products=10, checkouts=5,
    ...                           clock=clock, seed=3)
    >>> conn = TiendanubeConnector(store_id=sim.store_id, access_token=sim.token,
    ...                            user_agent="DemoApp (dev@example.com)",
    ...                            transport=sim.transport(), clock=clock)
    >>> with conn:
    ...     orders = list(conn.iter_orders())
    >>> len(orders), orders[0].connection_id == f"tiendanube:{sim.store_id}"
    (40, True)
    >>> TiendanubeConnector(store_id=1, access_token="t", user_agent="")
    Traceback (most recent call last):
    ...
    ConfigurationError: Tiendanube requires a User-Agent naming your app and a contact ...
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import attrs
import httpx

from ..._http import (
    TIENDANUBE_WAIT_HEADERS,
    HeaderTokenAuth,
    HttpEngine,
    HttpStats,
    LeakyBucketLimiter,
    PageWalk,
    Request,
    RetryPolicy,
)
from ..._http.stats import EventCallback
from ...clock import Clock, SystemClock
from ...errors import (
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    PaginationLoopError,
    PermissionDeniedError,
)
from ...models import Cart, Platform
from ...protocols import InvalidRecordHandler, Stream
from ...rules import AbandonmentPolicy, CartStatus, cart_status
from ..base import BaseConnector, Fetched, Record
from . import constants as c
from ._paging import TiendanubePaginator, _page_number, _total
from ._realtime import TiendanubeRealtime
from .parsers import (
    connection_id_for,
    localized,
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)

__all__ = ["ProgressCallback", "TiendanubeConnector", "TiendanubePaginator", "WalkReport"]

logger = logging.getLogger("commerce_connectors.tiendanube")

#: Called after each page with ``(stream, records fetched so far, X-Total-Count or None)``.
ProgressCallback = Callable[[Stream, int, "int | None"], None]

# A User-Agent must name the app and give a contact: an email address or a URL.
_CONTACT = re.compile(r"[^\s@()<>]+@[^\s@()<>]+\.[^\s@()<>]+|https?://\S+")

_PATHS = {
    Stream.CUSTOMERS: "customers",
    Stream.ORDERS: "orders",
    Stream.PRODUCTS: "products",
    Stream.ABANDONED_CARTS: "checkouts",
}


@attrs.define
class WalkReport:
    """What one stream pass did, for reports and tests (see ``connector.reports``).

    Attributes:
        stream: the stream.
        walks: walks made (one per payment-status filter, plus repairs).
        repairs: extra walks made because the store changed under a walk.
        windows: result windows opened because a walk reached ``max_result_window``.
        pages: pages fetched.
        records: payloads handed to the parser (repeats already dropped).
        total: the last ``X-Total-Count`` seen.
    """

    stream: Stream
    walks: int = 0
    repairs: int = 0
    windows: int = 0
    pages: int = 0
    records: int = 0
    total: int | None = None


@attrs.define
class _Walk:
    """Signs that a walk's pages shifted under it."""

    ids: dict[str, str] = attrs.Factory(dict)
    last_total: int | None = None
    last_window_ids: int = 0
    disturbed: bool = False

    def see_total(self, total: int | None) -> None:
        if total is None:
            return
        if self.last_total is not None and total < self.last_total:
            self.disturbed = True  # records left the result set: pages shifted back
        self.last_total = total


def _key(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, Mapping):
        return None
    rid = item.get("id")
    if rid is None or isinstance(rid, bool):
        return None
    return str(rid), str(item.get("updated_at"))


def _iso(value: _dt.datetime) -> str:
    return value.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


class TiendanubeConnector(BaseConnector, TiendanubeRealtime):
    """Reads one Tiendanube / Nuvemshop store (one connection = one store).

    Args:
        store_id: the store id (the ``user_id`` returned by the OAuth token exchange).
        access_token: the app's token for this store; never logged or shown.
        user_agent: required by the API: your app's name and a contact, e.g.
            ``"MyApp (dev@example.com)"`` or ``"MyApp (https://myapp.example)"``.
        api_version: the path version, ``"2025-03"`` (default) or the legacy ``"v1"``.
        domain: ``"tiendanube"`` (api.tiendanube.com) or ``"nuvemshop"``
            (api.nuvemshop.com.br).
        base_url: another API host (a simulator, a proxy); the version and store id
            are appended to it.
        client: an :class:`httpx.Client` you own (never closed by the connector).
        transport: an httpx transport for the client the connector creates.
        clock: where waits happen (a ``FakeClock`` in tests) and ``now`` comes from.
        language: the language multilingual names are read in; default: the store's
            main language (``X-Main-Language`` or ``GET /store``).
        currency: the currency of product prices; default: the store's ``main_currency``.
        order_url_template: ``"https://…/{id}"`` for ``Order.order_url``; default: the
            store admin on the store's ``original_domain``.
        page_size: ``per_page`` (1–200).
        rate_limit_multiplier: 10 for stores on the Next and Evolution plans.
        retry: the retry policy (default: 5 attempts, Tiendanube wait headers).
        abandonment: the abandonment rule (default: 6 hours, 30 days retention).
        abandoned_only: when true, ``iter_abandoned_carts`` yields only checkouts the
            rule finds abandoned at the time of the pass.
        max_repair_walks: extra walks allowed when the store changes under a walk.
        max_result_window: deepest ``page * per_page`` a walk may reach.
        stats: shared :class:`HttpStats` (default: a new one, on ``connector.stats``).
        on_event: receives each HTTP event (redacted).
        on_progress: called after each page with ``(stream, fetched, total)``.
        on_invalid: receives each record that cannot be parsed (default: raise).

    Raises:
        ConfigurationError: a missing User-Agent, token or store id, a bad version or
            domain, or both ``client`` and ``transport``.
    """

    platform = Platform.TIENDANUBE
    streams = frozenset(_PATHS)
    unsupported: ClassVar[Mapping[Stream, str]] = {}
    default_overlap = c.DEFAULT_OVERLAP

    def __init__(
        self,
        *,
        store_id: str | int,
        access_token: str,
        user_agent: str,
        api_version: str = c.API_VERSION,
        domain: str = "tiendanube",
        base_url: str | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        language: str | None = None,
        currency: str | None = None,
        order_url_template: str | None = None,
        page_size: int = c.PAGE_SIZE,
        rate_limit_multiplier: float = 1.0,
        retry: RetryPolicy | None = None,
        abandonment: AbandonmentPolicy | None = None,
        abandoned_only: bool = False,
        max_repair_walks: int = c.MAX_REPAIR_WALKS,
        max_result_window: int = c.MAX_RESULT_WINDOW,
        stats: HttpStats | None = None,
        on_event: EventCallback | None = None,
        on_progress: ProgressCallback | None = None,
        on_invalid: InvalidRecordHandler | None = None,
    ) -> None:
        # Checked first, before anything else exists: a request without it is a 400.
        if not isinstance(user_agent, str) or not _CONTACT.search(user_agent or ""):
            raise ConfigurationError(
                "Tiendanube requires a User-Agent naming your app and a contact "
                '(an email address or a URL), e.g. user_agent="MyApp (dev@example.com)"; '
                "the API answers 400 Bad Request without one"
            )
        store = "" if isinstance(store_id, bool) else str(store_id).strip()
        if not c.NUMERIC_ID.fullmatch(store):
            # ASCII digits only: str.isdigit() would take "１２３" (full-width), which
            # int() reads as 123 but which would go into the URL path as it is.
            raise ConfigurationError(
                "store_id must be the numeric store id (the OAuth user_id), in ASCII "
                f"digits, got {store_id!r}"
            )
        if not c.API_VERSION_PATTERN.match(api_version):
            raise ConfigurationError(
                f"api_version must be 'v1' or a dated version such as {c.API_VERSION!r}, "
                f"got {api_version!r}"
            )
        if domain not in c.API_HOSTS:
            raise ConfigurationError(f"domain must be one of {sorted(c.API_HOSTS)}, got {domain!r}")
        if not 1 <= page_size <= c.MAX_PAGE_SIZE:
            raise ConfigurationError(f"page_size must be within 1..{c.MAX_PAGE_SIZE}")
        if max_result_window < page_size:
            raise ConfigurationError("max_result_window must be at least one page")
        super().__init__(on_invalid=on_invalid)
        self.store_id = store
        self.api_version = api_version
        self.domain = domain
        self.user_agent = user_agent
        self.language = language
        self.currency = currency
        self.order_url_template = order_url_template
        self.page_size = page_size
        self.abandonment = abandonment or AbandonmentPolicy(
            delay=c.CHECKOUT_LATE_APPEARANCE, retention=c.CHECKOUT_RETENTION
        )
        self.abandoned_only = abandoned_only
        self.max_repair_walks = max_repair_walks
        self.max_result_window = max_result_window
        self.on_progress = on_progress
        self.clock: Clock = clock if clock is not None else SystemClock()
        #: One report per stream pass, newest last.
        self.reports: list[WalkReport] = []
        root = (base_url or c.API_HOSTS[domain]).rstrip("/")
        self.engine = HttpEngine(
            platform="tiendanube",
            base_url=f"{root}/{api_version}/{store}",
            auth=HeaderTokenAuth.tiendanube(access_token),
            client=client,
            transport=transport,
            clock=self.clock,
            # mypy cannot type attrs' ``converter=tuple`` on wait_headers (see the report).
            retry=retry or RetryPolicy(wait_headers=TIENDANUBE_WAIT_HEADERS),
            rate_limiter=LeakyBucketLimiter.tiendanube(
                multiplier=rate_limit_multiplier, clock=self.clock
            ),
            user_agent=user_agent,
            stats=stats,
            on_event=on_event,
        )
        self._store: dict[str, Any] | None = None
        #: ``X-Main-Language`` from the last list page (used when ``GET /store`` is refused).
        self._header_language: str | None = None

    # -- identity and resources -------------------------------------------------------

    @property
    def connection_id(self) -> str:
        """``tiendanube:<store_id>`` (both brands share store ids)."""
        return connection_id_for(self.store_id)

    @property
    def stats(self) -> HttpStats:
        """The HTTP counters (requests, retries, 429s, waits)."""
        return self.engine.stats

    def close(self) -> None:
        """Close the HTTP client if the connector created it."""
        self.engine.close()
        super().close()

    def store_info(self) -> Mapping[str, Any]:
        """``GET /store`` (fetched once): main language and currency, domain, name.

        An app without access to it gets an empty mapping, and the defaults that
        depend on it (order URLs, product currency) are then left empty.
        """
        if self._store is None:
            try:
                body = self.engine.get("store").body
            except (NotFoundError, PermissionDeniedError) as exc:
                logger.warning("tiendanube %s: GET /store failed (%s)", self.store_id, exc)
                body = {}
            self._store = dict(body) if isinstance(body, Mapping) else {}
        return self._store

    def main_language(self) -> str | None:
        """The language names are read in: ``language=``, else the store's main one
        (``GET /store``, else the ``X-Main-Language`` header of the pages read so far)."""
        if self.language:
            return self.language
        value = self.store_info().get("main_language")
        return value if isinstance(value, str) and value else self._header_language

    def _store_name(self, *, read: bool = True) -> str | None:
        """The store's ``name`` from ``GET /store`` in the main language.

        With ``read=False`` only a profile already read counts: no request is sent.
        """
        if not read and self._store is None:
            return None
        info = self.store_info()
        return localized(info.get("name"), self.main_language() if info else None)

    def cart_status(
        self,
        cart: Cart,
        now: _dt.datetime | None = None,
        *,
        deleted_at: _dt.datetime | None = None,
    ) -> CartStatus:
        """The abandonment rule for one checkout (``rules.cart_status`` with this policy).

        Args:
            cart: a cart from :meth:`iter_abandoned_carts`.
            now: the moment of the decision (default: the connector's clock).
            deleted_at: when the checkout disappeared, if the caller saw it go.
        """
        return cart_status(
            cart,
            now or self.clock.now(),
            policy=self.abandonment,
            deleted_at=deleted_at,
        )

    # -- streams ----------------------------------------------------------------------

    def _fetch(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Fetched]:
        report = WalkReport(stream)
        self.reports.append(report)
        conn = self.connection_id
        params: dict[str, Any] = {"per_page": self.page_size}
        if since is not None and stream is not Stream.ABANDONED_CARTS:
            # "Show records last updated after date": maybe strict, so one second early;
            # the base class enforces the exact bound on the parsed records.
            params["updated_at_min"] = _iso(since - _dt.timedelta(seconds=1))
        yielded: dict[str, str] = {}

        walks: tuple[dict[str, Any], ...] = (params,)
        if stream is Stream.ORDERS:
            walks = tuple(
                {**params, "payment_status": status} if status else params
                for status in c.ORDER_PAYMENT_STATUS_WALKS
            )
        parser: Callable[[Any], Any]
        if stream is Stream.ABANDONED_CARTS:
            now = self.clock.now()
            # The name the connector knows (GET /store, read by the orders stream and
            # others); the checkouts walk sends no request of its own for it.
            store_name = self._store_name(read=False)

            def checkout(payload: Any) -> Any:
                cart = parse_cart(payload, connection_id=conn, store_name=store_name)
                # The base class skips a None: a checkout the rule does not keep is not
                # a refusal.
                if self.abandoned_only and not self.cart_status(cart, now).is_abandoned:
                    return None
                return cart

            parser = checkout
        else:
            parser = self._parser(stream)

        for walk_params in walks:
            for item in self._walk(stream, _PATHS[stream], walk_params, yielded, report):
                yield item, parser

    def _parser(self, stream: Stream) -> Callable[[Any], Record]:
        """The parser of one record of ``stream`` (customers, orders, products), set up
        with the store's details as every read of that stream uses them (webhook
        events resolve records through it too, so both paths give the same records)."""
        conn = self.connection_id
        if stream is Stream.CUSTOMERS:

            def customer(payload: Any) -> Record:
                return parse_customer(payload, connection_id=conn)

            return customer
        if stream is Stream.ORDERS:
            # Always read: the store name is wanted even with a caller's URL template.
            info = self.store_info()
            template = self.order_url_template
            domain = info.get("original_domain")
            if template is None and isinstance(domain, str) and domain:
                template = c.ADMIN_ORDER_URL_TEMPLATE.replace("{domain}", domain)
            store_name = self._store_name()

            def order(payload: Any) -> Record:
                return parse_order(
                    payload,
                    connection_id=conn,
                    order_url_template=template,
                    store_name=store_name,
                )

            return order
        if stream is Stream.PRODUCTS:
            language = self.language
            currency = self.currency
            if language is None or currency is None:
                info = self.store_info()
                language = language or self.main_language()
                main = info.get("main_currency")
                currency = currency or (main if isinstance(main, str) else None)

            def product(payload: Any) -> Record:
                # Without GET /store, the page's X-Main-Language (read before its records).
                return parse_product(
                    payload,
                    connection_id=conn,
                    language=language or self._header_language,
                    currency=currency,
                )

            return product
        raise ValueError(f"no single-record parser for {stream.value}")

    # -- walking pages ----------------------------------------------------------------

    def _walk(
        self,
        stream: Stream,
        path: str,
        params: Mapping[str, Any],
        yielded: dict[str, str],
        report: WalkReport,
    ) -> Iterator[Any]:
        """Every record of one query, walking again while the store shifts the pages."""
        for attempt in range(1 + self.max_repair_walks):
            walk = _Walk()
            report.walks += 1
            if attempt:
                report.repairs += 1
                logger.info(
                    "tiendanube %s: %s pages shifted during the walk; walking again (%d)",
                    self.store_id,
                    path,
                    attempt,
                )
            for item in self._windows(stream, path, params, walk, report):
                key = _key(item)
                if key is None:
                    report.records += 1
                    yield item  # no id: the parser refuses it with the payload
                    continue
                rid, stamp = key
                if rid in walk.ids and walk.ids[rid] != stamp:
                    walk.disturbed = True  # moved by an update: a neighbour was skipped
                walk.ids[rid] = stamp
                if yielded.get(rid) == stamp:
                    continue
                yielded[rid] = stamp
                report.records += 1
                yield item
            if walk.last_total is not None and walk.last_window_ids < walk.last_total:
                walk.disturbed = True  # fewer records than the server counts
            if not walk.disturbed:
                return
        logger.warning(
            "tiendanube %s: %s kept changing during %d walks; the next sync's overlap "
            "covers what moved",
            self.store_id,
            path,
            1 + self.max_repair_walks,
        )

    def _windows(
        self,
        stream: Stream,
        path: str,
        params: Mapping[str, Any],
        walk: _Walk,
        report: WalkReport,
    ) -> Iterator[Any]:
        """The pages of one query, opening a new window before ``max_result_window``."""
        window = dict(params)
        while True:
            report.windows += 1
            walk.last_total = None
            window_ids: set[str] = set()
            seen: list[tuple[int | None, _dt.datetime | None]] = []
            capped = False
            first = Request("GET", path, params=window)
            pager = PageWalk(
                TiendanubePaginator(self.page_size),
                first,
                platform="tiendanube",
                redact=self.engine.redactor.url,
            )
            request: Request | None = first
            while request is not None:
                if _page_number(request) * self.page_size > self.max_result_window:
                    capped = True
                    break
                try:
                    response = self.engine.send(request)
                except NotFoundError as exc:
                    # Past the last page Tiendanube answers 404 ("Last page is N"): the
                    # result set shrank while we walked.
                    if _page_number(request) > 1:
                        walk.disturbed = True
                        logger.info("tiendanube %s: %s", self.store_id, exc.message)
                        break
                    raise
                self.engine.stats.add(pages=1)
                report.pages += 1
                body = response.body
                if not isinstance(body, list):
                    raise MalformedResponseError(
                        f"GET {path}: expected a JSON array of records",
                        platform="tiendanube",
                        status_code=response.status_code,
                        method="GET",
                        url=self.engine.redactor.url(path),
                    )
                header_language = response.headers.get(c.MAIN_LANGUAGE_HEADER)
                if header_language and header_language.strip():
                    self._header_language = header_language.strip()
                total = _total(response)
                walk.see_total(total)
                report.total = total
                for item in body:
                    key = _key(item)
                    if key is not None:
                        window_ids.add(key[0])
                        seen.append(_position(item))
                    yield item
                if self.on_progress is not None:
                    self.on_progress(stream, len(window_ids), total)
                request = pager.advance(response)
            walk.last_window_ids = len(window_ids)
            if not capped or not seen:
                return
            following = {**params, **_next_window(seen, c.WINDOW_FILTERS[path])}
            if following == window:
                # More than a window of records share one second: no filter moves on.
                raise PaginationLoopError(
                    f"{path}?" + "&".join(f"{k}={v}" for k, v in following.items()),
                    platform="tiendanube",
                )
            window = following


def _position(item: Mapping[str, Any]) -> tuple[int | None, _dt.datetime | None]:
    from ..._parsing import parse_datetime

    rid = item.get("id")
    number: int | None = None
    if isinstance(rid, int) and not isinstance(rid, bool):
        number = rid
    elif isinstance(rid, str) and c.NUMERIC_ID.fullmatch(rid):
        number = int(rid)
    try:
        created = parse_datetime(item.get("created_at"))
    except ValueError:
        created = None
    return number, created


def _next_window(
    seen: list[tuple[int | None, _dt.datetime | None]],
    allowed: frozenset[str] = frozenset({"since_id", "created_at_min", "created_at_max"}),
) -> dict[str, Any]:
    """The filter that continues a walk after its deepest allowed page.

    ``allowed`` holds the filters the collection documents (checkouts have no
    ``created_at_min``): an undocumented filter may be ignored by the API, and a walk
    continued with an ignored filter reads the same window again.
    """
    ids = [i for i, _ in seen if i is not None]
    if "since_id" in allowed and len(ids) == len(seen) and ids == sorted(ids):
        return {"since_id": max(ids)}  # ascending ids: a keyset continues exactly
    stamps = [t for _, t in seen if t is not None]
    if not stamps:
        raise ConfigurationError("cannot continue past the result window without ids or dates")
    # The docs say "created after" / "before" (maybe strict): one second of overlap, so
    # records sharing the boundary second come again and are dropped as repeats.
    if stamps == sorted(stamps) and "created_at_min" in allowed:
        # Oldest first (ids out of step with dates, e.g. imported records).
        return {"created_at_min": _iso(max(stamps) - _dt.timedelta(seconds=1))}
    if stamps == sorted(stamps, reverse=True) and "created_at_max" in allowed:
        # Newest first: continue with what was created at or before the oldest seen.
        return {"created_at_max": _iso(min(stamps) + _dt.timedelta(seconds=1))}
    # Any other order cannot be continued by a documented filter: fail loudly rather
    # than drop records.
    raise MalformedResponseError(
        "cannot continue past the result window: the listing's order (ids "
        f"{'ascending' if ids == sorted(ids) else 'unordered'}) matches none of the "
        f"documented filters {sorted(allowed)}",
        platform="tiendanube",
    )
