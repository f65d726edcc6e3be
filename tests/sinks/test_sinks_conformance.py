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
        open_sink("postgres://nowhere")
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        open_state_store("redis://nowhere")
