"""The state-store conformance suite on every store, and shown able to fail."""

from __future__ import annotations

import datetime as _dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.clock import Clock
from commerce_connectors.protocols import InboxStore, Lease, LeaseStore, StateStore
from commerce_connectors.state import MemoryStateStore, SQLiteStateStore, open_state_store
from commerce_connectors.testing.conformance import ConformanceError
from commerce_connectors.testing.state_conformance import check_state_store


def test_memory_store_conforms() -> None:
    check_state_store(lambda clock: MemoryStateStore(clock=clock))


def test_sqlite_store_conforms(tmp_path: Path) -> None:
    made = iter(range(100))
    check_state_store(lambda clock: SQLiteStateStore(tmp_path / f"{next(made)}.db", clock=clock))


def test_postgres_store_conforms(postgres_url: str) -> None:
    from commerce_connectors.state.postgres import PostgresStateStore

    made = iter(range(100))
    schema = f"state_{uuid.uuid4().hex[:8]}"
    check_state_store(
        lambda clock: PostgresStateStore(
            f"{postgres_url}?schema={schema}_{next(made)}", clock=clock
        )
    )


def test_open_state_store_opens_postgres(postgres_schema_url: str) -> None:
    from commerce_connectors.state.postgres import PostgresStateStore

    for url in (postgres_schema_url, postgres_schema_url.replace("postgresql://", "postgres://")):
        store = open_state_store(url)
        try:
            assert isinstance(store, PostgresStateStore)
            for protocol in (StateStore, InboxStore, LeaseStore):
                assert isinstance(store, protocol)
            password = store.url.password
            assert password
            assert password not in repr(store)
        finally:
            store.close()


class _GreedyLeases(MemoryStateStore):
    """Hands the lease to whoever asks: two workers would sync one connection."""

    def acquire_lease(self, connection_id: str, holder: str, ttl: _dt.timedelta) -> Lease | None:
        now = self.clock.now()
        return Lease(connection_id, holder, 1, now, now + ttl)


class _DuplicateInbox(MemoryStateStore):
    """Stores a redelivered event again: it would be processed twice."""

    def add_event(self, connection_id: str, event: Any, **kwargs: Any) -> Any:
        self._event_keys.discard((connection_id, event.event_id))
        return super().add_event(connection_id, event, **kwargs)


class _ForgetfulCheckpoints(MemoryStateStore):
    """Keeps the first checkpoint of a stream: incremental runs would re-read forever."""

    def save_checkpoint(self, checkpoint: Any) -> None:
        if self.get_checkpoint(checkpoint.connection_id, checkpoint.stream) is None:
            super().save_checkpoint(checkpoint)


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_GreedyLeases, "check_leases"),
        (_DuplicateInbox, "check_inbox"),
        (_ForgetfulCheckpoints, "check_checkpoints"),
    ],
)
def test_the_suite_catches_broken_stores(broken: type[MemoryStateStore], check: str) -> None:
    def make(clock: Clock) -> StateStore:
        return broken(clock=clock)

    with pytest.raises(ConformanceError) as caught:
        check_state_store(make)
    message = str(caught.value)
    assert check in message
    assert "1 state store conformance check(s) failed" in message
