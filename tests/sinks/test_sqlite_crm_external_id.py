"""The SQLite sink shows the external id the CRM receives (``crm_external_id``).

Every record table has the column: the record's own id under the default field maps,
the map's choice when the sink is given maps that change it. A file made before the
column existed gains it on open, filled with the ids its rows were sent with.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import Money, Order, Product
from commerce_connectors.protocols import SinkBatch, SinkItem
from commerce_connectors.rules import RecordKey
from commerce_connectors.sinks import SQLiteSink

T = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
CONN = "shopify:acme"


def _product(n: int) -> SinkItem:
    product = Product("shopify", CONN, str(n), T, T, name=f"P{n}", sku=f"SKU-{n}")
    return SinkItem(RecordKey(CONN, "product", str(n)), product, {"name": f"P{n}"})


def _order(n: int) -> SinkItem:
    order = Order(
        "shopify", CONN, str(n), T, T, status="paid", raw_status="paid",
        total=Money("10.00", "EUR"), order_number=f"#{1000 + n}",
    )  # fmt: skip
    return SinkItem(RecordKey(CONN, "order", str(n)), order, {"orderNumber": f"#{1000 + n}"})


def _ids(sink: SQLiteSink, table: str) -> list[tuple[str, str | None]]:
    return sink.connection.execute(
        f"SELECT external_id, crm_external_id FROM {table} ORDER BY external_id"  # noqa: S608
    ).fetchall()


def test_default_maps_send_the_records_own_id(tmp_path: Path) -> None:
    with SQLiteSink(tmp_path / "s.db") as sink:
        sink.write(SinkBatch([_product(1), _order(7)], connection_id=CONN))
        assert _ids(sink, "products") == [("1", "1")]
        assert _ids(sink, "orders") == [("7", "7")]


def test_a_map_that_changes_the_external_id_is_what_the_column_shows(tmp_path: Path) -> None:
    maps = {
        **DEFAULT_MAPS,
        "product": DEFAULT_MAPS["product"].with_external_id("sku"),
        "order": DEFAULT_MAPS["order"].with_external_id("order_number"),
    }
    with SQLiteSink(tmp_path / "s.db", maps=maps) as sink:
        sink.write(SinkBatch([_product(1), _product(2), _order(7)], connection_id=CONN))
        assert _ids(sink, "products") == [("1", "SKU-1"), ("2", "SKU-2")]
        assert _ids(sink, "orders") == [("7", "#1007")]


def test_an_older_file_gains_the_column_filled_with_the_ids_it_sent(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with SQLiteSink(path) as sink:
        sink.write(SinkBatch([_product(1), _order(7)], connection_id=CONN))
    with sqlite3.connect(path) as db:  # as a version without the column left it
        for table in ("customers", "orders", "products", "carts"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN crm_external_id")
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(products)")}
        assert "crm_external_id" not in columns
    with SQLiteSink(path) as sink:
        assert _ids(sink, "products") == [("1", "1")]
        assert _ids(sink, "orders") == [("7", "7")]
        sink.write(SinkBatch([_product(2)], connection_id=CONN))
        assert _ids(sink, "products") == [("1", "1"), ("2", "2")]
        columns = {row[1] for row in sink.connection.execute("PRAGMA table_info(carts)")}
        assert "crm_external_id" in columns
    with SQLiteSink(path) as sink:  # opening again changes nothing
        assert _ids(sink, "products") == [("1", "1"), ("2", "2")]
