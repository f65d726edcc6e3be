"""A missing permission (403, a scope the app lacks) exits 3 with the report and the hint."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode, main
from commerce_connectors.testing.simulator import ErrorStatus
from commerce_connectors.testing.simulators.bigcommerce import BigCommerceSimulator


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("as_json", [False, True], ids=["summary", "json"])
def test_a_missing_scope_exits_3_with_the_report_and_the_scope(
    as_json: bool, tmp_path: Path, monkeypatch
) -> None:
    # The API account may read products and customers, not orders.
    store = BigCommerceSimulator(
        seed=1, customers=3, orders=3, products=2,
        faults=[ErrorStatus(status=403, route="/stores/{store_hash}/v2/orders")],
    )  # fmt: skip
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", store.access_token)
    with store.serve() as url:
        code, out, err = run(
            "sync", "bigcommerce", "--store-hash", store.store_hash, "--currency", "USD",
            "--base-url", f"{url}/stores/{store.store_hash}", "--no-progress",
            "--sink", str(tmp_path / "bc.db"), *(["--json"] if as_json else []),
        )  # fmt: skip
    assert code == ExitCode.AUTH, err
    assert "Orders" in err  # the scope to grant, as the platform names it
    assert "grant the scope" in err
    assert "a bug" not in err
    assert store.access_token not in out + err
    if as_json:
        report = json.loads(out)
        assert report["status"] == "failed"
        assert report["streams"]["products"]["completed"]
        assert report["streams"]["products"]["new"] == 2
        assert "PermissionDeniedError" in report["error"]
    else:
        assert "historical sync failed" in out
        assert "products" in out
        assert "error: PermissionDeniedError" in out


def test_the_exit_code_table_says_where_a_missing_scope_goes(capsys) -> None:
    assert main(["--help"]) == 0
    table = capsys.readouterr().out.split("Exit codes:")[1]
    line = next(line for line in table.splitlines() if line.strip().startswith("3 "))
    assert "permission" in line
