"""The connector conformance suite against the BigCommerce simulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from commerce_connectors.testing.conformance import CONNECTOR_CHECKS, ConnectorHarness
from commerce_connectors.testing.simulators.bigcommerce import BigCommerceHarness


@pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
def test_bigcommerce_passes(check: Callable[[ConnectorHarness], None]) -> None:
    check(BigCommerceHarness())


@pytest.mark.parametrize("check", CONNECTOR_CHECKS[:2], ids=lambda c: c.__name__)
def test_bigcommerce_passes_without_threads(check: Callable[[ConnectorHarness], None]) -> None:
    check(BigCommerceHarness(concurrency=1))
