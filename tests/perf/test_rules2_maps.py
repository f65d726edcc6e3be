"""Field maps' second round of generated code gives exactly what the interpreted maps give.

* ``minor_units`` of a Money calls the function ``Money.to_minor_units`` itself
  calls (``models._minor_units_of``), without the method call;
* ``each`` fields look the element class's fields function up once, from the
  first element, and send any element of another class the usual way;
* a one-step path naming a property (``Contact.external_id``) is read as
  ``record.name``, with the reader called for whatever it would refuse;
* the ``list``, ``email`` and ``join`` transforms are inlined for their usual
  input types;
* ``FieldMap._mapped`` is ``apply`` without the :class:`MappedRecord`.

Each is held to the interpreted reference and the closures (the helpers of
``test_maps_generated.py``) on odd values, shown to be the code that runs, and
shown able to fail (a planted difference is caught).
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_maps_generated import _maps, _outcome, _records, _same_everywhere

from commerce_connectors import models
from commerce_connectors.errors import MappingError
from commerce_connectors.mapping import (
    CONTACT_MAP,
    LINE_MAP,
    ORDER_MAP,
    TRANSFORMS,
    FieldMap,
    FieldSpec,
    _codegen,
    _fieldmap,
)
from commerce_connectors.models import LineItem, Money, Order, Product
from commerce_connectors.testing import strategies as cs

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 10, 4, 12, tzinfo=UTC)


def _money(amount: Any, currency: str) -> Money:
    """A Money holding exactly these values (the converters bypassed on purpose)."""
    money = Money("0", "USD")
    object.__setattr__(money, "amount", amount)
    object.__setattr__(money, "currency", currency)
    return money


_amounts = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.sampled_from(
    [Decimal("1.005"), Decimal("1.015"), Decimal("-2.5E-2"), Decimal("1E+40"), Decimal("-0"),
     Decimal("123456789012345678901234567.891"), Decimal("0.5"), Decimal("7")]
)  # fmt: skip
_currencies = st.sampled_from(["USD", "JPY", "KWD", "CLF", "XAU", "XXX", "NOPE", "usd"])


def _price(money: Any) -> Product:
    return Product("shopify", "s", "1", T0, T0, name="p", price=money)


_PRICE_MAP = FieldMap("product", [FieldSpec("cents", "price", transform="minor_units")])


@given(amount=_amounts, currency=_currencies, precision=st.sampled_from([None, 5, 40]))
def test_minor_units_written_out_equal_the_method(
    amount: Decimal, currency: str, precision: int | None
) -> None:
    money = _money(amount, currency)
    with decimal.localcontext() as context:
        if precision is not None:
            context.prec = precision  # the same arithmetic, under another context
        _same_everywhere(_PRICE_MAP, _price(money))
        _same_everywhere(LINE_MAP, LineItem(name="x", quantity=1, unit_price=money))


def test_the_method_and_the_generated_maps_share_one_conversion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "_minor_units_of(v.amount, v.currency)" in _codegen._MINOR_UNITS
    calls: list[tuple[Decimal, str]] = []
    real = models._minor_units_of

    def spy(amount: Decimal, currency: str, rounding: str = models.ROUNDING) -> int:
        calls.append((amount, currency))
        return real(amount, currency, rounding)

    monkeypatch.setattr(models, "_minor_units_of", spy)
    assert Money("1.015", "USD").to_minor_units() == 102  # banker's rounding: 101.5 -> 102
    assert calls == [(Decimal("1.015"), "USD")]


def test_a_planted_mistake_in_the_written_out_form_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truncating = (
        "int(v.amount.scaleb(_currency_exponent(v.currency))) if type(v) is _Money else {t}(v)"
    )
    wrong = tuple(
        (fn, truncating) if fn is TRANSFORMS["minor_units"] else (fn, text)
        for fn, text in _codegen._INLINE
    )
    monkeypatch.setattr(_codegen, "_INLINE", wrong)
    fresh = FieldMap("product", list(_PRICE_MAP.fields))
    with pytest.raises(AssertionError):
        _same_everywhere(fresh, _price(Money("1.015", "USD")))


# -- each: the element class looked up once ---------------------------------------------------


@attrs.frozen
class _SubLine(LineItem):
    """A line of another class (its own generated functions)."""


class _Lines(Sequence[Any]):
    """A sequence that is neither a list nor a tuple."""

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)


_line = LineItem(name="a", quantity=2, unit_price=Money("1.25", "USD"), product_id="9")
_others = st.sampled_from(
    [
        _line,
        _SubLine(name="b", quantity=1, unit_price=Money("3", "EUR")),
        {"name": "dict line"},
        None,
        "text",
        7,
        Money("1", "USD"),
    ]
)


def _iter(items: list[Any]) -> Any:
    return iter(items)


@given(lines=st.lists(_others, max_size=5), wrap=st.sampled_from([list, tuple, _Lines, _iter]))
def test_each_element_class_is_looked_up_once_and_equal(lines: list[Any], wrap: Any) -> None:
    order = Order(
        "shopify", "s", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("2.50", "USD"), lines=[_line],
    )  # fmt: skip
    object.__setattr__(order, "lines", wrap(lines))
    _same_everywhere(ORDER_MAP, order)
    _same_everywhere(FieldMap("order", list(ORDER_MAP.fields)), order)


def test_each_uses_the_looked_up_function_and_a_planted_difference_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = Order(
        "shopify", "s", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("2.50", "USD"), lines=[_line, _line, _line],
    )  # fmt: skip
    asked: list[type] = []
    real = _fieldmap._Compiled.fields_for

    def counting(self: Any, cls: type) -> Any:
        asked.append(cls)
        return real(self, cls)

    monkeypatch.setattr(_fieldmap._Compiled, "fields_for", counting)
    fresh = FieldMap("order", list(ORDER_MAP.fields))
    _same_everywhere(fresh, order)
    assert set(asked) == {LineItem}
    # Once per order, not once per line.
    before = len(asked)
    fresh._run(order)
    assert len(asked) == before + 1

    def wrong(self: Any, cls: type) -> Any:
        fields = real(self, cls)
        return lambda record, prefix, problems: {**fields(record, prefix, problems), "x": 1}

    monkeypatch.setattr(_fieldmap._Compiled, "fields_for", wrong)
    with pytest.raises(AssertionError):
        _same_everywhere(FieldMap("order", list(ORDER_MAP.fields)), order)


# -- properties read as attributes ------------------------------------------------------------


@attrs.frozen
class _Props:
    """A record whose properties do everything a reader must survive."""

    plain: Any = None
    raw: Any = None

    @property
    def fine(self) -> Any:
        return self.plain

    @property
    def missing(self) -> Any:
        raise AttributeError("not here")

    @property
    def method_like(self) -> Any:
        return lambda: 1

    @property
    def broken(self) -> Any:
        raise ValueError("broken property")

    @property
    def flaky(self) -> Any:
        if isinstance(self.plain, int) and self.plain > 3:
            raise AttributeError("too big")
        return self.plain

    def method(self) -> int:
        return 1


_PROPS = ["fine", "missing", "method_like", "flaky", "method", "plain", "nope"]


@given(
    plain=st.none() | st.integers(0, 6) | st.text(max_size=3),
    picks=st.lists(
        st.tuples(st.sampled_from(_PROPS), st.sampled_from([None, "text", "list"]), st.booleans()),
        max_size=4,
    ),
    external=st.sampled_from(_PROPS),
    required=st.booleans(),
)
def test_properties_read_as_attributes_equal_the_reader(
    plain: Any, picks: list[Any], external: str, required: bool
) -> None:
    specs = [FieldSpec(f"f{n}", p, t, r) for n, (p, t, r) in enumerate(picks)]
    fmap = FieldMap("props", specs, external, required)
    _same_everywhere(fmap, _Props(plain))
    broken = FieldMap("props", [FieldSpec("b", "broken")])
    _same_everywhere(broken, _Props(plain))


def test_property_reads_are_written_out(monkeypatch: pytest.MonkeyPatch) -> None:
    sources: list[str] = []
    real_compile = builtins.compile

    def spy(source: str, *args: Any, **kwargs: Any) -> Any:
        sources.append(source)
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr(_codegen, "compile", spy, raising=False)
    fmap = FieldMap("props", [FieldSpec("a", "fine")], "flaky", False)
    _same_everywhere(fmap, _Props(2))
    assert any("v = record.fine" in s and "v = record.flaky" in s for s in sources)
    # Without the fallback to the reader, a refused property would be taken: caught.
    monkeypatch.undo()

    real_read = _codegen._read

    def lax_read(w: Any, depth: int, cls: type, path: Any, tag: str, error: str) -> int:
        name = _codegen._property(cls, path)
        if name is None:
            return real_read(w, depth, cls, path, tag, error)
        w.line(depth, f"v = record.{name}")
        return depth

    monkeypatch.setattr(_codegen, "_read", lax_read)
    lax = FieldMap("props", [FieldSpec("m", "method_like", transform="text")], "plain", False)
    with pytest.raises(AssertionError):
        _same_everywhere(lax, _Props(1))


# -- list, email, join inlined --------------------------------------------------------------


class _Email(str):
    pass


_inline_values = st.sampled_from(
    [
        " Ann@Shop.IO ",
        "bad@",
        "",
        _Email("A@B.co"),
        7,
        None,
        ("a", "b"),
        ["a", None, ""],
        (),
        [],
        ("",),
        "abc",
        {"a": 1},
        b"xy",
        _Lines(["q"]),
    ]
)


@given(value=_inline_values, transform=st.sampled_from(["list", "email", "join"]))
def test_inlined_list_email_join_equal_the_transforms(value: Any, transform: str) -> None:
    fmap = FieldMap("product", [FieldSpec("v", "name", transform=transform, required=True)])
    product = _price(Money("1", "USD"))
    object.__setattr__(product, "name", value)
    _same_everywhere(fmap, product)


# -- _mapped is apply without MappedRecord --------------------------------------------------


@given(record=_records(), fmap=_maps())
def test_mapped_equals_apply(record: Any, fmap: FieldMap) -> None:
    def via_apply() -> Any:
        try:
            made = fmap.apply(record)
        except MappingError as exc:
            return ("error", exc.problems, exc.kind, exc.record_id, exc.platform, repr(exc))
        except Exception as exc:
            return ("raised", type(exc), str(exc))
        return ("ok", made.external_id, repr(made.fields))

    def via_mapped() -> Any:
        try:
            external_id, values = fmap._mapped(record)
        except MappingError as exc:
            return ("error", exc.problems, exc.kind, exc.record_id, exc.platform, repr(exc))
        except Exception as exc:
            return ("raised", type(exc), str(exc))
        return ("ok", external_id, repr(values))

    assert via_mapped() == via_apply()


@given(st.one_of(cs.orders(), cs.customers()))
def test_default_contact_and_order_maps_still_equal(record: Any) -> None:
    from commerce_connectors.rules import prepare_contact

    contact = prepare_contact(record).contact
    if contact is not None:
        _same_everywhere(CONTACT_MAP, contact)
    if isinstance(record, Order):
        _same_everywhere(ORDER_MAP, record)
    assert _outcome(ORDER_MAP._run, record)[0] in ("ran", "raised")
