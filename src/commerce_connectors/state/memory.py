"""MemoryStateStore: checkpoints, dead letters, parked contacts and runs in memory."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._webhooks import WebhookEvent
from ..clock import Clock, SystemClock
from ..errors import InvalidRecordError
from ..protocols import (
    Checkpoint,
    ConnectionState,
    ConnectionStatus,
    DeadLetter,
    EventStatus,
    InboxEvent,
    Lease,
    ParkedContact,
    RunRecord,
    Stream,
)
from ..rules import Contact, Reason, merge_contacts
from ._common import (
    Redaction,
    dead_letter_key,
    lease_renewed,
    lease_taken,
    merge_problems,
    redacted_outcome,
    stored_headers,
)

__all__ = ["MemoryStateStore"]


class MemoryStateStore:
    """A :class:`~commerce_connectors.protocols.StateStore` for tests and short scripts.

    Args:
        clock: the time leases expire by (default: the system clock).

    Example:
        >>> import datetime as dt
        >>> store = MemoryStateStore()
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        >>> store.save_checkpoint(Checkpoint("shop:1", Stream.ORDERS, t, t))
        >>> store.get_checkpoint("shop:1", Stream.ORDERS).value == t
        True
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._leases: dict[str, Lease] = {}
        self._checkpoints: dict[tuple[str, Stream], Checkpoint] = {}
        self._letters: dict[tuple[str, str, str], DeadLetter] = {}
        # Resolved letters a later failure of the same record replaced (kept for history).
        self._resolved_letters: list[DeadLetter] = []
        self._letter_ids = 0
        self._parked: dict[str, ParkedContact] = {}
        self._runs: list[RunRecord] = []
        self._connections: dict[str, ConnectionStatus] = {}
        self._events: dict[int, InboxEvent] = {}
        self._event_keys: set[tuple[str, str]] = set()

    # -- checkpoints --------------------------------------------------------------------

    def get_checkpoint(self, connection_id: str, stream: Stream) -> Checkpoint | None:
        with self._lock:
            return self._checkpoints.get((connection_id, Stream(stream)))

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._checkpoints[(checkpoint.connection_id, checkpoint.stream)] = checkpoint

    def checkpoints(self, connection_id: str | None = None) -> list[Checkpoint]:
        with self._lock:
            return sorted(
                (c for c in self._checkpoints.values() if connection_id in (None, c.connection_id)),
                key=lambda c: (c.connection_id, c.stream.value),
            )

    # -- dead letters -------------------------------------------------------------------

    def add_dead_letter(
        self, connection_id: str, error: InvalidRecordError, at: _dt.datetime
    ) -> DeadLetter:
        key = (connection_id, error.kind, dead_letter_key(error))
        with self._lock:
            held = self._letters.get(key)
            if held is None or held.resolved_at is not None:
                if held is not None:
                    self._resolved_letters.append(held)
                self._letter_ids += 1
                letter = DeadLetter(
                    id=self._letter_ids,
                    connection_id=connection_id,
                    kind=error.kind,
                    record_id=error.record_id,
                    payload=error.payload,
                    problems=merge_problems((), error, at),
                    error=str(error),
                    first_seen=at,
                    last_seen=at,
                )
            else:
                letter = attrs.evolve(
                    held,
                    payload=error.payload,
                    problems=merge_problems(held.problems, error, at),
                    error=str(error),
                    last_seen=at,
                    count=held.count + 1,
                )
            self._letters[key] = letter
            return letter

    def dead_letters(
        self, connection_id: str | None = None, *, include_resolved: bool = False
    ) -> list[DeadLetter]:
        with self._lock:
            return sorted(
                (
                    d
                    for d in (*self._letters.values(), *self._resolved_letters)
                    if connection_id in (None, d.connection_id)
                    and (include_resolved or d.resolved_at is None)
                ),
                key=lambda d: d.id,
            )

    def open_dead_letter_keys(self, connection_id: str) -> set[tuple[str, str]]:
        with self._lock:
            return {
                (kind, rid)
                for (conn, kind, rid), d in self._letters.items()
                if conn == connection_id and d.resolved_at is None
            }

    def resolve_dead_letters(
        self, connection_id: str, keys: Iterable[tuple[str, str]], at: _dt.datetime
    ) -> int:
        done = 0
        with self._lock:
            for kind, rid in keys:
                held = self._letters.get((connection_id, kind, rid))
                if held is not None and held.resolved_at is None:
                    self._letters[(connection_id, kind, rid)] = attrs.evolve(held, resolved_at=at)
                    done += 1
        return done

    # -- parked contacts ----------------------------------------------------------------

    def park_contacts(
        self, connection_id: str, contacts: Sequence[tuple[Contact, Reason]], at: _dt.datetime
    ) -> None:
        with self._lock:
            for contact, reason in contacts:
                identity = contact.key.value
                held = self._parked.get(identity)
                if held is None:
                    self._parked[identity] = ParkedContact(
                        identity, connection_id, contact, reason, at, at
                    )
                else:
                    merged = merge_contacts([held.contact, contact])[contact.key]
                    self._parked[identity] = attrs.evolve(
                        held, contact=merged, reason=reason, last_seen=at
                    )

    def parked_contacts(self, connection_id: str | None = None) -> list[ParkedContact]:
        with self._lock:
            return sorted(
                (p for p in self._parked.values() if connection_id in (None, p.connection_id)),
                key=lambda p: (p.first_seen, p.identity),
            )

    def unpark_contacts(self, identities: Iterable[str]) -> None:
        with self._lock:
            for identity in identities:
                self._parked.pop(identity, None)

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, connection_id: str, mode: str, at: _dt.datetime) -> int:
        with self._lock:
            run = RunRecord(len(self._runs) + 1, connection_id, mode, at)
            self._runs.append(run)
            return run.id

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        at: _dt.datetime,
        counts: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        with self._lock:
            run = self._runs[run_id - 1]
            self._runs[run_id - 1] = attrs.evolve(
                run, ended_at=at, status=status, counts=dict(counts), error=error
            )

    def runs(self, connection_id: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        with self._lock:
            chosen = [r for r in self._runs if connection_id in (None, r.connection_id)]
            return list(reversed(chosen))[:limit]

    def close(self) -> None:
        """Nothing to release."""

    # -- connection lifecycle -----------------------------------------------------------

    def connection_status(self, connection_id: str) -> ConnectionStatus:
        with self._lock:
            return self._connections.get(
                connection_id, ConnectionStatus(connection_id, ConnectionState.ACTIVE)
            )

    def set_connection_state(
        self,
        connection_id: str,
        state: ConnectionState,
        at: _dt.datetime,
        reason: str | None = None,
    ) -> ConnectionStatus:
        status = ConnectionStatus(connection_id, state, at, reason)
        with self._lock:
            self._connections[connection_id] = status
        return status

    def connection_statuses(self) -> list[ConnectionStatus]:
        with self._lock:
            return sorted(self._connections.values(), key=lambda s: s.connection_id)

    # -- webhook inbox ------------------------------------------------------------------

    def add_event(
        self,
        connection_id: str,
        event: WebhookEvent,
        *,
        body: bytes,
        headers: Mapping[str, str],
        received_at: _dt.datetime,
        status: EventStatus = EventStatus.PENDING,
        outcome: str | None = None,
    ) -> InboxEvent | None:
        with self._lock:
            if (connection_id, event.event_id) in self._event_keys:
                return None
            self._event_keys.add((connection_id, event.event_id))
            stored = InboxEvent(
                id=len(self._events) + 1,
                connection_id=connection_id,
                platform=event.platform.value,
                event_id=event.event_id,
                topic=event.topic,
                kind=event.kind,
                external_id=event.external_id,
                action=event.action.value,
                occurred_at=event.occurred_at,
                received_at=received_at,
                headers=stored_headers(headers),
                body=bytes(body),
                status=status,
                next_attempt_at=received_at,
                outcome=outcome,
                processed_at=None if status is EventStatus.PENDING else received_at,
            )
            self._events[stored.id] = stored
            return stored

    def claim_events(
        self,
        now: _dt.datetime,
        *,
        connection_ids: Iterable[str] | None = None,
        limit: int = 100,
        lease: _dt.timedelta = _dt.timedelta(minutes=5),
        actions: Iterable[str] | None = None,
    ) -> list[InboxEvent]:
        wanted = None if connection_ids is None else set(connection_ids)
        kinds = None if actions is None else set(actions)
        with self._lock:
            due = sorted(
                (
                    e
                    for e in self._events.values()
                    if e.status is EventStatus.PENDING
                    and (e.next_attempt_at is None or e.next_attempt_at <= now)
                    and (wanted is None or e.connection_id in wanted)
                    and (kinds is None or e.action in kinds)
                ),
                key=lambda e: (e.occurred_at, e.id),
            )[:limit]
            for e in due:
                self._events[e.id] = attrs.evolve(e, next_attempt_at=now + lease)
            return due

    def finish_event(
        self, event_id: int, status: EventStatus, at: _dt.datetime, outcome: str | None = None
    ) -> None:
        with self._lock:
            e = self._events[event_id]
            if e.status is not EventStatus.PENDING:
                return
            self._events[event_id] = attrs.evolve(
                e, status=status, processed_at=at, outcome=outcome, next_attempt_at=None
            )

    def retry_event(
        self,
        event_id: int,
        at: _dt.datetime,
        next_attempt_at: _dt.datetime,
        error: str | None = None,
        *,
        count_attempt: bool = True,
    ) -> None:
        with self._lock:
            e = self._events[event_id]
            if e.status is not EventStatus.PENDING:
                return
            self._events[event_id] = attrs.evolve(
                e,
                status=EventStatus.PENDING,
                attempts=e.attempts + int(count_attempt),
                next_attempt_at=next_attempt_at,
                outcome=error,
            )

    def cancel_events(
        self, connection_id: str, kind: str, external_id: str, at: _dt.datetime, outcome: str
    ) -> int:
        with self._lock:
            hits = [
                e
                for e in self._events.values()
                if e.status is EventStatus.PENDING
                and e.connection_id == connection_id
                and e.kind == kind
                and e.external_id == external_id
            ]
            for e in hits:
                self._events[e.id] = attrs.evolve(
                    e, status=EventStatus.DONE, processed_at=at, outcome=outcome
                )
            return len(hits)

    def redact_events(
        self,
        connection_id: str,
        at: _dt.datetime,
        *,
        needles: Sequence[str] = (),
        records: Sequence[tuple[str, str]] = (),
        everything: bool = False,
        keep: int | None = None,
    ) -> int:
        redaction = Redaction(needles, records, everything=everything)
        changed = 0
        with self._lock:
            for e in list(self._events.values()):
                if e.connection_id != connection_id or e.id == keep or not e.body:
                    continue
                if not redaction.hits_body(e.kind, e.external_id, e.body):
                    continue
                pending = e.status is EventStatus.PENDING
                self._events[e.id] = attrs.evolve(
                    e,
                    body=b"",
                    headers={},
                    status=EventStatus.DONE if pending else e.status,
                    processed_at=at if pending else e.processed_at,
                    outcome=redacted_outcome(e.outcome, pending=pending),
                )
                changed += 1

            def erased(letter: DeadLetter) -> bool:
                if letter.connection_id != connection_id:
                    return False
                return redaction.hits_payload(letter.kind, letter.record_id, letter.payload)

            for key, letter in list(self._letters.items()):
                if erased(letter):
                    del self._letters[key]
                    changed += 1
            kept = [d for d in self._resolved_letters if not erased(d)]
            changed += len(self._resolved_letters) - len(kept)
            self._resolved_letters = kept
        return changed

    def events(
        self,
        connection_id: str | None = None,
        *,
        status: EventStatus | None = None,
        limit: int = 100,
    ) -> list[InboxEvent]:
        with self._lock:
            return [
                e
                for e in sorted(self._events.values(), key=lambda e: e.id)
                if connection_id in (None, e.connection_id) and status in (None, e.status)
            ][:limit]

    def event_counts(self, connection_id: str | None = None) -> dict[EventStatus, int]:
        counts = dict.fromkeys(EventStatus, 0)
        with self._lock:
            for e in self._events.values():
                if connection_id in (None, e.connection_id):
                    counts[e.status] += 1
        return counts

    # -- leases -------------------------------------------------------------------------

    def acquire_lease(self, connection_id: str, holder: str, ttl: _dt.timedelta) -> Lease | None:
        with self._lock:
            lease = lease_taken(
                self._leases.get(connection_id), connection_id, holder, ttl, self.clock.now()
            )
            if lease is not None:
                self._leases[connection_id] = lease
            return lease

    def renew_lease(self, lease: Lease, ttl: _dt.timedelta) -> Lease | None:
        with self._lock:
            renewed = lease_renewed(
                self._leases.get(lease.connection_id), lease, ttl, self.clock.now()
            )
            if renewed is not None:
                self._leases[lease.connection_id] = renewed
            return renewed

    def release_lease(self, lease: Lease) -> bool:
        with self._lock:
            held = self._leases.get(lease.connection_id)
            if lease_renewed(held, lease, _dt.timedelta(seconds=1), self.clock.now()) is None:
                return False
            assert held is not None
            self._leases[lease.connection_id] = attrs.evolve(held, expires_at=held.acquired_at)
            return True

    def current_lease(self, connection_id: str) -> Lease | None:
        with self._lock:
            held = self._leases.get(connection_id)
            return held if held is not None and held.expires_at > self.clock.now() else None
