"""Defensive reading of one raw platform payload, collecting *every* bad field.

Platform parsers read fields through a :class:`PayloadReader`. Each accessor
returns ``None`` (and records a :class:`~commerce_connectors.errors.FieldProblem`
with the field's JSON path) instead of raising, so one parse reports every
problem at once; :meth:`PayloadReader.check` then raises a single
:class:`~commerce_connectors.errors.InvalidRecordError` carrying the raw payload.

What a payload can hold is bounded here, once, for every platform:

* datetimes lie between :data:`EARLIEST_DATETIME` and :data:`LATEST_DATETIME` once in
  UTC; time zone *names* are looked up in the IANA database by name only
  (:func:`timezone_by_name`), never as a file path;
* amounts are finite, have at most :data:`MAX_AMOUNT_DIGITS` significant digits (and
  no digit below ``10**-MAX_AMOUNT_DIGITS``), and fit :data:`MAX_MINOR_UNITS` once
  in the currency's minor units, so :meth:`Money.to_minor_units` never fails on them;
* amounts and quantities are non-negative unless the caller says a field may be
  negative (the sign policy is in ``docs/model.md``);
* integers fit a signed 64-bit integer.

Parsers decorated with :func:`fast_first` read through a :class:`FastReader` first: it
serves the plain shape of each field with little work and gives up on anything else,
and the parser then runs again with the checked :class:`PayloadReader`. Records and
errors are the checked reader's either way; only the CPU spent differs.

Example:
    >>> r = PayloadReader({"id": 7, "total": "x", "created_at": "2024-01-01"},
    ...                   platform="shopify", kind="order")
    >>> r.id("id"), r.money("total", "USD"), r.datetime("created_at")
    ('7', None, None)
    >>> [str(p) for p in r.problems]
    ["$.total: not a decimal amount: 'x'", "$.created_at: datetime has no timezone: '2024-01-01'"]
"""

from __future__ import annotations

import collections
import contextvars
import datetime as _dt
import functools
import math
import re
import threading
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Context, Decimal, getcontext
from typing import Any, ParamSpec, TypeVar, cast

from dateutil import parser as _dateparser

from .errors import CurrencyError, FieldProblem, InvalidRecordError
from .models import (
    _EXPONENTS,
    _KEY_LENGTH,
    _MINOR_MONEY,
    _MONEY,
    ROUNDING,
    Money,
    _checked_money,
    currency_exponent,
)

__all__ = [
    "EARLIEST_DATETIME",
    "LATEST_DATETIME",
    "MAX_AMOUNT_DIGITS",
    "MAX_INTEGER",
    "MAX_MINOR_UNITS",
    "FastReader",
    "PayloadReader",
    "amount_problem",
    "fast_first",
    "is_object",
    "parse_datetime",
    "reader_type",
    "reusable_argument",
    "timezone_by_name",
]

_UTC = _dt.timezone.utc

#: The earliest instant (UTC) a payload datetime may hold. Python's datetimes end at
#: years 1 and 9999; a year of margin at each end keeps every shift the library applies
#: to a record's dates (sync overlaps, the 24-hour trigger window, the 30-day cart
#: retention, the 60-day recent-orders window) representable.
EARLIEST_DATETIME = _dt.datetime(2, 1, 1, tzinfo=_UTC)
#: The latest instant (UTC) a payload datetime may hold (see :data:`EARLIEST_DATETIME`).
LATEST_DATETIME = _dt.datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=_UTC)

#: The largest integer (and the largest amount in minor units) a payload may hold: a
#: signed 64-bit integer, which is what the platforms document (Square ``Money.amount``
#: is ``int64``) and what CRMs and SQL ``BIGINT`` columns store amounts in.
MAX_INTEGER = 2**63 - 1
#: Largest magnitude of an amount in minor units (cents, fils…): :data:`MAX_INTEGER`.
MAX_MINOR_UNITS = MAX_INTEGER
#: Significant digits (and decimal places) an amount may have: the precision of
#: Python's default decimal context, so sums and :meth:`Money.to_minor_units` stay exact.
MAX_AMOUNT_DIGITS = 28

_MISSING = object()
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
# Exact arithmetic for the bound checks, whatever decimal context the caller has set.
_EXACT = Context(prec=60, Emax=999_999, Emin=-999_999)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
#: Half of a UTF-16 surrogate pair, which ``json.loads`` lets through from "\ud800".
_SURROGATE = re.compile("[\ud800-\udfff]")
# ISO 8601 extended date-time with an optional fraction and offset, fields in range.
_PLAIN_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?"
)
# A plain decimal of at most 18 characters: under 10**18, at most 18 digits and places,
# so within every bound amount_problem() checks (with exponent 0) by construction.
_SHORT_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?")
_SHORT = 18

# RFC 5322 section 3.3 date-time, with the obsolete forms of section 4.3 (two- and
# three-digit years, alphabetic zones). The day of the week is optional and not checked.
_RFC2822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s*,\s*)?"
    r"(?P<day>[0-9]{1,2})\s+"
    r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+"
    r"(?P<year>[0-9]{2,4})\s+"
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?"
    r"(?:\s+(?P<zone>[+-][0-9]{4}|[A-Za-z]{1,3}))?",
    re.ASCII | re.IGNORECASE,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# The obsolete zone names RFC 5322 section 4.3 defines (and UTC), in hours from UT.
_RFC2822_ZONES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6,
    "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip

# An IANA zone name: letters, digits, "_", "+", "-" in at most four "/" segments. No
# dot, so never "." or ".." (no path can climb out of the database), no leading "/".
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,29}(?:/[A-Za-z0-9_+-]{1,30}){0,3}", re.ASCII)
_ZONE_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])([0-9]{2}):?([0-9]{2})", re.ASCII | re.IGNORECASE)
_UTC_NAMES = {"UTC", "Z", "GMT", "UT", "ETC/UTC", "ETC/GMT"}


# A path is parsed once: the same few dozen paths are read from every record.
_Step = str | int


def _parse_steps(path: str) -> tuple[_Step, ...]:
    """``"lines[2].price"`` as ``("lines", 2, "price")``."""
    return tuple(int(index) if index else name for name, index in _PATH_TOKEN.findall(path))


#: Paths already parsed (a plain dict: a hit costs one lookup, no call), bounded.
_STEPS: dict[str, tuple[_Step, ...]] = {}
_STEPS_LIMIT = 4096


def _steps(path: str) -> tuple[_Step, ...]:
    """:func:`_parse_steps`, remembered (the same few dozen paths come back every record)."""
    steps = _STEPS.get(path)
    if steps is None:
        steps = _parse_steps(path)
        if len(_STEPS) >= _STEPS_LIMIT:
            _STEPS.clear()
        _STEPS[path] = steps
    return steps


@functools.lru_cache(maxsize=4096)
def _path_suffix(path: str) -> str:
    """``"lines[2].price"`` as ``".lines[2].price"``: a JSON path without its base."""
    return "".join(f"[{m[1]}]" if m[1] else f".{m[0]}" for m in _PATH_TOKEN.findall(path))


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (a payload may hold megabytes)."""
    try:
        text = repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() has no repr
        return f"<{type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.lru_cache(maxsize=256)
def timezone_by_name(name: str) -> _dt.tzinfo:
    """The time zone a payload names: an IANA name, ``UTC`` or a fixed ``±HH:MM`` offset.

    A name is looked up in the IANA database **by name only**: it must look like a zone
    name (letters, digits, ``_+-`` and ``/``, no dots, at most 64 characters) and be one
    of :func:`zoneinfo.available_timezones`. A payload can therefore never make the
    parser open a file of its choosing (``"/etc/passwd"``, ``"../../x"``).

    Raises:
        ValueError: the name is not a known zone.

    Example:
        >>> timezone_by_name("America/Sao_Paulo"), timezone_by_name("UTC")
        (zoneinfo.ZoneInfo(key='America/Sao_Paulo'), datetime.timezone.utc)
        >>> timezone_by_name("-03:00")
        datetime.timezone(datetime.timedelta(days=-1, seconds=75600))
        >>> timezone_by_name("../../etc/passwd")
        Traceback (most recent call last):
        ...
        ValueError: unknown timezone '../../etc/passwd'
    """
    text = name.strip() if isinstance(name, str) else ""
    if text.upper() in _UTC_NAMES:
        return _UTC
    offset = _ZONE_OFFSET.fullmatch(text)
    if offset is not None:
        sign, hours, minutes = offset[1], int(offset[2]), int(offset[3])
        if hours <= 23 and minutes <= 59:
            delta = _dt.timedelta(hours=hours, minutes=minutes)
            return _dt.timezone(-delta if sign == "-" else delta)
    elif len(text) <= 64 and _ZONE_NAME.fullmatch(text) and text in _iana_names():
        try:
            return zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass  # listed but unreadable: as unknown as any other name
    raise ValueError(f"unknown timezone {_shown(name)}")


def _parse_rfc2822(match: re.Match[str]) -> _dt.datetime:
    """An RFC 5322 date-time; the year is read as RFC 5322 section 4.3 says.

    A four-digit year is that year (``0001`` is year 1, not 2001); a two-digit year is
    20xx for 00-49 and 19xx for 50-99; a three-digit year is 1900 plus it. ``-0000``
    and the military letters say nothing about the zone: the result is naive.
    """
    text = match["year"]
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 50 else 1900
    elif len(text) == 3:
        year += 1900
    zone_text = match["zone"]
    tzinfo: _dt.tzinfo | None = None
    if zone_text is None or zone_text == "-0000":
        tzinfo = None
    elif zone_text[0] in "+-":
        hours, minutes = int(zone_text[1:3]), int(zone_text[3:5])
        if minutes > 59 or hours > 23:
            raise ValueError("zone offset out of range")
        delta = _dt.timedelta(hours=hours, minutes=minutes)
        tzinfo = _dt.timezone(-delta if zone_text[0] == "-" else delta)
    elif zone_text.upper() in _RFC2822_ZONES:
        tzinfo = _dt.timezone(_dt.timedelta(hours=_RFC2822_ZONES[zone_text.upper()]))
    elif len(zone_text) != 1:
        raise ValueError(f"unknown zone {zone_text!r}")
    return _dt.datetime(
        year,
        _MONTHS.index(match["month"].lower()) + 1,
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"] or 0),
        tzinfo=tzinfo,
    )


def _php_zone(value: Any) -> _dt.tzinfo | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"unknown timezone {_shown(value)}")
    return timezone_by_name(value)


def parse_datetime(value: Any, *, naive_tz: _dt.tzinfo | None = None) -> _dt.datetime:
    """Parse the datetime shapes platforms send into an aware UTC datetime.

    Accepts ISO 8601 (``Z``, ``+02:00`` and ``-0300`` offsets), RFC 2822 / RFC 5322
    (BigCommerce v2: ``Tue, 20 Nov 2012 00:00:00 +0000``; two- and four-digit years
    read as RFC 5322 says), ``datetime`` objects, and PHP-style objects
    ``{"date": "...", "timezone": "..."}`` (Tiendanube ``completed_at``) whose zone is
    an IANA name (:func:`timezone_by_name`), ``UTC`` or an offset.

    Args:
        value: the raw value.
        naive_tz: the zone to assume when the value has no offset and the
            platform documents one; ``None`` refuses naive values.

    Raises:
        ValueError: the value is not a datetime in any known shape, names an unknown
            zone, is naive and no ``naive_tz`` was given, or lies outside
            :data:`EARLIEST_DATETIME` … :data:`LATEST_DATETIME` once in UTC.

    Example:
        >>> parse_datetime("Tue, 20 Nov 12 00:00:00 +0000").year
        2012
        >>> parse_datetime("0001-01-01T00:00:00+01:00")
        Traceback (most recent call last):
        ...
        ValueError: datetime out of range: '0001-01-01T00:00:00+01:00' (supported: ...)
    """
    if isinstance(value, Mapping) and "date" in value:
        zone = _php_zone(value.get("timezone"))
        inner = value["date"]
        if isinstance(inner, Mapping):
            raise ValueError(f"not a datetime: {_shown(value)}")
        return parse_datetime(inner, naive_tz=zone or naive_tz)
    if isinstance(value, _dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if _PLAIN_ISO.fullmatch(text):
            # The shape nearly every payload sends, which the standard library reads
            # exactly as dateutil does; what it refuses (30 February…) goes the long way.
            try:
                fast = _dt.datetime.fromisoformat(text)
            except ValueError:
                pass
            else:
                return _to_utc(fast, naive_tz, value)
        try:
            rfc = _RFC2822.fullmatch(text)
            parsed = _parse_rfc2822(rfc) if rfc else _dateparser.isoparse(text)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"not a datetime: {_shown(value)}") from exc
    else:
        raise ValueError(f"not a datetime: {_shown(value)}")
    return _to_utc(parsed, naive_tz, value)


def _out_of_range(value: Any) -> str:
    return (
        f"datetime out of range: {_shown(value)} (supported: "
        f"{EARLIEST_DATETIME.isoformat()} to {LATEST_DATETIME.isoformat()})"
    )


def _to_utc(parsed: _dt.datetime, naive_tz: _dt.tzinfo | None, value: Any) -> _dt.datetime:
    try:
        offset = parsed.utcoffset()
    except (ValueError, OverflowError) as exc:
        raise ValueError(_out_of_range(value)) from exc
    if offset is None:
        if naive_tz is None:
            raise ValueError(f"datetime has no timezone: {_shown(value)}")
        parsed = parsed.replace(tzinfo=naive_tz)
    try:
        result = parsed.astimezone(_UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(_out_of_range(value)) from exc
    if not EARLIEST_DATETIME <= result <= LATEST_DATETIME:
        raise ValueError(_out_of_range(value))
    return result


def amount_problem(amount: Decimal, exponent: int = 0) -> str | None:
    """What is wrong with ``amount`` as an amount of a currency with ``exponent`` digits.

    ``None`` when the amount is finite, has at most :data:`MAX_AMOUNT_DIGITS`
    significant digits and decimal places, and its value in minor units (rounded as
    :meth:`Money.to_minor_units` rounds) fits :data:`MAX_MINOR_UNITS`. With
    ``exponent=0`` the bound is on the value itself (quantities, bare decimals).

    Example:
        >>> amount_problem(Decimal("19.99"), 2) is None
        True
        >>> amount_problem(Decimal("1e30"), 2)
        'amount out of range: more than 9223372036854775807 minor units'
        >>> amount_problem(Decimal("NaN"))
        'not a finite amount'
    """
    if not amount.is_finite():
        return "not a finite amount"
    too_large = _range_problem(amount, exponent)
    if too_large is not None:
        return too_large
    shape = amount.as_tuple()
    digits, places = len(shape.digits), -int(shape.exponent)
    if digits > MAX_AMOUNT_DIGITS or places > MAX_AMOUNT_DIGITS:
        return f"amount has more than {MAX_AMOUNT_DIGITS} digits or decimal places"
    return None


def _range_problem(amount: Decimal, exponent: int) -> str | None:
    """The minor-units bound of :func:`amount_problem` alone (``amount`` is finite)."""
    # Below 10**18 minor units (adjusted + exponent <= 17) the rounded value fits
    # MAX_MINOR_UNITS (about 9.2 * 10**18) whatever the rounding: no need to compute it.
    if not amount.is_zero() and amount.adjusted() + exponent > 17:
        too_large = f"amount out of range: more than {MAX_MINOR_UNITS} minor units"
        if amount.adjusted() + exponent > 19:
            return too_large
        units = amount.scaleb(exponent, _EXACT).quantize(Decimal(1), ROUNDING, _EXACT)
        if abs(units) > MAX_MINOR_UNITS:
            return too_large
    return None


def is_object(value: Any) -> bool:
    """Whether ``value`` reads as a JSON object: ``isinstance(value, Mapping)``.

    JSON's own types are told apart by their exact type first, without the abstract
    class check (the readers below inline the same test on their hottest paths).

    Example:
        >>> is_object({}), is_object("x"), is_object(None), is_object([])
        (True, False, False, False)
    """
    kind = type(value)
    if kind is dict:
        return True
    if kind is str or value is None:
        return False
    return isinstance(value, Mapping)


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
        # The reader problems are reported for (None: this one). Never ``self``: a
        # reader referring to itself would be a cycle only the garbage collector frees.
        self._root: PayloadReader | None = None
        if type(payload) is not dict and not isinstance(payload, Mapping):
            self.problem("", f"expected a JSON object, got {type(payload).__name__}", payload)

    # -- plumbing ---------------------------------------------------------

    def _json_path(self, path: str) -> str:
        if not path:
            return self.base
        return self.base + _path_suffix(path)

    def problem(self, path: str, reason: str, value: Any = None) -> None:
        """Record a problem with the field at ``path``."""
        self.problems.append(FieldProblem(self._json_path(path), reason, value))

    def raw(self, path: str, default: Any = None) -> Any:
        """The raw value at ``path``, or ``default`` when any step is missing or null."""
        node: Any = self.payload
        steps = _STEPS.get(path)
        if steps is None:
            steps = _steps(path)
        for step in steps:
            if type(step) is int:
                if not isinstance(node, list) or step >= len(node):
                    return default
                node = node[step]
            elif type(node) is dict:  # JSON objects: no abstract-class check needed
                node = node.get(step, _MISSING)
                if node is _MISSING:
                    return default
            else:
                if not isinstance(node, Mapping) or step not in node:
                    return default
                node = node[step]
            if node is None:
                return default
        return node

    def child(self, path: str) -> PayloadReader:
        """A reader over the object at ``path`` that shares this reader's problems."""
        return self._sub(path, self.raw(path, {}), self._json_path(path))

    def _sub(self, path: str, payload: Any, base: str) -> PayloadReader:
        """A reader over ``payload`` (read at ``path``, JSON path ``base``)."""
        sub = PayloadReader.__new__(PayloadReader)
        sub.platform, sub.kind, sub.naive_tz = self.platform, self.kind, self.naive_tz
        sub.base = base
        sub.problems = self.problems
        sub.record_id = None
        sub._root = self._root or self
        if type(payload) is not dict and not isinstance(payload, Mapping):
            self.problem(path, f"expected a JSON object, got {type(payload).__name__}")
            payload = {}
        sub.payload = payload
        return sub

    def children(self, path: str) -> Iterator[PayloadReader]:
        """Readers over each object of the list at ``path`` (missing list: none)."""
        items = self.raw(path, [])
        if not isinstance(items, list):
            self.problem(path, f"expected a list, got {type(items).__name__}", items)
            return
        # What child(f"{path}[{index}]") gives, without parsing each indexed path
        # (a null element reads as an empty object there too).
        base = self._json_path(path)
        for index, item in enumerate(items):
            yield self._sub(f"{path}[{index}]", {} if item is None else item, f"{base}[{index}]")

    def array(self, path: str) -> list[Any]:
        """The JSON array at ``path`` (missing or null: empty); anything else is a problem.

        Example:
            >>> r = PayloadReader({"a": ["x", 1], "b": "x"}, platform="x", kind="y")
            >>> r.array("a"), r.array("b"), r.array("c"), [str(p) for p in r.problems]
            (['x', 1], [], [], ['$.b: expected a list, got str'])
        """
        items = self.raw(path, [])
        if not isinstance(items, list):
            self.problem(path, f"expected a list, got {type(items).__name__}", items)
            return []
        return items

    # -- typed accessors --------------------------------------------------

    def id(self, path: str = "id") -> str | None:
        """A required identifier (string or integer id) as a string."""
        value = self.text(path, required=True)
        if value is not None and self._root is None and self.record_id is None:
            self.record_id = value
        return value

    def text(self, path: str, *, required: bool = False) -> str | None:
        """A string field (integers are accepted and turned into strings).

        Empty and whitespace-only strings count as missing; other strings are
        kept exactly as given.
        """
        value = self.raw(path, _MISSING)
        if type(value) is str and value.strip():  # the common case, kept exactly
            # A printable string holds no surrogate (category Cs is never printable):
            # the search only runs for the rest (line breaks, tabs, surrogates…).
            if value.isascii() or value.isprintable() or _SURROGATE.search(value) is None:
                return value
            # JSON may escape half of a UTF-16 pair ("\ud800"): no text store can keep it.
            self.problem(path, "text is not valid Unicode (an unpaired surrogate)", value)
            return None
        if value is _MISSING or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(path, "required field is missing or empty", None)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.problem(path, f"expected a string, got {type(value).__name__}", value)
            return None
        if isinstance(value, int) and abs(value) > MAX_INTEGER:
            self.problem(path, f"integer out of range: {_shown(value)}", value)
            return None
        return str(value)

    def _check_sign(self, path: str, value: Decimal, negative: bool, raw: Any) -> Decimal | None:
        if value.is_signed() and value.is_zero():
            return value.copy_abs()  # "-0.00" is zero, not a negative amount
        if value < 0 and not negative:
            self.problem(path, f"negative value not allowed: {_shown(raw)}", raw)
            return None
        return value

    def decimal(
        self, path: str, *, required: bool = False, negative: bool = False
    ) -> Decimal | None:
        """A decimal number given as a string or a JSON number.

        JSON numbers are read through their shortest ``repr`` so ``10.1`` stays
        ``Decimal('10.1')`` (the value the platform meant), never a binary float.
        Strings must be plain decimal numbers (``"12.50"``, ``"-3"``, ``"1e3"``):
        no ``NaN``, ``Infinity``, digit separators or non-ASCII digits. The value must
        pass :func:`amount_problem` (at most :data:`MAX_INTEGER` in magnitude).

        Args:
            path: where the number is.
            required: record a problem if it is missing.
            negative: whether a negative value is acceptable (the sign policy).
        """
        value = self.raw(path, _MISSING)
        if type(value) is str and len(value) <= _SHORT and _SHORT_DECIMAL.fullmatch(value):
            # "19.90": within every bound by its length alone (see _SHORT_DECIMAL).
            return self._check_sign(path, Decimal(value), negative, value)
        if value is _MISSING or value == "":
            if required:
                self.problem(path, "required amount is missing", None)
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(path, f"expected a number, got {type(value).__name__}", value)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(path, f"not a finite amount: {_shown(value)}", value)
            return None
        if isinstance(value, str):
            text = value.strip()
            if not _DECIMAL_TEXT.fullmatch(text):
                finite = text.lower().lstrip("+-") not in _NOT_FINITE
                what = "not a decimal amount" if finite else "not a finite amount"
                self.problem(path, f"{what}: {_shown(value)}", value)
                return None
        # Never raises: the string matched _DECIMAL_TEXT; a finite float's repr is a number.
        result = Decimal(repr(value) if isinstance(value, float) else value)
        bound = amount_problem(result)
        if bound is not None:
            self.problem(path, f"{bound}: {_shown(value)}", value)
            return None
        return self._check_sign(path, result, negative, value)

    def integer(self, path: str, *, required: bool = False, negative: bool = True) -> int | None:
        """An integer given as a JSON integer or a string of ASCII digits.

        The value must fit a signed 64-bit integer (:data:`MAX_INTEGER`).

        Args:
            path: where the integer is.
            required: record a problem if it is missing.
            negative: whether a negative value is acceptable (ids and codes: yes;
                quantities: no).
        """
        value = self.raw(path, _MISSING)
        if value is _MISSING or value == "":
            if required:
                self.problem(path, "required integer is missing", None)
            return None
        result: int | None = None
        if isinstance(value, bool):
            self.problem(path, "expected an integer, got a boolean", value)
            return None
        if isinstance(value, int):
            result = value
        elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
            text = value.strip()
            digits = text.lstrip("+-").lstrip("0") or "0"
            # Never int() a long string: past 19 digits it is out of range anyway.
            magnitude = int(digits) if len(digits) <= 19 else MAX_INTEGER + 1
            result = -magnitude if text.startswith("-") else magnitude
        elif isinstance(value, float) and value.is_integer():
            result = int(value)
        if result is None:
            self.problem(path, f"expected an integer, got {_shown(value)}", value)
            return None
        if abs(result) > MAX_INTEGER:
            self.problem(path, f"integer out of range: {_shown(value)}", value)
            return None
        if result < 0 and not negative:
            self.problem(path, f"negative value not allowed: {_shown(value)}", value)
            return None
        return result

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
        self.problem(path, f"expected a boolean, got {_shown(value)}", value)
        return None

    def datetime(self, path: str, *, required: bool = False) -> _dt.datetime | None:
        """An aware UTC datetime from any shape :func:`parse_datetime` knows.

        A missing value, ``null`` or ``""`` is ``None`` (a problem when ``required``).
        """
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
        negative: bool = False,
    ) -> Money | None:
        """An amount at ``path`` in ``currency``.

        The amount must fit :data:`MAX_MINOR_UNITS` once in the currency's minor units
        (:func:`amount_problem`), and be non-negative unless ``negative``.

        Args:
            path: where the amount is.
            currency: the ISO code (already read); ``None`` means the currency
                itself was bad or missing, which was recorded where it was read.
            required: record a problem if the amount is missing.
            minor_units: the amount is an integer count of minor units (Square).
            negative: whether a negative amount is acceptable (the sign policy).
        """
        if minor_units:
            units = self.integer(path, required=required, negative=negative)
            if units is None or currency is None:
                return None
            try:
                return Money.from_minor_units(units, currency)
            except CurrencyError as exc:
                self.problem(path, str(exc), units)
                return None
        amount = self.decimal(path, required=required, negative=negative)
        if amount is None or currency is None:
            return None
        return self._bounded(path, amount, currency, _MISSING, digits_checked=True)

    def _bounded(
        self, path: str, amount: Decimal, currency: str, raw: Any, *, digits_checked: bool = False
    ) -> Money | None:
        """``Money(amount, currency)`` within the bounds; ``raw`` is what a problem shows
        (``_MISSING``: the value at ``path``, read only if there is a problem)."""
        try:
            money = Money(amount, currency)
        except CurrencyError as exc:
            self.problem(path, str(exc), currency)
            return None
        try:
            exponent = currency_exponent(money.currency)
        except CurrencyError:
            exponent = 0  # XAU, XDR…: no minor unit; bound the amount itself
        # An amount decimal() read is finite and its digits were counted there: only
        # the bound in minor units is new (amount_problem checks in that order too).
        if digits_checked:
            reason = _range_problem(money.amount, exponent)
        else:
            reason = amount_problem(money.amount, exponent)
        if reason is not None:
            if raw is _MISSING:
                raw = self.raw(path)
            self.problem(path, f"{reason} of {money.currency}: {_shown(raw)}", raw)
            return None
        return money

    def money_sum(
        self, paths: Sequence[str], currency: str | None, *, negative: bool = False
    ) -> Money | None:
        """The sum of the amounts at ``paths`` that are present (``None`` if none is).

        Each part is read with :meth:`money`; the sum must fit the same bounds (a
        problem is recorded at the first path otherwise).

        Example:
            >>> r = PayloadReader({"a": "1.50", "b": None, "c": "2"}, platform="x", kind="y")
            >>> r.money_sum(["a", "b", "c"], "USD")
            Money(amount=Decimal('3.50'), currency='USD')
        """
        parts = [self.money(path, currency, negative=negative) for path in paths]
        known = [part for part in parts if part is not None]
        if not known or currency is None:
            return None
        if len(known) == 1:
            return known[0]
        total = known[0].amount
        for part in known[1:]:
            total = _EXACT.add(total, part.amount)
        return self._bounded(paths[0], total, currency, [self.raw(p) for p in paths])

    # -- outcome ----------------------------------------------------------

    @property
    def ok(self) -> bool:
        """True while no problem has been recorded."""
        return not self.problems

    def check(self) -> None:
        """Raise one InvalidRecordError listing every problem, if there is any."""
        if self.problems:
            root = self._root or self
            raise InvalidRecordError(
                platform=root.platform,
                kind=root.kind,
                record_id=root.record_id,
                problems=root.problems,
                payload=root.payload,
            )


# -- the fast path -------------------------------------------------------------------------
#
# Parsers run twice at most: first with a FastReader, which serves plain, well-typed
# values with little work and gives up (_Surprise) on anything else; then, only if it
# gave up, with the checked PayloadReader, which reports every problem as always. The
# parser body is the same code both times, so the record is built one way only.


class _Surprise(BaseException):
    """The fast reader met a value it does not serve; the checked reader takes over.

    A ``BaseException`` so that no ``except Exception`` in a parser can swallow it.
    """


class _Keys(tuple[str, ...]):
    """The steps of a path of keys only (``"a.b.c"``), told apart by its type."""

    __slots__ = ()


#: How a path is read: the key itself for a one-key path, else its steps. Bounded.
_PLANS: dict[str, str | tuple[_Step, ...]] = {}
#: The one-key paths among them (``"email"``): the key is the path itself, so a reader
#: looks it up in its payload straight away. Whether a path is one key depends on the
#: path alone, so an entry is never wrong; cleared with _PLANS.
_ONE_KEY: set[str] = set()


def _plan(path: str) -> str | tuple[_Step, ...]:
    steps = _steps(path)
    plan: str | tuple[_Step, ...] = steps
    if len(_PLANS) >= _STEPS_LIMIT:
        _PLANS.clear()
        _ONE_KEY.clear()
    if len(steps) == 1 and type(steps[0]) is str and steps[0] == path:
        plan = path
        _ONE_KEY.add(path)
    elif all(type(step) is str for step in steps):
        plan = _Keys(cast(tuple[str, ...], steps))
    _PLANS[path] = plan
    return plan


_FAST: contextvars.ContextVar[bool] = contextvars.ContextVar("fast_reader", default=False)
#: Fast attempts given up, per parse function: a diagnostic (read by the differential
#: tests), counted under _COUNTS_LOCK so parsers running in threads lose no count.
_FALLBACKS: collections.Counter[str] = collections.Counter()
#: Calls run with the checked reader alone because an argument could not safely be
#: read twice (see fast_first); a diagnostic, counted like _FALLBACKS.
_SKIPPED: collections.Counter[str] = collections.Counter()
# Taken only when a count changes (a fallback or a skip: rare), never per plain parse.
_COUNTS_LOCK = threading.Lock()
#: Argument types a parser may be given twice with the same effect: built-in values
#: and containers, which reading leaves as they were (an iterator is consumed by the
#: first run; any other object might change or count its reads), plus the immutable
#: option classes registered through reusable_argument().
_REUSABLE: set[type] = {
    dict,
    list,
    tuple,
    str,
    int,
    float,
    bool,
    type(None),
    Decimal,
    frozenset,
    _dt.datetime,
    _dt.date,
    _dt.timezone,
    zoneinfo.ZoneInfo,
}

_T = TypeVar("_T")


def reusable_argument(cls: type[_T]) -> type[_T]:
    """Let :func:`fast_first` parsers run twice with ``cls`` instances as arguments.

    For immutable option classes only (reading an instance must have no effect and
    always give the same answer): any other object makes the parser skip its fast
    attempt. Usable as a class decorator.

    Example:
        >>> @reusable_argument
        ... class Options:
        ...     pass
        >>> Options in _REUSABLE
        True
    """
    _REUSABLE.add(cls)
    return cls


def _reusable(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether every argument may be read by two runs of a parser (see _REUSABLE)."""
    reusable = _REUSABLE
    for value in args:
        if type(value) not in reusable:
            return False
    for value in kwargs.values():  # noqa: SIM110 (a loop: no generator per parse)
        if type(value) not in reusable:
            return False
    return True


class FastReader(PayloadReader):
    """A :class:`PayloadReader` for the fast attempt of a :func:`fast_first` parser.

    Each accessor serves the plain shape of its field (a non-blank string, a short
    decimal string, an integer in range, an ISO 8601 date-time…) exactly as the
    checked reader would, and hands anything else to the checked accessor. A problem,
    which the checked reader would record, raises :class:`_Surprise` instead: the
    parse is then run again with the checked reader, so a refused record always
    carries the checked reader's problems.

    It is built only in a decimal context where scaling minor units is exact (the
    default one: see _exact_scaleb), so the Money it builds and keeps is the one the
    checked reader builds in that context.
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
        if type(payload) is not dict or not _exact_scaleb(getcontext()):
            # Money.from_minor_units() scales in the caller's decimal context: in one
            # that could round or signal, the checked reader computes every amount so.
            # Checked once per record (the context does not change while it is read).
            raise _Surprise
        # PayloadReader.__init__'s attributes, set without its keyword call (a reader
        # per record and per payment: the call is a measurable part of a small parse).
        # tests/perf/test_fast_path_review_fixes.py checks both set the same ones.
        self.payload = payload
        self.platform = platform
        self.kind = kind
        self.naive_tz = naive_tz
        self.base = base
        self.problems = [] if problems is None else problems
        self.record_id = None
        self._root = None

    def problem(self, path: str, reason: str, value: Any = None) -> None:
        """Give up: the checked reader records the problem (with every other one)."""
        raise _Surprise

    def check(self) -> None:
        """Give up if anything recorded a problem (a checked sub-reader sharing the list)."""
        if self.problems:
            raise _Surprise

    def _reader(self, payload: dict[str, Any], base: str, root: PayloadReader) -> FastReader:
        """A reader over ``payload`` with this one's settings and problems (as
        PayloadReader._sub builds it; ``root`` is ``self._root or self``)."""
        sub = FastReader.__new__(FastReader)
        sub.payload = payload
        sub.platform, sub.kind, sub.naive_tz = self.platform, self.kind, self.naive_tz
        sub.base = base
        sub.problems = self.problems
        sub.record_id = None
        sub._root = root
        return sub

    def _sub(self, path: str, payload: Any, base: str) -> PayloadReader:
        if type(payload) is not dict:
            raise _Surprise
        return self._reader(payload, base, self._root or self)

    def child(self, path: str) -> PayloadReader:
        """:meth:`PayloadReader.child`, built here (anything but an object: give up)."""
        payload = self.payload.get(path) if path in _ONE_KEY else self.raw(path)
        if payload is None:
            payload = {}  # missing or null: an empty object, as raw(path, {}) reads it
        elif type(payload) is not dict:
            raise _Surprise
        return self._reader(payload, self._json_path(path), self._root or self)

    def children(self, path: str) -> Iterator[PayloadReader]:
        """:meth:`PayloadReader.children`, all built at once (any odd element: give up)."""
        items = self.raw(path, [])
        if type(items) is not list:
            raise _Surprise
        base = self._json_path(path)
        root = self._root or self
        reader = self._reader
        subs: list[PayloadReader] = []
        for index, item in enumerate(items):
            if item is None:
                item = {}  # a null element reads as an empty object, as child() reads it
            elif type(item) is not dict:
                raise _Surprise
            subs.append(reader(item, f"{base}[{index}]", root))
        return iter(subs)

    def raw(self, path: str, default: Any = None) -> Any:
        """:meth:`PayloadReader.raw`, one dictionary lookup for a one-key path."""
        if path in _ONE_KEY:
            value = self.payload.get(path)  # the payload is a dict (checked on creation)
            return default if value is None else value
        plan = _PLANS.get(path)
        if plan is None:
            plan = _plan(path)
        node: Any = self.payload
        if type(plan) is str:
            node = node.get(plan)  # the payload is a dict (checked on creation)
            return default if node is None else node
        if type(plan) is _Keys:  # "a.b.c": keys only
            for key in plan:
                if type(node) is dict:
                    node = node.get(key)
                    if node is None:
                        return default
                else:  # a step into anything else: as the checked reader walks it
                    return super().raw(path, default)
            return node
        for step in plan:
            kind = type(node)
            if kind is dict and type(step) is str:
                node = node.get(step)
            elif kind is list and type(step) is int:
                node = node[step] if step < len(node) else None
            else:  # a step into anything else: as the checked reader walks it
                return super().raw(path, default)
            if node is None:
                return default
        return node

    def text(self, path: str, *, required: bool = False) -> str | None:
        """:meth:`PayloadReader.text`: a non-blank string as it is, or missing."""
        if path in _ONE_KEY:
            value = self.payload.get(path)
        elif type(plan := _PLANS.get(path)) is _Keys:
            # "a.b.c", the other common shape, walked here (raw() would cost a call).
            value = self.payload
            for key in plan:
                if type(value) is dict:
                    value = value.get(key)
                elif value is not None:  # a step into anything else: as raw() walks it
                    value = self.raw(path)
                    break
                else:
                    break
        else:
            value = self.raw(path)
        if type(value) is str:
            if value.strip():
                if value.isascii() or value.isprintable() or _SURROGATE.search(value) is None:
                    return value
            elif not required:
                return None  # blank: missing
        elif value is None:
            if not required:
                return None
        elif type(value) is int and -MAX_INTEGER <= value <= MAX_INTEGER:
            return str(value)
        return super().text(path, required=required)

    def decimal(
        self, path: str, *, required: bool = False, negative: bool = False
    ) -> Decimal | None:
        """:meth:`PayloadReader.decimal`: a short decimal string or a small integer."""
        value = self.payload.get(path) if path in _ONE_KEY else self.raw(path)
        if type(value) is str:
            result = _DECIMALS.get(value)
            if result is not None:
                return result
            if len(value) <= _SHORT and _SHORT_DECIMAL.fullmatch(value):
                result = Decimal(value)
                if not result.is_signed():
                    _remember(_DECIMALS, value, result)
                    return result
        elif type(value) is int:
            # Under 10**18: within every bound amount_problem() checks (exponent 0).
            if 0 <= value < _SHORT_INT:
                return Decimal(value)
        elif value is None and not required:
            return None
        return super().decimal(path, required=required, negative=negative)

    def integer(self, path: str, *, required: bool = False, negative: bool = True) -> int | None:
        """:meth:`PayloadReader.integer`: a JSON integer in range."""
        value = self.payload.get(path) if path in _ONE_KEY else self.raw(path)
        if type(value) is int:
            if 0 <= value <= MAX_INTEGER:
                return value
        elif value is None and not required:
            return None
        return super().integer(path, required=required, negative=negative)

    def boolean(self, path: str) -> bool | None:
        """:meth:`PayloadReader.boolean`: a JSON boolean, or missing."""
        value = self.payload.get(path) if path in _ONE_KEY else self.raw(path)
        if value is None or type(value) is bool:
            return value
        return super().boolean(path)

    def datetime(self, path: str, *, required: bool = False) -> _dt.datetime | None:
        """:meth:`PayloadReader.datetime`: an ISO 8601 date-time with an offset."""
        value = self.payload.get(path) if path in _ONE_KEY else self.raw(path)
        if type(value) is str and _PLAIN_ISO.fullmatch(value):
            # parse_datetime's own first step, less its shape checks (the value is a str
            # with nothing to strip: the pattern has no blanks at either end).
            try:
                parsed = _dt.datetime.fromisoformat(value)
                zone = parsed.tzinfo
                if zone is None:
                    return _to_utc(parsed, self.naive_tz, value)
                # _to_utc() for a fixed offset: astimezone() returns a UTC value as it is.
                result = parsed if zone is _UTC else parsed.astimezone(_UTC)
            except (ValueError, OverflowError):
                raise _Surprise from None
            if 2 <= result.year <= 9998:  # within EARLIEST_DATETIME ... LATEST_DATETIME
                return result
            raise _Surprise
        elif value is None and not required:
            return None
        elif type(value) is str:
            rfc = _fixed_rfc2822(value)
            if rfc is not None:
                return rfc
        elif type(value) is dict:
            return self._php_datetime(value)
        return super().datetime(path, required=required)

    def _php_datetime(self, value: dict[str, Any]) -> _dt.datetime:
        """parse_datetime() of a PHP date object whose ``date`` is plain ISO 8601."""
        inner = value.get("date")
        if type(inner) is not str or not _PLAIN_ISO.fullmatch(inner):
            raise _Surprise  # anything else: the checked reader reads it
        # _php_zone(), then parse_datetime(inner) of a string it reads with fromisoformat
        # (the pattern has no blanks at either end, so there is nothing to strip).
        name = value.get("timezone")
        zone: _dt.tzinfo | None = None
        try:
            if type(name) is str and name:
                zone = timezone_by_name(name)
            elif not (name is None or name == ""):
                raise _Surprise
            return _to_utc(_dt.datetime.fromisoformat(inner), zone or self.naive_tz, inner)
        except (ValueError, OverflowError):
            raise _Surprise from None

    def currency(self, path: str, *, required: bool = True) -> str | None:
        """:meth:`PayloadReader.currency`: a code already seen as it is written."""
        code = self.text(path, required=required)
        if code is None:
            return None
        if code in _EXPONENTS:
            return code  # what Money(0, code).currency is for a code of the table
        return super().currency(path, required=required)

    def money_sum(
        self, paths: Sequence[str], currency: str | None, *, negative: bool = False
    ) -> Money | None:
        """:meth:`PayloadReader.money_sum`, the sum built as :meth:`money` builds amounts."""
        exponent = _EXPONENTS.get(currency) if type(currency) is str else None
        if exponent is None or currency is None:
            return super().money_sum(paths, currency, negative=negative)
        first: Money | None = None
        total = Decimal(0)
        count = 0
        for path in paths:
            part = self.money(path, currency, negative=negative)
            if part is not None:
                if first is None:
                    first, total = part, part.amount
                else:
                    total = _EXACT.add(total, part.amount)
                count += 1
        if first is None or count == 1:
            return first
        # What _bounded() checks of the sum; a problem is the checked reader's to report.
        if amount_problem(total, exponent) is not None:
            raise _Surprise
        return _checked_money(total, currency)

    def money(
        self,
        path: str,
        currency: str | None,
        *,
        required: bool = False,
        minor_units: bool = False,
        negative: bool = False,
    ) -> Money | None:
        """:meth:`PayloadReader.money`, built without checking again what was just read."""
        exponent = _EXPONENTS.get(currency) if type(currency) is str else None
        if exponent is None or currency is None:  # none, unknown, or without minor units
            return super().money(
                path, currency, required=required, minor_units=minor_units, negative=negative
            )
        value = self.payload.get(path) if path in _ONE_KEY else self.raw(path)
        # An amount already read in this currency: the same Money (immutable) again.
        # The exponent is in the key: an entry stored by a reader that raced
        # register_currency() is then never found under the new exponent.
        seen = _MINOR_MONEY if minor_units else _MONEY
        kind = type(value)
        key = (value, currency, exponent)
        if kind is str or kind is int:
            known = seen.get(key)
            if known is not None:
                return known
        money: Money | None
        if minor_units:
            units = self.integer(path, required=required, negative=negative)
            if units is None:
                return None
            if not -_SHORT_INT < units < _SHORT_INT:
                return super().money(
                    path, currency, required=required, minor_units=True, negative=negative
                )
            # What Money.from_minor_units(units, currency) computes and stores.
            money = _checked_money(Decimal(units).scaleb(-exponent), currency)
        else:
            amount = self.decimal(path, required=required, negative=negative)
            if amount is None:
                return None
            if not (amount.is_zero() or amount.adjusted() + exponent <= 17):
                # At 10**18 minor units or more: _range_problem() decides.
                return self._bounded(path, amount, currency, _MISSING, digits_checked=True)
            money = _checked_money(amount, currency)
        if (kind is int or (kind is str and len(value) <= _KEY_LENGTH)) and (
            not money.amount.is_signed()
        ):
            # Kept only when any sign policy accepts it (never "-0.00" or a negative),
            # and only for short text (a padded amount is not kept whole).
            _remember(seen, key, money)
        return money


# "Tue, 05 Mar 2019 21:40:11 +0000" and nothing else: BigCommerce v2's shape, with hours
# below 24, minutes and seconds below 60 and a zone offset within ±23:59.
_FIXED_RFC2822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [+-](?:[01][0-9]|2[0-3])[0-5][0-9]"
)
_MONTH_DIGITS = {name.capitalize(): f"{number:02d}" for number, name in enumerate(_MONTHS, 1)}


def _fixed_rfc2822(value: str) -> _dt.datetime | None:
    """parse_datetime() of ``"Tue, 05 Mar 2019 21:40:11 +0000"`` exactly (BigCommerce v2).

    ``None`` for anything else, including what parse_datetime() would refuse: the value
    is then read the long way. In this shape every field has a fixed place, the year has
    four digits (read as it is) and the zone is an offset other than ``-0000`` (which
    leaves the value naive), so the result is what _parse_rfc2822() and _to_utc() give.
    """
    if not _FIXED_RFC2822.fullmatch(value) or value.endswith("-0000"):
        return None
    # The same fields in ISO 8601 order: fromisoformat() builds the datetime (the date
    # checked as datetime() checks it) and the fixed-offset zone _parse_rfc2822() builds.
    iso = (
        f"{value[12:16]}-{_MONTH_DIGITS[value[8:11]]}-{value[5:7]}"
        f"T{value[17:25]}{value[26:29]}:{value[29:]}"
    )
    try:
        result = _dt.datetime.fromisoformat(iso).astimezone(_UTC)
    except (ValueError, OverflowError):
        return None
    return result if 2 <= result.year <= 9998 else None


#: Short decimal strings the fast reader read, non-negative ones only (valid whatever
#: the sign policy): quantities and prices come back on every record. Bounded like the
#: money it keeps (models._MONEY, models._MINOR_MONEY) by _CACHE_LIMIT.
_DECIMALS: dict[str, Decimal] = {}
_CACHE_LIMIT = 4096


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


_SHORT_INT = 10**_SHORT


def _exact_scaleb(context: Context) -> bool:
    """Whether ``Decimal(units).scaleb(-exponent)`` is exact in ``context``.

    For ``units`` under ``10**18`` in magnitude (18 digits) and ``exponent`` 0 to 8 the
    result has at most 18 digits and an adjusted exponent from -8 to 17: with that
    precision and exponent range (and no clamping below the result's exponent)
    nothing rounds and no condition is signalled, so the result, the context's flags
    and its traps are those of any other such context. The cached Money built in
    the default context is then the one the checked reader would build.

    Example:
        >>> from decimal import Context
        >>> _exact_scaleb(Context()), _exact_scaleb(Context(prec=4))
        (True, False)
    """
    return (
        context.prec >= _SHORT
        and context.Emax >= _SHORT
        and context.Emin <= -_SHORT
        and (not context.clamp or context.Emax >= context.prec)
    )


def reader_type(checked: type[PayloadReader]) -> type[PayloadReader]:
    """The reader class a parser should build now.

    :class:`FastReader` during the fast attempt of a :func:`fast_first` parser, when
    ``checked`` is this module's :class:`PayloadReader`; ``checked`` otherwise (the
    second attempt, a call outside any such parser, or a test that put another reader
    in a parser module's ``PayloadReader`` name).

    Example:
        >>> reader_type(PayloadReader) is PayloadReader
        True
    """
    if checked is PayloadReader and _FAST.get():
        return FastReader
    return checked


_P = ParamSpec("_P")
_R = TypeVar("_R")


def fast_first(parse: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``parse`` with fast readers, and again with checked ones if that gives up.

    The parser builds its readers through :func:`reader_type`. The first attempt
    reads through :class:`FastReader`; on its first surprise (or any exception) the
    parser runs again from the start with the checked :class:`PayloadReader`, whose
    record or error is the answer. Parsers are pure, so running one twice is safe as
    long as its arguments read the same twice: a call given anything but built-in
    values and containers (a generator, an iterator, a user's object) or the types
    registered with :func:`reusable_argument` runs once, with the checked reader.

    Example:
        >>> @fast_first
        ... def parse(payload):
        ...     r = reader_type(PayloadReader)(payload, platform="x", kind="y")
        ...     total = r.money("total", "USD", required=True)
        ...     return type(r).__name__, total, [str(p) for p in r.problems]
        >>> parse({"total": "5.00"})
        ('FastReader', Money(amount=Decimal('5.00'), currency='USD'), [])
        >>> parse({"total": "-5.00"})
        ('PayloadReader', None, ["$.total: negative value not allowed: '-5.00'"])
    """
    name = f"{parse.__module__}.{parse.__qualname__}"

    @functools.wraps(parse)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not _reusable(args, kwargs):
            # A first run could consume or change what the checked run must read.
            with _COUNTS_LOCK:
                _SKIPPED[name] += 1
            token = _FAST.set(False)
            try:
                return parse(*args, **kwargs)
            finally:
                _FAST.reset(token)
        token = _FAST.set(True)
        try:
            return parse(*args, **kwargs)
        except (_Surprise, Exception):
            with _COUNTS_LOCK:
                _FALLBACKS[name] += 1
        finally:
            _FAST.reset(token)
        token = _FAST.set(False)
        try:
            return parse(*args, **kwargs)
        finally:
            _FAST.reset(token)

    return run
