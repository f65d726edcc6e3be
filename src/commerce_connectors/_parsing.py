"""Defensive reading of one raw platform payload, collecting *every* bad field.

Platform parsers read fields through a :class:`PayloadReader`. Each accessor
returns ``None`` (and records a :class:`~commerce_connectors.errors.FieldProblem`
with the field's JSON path) instead of raising, so one parse reports every
problem at once; :meth:`PayloadReader.check` then raises a single
:class:`~commerce_connectors.errors.InvalidRecordError` carrying the raw payload.

Example:
    >>> r = PayloadReader({"id": 7, "total": "x", "created_at": "2024-01-01"},
    ...                   platform="shopify", kind="order")
    >>> r.id("id"), r.money("total", "USD"), r.datetime("created_at")
    ('7', None, None)
    >>> [str(p) for p in r.problems]
    ["$.total: not a decimal amount: 'x'", "$.created_at: datetime has no timezone: '2024-01-01'"]
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from dateutil import parser as _dateparser
from dateutil import tz as _tz

from .errors import CurrencyError, FieldProblem, InvalidRecordError
from .models import Money

__all__ = ["PayloadReader", "parse_datetime"]

_MISSING = object()
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_RFC2822 = re.compile(r"^[A-Za-z]{3},\s")


def parse_datetime(value: Any, *, naive_tz: _dt.tzinfo | None = None) -> _dt.datetime:
    """Parse the datetime shapes platforms send into an aware UTC datetime.

    Accepts ISO 8601 (``Z``, ``+02:00`` and ``-0300`` offsets), RFC 2822
    (BigCommerce v2: ``Tue, 20 Nov 2012 00:00:00 +0000``), ``datetime``
    objects, and PHP-style objects ``{"date": "...", "timezone": "..."}``
    (Tiendanube ``completed_at``).

    Args:
        value: the raw value.
        naive_tz: the zone to assume when the value has no offset and the
            platform documents one; ``None`` refuses naive values.

    Raises:
        ValueError: the value is not a datetime in any known shape, or it is
            naive and no ``naive_tz`` was given.
    """
    if isinstance(value, Mapping) and "date" in value:
        zone_name = value.get("timezone")
        zone = _tz.gettz(zone_name) if isinstance(zone_name, str) else None
        if zone_name and zone is None:
            raise ValueError(f"unknown timezone {zone_name!r}")
        return parse_datetime(value["date"], naive_tz=zone or naive_tz)
    if isinstance(value, _dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if _RFC2822.match(text):
                parsed = email.utils.parsedate_to_datetime(text)
            else:
                parsed = _dateparser.isoparse(text)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"not a datetime: {value!r}") from exc
    else:
        raise ValueError(f"not a datetime: {value!r}")
    if parsed.tzinfo is None or parsed.tzinfo.utcoffset(parsed) is None:
        if naive_tz is None:
            raise ValueError(f"datetime has no timezone: {value!r}")
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed.astimezone(_dt.timezone.utc)


class PayloadReader:
    """Reads typed fields from one raw payload and records every problem.

    Paths are dotted with list indexes, relative to the payload:
    ``"customer.default_address.phone"``, ``"line_items[2].price"``. Problems
    are reported with a JSON path (``$.line_items[2].price``), prefixed by
    ``base`` for readers created with :meth:`child`.

    Args:
        payload: the record exactly as the platform returned it.
        platform: the platform's name, for the error.
        kind: ``"order"``, ``"customer"``…
        naive_tz: zone to assume for datetimes without an offset, when the
            platform documents one (``None``: such values are problems).
    """

    def __init__(
        self,
        payload: Any,
        *,
        platform: str,
        kind: str,
        naive_tz: _dt.tzinfo | None = None,
        base: str = "$",
        problems: list[FieldProblem] | None = None,
    ) -> None:
        self.payload = payload
        self.platform = platform
        self.kind = kind
        self.naive_tz = naive_tz
        self.base = base
        self.problems: list[FieldProblem] = [] if problems is None else problems
        self.record_id: str | None = None
        self._root: PayloadReader = self
        if not isinstance(payload, Mapping):
            self.problem("", f"expected a JSON object, got {type(payload).__name__}", payload)

    # -- plumbing ---------------------------------------------------------

    def _json_path(self, path: str) -> str:
        if not path:
            return self.base
        parts = [f"[{m[1]}]" if m[1] else f".{m[0]}" for m in _PATH_TOKEN.findall(path)]
        return self.base + "".join(parts)

    def problem(self, path: str, reason: str, value: Any = None) -> None:
        """Record a problem with the field at ``path``."""
        self.problems.append(FieldProblem(self._json_path(path), reason, value))

    def raw(self, path: str, default: Any = None) -> Any:
        """The raw value at ``path``, or ``default`` when any step is missing or null."""
        node: Any = self.payload
        for name, index in _PATH_TOKEN.findall(path):
            if index:
                if not isinstance(node, list) or int(index) >= len(node):
                    return default
                node = node[int(index)]
            else:
                if not isinstance(node, Mapping) or name not in node:
                    return default
                node = node[name]
            if node is None:
                return default
        return node

    def child(self, path: str) -> PayloadReader:
        """A reader over the object at ``path`` that shares this reader's problems."""
        sub = PayloadReader.__new__(PayloadReader)
        sub.payload = self.raw(path, {})
        sub.platform, sub.kind, sub.naive_tz = self.platform, self.kind, self.naive_tz
        sub.base = self._json_path(path)
        sub.problems = self.problems
        sub.record_id = None
        sub._root = self._root
        if not isinstance(sub.payload, Mapping):
            self.problem(path, f"expected a JSON object, got {type(sub.payload).__name__}")
            sub.payload = {}
        return sub

    def children(self, path: str) -> Iterator[PayloadReader]:
        """Readers over each object of the list at ``path`` (missing list: none)."""
        items = self.raw(path, [])
        if not isinstance(items, list):
            self.problem(path, f"expected a list, got {type(items).__name__}", items)
            return
        for index in range(len(items)):
            yield self.child(f"{path}[{index}]")

    # -- typed accessors --------------------------------------------------

    def id(self, path: str = "id") -> str | None:
        """A required identifier (string or integer id) as a string."""
        value = self.text(path, required=True)
        if value is not None and self._root.record_id is None and self._root is self:
            self.record_id = value
        return value

    def text(self, path: str, *, required: bool = False) -> str | None:
        """A string field (integers are accepted and turned into strings).

        Empty and whitespace-only strings count as missing; other strings are
        kept exactly as given.
        """
        value = self.raw(path, _MISSING)
        if value is _MISSING or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(path, "required field is missing or empty", None)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.problem(path, f"expected a string, got {type(value).__name__}", value)
            return None
        return str(value)

    def decimal(self, path: str, *, required: bool = False) -> Decimal | None:
        """A decimal number given as a string or a JSON number.

        JSON numbers are read through their shortest ``repr`` so ``10.1`` stays
        ``Decimal('10.1')`` (the value the platform meant), never a binary float.
        """
        value = self.raw(path, _MISSING)
        if value is _MISSING or value == "":
            if required:
                self.problem(path, "required amount is missing", None)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(path, f"expected a number, got {type(value).__name__}", value)
            return None
        try:
            result = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            self.problem(path, f"not a decimal amount: {value!r}", value)
            return None
        if not result.is_finite():
            self.problem(path, f"not a finite amount: {value!r}", value)
            return None
        return result

    def integer(self, path: str, *, required: bool = False) -> int | None:
        """An integer given as a JSON integer or a string of digits."""
        value = self.raw(path, _MISSING)
        if value is _MISSING or value == "":
            if required:
                self.problem(path, "required integer is missing", None)
            return None
        if isinstance(value, bool):
            self.problem(path, "expected an integer, got a boolean", value)
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        self.problem(path, f"expected an integer, got {value!r}", value)
        return None

    def boolean(self, path: str) -> bool | None:
        """A boolean; ``"true"``/``"false"`` strings and 0/1 are accepted."""
        value = self.raw(path, _MISSING)
        if value is _MISSING:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
            return value.strip().lower() in {"true", "1"}
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self.problem(path, f"expected a boolean, got {value!r}", value)
        return None

    def datetime(self, path: str, *, required: bool = False) -> _dt.datetime | None:
        """An aware UTC datetime from any shape :func:`parse_datetime` knows."""
        value = self.raw(path, _MISSING)
        if value is _MISSING or value == "":
            if required:
                self.problem(path, "required datetime is missing", None)
            return None
        try:
            return parse_datetime(value, naive_tz=self.naive_tz)
        except ValueError as exc:
            self.problem(path, str(exc), value)
            return None

    def currency(self, path: str, *, required: bool = True) -> str | None:
        """An ISO 4217 currency code."""
        code = self.text(path, required=required)
        if code is None:
            return None
        try:
            return Money(0, code).currency
        except CurrencyError as exc:
            self.problem(path, str(exc), code)
            return None

    def money(
        self,
        path: str,
        currency: str | None,
        *,
        required: bool = False,
        minor_units: bool = False,
    ) -> Money | None:
        """An amount at ``path`` in ``currency``.

        Args:
            path: where the amount is.
            currency: the ISO code (already read); ``None`` means the currency
                itself was bad or missing, which was recorded where it was read.
            required: record a problem if the amount is missing.
            minor_units: the amount is an integer count of minor units (Square).
        """
        if minor_units:
            units = self.integer(path, required=required)
            if units is None or currency is None:
                return None
            try:
                return Money.from_minor_units(units, currency)
            except CurrencyError as exc:
                self.problem(path, str(exc), units)
                return None
        amount = self.decimal(path, required=required)
        if amount is None or currency is None:
            return None
        try:
            return Money(amount, currency)
        except CurrencyError as exc:
            self.problem(path, str(exc), currency)
            return None

    # -- outcome ----------------------------------------------------------

    @property
    def ok(self) -> bool:
        """True while no problem has been recorded."""
        return not self.problems

    def check(self) -> None:
        """Raise one InvalidRecordError listing every problem, if there is any."""
        if self.problems:
            root = self._root
            raise InvalidRecordError(
                platform=root.platform,
                kind=root.kind,
                record_id=root.record_id,
                problems=root.problems,
                payload=root.payload,
            )
