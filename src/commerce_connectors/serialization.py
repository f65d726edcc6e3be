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
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs
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
    OrderStatus,
    Payment,
    Platform,
    Product,
    ProductVariant,
    ensure_aware_utc,
)

__all__ = ["converter", "dumps", "from_data", "loads", "plain_data", "to_data", "unstructurer"]

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


# -- precomputed unstructuring ------------------------------------------------------------
#
# ``converter.unstructure`` dispatches on every value (a union such as ``str | None`` is
# looked up at run time), which made it the sink's largest cost. The functions below are
# generated once per record class from its attrs fields and give exactly what the
# converter gives (a property test holds them to it); values of ``Any`` fields that are
# not plain JSON still go through the converter, so hooks registered on it apply.

_PLAIN = frozenset((str, int, float, bool, type(None)))
_UNSTRUCTURED = frozenset(
    (Money, Address, LineItem, ProductVariant, Customer, Order, Product, Cart, Payment)
)
_Handler = Callable[[Any], Any]


def _hook(conv: cattrs.Converter, cls: type) -> Any:
    """The converter's unstructuring hook for ``cls`` (``None``: cattrs before 24.1 cannot say)."""
    getter = getattr(conv, "get_unstructure_hook", None)
    return None if getter is None else getter(cls)


#: The converter's own hook per record class; another registered later takes over.
_BUILT_HOOKS: dict[type, Any] = {cls: _hook(converter, cls) for cls in _UNSTRUCTURED}


def plain_data(value: Any) -> Any:
    """``value`` (a field of type ``Any``: vendor JSON) unstructured as the converter does.

    Example:
        >>> plain_data({"a": (1, 2), "b": Decimal("1.5")})
        {'a': [1, 2], 'b': '1.5'}
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        if all(type(k) is str for k in value):
            # Scalars are kept in place: one call per container, not per value.
            return {k: v if type(v) in _PLAIN else plain_data(v) for k, v in value.items()}
    elif kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else plain_data(v) for v in value]
    elif (
        kind in _UNSTRUCTURED
        and (hook := _hook(converter, kind)) is not None
        and hook is _BUILT_HOOKS[kind]
    ):
        # A record of the model inside vendor JSON (Square's payments in an order's
        # ``extra``): its precomputed function, not the converter's dispatch per value,
        # as long as the converter still has the hook it was built with for that class
        # (an older cattrs that cannot tell keeps the converter's path).
        return unstructurer(kind)(value)
    return converter.unstructure(value)


def _iso(value: _dt.datetime) -> str:
    return value.isoformat()


def _quantity(value: int | Decimal) -> int | str:
    return value if isinstance(value, int) else str(value)


#: The item handler of each tuple handler (and back), for the generated code's loops.
_EACH: dict[_Handler, _Handler] = {}
_EACH_BY_ITEM: dict[_Handler, _Handler] = {}

#: The handler each :func:`_optional` wraps, for the generated code to test ``None`` itself.
_INNER: dict[_Handler, _Handler] = {}


def _mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A ``Mapping[str, Any]`` field (vendor JSON such as ``extra``) as a plain dict."""
    return {k: plain_data(v) for k, v in mapping.items()}


def _each(item: _Handler) -> _Handler:
    """The handler of a tuple whose items ``item`` handles (one per item handler)."""
    found = _EACH_BY_ITEM.get(item)
    if found is not None:
        return found

    def each(values: Any) -> list[Any]:
        return [item(v) for v in values]

    _EACH[each] = item
    _EACH_BY_ITEM[item] = each
    return each


def _optional(handler: _Handler) -> _Handler:
    def maybe(value: Any) -> Any:
        return None if value is None else handler(value)

    _INNER[maybe] = handler
    return maybe


def _handler(kind: Any, *, raw: bool) -> _Handler | None:
    """How to unstructure a field of type ``kind`` (``None``: as it is)."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in args if a is not type(None)]
        if set(rest) == {int, Decimal}:
            return _quantity
        if len(rest) == 1 and len(args) == 2:
            inner = _handler(rest[0], raw=raw)
            return None if inner is None else _optional(inner)
        raise TypeError(f"no precomputed unstructuring for {kind}")
    if kind in (str, int, bool, Platform, OrderStatus):
        return None
    if kind is _dt.datetime:
        return _iso
    if kind is Decimal:
        return str
    if kind is Any:
        return plain_data
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _handler(args[0], raw=raw)
        if item is None:
            return list
        return _each(item)
    if origin is Mapping and args and args[0] is str:
        return _mapping
    if attrs.has(kind):
        return unstructurer(kind, raw=raw)
    raise TypeError(f"no precomputed unstructuring for {kind}")


_GENERATED: dict[tuple[type, bool], Callable[[Any], dict[str, Any]]] = {}

#: How the generated code writes a field of a flat class (:func:`_flat_class`).
_FLAT_HANDLERS: dict[Any, str] = {str: "{0}", _dt.datetime: "{0}.isoformat()", Decimal: "str({0})"}


def _flat_class(kind: Any) -> type | None:
    """The model class ``kind`` (or ``kind | None``) names if its fields are all flat.

    Flat: text, Decimals or datetimes, never ``None``, as :data:`_FLAT_HANDLERS` writes
    them (Money: an amount and a currency). ``None`` for anything else.
    """
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        if len(args) != 1 or len(typing.get_args(kind)) != 2:
            return None
        kind = args[0]
    if kind not in _UNSTRUCTURED or not attrs.has(kind):
        return None
    hints = typing.get_type_hints(kind)
    if all(hints[f.name] in _FLAT_HANDLERS for f in attrs.fields(kind)):
        flat: type = kind
        return flat
    return None


def _inline_dict(cls: type, var: str, first: str | None = None) -> str:
    """The generated expression of a flat class's dict, its instance in ``var``.

    ``first`` (an assignment expression binding ``var``) is read in place of ``var``
    for the first field, so the instance is read once, as a call would read it.
    """
    hints = typing.get_type_hints(cls)
    parts = []
    for n, f in enumerate(attrs.fields(cls)):
        holder = first if n == 0 and first is not None else var
        parts.append(f"{f.name!r}: " + _FLAT_HANDLERS[hints[f.name]].format(f"{holder}.{f.name}"))
    return "{" + ", ".join(parts) + "}"


def unstructurer(cls: type, *, raw: bool = True) -> Callable[[Any], dict[str, Any]]:
    """A function turning a ``cls`` record into what ``converter.unstructure`` gives.

    ``cls`` is one of the model's record classes. With ``raw=False`` the ``raw``
    payloads (of the record and of records inside it) are left out: what a sink stores.

    Example:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        >>> p = Product("shopify", "shopify:acme", "1", t, t, price=Money("9.90", "EUR"))
        >>> unstructurer(Product)(p) == to_data(p)
        True
    """
    found = _GENERATED.get((cls, raw))
    if found is not None:
        return found
    if cls not in _UNSTRUCTURED:
        raise TypeError(f"{cls.__name__} is not a record class of the model")
    hints = typing.get_type_hints(cls)
    handlers: dict[str, _Handler] = {}
    lines = []
    for field in attrs.fields(cls):
        if field.name == "raw" and not raw:
            continue
        handler = _handler(hints[field.name], raw=raw)
        name = field.name
        flat = _flat_class(hints[field.name])
        if handler is None:
            lines.append(f"{name!r}: record.{name},")
        elif flat is not None:
            # A small record of text, Decimals and datetimes (Money): its dict written
            # out here, one call fewer per value.
            if flat is hints[field.name]:  # required: read as the record's function reads it
                inline = _inline_dict(flat, f"v_{name}", first=f"(v_{name} := record.{name})")
                lines.append(f"{name!r}: {inline},")
            else:
                inline = _inline_dict(flat, f"v_{name}")
                lines.append(
                    f"{name!r}: None if (v_{name} := record.{name}) is None else {inline},"
                )
        elif handler is _iso:
            lines.append(f"{name!r}: record.{name}.isoformat(),")
        elif handler in _INNER and _INNER[handler] is _iso:
            lines.append(
                f"{name!r}: None if (v_{name} := record.{name}) is None else v_{name}.isoformat(),"
            )
        elif handler is _mapping:
            # Scalars kept in place, as plain_data keeps them: one call per container.
            lines.append(
                f"{name!r}: {{k: v if type(v) in PLAIN else plain(v)"
                f" for k, v in record.{name}.items()}},"
            )
        elif handler is _quantity:
            value = f"v_{name} if isinstance(v_{name} := record.{name}, int) else str(v_{name})"
            lines.append(f"{name!r}: {value},")
        elif handler in _EACH:
            # A tuple of records: the list built here, one call fewer per tuple.
            handlers[f"h_{name}"] = _EACH[handler]
            lines.append(f"{name!r}: [h_{name}(v) for v in record.{name}],")
        elif handler in _INNER:
            # ``X | None``: the test written out, one call fewer per field.
            handlers[f"h_{name}"] = _INNER[handler]
            lines.append(
                f"{name!r}: None if (v_{name} := record.{name}) is None else h_{name}(v_{name}),"
            )
        else:
            handlers[f"h_{name}"] = handler
            lines.append(f"{name!r}: h_{name}(record.{name}),")
    body = "\n        ".join(lines)
    source = f"def unstructure(record):\n    return {{\n        {body}\n    }}\n"
    namespace: dict[str, Any] = {"plain": plain_data, "PLAIN": _PLAIN, **handlers}
    exec(compile(source, f"<unstructure {cls.__name__}>", "exec"), namespace)  # noqa: S102
    function: Callable[[Any], dict[str, Any]] = namespace["unstructure"]
    _GENERATED[cls, raw] = function
    return function


def dumps(record: Any) -> str:
    """Serialise a record to a JSON string (keys sorted, UTF-8 kept)."""
    return json.dumps(to_data(record), sort_keys=True, ensure_ascii=False)


def loads(cls: type[T], text: str) -> T:
    """Parse a JSON string made by :func:`dumps` back into a record."""
    return from_data(cls, json.loads(text))
