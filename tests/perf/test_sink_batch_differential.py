"""The batch-level write path acknowledges and stores exactly what the per-item path did.

:func:`commerce_connectors.sinks._core.apply_batch` decides contacts in memory and
writes each identity once per batch, encodes a record's CRM fields once for its
fingerprint and its row, and the SQLite backend keeps its writes for one
``executemany`` per table. The reference (``reference_apply_batch``: the decisions as
they were, item by item) runs through the same sinks; both must give the same acks
(actions, reasons, ``merged`` flags, refusals and their errors), the same
``snapshot()`` and, for SQLite, the same rows byte for byte, over generated batches:
re-sent, newer, older and equal-``updated_at`` records, one key several times in a
batch, contacts sharing identities within and across batches, a contact cap, phone
identities a sink refuses, on fresh sinks and on sinks holding earlier batches.
The last tests show the comparison catches a planted difference.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import reference_apply_batch as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commerce_connectors.models import Cart, Customer, LineItem, Money, Order, Product
from commerce_connectors.protocols import BatchAck, SinkBatch, SinkItem
from commerce_connectors.rules import (
    Contact,
    ContactKey,
    IdentityKind,
    Reason,
    RecordKey,
    SourceRef,
    TriggerDecision,
)
from commerce_connectors.sinks import CallbackSink, MemorySink, SQLiteSink, _core
from commerce_connectors.sinks import custom as custom_sink
from commerce_connectors.sinks import memory as memory_sink
from commerce_connectors.sinks import sqlite as sqlite_sink

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)
CONN = "shop:1"

# -- generated batches -------------------------------------------------------------------

TIMES = st.integers(min_value=0, max_value=3).map(lambda n: T0 + dt.timedelta(minutes=n))
NAMES = st.sampled_from(["Ana", "Bo", "Cy", None])
IDS = st.sampled_from(["1", "2", "3"])
EMAILS = st.sampled_from(["ana@x.io", "bo@x.io", "cy@x.io", "dee@x.io"])
FIELDS = st.fixed_dictionaries(
    {"name": NAMES},
    optional={
        "tags": st.lists(st.sampled_from(["vip", "b2b"]), max_size=2).map(tuple),
        "amount": st.sampled_from([1, 2.5, "9.90"]),
        "odd": st.sampled_from([{1: "a"}, {2: "b", 10: "c"}]),  # keys json sorts as ints
        "when": st.just(T0),
    },
)


def _money(amount: str) -> Money:
    return Money(amount, "EUR")


@st.composite
def record_items(draw: st.DrawFn) -> SinkItem:
    kind = draw(st.sampled_from(["customer", "order", "product", "cart"]))
    ext = draw(IDS)
    updated = draw(TIMES)
    name = draw(NAMES)
    email = draw(st.none() | EMAILS)
    record: Any
    if kind == "customer":
        record = Customer("shopify", CONN, ext, T0, updated, email=email, first_name=name)
    elif kind == "product":
        record = Product("shopify", CONN, ext, T0, updated, name=name, price=_money("5.00"))
    else:
        lines = tuple(
            LineItem(name=draw(NAMES), quantity=q, unit_price=_money("2.00"), sku=f"S{q}")
            for q in range(1, draw(st.integers(0, 3)) + 1)
        )
        total = _money(draw(st.sampled_from(["10.00", "12.50"])))
        if kind == "order":
            status = draw(st.sampled_from(["pending", "paid"]))
            record = Order(
                "shopify", CONN, ext, T0, updated, status, status, total, email=email, lines=lines
            )
        else:
            record = Cart(
                "shopify",
                CONN,
                ext,
                T0,
                updated,
                total=total,
                email=email,
                lines=lines,
            )
    trigger = None
    if kind in ("order", "cart"):
        trigger = draw(
            st.none()
            | st.builds(
                TriggerDecision,
                fires=st.booleans(),
                reason=st.none() | st.sampled_from([Reason.HISTORICAL_DATA, Reason.CART_DELETED]),
            )
        )
    return SinkItem(
        RecordKey(CONN, kind, ext),
        record,
        fields=draw(FIELDS),
        trigger=trigger,
        contact=email,
        status=draw(st.none() | st.just("abandoned")) if kind == "cart" else None,
    )


@st.composite
def contact_items(draw: st.DrawFn) -> SinkItem:
    phone = draw(st.booleans().map(lambda b: b and draw(st.booleans())))
    if phone:
        key = ContactKey(IdentityKind.PHONE, draw(st.sampled_from(["+5511999990001"])))
    else:
        key = ContactKey(IdentityKind.EMAIL, draw(EMAILS))
    updated = draw(TIMES)
    connection = draw(st.sampled_from([CONN, "shop:2"]))
    contact = Contact(
        key,
        updated,
        email=None if phone else key.value,
        phone=key.value if phone else None,
        first_name=draw(NAMES),
        last_name=draw(NAMES),
        tags=tuple(draw(st.lists(st.sampled_from(["vip", "b2b", "new"]), max_size=2))),
        accepts_marketing=draw(st.none() | st.booleans()),
        sources=[SourceRef("shopify", connection, draw(st.none() | IDS), updated)],
        field_times={"first_name": updated} if draw(st.booleans()) else {},
    )
    return SinkItem(RecordKey("", "contact", key.value), contact)


ITEMS = st.one_of(record_items(), contact_items())
BATCHES = st.lists(st.lists(ITEMS, min_size=1, max_size=12), min_size=1, max_size=3)
SETUPS = st.fixed_dictionaries(
    {
        "contact_limit": st.none() | st.integers(min_value=0, max_value=3),
        "phone_identity": st.booleans(),
    }
)

# -- running both paths ------------------------------------------------------------------

_MODULES: dict[str, Any] = {"memory": memory_sink, "sqlite": sqlite_sink, "callback": custom_sink}


@contextlib.contextmanager
def decided_by(kind: str, apply: Callable[..., BatchAck]) -> Iterator[None]:
    """Make sinks of ``kind`` decide batches with ``apply``."""
    module: Any = _MODULES[kind]
    saved = module.apply_batch
    module.apply_batch = apply
    try:
        yield
    finally:
        module.apply_batch = saved


#: Sinks of other kinds (``postgres``), by kind: a function making a new empty one.
FACTORIES: dict[str, Callable[..., Any]] = {}


def make_sink(kind: str, path: Path | None, **options: Any) -> Any:
    if kind in FACTORIES:
        return FACTORIES[kind](**options)
    if kind == "memory":
        return MemorySink(**options)
    if kind == "sqlite":
        return SQLiteSink(path or ":memory:", **options)
    calls: list[Any] = []
    sink = CallbackSink(
        write_contact=calls.append, write_record=calls.append, ledger=":memory:", **options
    )
    sink.calls = calls  # type: ignore[attr-defined]
    return sink


def _error(error: BaseException | None) -> Any:
    if error is None:
        return None
    return (type(error).__name__, str(error), sorted(vars(error).items(), key=repr))


def outcomes(ack: BatchAck) -> list[Any]:
    """An ack, errors compared by type, message and attributes (not identity)."""
    return [
        (ack.sequence, o.key, o.action, o.reason, o.merged, _error(o.error)) for o in ack.outcomes
    ]


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {
        t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
        for t in tables
    }


def _calls(sink: Any) -> list[Any]:
    """What a CallbackSink sent to the CRM, call by call, in order."""
    return [
        (change.key, change.action, change.record, change.fields, change.subscription)
        for change in sink.calls
    ]


def run(
    kind: str,
    apply: Callable[..., BatchAck] | list[Callable[..., BatchAck]],
    batches: list[list[SinkItem]],
    options: dict[str, Any],
    path: Path | None = None,
) -> dict[str, Any]:
    """Write ``batches`` into a new sink of ``kind``; what it acknowledged and stored.

    ``apply`` decides every batch, or (a list) batch ``n`` is decided by its ``n``-th
    function, the last one deciding the rest.
    """
    applies = apply if isinstance(apply, list) else [apply]
    acks = []
    sink = make_sink(kind, path, **options)
    try:
        for n, items in enumerate(batches):
            with decided_by(kind, applies[min(n, len(applies) - 1)]):
                ack = sink.write(SinkBatch(tuple(items), CONN, sequence=n))
            acks.append(outcomes(ack))
        out: dict[str, Any] = {"acks": acks, "snapshot": sink.snapshot()}
        if kind == "sqlite":
            out["rows"] = dump(sink.connection)
        if kind == "callback":
            out["sent"] = _calls(sink)
        return out
    finally:
        sink.close()


def differences(kind: str, batches: list[list[SinkItem]], options: dict[str, Any]) -> list[str]:
    """Where the shipped path and the reference disagree (empty: nowhere).

    The shipped path runs on a fresh sink, and on a sink whose first batch the
    reference wrote (data written before this change, digests included).
    """
    old = run(kind, reference.apply_batch, batches, options)
    new = run(kind, _core.apply_batch, batches, options)
    found = [part for part in old if old[part] != new[part]]
    if len(batches) > 1:
        later = run(kind, [reference.apply_batch, _core.apply_batch], batches, options)
        found += [f"{part} after the reference" for part in old if old[part] != later[part]]
    return found


@pytest.mark.parametrize("kind", ["memory", "sqlite", "callback"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=BATCHES, options=SETUPS)
def test_the_batch_path_does_what_the_item_path_did(
    kind: str, batches: list[list[SinkItem]], options: dict[str, Any]
) -> None:
    assert differences(kind, batches, options) == []


def test_a_sqlite_file_written_by_the_reference_continues_identically(tmp_path: Path) -> None:
    """A file the per-item path wrote, then batches of both paths: identical rows."""
    first = [
        SinkItem(RecordKey(CONN, "order", "1"), _order("1", 0, "10.00"), fields={"n": 1}),
        SinkItem(RecordKey("", "contact", "ana@x.io"), _contact("ana@x.io", 0, "Ana")),
    ]
    later = [
        [
            SinkItem(RecordKey(CONN, "order", "1"), _order("1", 1, "11.00"), fields={"n": 2}),
            SinkItem(RecordKey(CONN, "order", "1"), _order("1", 1, "12.00"), fields={"n": 3}),
            SinkItem(RecordKey(CONN, "order", "1"), _order("1", 0, "13.00"), fields={"n": 4}),
            SinkItem(RecordKey("", "contact", "ana@x.io"), _contact("ana@x.io", 1, "Ann")),
            SinkItem(RecordKey("", "contact", "ana@x.io"), _contact("ana@x.io", 2, None)),
            SinkItem(RecordKey("", "contact", "bo@x.io"), _contact("bo@x.io", 0, "Bo")),
        ]
    ]
    results = []
    for name, apply in (("new", _core.apply_batch), ("old", reference.apply_batch)):
        path = tmp_path / f"{name}.db"
        run("sqlite", reference.apply_batch, [first], {}, path)
        results.append(run("sqlite", apply, later, {}, path))
    assert results[0] == results[1]
    actions = [o[2].value for o in results[0]["acks"][0]]
    assert actions == ["updated", "updated", "stale", "updated", "updated", "inserted"]


# -- the comparison can fail ---------------------------------------------------------------


def _order(ext: str, minute: int, total: str) -> Order:
    at = T0 + dt.timedelta(minutes=minute)
    return Order("shopify", CONN, ext, T0, at, "paid", "paid", _money(total), email="ana@x.io")


def _contact(identity: str, minute: int, name: str | None) -> Contact:
    at = T0 + dt.timedelta(minutes=minute)
    return Contact(
        ContactKey(IdentityKind.EMAIL, identity),
        at,
        email=identity,
        first_name=name,
        sources=[SourceRef("shopify", CONN, "1", at)],
    )


PLANTED = [
    [
        SinkItem(RecordKey(CONN, "order", "1"), _order("1", 0, "10.00"), fields={"name": "a"}),
        SinkItem(RecordKey("", "contact", "ana@x.io"), _contact("ana@x.io", 0, "Ana")),
        SinkItem(RecordKey("", "contact", "ana@x.io"), _contact("ana@x.io", 1, "Ann")),
    ],
    [SinkItem(RecordKey(CONN, "order", "1"), _order("1", 0, "10.00"), fields={"name": "a"})],
]


@pytest.mark.parametrize("kind", ["memory", "sqlite", "callback"])
def test_a_contact_written_in_its_first_state_is_caught(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert differences(kind, PLANTED, {}) == []

    def first_state(self: Any, identity: str) -> Any:
        return self._backend.get_contact(identity)

    original = _core._Contacts.decide

    def remember_first(self: Any, item: SinkItem) -> Any:
        outcome = original(self, item)
        self.__dict__.setdefault("first", {}).setdefault(item.key.external_id, item.record)
        return outcome

    def write_first(self: Any, contact_map: Any) -> None:
        for identity in self._changed:
            contact = self.first[identity]
            self._backend.put_contact(contact, _core.jsonable(contact_map.apply(contact).fields))

    monkeypatch.setattr(_core._Contacts, "decide", remember_first)
    monkeypatch.setattr(_core._Contacts, "write", write_first)
    assert "snapshot" in differences(kind, PLANTED, {})


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_fields_encoded_differently_are_caught(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def planted(value: Any) -> Any:
        out = _core.jsonable(value)
        if isinstance(out, dict) and "name" in out:
            out["name"] = out["name"] + " "
        return out

    monkeypatch.setattr(_core, "_plain_json", planted)
    found = differences(kind, PLANTED, {})
    assert "snapshot" in found


def test_a_fingerprint_over_other_text_is_caught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A file the reference wrote, then the same order again: it must stay unchanged."""
    acks = {}
    for name, planted in (("plain", False), ("planted", True)):
        path = tmp_path / f"{name}.db"
        run("sqlite", reference.apply_batch, PLANTED[:1], {}, path)
        with monkeypatch.context() as mp:
            if planted:
                mp.setattr(_core, "_plain_json", lambda v: {**_core.jsonable(v), "x": 1})
            acks[name] = run("sqlite", _core.apply_batch, PLANTED[1:], {}, path)["acks"]
    assert [o[2].value for o in acks["plain"][0]] == ["unchanged"]
    assert acks["planted"] != acks["plain"]


def test_the_fast_path_is_taken_for_plain_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[Any] = []
    original = _core._plain_json

    def spy(value: Any) -> Any:
        out = original(value)
        taken.append(out)
        return out

    monkeypatch.setattr(_core, "_plain_json", spy)
    slow = _core._record_digest
    monkeypatch.setattr(_core, "_record_digest", lambda *a: pytest.fail("reference path taken"))
    run("sqlite", _core.apply_batch, PLANTED[:1], {})
    assert {"name": "a"} in taken
    monkeypatch.setattr(_core, "_record_digest", slow)


def test_unusual_fields_take_the_reference_path() -> None:
    data = {"a": 1}
    rest = (None, None, None)
    for fields in ({2: "b", 10: "c"}, {"k": {1: 2}}, {"big": 10**30}, {"s": _Str("x")}):
        fingerprint, plain = _core._record_texts(data, fields, rest)
        assert fingerprint == _core.digest([data, fields, *rest])
        assert plain == _core.jsonable(fields)


def test_a_cycle_in_the_fields_fails_as_json_fails() -> None:
    fields: dict[str, Any] = {"a": 1}
    fields["self"] = fields
    with pytest.raises(ValueError, match="Circular reference"):
        _core._record_texts({"x": 1}, fields, (None, None, None))


class _Str(str):
    """A str subclass: json encodes it as its text, jsonable through a round trip."""


def test_contacts_are_handed_to_the_backend_once_per_identity() -> None:
    sink = MemorySink()
    puts: list[str] = []
    overlay_put = memory_sink._Overlay.put_contact

    def counting(self: Any, contact: Contact, fields: Any) -> None:
        puts.append(contact.key.value)
        overlay_put(self, contact, fields)

    items = [
        SinkItem(RecordKey("", "contact", "ana@x.io"), _contact("ana@x.io", m, n))
        for m, n in ((0, "Ana"), (1, "Ann"), (1, "Ann"), (3, "Anna"))
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(memory_sink._Overlay, "put_contact", counting)
        ack = sink.write(SinkBatch(tuple(items), CONN))
    assert [o.action.value for o in ack.outcomes] == ["inserted", "updated", "unchanged", "updated"]
    assert puts == ["ana@x.io"]
    assert sink.contacts()["ana@x.io"].first_name == "Anna"


def test_evolved_items_keep_their_keys() -> None:
    """The generated items are well formed (guards the generators above)."""
    item = SinkItem(RecordKey(CONN, "order", "1"), _order("1", 0, "10.00"))
    assert attrs.evolve(item, fields={"a": 1}).key == item.key


# -- a real sync's batches -----------------------------------------------------------------


@pytest.fixture(scope="module")
def synced() -> list[SinkBatch]:
    """A simulated store's batches (real field maps and contacts), then mixed re-sends."""
    round2: Any = importlib.import_module("test_fast_paths_round2")
    mixed: list[SinkBatch] = round2.workload(round2.recorded_batches(), seed=7)
    return mixed


@pytest.mark.parametrize("kind", ["memory", "sqlite", "callback"])
def test_a_real_sync_is_written_as_the_item_path_wrote_it(
    kind: str, synced: list[SinkBatch]
) -> None:
    batches = [list(b.items) for b in synced]
    assert differences(kind, batches, {"contact_limit": 20}) == []
    assert differences(kind, batches, {}) == []
