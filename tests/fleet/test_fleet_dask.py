"""Fleets on a Dask LocalCluster of worker processes, into one shared database."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _stores import PLATFORMS, Store, killing, make_store, served

from commerce_connectors.fleet import (
    ConnectionSpec,
    FleetReport,
    SimulatedStore,
    TokenRef,
    sync_fleet,
)
from commerce_connectors.sinks import open_sink
from commerce_connectors.sync import SyncStatus

pytestmark = pytest.mark.usefixtures("fleet_tokens")

#: Short leases, so that a lost worker's connection is free again within the test.
LEASE = dt.timedelta(seconds=3)


def _synced(url: str) -> dict[tuple[str, str], set[str]]:
    """External ids in the sink by (connection, kind)."""
    sink = open_sink(url)
    try:
        out: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
        for key in sink.snapshot():  # type: ignore[attr-defined]
            out[(key.connection_id, key.kind)].add(key.external_id)
        return out
    finally:
        sink.close()


def _contents(url: str) -> dict[Any, Any]:
    """What the sink holds, without the run-time trigger decisions."""
    sink = open_sink(url)
    try:
        return {k: (v["data"], v["fields"]) for k, v in sink.snapshot().items()}  # type: ignore[attr-defined]
    finally:
        sink.close()


def _assert_ground_truth(url: str, stores: list[Store]) -> None:
    synced = _synced(url)
    for store in stores:
        assert store.expected is not None
        for kind, ids in store.expected().items():
            assert ids, (store.spec, kind)  # a check on nothing proves nothing
            assert synced[(store.connection_id, kind)] == ids, (store.spec, kind)


def test_twenty_stores_of_four_platforms_sync_into_one_database_as_each_store_holds(
    dask_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = [make_store(p, n) for n in range(5) for p in PLATFORMS]
    revoked = make_store("bigcommerce", 30)  # its variable holds another store's token
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    with served([*stores, revoked]):
        assert revoked.spec is not None
        bad_token = revoked.spec.__class__(
            "bigcommerce", revoked.spec.options, token=stores[1].token_env, name="revoked"
        )
        unset = revoked.spec.__class__(
            "bigcommerce", revoked.spec.options, token="CC_FLEET_TEST_UNSET", name="unset"
        )
        specs = [s.spec for s in stores if s.spec is not None] + [bad_token, unset]
        seen: list[str] = []
        report = sync_fleet(
            specs,
            sink=url,
            state=url,
            executor=dask_client,
            lease_ttl=LEASE,
            on_report=lambda r: seen.append(r.name),
        )
    assert isinstance(report, FleetReport)
    assert sorted(seen) == sorted(s.name for s in specs)
    assert [r.name for r in report] == [s.name for s in specs]  # in the specs' order
    statuses = {r.name: r.status for r in report}
    assert statuses.pop("revoked") is SyncStatus.AUTH_ERROR
    assert statuses.pop("unset") is SyncStatus.FAILED
    assert "CC_FLEET_TEST_UNSET is not set" in (report["unset"].error or "")
    assert set(statuses.values()) == {SyncStatus.OK}, report.summary()
    assert report.by_status() == {"auth_error": 1, "failed": 1, "ok": 20}
    # Every task ran in a worker process, none here.
    assert {r.worker.rsplit(":", 1)[1] for r in report} - {str(os.getpid())}
    assert all(not r.worker.endswith(f":{os.getpid()}") for r in report)
    # No token anywhere in what came back.
    text = repr(report) + report.summary() + "".join(str(r.to_dict()) for r in report)
    assert not [s.token for s in [*stores, revoked] if s.token in text]
    _assert_ground_truth(url, stores)


def test_a_worker_killed_mid_sync_loses_and_doubles_nothing_by_the_next_round(
    dask_client: Any, tmp_path: Path
) -> None:
    stores = [make_store(p, 10 + n) for n, p in enumerate(PLATFORMS)]
    fleet_url = f"sqlite:///{tmp_path / 'fleet.db'}"
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    with served(stores):
        specs = [s.spec for s in stores if s.spec is not None]
        # The Shopify store's sync takes seconds (bulk exports): its worker dies inside
        # it, once its first stream is written and checkpointed and before the others.
        specs[0] = killing(stores[0], tmp_path / "kill.flag", tmp_path / "fleet.db")
        first = sync_fleet(
            specs, sink=fleet_url, state=fleet_url, executor=dask_client, lease_ttl=LEASE
        )
        killed = int((tmp_path / "kill.flag.pid").read_text())
        # Partial data was there when the worker died: records and a checkpoint, not all.
        seen = json.loads((tmp_path / "kill.flag.seen").read_text())
        expected = stores[0].expected()
        assert seen["checkpoints"] >= 1
        assert seen["products"] + seen["orders"] + seen["carts"] > 0, seen
        assert (seen["products"], seen["orders"], seen["carts"]) != (
            len(expected["product"]), len(expected["order"]), len(expected["cart"])
        ), seen  # fmt: skip
        with pytest.raises(ProcessLookupError):  # the worker that started the sync is dead
            os.kill(killed, 0)
        # Dask ran the task again on another worker: done, or skipped while the dead
        # worker's lease had not lapsed yet.
        victim = first[specs[0].name]
        assert victim.status in (SyncStatus.OK, SyncStatus.SKIPPED), first.summary()
        assert not victim.worker.endswith(f":{killed}")
        assert all(r.ok for r in first if r.name != specs[0].name), first.summary()
        time.sleep(LEASE.total_seconds() + 0.5)  # the dead worker's lease lapses
        second = sync_fleet(
            specs, sink=fleet_url, state=fleet_url, executor=dask_client, lease_ttl=LEASE
        )
        assert second.ok, second.summary()
        reference = sync_fleet(  # the same stores, uninterrupted
            [s.spec for s in stores if s.spec is not None],
            sink=reference_url,
            state=reference_url,
            executor=dask_client,
        )
        assert reference.ok, reference.summary()
    assert _contents(fleet_url) == _contents(reference_url)
    _assert_ground_truth(fleet_url, stores)
    fleet_sink, reference_sink = open_sink(fleet_url), open_sink(reference_url)
    try:  # no line, contact or record written twice
        assert fleet_sink.counts() == reference_sink.counts()  # type: ignore[attr-defined]
    finally:
        fleet_sink.close()
        reference_sink.close()


def test_a_fleet_shares_one_postgresql_database_for_data_and_state(
    dask_client: Any, postgres_schema_url: str
) -> None:
    pytest.importorskip("psycopg")
    stores = [make_store(p, 25) for p in PLATFORMS]
    with served(stores):
        specs = [s.spec for s in stores if s.spec is not None]
        first = sync_fleet(
            specs,
            sink=postgres_schema_url,
            state=postgres_schema_url,
            executor=dask_client,
            lease_ttl=LEASE,
        )
        assert first.ok, first.summary()
        second = sync_fleet(
            specs, sink=postgres_schema_url, state=postgres_schema_url, executor=dask_client
        )
    assert second.ok, second.summary()
    assert [r.mode for r in second] == ["incremental"] * len(specs)  # checkpoints were shared
    assert sum(r.counts.get("new", 0) for r in second) == 0  # nothing written twice
    password = postgres_schema_url.split("@")[0].rsplit(":", 1)[1]
    assert password not in first.summary() + second.summary()
    _assert_ground_truth(postgres_schema_url, stores)


class _Unpicklable:
    """A token provider holding a lock: Dask cannot send it to a worker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self) -> str:
        return "never-used"


def test_a_spec_dask_cannot_send_fails_alone(dask_client: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    good = [
        ConnectionSpec.simulate(SimulatedStore("square", n, customers=3, orders=3, products=2))
        for n in (1, 2)
    ]
    bad = ConnectionSpec(
        "bigcommerce", {"store_hash": "abc"}, token=TokenRef(provider=_Unpicklable()), name="bad"
    )
    report = sync_fleet([*good, bad], sink=url, state=url, executor=dask_client)
    assert report.by_status() == {"failed": 1, "ok": 2}, report.summary()
    assert report["bad"].status is SyncStatus.FAILED
    assert "serialize" in (report["bad"].error or "") or "pickle" in (report["bad"].error or "")
