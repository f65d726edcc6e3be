"""The simulator's ``add_order(created_at=...)``: an order placed now, after the history."""

from __future__ import annotations

import datetime as dt

from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)


def test_an_order_placed_after_the_generated_history_is_modified_when_placed() -> None:
    clock = ConcurrentFakeClock()
    sim = BigCommerceSimulator(seed=5, customers=5, orders=5, products=3, clock=clock)
    clock.advance(3600)  # past the end of the generated history
    since = clock.now()
    record = sim.add_order(buyer=sim.customers.query()[0], status_id=11, created_at=since)
    assert record.updated_at == record.created_at == since
    with BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
    ) as conn:
        assert [o.external_id for o in conn.iter_orders(since=since)] == [str(record.id)]


def test_an_order_given_a_past_creation_time_keeps_it() -> None:
    sim = BigCommerceSimulator(seed=5, customers=2, orders=0, products=2, quota=0)
    when = dt.datetime(2023, 5, 1, 12, tzinfo=dt.timezone.utc)
    record = sim.add_order(created_at=when)
    assert (record.created_at, record.updated_at) == (when, when)
