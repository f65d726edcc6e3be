"""Compiled field maps and paths give exactly what the interpreted reference gives.

``FieldMap.apply`` and ``check`` run a map compiled once (readers per path,
transforms resolved per spec); ``FieldMap._run_interpreted`` and
``FieldPath._resolve_reference`` are the step-by-step reference. On random
records (the public strategies, with random raw payloads) and random maps
(any path, transform, required flag, nested ``each``, external-id source),
both must give the same external id, the same values and the same problems,
in the same order.
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.errors import MappingError
from commerce_connectors.mapping import (
    CONTACT_MAP,
    DEFAULT_MAPS,
    LINE_MAP,
    ORDER_MAP,
    TRANSFORMS,
    FieldMap,
    FieldPath,
    FieldSpec,
)
from commerce_connectors.models import Customer, LineItem, Money, Order
from commerce_connectors.rules import prepare_contact
from commerce_connectors.rules._paths import PathError
from commerce_connectors.testing import strategies as cs

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 10, 4, 12, tzinfo=UTC)

# Canonical paths that exist on some record kinds and not others, nested ones,
# indexes in and out of range, properties (``exponent``, ``last_activity_at``),
# methods (refused), private names (refused), typos, and indexes into scalars.
_CANONICAL = [
    "external_id",
    "email",
    "phone",
    "name",
    "total",
    "total.amount",
    "total.currency",
    "total.exponent",
    "total.to_minor_units",
    "price.currency",
    "amount",
    "status",
    "status.value",
    "tags",
    "tags[0]",
    "tags[3]",
    "lines",
    "lines[0].sku",
    "lines[1].unit_price.amount",
    "lines[0].nope",
    "customer",
    "customer.email",
    "customer.default_address.city",
    "customer.addresses[0].phone",
    "default_address.phone",
    "default_address.country_code",
    "addresses[0].phone",
    "discount_codes",
    "created_at",
    "last_activity_at",
    "accepts_marketing",
    "quantity",
    "unit_price",
    "email[0]",
    "_private",
    "nope",
    "variants[0].price",
]
_WILDCARD = ["lines[*].name", "tags[*]", "addresses[*].phone", "lines[*].nope", "email[*]"]
_RAW = [
    "$",
    "$.a",
    "$.a.b",
    "$.a[0]",
    "$.a[1].c",
    "$.note",
    "$[0]",
    "$.a.b.c",
    "$.a[*]",
    "$.a[*].c",
]
_PATHS = _CANONICAL + _WILDCARD + _RAW


def _boom(value: Any) -> Any:
    raise ValueError(f"boom on {type(value).__name__}")


def _same(value: Any) -> Any:
    return value


_TRANSFORMS: list[Any] = [None, _boom, _same, *sorted(TRANSFORMS)]

_keys = st.sampled_from(["a", "b", "c", "note"])
_scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=6)
_raw = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _records(draw: st.DrawFn) -> Any:
    record = draw(cs.records())
    return attrs.evolve(record, raw=draw(st.none() | _raw))


def _specs(depth: int) -> st.SearchStrategy[list[FieldSpec]]:
    def build(picks: list[tuple[str, Any, bool, Any]]) -> list[FieldSpec]:
        return [
            FieldSpec(f"f{n}", path, transform, required, each)
            for n, (path, transform, required, each) in enumerate(picks)
        ]

    each = st.none() if depth == 0 else st.none() | _maps(depth - 1)
    pick = st.tuples(st.sampled_from(_PATHS), st.sampled_from(_TRANSFORMS), st.booleans(), each)
    return st.lists(pick, max_size=6).map(build)


def _maps(depth: int = 1) -> st.SearchStrategy[FieldMap]:
    return st.builds(
        FieldMap,
        st.just("any"),
        _specs(depth),
        st.sampled_from(["external_id", "$.a", "$.note", "customer.external_id", *_PATHS]),
        st.booleans(),
    )


def _same_run(fmap: FieldMap, record: Any) -> None:
    compiled = fmap._run(record)
    assert compiled == fmap._run_interpreted(record)
    # A second run uses the cached compiled form and still agrees.
    assert fmap._run(record) == compiled


@given(record=_records(), fmap=_maps())
def test_a_compiled_map_equals_the_interpreted_map_on_any_record(
    record: Any, fmap: FieldMap
) -> None:
    _same_run(fmap, record)


@given(record=_records(), fmap=_maps())
def test_apply_and_check_report_the_interpreted_problems(record: Any, fmap: FieldMap) -> None:
    external_id, values, problems = fmap._run_interpreted(record)
    assert fmap.check(record) == problems
    if problems:
        with pytest.raises(MappingError) as info:
            fmap.apply(record)
        assert info.value.problems == problems
    else:
        mapped = fmap.apply(record)
        assert (mapped.external_id, dict(mapped.fields)) == (external_id, values)


@given(st.one_of(cs.orders(), cs.carts(), cs.products(), cs.payments(), cs.customers()))
def test_default_maps_compiled_equal_interpreted(record: Any) -> None:
    kind = type(record).__name__.lower()
    _same_run(DEFAULT_MAPS[kind], record)
    _same_run(LINE_MAP, record)  # the wrong kind: every problem must agree too


@given(cs.customers())
def test_the_contact_map_compiled_equals_interpreted_on_contacts(customer: Customer) -> None:
    contact = prepare_contact(customer).contact
    if contact is not None:
        _same_run(CONTACT_MAP, contact)
        _same_run(CONTACT_MAP.with_external_id("$.a", required=True), contact)


@given(record=_records())
def test_compiled_paths_resolve_like_the_reference_walker(record: Any) -> None:
    for path in _PATHS:
        parsed = FieldPath.parse(path)
        try:
            expected: Any = parsed._resolve_reference(record)
        except PathError as exc:
            expected = str(exc)
        try:
            found: Any = parsed.resolve(record)
        except PathError as exc:
            found = str(exc)
        assert found == expected, path
        reader = parsed.reader()
        assert (reader is None) == parsed.has_wildcard
        if reader is not None and isinstance(expected, list):
            assert reader(record) == (expected[0].value, expected[0].parent), path


def test_nested_maps_report_element_paths_like_the_reference() -> None:
    bad = LineItem(name="gold", quantity=Decimal("0.5"), unit_price=Money("1", "XAU"))
    order = Order(
        "shopify", "shopify:acme", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("1", "XAU"), lines=[bad, bad],
        raw={"items": [{"sku": 7}, "x", {"sku": None}], "note": "not a list"},
    )  # fmt: skip
    raw_items = FieldMap("item", [FieldSpec("sku", "sku", transform="text", required=True)])
    m = ORDER_MAP.add("items", "$.items", each=raw_items).add("notes", "$.note", each=raw_items)
    external_id, values, problems = m._run(order)
    assert (external_id, values, problems) == m._run_interpreted(order)
    assert values["items"] == [{"sku": "7"}, {"sku": None}, {"sku": None}]
    assert [p.path for p in problems] == [
        "total",
        "lines[0].unit_price",
        "lines[1].unit_price",
        "$.items[1].sku",
        "$.items[2].sku",
        "$.note",
    ]


def test_a_map_is_compiled_once_and_travels_as_its_definition() -> None:
    order = Order(
        "shopify", "shopify:acme", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("5", "USD"), order_number="#1",
    )  # fmt: skip
    m = ORDER_MAP.add("upper", "order_number", transform=str.lower)
    first = m.apply(order)
    compiled = m._compiled
    assert compiled is not None
    m.apply(order)
    assert m._compiled is compiled
    # Copies and pickles carry the definition, not the closures, and map the same.
    for clone in (
        copy.copy(ORDER_MAP),
        copy.deepcopy(ORDER_MAP),
        pickle.loads(pickle.dumps(ORDER_MAP)),  # noqa: S301 - our own bytes, just made
    ):
        assert clone == ORDER_MAP
        assert clone.apply(order) == ORDER_MAP.apply(order)
    # The compiled form takes no part in equality or hashing.
    assert m == attrs.evolve(m)
    assert hash(m.add("x", "total")) == hash(m.add("x", "total"))
    assert first.fields["upper"] == "#1"
