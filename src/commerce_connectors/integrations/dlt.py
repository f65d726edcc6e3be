"""A dlt source: load a shop's canonical records into a warehouse (the ``dlt`` extra).

:func:`commerce_source` gives one dlt resource per stream the connector supports
(``products``, ``customers``, ``orders``, ``abandoned_carts``), each with:

* the primary key ``(connection_id, external_id)``, so many shops share tables;
* an incremental cursor on ``updated_at`` (:func:`dlt.sources.incremental`): the
  next load asks the platform only for what was created or updated since the last
  one's newest ``updated_at`` minus the overlap (the connector's recommended one by
  default), keeps every record read in that window (also one updated again in the
  same second as the cursor, or one that became visible late), and the ``merge``
  write disposition replaces the rows of records that changed;
* money and quantities as exact decimals: every amount is a ``DECIMAL(38, 10)``
  column beside its ISO 4217 currency code (``total__amount``, ``total__currency``),
  never a float; a value such a column cannot hold exactly (more than ten decimals,
  more than 28 digits before the point) is never rounded: its record is refused as
  an :class:`~commerce_connectors.errors.InvalidRecordError`;
* order and cart lines (and product variants) as child tables
  (``orders__lines``, ``abandoned_carts__lines``, ``products__variants``).

The records are the canonical ones (as the connectors give them), before any CRM
rule or field map: a warehouse wants what the shop holds. The raw payloads are not
loaded; the ``extra`` fields and an order's or cart's buyer go in JSON columns.

A record the connector cannot parse, or whose numbers the columns cannot hold, raises
:class:`~commerce_connectors.errors.InvalidRecordError` (with its raw payload and every bad
field) unless you pass ``on_invalid=`` to handle it; the load then goes on without it.

Deletions are not loaded: the platforms' change feeds list records created or updated
since a time, not records deleted, so a record deleted in the shop keeps its last row
in the warehouse; a new pipeline (or a new dataset) loads only the records the shop
still has.

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

from ..errors import ConfigurationError, FieldProblem, InvalidRecordError
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


#: Digits a money or quantity column holds before the decimal point.
_WHOLE_DIGITS = MONEY_PRECISION - MONEY_SCALE
#: The record kind of each stream, as :class:`InvalidRecordError` names it.
_KIND: Mapping[Stream, str] = {
    Stream.PRODUCTS: "product",
    Stream.CUSTOMERS: "customer",
    Stream.ORDERS: "order",
    Stream.ABANDONED_CARTS: "cart",
}


def _unrepresentable(number: Decimal | int) -> str | None:
    """Why ``number`` does not fit a ``DECIMAL(38, 10)`` column exactly (``None``: it fits)."""
    value = Decimal(number)
    if not value.is_finite():
        return f"{value} is not a finite number"
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    decimals = max(0, -exponent)
    if decimals > MONEY_SCALE:
        # Trailing zeros are not lost precision: 1.500000000000 is 1.5.
        normal = value.normalize()
        normal_exp = normal.as_tuple().exponent
        assert isinstance(normal_exp, int)
        if -normal_exp > MONEY_SCALE:
            return f"{value} has more than {MONEY_SCALE} decimals; it would be rounded"
    whole = len(digits) + exponent
    if whole > _WHOLE_DIGITS:
        return f"{value} has more than {_WHOLE_DIGITS} digits before the decimal point"
    return None


class _Row:
    """Builds a record's row, collecting every value a column cannot hold exactly."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def number(self, value: Decimal | int, path: str) -> Decimal | int:
        reason = _unrepresentable(value)
        if reason is not None:
            self.problems.append(FieldProblem(path, reason, value))
        return value

    def money(self, money: Money | None, path: str) -> dict[str, Any]:
        if money is None:  # flat columns, also when absent: a money column holds nothing else
            return {"amount": None, "currency": None}
        return {"amount": self.number(money.amount, f"{path}.amount"), "currency": money.currency}

    def plain(self, value: Any, path: str) -> Any:
        if isinstance(value, Money):
            return self.money(value, path)
        if isinstance(value, enum.Enum):  # before str: the library's enums are str enums
            return value.value
        if attrs.has(type(value)):
            cls = type(value)
            out: dict[str, Any] = {}
            for f in attrs.fields(cls):
                if f.name in _DROPPED:
                    continue
                item = getattr(value, f.name)
                where = f"{path}.{f.name}"
                if f.name in _money_fields(cls):
                    money = self.money(item, where)
                    out[f"{f.name}__amount"] = money["amount"]
                    out[f"{f.name}__currency"] = money["currency"]
                elif f.name in _decimal_fields(cls) and item is not None:
                    out[f.name] = self.number(item, where)
                else:
                    out[f.name] = self.plain(item, where)
            return out
        if isinstance(value, (list, tuple)):
            return [self.plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            return {str(k): self.plain(v, f"{path}.{k}") for k, v in value.items()}
        return value


def record_row(record: Any) -> dict[str, Any]:
    """The row a canonical record is loaded as (money as ``<field>__amount``, ``__currency``).

    Raises:
        InvalidRecordError: an amount or quantity a ``DECIMAL(38, 10)`` column cannot hold
            exactly (more than ten decimals, or too large); the error keeps the raw payload
            and names every such field (``$.lines[0].quantity``).

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
    builder = _Row()
    row: dict[str, Any] = builder.plain(record, "$")
    if builder.problems:
        kind = next((k for s, k in _KIND.items() if isinstance(record, _RECORD[s])), "record")
        platform = getattr(record, "platform", "")
        raise InvalidRecordError(
            platform=str(platform.value if isinstance(platform, enum.Enum) else platform),
            kind=kind,
            record_id=getattr(record, "external_id", None),
            problems=builder.problems,
            payload=getattr(record, "raw", None),
        )
    return row


_MONEY_FIELDS: dict[type[Any], frozenset[str]] = {}


def _money_fields(cls: type[Any]) -> frozenset[str]:
    """The fields of ``cls`` holding a Money (or Money | None)."""
    if cls not in _MONEY_FIELDS:
        attrs.resolve_types(cls)
        names = frozenset(
            f.name for f in attrs.fields(cls) if f.type is Money or Money in typing.get_args(f.type)
        )
        _MONEY_FIELDS[cls] = names
    return _MONEY_FIELDS[cls]


_DECIMAL_FIELDS: dict[type[Any], frozenset[str]] = {}


def _decimal_fields(cls: type[Any]) -> frozenset[str]:
    """The fields of ``cls`` holding whole units or a decimal (a line's quantity)."""
    if cls not in _DECIMAL_FIELDS:
        attrs.resolve_types(cls)
        names = frozenset(
            f.name for f in attrs.fields(cls) if set(typing.get_args(f.type)) >= {int, Decimal}
        )
        _DECIMAL_FIELDS[cls] = names
    return _DECIMAL_FIELDS[cls]


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
    on_invalid: Callable[[InvalidRecordError], None] | None,
) -> Any:
    cls = _RECORD[stream]
    read = _reader(connector, stream)
    lag = overlap.total_seconds()

    def records(
        updated_at: Any = dlt.sources.incremental(  # noqa: B008 - dlt's declared idiom
            "updated_at",
            initial_value=initial_since,
            # dlt itself re-reads the overlap: its last_value is the newest updated_at
            # minus the lag, and rows from there on are kept (without the lag dlt would
            # drop every row older than the newest one it saw).
            lag=lag,
            # No deduplication at the cursor's value by dlt: a record updated again in
            # the same second as the cursor must be loaded; the merge keeps one row.
            primary_key=(),
        ),
    ) -> Iterator[dict[str, Any]]:
        for record in read(since=_as_utc(updated_at.last_value)):
            try:
                row = record_row(record)
            except InvalidRecordError as exc:
                if on_invalid is None:
                    raise
                on_invalid(exc)
                continue
            yield row

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
        on_invalid: receives each record the connector cannot parse or whose amounts
            or quantities cannot be loaded exactly (default: the
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
    resources = [_resource(connector, s, initial_since, window, on_invalid) for s in wanted]

    @dlt.source(name=source_name, section=source_name, max_table_nesting=1)
    def shop() -> Any:
        return resources

    result: DltSource = shop()
    return result
