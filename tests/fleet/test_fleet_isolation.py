"""What one connection, one worker or one callback can break in a fleet: only itself."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from _stores import DieOnce, make_store, served

from commerce_connectors._http.redaction import Redactor
from commerce_connectors.errors import ConfigurationError
from commerce_connectors.fleet import (
    ConnectionSpec,
    FleetFile,
    FleetReport,
    SimulatedStore,
    TokenRef,
    run_rounds,
    sync_fleet,
)
from commerce_connectors.fleet._run import _clean
from commerce_connectors.sinks import open_sink
from commerce_connectors.state import open_state_store
from commerce_connectors.state.leases import default_worker_id
from commerce_connectors.sync import SyncStatus


class _Unpicklable:
    """A token provider holding a lock: it cannot travel to another process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self) -> str:
        return "never-used"


def _database(tmp_path: Path) -> str:
    """A SQLite URL whose sink and state tables exist already.

    Two threads opening a new SQLite file at the same instant can meet "database is
    locked" while one creates the tables; these tests are about something else.
    """
    url = f"sqlite:///{tmp_path / 'f.db'}"
    open_sink(url).close()
    open_state_store(url).close()
    return url


def _simulated(*numbers: int) -> list[ConnectionSpec]:
    return [
        ConnectionSpec.simulate(SimulatedStore("square", n, customers=3, orders=3, products=2))
        for n in numbers
    ]


def _unpicklable() -> ConnectionSpec:
    return ConnectionSpec(
        "bigcommerce", {"store_hash": "abc"}, token=TokenRef(provider=_Unpicklable()), name="bad"
    )


def test_a_spec_the_worker_processes_cannot_receive_fails_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    with cf.ProcessPoolExecutor(1) as pool:
        report = sync_fleet([*_simulated(1, 2), _unpicklable()], sink=url, state=url, executor=pool)
    assert report.by_status() == {"failed": 1, "ok": 2}, report.summary()
    assert "pickle" in (report["bad"].error or "")
    assert not report.ok


def test_an_executor_that_takes_no_task_gives_failed_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    pool = cf.ThreadPoolExecutor(1)
    pool.shutdown()
    specs = _simulated(1, 2)
    seen: list[str] = []
    report = sync_fleet(
        specs, sink=url, state=url, executor=pool, on_report=lambda r: seen.append(r.name)
    )
    assert [r.status for r in report] == [SyncStatus.FAILED, SyncStatus.FAILED]
    assert all("did not take the task" in (r.error or "") for r in report)
    assert seen == [s.name for s in specs]


@pytest.mark.parametrize("pooled", [False, True])
def test_an_on_report_that_raises_stops_nothing(tmp_path: Path, pooled: bool) -> None:
    url = _database(tmp_path)
    calls: list[str] = []

    def broken(report: Any) -> None:
        calls.append(report.name)
        raise RuntimeError("the caller's bug")

    with cf.ThreadPoolExecutor(2) as pool:
        report = sync_fleet(
            _simulated(1, 2, 3), sink=url, state=url, executor=pool if pooled else None,
            on_report=broken,
        )  # fmt: skip
    assert report.ok, report.summary()
    assert sorted(calls) == sorted(r.name for r in report)


def test_a_connection_another_worker_holds_is_skipped_and_needs_no_attention(
    tmp_path: Path, fleet_tokens: None
) -> None:
    url = _database(tmp_path)
    busy, free = make_store("tiendanube", 33), make_store("bigcommerce", 33)
    with served([busy, free]):
        assert busy.spec is not None
        assert free.spec is not None
        state = open_state_store(url)
        try:  # another worker (this process) is syncing the first connection
            lease = state.acquire_lease(  # type: ignore[attr-defined]
                busy.connection_id, default_worker_id(), dt.timedelta(minutes=5)
            )
            assert lease is not None
            with cf.ThreadPoolExecutor(2) as pool:
                report = sync_fleet([busy.spec, free.spec], sink=url, state=url, executor=pool)
            state.release_lease(lease)  # type: ignore[attr-defined]
        finally:
            state.close()
        again = sync_fleet([busy.spec], sink=url, state=url)
    assert report[busy.spec.name].status is SyncStatus.SKIPPED
    assert "lease" in (report[busy.spec.name].error or "")
    assert report[busy.spec.name].counts.get("read", 0) == 0
    assert report[free.spec.name].status is SyncStatus.OK
    assert report.ok  # synced by the other worker: nothing to fix
    assert again.ok
    assert again[busy.spec.name].status is SyncStatus.OK  # the lease released: synced now


def test_a_worker_process_lost_costs_its_round_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    flag = tmp_path / "die.flag"
    flag.write_text("die once")
    victim = ConnectionSpec.simulate(
        SimulatedStore("tiendanube", 9, customers=3, orders=3, products=2), name="victim"
    )
    # The victim's worker process exits as its token is read: a real spec whose
    # provider dies once (the simulated connection never reads a token).
    dying = ConnectionSpec(
        "square", {"location_id": "L1"}, token=TokenRef(provider=DieOnce(str(flag))), name="dies"
    )
    fleet = FleetFile(
        sink=url, state=url, mode="auto", connections=(*_simulated(1, 2, 3), victim, dying)
    )
    reports = run_rounds(fleet, processes=2, rounds=3)
    assert len(reports) == 3
    first = reports[0]
    assert first["dies"].status is SyncStatus.FAILED
    assert "worker" in (first["dies"].error or "")
    for later in reports[1:]:
        # New worker processes: every connection runs; "dies" now fails on its own
        # (its provider gives no token), never on a broken pool.
        assert [r.name for r in later if r.status is not SyncStatus.OK] == ["dies"], later.summary()
        assert "no token" in (later["dies"].error or "")


def test_rounds_without_an_interval_run_back_to_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    fleet = FleetFile(sink=url, state=url, mode="auto", connections=tuple(_simulated(1)))
    seen: list[FleetReport] = []
    reports = run_rounds(fleet, rounds=3, on_report=seen.append)
    assert len(reports) == len(seen) == 3
    assert [r.connections[0].mode for r in reports] == ["historical", "incremental", "incremental"]
    stop = threading.Event()
    stopped = run_rounds(fleet, rounds=5, on_report=lambda r: stop.set(), stop=stop)
    assert len(stopped) == 1


def test_an_unreachable_scheduler_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    from commerce_connectors.fleet import _file

    monkeypatch.setattr(_file, "SCHEDULER_CONNECT_TIMEOUT", 1.0)
    url = f"sqlite:///{tmp_path / 'f.db'}"
    fleet = FleetFile(sink=url, state=url, mode="auto", connections=tuple(_simulated(1)))
    with pytest.raises(
        ConfigurationError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        run_rounds(fleet, scheduler="tcp://127.0.0.1:9")


@pytest.mark.parametrize(
    "text",
    [
        "connection to postgresql://crm:S3cret/PW@db.internal/shops failed",
        "connection to 'postgresql://crm:S3c@ret:/x@db.internal:5432/shops?schema=a' failed",
        "postgres://crm:S3cret%2Fpw@db/x",
    ],
)
def test_a_database_password_never_reaches_a_report(text: str) -> None:
    cleaned = _clean(Redactor(), text)
    assert "S3c" not in cleaned
    assert "crm:***@db" in cleaned
