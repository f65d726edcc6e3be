"""A Tiendanube / Nuvemshop API simulator, and the conformance harness of its connector.

:class:`TiendanubeSimulator` answers like the Tiendanube REST API over seeded data:

* ``GET /{version}/{store_id}/customers|orders|products|checkouts`` (and ``/{id}``),
  ``GET /{version}/{store_id}/store``; bare JSON arrays, ``page``/``per_page`` (max 200),
  a ``Link`` header (``next``, ``last``, ``first``, ``prev``) and ``X-Total-Count``;
  a 404 ``"Last page is N"`` past the end; ``page * per_page`` capped at
  ``max_result_window``;
* filters ``since_id``, ``created_at_min/max``, ``updated_at_min/max`` (checkouts:
  only ``since_id``, ``created_at_max``, ``updated_at_max``, as documented; other
  filters are ignored), orders ``payment_status`` (``any`` = authorized, pending and
  paid, as the docs say) and ``status``;
* ``Authentication: bearer <token>`` (401 ``{"code", "message", "description"}``
  otherwise), a 400 without ``User-Agent``, the leaky bucket (40 at 2/s) with its
  ``x-rate-limit-*`` headers and 429, ``X-Main-Language`` on every answer;
* only the fields the published docs show for each resource (checked in the tests
  against Tiendanube's published API documentation; the exceptions and their reasons are
  in ``docs/platforms/tiendanube.md``): consent fields only on the customer embedded
  in an order, no ``billing_name`` or address ``name`` on customers;
* the platform's quirks: multilingual product and category names, dates with and
  without a colon in the offset, ``completed_at`` as a PHP object in orders,
  ``"quantity": "1"`` and ``"variant_id": "169164456"`` as strings;
* abandoned checkouts kept 30 days, each appearing up to 6 hours after its last
  activity (``checkout_delay``); :meth:`convert_checkout` and :meth:`delete` model a
  shopper who buys or drops the cart.

Webhooks: ``GET/POST /webhooks``, ``GET/PUT/DELETE /webhooks/{id}`` as documented
(``https`` only, no localhost or tiendanube/nuvemshop hosts, the legacy 422 field
map ``{"event": [...], "url": [...]}``, 415 without a JSON ``Content-Type``, 400 for
bad JSON). Changes made through :meth:`add_customer`, :meth:`add_product`,
:meth:`add_order`, :meth:`update`, :meth:`delete` and :meth:`convert_checkout` queue
signed deliveries (``X-Linkedstore-HMAC-SHA256`` with ``client_secret``) for the
subscribed URLs in :attr:`TiendanubeSimulator.webhooks`, sent by its ``flush()``;
:meth:`uninstall_app`, :meth:`suspend_app` / :meth:`resume_app` and the
data-protection requests (:meth:`configure_privacy_webhooks`,
:meth:`request_store_redaction`, :meth:`request_customer_redaction`,
:meth:`request_customer_data`) have no data change behind them.

Records can change at any time (:meth:`update`, :meth:`delete`, or a
:class:`~commerce_connectors.testing.simulator.Mutate` fault while a client pages),
and the sort order is configurable (``sort="created_at"``, the default, as reported
for the real API; ``"updated_at"`` to emulate the worst case for offset pages).

Example:
    >>> import httpx
    >>> from commerce_connectors.clock import FakeClock
    >>> sim = TiendanubeSimulator(seed=1, customers=5, orders=3, products=2, checkouts=2,
    ...                           clock=FakeClock())
    >>> client = httpx.Client(transport=sim.transport(), base_url=sim.base_url)
    >>> r = client.get(f"/2025-03/{sim.store_id}/customers", params={"per_page": 2},
    ...                headers={"Authentication": f"bearer {sim.token}",
    ...                         "User-Agent": "Demo (dev@example.com)"})
    >>> r.status_code, len(r.json()), r.headers["X-Total-Count"], r.headers["x-rate-limit-limit"]
    (200, 2, '5', '40')
    >>> no_agent = client.get(f"/2025-03/{sim.store_id}/customers", headers={"User-Agent": ""})
    >>> no_agent.status_code, no_agent.json()["description"]
    (400, 'A User-Agent header naming your app is required')
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from ..._parsing import parse_datetime
from ...clock import Clock, FakeClock
from ...models import Cart
from ...platforms.tiendanube import TiendanubeConnector
from ...platforms.tiendanube import constants as tn
from ...protocols import InvalidRecordHandler, Stream
from ..simulator import (
    FakeData,
    Fault,
    RateLimiter,
    RecordStore,
    Simulator,
    StoredRecord,
    TiendanubeRateLimit,
    json_response,
    route,
)
from ..simulator.webhooks import Delivery, WebhookOutbox

__all__ = [
    "COLLECTIONS",
    "PRIVACY_EVENTS",
    "WEBHOOK_EVENTS",
    "TiendanubeHarness",
    "TiendanubeSimulator",
]

#: The collections the simulator serves, by URL segment.
COLLECTIONS = ("customers", "orders", "products", "checkouts")
_STREAM_COLLECTION = {
    Stream.CUSTOMERS: "customers",
    Stream.ORDERS: "orders",
    Stream.PRODUCTS: "products",
    Stream.ABANDONED_CARTS: "checkouts",
}
#: What ``payment_status=any`` covers, per the order resource docs.
ANY_PAYMENT_STATUSES = frozenset({"authorized", "pending", "paid", "partially_paid"})
# (status, payment_status, shipping_status), weighted by repetition.
_ORDER_STATES = (
    ("open", "paid", "unpacked"),
    ("open", "paid", "unpacked"),
    ("open", "paid", "shipped"),
    ("closed", "paid", "shipped"),
    ("closed", "paid", "shipped"),
    ("open", "pending", "unpacked"),
    ("open", "authorized", "unpacked"),
    ("cancelled", "voided", "unpacked"),
    ("cancelled", "refunded", "unpacked"),
    ("open", "abandoned", "unpacked"),
    ("closed", "refunded", "shipped"),
)
_VERSION = re.compile(r"^(v1|\d{4}-\d{2})$")
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_LOCAL = _dt.timezone(_dt.timedelta(hours=-3))  # the stores' usual offset (AR, BR)

#: Events ``POST /webhooks`` accepts: the Webhook resource's table, the events added
#: by the 2025-03 docs (customers, more order events), less ``cart/*``, which only the
#: legacy 422 example names.
WEBHOOK_EVENTS = (
    "app/uninstalled",
    "app/suspended",
    "app/resumed",
    "category/created",
    "category/updated",
    "category/deleted",
    "order/created",
    "order/updated",
    "order/paid",
    "order/packed",
    "order/fulfilled",
    "order/cancelled",
    "order/custom_fields_updated",
    "order/edited",
    "order/pending",
    "order/voided",
    "order/unpacked",
    "product/created",
    "product/updated",
    "product/deleted",
    "product_variant/custom_fields_updated",
    "customer/created",
    "customer/updated",
    "customer/deleted",
    "domain/updated",
    "theme/updated",
)
#: The data-protection events, whose URLs are app settings (partner portal), not webhooks.
PRIVACY_EVENTS = ("store/redact", "customers/redact", "customers/data_request")
_SIGNATURE_HEADER = "X-Linkedstore-HMAC-SHA256"
#: Customer fields the docs show only on the customer embedded in an order.
_ORDER_CUSTOMER_ONLY = ("accepts_marketing", "accepts_marketing_updated_at")
_ASCII_ID = re.compile(r"[0-9]{1,19}")
#: Order field changes that fire an event of their own besides ``order/updated``.
_ORDER_EVENTS = (
    ("payment_status", "paid", "order/paid"),
    ("status", "cancelled", "order/cancelled"),
    ("shipping_status", "packed", "order/packed"),
    ("shipping_status", "fulfilled", "order/fulfilled"),
    ("shipping_status", "shipped", "order/fulfilled"),
)


def _deliverable(url: Any) -> bool:
    """Whether Tiendanube would take ``url`` as a webhook target.

    Written apart from the library's own check on purpose: the simulator is the
    independent side of the tests.
    """
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme != "https" or not host or " " in url:
        return False
    local = host in ("localhost", "::1", "0.0.0.0") or host.endswith(".localhost")  # noqa: S104
    if local or host.startswith("127."):
        return False
    return "tiendanube" not in host and "nuvemshop" not in host


def _numeric_get(store: RecordStore, raw: str) -> StoredRecord | None:
    """The record a path's id names: ASCII digits only, as on the platform (a 404 for
    "１２", which ``str.isdigit`` and ``int`` would take for 12)."""
    return store.get(int(raw)) if _ASCII_ID.fullmatch(raw) else None


def _colon(value: _dt.datetime) -> str:
    """``2013-01-03T09:11:51-03:00`` (customers, products)."""
    return value.astimezone(_LOCAL).isoformat(timespec="seconds")


def _no_colon(value: _dt.datetime) -> str:
    """``2022-02-23T12:25:18+0000`` (orders, checkouts)."""
    return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _php(value: _dt.datetime) -> dict[str, Any]:
    """``{"date": "2022-02-23 12:25:18.000000", "timezone_type": 3, "timezone": "UTC"}``."""
    utc = value.astimezone(_dt.timezone.utc)
    return {"date": utc.strftime("%Y-%m-%d %H:%M:%S.000000"), "timezone_type": 3, "timezone": "UTC"}


def _seconds(value: _dt.datetime) -> _dt.datetime:
    return value.replace(microsecond=0)


class TiendanubeSimulator(Simulator):
    """An in-process Tiendanube API over seeded data (see the module docstring).

    Args:
        seed: seeds the data, the checkout delays and the faults.
        customers, orders, products, checkouts: how many records to generate.
        store_id: the store id in the paths.
        token: the access token accepted.
        clock: shared with the connector in tests; data is dated relative to its ``now()``.
        rate_limit: default a bucket of 40 leaking 2/s (pass ``TiendanubeRateLimit(400, 20)``
            for a Next/Evolution store).
        faults: faults to inject.
        languages: the store's languages; the first is the main one.
        currency: the store's currency (ISO 4217).
        original_domain: the store's ``original_domain``.
        sort: the order of list endpoints (``"created_at"`` or ``"updated_at"``; ties by id).
        descending: newest first.
        max_per_page: the largest ``per_page`` accepted.
        max_result_window: the deepest ``page * per_page`` accepted.
        checkout_delay: the longest a checkout takes to appear after its last activity.
        guest_share: share of orders without a customer record.
        client_secret: the app's secret; every webhook delivery is signed with it.
        app_id: the app's id (sent with ``app/uninstalled``).
        webhook_transport: the httpx transport deliveries are POSTed through (default:
            real HTTP).
        webhook_clock: the outbox's clock (default: the simulator's).

    Attributes:
        stores: one :class:`RecordStore` per collection.
        base_url: the API host to give the connector (``base_url=``).
        webhook_store: the app's webhook subscriptions (``/webhooks``).
        privacy_urls: the data-protection webhook URLs of the app's settings, by event
            (set with :meth:`configure_privacy_webhooks`).
        installed: ``False`` after :meth:`uninstall_app`: the token is dead (401).
        suspended: between :meth:`suspend_app` and :meth:`resume_app`: every call
            answers 402 and no event is delivered.

    Webhooks: subscriptions made through ``POST /webhooks`` receive a signed delivery
    (``X-Linkedstore-HMAC-SHA256``, hex HMAC-SHA256 of the body with ``client_secret``)
    for each change made through :meth:`add_customer`, :meth:`add_product`,
    :meth:`add_order`, :meth:`update`, :meth:`delete` and :meth:`convert_checkout`.
    Deliveries wait in :attr:`webhooks` until ``sim.webhooks.flush()``.
    """

    base_url = "https://api.tiendanube.test"

    def __init__(
        self,
        *,
        seed: int = 0,
        customers: int = 100,
        orders: int = 200,
        products: int = 40,
        checkouts: int = 50,
        store_id: int = 1234567,
        token: str = "tn-simulator-token-6c1f0e9a",  # noqa: S107 - a simulator's fixture
        clock: Clock | None = None,
        rate_limit: RateLimiter | None = None,
        faults: Iterable[Fault] = (),
        languages: tuple[str, ...] = ("es", "pt"),
        currency: str = "ARS",
        original_domain: str = "mitienda.mitiendanube.com",
        sort: Literal["created_at", "updated_at"] = "created_at",
        descending: bool = False,
        max_per_page: int = tn.MAX_PAGE_SIZE,
        max_result_window: int = tn.MAX_RESULT_WINDOW,
        checkout_delay: _dt.timedelta = tn.CHECKOUT_LATE_APPEARANCE,
        guest_share: float = 0.2,
        client_secret: str = "tn-simulator-client-secret-41d8",  # noqa: S107 - a fixture
        app_id: int = 4321,
        webhook_transport: httpx.BaseTransport | None = None,
        webhook_clock: Clock | None = None,
    ) -> None:
        super().__init__(
            clock=clock if clock is not None else FakeClock(),
            rate_limit=rate_limit if rate_limit is not None else TiendanubeRateLimit(),
            faults=faults,
            seed=seed,
        )
        if not languages:
            raise ValueError("a store has at least one language")
        self.store_id = store_id
        self.token = token
        self.languages = languages
        self.currency = currency
        self.original_domain = original_domain
        self.sort: Literal["created_at", "updated_at"] = sort
        self.descending = descending
        self.max_per_page = max_per_page
        self.max_result_window = max_result_window
        self.checkout_delay = checkout_delay
        self.guest_share = guest_share
        self.stores: dict[str, RecordStore] = {c: RecordStore(self.clock) for c in COLLECTIONS}
        self._rng = random.Random(seed + 7919)
        self._fake = FakeData(seed)
        self._request_ids = 0
        self.client_secret = client_secret
        self.app_id = app_id
        self._webhook_transport = webhook_transport
        self._webhook_clock = webhook_clock
        self._outbox: WebhookOutbox | None = None
        self.webhook_store = RecordStore(self.clock)
        self.privacy_urls: dict[str, str] = {}
        self.installed = True
        self.suspended = False
        self._data_requests = 0
        self._generate(customers, orders, products, checkouts)

    @property
    def webhooks(self) -> WebhookOutbox:
        """The signed deliveries waiting for ``flush()``.

        Created on first use: its HTTP client costs more than most tests' simulators.
        """
        with self._lock:
            if self._outbox is None:
                self._outbox = WebhookOutbox(
                    clock=self._webhook_clock or self.clock, transport=self._webhook_transport
                )
            return self._outbox

    # -- time -----------------------------------------------------------------------------

    def now(self) -> _dt.datetime:
        """The simulator's wall-clock time, in whole seconds (as the API reports)."""
        return _seconds(self.clock.now())

    @property
    def main_language(self) -> str:
        """The store's main language (``X-Main-Language``)."""
        return self.languages[0]

    # -- data -----------------------------------------------------------------------------

    def _translated(self, text: str) -> dict[str, str]:
        # Not real translations: each language's text says which language it is.
        return {
            lang: text if i == 0 else f"{text} [{lang}]" for i, lang in enumerate(self.languages)
        }

    def _generate(self, customers: int, orders: int, products: int, checkouts: int) -> None:
        now = self.now()
        fake = self._fake
        start = now - _dt.timedelta(days=730)
        yesterday = now - _dt.timedelta(days=1)
        catalogue = [self._new_product(at) for at in fake.timestamps(products, start, yesterday)]
        people = [self._new_customer(at) for at in fake.timestamps(customers, start, yesterday)]
        for n, at in enumerate(fake.timestamps(orders, start, now)):
            buyer = people[n % len(people)] if people else None
            if self._rng.random() < self.guest_share:
                buyer = None
            self._new_order(at, n, buyer, catalogue)
        # A day inside the retention window, so a test can advance the clock a little.
        recent = now - tn.CHECKOUT_RETENTION + _dt.timedelta(days=1)
        for at in fake.timestamps(checkouts, recent, now):
            buyer = people[self._rng.randrange(len(people))] if people else None
            self.create_checkout(created_at=at, buyer=buyer, catalogue=catalogue)

    def _last_edit(self, created: _dt.datetime) -> _dt.datetime:
        """A seeded moment between ``created`` and now (``created`` for a record made now)."""
        now = self.now()
        return self._fake.timestamp(created, now) if now > created else created

    def _new_product(self, created: _dt.datetime) -> StoredRecord:
        fake = self._fake
        title = fake.product_title()
        store = self.stores["products"]
        # Ids follow creation, as on the platform; the id-dependent fields come after.
        pid = store.insert({}, created_at=created).id
        variants = []
        for k in range(1 + self._rng.randrange(3)):
            variants.append(
                {
                    "id": pid * 10 + k,
                    "product_id": pid,
                    "price": fake.price("100.00", "90000.00"),
                    "promotional_price": None,
                    "sku": fake.sku(),
                    "stock": self._rng.randrange(50),
                    "values": [self._translated(("S", "M", "L")[k])],
                    "image_id": pid * 10,
                }
            )
        category = fake.category()
        data = {
            "name": self._translated(title),
            "description": self._translated(f"<p>{title}</p>"),
            "handle": {lang: title.lower().replace(" ", "-") for lang in self.languages},
            "categories": [
                {"id": 1000 + len(category), "name": self._translated(category), "parent": None}
            ],
            "images": [
                {
                    "id": pid * 10,
                    "product_id": pid,
                    "position": 1,
                    "src": f"https://cdn.tiendanube.test/stores/{self.store_id}/{pid}.jpg",
                }
            ],
            "variants": variants,
            "published": True,
            "brand": None,
            "tags": ",".join(fake.tags()),
            "canonical_url": f"https://{self.original_domain}/productos/{pid}/",
        }
        updated = self._last_edit(created)
        return store.update(pid, data, updated_at=_seconds(updated))

    def _address(self, person: Any) -> dict[str, Any]:
        # The fields of the customer examples' addresses (no "name": only an order's
        # shipping_address has one).
        a = person.address
        return {
            "address": a.line1,
            "number": str(self._rng.randrange(1, 3000)),
            "floor": a.line2,
            "locality": None,
            "city": a.city,
            "province": a.province,
            "zipcode": a.postal_code,
            "country": a.country_code,
            "phone": a.phone,
            "default": True,
        }

    def _new_customer(self, created: _dt.datetime) -> StoredRecord:
        person = self._fake.person(self._rng.choice(("AR", "BR", "MX")))
        address = self._address(person)
        data: dict[str, Any] = {
            "name": f"{person.first_name} {person.last_name}",
            "email": person.email,
            "phone": person.phone,
            "identification": "".join(str(self._rng.randrange(10)) for _ in range(11)),
            "note": None,
            "default_address": {**address, "id": self._rng.randrange(10**6)},
            "addresses": [{**address, "id": self._rng.randrange(10**6)}],
            "billing_phone": address["phone"],
            "billing_address": address["address"],
            "billing_number": address["number"],
            "billing_city": address["city"],
            "billing_province": address["province"],
            "billing_zipcode": address["zipcode"],
            "billing_country": address["country"],
            "total_spent": "0.00",
            "total_spent_currency": self.currency,
            "last_order_id": None,
            "extra": {},
        }
        # Consent is documented on the customer embedded in orders only (order.md): some
        # have it there; GET /customers leaves it out (see render).
        if self._rng.random() < 0.7:
            data["accepts_marketing"] = person.accepts_marketing
            data["accepts_marketing_updated_at"] = _no_colon(created)
        updated = self._last_edit(created)
        return self.stores["customers"].insert(
            data, created_at=created, updated_at=_seconds(updated)
        )

    def _lines(self, catalogue: list[StoredRecord], n: int, *, as_strings: bool) -> list[Any]:
        lines = []
        for k in range(1 + n % 3):
            if not catalogue:
                break
            product = catalogue[(n * 7 + k) % len(catalogue)]
            variant = product.data["variants"][0]
            quantity = 1 + (n + k) % 3
            lines.append(
                {
                    "id": n * 10 + k,
                    "product_id": product.id,
                    # The orders list example sends these as strings; checkouts as integers.
                    "variant_id": str(variant["id"]) if as_strings else variant["id"],
                    "name": product.data["name"][self.main_language],
                    "price": variant["price"],
                    "quantity": str(quantity) if as_strings else quantity,
                    "sku": variant["sku"],
                    "image": {"src": product.data["images"][0]["src"]},
                }
            )
        return lines

    def _buyer(self, buyer: StoredRecord | None) -> dict[str, Any] | None:
        if buyer is None:
            return None
        return {"id": buyer.id, **buyer.data}

    def _contact(self) -> dict[str, Any]:
        person = self._fake.person(self._rng.choice(("AR", "BR", "MX")))
        return {
            "contact_email": person.email,
            "contact_name": f"{person.first_name} {person.last_name}",
            "contact_phone": person.phone,
            "contact_identification": "".join(str(self._rng.randrange(10)) for _ in range(8)),
            "billing_phone": person.address.phone,
            "billing_city": person.address.city,
            "billing_country": person.address.country_code,
        }

    def _new_order(
        self,
        created: _dt.datetime,
        n: int,
        buyer: StoredRecord | None,
        catalogue: list[StoredRecord],
    ) -> StoredRecord:
        status, payment, shipping = _ORDER_STATES[n % len(_ORDER_STATES)]
        lines = self._lines(catalogue, n, as_strings=n % 2 == 0)
        subtotal = sum((Decimal(li["price"]) * int(li["quantity"]) for li in lines), Decimal(0))
        coupon = n % 4 == 0
        discount = (subtotal / 10).quantize(Decimal("0.01")) if coupon else Decimal("0.00")
        shipping_cost = Decimal("1500.00") if n % 5 else Decimal("0.00")
        data: dict[str, Any] = {
            "store_id": str(self.store_id),
            "number": 100 + n,
            "token": f"{self._rng.getrandbits(80):020x}",
            "currency": self.currency,
            "language": self.main_language,
            "status": status,
            "payment_status": payment,
            "shipping_status": shipping,
            "subtotal": str(subtotal),
            "discount": "0.00",
            "discount_coupon": str(discount),
            "discount_gateway": "0.00",
            "shipping_cost_customer": str(shipping_cost),
            "total": str(subtotal - discount + shipping_cost),
            "coupon": [{"code": "BIENVENIDA10"}] if coupon else [],
            "gateway": "mercadopago",
            "gateway_name": "Mercado Pago",
            "shipping": "api_1",
            "shipping_option": "Correo Argentino - Envío a domicilio",
            "storefront": "store",
            "products": lines,
            "customer": self._buyer(buyer),
            "extra": {},
            "_paid": payment == "paid",
        }
        if buyer is None:
            data.update(self._contact())
        elif buyer.data.get("email"):
            data["contact_email"] = buyer.data["email"]
        updated = self._fake.timestamp(created, created + _dt.timedelta(days=10))
        return self.stores["orders"].insert(
            data, created_at=created, updated_at=_seconds(min(updated, self.now()))
        )

    def create_checkout(
        self,
        *,
        created_at: _dt.datetime | None = None,
        updated_at: _dt.datetime | None = None,
        buyer: StoredRecord | None = None,
        catalogue: list[StoredRecord] | None = None,
        delay: _dt.timedelta | None = None,
    ) -> StoredRecord:
        """Add an abandoned checkout (a shopper who reached the second checkout step).

        Args:
            created_at: when it started (default: now).
            updated_at: its last activity (default: ``created_at``).
            buyer: a stored customer, or ``None`` for a guest (contact fields only).
            catalogue: products to fill it from (default: the store's).
            delay: how long after its last activity it appears in ``GET /checkouts``
                (default: a seeded draw up to ``checkout_delay``).
        """
        created = _seconds(created_at or self.now())
        updated = _seconds(updated_at or created)
        store = self.stores["checkouts"]
        cid = store.insert({}, created_at=created, updated_at=updated).id
        products = catalogue if catalogue is not None else list(self.stores["products"])
        lines = self._lines(products, cid, as_strings=False)
        subtotal = sum((Decimal(li["price"]) * int(li["quantity"]) for li in lines), Decimal(0))
        token = f"{self._rng.getrandbits(80):020x}"
        if delay is None:
            delay = _dt.timedelta(
                seconds=int(self._rng.random() * self.checkout_delay.total_seconds())
            )
        data: dict[str, Any] = {
            "store_id": self.store_id,
            "token": token,
            "abandoned_checkout_url": (
                f"https://{self.original_domain}/checkout/v3/order/proxy/{cid}/{token}"
            ),
            "currency": self.currency,
            "language": self.main_language,
            "subtotal": str(subtotal),
            "discount": "0.00",
            "discount_coupon": "0.00",
            "discount_gateway": "0.00",
            "total": str(subtotal),
            "coupon": [],
            "shipping_option": None,
            "storefront": "store",
            "completed_at": None,
            "products": lines,
            "extra": {},
            "_delay": delay.total_seconds(),
        }
        if buyer is not None:
            data.update(
                contact_email=buyer.data.get("email"),
                contact_name=buyer.data.get("name"),
                contact_phone=buyer.data.get("phone"),
                contact_identification=buyer.data.get("identification"),
                billing_phone=buyer.data.get("billing_phone"),
            )
        else:
            data.update(self._contact())
        return store.update(cid, data, updated_at=updated)

    # -- changes --------------------------------------------------------------------------

    def add_customer(self, **fields: Any) -> StoredRecord:
        """A customer registers now (``customer/created``); ``fields`` override the data."""
        record = self._new_customer(self.now())
        record = self.stores["customers"].update(record.id, fields, updated_at=record.created_at)
        self._emit("customer/created", record.id)
        return record

    def add_product(self, **fields: Any) -> StoredRecord:
        """A product is added to the catalogue now (``product/created``)."""
        record = self._new_product(self.now())
        record = self.stores["products"].update(record.id, fields, updated_at=record.created_at)
        self._emit("product/created", record.id)
        return record

    def add_order(self, buyer_id: int | None = None, **fields: Any) -> StoredRecord:
        """An order is placed now (``order/created``, and ``order/paid`` when it is paid).

        Args:
            buyer_id: a stored customer's id, or ``None`` for a guest.
            fields: overrides, e.g. ``payment_status="pending"`` (default ``paid``).

        Example:
            >>> sim = TiendanubeSimulator(customers=2, orders=0, products=2, checkouts=0)
            >>> hook = sim.webhook_store.insert(
            ...     {"event": "order/created", "url": "https://hooks.example.com/tn"})
            >>> order = sim.add_order()
            >>> [(d.topic, d.url) for d in sim.webhooks.pending]
            [('order/created', 'https://hooks.example.com/tn')]
        """
        buyer = self.stores["customers"].get(buyer_id) if buyer_id is not None else None
        if buyer_id is not None and buyer is None:
            raise KeyError(f"no customer {buyer_id}")
        orders = self.stores["orders"]
        record = self._new_order(self.now(), len(orders), buyer, list(self.stores["products"]))
        changes: dict[str, Any] = {
            "status": "open",
            "payment_status": "paid",
            "shipping_status": "unpacked",
        }
        changes.update(fields)
        changes["_paid"] = changes["payment_status"] == "paid"
        record = orders.update(record.id, changes, updated_at=record.created_at)
        self._emit("order/created", record.id)
        if record.data.get("payment_status") == "paid":
            self._emit("order/paid", record.id)
        return record

    def update(
        self, collection: str, id: int, changes: Mapping[str, Any] | None = None
    ) -> StoredRecord:
        """Change (or just touch) a record now, as an edit in the store would.

        Orders fire ``order/updated`` (plus ``order/paid``, ``order/cancelled``,
        ``order/packed`` or ``order/fulfilled`` when that is what changed), customers
        ``customer/updated`` and products ``product/updated``; checkouts fire nothing
        (Tiendanube has no checkout event).
        """
        before = self.stores[collection].get(id)
        record = self.stores[collection].update(id, changes, updated_at=self.now())
        if collection == "orders":
            self._emit("order/updated", id)
            old = before.data if before is not None else {}
            fired: set[str] = set()
            for field, value, event in _ORDER_EVENTS:
                moved = record.data.get(field) == value and old.get(field) != value
                if moved and event not in fired:
                    fired.add(event)
                    self._emit(event, id)
        elif collection in ("customers", "products"):
            self._emit(f"{collection[:-1]}/updated", id)
        return record

    def delete(self, collection: str, id: int) -> None:
        """Remove a record (a deleted product, a checkout the shopper dropped).

        Products fire ``product/deleted`` and customers ``customer/deleted``.
        """
        self.stores[collection].delete(id)
        if collection in ("customers", "products"):
            self._emit(f"{collection[:-1]}/deleted", id)

    def convert_checkout(self, id: int, at: _dt.datetime | None = None) -> StoredRecord:
        """The shopper completed the checkout: ``completed_at`` is set and an order created."""
        at = _seconds(at or self.now())
        checkout = self.stores["checkouts"].update(
            id, {"completed_at": _no_colon(at)}, updated_at=at
        )
        data = dict(checkout.data)
        order = self.stores["orders"].insert(
            {
                "store_id": str(self.store_id),
                "number": 100 + len(self.stores["orders"]),
                "currency": data["currency"],
                "status": "open",
                "payment_status": "paid",
                "shipping_status": "unpacked",
                "total": data["total"],
                "subtotal": data["subtotal"],
                "products": data["products"],
                "customer": None,
                **{k: v for k, v in data.items() if k.startswith("contact_")},
                "_paid": True,
            },
            created_at=at,
        )
        converted = self.stores["checkouts"].update(id, {"order_id": order.id}, updated_at=at)
        self._emit("order/created", order.id)
        self._emit("order/paid", order.id)
        return converted

    # -- webhooks -------------------------------------------------------------------------

    def _sign_and_queue(self, url: str, event: str, payload: Mapping[str, Any]) -> Delivery:
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = hmac.new(self.client_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", _SIGNATURE_HEADER: signature}
        return self.webhooks.enqueue(url, event, body, headers, signature_header=_SIGNATURE_HEADER)

    def _emit(self, event: str, id: int | None = None) -> list[Delivery]:
        """Queue ``event`` for every subscription to it (none once the app is gone)."""
        if not self.installed or self.suspended:
            return []
        payload: dict[str, Any] = {"store_id": self.store_id, "event": event}
        if id is not None:
            payload["id"] = id
        return [
            self._sign_and_queue(r.data["url"], event, payload)
            for r in self.webhook_store.query()
            if r.data.get("event") == event
        ]

    def uninstall_app(self) -> list[Delivery]:
        """The merchant uninstalls the app: ``app/uninstalled`` (with the app's id) is
        queued and the token stops working (401), as the docs say of uninstalls."""
        deliveries = self._emit("app/uninstalled", self.app_id)
        self.installed = False
        return deliveries

    def suspend_app(self) -> list[Delivery]:
        """API access is suspended for lack of payment: ``app/suspended``, then every call
        answers 402 and nothing else is delivered until :meth:`resume_app`."""
        deliveries = self._emit("app/suspended")
        self.suspended = True
        return deliveries

    def resume_app(self) -> list[Delivery]:
        """API access is restored: ``app/resumed``."""
        self.suspended = False
        return self._emit("app/resumed")

    def configure_privacy_webhooks(
        self,
        *,
        store_redact: str | None = None,
        customers_redact: str | None = None,
        customers_data_request: str | None = None,
    ) -> None:
        """Set the data-protection webhook URLs, as the app's partner-portal settings do.

        Raises:
            ValueError: a URL Tiendanube would not deliver to.
        """
        given = {
            "store/redact": store_redact,
            "customers/redact": customers_redact,
            "customers/data_request": customers_data_request,
        }
        for event, url in given.items():
            if url is None:
                continue
            if not _deliverable(url):
                raise ValueError(f"not a deliverable https URL for {event}: {url!r}")
            self.privacy_urls[event] = url

    def _privacy(self, event: str, payload: dict[str, Any]) -> Delivery | None:
        url = self.privacy_urls.get(event)
        if url is None:
            return None
        return self._sign_and_queue(
            url, event, {"store_id": self.store_id, "event": event, **payload}
        )

    def _person(self, customer_id: int) -> tuple[dict[str, Any], list[int]]:
        customer = self.stores["customers"].get(customer_id)
        if customer is None:
            raise KeyError(f"no customer {customer_id}")
        person = {
            "id": customer.id,
            "email": customer.data.get("email"),
            "phone": customer.data.get("phone"),
            "identification": customer.data.get("identification"),
        }
        orders = [
            r.id
            for r in self.stores["orders"].query()
            if isinstance(r.data.get("customer"), Mapping)
            and r.data["customer"].get("id") == customer_id
        ]
        return person, orders

    def request_store_redaction(self) -> Delivery | None:
        """``store/redact`` (sent 48 hours after an uninstall): erase the store's data.

        Returns ``None`` when no URL is configured for it.
        """
        return self._privacy("store/redact", {})

    def request_customer_redaction(self, customer_id: int) -> Delivery | None:
        """``customers/redact`` for a stored customer, with their orders to redact."""
        person, orders = self._person(customer_id)
        return self._privacy("customers/redact", {"customer": person, "orders_to_redact": orders})

    def request_customer_data(self, customer_id: int) -> Delivery | None:
        """``customers/data_request`` for a stored customer (orders, checkouts, request id)."""
        person, orders = self._person(customer_id)
        email = person["email"]
        checkouts = [
            r.id
            for r in self.stores["checkouts"].query()
            if email is not None and r.data.get("contact_email") == email
        ]
        self._data_requests += 1
        return self._privacy(
            "customers/data_request",
            {
                "customer": person,
                "orders_requested": orders,
                "checkouts_requested": checkouts,
                "drafts_orders_requested": [],
                "data_request": {"id": self._data_requests},
            },
        )

    # -- ground truth ---------------------------------------------------------------------

    def _visible(self, collection: str, record: StoredRecord, now: _dt.datetime) -> bool:
        if collection != "checkouts":
            return True
        appears = record.updated_at + _dt.timedelta(seconds=float(record.data.get("_delay", 0)))
        return appears <= now and now - record.created_at <= tn.CHECKOUT_RETENTION

    def visible(self, collection: str, since: _dt.datetime | None = None) -> list[StoredRecord]:
        """The records a client can list now (checkouts: appeared and retained).

        ``since`` keeps those created or updated at/after it.
        """
        now = self.now()
        return [
            r
            for r in self.stores[collection].query(updated_at_min=since)
            if self._visible(collection, r, now)
        ]

    # -- rendering ------------------------------------------------------------------------

    def render(self, collection: str, record: StoredRecord) -> dict[str, Any]:
        """The JSON object the API returns for one stored record."""
        data = {k: v for k, v in record.data.items() if not k.startswith("_")}
        fmt = _colon if collection in ("customers", "products") else _no_colon
        out: dict[str, Any] = {
            "id": record.id,
            **data,
            "created_at": fmt(record.created_at),
            "updated_at": fmt(record.updated_at),
        }
        if collection == "customers":
            # The customer resource's table and examples have no consent fields; only the
            # customer embedded in an order shows them (order.md, GET /orders example).
            for key in _ORDER_CUSTOMER_ONLY:
                out.pop(key, None)
        if collection == "orders":
            out["completed_at"] = _php(record.created_at) if record.data.get("_paid") else None
            if out.get("customer"):
                out["customer"] = {
                    **out["customer"],
                    "created_at": _no_colon(record.created_at),
                    "updated_at": _no_colon(record.updated_at),
                }
        return out

    def store_info(self) -> dict[str, Any]:
        """The ``GET /store`` object."""
        return {
            "id": self.store_id,
            "name": {lang: f"Mi Tienda ({lang})" for lang in self.languages},
            "country": "AR",
            "languages": {
                lang: {"currency": self.currency, "active": True} for lang in self.languages
            },
            "main_language": self.main_language,
            "main_currency": self.currency,
            "original_domain": self.original_domain,
            "domains": [self.original_domain],
            "customer_accounts": "optional",
            "plan_name": "Esencial",
            "created_at": "2020-01-01T00:00:00-03:00",
        }

    # -- protocol -------------------------------------------------------------------------

    def error_body(self, status: int, message: str | None) -> Any:
        """``{"code": 404, "message": "Not Found", "description": ...}``."""
        return {"code": status, "message": _REASONS.get(status, "Error"), "description": message}

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        """A request id and the store's main language on every answer."""
        self._request_ids += 1
        return {
            "X-Request-Id": f"tn-{self._request_ids:07d}",
            tn.MAIN_LANGUAGE_HEADER: self.main_language,
        }

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        """400 without a User-Agent, 401 without the right token (or after an uninstall),
        402 while the app is suspended, 404 for another store."""
        if not request.headers.get("User-Agent", "").strip():
            return json_response(
                self.error_body(400, "A User-Agent header naming your app is required"), 400
            )
        auth = request.headers.get("Authentication", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token != self.token or not self.installed:
            return json_response(self.error_body(401, "Invalid access token"), 401)
        if self.suspended:
            return json_response(
                self.error_body(402, "API access is suspended: the app is unpaid"), 402
            )
        if params.get("store_id") != str(self.store_id) or not _VERSION.match(
            params.get("version", "")
        ):
            return json_response(self.error_body(404, None), 404)
        return None

    # -- the Webhook resource ---------------------------------------------------------
    # Defined before the generic ``/{collection}`` routes, which would match first.

    def render_webhook(self, record: StoredRecord) -> dict[str, Any]:
        """The JSON object of one webhook (``id``, ``url``, ``event`` and its dates)."""
        return {
            "created_at": _colon(record.created_at),
            "event": record.data["event"],
            "id": record.id,
            "updated_at": _colon(record.updated_at),
            "url": record.data["url"],
        }

    def _json_body(self, request: httpx.Request) -> dict[str, Any] | httpx.Response:
        """The request's JSON object, or the documented 415 / 400 answer."""
        if not request.headers.get("Content-Type", "").lower().startswith("application/json"):
            return self.error_response(415, "Content-Type should be application/json")
        try:
            body = json.loads(request.content or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return json_response({"error": "Problems parsing JSON"}, 400)
        return body

    def _webhook_errors(self, body: Mapping[str, Any], *, partial: bool) -> dict[str, list[str]]:
        """The legacy 422 field map (``{"event": [...], "url": [...]}``) for a webhook body."""
        errors: dict[str, list[str]] = {}
        if "event" in body or not partial:
            event = body.get("event")
            if event is None or event == "":
                errors["event"] = ["can't be blank"]
            elif event not in WEBHOOK_EVENTS:
                errors["event"] = [
                    "Invalid event specified. Events allowed: " + ", ".join(WEBHOOK_EVENTS)
                ]
        if "url" in body or not partial:
            url = body.get("url")
            if url is None or url == "":
                errors["url"] = ["can't be blank"]
            elif not _deliverable(url):
                errors["url"] = ["invalid url specified"]
        return errors

    @staticmethod
    def _fields(item: dict[str, Any], q: httpx.QueryParams) -> dict[str, Any]:
        wanted = [f.strip() for f in q.get("fields", "").split(",") if f.strip()]
        return {k: v for k, v in item.items() if k in wanted} if wanted else item

    @route("GET", "/{version}/{store_id}/webhooks")
    def list_webhooks(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``GET /webhooks``: filters ``since_id``, ``url``, ``event``, ``created_at_min/max``,
        ``updated_at_min/max``; ``page``, ``per_page``, ``fields``."""
        q = request.url.params
        try:
            page = int(q.get("page", "1"))
            per_page = int(q.get("per_page", "30"))
            since_id = int(q["since_id"]) if q.get("since_id") else None
            filters = {
                name: parse_datetime(q[name])
                for name in ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
                if q.get(name)
            }
        except (ValueError, KeyError) as exc:
            return self.error_response(422, f"Invalid parameter: {exc}")
        if page < 1 or not 1 <= per_page <= self.max_per_page:
            return self.error_response(
                422, f"page must be >= 1 and per_page within 1..{self.max_per_page}"
            )
        url, event = q.get("url"), q.get("event")

        def keep(record: StoredRecord) -> bool:
            return (url is None or record.data["url"] == url) and (
                event is None or record.data["event"] == event
            )

        matched = self.webhook_store.query(
            since_id=since_id,
            where=keep,
            created_at_min=filters.get("created_at_min"),
            created_at_max=filters.get("created_at_max"),
            updated_at_min=filters.get("updated_at_min"),
            updated_at_max=filters.get("updated_at_max"),
        )
        return self._page(
            request,
            matched,
            lambda r: self._fields(self.render_webhook(r), q),
            page=page,
            per_page=per_page,
        )

    @route("GET", "/{version}/{store_id}/webhooks/{id}")
    def get_webhook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``GET /webhooks/{id}``."""
        record = _numeric_get(self.webhook_store, params["id"])
        if record is None:
            return json_response(self.error_body(404, None), 404)
        return json_response(self._fields(self.render_webhook(record), request.url.params))

    @route("POST", "/{version}/{store_id}/webhooks")
    def create_webhook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``POST /webhooks`` ``{"event", "url"}``: 201 with the webhook, or the 422 field map.

        A second webhook for the same event and URL is accepted (the docs do not say
        otherwise), so a client that does not check first subscribes twice.
        """
        body = self._json_body(request)
        if isinstance(body, httpx.Response):
            return body
        errors = self._webhook_errors(body, partial=False)
        if errors:
            return json_response(errors, 422)
        record = self.webhook_store.insert(
            {"event": body["event"], "url": body["url"]}, created_at=self.now()
        )
        return json_response(self.render_webhook(record), 201)

    @route("PUT", "/{version}/{store_id}/webhooks/{id}")
    def update_webhook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``PUT /webhooks/{id}``: change its ``event`` and/or ``url`` (other fields ignored)."""
        record = _numeric_get(self.webhook_store, params["id"])
        if record is None:
            return json_response(self.error_body(404, None), 404)
        body = self._json_body(request)
        if isinstance(body, httpx.Response):
            return body
        errors = self._webhook_errors(body, partial=True)
        if errors:
            return json_response(errors, 422)
        changes: dict[str, Any] = {k: body[k] for k in ("event", "url") if k in body}
        record = self.webhook_store.update(record.id, changes, updated_at=self.now())
        return json_response(self.render_webhook(record))

    @route("DELETE", "/{version}/{store_id}/webhooks/{id}")
    def delete_webhook(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``DELETE /webhooks/{id}``: 200 ``{}``."""
        record = _numeric_get(self.webhook_store, params["id"])
        if record is None:
            return json_response(self.error_body(404, None), 404)
        self.webhook_store.delete(record.id)
        return json_response({})

    @route("GET", "/{version}/{store_id}/store")
    def get_store(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``GET /store``."""
        return json_response(self.store_info())

    @route("GET", "/{version}/{store_id}/{collection}/{id}")
    def get_one(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """``GET /{collection}/{id}``."""
        collection = params["collection"]
        if collection not in self.stores:
            return json_response(self.error_body(404, None), 404)
        record = _numeric_get(self.stores[collection], params["id"])
        if record is None or not self._visible(collection, record, self.now()):
            return json_response(self.error_body(404, None), 404)
        return json_response(self.render(collection, record))

    @route("GET", "/{version}/{store_id}/{collection}")
    def list_records(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One page of a collection."""
        collection = params["collection"]
        if collection not in self.stores:
            return json_response(self.error_body(404, None), 404)
        q = request.url.params
        try:
            page = int(q.get("page", "1"))
            per_page = int(q.get("per_page", "30"))
            since_id = int(q["since_id"]) if q.get("since_id") else None
            filters = {
                name: parse_datetime(q[name])
                for name in ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
                if q.get(name) and (collection != "checkouts" or name.endswith("_max"))
            }
        except (ValueError, KeyError) as exc:
            return self.error_response(422, f"Invalid parameter: {exc}")
        if page < 1 or not 1 <= per_page <= self.max_per_page:
            return self.error_response(
                422, f"page must be >= 1 and per_page within 1..{self.max_per_page}"
            )
        if page * per_page > self.max_result_window:
            return self.error_response(
                422, f"page * per_page must be lower or equal than {self.max_result_window}"
            )
        where = self._where(collection, q)
        matched = self.stores[collection].query(
            since_id=since_id, where=where, sort=self.sort, descending=self.descending, **filters
        )
        return self._page(
            request,
            matched,
            lambda r: self.render(collection, r),
            page=page,
            per_page=per_page,
        )

    def _page(
        self,
        request: httpx.Request,
        records: list[StoredRecord],
        render: Callable[[StoredRecord], dict[str, Any]],
        *,
        page: int,
        per_page: int,
    ) -> httpx.Response:
        """One page of ``records`` (only it rendered) with ``X-Total-Count`` and ``Link``;
        404 past the last page."""
        total = len(records)
        last = max(1, -(-total // per_page))
        if page > last:
            return self.error_response(404, f"Last page is {last}")
        return json_response(
            [render(r) for r in records[(page - 1) * per_page : page * per_page]],
            headers={
                tn.TOTAL_COUNT_HEADER: str(total),
                "Link": self._links(request, page, last),
            },
        )

    def _where(self, collection: str, q: httpx.QueryParams) -> Callable[[StoredRecord], bool]:
        now = self.now()
        payment = q.get("payment_status", "any")
        status = q.get("status", "any")

        def keep(record: StoredRecord) -> bool:
            if not self._visible(collection, record, now):
                return False
            if collection != "orders":
                return True
            paid = record.data.get("payment_status")
            if payment == "any" and paid not in ANY_PAYMENT_STATUSES:
                return False
            if payment != "any" and paid != payment:
                return False
            return status == "any" or bool(record.data.get("status") == status)

        return keep

    def _links(self, request: httpx.Request, page: int, last: int) -> str:
        def url(n: int) -> str:
            return str(request.url.copy_set_param("page", str(n)))

        links = []
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
            links.append(f'<{url(page - 1)}>; rel="prev"')
        return ", ".join(links)


# -- the conformance harness --------------------------------------------------------------


class TiendanubeHarness:
    """Wires :class:`TiendanubeConnector` to a :class:`TiendanubeSimulator` for
    :func:`~commerce_connectors.testing.conformance.check_connector`.

    Both share one :class:`~commerce_connectors.clock.FakeClock`: rate-limit waits and
    retry backoffs take no real time. Small pages make every stream span several.

    Example:
        >>> from commerce_connectors.testing.conformance import check_connector
        >>> check_connector(lambda: TiendanubeHarness(customers=12, orders=15, products=6,
        ...                                           checkouts=8, page_size=5))
    """

    user_agent = "commerce-connectors-tests (dev@example.com)"

    def __init__(
        self,
        *,
        seed: int = 11,
        customers: int = 40,
        orders: int = 60,
        products: int = 20,
        checkouts: int = 25,
        page_size: int = 10,
        **simulator_options: Any,
    ) -> None:
        self.clock = FakeClock(wall_start=_dt.datetime(2024, 10, 1, tzinfo=_dt.timezone.utc))
        self.simulator = TiendanubeSimulator(
            seed=seed,
            customers=customers,
            orders=orders,
            products=products,
            checkouts=checkouts,
            clock=self.clock,
            **simulator_options,
        )
        # Let every generated checkout appear.
        self.clock.advance(tn.CHECKOUT_LATE_APPEARANCE.total_seconds())
        self.secret = self.simulator.token
        self.page_size = page_size

    def make_connector(
        self,
        *,
        valid_credentials: bool = True,
        on_invalid: InvalidRecordHandler | None = None,
        **options: Any,
    ) -> TiendanubeConnector:
        """A connector wired to the simulator (``options`` go to the connector)."""
        return TiendanubeConnector(
            store_id=self.simulator.store_id,
            access_token=self.secret if valid_credentials else "revoked-" + self.secret[::-1],
            user_agent=self.user_agent,
            base_url=self.simulator.base_url,
            transport=self.simulator.transport(),
            clock=self.clock,
            page_size=options.pop("page_size", self.page_size),
            on_invalid=on_invalid,
            **options,
        )

    def expected_ids(self, stream: Stream, since: _dt.datetime | None = None) -> set[str]:
        """Ids the simulator would list now, created or updated at/after ``since``."""
        return {str(r.id) for r in self.simulator.visible(_STREAM_COLLECTION[stream], since)}

    def timestamps(self, stream: Stream) -> list[_dt.datetime]:
        """``updated_at`` of every listable record."""
        return [r.updated_at for r in self.simulator.visible(_STREAM_COLLECTION[stream])]

    def corrupt_one(self, stream: Stream) -> str:
        """Make one record unparseable (a bad amount, a bad consent flag …)."""
        collection = _STREAM_COLLECTION[stream]
        records = self.simulator.visible(collection)
        victim = records[len(records) // 2]
        broken: dict[str, dict[str, Any]] = {
            "customers": {"active": "maybe"},
            "orders": {"total": "12,34"},
            "products": {"name": 42},
            "checkouts": {"currency": "ZZZ"},
        }
        self.simulator.stores[collection].update(
            victim.id, broken[collection], updated_at=victim.updated_at
        )
        return str(victim.id)

    def cart(self, cart_id: str) -> Cart | None:
        """Convenience for tests: the parsed cart with this id, if listed now."""
        with self.make_connector() as conn:
            return next((c for c in conn.iter_abandoned_carts() if c.external_id == cart_id), None)
