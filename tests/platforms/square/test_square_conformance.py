"""The Square connector passes the library's connector conformance suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from commerce_connectors.testing.conformance import CONNECTOR_CHECKS, ConnectorHarness
from commerce_connectors.testing.simulators.square import SquareHarness


@pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
def test_square_conformance(check: Callable[[ConnectorHarness], None]) -> None:
    check(SquareHarness())


@pytest.mark.parametrize("location_index", [0, 1])
def test_square_conformance_other_location_unknown_merchant(location_index: int) -> None:
    """The JPY location too, with the merchant id read from the location."""
    harness = SquareHarness(seed=29, location_index=location_index, merchant_id_known=False)
    for check in CONNECTOR_CHECKS[:2]:
        check(harness)
