"""Sync a simulated ToyShop store into SQLite, historical then incremental, and query it.

Run: ``python examples/sync_toyshop_to_sqlite.py [path.db]``. No network needed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from commerce_connectors.clock import FakeClock
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator


def main(path: Path) -> None:
    """Sync twice and print what the database holds."""
    clock = FakeClock()  # the simulator's rate limit waits take no real time
    shop = ToyShopSimulator(
        seed=1, customers=80, orders=300, products=20, clock=clock, realistic=True, now=clock.now()
    )
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    sink, state = SQLiteSink(path), SQLiteStateStore(path)
    engine = SyncEngine(connector, sink, state, clock=clock)
    print(engine.run("historical").summary())
    clock.advance(3600)
    shop.simulate_activity(new_orders=5, updated_customers=3)
    print(engine.run().summary())
    rows = sink.connection.execute(
        "SELECT c.email, COUNT(*) FROM orders o JOIN contacts c ON c.identity = o.contact_identity"
        " GROUP BY c.email ORDER BY COUNT(*) DESC LIMIT 3"
    ).fetchall()
    print("top buyers:", rows)
    for letter in state.dead_letters():
        print("dead letter:", letter.kind, letter.record_id, [p.path for p in letter.problems])
    sink.close()
    state.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp) / "toyshop.db")
