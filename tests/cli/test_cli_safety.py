"""The command line never echoes a misplaced token, stops cleanly on SIGTERM, validates sizes."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode, main
from commerce_connectors.testing.example_shop import ToyShopSimulator


@pytest.fixture
def shop() -> Iterator[tuple[ToyShopSimulator, str]]:
    sim = ToyShopSimulator(seed=3, customers=30, orders=1500, products=10)
    with sim.serve() as url:
        yield sim, url + "/api/v1"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "extra",
    [
        ("--access-token", "shpat_SECRET123"),
        ("--access-token=shpat_SECRET123",),
        ("shpat_SECRET123",),
    ],
)
def test_a_token_on_the_command_line_is_refused_and_never_echoed(extra: tuple[str, ...]) -> None:
    code, out, err = run("sync", "toyshop", "--base-url", "http://127.0.0.1:9", *extra)
    assert code == ExitCode.USAGE
    assert "No such option '--access-token'" in err or "unrecognized argument" in err
    assert "SECRET123" not in out + err


def test_batch_size_must_be_positive() -> None:
    for bad in ("0", "-5", "x"):
        code, _, err = run("sync", "--batch-size", bad, "toyshop", "--base-url", "http://x")
        assert code == ExitCode.USAGE, bad
        assert "--batch-size" in err


def test_a_memory_sink_keeps_no_checkpoints_on_disk(tmp_path: Path, monkeypatch) -> None:
    sim = ToyShopSimulator(seed=3, customers=10, orders=20, products=5)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    with sim.serve() as url:
        for _ in range(2):  # the second run must read everything again: the data is gone
            code, out, err = run(
                "sync", "--sink", "memory://", "--json", "toyshop", "--base-url", url + "/api/v1"
            )
            assert code == ExitCode.OK, err
            assert json.loads(out)["mode"] == "historical"
    assert list(tmp_path.iterdir()) == []


def test_sigterm_stops_after_the_current_batch_with_exit_130(shop, tmp_path: Path) -> None:
    sim, base = shop
    db = tmp_path / "term.db"
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [
            sys.executable,
            "-m",
            "commerce_connectors",
            "sync",
            "--sink",
            f"sqlite:///{db}",
            "--batch-size",
            "20",
            "toyshop",
            "--base-url",
            base,
            "--page-size",
            "10",
        ],
        env={**os.environ, "TOYSHOP_TOKEN": sim.token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # plain progress lines: one per finished stream
        if "customers:" in line:
            break
    proc.send_signal(signal.SIGTERM)  # the orders stream is being read
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in out
    con = sqlite3.connect(db)
    assert con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    streams = {s for (s,) in con.execute("SELECT stream FROM checkpoints")}
    assert "orders" not in streams
    assert "customers" in streams
    assert con.execute("SELECT COUNT(*) FROM orders").fetchone()[0] < 1500


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "shpat_SECRET123", "toyshop", "--base-url", "http://127.0.0.1:9"],
        ["sync", "shpat_SECRET123"],
        ["shpat_SECRET123"],
    ],
)
def test_a_token_in_place_of_a_word_is_never_echoed(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == ExitCode.USAGE
    assert "not shown" in err
    assert "SECRET123" not in out + err


TOKEN_LIKE = "shpat_0f9e8d7c6b5a4321"


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--since", TOKEN_LIKE],
        ["sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--overlap", TOKEN_LIKE],
        ["sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--batch-size", TOKEN_LIKE],
        ["sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--every", TOKEN_LIKE],
        ["sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--page-size", TOKEN_LIKE],
        ["sync", "bigcommerce", "--store-hash", "abc", "--currency", TOKEN_LIKE],
        ["simulate", TOKEN_LIKE],
        ["simulate", "shopify", "--port", TOKEN_LIKE],
        ["--log-level", TOKEN_LIKE, "status"],
        ["webhooks", "events", "--limit", TOKEN_LIKE],
        ["fleet", "run", "fleet.toml", "--rounds", TOKEN_LIKE],
    ],
    ids=lambda argv: " ".join(a for a in argv if a != TOKEN_LIKE),
)
def test_a_token_given_as_an_option_value_is_never_echoed(argv: list[str], monkeypatch) -> None:
    monkeypatch.setenv("TOYSHOP_TOKEN", "t")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "t")
    code, out, err = run(*argv)
    assert code == ExitCode.USAGE, err
    assert "value not shown" in err
    assert "0f9e8d7c" not in out + err


def test_a_mistyped_word_is_still_shown() -> None:
    code, _, err = run("simulate", "shopfy")
    assert code == ExitCode.USAGE
    assert "'shopfy' is not one of bigcommerce, shopify, square, tiendanube, toyshop" in err
