"""Field maps generated as Python code give exactly what the interpreted maps give.

``FieldMap.apply`` and ``check`` run code generated per (map, record class)
(``mapping/_codegen.py``); ``FieldMap._run_closures`` runs the compiled closures
alone and ``FieldMap._run_interpreted`` is the spec-by-spec reference. On random
maps (any path: canonical, nested, raw, wildcard, properties, methods, private
names, typos; any transform, including ones that raise; required flags; nested
``each``; any external-id source) over random records, and on the records the
platforms' official examples parse to (mutated by the fuzz kit), all three must
give the same external id, values and problems (paths, reasons, values, order),
and the same exception when a path raises one. The generated code is shown to
be used, to be checked (a planted mistake is caught), and to keep path text out
of the code it writes.
"""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.mapping import (
    CART_MAP,
    CONTACT_MAP,
    DEFAULT_MAPS,
    LINE_MAP,
    ORDER_MAP,
    TRANSFORMS,
    FieldMap,
    FieldSpec,
    _codegen,
    _fieldmap,
)
from commerce_connectors.models import Cart, Customer, LineItem, Money, Order
from commerce_connectors.rules import _paths, defaults_for, prepare_contact
from commerce_connectors.testing import strategies as cs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import test_fuzz_bigcommerce
import test_fuzz_shopify
import test_fuzz_square
import test_fuzz_tiendanube
from fuzz_kit import bundle_keys, mutated

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 10, 4, 12, tzinfo=UTC)

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
    "price",
    "price.currency",
    "amount",
    "status",
    "status.value",
    "tags",
    "tags[0]",
    "lines",
    "lines[0].sku",
    "lines[1].unit_price.amount",
    "customer",
    "customer.email",
    "customer.default_address.city",
    "default_address",
    "default_address.phone",
    "addresses",
    "addresses[0].phone",
    "discount_codes",
    "created_at",
    "updated_at",
    "last_activity_at",
    "accepts_marketing",
    "quantity",
    "unit_price",
    "product_id",
    "email[0]",
    "_private",
    "__class__",
    "to_minor_units",
    "nope",
    "raw",
    "platform",
    "sources",
    "primary",
    "key",
    "variants",
]
_WILDCARD = ["lines[*].name", "tags[*]", "addresses[*].phone", "lines[*].nope", "email[*]"]
_RAW = ["$", "$.a", "$.a.b", "$.a[0]", "$.a[1].c", "$.note", "$[0]", "$.a[*]", "$.a[*].c"]
_PATHS = _CANONICAL + _WILDCARD + _RAW


def _boom(value: Any) -> Any:
    raise ValueError(f"boom on {type(value).__name__}")


def _same(value: Any) -> Any:
    return value


class _Unhashable:
    """A callable transform that cannot be hashed (and claims to equal everything)."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return True

    def __call__(self, value: Any) -> Any:
        return repr(value)


_TRANSFORMS: list[Any] = [None, _boom, _same, _Unhashable(), str, *sorted(TRANSFORMS)]

_keys = st.sampled_from(["a", "b", "c", "note"])
_scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=6)
_raw = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)

# Values that reach the inlined transforms with an odd type or value: subclasses,
# naive datetimes, currencies without minor units, fractional quantities.


class _Text(str):
    pass


class _Number(int):
    pass


_odd = st.sampled_from(
    [
        _Text(" x "),
        _Number(7),
        True,
        3.5,
        Decimal("1.5"),
        Decimal("2"),
        dt.datetime(2024, 1, 1),
        T0,
        dt.date(2024, 1, 1),
        Money("1", "XAU"),
        Money("1.005", "USD"),
        ["a", None, 3],
        ("x",),
        {"a": 1},
        "  ",
        "",
        0,
        -3,
    ]
)


@st.composite
def _records(draw: st.DrawFn) -> Any:
    record = draw(cs.records())
    record = attrs.evolve(record, raw=draw(st.none() | _raw))
    if draw(st.booleans()):
        # Contacts: properties (external_id, raw, platform) instead of fields.
        made = prepare_contact(record).contact if isinstance(record, Customer) else None
        if made is not None:
            return made
    return record


@st.composite
def _line_records(draw: st.DrawFn) -> Any:
    """Line items whose fields hold odd values (attrs validators bypassed on purpose)."""
    line = draw(cs.records().filter(lambda r: isinstance(r, Order | Cart) and r.lines))
    item = line.lines[0]
    for name in ("product_id", "quantity", "unit_price", "name"):
        if draw(st.booleans()):
            object.__setattr__(item, name, draw(_odd | st.none()))
    return line


def _specs(depth: int) -> st.SearchStrategy[list[FieldSpec]]:
    def build(picks: list[tuple[str, Any, bool, Any]]) -> list[FieldSpec]:
        return [
            FieldSpec(f"f{n}", path, transform, required, each)
            for n, (path, transform, required, each) in enumerate(picks)
        ]

    each = st.none() if depth == 0 else st.none() | _maps(depth - 1)
    pick = st.tuples(st.sampled_from(_PATHS), st.sampled_from(_TRANSFORMS), st.booleans(), each)
    return st.lists(pick, max_size=7).map(build)


def _maps(depth: int = 1) -> st.SearchStrategy[FieldMap]:
    return st.builds(
        FieldMap,
        st.just("any"),
        _specs(depth),
        st.sampled_from(["external_id", "$.a", "$.note", "customer.external_id", *_PATHS]),
        st.booleans(),
    )


def _outcome(run: Callable[[Any], Any], record: Any) -> Any:
    try:
        external_id, values, problems = run(record)
    except Exception as exc:  # the same exception, or the test fails
        return ("raised", type(exc), str(exc))
    shown = [(p.path, p.reason, repr(p.value), type(p.value)) for p in problems]
    return ("ran", external_id, repr(values), shown)


def _same_everywhere(fmap: FieldMap, record: Any) -> Any:
    expected = _outcome(fmap._run_interpreted, record)
    assert _outcome(fmap._run_closures, record) == expected
    assert _outcome(fmap._run, record) == expected
    # The cached generated functions, a second time.
    assert _outcome(fmap._run, record) == expected
    return expected


@given(record=_records(), fmap=_maps())
def test_generated_maps_equal_the_interpreted_maps_on_any_record(
    record: Any, fmap: FieldMap
) -> None:
    _same_everywhere(fmap, record)


@given(record=_line_records(), fmap=_maps())
def test_inlined_transforms_equal_the_transforms_on_odd_values(record: Any, fmap: FieldMap) -> None:
    _same_everywhere(fmap, record)
    _same_everywhere(ORDER_MAP, record)
    _same_everywhere(LINE_MAP, record.lines[0])


@given(st.one_of(cs.orders(), cs.carts(), cs.products(), cs.payments(), cs.customers()))
def test_default_maps_generated_equal_interpreted(record: Any) -> None:
    kind = type(record).__name__.lower()
    _same_everywhere(DEFAULT_MAPS[kind], record)
    for other in (LINE_MAP, ORDER_MAP, CONTACT_MAP):  # wrong kinds: every problem agrees
        _same_everywhere(other, record)
    if isinstance(record, Customer):
        contact = prepare_contact(record).contact
        if contact is not None:
            _same_everywhere(CONTACT_MAP, contact)
            _same_everywhere(CONTACT_MAP.with_external_id("$.a", required=True), contact)


# -- records parsed from the platforms' official examples, mutated ----------------------------


def _cases() -> dict[str, tuple[list[dict[str, Any]], Callable[[dict[str, Any]], Any]]]:
    cases: dict[str, tuple[list[dict[str, Any]], Callable[[dict[str, Any]], Any]]] = {}
    for kind, seeds in test_fuzz_shopify.SEEDS.items():
        cases[f"shopify-{kind}"] = (seeds, test_fuzz_shopify._parse(kind))
    for name, module in (
        ("bigcommerce", test_fuzz_bigcommerce),
        ("square", test_fuzz_square),
        ("tiendanube", test_fuzz_tiendanube),
    ):
        for kind, (parse, _) in module.PARSERS.items():
            cases[f"{name}-{kind}"] = (module.SEEDS[kind], parse)
    return cases


CASES = _cases()
KEYS = bundle_keys(*(seed for seeds, _ in CASES.values() for seed in seeds))
_KIND = {Order: "order", Cart: "cart", Customer: "customer"}


def _map_everything(record: Any) -> None:
    platform = record.platform.value if hasattr(record, "platform") else "shopify"
    kind = _KIND.get(type(record)) or type(record).__name__.lower()
    # Other records (a Square location) meet the order map: problems compared too.
    _same_everywhere(DEFAULT_MAPS.get(kind, ORDER_MAP), record)
    for line in getattr(record, "lines", ()):
        _same_everywhere(LINE_MAP, line)
    if isinstance(record, Order | Cart | Customer):
        contact = prepare_contact(record, defaults_for(platform)).contact
        if contact is not None:
            _same_everywhere(CONTACT_MAP, contact)


def test_every_official_example_maps_the_same() -> None:
    for seeds, parse in CASES.values():
        for seed in seeds:
            _map_everything(parse(copy.deepcopy(seed)))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_mutated_official_examples_map_the_same(name: str, data: st.DataObject) -> None:
    seeds, parse = CASES[name]
    bundle = data.draw(st.sampled_from(seeds).flatmap(lambda seed: mutated(seed, KEYS)))
    try:
        record = parse(bundle)
    except InvalidRecordError:
        return
    _map_everything(record)


# -- the generated code is used, checked, and holds no path text ----------------------------


def _order(**changes: Any) -> Order:
    line = LineItem(name="gold", quantity=2, unit_price=Money("1.25", "USD"), product_id="9")
    order = Order(
        "shopify", "shopify:acme", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("2.50", "USD"), order_number="#1", lines=[line, line],
    )  # fmt: skip
    return attrs.evolve(order, **changes)


def test_the_default_maps_run_generated_code() -> None:
    order = _order()
    fmap = attrs.evolve(ORDER_MAP)  # a fresh map: nothing generated yet
    fmap.apply(order)
    compiled = fmap._compiled
    assert compiled is not None
    assert compiled._generated[Order] is not None
    line_map = fmap.spec("orderProducts").each
    assert line_map is not None
    assert line_map._compiled is not None
    assert line_map._compiled._generated[LineItem] is not None
    # With generation off, the closures serve the same results.
    off = attrs.evolve(ORDER_MAP)
    _fieldmap.GENERATE = False
    try:
        assert off._run(order) == fmap._run(order)
        assert off._compiled is not None
        assert off._compiled._generated[Order] is None
    finally:
        _fieldmap.GENERATE = True


def test_a_planted_mistake_in_the_generated_code_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = tuple(
        (fn, "v.to_minor_units() + 1 if type(v) is _Money else {t}(v)")
        if fn is TRANSFORMS["minor_units"]
        else (fn, text)
        for fn, text in _codegen._INLINE
    )
    monkeypatch.setattr(_codegen, "_INLINE", wrong)
    fmap = attrs.evolve(CART_MAP.add("x", "total", transform="minor_units"))
    record = _order()
    with pytest.raises(AssertionError):
        _same_everywhere(fmap, record)
    # A planted mistake in a problem's text is caught as well.
    monkeypatch.undo()
    monkeypatch.setattr(_codegen, "_where", lambda prefix, path: f"{path}!")
    bad = attrs.evolve(ORDER_MAP.add("y", "nope"))  # a typo: a problem with a path
    with pytest.raises(AssertionError):
        _same_everywhere(bad, record)


@attrs.frozen
class _Odd:
    """A record class whose field names would be code if written into the source."""

    plain: Any = None


def test_path_text_never_becomes_code(monkeypatch: pytest.MonkeyPatch) -> None:
    sources: list[str] = []
    real_compile = builtins.compile

    def spy(source: str, *args: Any, **kwargs: Any) -> Any:
        sources.append(source)
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr(_codegen, "compile", spy, raising=False)
    hostile = ["x or __import__('os')", "ﬁeld", "def", "plain )", "a\nb"]
    # Pretend the class has these fields, so only the name check keeps them out.
    shape = _paths._shape(_Odd)
    monkeypatch.setitem(
        _paths._SHAPES,
        _Odd,
        attrs.evolve(shape, fields=frozenset({"plain", *hostile})),
    )
    fmap = FieldMap(
        "odd",
        [FieldSpec(f"t{n}", name) for n, name in enumerate(hostile)]
        + [FieldSpec("ok", "plain"), FieldSpec("x')\nimport os\n#", "plain", required=True)],
        external_id="$.id",
        require_external_id=False,
    )
    record = _Odd(plain=1)
    # Every hostile name is read through the reader, which asks getattr: it has none.
    assert _outcome(fmap._run, record) == _outcome(fmap._run_interpreted, record)
    assert _outcome(fmap._run, record)[0] == "raised"
    assert sources, "code was generated"
    for source in sources:
        for name in hostile:
            assert f"record.{name}" not in source
        assert "__import__" not in source
        assert "ﬁeld" not in source
        assert "record.field" not in source
        assert "import os" not in source
        assert "record.plain" in source  # the one checked name is read directly


def test_generated_functions_hold_no_cycle_to_their_namespace() -> None:
    fmap = attrs.evolve(LINE_MAP)
    fmap.apply(_order().lines[0])
    assert fmap._compiled is not None
    generated = fmap._compiled._generated[LineItem]
    assert generated is not None
    assert "run" not in generated.run.__globals__
    assert "fields" not in generated.fields.__globals__


def test_the_class_table_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fieldmap, "_GENERATED_LIMIT", 3)
    fmap = FieldMap("any", [FieldSpec("v", "plain")], require_external_id=False)
    classes = [attrs.make_class(f"C{n}", ["plain"]) for n in range(10)]
    for cls in classes:
        assert fmap.check(cls(1)) == fmap._run_interpreted(cls(1))[2]
    assert fmap._compiled is not None
    assert len(fmap._compiled._generated) <= 3
