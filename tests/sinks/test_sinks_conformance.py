"""Both sinks pass check_sink; the suite catches broken sinks; SQLite specifics."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.protocols import InspectableSink, Sink, StateStore
from commerce_connectors.sinks import MemorySink, SQLiteSink, open_sink
from commerce_connectors.state import MemoryStateStore, SQLiteStateStore, open_state_store
from commerce_connectors.testing.conformance import ConformanceError
from commerce_connectors.testing.sink_conformance import (
    SINK_CHECKS,
    SinkFactory,
    _one_of_each,
    check_sink,
)


def sqlite_factory(tmp_path: Path) -> SinkFactory:
    counter = iter(range(10_000))

    def make(**kw: Any) -> SQLiteSink:
        return SQLiteSink(tmp_path / f"sink-{next(counter)}.db", **kw)

    return make


@pytest.mark.parametrize("check", SINK_CHECKS, ids=lambda c: c.__name__)
def test_memory_sink_passes(check: Callable[[SinkFactory], None]) -> None:
    check(MemorySink)


@pytest.mark.parametrize("check", SINK_CHECKS, ids=lambda c: c.__name__)
def test_sqlite_sink_passes(check: Callable[[SinkFactory], None], tmp_path: Path) -> None:
    check(sqlite_factory(tmp_path))


def test_check_sink_runs_every_check(tmp_path: Path) -> None:
    check_sink(MemorySink)
    check_sink(sqlite_factory(tmp_path))
    check_sink(lambda **kw: MemorySink(phone_identity=True, **kw))


# The suite must catch broken sinks, or it proves nothing.


class _LastWriteWins(MemorySink):
    """Ignores update-if-newer: every write replaces."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        self._records = {
            k: v for k, v in self._records.items() if k not in {i.key for i in batch.items}
        }
        return super().write(batch)


class _NotAtomic(MemorySink):
    """Writes items one by one, leaving the good ones of a failed batch behind."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        import attrs

        ack = None
        for item in batch.items:
            ack = super().write(attrs.evolve(batch, items=(item,)))
        return ack


class _Uncapped(MemorySink):
    """Says it has a cap but never enforces it."""

    def __init__(self, *, contact_limit: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.declared = contact_limit

    @property
    def capabilities(self):  # type: ignore[no-untyped-def]
        import attrs

        return attrs.evolve(self._caps, contact_limit=self.declared)


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_LastWriteWins, "check_update_if_newer"),
        (_NotAtomic, "check_batch_is_atomic"),
        (_Uncapped, "check_contact_cap"),
    ],
)
def test_the_suite_catches_broken_sinks(broken: type[MemorySink], check: str) -> None:
    with pytest.raises(ConformanceError, match=check):
        check_sink(broken)


def test_sqlite_acknowledged_batches_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    sink = SQLiteSink(path)
    from commerce_connectors.protocols import SinkBatch

    sink.write(SinkBatch(_one_of_each(), "c", None, 1))
    before = sink.snapshot()
    sink.close()
    reopened = SQLiteSink(path)
    assert reopened.snapshot() == before
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = db.execute(
        "SELECT o.order_number, o.total, o.currency, o.trigger_source, c.first_name"
        " FROM orders o JOIN contacts c ON c.identity = o.contact_identity"
    ).fetchone()
    assert row == (None, "25.00", "EUR", 0, "Ana")
    assert db.execute("SELECT COUNT(*) FROM lines WHERE parent_kind='order'").fetchone() == (1,)


def test_urls_and_protocols(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    sink, state = open_sink(url), open_state_store(url)
    assert isinstance(sink, InspectableSink)
    assert isinstance(sink, Sink)
    assert isinstance(state, StateStore)
    assert isinstance(MemoryStateStore(), StateStore)
    assert isinstance(SQLiteStateStore(":memory:"), StateStore)
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        open_sink("redis://nowhere")
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        open_state_store("redis://nowhere")


# One deliberately broken sink per remaining check: each check can fail.


class _ClaimsPhone(MemorySink):
    """Says it takes phone-keyed contacts, but refuses them."""

    @property
    def capabilities(self):  # type: ignore[no-untyped-def]
        import attrs

        return attrs.evolve(self._caps, identity_kinds={"email", "phone"})


class _SmallerThanDeclared(MemorySink):
    """Declares batch_size=500 but fails batches over 100 items."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        from commerce_connectors.errors import SinkError

        if len(batch.items) > 100:
            raise SinkError("the CRM takes at most 100 items")
        return super().write(batch)


class _RewriteSaysUpdated(MemorySink):
    """Stores correctly, but reports an identical re-write as an update."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        import attrs

        from commerce_connectors.protocols import WriteAction

        ack = super().write(batch)
        return attrs.evolve(
            ack,
            outcomes=[
                attrs.evolve(o, action=WriteAction.UPDATED)
                if o.action is WriteAction.UNCHANGED
                else o
                for o in ack.outcomes
            ],
        )


class _RewriteDuplicatesContacts(MemorySink):
    """Acknowledges a re-write as unchanged but creates a second contact row each time."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.rows = 0

    def write(self, batch):  # type: ignore[no-untyped-def]
        ack = super().write(batch)
        self.rows += sum(1 for i in batch.items if i.kind == "contact")
        return ack

    def contact_count(self) -> int:
        return self.rows


class _ReplacesContacts(MemorySink):
    """Overwrites a stored contact with the incoming one instead of merging."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        for item in batch.items:
            if item.kind == "contact":
                self._contacts.pop(item.key.external_id, None)
        return super().write(batch)


class _TieLastWins(MemorySink):
    """Update-if-newer, except that an exact tie goes to whichever arrives last."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        for item in batch.items:
            held = self._records.get(item.key)
            if held is not None and held["record"].updated_at == item.record.updated_at:
                del self._records[item.key]
        return super().write(batch)


class _EraseKeepsContacts(MemorySink):
    """Erases records but forgets the contact (the person's email stays)."""

    def erase(self, connection_id, *, email=None, customer_external_id=None):  # type: ignore[no-untyped-def]
        with self._lock:
            gone = [k for k in self._records if k.connection_id == connection_id]
            for k in gone:
                del self._records[k]
        return len(gone)


class _EraseEveryone(MemorySink):
    """Erases the whole connection whoever is named."""

    def erase(self, connection_id, *, email=None, customer_external_id=None):  # type: ignore[no-untyped-def]
        return super().erase(connection_id)


class _StatusStillFires(MemorySink):
    """Marks the cart deleted but leaves its automation firing."""

    def set_status(self, key, status, at):  # type: ignore[no-untyped-def]
        row = self._records.get(key)
        if row is None or row["view"]["status"] == status:
            return False
        row["view"] = dict(row["view"], status=status)
        return True


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_EraseKeepsContacts, "check_erase"),
        (_EraseEveryone, "check_erase"),
        (_StatusStillFires, "check_status"),
        (_ClaimsPhone, "check_capabilities_are_honest"),
        (_SmallerThanDeclared, "check_capabilities_are_honest"),
        (_RewriteSaysUpdated, "check_rewrite_is_idempotent"),
        (_RewriteDuplicatesContacts, "check_rewrite_is_idempotent"),
        (_ReplacesContacts, "check_contacts_merge_by_identity"),
        (_TieLastWins, "check_update_if_newer"),
    ],
)
def test_each_check_catches_its_broken_sink(broken: type[MemorySink], check: str) -> None:
    with pytest.raises(ConformanceError, match=check):
        check_sink(broken)


class _ContactsAndOrdersOnly(MemorySink):
    """An honest CRM sink without a product catalogue, customers or carts."""

    def __init__(self, **kw: Any) -> None:
        import attrs

        super().__init__(**kw)
        self._caps = attrs.evolve(self._caps, kinds={"contact", "order"})


def test_a_sink_declaring_fewer_kinds_is_checked_on_those_kinds() -> None:
    check_sink(_ContactsAndOrdersOnly)  # the engine never sends it the other kinds
    with pytest.raises(ConformanceError, match="check_update_if_newer"):
        check_sink(type("_Broken", (_ContactsAndOrdersOnly, _LastWriteWins), {}))
