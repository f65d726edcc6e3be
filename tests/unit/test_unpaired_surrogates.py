"""A payload with half a UTF-16 pair (JSON ``"\\ud800"``) is dead-lettered, never a crash.

``json.loads`` accepts an escaped unpaired surrogate, but no UTF-8 store can keep it: the
parsers report it as a bad field, and the dead letter keeps the payload exactly.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import MemoryStateStore, SQLiteStateStore
from commerce_connectors.sync import SyncEngine, SyncStatus
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

MARK = b"SURROGATE_HERE"


def _connector(clock: FakeClock) -> tuple[TiendanubeConnector, str]:
    sim = TiendanubeSimulator(seed=1, customers=3, orders=2, products=1, clock=clock)
    bad = sim.add_customer(name=f"Ann {MARK.decode()} Lee", email="ann@example.com")
    inner = sim.transport()

    def escaped(request: httpx.Request) -> httpx.Response:
        # The simulator writes UTF-8; a platform may send the JSON escape instead.
        answer = inner.handle_request(request)
        body = answer.read().replace(MARK, b"\\ud800")
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() != "content-length"]
        return httpx.Response(answer.status_code, headers=headers, content=body)

    conn = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="Tests (tests@example.com)",
        transport=httpx.MockTransport(escaped),
        clock=clock,
    )
    return conn, str(bad.id)


def test_an_unpaired_surrogate_is_a_bad_field_and_its_payload_is_kept(tmp_path: Path) -> None:
    for state in (SQLiteStateStore(str(tmp_path / "state.db")), MemoryStateStore()):
        conn, bad_id = _connector(FakeClock())
        sink = SQLiteSink(str(tmp_path / f"sink-{type(state).__name__}.db"))
        report = SyncEngine(conn, sink, state).run()
        assert report.status is SyncStatus.OK
        letters = state.dead_letters(conn.connection_id)
        assert [(d.kind, d.record_id) for d in letters] == [("customer", bad_id)]
        assert letters[0].payload["name"] == "Ann \ud800 Lee"  # exactly as received
        assert [p.path for p in letters[0].problems] == ["$.name"]
        assert "surrogate" in letters[0].problems[0].reason
        state.close()
        sink.close()
