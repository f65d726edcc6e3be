"""The scheduler: runs on the interval (on a fake clock), stops cleanly."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
from _syncfakes import ListConnector, at, order

from commerce_connectors.clock import FakeClock
from commerce_connectors.protocols import Stream
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import DEFAULT_INTERVAL, Scheduler, SyncEngine, SyncStatus


def engine(conn: ListConnector, clock: FakeClock) -> SyncEngine:
    return SyncEngine(conn, MemorySink(), MemoryStateStore(), clock=clock)


def test_runs_every_interval_incrementally() -> None:
    clock = FakeClock(wall_start=at(10))
    conn = ListConnector(orders=[order("1")])
    reports = Scheduler(engine(conn, clock), clock=clock).run(max_runs=4)
    assert dt.timedelta(minutes=30) == DEFAULT_INTERVAL
    assert [r.mode for r in reports] == ["historical"] + ["incremental"] * 3
    assert [r.started_at for r in reports] == [at(10) + n * DEFAULT_INTERVAL for n in range(4)]
    since = [s for stream, s in conn.calls if stream is Stream.ORDERS]
    assert since[0] is None
    assert since[1] == at(10) - dt.timedelta(minutes=5)


def test_an_authentication_error_ends_the_schedule() -> None:
    clock = FakeClock(wall_start=at(10))
    conn = ListConnector(orders=[order("1")], auth_fails_at=(Stream.ORDERS, 0))
    reports = Scheduler(engine(conn, clock), clock=clock).run(max_runs=5)
    assert [r.status for r in reports] == [SyncStatus.AUTH_ERROR]


def test_stop_from_a_report_callback_and_on_a_signal() -> None:
    clock = FakeClock(wall_start=at(10))
    scheduler = Scheduler(engine(ListConnector(), clock), clock=clock)
    scheduler.on_report = lambda r: scheduler.stop()
    assert len(scheduler.run()) == 1
    assert scheduler.stopping

    other = Scheduler(engine(ListConnector(), clock), clock=clock)
    other.on_report = lambda r: os.kill(os.getpid(), signal.SIGTERM)
    with other.stop_on_signals():
        assert len(other.run(max_runs=10)) == 1
    with pytest.raises(ValueError, match="positive"):
        Scheduler(other.engine, interval=dt.timedelta(0))
