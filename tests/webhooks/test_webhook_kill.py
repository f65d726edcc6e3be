"""`commerce-connectors serve` killed with SIGKILL right after answering 200 loses nothing.

The receiver stores each verified event before it answers. The first server runs
without its worker, so the event is still pending when the process is killed
(SIGKILL: no cleanup at all). A second `serve`, with its worker, processes it
exactly once, then stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_connectors.clock import SystemClock
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

PUBLIC = "https://hooks.example.com/"
SECRET = "tn-kill-test-secret"
UA = "kill test (dev@example.com)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db: Path, sim: TiendanubeSimulator, base_url: str, port: int, *extra: str):
    env = {
        **os.environ,
        "TIENDANUBE_ACCESS_TOKEN": sim.token,
        "TIENDANUBE_WEBHOOK_SECRET": SECRET,
    }
    argv = [
        sys.executable,
        "-c",
        "from commerce_connectors.cli import main; raise SystemExit(main())",
        "serve",
        "--sink",
        f"sqlite:///{db}",
        "--port",
        str(port),
        "--public-url",
        PUBLIC + f"webhooks/tiendanube/{sim.store_id}",
        *extra,
        "tiendanube",
        "--store-id",
        str(sim.store_id),
        "--user-agent",
        UA,
        "--base-url",
        base_url,
    ]
    proc = subprocess.Popen(  # noqa: S603 - our own command
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "receiving ... webhooks for ..." once it listens
    assert "receiving tiendanube webhooks" in line, line + proc.stderr.read()
    return proc


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def sim() -> Iterator[TiendanubeSimulator]:
    store = TiendanubeSimulator(
        seed=9, customers=3, orders=2, products=2, checkouts=0, clock=SystemClock(),
        client_secret=SECRET,
    )  # fmt: skip
    yield store
    store.webhooks.close()


def test_an_event_acknowledged_before_a_kill_is_processed_once_after_restart(
    tmp_path: Path, sim: TiendanubeSimulator
) -> None:
    db = tmp_path / "crm.db"
    with sim.serve() as base_url:
        conn = TiendanubeConnector(
            store_id=sim.store_id, access_token=sim.token, user_agent=UA, base_url=base_url
        )
        conn.ensure_webhooks(PUBLIC + f"webhooks/tiendanube/{sim.store_id}", ["order/created"])
        conn.close()
        port = _free_port()
        first = _serve(db, sim, base_url, port, "--no-worker")
        sim.webhooks.forward(PUBLIC, f"http://127.0.0.1:{port}/")
        order = sim.add_order()
        (result,) = sim.webhooks.flush()
        assert result.status == 200
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert _rows(db, "SELECT status FROM webhook_events") == [("pending",)]
        assert _rows(db, "SELECT COUNT(*) FROM orders") == [(0,)]

        fetches_before = sim.log.count_by_status().get(200, 0)
        second = _serve(db, sim, base_url, port)
        try:
            deadline = time.monotonic() + 20
            while _rows(db, "SELECT status FROM webhook_events") != [("done",)]:
                assert time.monotonic() < deadline, _rows(db, "SELECT * FROM webhook_events")
                time.sleep(0.05)
        finally:
            second.send_signal(signal.SIGTERM)
            out, err = second.communicate(timeout=20)
        assert second.returncode == 130, err
        assert "events not yet processed stay in the inbox" in out
        fetched = sim.log.count_by_status().get(200, 0) - fetches_before
    rows = _rows(db, "SELECT external_id, trigger_source FROM orders")
    assert rows == [(str(order.id), 1)]
    assert fetched >= 1
    assert sim.token not in out + err
    assert SECRET not in out + err
