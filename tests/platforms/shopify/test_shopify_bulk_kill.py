"""A process SIGKILLed while its bulk operation runs: the next one re-attaches, never restarts.

The simulator runs here, served on 127.0.0.1 with a fake clock this test moves; the
readers are subprocesses (``_bulk_kill_worker.py``) with a file journal. The first is
killed with SIGKILL once it has seen the export running; the second must read every
order exactly once from that same operation, and no second operation may exist.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from shopify_bulk_support import WALL, truth

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import GraphQLCostBucket
from commerce_connectors.testing.simulators.shopify import ShopifySimulator

WORKER = Path(__file__).with_name("_bulk_kill_worker.py")


def start(url: str, token: str, journal: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), url, token, str(journal)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def polls(sim: ShopifySimulator) -> int:
    return sum(1 for e in sim.log if e.json and "query BulkOperation(" in e.json["query"])


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the worker never got there"
        time.sleep(0.01)


def test_a_killed_reader_is_followed_by_one_that_reattaches(tmp_path: Path) -> None:
    clock = FakeClock(wall_start=WALL)
    sim = ShopifySimulator(seed=12, customers=20, orders=300, products=5, checkouts=0,
                           clock=clock, cost=GraphQLCostBucket(1_000_000, 100))  # fmt: skip
    journal = tmp_path / "journal"
    with sim.serve() as url:
        first = start(url, sim.token, journal)
        wait_for(lambda: polls(sim) >= 1 and any(journal.glob("*.json")), first)
        clock.advance(2.5)  # out of the queue: the export runs
        seen = polls(sim)
        wait_for(lambda: polls(sim) > seen, first)  # the reader has seen it RUNNING
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        (job,) = sim.bulk_operations.values()
        assert sim.bulk_operation(job.gid)["status"] == "RUNNING"

        second = start(url, sim.token, journal)
        ticking = threading.Event()

        def tick() -> None:  # the export goes on in simulated time while the reader polls
            while not ticking.wait(0.01):
                clock.advance(0.1)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            out, err = second.communicate(timeout=120)
        finally:
            ticking.set()
            ticker.join()
    assert second.returncode == 0, err
    result = json.loads(out)
    assert sorted(result["ids"], key=int) == truth(sim)["orders"]  # each order once
    assert len(sim.bulk_operations) == 1  # re-attached: no operation started over
    assert result["stats"]["started"] == 0
    assert result["stats"]["attached"] == 1
    assert sim.bulk_operation(job.gid)["status"] == "COMPLETED"
    assert not list(journal.glob("*.json"))  # read through: the journal forgets it
