"""The demo: simulated shops synced into a local SQLite file, historical then incremental.

Used by ``commerce-connectors demo``; no network, no credentials. Each
:class:`~commerce_connectors.sync.registry.DemoSource` builds a seeded realistic
store served in-process; the demo runs a historical sync, lets the shop take a
few new orders, runs an incremental sync, and sums it all up per platform.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import attrs

from ..clock import Clock, SystemClock
from ..errors import ConfigurationError
from ..sinks import SQLiteSink
from ..state import SQLiteStateStore
from .engine import ProgressCallback, SyncEngine
from .registry import DEMO_SOURCES, DemoSource
from .report import SyncReport

__all__ = ["DemoResult", "run_demo"]

# Marks a database as the demo's own, so the demo never overwrites anything else.
_MARK = "commerce-connectors-demo"


@attrs.define
class DemoResult:
    """What the demo did for one platform.

    Attributes:
        source: the demo source.
        connection_id: its connection.
        historical, incremental: the two runs' reports.
        contacts, orders, products, carts: rows in the database for this connection.
        triggers_fired: orders and carts stored with "fires automations".
        dead_letters: records kept in the dead-letter store.
    """

    source: DemoSource
    connection_id: str
    historical: SyncReport
    incremental: SyncReport
    contacts: int = 0
    orders: int = 0
    products: int = 0
    carts: int | None = None
    triggers_fired: int = 0
    dead_letters: int = 0

    @property
    def skipped(self) -> Counter[str]:
        """Records not synced, by reason (both runs)."""
        return self.historical.skipped() + self.incremental.skipped()

    @property
    def duplicates_merged(self) -> int:
        """Contacts folded into one already held (both runs)."""
        return (
            self.historical.totals()["duplicates_merged"]
            + self.incremental.totals()["duplicates_merged"]
        )

    @property
    def records_read(self) -> int:
        """Records read by both runs."""
        return self.historical.totals()["read"] + self.incremental.totals()["read"]

    @property
    def seconds(self) -> float:
        """Time both runs took."""
        return self.historical.duration + self.incremental.duration


def _prepare(path: Path) -> None:
    if not path.exists():
        return
    try:
        with sqlite3.connect(path) as conn:
            marked = conn.execute("SELECT value FROM sink_meta WHERE key = 'demo'").fetchone()
    except sqlite3.DatabaseError:
        marked = None
    if marked is None or marked[0] != _MARK:
        raise ConfigurationError(
            f"{path} exists and is not a demo database; choose another path with --db"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _count(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def run_demo(
    path: str | os.PathLike[str],
    *,
    seed: int = 2024,
    clock: Clock | None = None,
    sources: list[DemoSource] | None = None,
    on_progress: ProgressCallback | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[DemoResult]:
    """Sync every demo source into a fresh SQLite file at ``path``; return per-platform results.

    Raises:
        ConfigurationError: ``path`` exists and is not a database the demo made.
    """
    clock = clock if clock is not None else SystemClock()
    target = Path(path).expanduser().resolve()
    _prepare(target)
    sink = SQLiteSink(target)
    sink.connection.execute(
        "INSERT OR REPLACE INTO sink_meta (key, value) VALUES ('demo', ?)", (_MARK,)
    )
    state = SQLiteStateStore(target)
    results: list[DemoResult] = []
    say = on_step or (lambda _: None)
    try:
        for source in sources if sources is not None else DEMO_SOURCES:
            say(f"{source.name}: building a seeded realistic store ({source.label})")
            store = source.build(seed, clock, clock.now())
            try:
                engine = SyncEngine(
                    store.connector, sink, state, clock=clock, on_progress=on_progress
                )
                say(f"{source.name}: historical sync")
                historical = engine.run("historical")
                say(f"{source.name}: the shop takes new orders; incremental sync")
                store.activity()
                incremental = engine.run("incremental")
            finally:
                store.close()
            results.append(_result(source, store.connector, historical, incremental, sink, state))
    finally:
        sink.close()
        state.close()
    return results


def _result(
    source: DemoSource,
    connector: object,
    historical: SyncReport,
    incremental: SyncReport,
    sink: SQLiteSink,
    state: SQLiteStateStore,
) -> DemoResult:
    conn_id = historical.connection_id
    db = sink.connection
    from ..protocols import Connector, Stream

    has_carts = isinstance(connector, Connector) and (
        Stream.ABANDONED_CARTS in connector.supported_streams
    )
    return DemoResult(
        source=source,
        connection_id=conn_id,
        historical=historical,
        incremental=incremental,
        contacts=_count(
            db,
            "SELECT COUNT(DISTINCT identity) FROM contact_sources WHERE connection_id=?",
            conn_id,
        ),
        orders=_count(db, "SELECT COUNT(*) FROM orders WHERE connection_id=?", conn_id),
        products=_count(db, "SELECT COUNT(*) FROM products WHERE connection_id=?", conn_id),
        carts=_count(db, "SELECT COUNT(*) FROM carts WHERE connection_id=?", conn_id)
        if has_carts
        else None,
        triggers_fired=_count(
            db,
            "SELECT (SELECT COUNT(*) FROM orders WHERE connection_id=? AND trigger_fires=1)"
            " + (SELECT COUNT(*) FROM carts WHERE connection_id=? AND trigger_fires=1)",
            conn_id,
            conn_id,
        ),
        dead_letters=len(state.dead_letters(conn_id)),
    )
