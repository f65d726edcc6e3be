"""The parsers' record builders give what the classes give, and Money's minor units are exact.

``models._new_order`` (and one builder per record class) takes the arguments of
``Order(...)`` and writes the fields straight into their slots, skipping each converter
only where its result is its input itself and handing anything a validator could refuse
to the class. Here, for random canonical *and* non-canonical arguments, a builder and
the class must give the same record (same field values of the same types, equal, same
hash and repr) or raise the same error; a builder made from a wrong table of identity
tests is caught; the builders really build the parsers' records without the class; and
every public parser gives the same records and errors with the builders as with the
classes. The last part checks :meth:`Money.to_minor_units` against a word-for-word copy
of its body before its exact shortcut.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors import models
from commerce_connectors.models import (
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
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_parsing_fast_path import CASES, READER_MODULES, outcome

UTC = dt.timezone.utc

BUILDERS: dict[type, Callable[..., Any]] = {
    Address: models._new_address,
    Customer: models._new_customer,
    LineItem: models._new_line_item,
    Order: models._new_order,
    ProductVariant: models._new_variant,
    Product: models._new_product,
    Cart: models._new_cart,
    Payment: models._new_payment,
}


# -- random arguments, canonical or not --------------------------------------------------------

_aware_utc = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)
)
_ids = st.text(min_size=1, max_size=6).filter(str.strip)
_texts = st.one_of(st.none(), st.text(max_size=5))
_money = st.builds(
    Money, st.decimals(allow_nan=False, allow_infinity=False, places=2), st.just("USD")
)
_str_tuples = st.one_of(st.just(()), st.lists(st.text(max_size=3), max_size=2).map(tuple))
_other_datetimes = st.one_of(
    st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=-3)))).filter(
        lambda d: dt.datetime(1, 1, 2) <= d.replace(tzinfo=None) <= dt.datetime(9999, 12, 30)
    ),
    st.datetimes(),  # naive: refused
    st.just("2024-01-01T00:00:00Z"),  # not a datetime: refused
    st.just(dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(0)))),  # UTC, not utc
)
_other_ids = st.one_of(st.sampled_from(["", " ", "\t"]), st.integers(0, 9), st.none())


def _field_values(field: attrs.Attribute[Any]) -> tuple[Any, Any]:
    """Values for one field: (what a parser passes, what it never does)."""
    name = field.name
    if name == "platform":
        return st.sampled_from(list(Platform)), st.sampled_from(["square", "nope", None])
    if name == "status" and field.converter is not None:
        return st.sampled_from(list(OrderStatus)), st.sampled_from(["paid", "?", 1])
    if name in ("connection_id", "external_id") and field.validator is not None:
        return _ids, _other_ids
    if name in ("created_at", "updated_at"):
        return _aware_utc, _other_datetimes
    if name == "completed_at":
        return st.one_of(st.none(), _aware_utc), _other_datetimes
    if name == "quantity":
        return (
            st.one_of(st.integers(0, 10**20), st.decimals(allow_nan=False, places=3)),
            st.one_of(
                st.integers(-5, -1),
                st.decimals(allow_nan=True, allow_infinity=True),
                st.sampled_from(["2", "2.0", " 3 ", "x", 1.5, True, None]),
            ),
        )
    if name in ("tags", "discount_codes"):
        return _str_tuples, st.one_of(
            st.lists(st.text(max_size=3), max_size=2),
            st.lists(st.integers(), min_size=1, max_size=2).map(tuple),
            st.just("ab"),
        )
    if name == "country_code":
        return st.one_of(st.none(), st.sampled_from(["US", "MX", "FR"])), st.one_of(
            st.sampled_from(["mx", " fr ", "", "  ", "Ab", "ÉC", "U1", "ǅX", "ΣΣ", "USA"]),
            st.text(max_size=3),
            st.integers(0, 3),
        )
    if name in ("lines", "addresses", "variants"):
        return st.one_of(st.just(()), st.just((None,))), st.lists(st.none(), max_size=2)
    if name in ("total", "unit_price", "amount", "price", "discount_total", "subtotal"):
        return st.one_of(st.none(), _money), st.just(Decimal(1))
    if name == "extra":
        return st.one_of(
            st.just(attrs.NOTHING), st.dictionaries(st.text(max_size=2), _texts, max_size=2)
        ), st.just([("a", 1)])
    if name in ("is_guest", "accepts_marketing"):
        return st.one_of(st.none(), st.booleans()), st.just("yes")
    if name == "raw":
        return st.one_of(
            st.none(), st.dictionaries(st.text(max_size=2), _texts, max_size=2)
        ), st.just([])
    return _texts, st.integers()


@st.composite
def _arguments(draw: st.DrawFn, cls: type, odd: frozenset[str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``cls``: every required field and some optional ones, all as
    a parser passes them, but for (often) one or two fields (``odd``, when given) given
    what it never passes."""
    fields = attrs.fields(cls)
    names = [f.name for f in fields]
    if odd is None:
        odd = frozenset(draw(st.lists(st.sampled_from(names), max_size=2)))
    kwargs: dict[str, Any] = {}
    for field in fields:
        usual, other = _field_values(field)
        if field.default is not attrs.NOTHING and field.name not in odd and draw(st.booleans()):
            continue  # left to its default
        kwargs[field.name] = draw(other if field.name in odd else usual)
    return {k: v for k, v in kwargs.items() if v is not attrs.NOTHING}


def _made(
    make: Callable[..., Any], kwargs: dict[str, Any], args: tuple[Any, ...] = ()
) -> tuple[str, Any]:
    """The record, or the exception, of ``make(*args, **kwargs)``."""
    try:
        return ("ok", make(*args, **kwargs))
    except Exception as exc:  # the exception is what is compared
        return ("raised", (type(exc), str(exc)))


def _fields(record: Any) -> list[tuple[str, type, Any]]:
    return [
        (f.name, type(getattr(record, f.name)), getattr(record, f.name))
        for f in attrs.fields(type(record))
    ]


def _same(built: tuple[str, Any], made: tuple[str, Any]) -> bool:
    """Same error, or records with equal fields of the same types (raw: the same object)."""
    if built[0] != made[0]:
        return False
    if built[0] == "raised":
        return bool(built[1] == made[1])
    a, b = built[1], made[1]
    if type(a) is not type(b) or _fields(a) != _fields(b) or a != b or repr(a) != repr(b):
        return False
    if getattr(a, "raw", None) is not getattr(b, "raw", None):
        return False
    with contextlib.suppress(TypeError):  # an unhashable extra/raw: both unhashable
        return hash(a) == hash(b)
    with pytest.raises(TypeError):
        hash(b)
    return True


@pytest.mark.parametrize("cls", list(BUILDERS), ids=lambda c: c.__name__)
@settings(max_examples=400)
@given(data=st.data())
def test_a_builder_gives_what_the_class_gives(cls: type, data: st.DataObject) -> None:
    kwargs = data.draw(_arguments(cls))
    built = _made(BUILDERS[cls], kwargs)
    assert _same(built, _made(cls, kwargs)), (built, kwargs)
    # Positionally too, in field order (the classes take their fields that way).
    names = [f.name for f in attrs.fields(cls)]
    if all(name in kwargs for name in names):
        args = tuple(kwargs[name] for name in names)
        assert _same(_made(BUILDERS[cls], {}, args), _made(cls, {}, args))


def test_builders_exist_for_every_record_class() -> None:
    for cls, builder in BUILDERS.items():
        assert builder is not cls, cls  # a builder was made: no field it cannot handle
    assert models._builder(_Odd) is _Odd
    # Classes whose __init__ does more than set slots are built by the class itself.
    assert models._builder(_CachedHash) is _CachedHash
    assert models._builder(_NoSlots) is _NoSlots
    assert models._builder(_PostInit) is _PostInit


@attrs.frozen(cache_hash=True)
class _CachedHash:
    value: int = 0


@attrs.frozen(slots=False)
class _NoSlots:
    value: int = 0


@attrs.frozen
class _PostInit:
    value: int = 0

    def __attrs_post_init__(self) -> None:
        pass


@attrs.frozen
class _Odd:
    """A class with a validator the builders do not know: built by the class itself."""

    value: int = attrs.field(validator=attrs.validators.instance_of(int))


@settings(max_examples=200)
@given(kwargs=_arguments(Order))
def test_validators_turned_off_are_off_for_builders_too(kwargs: dict[str, Any]) -> None:
    attrs.validators.set_disabled(True)
    try:
        assert _same(_made(models._new_order, kwargs), _made(Order, kwargs))
    finally:
        attrs.validators.set_disabled(False)


@pytest.mark.parametrize("cls", list(BUILDERS), ids=lambda c: c.__name__)
@settings(max_examples=200)
@given(data=st.data())
def test_evolve_gives_what_attrs_evolve_gives(cls: type, data: st.DataObject) -> None:
    made = _made(cls, data.draw(_arguments(cls)))
    if made[0] != "ok":
        return
    changes = data.draw(_arguments(cls))
    kept = data.draw(st.sets(st.sampled_from(sorted(changes))) if changes else st.just(set()))
    changes = {k: v for k, v in changes.items() if k in kept}
    assert _same(
        _made(lambda: models._evolve(made[1], **changes), {}),
        _made(lambda: attrs.evolve(made[1], **changes), {}),
    )
    assert models._evolve(_Odd(1), value=2) == _Odd(2)  # a class without a builder
    # An unknown field: attrs.evolve's own error.
    assert _made(lambda: models._evolve(made[1], nope=1), {})[1][0] is TypeError


# -- a wrong builder is caught ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("converter", "wrong_test"),
    [
        (models._aware, "isinstance({0}, _datetime)"),  # a non-UTC datetime is not UTC
        (models._country, "True"),  # "mx" is not "MX"
        (models._quantity, "True"),  # "2" is not 2
        (models._str_tuple, "type({0}) is tuple"),  # ("a", 1) is not ("a", "1")
        (models._lines, "True"),  # a list is not a tuple
    ],
)
def test_a_wrong_identity_test_is_caught(
    monkeypatch: pytest.MonkeyPatch, converter: Callable[[Any], Any], wrong_test: str
) -> None:
    monkeypatch.setitem(models._IDENTITY_WHEN, converter, wrong_test)
    caught = []
    for cls in BUILDERS:
        wrong = models._builder(cls)
        for field in attrs.fields(cls):
            if field.converter is not converter:
                continue

            # The field under test takes the values a parser never passes.
            @settings(max_examples=100, database=None)
            @given(kwargs=_arguments(cls, frozenset([field.name])))
            def check(kwargs: dict[str, Any]) -> None:
                assert _same(_made(wrong, kwargs), _made(cls, kwargs))  # noqa: B023

            try:
                check()
            except AssertionError:
                caught.append((cls, field.name))
    assert caught, "no difference found"


def test_a_wrong_validity_test_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(models._VALID_WHEN, models._non_empty_str, "True")
    wrong = models._builder(Order)
    kwargs = {
        "platform": Platform.SHOPIFY,
        "connection_id": " ",
        "external_id": "1",
        "created_at": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "updated_at": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "status": OrderStatus.PAID,
        "raw_status": None,
        "total": Money("1", "USD"),
    }
    assert not _same(_made(wrong, kwargs), _made(Order, kwargs))
    before = models._SLOW_BUILDS["Order"]
    assert _same(_made(models._new_order, kwargs), _made(Order, kwargs))
    assert models._SLOW_BUILDS["Order"] == before + 1  # handed to the class, which raised


# -- the parsers' records ----------------------------------------------------------------------

#: Builder names each parser module imports, with the class each stands for.
_NAMES = {
    "_new_address": Address,
    "_new_customer": Customer,
    "_new_line_item": LineItem,
    "_new_order": Order,
    "_new_variant": ProductVariant,
    "_new_product": Product,
    "_new_cart": Cart,
    "_new_payment": Payment,
}


def _parser_modules() -> list[Any]:
    from commerce_connectors.platforms.shopify import _shared

    return [*READER_MODULES, _shared]


@contextlib.contextmanager
def classes_only() -> Iterator[None]:
    """The parsers build their records with the classes themselves meanwhile."""
    saved = [
        (module, name, getattr(module, name))
        for module in _parser_modules()
        for name in _NAMES
        if hasattr(module, name)
    ]
    try:
        for module, name, _ in saved:
            setattr(module, name, _NAMES[name])
        yield
    finally:
        for module, name, builder in saved:
            setattr(module, name, builder)


@contextlib.contextmanager
def class_calls() -> Iterator[dict[str, int]]:
    """Counts the records built by the classes' own ``__init__`` meanwhile."""
    counts: dict[str, int] = {}
    saved = {cls: cls.__init__ for cls in _NAMES.values()}

    def counted(cls: type, init: Callable[..., None]) -> Callable[..., None]:
        def init_counted(self: Any, *args: Any, **kwargs: Any) -> None:
            counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
            init(self, *args, **kwargs)

        return init_counted

    try:
        for cls, init in saved.items():
            cls.__init__ = counted(cls, init)  # type: ignore[misc]
        yield counts
    finally:
        for cls, init in saved.items():
            cls.__init__ = init  # type: ignore[misc]


def test_every_parser_module_builds_with_the_builders() -> None:
    for module in _parser_modules():
        for name in _NAMES:
            if hasattr(module, name):
                assert getattr(module, name) is getattr(models, name), (module, name)


def test_official_examples_are_built_without_the_classes() -> None:
    for name, (seeds, parse) in CASES.items():
        for seed in seeds:
            with class_calls() as counts:
                built = outcome(parse, seed)
            assert built[0] == "parsed", name
            # Money is built by its class (or the reader's own shortcut); records are not.
            assert {k: v for k, v in counts.items() if k != "Money"} == {}, (name, counts)
            with classes_only():
                assert outcome(parse, seed) == built, name


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=60)
@given(data=st.data())
def test_parsers_give_the_same_records_and_errors_with_the_classes(
    name: str, data: st.DataObject
) -> None:
    from test_parsing_fast_path import KEYS, mutated

    seeds, parse = CASES[name]
    bundle = data.draw(st.sampled_from(seeds).flatmap(lambda seed: mutated(seed, KEYS)))
    built = outcome(parse, bundle)
    with classes_only():
        assert outcome(parse, bundle) == built


def test_a_planted_difference_in_a_builder_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # A builder that drops the line's sku: the parsers' records then differ.
    real = models._new_line_item

    def planted(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("sku", None)
        return real(*args, **kwargs)

    for module in _parser_modules():
        if hasattr(module, "_new_line_item"):
            monkeypatch.setattr(module, "_new_line_item", planted)
    caught = [
        name
        for name, (seeds, parse) in CASES.items()
        if any(outcome(parse, s) != _with_classes(parse, s) for s in seeds)
    ]
    assert len(caught) >= 4, caught


def _with_classes(parse: Callable[[dict[str, Any]], Any], bundle: dict[str, Any]) -> Any:
    with classes_only():
        return outcome(parse, bundle)


# -- Money.to_minor_units -------------------------------------------------------------------


def _to_minor_units_before(money: Money, *, rounding: str = ROUND_HALF_EVEN) -> int:
    """The body of Money.to_minor_units before its shortcut, word for word."""
    exponent = money.exponent
    scaled = money.amount.scaleb(exponent)
    return int(scaled.quantize(Decimal(1), rounding=rounding))


def _units(convert: Callable[..., int], money: Money, rounding: str) -> Any:
    try:
        return ("ok", convert(money, rounding=rounding))
    except Exception as exc:  # the exception is what is compared
        return ("raised", type(exc).__name__, str(exc))


_CODES = ["USD", "JPY", "KWD", "CLF", "BHD", "XAU", "EUR", "ISK"]


@settings(max_examples=2000)
@given(
    amount=st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.decimals(allow_nan=False, allow_infinity=False, places=5),
        st.integers(-(10**30), 10**30).map(Decimal),
        st.sampled_from(
            ["0", "-0", "0.00", "-0.000", "1E+3", "1e-40", "12.345", "-2.5", "0.5"]
        ).map(Decimal),
    ),
    code=st.sampled_from(_CODES),
    rounding=st.sampled_from([ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_DOWN, ROUND_UP]),
)
def test_minor_units_are_what_they_were(amount: Decimal, code: str, rounding: str) -> None:
    money = Money(amount, code)
    assert _units(Money.to_minor_units, money, rounding) == _units(
        _to_minor_units_before, money, rounding
    )


def test_a_planted_shortcut_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shortcut first proposed (a whole scaled amount returned as it is) accepts what
    # the reference refuses: 1E+26 USD is 29 digits of cents, past the context's precision.
    def shortcut(self: Money, *, rounding: str = ROUND_HALF_EVEN) -> int:
        scaled = self.amount.scaleb(self.exponent)
        whole = int(scaled)
        if whole == scaled:
            return whole
        return int(scaled.quantize(Decimal(1), rounding=rounding))

    large = Money(Decimal("1E+26"), "USD")
    assert _units(Money.to_minor_units, large, ROUND_HALF_EVEN)[0] == "raised"
    monkeypatch.setattr(Money, "to_minor_units", shortcut)
    assert _units(Money.to_minor_units, large, ROUND_HALF_EVEN) != _units(
        _to_minor_units_before, large, ROUND_HALF_EVEN
    )
