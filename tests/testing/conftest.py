"""Fixtures around the demo simulator in :mod:`.demo`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import Fault, RateLimiter, Simulator

from .demo import T0, DemoShop, MakeShop, seeded_store


@pytest.fixture
def clock() -> FakeClock:
    # Wall time after every seeded record, so updates made "now" sort last.
    return FakeClock(wall_start=T0 + dt.timedelta(days=30))


@pytest.fixture
def make_shop(clock: FakeClock) -> MakeShop:
    def make(
        *,
        faults: list[Fault] | None = None,
        rate_limit: RateLimiter | None = None,
        n: int = 5,
        seed: int = 0,
    ) -> DemoShop:
        return DemoShop(
            seeded_store(clock, n),
            clock=clock,
            faults=faults or [],
            rate_limit=rate_limit,
            seed=seed,
        )

    return make


@pytest.fixture
def shop(make_shop: MakeShop) -> DemoShop:
    return make_shop()


@pytest.fixture
def client(shop: DemoShop) -> Iterator[httpx.Client]:
    with httpx.Client(transport=shop.transport(), base_url="https://demo.test") as c:
        yield c


def client_for(sim: Simulator, **kwargs: Any) -> httpx.Client:
    return httpx.Client(transport=sim.transport(), base_url="https://demo.test", **kwargs)


@pytest.fixture
def connect() -> Callable[..., httpx.Client]:
    """An in-process client factory (tests close what they open with ``with``)."""
    return client_for
