"""The command line: sync (against a served ToyShop simulator), status, dead-letters, demo."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode, ProgressPrinter, main
from commerce_connectors.protocols import Stream
from commerce_connectors.sync import SyncProgress
from commerce_connectors.testing.example_shop import ToyShopSimulator


@pytest.fixture
def shop() -> Iterator[tuple[ToyShopSimulator, str]]:
    sim = ToyShopSimulator(seed=9, customers=30, orders=60, products=10)
    with sim.serve() as url:
        yield sim, url + "/api/v1"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_sync_status_and_incremental(shop, tmp_path: Path, monkeypatch) -> None:
    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    sink = f"sqlite:///{tmp_path / 'cli.db'}"
    code, out, err = run("sync", "--sink", sink, "toyshop", "--base-url", base)
    assert code == ExitCode.OK, err
    assert "historical sync ok" in out
    assert "orders" in err  # plain progress lines when not on a terminal
    assert sim.token not in out + err

    code, out, _ = run("sync", "--sink", sink, "--json", "toyshop", "--base-url", base)
    report = json.loads(out)
    assert (code, report["mode"], report["totals"]["new"]) == (0, "incremental", 0)

    code, out, _ = run("status", "--sink", sink)
    assert code == 0
    assert "toyshop:toyshop" in out
    assert "orders" in out
    assert "historical" in out
    assert "incremental" in out
    code, out, _ = run("status", "--sink", sink, "--json")
    assert len(json.loads(out)["checkpoints"]) == 3


def test_tokens_come_from_the_environment_only(shop, tmp_path: Path, monkeypatch) -> None:
    sim, base = shop
    sink = f"sqlite:///{tmp_path / 't.db'}"
    monkeypatch.delenv("TOYSHOP_TOKEN", raising=False)
    code, _, err = run("sync", "--sink", sink, "toyshop", "--base-url", base)
    assert code == ExitCode.USAGE
    assert "TOYSHOP_TOKEN" in err
    code, _, _ = run("sync", "toyshop", "--base-url", base, "--token", sim.token)
    assert code == ExitCode.USAGE  # no such option: secrets never go on argv

    monkeypatch.setenv("TOYSHOP_TOKEN", "revoked-token-9876543210")
    code, out, err = run("sync", "--sink", sink, "toyshop", "--base-url", base)
    assert code == ExitCode.AUTH
    assert "authentication failed" in out
    assert "revoked-token-9876543210" not in out + err

    monkeypatch.setenv("MY_TOKEN", sim.token)
    code, _, _ = run(
        "sync", "--sink", sink, "toyshop", "--base-url", base, "--token-env", "MY_TOKEN"
    )
    assert code == ExitCode.OK


def test_unknown_platform_lists_the_available_ones() -> None:
    code, _, err = run("sync", "nowhere")
    assert code == ExitCode.USAGE
    assert "unknown platform 'nowhere'" in err
    assert "Choose from: toyshop, shopify, bigcommerce, square, tiendanube" in err


def test_dead_letters_list_and_replay(shop, tmp_path: Path, monkeypatch) -> None:
    sim, base = shop
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    victim = sim.stores["orders"].get(3)
    sim.stores["orders"].update(3, {"total": "12,34"}, updated_at=victim.updated_at)
    sink = f"sqlite:///{tmp_path / 'dl.db'}"
    code, _, _ = run("sync", "--sink", sink, "--no-progress", "toyshop", "--base-url", base)
    assert code == ExitCode.ATTENTION  # done, but a record was dead-lettered

    code, out, _ = run("dead-letters", "list", "--sink", sink)
    assert code == 0
    assert "order 3" in out
    assert "$.total" in out
    code, out, _ = run("dead-letters", "list", "--sink", sink, "--json")
    assert json.loads(out)[0]["payload"]["total"] == "12,34"

    sim.stores["orders"].update(3, {"total": "12.34"}, updated_at=victim.updated_at)
    code, out, _ = run(
        "dead-letters", "replay", "--sink", sink, "--no-progress", "toyshop", "--base-url", base
    )
    assert code == 0
    assert "1 dead letter(s) resolved, 0 still open" in out
    assert "no dead letters" in run("dead-letters", "list", "--sink", sink)[1]


# The demo's rows, and whether each platform has a cart listing.
DEMO_ROWS = {
    "toyshop": False,
    "shopify": True,
    "bigcommerce": False,
    "square/downtown": False,
    "square/shibuya": False,
    "tiendanube": True,
}


def test_demo_runs_offline_and_prints_a_summary(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    code, out, _ = run("demo", "--db", str(db), "--no-progress")
    assert code == 0
    assert "platform" in out
    assert "contacts" in out
    assert "triggers" in out
    assert f"database: {db}" in out
    assert "records/s" in out
    assert db.exists()
    summary = out.split("records read per run")[0]  # the first table
    rows = {
        line.split()[0]: line.split()[1:5]
        for line in summary.splitlines()
        if line and line.split()[0] in DEMO_ROWS
    }
    assert sorted(rows) == sorted(DEMO_ROWS)
    for name, (contacts, orders, _products, carts) in rows.items():
        assert int(contacts) > 0, name
        assert int(orders) > 0, name
        assert (carts != "—") == DEMO_ROWS[name], name  # carts where the platform lists them
        assert carts == "—" or int(carts) > 0, name
    speeds = out.split("records read per run")[1].split("into a CRM")[0]
    for line in speeds.splitlines():
        if line.startswith("toyshop "):
            assert line.endswith(" s, real")
        elif line.split() and line.split()[0] in DEMO_ROWS:
            assert line.endswith(" s, simulated"), line
    assert "API time simulated:" in out
    assert "real time (webhooks), tiendanube:" in out
    assert 'written firing "makes a purchase" (source 1)' in out
    # Then the same platforms, smaller, into one simulated ActiveCampaign account.
    crm = out.split("into a CRM")[1]
    assert "ActiveCampaignSink" in crm
    assert 'join "Master Contact List"' in crm
    crm_rows = {
        line.split()[0]: line.split()[1:9]
        for line in crm.splitlines()
        if line and line.split()[0] in DEMO_ROWS
    }
    assert sorted(crm_rows) == sorted(DEMO_ROWS)
    for name, (contacts, on_list, orders, carts, fired, _dead, requests, api) in crm_rows.items():
        assert int(contacts) > 0, name
        assert int(orders) > 0, name
        assert (carts != "—") == DEMO_ROWS[name], name
        assert carts == "—" or int(carts) > 0, name
        assert int(fired) > 0, name  # the orders placed after the historical sync
        assert int(requests) > 0, name
        assert float(api.replace(",", "")) > 0, name  # paced at 5 / s, on a fake clock
        # The list takes an explicit yes only; Square records nothing but opt-outs.
        assert (int(on_list) == 0) == name.startswith("square/"), name
    assert "the account:" in crm
    assert "requests paced at 5 / s" in crm
    other = tmp_path / "precious.db"
    other.write_text("not a demo")
    code, _, err = run("demo", "--db", str(other), "--no-progress")
    assert code == ExitCode.USAGE
    assert "not a demo database" in err


def test_progress_bar_on_a_terminal() -> None:
    buf = io.StringIO()
    draw = ProgressPrinter(buf, tty=True)
    for phase in ("start", "batch", "end"):
        draw(SyncProgress("toyshop:x", Stream.ORDERS, phase, 120, 100, 2.0))
    text = buf.getvalue()
    assert text.count("\r") == 3
    assert text.endswith("\n")
    assert "60/s" in text


def test_help_and_version(capsys) -> None:
    assert run("--help")[0] == 0
    text = capsys.readouterr().out
    assert "Exit codes" in text
    for code in ExitCode:  # every code is documented
        assert f"\n    {int(code):<4} " in text, code
    assert run("--version")[0] == 0
    assert capsys.readouterr().out.startswith("commerce-connectors")
    assert run()[0] == 0


def test_sync_into_activecampaign_from_the_command_line(shop, monkeypatch, tmp_path: Path) -> None:
    from commerce_connectors.clock import SystemClock
    from commerce_connectors.testing.simulators.activecampaign import (
        ActiveCampaignRateLimit,
        ActiveCampaignSimulator,
    )

    sim, base = shop
    ac = ActiveCampaignSimulator(clock=SystemClock(), rate_limit=ActiveCampaignRateLimit(5000))
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    monkeypatch.setenv("ACTIVECAMPAIGN_API_TOKEN", ac.token)
    state = f"sqlite:///{tmp_path / 'state.db'}"
    with ac.serve() as url:
        host = url.split("://", 1)[1]
        target = f"activecampaign+http://{host}?requests_per_second=2000"
        code, out, err = run(
            "sync",
            "--sink",
            target,
            "--state",
            state,
            "--no-progress",
            "toyshop",
            "--base-url",
            base,
        )
    assert code in (ExitCode.OK, ExitCode.ATTENTION), err
    assert ac.count("ecomOrders") > 0
    assert ac.count("connections") == 1
    assert ac.token not in out + err
