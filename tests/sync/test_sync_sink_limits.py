"""The engine adapts to what a sink declares: batch size, stored kinds; contact-map dead letters."""

from __future__ import annotations

import attrs
from _syncfakes import CONN, ListConnector, at, customer, order, product

from commerce_connectors.clock import FakeClock
from commerce_connectors.mapping import CONTACT_MAP, FieldMap
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import RecordKey
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine


def test_a_sink_taking_one_item_per_write_gets_every_item() -> None:
    # A CRM without batch writes declares batch_size=1; a customer makes two items.
    conn = ListConnector(
        customers=[customer(str(n), f"p{n}@example.com") for n in range(3)],
        orders=[order("o1", cid="0", email="p0@example.com")],
    )
    sink = MemorySink(batch_size=1)
    report = SyncEngine(conn, sink, MemoryStateStore(), clock=FakeClock(wall_start=at(5))).run()
    assert report.ok, report.error
    assert sink.contact_count() == 3
    assert len(sink.records("customer")) == 3
    assert len(sink.records("order")) == 1
    assert sink.batches == 3 * 2 + 2  # contact, then its customer or order


class _NoCatalogue(MemorySink):
    """A CRM that stores contacts and orders only (no products, customers or carts)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._caps = attrs.evolve(self._caps, kinds={"contact", "order"})


def test_kinds_the_sink_does_not_store_are_not_sent() -> None:
    conn = ListConnector(
        products=[product("1")],
        customers=[customer("1", "a@example.com")],
        orders=[order("o1", cid="1", email="a@example.com")],
    )
    sink, state = _NoCatalogue(), MemoryStateStore()
    report = SyncEngine(conn, sink, state, clock=FakeClock(wall_start=at(5))).run()
    assert report.ok, report.error
    assert Stream.PRODUCTS not in [s for s, _ in conn.calls]  # not read at all
    assert list(sink.records()) == [RecordKey(CONN, "order", "o1")]
    assert list(sink.contacts()) == ["a@example.com"]
    assert state.get_checkpoint(CONN, Stream.ORDERS) is not None


def test_a_contact_map_dead_letter_is_resolved_once_the_map_is_fixed() -> None:
    strict = FieldMap.from_dict(
        {
            "kind": "contact",
            "require_external_id": False,
            "fields": {"email": "email", "phone": {"source": "phone", "required": True}},
        }
    )
    conn = ListConnector(customers=[customer("1", "a@example.com")])
    sink, state = MemorySink(), MemoryStateStore()
    engine = SyncEngine(
        conn, sink, state, maps={"contact": strict}, clock=FakeClock(wall_start=at(5))
    )
    report = engine.run()
    assert report.stream(Stream.CUSTOMERS).dead_lettered == 1
    (letter,) = state.dead_letters()
    assert (letter.kind, letter.record_id) == ("contact", "1")

    engine.maps["contact"] = CONTACT_MAP  # the user fixed the map
    replay = engine.replay_dead_letters()
    assert list(sink.contacts()) == ["a@example.com"]
    assert replay.dead_letters_resolved == 1
    assert state.dead_letters() == []


def test_contacts_still_waiting_under_the_cap_need_attention_and_are_named() -> None:
    people = [customer(str(n), f"p{n}@example.com") for n in range(3)]
    sink, state = MemorySink(contact_limit=2), MemoryStateStore()
    engine = SyncEngine(
        ListConnector(customers=people), sink, state, clock=FakeClock(wall_start=at(5))
    )
    first = engine.run()
    assert first.needs_attention
    assert "contact limit reached: 1 new contact(s) refused" in first.summary()
    again = engine.run()  # nothing new; the parked contact is refused once more
    assert (again.parked_retried, again.parked_synced) == (1, 0)
    assert again.needs_attention  # exit code 6, not 0: a contact is still waiting
    assert "1 parked earlier still refused" in again.summary()
    sink.with_contact_limit(None)
    done = engine.run()
    assert not done.needs_attention
    assert "contact limit" not in done.summary()
