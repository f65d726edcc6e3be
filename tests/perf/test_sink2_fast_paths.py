"""The sink write path's second round of fast paths gives what the checked paths give.

* :func:`~commerce_connectors.serialization.unstructurer` writes small records (Money),
  datetimes, quantities, tuples of records and ``extra`` mappings inline in the
  generated code, and :func:`~commerce_connectors.serialization.plain_data` turns the
  model's records inside vendor JSON (Square's payments) into data with their
  precomputed functions: both equal ``converter.unstructure`` (compared by ``repr``);
* ``_core._already_plain`` only says "plain" of data :func:`jsonable` copies as it is,
  so a backend storing the fields' text (SQLite) can be handed the item's own fields:
  the same text, the same fingerprint, the same rows (the differential runs of
  ``test_sink_batch_differential`` hold the SQLite rows to the reference byte for byte);
* the SQLite sink's cache of decoded stored contacts changes no outcome, snapshot or row.

Each part also shows its comparison catches a planted difference, and that the fast
path is the one taken.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import reference_apply_batch as reference
import reference_memory_sink as memory_round1
import reference_sqlite_sink as sqlite_round1
import test_sink_batch_differential as diff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commerce_connectors import serialization
from commerce_connectors.models import LineItem, Money, Order, Payment
from commerce_connectors.protocols import SinkBatch, SinkItem
from commerce_connectors.rules import Contact, RecordKey
from commerce_connectors.serialization import converter, plain_data, unstructurer
from commerce_connectors.sinks import MemorySink, SQLiteSink, _core, memory
from commerce_connectors.sinks import sqlite as sqlite_sink
from commerce_connectors.sinks._core import jsonable
from commerce_connectors.testing import strategies as cs

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)

VENDOR = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=6),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.datetimes(timezones=st.just(UTC)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
        st.dictionaries(st.integers(0, 20), inner, max_size=2),  # keys json sorts as ints
    ),
    max_leaves=10,
)

# -- generated unstructuring ---------------------------------------------------------------


def _with_payments(record: Any, payments: list[Payment], raw: Any) -> Any:
    """The record with payments (and vendor JSON) in its ``extra``, as Square's orders."""
    return attrs.evolve(record, extra={"payments": payments, "note": raw}, raw=raw)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    record=st.one_of(cs.orders(), cs.customers(), cs.carts(), cs.products()),
    payments=st.lists(cs.payments(), max_size=2),
    raw=VENDOR,
)
def test_records_in_vendor_json_unstructure_as_the_converter_does(
    record: Any, payments: list[Payment], raw: Any
) -> None:
    payments = [attrs.evolve(p, raw=raw, extra={"k": raw}) for p in payments]
    record = _with_payments(record, payments, raw)
    assert repr(unstructurer(type(record))(record)) == repr(converter.unstructure(record))
    assert repr(plain_data(payments)) == repr(converter.unstructure(payments))
    assert repr(plain_data(tuple(payments))) == repr(converter.unstructure(tuple(payments)))


@given(payment=cs.payments(), raw=VENDOR)
def test_a_payment_unstructures_as_the_converter_does(payment: Payment, raw: Any) -> None:
    payment = attrs.evolve(payment, raw=raw, extra={"raw": raw})
    assert repr(plain_data(payment)) == repr(converter.unstructure(payment))
    assert repr(plain_data({"p": payment})) == repr(converter.unstructure({"p": payment}))


@given(quantity=st.integers(-5, 5) | st.decimals(allow_nan=False, allow_infinity=False))
def test_inline_quantities_and_money_equal_the_converter(quantity: Any) -> None:
    line = LineItem(
        name="x", quantity=quantity, unit_price=Money("1.50", "EUR"), total=Money("3", "EUR")
    )
    assert repr(unstructurer(LineItem)(line)) == repr(converter.unstructure(line))
    without_total = attrs.evolve(line, total=None)
    assert repr(unstructurer(LineItem)(without_total)) == repr(converter.unstructure(without_total))


def test_a_required_money_that_is_missing_fails_as_before() -> None:
    """Inline code reads a required Money as a call would: ``None`` has no amount."""
    line = LineItem(name="x", quantity=1, unit_price=Money("1", "EUR"))
    object.__setattr__(line, "unit_price", None)
    with pytest.raises(AttributeError):
        unstructurer(LineItem)(line)
    with pytest.raises(AttributeError):
        converter.unstructure(line)


def test_the_generated_code_writes_the_fast_forms() -> None:
    """The inline forms are what runs (their source is kept by the code objects)."""
    function = unstructurer(Order, raw=False)
    names = set(function.__code__.co_names)
    assert "isoformat" in names  # datetimes written inline
    assert "amount" in names  # Money written inline
    assert "items" in names  # extra's mapping written inline
    consts = function.__code__.co_consts
    assert not any(isinstance(c, str) and c == "raw" for c in consts)


@pytest.fixture
def regenerated() -> Iterator[None]:
    """Generated functions made afresh for a test, the shipped ones put back after it."""
    saved = dict(serialization._GENERATED)
    serialization._GENERATED.clear()
    try:
        yield
    finally:
        serialization._GENERATED.clear()
        serialization._GENERATED.update(saved)


@pytest.mark.usefixtures("regenerated")
def test_a_wrong_inline_form_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(serialization._FLAT_HANDLERS, Decimal, "repr({0})")
    order = Order(
        "shopify", "shop:1", "1", T0, T0, "paid", "paid", Money("9.90", "EUR"), email="a@b.co"
    )
    assert repr(unstructurer(Order)(order)) != repr(converter.unstructure(order))


@pytest.mark.usefixtures("regenerated")
def test_a_wrong_payment_function_is_caught() -> None:
    serialization._GENERATED[Payment, True] = lambda p: {"external_id": p.external_id}
    payment = Payment("square", "sq:1", "p1", T0, T0, Money("2", "USD"))
    assert repr(plain_data([payment])) != repr(converter.unstructure([payment]))


# -- fields handed as they are -------------------------------------------------------------

_dumps = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


@settings(max_examples=300)
@given(value=VENDOR)
def test_plain_is_said_only_of_what_jsonable_copies_as_it_is(value: Any) -> None:
    plain = _core._already_plain(value)
    try:
        reference = _dumps(jsonable(value))
    except (TypeError, ValueError):
        assert not plain
        return
    if plain:
        assert repr(jsonable(value)) == repr(value)
        assert _dumps(value) == reference
        copied = _core._copied(value)
        assert repr(copied) == repr(value)
    try:
        shipped = _core._plain_json(value)
    except _core._UnusualError:
        return
    assert _dumps(shipped) == reference
    assert repr(shipped) == repr(jsonable(value))


def test_plain_refuses_what_needs_converting_and_cycles() -> None:
    value: Any
    for value in (
        (1,),
        {"a": Decimal("1")},
        {"a": [T0]},
        {1: "a"},
        {"a": 10**30},
        {"a": diff._Str("x")},
        [{"a": frozenset()}],
    ):
        assert not _core._already_plain(value), value
    cycle: list[Any] = []
    cycle.append(cycle)
    assert not _core._already_plain(cycle)
    assert _core._already_plain({"a": [1, 2.5, None, True, "x", {"b": []}]})


def _spy_puts(monkeypatch: pytest.MonkeyPatch, backend: Any) -> list[tuple[Any, Any]]:
    """(item fields or contact, fields handed) for every put the backend class gets."""
    seen: list[tuple[Any, Any]] = []
    put_record, put_contact = backend.put_record, backend.put_contact

    def record(self: Any, item: SinkItem, data: Any, digest: str, fields: Any) -> None:
        seen.append((item.fields, fields))
        put_record(self, item, data, digest, fields)

    def contact(self: Any, contact: Contact, fields: Any) -> None:
        seen.append((contact, fields))
        put_contact(self, contact, fields)

    monkeypatch.setattr(backend, "put_record", record)
    monkeypatch.setattr(backend, "put_contact", contact)
    return seen


def test_sqlite_is_handed_the_items_own_plain_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_puts(monkeypatch, sqlite_sink._Txn)
    plain = {"name": "a", "lines": [{"sku": "S1", "n": 1}]}
    odd = {"total": Decimal("9.90"), "tags": ("a",)}
    items = [
        SinkItem(RecordKey(diff.CONN, "order", "1"), diff._order("1", 0, "10.00"), fields=plain),
        SinkItem(RecordKey(diff.CONN, "order", "2"), diff._order("2", 0, "10.00"), fields=odd),
        SinkItem(RecordKey("", "contact", "ana@x.io"), diff._contact("ana@x.io", 0, "Ana")),
    ]
    with SQLiteSink(":memory:") as sink:
        sink.write(SinkBatch(tuple(items), diff.CONN))
        stored = dict(sink.connection.execute("SELECT external_id, crm_fields FROM orders"))
    assert seen[0][1] is plain  # the fast path: no copy
    assert seen[1][1] == {"total": "9.90", "tags": ["a"]}  # converted, as jsonable does
    assert stored["1"] == _dumps(jsonable(plain))
    assert stored["2"] == _dumps(jsonable(odd))
    assert isinstance(seen[2][0], Contact)
    assert type(seen[2][1]) is dict


def test_memory_keeps_a_copy_of_the_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_puts(monkeypatch, memory._Overlay)
    plain: dict[str, Any] = {"name": "a", "lines": [{"sku": "S1"}]}
    item = SinkItem(RecordKey(diff.CONN, "order", "1"), diff._order("1", 0, "10.00"), fields=plain)
    sink = MemorySink()
    sink.write(SinkBatch((item,), diff.CONN))
    assert seen[0][1] == plain
    assert seen[0][1] is not plain
    assert seen[0][1]["lines"] is not plain["lines"]
    plain["lines"].append({"sku": "S2"})  # the caller's object changes later
    assert sink.snapshot()[item.key]["fields"] == {"name": "a", "lines": [{"sku": "S1"}]}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_plain_check_that_accepts_too_much_is_caught(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Int keys sort differently as text; Decimals must reach a copy as strings."""
    batches = [
        [
            SinkItem(
                RecordKey(diff.CONN, "order", "1"),
                diff._order("1", 0, "10.00"),
                fields={"odd": {2: "b", 10: "c"}, "amount": Decimal("1.5")},
            )
        ]
    ]
    assert diff.differences(kind, batches, {}) == []
    monkeypatch.setattr(_core, "_already_plain", lambda value: True)
    # SQLite: other text and fingerprint in the row; memory: a Decimal kept in the copy.
    assert ("rows" if kind == "sqlite" else "snapshot") in diff.differences(kind, batches, {})


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=diff.BATCHES, options=diff.SETUPS)
def test_the_round2_path_does_what_the_item_path_did(
    kind: str, batches: list[list[SinkItem]], options: dict[str, Any]
) -> None:
    """Generated batches (fields of every odd shape) against the frozen reference."""
    assert diff.differences(kind, batches, options) == []


# -- decoded stored contacts --------------------------------------------------------------


def _sqlite_run(batches: list[SinkBatch], path: Path, cache: bool) -> dict[str, Any]:
    sink = SQLiteSink(path)
    if not cache:
        sink._decoded = None  # type: ignore[assignment]
    try:
        acks = [diff.outcomes(sink.write(batch)) for batch in batches]
        return {"acks": acks, "snapshot": sink.snapshot(), "rows": diff.dump(sink.connection)}
    finally:
        sink.close()


@pytest.fixture(scope="module")
def synced() -> list[SinkBatch]:
    round2: Any = importlib.import_module("test_fast_paths_round2")
    batches: list[SinkBatch] = round2.workload(round2.recorded_batches(), seed=7)
    return batches


def test_the_contact_cache_changes_nothing_on_a_real_sync(
    synced: list[SinkBatch], tmp_path: Path
) -> None:
    hits: list[str] = []
    original = sqlite_sink._DecodedContacts.contact

    def counting(self: Any, text: str) -> Contact:
        if text in self._by_text:
            hits.append(text)
        return original(self, text)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sqlite_sink._DecodedContacts, "contact", counting)
        cached = _sqlite_run(synced, tmp_path / "cached.db", cache=True)
    plain = _sqlite_run(synced, tmp_path / "plain.db", cache=False)
    assert cached == plain
    assert hits  # the cache answered


def test_a_stale_contact_cache_is_caught(synced: list[SinkBatch], tmp_path: Path) -> None:
    """A cache keyed on the identity alone (not the text) answers with old contacts."""
    by_identity: dict[str, Contact] = {}

    def stale(self: Any, text: str) -> Contact:
        identity = json.loads(text)["key"]["value"]
        if identity not in by_identity:
            by_identity[identity] = _core.contact_from_data(json.loads(text))
        return by_identity[identity]

    plain = _sqlite_run(synced, tmp_path / "plain.db", cache=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sqlite_sink._DecodedContacts, "contact", stale)
        wrong = _sqlite_run(synced, tmp_path / "stale.db", cache=True)
    assert wrong != plain


def test_the_contact_cache_is_bounded() -> None:
    cache = sqlite_sink._DecodedContacts(size=3)
    texts = [
        _core.encode(_core.contact_to_data(diff._contact(f"p{n}@x.io", n, "P"))) for n in range(5)
    ]
    contacts = [cache.contact(t) for t in texts]
    assert len(cache) == 3
    assert [c.key.value for c in contacts] == [f"p{n}@x.io" for n in range(5)]
    assert cache.contact(texts[4]) is contacts[4]
    assert cache.contact(texts[0]) == contacts[0]  # decoded again once evicted


# -- the backends against their round-1 copies ----------------------------------------------


# The frozen backends decide as the frozen per-item path did.
memory_round1.apply_batch = reference.apply_batch  # type: ignore[attr-defined]
sqlite_round1.apply_batch = reference.apply_batch  # type: ignore[attr-defined]


def _backend_run(
    kind: str, shipped: bool, batches: list[list[SinkItem]], options: dict[str, Any]
) -> dict[str, Any]:
    """Write ``batches`` through the shipped sink of ``kind`` or its round-1 copy."""
    module: Any = (
        (sqlite_sink if kind == "sqlite" else memory)
        if shipped
        else (sqlite_round1 if kind == "sqlite" else memory_round1)
    )
    sink = (
        module.SQLiteSink(":memory:", **options)
        if kind == "sqlite"
        else module.MemorySink(**options)
    )
    try:
        acks = [
            diff.outcomes(sink.write(SinkBatch(tuple(items), diff.CONN, sequence=n)))
            for n, items in enumerate(batches)
        ]
        out: dict[str, Any] = {"acks": acks, "snapshot": sink.snapshot()}
        if kind == "sqlite":
            out["rows"] = diff.dump(sink.connection)
        else:
            out["contacts"] = sink.contacts()
        return out
    finally:
        sink.close()


def backend_differences(
    kind: str, batches: list[list[SinkItem]], options: dict[str, Any]
) -> list[str]:
    old = _backend_run(kind, False, batches, options)
    new = _backend_run(kind, True, batches, options)
    return [part for part in old if old[part] != new[part]]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=diff.BATCHES, options=diff.SETUPS)
def test_the_backends_store_what_round1_stored(
    kind: str, batches: list[list[SinkItem]], options: dict[str, Any]
) -> None:
    assert backend_differences(kind, batches, options) == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_real_sync_is_stored_as_round1_stored_it(kind: str, synced: list[SinkBatch]) -> None:
    batches = [list(b.items) for b in synced]
    assert backend_differences(kind, batches, {}) == []
    assert backend_differences(kind, batches, {"contact_limit": 20}) == []


def test_a_lost_record_key_is_caught(synced: list[SinkBatch]) -> None:
    """A backend that forgets what it holds re-inserts instead of "unchanged"."""
    batches = [list(b.items) for b in synced]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sqlite_sink._Txn, "get_record", lambda self, key: None)
        assert "acks" in backend_differences("sqlite", batches, {})


def test_a_wrong_memory_copy_is_caught(synced: list[SinkBatch]) -> None:
    """A copy that loses nested data shows in the snapshot."""
    batches = [list(b.items) for b in synced]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(memory, "_copied", lambda v: {} if type(v) is dict else v)
        assert "snapshot" in backend_differences("memory", batches, {})


def test_a_hook_registered_for_a_record_class_still_applies_in_vendor_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payment = Payment("square", "sq:1", "p1", T0, T0, Money("2", "USD"))
    own = converter.copy()
    own.register_unstructure_hook(Payment, lambda p: {"mine": p.external_id})
    monkeypatch.setattr(serialization, "converter", own)
    assert plain_data({"payments": [payment]}) == {"payments": [{"mine": "p1"}]}


def test_the_memory_contact_cache_is_checked_against_the_stored_data(
    synced: list[SinkBatch],
) -> None:
    """A cache that ignores which data it decoded answers with old contacts: caught."""
    batches = [list(b.items) for b in synced]
    assert backend_differences("memory", batches, {}) == []

    def stale(self: Any, identity: str) -> Contact | None:
        row = self.contacts.get(identity) or self._sink._contacts.get(identity)
        if row is None:
            return None
        if identity not in self._sink._decoded:
            self._sink._decoded[identity] = (None, _core.contact_from_data(row["data"]))
        contact: Contact = self._sink._decoded[identity][1]
        return contact

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(memory._Overlay, "get_contact", stale)
        assert backend_differences("memory", batches, {}) != []


def test_the_memory_contact_cache_answers(synced: list[SinkBatch]) -> None:
    decoded: list[str] = []
    original = _core.contact_from_data

    def counting(data: Any) -> Contact:
        decoded.append(data["key"]["value"])
        return original(data)

    reads: list[str] = []
    get_contact = memory._Overlay.get_contact

    def reading(self: Any, identity: str) -> Contact | None:
        reads.append(identity)
        return get_contact(self, identity)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(memory, "contact_from_data", counting)
        mp.setattr(memory._Overlay, "get_contact", reading)
        _backend_run("memory", True, [list(b.items) for b in synced], {})
    assert 0 < len(decoded) < len(reads)


def test_the_callers_fields_are_not_remembered_past_their_row() -> None:
    fields: dict[str, Any] = {"name": "a"}
    item = SinkItem(RecordKey(diff.CONN, "order", "1"), diff._order("1", 0, "10.00"), fields=fields)
    with SQLiteSink(":memory:") as sink:
        sink.write(SinkBatch((item,), diff.CONN))
    fields["name"] = "b"  # the caller reuses its object
    assert _core.encode(fields) == _dumps({"name": "b"})


@given(money=cs.money(), when=st.datetimes(timezones=st.just(UTC)))
def test_other_model_values_in_vendor_json_unstructure_as_the_converter_does(
    money: Money, when: dt.datetime
) -> None:
    value = {"m": money, "l": [money, when], "t": (money,)}
    assert repr(plain_data(value)) == repr(converter.unstructure(value))
