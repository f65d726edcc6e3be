"""Ctrl-C and SIGTERM during a rate-limit wait: the run stops at once, reports, exits 130.

A real subprocess syncs a served ToyShop store whose rate limit is tight (a bucket
of 3 requests leaking one every 20 s), so the connector soon waits ~20 s before
its next request. The signal arrives during that wait; the sleep is cut short, the
engine ends the run at its last checkpoint and the report is printed.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode
from commerce_connectors.cli.common import stopping_on_signals
from commerce_connectors.clock import FakeClock, SystemClock, stop_requested
from commerce_connectors.protocols import BatchAck, SinkBatch
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine, SyncStatus
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.simulator import TiendanubeRateLimit
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator


@pytest.fixture
def tight_shop() -> Iterator[tuple[ToyShopSimulator, str]]:
    sim = ToyShopSimulator(
        seed=4,
        customers=30,
        orders=30,
        products=30,
        clock=SystemClock(),
        rate_limit=TiendanubeRateLimit(capacity=3, leak_rate=0.05),
    )
    with sim.serve() as url:
        yield sim, url + "/api/v1"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_rate_limit_wait_stops_within_two_seconds(
    sig: signal.Signals, tight_shop, tmp_path: Path
) -> None:
    sim, base = tight_shop
    db = tmp_path / "wait.db"
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [
            sys.executable,
            "-m",
            "commerce_connectors",
            "sync",
            "toyshop",
            "--base-url",
            base,
            "--page-size",
            "5",
            "--batch-size",
            "5",
            "--sink",
            f"sqlite:///{db}",
        ],
        env={**os.environ, "TOYSHOP_TOKEN": sim.token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:  # plain lines when not on a terminal
        seen.append(line)
        if "waiting for the rate limit" in line:
            break
    else:
        pytest.fail("no rate-limit wait was shown: " + "".join(seen))
    assert "s)" in seen[-1]  # the wait says how long: "(20 s)"
    time.sleep(0.2)  # the process is in its sleep now
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - sent
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert elapsed < 2.0, f"took {elapsed:.1f} s to stop"  # a generous bound: it waited ~20 s
    assert "sync interrupted" in out  # the report
    assert "the next run resumes from the last checkpoint" in out
    assert "run the same command again to resume" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]


def test_sigterm_between_scheduled_runs_stops_at_once(tmp_path: Path) -> None:
    sim = ToyShopSimulator(seed=6, customers=5, orders=5, products=2, clock=SystemClock())
    db = tmp_path / "every.db"
    with sim.serve() as url:
        proc = subprocess.Popen(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "commerce_connectors",
                "sync",
                "toyshop",
                "--every",
                "30m",
                "--base-url",
                url + "/api/v1",
                "--sink",
                f"sqlite:///{db}",
                "--no-progress",
            ],
            env={**os.environ, "TOYSHOP_TOKEN": sim.token},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first run's report: now it waits 30 minutes
        assert "historical sync ok" in first
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert time.monotonic() - sent < 2.0


class _SlowSink:
    """A sink that takes a moment per batch, so a run has batch boundaries to stop at."""

    def __init__(self) -> None:
        self._inner = MemorySink(batch_size=5)
        self.capabilities = self._inner.capabilities

    def write(self, batch: SinkBatch) -> BatchAck:
        time.sleep(0.02)
        return self._inner.write(batch)

    def close(self) -> None:
        self._inner.close()


def _engine() -> SyncEngine:
    clock = FakeClock()
    shop = ToyShopSimulator(seed=3, customers=40, orders=200, products=10, clock=clock)
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    return SyncEngine(connector, _SlowSink(), MemoryStateStore(), clock=clock)


def test_the_handler_only_records_the_signal_the_stop_comes_from_another_thread() -> None:
    called_in: list[str] = []
    with stopping_on_signals(lambda: called_in.append(threading.current_thread().name)):
        os.kill(os.getpid(), signal.SIGTERM)
        assert called_in == []  # the handler has run (at the last line): it set nothing
        deadline = time.monotonic() + 10
        while not called_in and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stop_requested()
    assert called_in[0] == "stop-request"  # the watcher thread
    assert not stop_requested()


def test_a_signal_before_the_run_starts_still_stops_it() -> None:
    # The run clears its own stop request when it starts: a signal just before must
    # not be lost with it.
    engine = _engine()
    with stopping_on_signals(engine.stop):
        os.kill(os.getpid(), signal.SIGTERM)
        report = engine.run("historical")
    assert report.status is SyncStatus.INTERRUPTED, report.summary()
    assert report.totals()["read"] < 250


def test_a_second_signal_interrupts_at_once() -> None:
    engine = _engine()

    def twice() -> None:
        with stopping_on_signals(engine.stop):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            engine.run("historical")

    with pytest.raises(KeyboardInterrupt):
        twice()
    assert not stop_requested()


def test_two_signals_back_to_back_exit_130_without_a_traceback(tight_shop, tmp_path: Path) -> None:
    sim, base = tight_shop
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [
            sys.executable, "-m", "commerce_connectors", "sync", "toyshop", "--base-url", base,
            "--page-size", "5", "--batch-size", "5", "--sink", f"sqlite:///{tmp_path / 'x.db'}",
        ],
        env={**os.environ, "TOYSHOP_TOKEN": sim.token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "waiting for the rate limit" in line:
            break
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    assert "RuntimeError" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_stops_within_moments_while_its_poller_waits_on_the_rate_limit(
    tmp_path: Path,
) -> None:
    # A bucket of one request leaking one every 20 s: the polling sync started with
    # serve soon waits ~20 s in its thread. SIGTERM must end that wait too.
    secret = "serve-stop-secret"
    sim = TiendanubeSimulator(
        seed=2, customers=3, orders=3, products=3, checkouts=0, clock=SystemClock(),
        client_secret=secret, rate_limit=TiendanubeRateLimit(capacity=1, leak_rate=0.05),
    )  # fmt: skip
    with sim.serve() as base_url:
        proc = subprocess.Popen(  # noqa: S603 - our own command
            [
                sys.executable, "-m", "commerce_connectors", "serve", "--sink",
                f"sqlite:///{tmp_path / 'serve.db'}", "--port", str(_free_port()),
                "--public-url", f"https://hooks.example.com/webhooks/tiendanube/{sim.store_id}",
                "--poll-every", "30m", "tiendanube", "--store-id", str(sim.store_id),
                "--user-agent", "stop test (dev@example.com)", "--base-url", base_url,
                "-v",
            ],
            env={
                **os.environ,
                "TIENDANUBE_ACCESS_TOKEN": sim.token,
                "TIENDANUBE_WEBHOOK_SECRET": secret,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        assert "receiving tiendanube webhooks" in proc.stdout.readline()
        time.sleep(1.5)  # the poller's first sync has met the rate limit by now
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - sent
        sim.webhooks.close()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "stopped:" in out
    assert "Traceback" not in err
    assert elapsed < 5.0, f"took {elapsed:.1f} s to stop (the wait was ~20 s)"
