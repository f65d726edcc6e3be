"""The payload reader's fast paths give what the checked reader gives: records and errors.

The oracle is ``reference_parsing.py``, a frozen copy of the reader before its fast
paths. Every platform's public parsers are run twice on the same mutated payloads
(the fuzz kit's official examples and mutations): once as shipped, once with the
reference reader patched in. The records must be equal (raw payload included) and
the refusals must carry the same problems: JSON paths, reasons and values.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import reference_parsing as checked
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors import _parsing as fast
from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.platforms.bigcommerce import parsers as bigcommerce_parsers
from commerce_connectors.platforms.shopify import graphql as shopify_graphql
from commerce_connectors.platforms.shopify import rest as shopify_rest
from commerce_connectors.platforms.square import parsers as square_parsers
from commerce_connectors.platforms.tiendanube import parsers as tiendanube_parsers
from commerce_connectors.serialization import to_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import test_fuzz_bigcommerce
import test_fuzz_shopify
import test_fuzz_square
import test_fuzz_tiendanube
from fuzz_kit import LEAVES, bundle_keys, mutated

#: The modules that build a reader; the reference one is patched into each.
READER_MODULES = (
    shopify_graphql,
    shopify_rest,
    bigcommerce_parsers,
    square_parsers,
    tiendanube_parsers,
)


@contextlib.contextmanager
def checked_reader() -> Iterator[None]:
    """The platform parsers read through the reference (checked) reader meanwhile."""
    saved = [(m, m.PayloadReader) for m in READER_MODULES]
    try:
        for module, _ in saved:
            module.PayloadReader = checked.PayloadReader  # type: ignore[attr-defined]
        yield
    finally:
        for module, reader in saved:
            module.PayloadReader = reader  # type: ignore[attr-defined]


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


def outcome(parse: Callable[[dict[str, Any]], Any], bundle: dict[str, Any]) -> Any:
    """A comparable view of a parse: the record's data, or the error's every detail."""
    try:
        record = parse(bundle)
    except InvalidRecordError as exc:
        problems = [(p.path, p.reason, repr(p.value)) for p in exc.problems]
        return ("refused", exc.platform, exc.kind, exc.record_id, problems, str(exc))
    return ("parsed", type(record).__name__, repr(to_data(record)))


def test_the_seeds_parse_to_records() -> None:
    for name, (seeds, parse) in CASES.items():
        for seed in seeds:
            assert outcome(parse, seed)[0] == "parsed", name


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=60)
@given(data=st.data())
def test_fast_reader_gives_the_checked_readers_records_and_errors(
    name: str, data: st.DataObject
) -> None:
    seeds, parse = CASES[name]
    bundle = data.draw(st.sampled_from(seeds).flatmap(lambda seed: mutated(seed, KEYS)))
    expected_bundle = copy.deepcopy(bundle)
    got = outcome(parse, bundle)
    with checked_reader():
        expected = outcome(parse, expected_bundle)
    assert got == expected


# -- the reader's accessors one by one, on any JSON ----------------------------------------

JSON = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=12,
)
PATHS = st.lists(
    st.one_of(st.sampled_from(("a", "b", "c")), st.integers(0, 3).map(lambda i: f"[{i}]")),
    min_size=0,
    max_size=3,
).map(lambda steps: ".".join(steps).replace(".[", "["))


def _accessors(reader: Any, path: str) -> list[Any]:
    out: list[Any] = [repr(reader.raw(path, "<missing>"))]
    for call in (
        lambda: reader.text(path, required=True),
        lambda: reader.id(path),
        lambda: reader.decimal(path, negative=True),
        lambda: reader.decimal(path, required=True),
        lambda: reader.integer(path, negative=False),
        lambda: reader.boolean(path),
        lambda: reader.datetime(path, required=True),
        lambda: reader.currency(path),
        lambda: reader.money(path, "JPY"),
        lambda: reader.money(path, "KWD", minor_units=True, negative=True),
        lambda: reader.money_sum([path, "b"], "USD"),
        lambda: reader.array(path),
        lambda: [child.text("a") for child in reader.children(path)],
        lambda: reader.child(path).payload,
    ):
        out.append(repr(call()))
    out.append([(p.path, p.reason, repr(p.value)) for p in reader.problems])
    out.append(reader.record_id)
    return out


@settings(max_examples=300)
@given(payload=JSON, path=PATHS, zone=st.sampled_from([None, dt.timezone.utc]))
def test_each_accessor_agrees_with_the_checked_reader(payload: Any, path: str, zone: Any) -> None:
    def reader(module: Any) -> Any:
        r = module.PayloadReader(
            copy.deepcopy(payload), platform="p", kind="k", naive_tz=zone, base="$.x"
        )
        return _accessors(r, path)

    assert reader(fast) == reader(checked)


ISO_LIKE = st.from_regex(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?\Z"
)


def _parsed(module: Any, text: str, zone: Any) -> Any:
    try:
        value = module.parse_datetime(text, naive_tz=zone)
    except ValueError as exc:
        return ("error", str(exc))
    return ("ok", repr(value))


@settings(max_examples=1000)
@given(
    text=ISO_LIKE,
    zone=st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=-3))]),
)
def test_iso_datetimes_read_as_dateutil_reads_them(text: str, zone: Any) -> None:
    assert _parsed(fast, text, zone) == _parsed(checked, text, zone)


@settings(max_examples=1000)
@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**22), 10**22).map(Decimal)
    | st.integers(1, 10**30).map(lambda n: Decimal(n).scaleb(-9)),
    exponent=st.integers(0, 4),
)
def test_amount_bounds_agree_with_the_exact_check(amount: Decimal, exponent: int) -> None:
    assert fast.amount_problem(amount, exponent) == checked.amount_problem(amount, exponent)


def test_the_reference_is_not_the_fast_reader() -> None:
    # The comparison above would prove nothing if both names led to one class.
    assert checked.PayloadReader is not fast.PayloadReader
    assert checked.parse_datetime is not fast.parse_datetime
