"""Paths of names only are read by unrolled readers equal to the step-by-step walker.

``customer.phone``, ``total.currency`` (canonical, several names) and
``$.billing_address.phone`` (raw, names only) get a reader that does, step by
step, exactly what the general compiled reader does for a plain attrs field or
a dict, and hands anything else to that reader. On random records (raw payloads
of dicts, lists, mapping subclasses; properties, private names, typos) the value,
the parent and the error must equal the reference walker's; the unrolled readers
are shown to be the ones used, and a planted difference is caught.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.models import Customer, Money, Order
from commerce_connectors.rules import _paths
from commerce_connectors.rules._paths import FieldPath, PathError
from commerce_connectors.testing import strategies as cs

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

_CANONICAL = [
    "customer.phone",
    "customer.email",
    "customer.default_address.phone",
    "customer.default_address.country_code",
    "default_address.phone",
    "total.currency",
    "total.exponent",
    "total.nope",
    "customer._private",
    "customer.to_minor_units",
    "extra.a",
    "extra.a.b",
    "raw.a",
    "lines.sku",
    "price.amount",
    "customer.extra.a",
    "nope.phone",
]
_RAW = ["$.a", "$.a.b", "$.a.b.c", "$.billing_address.phone", "$.phone", "$.a.n"]

_leaf = st.none() | st.integers(0, 3) | st.text(max_size=2)
_raw = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "phone", "billing_address"]), inner)
        | st.dictionaries(st.sampled_from(["a", "b"]), inner).map(OrderedDict)
    ),
    max_leaves=6,
)


@st.composite
def _records(draw: st.DrawFn) -> Any:
    record = draw(cs.records())
    record = attrs.evolve(record, raw=draw(_raw))
    if hasattr(record, "extra") and draw(st.booleans()):
        record = attrs.evolve(record, extra={"a": draw(_raw)})
    return record


def _outcome(read: Any, record: Any) -> Any:
    try:
        value, parent = read(record)
    except PathError as exc:
        return ("error", str(exc))
    return ("ok", repr(value), id(parent) if parent is not None else None)


def _reference(path: FieldPath) -> Any:
    def read(record: Any) -> Any:
        found = path._resolve_reference(record)
        return found[0].value, found[0].parent

    return read


def _same(path: FieldPath, record: Any) -> Any:
    reader = path.reader()
    assert reader is not None
    expected = _outcome(_reference(path), record)
    assert _outcome(reader, record) == expected
    assert _outcome(reader, record) == expected  # after the fast sets are filled
    return expected


@given(record=_records(), text=st.sampled_from(_CANONICAL + _RAW))
def test_unrolled_readers_equal_the_walker(record: Any, text: str) -> None:
    path = FieldPath.parse(text)
    _same(path, record)
    assert path.reader().__name__ in ("read_names", "read_raw")  # type: ignore[union-attr]


def test_a_planted_difference_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    order = _order()
    path = FieldPath.parse("customer.email")
    assert _same(path, order)[0] == "ok"
    monkeypatch.setattr(_paths, "_BY_ID", {})
    _paths._compiled.cache_clear()
    real = _paths._names

    def wrong(path: Any, direct: Any, read: Any) -> Any:
        made = real(path, direct, read)
        return lambda record: (made(record)[0], None)  # the parent lost

    monkeypatch.setattr(_paths, "_names", wrong)
    with pytest.raises(AssertionError):
        _same(FieldPath.parse("customer.email"), order)
    _paths._compiled.cache_clear()


def _order() -> Order:
    buyer = Customer("shopify", "s", "1", T0, T0, email="a@b.co")
    return Order(
        "shopify", "s", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("1", "USD"), customer=buyer, raw={"phone": "1"},
    )  # fmt: skip
