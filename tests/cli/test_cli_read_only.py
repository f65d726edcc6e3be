"""Commands that only read leave every database byte for byte as it was.

``status``, ``dead-letters list``, ``connections list`` and ``webhooks events`` open
the state store read-only: no table is created and the journal mode is not switched
(WAL is a permanent property of a file). A SQLite file that holds no state is refused
with exit 2, unchanged.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode, main
from commerce_connectors.testing.example_shop import ToyShopSimulator

READ_ONLY_COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["dead-letters"],
    ["dead-letters", "list", "--all", "--json"],
    ["connections"],
    ["connections", "list", "--json"],
    ["webhooks", "events"],
]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def foreign_db(tmp_path: Path) -> Path:
    """An application's own SQLite file, in the default rollback-journal mode."""
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
        conn.execute("INSERT INTO invoices (total) VALUES ('12.50')")
    conn.close()
    return path


@pytest.fixture
def state_db(tmp_path: Path, monkeypatch) -> Path:
    """A database a real sync wrote: data, state, a run log."""
    sim = ToyShopSimulator(seed=9, customers=10, orders=20, products=5)
    path = tmp_path / "synced.db"
    monkeypatch.setenv("TOYSHOP_TOKEN", sim.token)
    with sim.serve() as url:
        code, _, err = run(
            "sync", "--sink", f"sqlite:///{path}", "--no-progress", "toyshop", "--base-url",
            url + "/api/v1",
        )  # fmt: skip
    assert code == ExitCode.OK, err
    return path


@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=" ".join)
def test_a_foreign_sqlite_file_is_refused_and_left_unchanged(argv: list[str], foreign_db) -> None:
    before = digest(foreign_db)
    code, out, err = run(*argv, "--sink", str(foreign_db))
    assert code == ExitCode.USAGE, out + err
    assert f"not a commerce-connectors database: {foreign_db}" in err
    assert digest(foreign_db) == before
    with sqlite3.connect(foreign_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"invoices"}


@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=" ".join)
def test_a_state_database_is_read_without_a_byte_changed(argv: list[str], state_db) -> None:
    before = digest(state_db)
    code, out, err = run(*argv, "--sink", f"sqlite:///{state_db}")
    assert code == ExitCode.OK, err
    assert out
    assert digest(state_db) == before


def test_a_database_from_before_a_table_existed_reads_it_as_empty(state_db) -> None:
    with sqlite3.connect(state_db) as conn:
        conn.execute("DROP TABLE webhook_events")
        conn.execute("DROP TABLE parked_contacts")
    conn.close()
    before = digest(state_db)
    for argv in (["status"], ["webhooks", "events", "--json"]):
        code, out, err = run(*argv, "--sink", str(state_db))
        assert code == ExitCode.OK, err
        assert digest(state_db) == before
    code, out, _ = run("status", "--sink", str(state_db))
    assert "contacts waiting for room under the contact cap: 0" in out
    with sqlite3.connect(state_db) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "webhook_events" not in tables


def test_a_command_that_writes_still_creates_its_tables(foreign_db) -> None:
    # pause is not read-only: it records the state (the file is the user's to choose).
    code, _, err = run("connections", "pause", "toyshop:x", "--sink", str(foreign_db))
    assert code == ExitCode.OK, err
    with sqlite3.connect(foreign_db) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {"invoices", "connections", "checkpoints"} <= tables
