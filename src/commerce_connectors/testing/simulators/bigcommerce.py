"""A BigCommerce simulator: v2 orders, v3 customers, catalog and carts, over seeded data.

:class:`BigCommerceSimulator` answers like the BigCommerce Management API
(``/stores/{store_hash}/v2|v3/...``) in-process or on a loopback socket:

* v2 ``/orders`` as a bare JSON array, sorted and filtered the way the
  connector asks (``sort=date_modified:asc``, ``min_date_modified`` in RFC 2822
  or ISO 8601, ``status_id``…), with ``204 No Content`` past the last page (or
  an empty array, ``empty_page="[]"``); the order sub-resources ``products``,
  ``shipping_addresses``, ``coupons`` and ``consignments``; ``/orders/{id}``;
  ``/store``; ``include=consignments.line_items|consignments|fees`` with
  ``consignment_structure=object`` on ``/orders`` and ``/orders/{id}``, as
  orders.v2.oas2.yml describes it (pickups, shipping, downloads and gift-certificate
  consignments, line items inside or as links);
* v3 ``/customers`` (``include=addresses``, ``date_modified:min``, ``id:in``,
  ``email:in``…),
  ``/catalog/products`` (``include=variants,images,primary_image``,
  ``include_fields``, ``id:in``), ``/catalog/trees`` and ``/catalog/trees/categories``
  (two storefronts' trees), the deprecated ``/catalog/categories`` (the default
  storefront's tree only) and ``/carts/{id}``, each with ``meta.pagination``, and
  ``/catalog/products/{id}``;
* v3 ``/customers/subscribers`` (the newsletter list) with every filter of the
  reference (``email``, ``first_name``, ``last_name``, ``source``, ``order_id``,
  ``id``, ``id:in``, ``date_created`` and ``date_modified`` with ``:min``/``:max``),
  ``page``/``limit`` and ``meta.pagination``, 422 problem JSON with an ``errors`` map
  for a bad filter, and ``/customers/subscribers/{id}`` (404 once deleted). Seeded so
  that some registered customers are subscribers with ``marketing_newsletter``
  consent, some with only ``abandoned_cart`` or none (unsubscribed), and guests who
  ticked the checkout's opt-in box are subscribers with ``source: "order"``;
* the four ``X-Rate-Limit-*`` headers of a fixed window (150 per 30 s by
  default; scale ``window`` down freely), 429 with ``X-Retry-After``;
* v2 error bodies (``[{"status", "message"}]``) and v3 problem JSON
  (``{"status", "title", "type"}``), 401 without the right ``X-Auth-Token``,
  413 for ``limit`` over 250;
* money as 4-decimal strings (v2) and JSON numbers (v3), dates in RFC 2822 (v2)
  and ISO 8601 (v3), guests with ``customer_id`` 0, orders of every status,
  archived orders, refunds.

Page numbers are offsets into the data as it is at each request, so records
modified while a client pages move (the hazard the connector must survive; see
:meth:`BigCommerceSimulator.touch_order` and the kit's ``Mutate`` fault).

Webhooks: ``/v3/hooks`` (list with ``meta.pagination`` and its filters, create, get,
update, delete) with the reference's validation (``scope`` and ``destination``
required, ``https`` on port 443 only, known scopes only; 422 problem JSON with an
``errors`` map). When data changes through the simulator's methods (:meth:`add_order`,
:meth:`touch_order`, :meth:`refund_order`, :meth:`archive_order`,
:meth:`add_customer`, :meth:`update_customer`, :meth:`delete_customer`,
:meth:`add_subscriber`, :meth:`update_subscriber`, :meth:`delete_subscriber`,
:meth:`add_product`, :meth:`update_product`, :meth:`delete_product`,
:meth:`add_cart`, :meth:`update_cart`, :meth:`delete_cart`, :meth:`convert_cart`,
:meth:`uninstall_app`), each active hook whose scope covers the event gets a light
payload signed per Standard Webhooks with the app's ``client_secret``, queued in
:attr:`BigCommerceSimulator.webhooks` and POSTed by ``sim.webhooks.flush()``.
``store/cart/abandoned`` fires from :meth:`BigCommerceSimulator.tick` once a cart has
had no change for an hour of the simulator's clock.

Example:
    >>> from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
    >>> clock = ConcurrentFakeClock()
    >>> sim = BigCommerceSimulator(seed=3, customers=20, orders=40, products=10, clock=clock)
    >>> with BigCommerceConnector(store_hash=sim.store_hash, access_token=sim.access_token,
    ...                           transport=sim.transport(), clock=clock) as conn:
    ...     orders = list(conn.iter_orders())
    >>> len(orders) == len(sim.expected_order_ids())
    True
"""

from __future__ import annotations

import base64
import datetime as _dt
import email.utils
import functools
import hashlib
import hmac
import json
import math
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import httpx

from ...clock import Clock
from ...platforms.bigcommerce import BigCommerceConnector
from ...protocols import InvalidRecordHandler, Stream
from ..simulator import (
    BigCommerceRateLimit,
    FakeData,
    FakePerson,
    Fault,
    RateLimiter,
    RecordStore,
    Simulator,
    StoredRecord,
    json_response,
    request_json,
    route,
)
from ..simulator.webhooks import DeliveryResult, WebhookOutbox

__all__ = [
    "ABANDON_AFTER",
    "WEBHOOK_SCOPES",
    "BigCommerceHarness",
    "BigCommerceSimulator",
    "ConcurrentFakeClock",
    "fixed_windows",
]

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(2023, 1, 1, tzinfo=UTC)
_NOW = _dt.datetime(2024, 10, 1, tzinfo=UTC)
_FOUR = Decimal("0.0001")
_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
_MAX_LIMIT = 250

#: (status_id, name, weight): a realistic mix, refunds and failures included.
_STATUSES: tuple[tuple[int, str, int], ...] = (
    (0, "Incomplete", 3),
    (1, "Pending", 4),
    (2, "Shipped", 14),
    (3, "Partially Shipped", 2),
    (4, "Refunded", 5),
    (5, "Cancelled", 4),
    (6, "Declined", 3),
    (7, "Awaiting Payment", 5),
    (8, "Awaiting Pickup", 2),
    (9, "Awaiting Shipment", 4),
    (10, "Completed", 30),
    (11, "Awaiting Fulfillment", 16),
    (12, "Manual Verification Required", 1),
    (13, "Disputed", 1),
    (14, "Partially Refunded", 3),
)
_SHIPPING = ("Flat Rate", "Free Shipping", "UPS Ground", "USPS Priority", "Pickup In Store")
#: The store's one pickup location (``pickupConsignmentLocation_Get``).
_PICKUP_LOCATION: Mapping[str, Any] = {
    "id": 1,
    "name": "Main Street Store",
    "code": "MAIN-1",
    "address_line_1": "123 Main Street",
    "address_line_2": "Suite 101",
    "city": "Austin",
    "state": "Texas",
    "postal_code": "78726",
    "country_alpha2": "US",
    "email": "pickup@example.com",
    "phone": "+1 512-555-0100",
}
#: What a shipping consignment repeats of its shipping address (shippingConsignment_Get).
_SHIPPING_CONSIGNMENT = frozenset(
    {
        "id",
        "first_name",
        "last_name",
        "company",
        "street_1",
        "street_2",
        "city",
        "zip",
        "country",
        "country_iso2",
        "state",
        "email",
        "phone",
        "shipping_method",
        "items_total",
        "items_shipped",
    }
)
#: ``include`` values of GET /v2/orders (orders.v2.oas2.yml ``order_includes``).
_ORDER_INCLUDES = frozenset({"consignments", "consignments.line_items", "fees"})

#: The scopes the webhooks reference (webhooks.v3.yml) documents; others are refused.
WEBHOOK_SCOPES: frozenset[str] = frozenset(
    {
        *(f"store/cart/{e}" for e in ("*", "created", "updated", "deleted", "couponApplied")),
        *(f"store/cart/{e}" for e in ("abandoned", "converted")),
        *(f"store/cart/lineItem/{e}" for e in ("*", "created", "updated", "deleted")),
        *(f"store/category/{e}" for e in ("*", "created", "updated", "deleted")),
        *(f"store/channel/{e}" for e in ("*", "created", "updated")),
        *(f"store/customer/{e}" for e in ("*", "created", "updated", "deleted")),
        *(f"store/customer/address/{e}" for e in ("created", "updated", "deleted")),
        "store/customer/payment/instrument/default/updated",
        *(f"store/order/{e}" for e in ("*", "created", "updated", "archived")),
        *(f"store/order/{e}" for e in ("statusUpdated", "message/created", "refund/created")),
        *(f"store/product/{e}" for e in ("*", "deleted", "created", "updated")),
        *(f"store/product/{e}" for e in ("inventory/updated", "inventory/order/updated")),
        *(f"store/shipment/{e}" for e in ("*", "created", "updated", "deleted")),
        *(f"store/sku/{e}" for e in ("*", "created", "updated", "deleted")),
        *(f"store/sku/{e}" for e in ("inventory/updated", "inventory/order/updated")),
        "store/app/uninstalled",
        "store/information/updated",
        *(f"store/subscriber/{e}" for e in ("*", "created", "updated", "deleted")),
    }
)
#: "A cart is considered abandoned when no changes have been made for at least one hour".
ABANDON_AFTER = _dt.timedelta(hours=1)
_INVALID = "JSON data is missing or invalid"
_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "scope": (str,),
    "destination": (str,),
    "is_active": (bool,),
    "headers": (dict, type(None)),
}
_JSON_TYPE_NAMES = {
    "scope": "jsstring",
    "destination": "jsstring",
    "is_active": "jsboolean",
    "headers": "jsobject",
}


def _money(value: Decimal) -> str:
    return str(value.quantize(_FOUR))


def _rfc2822(value: _dt.datetime) -> str:
    return email.utils.format_datetime(value.astimezone(UTC))


def _iso(value: _dt.datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _cart_time(value: _dt.datetime) -> str:
    """Cart times as the cart API writes them: ``2018-09-17T14:27:39.000Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_date(text: str) -> _dt.datetime:
    """RFC 2822 or ISO 8601; a value without an offset is read as UTC."""
    text = text.strip()
    if text[:3].isalpha() and "," in text[:5]:
        parsed = email.utils.parsedate_to_datetime(text)
    else:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class ConcurrentFakeClock:
    """A fake clock on which concurrent sleeps overlap, as they do in real time.

    :class:`~commerce_connectors.clock.FakeClock` adds every ``sleep`` to one total,
    which is right for one thread but serialises threads: four workers each
    waiting 1 s for a rate-limit window would move time 4 s. Here ``sleep(s)``
    wakes the calling thread at *the time it last read the clock* plus ``s``: the
    clock moves to that moment unless another thread already took it further.
    So four workers waiting for the same window end all wake at that end, and
    latency injected by a simulator overlaps across workers as it would on a
    network. Single-threaded code sees the same times as with ``FakeClock``.

    Attributes:
        slept: the sum of every sleep asked for (all threads).
        sleeps: each sleep asked for, in order.

    Example:
        >>> clock = ConcurrentFakeClock()
        >>> start = clock.monotonic()
        >>> clock.sleep(2.0)
        >>> clock.monotonic() - start
        2.0
    """

    def __init__(self, start: float = 0.0, *, wall_start: _dt.datetime = _NOW) -> None:
        if wall_start.tzinfo is None:
            raise ValueError("wall_start must be timezone-aware")
        self._t = float(start)
        self._start = float(start)
        self._wall_start = wall_start
        self._lock = threading.Lock()
        self._local = threading.local()
        self.slept = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The current fake time; remembered per thread as its last reading."""
        with self._lock:
            self._local.last = self._t
            return self._t

    def sleep(self, seconds: float) -> None:
        """Wake at this thread's last reading plus ``seconds`` (never earlier than now)."""
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        with self._lock:
            last = getattr(self._local, "last", self._t)
            self._t = max(self._t, last + seconds)
            self._local.last = self._t
            self.slept += seconds
            self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward for everyone (not counted as a sleep)."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time: {seconds}")
        with self._lock:
            self._t += seconds
            self._local.last = self._t

    def now(self) -> _dt.datetime:
        """The wall-clock time matching the fake monotonic time (aware UTC)."""
        with self._lock:
            return self._wall_start + _dt.timedelta(seconds=self._t - self._start)

    def __repr__(self) -> str:
        return f"ConcurrentFakeClock(t={self._t!r}, slept={self.slept!r})"


class BigCommerceSimulator(Simulator):
    """An in-process BigCommerce store (see the module docstring).

    Args:
        store_hash: the store's hash in the URL path.
        access_token: the ``X-Auth-Token`` it accepts.
        seed: seeds the data and the faults.
        customers, orders, products, carts: how many records to generate.
        guest_share: share of orders placed by guests (``customer_id`` 0).
        archived_share: share of orders archived (``is_deleted``).
        currency: the store's currency.
        quota, window: the rate-limit window (150 per 30 s; scale ``window`` down to
            make long runs cheap in fake time). Ignored when ``rate_limit`` is given.
        rate_limit: a rate limiter to use instead (or ``None`` with ``quota=0`` for none).
        empty_page: what v2 answers past the last page: ``"204"`` or ``"[]"``.
        clock: shared with the client in tests.
        faults: faults to inject.
        client_id: the app's client id (shown on its hooks).
        client_secret: the app's client secret: the key webhook deliveries are signed
            with (Standard Webhooks, HMAC-SHA256).
        store_id: the numeric store id webhook bodies carry in ``store_id`` (the hash
            is in ``producer``).
        webhook_transport: an httpx transport for the deliveries (default: real HTTP).
        abandon_after: how long a cart must stay unchanged before :meth:`tick` fires
            ``store/cart/abandoned`` (BigCommerce: one hour).
        mixed_fulfilment: also generate orders collected in store (a pickup
            consignment), split between two shipping addresses, with a download next
            to physical items, or with a gift certificate (see :meth:`add_order`).
            Without it, an order is digital or ships to one address, as before.
        coupon_share: the share of generated orders with a coupon (10 % off).

    Attributes:
        customers, orders, products: the :class:`RecordStore` of each resource.
        subscribers: the :class:`RecordStore` of the newsletter list (one subscriber
            per e-mail address, compared without regard to case).
        order_products, order_shipping, order_coupons: sub-resources by order id.
        order_consignments: each order's consignments by kind (``pickups``,
            ``shipping``, ``downloads``, ``gift_certificates``), lines named by id.
        categories: category id → name, every category tree's (the default
            storefront's tree 1, and tree 2 of a second storefront).
        category_trees, category_tree: the trees, and each category's tree.
        carts: cart id → v3 cart object.
        hooks: webhook id → hook object, as ``/v3/hooks`` returns it.
        webhooks: the :class:`~commerce_connectors.testing.simulator.webhooks.WebhookOutbox`
            holding signed deliveries until ``sim.webhooks.flush()``.
    """

    def __init__(
        self,
        *,
        store_hash: str = "sim4x7k2q",
        access_token: str = "bc-sim-token-9f8e7d6c5b4a",  # noqa: S107 - a fixture's token
        seed: int = 0,
        customers: int = 60,
        orders: int = 150,
        products: int = 30,
        carts: int = 5,
        guest_share: float = 0.2,
        archived_share: float = 0.02,
        currency: str = "USD",
        quota: int = 150,
        window: float = 30.0,
        rate_limit: RateLimiter | None = None,
        empty_page: Literal["204", "[]"] = "204",
        clock: Clock | None = None,
        faults: Iterable[Fault] = (),
        client_id: str = "sim-client-m9r6keqmo7h7f23b",
        client_secret: str = "bc-sim-client-secret-3c1d7a",  # noqa: S107 - a fixture's secret
        store_id: str = "1000421",
        webhook_transport: httpx.BaseTransport | None = None,
        abandon_after: _dt.timedelta = ABANDON_AFTER,
        mixed_fulfilment: bool = False,
        coupon_share: float = 0.2,
    ) -> None:
        limiter = rate_limit
        if limiter is None and quota > 0:
            limiter = BigCommerceRateLimit(quota=quota, window=window)
        super().__init__(clock=clock, rate_limit=limiter, faults=faults, seed=seed)
        self.store_hash = store_hash
        self.access_token = access_token
        self.currency = currency
        self.empty_page = empty_page
        self.customers = RecordStore(self.clock)
        self.subscribers = RecordStore(self.clock)
        self._subscriber_ids: dict[str, int] = {}
        self.orders = RecordStore(self.clock, first_id=100)
        self.products = RecordStore(self.clock, first_id=111)
        self.categories: dict[int, str] = {}
        self.order_products: dict[int, list[dict[str, Any]]] = {}
        self.order_shipping: dict[int, list[dict[str, Any]]] = {}
        self.order_coupons: dict[int, list[dict[str, Any]]] = {}
        self.order_consignments: dict[int, dict[str, list[dict[str, Any]]]] = {}
        #: Category tree id -> tree (``id``, ``name``, ``channels``), as /v3/catalog/trees.
        self.category_trees: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "Default storefront", "channels": [1]},
            2: {"id": 2, "name": "Outlet storefront", "channels": [2]},
        }
        #: Category id -> the tree it belongs to (every id of ``categories`` is here).
        self.category_tree: dict[int, int] = {}
        self.carts: dict[str, dict[str, Any]] = {}
        self._version: str | None = None
        self._ids = 0
        self._fake = FakeData(seed)
        self.client_id = client_id
        self.client_secret = client_secret
        self.store_id = store_id
        self.abandon_after = abandon_after
        self.hooks: dict[int, dict[str, Any]] = {}
        self._webhook_transport = webhook_transport
        self._next_hook_id = 20172984
        self._messages = 0
        self._refunds = 0
        #: Carts whose current quiet spell was already reported abandoned.
        self._abandoned: set[str] = set()
        # Consignment shapes (pickups, split shipments, downloads, gift certificates) and
        # the second storefront's categories draw from their own random stream, so the
        # rest of the generated store is what it was before they existed.
        self._shape = random.Random(f"bigcommerce-consignments:{seed}")
        self.mixed_fulfilment = mixed_fulfilment
        self.coupon_share = coupon_share
        self._generate(customers, orders, products, carts, guest_share, archived_share)
        # Its own random stream, so the rest of the generated store is what it always was.
        self._generate_subscribers(random.Random(f"bigcommerce-subscribers:{seed}"))
        # The generated carts went quiet before any hook existed: nothing to report.
        self._abandoned.update(self.carts)

    # ------------------------------------------------------------------ data

    def _generate(
        self,
        customers: int,
        orders: int,
        products: int,
        carts: int,
        guest_share: float,
        archived_share: float,
    ) -> None:
        fake = self._fake
        for n, name in enumerate(
            ("Shop All", "Kitchen", "Apparel", "Home & Garden", "Stationery", "Décor")
        ):
            self.categories[18 + n] = name
            self.category_tree[18 + n] = 1
        category_ids = sorted(self.categories)
        for _ in range(products):
            created = fake.timestamp(_EPOCH, _NOW)
            price = Decimal(fake.price("2.00", "250.00"))
            cats = [category_ids[0], category_ids[1 + fake._int(0, len(category_ids) - 2)]]
            self.products.insert(
                self._product_data(fake.product_title(), fake.sku(), price, cats),
                created_at=created,
                updated_at=fake.timestamp(created, _NOW),
            )
        # A second storefront (multi-storefront store) with its own category tree: some
        # products are also in its categories, which only the category trees API names.
        for n, name in enumerate(("Outlet", "Last Chance")):
            self.categories[40 + n] = name
            self.category_tree[40 + n] = 2
        for product in self.products.query(sort="id"):
            if self._shape.random() < 0.3:
                extra = 40 + self._shape.randrange(2)
                categories = [*product.data["categories"], extra]
                self.products.update(
                    product.id, {"categories": categories}, updated_at=product.updated_at
                )
        people: list[StoredRecord] = []
        for _ in range(customers):
            person = fake.person()
            created = fake.timestamp(_EPOCH, _NOW)
            people.append(
                self.customers.insert(
                    self._customer_data(person),
                    created_at=created,
                    updated_at=fake.timestamp(created, _NOW),
                )
            )
        catalogue = list(self.products)
        for _ in range(orders):
            guest = not people or fake._chance(guest_share)
            buyer = None if guest else people[fake._int(0, len(people) - 1)]
            self.add_order(buyer=buyer, catalogue=catalogue, archived=fake._chance(archived_share))
        for _ in range(carts):
            buyer = people[fake._int(0, len(people) - 1)] if people and fake._chance(0.6) else None
            self.add_cart(buyer=buyer, catalogue=catalogue)

    def _product_data(
        self, name: str, sku: str, price: Decimal, categories: list[int]
    ) -> dict[str, Any]:
        self._ids += 1
        variant_id = 300 + self._ids
        slug = "-".join(name.lower().split())
        return {
            "name": name,
            "type": "physical",
            "sku": sku if self._fake._chance(0.7) else "",
            "description": f"<p>{name}: made to last.</p>",
            "price": float(price),
            "categories": categories,
            "base_variant_id": variant_id,
            "custom_url": {"url": f"/{slug}/", "is_customized": False},
            "variants": [
                {
                    "id": variant_id,
                    "sku": sku,
                    "price": float(price),
                    "image_url": "",
                    "option_values": [],
                }
            ],
            "images": [
                {
                    "id": 500 + self._ids,
                    "is_thumbnail": True,
                    "url_standard": f"https://cdn.example.com/products/{self._ids}/std.jpg",
                    "url_zoom": f"https://cdn.example.com/products/{self._ids}/zoom.jpg",
                }
            ],
        }

    def _customer_data(self, person: FakePerson) -> dict[str, Any]:
        a = person.address
        address = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "company": person.company or "",
            "address1": a.line1,
            "address2": a.line2 or "",
            "city": a.city,
            "state_or_province": a.province or "",
            "postal_code": a.postal_code,
            "country_code": a.country_code,
            "phone": a.phone or "",
            "address_type": "residential",
        }
        return {
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "company": person.company or "",
            "phone": person.phone or "",
            "notes": "",
            "customer_group_id": 0,
            "accepts_product_review_abandoned_cart_emails": person.accepts_marketing,
            "channel_ids": [1],
            "addresses": [address],
        }

    def _generate_subscribers(self, rng: random.Random) -> None:
        """Newsletter sign-ups of registered customers, unsubscribes, and sign-ups without
        an account (buyers who ticked the checkout box are already on the list)."""
        mixes: tuple[tuple[tuple[str, ...], float], ...] = (
            (("marketing_newsletter",), 0.45),
            (("marketing_newsletter", "abandoned_cart"), 0.20),
            (("abandoned_cart",), 0.15),
            ((), 0.20),
        )
        for customer in self.customers.query(sort="id"):
            email = customer.data["email"]
            if not email or self.subscriber_for(email) is not None or rng.random() >= 0.35:
                continue
            roll, consents = rng.random(), mixes[-1][0]
            for choice, weight in mixes:
                roll -= weight
                if roll < 0:
                    consents = choice
                    break
            created = customer.created_at + (_NOW - customer.created_at) * rng.random()
            typed = email.title() if rng.random() < 0.1 else email  # typed with capitals
            self.add_subscriber(
                typed,
                consents=consents,
                first_name=customer.data["first_name"],
                last_name=customer.data["last_name"],
                created_at=created.replace(microsecond=0),
            )
        for subscriber in self.subscribers.query(sort="id"):
            if subscriber.data["consents"] and rng.random() < 0.12:
                when = subscriber.created_at + (_NOW - subscriber.created_at) * rng.random()
                self.subscribers.update(
                    subscriber.id, {"consents": []}, updated_at=when.replace(microsecond=0)
                )
        strangers = FakeData(rng.randrange(2**31))
        for _ in range(len(self.customers) // 10):
            person = strangers.person()
            if person.email and self.subscriber_for(person.email) is None:
                self.add_subscriber(
                    person.email,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    created_at=strangers.timestamp(_EPOCH, _NOW),
                )

    def subscriber_for(self, email: str | None) -> StoredRecord | None:
        """The subscriber with this e-mail address (compared trimmed, without case)."""
        if not isinstance(email, str) or not email.strip():
            return None
        found = self._subscriber_ids.get(email.strip().lower())
        return None if found is None else self.subscribers.get(found)

    def add_subscriber(
        self,
        email: str,
        *,
        consents: Sequence[str] = ("marketing_newsletter",),
        source: Literal["storefront", "order", "custom"] = "storefront",
        order_id: int | None = None,
        first_name: str = "",
        last_name: str = "",
        channel_id: int = 1,
        created_at: _dt.datetime | None = None,
    ) -> StoredRecord:
        """Put an address on the newsletter list (now, unless ``created_at``).

        Fires ``store/subscriber/created``.

        Raises:
            ValueError: the address is already a subscriber (the API answers 409).
        """
        if self.subscriber_for(email) is not None:
            raise ValueError(f"{email!r} is already a subscriber")
        record = self.subscribers.insert(
            {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "source": source,
                "order_id": order_id,
                "channel_id": channel_id,
                "consents": list(consents),
            },
            created_at=created_at,
        )
        self._subscriber_ids[email.strip().lower()] = record.id
        self._emit("store/subscriber/created", {"type": "subscriber", "id": record.id})
        return record

    def update_subscriber(self, subscriber_id: int, changes: Mapping[str, Any]) -> StoredRecord:
        """Change a subscriber now (``{"consents": []}`` is an unsubscribe).

        Fires ``store/subscriber/updated``.
        """
        before = self.subscribers.get(subscriber_id)
        record = self.subscribers.update(subscriber_id, changes)
        if before is not None and "email" in changes:
            self._subscriber_ids.pop(before.data["email"].strip().lower(), None)
            self._subscriber_ids[record.data["email"].strip().lower()] = record.id
        self._emit("store/subscriber/updated", {"type": "subscriber", "id": subscriber_id})
        return record

    def delete_subscriber(self, subscriber_id: int) -> None:
        """Take a subscriber off the list; fires ``store/subscriber/deleted``."""
        record = self.subscribers.get(subscriber_id)
        self.subscribers.delete(subscriber_id)
        if record is not None:
            self._subscriber_ids.pop(record.data["email"].strip().lower(), None)
        self._emit("store/subscriber/deleted", {"type": "subscriber", "id": subscriber_id})

    def expected_consent(self, customer_id: int) -> bool | None:
        """Ground truth: ``True`` when the customer's address is a subscriber with
        ``marketing_newsletter`` consent, else ``None`` (unknown, never a no)."""
        customer = self.customers.get(customer_id)
        subscriber = self.subscriber_for(customer.data["email"]) if customer else None
        if subscriber is not None and "marketing_newsletter" in subscriber.data["consents"]:
            return True
        return None

    def customer_updated_at(self, record: StoredRecord) -> _dt.datetime:
        """When a customer last changed as the connector sees it: its own
        ``date_modified`` or its subscriber's, whichever is later."""
        subscriber = self.subscriber_for(record.data["email"])
        if subscriber is None:
            return record.updated_at
        return max(record.updated_at, subscriber.updated_at)

    def add_order(
        self,
        *,
        buyer: StoredRecord | None = None,
        catalogue: Sequence[StoredRecord] | None = None,
        status_id: int | None = None,
        archived: bool = False,
        created_at: _dt.datetime | None = None,
        cart_id: str | None = None,
        pickup: bool | None = None,
        shipments: int | None = None,
        digital_items: int | None = None,
        gift_certificates: int | None = None,
    ) -> StoredRecord:
        """Create an order (a guest's when ``buyer`` is ``None``) with its sub-resources.

        Without ``created_at`` the order gets a random moment of the generated history
        and a later ``date_modified``; with it (an order placed now, say), both are
        ``created_at``. ``cart_id`` records the cart it came from. Fires
        ``store/order/created`` (BigCommerce fires it for incomplete orders too).

        How it is fulfilled (its consignments): one in ten orders is digital (its lines
        are downloads); the others ship their physical lines to ``shipments`` addresses
        (1 unless drawn; several split the lines), or are collected in store
        (``pickup=True``); ``digital_items`` downloadable lines and ``gift_certificates``
        gift certificates (25, 50 or 100, e-mailed) can come on top. ``None`` draws each
        (with ``mixed_fulfilment``) or leaves it out (without).
        """
        fake = self._fake
        catalogue = list(catalogue) if catalogue is not None else list(self.products)
        if status_id is None:
            total_weight = sum(w for _, _, w in _STATUSES)
            roll = fake.rng.random() * total_weight
            status_id = _STATUSES[-1][0]
            for sid, _, weight in _STATUSES:
                roll -= weight
                if roll < 0:
                    status_id = sid
                    break
        status = next(name for sid, name, _ in _STATUSES if sid == status_id)
        if buyer is not None:
            d = buyer.data
            address = d["addresses"][0] if d["addresses"] else {}
            billing = {
                "first_name": d["first_name"],
                "last_name": d["last_name"],
                "company": d["company"],
                "street_1": address.get("address1", ""),
                "street_2": address.get("address2", ""),
                "city": address.get("city", ""),
                "state": address.get("state_or_province", ""),
                "zip": address.get("postal_code", ""),
                "country": address.get("country_code", ""),
                "country_iso2": address.get("country_code", ""),
                "phone": d["phone"] or address.get("phone", ""),
                "email": d["email"],
                "form_fields": [],
            }
        else:
            p = fake.person()
            billing = {
                "first_name": p.first_name,
                "last_name": p.last_name,
                "company": p.company or "",
                "street_1": p.address.line1,
                "street_2": p.address.line2 or "",
                "city": p.address.city,
                "state": p.address.province or "",
                "zip": p.address.postal_code,
                "country": p.address.country_code,
                "country_iso2": p.address.country_code,
                "phone": p.phone or "",
                "email": p.email,
                "form_fields": [],
            }
        lines: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        for k in range(1 + fake._int(0, 2)):
            product = catalogue[fake._int(0, len(catalogue) - 1)] if catalogue else None
            price = (
                Decimal(repr(product.data["price"]))
                if product
                else Decimal(fake.price("5.00", "50.00"))
            )
            quantity = 1 + fake._int(0, 2)
            subtotal += price * quantity
            lines.append(
                {
                    "id": 0,  # set below, once the order id is known
                    "product_id": product.id if product else 0,
                    "variant_id": product.data["base_variant_id"] if product else 0,
                    "name": product.data["name"] if product else "Custom engraving",
                    "sku": product.data["variants"][0]["sku"] if product else "",
                    "type": "physical",
                    "base_price": _money(price),
                    "price_ex_tax": _money(price),
                    "price_inc_tax": _money(price),
                    "price_tax": "0.0000",
                    "total_ex_tax": _money(price * quantity),
                    "total_inc_tax": _money(price * quantity),
                    "quantity": quantity,
                    "is_refunded": status_id == 4,
                    "applied_discounts": [],
                    "product_options": [],
                    "order_address_id": 0,
                    "order_pickup_method_id": 0,
                    "line": k,
                }
            )
        digital = fake._chance(0.1)
        shape = self._shape
        mixed = self.mixed_fulfilment
        if pickup is None:
            pickup = mixed and not digital and shape.random() < 0.05
        if shipments is None:
            shipments = 2 if mixed and len(lines) >= 2 and shape.random() < 0.1 else 1
        if digital_items is None:
            digital_items = 1 if mixed and not digital and shape.random() < 0.06 else 0
        if gift_certificates is None:
            gift_certificates = 1 if mixed and shape.random() < 0.05 else 0
        if digital:
            for line in lines:
                line["type"] = "digital"
        for _ in range(digital_items if catalogue else 0):
            product = catalogue[shape.randrange(len(catalogue))]
            price = Decimal(repr(product.data["price"]))
            subtotal += price
            lines.append(
                self._line(
                    product_id=product.id,
                    variant_id=product.data["base_variant_id"],
                    name=f"{product.data['name']} (download)",
                    sku="",
                    kind="digital",
                    price=price,
                    quantity=1,
                    refunded=status_id == 4,
                )
            )
        for _ in range(gift_certificates):
            amount = Decimal(shape.choice(("25", "50", "100")))
            subtotal += amount
            gift = self._line(
                product_id=0,
                variant_id=0,
                name=f"${amount} Gift Certificate",
                sku="",
                kind="giftcertificate",
                price=amount,
                quantity=1,
                refunded=status_id == 4,
            )
            gift["gift_certificate_id"] = 7000 + len(self.orders) * 10 + len(lines)
            lines.append(gift)
        physical = [line for line in lines if line["type"] == "physical"]
        ways = max(1, min(shipments, len(physical)))
        groups = [] if pickup else [g for g in (physical[n::ways] for n in range(ways)) if g]
        drawn = Decimal(0) if digital else Decimal(fake.price("0.00", "15.00"))
        shipping = Decimal(0) if pickup or not groups else drawn
        has_coupon = fake._chance(self.coupon_share)  # one draw whatever the share
        coupon = (subtotal * Decimal("0.1")).quantize(_FOUR) if has_coupon else Decimal(0)
        manual = Decimal("1.0000") if fake._chance(0.05) else Decimal(0)
        total = subtotal + shipping - coupon - manual
        refunded = (
            total if status_id == 4 else (total / 2).quantize(_FOUR) if status_id == 14 else 0
        )
        created = created_at or fake.timestamp(_EPOCH, _NOW)
        data = {
            "customer_id": buyer.id if buyer is not None else 0,
            "date_shipped": "",
            "status_id": status_id,
            "status": status,
            "custom_status": status,
            "subtotal_ex_tax": _money(subtotal),
            "subtotal_inc_tax": _money(subtotal),
            "subtotal_tax": "0.0000",
            "base_shipping_cost": _money(shipping),
            "shipping_cost_ex_tax": _money(shipping),
            "shipping_cost_inc_tax": _money(shipping),
            "shipping_cost_tax": "0.0000",
            "total_ex_tax": _money(total),
            "total_inc_tax": _money(total),
            "total_tax": "0.0000",
            "items_total": sum(int(line["quantity"]) for line in lines),
            "items_shipped": 0,
            "payment_method": "Credit Card",
            "payment_status": "declined" if status_id == 6 else "captured",
            "refunded_amount": _money(Decimal(refunded)),
            "currency_code": self.currency,
            "currency_exchange_rate": "1.0000000000",
            "default_currency_code": self.currency,
            "discount_amount": _money(manual),
            "coupon_discount": _money(coupon),
            "shipping_address_count": len(groups),
            "order_is_digital": not physical,
            "is_deleted": archived,
            "is_email_opt_in": fake._chance(0.4),
            "order_source": "www",
            "channel_id": 1,
            "billing_address": billing,
        }
        if cart_id is not None:
            data["cart_id"] = cart_id
        modified = created if created_at is not None else fake.timestamp(created, _NOW)
        record = self.orders.insert(data, created_at=created, updated_at=modified)
        for n, line in enumerate(lines):
            line["id"] = record.id * 10 + n
            line["order_id"] = record.id
            line.pop("line", None)
        self.order_products[record.id] = lines
        # The first method draws from the data stream as it always did (for every order
        # that is not digital), a second address's from the shape stream.
        methods = [] if digital else [_SHIPPING[fake._int(0, len(_SHIPPING) - 1)]]
        while len(methods) < len(groups):
            methods.append(_SHIPPING[shape.randrange(len(_SHIPPING))])
        addresses: list[dict[str, Any]] = []
        for n, group in enumerate(groups):
            address_id = record.id * 10 + n
            cost = shipping if n == 0 else Decimal(0)
            for line in group:
                line["order_address_id"] = address_id
            addresses.append(
                {
                    "id": address_id,
                    "order_id": record.id,
                    **{k: billing[k] for k in ("first_name", "last_name", "company", "email")},
                    "street_1": billing["street_1"],
                    "street_2": billing["street_2"],
                    "city": billing["city"],
                    "state": billing["state"],
                    "zip": billing["zip"],
                    "country": billing["country"],
                    "country_iso2": billing["country_iso2"],
                    "phone": billing["phone"],
                    "shipping_method": methods[n],
                    "base_cost": _money(cost),
                    "cost_inc_tax": _money(cost),
                    "items_total": sum(int(line["quantity"]) for line in group),
                    "items_shipped": 0,
                }
            )
        self.order_shipping[record.id] = addresses
        self.order_consignments[record.id] = self._consignments(
            record.id, lines, addresses, groups, pickup=pickup, billing=billing
        )
        self.order_coupons[record.id] = (
            [
                {
                    "id": record.id,
                    "coupon_id": 1 + fake._int(0, 9),
                    "order_id": record.id,
                    "code": f"SAVE10-{fake._int(100, 999)}",
                    "amount": 10,
                    "type": 1,
                    "discount": float(coupon),
                }
            ]
            if coupon
            else []
        )
        self._emit("store/order/created", {"type": "order", "id": record.id})
        email_address = billing["email"]
        if data["is_email_opt_in"] and email_address and self.subscriber_for(email_address) is None:
            # The checkout's opt-in box puts the shopper on the newsletter list.
            self.add_subscriber(
                email_address,
                first_name=billing["first_name"],
                last_name=billing["last_name"],
                source="order",
                order_id=record.id,
                created_at=created,
            )
        return record

    @staticmethod
    def _line(
        *,
        product_id: int,
        variant_id: int,
        name: str,
        sku: str,
        kind: str,
        price: Decimal,
        quantity: int,
        refunded: bool,
    ) -> dict[str, Any]:
        """One order product (``orderProducts``); ``id`` and ``order_id`` are set later."""
        return {
            "id": 0,
            "product_id": product_id,
            "variant_id": variant_id,
            "name": name,
            "sku": sku,
            "type": kind,
            "base_price": _money(price),
            "price_ex_tax": _money(price),
            "price_inc_tax": _money(price),
            "price_tax": "0.0000",
            "total_ex_tax": _money(price * quantity),
            "total_inc_tax": _money(price * quantity),
            "quantity": quantity,
            "is_refunded": refunded,
            "applied_discounts": [],
            "product_options": [],
            "order_address_id": 0,
            "order_pickup_method_id": 0,
        }

    def _consignments(
        self,
        order_id: int,
        lines: Sequence[dict[str, Any]],
        addresses: Sequence[dict[str, Any]],
        groups: Sequence[Sequence[dict[str, Any]]],
        *,
        pickup: bool,
        billing: Mapping[str, Any],
    ) -> dict[str, list[dict[str, Any]]]:
        """An order's consignments, each naming its lines by id (``line_ids``).

        Shipping: one per shipping address, with that address's lines. Pickup: the
        physical lines collected in store. Downloads: one for every digital line (the
        reference allows at most one). Gift certificates: one e-mail per certificate.
        """
        shipping = [
            {**address, "line_ids": [line["id"] for line in group]}
            for address, group in zip(addresses, groups, strict=True)
        ]
        pickups: list[dict[str, Any]] = []
        physical = [line["id"] for line in lines if line["type"] == "physical"]
        if pickup and physical:
            for line in lines:
                if line["type"] == "physical":
                    line["order_pickup_method_id"] = 1
            pickups.append(
                {
                    "id": order_id,
                    "pickup_method_id": 1,
                    "pickup_method_display_name": "Pick Up In Store",
                    "collection_instructions": "Bring your order number and an ID.",
                    "collection_time_description": "9am - 6pm",
                    "location": dict(_PICKUP_LOCATION),
                    "line_ids": physical,
                }
            )
        digital = [line["id"] for line in lines if line["type"] == "digital"]
        downloads = [{"recipient_email": billing["email"], "line_ids": digital}] if digital else []
        gifts = [
            {"recipient_email": f"gift.{line['id']}@example.org", "line_ids": [line["id"]]}
            for line in lines
            if line["type"] == "giftcertificate"
        ]
        return {
            "pickups": pickups,
            "shipping": shipping,
            "downloads": downloads,
            "gift_certificates": gifts,
        }

    def add_cart(
        self,
        *,
        buyer: StoredRecord | None = None,
        catalogue: Sequence[StoredRecord] = (),
        created_at: _dt.datetime | None = None,
    ) -> str:
        """Create a v3 cart (a guest's when ``buyer`` is ``None``); return its id.

        Without ``created_at`` the cart gets a random moment of the generated history
        (and a later ``updated_time``); pass ``created_at=sim.clock.now()`` for a cart
        started now. Fires ``store/cart/created`` and ``store/cart/updated`` (the first
        item added counts as an update).
        """
        fake = self._fake
        cart_id = "-".join(
            "".join("0123456789abcdef"[fake._int(0, 15)] for _ in range(n))
            for n in (8, 4, 4, 4, 12)
        )
        items = []
        amount = Decimal(0)
        for product in list(catalogue)[: 1 + fake._int(0, 2)]:
            price = Decimal(repr(product.data["price"]))
            quantity = 1 + fake._int(0, 2)
            amount += price * quantity
            items.append(
                {
                    "id": f"{cart_id[:8]}-{product.id}",
                    "variant_id": product.data["base_variant_id"],
                    "product_id": product.id,
                    "sku": product.data["variants"][0]["sku"],
                    "name": product.data["name"],
                    "quantity": quantity,
                    "list_price": float(price),
                    "sale_price": float(price),
                    "extended_sale_price": float(price * quantity),
                    "image_url": product.data["images"][0]["url_standard"],
                }
            )
        created = created_at if created_at is not None else fake.timestamp(_EPOCH, _NOW)
        updated = created if created_at is not None else fake.timestamp(created, _NOW)
        self.carts[cart_id] = {
            "id": cart_id,
            "customer_id": buyer.id if buyer else 0,
            "email": buyer.data["email"] if buyer else fake.person().email,
            "currency": {"code": self.currency},
            "tax_included": False,
            "base_amount": float(amount),
            "discount_amount": 0,
            "cart_amount": float(amount),
            "coupons": [],
            "line_items": {
                "physical_items": items,
                "digital_items": [],
                "custom_items": [],
                "gift_certificates": [],
            },
            "created_time": _cart_time(created),
            "updated_time": _cart_time(updated),
        }
        self._emit("store/cart/created", {"type": "cart", "id": cart_id})
        self._emit("store/cart/updated", {"type": "cart", "id": cart_id})
        return cart_id

    def touch_order(self, order_id: int, changes: Mapping[str, Any] | None = None) -> None:
        """Modify an order now: its ``date_modified`` moves to the clock's ``now()``.

        Fires ``store/order/updated`` ("any change to an existing order"), plus
        ``store/order/statusUpdated`` when ``status_id`` changes and
        ``store/order/archived`` when ``is_deleted`` becomes true.
        """
        before = self.orders.get(order_id)
        record = self.orders.update(order_id, changes)
        ref = {"type": "order", "id": order_id}
        self._emit("store/order/updated", ref)
        old_status = before.data.get("status_id") if before is not None else None
        if record.data.get("status_id") != old_status:
            status = {"previous_status_id": old_status, "new_status_id": record.data["status_id"]}
            self._emit("store/order/statusUpdated", {**ref, "status": status})
        if record.data.get("is_deleted") is True and (
            before is None or not before.data["is_deleted"]
        ):
            self._emit("store/order/archived", ref)

    def refund_order(self, order_id: int, amount: Decimal | None = None) -> None:
        """Refund an order now, wholly (``amount=None``: status 4) or partly (status 14).

        Fires ``store/order/refund/created``, then the order's update events.
        """
        record = self.orders.get(order_id)
        if record is None:
            raise KeyError(f"order {order_id} does not exist")
        total = Decimal(record.data["total_inc_tax"])
        refunded = Decimal(record.data["refunded_amount"]) + (total if amount is None else amount)
        full = refunded >= total
        self._refunds += 1
        self._emit(
            "store/order/refund/created",
            {"type": "order", "id": order_id, "refund": {"refund_id": self._refunds}},
        )
        self.touch_order(
            order_id,
            {
                "refunded_amount": _money(min(refunded, total)),
                "status_id": 4 if full else 14,
                "status": "Refunded" if full else "Partially Refunded",
            },
        )

    def archive_order(self, order_id: int) -> None:
        """Archive an order now (``is_deleted: true``), as the control panel does."""
        self.touch_order(order_id, {"is_deleted": True})

    def add_customer(self, person: FakePerson | None = None) -> StoredRecord:
        """Register a customer now (a generated person by default).

        Fires ``store/customer/created``.
        """
        record = self.customers.insert(self._customer_data(person or self._fake.person()))
        self._emit("store/customer/created", {"type": "customer", "id": record.id})
        return record

    def update_customer(self, customer_id: int, changes: Mapping[str, Any]) -> StoredRecord:
        """Change a customer now.

        Fires ``store/customer/updated`` for changes to the customer's own fields, and
        ``store/customer/address/updated`` for each address when ``addresses`` is in
        ``changes`` (BigCommerce's customer event ignores address changes).
        """
        record = self.customers.update(customer_id, changes)
        if any(key != "addresses" for key in changes):
            self._emit("store/customer/updated", {"type": "customer", "id": customer_id})
        if "addresses" in changes:
            for n, _ in enumerate(record.data.get("addresses") or []):
                self._emit(
                    "store/customer/address/updated",
                    {
                        "type": "customer",
                        "id": customer_id * 10 + n,
                        "address": {"customer_id": customer_id},
                    },
                )
        return record

    def delete_customer(self, customer_id: int) -> None:
        """Delete a customer; fires ``store/customer/deleted``."""
        self.customers.delete(customer_id)
        self._emit("store/customer/deleted", {"type": "customer", "id": customer_id})

    def add_product(
        self, name: str | None = None, *, price: Decimal = Decimal("19.95")
    ) -> StoredRecord:
        """Create a catalogue product now; fires ``store/product/created``."""
        fake = self._fake
        category_ids = sorted(self.categories)
        record = self.products.insert(
            self._product_data(name or fake.product_title(), fake.sku(), price, category_ids[:2])
        )
        self._emit("store/product/created", {"type": "product", "id": record.id})
        return record

    def update_product(self, product_id: int, changes: Mapping[str, Any]) -> StoredRecord:
        """Change a product now; fires ``store/product/updated``."""
        record = self.products.update(product_id, changes)
        self._emit("store/product/updated", {"type": "product", "id": product_id})
        return record

    def delete_product(self, product_id: int) -> None:
        """Delete a product; fires ``store/product/deleted``."""
        self.products.delete(product_id)
        self._emit("store/product/deleted", {"type": "product", "id": product_id})

    def update_cart(self, cart_id: str, changes: Mapping[str, Any] | None = None) -> None:
        """Change a cart now (top-level fields such as ``email``); fires ``store/cart/updated``.

        Its ``updated_time`` moves to now, which starts a new quiet spell for :meth:`tick`.
        """
        cart = self.carts[cart_id]
        cart.update(changes or {})
        cart["updated_time"] = _cart_time(self.clock.now())
        self._abandoned.discard(cart_id)
        self._emit("store/cart/updated", {"type": "cart", "id": cart_id})

    def delete_cart(self, cart_id: str) -> None:
        """Delete a cart (emptied, or removed by API); fires ``store/cart/deleted``."""
        del self.carts[cart_id]
        self._abandoned.discard(cart_id)
        self._emit("store/cart/deleted", {"type": "cart", "id": cart_id})

    def convert_cart(self, cart_id: str, *, status_id: int = 11) -> StoredRecord:
        """Check a cart out now: an order is placed and the cart deleted.

        The order is the cart buyer's (a guest's for ``customer_id`` 0), from the cart's
        products (quantities drawn afresh), with ``cart_id`` set. Fires
        ``store/order/created`` then ``store/cart/converted`` (``data.orderId``). The
        cart then answers 404, as BigCommerce deletes converted carts.
        """
        cart = self.carts.pop(cart_id)
        self._abandoned.discard(cart_id)
        buyer = self.customers.get(int(cart["customer_id"])) if cart["customer_id"] else None
        ids = [item["product_id"] for item in cart["line_items"]["physical_items"]]
        catalogue = [p for p in (self.products.get(i) for i in ids) if p is not None]
        order = self.add_order(
            buyer=buyer,
            catalogue=catalogue or None,
            status_id=status_id,
            created_at=self.clock.now(),
            cart_id=cart_id,
        )
        self._emit("store/cart/converted", {"type": "cart", "id": cart_id, "orderId": order.id})
        return order

    def uninstall_app(self) -> None:
        """The merchant uninstalls the app: fires ``store/app/uninstalled``.

        Only the event: the simulator keeps the token and the hooks, since what
        BigCommerce does with them on uninstall is not documented.
        """
        self._emit("store/app/uninstalled", {"type": "store"})

    def tick(self) -> list[str]:
        """Fire ``store/cart/abandoned`` for carts unchanged for :attr:`abandon_after`.

        BigCommerce runs this check on its own; here it runs when called (call it
        before ``sim.webhooks.flush()``, after moving the clock). Each quiet spell is
        reported once; :meth:`update_cart` starts a new one.

        Returns:
            The ids of the carts reported now.

        Example:
            >>> clock = ConcurrentFakeClock()
            >>> sim = BigCommerceSimulator(customers=1, orders=0, products=1, carts=0, clock=clock)
            >>> cart = sim.add_cart(catalogue=list(sim.products), created_at=clock.now())
            >>> sim.tick()
            []
            >>> clock.advance(3600)
            >>> sim.tick() == [cart], sim.tick()
            (True, [])
        """
        now = self.clock.now()
        fired: list[str] = []
        for cart_id, cart in list(self.carts.items()):
            if cart_id in self._abandoned:
                continue
            if now - _parse_date(cart["updated_time"]) >= self.abandon_after:
                self._abandoned.add(cart_id)
                token = hashlib.md5(cart_id.encode(), usedforsecurity=False).hexdigest()
                self._emit("store/cart/abandoned", {"type": "cart", "id": cart_id, "token": token})
                fired.append(cart_id)
        return fired

    def flush_webhooks(self) -> list[DeliveryResult]:
        """:meth:`tick`, then POST every due delivery (``sim.webhooks.flush()``)."""
        self.tick()
        return self.webhooks.flush()

    def expected_order_ids(
        self, since: _dt.datetime | None = None, *, include_incomplete: bool = False
    ) -> set[str]:
        """Ids the connector should yield by default (status 0 excluded), modified ≥ since."""
        return {
            str(r.id)
            for r in self.orders.query(updated_at_min=since)
            if include_incomplete or r.data["status_id"] != 0
        }

    # ------------------------------------------------------------------ webhooks

    @functools.cached_property
    def webhooks(self) -> WebhookOutbox:
        """The signed deliveries waiting for ``sim.webhooks.flush()`` (made on first use)."""
        return WebhookOutbox(clock=self.clock, transport=self._webhook_transport)

    def _signer(self, msg_id: str) -> Callable[[bytes, _dt.datetime], dict[str, str]]:
        """Signs at sending time: each attempt carries its own timestamp, the id stays."""

        def sign(body: bytes, at: _dt.datetime) -> dict[str, str]:
            stamp = int(at.timestamp())
            return {
                "webhook-timestamp": str(stamp),
                "webhook-signature": self._sign(msg_id, stamp, body),
            }

        return sign

    def _sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        # Standard Webhooks: base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")), keyed
        # with the app's client secret as BigCommerce does. Written out here rather than
        # borrowed from the library, so the library's check is tested against an
        # independent signer.
        signed = f"{msg_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.client_secret.encode(), signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode("ascii")

    def _emit(self, scope: str, data: Mapping[str, Any]) -> None:
        """Queue a signed delivery of one event to every active hook whose scope covers it."""
        with self._lock:
            hooks = [
                dict(h)
                for h in self.hooks.values()
                if h["is_active"]
                and (
                    h["scope"] == scope
                    or (h["scope"].endswith("/*") and scope.startswith(h["scope"][:-1]))
                )
            ]
            first = self._messages
            self._messages += len(hooks)
        if not hooks:
            return
        created = int(self.clock.now().timestamp())
        payload = {
            "scope": scope,
            "store_id": self.store_id,
            "data": dict(data),
            # "The SHA-1 hash of the JSON-encoded payload data": the same data (the same
            # order updated twice) gives the same hash, as BigCommerce's examples show.
            "hash": hashlib.sha1(
                json.dumps(data, sort_keys=True, separators=(",", ":")).encode(),
                usedforsecurity=False,
            ).hexdigest(),
            "created_at": created,
            "producer": f"stores/{self.store_hash}",
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        for n, hook in enumerate(hooks, start=first + 1):
            msg_id = f"msg_{self.store_hash}_{n:07d}"
            headers = {
                **(hook.get("headers") or {}),
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(created),
                "webhook-signature": self._sign(msg_id, created, body),
            }
            self.webhooks.enqueue(
                hook["destination"],
                scope,
                body,
                headers,
                signature_header="webhook-signature",
                sign=self._signer(msg_id),
            )

    # ------------------------------------------------------------------ rendering

    def render_order(
        self, record: StoredRecord, *, include: Iterable[str] = (), structure: str | None = None
    ) -> dict[str, Any]:
        """The v2 order object for a stored order.

        ``include`` holds the ``include`` values asked for (``consignments``,
        ``consignments.line_items``, ``fees``) and ``structure`` the
        ``consignment_structure``: with ``object``, ``consignments`` is the order's
        consignment object (line items inside with ``consignments.line_items``, as
        ``{url, resource}`` links with ``consignments``); without it the include is not
        honoured (the reference says it "should be specified along with" them).
        """
        base = f"https://api.bigcommerce.com/stores/{self.store_hash}/v2/orders/{record.id}"
        resources = {
            name: {"url": f"{base}/{name}", "resource": f"/orders/{record.id}/{name}"}
            for name in ("products", "shipping_addresses", "coupons")
        }
        out = {
            "id": record.id,
            **record.data,
            "date_created": _rfc2822(record.created_at),
            "date_modified": _rfc2822(record.updated_at),
            **resources,
        }
        wanted = set(include)
        if structure == "object" and wanted & {"consignments", "consignments.line_items"}:
            out["consignments"] = self.render_consignments(
                record.id, line_items="consignments.line_items" in wanted
            )
        if "fees" in wanted:
            out["fees"] = []
        return out

    def render_consignments(self, order_id: int, *, line_items: bool) -> dict[str, Any]:
        """An order's consignments (``orderConsignment_Get``), lines embedded or linked."""
        base = f"https://api.bigcommerce.com/stores/{self.store_hash}/v2/orders/{order_id}"
        products = {line["id"]: line for line in self.order_products.get(order_id, [])}

        def items(ids: Iterable[int]) -> list[dict[str, Any]]:
            if line_items:
                return [dict(products[i]) for i in ids]
            return [
                {"url": f"{base}/products/{i}", "resource": f"/orders/{order_id}/products/{i}"}
                for i in ids
            ]

        shapes = self.order_consignments.get(order_id) or {}
        shipping = []
        for consignment in shapes.get("shipping", []):
            address = {k: v for k, v in consignment.items() if k in _SHIPPING_CONSIGNMENT}
            cost = float(Decimal(consignment["cost_inc_tax"]))
            shipping.append(
                {
                    **address,
                    "form_fields": [],
                    "line_items": items(consignment["line_ids"]),
                    "base_cost": cost,
                    "cost_ex_tax": cost,
                    "cost_inc_tax": cost,
                    "cost_tax": 0,
                    "shipping_quotes": {
                        "url": f"{base}/consignments/shipping/{consignment['id']}/shipping_quotes",
                        "resource": (
                            f"/orders/{order_id}/consignments/shipping/"
                            f"{consignment['id']}/shipping_quotes"
                        ),
                    },
                }
            )

        def linked(kind: str) -> list[dict[str, Any]]:
            return [
                {
                    **{k: v for k, v in c.items() if k != "line_ids"},
                    "line_items": items(c["line_ids"]),
                }
                for c in shapes.get(kind, [])
            ]

        return {
            "pickups": linked("pickups"),
            "shipping": shipping,
            "downloads": linked("downloads"),
            "email": {"gift_certificates": linked("gift_certificates")},
        }

    def render_customer(self, record: StoredRecord, *, addresses: bool) -> dict[str, Any]:
        """The v3 customer object (``addresses`` only when included)."""
        data = {k: v for k, v in record.data.items() if k != "addresses"}
        out: dict[str, Any] = {
            "id": record.id,
            **data,
            "date_created": record.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "date_modified": record.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if addresses:
            out["addresses"] = [
                {"id": record.id * 10 + n, "customer_id": record.id, **a}
                for n, a in enumerate(record.data.get("addresses", []))
            ]
        return out

    def render_subscriber(self, record: StoredRecord) -> dict[str, Any]:
        """The v3 subscriber object (``subscriber_Full``)."""
        return {
            "id": record.id,
            **record.data,
            "consents": list(record.data["consents"]),
            "date_created": record.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "date_modified": record.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def render_product(
        self, record: StoredRecord, *, include: set[str], fields: set[str] | None
    ) -> dict[str, Any]:
        """The v3 product object, with the sub-resources asked for in ``include``."""
        data = {k: v for k, v in record.data.items() if k not in ("variants", "images")}
        out: dict[str, Any] = {
            "id": record.id,
            **data,
            "date_created": _iso(record.created_at),
            "date_modified": _iso(record.updated_at),
        }
        if fields is not None:
            out = {k: v for k, v in out.items() if k in fields or k == "id"}
        if "variants" in include:
            out["variants"] = [{"product_id": record.id, **v} for v in record.data["variants"]]
        if "images" in include:
            out["images"] = [{"product_id": record.id, **i} for i in record.data["images"]]
        if "primary_image" in include:
            images = record.data.get("images") or []
            out["primary_image"] = images[0] if images else None
        return out

    # ------------------------------------------------------------------ protocol

    def error_body(self, status: int, message: str) -> Any:
        """v2 ``[{"status", "message"}]`` or v3 problem JSON, by the request's version."""
        if self._version == "v2":
            return [{"status": status, "message": message}]
        return {"status": status, "title": message, "type": _TYPE}

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        """Check the store hash and the token; remember the API version for error shapes."""
        # Handlers, hooks and error bodies of one request run under the simulator's lock,
        # so this attribute belongs to the request being answered until response_headers.
        self._version = "v2" if "/v2/" in request.url.path else "v3"
        if params.get("store_hash") != self.store_hash:
            return self.error_response(404, "The store does not exist.")
        if request.headers.get("X-Auth-Token") != self.access_token:
            return self.error_response(401, "You are not authorized to access this resource.")
        return None

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        """A request id on every answer."""
        self._version = None
        return {"X-Request-Id": f"bc-sim-{len(self.log) + 1:07d}"}

    # ------------------------------------------------------------------ helpers

    def _limit(self, query: httpx.QueryParams) -> int | httpx.Response:
        try:
            limit = int(query.get("limit", "50"))
            page = int(query.get("page", "1"))
        except ValueError:
            return self.error_response(422, "page and limit must be integers")
        if limit > _MAX_LIMIT:
            return self.error_response(413, f"The limit of {_MAX_LIMIT} was exceeded.")
        if limit < 1 or page < 1:
            return self.error_response(422, "page and limit must be positive")
        return limit

    def _v2_list(
        self, records: list[Any], query: httpx.QueryParams, render: Any = None
    ) -> httpx.Response:
        limit = self._limit(query)
        if isinstance(limit, httpx.Response):
            return limit
        page = int(query.get("page", "1"))
        chunk = records[(page - 1) * limit : page * limit]
        if render is not None:  # render only the page served, not every match
            chunk = [render(r) for r in chunk]
        if not chunk:
            if self.empty_page == "204":
                return httpx.Response(204)
            return json_response([])
        return json_response(chunk)

    def _v3_list(
        self, records: list[StoredRecord], query: httpx.QueryParams, render: Any
    ) -> httpx.Response:
        limit = self._limit(query)
        if isinstance(limit, httpx.Response):
            return limit
        page = int(query.get("page", "1"))
        chunk = records[(page - 1) * limit : page * limit]
        pages = max(1, math.ceil(len(records) / limit))
        links = {"current": f"?page={page}&limit={limit}"}
        if page > 1:
            links["previous"] = f"?page={page - 1}&limit={limit}"
        if page < pages:
            links["next"] = f"?page={page + 1}&limit={limit}"
        meta = {
            "pagination": {
                "total": len(records),
                "count": len(chunk),
                "per_page": limit,
                "current_page": page,
                "total_pages": pages,
                "links": links,
            }
        }
        return json_response({"data": [render(r) for r in chunk], "meta": meta})

    @staticmethod
    def _ids_in(query: httpx.QueryParams) -> set[int] | None:
        raw = query.get("id:in")
        return None if raw is None else {int(x) for x in raw.split(",") if x.strip()}

    # ------------------------------------------------------------------ v2 routes

    @route("GET", "/stores/{store_hash}/v2/store")
    def store(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Store information."""
        return json_response(
            {
                "id": self.store_hash,
                "domain": "shop.example.com",
                "secure_url": "https://shop.example.com",
                "name": "Simulated Store",
                "currency": self.currency,
            }
        )

    @route("GET", "/stores/{store_hash}/v2/orders")
    def list_orders(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """v2 orders: filters, sorts, page/limit, a bare array, 204 past the end."""
        q = request.url.params
        try:
            bounds: dict[str, Any] = {
                key: _parse_date(q[name])
                for key, name in (
                    ("updated_at_min", "min_date_modified"),
                    ("updated_at_max", "max_date_modified"),
                    ("created_at_min", "min_date_created"),
                    ("created_at_max", "max_date_created"),
                )
                if name in q
            }
        except (ValueError, TypeError):
            return self.error_response(400, "Invalid date filter.")
        sort_field, _, direction = q.get("sort", "id:asc").partition(":")
        sorts = {"id": "id", "date_modified": "updated_at", "date_created": "created_at"}
        if sort_field not in sorts:
            return self.error_response(400, f"Invalid sort field {sort_field!r}.")
        include = self._order_include(q)
        if isinstance(include, httpx.Response):
            return include

        def where(r: StoredRecord) -> bool:
            d = r.data
            return (
                ("status_id" not in q or str(d["status_id"]) == q["status_id"])
                and ("customer_id" not in q or str(d["customer_id"]) == q["customer_id"])
                and ("min_id" not in q or r.id >= int(q["min_id"]))
                and ("max_id" not in q or r.id <= int(q["max_id"]))
            )

        filtered = any(k in q for k in ("status_id", "customer_id", "min_id", "max_id"))
        records = self.orders.query(
            where=where if filtered else None,  # a large store is listed often: skip no-ops
            sort=sorts[sort_field],  # type: ignore[arg-type]
            descending=direction == "desc",
            **bounds,
        )
        structure = q.get("consignment_structure")
        return self._v2_list(
            records, q, lambda r: self.render_order(r, include=include, structure=structure)
        )

    def _order_include(self, q: httpx.QueryParams) -> set[str] | httpx.Response:
        """The ``include`` values asked for (comma-separated); 400 for one not documented."""
        wanted = {v.strip() for v in q.get("include", "").split(",") if v.strip()}
        unknown = wanted - _ORDER_INCLUDES
        if unknown:
            return self.error_response(400, f"Invalid include {sorted(unknown)}.")
        structure = q.get("consignment_structure")
        if structure is not None and structure != "object":
            return self.error_response(400, f"Invalid consignment_structure {structure!r}.")
        return wanted

    @route("GET", "/stores/{store_hash}/v2/orders/{order_id}")
    def get_order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One v2 order (``include`` and ``consignment_structure`` as for the list)."""
        record = self.orders.get(int(params["order_id"])) if params["order_id"].isdigit() else None
        if record is None:
            return self.error_response(404, "The requested resource was not found.")
        include = self._order_include(request.url.params)
        if isinstance(include, httpx.Response):
            return include
        structure = request.url.params.get("consignment_structure")
        return json_response(self.render_order(record, include=include, structure=structure))

    @route("GET", "/stores/{store_hash}/v2/orders/{order_id}/consignments")
    def order_consignments_get(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """An order's consignments (``include=consignments.line_items`` embeds the lines)."""
        oid = params["order_id"]
        if not oid.isdigit() or self.orders.get(int(oid)) is None:
            return self.error_response(404, "The requested resource was not found.")
        wanted = request.url.params.get("include", "").split(",")
        return json_response(
            self.render_consignments(int(oid), line_items="consignments.line_items" in wanted)
        )

    def _sub(
        self, table: Mapping[int, list[dict[str, Any]]], request: httpx.Request, oid: str
    ) -> httpx.Response:
        if not oid.isdigit() or int(oid) not in table:
            return self.error_response(404, "The requested resource was not found.")
        return self._v2_list(table[int(oid)], request.url.params)

    @route("GET", "/stores/{store_hash}/v2/orders/{order_id}/products")
    def order_products_list(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """An order's line items."""
        return self._sub(self.order_products, request, params["order_id"])

    @route("GET", "/stores/{store_hash}/v2/orders/{order_id}/shipping_addresses")
    @route("GET", "/stores/{store_hash}/v2/orders/{order_id}/shippingaddresses")
    def order_shipping_list(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """An order's shipping addresses (both spellings the docs use)."""
        return self._sub(self.order_shipping, request, params["order_id"])

    @route("GET", "/stores/{store_hash}/v2/orders/{order_id}/coupons")
    def order_coupons_list(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """An order's coupons."""
        return self._sub(self.order_coupons, request, params["order_id"])

    # ------------------------------------------------------------------ v3 routes

    def _v3_bounds(self, q: httpx.QueryParams) -> dict[str, Any]:
        return {
            key: _parse_date(q[name])
            for key, name in (
                ("updated_at_min", "date_modified:min"),
                ("updated_at_max", "date_modified:max"),
                ("created_at_min", "date_created:min"),
                ("created_at_max", "date_created:max"),
            )
            if name in q
        }

    @route("GET", "/stores/{store_hash}/v3/customers")
    def list_customers(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """v3 customers with ``meta.pagination``."""
        q = request.url.params
        try:
            bounds = self._v3_bounds(q)
            ids = self._ids_in(q)
        except ValueError:
            return self.error_response(422, "Invalid filter.")
        field, _, direction = q.get("sort", "id:asc").partition(":")
        sorts = {"id": "id", "date_modified": "updated_at", "date_created": "created_at"}
        if field not in sorts:
            return self.error_response(422, f"Invalid sort {field!r}.")
        # email:in is a comma-separated list (style form, explode false); matched without
        # regard to case, which the reference does not specify.
        emails = (
            {e.strip().lower() for e in q["email:in"].split(",") if e.strip()}
            if "email:in" in q
            else None
        )

        def where(r: StoredRecord) -> bool:
            return (ids is None or r.id in ids) and (
                emails is None or str(r.data.get("email", "")).strip().lower() in emails
            )

        records = self.customers.query(
            where=where,
            sort=sorts[field],  # type: ignore[arg-type]
            descending=direction == "desc",
            **bounds,
        )
        addresses = "addresses" in q.get("include", "").split(",")
        return self._v3_list(records, q, lambda r: self.render_customer(r, addresses=addresses))

    @route("GET", "/stores/{store_hash}/v3/customers/subscribers")
    def list_subscribers(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """The newsletter list, by ``id``, with every filter of ``subscribers.v3.yml``.

        ``email`` is matched whole, without regard to case (the reference only says
        "Filter items by email"). ``date_created`` / ``date_modified`` without ``:min``
        or ``:max`` match the day when given a date, else the exact second.
        """
        q = request.url.params
        errors: dict[str, str] = {}
        bounds: dict[str, Any] = {}
        for key, name in (
            ("updated_at_min", "date_modified:min"),
            ("updated_at_max", "date_modified:max"),
            ("created_at_min", "date_created:min"),
            ("created_at_max", "date_created:max"),
        ):
            if name in q:
                try:
                    bounds[key] = _parse_date(q[name])
                except (ValueError, TypeError):
                    errors[name] = f"{q[name]!r} is not a date-time"
        exact: dict[str, tuple[_dt.datetime, bool]] = {}
        for name in ("date_created", "date_modified"):
            if name in q:
                try:
                    exact[name] = (_parse_date(q[name]), "T" not in q[name])
                except (ValueError, TypeError):
                    errors[name] = f"{q[name]!r} is not a date-time"
        numbers: dict[str, int] = {}
        for name in ("order_id", "id"):
            if name in q:
                try:
                    numbers[name] = int(q[name])
                except ValueError:
                    errors[name] = f"{q[name]!r} is not an integer"
        try:
            ids = self._ids_in(q)
        except ValueError:
            errors["id:in"] = "expected comma-separated integers"
            ids = None
        if errors:
            body = {"status": 422, "title": "Invalid filter.", "type": _TYPE, "errors": errors}
            return json_response(body, 422)

        def stamp(r: StoredRecord, name: str) -> _dt.datetime:
            return r.created_at if name == "date_created" else r.updated_at

        def where(r: StoredRecord) -> bool:
            d = r.data
            for name in ("email", "first_name", "last_name", "source"):
                if name in q and str(d.get(name) or "").strip().lower() != q[name].strip().lower():
                    return False
            if "order_id" in numbers and d.get("order_id") != numbers["order_id"]:
                return False
            if "id" in numbers and r.id != numbers["id"]:
                return False
            if ids is not None and r.id not in ids:
                return False
            for name, (value, whole_day) in exact.items():
                at = stamp(r, name)
                if (
                    (at.date() != value.date())
                    if whole_day
                    else (at.replace(microsecond=0) != value)
                ):
                    return False
            return True

        records = self.subscribers.query(where=where, sort="id", **bounds)
        return self._v3_list(records, q, self.render_subscriber)

    @route("GET", "/stores/{store_hash}/v3/customers/subscribers/{subscriber_id}")
    def get_subscriber(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One subscriber; 404 once deleted."""
        raw = params["subscriber_id"]
        record = self.subscribers.get(int(raw)) if raw.isdigit() else None
        if record is None:
            return self.error_response(404, "The resource was not found.")
        return json_response({"data": self.render_subscriber(record), "meta": {}})

    @route("GET", "/stores/{store_hash}/v3/catalog/products")
    def list_products(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """v3 catalog products with ``include``, ``include_fields`` and ``id:in``."""
        q = request.url.params
        try:
            bounds = self._v3_bounds(q)
            ids = self._ids_in(q)
        except ValueError:
            return self.error_response(422, "Invalid filter.")
        sorts = {"id": "id", "date_modified": "updated_at"}
        field = q.get("sort", "id")
        if field not in sorts:
            return self.error_response(422, f"Invalid sort {field!r}.")
        records = self.products.query(
            where=(lambda r: r.id in ids) if ids is not None else None,
            sort=sorts[field],  # type: ignore[arg-type]
            descending=q.get("direction", "asc") == "desc",
            **bounds,
        )
        include = set(filter(None, q.get("include", "").split(",")))
        raw_fields = q.get("include_fields")
        fields = set(raw_fields.split(",")) if raw_fields else None
        return self._v3_list(
            records, q, lambda r: self.render_product(r, include=include, fields=fields)
        )

    @route("GET", "/stores/{store_hash}/v3/catalog/products/{product_id}")
    def get_product(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One v3 product (``include``, ``include_fields``); 404 once deleted."""
        raw = params["product_id"]
        record = self.products.get(int(raw)) if raw.isdigit() else None
        if record is None:
            return self.error_response(404, "The resource was not found.")
        q = request.url.params
        include = set(filter(None, q.get("include", "").split(",")))
        raw_fields = q.get("include_fields")
        fields = set(raw_fields.split(",")) if raw_fields else None
        product = self.render_product(record, include=include, fields=fields)
        return json_response({"data": product, "meta": {}})

    @route("GET", "/stores/{store_hash}/v3/catalog/categories")
    def list_categories(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """v3 categories (deprecated): the default storefront's tree only (id, parent_id,
        name), as the reference says these endpoints work "with categories of a default
        BigCommerce storefront (`channel_id=1`)"."""
        rows = [
            StoredRecord(cid, {"parent_id": 0, "name": name}, _EPOCH, _EPOCH)
            for cid, name in sorted(self.categories.items())
            if self.category_tree.get(cid, 1) == 1
        ]
        return self._v3_list(rows, request.url.params, lambda r: {"id": r.id, **r.data})

    @route("GET", "/stores/{store_hash}/v3/catalog/trees")
    def list_category_trees(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Every category tree (``id:in``, ``channel_id:in``), with ``meta.pagination``."""
        q = request.url.params
        try:
            ids = self._ids_in(q)
            channels = (
                {int(x) for x in q["channel_id:in"].split(",") if x.strip()}
                if "channel_id:in" in q
                else None
            )
        except ValueError:
            return self.error_response(422, "Invalid filter.")
        rows = [
            StoredRecord(tid, tree, _EPOCH, _EPOCH)
            for tid, tree in sorted(self.category_trees.items())
            if (ids is None or tid in ids)
            and (channels is None or channels & set(tree["channels"]))
        ]
        return self._v3_list(rows, q, lambda r: dict(r.data))

    def render_tree_category(self, category_id: int) -> dict[str, Any]:
        """One category of a tree (``GetCategories`` of category-trees_catalog.v3.yml)."""
        name = self.categories[category_id]
        slug = "-".join(name.lower().replace("&", "and").split())
        return {
            "category_id": category_id,
            "category_uuid": f"00000000-0000-4000-8000-{category_id:012d}",
            "parent_id": 0,
            "tree_id": self.category_tree.get(category_id, 1),
            "name": name,
            "description": f"<p>{name}</p>",
            "views": 0,
            "sort_order": category_id,
            "page_title": name,
            "meta_keywords": [],
            "meta_description": "",
            "layout_file": "category.html",
            "image_url": "",
            "is_visible": True,
            "search_keywords": "",
            "default_product_sort": "use_store_settings",
            "url": {"path": f"/{slug}/", "is_customized": False},
        }

    @route("GET", "/stores/{store_hash}/v3/catalog/trees/categories")
    def list_tree_categories(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        """The categories of every tree (``category_id:in``, ``tree_id:in``,
        ``parent_id:in``, ``name``, ``is_visible``, ``include_fields``,
        ``exclude_fields``), by id, with ``meta.pagination``.

        ``include_fields``: "The ID and the specified fields will be returned";
        ``exclude_fields``: "The ID cannot be excluded" (the ID is ``category_id``).
        """
        q = request.url.params
        try:
            filters = {
                name: {int(x) for x in q[name].split(",") if x.strip()}
                for name in ("category_id:in", "tree_id:in", "parent_id:in")
                if name in q
            }
        except ValueError:
            return self.error_response(422, "Invalid filter.")
        visible = q.get("is_visible")
        rows = []
        for cid in sorted(self.categories):
            rendered = self.render_tree_category(cid)
            if any(rendered[name[:-3]] not in wanted for name, wanted in filters.items()):
                continue
            if "name" in q and rendered["name"] != q["name"]:
                continue
            if visible is not None and str(rendered["is_visible"]).lower() != visible.lower():
                continue
            rows.append(StoredRecord(cid, rendered, _EPOCH, _EPOCH))
        included = set(filter(None, q.get("include_fields", "").split(",")))
        excluded = set(filter(None, q.get("exclude_fields", "").split(","))) - {"category_id"}

        def render(r: StoredRecord) -> dict[str, Any]:
            out = dict(r.data)
            if included:
                out = {k: v for k, v in out.items() if k in included or k == "category_id"}
            return {k: v for k, v in out.items() if k not in excluded}

        return self._v3_list(rows, q, render)

    @route("GET", "/stores/{store_hash}/v3/carts/{cart_id}")
    def get_cart(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One v3 cart; 404 once converted or deleted."""
        cart = self.carts.get(params["cart_id"])
        if cart is None:
            return self.error_response(404, f"Cart with id {params['cart_id']} not found")
        return json_response({"data": cart, "meta": {}})

    # ------------------------------------------------------------------ v3 hooks

    def _hook_error(self, errors: Mapping[str, str]) -> httpx.Response:
        body = {"status": 422, "title": _INVALID, "type": _TYPE, "errors": dict(errors)}
        return json_response(body, 422)

    def _hook(self, raw_id: str) -> dict[str, Any] | httpx.Response:
        hook = self.hooks.get(int(raw_id)) if raw_id.isdigit() else None
        if hook is None:
            return self.error_response(404, f"Webhook with id [{raw_id}] not found")
        return hook

    @route("GET", "/stores/{store_hash}/v3/hooks")
    def list_hooks(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """The app's hooks, with ``meta.pagination`` and the reference's filters.

        Filters: ``is_active``, ``scope``, ``destination``; ``page`` and ``limit``.
        """
        q = request.url.params
        active = q.get("is_active")
        rows = [
            StoredRecord(h["id"], h, _EPOCH, _EPOCH)
            for _, h in sorted(self.hooks.items())
            if (active is None or str(h["is_active"]).lower() == active.lower())
            and ("scope" not in q or h["scope"] == q["scope"])
            and ("destination" not in q or h["destination"] == q["destination"])
        ]
        return self._v3_list(rows, q, lambda r: dict(r.data))

    @route("POST", "/stores/{store_hash}/v3/hooks")
    def create_hook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Create one hook: ``scope`` and ``destination`` required; 200 with ``data``."""
        body = request_json(request)
        if not isinstance(body, dict):
            return self.error_response(400, "Input is invalid.")
        errors = _hook_problems(body, create=True)
        if errors:
            return self._hook_error(errors)
        now = int(self.clock.now().timestamp())
        hook = {
            "id": self._next_hook_id,
            "client_id": self.client_id,
            "store_hash": self.store_hash,
            "scope": body["scope"],
            "destination": body["destination"],
            "is_active": body.get("is_active", True),
            "headers": body.get("headers"),
            "created_at": now,
            "updated_at": now,
        }
        self.hooks[self._next_hook_id] = hook
        self._next_hook_id += 1
        return json_response({"data": hook, "meta": {}})

    @route("GET", "/stores/{store_hash}/v3/hooks/{webhook_id}")
    def get_hook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One hook, or 404 "Webhook with id [..] not found"."""
        hook = self._hook(params["webhook_id"])
        return (
            hook if isinstance(hook, httpx.Response) else json_response({"data": hook, "meta": {}})
        )

    @route("PUT", "/stores/{store_hash}/v3/hooks/{webhook_id}")
    def update_hook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Update a hook ("at least one field is required")."""
        hook = self._hook(params["webhook_id"])
        if isinstance(hook, httpx.Response):
            return hook
        body = request_json(request)
        if not isinstance(body, dict):
            return self.error_response(400, "Input is invalid.")
        known = {k: v for k, v in body.items() if k in _JSON_TYPES}
        if not known:
            return self._hook_error({"body": "At least one field is required to perform an update"})
        errors = _hook_problems(known, create=False)
        if errors:
            return self._hook_error(errors)
        hook.update(known)
        hook["updated_at"] = int(self.clock.now().timestamp())
        return json_response({"data": hook, "meta": {}})

    @route("DELETE", "/stores/{store_hash}/v3/hooks/{webhook_id}")
    def delete_hook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Delete a hook; the deleted hook comes back with 200."""
        hook = self._hook(params["webhook_id"])
        if isinstance(hook, httpx.Response):
            return hook
        del self.hooks[hook["id"]]
        return json_response({"data": hook, "meta": {}})


def _hook_problems(body: Mapping[str, Any], *, create: bool) -> dict[str, str]:
    """The ``errors`` map of a 422 for a hook body (empty when it is valid)."""
    errors: dict[str, str] = {}
    for field, types in _JSON_TYPES.items():
        if field not in body:
            if create and field in ("scope", "destination"):
                errors[field] = "error.path.missing"
            continue
        value = body[field]
        headers_ok = not isinstance(value, dict) or all(isinstance(v, str) for v in value.values())
        if not isinstance(value, types) or not headers_ok:
            errors[field] = f"error.expected.{_JSON_TYPE_NAMES[field]}"
        elif field == "scope" and value not in WEBHOOK_SCOPES:
            errors[field] = f"Unknown scope {value!r}"
        elif field == "destination":
            try:
                url = httpx.URL(str(value))
            except httpx.InvalidURL:
                url = None
            # "Destination URL must be served on port 443 (custom ports are not
            # currently supported)"; webhooks are HTTPS deliveries.
            if url is None or url.scheme != "https" or not url.host or url.port not in (None, 443):
                errors[field] = "Destination must be an https URL served on port 443"
    return errors


def fixed_windows(times: Sequence[float], window: float) -> list[int]:
    """Requests per fixed window, the first window starting at the first request.

    This is how :class:`~commerce_connectors.testing.simulator.BigCommerceRateLimit`
    counts, so ``max(fixed_windows(...)) <= quota`` is "within the store's budget".

    Example:
        >>> fixed_windows([0.0, 0.1, 0.5, 1.2], window=1.0)
        [3, 1]
    """
    if not times:
        return []
    start = min(times)
    counts: dict[int, int] = {}
    for t in times:
        counts[int((t - start) // window)] = counts.get(int((t - start) // window), 0) + 1
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


class BigCommerceHarness:
    """Wires :class:`BigCommerceConnector` to a :class:`BigCommerceSimulator` for conformance.

    Both share one :class:`ConcurrentFakeClock`, so rate-limit waits and retry backoffs
    take no real time, and the small page size makes every stream page.

    Example:
        >>> from commerce_connectors.testing.conformance import check_connector
        >>> check_connector(BigCommerceHarness)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        seed: int = 11,
        customers: int = 40,
        orders: int = 60,
        products: int = 25,
        page_size: int = 10,
        concurrency: int = 3,
        window: float = 3.0,
    ) -> None:
        self.clock = ConcurrentFakeClock()
        self.simulator = BigCommerceSimulator(
            seed=seed,
            customers=customers,
            orders=orders,
            products=products,
            clock=self.clock,
            window=window,
        )
        self.secret = self.simulator.access_token
        self.page_size = page_size
        self.concurrency = concurrency

    def make_connector(
        self, *, valid_credentials: bool = True, on_invalid: InvalidRecordHandler | None = None
    ) -> BigCommerceConnector:
        """A connector on the simulator (a revoked token when ``valid_credentials`` is false)."""
        return BigCommerceConnector(
            store_hash=self.simulator.store_hash,
            access_token=self.secret if valid_credentials else "revoked-" + self.secret[::-1],
            transport=self.simulator.transport(),
            clock=self.clock,
            page_size=self.page_size,
            concurrency=self.concurrency,
            on_invalid=on_invalid,
        )

    def _store(self, stream: Stream) -> RecordStore:
        return {
            Stream.CUSTOMERS: self.simulator.customers,
            Stream.ORDERS: self.simulator.orders,
            Stream.PRODUCTS: self.simulator.products,
        }[stream]

    def expected_ids(self, stream: Stream, since: _dt.datetime | None = None) -> set[str]:
        """Ground truth: every record modified at/after ``since`` (orders: not status 0).

        A customer counts as modified when its newsletter subscription changed too.
        """
        if stream is Stream.ORDERS:
            return self.simulator.expected_order_ids(since)
        if stream is Stream.CUSTOMERS:
            sim = self.simulator
            return {
                str(r.id)
                for r in sim.customers.query()
                if since is None or sim.customer_updated_at(r) >= since
            }
        return {str(r.id) for r in self._store(stream).query(updated_at_min=since)}

    def timestamps(self, stream: Stream) -> list[_dt.datetime]:
        """``updated_at`` of every record of the stream (customers: subscription included)."""
        if stream is Stream.CUSTOMERS:
            sim = self.simulator
            return [sim.customer_updated_at(r) for r in sim.customers.query()]
        return [r.updated_at for r in self._store(stream).query()]

    def corrupt_one(self, stream: Stream) -> str:
        """Break one record's payload without changing its ``date_modified``."""
        store = self._store(stream)
        candidates = [r for r in store.query(sort="id") if str(r.id) in self.expected_ids(stream)]
        victim = candidates[len(candidates) // 2]
        broken = {
            Stream.CUSTOMERS: {"accepts_product_review_abandoned_cart_emails": "maybe"},
            Stream.ORDERS: {"total_inc_tax": "12,34"},
            Stream.PRODUCTS: {"price": "free"},
        }[stream]
        store.update(victim.id, broken, updated_at=victim.updated_at)
        return str(victim.id)
