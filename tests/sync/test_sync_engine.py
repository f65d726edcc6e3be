"""The sync engine against ToyShop (over HTTP, in-process) and an in-memory connector."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from _syncfakes import CONN, ListConnector, at, cart, customer, order, product

from commerce_connectors.clock import FakeClock
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import GuestPolicy, Reason, RecordKey, defaults_for
from commerce_connectors.sinks import MemorySink, SQLiteSink
from commerce_connectors.state import MemoryStateStore, SQLiteStateStore
from commerce_connectors.sync import SyncEngine, SyncStatus
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator

UTC = dt.timezone.utc
# After every ToyShop timestamp (data ends 2024-10-01) and more than 24 h later.
WALL = dt.datetime(2024, 10, 5, tzinfo=UTC)


def toyshop(clock: FakeClock, **kw):
    kw = {"seed": 5, "customers": 40, "orders": 60, "products": 10, **kw}
    return ToyShopSimulator(clock=clock, **kw)


def shop_connector(sim: ToyShopSimulator, clock: FakeClock, token: str | None = None):
    return ToyShopConnector(
        token=token or sim.token, transport=sim.transport(), clock=clock, page_size=10
    )


def test_historical_twice_equals_historical_once(tmp_path) -> None:
    clock = FakeClock(wall_start=WALL)
    sim = toyshop(clock, realistic=True, now=WALL - dt.timedelta(days=2))
    sink = SQLiteSink(tmp_path / "s.db")
    engine = SyncEngine(
        shop_connector(sim, clock), sink, SQLiteStateStore(tmp_path / "s.db"), clock=clock
    )
    first = engine.run("historical")
    once = sink.snapshot()
    clock.advance(3600)
    second = engine.run("historical")
    assert first.ok
    assert second.ok
    assert sink.snapshot() == once
    totals = second.totals()
    assert totals["new"] == totals["updated"] == totals["contacts_new"] == 0
    assert totals["unchanged"] == first.totals()["new"]


def test_incremental_picks_up_created_and_updated_records_including_the_overlap() -> None:
    clock = FakeClock(wall_start=WALL)
    sim = toyshop(clock)
    sink, state = MemorySink(), MemoryStateStore()
    engine = SyncEngine(shop_connector(sim, clock), sink, state, clock=clock)
    assert engine.run().ok  # no checkpoint yet: historical
    checkpoint = state.get_checkpoint("toyshop:toyshop", Stream.ORDERS).value
    clock.advance(3600)
    orders, customers = sim.stores["orders"], sim.stores["customers"]
    new = [orders.insert({**orders.get(1).data, "number": 5000 + n}) for n in range(3)]
    edited = [customers.update(r.id, {"company": "Edited GmbH"}) for r in customers.query()[:2]]
    # A late write: stamped 2 minutes before the checkpoint, inside the 5-minute overlap.
    late = orders.update(
        10, {"status": "refunded"}, updated_at=checkpoint - dt.timedelta(minutes=2)
    )
    # Stamped 10 minutes before: outside the window, so not re-read (the window's limit).
    missed = orders.update(
        11, {"status": "refunded"}, updated_at=checkpoint - dt.timedelta(minutes=10)
    )
    report = engine.run()
    o, c = report.stream(Stream.ORDERS), report.stream(Stream.CUSTOMERS)
    assert (o.mode, o.since) == ("incremental", checkpoint - dt.timedelta(minutes=5))
    assert (o.read, o.new, o.updated) == (4, 3, 1)
    assert (c.read, c.updated) == (2, 2)
    assert report.stream(Stream.PRODUCTS).read == 0
    stored = sink.records("order")
    for rec in [*new, late]:
        assert RecordKey("toyshop:toyshop", "order", str(rec.id)) in stored
    assert stored[RecordKey("toyshop:toyshop", "order", str(late.id))].raw_status == "refunded"
    assert stored[RecordKey("toyshop:toyshop", "order", str(missed.id))].raw_status != "refunded"
    assert {r.id for r in edited} <= {int(k.external_id) for k in sink.records("customer")}


def test_auth_failure_mid_run_keeps_the_checkpoint_and_resumes(tmp_path) -> None:
    clock = FakeClock(wall_start=WALL)
    sim = toyshop(clock)
    truth = MemorySink()
    SyncEngine(shop_connector(sim, clock), truth, MemoryStateStore(), clock=clock).run()

    sink, state = MemorySink(batch_size=20), MemoryStateStore()

    def revoke(event) -> None:
        if event.stream is Stream.ORDERS and event.phase == "batch":
            sim.token = "rotated-token-0123456789"  # the merchant revoked the old token

    engine = SyncEngine(shop_connector(sim, clock), sink, state, clock=clock, on_progress=revoke)
    report = engine.run()
    assert report.status is SyncStatus.AUTH_ERROR
    assert "authentication failed" in report.error
    assert "resumes" in report.error
    assert sim.token not in report.error
    assert state.get_checkpoint("toyshop:toyshop", Stream.ORDERS) is None
    assert state.get_checkpoint("toyshop:toyshop", Stream.CUSTOMERS) is not None
    written = len(sink.records("order"))
    assert 0 < written < 60
    assert state.runs()[0].status == "auth_error"

    fixed = SyncEngine(shop_connector(sim, clock, token=sim.token), sink, state, clock=clock)
    resumed = fixed.run()
    assert resumed.ok
    assert resumed.stream(Stream.ORDERS).mode == "historical"
    assert resumed.stream(Stream.CUSTOMERS).mode == "incremental"
    assert resumed.stream(Stream.ORDERS).unchanged == written
    assert sink.snapshot() == truth.snapshot()


def test_contact_cap_refusals_are_kept_and_synced_when_the_cap_is_raised() -> None:
    clock = FakeClock(wall_start=at(1))
    people = [customer(str(n), f"p{n}@example.com") for n in range(5)]
    sink, state = MemorySink(contact_limit=3), MemoryStateStore()
    engine = SyncEngine(ListConnector(customers=people), sink, state, clock=clock)
    report = engine.run()
    s = report.stream(Stream.CUSTOMERS)
    assert (s.contacts_new, s.refused_by_cap) == (3, 2)
    assert report.needs_attention
    assert sink.contact_count() == 3
    parked = state.parked_contacts()
    assert [p.identity for p in parked] == ["p3@example.com", "p4@example.com"]
    assert {p.reason for p in parked} == {Reason.CONTACT_LIMIT}

    again = engine.run()  # still capped: kept, not lost
    assert (again.parked_retried, again.parked_synced) == (2, 0)
    assert len(state.parked_contacts()) == 2

    sink.with_contact_limit(10)  # the plan was upgraded
    raised = engine.run()
    assert (raised.parked_retried, raised.parked_synced) == (2, 2)
    assert sink.contact_count() == 5
    assert state.parked_contacts() == []


def test_dead_letters_keep_the_payload_and_are_resolved_by_a_replay_after_a_fix() -> None:
    clock = FakeClock(wall_start=WALL)
    sim = toyshop(clock)
    victim = sim.stores["orders"].get(7)
    sim.stores["orders"].update(7, {"total": "12,34"}, updated_at=victim.updated_at)
    sink, state = MemorySink(), MemoryStateStore()
    engine = SyncEngine(shop_connector(sim, clock), sink, state, clock=clock)
    report = engine.run()
    assert report.ok
    assert report.stream(Stream.ORDERS).dead_lettered == 1
    (letter,) = state.dead_letters()
    assert (letter.kind, letter.record_id, letter.payload["total"]) == ("order", "7", "12,34")
    assert [p.path for p in letter.problems] == ["$.total"]
    clock.advance(60)
    engine.run("historical")
    (letter,) = state.dead_letters()
    assert letter.count == 2
    assert letter.last_seen > letter.first_seen
    assert letter.problems[0].last_seen > letter.problems[0].first_seen

    # Fixed in the shop without touching updated_at: only a replay finds it.
    sim.stores["orders"].update(7, {"total": "12.34"}, updated_at=victim.updated_at)
    assert engine.run().stream(Stream.ORDERS).read == 0
    replay = engine.replay_dead_letters()
    assert replay.mode == "replay"
    assert replay.dead_letters_resolved == 1
    assert list(replay.streams) == [Stream.ORDERS]
    assert state.dead_letters() == []
    assert RecordKey("toyshop:toyshop", "order", "7") in sink.records("order")


def test_streams_are_read_products_customers_orders_carts() -> None:
    conn = ListConnector(
        products=[product("1")],
        customers=[customer("1", "a@x.io")],
        orders=[order("1")],
        carts=[cart("1")],
    )
    SyncEngine(conn, MemorySink(), MemoryStateStore(), clock=FakeClock(wall_start=at(30))).run()
    assert [s for s, _ in conn.calls] == [
        Stream.PRODUCTS,
        Stream.CUSTOMERS,
        Stream.ORDERS,
        Stream.ABANDONED_CARTS,
    ]


def test_triggers_fire_only_for_recent_orders_in_a_historical_sync() -> None:
    clock = FakeClock(wall_start=at(100))
    conn = ListConnector(orders=[order("old", hours=1), order("recent", hours=99)])
    sink = MemorySink()
    report = SyncEngine(conn, sink, MemoryStateStore(), clock=clock).run("historical")
    assert report.stream(Stream.ORDERS).triggers_fired == 1
    snap = sink.snapshot()
    assert snap[RecordKey(CONN, "order", "recent")]["trigger"] == {"fires": True, "source": 1}
    assert snap[RecordKey(CONN, "order", "old")]["trigger"] == {"fires": False, "source": 0}


def test_carts_abandonment_and_the_checkpoint_waits_for_active_carts() -> None:
    clock = FakeClock(wall_start=at(10))
    carts = [
        cart("abandoned", hours=0),
        cart("active", hours=8),  # idle 2 h of the 6 h delay
        cart("converted", hours=0, completed_at=at(1)),
        cart("recovered", hours=0, completed_at=at(9)),
    ]
    conn = ListConnector(carts=carts)
    sink, state = MemorySink(), MemoryStateStore()
    engine = SyncEngine(conn, sink, state, clock=clock)
    s = engine.run().stream(Stream.ABANDONED_CARTS)
    assert s.new == 2
    assert s.skipped == {"cart_not_yet_abandoned": 1, "cart_converted": 1}
    snap = sink.snapshot()
    assert snap[RecordKey(CONN, "cart", "abandoned")]["trigger"]["fires"] is False
    assert snap[RecordKey(CONN, "cart", "recovered")]["status"] == "recovered"
    assert state.get_checkpoint(CONN, Stream.ABANDONED_CARTS).value == at(8)

    clock.advance(10 * 3600)  # the active cart is abandoned now
    s = engine.run().stream(Stream.ABANDONED_CARTS)
    assert s.mode == "incremental"
    assert s.new == 1
    assert sink.snapshot()[RecordKey(CONN, "cart", "active")]["trigger"]["fires"] is True


def test_guests_duplicates_and_identities_are_counted() -> None:
    rules = attrs.evolve(defaults_for("custom"), guests=GuestPolicy(sync_guests=False))
    conn = ListConnector(
        customers=[
            customer("1", "Ann@Example.com"),
            customer("2", " ann@example.com"),
            customer("3", None),
        ],
        orders=[
            order("g", cid=None, email="guest@example.com"),
            order("1", cid="1", email="ann@example.com", customer=customer("1", "ann@example.com")),
        ],
    )
    sink = MemorySink()
    report = SyncEngine(
        conn, sink, MemoryStateStore(), rules=rules, clock=FakeClock(wall_start=at(50))
    ).run()
    c, o = report.stream(Stream.CUSTOMERS), report.stream(Stream.ORDERS)
    assert c.skipped == {"no_identity": 1}
    assert (c.contacts_new, c.duplicates_merged) == (1, 1)
    assert o.skipped == {"guest_excluded": 1}
    assert o.new == 1
    assert list(sink.contacts()) == ["ann@example.com"]


def test_batches_stay_bounded_and_stop_is_clean() -> None:
    conn = ListConnector(
        products=[product(str(n)) for n in range(30)],
        orders=[order(str(n), cid=None, email=f"b{n}@x.io") for n in range(500)],
    )
    sink, state = MemorySink(batch_size=40), MemoryStateStore()
    engine = SyncEngine(conn, sink, state, clock=FakeClock(wall_start=at(50)))
    assert engine.run().ok
    assert sink.batches >= 1000 // 40

    stopper = SyncEngine(
        ListConnector(products=[product("x")], orders=conn.data[Stream.ORDERS]),
        MemorySink(batch_size=40),
        MemoryStateStore(),
        clock=FakeClock(wall_start=at(50)),
    )
    stopper.on_progress = lambda e: stopper.stop() if e.stream is Stream.ORDERS else None
    report = stopper.run()
    assert report.status is SyncStatus.INTERRUPTED
    assert stopper.state.get_checkpoint(CONN, Stream.PRODUCTS) is not None
    assert stopper.state.get_checkpoint(CONN, Stream.ORDERS) is None
    assert 0 < report.stream(Stream.ORDERS).read < 500


def test_report_counts_requests_and_rate_limit_waits() -> None:
    clock = FakeClock(wall_start=WALL)
    sim = toyshop(clock, orders=500)
    report = SyncEngine(
        shop_connector(sim, clock), MemorySink(), MemoryStateStore(), clock=clock
    ).run()
    assert report.requests == len(sim.log.entries) > 40
    assert report.requests == sum(s.requests for s in report.streams.values())
    assert report.rate_limit_wait > 0  # a 40-request bucket leaking 2/s was hit
    assert report.to_dict()["totals"]["read"] == 500 + 40 + 10


def test_since_must_be_aware_and_not_historical() -> None:
    engine = SyncEngine(ListConnector(), MemorySink(), MemoryStateStore(), clock=FakeClock())
    with pytest.raises(ValueError, match="naive"):
        engine.run(since=dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="historical"):
        engine.run("historical", since=at(0))
    report = engine.run(since=at(0))  # no checkpoint: an explicit since saves none (a gap)
    assert report.ok
    assert engine.state.checkpoints() == []


def test_a_shopper_who_starts_a_checkout_is_a_contact_before_the_cart_is_abandoned() -> None:
    clock = FakeClock(wall_start=at(10))
    conn = ListConnector(carts=[cart("active", hours=9, email="Starter@Example.com")])
    sink = MemorySink()
    s = SyncEngine(conn, sink, MemoryStateStore(), clock=clock).run().stream(Stream.ABANDONED_CARTS)
    assert s.skipped == {"cart_not_yet_abandoned": 1}
    assert s.contacts_new == 1
    snap = sink.snapshot()
    assert RecordKey("", "contact", "starter@example.com") in snap
    assert RecordKey(CONN, "cart", "active") not in snap
