"""Served simulated stores of the four platforms, with what each must end up as in a sink.

Each store runs in the test process on 127.0.0.1 (``Simulator.serve``); fleet workers
reach it through ``base_url``, with its token in an environment variable named in the
spec. The expected record ids come from the simulator's own records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from commerce_connectors.clock import SystemClock
from commerce_connectors.fleet import ConnectionSpec, TokenRef
from commerce_connectors.rules import normalize_email
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
    #: Kinds whose synced ids must equal these (computed from the simulator's records
    #: and the library's documented rules).
    expected: Callable[[], dict[str, set[str]]] | None = None

    @property
    def connection_id(self) -> str:
        return {
            "shopify": lambda: f"shopify:{self.simulator.shop}",
            "bigcommerce": lambda: f"bigcommerce:{self.simulator.store_hash}",
            "square": lambda: f"square:{self.simulator.locations[0].id}",
            "tiendanube": lambda: f"tiendanube:{self.simulator.store_id}",
        }[self.platform]()


def _valid_email(email: Any) -> bool:
    return isinstance(email, str) and normalize_email(email).ok


def _ids(records: Any) -> set[str]:
    return {str(r.id) for r in records}


def _with_valid_email(records: Any, field: str) -> set[str]:
    return {str(r.data.get("id", r.id)) for r in records if _valid_email(r.data.get(field))}


def expected_ids(platform: str, sim: Any) -> dict[str, set[str]]:
    """The ids a full sync of ``sim`` writes, by kind: the simulator's records through
    the library's documented default rules (a customer needs a valid email; a guest's
    order, one without a customer account, is not synced where the platform marks it).
    """
    if platform == "shopify":
        return {
            "product": _ids(sim.stores["products"].query()),
            "order": _ids(sim.stores["orders"].query()),
            "cart": _ids(sim.stores["checkouts"].query()),
            "customer": _with_valid_email(sim.stores["customers"].query(), "email"),
        }
    if platform == "bigcommerce":
        return {
            "product": _ids(sim.products.query()),
            # Guest orders (customer_id 0) and incomplete ones (status 0) are not synced.
            "order": {
                str(r.id) for r in sim.orders if r.data["customer_id"] and r.data["status_id"]
            },
            "customer": _with_valid_email(sim.customers.query(), "email"),
        }
    if platform == "square":
        location = sim.locations[0].id
        return {
            "product": sim.item_ids(location),
            # Orders are read through the location's payments; a guest's is not synced.
            "order": {
                i for i in sim.order_ids(location) if sim.get("orders", i).data.get("customer_id")
            },
            "customer": _with_valid_email(sim.customers.query(), "email_address"),
        }
    return {
        "product": _ids(sim.stores["products"].query()),
        "order": _ids(sim.stores["orders"].query()),
        "cart": _ids(sim.stores["checkouts"].query()),
        "customer": _with_valid_email(sim.stores["customers"].query(), "email"),
    }


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
        store.expected = lambda: expected_ids("shopify", sim)
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
        store.expected = lambda: expected_ids("bigcommerce", sim)
        return store
    if platform == "square":
        sim = SquareSimulator(
            seed=seed, locations=1, customers=6, payments=10, products=4,
            token=token(platform, number),
        )  # fmt: skip
        store = Store(platform, number, sim, env, sim.token)
        store.expected = lambda: expected_ids("square", sim)
        return store
    sim = TiendanubeSimulator(
        seed=seed, customers=6, orders=10, products=4, checkouts=0,
        store_id=2_000_000 + number, token=token(platform, number), clock=SystemClock(),
    )  # fmt: skip
    for days in (2, 3):  # abandoned days ago: visible at once
        sim.create_checkout(created_at=sim.now() - dt.timedelta(days=days), delay=dt.timedelta(0))
    store = Store(platform, number, sim, env, sim.token)
    store.expected = lambda: expected_ids("tiendanube", sim)
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


#: The sink's tables holding a connection's records, and the state's checkpoints.
_TABLES = ("products", "customers", "orders", "carts", "checkpoints")


def _written(db: str, connection_id: str) -> dict[str, int]:
    """Rows of ``connection_id`` in each table of the SQLite file ``db`` (absent: 0)."""
    out = dict.fromkeys(_TABLES, 0)
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in _TABLES:
            if table in tables:
                query = f"SELECT count(*) FROM {table} WHERE connection_id = ?"  # noqa: S608
                out[table] = conn.execute(query, (connection_id,)).fetchone()[0]
    return out


@attrs.frozen
class ExitAfterCheckpoint:
    """A token provider that, while ``flag`` exists, ends its worker process mid-sync.

    The first call removes the flag and starts a watcher in that worker: once the
    connection's first checkpoint is in the SQLite file ``db`` (a batch written and
    acknowledged, the rest not yet), it writes what the file held then to
    ``<flag>.seen`` (JSON) and the process id to ``<flag>.pid``, and ends the process
    (``os._exit``: no cleanup, as a crash or an OOM kill). Later calls give the token.
    """

    flag: str
    env: str
    db: str
    connection_id: str

    def __call__(self) -> str:
        try:
            os.remove(self.flag)
        except FileNotFoundError:
            pass
        else:
            Path(self.flag + ".pid").write_text(str(os.getpid()))
            threading.Thread(target=self._watch, daemon=True).start()
        return os.environ[self.env]

    def _watch(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.Error):
                seen = _written(self.db, self.connection_id)
                if seen["checkpoints"]:
                    Path(self.flag + ".seen").write_text(json.dumps(seen))
                    os._exit(70)
            time.sleep(0.005)
        os._exit(71)  # no checkpoint in two minutes: the test fails on the missing file


def killing(store: Store, flag: Path, db: Path) -> ConnectionSpec:
    """``store``'s spec with a token provider that kills its worker once, after the
    connection's first checkpoint is in the SQLite file ``db``."""
    assert store.spec is not None
    flag.write_text("kill once")
    provider = ExitAfterCheckpoint(str(flag), store.token_env, str(db), store.connection_id)
    return attrs.evolve(store.spec, token=TokenRef(provider=provider))


@attrs.frozen
class DieOnce:
    """A token provider whose first call ends its worker process at once (as a crash).

    While ``flag`` exists, the call removes it and exits the process (``os._exit``);
    later calls give no token, so the connection fails fast without reaching anything.
    """

    flag: str

    def __call__(self) -> str:
        try:
            os.remove(self.flag)
        except FileNotFoundError:
            return ""
        os._exit(70)
