"""A dlt source: load a shop's canonical records into a warehouse (the ``dlt`` extra).

:func:`commerce_source` gives one dlt resource per stream the connector supports
(``products``, ``customers``, ``orders``, ``abandoned_carts``), each with:

* the primary key ``(connection_id, external_id)``, so many shops share tables;
* an incremental cursor on ``updated_at`` (:func:`dlt.sources.incremental`): the
  next load asks the platform only for what was created or updated since the last
  one (minus the connector's recommended overlap), and the ``merge`` write
  disposition replaces the rows of records that changed;
* money as exact decimals: every amount is a ``DECIMAL(38, 10)`` column beside its
  ISO 4217 currency code (``total__amount``, ``total__currency``), never a float;
* order and cart lines (and product variants) as child tables
  (``orders__lines``, ``abandoned_carts__lines``, ``products__variants``).

The records are the canonical ones (as the connectors give them), before any CRM
rule or field map: a warehouse wants what the shop holds. The raw payloads are not
loaded; the ``extra`` fields and an order's or cart's buyer go in JSON columns.

A record the connector cannot parse raises :class:`~commerce_connectors.errors.InvalidRecordError`
(with its payload and every bad field) unless you pass ``on_invalid=`` to handle it.

Example (a fragment: a real shop needs its token):

.. code-block:: python

    import dlt
    from commerce_connectors import ShopifyConnector
    from commerce_connectors.integrations.dlt import commerce_source

    shop = ShopifyConnector(shop="acme.myshopify.com", access_token=token)
    pipeline = dlt.pipeline("shops", destination="duckdb", dataset_name="commerce")
    pipeline.run(commerce_source(shop))
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs
import dlt
from dlt.extract.source import DltSource

from ..errors import ConfigurationError, InvalidRecordError
from ..models import Address, Cart, Customer, LineItem, Money, Order, Product, ProductVariant
from ..protocols import STREAM_ORDER, Connector, Stream

__all__ = ["MONEY_PRECISION", "MONEY_SCALE", "commerce_source", "record_row"]

#: Digits of every money column, and of them after the decimal point. Amounts are
#: bounded to 28 significant digits by the parsers; ten decimals hold every currency's
#: minor unit (at most 4 in ISO 4217) and the finer prices some platforms give.
MONEY_PRECISION = 38
MONEY_SCALE = 10

_RECORD: Mapping[Stream, type[Any]] = {
    Stream.PRODUCTS: Product,
    Stream.CUSTOMERS: Customer,
    Stream.ORDERS: Order,
    Stream.ABANDONED_CARTS: Cart,
}
#: The attrs classes that become child tables, by the field holding them.
_CHILDREN: Mapping[type[Any], Mapping[str, type[Any]]] = {
    Order: {"lines": LineItem},
    Cart: {"lines": LineItem},
    Product: {"variants": ProductVariant},
    Customer: {"addresses": Address},
}
#: Fields kept whole as JSON: vendor extras, and the buyer embedded in an order or cart
#: (the buyer's customer record has its own table).
_JSON_FIELDS = ("extra", "customer", "default_address")
_DROPPED = ("raw",)


def _money(money: Money) -> dict[str, Any]:
    amount = money.amount
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > MONEY_SCALE:
        raise ConfigurationError(
            f"{money.currency} amount {amount} has more than {MONEY_SCALE} decimals; "
            "it cannot be loaded exactly"
        )
    return {"amount": amount, "currency": money.currency}


def _plain(value: Any) -> Any:
    if isinstance(value, Money):
        return _money(value)
    if isinstance(value, enum.Enum):  # before str: the library's enums are str enums
        return value.value
    if attrs.has(type(value)):
        out: dict[str, Any] = {}
        for f in attrs.fields(type(value)):
            item = getattr(value, f.name)
            if f.name in _DROPPED:
                continue
            if isinstance(item, Money) or (item is None and f.name in _money_fields(type(value))):
                # Flat columns, also when absent: a money column never holds anything else.
                money = _money(item) if item is not None else {"amount": None, "currency": None}
                out[f"{f.name}__amount"] = money["amount"]
                out[f"{f.name}__currency"] = money["currency"]
            else:
                out[f.name] = _plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def record_row(record: Any) -> dict[str, Any]:
    """The row a canonical record is loaded as (money as ``<field>__amount``, ``__currency``).

    Example:
        >>> import datetime as dt
        >>> from decimal import Decimal
        >>> from commerce_connectors import Money, Product
        >>> at = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> row = record_row(Product(platform="shopify", connection_id="shopify:a",
        ...                          external_id="1", created_at=at, updated_at=at,
        ...                          price=Money(Decimal("19.90"), "EUR")))
        >>> row["platform"], row["price__amount"], row["price__currency"]
        ('shopify', Decimal('19.90'), 'EUR')
    """
    row: dict[str, Any] = _plain(record)
    return row


_MONEY_FIELDS: dict[type[Any], frozenset[str]] = {}


def _money_fields(cls: type[Any]) -> frozenset[str]:
    """The fields of ``cls`` holding a Money (or Money | None)."""
    if cls not in _MONEY_FIELDS:
        attrs.resolve_types(cls)
        names = frozenset(f.name for f in attrs.fields(cls) if Money in typing.get_args(f.type))
        _MONEY_FIELDS[cls] = names
    return _MONEY_FIELDS[cls]


def _decimal_hint() -> dict[str, Any]:
    return {"data_type": "decimal", "precision": MONEY_PRECISION, "scale": MONEY_SCALE}


#: Column types of scalar fields, by the field's type (``X | None`` read as ``X``).
_SCALAR_TYPES: Mapping[Any, str] = {
    str: "text",
    bool: "bool",
    int: "bigint",
    _dt.datetime: "timestamp",
}


def _column_hints(cls: type[Any]) -> dict[str, Any]:
    """Every column of ``cls``'s table with its type, so a column empty in one load still
    exists, and money is never inferred as a float."""
    attrs.resolve_types(cls)
    hints: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name in _DROPPED:
            continue
        kinds = {t for t in (typing.get_args(field.type) or (field.type,)) if t is not type(None)}
        if field.type is Any or field.name in _JSON_FIELDS:
            hints[field.name] = {"data_type": "json"}
        elif kinds == {Money}:
            hints[f"{field.name}__amount"] = _decimal_hint()
            hints[f"{field.name}__currency"] = {"data_type": "text"}
        elif kinds == {int, Decimal}:  # a line's quantity: whole units or a weight
            hints[field.name] = _decimal_hint()
        elif len(kinds) == 1 and isinstance(next(iter(kinds)), type):
            kind = next(iter(kinds))
            if issubclass(kind, enum.Enum):
                hints[field.name] = {"data_type": "text"}
            elif kind in _SCALAR_TYPES:
                hints[field.name] = {"data_type": _SCALAR_TYPES[kind]}
        # Tuples become child tables (lines, variants, tags), typed by their own hints.
    # Named in full: dlt's nested-table hints need the name inside each column too.
    return {name: {"name": name, **hint} for name, hint in hints.items()}


def _reader(connector: Connector, stream: Stream) -> Callable[..., Iterator[Any]]:
    return {
        Stream.PRODUCTS: connector.iter_products,
        Stream.CUSTOMERS: connector.iter_customers,
        Stream.ORDERS: connector.iter_orders,
        Stream.ABANDONED_CARTS: connector.iter_abandoned_carts,
    }[stream]


def _as_utc(value: Any) -> _dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, _dt.datetime) or value.tzinfo is None:
        raise ConfigurationError(f"the updated_at cursor must be an aware datetime, got {value!r}")
    # dlt may hand back its own datetime subclass; the connectors want a plain one.
    return _dt.datetime.fromtimestamp(value.timestamp(), _dt.timezone.utc)


def _resource(
    connector: Connector,
    stream: Stream,
    initial_since: _dt.datetime | None,
    overlap: _dt.timedelta,
) -> Any:
    cls = _RECORD[stream]
    read = _reader(connector, stream)

    def records(
        updated_at: Any = dlt.sources.incremental(  # noqa: B008 - dlt's declared idiom
            "updated_at", initial_value=initial_since
        ),
    ) -> Iterator[dict[str, Any]]:
        last = _as_utc(updated_at.last_value)
        # Re-read the overlap: records written during the previous read with an earlier
        # updated_at are found; the merge keeps one row per record.
        since = None if last is None else last - overlap
        for record in read(since=since):
            yield record_row(record)

    return dlt.resource(
        records,
        name=stream.value,
        primary_key=("connection_id", "external_id"),
        write_disposition="merge",
        columns=_column_hints(cls),
        nested_hints={
            field: {"columns": _column_hints(child)}
            for field, child in _CHILDREN.get(cls, {}).items()
        },
    )


def _source_name(connection_id: str) -> str:
    return "commerce_" + re.sub(r"[^a-z0-9]+", "_", connection_id.lower()).strip("_")


def commerce_source(
    connector: Connector,
    *,
    streams: Iterable[Stream | str] | None = None,
    initial_since: _dt.datetime | None = None,
    overlap: _dt.timedelta | None = None,
    on_invalid: Callable[[InvalidRecordError], None] | None = None,
    name: str | None = None,
) -> DltSource:
    """A dlt source reading ``connector``'s streams (see the module docstring).

    Args:
        connector: any connector (its streams the platform has are loaded).
        streams: only these streams (default: every supported one).
        initial_since: the first load reads from this aware datetime instead of
            the beginning of the store.
        overlap: how far before the last load's newest ``updated_at`` the next load
            reads again (default: the connector's recommended overlap).
        on_invalid: receives each record the connector cannot parse (default: the
            :class:`InvalidRecordError` is raised and the load stops).
        name: the source's name, which keys its incremental state in the pipeline
            (default ``commerce_<connection id>``: several shops in one pipeline
            keep their cursors apart while sharing tables).

    Returns:
        The dlt source; pass it to ``pipeline.run``.

    Raises:
        ConfigurationError: a naive ``initial_since``, a negative ``overlap``, or a
            stream the platform does not have.
    """
    if initial_since is not None and initial_since.tzinfo is None:
        raise ConfigurationError("initial_since must be timezone-aware")
    window = overlap if overlap is not None else connector.recommended_overlap
    if window < _dt.timedelta(0):
        raise ConfigurationError("overlap must not be negative")
    supported = [s for s in STREAM_ORDER if s in connector.supported_streams]
    wanted = supported if streams is None else [Stream(s) for s in streams]
    missing = [s.value for s in wanted if s not in supported]
    if missing:
        raise ConfigurationError(
            f"{connector.platform} has no {', '.join(missing)} stream; "
            f"it has {', '.join(s.value for s in supported)}"
        )
    if on_invalid is not None:
        connector.on_invalid = on_invalid
    source_name = name or _source_name(connector.connection_id)
    resources = [_resource(connector, s, initial_since, window) for s in wanted]

    @dlt.source(name=source_name, section=source_name, max_table_nesting=1)
    def shop() -> Any:
        return resources

    result: DltSource = shop()
    return result
