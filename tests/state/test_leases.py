"""Connection leases: one worker syncs a connection at a time; a dead worker's lease lapses.

Run on the memory and SQLite stores here and on PostgreSQL (a real server).
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.protocols import LeaseStore, StateStore, Stream
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore, SQLiteStateStore
from commerce_connectors.state.leases import LeaseKeeper, default_worker_id, holder_is_dead
from commerce_connectors.sync import SyncEngine, SyncStatus
from commerce_connectors.sync.report import SyncProgress
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator

TTL = _dt.timedelta(minutes=2)
StoreMaker = Callable[[FakeClock], StateStore]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreMaker]:
    """Opens stores that share one place (a file, a schema) and time leases by a FakeClock."""
    opened: list[StateStore] = []
    shared = MemoryStateStore()

    def make(clock: FakeClock) -> StateStore:
        store: StateStore
        if request.param == "memory":
            shared.clock = clock
            store = shared
        elif request.param == "sqlite":
            store = SQLiteStateStore(tmp_path / "state.db", clock=clock)
        else:
            from commerce_connectors.state.postgres import PostgresStateStore

            url = request.getfixturevalue("postgres_schema_url")
            store = PostgresStateStore(url, clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _engine(
    state: StateStore, clock: FakeClock, sim: ToyShopSimulator, **options: object
) -> SyncEngine:
    shop = ToyShopConnector(token=sim.token, transport=sim.transport(), clock=clock)
    return SyncEngine(shop, MemorySink(), state, clock=clock, lease_ttl=TTL, **options)  # type: ignore[arg-type]


def test_a_second_worker_on_the_same_connection_is_skipped(make_store: StoreMaker) -> None:
    clock = FakeClock()
    sim = ToyShopSimulator(seed=3, customers=10, orders=20, products=4, clock=clock)
    second = _engine(make_store(clock), clock, sim, worker_id="worker-b")
    seen: list[SyncStatus] = []
    reasons: list[str] = []

    def meanwhile(progress: SyncProgress) -> None:
        if progress.phase == "batch" and not seen:
            # Worker A is mid-run, holding the lease: worker B tries the same connection.
            report = second.run()
            seen.append(report.status)
            reasons.append(report.error or "")

    first = _engine(make_store(clock), clock, sim, worker_id="worker-a", on_progress=meanwhile)
    report = first.run()
    assert report.status is SyncStatus.OK
    assert seen == [SyncStatus.SKIPPED]
    assert "worker-a" in reasons[0]
    assert "lease runs until" in reasons[0]
    assert [r.status for r in second.state.runs(first.connection_id)] == ["skipped", "ok"]
    # A released lease: the second worker syncs now.
    assert second.run().status is SyncStatus.OK


def test_a_dead_workers_lease_lapses_and_the_next_run_resumes(make_store: StoreMaker) -> None:
    clock = FakeClock()
    sim = ToyShopSimulator(seed=4, customers=10, orders=20, products=4, clock=clock)
    store = make_store(clock)
    engine = _engine(store, clock, sim, worker_id="worker-b")
    assert engine.run("historical").status is SyncStatus.OK
    held = store.get_checkpoint(engine.connection_id, Stream.ORDERS)
    assert held is not None
    # A worker on another machine takes the lease, then dies without releasing it.
    assert isinstance(store, LeaseStore)
    ghost = store.acquire_lease(engine.connection_id, "other-host:4242:dead", TTL)
    assert ghost is not None
    clock.advance(60)
    skipped = engine.run()
    assert skipped.status is SyncStatus.SKIPPED
    assert "other-host:4242:dead" in (skipped.error or "")
    assert ghost.expires_at.isoformat() in (skipped.error or "")
    clock.advance(61)  # the ghost's lease has lapsed
    resumed = engine.run()
    assert resumed.status is SyncStatus.OK
    orders = resumed.stream(Stream.ORDERS)
    assert orders.mode == "incremental"
    assert orders.since == held.value - engine.effective_overlap
    lease = store.acquire_lease(engine.connection_id, "worker-c", TTL)
    assert lease is not None
    assert lease.token > ghost.token


def test_a_run_that_loses_its_lease_stops_before_its_checkpoint(make_store: StoreMaker) -> None:
    clock = FakeClock()
    sim = ToyShopSimulator(seed=5, customers=10, orders=20, products=4, clock=clock)
    store = make_store(clock)
    other = make_store(clock)
    assert isinstance(other, LeaseStore)

    def stall(progress: SyncProgress) -> None:
        if progress.stream is Stream.CUSTOMERS and progress.phase == "start":
            clock.advance(TTL.total_seconds() + 1)  # stalled past its lease...
            assert other.acquire_lease(engine.connection_id, "worker-z", TTL) is not None

    engine = _engine(store, clock, sim, worker_id="worker-a", on_progress=stall)
    report = engine.run("historical")
    assert report.status is SyncStatus.INTERRUPTED
    assert "taken by another worker" in (report.error or "")
    assert store.get_checkpoint(engine.connection_id, Stream.CUSTOMERS) is None
    assert store.get_checkpoint(engine.connection_id, Stream.PRODUCTS) is not None
    current = other.current_lease(engine.connection_id)
    assert current is not None
    assert current.holder == "worker-z"


def test_a_killed_local_process_lease_is_broken_at_once(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    script = (
        "import datetime, os, sys\n"
        "from commerce_connectors.state import SQLiteStateStore\n"
        "from commerce_connectors.state.leases import default_worker_id\n"
        "s = SQLiteStateStore(sys.argv[1])\n"
        "lease = s.acquire_lease('toyshop:1', default_worker_id(), datetime.timedelta(hours=1))\n"
        "print(lease.holder, flush=True)\n"
        "os._exit(9)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script, str(db)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 9, done.stderr
    holder = done.stdout.strip()
    assert holder_is_dead(holder)
    assert not holder_is_dead(default_worker_id())
    store = SQLiteStateStore(db)
    try:
        keeper = LeaseKeeper(store, "toyshop:1", default_worker_id(), TTL, timer=False)
        assert keeper.acquire(), keeper.refusal()
        assert keeper.lease is not None
        assert keeper.lease.token == 2
        keeper.release()
    finally:
        store.close()


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_timer_keeps_a_lease_alive_between_batches() -> None:
    # Leases are timed by a FakeClock; only the timer's thread runs in real time, and
    # the test waits (generously) for it to renew: no real-time margins to miss.
    clock = FakeClock()
    store = MemoryStateStore(clock=clock)
    keeper = LeaseKeeper(store, "c", "a", TTL, interval=_dt.timedelta(milliseconds=5))
    assert keeper.acquire()
    for _ in range(3):
        clock.advance(TTL.total_seconds() * 0.6)  # past the lease's half, no explicit renewal
        now = clock.now()

        def renewed(now: _dt.datetime = now) -> bool:
            held = store.current_lease("c")
            return held is not None and held.expires_at >= now + TTL

        assert _wait_for(renewed), store.current_lease("c")
    keeper.release()
    assert store.current_lease("c") is None
    lazy = LeaseKeeper(store, "c", "b", TTL, timer=False)
    assert lazy.acquire()
    time.sleep(0.05)
    clock.advance(TTL.total_seconds() + 1)
    assert store.current_lease("c") is None  # without the timer it lapses


def _holder_with(**changes: str) -> str:
    """This process's worker id with some of its parts replaced."""
    host, pid, suffix, boot, namespace, started = default_worker_id().rsplit(":", 5)
    parts = {"host": host, "pid": pid, "suffix": suffix, "boot": boot}
    parts |= {"namespace": namespace, "started": started} | changes
    return ":".join(parts[k] for k in ("host", "pid", "suffix", "boot", "namespace", "started"))


def _gone_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="judged on Linux only")
def test_only_provably_dead_local_holders_are_judged_dead() -> None:
    gone = str(_gone_pid())
    assert holder_is_dead(_holder_with(pid=gone))
    # Another container (same host name, its own pid namespace) or another boot: its
    # pids mean nothing here, so its lease is left to lapse.
    assert not holder_is_dead(_holder_with(pid=gone, namespace="1"))
    assert not holder_is_dead(_holder_with(pid=gone, boot="0" * 32))
    assert not holder_is_dead(_holder_with(pid=gone, host="elsewhere"))
    # The old form (host:pid:suffix) says too little to be sure.
    import socket

    assert not holder_is_dead(f"{socket.gethostname()}:{gone}:abc")
    # A live process with the holder's pid: alive only if it started when the holder did.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            from commerce_connectors.state.leases import _proc_start_time

            started = _proc_start_time(live.pid)
            assert started is not None
            assert not holder_is_dead(_holder_with(pid=str(live.pid), started=started))
            reused = str(int(started) - 1)
            assert holder_is_dead(_holder_with(pid=str(live.pid), started=reused))
        finally:
            live.kill()


class _FailsOnce(MemoryStateStore):
    """A store whose ``failing`` call raises once (a database hiccup)."""

    failing = ""

    def _maybe_fail(self, name: str) -> None:
        if self.failing == name:
            self.failing = ""
            raise RuntimeError(f"hiccup in {name}")

    def start_run(self, *args: object, **kwargs: object) -> int:
        self._maybe_fail("start_run")
        return super().start_run(*args, **kwargs)  # type: ignore[arg-type]

    def open_dead_letter_keys(self, connection_id: str) -> set[tuple[str, str]]:
        self._maybe_fail("open_dead_letter_keys")
        return super().open_dead_letter_keys(connection_id)

    def finish_run(self, *args: object, **kwargs: object) -> None:
        self._maybe_fail("finish_run")
        super().finish_run(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("failing", ["start_run", "open_dead_letter_keys", "finish_run"])
def test_a_failing_store_call_releases_the_lease(failing: str) -> None:
    import threading

    clock = FakeClock()
    sim = ToyShopSimulator(seed=3, customers=5, orders=5, products=2, clock=clock)
    store = _FailsOnce(clock=clock)
    store.failing = failing
    engine = _engine(store, clock, sim, worker_id="worker-a")
    with pytest.raises(RuntimeError, match=failing):
        engine.run()
    assert store.current_lease(engine.connection_id) is None
    assert not [t for t in threading.enumerate() if t.name.startswith("lease:")]
    # Another worker syncs the connection at once.
    again = _engine(store, clock, sim, worker_id="worker-b")
    assert again.run().status is SyncStatus.OK


def test_postgres_leases_use_the_servers_clock(postgres_schema_url: str) -> None:
    from commerce_connectors.state.postgres import PostgresStateStore

    a = PostgresStateStore(postgres_schema_url)
    b = PostgresStateStore(postgres_schema_url)
    try:
        ttl = _dt.timedelta(seconds=0.5)
        first = a.acquire_lease("c", "a", ttl)
        assert first is not None
        assert b.acquire_lease("c", "b", ttl) is None
        time.sleep(0.6)
        second = b.acquire_lease("c", "b", ttl)
        assert second is not None
        assert second.token == first.token + 1
        assert a.renew_lease(first, ttl) is None
    finally:
        a.close()
        b.close()
