"""Stores simulated inside a fleet's workers, for trials and benchmarks.

A :class:`SimulatedStore` is a small picklable description (platform, store number,
sizes). The worker that syncs it builds the platform's simulator and a connector
wired to it in-process, on a fake clock: the platform's rate limits are enforced
and honoured, but waiting costs no real time, so a benchmark measures the fleet
and the sync engine, not API pacing. The same description always builds the same
store (same records, same ids), so the process that launched the fleet can build
it again to compare what was synced with what the store holds.

Each store number gives the store its own identity (Shopify domain, BigCommerce
store hash, Square location, Tiendanube store id), so a fleet of simulated stores
never mixes connections up.

Needs the ``simulators`` extra for Shopify (graphql-core).

Example:
    >>> store = SimulatedStore("tiendanube", 7, customers=5, orders=8, products=3, carts=2)
    >>> shop = store.build()
    >>> shop.connector.connection_id
    'tiendanube:1000007'
    >>> shop.close()
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

import attrs

from ..clock import Clock, FakeClock
from ..errors import ConfigurationError
from ..protocols import Connector

__all__ = ["SimulatedShop", "SimulatedStore"]

#: Where the simulated stores' history ends, and their clocks start.
DATA_END = _dt.datetime(2024, 10, 1, tzinfo=_dt.timezone.utc)
_USER_AGENT = "commerce-connectors fleet simulation (fleet@example.com)"


@attrs.define
class SimulatedShop:
    """A built simulated store: its connector, the clock both run on, and the simulator.

    Attributes:
        connector: the platform's connector, wired in-process to the simulator.
        clock: the fake clock the simulator and connector share; run the sync engine on it.
        simulator: the platform simulator holding the store's records.
    """

    connector: Connector
    clock: Clock
    simulator: Any

    def close(self) -> None:
        """Release the connector."""
        self.connector.close()


@attrs.frozen
class SimulatedStore:
    """A store simulated inside the worker that syncs it.

    Attributes:
        platform: ``shopify``, ``bigcommerce``, ``square`` or ``tiendanube``.
        number: the store's number; it makes the store's identity and its generated records.
        customers, orders, products, carts: how many records to generate (Square:
            ``orders`` are payments with their orders; Square has no carts).
    """

    platform: str
    number: int
    customers: int = 20
    orders: int = 40
    products: int = 10
    carts: int = 4

    def __attrs_post_init__(self) -> None:
        if self.platform not in _BUILDERS:
            raise ConfigurationError(
                f"no simulated {self.platform!r} store; available: {', '.join(sorted(_BUILDERS))}"
            )
        if self.number < 0:
            raise ConfigurationError("a simulated store's number must not be negative")

    @property
    def label(self) -> str:
        """The store's name in reports, e.g. ``simulated-shopify-3``."""
        return f"simulated-{self.platform}-{self.number}"

    def build(self) -> SimulatedShop:
        """Build the store: its simulator and a connector wired to it, on a fresh fake clock."""
        return _BUILDERS[self.platform](self)


def _shopify(store: SimulatedStore) -> SimulatedShop:
    from ..platforms.shopify import ShopifyConnector
    from ..testing.simulators.shopify import ShopifySimulator

    clock = FakeClock(wall_start=DATA_END)
    sim = ShopifySimulator(
        seed=store.number,
        customers=store.customers,
        orders=store.orders,
        products=store.products,
        checkouts=store.carts,
        shop=f"fleet-{store.number}.myshopify.com",
        clock=clock,
    )
    connector = ShopifyConnector(
        shop=sim.shop, access_token=sim.token, transport=sim.transport(), clock=clock
    )
    return SimulatedShop(connector, clock, sim)


def _bigcommerce(store: SimulatedStore) -> SimulatedShop:
    from ..platforms.bigcommerce import BigCommerceConnector
    from ..testing.simulators.bigcommerce import BigCommerceSimulator, ConcurrentFakeClock

    clock = ConcurrentFakeClock(wall_start=DATA_END)
    sim = BigCommerceSimulator(
        seed=store.number,
        store_hash=f"fleet{store.number}",
        customers=store.customers,
        orders=store.orders,
        products=store.products,
        carts=store.carts,
        clock=clock,
    )
    connector = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        concurrency=1,  # no latency in-process for several workers to overlap
    )
    return SimulatedShop(connector, clock, sim)


def _square(store: SimulatedStore) -> SimulatedShop:
    from ..platforms.square import SquareConnector
    from ..testing.simulators.square import SquareSimulator

    clock = FakeClock(wall_start=DATA_END)
    sim = SquareSimulator(
        seed=store.number,
        locations=1,
        customers=store.customers,
        payments=store.orders,
        products=store.products,
        clock=clock,
        now=DATA_END,
    )
    here = sim.locations[0]
    connector = SquareConnector(
        access_token=sim.token,
        location_id=here.id,
        merchant_id=here.merchant_id,
        transport=sim.transport(),
        clock=clock,
    )
    return SimulatedShop(connector, clock, sim)


def _tiendanube(store: SimulatedStore) -> SimulatedShop:
    from ..platforms.tiendanube import TiendanubeConnector
    from ..testing.simulators.tiendanube import TiendanubeSimulator

    clock = FakeClock(wall_start=DATA_END)
    sim = TiendanubeSimulator(
        seed=store.number,
        customers=store.customers,
        orders=store.orders,
        products=store.products,
        checkouts=store.carts,
        store_id=1_000_000 + store.number,
        clock=clock,
    )
    connector = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent=_USER_AGENT,
        base_url=sim.base_url,
        transport=sim.transport(),
        clock=clock,
    )
    return SimulatedShop(connector, clock, sim)


_BUILDERS: dict[str, Callable[[SimulatedStore], SimulatedShop]] = {
    "shopify": _shopify,
    "bigcommerce": _bigcommerce,
    "square": _square,
    "tiendanube": _tiendanube,
}
