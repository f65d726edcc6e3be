"""Test doubles for the sync tests: an in-memory connector and record builders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from commerce_connectors.errors import AuthenticationError
from commerce_connectors.models import Cart, Customer, LineItem, Money, Order, Platform, Product
from commerce_connectors.platforms.base import raise_invalid
from commerce_connectors.protocols import Stream

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
CONN = "custom:fake"


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def customer(cid: str, email: str | None, *, hours: float = 0, **kw: Any) -> Customer:
    return Customer("custom", CONN, cid, at(hours), at(hours), email=email, **kw)


def order(
    oid: str,
    *,
    hours: float = 0,
    cid: str | None = "1",
    email: str | None = None,
    updated: float | None = None,
    **kw: Any,
) -> Order:
    return Order(
        "custom",
        CONN,
        oid,
        at(hours),
        at(hours if updated is None else updated),
        status="paid",
        raw_status="paid",
        total=Money("10.00", "USD"),
        customer_external_id=cid,
        email=email,
        lines=[LineItem("Mug", 1, Money("10.00", "USD"))],
        **kw,
    )


def product(pid: str, *, hours: float = 0) -> Product:
    return Product("custom", CONN, pid, at(hours), at(hours), name=f"P{pid}")


def cart(cid: str, *, hours: float = 0, email: str = "cart@example.com", **kw: Any) -> Cart:
    return Cart(
        "custom",
        CONN,
        cid,
        at(hours),
        at(hours),
        total=Money("5", "JPY"),
        email=email,
        customer=customer("9", email, hours=hours),
        customer_external_id="9",
        **kw,
    )


class ListConnector:
    """A Connector over lists of records (no HTTP); can fail authentication on demand."""

    platform = Platform.CUSTOM
    recommended_overlap = dt.timedelta(minutes=5)

    def __init__(
        self,
        *,
        products=(),
        customers=(),
        orders=(),
        carts=(),
        auth_fails_at: tuple[Stream, int] | None = None,
    ) -> None:
        self.data = {
            Stream.PRODUCTS: list(products),
            Stream.CUSTOMERS: list(customers),
            Stream.ORDERS: list(orders),
            Stream.ABANDONED_CARTS: list(carts),
        }
        self.on_invalid = raise_invalid
        self.calls: list[tuple[Stream, dt.datetime | None]] = []
        self.auth_fails_at = auth_fails_at

    connection_id = CONN
    supported_streams = frozenset(Stream)

    def _iter(self, stream: Stream, since: dt.datetime | None) -> Iterator[Any]:
        self.calls.append((stream, since))
        for n, record in enumerate(self.data[stream]):
            if self.auth_fails_at == (stream, n):
                raise AuthenticationError("token revoked", platform="custom", status_code=401)
            if since is None or record.updated_at >= since or record.created_at >= since:
                yield record

    def iter_products(self, since=None):
        return self._iter(Stream.PRODUCTS, since)

    def iter_customers(self, since=None):
        return self._iter(Stream.CUSTOMERS, since)

    def iter_orders(self, since=None):
        return self._iter(Stream.ORDERS, since)

    def iter_abandoned_carts(self, since=None):
        return self._iter(Stream.ABANDONED_CARTS, since)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
