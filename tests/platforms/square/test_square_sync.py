"""Connector-level syncs against the Square simulator (all in fake time, no network).

The sync engine is built elsewhere; here a "historical sync" is a full ``iter_*`` pass
over a large simulated seller compared with the simulator's ground truth, and an
"incremental sync" is a pass with ``since = last sync - recommended_overlap`` after
the simulator changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    PermissionDeniedError,
    UnsupportedStreamError,
)
from commerce_connectors.models import Money, Order, OrderStatus
from commerce_connectors.platforms.square import (
    SQUARE_VERSION,
    InvalidCursorError,
    SkippedRecord,
    SquareConnector,
    list_locations,
)
from commerce_connectors.protocols import Connector, Stream
from commerce_connectors.rules import Reason
from commerce_connectors.testing.simulator import Mutate, RateLimitBurst
from commerce_connectors.testing.simulators.square import ALL_SCOPES, SquareSimulator

HOUR = dt.timedelta(hours=1)


def connect(
    sim: SquareSimulator, clock: FakeClock, location: int = 0, **kw: Any
) -> SquareConnector:
    loc = sim.locations[location]
    return SquareConnector(
        access_token=kw.pop("access_token", sim.token),
        location_id=loc.id,
        transport=sim.transport(),
        clock=clock,
        **kw,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def small(clock: FakeClock) -> SquareSimulator:
    return SquareSimulator(seed=21, customers=80, payments=400, products=20, clock=clock)


# -- the historical sync of a large seller ----------------------------------------------------


@pytest.fixture(scope="module")
def big_run() -> dict[str, Any]:
    """Two locations, 5,200 payments, sporadic 429 bursts without Retry-After (Square's way)."""
    clock = FakeClock()
    sim = SquareSimulator(
        seed=5,
        customers=300,
        payments=5200,
        products=60,
        clock=clock,
        faults=[RateLimitBurst(length=2, retry_after=0.0, header=None, rate=0.03)],
    )
    results: dict[str, Any] = {"sim": sim, "clock": clock, "orders": {}, "stats": {}}
    for index, loc in enumerate(sim.locations):
        with connect(sim, clock, index) as conn:
            results["orders"][loc.id] = list(conn.iter_orders())
            results["stats"][loc.id] = conn.stats.snapshot()
            results.setdefault("connections", []).append(conn.connection_id)
    return results


def test_historical_sync_has_the_exact_records_per_location(big_run: dict[str, Any]) -> None:
    sim: SquareSimulator = big_run["sim"]
    assert len(sim.payments) >= 5000
    for loc in sim.locations:
        orders: list[Order] = big_run["orders"][loc.id]
        ids = [o.external_id for o in orders]
        assert len(ids) == len(set(ids))
        assert set(ids) == sim.order_ids(loc.id)
        # every payment of the location is reflected in exactly one order
        paid = [pid for o in orders for pid in o.extra["payment_ids"]]
        assert sorted(paid) == sorted(sim.payment_ids(loc.id))
        assert {o.extra["location_id"] for o in orders} == {loc.id}
        assert {o.connection_id for o in orders} == {f"square:{loc.id}"}
        assert {o.store_name for o in orders} == {loc.name}


def test_no_cross_location_leakage(big_run: dict[str, Any]) -> None:
    first, second = (
        {o.external_id for o in big_run["orders"][loc.id]} for loc in big_run["sim"].locations
    )
    assert first
    assert second
    assert not first & second
    assert len(set(big_run["connections"])) == 2


def test_historical_sync_includes_payments_older_than_a_year(big_run: dict[str, Any]) -> None:
    # ListPayments defaults begin_time to one year ago: the connector opens the range.
    year_ago = big_run["clock"].now() - dt.timedelta(days=365)
    old = [o for orders in big_run["orders"].values() for o in orders if o.created_at < year_ago]
    assert len(old) > 1000


def test_no_429_surfaces_and_requests_stay_few(big_run: dict[str, Any]) -> None:
    sim: SquareSimulator = big_run["sim"]
    total = {k: sum(s[k] for s in big_run["stats"].values()) for k in ("calls", "attempts")}
    rate_limited = sum(s["rate_limited"] for s in big_run["stats"].values())
    give_ups = sum(s["give_ups"] for s in big_run["stats"].values())
    assert rate_limited > 0  # the bursts happened…
    assert give_ups == 0  # …and were all absorbed by the backoff
    per_thousand = total["calls"] / len(sim.payments) * 1000
    # one ListPayments page and one BatchRetrieveOrders per 100 payments, plus a few
    assert per_thousand < 25
    assert sim.log.count_by_status().keys() <= {200, 429}


# -- incremental syncs ---------------------------------------------------------------------


def _historical(conn: SquareConnector) -> tuple[dt.datetime, dict[str, Order]]:
    started = conn.engine.clock.now()
    return started, {o.external_id: o for o in conn.iter_orders()}


def test_refund_on_an_old_payment_is_picked_up_by_the_next_incremental(
    small: SquareSimulator, clock: FakeClock
) -> None:
    loc = small.locations[0]
    with connect(small, clock) as conn:
        started, before = _historical(conn)
        clock.advance(1800)  # the next run, 30 minutes later
        old = min(
            (
                p
                for p in small.payments
                if p.data["location_id"] == loc.id
                and p.data["status"] == "COMPLETED"
                and "refunded_money" not in p.data
                and p.created_at < started - dt.timedelta(days=365)
            ),
            key=lambda p: p.created_at,
        )
        order_id = old.data["order_id"]
        assert before[order_id].status is OrderStatus.COMPLETED
        small.refund(old.data["id"])
        since = started - conn.recommended_overlap
        after = {o.external_id: o for o in conn.iter_orders(since=since)}
    assert after[order_id].status is OrderStatus.REFUNDED
    assert after[order_id].updated_at >= started
    assert after[order_id].created_at == before[order_id].created_at
    # A created_at window would have missed it: the payment is years older than `since`.
    assert old.created_at < since
    # and the incremental read only what changed in the window
    assert len(after) < len(before) / 5


def test_order_arriving_48h_late_is_caught_by_the_overlap(
    small: SquareSimulator, clock: FakeClock
) -> None:
    loc = small.locations[1]
    with connect(small, clock, 1) as conn:
        started, _ = _historical(conn)
        clock.advance(1800)
        late_payments = small.add_sale(loc.id, at=clock.now() - 48 * HOUR)
        late_order = small.get("payments", late_payments[0])
        assert late_order is not None
        order_id = late_order.data["order_id"]
        without_overlap = {o.external_id for o in conn.iter_orders(since=started)}
        with_overlap = {
            o.external_id: o for o in conn.iter_orders(since=started - conn.recommended_overlap)
        }
    assert order_id not in without_overlap  # its timestamps are 48 h old
    assert order_id in with_overlap
    assert with_overlap[order_id].created_at < started - 47 * HOUR
    assert conn.recommended_overlap >= 72 * HOUR


def test_late_sale_fault_during_a_run(small: SquareSimulator, clock: FakeClock) -> None:
    loc = small.locations[0]
    arrived: list[str] = []
    with connect(small, clock) as conn:
        started, _ = _historical(conn)
        clock.advance(1800)
        small.add_fault(small.late_sale_fault(loc.id, delay=48 * HOUR, sink=arrived))
        # This run starts after the sale was uploaded: caught thanks to the overlap.
        first = {o.external_id for o in conn.iter_orders(since=started - conn.recommended_overlap)}
    payment = small.get("payments", arrived[0])
    assert payment is not None
    assert payment.data["order_id"] in first


# -- customers -------------------------------------------------------------------------------


def test_customers_without_email_are_skipped_with_a_reason(clock: FakeClock) -> None:
    sim = SquareSimulator(
        seed=8, customers=200, payments=0, products=0, no_email_share=0.2, clock=clock
    )
    skipped: list[SkippedRecord] = []
    with connect(sim, clock, on_skip=skipped.append) as conn:
        got = {c.external_id for c in conn.iter_customers()}
    without = {r.data["id"] for r in sim.customers} - sim.customer_ids_with_email()
    assert len(without) > 20
    assert got == sim.customer_ids_with_email()
    assert {s.external_id for s in skipped} == without
    assert {s.reason for s in skipped} == {Reason.EMAIL_REQUIRED}
    assert all(s.payload is not None and s.stream is Stream.CUSTOMERS for s in skipped)
    assert conn.skipped[(Stream.CUSTOMERS, Reason.EMAIL_REQUIRED)] == len(without)


def test_require_email_can_be_left_to_the_rules(clock: FakeClock) -> None:
    sim = SquareSimulator(
        seed=8, customers=50, payments=0, products=0, no_email_share=0.3, clock=clock
    )
    with connect(sim, clock, require_email=False) as conn:
        assert len(list(conn.iter_customers())) == 50


def test_customers_incremental_filters_on_updated_at(
    small: SquareSimulator, clock: FakeClock
) -> None:
    with connect(small, clock) as conn:
        list(conn.iter_customers())
        clock.advance(600)
        victim = sorted(small.customer_ids_with_email())[3]
        small.update("customers", victim, {"given_name": "Renamed"})
        got = list(conn.iter_customers(since=clock.now() - dt.timedelta(minutes=1)))
    assert [(c.external_id, c.first_name) for c in got] == [(victim, "Renamed")]
    search = small.log.filter(route="/v2/customers/search")[-1]
    assert search.json["query"]["sort"] == {"field": "CREATED_AT", "order": "ASC"}
    assert "updated_at" in search.json["query"]["filter"]


# -- money ------------------------------------------------------------------------------------


def test_jpy_and_usd_amounts_are_exact(small: SquareSimulator, clock: FakeClock) -> None:
    currencies = set()
    for index, loc in enumerate(small.locations):
        with connect(small, clock, index) as conn:
            for order in conn.iter_orders():
                stored = small.get("orders", order.external_id)
                assert stored is not None
                units = stored.data["total_money"]["amount"]
                assert order.total == Money.from_minor_units(units, loc.currency)
                assert order.total.to_minor_units() == units
                assert (
                    sum((line.total for line in order.lines if line.total), Money(0, loc.currency))
                    == order.total
                )
                if loc.currency == "JPY":
                    assert order.total.amount == order.total.amount.to_integral_value()
                    assert order.total.amount.as_tuple().exponent == 0
                currencies.add(order.total.currency)
    assert currencies == {"USD", "JPY"}


def test_split_payment_order_is_one_order_with_both_payments(
    small: SquareSimulator, clock: FakeClock
) -> None:
    loc = small.locations[0]
    pids = small.add_sale(loc.id, at=clock.now() - HOUR, status="COMPLETED", split=True)
    with connect(small, clock) as conn:
        orders = list(conn.iter_orders(since=clock.now() - 2 * HOUR))
    (order,) = [o for o in orders if set(o.extra["payment_ids"]) == set(pids)]
    assert order.status is OrderStatus.COMPLETED
    assert sum((p.amount for p in order.extra["payments"]), Money(0, loc.currency)) == order.total


# -- errors and restarts -----------------------------------------------------------------------


def test_token_expiry_mid_sync_raises_authentication_error(
    small: SquareSimulator, clock: FakeClock
) -> None:
    small.add_fault(Mutate(hook=lambda request: small.expire_token(), route="/v2/payments", on=2))
    with connect(small, clock) as conn:
        orders: Iterator[Order] = conn.iter_orders()
        with pytest.raises(AuthenticationError) as exc:
            for _ in orders:
                pass
    assert exc.value.code == "ACCESS_TOKEN_EXPIRED"
    assert exc.value.status_code == 401
    for text in (str(exc.value), repr(exc.value), repr(conn)):
        assert small.token not in text


def test_wrong_token_is_an_authentication_error(small: SquareSimulator, clock: FakeClock) -> None:
    with (
        connect(small, clock, access_token="EAAA-wrong") as conn,
        pytest.raises(AuthenticationError) as exc,
    ):
        list(conn.iter_customers())
    assert exc.value.code == "UNAUTHORIZED"


def test_without_catalog_scope_orders_still_sync_unenriched(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sim = SquareSimulator(
        seed=2,
        customers=5,
        payments=10,
        products=2,
        clock=clock,
        scopes=ALL_SCOPES - {"ITEMS_READ"},
    )
    with connect(sim, clock, merchant_id=sim.merchant_id) as conn:
        orders = list(conn.iter_orders())
    assert {o.external_id for o in orders} == sim.order_ids(sim.locations[0].id)
    assert all(line.product_id is None for o in orders for line in o.lines)
    assert conn.catalog_unavailable is not None
    assert "ITEMS_READ" in caplog.text


def test_missing_catalog_scope_fails_products_loudly(clock: FakeClock) -> None:
    sim = SquareSimulator(
        seed=2, customers=5, payments=0, products=2, clock=clock, scopes=ALL_SCOPES - {"ITEMS_READ"}
    )
    with (
        connect(sim, clock, merchant_id=sim.merchant_id) as conn,
        pytest.raises(PermissionDeniedError) as exc,
    ):
        list(conn.iter_products())
    assert exc.value.code == "INSUFFICIENT_SCOPES"
    assert "ITEMS_READ" in str(exc.value)


@pytest.mark.parametrize("route", ["/v2/payments", "/v2/customers/search"])
def test_invalid_cursor_restarts_the_walk(clock: FakeClock, route: str) -> None:
    small = SquareSimulator(
        seed=4, customers=60, payments=120, products=0, clock=clock, max_page_size=10
    )
    small.add_fault(Mutate(hook=lambda request: small.invalidate_cursors(), route=route, on=2))
    with connect(small, clock) as conn:
        if route == "/v2/payments":
            got = {o.external_id for o in conn.iter_orders()}
            assert got == small.order_ids(small.locations[0].id)
        else:
            got = {c.external_id for c in conn.iter_customers()}
            assert got == small.customer_ids_with_email()
    assert small.log.count_by_status().get(400) == 1


def test_invalid_cursor_forever_gives_up(clock: FakeClock) -> None:
    small = SquareSimulator(
        seed=4, customers=0, payments=120, products=0, clock=clock, max_page_size=10
    )
    small.add_fault(Mutate(hook=lambda request: small.invalidate_cursors(), route="/v2/payments"))
    with connect(small, clock) as conn, pytest.raises(InvalidCursorError):
        list(conn.iter_orders())


# -- configuration, headers, locations -----------------------------------------------------------


def test_square_version_header_default_and_override(
    small: SquareSimulator, clock: FakeClock
) -> None:
    with connect(small, clock) as conn:
        list(conn.iter_products())
    with connect(small, clock, square_version="2024-10-17") as conn:
        list(conn.iter_products())
    assert set(small.versions_seen) == {SQUARE_VERSION, "2024-10-17"}


def test_carts_are_unsupported_with_a_reason(small: SquareSimulator, clock: FakeClock) -> None:
    with connect(small, clock) as conn:
        assert isinstance(conn, Connector)
        with pytest.raises(UnsupportedStreamError) as exc:
            conn.iter_abandoned_carts()
    assert "Square has no cart" in exc.value.reason


def test_locations_helper_and_offline_connection_id(
    small: SquareSimulator, clock: FakeClock
) -> None:
    locations = list_locations(small.token, transport=small.transport(), clock=clock)
    assert [loc.name for loc in locations] == sorted(loc.name for loc in small.locations)
    ids = set()
    for loc in locations:
        with SquareConnector(
            access_token=small.token, location_id=loc.id, transport=small.transport(), clock=clock
        ) as conn:
            before = len(small.log.entries)
            assert repr(conn) == f"SquareConnector(connection_id='square:{loc.id}')"
            ids.add(conn.connection_id)
            assert len(small.log.entries) == before  # the identity needs no request
            assert conn.location.currency == loc.currency
            assert [x.id for x in conn.list_locations()] == [x.id for x in locations]
    assert ids == {f"square:{loc.id}" for loc in locations}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"location_id": ""},
        {"access_token": " "},
        {"environment": "staging"},
        {"square_version": ""},
        {"square_version": "2025-8-20"},
        {"square_version": "latest"},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"access_token": "t", "location_id": "L1", **kwargs}
    with pytest.raises(ConfigurationError):
        SquareConnector(**args)


def test_sandbox_environment_base_url() -> None:
    with SquareConnector(access_token="t", location_id="L1", environment="sandbox") as conn:
        assert conn.engine.base_url == "https://connect.squareupsandbox.com"


def test_order_lines_get_the_items_category_and_image(
    small: SquareSimulator, clock: FakeClock
) -> None:
    # BatchRetrieveCatalogObjects on a variation returns its parent ITEM but not the
    # item's CATEGORY / IMAGE (one level deep): the connector must fetch those too.
    with connect(small, clock) as conn:
        lines = [line for o in conn.iter_orders() for line in o.lines if line.product_id]
    assert lines
    for line in lines:
        item = small.get("catalog", line.product_id or "")
        assert item is not None
        category = small.get("catalog", item.data["item_data"]["categories"][0]["id"])
        assert category is not None
        assert line.category == category.data["category_data"]["name"]
        images = item.data["item_data"].get("image_ids") or []
        expected = f"https://items-images.test/{images[0]}.jpeg" if images else None
        assert line.image_url == expected
    assert any(line.image_url for line in lines)
