"""The interfaces the pieces meet at: :class:`Connector` (and later Sink, StateStore).

They are :class:`typing.Protocol` classes: implement the methods and you are a
connector, no inheritance needed (though
:class:`commerce_connectors.platforms.base.BaseConnector` does the shared
work for you). ``commerce_connectors.testing.check_connector`` verifies an
implementation against a simulator.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Protocol, runtime_checkable

from .errors import InvalidRecordError
from .models import Cart, Customer, Order, Platform, Product

__all__ = ["Connector", "InvalidRecordHandler", "Stream"]


class Stream(str, enum.Enum):
    """The record streams a connector may offer."""

    CUSTOMERS = "customers"
    ORDERS = "orders"
    PRODUCTS = "products"
    ABANDONED_CARTS = "abandoned_carts"


#: Receives each record the connector could not parse. Return to skip it and go
#: on; raise to stop the iteration. The default handler re-raises.
InvalidRecordHandler = Callable[[InvalidRecordError], None]


@runtime_checkable
class Connector(Protocol):
    """Reads one store (one connection) of one platform as canonical records.

    ``since`` means *created or updated at or after* this aware datetime;
    ``None`` means from the beginning of the store. Naive datetimes raise
    :class:`~commerce_connectors.errors.NaiveDatetimeError` at call time.
    A stream the platform does not have raises
    :class:`~commerce_connectors.errors.UnsupportedStreamError` at call time,
    saying why and what to use instead.

    Example:
        >>> def newest_order(conn: Connector, since):  # doctest: +SKIP
        ...     with conn:
        ...         return max(conn.iter_orders(since=since), key=lambda o: o.updated_at)
    """

    @property
    def platform(self) -> Platform:
        """The platform this connector reads."""
        ...

    @property
    def connection_id(self) -> str:
        """Stable id of the connection: platform + store id (+ Square location)."""
        ...

    @property
    def supported_streams(self) -> frozenset[Stream]:
        """The streams this platform offers."""
        ...

    @property
    def recommended_overlap(self) -> _dt.timedelta:
        """How far before the last checkpoint an incremental sync should re-read.

        Covers late writes and eventual consistency (e.g. Square offline
        payments arriving hours late with their original timestamps).
        """
        ...

    on_invalid: InvalidRecordHandler

    def iter_customers(self, since: _dt.datetime | None = None) -> Iterator[Customer]:
        """Customers created or updated at/after ``since``."""
        ...

    def iter_orders(self, since: _dt.datetime | None = None) -> Iterator[Order]:
        """Orders of every status created or updated at/after ``since``."""
        ...

    def iter_products(self, since: _dt.datetime | None = None) -> Iterator[Product]:
        """Catalogue products created or updated at/after ``since``."""
        ...

    def iter_abandoned_carts(self, since: _dt.datetime | None = None) -> Iterator[Cart]:
        """Abandoned carts / checkouts created or updated at/after ``since``."""
        ...

    def close(self) -> None:
        """Release what the connector created (its HTTP client, not one you passed in)."""
        ...

    def __enter__(self) -> Connector: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
