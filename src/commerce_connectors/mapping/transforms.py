"""Named value transforms for field maps, so maps can be written as plain data.

Each transform receives a value that is not ``None`` (``None`` passes through
untouched) and returns the CRM's representation, or raises to report the
field as bad. The common exact types (``str``, ``int``, ``tuple``, ``list``)
are recognised by their class first, before the abstract-class checks that
decide every other case, because maps run once per field of every record.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from ..errors import ConfigurationError
from ..models import Money
from ..rules.email import normalize_email

__all__ = ["TRANSFORMS", "Transform", "resolve_transform"]

Transform = Callable[[Any], Any]


def _money(value: Any) -> Money:
    if not isinstance(value, Money):
        raise TypeError(f"expected Money, got {type(value).__name__}")
    return value


def minor_units(value: Any) -> int:
    """Money as an integer count of minor units (ActiveCampaign's cents)."""
    return _money(value).to_minor_units()


def amount(value: Any) -> str:
    """Money's amount as a decimal string, exactly."""
    return str(_money(value).amount)


def currency(value: Any) -> str:
    """Money's ISO 4217 code."""
    return _money(value).currency


def iso_datetime(value: Any) -> str:
    """An aware datetime as ISO 8601 with its offset (``2024-10-04T12:00:00+00:00``)."""
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.isoformat()


def _sequence(value: Any) -> bool:
    """A sequence that is not a string (tuples and lists known without an ABC check)."""
    cls = type(value)
    if cls is tuple or cls is list:
        return True
    return not isinstance(value, str) and isinstance(value, Sequence)


def join(value: Any) -> str | None:
    """A sequence of strings joined with ``", "``; empty gives ``None``."""
    if not _sequence(value):
        raise TypeError(f"expected a sequence of strings, got {type(value).__name__}")
    parts = [str(v) for v in value if v is not None and str(v)]
    return ", ".join(parts) or None


def as_list(value: Any) -> list[Any]:
    """A sequence as a JSON list."""
    if not _sequence(value):
        raise TypeError(f"expected a sequence, got {type(value).__name__}")
    return list(value)


def first(value: Any) -> Any:
    """The first element of a sequence, or ``None`` when it is empty."""
    if not _sequence(value):
        raise TypeError(f"expected a sequence, got {type(value).__name__}")
    return value[0] if value else None


def flag(value: Any) -> str:
    """A boolean as ActiveCampaign's ``"1"`` / ``"0"``."""
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return "1" if value else "0"


def quantity(value: Any) -> int | str:
    """A quantity: integers stay integers, fractional quantities become decimal strings."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected an int or Decimal quantity, got {type(value).__name__}")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def enum_value(value: Any) -> Any:
    """An enum member's value (``OrderStatus.PAID`` → ``"paid"``)."""
    if not isinstance(value, enum.Enum):
        raise TypeError(f"expected an enum member, got {type(value).__name__}")
    return value.value


def text(value: Any) -> str:
    """Any scalar as a string (ids that platforms send as numbers)."""
    cls = type(value)
    if cls is str or cls is int:
        return str(value)
    if isinstance(value, Mapping | Sequence) and not isinstance(value, str):
        raise TypeError(f"expected a scalar, got {type(value).__name__}")
    return str(value)


def email(value: Any) -> str | None:
    """An email as contacts are keyed: trimmed, lower-cased; an invalid one gives ``None``.

    Example:
        >>> email(" Ana@Example.COM "), email("x@@example.net")
        ('ana@example.com', None)
    """
    return normalize_email(None if value is None else str(value)).value


#: Transforms by the name a declarative map uses.
TRANSFORMS: Mapping[str, Transform] = MappingProxyType(
    {
        "amount": amount,
        "currency": currency,
        "email": email,
        "enum_value": enum_value,
        "first": first,
        "flag": flag,
        "iso_datetime": iso_datetime,
        "join": join,
        "list": as_list,
        "minor_units": minor_units,
        "quantity": quantity,
        "text": text,
    }
)


def resolve_transform(value: str | Transform | None) -> Transform | None:
    """Return the transform a name or callable stands for.

    Raises:
        ConfigurationError: an unknown transform name.

    Example:
        >>> resolve_transform("minor_units")(Money("12.34", "USD"))
        1234
    """
    if value is None or callable(value):
        return value
    try:
        return TRANSFORMS[value]
    except KeyError:
        known = ", ".join(sorted(TRANSFORMS))
        raise ConfigurationError(f"unknown transform {value!r}; known: {known}") from None
