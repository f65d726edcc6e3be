"""ToyShop: a small example platform (simulator + connector) showing how the pieces fit.

ToyShop is not a real platform. It is the reference for anyone writing a
connector for a platform this library does not cover, and the fixture the
library's own tests run :func:`~commerce_connectors.testing.conformance.check_connector`
against. Its API is deliberately ordinary:

* ``GET /api/v1/{customers|orders|products}?updated_at_min=ISO&page=N&per_page=M``
  returns ``{"customers": [...]}`` sorted by ``updated_at`` then id, a
  ``Link: <…>; rel="next"`` header while there are more pages and
  ``X-Total-Count``;
* ``Authorization: Bearer <token>``; a wrong token gets 401
  ``{"error": "invalid_token", "message": …}``;
* a leaky-bucket rate limit answered with ``x-rate-limit-limit``,
  ``-remaining`` and ``-reset`` (milliseconds until empty), and 429 when it
  overflows;
* money as decimal strings with a ``currency`` field; ISO 8601 datetimes;
* no cart listing (the connector says so with ``UnsupportedStreamError``).

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> clock = FakeClock()
    >>> sim = ToyShopSimulator(seed=1, customers=30, orders=20, products=10, clock=clock)
    >>> conn = ToyShopConnector(token=sim.token, transport=sim.transport(), clock=clock)
    >>> with conn:
    ...     len(list(conn.iter_customers()))
    30
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from .._http import BearerAuth, HttpEngine, LeakyBucketLimiter, LinkHeaderPaginator, Request
from .._parsing import PayloadReader
from ..clock import Clock, FakeClock
from ..errors import ConfigurationError
from ..models import Address, Customer, LineItem, Order, OrderStatus, Platform, Product
from ..platforms.base import BaseConnector, Fetched
from ..protocols import InvalidRecordHandler, Stream
from .simulator import (
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

__all__ = [
    "TOYSHOP_STREAMS",
    "ToyShopConnector",
    "ToyShopHarness",
    "ToyShopSimulator",
    "parse_customer",
    "parse_order",
    "parse_product",
]

#: The collections ToyShop serves, by URL segment.
TOYSHOP_STREAMS = ("customers", "orders", "products")

_EPOCH = _dt.datetime(2023, 1, 1, tzinfo=_dt.timezone.utc)
_NOW = _dt.datetime(2024, 10, 1, tzinfo=_dt.timezone.utc)
_STATUSES = ("pending", "paid", "paid", "paid", "fulfilled", "refunded", "cancelled", "failed")
# Realistic stores: mostly paid and shipped, some refunds, cancellations and failures.
_REALISTIC_STATUSES = (
    *("paid",) * 3,
    *("fulfilled",) * 2,
    "pending",
    "refunded",
    "cancelled",
    "failed",
)


def _iso(value: _dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class ToyShopSimulator(Simulator):
    """An in-process ToyShop API over seeded data (see the module docstring).

    Args:
        seed: seeds the data and the faults.
        customers, orders, products: how many records to generate.
        token: the access token the simulator accepts.
        clock: shared with the client in tests, so sleeps and the bucket agree.
        rate_limit: defaults to a 40-request bucket leaking at 2/s.
        faults: faults to inject.
        max_per_page: the largest ``per_page`` the API accepts.
        realistic: generate a messier store, as the CLI demo shows it: guest
            orders, refunds, customers without email, phones only on addresses,
            duplicate emails in other case, orders in a zero-decimal currency
            (JPY), two malformed records, and timestamps up to ``now`` (some
            orders in the last 24 hours). Off by default: the plain store.
        now: with ``realistic``, the newest timestamp (default: the clock's now).

    Attributes:
        stores: the :class:`RecordStore` of each collection; tests insert,
            update and corrupt records there.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        customers: int = 120,
        orders: int = 200,
        products: int = 40,
        token: str = "toyshop-test-token-0123456789",  # noqa: S107 - a simulator's fixture
        clock: Clock | None = None,
        rate_limit: RateLimiter | None = None,
        faults: Iterable[Fault] = (),
        max_per_page: int = 50,
        realistic: bool = False,
        now: _dt.datetime | None = None,
    ) -> None:
        super().__init__(
            clock=clock,
            rate_limit=rate_limit if rate_limit is not None else TiendanubeRateLimit(),
            faults=faults,
            seed=seed,
        )
        self.token = token
        self.max_per_page = max_per_page
        self.stores: dict[str, RecordStore] = {
            name: RecordStore(self.clock) for name in TOYSHOP_STREAMS
        }
        self._request_ids = 0
        if realistic:
            self._generate_realistic(FakeData(seed), customers, orders, products, now)
        else:
            self._generate(FakeData(seed), customers, orders, products)

    # -- data ---------------------------------------------------------------

    def _generate(self, fake: FakeData, customers: int, orders: int, products: int) -> None:
        catalogue: list[StoredRecord] = []
        for _ in range(products):
            created = fake.timestamp(_EPOCH, _NOW)
            catalogue.append(
                self.stores["products"].insert(
                    {
                        "title": fake.product_title(),
                        "category": fake.category(),
                        "sku": fake.sku(),
                        "price": fake.price(),
                        "currency": "USD",
                    },
                    created_at=created,
                    updated_at=fake.timestamp(created, _NOW),
                )
            )
        people = []
        for _ in range(customers):
            person = fake.person()
            created = fake.timestamp(_EPOCH, _NOW)
            people.append(
                self.stores["customers"].insert(
                    {
                        "first_name": person.first_name,
                        "last_name": person.last_name,
                        "email": person.email,
                        "phone": person.phone,
                        "company": person.company,
                        "tags": ",".join(person.tags),
                        "accepts_marketing": person.accepts_marketing,
                        "address": {
                            "line1": person.address.line1,
                            "city": person.address.city,
                            "postal_code": person.address.postal_code,
                            "country": person.address.country_code,
                            "phone": person.address.phone,
                        },
                    },
                    created_at=created,
                    updated_at=fake.timestamp(created, _NOW),
                )
            )
        for n in range(orders):
            buyer = people[n % len(people)] if people else None
            created = fake.timestamp(_EPOCH, _NOW)
            lines = []
            total = Decimal(0)
            for k in range(1 + n % 3):
                product = catalogue[(n + k) % len(catalogue)] if catalogue else None
                price = Decimal(product.data["price"]) if product else Decimal("9.99")
                quantity = 1 + (n + k) % 2
                total += price * quantity
                lines.append(
                    {
                        "product_id": product.id if product else None,
                        "title": product.data["title"] if product else "Gift card",
                        "sku": product.data["sku"] if product else None,
                        "quantity": quantity,
                        "price": str(price),
                    }
                )
            self.stores["orders"].insert(
                {
                    "number": 1000 + n,
                    "status": _STATUSES[n % len(_STATUSES)],
                    "currency": "USD",
                    "total": str(total),
                    "customer_id": buyer.id if buyer else None,
                    "email": buyer.data["email"] if buyer else fake.email("guest", "buyer"),
                    "lines": lines,
                },
                created_at=created,
                updated_at=fake.timestamp(created, _NOW),
            )

    def _generate_realistic(
        self,
        fake: FakeData,
        customers: int,
        orders: int,
        products: int,
        now: _dt.datetime | None,
    ) -> None:
        end = now if now is not None else self.clock.now()
        start = end - _dt.timedelta(days=730)
        rng = fake.rng
        catalogue: list[StoredRecord] = []
        for _ in range(max(products, 1)):
            created = fake.timestamp(start, end)
            catalogue.append(
                self.stores["products"].insert(
                    {
                        "title": fake.product_title(),
                        "category": fake.category(),
                        "sku": fake.sku(),
                        "price": fake.price("2.00", "120.00"),
                        "currency": "USD",
                    },
                    created_at=created,
                    updated_at=fake.timestamp(created, end),
                )
            )
        people: list[StoredRecord] = []
        for n in range(customers):
            person = fake.person()
            created = fake.timestamp(start, end)
            email: str | None = person.email
            phone = person.phone
            roll = rng.random()
            if roll < 0.08:
                email = None  # no email at all: not a contact for an email-keyed CRM
            elif roll < 0.13 and people and people[-1].data.get("email"):
                # The same shopper registered twice, the email typed in other case.
                email = str(people[-1].data["email"]).strip().upper()
            if rng.random() < 0.2:
                phone = None  # the phone is only on the address: the fallback finds it
            data = {
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": email,
                "phone": phone,
                "company": person.company,
                "tags": ",".join(person.tags),
                "accepts_marketing": person.accepts_marketing,
                "address": {
                    "line1": person.address.line1,
                    "city": person.address.city,
                    "postal_code": person.address.postal_code,
                    "country": person.address.country_code,
                    "phone": person.address.phone or fake.phone(person.address.country_code),
                },
            }
            if n == customers // 2:
                data["accepts_marketing"] = "maybe"  # malformed: dead-lettered, not dropped
            people.append(
                self.stores["customers"].insert(
                    data, created_at=created, updated_at=fake.timestamp(created, end)
                )
            )
        for n in range(orders):
            recent = rng.random() < 0.02  # placed in the last day: fires "makes a purchase"
            placed = fake.timestamp(end - _dt.timedelta(hours=23), end) if recent else None
            self._realistic_order(fake, n, catalogue, people, placed, start, end)

    def _realistic_order(
        self,
        fake: FakeData,
        n: int,
        catalogue: list[StoredRecord],
        people: list[StoredRecord],
        created: _dt.datetime | None,
        start: _dt.datetime,
        end: _dt.datetime,
    ) -> StoredRecord:
        rng = fake.rng
        created = created or fake.timestamp(start, end)
        yen = rng.random() < 0.15  # a zero-decimal currency: amounts are whole yen
        currency = "JPY" if yen else "USD"
        lines = []
        total = Decimal(0)
        for _ in range(1 + int(rng.random() * 3)):
            product = catalogue[int(rng.random() * len(catalogue))]
            price = Decimal(product.data["price"])
            if yen:
                price = (price * 150).quantize(Decimal(1))
            quantity = 1 + int(rng.random() * 3)
            total += price * quantity
            lines.append(
                {
                    "product_id": product.id,
                    "title": product.data["title"],
                    "sku": product.data["sku"],
                    "quantity": quantity,
                    "price": str(price),
                }
            )
        roll = rng.random()
        buyer = people[int(rng.random() * len(people))] if people else None
        email: str | None
        if roll < 0.15 or buyer is None:
            buyer = None  # a guest checkout
            if rng.random() < 0.3 and people:
                # A guest using a registered customer's email, in other case.
                email = str(people[int(rng.random() * len(people))].data.get("email") or "")
                email = email.upper() or None
            elif rng.random() < 0.1:
                email = None
            else:
                email = fake.email(fake.first_name(), fake.last_name())
        else:
            email = buyer.data.get("email")
        data: dict[str, Any] = {
            "number": 1000 + n,
            "status": _REALISTIC_STATUSES[int(rng.random() * len(_REALISTIC_STATUSES))],
            "currency": currency,
            "total": str(total),
            "customer_id": buyer.id if buyer else None,
            "email": email,
            "lines": lines,
        }
        if n == 7:
            data["total"] = "12,34"  # malformed: dead-lettered with its payload
        edited = n % 3 and created < end
        return self.stores["orders"].insert(
            data, created_at=created, updated_at=fake.timestamp(created, end) if edited else created
        )

    def simulate_activity(self, *, new_orders: int = 20, updated_customers: int = 10) -> None:
        """Shop activity after a sync: new orders (now) and edited customers, for demos.

        Works on realistic and plain stores alike; timestamps are the clock's now.
        """
        fake = FakeData(self.seed + 1000 + len(self.stores["orders"]))
        now = self.clock.now()
        catalogue = self.stores["products"].query()
        people = self.stores["customers"].query()
        first = len(self.stores["orders"])
        for n in range(new_orders):
            self._realistic_order(fake, first + n, catalogue, people, now, now, now)
        for record in people[:updated_customers]:
            if record.data.get("accepts_marketing") in (True, False):
                self.stores["customers"].update(
                    record.id, {"accepts_marketing": not record.data["accepts_marketing"]}
                )

    def render(self, collection: str, record: StoredRecord) -> dict[str, Any]:
        """The JSON object ToyShop returns for one stored record."""
        return {
            "id": record.id,
            **record.data,
            "created_at": _iso(record.created_at),
            "updated_at": _iso(record.updated_at),
        }

    # -- protocol -----------------------------------------------------------

    def error_body(self, status: int, message: str) -> Any:
        codes = {401: "invalid_token", 404: "not_found", 422: "invalid", 429: "rate_limited"}
        return {"error": codes.get(status, "server_error"), "message": message}

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        self._request_ids += 1
        return {"X-Request-Id": f"toy-{self._request_ids:06d}"}

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.error_response(401, "The access token is invalid or was revoked.")
        return None

    @route("GET", "/api/v1/{collection}")
    def list_records(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """One page of a collection, filtered by ``updated_at_min``."""
        collection = params["collection"]
        if collection not in self.stores:
            return self.error_response(404, f"No such collection: {collection}")
        query = request.url.params
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "20"))
            since = query.get("updated_at_min")
            updated_at_min = (
                _dt.datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
            )
        except ValueError as exc:
            return self.error_response(422, f"Invalid parameter: {exc}")
        if page < 1 or not 1 <= per_page <= self.max_per_page:
            return self.error_response(422, f"page >= 1 and 1 <= per_page <= {self.max_per_page}")
        if updated_at_min is not None and updated_at_min.tzinfo is None:
            return self.error_response(422, "updated_at_min needs a UTC offset")
        result = self.stores[collection].page_by_offset(
            limit=per_page,
            offset=(page - 1) * per_page,
            updated_at_min=updated_at_min,
            sort="updated_at",
        )
        headers = {"X-Total-Count": str(result.total)}
        if page * per_page < result.total:
            next_query: Mapping[str, str] = {**dict(query), "page": str(page + 1)}
            next_url = request.url.copy_with(query=urlencode(next_query).encode())
            headers["Link"] = f'<{next_url}>; rel="next"'
        body = {collection: [self.render(collection, r) for r in result.records]}
        return json_response(body, headers=headers)


# -- parsers: pure functions from one ToyShop JSON object to a canonical record -----------

_PLATFORM = Platform.CUSTOM
_STATUS_MAP = {
    "pending": OrderStatus.PENDING,
    "paid": OrderStatus.PAID,
    "fulfilled": OrderStatus.FULFILLED,
    "refunded": OrderStatus.REFUNDED,
    "cancelled": OrderStatus.CANCELLED,
    "failed": OrderStatus.FAILED,
}


def _reader(payload: Any, kind: str) -> PayloadReader:
    return PayloadReader(payload, platform="toyshop", kind=kind)


def parse_customer(payload: Any, *, connection_id: str) -> Customer:
    """A ToyShop customer object as a :class:`~commerce_connectors.models.Customer`."""
    r = _reader(payload, "customer")
    external_id = r.id("id")
    created, updated = (
        r.datetime("created_at", required=True),
        r.datetime("updated_at", required=True),
    )
    address = r.child("address")
    tags = r.text("tags") or ""
    consent = r.boolean("accepts_marketing")
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    return Customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        email=r.text("email"),
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        phone=r.text("phone"),
        company=r.text("company"),
        tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
        accepts_marketing=consent,
        default_address=Address(
            line1=address.text("line1"),
            city=address.text("city"),
            postal_code=address.text("postal_code"),
            country_code=address.text("country"),
            phone=address.text("phone"),
        )
        if address.payload
        else None,
        raw=payload,
    )


def parse_order(payload: Any, *, connection_id: str) -> Order:
    """A ToyShop order object (lines included) as an :class:`~commerce_connectors.models.Order`."""
    r = _reader(payload, "order")
    external_id = r.id("id")
    created, updated = (
        r.datetime("created_at", required=True),
        r.datetime("updated_at", required=True),
    )
    currency = r.currency("currency")
    total = r.money("total", currency, required=True)
    raw_status = r.text("status", required=True)
    lines = []
    for line in r.children("lines"):
        price = line.money("price", currency, required=True)
        quantity = line.integer("quantity", required=True)
        if price is not None and quantity is not None:
            lines.append(
                LineItem(
                    name=line.text("title"),
                    quantity=quantity,
                    unit_price=price,
                    product_id=line.text("product_id"),
                    sku=line.text("sku"),
                )
            )
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    assert raw_status is not None
    return Order(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        status=_STATUS_MAP.get(raw_status, OrderStatus.UNKNOWN),
        raw_status=raw_status,
        total=total,
        order_number=r.text("number"),
        email=r.text("email"),
        customer_external_id=r.text("customer_id"),
        lines=tuple(lines),
        raw=payload,
    )


def parse_product(payload: Any, *, connection_id: str) -> Product:
    """A ToyShop product object as a :class:`~commerce_connectors.models.Product`."""
    r = _reader(payload, "product")
    external_id = r.id("id")
    created, updated = (
        r.datetime("created_at", required=True),
        r.datetime("updated_at", required=True),
    )
    price = r.money("price", r.currency("currency"))
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    return Product(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        name=r.text("title"),
        category=r.text("category"),
        sku=r.text("sku"),
        price=price,
        raw=payload,
    )


# -- the connector --------------------------------------------------------------------------

_PARSERS = {
    Stream.CUSTOMERS: ("customers", parse_customer),
    Stream.ORDERS: ("orders", parse_order),
    Stream.PRODUCTS: ("products", parse_product),
}


class ToyShopConnector(BaseConnector):
    """Reads a ToyShop store: the smallest complete connector, to copy from.

    Args:
        token: the API token (sent as ``Authorization: Bearer``; never logged).
        shop: the store's name, part of the connection id.
        base_url: the API root; defaults to the simulator's.
        client: an :class:`httpx.Client` you own (not closed by the connector).
        transport: an httpx transport for the client the connector creates.
        clock: where the rate limiter and retries sleep (a FakeClock in tests).
        page_size: records per page (``per_page``).
        on_invalid: receives each record that cannot be parsed.
    """

    platform = _PLATFORM
    streams = frozenset(_PARSERS)
    unsupported: ClassVar[Mapping[Stream, str]] = {
        Stream.ABANDONED_CARTS: "ToyShop has no cart listing; carts arrive by webhook only",
    }

    def __init__(
        self,
        *,
        token: str,
        shop: str = "toyshop",
        base_url: str = "https://toyshop.test/api/v1",
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        page_size: int = 25,
        on_invalid: InvalidRecordHandler | None = None,
    ) -> None:
        if not token:
            raise ConfigurationError("ToyShopConnector needs a token")
        super().__init__(on_invalid=on_invalid)
        self.shop = shop
        self.page_size = page_size
        self.engine = HttpEngine(
            platform="toyshop",
            base_url=base_url,
            auth=BearerAuth(token),
            client=client,
            transport=transport,
            clock=clock,
            rate_limiter=LeakyBucketLimiter.tiendanube(clock=clock),
        )

    @property
    def connection_id(self) -> str:
        return f"toyshop:{self.shop}"

    def close(self) -> None:
        self.engine.close()
        super().close()

    def _fetch(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Fetched]:
        collection, parse = _PARSERS[stream]
        params: dict[str, Any] = {"per_page": self.page_size}
        if since is not None:
            params["updated_at_min"] = _iso(since)
        first = Request("GET", collection, params=params)
        conn = self.connection_id

        def parser(payload: Any) -> Any:
            return parse(payload, connection_id=conn)

        for page in self.engine.paginate(first, LinkHeaderPaginator()):
            items = page.body.get(collection) if isinstance(page.body, Mapping) else None
            if not isinstance(items, list):
                items = []
            for item in items:
                yield item, parser


# -- the conformance harness ------------------------------------------------------------------


class ToyShopHarness:
    """Wires :class:`ToyShopConnector` to a :class:`ToyShopSimulator` for ``check_connector``.

    Both share one :class:`~commerce_connectors.clock.FakeClock`, so rate-limit
    waits and retry backoffs take no real time.
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        customers: int = 60,
        orders: int = 80,
        products: int = 30,
        page_size: int = 10,
    ) -> None:
        self.clock = FakeClock()
        self.simulator = ToyShopSimulator(
            seed=seed, customers=customers, orders=orders, products=products, clock=self.clock
        )
        self.secret = self.simulator.token
        self.page_size = page_size

    def make_connector(
        self, *, valid_credentials: bool = True, on_invalid: InvalidRecordHandler | None = None
    ) -> ToyShopConnector:
        return ToyShopConnector(
            token=self.secret if valid_credentials else "revoked-" + self.secret[::-1],
            transport=self.simulator.transport(),
            clock=self.clock,
            page_size=self.page_size,
            on_invalid=on_invalid,
        )

    def _store(self, stream: Stream) -> RecordStore:
        return self.simulator.stores[_PARSERS[stream][0]]

    def expected_ids(self, stream: Stream, since: _dt.datetime | None = None) -> set[str]:
        return {str(r.id) for r in self._store(stream).query(updated_at_min=since)}

    def timestamps(self, stream: Stream) -> list[_dt.datetime]:
        return [r.updated_at for r in self._store(stream).query()]

    def corrupt_one(self, stream: Stream) -> str:
        store = self._store(stream)
        victim = store.query(sort="id")[len(store) // 2]
        broken = {
            "customers": {"accepts_marketing": "maybe"},
            "orders": {"total": "12,34"},
            "products": {"currency": "ZZZ"},
        }[_PARSERS[stream][0]]
        store.update(victim.id, broken, updated_at=victim.updated_at)
        return str(victim.id)
