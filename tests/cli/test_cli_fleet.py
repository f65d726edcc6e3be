"""``fleet run FILE``: the fleet file's connections synced in rounds from the command line."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from commerce_connectors.cli import ExitCode, main
from commerce_connectors.testing.example_shop import ToyShopSimulator


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_fleet_run_syncs_each_connection_of_the_file(tmp_path: Path, monkeypatch) -> None:
    first = ToyShopSimulator(seed=1, customers=5, orders=8, products=2)
    second = ToyShopSimulator(seed=2, customers=6, orders=9, products=3, token="other-token-42")
    monkeypatch.setenv("TOY_ONE", first.token)
    monkeypatch.setenv("TOY_TWO", second.token)
    db = tmp_path / "fleet.db"
    fleet = tmp_path / "fleet.toml"
    with first.serve() as one, second.serve() as two:
        fleet.write_text(
            f'sink = "sqlite:///{db}"\n'
            "[[connection]]\n"
            'name = "one"\nplatform = "toyshop"\ntoken_env = "TOY_ONE"\n'
            f'options = {{ shop = "one", base_url = "{one}/api/v1" }}\n'
            "[[connection]]\n"
            'name = "two"\nplatform = "toyshop"\ntoken_env = "TOY_TWO"\n'
            f'options = {{ shop = "two", base_url = "{two}/api/v1" }}\n'
        )
        code, out, err = run("fleet", "run", str(fleet), "--rounds", "1")
    assert code == ExitCode.OK, out + err
    assert "2 connections" in out
    assert first.token not in out + err
    with sqlite3.connect(db) as conn:
        shops = conn.execute("SELECT DISTINCT connection_id FROM orders").fetchall()
    assert sorted(shops) == [("toyshop:one",), ("toyshop:two",)]


def test_a_bad_fleet_file_is_a_usage_error(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('sink = "sqlite:///x.db"\n[[connection]]\nplatform = "shopfy"\n')
    code, _, err = run("fleet", "run", str(fleet))
    assert code == ExitCode.USAGE
    assert "shopfy" in err
    code, _, err = run("fleet", "run", str(tmp_path / "missing.toml"))
    assert code == ExitCode.USAGE
