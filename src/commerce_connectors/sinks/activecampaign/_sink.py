"""``ActiveCampaignSink``: contacts, e-commerce customers, orders and carts into ActiveCampaign.

Each item becomes the ActiveCampaign calls its kind needs, in ActiveCampaign's
order (connection → contact → ecomCustomer → ecomOrder), and every step is
lookup-or-create because the API has no idempotency keys:

* **connection**: one per synced store, ``service`` + ``externalid`` (our
  connection id), found again with ``GET /connections?filters[...]`` after a restart;
* **contact** (``contact`` items): ``POST /contact/sync`` (email, first/last name,
  phone), tags (``/tags`` found or created, ids cached; a contact found in the account
  has its tags read once before any ``POST /contactTags``), the
  company as an account (``/accounts`` + ``/accountContacts``) and the configured
  list (``POST /contactLists``) only on consent and never for someone who
  unsubscribed;
* **ecomCustomer** (``customer`` items, and on demand for orders and carts): one per
  connection and email, with ``acceptsMarketing``;
* **ecomOrder** (``order`` and ``cart`` items): looked up by ``externalid`` (orders)
  or ``externalcheckoutid`` (carts); created with ``source`` from the item's trigger
  decision (0 historical, 1 real time); updated with ``PUT`` only when it changed and
  the incoming version is newer (never changing ``source``); an abandoned cart
  becomes its order by an update that sets ``externalid`` and carries the order's
  whole body (``source`` and placement date included), never a second record,
  whichever of the two is synced first.

A create that fails with 400/422 is resolved by one lookup (the object already
existed: link it, update it if needed); one that fails with 5xx or no answer is
looked up before it is tried again, so a retry never makes a duplicate. A 404, or a
422 naming ``connectionid``/``customerid``, means an id the sink cached was deleted
in the account: it is forgotten, found or made again, and the item retried once.

What the sink learns (ids, what it last wrote) is cached for the life of the
object, so a contact seen again costs no request and an unchanged order none;
after a restart the lookups find everything again.

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator
    >>> clock = FakeClock()
    >>> sim = ActiveCampaignSimulator(clock=clock)
    >>> sink = ActiveCampaignSink(api_url=sim.api_url, api_token=sim.token,
    ...                           transport=sim.transport(), clock=clock)
    >>> sink.capabilities.batch_size, sorted(sink.capabilities.kinds)
    (1, ['cart', 'contact', 'customer', 'order'])
    >>> sink
    ActiveCampaignSink(api_url='https://simulated.api-us1.com')
    >>> sink.close()
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs
import httpx

from ..._http import HeaderTokenAuth, HttpEngine, LeakyBucketLimiter, RateLimiter, RetryPolicy
from ..._http import get_logger as _http_logger
from ..._http.stats import EventCallback
from ...clock import Clock, SystemClock
from ...errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ContactLimitError,
    FieldProblem,
    MalformedResponseError,
    MappingError,
    NotFoundError,
    RetriableError,
    ServerError,
    SinkError,
    TransportError,
)
from ...mapping import FieldMap
from ...models import Cart, Customer, Order
from ...protocols import BatchAck, ItemOutcome, SinkBatch, SinkCapabilities, SinkItem, WriteAction
from ...rules import (
    Contact,
    IdentityKind,
    Reason,
    RecordKey,
    defaults_for,
    is_guest,
    merge_contacts,
    normalize_email,
    should_subscribe,
)
from ._constants import (
    API_PATH,
    DEFAULT_REQUESTS_PER_SECOND,
    DEFAULT_SERVICE,
    LIST_SUBSCRIBE,
    ORDER_COMPARED_FIELDS,
    ORDER_CONVERT_FIELDS,
    ORDER_UPDATE_FIELDS,
    PAGE_LIMIT,
    REFERENCE_FIELDS,
    STATE_ABANDONED,
    TOKEN_ENV,
)
from ._errors import ActiveCampaignErrorMapper, ActiveCampaignValidationError, RecordRejectedError
from ._payloads import (
    Inexact,
    StoreInfo,
    UnrepresentableError,
    compared_view,
    digest,
    order_body,
    parse_instant,
)

__all__ = ["ActiveCampaignSink", "ActiveCampaignSinkError", "SinkNotice", "activecampaign_limiter"]

_log = _http_logger()
_PLATFORM: Final = "activecampaign"
_UNKNOWN: Final = "?"  # a membership or link the sink has not looked up yet
_KINDS: Final = frozenset({"contact", "customer", "order", "cart"})
_RECORD_TYPES: Final[Mapping[str, type[Any]]] = {
    "contact": Contact,
    "customer": Customer,
    "order": Order,
    "cart": Cart,
}
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


CreateHow = Literal["created", "duplicate", "recovered"]


def activecampaign_limiter(
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND, *, clock: Clock | None = None
) -> LeakyBucketLimiter:
    """A client-side pacer for one ActiveCampaign account: evenly spaced, never a burst.

    ActiveCampaign allows 5 requests per second per account and answers 429 beyond.
    Spacing requests ``1 / requests_per_second`` apart keeps every one-second window
    within the limit, so the sink slows down *before* a 429. Share one limiter
    between every sink writing to the same account.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> pacer = activecampaign_limiter(clock=FakeClock())
        >>> [round(pacer.acquire(), 3) for _ in range(3)]
        [0.0, 0.2, 0.2]
    """
    if requests_per_second <= 0:
        raise ConfigurationError(f"requests_per_second must be > 0, got {requests_per_second}")
    return LeakyBucketLimiter(
        capacity=1,
        leak_rate=requests_per_second,
        reader=None,
        safety_margin=0,
        learn_leak_rate=False,
        clock=clock,
    )


class ActiveCampaignSinkError(SinkError):
    """ActiveCampaign refused something that is not one record's fault (a connection,
    a permission, an endpoint): the batch stops here.

    Attributes:
        cause: the API error behind it.
    """

    def __init__(self, message: str, cause: APIError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


@attrs.frozen
class SinkNotice:
    """Something a run should report that is no single record's fate.

    Attributes:
        code: ``list_not_found`` (the configured list does not exist: contacts go
            to no list), ``duplicate_cart_removed`` (a cart and its order had become
            two records; the cart's was deleted).
        message: a sentence for the report.
    """

    code: str
    message: str


@attrs.define
class _Connection:
    id: str
    externalid: str
    name: str
    url: str
    logo_url: str
    created_here: bool


@attrs.define
class _Customer:
    id: str
    externalid: str
    email: str
    accepts: str | None
    owner: RecordKey | None = None
    updated_at: _dt.datetime | None = None


@attrs.define
class _Order:
    id: str
    updated_at: _dt.datetime | None
    digest: str | None
    #: A cart's record that became this order (``externalid``): the order's now, so the
    #: cart's item leaves it alone. ``None`` for an open cart (and for orders).
    order: str | None = None
    #: An order whose record is a cart the cart's item linked (``externalid`` set) before
    #: the order's own data was written: its first write is the whole conversion.
    converting: bool = False


@attrs.define
class _ContactState:
    id: str
    contact: Contact | None
    core: dict[str, str]
    #: Tag names attached (or found attached) by this process.
    tags: set[str] = attrs.field(factory=set)
    #: Ids of the tags the contact has in the account; ``None`` until read
    #: (``GET /contacts/{id}/contactTags``, on the first tag of a contact found there).
    tag_ids: set[str] | None = None
    account: str | None = _UNKNOWN
    list_status: str | None = _UNKNOWN


def _normalize_api_url(api_url: str) -> str:
    url = api_url.strip().rstrip("/")
    if url.endswith(API_PATH):
        url = url[: -len(API_PATH)]
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"api_url must be the account's API URL, https://<account>.api-us1.com; got {url!r}"
        )
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ConfigurationError(
            "api_url must use https: plain http would send the API key in clear "
            f"(only loopback test servers may use http), got {url!r}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError("api_url must not carry credentials, a query or a fragment")
    return url


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _source_pairs(contact: Contact) -> set[tuple[str, str | None]]:
    return {(s.connection_id, s.external_id) for s in contact.sources}


def _subscription(item: SinkItem, contact: Contact) -> bool:
    """Whether to subscribe the contact to the configured list.

    Decided on the merged contact, whose consent is the latest explicit choice of
    every record seen: an older "yes" never outweighs a newer "no". The item's own
    decision (``SinkItem.subscription``, one record's) can only hold it back.
    """
    declined = item.subscription is not None and (
        item.subscription.reason is Reason.CONSENT_DECLINED
    )
    if declined:
        return False
    return should_subscribe(contact.accepts_marketing).subscribe


class ActiveCampaignSink:
    """Writes synced data to an ActiveCampaign account (Deep Data API v3).

    Args:
        api_url: the account's API URL exactly as shown under Settings → Developer
            (``https://<account>.api-us1.com``); never built from the account name.
        api_token: the account's API key, sent in the ``Api-Token`` header to that host
            only; never shown in logs, reprs or errors.
        list_id: subscribe consenting contacts to this list (by id) …
        list_name: … or to the list with this name. A list that does not exist is
            reported (:attr:`notices`) and contacts go to no list.
        stores: per connection id, how the store appears as an ActiveCampaign
            connection (name, link, logo). Without it the name is the orders'
            ``store_name`` when they have one, else the connection id.
        service: the connections' ``service`` (with our connection id as
            ``externalid``, the pair identifies a store).
        contact_limit: the account's contact cap; new contacts beyond it are refused
            with ``ContactLimitError`` (the account's total is read once, then counted).
        requests_per_second: the client-side pace (ActiveCampaign allows 5 per account).
        rate_limiter: share one limiter between sinks writing to the same account.
        inexact: an amount finer than its currency's minor unit (BigCommerce keeps
            four decimals; tax-inclusive stores have sub-cent ex-tax prices):
            ``"round"`` it half-to-even to the minor unit ActiveCampaign stores
            (default) or ``"refuse"`` the record (dead-lettered).
        match_carts_by_email: off (``None``) by default. When set, an order that names
            no checkout (no ``checkout_id``, ``checkout_token`` or ``cart_id``) takes over
            the one open cart of its store and email abandoned at most this long before
            the order was placed, instead of becoming a record of its own. An email is
            not a link: see "Abandoned carts that convert" in ``docs/activecampaign.md``.
        client: an :class:`httpx.Client` you own (not closed by the sink).
        transport: an httpx transport for a client the sink creates (a simulator's).
        timeout: request timeout in seconds.
        retry: the retry policy (429 with ``Retry-After``, 5xx, transport errors).
        clock: where pacing and backoff sleep; a ``FakeClock`` in tests.
        on_event: receives the HTTP engine's events (URLs redacted).

    Raises:
        ConfigurationError: a bad URL, an empty token, both ``list_id`` and ``list_name``.
    """

    def __init__(
        self,
        *,
        api_url: str,
        api_token: str,
        list_id: int | str | None = None,
        list_name: str | None = None,
        stores: Mapping[str, StoreInfo] | None = None,
        service: str = DEFAULT_SERVICE,
        contact_limit: int | None = None,
        requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
        rate_limiter: RateLimiter | None = None,
        inexact: Inexact = "round",
        match_carts_by_email: _dt.timedelta | None = None,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        on_event: EventCallback | None = None,
    ) -> None:
        if list_id is not None and list_name is not None:
            raise ConfigurationError("pass list_id or list_name, not both")
        if contact_limit is not None and contact_limit < 0:
            raise ConfigurationError(f"contact_limit must be >= 0, got {contact_limit}")
        if inexact not in ("refuse", "round"):
            raise ConfigurationError(f"inexact is 'refuse' or 'round', got {inexact!r}")
        if not service.strip():
            raise ConfigurationError("service must not be empty")
        if match_carts_by_email is not None and match_carts_by_email <= _dt.timedelta(0):
            raise ConfigurationError(
                f"match_carts_by_email must be a positive duration, got {match_carts_by_email}"
            )
        self.api_url = _normalize_api_url(api_url)
        self._clock: Clock = clock if clock is not None else SystemClock()
        limiter = (
            rate_limiter
            if rate_limiter is not None
            else activecampaign_limiter(requests_per_second, clock=self._clock)
        )
        self.engine = HttpEngine(
            platform=_PLATFORM,
            base_url=self.api_url + API_PATH,
            auth=HeaderTokenAuth.activecampaign(api_token),
            client=client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            rate_limiter=limiter,
            error_mapper=ActiveCampaignErrorMapper(),
            clock=self._clock,
            on_event=on_event,
        )
        self.service = service
        self._list_id = None if list_id is None else str(list_id)
        self._list_name = list_name
        self._list: str | None = None
        self._list_resolved = list_id is None and list_name is None
        self._stores = dict(stores or {})
        self._inexact: Inexact = inexact
        self._cart_match = match_carts_by_email
        self._caps = SinkCapabilities(
            identity_kinds={IdentityKind.EMAIL},
            batch_size=1,
            contact_limit=contact_limit,
            fires_automations=True,
            kinds=_KINDS,
        )
        self._lock = threading.RLock()
        self._closed = False
        # What the sink knows about the account (cached for its life).
        self._connections: dict[str, _Connection] = {}
        self._customers: dict[tuple[str, str], _Customer] = {}
        self._orders: dict[RecordKey, _Order] = {}
        self._contacts: dict[str, _ContactState] = {}
        self._tags: dict[str, str] = {}
        self._accounts: dict[str, str] = {}
        self._contact_total: int | None = None
        self._learned_names: dict[str, str] = {}
        self._notices: list[SinkNotice] = []
        self._reported = 0

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ActiveCampaignSink:
        """Open a sink from ``activecampaign://<API host>[?list_id=…|list_name=…]``.

        The API key comes from ``api_token=`` or the ``ACTIVECAMPAIGN_API_TOKEN``
        environment variable, never from the URL. ``activecampaign+http://`` is
        accepted for a loopback test server only. Query options: ``list_id``,
        ``list_name``, ``contact_limit``, ``requests_per_second``, ``service``.

        Example:
            >>> sink = ActiveCampaignSink.from_url(
            ...     "activecampaign://acct.api-us1.com?list_name=Newsletter", api_token="k-123")
            >>> sink.api_url
            'https://acct.api-us1.com'
            >>> sink.close()

        Raises:
            ConfigurationError: no key, a bad URL or option, or a batch size other than 1.
        """
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise ConfigurationError(
                f"put the API key in {TOKEN_ENV}, not in the URL (it would end up in logs)"
            )
        scheme = {"activecampaign": "https", "activecampaign+http": "http"}.get(parts.scheme)
        if scheme is None or not parts.netloc:
            raise ConfigurationError(
                f"not an ActiveCampaign sink URL: {url!r}; use activecampaign://<account host>"
            )
        batch_size = options.pop("batch_size", None)
        if batch_size not in (None, 1):
            raise ConfigurationError(
                f"ActiveCampaign has no batch API: batch size is 1, got {batch_size}"
            )
        query: dict[str, Any] = dict(parse_qsl(parts.query))
        try:
            if "contact_limit" in query:
                query["contact_limit"] = int(query["contact_limit"])
            if "requests_per_second" in query:
                query["requests_per_second"] = float(query["requests_per_second"])
        except ValueError as exc:
            raise ConfigurationError(f"bad ActiveCampaign sink option: {exc}") from None
        unknown = set(query) - {
            "list_id",
            "list_name",
            "contact_limit",
            "requests_per_second",
            "service",
        }
        if unknown:
            raise ConfigurationError(f"unknown ActiveCampaign sink options {sorted(unknown)}")
        token = options.pop("api_token", None) or os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConfigurationError(f"no ActiveCampaign API key: set {TOKEN_ENV}")
        api_url = f"{scheme}://{parts.netloc}{parts.path}"
        return cls(api_url=api_url, api_token=token, **{**query, **options})

    # ------------------------------------------------------------------ the protocol

    @property
    def capabilities(self) -> SinkCapabilities:
        """Email-keyed contacts only, one item per write, the configured contact cap."""
        return self._caps

    def write(self, batch: SinkBatch) -> BatchAck:
        """Write each item in order; return once ActiveCampaign has accepted them.

        Every item is checked before the first request, so a batch with an item
        this sink cannot store raises :class:`~commerce_connectors.errors.SinkError`
        having written nothing. A record ActiveCampaign refuses (422) or cannot
        represent is ``refused`` on its own, its outcome carrying a
        :class:`RecordRejectedError` (the sync engine dead-letters it); the rest of
        the batch goes on.

        Raises:
            SinkError: an item of a kind or type this sink does not store, or a
                failure that is not one record's (the connection refused …).
            AuthenticationError: the API key was refused.
            RetriableError: rate limit, server or network trouble past the retry budget.
        """
        with self._lock:
            if self._closed:
                raise SinkError("the ActiveCampaign sink is closed")
            for item in batch.items:
                self._check_item(item)
            outcomes = [self._write_item(item, batch) for item in batch.items]
            return BatchAck(batch.sequence, tuple(outcomes))

    def close(self) -> None:
        """Close the HTTP client if the sink created it (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.engine.close()

    def __enter__(self) -> ActiveCampaignSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ActiveCampaignSink(api_url={self.api_url!r})"

    # ------------------------------------------------------------------ extras

    @property
    def notices(self) -> tuple[SinkNotice, ...]:
        """Things to report that are no single record's fate (a missing list …)."""
        with self._lock:
            return tuple(self._notices)

    def take_notices(self) -> list[str]:
        """The notices not yet reported, as sentences (the engine puts them in its report)."""
        with self._lock:
            fresh = self._notices[self._reported :]
            self._reported = len(self._notices)
        return [n.message for n in fresh]

    def set_status(self, key: RecordKey, status: str, at: _dt.datetime) -> bool:
        """Retire an abandoned cart the shop deleted: its ecomOrder goes, and with it the
        abandoned-cart automation's reason to act.

        Only ``deleted`` carts are acted on. A cart ``recovered`` by a purchase is
        converted when its order is written (``externalcheckoutid`` + the order's
        ``externalid``), as ActiveCampaign's guide describes; until then it stays.
        Returns whether an ecomOrder was deleted.
        """
        if key.kind != "cart" or status != "deleted":
            return False
        with self._lock:
            deleted = 0
            for conn in self._erase_targets(key.connection_id):
                params = {
                    "filters[connectionid]": str(conn["id"]),
                    "filters[externalcheckoutid]": key.external_id,
                }
                for row in self._all("ecomOrders", "ecomOrders", params):
                    open_cart = not row.get("externalid")  # not converted into an order
                    if str(row.get("externalcheckoutid")) == key.external_id and open_cart:
                        deleted += self._delete(f"ecomOrders/{row['id']}")
            self._orders.pop(key, None)
            return deleted > 0

    def http_stats(self) -> Mapping[str, Any]:
        """The HTTP counters (requests, 429s, waits), for reports and benchmarks."""
        return self.engine.stats.snapshot()

    def contact_exists(self, email: str) -> bool:
        """Whether ActiveCampaign has a contact with this email (cached once seen).

        For the rule that syncs a guest's order only when the guest is already a
        contact. An address that is not a valid email has no contact.
        """
        normalized = normalize_email(email).value
        if normalized is None:
            return False
        with self._lock:
            if normalized in self._contacts:
                return True
            found = self._find_contact(normalized)
            if found is not None:
                self._contacts[normalized] = self._contact_state(found)
            return found is not None

    def erase(
        self,
        connection_id: str | None,
        *,
        email: str | None = None,
        customer_external_id: str | None = None,
        order_external_ids: Sequence[str] = (),
    ) -> int:
        """Delete e-commerce data for a redaction request; return how many objects went.

        With ``email``, ``customer_external_id`` and/or ``order_external_ids``: that
        person's ecomCustomers, every ecomOrder (orders and carts) of them and the
        orders named, in ``connection_id`` or, when it is ``None``, in every
        connection of this sink's ``service``. With none of them: every ecomOrder
        and ecomCustomer of the connection, then the connection.
        The CRM contact itself is left: it may hold data from other sources (forms,
        campaigns) that a store's redaction request does not cover. Idempotent:
        erasing again returns 0.

        Example:
            >>> from commerce_connectors.clock import FakeClock
            >>> from commerce_connectors.testing.simulators.activecampaign import (
            ...     ActiveCampaignSimulator)
            >>> sim = ActiveCampaignSimulator(clock=FakeClock())
            >>> with ActiveCampaignSink(api_url=sim.api_url, api_token=sim.token,
            ...                         transport=sim.transport(), clock=sim.clock) as sink:
            ...     sink.erase("shopify:acme", email="ana@example.com")
            0
        """
        wanted = None
        if email is not None:
            wanted = normalize_email(email).value
            if wanted is None and customer_external_id is None and not order_external_ids:
                return 0
        with self._lock:
            deleted = 0
            for conn in self._erase_targets(connection_id):
                if wanted is None and customer_external_id is None and not order_external_ids:
                    deleted += self._erase_connection(conn)
                else:
                    deleted += self._erase_person(
                        conn, wanted, customer_external_id, order_external_ids
                    )
            return deleted

    # ------------------------------------------------------------------ dispatch

    def _check_item(self, item: SinkItem) -> None:
        if item.kind not in _KINDS:
            raise SinkError(
                f"the ActiveCampaign sink does not store {item.kind!r} records ({item.key})"
            )
        expected = _RECORD_TYPES[item.kind]
        if not isinstance(item.record, expected):
            raise SinkError(
                f"item {item.key} carries a {type(item.record).__name__}, not a {item.kind} record"
            )
        if item.kind != "contact" and not item.key.connection_id:
            raise SinkError(f"item {item.key} has no connection id")

    def _write_item(self, item: SinkItem, batch: SinkBatch) -> ItemOutcome:
        handlers: Mapping[str, Callable[[SinkItem, SinkBatch], ItemOutcome]] = {
            "contact": self._write_contact,
            "customer": self._write_customer,
            "order": self._write_order,
            "cart": self._write_order,
        }
        handler = handlers[item.kind]
        for attempt in (1, 2):
            try:
                return handler(item, batch)
            except ActiveCampaignValidationError as exc:
                # A 422 naming connectionid/customerid: an id the sink cached was deleted
                # in the account. Forget it, look it up (or create it) again, once.
                if attempt == 1 and self._forget_references(item, exc):
                    continue
                return self._reject(item, self._problems_of(item, exc), exc)
            except (AuthenticationError, RetriableError, SinkError):
                raise
            except NotFoundError as exc:
                # An id the sink cached was deleted behind its back: forget, try once more.
                if attempt == 1:
                    self._forget()
                    continue
                raise ActiveCampaignSinkError(f"writing {item.key}: {exc}", exc) from exc
            except APIError as exc:
                raise ActiveCampaignSinkError(f"writing {item.key}: {exc}", exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _forget_references(self, item: SinkItem, exc: ActiveCampaignValidationError) -> bool:
        """Forget the cached ids a 422 says are gone; whether there were any."""
        stale = {
            p.field for p in exc.problems if p.field in REFERENCE_FIELDS and not p.is_duplicate
        }
        connection_id = item.key.connection_id
        if not stale or not connection_id:
            return False
        _log.info(
            "%s",
            self.engine.redactor.text(
                f"activecampaign: {', '.join(sorted(str(f) for f in stale))} of {item.key} "
                "refused as unknown; looking it up again"
            ),
        )
        if "connectionid" in stale:
            # The connection went, and with it what the sink knew of its objects.
            self._forget_connection(connection_id)
        else:
            for key in [k for k in self._customers if k[0] == connection_id]:
                del self._customers[key]
        return True

    def _forget(self) -> None:
        self._connections.clear()
        self._customers.clear()
        self._orders.clear()
        self._contacts.clear()
        self._tags.clear()
        self._accounts.clear()

    @staticmethod
    def _problems_of(item: SinkItem, exc: ActiveCampaignValidationError) -> list[FieldProblem]:
        resource = {"contact": "contact", "customer": "ecomCustomer"}.get(item.kind, "ecomOrder")
        problems = [
            FieldProblem(f"{resource}.{p.field or '?'}", p.text, None) for p in exc.problems
        ]
        return problems or [FieldProblem(resource, exc.message, None)]

    def _reject(
        self, item: SinkItem, problems: Iterable[FieldProblem], cause: APIError | None = None
    ) -> ItemOutcome:
        record = item.record
        platform = record.platform.value if record.platform is not None else _PLATFORM
        record_id = record.external_id if isinstance(record, Contact) else item.key.external_id
        error = RecordRejectedError(
            platform=platform,
            kind=item.kind,
            record_id=record_id,
            problems=tuple(problems),
            payload=record.raw,
            cause=cause,
        )
        _log.info("%s", self.engine.redactor.text(f"activecampaign: refused {item.key}: {error}"))
        return ItemOutcome(item.key, WriteAction.REFUSED, Reason.SINK_REJECTED, error=error)

    # ------------------------------------------------------------------ HTTP helpers

    def _list_call(self, path: str, plural: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        response = self.engine.get(path, params={**params, "limit": PAGE_LIMIT})
        body = response.body
        rows = body.get(plural) if isinstance(body, Mapping) else None
        if not isinstance(rows, list):
            raise MalformedResponseError(
                f"GET {path}: no {plural!r} list in the answer", platform=_PLATFORM
            )
        return [dict(r) for r in rows if isinstance(r, Mapping)]

    def _find(
        self,
        path: str,
        plural: str,
        params: Mapping[str, Any],
        match: Callable[[Mapping[str, Any]], bool],
    ) -> dict[str, Any] | None:
        # Filters narrow the answer; the match re-checks it, so a loose filter ("contains")
        # never hands back the wrong object.
        for row in self._list_call(path, plural, params):
            if match(row):
                return row
        return None

    def _object(self, response_body: Any, key: str, what: str) -> dict[str, Any]:
        obj = response_body.get(key) if isinstance(response_body, Mapping) else None
        if not isinstance(obj, Mapping) or obj.get("id") in (None, ""):
            raise MalformedResponseError(
                f"{what}: no {key!r} object with an id", platform=_PLATFORM
            )
        return dict(obj)

    def _create(
        self,
        path: str,
        key: str,
        body: Mapping[str, Any],
        lookup: Callable[[], dict[str, Any] | None],
    ) -> tuple[dict[str, Any], CreateHow]:
        """POST a new object; on a refusal or a lost answer, look it up before anything else."""
        attempts = max(1, self.engine.retry.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = self.engine.post(path, json={key: dict(body)})
                return self._object(response.body, key, f"POST {path}"), "created"
            except ActiveCampaignValidationError:
                # Both of ActiveCampaign's serious integrations do this on 422/400:
                # it probably exists already.
                found = lookup()
                if found is not None:
                    return found, "duplicate"
                raise
            except (ServerError, TransportError, MalformedResponseError):
                # The create may have happened: never POST again before looking.
                found = lookup()
                if found is not None:
                    return found, "recovered"
                if attempt >= attempts:
                    raise
                wait = self.engine.retry.backoff(attempt)
                self.engine.stats.add(retries=1, backoff_wait=wait)
                self._clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ connections

    def _store(self, connection_id: str) -> tuple[StoreInfo, bool]:
        """The store's connection details, and whether they are known (not a fallback)."""
        explicit = self._stores.get(connection_id)
        if explicit is not None:
            return explicit, True
        learned = self._learned_names.get(connection_id)
        if learned is not None:
            return StoreInfo(learned), True
        return StoreInfo(connection_id), False

    def _connection(self, connection_id: str, record: Any) -> _Connection:
        name = getattr(record, "store_name", None)
        if isinstance(name, str) and name.strip() and connection_id not in self._stores:
            self._learned_names[connection_id] = name.strip()
        store, known = self._store(connection_id)
        state = self._connections.get(connection_id)
        try:
            if state is None:
                state = self._open_connection(connection_id, store)
                self._connections[connection_id] = state
            wanted = (store.name, store.url, store.logo_url)
            if known and (state.name, state.url, state.logo_url) != wanted:
                self.engine.request(
                    "PUT",
                    f"connections/{state.id}",
                    json={
                        "connection": {
                            "name": store.name,
                            "linkUrl": store.url,
                            "logoUrl": store.logo_url,
                        }
                    },
                )
                state.name, state.url, state.logo_url = wanted
        except ActiveCampaignValidationError as exc:
            # Not one record's fault: every item of this store would fail the same way.
            raise ActiveCampaignSinkError(
                f"ActiveCampaign refused the connection for {connection_id!r}: {exc}", exc
            ) from exc
        return state

    def _find_connection(self, connection_id: str) -> dict[str, Any] | None:
        return self._find(
            "connections",
            "connections",
            {"filters[service]": self.service, "filters[externalid]": connection_id},
            lambda r: r.get("service") == self.service and r.get("externalid") == connection_id,
        )

    def _open_connection(self, connection_id: str, store: StoreInfo) -> _Connection:
        found = self._find_connection(connection_id)
        created_here = False
        if found is None:
            body = {
                "service": self.service,
                "externalid": connection_id,
                "name": store.name,
                "logoUrl": store.logo_url,
                "linkUrl": store.url,
            }
            found, how = self._create(
                "connections", "connection", body, lambda: self._find_connection(connection_id)
            )
            created_here = how == "created"
        return _Connection(
            id=str(found["id"]),
            externalid=connection_id,
            name=str(found.get("name") or ""),
            url=str(found.get("linkUrl") or ""),
            logo_url=str(found.get("logoUrl") or ""),
            # A connection this sink created holds only what this sink wrote (and
            # cached), so lookups of its customers and orders can be skipped.
            created_here=created_here,
        )

    # ------------------------------------------------------------------ contacts

    def _find_contact(self, email: str) -> dict[str, Any] | None:
        return self._find(
            "contacts",
            "contacts",
            {"email": email},
            lambda r: str(r.get("email", "")).lower() == email,
        )

    @staticmethod
    def _contact_state(found: Mapping[str, Any]) -> _ContactState:
        core = {
            k: str(found[k])
            for k in ("email", "firstName", "lastName", "phone")
            if _str(found.get(k))
        }
        return _ContactState(id=str(found["id"]), contact=None, core=core)

    def _contact_count(self, *, refresh: bool = False) -> int:
        if self._contact_total is None or refresh:
            response = self.engine.get("contacts", params={"limit": 1})
            meta = response.body.get("meta") if isinstance(response.body, Mapping) else None
            total = meta.get("total") if isinstance(meta, Mapping) else None
            try:
                self._contact_total = int(str(total))
            except ValueError:
                raise MalformedResponseError(
                    "GET contacts: no meta.total in the answer", platform=_PLATFORM
                ) from None
        return self._contact_total

    def _cap_refusal(self, item: SinkItem, email: str) -> ItemOutcome | None:
        limit = self._caps.contact_limit
        if limit is None or self._contact_count() < limit:
            return None
        # At the cap by our count: read the account's own figure once more before refusing.
        if self._contact_count(refresh=True) < limit:
            return None
        return ItemOutcome(
            item.key,
            WriteAction.REFUSED,
            Reason.CONTACT_LIMIT,
            error=ContactLimitError(limit, email),
        )

    def _write_contact(self, item: SinkItem, batch: SinkBatch) -> ItemOutcome:
        incoming = item.record
        assert isinstance(incoming, Contact)
        if incoming.key.kind is not IdentityKind.EMAIL:
            # ActiveCampaign keys contacts (and Deep Data) on the email: nothing to send.
            return ItemOutcome(item.key, WriteAction.REFUSED, Reason.NO_IDENTITY)
        email = incoming.key.value
        state = self._contacts.get(email)
        new = False
        if state is None:
            found = self._find_contact(email)
            if found is None:
                refusal = self._cap_refusal(item, email)
                if refusal is not None:
                    return refusal
                new = True
            else:
                state = self._contact_state(found)
        known = state.contact if state is not None else None
        merged = incoming if known is None else merge_contacts([known, incoming])[incoming.key]
        if known is not None:
            duplicate = not _source_pairs(incoming) <= _source_pairs(known)
        else:
            duplicate = state is not None and not self._sources_seen(incoming, email)
        try:
            fields = self._contact_fields(batch.contact_map, merged)
        except MappingError as exc:
            return self._reject(item, exc.problems)
        desired = {
            k: str(fields[k]) for k in ("firstName", "lastName", "phone") if _str(fields.get(k))
        }
        changed = False
        if state is None:
            response = self.engine.post(
                "contact/sync", json={"contact": {"email": email, **desired}}, idempotent=True
            )
            obj = self._object(response.body, "contact", "POST contact/sync")
            state = _ContactState(
                id=str(obj["id"]),
                contact=None,
                core={"email": email, **desired},
                tag_ids=set(),  # created now: it has no tags yet
                account=None,
                list_status=None,
            )
            if self._contact_total is not None:
                self._contact_total += 1
        else:
            send = {k: v for k, v in desired.items() if state.core.get(k) != v}
            if send:
                self.engine.post(
                    "contact/sync", json={"contact": {"email": email, **send}}, idempotent=True
                )
                state.core.update(send)
                changed = True
        # The state is cached before the optional steps, so a failure in one of them
        # does not lose the contact's id.
        self._contacts[email] = state
        tags = fields.get("tags") or ()
        for tag in tags if isinstance(tags, (list, tuple)) else (tags,):
            changed |= self._tag_contact(state, str(tag))
        account = _str(fields.get("account"))
        if account is not None and state.account != account:
            changed |= self._link_account(state, account)
        if _subscription(item, merged):
            changed |= self._subscribe(state)
        state.contact = merged
        action = (
            WriteAction.INSERTED
            if new
            else WriteAction.UPDATED
            if changed
            else WriteAction.UNCHANGED
        )
        return ItemOutcome(item.key, action, merged=duplicate)

    def _sources_seen(self, contact: Contact, email: str) -> bool:
        """Whether ActiveCampaign already has this contact from each of its sources.

        For a contact found in the account but unknown to this sink (after a restart,
        or made by a form): its e-commerce customers tell which stores and customer
        ids it came from. A source without one folds a new record into the contact.
        """
        rows = self._list_call("ecomCustomers", "ecomCustomers", {"filters[email]": email})
        seen = {
            (str(r.get("connectionid")), str(r.get("externalid")))
            for r in rows
            if str(r.get("email", "")).lower() == email
        }
        for source in contact.sources:
            conn = self._connections.get(source.connection_id)
            if conn is None:
                found = self._find_connection(source.connection_id)
                if found is None:
                    return False
                conn_id = str(found["id"])
            else:
                conn_id = conn.id
            if (conn_id, source.external_id or email) not in seen:
                return False
        return True

    @staticmethod
    def _contact_fields(contact_map: FieldMap, contact: Contact) -> Mapping[str, Any]:
        return contact_map.apply(contact).fields

    def _tag_id(self, name: str) -> str:
        folded = name.casefold()
        cached = self._tags.get(folded)
        if cached is not None:
            return cached

        def lookup() -> dict[str, Any] | None:
            return self._find(
                "tags",
                "tags",
                {"filters[search][eq]": name},
                lambda r: str(r.get("tag", "")).casefold() == folded,
            )

        found = lookup()
        if found is None:
            body = {"tag": name, "tagType": "contact", "description": ""}
            found, _ = self._create("tags", "tag", body, lookup)
        self._tags[folded] = str(found["id"])
        return self._tags[folded]

    def _contact_tag_ids(self, state: _ContactState) -> set[str]:
        """The ids of the tags the contact has in the account (read once per process)."""
        if state.tag_ids is None:
            response = self.engine.get(f"contacts/{state.id}/contactTags")
            rows = response.body.get("contactTags") if isinstance(response.body, Mapping) else None
            if not isinstance(rows, list):
                raise MalformedResponseError(
                    "GET contacts/{id}/contactTags: no 'contactTags' list in the answer",
                    platform=_PLATFORM,
                )
            state.tag_ids = {
                str(r.get("tag"))
                for r in rows
                if isinstance(r, Mapping) and str(r.get("contact", state.id)) == state.id
            }
        return state.tag_ids

    def _tag_contact(self, state: _ContactState, name: str) -> bool:
        if name in state.tags:
            return False
        tag_id = self._tag_id(name)
        # A contact this process did not create may have the tag already (a restart, a
        # form, another integration): read its tags before attaching any, rather than
        # rely on an undocumented 200 for an existing link.
        if tag_id in self._contact_tag_ids(state):
            state.tags.add(name)
            return False
        response = self.engine.post(
            "contactTags",
            json={"contactTag": {"contact": state.id, "tag": tag_id}},
            idempotent=True,
        )
        state.tags.add(name)
        self._contact_tag_ids(state).add(tag_id)
        # 201: tagged now. 200 (assumed by Sylius, not documented): it had it already.
        return response.status_code != 200

    def _account_id(self, name: str) -> str:
        folded = name.casefold()
        cached = self._accounts.get(folded)
        if cached is not None:
            return cached

        def lookup() -> dict[str, Any] | None:
            return self._find(
                "accounts",
                "accounts",
                {"search": name},
                lambda r: str(r.get("name", "")).casefold() == folded,
            )

        found = lookup()
        if found is None:
            found, _ = self._create("accounts", "account", {"name": name}, lookup)
        self._accounts[folded] = str(found["id"])
        return self._accounts[folded]

    def _link_account(self, state: _ContactState, name: str) -> bool:
        account_id = self._account_id(name)
        links: list[dict[str, Any]] = []
        if state.account is not None:  # unknown, or another account: look
            links = self._list_call(
                "accountContacts", "accountContacts", {"filters[contact]": state.id}
            )
            links = [r for r in links if str(r.get("contact")) == state.id]
        changed = True
        if any(str(r.get("account")) == account_id for r in links):
            changed = False
        elif links:
            # The company changed at the store: move the contact to the new account.
            self.engine.request(
                "PUT",
                f"accountContacts/{links[0]['id']}",
                json={"accountContact": {"account": account_id}},
            )
        else:
            body = {"account": account_id, "contact": state.id}

            def existing_link() -> dict[str, Any] | None:
                # A lost answer may hide a link that was made: never POST it twice.
                rows = self._list_call(
                    "accountContacts", "accountContacts", {"filters[contact]": state.id}
                )
                return next((r for r in rows if str(r.get("account")) == account_id), None)

            self._create("accountContacts", "accountContact", body, existing_link)
        state.account = name
        return changed

    def _resolve_list(self) -> str | None:
        if self._list_resolved:
            return self._list
        found: Mapping[str, Any] | None = None
        if self._list_id is not None:
            try:
                response = self.engine.get(f"lists/{self._list_id}")
                found = self._object(response.body, "list", "GET list")
            except NotFoundError:
                found = None
            wanted = f"id {self._list_id}"
        else:
            name = self._list_name or ""
            found = self._find(
                "lists", "lists", {"filters[name]": name}, lambda r: r.get("name") == name
            )
            wanted = f"name {name!r}"
        self._list_resolved = True
        self._list = None if found is None else str(found["id"])
        if self._list is None:
            message = (
                f"the configured ActiveCampaign list ({wanted}) does not exist: "
                "contacts are added to no list"
            )
            self._notices.append(SinkNotice("list_not_found", message))
            _log.warning("%s", message)
        return self._list

    def _subscribe(self, state: _ContactState) -> bool:
        list_id = self._resolve_list()
        if list_id is None:
            return False
        if state.list_status == _UNKNOWN:
            response = self.engine.get(f"contacts/{state.id}/contactLists")
            rows = response.body.get("contactLists") if isinstance(response.body, Mapping) else None
            state.list_status = None
            for row in rows if isinstance(rows, list) else ():
                if isinstance(row, Mapping) and str(row.get("list")) == list_id:
                    state.list_status = str(row.get("status"))
        if state.list_status is not None:
            # Subscribed already, or unsubscribed (or bounced): never subscribe again.
            return False
        self.engine.post(
            "contactLists",
            json={"contactList": {"list": list_id, "contact": state.id, "status": LIST_SUBSCRIBE}},
            idempotent=True,
        )
        state.list_status = LIST_SUBSCRIBE
        return True

    # ------------------------------------------------------------------ ecomCustomers

    def _email(self, item: SinkItem) -> str | None:
        if item.contact and "@" in item.contact:
            return item.contact
        record = item.record
        candidates: list[str | None] = []
        if isinstance(record, (Customer, Order, Cart)):
            candidates.append(record.email)
        if isinstance(record, (Order, Cart)) and record.customer is not None:
            candidates.append(record.customer.email)
        for candidate in candidates:
            value = normalize_email(candidate).value
            if value is not None:
                return value
        return None

    def _find_customer(
        self, conn: _Connection, *, email: str | None = None, externalid: str | None = None
    ) -> dict[str, Any] | None:
        params: dict[str, Any] = {"filters[connectionid]": conn.id}
        if email is not None:
            params["filters[email]"] = email
        if externalid is not None:
            params["filters[externalid]"] = externalid
        return self._find(
            "ecomCustomers",
            "ecomCustomers",
            params,
            lambda r: (
                str(r.get("connectionid")) == conn.id
                and (email is None or str(r.get("email", "")).lower() == email)
                and (externalid is None or str(r.get("externalid")) == externalid)
            ),
        )

    def _customer_state(self, found: Mapping[str, Any]) -> _Customer:
        return _Customer(
            id=str(found["id"]),
            externalid=str(found.get("externalid") or ""),
            email=str(found.get("email") or "").lower(),
            accepts=_str(found.get("acceptsMarketing")),
        )

    def _customer_for(
        self, conn: _Connection, email: str, external_id: str | None, accepts: str | None
    ) -> str:
        """The ecomCustomer id of (connection, email), created when missing."""
        key = (conn.externalid, email)
        state = self._customers.get(key)
        if state is not None:
            return state.id
        found = None if conn.created_here else self._find_customer(conn, email=email)
        if found is None:
            body = {"connectionid": conn.id, "externalid": external_id or email, "email": email}
            if accepts is not None:
                body["acceptsMarketing"] = accepts

            def lookup() -> dict[str, Any] | None:
                return self._find_customer(conn, email=email) or (
                    self._find_customer(conn, externalid=external_id) if external_id else None
                )

            found, _ = self._create("ecomCustomers", "ecomCustomer", body, lookup)
        state = self._customer_state(found)
        self._customers[key] = state
        return state.id

    @staticmethod
    def _accepts(item: SinkItem, record: Customer) -> str | None:
        mapped = item.fields.get("acceptsMarketing")
        if mapped in ("0", "1"):
            return str(mapped)
        if record.accepts_marketing is None:
            return None
        return "1" if record.accepts_marketing else "0"

    def _write_customer(self, item: SinkItem, batch: SinkBatch) -> ItemOutcome:
        record = item.record
        assert isinstance(record, Customer)
        email = self._email(item)
        if email is None:
            return ItemOutcome(item.key, WriteAction.REFUSED, Reason.NO_IDENTITY)
        conn = self._connection(item.key.connection_id, record)
        ext = item.key.external_id
        accepts = self._accepts(item, record)
        key = (conn.externalid, email)
        state = self._customers.get(key)
        if (
            state is not None
            and state.owner == item.key
            and state.updated_at is not None
            and record.updated_at < state.updated_at
        ):
            return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
        if state is None and not conn.created_here:
            found = self._find_customer(conn, email=email) or self._find_customer(
                conn, externalid=ext
            )
            state = None if found is None else self._customer_state(found)
        if state is None:
            body = {"connectionid": conn.id, "externalid": ext, "email": email}
            if accepts is not None:
                body["acceptsMarketing"] = accepts

            def lookup() -> dict[str, Any] | None:
                return self._find_customer(conn, email=email) or self._find_customer(
                    conn, externalid=ext
                )

            found, how = self._create("ecomCustomers", "ecomCustomer", body, lookup)
            state = self._customer_state(found)
            self._customers[key] = state
            if how != "duplicate":
                state.owner, state.updated_at = item.key, record.updated_at
                return ItemOutcome(item.key, WriteAction.INSERTED)
        self._customers[key] = state
        placeholder = state.externalid == state.email  # made for an order before its customer
        if state.externalid != ext and not placeholder:
            # Another customer record of this store has the same email and owns this
            # ecomCustomer (one per connection and email): nothing to write.
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        desired = {"externalid": ext, "email": email, "acceptsMarketing": accepts or state.accepts}
        current = {
            "externalid": state.externalid,
            "email": state.email,
            "acceptsMarketing": state.accepts,
        }
        action = (
            WriteAction.INSERTED if placeholder and ext != state.externalid else WriteAction.UPDATED
        )
        if desired == current:
            action = WriteAction.UNCHANGED
        else:
            change = {k: v for k, v in desired.items() if v is not None and current.get(k) != v}
            self.engine.request("PUT", f"ecomCustomers/{state.id}", json={"ecomCustomer": change})
            state.externalid, state.email = ext, email
            state.accepts = desired["acceptsMarketing"]
        state.owner, state.updated_at = item.key, record.updated_at
        return ItemOutcome(item.key, action)

    # ------------------------------------------------------------------ ecomOrders

    def _find_order(self, conn: _Connection, field: str, value: str) -> dict[str, Any] | None:
        return self._find(
            "ecomOrders",
            "ecomOrders",
            {"filters[connectionid]": conn.id, f"filters[{field}]": value},
            lambda r: str(r.get("connectionid")) == conn.id and str(r.get(field)) == value,
        )

    def _put_order(self, order_id: str, body: Mapping[str, Any]) -> None:
        update = {k: body[k] for k in ORDER_UPDATE_FIELDS if k in body}
        self.engine.request("PUT", f"ecomOrders/{order_id}", json={"ecomOrder": update})

    @staticmethod
    def _source(item: SinkItem) -> int:
        # No decision means no automation: only an explicit "fires" writes source 1.
        return item.trigger.source if item.trigger is not None else 0

    @staticmethod
    def _buyer_id(record: Order | Cart) -> str | None:
        markers = defaults_for(record.platform).guests.guest_customer_ids
        if is_guest(record, guest_customer_ids=markers):
            return None
        if record.customer is not None and not record.customer.is_guest:
            return record.customer.external_id
        return record.customer_external_id

    @staticmethod
    def _buyer_accepts(record: Order | Cart) -> str | None:
        value = record.customer.accepts_marketing if record.customer is not None else None
        return None if value is None else "1" if value else "0"

    @staticmethod
    def _newer(
        new_at: _dt.datetime,
        new_digest: str,
        stored_at: _dt.datetime | None,
        stored_digest: str | None,
    ) -> bool:
        """Whether the incoming version replaces the stored one (ties: a fixed content order)."""
        if stored_at is None or new_at > stored_at:
            return True
        if new_at < stored_at:
            return False
        return stored_digest is None or new_digest > stored_digest

    def _write_order(self, item: SinkItem, batch: SinkBatch) -> ItemOutcome:
        record = item.record
        assert isinstance(record, (Order, Cart))
        email = self._email(item)
        if email is None:
            return ItemOutcome(item.key, WriteAction.REFUSED, Reason.NO_IDENTITY)
        try:
            built = order_body(
                record, item.fields, key=item.key.external_id, email=email, inexact=self._inexact
            )
        except UnrepresentableError as exc:
            return self._reject(item, exc.problems)
        conn = self._connection(item.key.connection_id, record)
        if isinstance(record, Cart) and (
            record.completed_at is not None
            or record.order_external_id is not None
            or item.status == "recovered"
        ):
            return self._write_converted_cart(item, record, conn)
        body = dict(built.body)
        full = digest(body)
        state = self._orders.get(item.key)
        if state is not None:
            if state.order is not None or state.digest == full:
                return ItemOutcome(item.key, WriteAction.UNCHANGED)
            if state.converting:
                return self._convert(item, conn, state.id, body, full, email)
            if not self._newer(record.updated_at, full, state.updated_at, state.digest):
                return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
            self._put_order(state.id, body)
            state.updated_at, state.digest = record.updated_at, full
            return ItemOutcome(item.key, WriteAction.UPDATED)
        field = "externalcheckoutid" if built.is_cart else "externalid"
        existing = (
            None if conn.created_here else self._find_order(conn, field, item.key.external_id)
        )
        if existing is not None:
            return self._update_found(item, conn, existing, body, full, email)
        if isinstance(record, Order):
            # Before a new record: an abandoned cart of this order becomes it (the
            # abandoned-cart guide's recovery), never a second record beside it.
            cart = self._linked_cart(conn, built.checkout_ids)
            if cart is None and not built.checkout_ids:
                cart = self._cart_by_email(conn, email, record)
            if cart is not None:
                return self._convert(item, conn, str(cart["id"]), body, full, email, cart)
        customer_id = self._customer_for(
            conn, email, self._buyer_id(record), self._buyer_accepts(record)
        )
        create = {
            **body,
            "connectionid": conn.id,
            "customerid": customer_id,
            "source": self._source(item),
        }
        found, how = self._create(
            "ecomOrders",
            "ecomOrder",
            create,
            lambda: self._find_order(conn, field, item.key.external_id),
        )
        if how == "duplicate":
            return self._update_found(item, conn, found, body, full, email)
        self._orders[item.key] = _Order(str(found["id"]), record.updated_at, full)
        return ItemOutcome(item.key, WriteAction.INSERTED)

    @staticmethod
    def _conversion_pending(record: Order, existing: Mapping[str, Any]) -> bool:
        """Whether a found record is a cart linked to this order but not yet given its data.

        A cart's item sets only ``externalid`` on the cart's record (the order's data is
        not in the cart); the order's first write completes it. Until then the record
        still carries the cart's creation date, not the order's placement date.
        """
        if _str(existing.get("externalcheckoutid")) is None:
            return False
        placed = parse_instant(existing.get("externalCreatedDate"))
        return placed != record.created_at.replace(microsecond=0)

    def _update_found(
        self,
        item: SinkItem,
        conn: _Connection,
        existing: Mapping[str, Any],
        body: Mapping[str, Any],
        full: str,
        email: str,
    ) -> ItemOutcome:
        """An order or cart ActiveCampaign already has: leave it, or update it if older."""
        record = item.record
        assert isinstance(record, (Order, Cart))
        order_id = str(existing["id"])
        if isinstance(record, Cart):
            linked = _str(existing.get("externalid"))
            if linked is not None:
                # The cart became an order: the object is the order's now.
                self._orders[item.key] = _Order(order_id, None, None, order=linked)
                return ItemOutcome(item.key, WriteAction.UNCHANGED)
        elif self._conversion_pending(record, existing):
            return self._convert(item, conn, order_id, body, full, email)
        # Only what the account echoes back, and what a PUT would set, can be compared (a
        # field it does not return, or one the body does not carry, would look changed on
        # every run: a converted cart keeps its externalcheckoutid and abandonedDate).
        shown = [f for f in ORDER_COMPARED_FIELDS if f in existing and f in body]
        stored_view, new_view = compared_view(existing, shown), compared_view(body, shown)
        if stored_view == new_view:
            self._orders[item.key] = _Order(order_id, record.updated_at, full)
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        # ActiveCampaign keeps whole seconds: compare the versions at that precision.
        stored_at = parse_instant(existing.get("externalUpdatedDate"))
        new_at = record.updated_at.replace(microsecond=0)
        if not self._newer(new_at, digest(new_view), stored_at, digest(stored_view)):
            self._orders[item.key] = _Order(order_id, stored_at, None)
            return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
        self._put_order(order_id, body)
        self._orders[item.key] = _Order(order_id, record.updated_at, full)
        return ItemOutcome(item.key, WriteAction.UPDATED)

    def _cart_object(self, conn: _Connection, checkout_id: str) -> dict[str, Any] | None:
        """The record of a cart (open or converted), from the cache or the account."""
        key = RecordKey(conn.externalid, "cart", checkout_id)
        cached = self._orders.get(key)
        if cached is not None:
            return {"id": cached.id, "externalcheckoutid": checkout_id, "externalid": cached.order}
        if conn.created_here:
            return None  # this process made the connection: it knows every cart in it
        return self._find_order(conn, "externalcheckoutid", checkout_id)

    def _linked_cart(self, conn: _Connection, checkout_ids: Sequence[str]) -> dict[str, Any] | None:
        """The open cart record of the checkout an order names, if one was written."""
        for checkout_id in checkout_ids:
            cart = self._cart_object(conn, checkout_id)
            if cart is not None and _str(cart.get("externalid")) is None:
                return cart
        return None

    def _cart_by_email(self, conn: _Connection, email: str, order: Order) -> dict[str, Any] | None:
        """With ``match_carts_by_email``: the one open cart an order naming no checkout
        may come from (same store and email, abandoned before the order, within the
        window). Two candidates are ambiguous: no match.
        """
        window = self._cart_match
        if window is None:
            return None
        if conn.created_here and not any(
            k.connection_id == conn.externalid and k.kind == "cart" and v.order is None
            for k, v in self._orders.items()
        ):
            return None  # this process made the connection and wrote no open cart in it
        placed = order.created_at.replace(microsecond=0)
        rows = self._list_call(
            "ecomOrders",
            "ecomOrders",
            {
                "filters[connectionid]": conn.id,
                "filters[email]": email,
                "filters[state]": STATE_ABANDONED,
            },
        )
        candidates = []
        for row in rows:
            abandoned = parse_instant(row.get("abandonedDate"))
            if (
                str(row.get("connectionid")) == conn.id
                and str(row.get("email", "")).lower() == email
                and str(row.get("state")) == STATE_ABANDONED
                and _str(row.get("externalid")) is None
                and _str(row.get("externalcheckoutid")) is not None
                and abandoned is not None
                and placed - window <= abandoned <= placed
            ):
                candidates.append(row)
        return candidates[0] if len(candidates) == 1 else None

    def _convert(
        self,
        item: SinkItem,
        conn: _Connection,
        record_id: str,
        body: Mapping[str, Any],
        full: str,
        email: str,
        cart: Mapping[str, Any] | None = None,
    ) -> ItemOutcome:
        """Write an order onto the record of the abandoned cart it came from.

        The abandoned-cart guide's recovery: an update of the cart's ecomOrder that sets
        the order's ``externalid`` (its state becomes "recovered"). The update carries
        the order's whole body, its ``source`` (whether "makes a purchase" fires),
        placement date and customer included, as ActiveCampaign's Magento module does.
        """
        record = item.record
        assert isinstance(record, Order)
        customer_id = self._customer_for(
            conn, email, self._buyer_id(record), self._buyer_accepts(record)
        )
        data = {**body, "source": self._source(item), "customerid": customer_id}
        update = {k: data[k] for k in ORDER_CONVERT_FIELDS if k in data}
        self.engine.request("PUT", f"ecomOrders/{record_id}", json={"ecomOrder": update})
        self._orders[item.key] = _Order(record_id, record.updated_at, full)
        checkout_id = _str(cart.get("externalcheckoutid")) if cart is not None else None
        if checkout_id is not None:
            self._orders[RecordKey(conn.externalid, "cart", checkout_id)] = _Order(
                record_id, None, None, order=item.key.external_id
            )
        return ItemOutcome(item.key, WriteAction.INSERTED)

    def _write_converted_cart(self, item: SinkItem, record: Cart, conn: _Connection) -> ItemOutcome:
        """A cart that became an order: one ActiveCampaign object for both, never two."""
        known = self._orders.get(item.key)
        if known is not None and known.order is not None:
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        cart = self._cart_object(conn, item.key.external_id)
        linked = None if cart is None else _str(cart.get("externalid"))
        if cart is not None and linked is not None:
            # Its order took the record over already.
            self._orders[item.key] = _Order(str(cart["id"]), None, None, order=linked)
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        order_id = record.order_external_id
        if order_id is None:
            # Recovered, but the cart does not say by which order: the record stays an
            # open cart, for the order that names this checkout to take it over.
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        order_key = RecordKey(conn.externalid, "order", order_id)
        order: Mapping[str, Any] | None = None
        cached = self._orders.get(order_key)
        if cached is not None:
            order = {"id": cached.id}
        elif not conn.created_here:
            order = self._find_order(conn, "externalid", order_id)
        if cart is None:
            # The cart was never written as abandoned: nothing to convert or retire.
            if order is not None:
                self._orders[item.key] = _Order(str(order["id"]), None, None, order=order_id)
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        cart_id = str(cart["id"])
        if order is not None and str(order["id"]) != cart_id:
            # Written as two records before the link was known (the order named no
            # checkout): keep the order's, retire the open cart's.
            self.engine.request("DELETE", f"ecomOrders/{cart_id}")
            message = f"cart {item.key.external_id} and order {order_id} were two records; merged"
            self._notices.append(SinkNotice("duplicate_cart_removed", message))
            self._orders[item.key] = _Order(str(order["id"]), None, None, order=order_id)
            return ItemOutcome(item.key, WriteAction.UPDATED)
        # The order is not written yet: the abandoned-cart guide's recovery, set the
        # order's externalid on the cart. The order's own item then writes its data
        # (source, placement date, lines) over it.
        self._put_order(cart_id, {"externalid": order_id})
        self._orders[item.key] = _Order(cart_id, None, None, order=order_id)
        self._orders[order_key] = _Order(cart_id, None, None, converting=True)
        return ItemOutcome(item.key, WriteAction.UPDATED)

    # ------------------------------------------------------------------ erase

    def _all(self, path: str, plural: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.engine.get(path, params={**params, "limit": PAGE_LIMIT, "offset": offset})
            items = page.body.get(plural) if isinstance(page.body, Mapping) else None
            if not isinstance(items, list) or not items:
                return rows
            rows.extend(dict(r) for r in items if isinstance(r, Mapping))
            offset += len(items)

    def _erase_targets(self, connection_id: str | None) -> list[dict[str, Any]]:
        if connection_id is not None:
            found = self._find_connection(connection_id)
            return [] if found is None else [found]
        rows = self._all("connections", "connections", {"filters[service]": self.service})
        return [r for r in rows if r.get("service") == self.service]

    def _delete(self, path: str) -> int:
        try:
            self.engine.request("DELETE", path)
        except NotFoundError:
            return 0  # gone already
        return 1

    def _erase_person(
        self,
        conn: Mapping[str, Any],
        email: str | None,
        customer_id: str | None,
        order_ids: Sequence[str] = (),
    ) -> int:
        conn_id = str(conn["id"])
        base = {"filters[connectionid]": conn_id}
        customers: dict[str, dict[str, Any]] = {}
        if email is not None:
            for row in self._all(
                "ecomCustomers", "ecomCustomers", {**base, "filters[email]": email}
            ):
                if str(row.get("email", "")).lower() == email:
                    customers[str(row["id"])] = row
        if customer_id is not None:
            params = {**base, "filters[externalid]": customer_id}
            for row in self._all("ecomCustomers", "ecomCustomers", params):
                if str(row.get("externalid")) == customer_id:
                    customers[str(row["id"])] = row
        orders: dict[str, dict[str, Any]] = {}
        for cid in customers:
            params = {**base, "filters[customerid]": cid}
            for row in self._all("ecomOrders", "ecomOrders", params):
                if str(row.get("customerid")) == cid:
                    orders[str(row["id"])] = row
        if email is not None:
            for row in self._all("ecomOrders", "ecomOrders", {**base, "filters[email]": email}):
                if str(row.get("email", "")).lower() == email:
                    orders[str(row["id"])] = row
        for ext in order_ids:
            params = {**base, "filters[externalid]": ext}
            for row in self._all("ecomOrders", "ecomOrders", params):
                if str(row.get("externalid")) == ext:
                    orders[str(row["id"])] = row
        deleted = sum(self._delete(f"ecomOrders/{oid}") for oid in orders)
        deleted += sum(self._delete(f"ecomCustomers/{cid}") for cid in customers)
        if deleted:
            self._forget_connection(str(conn.get("externalid")))
        return deleted

    def _erase_connection(self, conn: Mapping[str, Any]) -> int:
        conn_id = str(conn["id"])
        deleted = 0
        for path, plural in (("ecomOrders", "ecomOrders"), ("ecomCustomers", "ecomCustomers")):
            rows = self._all(path, plural, {"filters[connectionid]": conn_id})
            for row in rows:
                if str(row.get("connectionid")) == conn_id:
                    deleted += self._delete(f"{path}/{row['id']}")
        deleted += self._delete(f"connections/{conn_id}")
        self._forget_connection(str(conn.get("externalid")))
        return deleted

    def _forget_connection(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)
        for key in [k for k in self._customers if k[0] == connection_id]:
            del self._customers[key]
        for rkey in [k for k in self._orders if k.connection_id == connection_id]:
            del self._orders[rkey]
