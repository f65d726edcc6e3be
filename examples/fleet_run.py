"""Sync a small fleet of shops on worker processes, twice, from a fleet file.

Runs offline: one simulated store per platform (Shopify, BigCommerce, Square,
Tiendanube) is served on 127.0.0.1, a fleet file points at them (the same format
as ``examples/fleet.toml``), their tokens go in environment variables the worker
processes inherit, and two rounds run on two worker processes into one SQLite file.
The first round is a historical sync, the second an incremental one that finds
the orders placed in between.

With ``--dask`` the rounds run on a Dask LocalCluster instead (``pip install
'commerce-connectors[dask]'``); on a real cluster you would pass the scheduler's
address (``run_rounds(fleet, scheduler="tcp://scheduler:8786")``).

    python examples/fleet_run.py [--dask]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from commerce_connectors.clock import SystemClock
from commerce_connectors.fleet import FleetReport, load_fleet_file, run_rounds
from commerce_connectors.sinks import open_sink
from commerce_connectors.testing.simulator import GraphQLCostBucket
from commerce_connectors.testing.simulators.bigcommerce import BigCommerceSimulator
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.testing.simulators.square import SquareSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator


def simulated_stores() -> dict[str, Any]:
    """One small store per platform, each with its own token."""
    return {
        "shopify": ShopifySimulator(
            seed=1, customers=20, orders=40, products=8, checkouts=4,
            shop="maison-lea.myshopify.com", cost=GraphQLCostBucket(100_000, 5_000),
            bulk_start_delay=0.0,
        ),
        "bigcommerce": BigCommerceSimulator(seed=2, customers=20, orders=40, products=8, carts=0),
        "square": SquareSimulator(seed=3, locations=1, customers=20, payments=40, products=8),
        "tiendanube": TiendanubeSimulator(
            seed=4, customers=20, orders=40, products=8, checkouts=0, clock=SystemClock()
        ),
    }  # fmt: skip


def fleet_file(sims: dict[str, Any], urls: dict[str, str], db: Path, path: Path) -> None:
    """Write the fleet file: where each store is, which variable holds its token."""
    shop, bc, sq, tn = sims["shopify"], sims["bigcommerce"], sims["square"], sims["tiendanube"]
    bc_url = f"{urls['bigcommerce']}/stores/{bc.store_hash}"  # replaces the API's store root
    path.write_text(
        f"""
sink = "sqlite:///{db}"

[defaults.tiendanube]
user_agent = "Fleet example (dev@example.com)"

[[connection]]
name = "maison-lea"
platform = "shopify"
token_env = "EXAMPLE_SHOPIFY_TOKEN"
options = {{ shop = "{shop.shop}", base_url = "{urls["shopify"]}" }}

[[connection]]
name = "outdoor-gear"
platform = "bigcommerce"
token_env = "EXAMPLE_BIGCOMMERCE_TOKEN"
options = {{ store_hash = "{bc.store_hash}", base_url = "{bc_url}" }}

[[connection]]
name = "cafe"
platform = "square"
token_env = "EXAMPLE_SQUARE_TOKEN"
options = {{ location_id = "{sq.locations[0].id}", base_url = "{urls["square"]}" }}

[[connection]]
name = "mi-tienda"
platform = "tiendanube"
token_env = "EXAMPLE_TIENDANUBE_TOKEN"
options = {{ store_id = "{tn.store_id}", base_url = "{urls["tiendanube"]}" }}
""",
        encoding="utf-8",
    )


def new_orders(sims: dict[str, Any]) -> None:
    """Shop activity between the two rounds: a few new orders in each store."""
    shopify = sims["shopify"]
    for record in shopify.stores["orders"].query()[:3]:
        order = shopify.rest("orders", record)
        del order["id"]
        order.update(name=f"#{9000 + record.id % 1000}", created_at=None, updated_at=None)
        shopify.add_order(order)
    now = dt.datetime.now(dt.timezone.utc)
    for _ in range(3):
        bigcommerce = sims["bigcommerce"]
        bigcommerce.add_order(buyer=bigcommerce.customers.query()[0], created_at=now)
        sims["square"].add_sale(sims["square"].locations[0].id)
        sims["tiendanube"].convert_checkout(
            sims["tiendanube"].create_checkout(delay=dt.timedelta(0)).id
        )


def main(use_dask: bool = False) -> None:
    sims = simulated_stores()
    os.environ["EXAMPLE_SHOPIFY_TOKEN"] = sims["shopify"].token
    os.environ["EXAMPLE_BIGCOMMERCE_TOKEN"] = sims["bigcommerce"].access_token
    os.environ["EXAMPLE_SQUARE_TOKEN"] = sims["square"].token
    os.environ["EXAMPLE_TIENDANUBE_TOKEN"] = sims["tiendanube"].token
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(sim.serve()) for name, sim in sims.items()}
        db, path = Path(tmp) / "fleet.db", Path(tmp) / "fleet.toml"
        fleet_file(sims, urls, db, path)
        fleet = load_fleet_file(path)

        def show(report: FleetReport) -> None:
            print(f"round {len(shown) + 1}:")
            for r in report:
                print(
                    f"  {r.name:<13} {r.platform:<12} {r.status.value:<6} {r.mode:<12}"
                    f" read {r.counts.get('read', 0):>4}  new {r.counts.get('new', 0):>4}"
                    f"  {r.duration:5.2f}s on {r.worker}"
                )
            print("  " + report.summary().splitlines()[-1])
            shown.append(report)
            if len(shown) == 1:
                new_orders(sims)

        shown: list[FleetReport] = []
        if use_dask:
            from distributed import Client, LocalCluster

            with (
                LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
                Client(cluster) as client,
            ):
                for _ in range(2):  # here the cluster's own client; elsewhere its address
                    report = run_rounds(fleet, scheduler=client.scheduler.address)[0]
                    show(report)
        else:
            run_rounds(fleet, processes=2, every=dt.timedelta(seconds=1), rounds=2, on_report=show)
        sink = open_sink(fleet.sink)
        print("in the database:", sink.counts())  # type: ignore[attr-defined]
        sink.close()


if __name__ == "__main__":
    main(use_dask="--dask" in sys.argv[1:])
