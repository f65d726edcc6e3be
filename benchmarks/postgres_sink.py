"""Records per second of one simulated store synced into PostgreSQL, next to SQLite.

The generated store of ``benchmarks.sync_memory`` (products, customers, orders
with guests, phones and two currencies) goes through the whole pipeline
(rules, field maps, contact merge, batches of 500) into each sink, with the
state store of the same kind: a SQLite file (WAL, ``synchronous=FULL``) and a
PostgreSQL database on a throwaway local server started from the machine's
binaries (``fsync`` on, so both acknowledge durable data). Each is synced
twice: the historical run writes everything, the second finds it all
unchanged. Both figures come from this one run on this machine.

Without PostgreSQL binaries or psycopg, it prints why and measures nothing.

Run: ``python -m benchmarks.postgres_sink [--orders 20000]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.sync_memory import GeneratedStore
from commerce_connectors.protocols import Sink, StateStore
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine


def _pg_server_module() -> ModuleType:
    """The tests' PostgreSQL server helper (``tests/pg_server.py``), loaded by path."""
    path = Path(__file__).resolve().parents[1] / "tests" / "pg_server.py"
    spec = importlib.util.spec_from_file_location("_cc_pg_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure(label: str, orders: int, sink: Sink, state: StateStore) -> tuple[float, float]:
    """Sync twice; print and return records/s of the historical and the repeated run."""
    rates = []
    for mode in ("historical", "historical"):
        engine = SyncEngine(GeneratedStore(orders), sink, state)
        started = time.perf_counter()
        report = engine.run(mode)
        elapsed = time.perf_counter() - started
        totals = report.totals()
        rate = totals["read"] / elapsed
        rates.append(rate)
        print(
            f"{label:<11} {'first' if len(rates) == 1 else 'again':<6}"
            f" {totals['read']:>9,} records {elapsed:>7.2f}s {rate:>10,.0f} records/s"
            f"  ({report.status.value}; new {totals['written']:,},"
            f" unchanged {totals['unchanged']:,})"
        )
    sink.close()
    state.close()
    return rates[0], rates[1]


def main(argv: list[str] | None = None) -> None:
    """Parse options, start PostgreSQL, measure both sinks, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    args = parser.parse_args(argv)
    try:
        pg = _pg_server_module()
        from commerce_connectors.sinks.postgres import PostgresSink
        from commerce_connectors.state.postgres import PostgresStateStore
    except Exception as exc:  # psycopg missing: the extra is not installed
        print(f"skipped: PostgreSQL support unavailable ({exc})")
        return
    try:
        server: Any = pg.PostgresServer(durable=True)
        server.start()
    except pg.PostgresUnavailableError as exc:
        print(f"skipped: {exc}")
        return
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            sqlite = measure("SQLite", args.orders, SQLiteSink(db), SQLiteStateStore(db))
        url = server.create_database("bench") + "?schema=bench"
        postgres = measure("PostgreSQL", args.orders, PostgresSink(url), PostgresStateStore(url))
    finally:
        server.stop()
    print(
        f"PostgreSQL / SQLite records/s: first sync {postgres[0] / sqlite[0]:.2f}x,"
        f" unchanged re-sync {postgres[1] / sqlite[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
