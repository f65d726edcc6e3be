"""``commerce-connectors simulate PLATFORM``: a seeded simulated store over HTTP on 127.0.0.1.

It prints the base URL, the token variable to set, and a ``sync`` command to paste
into another terminal; it serves until Ctrl-C. By default the store's rate limits
are lifted (a sync runs as fast as the machine allows); ``--real-pacing`` keeps the
platform's documented limits, so a sync waits as it would on the real API.

Example:
    >>> sorted(SIMULATED)
    ['bigcommerce', 'shopify', 'square', 'tiendanube', 'toyshop']
"""

from __future__ import annotations

import shlex
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import attrs
import click

from ..clock import SystemClock
from ..errors import ConfigurationError
from .common import Masked, Runtime, masked_choice
from .registry import PLATFORMS

__all__ = ["SIMULATED", "SimulatedStore", "simulate"]


@attrs.frozen
class SimulatedStore:
    """A served simulator, and the ``sync`` options that reach it.

    Attributes:
        serve: the simulator's ``serve(host, port)`` context manager (yields its root URL).
        token: the token the simulator accepts.
        options: ``(root URL) -> sync options`` (``--shop X --base-url URL`` …).
        pacing: what the real pacing is, for the banner.
    """

    serve: Callable[[str, int], AbstractContextManager[str]]
    token: str
    options: Callable[[str], list[str]]
    pacing: str


def _toyshop(seed: int, real: bool) -> SimulatedStore:
    from ..testing.example_shop import ToyShopSimulator
    from ..testing.simulator import TiendanubeRateLimit

    sim = ToyShopSimulator(
        seed=seed,
        customers=120,
        orders=600,
        products=40,
        clock=SystemClock(),
        rate_limit=TiendanubeRateLimit() if real else TiendanubeRateLimit(4000, 2000),
        realistic=True,
    )
    return SimulatedStore(
        sim.serve,
        sim.token,
        lambda url: ["--base-url", f"{url}/api/v1"],
        "a 40-request bucket leaking 2 / s",
    )


def _shopify(seed: int, real: bool) -> SimulatedStore:
    try:
        from ..testing.simulators.shopify import ShopifySimulator
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the Shopify simulator needs graphql-core ({exc}): "
            "pip install 'commerce-connectors[simulators]'"
        ) from None
    from ..testing.simulator import GraphQLCostBucket

    fast: dict[str, Any] = {
        "cost": GraphQLCostBucket(1_000_000, 1_000_000),
        "bulk_export_rate": 1_000_000.0,
        "bulk_start_delay": 0.0,
    }
    sim = ShopifySimulator(
        seed=seed,
        customers=150,
        orders=500,
        products=40,
        checkouts=30,
        clock=SystemClock(),
        **({} if real else fast),
    )
    return SimulatedStore(
        sim.serve,
        sim.token,
        lambda url: ["--shop", sim.shop, "--base-url", url],
        "a 1,000-point query-cost bucket restoring 100 / s, bulk exports at 500 objects / s",
    )


def _bigcommerce(seed: int, real: bool) -> SimulatedStore:
    from ..testing.simulators.bigcommerce import BigCommerceSimulator

    sim = BigCommerceSimulator(
        seed=seed,
        customers=120,
        orders=300,
        products=40,
        clock=SystemClock(),
        quota=150 if real else 1_000_000,
    )
    return SimulatedStore(
        sim.serve,
        sim.access_token,
        lambda url: [
            "--store-hash",
            sim.store_hash,
            "--base-url",
            f"{url}/stores/{sim.store_hash}",
        ],
        "150 requests per 30 s window",
    )


def _square(seed: int, real: bool) -> SimulatedStore:
    from ..testing.simulator import LeakyBucketRateLimit
    from ..testing.simulators.square import SquareSimulator

    sim = SquareSimulator(
        seed=seed,
        customers=120,
        payments=400,
        products=40,
        clock=SystemClock(),
        rate_limit=None if real else LeakyBucketRateLimit(capacity=100_000, leak_rate=100_000),
    )
    location = sim.locations[0].id
    return SimulatedStore(
        sim.serve,
        sim.token,
        lambda url: ["--location-id", location, "--base-url", url],
        "a 20-request bucket leaking 10 / s",
    )


def _tiendanube(seed: int, real: bool) -> SimulatedStore:
    from ..testing.simulator import TiendanubeRateLimit
    from ..testing.simulators.tiendanube import TiendanubeSimulator

    sim = TiendanubeSimulator(
        seed=seed,
        customers=120,
        orders=400,
        products=40,
        checkouts=30,
        clock=SystemClock(),
        rate_limit=TiendanubeRateLimit() if real else TiendanubeRateLimit(4000, 2000),
    )
    return SimulatedStore(
        sim.serve,
        sim.token,
        lambda url: [
            "--store-id",
            str(sim.store_id),
            "--user-agent",
            "Simulated (dev@example.com)",
            "--base-url",
            url,
        ],
        "a 40-request bucket leaking 2 / s",
    )


#: The platforms ``simulate`` serves, by name.
SIMULATED: dict[str, Callable[[int, bool], SimulatedStore]] = {
    "toyshop": _toyshop,
    "shopify": _shopify,
    "bigcommerce": _bigcommerce,
    "square": _square,
    "tiendanube": _tiendanube,
}


@click.command("simulate")
@click.argument("platform", type=masked_choice(sorted(SIMULATED)), metavar="PLATFORM")
@click.option(
    "--port",
    type=Masked(click.IntRange(0, 65535), "a port number, 0 to 65535"),
    default=0,
    help="port (default: a free one)",
)
@click.option(
    "--seed",
    type=Masked(int, "a whole number"),
    default=2024,
    show_default=True,
    help="seed of the store's data",
)
@click.option(
    "--real-pacing",
    is_flag=True,
    help="keep the platform's real rate limits (a sync then waits as on the real API)",
)
@click.option(
    "--sink",
    default=None,
    metavar="URL",
    help="the --sink of the printed sync command (default sqlite:///simulated-PLATFORM.db)",
)
@click.pass_obj
def simulate(
    runtime: Runtime, platform: str, port: int, seed: int, real_pacing: bool, sink: str | None
) -> int:
    """Serve a simulated PLATFORM store on 127.0.0.1 until Ctrl-C, and print how to sync it.

    PLATFORM is one of: toyshop, shopify, bigcommerce, square, tiendanube.
    """
    store = SIMULATED[platform](seed, real_pacing)
    spec = PLATFORMS[platform]
    target = sink or f"sqlite:///simulated-{platform}.db"
    stop: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.append(signum))
    out = runtime.out
    try:
        with store.serve("127.0.0.1", port) as url:
            command = shlex.join(
                ["commerce-connectors", "sync", platform, *store.options(url), "--sink", target]
            )
            pacing = (
                f"real: {store.pacing} (without --real-pacing the limits are lifted)"
                if real_pacing
                else "fast: rate limits lifted (--real-pacing keeps the platform's:"
                f" {store.pacing})"
            )
            out.write(
                f"simulated {platform} store (seed {seed}) serving at {url}\n"
                f"  pacing: {pacing}\n"
                "in another terminal:\n"
                f"  export {spec.token_env}={shlex.quote(store.token)}\n"
                f"  {command}\n"
                "Ctrl-C stops the simulator.\n"
            )
            out.flush()
            while not stop:
                time.sleep(0.1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    runtime.err.write(f"simulated {platform} store stopped\n")
    return 0
