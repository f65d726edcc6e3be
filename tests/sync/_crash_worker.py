"""Runs one sync of a seeded ToyShop store into a SQLite file; may SIGKILL itself on cue.

Usage: python _crash_worker.py DB_PATH [commit:N | midbatch:N | checkpoint:N | request:N]

``commit:N`` dies right after the N-th batch is committed, before the engine
sees the acknowledgement; ``midbatch:N`` dies inside the N-th transaction,
after its rows were written and before COMMIT; ``checkpoint:N`` dies right
after the N-th checkpoint is saved; ``request:N`` dies while the N-th HTTP
request is being answered (mid-read).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys

from commerce_connectors.clock import FakeClock
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.sinks import sqlite as sqlite_sink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator

WALL = dt.datetime(2024, 10, 5, tzinfo=dt.timezone.utc)


def build(db: str) -> SyncEngine:
    """The same store, connector, sink and state in every process."""
    clock = FakeClock(wall_start=WALL)
    sim = ToyShopSimulator(
        seed=11,
        customers=40,
        orders=120,
        products=15,
        clock=clock,
        realistic=True,
        now=WALL - dt.timedelta(days=3),
    )
    conn = ToyShopConnector(token=sim.token, transport=sim.transport(), clock=clock, page_size=20)
    engine = SyncEngine(conn, SQLiteSink(db, batch_size=25), SQLiteStateStore(db), clock=clock)
    engine.simulator = sim  # type: ignore[attr-defined]
    return engine


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(engine: SyncEngine, spec: str) -> None:
    kind, _, n = spec.partition(":")
    target = int(n or 0)
    seen = {"n": 0}

    def hit() -> bool:
        seen["n"] += 1
        return seen["n"] == target

    if kind == "commit":
        write = engine.sink.write

        def write_then_die(batch):  # type: ignore[no-untyped-def]
            ack = write(batch)
            if hit():
                die()
            return ack

        engine.sink.write = write_then_die  # type: ignore[method-assign]
    elif kind == "midbatch":
        apply = sqlite_sink.apply_batch

        def apply_then_die(backend, batch, caps):  # type: ignore[no-untyped-def]
            ack = apply(backend, batch, caps)
            if hit():
                die()
            return ack

        sqlite_sink.apply_batch = apply_then_die  # type: ignore[assignment]
    elif kind == "checkpoint":
        save = engine.state.save_checkpoint

        def save_then_die(cp):  # type: ignore[no-untyped-def]
            save(cp)
            if hit():
                die()

        engine.state.save_checkpoint = save_then_die  # type: ignore[method-assign]
    elif kind == "request":
        sim = engine.simulator  # type: ignore[attr-defined]
        process = sim._process  # the transport holds sim.handle, which calls this

        def process_or_die(request, **kw):  # type: ignore[no-untyped-def]
            if hit():
                die()
            return process(request, **kw)

        sim._process = process_or_die


def main() -> None:
    db, spec = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "none")
    engine = build(db)
    if spec != "none":
        arm(engine, spec)
    report = engine.run()
    print(json.dumps({"status": report.status.value, "totals": report.totals()}))


if __name__ == "__main__":
    main()
