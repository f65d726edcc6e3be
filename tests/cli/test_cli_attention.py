"""A scope missing from the app hides data: the sync says so and exits 6, never a silent 0."""

from __future__ import annotations

import io
import json
from pathlib import Path

from commerce_connectors.cli import ExitCode, main
from commerce_connectors.testing.simulator import GraphQLCostBucket
from commerce_connectors.testing.simulators.shopify import DEFAULT_SCOPES, ShopifySimulator


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_shopify_without_read_all_orders_needs_attention(tmp_path: Path, monkeypatch) -> None:
    # The simulated shop's orders are older than 60 days: without read_all_orders,
    # Shopify returns none of them, as it does for a real app.
    sim = ShopifySimulator(
        seed=2,
        customers=10,
        orders=25,
        products=4,
        checkouts=0,
        scopes=[s for s in DEFAULT_SCOPES if s != "read_all_orders"],
        cost=GraphQLCostBucket(100_000, 5_000),
        bulk_start_delay=0.0,
    )
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", sim.token)
    sink = str(tmp_path / "scope.db")
    with sim.serve() as url:
        argv = ["sync", "shopify", "--shop", sim.shop, "--base-url", url, "--sink", sink]
        code, out, err = run(*argv, "--no-progress")
        assert code == ExitCode.ATTENTION, err
        assert "warning:" in out  # in the summary
        assert "read_all_orders" in out
        assert "WARNING commerce_connectors.shopify" in err  # and logged, without -v
        assert "read_all_orders" in err
        code, out, _ = run(*argv, "--json")
    assert code == ExitCode.ATTENTION
    report = json.loads(out)
    assert report["status"] == "ok"
    assert report["streams"]["orders"]["read"] == 0
    assert any("read_all_orders" in w for w in report["warnings"])


def test_with_the_scope_the_same_shop_is_ok(tmp_path: Path, monkeypatch) -> None:
    sim = ShopifySimulator(
        seed=2, customers=10, orders=25, products=4, checkouts=0,
        cost=GraphQLCostBucket(100_000, 5_000), bulk_start_delay=0.0,
    )  # fmt: skip
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", sim.token)
    with sim.serve() as url:
        code, out, err = run(
            "sync", "shopify", "--shop", sim.shop, "--base-url", url, "--no-progress",
            "--sink", str(tmp_path / "ok.db"),
        )  # fmt: skip
    assert code == ExitCode.OK, err
    assert "warning:" not in out
