"""Review findings on the sinks' batch path, each pinned by a test.

* D4: a contact map failing on an intermediate merged state of a contact (a required
  field that only a later item of the identity supplies) fails the batch as the write
  of every changed state did: same exception, same message, raised at the same item
  (the records decided before it were put, none after), nothing stored; the shipped
  path and the frozen per-item reference (``reference_apply_batch``) are compared on
  every local sink (PostgreSQL too when a server is configured).
* D5: the order of SQLite's contact rows is what the docstrings say (first change in
  the batch), and CallbackSink's CRM calls keep first-change order.
* The walk shared by ``jsonable`` and the plain-JSON fast path: one dispatch, the
  texts and copies as before (the pinned tests in ``test_sink_serialization.py`` and
  ``test_sink2_fast_paths.py`` cover the values; here the structure is checked).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import reference_apply_batch as reference
import test_sink2_fast_paths as fast2
import test_sink_batch_differential as diff
import test_sink_serialization as serial
from hypothesis import given, settings

from commerce_connectors.errors import MappingError
from commerce_connectors.mapping import FieldMap, FieldSpec
from commerce_connectors.protocols import SinkBatch, SinkItem
from commerce_connectors.rules import Contact, ContactKey, IdentityKind, RecordKey, SourceRef
from commerce_connectors.sinks import SQLiteSink, _core
from commerce_connectors.sinks import custom as custom_sink
from commerce_connectors.sinks import memory as memory_sink
from commerce_connectors.sinks import sqlite as sqlite_sink

T0 = dt.datetime(2025, 3, 1, 12, tzinfo=dt.timezone.utc)
CONN = diff.CONN

#: ``fname`` is required: a contact without a first name cannot be mapped.
STRICT_MAP = FieldMap(
    "contact",
    [FieldSpec("email", "email"), FieldSpec("fname", "first_name", required=True)],
    external_id="email",
)

#: Backend classes by sink kind (their ``put_record`` is spied on).
_BACKENDS: dict[str, Any] = {
    "memory": memory_sink._Overlay,
    "sqlite": sqlite_sink._Txn,
    "callback": custom_sink._Pending,
}


def _contact(email: str, minute: int, first: str | None, source: str) -> SinkItem:
    at = T0 + dt.timedelta(minutes=minute)
    contact = Contact(
        ContactKey(IdentityKind.EMAIL, email),
        at,
        email=email,
        first_name=first,
        sources=[SourceRef("shopify", CONN, source, at)],
    )
    return SinkItem(RecordKey("", "contact", email), contact)


def _order(ext: str) -> SinkItem:
    return SinkItem(RecordKey(CONN, "order", ext), diff._order(ext, 0, "10.00"), fields={"n": ext})


#: A good contact, then one item mapped fine on its own ("Bo"), then the identity's
#: first item with no first name (fails as a new contact), an order between, and a
#: later item that would supply the name: the final merged state maps fine.
INTERMEDIATE = [
    _contact("bo@x.io", 0, "Bo", "7"),
    _order("1"),
    _contact("ana@x.io", 0, None, "1"),
    _order("2"),
    _contact("ana@x.io", 1, "Ana", "2"),
]

#: The identity stored with a name; an item without one changes it (a newer
#: ``updated_at``, a new source) but keeps the name: mapped fine. Used as the control.
CONTROL = [
    _contact("ana@x.io", 0, "Ana", "1"),
    _order("1"),
    _contact("ana@x.io", 1, None, "2"),
]


def _attempt(kind: str, apply: Any, items: list[SinkItem]) -> dict[str, Any]:
    """Write one batch with ``apply`` deciding; the error, records put before it, state."""
    puts: list[str] = []
    backend = _BACKENDS.get(kind)
    sink = diff.make_sink(kind, None)
    try:
        with pytest.MonkeyPatch.context() as mp:
            if backend is not None:
                put_record = backend.put_record

                def spy(self: Any, item: SinkItem, *args: Any) -> None:
                    puts.append(item.key.external_id)
                    put_record(self, item, *args)

                mp.setattr(backend, "put_record", spy)
            with diff.decided_by(kind, apply):
                error: BaseException | None = None
                try:
                    sink.write(SinkBatch(tuple(items), CONN, contact_map=STRICT_MAP))
                except Exception as exc:  # compared below, type and message
                    error = exc
        out = {
            "error": None if error is None else (type(error), str(error)),
            "puts": puts,
            "snapshot": sink.snapshot(),
        }
        if kind == "callback":
            out["sent"] = diff._calls(sink)
        return out
    finally:
        sink.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite", "callback"])
def test_a_map_failing_on_an_intermediate_state_fails_as_before(kind: str) -> None:
    old = _attempt(kind, reference.apply_batch, INTERMEDIATE)
    new = _attempt(kind, _core.apply_batch, INTERMEDIATE)
    assert old["error"] is not None
    assert old["error"][0] is MappingError
    assert "contact 1" in old["error"][1]  # the first item of the identity is named
    assert new == old
    # Raised at the third item: the first order was put, the second not; rolled back.
    assert new["puts"] == ["1"]
    assert new["snapshot"] == {}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "callback"])
def test_the_control_batch_is_accepted_by_both(kind: str) -> None:
    """The same map on states that all map: the comparison is not of two failures."""
    old = _attempt(kind, reference.apply_batch, CONTROL)
    new = _attempt(kind, _core.apply_batch, CONTROL)
    assert old["error"] is None
    assert new == old
    assert RecordKey("", "contact", "ana@x.io") in new["snapshot"]


@pytest.mark.parametrize("kind", ["memory", "sqlite", "callback"])
def test_only_the_final_state_mapped_is_caught(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The finding's own fault, planted back: the batch is accepted and the test sees it."""
    original = _core._Contacts._fields

    def final_only(self: Any, contact: Contact) -> Any:
        if contact.first_name is None:  # the intermediate state: not mapped
            return None
        return original(self, contact)

    monkeypatch.setattr(_core._Contacts, "_fields", final_only)
    old = _attempt(kind, reference.apply_batch, INTERMEDIATE)
    new = _attempt(kind, _core.apply_batch, INTERMEDIATE)
    assert new["error"] is None
    assert new != old


def test_every_changed_state_is_mapped_once_and_written_once() -> None:
    """Each change mapped as decided (no state twice), each identity put once."""
    mapped: list[str] = []
    puts: list[tuple[str, Any]] = []
    counting_map = FieldMap(
        "contact",
        [
            FieldSpec("email", "email"),
            FieldSpec("fname", "first_name", transform=lambda v: mapped.append(v) or v),
        ],
        external_id="email",
    )
    items = [
        _contact("ana@x.io", 0, "A", "1"),
        _contact("ana@x.io", 0, "A", "1"),  # unchanged: not mapped
        _contact("ana@x.io", 1, "Ana", "2"),
        _contact("ana@x.io", 2, "Ann", "2"),
    ]
    overlay_put = memory_sink._Overlay.put_contact

    def counting(self: Any, contact: Contact, fields: Any) -> None:
        puts.append((contact.key.value, fields))
        overlay_put(self, contact, fields)

    sink = memory_sink.MemorySink()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(memory_sink._Overlay, "put_contact", counting)
        ack = sink.write(SinkBatch(tuple(items), CONN, contact_map=counting_map))
    assert [o.action.value for o in ack.outcomes] == ["inserted", "unchanged", "updated", "updated"]
    assert mapped == ["A", "Ana", "Ann"]
    assert puts == [("ana@x.io", {"email": "ana@x.io", "fname": "Ann"})]


# -- PostgreSQL, when the test session has a server -----------------------------------------


@pytest.fixture
def postgres(request: pytest.FixtureRequest) -> Iterator[None]:
    """Let ``diff.make_sink`` make PostgreSQL sinks, each in a fresh schema."""
    pytest.importorskip("psycopg")
    from commerce_connectors.sinks import postgres as postgres_sink

    url = request.getfixturevalue("postgres_url")

    def make(**options: Any) -> Any:
        schema = f"review_{uuid.uuid4().hex[:12]}"
        return postgres_sink.PostgresSink(f"{url}?schema={schema}", **options)

    diff.FACTORIES["postgres"] = make
    diff._MODULES["postgres"] = postgres_sink
    try:
        yield
    finally:
        diff.FACTORIES.pop("postgres", None)
        diff._MODULES.pop("postgres", None)


def test_a_map_failing_on_an_intermediate_state_fails_as_before_on_postgres(
    postgres: None,
) -> None:
    old = _attempt("postgres", reference.apply_batch, INTERMEDIATE)
    new = _attempt("postgres", _core.apply_batch, INTERMEDIATE)
    assert old["error"] is not None
    assert old["error"][0] is MappingError
    assert new == old
    assert new["snapshot"] == {}


# -- D5: contact row order --------------------------------------------------------------------


def _named(email: str, minute: int, name: str) -> SinkItem:
    return _contact(email, minute, name, "1")


def test_sqlite_contact_rows_follow_first_change_order_as_documented() -> None:
    items = [
        _named("ana@x.io", 0, "Ana"),
        _named("dee@x.io", 0, "Dee"),
        _named("ana@x.io", 1, "Ann"),
    ]
    with SQLiteSink(":memory:") as sink:
        sink.write(SinkBatch(tuple(items), CONN))
        rows = sink.connection.execute("SELECT identity FROM contacts ORDER BY rowid").fetchall()
    assert rows == [("ana@x.io",), ("dee@x.io",)]
    documented = inspect.getdoc(sqlite_sink._Txn) or ""
    assert "first change" in documented
    assert "no contract" in documented
    assert "ORDER BY" in documented


def test_callback_crm_calls_keep_first_change_order() -> None:
    items = [
        _named("ana@x.io", 0, "Ana"),
        _named("dee@x.io", 0, "Dee"),
        _named("ana@x.io", 1, "Ann"),
    ]
    sent = []
    for apply in (reference.apply_batch, _core.apply_batch):
        sink = diff.make_sink("callback", None)
        try:
            with diff.decided_by("callback", apply):
                sink.write(SinkBatch(tuple(items), CONN))
            sent.append(diff._calls(sink))
        finally:
            sink.close()
    assert sent[0] == sent[1]
    assert [call[0].external_id for call in sent[1]] == ["ana@x.io", "dee@x.io"]


# -- one type dispatch for jsonable, the plain check and the strict copy ---------------------

_SMALL = 10**18


def _old_jsonable(value: Any) -> Any:
    """``_core.jsonable`` as it was before the walks shared one dispatch (frozen)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -_SMALL < value < _SMALL:
            return value
    elif kind is float:
        return value
    elif kind is dict:
        if all(type(k) is str for k in value):
            return {k: _old_jsonable(v) for k, v in value.items()}
    elif kind is list or kind is tuple:
        return [_old_jsonable(v) for v in value]
    elif kind is Decimal or kind is dt.datetime:
        return str(value)
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _old_already_plain(value: Any) -> bool:
    """``_core._already_plain`` as it was (frozen; its container budget left out)."""
    kind = type(value)
    if kind in (str, float, bool, type(None)):
        return True
    if kind is int:
        return -_SMALL < value < _SMALL
    if kind is dict:
        return all(type(k) is str for k in value) and all(
            _old_already_plain(v) for v in value.values()
        )
    if kind is list:
        return all(_old_already_plain(v) for v in value)
    return False


def _old_rebuilt(value: Any) -> Any:
    """``_core._rebuilt`` as it was (frozen): ``None`` stands for its refusal."""
    try:
        return ("ok", _strict_copy(value))
    except LookupError:
        return None


def _strict_copy(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None or kind is float:
        return value
    if kind is dict:
        if any(type(k) is not str for k in value):
            raise LookupError
        return {k: _strict_copy(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_strict_copy(v) for v in value]
    if kind is int:
        if -_SMALL < value < _SMALL:
            return value
    elif kind is Decimal or kind is dt.datetime:
        return str(value)
    raise LookupError


@settings(max_examples=400, deadline=None)
@given(value=fast2.VENDOR | serial.FIELDS)
def test_the_shared_walk_gives_what_the_three_dispatches_gave(value: Any) -> None:
    try:
        expected = repr(_old_jsonable(value))
    except (TypeError, ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            _core.jsonable(value)
    else:
        assert repr(_core.jsonable(value)) == expected
    plain = _old_already_plain(value)
    assert _core._already_plain(value) is plain
    old = _old_rebuilt(value)
    try:
        shipped = _core._plain_json(value)
    except _core._UnusualError:
        assert old is None
        return
    assert old is not None
    assert repr(shipped) == repr(old[1])
    assert (shipped is value) is plain


def test_the_walks_are_one_dispatch() -> None:
    """jsonable, the plain check and the strict copy run the same code, bound to a mode."""
    walks = (_core._lenient, _core._strict, _core._check)
    assert len({w.__code__ for w in walks}) == 1
    assert not hasattr(_core, "_rebuilt")
    for name in ("jsonable", "_already_plain", "_plain_json"):
        assert "kind is dict" not in inspect.getsource(getattr(_core, name)), name


def test_a_wrong_mode_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A converting walk in place of the look: the comparison above sees it."""
    monkeypatch.setattr(_core, "_check", _core._strict)
    value = {"a": (1,)}  # a tuple: converted, so not plain
    assert _core._already_plain(value) is not _old_already_plain(value)
