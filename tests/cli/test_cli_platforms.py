"""The four platforms on the command line: options, tokens, and syncs against served simulators."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode, main
from commerce_connectors.cli import demo as demo_module
from commerce_connectors.cli.registry import DemoSource, platform_spec
from commerce_connectors.clock import SystemClock
from commerce_connectors.testing.simulator import GraphQLCostBucket
from commerce_connectors.testing.simulators.bigcommerce import BigCommerceSimulator
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.testing.simulators.square import SquareSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

# Each platform: its token variable, and the required options of a minimal command line.
PLATFORMS = {
    "shopify": ("SHOPIFY_ACCESS_TOKEN", ["--shop", "acme.myshopify.com"]),
    "bigcommerce": ("BIGCOMMERCE_ACCESS_TOKEN", ["--store-hash", "abc123"]),
    "square": ("SQUARE_ACCESS_TOKEN", ["--location-id", "L8ZX1"]),
    "tiendanube": (
        "TIENDANUBE_ACCESS_TOKEN",
        ["--store-id", "1234567", "--user-agent", "MyCRM (dev@example.com)"],
    ),
}
HELP = {
    "shopify": ["--shop", "--base-url"],
    "bigcommerce": ["--store-hash", "--base-url"],
    "square": ["--location-id", "--environment", "--webhook-token-env", "--base-url"],
    "tiendanube": ["--store-id", "--user-agent", "--domain", "--base-url"],
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def count(db: Path, table: str, connection_id: str) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE connection_id = ?",  # noqa: S608 - test tables
            (connection_id,),
        ).fetchone()
    return int(row[0])


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_sync_help_lists_the_platform_options_and_token_variable(name: str, capsys) -> None:
    assert run("sync", name, "--help")[0] == 0
    text = capsys.readouterr().out
    for flag in [*HELP[name], "--token-env", "--token-stdin"]:
        assert flag in text
    assert PLATFORMS[name][0] in text
    assert platform_spec(name).token_env == PLATFORMS[name][0]


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_missing_token_is_a_usage_error_naming_the_variable(
    name: str, tmp_path: Path, monkeypatch
) -> None:
    variable, options = PLATFORMS[name]
    monkeypatch.delenv(variable, raising=False)
    code, out, err = run("sync", "--sink", f"sqlite:///{tmp_path / 'x.db'}", name, *options)
    assert code == ExitCode.USAGE
    assert f"no {name} token: set the environment variable {variable}" in err
    assert out == ""


def test_required_options_and_choices_are_checked() -> None:
    code, _, err = run("sync", "square")
    assert code == ExitCode.USAGE
    assert "Missing option '--location-id'" in err
    code, _, err = run("sync", "square", "--location-id", "L1", "--environment", "staging")
    assert code == ExitCode.USAGE
    assert "'staging' is not one of production, sandbox" in err
    code, _, err = run("sync", "square", "--location-id", "L1", "--environment", "EAAAl0ng_T0ken")
    assert code == ExitCode.USAGE
    assert "(value not shown) is not one of production, sandbox" in err
    assert "T0ken" not in err
    code, _, err = run("sync", "tiendanube", "--store-id", "1")
    assert code == ExitCode.USAGE
    assert "--user-agent" in err


def test_a_bad_option_value_is_reported_by_the_connector(monkeypatch) -> None:
    monkeypatch.setenv("TIENDANUBE_ACCESS_TOKEN", "tn-secret-value-123456")
    code, out, err = run("sync", "tiendanube", "--store-id", "1", "--user-agent", "no contact")
    assert code == ExitCode.USAGE
    assert "User-Agent" in err
    assert "tn-secret-value-123456" not in out + err


def test_shopify_sync_against_the_served_simulator(tmp_path: Path, monkeypatch) -> None:
    # A Plus-sized bucket: this connector asks for big pages, and must not wait in a test.
    sim = ShopifySimulator(
        seed=3,
        customers=20,
        orders=40,
        products=8,
        checkouts=6,
        cost=GraphQLCostBucket(100_000, 5_000),
    )
    db = tmp_path / "shopify.db"
    sink = f"sqlite:///{db}"
    with sim.serve() as base_url:
        argv = ["sync", "--sink", sink, "shopify", "--shop", sim.shop, "--base-url", base_url]
        monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_wrong_token_0000000000")
        code, out, err = run("-v", *argv)
        assert code == ExitCode.AUTH
        assert "shpat_wrong_token_0000000000" not in out + err

        monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", sim.token)
        code, out, err = run("-v", *argv)
        assert code == ExitCode.OK, err
        assert "historical sync" in out
        assert sim.token not in out + err

        code, out, _ = run(*argv[:3], "--json", *argv[3:])
        assert code == ExitCode.OK
        assert json.loads(out)["mode"] == "incremental"
    connection = f"shopify:{sim.shop}"
    assert count(db, "orders", connection) == 40
    assert count(db, "products", connection) == 8
    assert count(db, "carts", connection) == 6  # every checkout is long abandoned
    assert count(db, "customers", connection) > 0
    assert count(db, "contact_sources", connection) > 0
    assert sim.cost_report().throttled == 0  # so the connector never had to wait
    # The history was exported in bulk, one operation per stream, not paged.
    runs = [e for e in sim.log if e.json and "bulkOperationRunQuery" in str(e.json.get("query"))]
    assert len(runs) == 4


def test_the_shopify_command_journals_bulk_operations_beside_the_state_file(
    tmp_path: Path,
) -> None:
    from commerce_connectors.platforms.shopify import ShopifyConnector
    from commerce_connectors.platforms.shopify.bulk import FileBulkJournal, MemoryBulkJournal

    spec = platform_spec("shopify")
    options = {"shop": "acme.myshopify.com", "base_url": None}
    state = tmp_path / "state.db"
    on_file = spec.factory({**options, "state_url": f"sqlite:///{state}"}, "shpat_x")
    assert isinstance(on_file, ShopifyConnector)
    assert on_file.bulk is not None
    journal = on_file.bulk.journal
    assert isinstance(journal, FileBulkJournal)
    assert journal.directory == tmp_path / "state.db.shopify-bulk"  # a new process finds it
    for url in ("memory://", "sqlite:///:memory:"):
        in_memory = spec.factory({**options, "state_url": url}, "shpat_x")
        assert isinstance(in_memory, ShopifyConnector)
        assert in_memory.bulk is not None
        assert isinstance(in_memory.bulk.journal, MemoryBulkJournal)


def test_tiendanube_sync_against_the_served_simulator(tmp_path: Path, monkeypatch) -> None:
    clock = SystemClock()
    sim = TiendanubeSimulator(seed=4, customers=15, orders=30, products=6, checkouts=0, clock=clock)
    for days in (2, 3, 4):  # abandoned days ago, visible at once
        sim.create_checkout(created_at=sim.now() - dt.timedelta(days=days), delay=dt.timedelta(0))
    sim.create_checkout(delay=dt.timedelta(0))  # still active: deferred, not written
    monkeypatch.setenv("TN_TOKEN", sim.token)
    db = tmp_path / "tn.db"
    with sim.serve() as base_url:
        code, out, err = run(
            "sync",
            "--sink",
            f"sqlite:///{db}",
            "--no-progress",
            "tiendanube",
            "--store-id",
            str(sim.store_id),
            "--user-agent",
            "CLI test (dev@example.com)",
            "--base-url",
            base_url,
            "--token-env",
            "TN_TOKEN",
        )
    assert code == ExitCode.OK, err
    assert sim.token not in out + err
    assert sim.log.count_by_status().get(429, 0) == 0  # within the burst: no waiting
    connection = f"tiendanube:{sim.store_id}"
    assert count(db, "orders", connection) == 30
    assert count(db, "products", connection) == 6
    assert count(db, "carts", connection) == 3
    assert count(db, "contact_sources", connection) > 0


def test_bigcommerce_and_square_syncs_against_served_simulators(
    tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "both.db"
    sink = f"sqlite:///{db}"
    store = BigCommerceSimulator(seed=1, customers=10, orders=12, products=5)
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", store.access_token)
    with store.serve() as url:  # base_url replaces https://api.bigcommerce.com/stores/HASH
        code, out, err = run(
            "sync", "--sink", sink, "--no-progress", "bigcommerce",
            "--store-hash", store.store_hash, "--base-url", f"{url}/stores/{store.store_hash}",
        )  # fmt: skip
    assert code == ExitCode.OK, err
    assert store.access_token not in out + err
    connection = f"bigcommerce:{store.store_hash}"
    registered = [r for r in store.orders if r.data["customer_id"] and r.data["status_id"]]
    assert count(db, "orders", connection) == len(registered)  # guests are not synced
    assert count(db, "customers", connection) == 10
    assert count(db, "products", connection) == 5

    seller = SquareSimulator(seed=1, customers=10, payments=20, products=5)
    monkeypatch.setenv("SQUARE_ACCESS_TOKEN", seller.token)
    with seller.serve() as url:  # one connection per location
        for location in seller.locations:
            code, out, err = run(
                "sync", "--sink", sink, "--no-progress", "square",
                "--location-id", location.id, "--base-url", url,
            )  # fmt: skip
            assert code == ExitCode.OK, err
            assert seller.token not in out + err
            connection = f"square:{location.id}"
            assert count(db, "customers", connection) == len(seller.customer_ids_with_email())
            assert count(db, "products", connection) == len(seller.item_ids(location.id))
            assert 0 < count(db, "orders", connection) <= len(seller.order_ids(location.id))


def test_a_demo_source_that_cannot_be_built_is_reported_not_fatal(
    tmp_path: Path, monkeypatch
) -> None:
    def needs_a_module(seed, clock, now, scale=1.0):  # type: ignore[no-untyped-def]
        raise ModuleNotFoundError("the X simulator needs graphql-core", name="graphql")

    monkeypatch.setattr(
        demo_module, "DEMO_SOURCES", [DemoSource("nowhere", "missing", needs_a_module)]
    )
    code, out, _ = run("demo", "--db", str(tmp_path / "d.db"), "--no-progress")
    assert code == 0
    assert "nowhere" in out
    assert "not run: the X simulator needs graphql-core" in out


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    from commerce_connectors.state import SQLiteStateStore

    err = io.StringIO()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    SQLiteStateStore.from_url(db).close()  # status reads an existing database only
    assert main(["status", "--sink", db], out=ClosedPipe(), err=err) == 0
    assert err.getvalue() == ""
