"""BaseConnector: the work every connector shares, so platform modules only fetch and parse.

A platform connector subclasses :class:`BaseConnector`, declares its
``platform``, the streams it supports (and why the others are missing), and
implements one generator per stream that yields ``(payload, parser)`` pairs.
The base class then guarantees the :class:`~commerce_connectors.protocols.Connector`
contract for every platform alike:

* ``since`` is checked at call time (naive datetimes refused) and enforced on
  the records (``created_at`` or ``updated_at`` at/after it), whatever the
  platform's filter granularity;
* unsupported streams raise at call time, not on the first ``next()``;
* a payload the parser refuses, or one that makes it fail, reaches
  ``on_invalid`` as an :class:`~commerce_connectors.errors.InvalidRecordError`
  with the raw payload; the iteration goes on;
* a record is never yielded twice in one pass (page-number pagination can
  serve the same record twice while the store changes): a repeat is yielded
  again only if it is a newer version. The ids remembered for this are the
  most recent :attr:`BaseConnector.dedup_window` ones (20,000 by default),
  so a pass runs in constant memory whatever the store's size; a repeat
  further back than that (only a full re-walk produces one) is yielded again,
  which the sinks' idempotent upserts absorb.

Example:
    >>> class NoShop(BaseConnector):
    ...     platform = Platform.CUSTOM
    ...     streams = frozenset({Stream.CUSTOMERS})
    ...     unsupported = {Stream.ABANDONED_CARTS: "NoShop keeps no carts"}
    ...     @property
    ...     def connection_id(self) -> str:
    ...         return "custom:noshop"
    ...     def _fetch(self, stream, since):
    ...         return iter(())
    >>> list(NoShop().iter_customers())
    []
    >>> NoShop().iter_abandoned_carts()
    Traceback (most recent call last):
    ...
    UnsupportedStreamError: custom has no abandoned_carts stream: NoShop keeps no carts
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from ..errors import FieldProblem, InvalidRecordError, UnsupportedStreamError
from ..models import Cart, Customer, Order, Platform, Product, ensure_aware_utc
from ..protocols import InvalidRecordHandler, Stream

__all__ = ["BaseConnector", "Fetched", "raise_invalid"]

logger = logging.getLogger("commerce_connectors.connector")

R = TypeVar("R", Customer, Order, Product, Cart)
Record = Customer | Order | Product | Cart
#: What a stream generator yields: the raw payload and the function that parses it.
Fetched = tuple[Any, Callable[[Any], Record]]

_KIND = {
    Stream.CUSTOMERS: "customer",
    Stream.ORDERS: "order",
    Stream.PRODUCTS: "product",
    Stream.ABANDONED_CARTS: "cart",
}


def raise_invalid(error: InvalidRecordError) -> None:
    """The default ``on_invalid`` handler: stop the iteration with the error."""
    raise error


class BaseConnector:
    """Shared behaviour of all connectors; subclasses fetch pages and name parsers.

    Subclasses set the class attributes and implement :meth:`_fetch` (and
    :attr:`connection_id`); they call ``super().__init__(on_invalid=...)``.

    Args:
        on_invalid: called with each record that cannot be parsed (the raw
            payload is on the error); return to skip it, raise to stop. The
            default raises. The sync engine passes a dead-letter writer.
    """

    platform: ClassVar[Platform]
    #: Streams this platform offers.
    streams: ClassVar[frozenset[Stream]]
    #: For each stream the platform lacks: why, and what to use instead.
    unsupported: ClassVar[Mapping[Stream, str]] = {}
    #: Default re-read window for incremental syncs.
    default_overlap: ClassVar[_dt.timedelta] = _dt.timedelta(minutes=5)
    #: How many recently yielded ids one pass remembers to drop repeats (bounded memory).
    dedup_window: ClassVar[int] = 20_000

    def __init__(self, *, on_invalid: InvalidRecordHandler | None = None) -> None:
        self.on_invalid: InvalidRecordHandler = on_invalid or raise_invalid
        #: Records refused by parsers in this connector's lifetime, per stream.
        self.invalid_counts: dict[Stream, int] = {}
        self._closed = False

    # -- the Connector protocol ------------------------------------------

    @property
    def connection_id(self) -> str:
        """Stable id of the connection (platform + store id …)."""
        raise NotImplementedError

    @property
    def supported_streams(self) -> frozenset[Stream]:
        """The streams this platform offers."""
        return self.streams

    @property
    def recommended_overlap(self) -> _dt.timedelta:
        """How far before the last checkpoint incremental syncs should re-read."""
        return self.default_overlap

    def iter_customers(self, since: _dt.datetime | None = None) -> Iterator[Customer]:
        """Customers created or updated at/after ``since`` (``None``: all)."""
        return self._iterate(Stream.CUSTOMERS, since, Customer)

    def iter_orders(self, since: _dt.datetime | None = None) -> Iterator[Order]:
        """Orders of every status created or updated at/after ``since`` (``None``: all)."""
        return self._iterate(Stream.ORDERS, since, Order)

    def iter_products(self, since: _dt.datetime | None = None) -> Iterator[Product]:
        """Catalogue products created or updated at/after ``since`` (``None``: all)."""
        return self._iterate(Stream.PRODUCTS, since, Product)

    def iter_abandoned_carts(self, since: _dt.datetime | None = None) -> Iterator[Cart]:
        """Abandoned carts created or updated at/after ``since`` (``None``: all)."""
        return self._iterate(Stream.ABANDONED_CARTS, since, Cart)

    def close(self) -> None:
        """Release resources this connector created. Idempotent."""
        self._closed = True

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(connection_id={self.connection_id!r})"

    # -- for subclasses ---------------------------------------------------

    def _fetch(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Fetched]:
        """Yield ``(payload, parser)`` for every record of ``stream`` at/after ``since``.

        Push ``since`` down to the platform's filter; the base class re-checks
        it on the parsed records.
        """
        raise NotImplementedError

    # -- machinery --------------------------------------------------------

    def _iterate(self, stream: Stream, since: _dt.datetime | None, cls: type[R]) -> Iterator[R]:
        if stream not in self.streams:
            reason = self.unsupported.get(stream, f"{self.platform.value} does not offer it")
            raise UnsupportedStreamError(self.platform.value, stream.value, reason)
        if since is not None:
            since = ensure_aware_utc(since, field="since")
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        return self._records(stream, since, cls)

    def _records(self, stream: Stream, since: _dt.datetime | None, cls: type[R]) -> Iterator[R]:
        # external id -> updated_at of the version yielded in this pass, most recent last;
        # bounded so a pass over millions of records keeps constant memory.
        seen: OrderedDict[str, _dt.datetime] = OrderedDict()
        for payload, parser in self._fetch(stream, since):
            record = self._parse(stream, payload, parser)
            if record is None:
                continue
            if not isinstance(record, cls):
                raise TypeError(f"{stream.value} parser returned {type(record).__name__}")
            if since is not None and record.updated_at < since and record.created_at < since:
                continue
            previous = seen.get(record.external_id)
            if previous is not None and record.updated_at <= previous:
                continue
            seen[record.external_id] = record.updated_at
            seen.move_to_end(record.external_id)
            if len(seen) > self.dedup_window:
                seen.popitem(last=False)
            yield record

    def _parse(
        self, stream: Stream, payload: Any, parser: Callable[[Any], Record]
    ) -> Record | None:
        try:
            return parser(payload)
        except InvalidRecordError as refused:
            self._refuse(stream, refused)
        except Exception as exc:  # a parser crash on odd input must not end the sync
            record_id = payload.get("id") if isinstance(payload, Mapping) else None
            crashed = InvalidRecordError(
                platform=self.platform.value,
                kind=_KIND[stream],
                record_id=None if record_id is None else str(record_id),
                problems=[FieldProblem("$", f"parser failed: {type(exc).__name__}: {exc}")],
                payload=payload,
            )
            crashed.__cause__ = exc
            self._refuse(stream, crashed)
        return None

    def _refuse(self, stream: Stream, error: InvalidRecordError) -> None:
        self.invalid_counts[stream] = self.invalid_counts.get(stream, 0) + 1
        logger.warning("%s", error)
        self.on_invalid(error)


_C = TypeVar("_C", bound=BaseConnector)
