"""``fleet run FILE``: the fleet file's connections synced in rounds from the command line."""

from __future__ import annotations

import contextlib
import io
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

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


def _fleet_file(tmp_path: Path, base_url: str, *, extra: str = "", sink: str = "") -> Path:
    fleet = tmp_path / "fleet.toml"
    sink = sink or f"sqlite:///{tmp_path / 'fleet.db'}"
    fleet.write_text(
        f'sink = "{sink}"\n'
        "[[connection]]\n"
        'name = "one"\nplatform = "toyshop"\ntoken_env = "TOY_ONE"\n'
        f'options = {{ shop = "one", base_url = "{base_url}/api/v1" }}\n' + extra
    )
    return fleet


def test_fleet_run_every_interval_for_n_rounds(tmp_path: Path, monkeypatch) -> None:
    shop = ToyShopSimulator(seed=1, customers=5, orders=8, products=2)
    monkeypatch.setenv("TOY_ONE", shop.token)
    with shop.serve() as url:
        fleet = _fleet_file(tmp_path, url)
        code, out, err = run("fleet", "run", str(fleet), "--every", "1s", "--rounds", "2")
        assert code == ExitCode.OK, out + err
        assert out.count("1 connections in") == 2
        # --rounds without --every: the rounds back to back, not one.
        code, out, err = run("fleet", "run", str(fleet), "--rounds", "3")
    assert code == ExitCode.OK, out + err
    assert out.count("1 connections in") == 3


def test_fleet_run_on_worker_processes(tmp_path: Path, monkeypatch) -> None:
    shop = ToyShopSimulator(seed=1, customers=5, orders=8, products=2)
    monkeypatch.setenv("TOY_ONE", shop.token)
    db = tmp_path / "fleet.db"
    with shop.serve() as url:
        code, out, err = run("fleet", "run", str(_fleet_file(tmp_path, url)), "--processes", "2")
    assert code == ExitCode.OK, out + err
    with sqlite3.connect(db) as conn:
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    assert orders == 8


def test_fleet_run_exits_6_when_a_connection_needs_attention(tmp_path: Path, monkeypatch) -> None:
    shop = ToyShopSimulator(seed=1, customers=5, orders=8, products=2)
    monkeypatch.setenv("TOY_ONE", shop.token)
    monkeypatch.delenv("TOY_UNSET", raising=False)
    with shop.serve() as url:
        unset = (
            '[[connection]]\nname = "unset"\nplatform = "toyshop"\ntoken_env = "TOY_UNSET"\n'
            f'options = {{ shop = "two", base_url = "{url}/api/v1" }}\n'
        )
        code, out, err = run("fleet", "run", str(_fleet_file(tmp_path, url, extra=unset)))
    assert code == ExitCode.ATTENTION, out + err
    assert (
        "unset: failed: ConfigurationError: no token: the environment variable TOY_UNSET"
        in out + err
    )
    assert "1 failed, 1 ok" in out + err


def test_fleet_run_refuses_an_unusable_sink_before_syncing(tmp_path: Path) -> None:
    fleet = _fleet_file(tmp_path, "http://127.0.0.1:9", sink="sqlite:////no/such/dir/x.db")
    code, _, err = run("fleet", "run", str(fleet))
    assert code == ExitCode.USAGE
    assert "/no/such/dir does not exist" in err


def test_fleet_run_with_an_unreachable_scheduler_is_a_clear_usage_error(
    tmp_path: Path, monkeypatch
) -> None:
    pytest.importorskip("distributed")
    from commerce_connectors.fleet import _file

    monkeypatch.setattr(_file, "SCHEDULER_CONNECT_TIMEOUT", 1.0)
    fleet = _fleet_file(tmp_path, "http://127.0.0.1:9")
    code, out, err = run("fleet", "run", str(fleet), "--scheduler", "tcp://127.0.0.1:9")
    assert code == ExitCode.USAGE, out + err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert "Traceback" not in out + err


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(30)
    try:
        while sock.recv(65536):  # the request, then the end of the stream
            pass
    except TimeoutError:
        return False
    except OSError:  # reset: closed too
        return True
    return True


def test_sigterm_ends_fleet_run_and_its_worker_processes_at_once(tmp_path: Path) -> None:
    # A store that accepts connections and never answers: the worker process hangs in
    # its request (its retries would take minutes) until the command is stopped.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: queue.Queue[socket.socket] = queue.Queue()

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.put(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    fleet = _fleet_file(tmp_path, f"http://127.0.0.1:{server.getsockname()[1]}")
    env = dict(os.environ, TOY_ONE="toy-token-for-sigterm")
    command = [sys.executable, "-m", "commerce_connectors", "fleet", "run", str(fleet)]
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*command, "--processes", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: ended whole if the test fails
    )
    try:
        request = accepted.get(timeout=60)  # the worker process is inside its request
        accepted.put(request)  # closed at the end
        process.send_signal(signal.SIGTERM)
        # A hang guard, not a timing: before the fix the command waited minutes for it.
        out, err = process.communicate(timeout=60)
        closed = _closed_by_peer(request)  # the worker process is gone
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the command and its worker processes
            process.communicate()
        server.close()
        while not accepted.empty():
            accepted.get().close()
    assert process.returncode == ExitCode.INTERRUPTED, out + err
    assert "resumes from its last checkpoint" in err
    assert closed
