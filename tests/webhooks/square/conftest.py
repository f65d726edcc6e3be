"""Shared pieces of the Square webhook tests: the published spec, a recording transport.

The spec check reads Square's own OpenAPI document (``shared/official-specs/square/
api.json``), never our reading of it: every request the connector sends is checked for
a declared path, method, query parameters and body fields, and the simulator's answers
and notifications for declared fields. The checker is the one the platform tests use
(``tests/platforms/square/square_spec.py``), parsed once per test session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.testing.simulators.square import SquareSimulator

# The shared checker lives with the platform tests; one module for both suites.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "platforms" / "square"))
from square_spec import EXAMPLES, Recorder, SquareSpec, load_spec


@pytest.fixture(scope="session")
def example() -> Callable[[str], bytes]:
    """An official example notification's bytes, by name (``payment_created`` …)."""
    return lambda name: (EXAMPLES / f"webhook_{name}.json").read_bytes()


@pytest.fixture(scope="session")
def spec() -> SquareSpec:
    return load_spec()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> SquareSimulator:
    return SquareSimulator(seed=5, customers=12, payments=30, products=6, clock=clock)


@pytest.fixture
def recorder(sim: SquareSimulator) -> Recorder:
    return Recorder(sim.handle)


@pytest.fixture
def connect(
    sim: SquareSimulator, clock: FakeClock, recorder: Recorder
) -> Iterator[Callable[..., SquareConnector]]:
    made: list[SquareConnector] = []

    def make(location: int = 0, **kwargs: Any) -> SquareConnector:
        loc = sim.locations[location]
        conn = SquareConnector(
            access_token=kwargs.pop("access_token", sim.token),
            location_id=loc.id,
            merchant_id=kwargs.pop("merchant_id", loc.merchant_id),
            transport=recorder.transport,
            clock=clock,
            **kwargs,
        )
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()
