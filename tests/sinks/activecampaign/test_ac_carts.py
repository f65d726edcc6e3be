"""An abandoned cart that becomes an order: one ActiveCampaign record, recovered, with the
order's source and placement date, whichever side is synced first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _acfakes import REALTIME, at, cart, one, order, pair, requests_to, write

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.protocols import WriteAction
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink
from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator

INSERTED, UPDATED, UNCHANGED = WriteAction.INSERTED, WriteAction.UPDATED, WriteAction.UNCHANGED
DAY = dt.timedelta(days=1)


def restarted(sim: ActiveCampaignSimulator, **options: Any) -> ActiveCampaignSink:
    """A new process on the same account: nothing cached."""
    return ActiveCampaignSink(
        api_url=sim.api_url,
        api_token=sim.token,
        transport=sim.transport(),
        clock=sim.clock,
        **options,
    )


def conversion_puts(sim: ActiveCampaignSimulator) -> list[dict[str, Any]]:
    """The bodies of the PUTs that carried an order's placement date."""
    puts = sim.log.filter(method="PUT", route="/api/3/ecomOrders/{id}")
    return [e.json["ecomOrder"] for e in puts if "externalCreatedDate" in e.json["ecomOrder"]]


def recovered(cid: str, *, order_id: str | None = None, hours: float = 8) -> Any:
    return cart(
        cid, hours=hours, status="recovered", completed_at=at(hours), order_external_id=order_id
    )


# -- defect 1: a recovered cart that names no order is not frozen -------------------------


def test_a_recovered_cart_naming_no_order_is_taken_over_by_the_order_naming_it() -> None:
    sim, sink = pair()
    one(sink, cart("chk-1"))
    # The platform reports the checkout completed, without saying by which order.
    assert one(sink, recovered("chk-1")).action is UNCHANGED
    assert sim.orders()[0]["state"] == 2  # still an open cart, for its order to take over
    outcome = one(sink, order("1001", created=8, hours=9, extra={"checkout_token": "chk-1"}))
    assert outcome.action is INSERTED
    (stored,) = sim.orders()  # one record, never two
    assert (stored["externalid"], stored["externalcheckoutid"], stored["state"]) == (
        "1001",
        "chk-1",
        3,  # recovered
    )
    # The cart listed again leaves the order alone.
    assert one(sink, recovered("chk-1")).action is UNCHANGED
    assert one(sink, recovered("chk-1", order_id="1001")).action is UNCHANGED
    assert len(sim.orders()) == 1
    assert sink.notices == ()


@pytest.mark.parametrize("key", ["checkout_id", "checkout_token", "cart_id"])
def test_every_link_key_of_an_order_finds_its_cart_after_a_restart(key: str) -> None:
    sim, first = pair()
    one(first, cart("chk-1"))
    one(first, recovered("chk-1"))
    again = restarted(sim)
    assert one(again, order("1001", created=8, hours=9, extra={key: "chk-1"})).action is INSERTED
    assert [(o["externalid"], o["state"]) for o in sim.orders()] == [("1001", 3)]


def test_link_ids_are_read_defensively() -> None:
    sim, sink = pair()
    one(sink, cart("chk-1"))
    junk = {"checkout_id": None, "checkout_token": "", "cart_id": ["x"]}
    assert one(sink, order("1001", created=8, hours=9, extra=junk)).action is INSERTED
    # Nothing linked them: a record of its own; the cart stays abandoned.
    assert sorted(o["state"] for o in sim.orders()) == [1, 2]


# -- defect 2: orders are synced before carts ------------------------------------------------


def test_orders_synced_before_their_carts_leave_the_cart_recovered() -> None:
    sim, sink = pair()
    one(sink, cart("chk-1"))  # an earlier run wrote the abandoned cart
    # The next run reads orders first (STREAM_ORDER), then carts.
    write(sink, order("1001", created=8, hours=9, extra={"cart_id": "chk-1"}, trigger=REALTIME))
    assert one(sink, recovered("chk-1", order_id="1001")).action is UNCHANGED
    (stored,) = sim.orders()
    assert (stored["externalid"], stored["state"], stored["source"]) == ("1001", 3, "1")
    assert requests_to(sim, "DELETE", "ecomOrders/{id}") == 0
    assert sink.notices == ()


def test_by_default_an_order_naming_no_checkout_is_a_record_of_its_own() -> None:
    """The email heuristic is off by default: an email is not a link."""
    sim, sink = pair()
    one(sink, cart("chk-1"))
    assert one(sink, order("1001", created=8, hours=9)).action is INSERTED
    assert sorted(o["state"] for o in sim.orders()) == [1, 2]
    # When the cart later names its order, the two become one: the order's record stays.
    assert one(sink, recovered("chk-1", order_id="1001")).action is UPDATED
    assert [(o["externalid"], o["state"]) for o in sim.orders()] == [("1001", 1)]
    assert [n.code for n in sink.notices] == ["duplicate_cart_removed"]


def test_an_order_takes_over_the_one_open_cart_of_its_email_when_asked() -> None:
    sim, sink = pair(match_carts_by_email=7 * DAY)
    one(sink, cart("chk-1"))
    outcome = one(sink, order("1001", created=8, hours=9, trigger=REALTIME))
    assert outcome.action is INSERTED
    (stored,) = sim.orders()
    assert (stored["externalid"], stored["externalcheckoutid"], stored["state"]) == (
        "1001",
        "chk-1",
        3,
    )
    assert stored["source"] == "1"
    # The cart then names the order: nothing more to do, nothing deleted.
    assert one(sink, recovered("chk-1", order_id="1001")).action is UNCHANGED
    assert len(sim.orders()) == 1
    assert sink.notices == ()


def test_the_email_match_also_works_after_a_restart() -> None:
    sim, first = pair()
    one(first, cart("chk-1"))
    again = restarted(sim, match_carts_by_email=7 * DAY)
    assert one(again, order("1001", created=8, hours=9)).action is INSERTED
    assert [(o["externalid"], o["state"]) for o in sim.orders()] == [("1001", 3)]


@pytest.mark.parametrize(
    ("carts", "placed", "why"),
    [
        ((("chk-1", 0), ("chk-2", 1)), 8, "two open carts: ambiguous"),
        ((("chk-1", 10),), 8, "abandoned after the order was placed"),
        ((("chk-1", 0),), 24 * 8, "abandoned more than the window before"),
        ((("chk-1", 0),), 8, "another email"),
    ],
)
def test_the_email_match_is_strict(carts: Any, placed: float, why: str) -> None:
    sim, sink = pair(match_carts_by_email=7 * DAY)
    for cid, hours in carts:
        one(sink, cart(cid, hours=hours))
    email = "bo@example.com" if why == "another email" else "ana@example.com"
    one(sink, order("1001", created=placed, hours=placed, email=email))
    assert len(sim.orders()) == len(carts) + 1, why
    assert all(o["state"] == 2 for o in sim.orders() if o.get("externalcheckoutid")), why


def test_an_order_naming_a_checkout_never_falls_back_to_the_email_match() -> None:
    sim, sink = pair(match_carts_by_email=7 * DAY)
    one(sink, cart("chk-1"))
    # It came from checkout chk-9, never written as abandoned: chk-1 is another cart.
    one(sink, order("1001", created=8, hours=9, extra={"checkout_id": "chk-9"}))
    assert sorted(o["state"] for o in sim.orders()) == [1, 2]


def test_the_email_match_window_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="match_carts_by_email"):
        pair(match_carts_by_email=dt.timedelta(0))


# -- defect 3: the conversion carries the order's source and placement date -------------------


def test_the_conversion_put_carries_the_orders_source_and_placement_date() -> None:
    sim, sink = pair()
    one(sink, cart("chk-1"))  # historical: source 0, created at(0)
    one(sink, order("1001", created=8, hours=9, extra={"checkout_id": "chk-1"}, trigger=REALTIME))
    (stored,) = sim.orders()
    # Real time: "makes a purchase" fires for the order; its date is the order's.
    assert stored["source"] == "1"
    assert stored["externalCreatedDate"] == "2024-03-01T15:00:00-05:00"  # at(8), account zone
    (put,) = conversion_puts(sim)
    customer_id = sim.records("ecomCustomers")[0]["id"]
    assert (put["source"], put["customerid"], put["externalid"]) == (1, customer_id, "1001")
    assert "connectionid" not in put


def test_a_conversion_linked_by_the_cart_is_completed_after_a_restart() -> None:
    sim, first = pair()
    one(first, cart("chk-1"))
    # The cart names its order before the order is written: only externalid is set.
    assert one(first, recovered("chk-1", order_id="1001")).action is UPDATED
    assert sim.orders()[0]["externalCreatedDate"] == "2024-03-01T07:00:00-05:00"  # the cart's
    again = restarted(sim)
    assert one(again, order("1001", created=8, hours=9, trigger=REALTIME)).action is INSERTED
    (stored,) = sim.orders()
    assert (stored["source"], stored["state"]) == ("1", 3)
    assert stored["externalCreatedDate"] == "2024-03-01T15:00:00-05:00"
    assert stored["totalPrice"] == 2500  # the order's, not the cart's 4000
    # Complete now: a later run of either sink writes nothing more.
    before = len(sim.log)
    assert one(restarted(sim), order("1001", created=8, hours=9)).action is UNCHANGED
    assert not [e for e in sim.log.entries[before:] if e.method in ("PUT", "POST", "DELETE")]


def test_a_later_update_never_changes_the_source() -> None:
    sim, sink = pair()
    one(sink, cart("chk-1"))
    one(sink, order("1001", created=8, hours=9, extra={"checkout_id": "chk-1"}, trigger=REALTIME))
    # Refunded days later, synced as historical: the automation source stays real time.
    refund = order("1001", created=8, hours=80, total="20.00", extra={"checkout_id": "chk-1"})
    assert one(sink, refund).action is UPDATED
    (stored,) = sim.orders()
    assert (stored["source"], stored["totalPrice"]) == ("1", 2000)
    last = sim.log.filter(method="PUT", route="/api/3/ecomOrders/{id}")[-1].json["ecomOrder"]
    assert "source" not in last
