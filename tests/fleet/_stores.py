"""Served simulated stores of the four platforms, with what each must end up as in a sink.

Each store runs in the test process on 127.0.0.1 (``Simulator.serve``); fleet workers
reach it through ``base_url``, with its token in an environment variable named in the
spec. The expected record ids come from the simulator's own records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from commerce_connectors.clock import SystemClock
from commerce_connectors.fleet import ConnectionSpec, TokenRef
from commerce_connectors.testing.simulator import GraphQLCostBucket
from commerce_connectors.testing.simulators.bigcommerce import BigCommerceSimulator
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.testing.simulators.square import SquareSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

PLATFORMS = ("shopify", "bigcommerce", "square", "tiendanube")
USER_AGENT = "Fleet tests (dev@example.com)"


@attrs.define
class Store:
    """One served store: its spec, its simulator, its token variable and token."""

    platform: str
    number: int
    simulator: Any
    token_env: str
    token: str
    spec: ConnectionSpec | None = None
    #: Kinds whose synced ids must equal these.
    expected: Callable[[], dict[str, set[str]]] | None = None
    #: Kinds whose synced ids must be among these (and not empty).
    at_most: Callable[[], dict[str, set[str]]] | None = None

    @property
    def connection_id(self) -> str:
        return {
            "shopify": lambda: f"shopify:{self.simulator.shop}",
            "bigcommerce": lambda: f"bigcommerce:{self.simulator.store_hash}",
            "square": lambda: f"square:{self.simulator.locations[0].id}",
            "tiendanube": lambda: f"tiendanube:{self.simulator.store_id}",
        }[self.platform]()


def _ids(records: Any) -> set[str]:
    return {str(r.id) for r in records}


def token_env(platform: str, number: int) -> str:
    """The environment variable the workers read store ``number``'s token from."""
    return f"CC_FLEET_TEST_{platform.upper()}_{number}"


def token(platform: str, number: int) -> str:
    """Store ``number``'s token (each store accepts its own only)."""
    return {
        "shopify": f"shpat_fleet_{number}_secret",
        "bigcommerce": f"bc-fleet-{number}-secret",
        "square": f"EAAAl-fleet-{number}-secret",
        "tiendanube": f"tn-fleet-{number}-secret",
    }[platform]


def make_store(platform: str, number: int) -> Store:
    """A small store; ``number`` gives it its own identity, records and token."""
    env = token_env(platform, number)
    seed = 1000 + number
    if platform == "shopify":
        sim: Any = ShopifySimulator(
            seed=seed, customers=6, orders=10, products=4, checkouts=2,
            shop=f"fleet-test-{number}.myshopify.com", token=token(platform, number),
            cost=GraphQLCostBucket(100_000, 5_000), bulk_start_delay=0.0,
            bulk_export_rate=100_000.0,
        )  # fmt: skip
        store = Store(platform, number, sim, env, sim.token)
        store.expected = lambda: {
            "product": _ids(sim.stores["products"].query()),
            "order": _ids(sim.stores["orders"].query()),
            "cart": _ids(sim.stores["checkouts"].query()),
        }
        return store
    if platform == "bigcommerce":
        sim = BigCommerceSimulator(
            seed=seed, customers=6, orders=10, products=4, carts=0,
            store_hash=f"fleettest{number}", access_token=token(platform, number),
        )  # fmt: skip
        store = Store(platform, number, sim, env, sim.access_token)
        store.expected = lambda: {
            "product": _ids(sim.products.query()),
            # Guest orders are not synced from BigCommerce; registered ones all are.
            "order": {
                str(r.id) for r in sim.orders if r.data["customer_id"] and r.data["status_id"]
            },
        }
        # Customers go through the rules (an address the email rule refuses is not synced).
        store.at_most = lambda: {"customer": _ids(sim.customers.query())}
        return store
    if platform == "square":
        sim = SquareSimulator(
            seed=seed, locations=1, customers=6, payments=10, products=4,
            token=token(platform, number),
        )  # fmt: skip
        location = sim.locations[0].id
        store = Store(platform, number, sim, env, sim.token)
        store.expected = lambda: {"product": sim.item_ids(location)}
        # Orders come with their payments, customers with an email (and the rules'
        # consent): a subset of each is synced.
        store.at_most = lambda: {
            "order": sim.order_ids(location),
            "customer": sim.customer_ids_with_email(),
        }
        return store
    sim = TiendanubeSimulator(
        seed=seed, customers=6, orders=10, products=4, checkouts=0,
        store_id=2_000_000 + number, token=token(platform, number), clock=SystemClock(),
    )  # fmt: skip
    for days in (2, 3):  # abandoned days ago: visible at once
        sim.create_checkout(created_at=sim.now() - dt.timedelta(days=days), delay=dt.timedelta(0))
    store = Store(platform, number, sim, env, sim.token)
    store.expected = lambda: {
        "product": _ids(sim.stores["products"].query()),
        "order": _ids(sim.stores["orders"].query()),
        "cart": _ids(sim.stores["checkouts"].query()),
    }
    return store


def options_for(store: Store, base_url: str) -> dict[str, Any]:
    """The connection options pointing the platform's connector at the served store."""
    sim = store.simulator
    return {
        "shopify": lambda: {"shop": sim.shop, "base_url": base_url},
        "bigcommerce": lambda: {
            "store_hash": sim.store_hash,
            "base_url": f"{base_url}/stores/{sim.store_hash}",
        },
        "square": lambda: {"location_id": sim.locations[0].id, "base_url": base_url},
        "tiendanube": lambda: {
            "store_id": str(sim.store_id),
            "user_agent": USER_AGENT,
            "base_url": base_url,
        },
    }[store.platform]()


@contextlib.contextmanager
def served(stores: list[Store]) -> Iterator[list[Store]]:
    """Serve every store on 127.0.0.1 and give each its spec (token from its variable)."""
    with contextlib.ExitStack() as stack:
        for store in stores:
            url = stack.enter_context(store.simulator.serve())
            store.spec = ConnectionSpec(
                store.platform,
                options_for(store, url),
                token=store.token_env,
                name=f"{store.platform}-{store.number}",
            )
        yield stores


@attrs.frozen
class ExitMidRun:
    """A token provider that, while ``flag`` exists, ends its worker process mid-sync.

    The first call removes the flag and arms a timer that kills the process
    ``after`` seconds later (``os._exit``: no cleanup, as a crash or an OOM kill),
    writing that process's id to ``<flag>.pid``; later calls just give the token.
    """

    flag: str
    env: str
    after: float

    def __call__(self) -> str:
        try:
            os.remove(self.flag)
        except FileNotFoundError:
            pass
        else:
            Path(self.flag + ".pid").write_text(str(os.getpid()))
            timer = threading.Timer(self.after, os._exit, args=(70,))
            timer.daemon = True
            timer.start()
        return os.environ[self.env]


def killing(store: Store, flag: Path, after: float) -> ConnectionSpec:
    """``store``'s spec with a token provider that kills its worker once, mid-sync."""
    assert store.spec is not None
    flag.write_text("kill once")
    return attrs.evolve(
        store.spec, token=TokenRef(provider=ExitMidRun(str(flag), store.token_env, after))
    )
