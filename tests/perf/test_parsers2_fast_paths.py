"""Round two of the parsers' fast paths give what the reference gives.

* BigCommerce's RFC 2822 dates (``"Tue, 05 Mar 2019 21:40:11 +0000"``) and Tiendanube's
  PHP date objects read by the fast reader, against the frozen reference reader
  (``reference_parsing.py``) on random values of those shapes and around them;
* the fast reader's ``money_sum``, against the reference;
* ``text`` skipping the surrogate search for printable strings, against the reference;
* Shopify's ``legacy_id`` memo, against a word-for-word copy of the function before it;
* BigCommerce's consignment walk and Tiendanube's ``_text_field`` / ``_flat_address``,
  against word-for-word copies of their bodies before this round.

Each fast path is shown to be taken, and a planted difference in it to be caught.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_parsing as reference
from test_parsing_fast_path import CASES, ISO_LIKE, outcome

from commerce_connectors import _parsing
from commerce_connectors._parsing import (
    _MISSING,
    _SURROGATE,
    MAX_INTEGER,
    FastReader,
    PayloadReader,
    _shown,
    _Surprise,
)
from commerce_connectors.platforms.bigcommerce import parsers as bigcommerce
from commerce_connectors.platforms.shopify import _shared
from commerce_connectors.platforms.tiendanube import parsers as tiendanube

UTC = dt.timezone.utc
ZONES = [None, UTC, dt.timezone(dt.timedelta(hours=-3))]


def _fast(call: Callable[[PayloadReader], Any], payload: Any, zone: Any = None) -> Any:
    """``call`` on a fast reader: its value, or ``"surprise"`` when it gives up."""
    reader = FastReader(copy.deepcopy(payload), platform="p", kind="k", naive_tz=zone)
    try:
        return ("value", repr(call(reader)))
    except _Surprise:
        return "surprise"


def _checked(
    reader_type: type[Any], call: Callable[[Any], Any], payload: Any, zone: Any = None
) -> tuple[Any, list[tuple[str, str, str]]]:
    """``call`` on a checked reader: its value and its problems."""
    reader = reader_type(copy.deepcopy(payload), platform="p", kind="k", naive_tz=zone)
    value = call(reader)
    return repr(value), [(p.path, p.reason, repr(p.value)) for p in reader.problems]


def _agrees(call: Callable[[Any], Any], payload: Any, zone: Any = None) -> bool:
    """The fast reader gives the reference's value, or gives up; the shipped checked
    reader gives the reference's value and problems. True when the fast one served it."""
    expected = _checked(reference.PayloadReader, call, payload, zone)
    assert _checked(PayloadReader, call, payload, zone) == expected
    got = _fast(call, payload, zone)
    if got == "surprise":
        return False
    assert expected[1] == [], (payload, expected)
    assert got == ("value", expected[0]), (payload, got, expected)
    return True


# -- RFC 2822 dates ----------------------------------------------------------------------------

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _two(top: int) -> st.SearchStrategy[str]:
    return st.integers(0, top).map(lambda n: f"{n:02d}")


@st.composite
def _rfc_like(draw: st.DrawFn) -> str:
    """The shape BigCommerce sends, each part sometimes out of range or off-shape."""
    day = draw(st.sampled_from([*_DAYS, "mon", "Xyz"]))
    comma = draw(st.sampled_from([",", ",", ",", "", " ,"]))
    month = draw(st.sampled_from([*_MONTHS, *_MONTHS, "mar", "MAR", "Foo"]))
    year = draw(st.one_of(st.integers(0, 9999).map(lambda n: f"{n:04d}"), _two(99)))
    zone = draw(
        st.one_of(
            st.sampled_from(["+0000", "-0000", "+0000", "GMT", "EST", "Z", "+00:00", ""]),
            st.tuples(st.sampled_from("+-"), _two(29), _two(69)).map("".join),
        )
    )
    text = (
        f"{day}{comma} {draw(_two(39))} {month} {year} "
        f"{draw(_two(29))}:{draw(_two(69))}:{draw(_two(69))} {zone}"
    )
    return draw(
        st.sampled_from([text, text, text, f" {text}", f"{text}\n", text.replace(" ", "  ", 1)])
    )


@settings(max_examples=3000)
@given(text=_rfc_like(), zone=st.sampled_from(ZONES))
def test_rfc2822_dates_are_the_reference_dates(text: str, zone: Any) -> None:
    _agrees(lambda r: r.datetime("at"), {"at": text}, zone)
    fixed = _parsing._fixed_rfc2822(text)
    try:
        expected = reference.parse_datetime(text, naive_tz=zone)
    except ValueError:
        assert fixed is None
        return
    assert fixed is None or (fixed, repr(fixed)) == (expected, repr(expected))


def test_rfc2822_dates_are_served_by_the_fast_reader() -> None:
    served = [
        "Tue, 05 Mar 2019 21:40:11 +0000",
        "Mon, 11 Mar 2019 15:17:25 -0300",
        "Sat, 29 Feb 2020 23:59:59 +2359",
        "Fri, 31 Dec 9998 23:59:59 +0000",
    ]
    refused = [
        "Tue, 05 Mar 2019 21:40:11 -0000",  # naive: no offset given
        "Tue, 31 Feb 2019 21:40:11 +0000",
        "Sat, 01 Jan 0002 00:00:00 +0100",  # before EARLIEST_DATETIME
        "Tue, 05 Mar 2019 24:00:00 +0000",
    ]
    assert all(_agrees(lambda r: r.datetime("at"), {"at": text}) for text in served)
    assert not any(_agrees(lambda r: r.datetime("at"), {"at": text}) for text in refused)


# -- PHP date objects --------------------------------------------------------------------------


@settings(max_examples=1500)
@given(
    date=ISO_LIKE | st.sampled_from(["", " 2024-01-01 10:00:00", "2024-02-30 10:00:00", None, 7]),
    timezone=st.sampled_from(
        ["UTC", "America/Sao_Paulo", "-03:00", "GMT+01:00", "", None, "Nowhere/City", 3, "Z"]
    ),
    zone=st.sampled_from(ZONES),
    more=st.dictionaries(st.sampled_from(["timezone_type", "x"]), st.integers(0, 3)),
)
def test_php_dates_are_the_reference_dates(
    date: Any, timezone: Any, zone: Any, more: dict[str, int]
) -> None:
    value: dict[str, Any] = {"date": date, **more}
    if timezone is not None:
        value["timezone"] = timezone
    _agrees(lambda r: r.datetime("at"), {"at": value}, zone)


def test_php_dates_are_served_by_the_fast_reader() -> None:
    value = {"date": "2023-06-05 23:35:19.000000", "timezone_type": 3, "timezone": "UTC"}
    assert _agrees(lambda r: r.datetime("at"), {"at": value})
    assert _agrees(lambda r: r.datetime("at"), {"at": {**value, "timezone": "America/Bogota"}})
    assert not _agrees(lambda r: r.datetime("at"), {"at": {**value, "timezone": "Mars/Base"}})


# -- money_sum -------------------------------------------------------------------------------

_AMOUNTS = st.one_of(
    st.none(),
    st.sampled_from(["0.00", "-0.00", "5.0000", "1e3", "", " 2", "x", "99999999999999999.99"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=1500)
@given(
    values=st.lists(_AMOUNTS, min_size=1, max_size=3),
    currency=st.sampled_from(["USD", "JPY", "KWD", "XAU", "usd", None]),
    negative=st.booleans(),
)
def test_money_sums_are_the_reference_sums(
    values: list[Any], currency: Any, negative: bool
) -> None:
    payload = {f"k{n}": value for n, value in enumerate(values)}
    paths = [*payload, "missing"]
    _agrees(lambda r: r.money_sum(paths, currency, negative=negative), payload)


def test_money_sums_are_served_by_the_fast_reader() -> None:
    payload = {"a": "0.00", "b": "0.00", "c": "1.25"}
    assert _agrees(lambda r: r.money_sum(["a", "b", "c"], "BRL"), payload)
    assert _agrees(lambda r: r.money_sum(["a", "x"], "BRL"), payload)  # one part
    assert _agrees(lambda r: r.money_sum(["x", "y"], "BRL"), payload)  # none
    big = {"a": "99999999999999999", "b": "99999999999999999"}
    assert not _agrees(lambda r: r.money_sum(["a", "b"], "USD"), big)  # past the bound


# -- text -----------------------------------------------------------------------------------

_ANY_TEXT = st.text(
    st.characters(codec=None, categories=None, exclude_characters=""), max_size=8
) | st.sampled_from(["Querétaro", "a\ud800b", "\udfff", "Ñandú\n", "tab\there", " \u3000 "])


class _TextBefore(PayloadReader):
    """The checked reader with ``text`` as it was before this round, word for word (the
    frozen reference reader predates the surrogate check)."""

    def text(self, path: str, *, required: bool = False) -> str | None:
        value = self.raw(path, _MISSING)
        if type(value) is str and value.strip():  # the common case, kept exactly
            if value.isascii() or _SURROGATE.search(value) is None:
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


def _text_agrees(value: Any, required: bool = False) -> bool:
    """As _agrees(), for ``text`` against _TextBefore."""
    call: Callable[[Any], Any] = lambda r: r.text("a", required=required)  # noqa: E731
    expected = _checked(_TextBefore, call, {"a": value})
    assert _checked(PayloadReader, call, {"a": value}) == expected
    got = _fast(call, {"a": value})
    if got == "surprise":
        return False
    assert expected[1] == [], (value, expected)
    assert got == ("value", expected[0]), (value, got, expected)
    return True


@settings(max_examples=1500)
@given(value=_ANY_TEXT | st.integers(), required=st.booleans())
def test_texts_are_what_they_were(value: Any, required: bool) -> None:
    _text_agrees(value, required)


def test_printable_texts_are_served_and_surrogates_are_not() -> None:
    assert _text_agrees("Calle Niños Héroes 570")
    assert not _text_agrees("Ni\ud800os")
    assert _text_agrees("Ñandú\nGmbH")  # not printable, no surrogate
    # A planted difference: a check that lets surrogates through is caught.
    saved = _parsing._SURROGATE
    _parsing._SURROGATE = re.compile("(?!)")  # finds nothing
    try:
        with pytest.raises(AssertionError):
            _text_agrees("Ni\ud800os")
    finally:
        _parsing._SURROGATE = saved


def test_a_planted_difference_in_the_fast_reader_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def both_ways(parse: Callable[[Any], Any], bundle: dict[str, Any]) -> tuple[Any, Any]:
        fast = outcome(parse, copy.deepcopy(bundle))
        saved = _parsing.FastReader
        _parsing.FastReader = PayloadReader  # type: ignore[misc,assignment]
        try:
            return fast, outcome(parse, copy.deepcopy(bundle))
        finally:
            _parsing.FastReader = saved  # type: ignore[misc]

    def caught() -> list[str]:
        return [
            name
            for name, (seeds, parse) in CASES.items()
            if any(a != b for a, b in (both_ways(parse, seed) for seed in seeds))
        ]

    assert caught() == []
    real_rfc = _parsing._fixed_rfc2822

    def rfc_off_by_one(value: str) -> dt.datetime | None:
        result = real_rfc(value)
        return None if result is None else result + dt.timedelta(seconds=1)

    monkeypatch.setattr(_parsing, "_fixed_rfc2822", rfc_off_by_one)
    assert any(name.startswith("bigcommerce") for name in caught())
    monkeypatch.undo()

    real_php = FastReader._php_datetime

    def php_off_by_one(self: FastReader, value: dict[str, Any]) -> dt.datetime:
        return real_php(self, value) + dt.timedelta(seconds=1)

    monkeypatch.setattr(FastReader, "_php_datetime", php_off_by_one)
    assert any(name.startswith("tiendanube") for name in caught())
    monkeypatch.undo()

    real_sum = FastReader.money_sum

    def sum_plus_a_cent(self: FastReader, *args: Any, **kwargs: Any) -> Any:
        total = real_sum(self, *args, **kwargs)
        return None if total is None else total + type(total)(Decimal("0.01"), total.currency)

    monkeypatch.setattr(FastReader, "money_sum", sum_plus_a_cent)
    found = caught()
    assert any(name.startswith("tiendanube") for name in found), found
    assert any(name.startswith("bigcommerce") for name in found), found


# -- one-key paths ------------------------------------------------------------------------------

_PATHS = st.one_of(
    st.text(max_size=6),
    st.lists(st.sampled_from(["a", "b", "[0]", "[12]", "", ".", "]"]), max_size=4).map("".join),
)


@settings(max_examples=1000)
@given(path=_PATHS, payload=st.dictionaries(_PATHS, st.one_of(st.none(), st.text(max_size=3))))
def test_one_key_paths_are_only_one_key_paths(path: str, payload: dict[str, Any]) -> None:
    # Readers look a path listed in _ONE_KEY up in the payload as it is: it must be a
    # path whose only step is the path itself, whatever the payload holds.
    _agrees(lambda r: r.raw(path, "<missing>"), payload)
    _agrees(lambda r: r.text(path), payload)
    _agrees(lambda r: r.boolean(path), payload)
    if path in _parsing._ONE_KEY:
        assert _parsing._parse_steps(path) == (path,)
    elif _parsing._parse_steps(path) == (path,):
        assert _parsing._PLANS.get(path) in (None, path)


def test_a_wrong_one_key_entry_is_caught() -> None:
    payload = {"a.b": "flat", "a": {"b": "nested"}}
    assert _agrees(lambda r: r.text("a.b"), payload)
    _parsing._ONE_KEY.add("a.b")  # planted: "a.b" is two keys, not one
    try:
        with pytest.raises(AssertionError):
            _agrees(lambda r: r.text("a.b"), payload)
    finally:
        _parsing._ONE_KEY.discard("a.b")


def test_one_key_paths_are_bounded() -> None:
    for n in range(_parsing._STEPS_LIMIT + 10):
        _parsing._plan(f"key{n}")
        assert len(_parsing._ONE_KEY) <= len(_parsing._PLANS) <= _parsing._STEPS_LIMIT


# -- Shopify's legacy_id ------------------------------------------------------------------------


def _legacy_id_before(value: Any) -> str | None:
    """shopify._shared.legacy_id before its memo, word for word."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.startswith(_shared.GID_PREFIX):
        text = text.rsplit("/", 1)[-1].split("?", 1)[0]
    return text or None


_GIDS = st.one_of(
    st.text(max_size=10),
    st.text(max_size=12).map(lambda t: f"gid://shopify/Order/{t}"),
    st.sampled_from(["gid://shopify/Order/1?x=2", " gid://shopify/Line/7 ", "gid://shopify/", ""]),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(min_size=130, max_size=140).map(lambda t: f"gid://shopify/X/{t}"),
)


@settings(max_examples=1500)
@given(value=_GIDS)
def test_legacy_ids_are_what_they_were(value: Any) -> None:
    expected = _legacy_id_before(value)
    assert _shared.legacy_id(value) == expected
    assert _shared.legacy_id(value) == expected  # remembered the second time


def test_the_legacy_id_memo_is_used_bounded_and_a_planted_entry_is_caught() -> None:
    _shared._LEGACY_IDS.clear()
    _shared.legacy_id("gid://shopify/Order/450789469")
    assert _shared._LEGACY_IDS == {"gid://shopify/Order/450789469": "450789469"}
    _shared.legacy_id("gid://shopify/X/" + "9" * 200)  # too long to keep
    assert len(_shared._LEGACY_IDS) == 1
    for n in range(_shared._LEGACY_IDS_LIMIT + 10):
        _shared.legacy_id(f"gid://shopify/Order/{n}")
        assert len(_shared._LEGACY_IDS) <= _shared._LEGACY_IDS_LIMIT
    # The memo is what answers: a wrong entry shows, and the comparison above sees it.
    _shared._LEGACY_IDS["gid://shopify/Order/5"] = "6"
    try:
        assert _shared.legacy_id("gid://shopify/Order/5") != _legacy_id_before(
            "gid://shopify/Order/5"
        )
    finally:
        _shared._LEGACY_IDS.clear()


# -- BigCommerce consignments ---------------------------------------------------------------------


def _consignments_before(payload: Any) -> list[tuple[str, Mapping[str, Any]]] | None:
    """bigcommerce.parsers._consignments before this round, word for word."""
    raw = payload.get("consignments") if isinstance(payload, Mapping) else None
    if not isinstance(raw, Mapping) or "url" in raw or "resource" in raw:
        return None
    found: list[tuple[str, Mapping[str, Any]]] = []
    for kind in bigcommerce.CONSIGNMENT_KINDS:
        node: Any = raw
        for key in kind.split("."):
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, list):
            found.extend(
                (f"consignments.{kind}[{n}]", item)
                for n, item in enumerate(node)
                if isinstance(item, Mapping)
            )
    return found


def _lines_of_before(
    consignments: list[tuple[str, Mapping[str, Any]]] | None,
) -> list[tuple[str, Any]] | None:
    """bigcommerce.parsers._lines_of before this round, word for word."""
    if consignments is None:
        return None
    lines: dict[Any, tuple[str, Any]] = {}
    for path, consignment in consignments:
        items = consignment.get("line_items", [])
        if not isinstance(items, list):
            return None
        for n, item in enumerate(items):
            if not isinstance(item, Mapping) or "resource" in item or "url" in item:
                return None  # a link to the line, not the line
            key = item.get("id")
            if isinstance(key, bool) or not isinstance(key, int):
                key = (path, n)  # no usable id: kept, never merged with another
            lines.setdefault(key, (f"{path}.line_items[{n}]", item))
    return [
        lines[key]
        for key in sorted(lines, key=lambda k: (0, k, "") if isinstance(k, int) else (1, 0, k))
    ]


_LINE = st.one_of(
    st.fixed_dictionaries(
        {"id": st.one_of(st.integers(-3, 30), st.booleans(), st.none(), st.just("7"))},
        optional={"url": st.just("u"), "quantity": st.integers(0, 3)},
    ),
    st.none(),
    st.just("line"),
)
_CONSIGNMENT = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "line_items": st.one_of(st.lists(_LINE, max_size=4), st.just({"url": "u"})),
            "id": st.integers(0, 9),
        },
    ),
    st.just([]),
    st.none(),
)
_CONSIGNMENTS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "pickups": st.lists(_CONSIGNMENT, max_size=2),
            "shipping": st.one_of(st.lists(_CONSIGNMENT, max_size=3), st.just({"x": 1})),
            "downloads": st.lists(_CONSIGNMENT, max_size=2),
            "email": st.fixed_dictionaries(
                {}, optional={"gift_certificates": st.lists(_CONSIGNMENT, max_size=2)}
            ),
            "url": st.just("https://x"),
        },
    ),
    st.none(),
    st.just([]),
)


@settings(max_examples=1500)
@given(consignments=_CONSIGNMENTS, outer=st.sampled_from(["dict", "list", "missing"]))
def test_consignment_walks_are_what_they_were(consignments: Any, outer: str) -> None:
    payload: Any = {"consignments": consignments} if outer == "dict" else [consignments]
    if outer == "missing":
        payload = {}
    found = bigcommerce._consignments(payload)
    assert found == _consignments_before(payload)
    assert bigcommerce._lines_of(found) == _lines_of_before(found)
    assert bigcommerce.consignment_lines(payload) == _lines_of_before(_consignments_before(payload))


def test_a_planted_difference_in_the_consignment_walk_is_caught() -> None:
    found = [("consignments.shipping[0]", {"line_items": [{"id": 2}, {"id": 1}]})]
    assert bigcommerce._lines_of(found) == _lines_of_before(found)
    reversed_walk = list(reversed(_lines_of_before(found) or []))
    assert reversed_walk != _lines_of_before(found)


# -- Tiendanube's helpers -----------------------------------------------------------------------


def _text_field_before(r: PayloadReader, path: str, language: str | None) -> str | None:
    """tiendanube.parsers._text_field before this round, word for word."""
    tiendanube._translations(r, path)  # records a problem for a bad shape
    return tiendanube.localized(r.raw(path), language)


def _flat_address_before(r: PayloadReader, prefix: str) -> Any:
    """tiendanube.parsers._flat_address before this round, word for word."""
    keys = tuple(prefix + f for f in tiendanube._FLAT_FIELDS)
    if all(r.raw(key) in (None, "") for key in keys):
        return None
    name, phone, address, number, floor, locality, city, province, zipcode, country = keys
    if tiendanube._is_object(r.raw(address)):  # orders: shipping_address is an object
        return None
    first, last = tiendanube.split_name(r.text(name))
    return tiendanube.Address(
        first_name=first,
        last_name=last,
        phone=r.text(phone),
        line1=tiendanube._join(r.text(address), r.text(number)),
        line2=tiendanube._join(r.text(floor), r.text(locality), sep=", "),
        city=r.text(city),
        province=r.text(province),
        postal_code=r.text(zipcode),
        country_code=r.text(country),
    )


_NAMES = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.dictionaries(
        st.sampled_from(["es", "pt", "en", "es_AR", 1]),
        st.one_of(st.text(max_size=4), st.none(), st.integers()),
        max_size=3,
    ),
    st.integers(),
    st.lists(st.text(max_size=2), max_size=2),
)


def _both(helper: Callable[..., Any], before: Callable[..., Any], payload: Any, *args: Any) -> None:
    new = PayloadReader(copy.deepcopy(payload), platform="tiendanube", kind="order")
    old = PayloadReader(copy.deepcopy(payload), platform="tiendanube", kind="order")
    assert repr(helper(new, *args)) == repr(before(old, *args))
    assert [(p.path, p.reason, repr(p.value)) for p in new.problems] == [
        (p.path, p.reason, repr(p.value)) for p in old.problems
    ]


@settings(max_examples=800)
@given(name=_NAMES, language=st.sampled_from([None, "pt", "es"]))
def test_text_fields_are_what_they_were(name: Any, language: Any) -> None:
    _both(tiendanube._text_field, _text_field_before, {"name": name}, "name", language)
    _both(tiendanube._text_field, _text_field_before, {}, "name", language)


_FLAT_VALUES = st.one_of(
    st.none(), st.just(""), st.text(max_size=4), st.integers(), st.just({"a": 1})
)


@settings(max_examples=800)
@given(
    values=st.dictionaries(st.sampled_from(tiendanube._FLAT_FIELDS), _FLAT_VALUES, max_size=5),
    prefix=st.sampled_from(["billing_", "shipping_"]),
)
def test_flat_addresses_are_what_they_were(values: dict[str, Any], prefix: str) -> None:
    payload = {prefix + key: value for key, value in values.items()}
    _both(tiendanube._flat_address, _flat_address_before, payload, prefix)


def test_planted_differences_in_the_tiendanube_helpers_are_caught() -> None:
    payload = {"name": {"es": "Pelota", "pt": "Bola"}}
    with pytest.raises(AssertionError):
        _both(
            tiendanube._text_field,
            lambda r, path, language: _text_field_before(r, path, "pt"),
            payload,
            "name",
            None,
        )
    with pytest.raises(AssertionError):
        _both(
            tiendanube._flat_address,
            lambda r, prefix: None,
            {"billing_city": "Rosario"},
            "billing_",
        )
