"""A guest's purchase is synced when the CRM already knows the guest, skipped otherwise."""

from __future__ import annotations

import attrs
import pytest
from _syncfakes import CONN, ListConnector, at, customer, order

from commerce_connectors.clock import FakeClock
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import GuestPolicy, RecordKey, defaults_for
from commerce_connectors.sinks import MemorySink, SQLiteSink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine

# BigCommerce's rule: guests (customer id 0) are not synced as customers.
RULES = attrs.evolve(
    defaults_for("custom"), guests=GuestPolicy(sync_guests=False, guest_customer_ids={"0"})
)


@pytest.fixture(params=["memory", "sqlite"])
def sink(request, tmp_path):
    s = MemorySink() if request.param == "memory" else SQLiteSink(tmp_path / "s.db")
    yield s
    s.close()


def test_a_known_guest_purchase_joins_the_contact_and_an_unknown_one_is_skipped(sink) -> None:
    conn = ListConnector(
        customers=[customer("5", "Ana@Example.com")],
        orders=[
            order("100", cid="0", email="ana@example.com "),  # a guest the CRM knows
            order("101", cid="0", email="stranger@example.com"),  # a guest it does not
            order("102", cid="5", email="ana@example.com"),  # a registered buyer
        ],
    )
    engine = SyncEngine(
        conn, sink, MemoryStateStore(), rules=RULES, clock=FakeClock(wall_start=at(50))
    )
    report = engine.run("historical")
    orders = {k.external_id: v for k, v in sink.snapshot().items() if k.kind == "order"}
    assert sorted(orders) == ["100", "102"]
    assert orders["100"]["contact"] == "ana@example.com"
    assert report.stream(Stream.ORDERS).skipped["guest_excluded"] == 1
    # The guest's order did not create or change a contact.
    contacts = [k for k in sink.snapshot() if k.kind == "contact"]
    assert contacts == [RecordKey("", "contact", "ana@example.com")]
    assert conn.connection_id == CONN
