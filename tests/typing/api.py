"""Never executed: mypy --strict checks that the public API types as users will write it.

If a public signature changes in a way that breaks this file, the change breaks
users' type-checked code too; update the CHANGELOG.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from commerce_connectors import (
    Cart,
    Customer,
    InvalidRecordError,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Platform,
    Product,
)
from commerce_connectors.clock import Clock, FakeClock, SystemClock
from commerce_connectors.protocols import Connector, Stream
from commerce_connectors.serialization import from_data, to_data
from commerce_connectors.testing.conformance import CONNECTOR_CHECKS, check_connector
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopHarness

UTC = dt.timezone.utc


def money_api() -> None:
    price: Money = Money("19.99", "USD")
    units: int = price.to_minor_units()
    back: Money = Money.from_minor_units(units, "USD")
    total: Money = price + back
    amount: Decimal = total.amount
    code: str = total.currency
    _ = (amount, code, price < back)


def records_api(order: Order) -> None:
    status: OrderStatus = order.status
    lines: tuple[LineItem, ...] = order.lines
    buyer: Customer | None = order.customer
    when: dt.datetime = order.updated_at
    platform: Platform = order.platform
    _ = (status, lines, buyer, when, platform)
    data = to_data(order)
    again: Order = from_data(Order, data)
    _ = again


def connector_api(conn: Connector) -> None:
    since = dt.datetime(2024, 10, 4, tzinfo=UTC)
    with conn:
        orders: list[Order] = list(conn.iter_orders(since=since))
        customers: list[Customer] = list(conn.iter_customers())
        products: list[Product] = list(conn.iter_products(since=None))
        carts: list[Cart] = list(conn.iter_abandoned_carts())
        supported: bool = Stream.ORDERS in conn.supported_streams
        stores: list[str | None] = [o.store_name for o in orders] + [c.store_name for c in carts]
        _ = (orders, customers, products, carts, supported, stores)

    refused: list[InvalidRecordError] = []
    conn.on_invalid = refused.append


def toyshop_api() -> None:
    clock: Clock = FakeClock()
    real: Clock = SystemClock()
    conn: Connector = ToyShopConnector(token="t", clock=clock)
    connector_api(conn)
    check_connector(ToyShopHarness)
    for check in CONNECTOR_CHECKS:
        check(ToyShopHarness())
    _ = real
