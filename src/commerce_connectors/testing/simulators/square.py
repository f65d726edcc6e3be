"""An in-process Square API: locations, customers, payments, orders and catalog.

:class:`SquareSimulator` reproduces what the Square connector meets in production,
over seeded data of a multi-location seller:

* ``GET /v2/locations``, ``GET /v2/locations/{id}``;
* ``POST /v2/customers/search`` (``created_at`` / ``updated_at`` / ``email_address`` /
  ``reference_id`` filters, ``DEFAULT`` or ``CREATED_AT`` sort; no ``UPDATED_AT`` sort,
  as on Square) and ``GET /v2/customers``;
* ``GET /v2/payments`` with ``location_id`` (default: the main location),
  ``begin_time``/``end_time`` on ``created_at`` (``begin_time`` **defaults to one year
  ago**, as on Square), ``updated_at_begin_time``/``updated_at_end_time``, ``sort_field``
  ``CREATED_AT``/``UPDATED_AT``, ``sort_order`` (default ``DESC``), ``limit`` ≤ 100;
  ``GET /v2/payments/{id}``;
* ``POST /v2/orders/batch-retrieve`` (≤ 100 ids) and ``POST /v2/orders/search``
  (``location_ids`` required, ``date_time_filter`` on one of ``created_at`` /
  ``updated_at`` / ``closed_at`` and a sort that **must** match it, ``state_filter``,
  ``return_entries``);
* ``POST /v2/catalog/search`` (``object_types``, exclusive ``begin_time``,
  ``include_related_objects``, ``include_deleted_objects``), ``GET /v2/catalog/list``,
  ``POST /v2/catalog/batch-retrieve``;
* cursors in the body, bound to their query (another query, or
  :meth:`SquareSimulator.invalidate_cursors`, gives ``400 INVALID_CURSOR``); page sizes
  are advisory and capped by ``max_page_size`` so small stores still page;
* ``Authorization: Bearer``: a wrong token is ``401 UNAUTHORIZED``, an expired one
  (:meth:`SquareSimulator.expire_token`) ``401 ACCESS_TOKEN_EXPIRED``, a missing scope
  ``403 INSUFFICIENT_SCOPES``; every error in Square's
  ``{"errors": [{"category", "code", "detail"}]}`` shape;
* a leaky-bucket rate limit answered by ``429 RATE_LIMITED`` **without** any
  rate-limit header (Square documents none);
* late POS orders: :meth:`SquareSimulator.add_sale` with an old ``at`` makes a sale that
  appears now with its original timestamps; :meth:`SquareSimulator.late_sale_fault`
  does it in the middle of a run; :meth:`SquareSimulator.refund` refunds a payment;
* ``GET /v2/orders/{id}`` and ``GET /v2/customers/{id}`` (RetrieveOrder, RetrieveCustomer);
* **webhooks**: the Webhook Subscriptions API (``/v2/webhooks/subscriptions``: list with
  cursor and ``include_disabled``, create with ``idempotency_key``, retrieve, update,
  delete, new signature key, test), HTTPS-only notification URLs, one signature key per
  subscription; and **signed** notifications queued on :attr:`SquareSimulator.webhooks`
  whenever data changes: ``add_sale`` (``payment.created``; with ``via_api=True`` also
  ``order.created`` and ``order.updated``), ``update`` (``customer.updated``,
  ``payment.updated``, ``order.updated``, ``catalog.version.updated``), ``refund``
  (``refund.created`` and the updates), ``add_customer`` / ``delete_customer``
  (``customer.created`` / ``customer.deleted``) and ``uninstall_app``
  (``oauth.authorization.revoked``). ``sim.webhooks.flush()`` POSTs them.

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.platforms.square import SquareConnector
    >>> clock = FakeClock()
    >>> sim = SquareSimulator(seed=1, customers=40, payments=60, products=12, clock=clock)
    >>> [(loc.name, loc.currency) for loc in sim.locations]
    [('Downtown', 'USD'), ('Shibuya', 'JPY')]
    >>> tokyo = sim.locations[1]
    >>> with SquareConnector(access_token=sim.token, location_id=tokyo.id,
    ...                      transport=sim.transport(), clock=clock) as conn:
    ...     orders = list(conn.iter_orders())
    >>> {o.total.currency for o in orders}
    {'JPY'}
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx

from ...clock import Clock, FakeClock
from ...models import currency_exponent
from ...platforms.square import SquareConnector
from ...protocols import InvalidRecordHandler, Stream
from ..simulator import (
    FakeData,
    Fault,
    LeakyBucketRateLimit,
    Mutate,
    RateLimiter,
    RecordStore,
    Simulator,
    StoredRecord,
    json_response,
    request_json,
    route,
)
from ..simulator.webhooks import WebhookOutbox

__all__ = [
    "EMITTED_EVENT_TYPES",
    "SIGNATURE_HEADER",
    "SimLocation",
    "SquareHarness",
    "SquareSimulator",
]

UTC = _dt.timezone.utc

_STATUS_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("INVALID_REQUEST_ERROR", "BAD_REQUEST"),
    401: ("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
    403: ("AUTHENTICATION_ERROR", "FORBIDDEN"),
    404: ("INVALID_REQUEST_ERROR", "NOT_FOUND"),
    429: ("RATE_LIMIT_ERROR", "RATE_LIMITED"),
    500: ("API_ERROR", "INTERNAL_SERVER_ERROR"),
    502: ("API_ERROR", "BAD_GATEWAY"),
    503: ("API_ERROR", "SERVICE_UNAVAILABLE"),
    504: ("API_ERROR", "GATEWAY_TIMEOUT"),
}

#: Scope each route needs.
_SCOPES: Mapping[str, str] = {
    "/v2/locations": "MERCHANT_PROFILE_READ",
    "/v2/locations/{location_id}": "MERCHANT_PROFILE_READ",
    "/v2/customers": "CUSTOMERS_READ",
    "/v2/customers/search": "CUSTOMERS_READ",
    "/v2/payments": "PAYMENTS_READ",
    "/v2/payments/{payment_id}": "PAYMENTS_READ",
    "/v2/orders/batch-retrieve": "ORDERS_READ",
    "/v2/orders/search": "ORDERS_READ",
    "/v2/catalog/search": "ITEMS_READ",
    "/v2/catalog/list": "ITEMS_READ",
    "/v2/catalog/batch-retrieve": "ITEMS_READ",
    "/v2/orders/{order_id}": "ORDERS_READ",
    "/v2/customers/{customer_id}": "CUSTOMERS_READ",
}
ALL_SCOPES = frozenset(_SCOPES.values())

#: The header carrying each notification's signature.
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
#: The event types the simulator sends (subscriptions may name any well-formed type).
EMITTED_EVENT_TYPES = (
    "order.created",
    "order.updated",
    "payment.created",
    "payment.updated",
    "refund.created",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "catalog.version.updated",
    "oauth.authorization.revoked",
)
_EVENT_TYPE = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_SUBSCRIPTIONS = "/v2/webhooks/subscriptions"

_DEFAULT_LOCATIONS: tuple[tuple[str, str, str], ...] = (
    ("Downtown", "USD", "US"),
    ("Shibuya", "JPY", "JP"),
    ("Midtown", "USD", "US"),
    ("Gràcia", "EUR", "ES"),
)
_CATEGORIES = ("Coffee", "Tea", "Pastries", "Merch", "Beans")
_ID_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ0123456789"


class _NotFoundError(Exception):
    pass


class _BadRequestError(Exception):
    def __init__(self, detail: str, code: str = "BAD_REQUEST", field: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.code, self.field = detail, code, field


def _ms(value: _dt.datetime) -> _dt.datetime:
    """Square timestamps have millisecond precision: store them that way."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _iso(value: _dt.datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse_time(value: Any, field: str) -> _dt.datetime:
    if not isinstance(value, str) or not value:
        raise _BadRequestError(f"Invalid RFC 3339 timestamp for {field}", "INVALID_TIME", field)
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequestError(
            f"Invalid RFC 3339 timestamp: {value!r}", "INVALID_TIME", field
        ) from None
    if parsed.tzinfo is None:
        raise _BadRequestError(f"Timestamp needs an offset: {value!r}", "INVALID_TIME", field)
    return parsed.astimezone(UTC)


def _money(units: int, currency: str) -> dict[str, Any]:
    return {"amount": units, "currency": currency}


@attrs.frozen
class SimLocation:
    """A simulated location.

    Attributes:
        id: the location id.
        name: its name.
        currency: its ISO 4217 currency (every sale there is in it).
        country: ISO 3166-1 alpha-2.
        merchant_id: the seller's id.
    """

    id: str
    name: str
    currency: str
    country: str
    merchant_id: str

    def render(self, created_at: _dt.datetime) -> dict[str, Any]:
        """The Location object Square returns."""
        return {
            "id": self.id,
            "name": self.name,
            "business_name": "Jet Fuel Coffee",
            "merchant_id": self.merchant_id,
            "status": "ACTIVE",
            "currency": self.currency,
            "country": self.country,
            "language_code": "ja-JP" if self.country == "JP" else "en-US",
            "timezone": "Asia/Tokyo" if self.country == "JP" else "America/New_York",
            "capabilities": ["CREDIT_CARD_PROCESSING"],
            "created_at": _iso(created_at).replace(".000Z", "Z"),
            "type": "PHYSICAL",
        }


class SquareSimulator(Simulator):
    """A Square seller with several locations, over seeded data (see the module docstring).

    Args:
        seed: seeds the data and the faults.
        locations: how many locations (names and currencies from a fixed list: Downtown
            USD, Shibuya JPY, Midtown USD, Gràcia EUR), or ``(name, currency, country)``
            triples. Square lists them alphabetically by name.
        customers: customer profiles (merchant-wide).
        payments: payments in all, spread over the locations (each with its order;
            a few orders are paid in two payments).
        products: catalog ITEMs (with 1-3 variations each).
        no_email_share: share of customers without an email (they keep a phone).
        refund_share: share of completed payments that are (partly) refunded.
        token: the access token the simulator accepts.
        merchant_id: the seller's id.
        scopes: the scopes the token has (default: all it needs).
        clock: shared with the client in tests.
        rate_limit: default: a bucket of 20 leaking 10/s, with no headers.
        faults: faults to inject.
        max_page_size: the most records a page holds whatever ``limit`` asks (Square's
            limits are advisory), so that small stores still page.
        now: the wall-clock time the data ends at (default: the clock's now).
        application_token: the application's personal access token. When given, the
            Webhook Subscriptions API accepts only it, and answers the seller's
            ``token`` with ``403 INSUFFICIENT_SCOPES``, as Square answers OAuth tokens
            (subscriptions belong to the application). When ``None``, ``token`` is
            taken to be the application owner's personal access token and works there.
        webhook_transport: the httpx transport notifications are POSTed with (default:
            real HTTP); the outbox uses the simulator's clock.

    Attributes:
        customers, payments, orders, catalog: the :class:`RecordStore` of each; the
            record ``data`` is the Square object without ``created_at``/``updated_at``.
        locations: the :class:`SimLocation` list, in creation order.
        webhook_subscriptions: the :class:`RecordStore` of the application's webhook
            subscriptions (their ``signature_key`` included).
        events: every notification body built since construction (as dicts), whether
            or not a subscription received it.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        locations: int | Sequence[tuple[str, str, str]] = 2,
        customers: int = 120,
        payments: int = 300,
        products: int = 40,
        no_email_share: float = 0.1,
        refund_share: float = 0.04,
        token: str = "EAAAl-square-sim-token-0123456789abcdef",  # noqa: S107 - fixture
        merchant_id: str = "MLR6SIMMERCHANT",
        scopes: Iterable[str] = ALL_SCOPES,
        clock: Clock | None = None,
        rate_limit: RateLimiter | None = None,
        faults: Iterable[Fault] = (),
        max_page_size: int = 100,
        now: _dt.datetime | None = None,
        application_token: str | None = None,
        webhook_transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            rate_limit=rate_limit
            if rate_limit is not None
            else LeakyBucketRateLimit(capacity=20, leak_rate=10.0),
            faults=faults,
            seed=seed,
        )
        self.token = token
        self.merchant_id = merchant_id
        self.scopes = frozenset(scopes)
        self.max_page_size = max_page_size
        self.token_expired = False
        self.token_revoked = False
        self.application_token = application_token
        self.environment = "Sandbox"
        self._emitting = False  # no notifications for the data generated below
        self._webhook_transport = webhook_transport
        self._outbox: WebhookOutbox | None = None
        # A generator of its own, so webhooks leave the seeded data unchanged.
        self._hooks_rng = random.Random(f"square-webhooks:{seed}")
        self._idempotency: dict[str, tuple[str, str]] = {}
        self.events: list[dict[str, Any]] = []
        self.versions_seen: list[str | None] = []
        self._cursor_generation = 0
        self._ids = random.Random(f"square-ids:{seed}")
        self._fake = FakeData(seed)
        self._rng = random.Random(f"square-data:{seed}")
        self._request_ids = 0
        self.customers = RecordStore(self.clock)
        self.payments = RecordStore(self.clock)
        self.orders = RecordStore(self.clock)
        self.catalog = RecordStore(self.clock)
        self.webhook_subscriptions = RecordStore(self.clock)
        # Square id -> RecordStore id, per store.
        self._index: dict[str, dict[str, int]] = {
            "customers": {},
            "payments": {},
            "orders": {},
            "catalog": {},
            "subscriptions": {},
        }
        self._variation_item: dict[str, str] = {}
        end = _ms(now or self.clock.now())
        self.data_end = end
        self.data_start = end - _dt.timedelta(days=3 * 365)
        specs = (
            _DEFAULT_LOCATIONS[:locations]
            if isinstance(locations, int)
            else tuple(tuple(x) for x in locations)
        )
        if not specs:
            raise ValueError("a Square seller has at least one location")
        self.locations: list[SimLocation] = [
            SimLocation(self._sid(13), name, currency, country, merchant_id)
            for name, currency, country in specs
        ]
        self._location_created = self.data_start - _dt.timedelta(days=30)
        self._generate_catalog(products)
        self._generate_customers(customers, no_email_share)
        self._generate_sales(payments, refund_share)
        self._emitting = True

    # ------------------------------------------------------------------ ids and lookups

    def _sid(self, length: int, suffix: str = "") -> str:
        body = "".join(
            _ID_ALPHABET[int(self._ids.random() * len(_ID_ALPHABET))]
            for _ in range(length - len(suffix))
        )
        return body + suffix

    def _store(self, name: str) -> RecordStore:
        return {
            "customers": self.customers,
            "payments": self.payments,
            "orders": self.orders,
            "catalog": self.catalog,
            "subscriptions": self.webhook_subscriptions,
        }[name]

    def _insert(
        self, name: str, data: dict[str, Any], created: _dt.datetime, updated: _dt.datetime
    ) -> StoredRecord:
        record = self._store(name).insert(data, created_at=_ms(created), updated_at=_ms(updated))
        self._index[name][data["id"]] = record.id
        return record

    def get(self, name: str, square_id: str) -> StoredRecord | None:
        """The stored record with this Square id in one store (``"payments"`` …)."""
        key = self._index[name].get(square_id)
        return None if key is None else self._store(name).get(key)

    def update(
        self,
        name: str,
        square_id: str,
        changes: Mapping[str, Any] | None = None,
        *,
        updated_at: _dt.datetime | None = None,
    ) -> StoredRecord:
        """Change a record (by Square id) and move its ``updated_at`` (default: now).

        Queues the notification Square sends for the change: ``customer.updated``,
        ``payment.updated``, ``order.updated`` or ``catalog.version.updated``.
        """
        key = self._index[name][square_id]
        when = _ms(updated_at or self.clock.now())
        record = self._store(name).update(key, changes, updated_at=when)
        self._notify_update(name, record)
        return record

    def location(self, location_id: str) -> SimLocation | None:
        """The location with this id."""
        return next((loc for loc in self.locations if loc.id == location_id), None)

    # ------------------------------------------------------------------ data

    def _generate_catalog(self, products: int) -> None:
        fake = self._fake
        self.category_ids: list[str] = []
        for name in _CATEGORIES:
            cid = self._sid(24)
            t = fake.timestamp(self.data_start, self.data_end)
            self._insert(
                "catalog",
                {
                    "type": "CATEGORY",
                    "id": cid,
                    "category_data": {"name": name},
                    "is_deleted": False,
                    "present_at_all_locations": True,
                },
                t,
                t,
            )
            self.category_ids.append(cid)
        # Each item is sold at the locations of one currency, priced in it.
        currencies = sorted({loc.currency for loc in self.locations})
        self._items_by_currency: dict[str, list[str]] = {cur: [] for cur in currencies}
        for n in range(products):
            currency = currencies[n % len(currencies)]
            at = [loc.id for loc in self.locations if loc.currency == currency]
            everywhere = len(at) == len(self.locations)
            exponent = currency_exponent(currency)
            item_id = self._sid(24)
            t = fake.timestamp(self.data_start, self.data_end)
            image = None
            if self._rng.random() < 0.7:
                image = self._sid(24)
                self._insert(
                    "catalog",
                    {
                        "type": "IMAGE",
                        "id": image,
                        "image_data": {
                            "name": f"item-{n}",
                            "url": f"https://items-images.test/{image}.jpeg",
                        },
                    },
                    t,
                    t,
                )
            low, high = ("1.00", "40.00") if exponent else ("150", "6000")
            variations = []
            for k in range(1 + int(self._rng.random() * 3)):
                vid = self._sid(24)
                self._variation_item[vid] = item_id
                price = fake.price(low, high, exponent=exponent)
                units = int(price.replace(".", ""))
                variations.append(
                    {
                        "type": "ITEM_VARIATION",
                        "id": vid,
                        "updated_at": _iso(t),
                        "version": int(t.timestamp() * 1000),
                        "is_deleted": False,
                        "present_at_all_locations": everywhere,
                        **({} if everywhere else {"present_at_location_ids": at}),
                        "item_variation_data": {
                            "item_id": item_id,
                            "name": ("Regular", "Large", "Small")[k],
                            "sku": fake.sku(),
                            "ordinal": k,
                            "pricing_type": "FIXED_PRICING",
                            "price_money": _money(units, currency),
                        },
                    }
                )
            item_data: dict[str, Any] = {
                "name": fake.product_title(),
                "description": f"{fake.category()}: handmade, seed {self.seed}.",
                "product_type": "REGULAR",
                "categories": [{"id": self.category_ids[n % len(self.category_ids)], "ordinal": 0}],
                "variations": variations,
            }
            if image:
                item_data["image_ids"] = [image]
            self._insert(
                "catalog",
                {
                    "type": "ITEM",
                    "id": item_id,
                    "is_deleted": False,
                    "present_at_all_locations": everywhere,
                    **({} if everywhere else {"present_at_location_ids": at}),
                    "item_data": item_data,
                },
                t,
                t,
            )
            self._items_by_currency[currency].append(item_id)

    def _generate_customers(self, customers: int, no_email_share: float) -> None:
        fake = self._fake
        self.customer_ids: list[str] = []
        for _ in range(customers):
            person = fake.person()
            created = fake.timestamp(self.data_start, self.data_end)
            updated = fake.timestamp(created, self.data_end + _dt.timedelta(seconds=1))
            cid = self._sid(26)
            data: dict[str, Any] = {
                "id": cid,
                "given_name": person.first_name,
                "family_name": person.last_name,
                "creation_source": "DIRECTORY" if self._rng.random() < 0.5 else "THIRD_PARTY",
                "preferences": {"email_unsubscribed": not person.accepts_marketing},
                "version": 1,
                "address": {
                    "address_line_1": person.address.line1,
                    "locality": person.address.city,
                    "postal_code": person.address.postal_code,
                    "country": person.address.country_code,
                },
            }
            if person.address.province:
                data["address"]["administrative_district_level_1"] = person.address.province
            if self._rng.random() >= no_email_share and person.email:
                data["email_address"] = person.email
            elif not person.phone:
                data["phone_number"] = fake.phone(person.address.country_code, quality="valid")
            if person.phone:
                data["phone_number"] = person.phone
            if person.company:
                data["company_name"] = person.company
            if self._rng.random() < 0.3:
                data["reference_id"] = f"crm-{len(self.customer_ids) + 1:05d}"
            self._insert("customers", data, created, updated)
            self.customer_ids.append(cid)

    def _generate_sales(self, payments: int, refund_share: float) -> None:
        made = 0
        n = 0
        while made < payments:
            loc = self.locations[n % len(self.locations)]
            n += 1
            at = self._fake.timestamp(self.data_start, self.data_end)
            split = payments - made >= 2 and self._rng.random() < 0.03
            roll = self._rng.random()
            status = (
                "COMPLETED"
                if roll < 0.86 or split
                else "FAILED"
                if roll < 0.91
                else "CANCELED"
                if roll < 0.95
                else "APPROVED"
                if roll < 0.98
                else "PENDING"
            )
            created = self.add_sale(loc.id, at=at, status=status, split=split, _visible=False)
            made += len(created)
            if status == "COMPLETED" and self._rng.random() < refund_share:
                pid = created[0]
                refund_at = at + _dt.timedelta(days=1 + int(self._rng.random() * 20))
                self.refund(pid, partial=self._rng.random() < 0.5, at=min(refund_at, self.data_end))

    def _pick_lines(self, currency: str) -> list[dict[str, Any]]:
        items = self._items_by_currency.get(currency) or []
        lines: list[dict[str, Any]] = []
        for _ in range(1 + int(self._rng.random() * 3)):
            if not items or self._rng.random() < 0.1:
                # A custom amount: no catalog object (Square's "Custom Amount" lines).
                units = (
                    100 + int(self._rng.random() * 5000)
                    if currency_exponent(currency)
                    else 100 + int(self._rng.random() * 3000)
                )
                lines.append(
                    {
                        "uid": self._sid(22),
                        "name": "Custom Amount",
                        "quantity": "1",
                        "base_price_money": _money(units, currency),
                    }
                )
                continue
            item = self.get("catalog", items[int(self._rng.random() * len(items))])
            assert item is not None
            variation = item.data["item_data"]["variations"][0]
            price = variation["item_variation_data"]["price_money"]["amount"]
            qty = 1 + int(self._rng.random() * 3)
            lines.append(
                {
                    "uid": self._sid(22),
                    "catalog_object_id": variation["id"],
                    "catalog_version": variation["version"],
                    "name": item.data["item_data"]["name"],
                    "variation_name": variation["item_variation_data"]["name"],
                    "quantity": str(qty),
                    "base_price_money": _money(price, currency),
                }
            )
        for line in lines:
            units = line["base_price_money"]["amount"] * int(line["quantity"])
            line["gross_sales_money"] = _money(units, currency)
            line["total_money"] = _money(units, currency)
            line["total_tax_money"] = _money(0, currency)
            line["total_discount_money"] = _money(0, currency)
        return lines

    def add_sale(
        self,
        location_id: str,
        *,
        at: _dt.datetime | None = None,
        status: str = "COMPLETED",
        customer_id: str | None = None,
        split: bool = False,
        via_api: bool = False,
        _visible: bool = True,
    ) -> list[str]:
        """Record a sale (an order and its payment(s)) at ``at``; return the payment ids.

        With an ``at`` in the past, the sale shows up *now* with its original
        timestamps: that is how a POS offline payment arrives late.

        Queues ``payment.created`` for each payment. Square publishes ``order.created``
        only for orders made with CreateOrder, "not" for Point of Sale ones: with
        ``via_api=True`` the order is an API order and ``order.created`` (state
        ``OPEN``) and ``order.updated`` (after payment) are queued too.
        """
        loc = self.location(location_id)
        if loc is None:
            raise KeyError(f"no location {location_id}")
        at = _ms(at or self.clock.now())
        currency = loc.currency
        lines = self._pick_lines(currency)
        total = sum(int(line["total_money"]["amount"]) for line in lines)
        if customer_id is None and self.customer_ids and self._rng.random() < 0.7:
            customer_id = self.customer_ids[int(self._rng.random() * len(self.customer_ids))]
        customer = self.get("customers", customer_id) if customer_id else None
        email = customer.data.get("email_address") if customer else None
        if customer is None and self._rng.random() < 0.5:
            email = self._fake.email("guest", "buyer", valid=True).strip()
        order_id = self._sid(27, "ZY")
        parts = [total // 2, total - total // 2] if split else [total]
        payment_ids: list[str] = []
        tenders = []
        for k, amount in enumerate(parts):
            pid = self._sid(27, "ZY")
            created = at + _dt.timedelta(seconds=1 + k)
            updated = created + _dt.timedelta(seconds=1)
            payment: dict[str, Any] = {
                "id": pid,
                "location_id": location_id,
                "order_id": order_id,
                "status": status,
                "source_type": "CARD",
                "amount_money": _money(amount, currency),
                "total_money": _money(amount, currency),
                "approved_money": _money(amount, currency),
                "card_details": {
                    "status": {
                        "COMPLETED": "CAPTURED",
                        "APPROVED": "AUTHORIZED",
                        "FAILED": "FAILED",
                        "CANCELED": "VOIDED",
                    }.get(status, "AUTHORIZED"),
                    "card": {"card_brand": "VISA", "last_4": "1111"},
                    "entry_method": "KEYED",
                },
                "receipt_number": pid[:4],
                "receipt_url": f"https://squareup.com/receipt/preview/{pid}",
                "version_token": self._sid(43),
            }
            if customer_id:
                payment["customer_id"] = customer_id
            if email:
                payment["buyer_email_address"] = email
            self._insert("payments", payment, created, updated)
            payment_ids.append(pid)
            if status == "COMPLETED":
                tenders.append(
                    {
                        "id": pid,
                        "payment_id": pid,
                        "location_id": location_id,
                        "type": "CARD",
                        "amount_money": _money(amount, currency),
                    }
                )
        order_updated = at + _dt.timedelta(seconds=1 + len(parts))
        order: dict[str, Any] = {
            "id": order_id,
            "location_id": location_id,
            "state": "COMPLETED" if status == "COMPLETED" else "OPEN",
            "source": {"name": "Online store" if via_api else "Point of Sale"},
            "line_items": lines,
            "total_money": _money(total, currency),
            "total_tax_money": _money(0, currency),
            "total_discount_money": _money(0, currency),
            "version": 1 + len(tenders),
        }
        if tenders:
            order["tenders"] = tenders
            order["closed_at"] = _iso(order_updated)
        if customer_id:
            order["customer_id"] = customer_id
        stored = self._insert("orders", order, at, order_updated)
        if via_api:
            self._notify_order("order.created", stored, state="OPEN", version=1)
        for pid in payment_ids:
            payment_record = self.get("payments", pid)
            assert payment_record is not None
            self._notify_object("payment.created", "payment", payment_record)
        if via_api:
            self._notify_order("order.updated", stored)
        return payment_ids

    def refund(
        self,
        payment_id: str,
        *,
        partial: bool = False,
        at: _dt.datetime | None = None,
    ) -> None:
        """Refund a payment (half of it with ``partial``); its order is updated too.

        Both move their ``updated_at`` to ``at`` (default: now), as Square does; the
        payment's ``created_at`` stays, which is why an extractor filtering on
        ``created_at`` never sees the refund. Queues ``refund.created``, then
        ``payment.updated`` and ``order.updated``.
        """
        payment = self.get("payments", payment_id)
        if payment is None:
            raise KeyError(payment_id)
        total = payment.data["total_money"]
        amount = total["amount"] // 2 if partial else total["amount"]
        refund_id = f"{payment_id}_{self._sid(8)}"
        when = _ms(at or self.clock.now())
        if self._emitting:
            refund = {
                "id": refund_id,
                "status": "COMPLETED",
                "amount_money": _money(amount, total["currency"]),
                "payment_id": payment_id,
                "order_id": payment.data.get("order_id"),
                "location_id": payment.data["location_id"],
                "reason": "Returned goods",
                "created_at": _iso(when),
                "updated_at": _iso(when),
            }
            self._notify(self._event("refund.created", "refund", refund_id, {"refund": refund}))
        self.update(
            "payments",
            payment_id,
            {
                "refunded_money": _money(amount, total["currency"]),
                "refund_ids": [*payment.data.get("refund_ids", []), refund_id],
            },
            updated_at=when,
        )
        order_id = payment.data.get("order_id")
        order = self.get("orders", order_id) if isinstance(order_id, str) else None
        if order is not None and isinstance(order_id, str):
            refunds = [
                *order.data.get("refunds", []),
                {
                    "id": refund_id,
                    "location_id": order.data["location_id"],
                    "tender_id": payment_id,
                    "amount_money": _money(amount, total["currency"]),
                    "status": "APPROVED",
                    "reason": "Returned goods",
                },
            ]
            self.update(
                "orders",
                order_id,
                {"refunds": refunds, "version": order.data.get("version", 1) + 1},
                updated_at=when,
            )

    def late_sale_fault(
        self,
        location_id: str,
        *,
        delay: _dt.timedelta = _dt.timedelta(hours=48),
        route: str | None = "/v2/payments",
        on: int | tuple[int, ...] = 1,
        sink: list[str] | None = None,
    ) -> Mutate:
        """A fault that, when triggered, makes a sale ``delay`` old appear (POS offline).

        Add it with ``sim.add_fault(...)``; the new payment ids go to ``sink``.
        """

        def arrive(request: httpx.Request) -> None:
            ids = self.add_sale(location_id, at=self.clock.now() - delay, status="COMPLETED")
            if sink is not None:
                sink.extend(ids)

        return Mutate(hook=arrive, route=route, on=on)

    def expire_token(self) -> None:
        """From now on the token answers ``401 ACCESS_TOKEN_EXPIRED``."""
        self.token_expired = True

    def add_customer(
        self,
        *,
        email: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        phone: str | None = None,
        at: _dt.datetime | None = None,
    ) -> str:
        """Create a customer profile at ``at`` (default: now); queue ``customer.created``.

        Returns:
            The new customer's id.
        """
        when = _ms(at or self.clock.now())
        cid = self._sid(26)
        data: dict[str, Any] = {
            "id": cid,
            "creation_source": "THIRD_PARTY",
            "preferences": {"email_unsubscribed": False},
            "version": 0,
        }
        fields = {
            "given_name": given_name,
            "family_name": family_name,
            "email_address": email,
            "phone_number": phone,
        }
        data.update({k: v for k, v in fields.items() if v is not None})
        record = self._insert("customers", data, when, when)
        self.customer_ids.append(cid)
        self._notify_object("customer.created", "customer", record)
        return cid

    def delete_customer(self, customer_id: str) -> None:
        """Delete a customer profile; queue ``customer.deleted`` (``KeyError`` if unknown)."""
        record = self.get("customers", customer_id)
        if record is None:
            raise KeyError(customer_id)
        self.customers.delete(self._index["customers"].pop(customer_id))
        if customer_id in self.customer_ids:
            self.customer_ids.remove(customer_id)
        customer = self.render(record)
        # "does not include the following fields: group_ids and segment_ids"
        for key in ("group_ids", "segment_ids"):
            customer.pop(key, None)
        self._notify(
            self._event(
                "customer.deleted", "customer", customer_id, {"customer": customer}, deleted=True
            )
        )

    def uninstall_app(self, *, revoker_type: str = "MERCHANT") -> None:
        """The seller revokes the application: its token answers ``401 ACCESS_TOKEN_REVOKED``.

        Queues ``oauth.authorization.revoked``.
        """
        self.token_revoked = True
        revocation = {"revoked_at": _iso(self.clock.now()), "revoker_type": revoker_type}
        self._notify(
            self._event(
                "oauth.authorization.revoked",
                "revocation",
                self._uuid(),
                {"revocation": revocation},
            )
        )

    # ------------------------------------------------------------------ notifications

    @property
    def webhooks(self) -> WebhookOutbox:
        """The queue of signed notifications; ``sim.webhooks.flush()`` POSTs them.

        Created on first use (its HTTP client is not free), with the simulator's
        clock and ``webhook_transport``.
        """
        if self._outbox is None:
            self._outbox = WebhookOutbox(
                clock=self.clock, transport=self._webhook_transport, seed=self.seed
            )
        return self._outbox

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._hooks_rng.getrandbits(128), version=4))

    def _event(
        self,
        event_type: str,
        data_type: str,
        data_id: str,
        objects: Mapping[str, Any] | None = None,
        **data_fields: Any,
    ) -> dict[str, Any]:
        """A notification body in Square's envelope (its key order, too)."""
        data: dict[str, Any] = {"type": data_type, "id": data_id, **data_fields}
        if objects is not None:
            data["object"] = dict(objects)
        return {
            "merchant_id": self.merchant_id,
            "type": event_type,
            "event_id": self._uuid(),
            "created_at": _iso(self.clock.now()),
            "data": data,
        }

    def _notify_object(self, event_type: str, key: str, record: StoredRecord) -> None:
        """``payment.*`` / ``customer.*``: the whole object under ``data.object.<key>``."""
        if not self._emitting:
            return
        obj = self.render(record)
        if key == "customer":
            obj.pop("segment_ids", None)  # "does not include the segment_ids field"
        self._notify(self._event(event_type, key, obj["id"], {key: obj}))

    def _notify_order(
        self,
        event_type: str,
        record: StoredRecord,
        *,
        state: str | None = None,
        version: int | None = None,
    ) -> None:
        """``order.*``: only the order's id, location, state, version and times."""
        if not self._emitting:
            return
        holder = event_type.replace(".", "_")
        light: dict[str, Any] = {
            "created_at": _iso(record.created_at),
            "location_id": record.data["location_id"],
            "order_id": record.data["id"],
            "state": state or record.data.get("state"),
            "version": version if version is not None else record.data.get("version", 1),
        }
        if event_type != "order.created":
            light["updated_at"] = _iso(record.updated_at)
        self._notify(self._event(event_type, holder, record.data["id"], {holder: light}))

    def _notify_update(self, name: str, record: StoredRecord) -> None:
        if not self._emitting:
            return
        if name == "customers":
            self._notify_object("customer.updated", "customer", record)
        elif name == "payments":
            self._notify_object("payment.updated", "payment", record)
        elif name == "orders":
            self._notify_order("order.updated", record)
        elif name == "catalog":
            version = {"updated_at": _iso(record.updated_at)}
            self._notify(
                self._event(
                    "catalog.version.updated",
                    "catalog_version",
                    self._uuid(),
                    {"catalog_version": version},
                )
            )

    def _notify(self, event: dict[str, Any], *, only: str | None = None) -> None:
        """Sign ``event`` for each enabled subscription to its type and queue it.

        Signed here with a few lines of ``hmac`` (not the library's code), so that the
        library's verification is checked against an independent implementation:
        base64(HMAC-SHA256(signature key, notification URL + body)).
        """
        if only is None:
            self.events.append(event)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for record in self.webhook_subscriptions:
            sub = record.data
            if only is not None and sub["id"] != only:
                continue
            if only is None and (not sub["enabled"] or event["type"] not in sub["event_types"]):
                continue
            url = sub["notification_url"]
            digest = hmac.new(
                sub["signature_key"].encode("utf-8"), url.encode("utf-8") + body, hashlib.sha256
            ).digest()
            headers = {
                "content-type": "application/json",
                SIGNATURE_HEADER: base64.b64encode(digest).decode("ascii"),
                "square-environment": self.environment,
                "square-initial-delivery-timestamp": _iso(self.clock.now()),
            }
            self.webhooks.enqueue(
                url, event["type"], body, headers, signature_header=SIGNATURE_HEADER
            )

    def invalidate_cursors(self) -> None:
        """Every cursor handed out so far becomes ``400 INVALID_CURSOR``."""
        self._cursor_generation += 1

    # ------------------------------------------------------------------ ground truth

    def order_ids(self, location_id: str, since: _dt.datetime | None = None) -> set[str]:
        """Orders of a location with a payment updated at/after ``since`` (all: ``None``)."""
        ids = set()
        for p in self.payments.query(updated_at_min=since):
            if p.data["location_id"] == location_id:
                ids.add(p.data["order_id"])
        return ids

    def payment_ids(self, location_id: str) -> set[str]:
        """Every payment id of a location."""
        return {p.data["id"] for p in self.payments if p.data["location_id"] == location_id}

    def item_ids(self, location_id: str, since: _dt.datetime | None = None) -> set[str]:
        """Catalog ITEMs available at a location, updated at/after ``since``."""
        out = set()
        for r in self.catalog.query(updated_at_min=since):
            d = r.data
            if d["type"] != "ITEM" or d.get("is_deleted"):
                continue
            if d.get("present_at_all_locations", True) or location_id in d.get(
                "present_at_location_ids", ()
            ):
                out.add(d["id"])
        return out

    def customer_ids_with_email(self, since: _dt.datetime | None = None) -> set[str]:
        """Customers with a non-blank email, updated at/after ``since``."""
        return {
            r.data["id"]
            for r in self.customers.query(updated_at_min=since)
            if str(r.data.get("email_address") or "").strip()
        }

    # ------------------------------------------------------------------ rendering

    def render(self, record: StoredRecord) -> dict[str, Any]:
        """A stored record as Square returns it (timestamps added)."""
        data = dict(record.data)
        if data.get("type") in ("ITEM", "CATEGORY", "IMAGE"):
            data["updated_at"] = _iso(record.updated_at)
            data["version"] = int(record.updated_at.timestamp() * 1000)
            return data
        data["created_at"] = _iso(record.created_at)
        data["updated_at"] = _iso(record.updated_at)
        return data

    # ------------------------------------------------------------------ protocol hooks

    def error_body(self, status: int, message: str) -> Any:
        category, code = _STATUS_ERRORS.get(status, ("API_ERROR", "INTERNAL_SERVER_ERROR"))
        if 400 <= status < 500 and status not in _STATUS_ERRORS:
            category, code = "INVALID_REQUEST_ERROR", "BAD_REQUEST"
        return {"errors": [{"category": category, "code": code, "detail": message}]}

    def _error(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        category: str | None = None,
        field: str | None = None,
    ) -> httpx.Response:
        error: dict[str, Any] = {
            "category": category or _STATUS_ERRORS.get(status, ("INVALID_REQUEST_ERROR",))[0],
            "code": code,
            "detail": detail,
        }
        if field:
            error["field"] = field
        return json_response({"errors": [error]}, status)

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        self._request_ids += 1
        version = request.headers.get("Square-Version")
        return {
            "Square-Version": version or "2025-08-20",
            "X-Request-Id": f"sq-sim-{self._request_ids:07d}",
        }

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        self.versions_seen.append(request.headers.get("Square-Version"))
        auth = request.headers.get("Authorization")
        if request.url.path.startswith("/v2/webhooks/") and self.application_token is not None:
            # Subscriptions belong to the application: its personal access token only.
            if auth == f"Bearer {self.application_token}":
                return None
            if auth == f"Bearer {self.token}":
                return self._error(
                    403,
                    "INSUFFICIENT_SCOPES",
                    "The merchant has not given your application sufficient permissions to "
                    "do that. The merchant must authorize your application for the following "
                    "scopes: DEVELOPER_APPLICATION_WEBHOOKS_WRITE",
                    category="AUTHENTICATION_ERROR",
                )
        if auth != f"Bearer {self.token}":
            return self._error(401, "UNAUTHORIZED", "This request could not be authorized.")
        if self.token_revoked:
            return self._error(401, "ACCESS_TOKEN_REVOKED", "The access token has been revoked.")
        if self.token_expired:
            return self._error(401, "ACCESS_TOKEN_EXPIRED", "The access token has expired.")
        pattern = next(
            (p for m, p in self.routes if m == request.method and _matches(p, request.url.path)),
            None,
        )
        needed = _SCOPES.get(pattern or "")
        if needed and needed not in self.scopes:
            return self._error(
                403,
                "INSUFFICIENT_SCOPES",
                f"The merchant has not given your application sufficient permissions: {needed}",
                category="AUTHENTICATION_ERROR",
            )
        return None

    # ------------------------------------------------------------------ paging

    def _limit(self, value: Any, default: int, maximum: int) -> int:
        try:
            limit = int(value) if value is not None else default
        except (TypeError, ValueError):
            raise _BadRequestError(f"Invalid limit {value!r}", "INVALID_VALUE", "limit") from None
        if limit < 1:
            raise _BadRequestError("limit must be at least 1", "VALUE_TOO_LOW", "limit")
        # Square's limits are advisory: pages may hold fewer records than asked.
        return min(limit, maximum, self.max_page_size)

    def _page(
        self,
        records: list[StoredRecord],
        key: Callable[[StoredRecord], str],
        *,
        limit: int,
        cursor: str | None,
        query: Any,
        descending: bool = False,
    ) -> tuple[list[StoredRecord], str | None]:
        """Keyset paging on ``(key, id)``; the cursor is bound to the query."""
        qhash = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]
        ordered = sorted(records, key=lambda r: (key(r), r.id), reverse=descending)
        if cursor:
            try:
                gen, bound, last_key, last_id = json.loads(
                    base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
                )
            except (ValueError, TypeError):
                raise _BadRequestError(
                    "The cursor is invalid.", "INVALID_CURSOR", "cursor"
                ) from None
            if gen != self._cursor_generation or bound != qhash:
                raise _BadRequestError(
                    "The pagination cursor is invalid or expired, or was used with another query.",
                    "INVALID_CURSOR",
                    "cursor",
                )
            after = (str(last_key), int(last_id))
            ordered = [
                r
                for r in ordered
                if ((key(r), r.id) < after if descending else (key(r), r.id) > after)
            ]
        page = ordered[:limit]
        next_cursor = None
        if len(ordered) > limit:
            last = page[-1]
            raw = json.dumps([self._cursor_generation, qhash, key(last), last.id])
            next_cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return page, next_cursor

    def _answer(self, build: Callable[[], dict[str, Any]]) -> httpx.Response:
        try:
            return json_response(build())
        except _BadRequestError as bad:
            return self._error(400, bad.code, bad.detail, field=bad.field)

    # ------------------------------------------------------------------ locations

    @route("GET", "/v2/locations")
    def list_locations(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """ListLocations: alphabetical by name, unpaginated."""
        locations = sorted(self.locations, key=lambda loc: loc.name)
        return json_response(
            {"locations": [loc.render(self._location_created) for loc in locations]}
        )

    @route("GET", "/v2/locations/{location_id}")
    def retrieve_location(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """RetrieveLocation."""
        loc = self.location(params["location_id"])
        if loc is None:
            return self._error(404, "NOT_FOUND", f"Location {params['location_id']} not found")
        return json_response({"location": loc.render(self._location_created)})

    # ------------------------------------------------------------------ customers

    @route("POST", "/v2/customers/search")
    def search_customers(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """SearchCustomers: filters on times, email, reference id; DEFAULT/CREATED_AT sort."""

        def build() -> dict[str, Any]:
            body = request_json(request) or {}
            query = body.get("query") or {}
            flt = query.get("filter") or {}
            sort = query.get("sort") or {}
            field = sort.get("field", "DEFAULT")
            if field not in ("DEFAULT", "CREATED_AT"):
                raise _BadRequestError(
                    f"Invalid sort field {field!r}", "INVALID_ENUM_VALUE", "query.sort.field"
                )
            ranges = {}
            for name in ("created_at", "updated_at"):
                if name in flt:
                    rng = flt[name] or {}
                    ranges[name] = (
                        _parse_time(rng["start_at"], name) if rng.get("start_at") else None,
                        _parse_time(rng["end_at"], name) if rng.get("end_at") else None,
                    )
            email = (flt.get("email_address") or {}).get("exact")
            reference = (flt.get("reference_id") or {}).get("exact")

            def keep(r: StoredRecord) -> bool:
                for name, (lo, hi) in ranges.items():
                    value = r.created_at if name == "created_at" else r.updated_at
                    if (lo and value < lo) or (hi and value > hi):
                        return False
                if email is not None and r.data.get("email_address") != email:
                    return False
                return reference is None or r.data.get("reference_id") == reference

            records = self.customers.query(where=keep)
            # DEFAULT sorts by name on Square; the simulator approximates it by id.
            key = (
                (lambda r: r.created_at.isoformat())
                if field == "CREATED_AT"
                else (lambda r: f"{r.id:012d}")
            )
            page, cursor = self._page(
                records,
                key,
                limit=self._limit(body.get("limit"), 100, 100),
                cursor=body.get("cursor"),
                query=query,
                descending=sort.get("order", "ASC") == "DESC",
            )
            out: dict[str, Any] = {"customers": [self.render(r) for r in page]}
            if cursor:
                out["cursor"] = cursor
            return out

        return self._answer(build)

    @route("GET", "/v2/customers/{customer_id}")
    def retrieve_customer(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """RetrieveCustomer."""
        record = self.get("customers", params["customer_id"])
        if record is None:
            return self._error(
                404, "NOT_FOUND", f"Customer with ID `{params['customer_id']}` not found."
            )
        return json_response({"customer": self.render(record)})

    @route("GET", "/v2/customers")
    def list_customers(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """ListCustomers: ``sort_field`` DEFAULT/CREATED_AT, ``limit`` 1-100."""

        def build() -> dict[str, Any]:
            q = request.url.params
            limit = q.get("limit")
            if limit is not None and int(limit) > 100:
                raise _BadRequestError("limit must be at most 100", "VALUE_TOO_HIGH", "limit")
            field = q.get("sort_field", "DEFAULT")
            key = (
                (lambda r: r.created_at.isoformat())
                if field == "CREATED_AT"
                else (lambda r: f"{r.id:012d}")
            )
            page, cursor = self._page(
                self.customers.query(),
                key,
                limit=self._limit(limit, 100, 100),
                cursor=q.get("cursor"),
                query=["list", field, q.get("sort_order")],
                descending=q.get("sort_order") == "DESC",
            )
            out: dict[str, Any] = {"customers": [self.render(r) for r in page]}
            if cursor:
                out["cursor"] = cursor
            return out

        return self._answer(build)

    # ------------------------------------------------------------------ payments

    @route("GET", "/v2/payments")
    def list_payments(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """ListPayments, with Square's defaults (main location, begin_time one year ago)."""

        def build() -> dict[str, Any]:
            q = request.url.params
            now = self.clock.now()
            location_id = q.get("location_id") or self.locations[0].id
            begin = (
                _parse_time(q["begin_time"], "begin_time")
                if "begin_time" in q
                else (now - _dt.timedelta(days=365))
            )
            end = _parse_time(q["end_time"], "end_time") if "end_time" in q else None
            ubegin = (
                _parse_time(q["updated_at_begin_time"], "updated_at_begin_time")
                if "updated_at_begin_time" in q
                else begin
            )
            uend = (
                _parse_time(q["updated_at_end_time"], "updated_at_end_time")
                if "updated_at_end_time" in q
                else None
            )
            field = q.get("sort_field", "CREATED_AT")
            if field not in ("CREATED_AT", "UPDATED_AT", "OFFLINE_CREATED_AT"):
                raise _BadRequestError(
                    f"Invalid sort_field {field!r}", "INVALID_ENUM_VALUE", "sort_field"
                )
            order = q.get("sort_order", "DESC")
            records = self.payments.query(
                created_at_min=begin,
                created_at_max=end,
                updated_at_min=ubegin,
                updated_at_max=uend,
                where=lambda r: r.data["location_id"] == location_id,
            )
            key = (
                (lambda r: r.updated_at.isoformat())
                if field == "UPDATED_AT"
                else (lambda r: r.created_at.isoformat())
            )
            query = sorted((k, v) for k, v in q.multi_items() if k not in ("cursor", "limit"))
            page, cursor = self._page(
                records,
                key,
                limit=self._limit(q.get("limit"), 100, 100),
                cursor=q.get("cursor"),
                query=query,
                descending=order == "DESC",
            )
            out: dict[str, Any] = {"payments": [self.render(r) for r in page]}
            if cursor:
                out["cursor"] = cursor
            return out

        return self._answer(build)

    @route("GET", "/v2/payments/{payment_id}")
    def get_payment(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """GetPayment."""
        record = self.get("payments", params["payment_id"])
        if record is None:
            return self._error(
                404, "NOT_FOUND", f"Could not find payment with id: {params['payment_id']}"
            )
        return json_response({"payment": self.render(record)})

    # ------------------------------------------------------------------ orders

    @route("POST", "/v2/orders/batch-retrieve")
    def batch_retrieve_orders(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """BatchRetrieveOrders: up to 100 ids; unknown ids are left out."""

        def build() -> dict[str, Any]:
            body = request_json(request) or {}
            ids = body.get("order_ids")
            if not isinstance(ids, list) or not ids:
                raise _BadRequestError(
                    "order_ids is required", "MISSING_REQUIRED_PARAMETER", "order_ids"
                )
            if len(ids) > 100:
                raise _BadRequestError("At most 100 order ids", "VALUE_TOO_HIGH", "order_ids")
            location_id = body.get("location_id")
            orders = []
            for oid in ids:
                record = self.get("orders", str(oid))
                if record is None:
                    continue
                if location_id and record.data["location_id"] != location_id:
                    continue
                orders.append(self.render(record))
            return {"orders": orders}

        return self._answer(build)

    @route("GET", "/v2/orders/{order_id}")
    def retrieve_order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """RetrieveOrder."""
        record = self.get("orders", params["order_id"])
        if record is None:
            return self._error(404, "NOT_FOUND", f"Order {params['order_id']} not found.")
        return json_response({"order": self.render(record)})

    @route("POST", "/v2/orders/search")
    def search_orders(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """SearchOrders: date_time_filter with a matching sort, states, entries."""

        def build() -> dict[str, Any]:
            body = request_json(request) or {}
            locations = body.get("location_ids")
            if not isinstance(locations, list) or not locations:
                raise _BadRequestError(
                    "location_ids is required", "MISSING_REQUIRED_PARAMETER", "location_ids"
                )
            if len(locations) > 10:
                raise _BadRequestError("At most 10 location_ids", "VALUE_TOO_HIGH", "location_ids")
            query = body.get("query") or {}
            flt = query.get("filter") or {}
            sort = query.get("sort") or {}
            sort_field = sort.get("sort_field", "CREATED_AT")
            dt_filter = flt.get("date_time_filter") or {}
            if len(dt_filter) > 1:
                raise _BadRequestError(
                    "Only one date_time_filter field may be set",
                    "BAD_REQUEST",
                    "query.filter.date_time_filter",
                )
            if dt_filter:
                ((dt_field, rng),) = dt_filter.items()
                if dt_field.upper() != sort_field:
                    raise _BadRequestError(
                        f"The sort_field {sort_field} must match the date_time_filter "
                        f"field {dt_field}",
                        "BAD_REQUEST",
                        "query.sort.sort_field",
                    )
                lo = _parse_time(rng["start_at"], dt_field) if rng.get("start_at") else None
                hi = _parse_time(rng["end_at"], dt_field) if rng.get("end_at") else None
            else:
                dt_field, lo, hi = sort_field.lower(), None, None
            states = set((flt.get("state_filter") or {}).get("states") or ())

            def when(r: StoredRecord) -> _dt.datetime | None:
                if dt_field == "closed_at":
                    closed = r.data.get("closed_at")
                    return _parse_time(closed, "closed_at") if closed else None
                return r.created_at if dt_field == "created_at" else r.updated_at

            def keep(r: StoredRecord) -> bool:
                if r.data["location_id"] not in locations:
                    return False
                if states and r.data.get("state") not in states:
                    return False
                value = when(r)
                if value is None:
                    return False
                return not ((lo and value < lo) or (hi and value > hi))

            page, cursor = self._page(
                self.orders.query(where=keep),
                lambda r: (when(r) or r.created_at).isoformat(),
                limit=self._limit(body.get("limit"), 500, 1000),
                cursor=body.get("cursor"),
                query=[locations, query],
                descending=sort.get("sort_order", "DESC") == "DESC",
            )
            out: dict[str, Any]
            if body.get("return_entries"):
                out = {
                    "order_entries": [
                        {
                            "order_id": r.data["id"],
                            "location_id": r.data["location_id"],
                            "version": r.data.get("version", 1),
                        }
                        for r in page
                    ]
                }
            else:
                out = {"orders": [self.render(r) for r in page]}
            if cursor:
                out["cursor"] = cursor
            return out

        return self._answer(build)

    # ------------------------------------------------------------------ catalog

    def _related(self, objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The objects ``objects`` reference by id, **one level deep** (as on Square).

        An ITEM brings its categories and images; a variation its own images. What the
        related objects reference in turn is not included.
        """
        wanted: list[str] = []
        for obj in objects:
            data = obj.get("item_data") or {}
            for cat in data.get("categories") or ():
                wanted.append(cat["id"])
            wanted.extend(data.get("image_ids") or ())
            wanted.extend((obj.get("item_variation_data") or {}).get("image_ids") or ())
        out, seen = [], set()
        for oid in wanted:
            record = self.get("catalog", oid)
            if record is not None and oid not in seen:
                seen.add(oid)
                out.append(self.render(record))
        return out

    @route("POST", "/v2/catalog/search")
    def search_catalog(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """SearchCatalogObjects: object types, exclusive begin_time, related objects."""

        def build() -> dict[str, Any]:
            body = request_json(request) or {}
            types = set(body.get("object_types") or ("ITEM", "CATEGORY", "IMAGE"))
            begin = (
                _parse_time(body["begin_time"], "begin_time") if body.get("begin_time") else None
            )
            deleted = bool(body.get("include_deleted_objects"))

            def keep(r: StoredRecord) -> bool:
                if r.data.get("type") not in types:
                    return False
                if r.data.get("is_deleted") and not deleted:
                    return False
                # "objects modified after this timestamp": exclusive.
                return begin is None or r.updated_at > begin

            query = {k: v for k, v in body.items() if k not in ("cursor", "limit")}
            page, cursor = self._page(
                self.catalog.query(where=keep),
                lambda r: f"{r.id:012d}",
                limit=self._limit(body.get("limit"), 100, 1000),
                cursor=body.get("cursor"),
                query=query,
            )
            objects = [self.render(r) for r in page]
            out: dict[str, Any] = {"objects": objects}
            if body.get("include_related_objects"):
                out["related_objects"] = self._related(objects)
            if cursor:
                out["cursor"] = cursor
            out["latest_time"] = _iso(self.data_end)
            return out

        return self._answer(build)

    @route("GET", "/v2/catalog/list")
    def list_catalog(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """ListCatalog: ``types``, pages of 100, no deleted objects."""

        def build() -> dict[str, Any]:
            q = request.url.params
            types = set((q.get("types") or "ITEM,CATEGORY,IMAGE").split(","))
            page, cursor = self._page(
                self.catalog.query(
                    where=lambda r: r.data.get("type") in types and not r.data.get("is_deleted")
                ),
                lambda r: f"{r.id:012d}",
                limit=self._limit(None, 100, 100),
                cursor=q.get("cursor"),
                query=sorted(types),
            )
            out: dict[str, Any] = {"objects": [self.render(r) for r in page]}
            if cursor:
                out["cursor"] = cursor
            return out

        return self._answer(build)

    @route("POST", "/v2/catalog/batch-retrieve")
    def batch_retrieve_catalog(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """BatchRetrieveCatalogObjects: items, variations (parent item related), others.

        Related objects go one level deep, as Square documents: a variation's parent
        ITEM comes back, but not that item's CATEGORY and IMAGE objects.
        """

        def build() -> dict[str, Any]:
            body = request_json(request) or {}
            ids = body.get("object_ids")
            if not isinstance(ids, list) or not ids:
                raise _BadRequestError(
                    "object_ids is required", "MISSING_REQUIRED_PARAMETER", "object_ids"
                )
            objects: list[dict[str, Any]] = []
            parents: list[dict[str, Any]] = []
            for oid in ids:
                record = self.get("catalog", str(oid))
                if record is not None:
                    objects.append(self.render(record))
                    continue
                item_id = self._variation_item.get(str(oid))
                item = self.get("catalog", item_id) if item_id else None
                if item is None:
                    continue
                rendered = self.render(item)
                variation = next(v for v in rendered["item_data"]["variations"] if v["id"] == oid)
                objects.append(variation)
                if all(p["id"] != rendered["id"] for p in parents):
                    parents.append(rendered)
            out: dict[str, Any] = {"objects": objects}
            if body.get("include_related_objects"):
                # "This process only goes one level deep": a variation brings its parent
                # ITEM, not the item's categories and images.
                out["related_objects"] = parents + self._related(objects)
            return out

        return self._answer(build)

    # ------------------------------------------------------------------ webhook subscriptions

    def _subscription(self, record: StoredRecord, *, with_key: bool = False) -> dict[str, Any]:
        """A subscription as Square shows it (the signature key only where documented)."""
        data = {k: v for k, v in record.data.items() if k != "signature_key" or with_key}
        data["created_at"] = _iso(record.created_at)
        data["updated_at"] = _iso(record.updated_at)
        return data

    def _check_subscription(self, sub: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """The writable fields of a subscription, validated; a 400 for the first bad one."""
        out: dict[str, Any] = {}
        if "notification_url" in sub or creating:
            url = sub.get("notification_url")
            if url is None:
                raise _BadRequestError(
                    "Field must be set",
                    "MISSING_REQUIRED_PARAMETER",
                    "subscription.notification_url",
                )
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme != "https" or not parts.hostname:
                # Square: "must be formatted correctly, use the HTTPS protocol".
                raise _BadRequestError(
                    "The notification URL must be a valid HTTPS URL.",
                    "INVALID_VALUE",
                    "subscription.notification_url",
                )
            out["notification_url"] = url
        if "event_types" in sub or creating:
            types = sub.get("event_types")
            if not isinstance(types, list):
                raise _BadRequestError(
                    "Expected an array of event types.",
                    "EXPECTED_ARRAY",
                    "subscription.event_types",
                )
            if not types:
                raise _BadRequestError(
                    "At least one event type is required.",
                    "ARRAY_EMPTY",
                    "subscription.event_types",
                )
            for t in types:
                if not isinstance(t, str) or not _EVENT_TYPE.fullmatch(t):
                    raise _BadRequestError(
                        f"Invalid event type {t!r}.",
                        "INVALID_ARRAY_VALUE",
                        "subscription.event_types",
                    )
            out["event_types"] = list(dict.fromkeys(types))
        if "name" in sub:
            name = sub["name"]
            if not isinstance(name, str):
                raise _BadRequestError("Expected a string.", "EXPECTED_STRING", "subscription.name")
            if len(name) > 64:
                raise _BadRequestError(
                    "Must be at most 64 characters.", "VALUE_TOO_LONG", "subscription.name"
                )
            out["name"] = name
        if "enabled" in sub:
            if not isinstance(sub["enabled"], bool):
                raise _BadRequestError(
                    "Expected a boolean.", "EXPECTED_BOOLEAN", "subscription.enabled"
                )
            out["enabled"] = sub["enabled"]
        if "api_version" in sub:
            version = sub["api_version"]
            if not isinstance(version, str) or not _API_VERSION.fullmatch(version):
                raise _BadRequestError(
                    f"Invalid API version {version!r}.",
                    "INVALID_VALUE",
                    "subscription.api_version",
                )
            out["api_version"] = version
        return out

    def _subscription_record(self, subscription_id: str) -> StoredRecord:
        record = self.get("subscriptions", subscription_id)
        if record is None:
            raise _NotFoundError(f"Subscription `{subscription_id}` not found.")
        return record

    def _answer_webhooks(self, build: Callable[[], dict[str, Any]]) -> httpx.Response:
        try:
            return self._answer(build)
        except _NotFoundError as missing:
            return self._error(404, "NOT_FOUND", str(missing))

    @route("GET", _SUBSCRIPTIONS)
    def list_webhook_subscriptions(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """ListWebhookSubscriptions: enabled ones (all with ``include_disabled``), by creation."""

        def build() -> dict[str, Any]:
            q = request.url.params
            limit = q.get("limit")
            if limit is not None and limit.isdigit() and int(limit) > 100:
                raise _BadRequestError("limit must be at most 100", "VALUE_TOO_HIGH", "limit")
            disabled = q.get("include_disabled", "false")
            if disabled not in ("true", "false"):
                raise _BadRequestError(
                    "Expected a boolean.", "EXPECTED_BOOLEAN", "include_disabled"
                )
            order = q.get("sort_order", "ASC")
            if order not in ("ASC", "DESC"):
                raise _BadRequestError(
                    f"Invalid sort_order {order!r}", "INVALID_SORT_ORDER", "sort_order"
                )
            records = [
                r for r in self.webhook_subscriptions if r.data["enabled"] or disabled == "true"
            ]
            page, cursor = self._page(
                records,
                lambda r: f"{r.id:012d}",
                limit=self._limit(limit, 100, 100),
                cursor=q.get("cursor"),
                query=["subscriptions", disabled, order],
                descending=order == "DESC",
            )
            out: dict[str, Any] = {"subscriptions": [self._subscription(r) for r in page]}
            if cursor:
                out["cursor"] = cursor
            return out

        return self._answer_webhooks(build)

    @route("POST", _SUBSCRIPTIONS)
    def create_webhook_subscription(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """CreateWebhookSubscription: validated, idempotent on ``idempotency_key``."""

        def build() -> dict[str, Any]:
            body = request_json(request)
            if not isinstance(body, Mapping):
                raise _BadRequestError(
                    "The request body must be a JSON object.", "EXPECTED_JSON_BODY"
                )
            sub = body.get("subscription")
            if not isinstance(sub, Mapping):
                raise _BadRequestError(
                    "Field must be set", "MISSING_REQUIRED_PARAMETER", "subscription"
                )
            key = body.get("idempotency_key")
            if key is not None and (not isinstance(key, str) or len(key) > 45):
                raise _BadRequestError(
                    "Must be at most 45 characters.", "VALUE_TOO_LONG", "idempotency_key"
                )
            fingerprint = json.dumps(sub, sort_keys=True)
            if key and key in self._idempotency:
                earlier_id, earlier = self._idempotency[key]
                if earlier != fingerprint:
                    raise _BadRequestError(
                        "The idempotency key was used with another request.",
                        "IDEMPOTENCY_KEY_REUSED",
                        "idempotency_key",
                    )
                record = self.get("subscriptions", earlier_id)
                if record is not None:
                    return {"subscription": self._subscription(record, with_key=True)}
            fields = self._check_subscription(sub, creating=True)
            rng = self._hooks_rng
            sid = "wbhk_" + "".join(f"{rng.getrandbits(4):x}" for _ in range(32))
            data: dict[str, Any] = {
                "id": sid,
                "name": "",
                "enabled": True,
                "api_version": request.headers.get("Square-Version") or "2025-08-20",
                **fields,
                "signature_key": self._signature_key(),
            }
            record = self._insert("subscriptions", data, self.clock.now(), self.clock.now())
            if key:
                self._idempotency[key] = (sid, fingerprint)
            return {"subscription": self._subscription(record, with_key=True)}

        return self._answer_webhooks(build)

    def _signature_key(self) -> str:
        raw = bytes(self._hooks_rng.getrandbits(8) for _ in range(16))
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @route("GET", _SUBSCRIPTIONS + "/{subscription_id}")
    def retrieve_webhook_subscription(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """RetrieveWebhookSubscription (with its signature key)."""

        def build() -> dict[str, Any]:
            record = self._subscription_record(params["subscription_id"])
            return {"subscription": self._subscription(record, with_key=True)}

        return self._answer_webhooks(build)

    @route("PUT", _SUBSCRIPTIONS + "/{subscription_id}")
    def update_webhook_subscription(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """UpdateWebhookSubscription: name, enabled, event types, URL, API version."""

        def build() -> dict[str, Any]:
            record = self._subscription_record(params["subscription_id"])
            body = request_json(request)
            sub = body.get("subscription") if isinstance(body, Mapping) else None
            if not isinstance(sub, Mapping):
                raise _BadRequestError(
                    "Field must be set", "MISSING_REQUIRED_PARAMETER", "subscription"
                )
            changes = self._check_subscription(sub, creating=False)
            updated = self.webhook_subscriptions.update(
                record.id, changes, updated_at=self.clock.now()
            )
            return {"subscription": self._subscription(updated)}

        return self._answer_webhooks(build)

    @route("DELETE", _SUBSCRIPTIONS + "/{subscription_id}")
    def delete_webhook_subscription(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """DeleteWebhookSubscription."""

        def build() -> dict[str, Any]:
            record = self._subscription_record(params["subscription_id"])
            self.webhook_subscriptions.delete(record.id)
            self._index["subscriptions"].pop(params["subscription_id"], None)
            return {}

        return self._answer_webhooks(build)

    @route("POST", _SUBSCRIPTIONS + "/{subscription_id}/signature-key")
    def update_webhook_subscription_signature_key(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """UpdateWebhookSubscriptionSignatureKey: a new key; notifications use it from now."""

        def build() -> dict[str, Any]:
            record = self._subscription_record(params["subscription_id"])
            key = self._signature_key()
            self.webhook_subscriptions.update(record.id, {"signature_key": key})
            return {"signature_key": key}

        return self._answer_webhooks(build)

    @route("POST", _SUBSCRIPTIONS + "/{subscription_id}/test")
    def test_webhook_subscription(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """TestWebhookSubscription: queues a test notification of one subscribed type.

        Square answers with the receiver's status code; the simulator never delivers
        from inside a request, so ``status_code`` is ``null`` and the notification
        goes out with the next ``webhooks.flush()``.
        """

        def build() -> dict[str, Any]:
            record = self._subscription_record(params["subscription_id"])
            body = request_json(request)
            event_type = body.get("event_type") if isinstance(body, Mapping) else None
            if event_type not in record.data["event_types"]:
                raise _BadRequestError(
                    "The event type must be one of the subscription's event types.",
                    "INVALID_VALUE",
                    "event_type",
                )
            noun = str(event_type).split(".")[0]
            event = self._event(str(event_type), noun, self._uuid(), {})
            self._notify(event, only=record.data["id"])
            now = _iso(self.clock.now())
            return {
                "subscription_test_result": {
                    "id": event["event_id"],
                    "status_code": None,
                    "payload": json.dumps(event, separators=(",", ":")),
                    "created_at": now,
                    "updated_at": now,
                }
            }

        return self._answer_webhooks(build)


def _matches(pattern: str, path: str) -> bool:
    parts, actual = pattern.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(actual) and all(
        p.startswith("{") or p == a for p, a in zip(parts, actual, strict=True)
    )


# ---------------------------------------------------------------------- conformance harness


class SquareHarness:
    """Wires a :class:`SquareConnector` to a :class:`SquareSimulator` for ``check_connector``.

    The connector reads the first location; both share one
    :class:`~commerce_connectors.clock.FakeClock`, so pacing and backoff take no real time.

    Example:
        >>> from commerce_connectors.testing.conformance import check_connector
        >>> check_connector(lambda: SquareHarness(payments=120, customers=40, products=30))
    """

    def __init__(
        self,
        *,
        seed: int = 11,
        customers: int = 60,
        payments: int = 200,
        products: int = 30,
        max_page_size: int = 10,
        location_index: int = 0,
        merchant_id_known: bool = True,
    ) -> None:
        self.clock = FakeClock()
        self.simulator = SquareSimulator(
            seed=seed,
            customers=customers,
            payments=payments,
            products=products,
            clock=self.clock,
            max_page_size=max_page_size,
        )
        self.secret = self.simulator.token
        self.location = self.simulator.locations[location_index]
        self.merchant_id_known = merchant_id_known

    def make_connector(
        self, *, valid_credentials: bool = True, on_invalid: InvalidRecordHandler | None = None
    ) -> SquareConnector:
        """A connector on the simulator (a bad token when ``valid_credentials`` is false)."""
        return SquareConnector(
            access_token=self.secret if valid_credentials else "EAAA-revoked-" + self.secret[::-1],
            location_id=self.location.id,
            merchant_id=self.location.merchant_id if self.merchant_id_known else None,
            transport=self.simulator.transport(),
            clock=self.clock,
            on_invalid=on_invalid,
        )

    def expected_ids(self, stream: Stream, since: _dt.datetime | None = None) -> set[str]:
        """Ground truth per stream (customers without email are skipped)."""
        if stream is Stream.CUSTOMERS:
            return self.simulator.customer_ids_with_email(since)
        if stream is Stream.ORDERS:
            return self.simulator.order_ids(self.location.id, since)
        if stream is Stream.PRODUCTS:
            return self.simulator.item_ids(self.location.id, since)
        return set()

    def timestamps(self, stream: Stream) -> list[_dt.datetime]:
        """``updated_at`` of each record as the connector reports it."""
        sim = self.simulator
        if stream is Stream.CUSTOMERS:
            return [r.updated_at for r in sim.customers]
        if stream is Stream.ORDERS:
            return [r.updated_at for r in sim.payments if r.data["location_id"] == self.location.id]
        if stream is Stream.PRODUCTS:
            wanted = self.simulator.item_ids(self.location.id)
            return [r.updated_at for r in sim.catalog if r.data["id"] in wanted]
        return []

    def corrupt_one(self, stream: Stream) -> str:
        """Break one record of the stream (keeping its timestamps); return its id."""
        sim = self.simulator
        if stream is Stream.CUSTOMERS:
            victim = sorted(sim.customer_ids_with_email())[0]
            record = sim.get("customers", victim)
            assert record is not None
            sim.update(
                "customers",
                victim,
                {"preferences": {"email_unsubscribed": "maybe"}},
                updated_at=record.updated_at,
            )
            return victim
        if stream is Stream.ORDERS:
            victim = sorted(sim.order_ids(self.location.id))[0]
            record = sim.get("orders", victim)
            assert record is not None
            total = dict(record.data["total_money"], amount="12,34")
            sim.update("orders", victim, {"total_money": total}, updated_at=record.updated_at)
            return victim
        victim = sorted(sim.item_ids(self.location.id))[0]
        record = sim.get("catalog", victim)
        assert record is not None
        data = json.loads(json.dumps(record.data))
        data["item_data"]["variations"][0]["item_variation_data"]["price_money"]["currency"] = "ZZZ"
        sim.update("catalog", victim, data, updated_at=record.updated_at)
        return victim
