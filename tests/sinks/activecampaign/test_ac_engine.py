"""Historical syncs from platform simulators into the ActiveCampaign simulator (SyncEngine)."""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal

from commerce_connectors.clock import FakeClock
from commerce_connectors.models import Money
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.protocols import Stream
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator


def _sink(ac: ActiveCampaignSimulator, clock: FakeClock, **kw: object) -> ActiveCampaignSink:
    return ActiveCampaignSink(
        api_url=ac.api_url, api_token=ac.token, transport=ac.transport(), clock=clock, **kw
    )  # type: ignore[arg-type]


def _toyshop(clock: FakeClock) -> ToyShopSimulator:
    return ToyShopSimulator(
        seed=4, customers=24, orders=60, products=8, clock=clock, realistic=True, now=clock.now()
    )


def _no_duplicates(ac: ActiveCampaignSimulator) -> None:
    def dupes(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return [k for k, n in collections.Counter(rows).items() if n > 1]

    assert not dupes([(c["service"], c["externalid"]) for c in ac.records("connections")])
    assert not dupes([(c["connectionid"], c["email"]) for c in ac.records("ecomCustomers")])
    assert not dupes([(c["connectionid"], c["externalid"]) for c in ac.records("ecomCustomers")])
    orders = ac.records("ecomOrders")
    assert not dupes([(o["connectionid"], o["externalid"]) for o in orders if o.get("externalid")])
    assert not dupes([(o["connectionid"], o.get("externalcheckoutid")) for o in orders
                      if o.get("externalcheckoutid")])  # fmt: skip
    assert not dupes([(t["tag"].lower(),) for t in ac.records("tags")])
    assert not dupes([(c["email"].lower(),) for c in ac.records("contacts")])
    assert not dupes([(t["contact"], t["tag"]) for t in ac.records("contactTags")])


def test_a_historical_sync_run_twice_creates_nothing_twice() -> None:
    clock = FakeClock()
    shop, ac = _toyshop(clock), ActiveCampaignSimulator(clock=clock)
    sink = _sink(ac, clock, list_name="Master Contact List")
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    engine = SyncEngine(connector, sink, MemoryStateStore(), clock=clock)

    first = engine.run("historical")
    assert first.status.value == "ok"
    assert ac.count("ecomOrders") > 30
    assert ac.count("contacts") > 15
    _no_duplicates(ac)
    stored = ac.snapshot()
    requests = len(ac.log)

    second = engine.run("historical")  # the same sink: everything known, nothing sent
    assert second.stream(Stream.ORDERS).unchanged == first.stream(Stream.ORDERS).new
    assert len(ac.log) == requests
    assert ac.snapshot() == stored

    # A restarted process: a new sink finds everything by lookups and writes nothing new.
    # (A second after the last request: a new process's pacer knows nothing of the last
    # second's requests; share one limiter between sinks of one account to cover that.)
    clock.advance(1.0)
    again = SyncEngine(
        ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock),
        _sink(ac, clock, list_name="Master Contact List"),
        MemoryStateStore(),
        clock=clock,
    )
    third = again.run("historical")
    assert third.stream(Stream.ORDERS).new == 0
    assert third.stream(Stream.CUSTOMERS).new == 0
    writes = [e for e in ac.log.entries[requests:] if e.method in ("POST", "PUT", "DELETE")]
    # Tags are read, not posted again. A contact two records share may be re-synced on
    # its first sight after a restart (the account keeps no source times); the newest
    # values win again by the end of the run.
    assert {e.route for e in writes} <= {"/api/3/contact/sync"}
    assert ac.snapshot() == stored
    _no_duplicates(ac)
    # The default pace never met the account's limit.
    assert ac.rate_limited == 0
    assert ac.log.max_in_window(1.0 - 1e-6) <= 5


def test_the_account_matches_the_shop() -> None:
    clock = FakeClock()
    shop, ac = _toyshop(clock), ActiveCampaignSimulator(clock=clock)
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    SyncEngine(connector, _sink(ac, clock), MemoryStateStore(), clock=clock).run("historical")
    with ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock) as reader:
        reader.on_invalid = lambda error: None  # the shop's two malformed records
        orders = {o.external_id: o for o in reader.iter_orders()}
    stored = {o["externalid"]: o for o in ac.orders(connector.connection_id)}
    assert stored
    assert set(stored) <= set(orders)
    for oid, row in stored.items():
        source = orders[oid]
        assert row["totalPrice"] == source.total.to_minor_units()
        assert row["currency"] == source.total.currency
        assert len(row["lines"]) == len(source.lines)
        assert row["source"] in ("0", "1")
    # Orders left out are the ones with no email to key them on.
    for oid in set(orders) - set(stored):
        buyer = orders[oid].customer
        assert not (orders[oid].email)
        assert not (buyer.email if buyer else None)
    currencies = {row["currency"] for row in stored.values()}
    assert "JPY" in currencies  # the realistic shop sells in yen too
    jpy = next(r for r in stored.values() if r["currency"] == "JPY")
    assert Money.from_minor_units(jpy["totalPrice"], "JPY").amount == Decimal(jpy["totalPrice"])


def test_carts_and_recent_orders_from_tiendanube() -> None:
    clock = FakeClock(wall_start=dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc))
    shop = TiendanubeSimulator(
        seed=3, customers=10, orders=25, products=6, checkouts=8, clock=clock
    )
    clock.advance(7 * 3600)  # past the abandonment delay of the newest checkouts
    ac = ActiveCampaignSimulator(clock=clock)
    connector = TiendanubeConnector(
        store_id=shop.store_id,
        access_token=shop.token,
        user_agent="Tests (dev@example.com)",
        base_url=shop.base_url,
        transport=shop.transport(),
        clock=clock,
    )
    engine = SyncEngine(connector, _sink(ac, clock), MemoryStateStore(), clock=clock)
    report = engine.run("historical")
    assert report.status.value == "ok", report.error
    carts = [o for o in ac.orders() if o.get("externalcheckoutid")]
    assert len(carts) == report.stream(Stream.ABANDONED_CARTS).new > 0
    assert all(c["abandonedDate"] and c["state"] == 2 for c in carts)
    assert {c["source"] for c in carts} == {"0"}  # a historical sync never fires carts
    orders = [o for o in ac.orders() if o.get("externalid")]
    recent = [o for o in orders if o["source"] == "1"]
    assert len(recent) == report.stream(Stream.ORDERS).triggers_fired
    assert engine.run("historical").stream(Stream.ABANDONED_CARTS).new == 0
    _no_duplicates(ac)


def test_a_refused_order_does_not_stop_the_run() -> None:
    clock = FakeClock()
    shop, ac = _toyshop(clock), ActiveCampaignSimulator(clock=clock)
    refused: list[str] = []

    def refuse(order: dict[str, object]) -> bool:
        if not refused and order.get("currency") == "USD":
            refused.append(str(order["externalid"]))
            return True
        return False

    ac.refuse("ecomOrder", refuse, field="totalPrice", title="Total is off")
    sink = _sink(ac, clock)
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    state = MemoryStateStore()
    report = SyncEngine(connector, sink, state, clock=clock).run("historical")
    assert report.status.value == "ok"
    stored = {o["externalid"] for o in ac.orders()}
    assert refused
    assert refused[0] not in stored
    assert len(stored) == report.stream(Stream.ORDERS).new
    assert report.needs_attention
    letters = {(d.kind, d.record_id): d for d in state.dead_letters(connector.connection_id)}
    letter = letters[("order", refused[0])]
    assert "Total is off" in letter.problems[0].reason
    assert letter.payload is not None  # the platform's raw payload, kept for a replay


def test_a_missing_list_is_reported_in_the_run_and_its_requests_counted() -> None:
    clock = FakeClock()
    ac = ActiveCampaignSimulator(clock=clock)
    shop = _toyshop(clock)
    sink = _sink(ac, clock, list_name="No Such List")
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    report = SyncEngine(connector, sink, MemoryStateStore(), clock=clock).run("historical")
    assert report.sink_requests > 0
    assert len(report.notices) == 1
    assert "No Such List" in report.notices[0]
    assert "notice:" in report.summary()
    again = SyncEngine(connector, sink, MemoryStateStore(), clock=clock).run("historical")
    assert again.notices == []  # reported once
