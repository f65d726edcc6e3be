"""Mutation fuzzing of the public parsers, from the platforms' own example payloads.

Every fuzz test starts from an official example payload (``../shared/official-examples``,
read at test time, never copied into the project), mutates it with hypothesis (dropped
keys, nulls, wrong types, huge and non-ASCII strings, NaN and infinities, out-of-range
amounts, extreme dates, odd time zone names) and checks the only two outcomes a parser
may have: a valid canonical record, or :class:`InvalidRecordError` carrying the payload
and the JSON path of every bad field. Anything else (``TypeError``, ``OverflowError``,
``OSError``, a warning…) fails the test.

Speed: each test runs :data:`FUZZ_EXAMPLES` examples (150 by default, the hypothesis
profile's own count when it is larger, e.g. ``HYPOTHESIS_PROFILE=thorough``); under CI
the ``ci`` profile derandomizes them. ``FUZZ_EXAMPLES=5000 pytest tests/fuzz`` runs a
longer campaign.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors._parsing import EARLIEST_DATETIME, LATEST_DATETIME, MAX_MINOR_UNITS
from commerce_connectors.errors import CurrencyError, InvalidRecordError
from commerce_connectors.models import Money
from commerce_connectors.serialization import from_data, to_data

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
EXAMPLES = SHARED / "official-examples"

#: Examples per fuzz test (see the module docstring).
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or max(150, settings.default.max_examples))
FUZZ = settings(max_examples=FUZZ_EXAMPLES)

Path_ = tuple[str | int, ...]


@cache
def _example_text(platform: str, name: str) -> str:
    return (EXAMPLES / platform / name).read_text(encoding="utf-8")


def example(platform: str, name: str) -> Any:
    """A fresh copy of one official example payload (``official-examples/<platform>/<name>``)."""
    return json.loads(_example_text(platform, name))


# -- nasty values ---------------------------------------------------------------------------

ODD_ZONES: tuple[Any, ...] = (
    "UTC",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Etc/GMT+3",
    "+03:00",
    "-0300",
    "+99:99",
    "/usr/share/zoneinfo/UTC",
    "../../etc/passwd",
    "America/../../../etc/passwd",
    "zone.tab",
    "posixrules",
    "x" * 300,
    "Mars/Olympus",
    "\x00",
    "UTC\x00",
    " ",
    "",
    "EST",
    "BRT",
    5,
    None,
    ["UTC"],
    {"name": "UTC"},
)

EXTREME_DATES: tuple[str, ...] = (
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-01:00",
    "0002-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "9998-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59.999999+14:00",
    "2024-02-30T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "9999-12-31T24:00:00Z",
    "2024-01-01T25:00:00Z",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00",
    "2024-01-01",
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "Mon, 01 Jan 0001 00:00:00 +0000",
    "Fri, 31 Dec 9999 23:59:59 -0100",
    "Tue, 20 Nov 12 00:00:00 +0000",
    "Sun, 20 Nov 55 00:00:00 +0000",
    "Tue, 20 Nov 112 00:00:00 +0000",
    "Tue, 20 Nov 2012 00:00:00 -0000",
    "Tue, 20 Nov 2012 00:00:00 XYZ",
    "Tue, 20 Nov 2012 00:00:00 +9999",
    "Tue, 31 Feb 2012 00:00:00 +0000",
    "Tue, 20 Nov 2012 24:61:61 +0000",
    "yesterday",
)

ODD_NUMBERS: tuple[Any, ...] = (
    "1e30",
    "-1e30",
    "1E+999999",
    "1e-999999",
    "1e-29",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-5.00",
    "-0.00",
    "-0",
    "0",
    "92233720368547758.07",
    "92233720368547758.08",
    "9223372036854775807",
    "9223372036854775808",
    "9" * 40,
    "9" * 5000,
    "0." + "1" * 40,
    "1_000.00",
    "١٢٣",
    "12,50",
    " 12.50 ",
    "+1",
    "0x10",
    float("nan"),
    float("inf"),
    float("-inf"),
    1e300,
    -1e300,
    1e-300,
    0.1,
    -0.0,
    -1,
    -250,
    2**63,
    -(2**63) - 1,
    10**30,
    2**63 - 1,
    True,
    False,
)

ODD_TEXT: tuple[Any, ...] = (
    "",
    " ",
    "\t\n",
    "\x00",
    "null",
    "x" * 300,
    "💥" * 100,
    "ÀÉÎÕÜ ñ ß ﬁ",
    "\u202etxet",
    "gid://shopify/Order/",
    "gid://shopify/Order/?x=1",
    "gid://shopify/Customer/7",
    "ITEM",
    "ITEM_VARIATION",
    [],
    {},
    [None],
    [[]],
    {"date": "2024-01-01 00:00:00.000000"},
    {"es": "Pelota", "pt": 5},
)


#: Tiendanube's PHP ``DateTime`` object, with odd dates and zone names.
PHP_DATES = st.fixed_dictionaries(
    {
        "date": st.sampled_from(
            (
                "2024-05-01 12:00:00.000000",
                "0001-01-01 00:00:00.000000",
                "9999-12-31 23:59:59.000000",
                "2024-05-01T12:00:00+00:00",
                "",
                "x",
            )
        ),
        "timezone_type": st.sampled_from((1, 2, 3)),
        "timezone": st.sampled_from(ODD_ZONES),
    }
)


_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d")
_RFC_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} (\d{4})")


def _perturbed(current: Any) -> st.SearchStrategy[Any]:
    """Values close to ``current``: its type kept, its meaning pushed to the edges."""
    if isinstance(current, bool):
        return st.sampled_from((not current, int(current), str(current).lower()))
    if isinstance(current, (int, float)):
        return st.sampled_from(
            (-current, current * 10**20, current + 0.5, str(current), -abs(current) - 1)
        )
    if isinstance(current, str):
        options: list[Any] = ["-" + current, current + "e30", current * 50, current.upper()]
        if _ISO_DATE.match(current):
            options += ["0001" + current[4:], "9999" + current[4:], current[:19] + "-12:00"]
            options += [current[:19] + "+14:00", "0001" + current[4:19] + "+14:00"]
        if (rfc := _RFC_DATE.match(current)) is not None:
            start, end = rfc.span(1)
            for year in ("0001", "01", "99", "9999", "112"):
                options.append(current[:start] + year + current[end:])
        return st.sampled_from(options)
    if isinstance(current, list):
        return st.sampled_from(([], current * 3, current[:1], [current], current[::-1]))
    if isinstance(current, Mapping):
        return st.sampled_from(([current], dict(current), {}, list(current)))
    return st.none()


# Built once: strategies are cheap to draw from, not to build.
_OFFSETS = st.sampled_from(
    [dt.timezone(dt.timedelta(minutes=m)) for m in (-12 * 60, -3 * 60, 0, 5 * 60 + 45, 14 * 60)]
)
LEAVES = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(EXTREME_DATES),
    st.sampled_from(ODD_TEXT),
    st.sampled_from(ODD_ZONES),
    PHP_DATES,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=20),
    st.datetimes(timezones=_OFFSETS).map(lambda d: d.isoformat()),
)
CONTAINERS = st.one_of(
    st.lists(LEAVES, max_size=3),
    st.dictionaries(st.text(max_size=6), LEAVES, max_size=3),
)


def nasty(current: Any) -> st.SearchStrategy[Any]:
    """A replacement for ``current``: an odd value of any type, or a twist of ``current``."""
    return st.one_of(LEAVES, _perturbed(current), CONTAINERS)


# -- the mutator ----------------------------------------------------------------------------


def _walk(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*prefix, index))


def _keys(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            found |= _keys(value)
    elif isinstance(node, list):
        for value in node:
            found |= _keys(value)
    return found


def _get(node: Any, path: Path_) -> Any:
    for step in path:
        node = node[step]
    return node


def _mutable_paths(bundle: dict[str, Any]) -> list[Path_]:
    """Every node but the bundle itself and the argument lists (their items may change)."""
    paths: list[Path_] = []
    for arg, value in bundle.items():
        for path in _walk(value, (arg,)):
            if len(path) > 1 or arg == "payload":
                paths.append(path)
    return paths


_AMOUNT_KEY = re.compile(
    r"amount|price|total|cost|tax|discount|quantity|ordinal|position|money", re.IGNORECASE
)
_DATE_KEY = re.compile(r"(_at|At|_time)$|^date|timezone", re.IGNORECASE)
_NUMBER_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


_DATES = st.one_of(st.sampled_from(EXTREME_DATES), PHP_DATES, st.sampled_from(ODD_ZONES))
_NUMBERS = st.sampled_from(ODD_NUMBERS)


def _kind(path: Path_, value: Any) -> str | None:
    """``"date"``, ``"number"`` or None: where the known crashes were."""
    key = str(path[-1])
    if _DATE_KEY.search(key) or (
        isinstance(value, str) and (_ISO_DATE.match(value) or _RFC_DATE.match(value))
    ):
        return "date"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    numeric = numeric or (isinstance(value, str) and bool(_NUMBER_TEXT.match(value)))
    return "number" if numeric or _AMOUNT_KEY.search(key) else None


def _targeted(kind: str, value: Any) -> st.SearchStrategy[Any]:
    """Edge values of a date, zone or amount field, or a twist of its own value."""
    return st.one_of(_DATES if kind == "date" else _NUMBERS, _perturbed(value))


@st.composite
def mutated(draw: st.DrawFn, seed: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``seed`` (a bundle of parser arguments) with one to four mutations applied.

    ``seed["payload"]`` is the record; the bundle's other entries are the parser's
    other arguments (lists of sub-resources, payments, related objects), whose items
    are mutated too. ``keys`` are field names to add where they were not (every key of
    the platform's examples), so absent optional fields get odd values as well.
    """
    bundle = copy.deepcopy(dict(seed))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _mutable_paths(bundle)
        # Half the time, a date, zone or amount field gets an edge value of its kind.
        targets = [(p, k) for p in paths if len(p) > 1 and (k := _kind(p, _get(bundle, p)))]
        if targets and draw(st.booleans()):
            path, kind = draw(st.sampled_from(targets))
            parent = _get(bundle, path[:-1])
            parent[path[-1]] = copy.deepcopy(draw(_targeted(kind, parent[path[-1]])))
            continue
        path = draw(st.sampled_from(paths))
        parent = _get(bundle, path[:-1])
        step = path[-1]
        current = parent[step]
        action = draw(
            st.sampled_from(("drop", "null", "nasty", "nasty", "nasty", "add", "duplicate"))
        )
        if action == "drop" and len(path) > 1:
            del parent[step]
        elif action == "null":
            parent[step] = None
        elif action == "add" and isinstance(current, dict):
            # Copies: the odd values are shared constants, later steps may change them.
            current[draw(st.sampled_from(keys))] = copy.deepcopy(draw(nasty(None)))
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(int(step), copy.deepcopy(current))
        else:
            parent[step] = copy.deepcopy(draw(nasty(current)))
    return bundle


def bundle_keys(*seeds: Mapping[str, Any]) -> list[str]:
    """Every key of ``seeds``, sorted (hypothesis wants a stable order)."""
    found: set[str] = set()
    for seed in seeds:
        found |= _keys(dict(seed))
    return sorted(found)


# -- the oracle -----------------------------------------------------------------------------


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, dt.datetime):
        assert value.utcoffset() == dt.timedelta(0), where
        assert EARLIEST_DATETIME <= value <= LATEST_DATETIME, where
    elif isinstance(value, Money):
        assert value.amount.is_finite(), where
        assert value.amount >= 0, f"{where}: negative amount {value}"
        try:
            units = value.to_minor_units()
        except CurrencyError:  # XAU & co. have no minor unit: the amount itself is bounded
            units = int(value.amount)
        assert abs(units) <= MAX_MINOR_UNITS, where
    elif isinstance(value, Decimal):
        assert value.is_finite(), where
    elif attrs.has(type(value)):
        _check_record(value, where)
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_value(item, f"{where}.{key}")


def _check_record(record: Any, where: str) -> None:
    for field in attrs.fields(type(record)):
        if field.name == "raw":
            continue
        value = getattr(record, field.name)
        if field.name == "quantity":
            assert value >= 0, f"{where}.quantity is negative: {value}"
        if field.name.endswith("_id") and value is not None:
            assert isinstance(value, str), f"{where}.{field.name}: {value!r}"
            assert value.strip(), f"{where}.{field.name} is blank"
        _check_value(value, f"{where}.{field.name}")


def check_outcome(
    parse: Callable[[dict[str, Any]], Any], bundle: dict[str, Any], record_type: type
) -> Any:
    """Parse ``bundle``; the outcome must be a valid ``record_type`` or InvalidRecordError.

    Returns the record, or ``None`` when the parser refused the payload cleanly.
    """
    try:
        record = parse(bundle)
    except InvalidRecordError as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        assert refused.problems, "an InvalidRecordError names at least one field"
        for problem in refused.problems:
            assert problem.path.startswith("$"), problem.path
            assert isinstance(problem.reason, str), problem
            assert problem.reason, problem
        assert refused.payload is bundle["payload"], "the error carries the payload as given"
        str(refused)
        json.dumps(refused.as_dict())
        return None
    assert isinstance(record, record_type), type(record)
    _check_record(record, "$record")
    # What a sink stores must survive serialisation.
    from_data(record_type, to_data(record))
    return record


#: A public parser under fuzz: ``(bundle -> record, the record's type)``.
ParserCase = tuple[Callable[[dict[str, Any]], Any], type]


def fuzz_suite(
    seeds: Mapping[str, Sequence[dict[str, Any]]], parsers: Mapping[str, ParserCase]
) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests every platform's fuzz module runs, for its seeds and parsers.

    * every seed (an official example, unmutated) parses to a valid record;
    * per kind, mutated seeds give a valid record or an ``InvalidRecordError`` only.

    A module binds them to test names: ``test_seeds, test_fuzz = fuzz_suite(SEEDS, PARSERS)``.
    """
    keys = bundle_keys(*(seed for group in seeds.values() for seed in group))
    cases = [(kind, seed) for kind, group in seeds.items() for seed in group]

    @pytest.mark.parametrize(("kind", "seed"), cases)
    def every_seed_is_a_valid_record(kind: str, seed: dict[str, Any]) -> None:
        parse, record_type = parsers[kind]
        assert check_outcome(parse, seed, record_type) is not None

    @pytest.mark.parametrize("kind", list(parsers))
    @FUZZ
    @given(data=st.data())
    def mutated_payloads_parse_or_are_refused(kind: str, data: st.DataObject) -> None:
        bundles = st.sampled_from(list(seeds[kind])).flatmap(lambda seed: mutated(seed, keys))
        parse, record_type = parsers[kind]
        check_outcome(parse, data.draw(bundles), record_type)

    return every_seed_is_a_valid_record, mutated_payloads_parse_or_are_refused
