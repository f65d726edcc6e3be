"""The dlt source: simulated shops loaded into DuckDB, compared with the shops' own records."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

dlt = pytest.importorskip("dlt")
duckdb = pytest.importorskip("duckdb")

from commerce_connectors.errors import ConfigurationError, InvalidRecordError  # noqa: E402
from commerce_connectors.fleet import SimulatedStore  # noqa: E402
from commerce_connectors.integrations.dlt import (  # noqa: E402
    MONEY_PRECISION,
    MONEY_SCALE,
    commerce_source,
)
from commerce_connectors.models import Money  # noqa: E402


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    # dlt reports anonymous usage over the network unless told not to; tests never do.
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


def _pipeline(tmp_path: Path, name: str = "shops") -> Any:
    return dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(tmp_path / "shops.duckdb")),
        dataset_name="commerce",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def _rows(tmp_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "shops.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_a_shop_loaded_twice_holds_each_record_once_with_its_lines(tmp_path: Path) -> None:
    shop = SimulatedStore("tiendanube", 3, customers=8, orders=15, products=5, carts=0).build()
    orders = list(shop.connector.iter_orders())
    pipeline = _pipeline(tmp_path)
    for _ in range(2):
        pipeline.run(commerce_source(shop.connector))
    loaded = _rows(tmp_path, "SELECT connection_id, external_id FROM commerce.orders")
    assert sorted(loaded) == sorted((o.connection_id, o.external_id) for o in orders)
    assert len(loaded) == len(set(loaded)) == 15
    lines = _rows(tmp_path, "SELECT count(*) FROM commerce.orders__lines")[0][0]
    assert lines == sum(len(o.lines) for o in orders) > 0
    products = _rows(tmp_path, "SELECT external_id FROM commerce.products")
    assert sorted(p for (p,) in products) == sorted(
        p.external_id for p in shop.connector.iter_products()
    )


def test_an_update_in_the_shop_arrives_on_the_incremental_load(tmp_path: Path) -> None:
    shop = SimulatedStore("tiendanube", 4, customers=6, orders=10, products=4, carts=0).build()
    sim = shop.simulator
    pipeline = _pipeline(tmp_path)
    pipeline.run(commerce_source(shop.connector))
    target = next(r for r in sim.stores["orders"].query() if r.data["payment_status"] == "paid")
    shop.clock.advance(3600)
    sim.update("orders", target.id, {"payment_status": "refunded"})
    requests_before = len(sim.log)
    pipeline.run(commerce_source(shop.connector))
    status = dict(_rows(tmp_path, "SELECT external_id, status FROM commerce.orders"))
    assert status[str(target.id)] == "refunded"
    assert _rows(tmp_path, "SELECT count(*) FROM commerce.orders")[0][0] == 10
    # The second load asked only for what changed since the first one.
    later = [e for e in list(sim.log)[requests_before:] if e.path.endswith("/orders")]
    assert later
    assert all("updated_at_min" in dict(e.query) for e in later)


def _statuses(tmp_path: Path) -> dict[str, str]:
    return dict(_rows(tmp_path, "SELECT external_id, status FROM commerce.orders"))


def test_a_record_updated_in_the_same_second_as_the_cursor_is_loaded(tmp_path: Path) -> None:
    # Platform timestamps have one-second resolution: the newest record may change again
    # within the second the previous load ended on, keeping its updated_at.
    shop = SimulatedStore("tiendanube", 4, customers=6, orders=10, products=4, carts=0).build()
    orders = shop.simulator.stores["orders"]
    pipeline = _pipeline(tmp_path)
    pipeline.run(commerce_source(shop.connector, streams=["orders"]))
    newest = max(orders.query(), key=lambda r: r.updated_at)
    assert _statuses(tmp_path)[str(newest.id)] != "refunded"
    orders.update(newest.id, {"payment_status": "refunded"}, updated_at=newest.updated_at)
    pipeline.run(commerce_source(shop.connector, streams=["orders"]))
    assert _statuses(tmp_path)[str(newest.id)] == "refunded"
    assert _rows(tmp_path, "SELECT count(*) FROM commerce.orders")[0][0] == 10


def test_a_record_visible_late_inside_the_overlap_is_loaded(tmp_path: Path) -> None:
    # A write that committed during the previous load with an earlier updated_at than
    # the newest record seen: the overlap re-read (five minutes here) must load it.
    shop = SimulatedStore("tiendanube", 4, customers=6, orders=10, products=4, carts=0).build()
    orders = shop.simulator.stores["orders"]
    pipeline = _pipeline(tmp_path)
    pipeline.run(
        commerce_source(shop.connector, streams=["orders"], overlap=dt.timedelta(minutes=5))
    )
    newest = max(r.updated_at for r in orders.query())
    late = next(r for r in orders.query() if r.updated_at < newest - dt.timedelta(minutes=5))
    orders.update(
        late.id, {"payment_status": "refunded"}, updated_at=newest - dt.timedelta(minutes=2)
    )
    outside = next(
        r for r in orders.query()
        if r.id != late.id and r.updated_at < newest - dt.timedelta(minutes=5)
    )  # fmt: skip
    orders.update(
        outside.id, {"payment_status": "voided"}, updated_at=newest - dt.timedelta(minutes=9)
    )
    shop.clock.advance(60)
    pipeline.run(
        commerce_source(shop.connector, streams=["orders"], overlap=dt.timedelta(minutes=5))
    )
    statuses = _statuses(tmp_path)
    assert statuses[str(late.id)] == "refunded"
    # Before the overlap: not asked for again (the overlap is a window, not a reload).
    assert statuses[str(outside.id)] != "voided"
    assert len(statuses) == 10


def _with_one_order(shop: Any, order: Any) -> None:
    shop.connector.iter_orders = lambda since=None: iter([order])


def _order(shop: Any, **changes: Any) -> Any:
    import attrs

    order = next(iter(shop.connector.iter_orders()))
    return attrs.evolve(order, **changes)


@pytest.mark.parametrize(
    ("field", "path"),
    [("quantity", "$.lines[0].quantity"), ("unit_price", "$.lines[0].unit_price.amount")],
)
def test_a_number_the_columns_cannot_hold_exactly_refuses_its_record(
    tmp_path: Path, field: str, path: str
) -> None:
    import attrs

    shop = SimulatedStore("tiendanube", 4, customers=2, orders=3, products=2, carts=0).build()
    good = list(shop.connector.iter_orders())
    victim = good[0]
    line = victim.lines[0]
    fine = Decimal("1.1234567891")  # ten decimals: loaded exactly
    too_fine = Decimal("1.123456789012345")  # fifteen: would be rounded
    value: Any = too_fine if field == "quantity" else Money(too_fine, line.unit_price.currency)
    bad = attrs.evolve(victim, lines=(attrs.evolve(line, **{field: value}), *victim.lines[1:]))
    exact = attrs.evolve(
        good[1], lines=(attrs.evolve(good[1].lines[0], quantity=fine), *good[1].lines[1:])
    )
    orders = [bad, exact, *good[2:]]
    shop.connector.iter_orders = lambda since=None: iter(orders)
    with pytest.raises(Exception, match="more than 10 decimals") as failed:
        _pipeline(tmp_path, "strict").run(commerce_source(shop.connector, streams=["orders"]))
    assert any(isinstance(e, InvalidRecordError) for e in _chain(failed.value))
    refused: list[InvalidRecordError] = []
    _pipeline(tmp_path, "lenient").run(
        commerce_source(shop.connector, streams=["orders"], on_invalid=refused.append)
    )
    assert [(e.kind, e.record_id) for e in refused] == [("order", victim.external_id)]
    assert [p.path for p in refused[0].problems] == [path]
    assert refused[0].payload is victim.raw is not None  # the raw payload is kept
    loaded = _rows(tmp_path, "SELECT external_id FROM commerce.orders")
    assert sorted(i for (i,) in loaded) == sorted(o.external_id for o in orders[1:])
    quantities = _rows(
        tmp_path,
        "SELECT l.quantity FROM commerce.orders__lines l JOIN commerce.orders o"
        " ON l._dlt_parent_id = o._dlt_id WHERE o.external_id = ? ORDER BY l._dlt_list_idx",
        exact.external_id,
    )
    assert Decimal(quantities[0][0]) == fine  # not rounded


def test_a_large_amount_with_few_decimals_is_loaded_exactly(tmp_path: Path) -> None:
    import attrs

    shop = SimulatedStore("tiendanube", 4, customers=2, orders=1, products=2, carts=0).build()
    big = Decimal("9" * 28 + ".5")  # 28 digits before the point, the most a column holds
    order = attrs.evolve(next(iter(shop.connector.iter_orders())))
    order = attrs.evolve(order, total=Money(big, order.total.currency))
    shop.connector.iter_orders = lambda since=None: iter([order])
    _pipeline(tmp_path).run(commerce_source(shop.connector, streams=["orders"]))
    assert _rows(tmp_path, "SELECT total__amount FROM commerce.orders") == [(big,)]


def _chain(error: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    while error is not None:  # dlt wraps the library's error in its own
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


@pytest.mark.parametrize("platform", ["shopify", "bigcommerce", "square", "tiendanube"])
def test_money_is_loaded_as_the_canonical_decimal_exactly(tmp_path: Path, platform: str) -> None:
    shop = SimulatedStore(platform, 5, customers=5, orders=8, products=4, carts=2).build()
    orders = {o.external_id: o for o in shop.connector.iter_orders()}
    pipeline = _pipeline(tmp_path)
    pipeline.run(commerce_source(shop.connector))
    columns = dict(
        _rows(tmp_path, "SELECT column_name, data_type FROM duckdb_columns() "
                        "WHERE table_name = 'orders'")
    )  # fmt: skip
    assert columns["total__amount"] == f"DECIMAL({MONEY_PRECISION},{MONEY_SCALE})"
    assert "DOUBLE" not in {t for c, t in columns.items() if c.endswith("__amount")}
    loaded = _rows(
        tmp_path, "SELECT external_id, total__amount, total__currency FROM commerce.orders"
    )
    assert len(loaded) == len(orders) > 0
    for external_id, amount, currency in loaded:
        assert isinstance(amount, Decimal)
        assert Money(amount, currency) == orders[external_id].total
    lines = _rows(
        tmp_path,
        "SELECT o.external_id, l.unit_price__amount, l.unit_price__currency, l.quantity"
        " FROM commerce.orders__lines l JOIN commerce.orders o ON l._dlt_parent_id = o._dlt_id",
    )
    expected = sorted(
        (o.external_id, line.unit_price.amount, line.unit_price.currency, Decimal(line.quantity))
        for o in orders.values()
        for line in o.lines
    )
    assert sorted(lines) == expected


def test_two_shops_share_the_tables_and_keep_their_cursors_apart(tmp_path: Path) -> None:
    shops = [
        SimulatedStore("tiendanube", n, customers=4, orders=6, products=3, carts=0).build()
        for n in (6, 7)
    ]
    pipeline = _pipeline(tmp_path)
    for shop in shops:
        pipeline.run(commerce_source(shop.connector))
    counts = _rows(
        tmp_path, "SELECT connection_id, count(*) FROM commerce.orders GROUP BY 1 ORDER BY 1"
    )
    assert counts == [("tiendanube:1000006", 6), ("tiendanube:1000007", 6)]


def test_an_unreadable_record_stops_the_load_or_goes_to_on_invalid(tmp_path: Path) -> None:
    shop = SimulatedStore("tiendanube", 8, customers=4, orders=6, products=3, carts=0).build()
    victim = shop.simulator.stores["orders"].query()[2]
    shop.simulator.stores["orders"].update(
        victim.id, {"total": "12,34"}, updated_at=victim.updated_at
    )
    with pytest.raises(Exception, match="invalid tiendanube order") as failed:
        _pipeline(tmp_path, "strict").run(commerce_source(shop.connector))
    chain: list[BaseException] = []
    error: BaseException | None = failed.value
    while error is not None:  # dlt wraps the library's error in its own
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, InvalidRecordError) for e in chain)
    refused: list[InvalidRecordError] = []
    _pipeline(tmp_path, "lenient").run(commerce_source(shop.connector, on_invalid=refused.append))
    assert [(e.kind, e.record_id) for e in refused] == [("order", str(victim.id))]
    assert refused[0].payload["total"] == "12,34"  # the raw payload is kept
    ids = {i for (i,) in _rows(tmp_path, "SELECT external_id FROM commerce.orders")}
    assert len(ids) == 5
    assert str(victim.id) not in ids


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    import datetime as dt

    shop = SimulatedStore("square", 1, customers=3, orders=3, products=2).build()
    with pytest.raises(ConfigurationError, match="abandoned_carts"):
        commerce_source(shop.connector, streams=["abandoned_carts"])
    with pytest.raises(ConfigurationError, match="timezone"):
        commerce_source(shop.connector, initial_since=dt.datetime(2024, 1, 1))


def test_the_core_never_imports_dlt() -> None:
    code = (
        "import sys, commerce_connectors, commerce_connectors.fleet, commerce_connectors.sinks, "
        "commerce_connectors.integrations; "
        "assert 'dlt' not in sys.modules, 'dlt imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - our own code
