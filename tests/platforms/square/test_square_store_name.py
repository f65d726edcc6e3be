"""Square orders' store name: the location's ``name``, its ``business_name`` when it has none.

Square's Location (api.json): ``name`` "appears in the Seller Dashboard as the
nickname" and "must be unique within a seller account"; ``business_name`` is "the name
of the location's overall business", shared by every location. One connection is one
location, so the location's own name comes first. Square has no carts.
"""

from __future__ import annotations

import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.testing.simulators.square import SquareSimulator

BUSINESS = "Jet Fuel Coffee"  # the simulator's business_name


@pytest.mark.parametrize(("location_name", "expected"), [("Grant Park", "Grant Park"),
                                                         ("", BUSINESS)])  # fmt: skip
def test_orders_carry_the_location_name_else_the_business_name(
    location_name: str, expected: str
) -> None:
    clock = FakeClock()
    sim = SquareSimulator(seed=4, customers=5, payments=8, products=3, clock=clock,
                          locations=[(location_name, "USD", "US")])  # fmt: skip
    location = sim.locations[0]
    with SquareConnector(access_token=sim.token, location_id=location.id,
                         transport=sim.transport(), clock=clock) as conn:  # fmt: skip
        orders = list(conn.iter_orders())
    assert orders
    assert {o.store_name for o in orders} == {expected}
    locations = [e for e in sim.log.entries if e.path == f"/v2/locations/{location.id}"]
    assert len(locations) == 1  # read once, not per order
