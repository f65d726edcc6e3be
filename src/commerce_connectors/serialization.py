"""Lossless conversion between canonical records and plain JSON-able data.

One cattrs converter, configured once: ``Decimal`` becomes its exact string,
datetimes become ISO 8601 strings with their UTC offset, enums their value,
tuples lists. ``to_data`` and ``from_data`` are inverse: for every record
``from_data(type(r), to_data(r)) == r``, and the raw payload survives too.

Example:
    >>> import datetime as dt
    >>> from commerce_connectors.models import Money, Product
    >>> p = Product(platform="shopify", connection_id="shopify:acme", external_id="1",
    ...             created_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    ...             updated_at=dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc),
    ...             price=Money("9.90", "EUR"))
    >>> data = to_data(p)
    >>> data["price"]
    {'amount': '9.90', 'currency': 'EUR'}
    >>> from_data(Product, data) == p
    True
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from .errors import ConfigurationError
from .models import (
    Address,
    Cart,
    Customer,
    LineItem,
    Money,
    Order,
    Payment,
    Product,
    ProductVariant,
    ensure_aware_utc,
)

__all__ = ["converter", "dumps", "from_data", "loads", "to_data"]

T = TypeVar("T")


def _structure_datetime(value: Any, _: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return ensure_aware_utc(value)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    return ensure_aware_utc(_dt.datetime.fromisoformat(value.replace("Z", "+00:00")))


def _structure_decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise TypeError("decimals are serialised as strings; a float would lose precision")
    return Decimal(str(value)) if isinstance(value, int) else Decimal(value)


def _structure_quantity(value: Any, _: Any) -> int | Decimal:
    if isinstance(value, (bool, float)):
        raise TypeError("quantities are serialised as int or decimal string")
    if isinstance(value, int):
        return value
    return Decimal(value)


def _passthrough(value: Any, _: Any) -> Any:
    return value


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(_dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(_dt.datetime, _structure_datetime)
    conv.register_structure_hook(int | Decimal, _structure_quantity)
    conv.register_unstructure_hook(int | Decimal, lambda q: q if isinstance(q, int) else str(q))
    # ``raw`` and ``extra`` hold vendor JSON as received: keep it verbatim.
    conv.register_structure_hook(Any, _passthrough)
    conv.register_structure_hook_func(
        lambda t: getattr(t, "__origin__", None) is Mapping, lambda v, _: dict(v)
    )
    for cls in (Money, Address, LineItem, ProductVariant, Customer, Order, Product, Cart, Payment):
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv))
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv))
    return conv


#: The library's converter; extend it with ``register_*_hook`` for your own types.
converter: cattrs.Converter = _build_converter()


def to_data(record: Any) -> Any:
    """Turn a record (or a list/tuple of records) into plain JSON-able data."""
    return converter.unstructure(record)


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild a record of type ``cls`` from :func:`to_data` output.

    Raises:
        ConfigurationError: the data does not describe a valid ``cls``; the
            message lists every bad field with its path.
    """
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems = "; ".join(cattrs.transform_error(exc))
        raise ConfigurationError(f"cannot build {cls.__name__}: {problems}") from exc


def dumps(record: Any) -> str:
    """Serialise a record to a JSON string (keys sorted, UTF-8 kept)."""
    return json.dumps(to_data(record), sort_keys=True, ensure_ascii=False)


def loads(cls: type[T], text: str) -> T:
    """Parse a JSON string made by :func:`dumps` back into a record."""
    return from_data(cls, json.loads(text))
