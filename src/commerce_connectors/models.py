"""The canonical model: what every connector produces and every sink consumes.

All records are frozen attrs classes. Their invariants are enforced on
construction:

* money is :class:`decimal.Decimal` plus an ISO 4217 code, never a float;
* datetimes are timezone-aware and normalised to UTC (naive ones raise
  :class:`~commerce_connectors.errors.NaiveDatetimeError`);
* external ids and connection ids are non-empty strings;
* values a platform does not provide are ``None`` (or an empty tuple), never
  invented.

Every record carries its origin (``platform``, ``connection_id``,
``external_id``, ``created_at``, ``updated_at``) and may keep the platform's
``raw`` payload (excluded from equality) so field maps can reach any vendor
field.

Example:
    >>> from decimal import Decimal
    >>> Money("19.99", "usd")
    Money(amount=Decimal('19.99'), currency='USD')
    >>> Money("19.99", "USD").to_minor_units()
    1999
    >>> Money.from_minor_units(1999, "JPY")
    Money(amount=Decimal('1999'), currency='JPY')
"""

from __future__ import annotations

import collections
import datetime as _dt
import enum
import operator
import types
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import iso4217

from .errors import ConfigurationError, CurrencyError, NaiveDatetimeError

__all__ = [
    "ROUNDING",
    "Address",
    "Cart",
    "Customer",
    "LineItem",
    "Money",
    "Order",
    "OrderStatus",
    "Payment",
    "Platform",
    "Product",
    "ProductVariant",
    "currency_exponent",
    "ensure_aware_utc",
    "register_currency",
]

#: Rounding mode used whenever an amount must be quantised to a currency's
#: minor unit (banker's rounding, as ISO 4217 amounts are usually settled).
ROUNDING = ROUND_HALF_EVEN


class Platform(str, enum.Enum):
    """The commerce platform a record comes from."""

    SHOPIFY = "shopify"
    BIGCOMMERCE = "bigcommerce"
    SQUARE = "square"
    TIENDANUBE = "tiendanube"
    #: A connector written outside this library (yours, or the testing kit's example).
    CUSTOM = "custom"


class OrderStatus(str, enum.Enum):
    """Where an order is in its lifecycle, across platforms.

    The platform's own status string is always kept next to it in
    ``Order.raw_status``; this enum is the common vocabulary for rules and CRMs.
    """

    #: Created but not paid yet (awaiting payment, bank transfer, COD…).
    PENDING = "pending"
    #: Payment authorised but not captured.
    AUTHORIZED = "authorized"
    #: Part of the total has been paid.
    PARTIALLY_PAID = "partially_paid"
    #: Fully paid, not (fully) shipped yet.
    PAID = "paid"
    #: Part of the items have been shipped.
    PARTIALLY_FULFILLED = "partially_fulfilled"
    #: Shipped / delivered / picked up.
    FULFILLED = "fulfilled"
    #: Closed as done by the merchant (paid and fulfilled).
    COMPLETED = "completed"
    #: Part of the total was refunded.
    PARTIALLY_REFUNDED = "partially_refunded"
    #: Fully refunded.
    REFUNDED = "refunded"
    #: Cancelled by merchant or buyer.
    CANCELLED = "cancelled"
    #: Payment failed.
    FAILED = "failed"
    #: Payment declined (fraud screening, card declined, merchant declined).
    DECLINED = "declined"
    #: Authorisation voided before capture.
    VOIDED = "voided"
    #: Payment or checkout expired.
    EXPIRED = "expired"
    #: Under dispute / chargeback.
    DISPUTED = "disputed"
    #: Held for manual review or on hold.
    ON_HOLD = "on_hold"
    #: Checkout never completed (e.g. BigCommerce status 0 "Incomplete").
    INCOMPLETE = "incomplete"
    #: The platform's status is not one we recognise; see ``raw_status``.
    UNKNOWN = "unknown"


# --------------------------------------------------------------------------
# currencies


def _iso_exponents() -> dict[str, int | None]:
    table: dict[str, int | None] = {}
    for code, entry in iso4217.raw_table.items():
        if not code:
            continue
        units = entry.get("CcyMnrUnts")
        table[code] = int(units) if isinstance(units, str) and units.isdigit() else None
    return table


# Exponents of the ISO 4217 list as published (list one, via the maintained
# ``iso4217`` package); ``None`` for codes without minor units (XAU, XDR, XXX…).
_EXPONENTS: dict[str, int | None] = _iso_exponents()


def register_currency(code: str, exponent: int | None) -> None:
    """Teach the model a currency the ISO list no longer (or not yet) has.

    Withdrawn codes (HRK, VEF, LTL…) still appear in old orders; register them
    once at start-up instead of losing those orders to the dead-letter store.

    Example:
        >>> register_currency("HRK", 2)
        >>> Money("10.00", "HRK").to_minor_units()
        1000
    """
    code = code.upper()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise CurrencyError(f"currency code must be three ASCII letters, got {code!r}")
    if exponent is not None and not 0 <= exponent <= 8:
        raise CurrencyError(f"exponent must be between 0 and 8, got {exponent}")
    _EXPONENTS[code] = exponent
    # Amounts read before may have been scaled with the old exponent.
    _MONEY.clear()
    _MINOR_MONEY.clear()


def currency_exponent(code: str) -> int:
    """Return the number of minor-unit digits of an ISO 4217 currency.

    Raises:
        CurrencyError: the code is unknown or has no minor unit (gold, SDR…).
    """
    try:
        exponent = _EXPONENTS[code]
    except KeyError:
        raise CurrencyError(f"unknown ISO 4217 currency code {code!r}") from None
    if exponent is None:
        raise CurrencyError(f"currency {code} has no minor unit in ISO 4217")
    return exponent


#: The longest payload text a cache keyed by such text keeps: longer text (blanks or
#: zeros around a value, which the checks accept) is converted again each time, so a
#: bounded number of entries is also a bounded number of bytes.
_KEY_LENGTH = 64

#: Inputs already turned into a code (``" usd"`` -> ``"USD"``): a code once known
#: stays known (currencies are only ever added), so a hit is always right. Bounded,
#: short inputs only (_KEY_LENGTH).
_CODES: dict[str, str] = {}


def _to_currency(value: object) -> str:
    if type(value) is str:
        known = _CODES.get(value)
        if known is not None:
            return known
    code = _checked_currency(value)
    if type(value) is str and len(value) <= _KEY_LENGTH:
        if len(_CODES) >= 1024:
            _CODES.clear()
        _CODES[value] = code
    return code


def _checked_currency(value: object) -> str:
    if not isinstance(value, str):
        raise CurrencyError(f"currency must be a string, got {type(value).__name__}")
    code = value.strip().upper()
    if code not in _EXPONENTS:
        raise CurrencyError(
            f"unknown ISO 4217 currency code {value!r} "
            "(withdrawn codes can be added with register_currency())"
        )
    return code


def _to_decimal(value: object) -> Decimal:
    if type(value) is Decimal and value.is_finite():  # the common case, kept as given
        return value
    if isinstance(value, (bool, float)):
        raise TypeError(
            f"money amounts must be Decimal, int or a decimal string, not {type(value).__name__} "
            "(floats cannot represent most amounts exactly)"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {value!r}") from None
    else:
        raise TypeError(f"money amounts must be Decimal, int or str, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"money amount must be finite, got {value!r}")
    return result


# --------------------------------------------------------------------------
# datetimes


_UTC = _dt.timezone.utc


def ensure_aware_utc(value: _dt.datetime, *, field: str = "datetime") -> _dt.datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes.

    Raises:
        NaiveDatetimeError: ``value`` has no timezone.
        TypeError: ``value`` is not a datetime.
    """
    if type(value) is _dt.datetime and value.tzinfo is _UTC:
        return value  # already aware and in UTC: astimezone would return it as is
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"{field}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(
            f"{field}: naive datetime {value.isoformat()} has no timezone; "
            "pass an aware datetime such as datetime(..., tzinfo=timezone.utc)"
        )
    return value.astimezone(_dt.timezone.utc)


def _aware(value: _dt.datetime) -> _dt.datetime:
    return ensure_aware_utc(value)


def _aware_or_none(value: _dt.datetime | None) -> _dt.datetime | None:
    return None if value is None else ensure_aware_utc(value)


def _non_empty_str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{type(instance).__name__}.{attribute.name} must be a non-empty string, got {value!r}"
        )


def _platform(value: object) -> Platform:
    # Platform(value), without the enum lookup when it is already a member.
    return value if type(value) is Platform else Platform(value)


def _order_status(value: object) -> OrderStatus:
    # OrderStatus(value), without the enum lookup when it is already a member.
    return value if type(value) is OrderStatus else OrderStatus(value)


def _str_tuple(value: object) -> tuple[str, ...]:
    if type(value) is tuple and not value:
        return value  # the usual value: no tags, no codes
    if isinstance(value, str):
        raise TypeError("expected a sequence of strings, not a single string")
    return tuple([str(v) for v in value])  # type: ignore[attr-defined]


def _country(value: str | None) -> str | None:
    if isinstance(value, str):
        return value.strip().upper() or None
    return value


def _addresses(value: Iterable[Address]) -> tuple[Address, ...]:
    return tuple(value)


def _lines(value: Iterable[LineItem]) -> tuple[LineItem, ...]:
    return tuple(value)


def _variants(value: Iterable[ProductVariant]) -> tuple[ProductVariant, ...]:
    return tuple(value)


#: Quantities given as text, converted ("2" -> 2): the same few come back on every line.
#: Bounded (cleared when full), short text only (_KEY_LENGTH).
_QUANTITIES: dict[str, int | Decimal] = {}


def _quantity(value: object) -> int | Decimal:
    if type(value) is int:
        return value
    if type(value) is str:
        known = _QUANTITIES.get(value)
        if known is None:
            known = _text_quantity(value)
            if len(value) <= _KEY_LENGTH:
                if len(_QUANTITIES) >= 1024:
                    _QUANTITIES.clear()
                _QUANTITIES[value] = known
        return known
    return _any_quantity(value)


def _text_quantity(value: str) -> int | Decimal:
    dec = _to_decimal(value)
    if dec == dec.to_integral_value() and "." not in value:
        return int(dec)
    return dec


def _any_quantity(value: object) -> int | Decimal:
    if isinstance(value, (bool, float)):
        raise TypeError(f"quantity must be int or Decimal, not {type(value).__name__}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return _text_quantity(value)
    return _to_decimal(value)


# --------------------------------------------------------------------------
# records


def _minor_units_of(amount: Decimal, currency: str, rounding: str = ROUNDING) -> int:
    """``Money(amount, currency).to_minor_units(rounding=rounding)`` for a checked Money's parts.

    The one place the conversion is written: the method calls it, and generated field
    maps call it directly for a :class:`Money` (the method call is much of its cost).
    ``currency_exponent()`` and ``Decimal(1)`` built once keep it cheap; returning
    ``int(scaled)`` straight away when it is whole would skip ``quantize()``'s refusal of
    results longer than the context's precision (1E+26 USD).

    Raises:
        CurrencyError: the currency has no minor unit.
    """
    scaled = amount.scaleb(currency_exponent(currency))
    return int(scaled.quantize(_ONE, rounding=rounding))


@attrs.frozen
class Money:
    """An exact amount of one currency.

    Args:
        amount: a ``Decimal``, ``int`` or decimal string; floats are refused.
        currency: an ISO 4217 code (case-insensitive on input, stored upper-case).

    Arithmetic (``+``, ``-``, comparison) is only defined between amounts of the
    same currency; mixing currencies raises :class:`CurrencyError`.
    """

    amount: Decimal = attrs.field(converter=_to_decimal)
    currency: str = attrs.field(converter=_to_currency)

    @property
    def exponent(self) -> int:
        """Minor-unit digits of this currency (JPY 0, USD 2, KWD 3, CLF 4)."""
        return currency_exponent(self.currency)

    def to_minor_units(self, *, rounding: str = ROUNDING) -> int:
        """Return the amount in minor units (cents, fils…) as an exact integer.

        Amounts with more decimals than the currency has are rounded with
        ``rounding`` (banker's rounding by default).

        Raises:
            CurrencyError: the currency has no minor unit.
        """
        return _minor_units_of(self.amount, self.currency, rounding)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """Build a Money from an integer count of minor units (Square's format)."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError(f"minor units must be an int, got {type(units).__name__}")
        code = _to_currency(currency)
        return cls(Decimal(units).scaleb(-currency_exponent(code)), code)

    def quantized(self, *, rounding: str = ROUNDING) -> Money:
        """Return the amount rounded to the currency's minor unit."""
        return Money(
            self.amount.quantize(Decimal(1).scaleb(-self.exponent), rounding=rounding),
            self.currency,
        )

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


_ONE = Decimal(1)

#: Money the payload reader's fast path built, by (raw amount as given, currency code,
#: the code's exponent then): decimal amounts and integer counts of minor units. Only
#: non-negative amounts and short text (_KEY_LENGTH) are kept; bounded by the reader,
#: cleared by register_currency() (an exponent may change; a reader that stored an
#: entry meanwhile stored it under the old exponent, where it is never found). A
#: decimal amount does not depend on the decimal context; minor units are scaled in
#: it, so the fast reader runs only in a context where scaling is exact (the default
#: one, or any with at least 18 digits: _parsing._exact_scaleb).
_MONEY: dict[tuple[Any, str, int], Money] = {}
_MINOR_MONEY: dict[tuple[Any, str, int], Money] = {}

# Money's slots, written directly: what Money(amount, code) stores once its converters have
# nothing left to change (a finite Decimal, a code already in the ISO table).
_set_amount = Money.__dict__["amount"].__set__
_set_currency = Money.__dict__["currency"].__set__
_new_money = object.__new__


def _checked_money(amount: Decimal, code: str) -> Money:
    """``Money(amount, code)`` for values the payload reader has just validated.

    ``amount`` must be a finite :class:`~decimal.Decimal` and ``code`` a key of the
    currency table (upper-case ISO code): the converters would return both unchanged,
    so they are not run again (the reader's fast path builds a few dozen per order).
    """
    money: Money = _new_money(Money)
    _set_amount(money, amount)
    _set_currency(money, code)
    return money


@attrs.frozen
class Address:
    """A postal address as the platform gave it (nothing reformatted)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    province: str | None = None
    postal_code: str | None = None
    #: ISO 3166-1 alpha-2 country code, upper-case, when the platform gives one.
    country_code: str | None = attrs.field(default=None, converter=_country)


@attrs.frozen
class Customer:
    """A shopper: a registered customer, or a guest's details taken from an order or cart.

    ``email`` and ``phone`` are kept as the platform gave them; the rules
    (:mod:`commerce_connectors.rules`) normalise them and apply the fallback chain.
    """

    platform: Platform = attrs.field(converter=_platform)
    connection_id: str = attrs.field(validator=_non_empty_str)
    external_id: str = attrs.field(validator=_non_empty_str)
    created_at: _dt.datetime = attrs.field(converter=_aware)
    updated_at: _dt.datetime = attrs.field(converter=_aware)
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    #: True / False when the platform records an explicit choice, None when unknown.
    accepts_marketing: bool | None = None
    default_address: Address | None = None
    #: Other addresses (billing, shipping, address book) in the platform's order.
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    is_guest: bool = False
    #: Platform-specific values worth keeping (e.g. Tiendanube ``identification``).
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    #: The payload exactly as received (not compared, not shown in repr).
    raw: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class LineItem:
    """One line of an order or cart."""

    name: str | None
    quantity: int | Decimal = attrs.field(converter=_quantity)
    unit_price: Money
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    category: str | None = None
    description: str | None = None
    image_url: str | None = None
    #: The line's own id on the platform, when it has one.
    external_id: str | None = None
    #: The line total as the platform computed it (after line discounts), when given.
    total: Money | None = None


@attrs.frozen
class Order:
    """An order of any status, with its lines and the buyer's details."""

    platform: Platform = attrs.field(converter=_platform)
    connection_id: str = attrs.field(validator=_non_empty_str)
    external_id: str = attrs.field(validator=_non_empty_str)
    created_at: _dt.datetime = attrs.field(converter=_aware)
    updated_at: _dt.datetime = attrs.field(converter=_aware)
    status: OrderStatus = attrs.field(converter=_order_status)
    #: The platform's own status string(s), unchanged.
    raw_status: str | None
    total: Money
    order_number: str | None = None
    email: str | None = None
    customer_external_id: str | None = None
    #: The buyer's contact details (guests included), as a Customer record.
    customer: Customer | None = None
    discount_total: Money | None = None
    discount_codes: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    shipping_method: str | None = None
    order_url: str | None = None
    lines: tuple[LineItem, ...] = attrs.field(default=(), converter=_lines)
    subtotal: Money | None = None
    shipping_total: Money | None = None
    tax_total: Money | None = None
    #: The platform's fulfilment status string, when it has a separate one.
    raw_fulfillment_status: str | None = None
    store_name: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    raw: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class ProductVariant:
    """One purchasable variant of a product."""

    external_id: str = attrs.field(validator=_non_empty_str)
    name: str | None = None
    sku: str | None = None
    price: Money | None = None
    image_url: str | None = None


@attrs.frozen
class Product:
    """A catalogue product (price and SKU of its first/default variant)."""

    platform: Platform = attrs.field(converter=_platform)
    connection_id: str = attrs.field(validator=_non_empty_str)
    external_id: str = attrs.field(validator=_non_empty_str)
    created_at: _dt.datetime = attrs.field(converter=_aware)
    updated_at: _dt.datetime = attrs.field(converter=_aware)
    name: str | None = None
    category: str | None = None
    sku: str | None = None
    price: Money | None = None
    description: str | None = None
    image_url: str | None = None
    url: str | None = None
    variants: tuple[ProductVariant, ...] = attrs.field(default=(), converter=_variants)
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    raw: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class Cart:
    """A checkout or cart that may be abandoned.

    Its last activity (``updated_at``) is what the abandonment rule measures.
    """

    platform: Platform = attrs.field(converter=_platform)
    connection_id: str = attrs.field(validator=_non_empty_str)
    external_id: str = attrs.field(validator=_non_empty_str)
    created_at: _dt.datetime = attrs.field(converter=_aware)
    updated_at: _dt.datetime = attrs.field(converter=_aware)
    total: Money
    email: str | None = None
    customer_external_id: str | None = None
    customer: Customer | None = None
    lines: tuple[LineItem, ...] = attrs.field(default=(), converter=_lines)
    recovery_url: str | None = None
    #: When the checkout was converted to an order; None while it is open.
    completed_at: _dt.datetime | None = attrs.field(default=None, converter=_aware_or_none)
    #: The order it became, when known.
    order_external_id: str | None = None
    #: The store's name, as on ``Order.store_name``, when the connector knows it.
    store_name: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    raw: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def last_activity_at(self) -> _dt.datetime:
        """The moment the abandonment delay is measured from."""
        return self.updated_at


@attrs.frozen
class Payment:
    """A payment (Square's unit of sale), linked to its order when there is one."""

    platform: Platform = attrs.field(converter=_platform)
    connection_id: str = attrs.field(validator=_non_empty_str)
    external_id: str = attrs.field(validator=_non_empty_str)
    created_at: _dt.datetime = attrs.field(converter=_aware)
    updated_at: _dt.datetime = attrs.field(converter=_aware)
    amount: Money
    #: The platform's payment status, unchanged (Square: APPROVED, COMPLETED…).
    status: str | None = None
    order_external_id: str | None = None
    customer_external_id: str | None = None
    receipt_url: str | None = None
    refunded_amount: Money | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    raw: Any = attrs.field(default=None, eq=False, repr=False)


# --------------------------------------------------------------------------
# construction for the parsers
#
# The attrs-generated __init__ sets each field through object.__setattr__ and runs every
# converter, even where the parsers already hand over the canonical value. The builders
# below take the same arguments, in the same order with the same defaults, and give the
# same record: each converter is skipped only where a test proves it would return its
# input itself; anything else goes through the converter as in __init__; a value a
# validator could refuse sends the whole call to the class itself (which raises exactly
# as ever). Fields are written straight into their slots.

_R = TypeVar("_R")

#: For each converter: a test under which it returns its argument itself (``{0}`` is
#: the argument; _country() returns an equal string), so calling it can be skipped.
_IDENTITY_WHEN: dict[Callable[[Any], Any], str] = {
    _platform: "type({0}) is _Platform",
    _order_status: "type({0}) is _OrderStatus",
    # ensure_aware_utc() returns a UTC datetime as it is.
    _aware: "(type({0}) is _datetime and {0}.tzinfo is _UTC)",
    _aware_or_none: "({0} is None or (type({0}) is _datetime and {0}.tzinfo is _UTC))",
    # _quantity() returns an int as it is, and a finite Decimal as _to_decimal() does.
    _quantity: "(type({0}) is int or (type({0}) is _Decimal and {0}.is_finite()))",
    _str_tuple: "(type({0}) is tuple and not {0})",
    # tuple() of a tuple is that tuple.
    _addresses: "type({0}) is tuple",
    _lines: "type({0}) is tuple",
    _variants: "type({0}) is tuple",
    # Upper-case ASCII letters only: nothing to strip, nothing to raise.
    _country: "({0} is None or (type({0}) is str and {0}.isascii() and {0}.isalpha() "
    "and {0}.isupper()))",
}

#: For each validator: a test under which it accepts the value.
_VALID_WHEN: dict[Callable[..., Any], str] = {
    _non_empty_str: "(type({0}) is str and {0}.strip())",
}

#: Builder calls handed to the class itself, by class name (read by the tests).
_SLOW_BUILDS: collections.Counter[str] = collections.Counter()


def _builder(cls: type[_R]) -> Callable[..., _R]:
    """A function building ``cls`` records as ``cls(...)`` does, for the parsers.

    Returns ``cls`` itself for a class with a field the builder does not know how to
    handle (an unknown converter or validator, ``init=False``, keyword-only, an alias).
    """
    names: dict[str, Any] = {
        "_cls": cls,
        "_new": object.__new__,
        "_NOTHING": attrs.NOTHING,
        "_Platform": Platform,
        "_OrderStatus": OrderStatus,
        "_datetime": _dt.datetime,
        "_UTC": _UTC,
        "_Decimal": Decimal,
        "_slow": _SLOW_BUILDS,
    }
    params: list[str] = []
    prepare: list[str] = []
    checks: list[str] = []
    stores: list[str] = []
    if (
        hasattr(cls, "__attrs_post_init__")
        or hasattr(cls, "__attrs_pre_init__")
        or any("cached_hash" in slot for slot in getattr(cls, "__slots__", ()))
    ):
        return cls
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if not field.init or field.kw_only or field.alias != name or field.on_setattr:
            return cls
        slot = cls.__dict__.get(name)
        if not isinstance(slot, types.MemberDescriptorType):
            return cls  # not a slotted class: nothing to write into directly
        if field.default is attrs.NOTHING:
            params.append(name)
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            if field.default.takes_self:
                return cls
            names[f"_f_{name}"] = field.default.factory
            params.append(f"{name}=_NOTHING")
            prepare.append(f"    {name}_ = _f_{name}() if {name} is _NOTHING else {name}")
        else:
            names[f"_d_{name}"] = field.default
            params.append(f"{name}=_d_{name}")
        value = f"{name}_" if isinstance(field.default, attrs.Factory) else name  # type: ignore[arg-type]
        converter = field.converter
        if converter is not None:
            if not callable(converter) or isinstance(converter, attrs.Converter):
                return cls
            names[f"_c_{name}"] = converter
            test = _IDENTITY_WHEN.get(converter)
            if test is None:
                prepare.append(f"    {name}_ = _c_{name}({value})")
            else:
                prepare.append(
                    f"    {name}_ = {value} if {test.format(value)} else _c_{name}({value})"
                )
            value = f"{name}_"
        if field.validator is not None:
            test = _VALID_WHEN.get(field.validator)
            if test is None:
                return cls
            checks.append(test.format(value))
        names[f"_s_{name}"] = slot.__set__
        stores.append(f"    _s_{name}(self, {value})")
    arguments = ", ".join(param.partition("=")[0] for param in params)
    lines = [f"def build({', '.join(params)}):", *prepare]
    if checks:
        # Validators run after every converter, as in __init__.
        lines.append(f"    if not ({' and '.join(checks)}):")
        lines.append(f"        _slow[{cls.__name__!r}] += 1")
        lines.append(f"        return _cls({arguments})")
    lines.append("    self = _new(_cls)")
    lines += stores
    lines.append("    return self")
    code = "\n".join(lines) + "\n"
    # The code is made of field names and fixed text only, never of values.
    exec(compile(code, f"<builder of {cls.__qualname__}>", "exec"), names)  # noqa: S102
    built: Callable[..., _R] = names["build"]
    built.__doc__ = f"``{cls.__name__}(...)`` for the parsers (same arguments, same record)."
    return built


#: Every top-level record type, by the kind name used in sinks and checkpoints.
RECORD_TYPES: Mapping[str, type[Customer | Order | Product | Cart | Payment]] = {
    "customer": Customer,
    "order": Order,
    "product": Product,
    "cart": Cart,
    "payment": Payment,
}


# The parsers' builders. To the type checker they are the classes themselves: same
# arguments, same result.
if TYPE_CHECKING:
    _new_address = Address
    _new_customer = Customer
    _new_line_item = LineItem
    _new_order = Order
    _new_variant = ProductVariant
    _new_product = Product
    _new_cart = Cart
    _new_payment = Payment
else:
    _new_address = _builder(Address)
    _new_customer = _builder(Customer)
    _new_line_item = _builder(LineItem)
    _new_order = _builder(Order)
    _new_variant = _builder(ProductVariant)
    _new_product = _builder(Product)
    _new_cart = _builder(Cart)
    _new_payment = _builder(Payment)

#: The builder of each record class, and the names of its fields (in order).
_BUILDERS: dict[type, Callable[..., Any]] = {
    Address: _new_address,
    Customer: _new_customer,
    LineItem: _new_line_item,
    Order: _new_order,
    ProductVariant: _new_variant,
    Product: _new_product,
    Cart: _new_cart,
    Payment: _new_payment,
}
#: Per record class: its fields' values as a tuple (in field order), and each field's
#: place in it.
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    cls: operator.attrgetter(*(field.name for field in attrs.fields(cls))) for cls in _BUILDERS
}
_PLACES: dict[type, dict[str, int]] = {
    cls: {field.name: n for n, field in enumerate(attrs.fields(cls))} for cls in _BUILDERS
}


def _evolve(record: _R, **changes: Any) -> _R:
    """``attrs.evolve(record, **changes)`` through the record's builder (for the parsers).

    evolve() calls the class with every field's current value, ``changes`` replacing
    some: here the builder gets the same values, in field order.
    """
    cls = type(record)
    getter = _GETTERS.get(cls)
    places = _PLACES.get(cls)
    if getter is None or places is None or not changes.keys() <= places.keys():
        return attrs.evolve(record, **changes)  # type: ignore[misc]
    values = list(getter(record))
    for name, value in changes.items():
        values[places[name]] = value
    built: _R = _BUILDERS[cls](*values)
    return built
