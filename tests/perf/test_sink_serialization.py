"""The sinks' precomputed serialisation equals the generic path it replaced.

* :func:`unstructurer` gives what ``converter.unstructure`` gives, for every record;
* :func:`record_data` is ``to_data`` without the raw payloads;
* :func:`jsonable` is a JSON round trip (``json.dumps(default=str)`` then ``json.loads``);
* stored contacts read back the same through orjson (the ``fast`` extra) and without;
* the record digest, built from the record's text and the rest's, is
  ``digest([data, fields, trigger, status, contact])``, and the row text the SQLite sink
  stores is ``json.dumps`` of the data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.models import Cart, Customer, Order, Payment, Product
from commerce_connectors.rules import Contact, ContactKey, IdentityKind
from commerce_connectors.serialization import converter, plain_data, to_data, unstructurer
from commerce_connectors.sinks import _core
from commerce_connectors.sinks._core import (
    contact_from_data,
    contact_to_data,
    digest,
    encode,
    jsonable,
    load_contact_json,
    record_data,
)
from commerce_connectors.testing import strategies as cs

RECORDS = st.one_of(cs.customers(), cs.orders(), cs.products(), cs.carts())

# Vendor JSON as ``extra`` and ``raw`` hold it, with the odd values payloads carry.
VENDOR = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.datetimes(timezones=st.just(dt.timezone.utc)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
    ),
    max_leaves=10,
)


def _with_vendor_json(record: Any, extra: Any, raw: Any) -> Any:
    import attrs

    changes: dict[str, Any] = {"extra": {"x": extra}, "raw": raw}
    buyer = getattr(record, "customer", None)
    if buyer is not None:
        changes["customer"] = attrs.evolve(buyer, extra={"y": extra}, raw=raw)
    return attrs.evolve(record, **changes)


def _old_record_data(record: Any) -> dict[str, Any]:
    # The generic path the sinks used: the converter, then the raw payloads dropped.
    data: dict[str, Any] = converter.unstructure(record)
    data.pop("raw", None)
    if isinstance(data.get("customer"), dict):
        data["customer"].pop("raw", None)
    return data


@given(record=RECORDS, extra=VENDOR, raw=VENDOR)
def test_precomputed_unstructuring_equals_the_converter(record: Any, extra: Any, raw: Any) -> None:
    record = _with_vendor_json(record, extra, raw)
    assert repr(unstructurer(type(record))(record)) == repr(converter.unstructure(record))
    assert repr(to_data(record)) == repr(converter.unstructure(record))
    assert repr(record_data(record)) == repr(_old_record_data(record))
    assert "raw" not in record_data(record)


def test_every_record_class_has_a_precomputed_function() -> None:
    for cls in (Customer, Order, Product, Cart, Payment):
        assert callable(unstructurer(cls))
    with pytest.raises(TypeError):
        unstructurer(dict)


def test_values_the_converter_knows_better_go_through_it() -> None:
    class Colour(enum.Enum):
        RED = "red"

    value = {"c": Colour.RED, 1: "int key", "nested": frozenset({1})}
    assert plain_data(value) == converter.unstructure(value)


def _round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


class Flag(str, enum.Enum):
    ON = "on"


class Level(enum.IntEnum):
    HIGH = 3


ODD = st.sampled_from(
    [
        Flag.ON,
        Level.HIGH,
        10**30,
        -(10**18),
        10**18 - 1,
        float("nan"),
        float("inf"),
        -0.0,
        1e16,
        Decimal("1E+3"),
        dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
        dt.date(2024, 1, 1),
        {1: "a", "1": "b"},
        {None: 1, True: 2, 2.5: 3},
        frozenset(),
        "é\u2028\x00",
    ]
)
FIELDS = st.recursive(
    VENDOR | ODD,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
    ),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return repr(a) == repr(b) and type(a) is type(b)


def _deep_same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_deep_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_same(x, y) for x, y in zip(a, b, strict=True))
    return _same(a, b)


@given(value=FIELDS)
def test_jsonable_equals_a_json_round_trip(value: Any) -> None:
    assert _deep_same(jsonable(value), _round_trip(value))


def test_jsonable_makes_new_containers() -> None:
    fields = {"tags": ["a"], "nested": {"x": 1}}
    out = jsonable(fields)
    out["tags"].append("b")
    out["nested"]["y"] = 2
    assert fields == {"tags": ["a"], "nested": {"x": 1}}


@given(
    record=RECORDS,
    fields=st.dictionaries(st.text(max_size=5), FIELDS, max_size=4),
    trigger=st.none() | st.tuples(st.booleans(), st.none() | st.text(max_size=5)).map(list),
    status=st.none() | st.sampled_from(["abandoned", "recovered"]),
    contact=st.none() | st.emails(),
)
def test_the_record_digest_is_the_digest_of_the_item(
    record: Any, fields: Any, trigger: Any, status: Any, contact: Any
) -> None:
    data = record_data(record)
    try:
        expected = digest([data, fields, trigger, status, contact])
    except (TypeError, ValueError) as exc:  # keys json cannot sort: the same refusal
        with pytest.raises(type(exc)):
            _core._record_digest(data, (fields, trigger, status, contact))
        return
    assert _core._record_digest(data, (fields, trigger, status, contact)) == expected
    # The backend then stores the very text that was fingerprinted.
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    assert encode(data) == text
    assert encode(dict(data)) == text  # an equal object is encoded afresh, same text
    assert encode(fields) == json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)


TEXT = st.text(max_size=12) | st.sampled_from(["\ud800", "é\u2028", "\x00", '"\\'])
CONTACTS = st.builds(
    Contact,
    key=st.builds(ContactKey, st.sampled_from(list(IdentityKind)), st.text(min_size=1)),
    updated_at=st.datetimes(timezones=st.just(dt.timezone.utc)),
    email=st.none() | TEXT,
    phone=st.none() | TEXT,
    first_name=st.none() | TEXT,
    tags=st.lists(TEXT, max_size=3).map(tuple),
    accepts_marketing=st.none() | st.booleans(),
    field_times=st.dictionaries(TEXT, st.datetimes(timezones=st.just(dt.timezone.utc)), max_size=2),
)


@contextlib.contextmanager
def orjson_as(module: Any) -> Iterator[None]:
    """The sink reads contact JSON with ``module`` (``None``: the standard library)."""
    saved = _core._orjson
    _core._orjson = module
    try:
        yield
    finally:
        _core._orjson = saved


@given(contact=CONTACTS)
def test_stored_contacts_read_back_the_same_with_or_without_orjson(contact: Contact) -> None:
    text = encode(contact_to_data(contact))
    expected = json.loads(text)
    assert repr(load_contact_json(text)) == repr(expected)
    with orjson_as(None):
        assert repr(load_contact_json(text)) == repr(expected)
    assert contact_from_data(load_contact_json(text)) == contact


def test_orjson_is_used_when_installed() -> None:
    # The fast extra's reader is wired in (this environment installs the extra).
    orjson = pytest.importorskip("orjson")
    assert _core._orjson is orjson
