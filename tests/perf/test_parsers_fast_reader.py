"""The parsers' fast attempt (FastReader) gives what the checked reader gives.

Every public parser runs its body with a :class:`FastReader` first and, on the first
value that reader does not serve, again with the checked :class:`PayloadReader`
(``_parsing.fast_first``). Here each parser is run both ways on the fuzz kit's official
examples and hypothesis mutations of them: the records (raw payload included) and the
refusals (platform, kind, record id, every problem's path, reason and value, the
message) must be equal. The tests also show that the fast attempt really serves the
official examples (no fallback), that a planted difference in the fast reader is
caught, and, accessor by accessor on any JSON, that the fast reader never returns a
value where the checked reader records a problem.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_parsing_fast_path import (  # type: ignore[attr-defined]
    CASES,
    ISO_LIKE,
    JSON,
    KEYS,
    PATHS,
    mutated,
    outcome,
)

from commerce_connectors import _parsing, models
from commerce_connectors._parsing import FastReader, PayloadReader, _Surprise
from commerce_connectors.models import Money, register_currency


@contextlib.contextmanager
def checked_only() -> Iterator[None]:
    """Parsers read through the checked reader alone meanwhile (no fast attempt)."""
    saved = _parsing.FastReader
    _parsing.FastReader = PayloadReader  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        _parsing.FastReader = saved  # type: ignore[misc]


@contextlib.contextmanager
def counting() -> Iterator[dict[str, int]]:
    """Counts fast readers built and fast attempts given up meanwhile."""
    counts = {"fast readers": 0, "fallbacks": 0}
    saved = _parsing.FastReader
    before = sum(_parsing._FALLBACKS.values())

    class Counted(saved):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            counts["fast readers"] += 1
            super().__init__(*args, **kwargs)

    _parsing.FastReader = Counted  # type: ignore[misc]
    try:
        yield counts
    finally:
        _parsing.FastReader = saved  # type: ignore[misc]
        counts["fallbacks"] = sum(_parsing._FALLBACKS.values()) - before


def both_ways(parse: Callable[[dict[str, Any]], Any], bundle: dict[str, Any]) -> tuple[Any, Any]:
    """The outcome with the fast attempt, and with the checked reader alone."""
    checked_bundle = copy.deepcopy(bundle)
    fast = outcome(parse, bundle)
    with checked_only():
        checked = outcome(parse, checked_bundle)
    return fast, checked


def test_official_examples_are_served_by_the_fast_reader() -> None:
    for name, (seeds, parse) in CASES.items():
        for seed in seeds:
            with counting() as counts:
                fast, checked = both_ways(parse, seed)
            assert fast == checked, name
            assert fast[0] == "parsed", name
            assert counts["fast readers"] > 0, name
            assert counts["fallbacks"] == 0, name


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=60)
@given(data=st.data())
def test_fast_attempt_gives_the_checked_records_and_errors(name: str, data: st.DataObject) -> None:
    seeds, parse = CASES[name]
    bundle = data.draw(st.sampled_from(seeds).flatmap(lambda seed: mutated(seed, KEYS)))
    fast, checked = both_ways(parse, bundle)
    assert fast == checked


def test_mutations_exercise_the_fallback() -> None:
    # A refused record always comes from the checked reader's second run.
    seeds, parse = CASES["square-order"]
    bad = copy.deepcopy(seeds[0])
    bad["payload"]["total_money"]["amount"] = -1
    fast, checked = both_ways(parse, bad)
    assert fast == checked
    assert fast[0] == "refused"
    with counting() as counts:
        outcome(parse, bad)
    assert counts["fallbacks"] == 1


@pytest.mark.parametrize(
    ("accessor", "planted"),
    [
        ("text", lambda value: value + "x" if isinstance(value, str) else value),
        ("money", lambda value: value + value if isinstance(value, Money) else value),
        ("datetime", lambda value: value + dt.timedelta(seconds=1) if value else value),
    ],
)
def test_a_planted_difference_is_caught(
    monkeypatch: pytest.MonkeyPatch, accessor: str, planted: Callable[[Any], Any]
) -> None:
    original = getattr(FastReader, accessor)

    def wrong(self: FastReader, *args: Any, **kwargs: Any) -> Any:
        return planted(original(self, *args, **kwargs))

    monkeypatch.setattr(FastReader, accessor, wrong)
    caught = [
        name
        for name, (seeds, parse) in CASES.items()
        if any(fast != checked for fast, checked in (both_ways(parse, s) for s in seeds))
    ]
    assert len(caught) >= 8, caught


# -- accessor by accessor --------------------------------------------------------------------


def _calls(path: str) -> list[Callable[[PayloadReader], Any]]:
    return [
        lambda r: r.raw(path, "<missing>"),
        lambda r: r.text(path),
        lambda r: r.text(path, required=True),
        lambda r: r.id(path),
        lambda r: r.decimal(path),
        lambda r: r.decimal(path, negative=True, required=True),
        lambda r: r.integer(path, negative=False),
        lambda r: r.integer(path, required=True),
        lambda r: r.boolean(path),
        lambda r: r.datetime(path),
        lambda r: r.datetime(path, required=True),
        lambda r: r.currency(path),
        lambda r: r.money(path, "USD"),
        lambda r: r.money(path, "JPY", required=True, negative=True),
        lambda r: r.money(path, "KWD", minor_units=True),
        lambda r: r.money(path, "XAU"),
        lambda r: r.money(path, None),
        lambda r: r.money_sum([path, "b"], "USD"),
        lambda r: r.array(path),
        lambda r: [child.text("a") for child in r.children(path)],
        lambda r: r.child(path).payload,
    ]


@settings(max_examples=300)
@given(
    payload=JSON.filter(lambda p: isinstance(p, dict)) | st.dictionaries(st.just("a"), JSON),
    path=PATHS,
    zone=st.sampled_from([None, dt.timezone.utc]),
)
def test_fast_accessors_serve_only_what_the_checked_reader_accepts(
    payload: Any, path: str, zone: Any
) -> None:
    for call in _calls(path):
        fast = FastReader(copy.deepcopy(payload), platform="p", kind="k", naive_tz=zone)
        checked = PayloadReader(copy.deepcopy(payload), platform="p", kind="k", naive_tz=zone)
        expected = call(checked)
        try:
            got = call(fast)
        except _Surprise:
            continue  # the parser would run again with the checked reader
        assert not checked.problems, (path, checked.problems)
        assert repr(got) == repr(expected)
        assert fast.record_id == checked.record_id


@settings(max_examples=1000)
@given(
    text=ISO_LIKE | st.sampled_from(["0001-01-01T00:30:00+01:00", "9998-12-31T23:59:59-00:01"]),
    zone=st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=-3))]),
)
def test_fast_datetimes_are_the_checked_datetimes(text: str, zone: Any) -> None:
    fast = FastReader({"at": text}, platform="p", kind="k", naive_tz=zone)
    checked = PayloadReader({"at": text}, platform="p", kind="k", naive_tz=zone)
    expected = checked.datetime("at")
    try:
        got = fast.datetime("at")
    except _Surprise:
        assert checked.problems or expected is not None  # refused, or the long way
        return
    assert not checked.problems
    assert (got, repr(got), got.tzinfo is dt.timezone.utc) == (
        expected,
        repr(expected),
        expected is not None and expected.tzinfo is dt.timezone.utc,
    )


def test_the_fast_reader_gives_up_on_a_non_object() -> None:
    with pytest.raises(_Surprise):
        FastReader([1], platform="p", kind="k")
    with pytest.raises(_Surprise):
        FastReader({"a": 1}, platform="p", kind="k").child("a")


# -- money built without its converters -------------------------------------------------------


@settings(max_examples=300)
@given(
    amount=st.decimals(allow_nan=False, allow_infinity=False, places=4),
    code=st.sampled_from(["USD", "JPY", "KWD", "BRL"]),
)
def test_checked_money_is_money(amount: Decimal, code: str) -> None:
    built = models._checked_money(amount, code)
    reference = Money(amount, code)
    assert (built, repr(built), hash(built), str(built)) == (
        reference,
        repr(reference),
        hash(reference),
        str(reference),
    )
    assert built.amount is amount


def test_money_kept_by_the_fast_reader_is_bounded_and_forgotten_on_register() -> None:
    reader = FastReader({}, platform="p", kind="k")
    for n in range(_parsing._CACHE_LIMIT + 10):
        reader.payload = {"a": str(n), "m": n}
        assert reader.money("a", "USD") == Money(str(n), "USD")
        assert reader.money("m", "USD", minor_units=True) == Money.from_minor_units(n, "USD")
    assert len(models._MONEY) <= _parsing._CACHE_LIMIT
    assert len(models._MINOR_MONEY) <= _parsing._CACHE_LIMIT
    try:
        register_currency("ZZT", 2)
        reader.payload = {"m": 1234}
        assert str(reader.money("m", "ZZT", minor_units=True)) == "12.34 ZZT"
        register_currency("ZZT", 3)
        assert not models._MINOR_MONEY
        assert str(reader.money("m", "ZZT", minor_units=True)) == "1.234 ZZT"
    finally:
        del models._EXPONENTS["ZZT"]
        models._MINOR_MONEY.clear()


# -- the models' converters on their usual values ----------------------------------------------


def _converted(convert: Callable[[Any], Any], value: Any) -> Any:
    try:
        result = convert(value)
    except Exception as exc:  # the exception is what is compared
        return ("raised", type(exc).__name__, str(exc))
    return ("ok", type(result).__name__, repr(result))


@settings(max_examples=500)
@given(
    value=st.from_regex(r"\A\s?[+-]?[0-9]{0,4}(\.[0-9]{0,3})?([eE][+-]?[0-9])?\s?\Z")
    | st.text(max_size=6)
    | st.integers()
    | st.decimals(allow_nan=True, places=2)
)
def test_remembered_quantities_are_converted_quantities(value: Any) -> None:
    expected = _converted(models._any_quantity, value)
    assert _converted(models._quantity, value) == expected
    assert _converted(models._quantity, value) == expected  # remembered the second time


def _str_tuple_before(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("expected a sequence of strings, not a single string")
    return tuple(str(v) for v in value)


@pytest.mark.parametrize(
    ("convert", "reference", "values"),
    [
        (models._platform, models.Platform, [models.Platform.SQUARE, "shopify", "nope", 3]),
        (
            models._order_status,
            models.OrderStatus,
            [models.OrderStatus.PAID, "refunded", "nope", None],
        ),
        (models._str_tuple, _str_tuple_before, [(), [], ("a", 1), ["b"], "abc", {"c": 1}]),
    ],
)
def test_converters_give_what_they_gave(
    convert: Callable[[Any], Any], reference: Callable[[Any], Any], values: list[Any]
) -> None:
    for value in values:
        assert _converted(convert, value) == _converted(reference, value)
