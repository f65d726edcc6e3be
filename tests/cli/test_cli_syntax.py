"""The command line as people type it: options anywhere, suggestions, defaults, exit codes."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_connectors.cli import LOG_LEVEL_ENV, ExitCode, main
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.testing.example_shop import ToyShopSimulator
from commerce_connectors.testing.simulators.bigcommerce import BigCommerceSimulator


@pytest.fixture
def shop() -> Iterator[tuple[ToyShopSimulator, str]]:
    sim = ToyShopSimulator(seed=5, customers=12, orders=20, products=4)
    with sim.serve() as url:
        yield sim, url + "/api/v1"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- option order --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [
        "platform options after, common options before",
        "every option after the platform",
        "mixed, common options last",
    ],
)
def test_options_may_come_before_or_after_the_platform(
    order: str, shop, tmp_path: Path, monkeypatch
) -> None:
    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    sink = f"sqlite:///{tmp_path / 'order.db'}"
    argv = {
        "platform options after, common options before": [
            "sync", "--sink", sink, "--json", "toyshop", "--base-url", base, "--page-size", "7",
        ],
        "every option after the platform": [
            "sync", "toyshop", "--base-url", base, "--sink", sink, "--json", "--page-size", "7",
        ],
        "mixed, common options last": [
            "sync", "--json", "toyshop", "--page-size", "7", "--base-url", base, "--sink", sink,
        ],
    }[order]  # fmt: skip
    code, out, err = run(*argv)
    assert code == ExitCode.OK, err
    report = json.loads(out)
    assert report["totals"]["read"] == 12 + 20 + 4
    assert (tmp_path / "order.db").exists()


def test_a_platform_name_as_an_option_value_is_not_taken_for_the_platform(
    tmp_path: Path, monkeypatch
) -> None:
    # --domain tiendanube is a value; the platform is the first bare word after it.
    monkeypatch.delenv("TIENDANUBE_ACCESS_TOKEN", raising=False)
    code, _, err = run(
        "sync", "--domain", "tiendanube", "tiendanube", "--store-id", "1",
        "--user-agent", "A (a@example.com)", "--sink", f"sqlite:///{tmp_path / 'x.db'}",
    )  # fmt: skip
    assert code == ExitCode.USAGE
    assert "no tiendanube token" in err  # parsed to the end: only the token is missing


def test_logging_options_are_accepted_anywhere(shop, tmp_path: Path, monkeypatch) -> None:
    from commerce_connectors.cli import app

    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    levels: list[int] = []
    original = app._level
    monkeypatch.setattr(app, "_level", lambda *a: levels.append(original(*a)) or levels[-1])
    sink = f"sqlite:///{tmp_path / 'v.db'}"
    code, _, err = run("sync", "toyshop", "--base-url", base, "--sink", sink, "-v")
    assert code == ExitCode.OK, err
    code, _, err = run(
        "sync", "toyshop", "--log-level", "error", "--base-url", base, "--sink", sink
    )
    assert code == ExitCode.OK, err
    assert levels == [logging.INFO, logging.ERROR]


# -- did you mean --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sycn"], "Did you mean 'sync'?"),
        (["sync", "shopfy"], "Did you mean 'shopify'"),
        (["sync", "shopify", "--shp", "x"], "'--shop'"),
        (["sync", "toyshop", "--snk", "x.db"], "'--sink'"),
        (["dead-letters", "lst"], "Did you mean 'list'?"),
        (["connections", "pase", "c"], "Did you mean 'pause'?"),
    ],
)
def test_a_mistyped_word_gets_a_suggestion(argv: list[str], expected: str) -> None:
    code, _, err = run(*argv)
    assert code == ExitCode.USAGE
    assert expected in err


def test_a_misplaced_sink_is_not_taken_for_a_platform(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN", raising=False)
    code, _, err = run("sync", "--shop", "x.myshopify.com", "shopify", "--sink", "x.db")
    assert code == ExitCode.USAGE
    assert "invalid choice" not in err
    assert "no shopify token" in err


# -- defaults and entry points ---------------------------------------------------------------


def test_dead_letters_and_connections_list_by_default(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    SQLiteStateStore(db).close()  # a state database without anything synced
    code, out, err = run("dead-letters", "--sink", str(db))
    assert (code, out) == (0, "no dead letters\n"), err
    code, out, err = run("connections", "--sink", str(db))
    assert (code, out) == (0, "no connections yet\n"), err


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "commerce_connectors", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Exit codes" in done.stdout
    assert "simulate" in done.stdout


def test_warnings_are_shown_by_default_and_the_level_has_an_environment_variable(
    monkeypatch,
) -> None:
    from commerce_connectors.cli import app

    levels: list[int] = []
    original = app._level
    monkeypatch.setattr(app, "_level", lambda *a: levels.append(original(*a)) or levels[-1])
    monkeypatch.delenv(LOG_LEVEL_ENV, raising=False)
    assert run("connections", "pause", "--help")[0] == 0
    monkeypatch.setenv(LOG_LEVEL_ENV, "error")
    assert run("connections", "pause", "--help")[0] == 0
    assert run("connections", "pause", "--help", "-v")[0] == 0  # the option beats the variable
    assert levels == [logging.WARNING, logging.ERROR, logging.INFO]
    monkeypatch.setenv(LOG_LEVEL_ENV, "loud")
    code, _, err = run("status")
    assert code == ExitCode.USAGE
    assert LOG_LEVEL_ENV in err


def test_a_warning_reaches_standard_error_without_options(
    shop, tmp_path: Path, monkeypatch
) -> None:
    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    from commerce_connectors.testing import example_shop

    def noisy(self, *args: object, **kwargs: object) -> object:
        logging.getLogger("commerce_connectors.connector").warning("something to see")
        return original(self, *args, **kwargs)

    original = example_shop.ToyShopConnector.close
    monkeypatch.setattr(example_shop.ToyShopConnector, "close", noisy)
    code, _, err = run("sync", "toyshop", "--base-url", base, "--sink", str(tmp_path / "w.db"))
    assert code == ExitCode.OK, err
    assert "WARNING commerce_connectors.connector: something to see" in err
    code, _, err = run(
        "-q", "sync", "toyshop", "--base-url", base, "--sink", str(tmp_path / "w.db")
    )
    assert "something to see" not in err


# -- stores: read-only commands create nothing; paths are checked -------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--sink", "mydb.db"],
        ["status", "--sink", "sqlite:///mydb.db", "--json"],
        ["dead-letters"],
        ["dead-letters", "list", "--sink", "mydb.db"],
        ["connections", "list", "--sink", "mydb.db"],
        ["connections", "pause", "toyshop:x", "--sink", "mydb.db"],
        ["webhooks", "events", "--sink", "mydb.db"],
        ["status", "--sink", "activecampaign://acme.api-us1.com"],
    ],
)
def test_read_only_commands_never_create_a_file(
    argv: list[str], tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*argv)
    assert code == ExitCode.USAGE
    assert "no database at" in err
    assert ".db" in err  # the path is named
    assert out == ""
    assert listing(tmp_path) == []


def test_status_reads_the_database_named_by_a_plain_path(shop, tmp_path: Path, monkeypatch) -> None:
    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    monkeypatch.chdir(tmp_path)
    code, _, err = run("sync", "toyshop", "--base-url", base, "--sink", "mydb.db", "--no-progress")
    assert code == ExitCode.OK, err
    assert listing(tmp_path)[0] == "mydb.db"
    code, out, _ = run("status", "--sink", "mydb.db")
    assert code == 0
    assert "toyshop:toyshop" in out
    assert not (tmp_path / "commerce-connectors-state.db").exists()


def test_a_sink_in_a_missing_directory_is_refused_not_created(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOYSHOP_TOKEN", "t")
    target = tmp_path / "no" / "such" / "dir" / "x.db"
    code, _, err = run(
        "sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--sink", f"sqlite:///{target}"
    )
    assert code == ExitCode.USAGE
    assert "does not exist" in err
    assert listing(tmp_path) == []


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.db").write_text("my notes, not a database\n")
    monkeypatch.setenv("TOYSHOP_TOKEN", "t")
    for argv in (
        ["status", "--sink", "notes.db"],
        ["dead-letters", "--sink", "sqlite:///notes.db"],
        ["sync", "toyshop", "--base-url", "http://127.0.0.1:9", "--sink", "notes.db"],
    ):
        code, _, err = run(*argv)
        assert code == ExitCode.USAGE, argv
        assert "is not an SQLite database" in err
        assert "Traceback" not in err
    assert (tmp_path / "notes.db").read_text() == "my notes, not a database\n"


def test_a_sqlite_url_in_the_wrong_form_shows_the_right_one() -> None:
    code, _, err = run("status", "--sink", "sqlite://x.db")
    assert code == ExitCode.USAGE
    assert "sqlite:///x.db" in err


def test_other_urls_pass_through_to_the_sink_and_state_openers(monkeypatch) -> None:
    from commerce_connectors.cli import commands, common

    seen: list[str] = []

    def opener(url: str, **_: object) -> object:
        seen.append(url)
        raise common.ConfigurationError("stop here")

    monkeypatch.setattr(commands, "open_state_store", opener)
    url = "postgresql://crm@db.example.com/shop?sslmode=require"
    code, _, err = run("status", "--sink", url)
    assert code == ExitCode.USAGE
    assert "stop here" in err
    assert seen == [url]  # untouched, and the state lives with the data by default


# -- 404s: a configuration error naming the option to check --------------------------------


def test_a_404_names_the_options_to_check(shop, tmp_path: Path, monkeypatch) -> None:
    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    code, out, err = run(
        "sync", "toyshop", "--base-url", base + "/wrong", "--sink", str(tmp_path / "x.db")
    )
    assert code == ExitCode.USAGE
    assert "404" in err
    assert "check --base-url" in err
    assert sim.token not in out + err


def test_a_wrong_bigcommerce_store_hash_is_diagnosed_as_such(tmp_path: Path, monkeypatch) -> None:
    store = BigCommerceSimulator(seed=1, customers=3, orders=3, products=2)
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", store.access_token)
    with store.serve() as url:
        code, _, err = run(
            "sync", "bigcommerce", "--store-hash", "wrong1", "--base-url", f"{url}/stores/wrong1",
            "--sink", str(tmp_path / "bc.db"), "--no-progress",
        )  # fmt: skip
    assert code == ExitCode.USAGE
    assert "no store has this store hash" in err
    assert "--store-hash" in err
    assert "scope" not in err
    assert "currency" not in err


def test_a_bigcommerce_currency_can_be_given_on_the_command_line(
    tmp_path: Path, monkeypatch
) -> None:
    from commerce_connectors.testing.simulator import ErrorStatus

    # The API account lacks the Information & Settings scope: the profile is refused.
    store = BigCommerceSimulator(
        seed=1, customers=3, orders=3, products=2,
        faults=[ErrorStatus(status=403, route="/stores/{store_hash}/v2/store")],
    )  # fmt: skip
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", store.access_token)
    argv = [
        "sync", "bigcommerce", "--store-hash", store.store_hash, "--no-progress",
        "--sink", str(tmp_path / "bc.db"),
    ]  # fmt: skip
    with store.serve() as url:
        argv += ["--base-url", f"{url}/stores/{store.store_hash}"]
        code, _, err = run(*argv)
        assert code == ExitCode.USAGE
        assert "--currency" in err
        assert "currency=" not in err  # option names, not Python arguments
        code, _, err = run(*argv, "--currency", "usd")
    assert code == ExitCode.OK, err
