"""Ctrl-C and SIGTERM during a rate-limit wait: the run stops at once, reports, exits 130.

A real subprocess syncs a served ToyShop store whose rate limit is tight (a bucket
of 3 requests leaking one every 20 s), so the connector soon waits ~20 s before
its next request. The signal arrives during that wait; the sleep is cut short, the
engine ends the run at its last checkpoint and the report is printed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce_connectors.cli import ExitCode
from commerce_connectors.clock import SystemClock
from commerce_connectors.testing.example_shop import ToyShopSimulator
from commerce_connectors.testing.simulator import TiendanubeRateLimit


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
