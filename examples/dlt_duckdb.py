"""Load a (simulated) shop into DuckDB with dlt, then load again what changed.

Runs offline: a simulated Tiendanube store on a fake clock is read by its
connector, and ``commerce_source`` loads customers, orders (with their lines as a
child table), products and abandoned checkouts into a DuckDB file. An order is
then refunded in the shop and a second load, incremental on ``updated_at``, brings
only that change. Money columns are exact decimals beside their currency.

Needs ``pip install 'commerce-connectors[dlt]' duckdb``. For a real store, build the
connector with its store id and token instead, and pick any dlt destination.

    python examples/dlt_duckdb.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dlt
import duckdb

from commerce_connectors.fleet import SimulatedStore
from commerce_connectors.integrations.dlt import commerce_source


def main() -> None:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no usage reports
    shop = SimulatedStore("tiendanube", 1, customers=30, orders=60, products=12, carts=0).build()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "shops.duckdb"
        pipeline = dlt.pipeline(
            "shops",
            destination=dlt.destinations.duckdb(str(database)),
            dataset_name="commerce",
            pipelines_dir=str(Path(tmp) / "pipelines"),
        )
        pipeline.run(commerce_source(shop.connector))

        order = shop.simulator.stores["orders"].query()[0]
        shop.clock.advance(3600)  # an hour later, the order is refunded
        shop.simulator.update("orders", order.id, {"payment_status": "refunded"})
        info = pipeline.run(commerce_source(shop.connector))
        print(f"second load: {len(info.loads_ids)} load package(s)")

        with duckdb.connect(str(database), read_only=True) as con:
            counts = con.sql(
                "SELECT table_name, estimated_size FROM duckdb_tables()"
                " WHERE schema_name = 'commerce' AND table_name NOT LIKE '_dlt%' ORDER BY 1"
            ).fetchall()
            for table, count in counts:
                print(f"{table:<24} {count:>5} rows")
            totals = con.sql(
                "SELECT total__currency, sum(total__amount) FROM commerce.orders GROUP BY 1"
            ).fetchall()
            print("order totals (exact decimals):", totals)
            refunded = con.execute(
                "SELECT external_id, status, total__amount, total__currency"
                " FROM commerce.orders WHERE external_id = ?",
                [str(order.id)],
            ).fetchall()
            print("the refunded order:", refunded)
    shop.close()


if __name__ == "__main__":
    main()
