"""A historical sync of a large simulated store, at the connector level.

5,000 orders and 1,000 abandoned checkouts (plus customers and products) behind the
real bucket (40 requests leaking 2/s) on a FakeClock: exact record sets, zero 429
reaching the caller, and the budget figures from the request log and HttpStats.
Records change while the connector pages, as they would in a live store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from commerce_connectors.protocols import Stream
from commerce_connectors.testing.simulator import Mutate
from commerce_connectors.testing.simulators.tiendanube import TiendanubeHarness

LEAK_RATE = 2.0
CAPACITY = 40


@pytest.fixture(scope="module")
def big() -> dict[str, Any]:
    harness = TiendanubeHarness(
        seed=2024, customers=1_500, orders=5_000, products=300, checkouts=1_000,
        # Scaled: 25 records a page instead of 200, so the run spans hundreds of requests
        # and measures the steady 2/s pacing rather than the first burst of 40.
        page_size=25,
    )  # fmt: skip
    sim = harness.simulator
    touched: list[int] = []

    def edit_orders(request: Any) -> None:
        # A merchant works on the oldest orders while the sync pages through them.
        for record in sim.visible("orders")[10:13]:
            sim.update("orders", record.id, {"shipping_status": "shipped"})
            touched.append(record.id)

    sim.add_fault(Mutate(hook=edit_orders, route="/{version}/{store_id}/{collection}", on=(8, 20)))
    started = harness.clock.monotonic()
    got: dict[Stream, list[Any]] = {}
    with harness.make_connector() as conn:
        got[Stream.CUSTOMERS] = list(conn.iter_customers())
        got[Stream.PRODUCTS] = list(conn.iter_products())
        got[Stream.ORDERS] = list(conn.iter_orders())
        got[Stream.ABANDONED_CARTS] = list(conn.iter_abandoned_carts())
    elapsed = harness.clock.monotonic() - started
    return {"harness": harness, "conn": conn, "got": got, "elapsed": elapsed, "touched": touched}


def test_exact_record_sets(big: dict[str, Any]) -> None:
    harness, got = big["harness"], big["got"]
    assert len(harness.expected_ids(Stream.ORDERS)) == 5_000
    assert len(harness.expected_ids(Stream.ABANDONED_CARTS)) == 1_000
    for stream, records in got.items():
        assert {r.external_id for r in records} == harness.expected_ids(stream), stream


def test_records_updated_while_paging_arrive_in_their_newest_version(big: dict[str, Any]) -> None:
    touched = {str(i) for i in big["touched"]}
    assert touched
    newest = {o.external_id: o for o in big["got"][Stream.ORDERS]}
    assert {newest[i].raw_fulfillment_status for i in touched} == {"shipped"}


def test_zero_429_surfaced_and_the_budget_used(big: dict[str, Any]) -> None:
    harness, conn, elapsed = big["harness"], big["conn"], big["elapsed"]
    log = harness.simulator.log
    assert 429 not in log.count_by_status()
    assert conn.stats.rate_limited == 0
    assert conn.stats.give_ups == 0
    requests = len(log.entries)
    # The bucket's ideal: a burst of 40, then 2 per second.
    ideal = max(0.0, (requests - CAPACITY) / LEAK_RATE)
    assert elapsed <= ideal * 1.1 + 1.0
    assert log.max_in_window(1.0) <= CAPACITY


def test_figures(big: dict[str, Any], record_property: Any) -> None:
    """Not an assertion on time: figures for the report (fake time, deterministic)."""
    harness, got, elapsed = big["harness"], big["got"], big["elapsed"]
    requests = len(harness.simulator.log.entries)
    records = sum(len(v) for v in got.values())
    steady = (requests - CAPACITY) / elapsed if elapsed else float("inf")
    figures = {
        "requests": requests,
        "fake_seconds": round(elapsed, 1),
        "records": records,
        "records_per_second": round(records / elapsed, 1) if elapsed else None,
        "budget_fraction_after_burst": round(steady / LEAK_RATE, 3),
    }
    for name, value in figures.items():
        record_property(name, value)
    assert figures["budget_fraction_after_burst"] > 0.9
    assert dt.timedelta(seconds=elapsed) < dt.timedelta(minutes=5)
