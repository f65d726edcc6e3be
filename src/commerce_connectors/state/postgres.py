"""PostgresStateStore: checkpoints, dead letters, the run log, the inbox and leases in PostgreSQL.

Needs the ``postgres`` extra. Open it from a URL (the sink's database and schema
are fine; the tables do not clash)::

    store = open_state_store("postgresql://sync@db.example.com/crm?schema=cc")

The password comes from the URL or from libpq's usual places (``PGPASSWORD``,
``~/.pgpass``) and is never shown: reprs and errors carry the URL with it
replaced by ``***``. Tables are created on first open (``CREATE TABLE IF NOT
EXISTS``) in the URL's ``schema`` (default ``public``): ``checkpoints``,
``dead_letters``, ``parked_contacts``, ``runs``, ``connections``,
``webhook_events`` and ``leases``, with the columns of
:class:`~commerce_connectors.state.SQLiteStateStore` in PostgreSQL types.

Many workers may share one store: inbox claims skip events another worker has
locked (``FOR UPDATE SKIP LOCKED``) and lease a claimed event for a while;
read-modify-write operations (dead letters, parked contacts, redactions) lock
the rows they change. A connection the server drops (a restart, a failover)
fails that call with :class:`~commerce_connectors.errors.TransportError` (a
"try again later" error: the sync engine ends the run as ``retry_later``) and
is replaced on the next call.

Text and JSON are stored as the PostgreSQL sink stores them (see "Text PostgreSQL
cannot hold" in :mod:`commerce_connectors.sinks.postgres`): NUL characters and
floats ``jsonb`` would change are encoded and read back exactly, so the store
keeps whatever :class:`~commerce_connectors.state.SQLiteStateStore` keeps; a
run's counts are JSON text, as in SQLite (key order and floats kept). Results
are ordered as SQLite orders them (``COLLATE "C"``: by code point, whatever the
database's collation). Connection leases
(:class:`~commerce_connectors.protocols.LeaseStore`) are single-statement
compare-and-sets timed by the database server's ``now()``, so workers whose
clocks disagree still agree on expiry (pass ``clock=`` to time them by a clock
of yours instead, as tests do).
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .._webhooks import WebhookEvent
from ..clock import Clock
from ..errors import ConfigurationError, InvalidRecordError, SinkError, TransportError
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
from ..sinks._core import contact_from_data, contact_to_data
from ..sinks.postgres import PostgresURL, connect_postgres, ensure_schema, retry_transaction
from ._common import (
    Redaction,
    check_ttl,
    dead_letter_key,
    merge_problems,
    problems_from_data,
    problems_to_data,
    redacted_outcome,
    stored_headers,
)

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError(
        "PostgreSQL support needs psycopg 3: pip install 'commerce-connectors[postgres]'"
    ) from exc

__all__ = ["PostgresStateStore"]

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    connection_id TEXT NOT NULL, stream TEXT NOT NULL,
    value TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, run_id BIGINT,
    PRIMARY KEY (connection_id, stream)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id BIGSERIAL PRIMARY KEY,
    connection_id TEXT NOT NULL, kind TEXT NOT NULL, record_key TEXT NOT NULL,
    record_id TEXT, payload TEXT NOT NULL, problems TEXT NOT NULL, error TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL, count INTEGER NOT NULL,
    resolved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_open
    ON dead_letters(connection_id, kind, record_key) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS parked_contacts (
    identity TEXT PRIMARY KEY, connection_id TEXT NOT NULL, contact JSONB NOT NULL,
    reason TEXT NOT NULL, first_seen TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id BIGSERIAL PRIMARY KEY,
    connection_id TEXT NOT NULL, mode TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, status TEXT NOT NULL,
    counts TEXT NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_connection ON runs(connection_id, id);
CREATE TABLE IF NOT EXISTS connections (
    connection_id TEXT PRIMARY KEY, state TEXT NOT NULL, changed_at TIMESTAMPTZ, reason TEXT
);
CREATE TABLE IF NOT EXISTS webhook_events (
    id BIGSERIAL PRIMARY KEY,
    connection_id TEXT NOT NULL, platform TEXT NOT NULL, event_id TEXT NOT NULL,
    topic TEXT NOT NULL, kind TEXT, external_id TEXT, action TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL,
    headers TEXT NOT NULL, body BYTEA NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ, outcome TEXT, processed_at TIMESTAMPTZ,
    UNIQUE (connection_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_events_due
    ON webhook_events(next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_events_record
    ON webhook_events(connection_id, kind, external_id) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS leases (
    connection_id TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL
);
"""

_LETTER_COLS = (
    "id, connection_id, kind, record_id, payload, problems, error,"
    " first_seen, last_seen, count, resolved_at"
)
_EVENT_COLS = (
    "id, connection_id, platform, event_id, topic, kind, external_id, action,"
    " occurred_at, received_at, headers, body, status, attempts, next_attempt_at,"
    " outcome, processed_at"
)
_LEASE_COLS = "connection_id, holder, token, acquired_at, expires_at"

Conn = psycopg.Connection[Any]


def _letter(row: Sequence[Any]) -> DeadLetter:
    (id_, conn, kind, rid, payload, problems, error, first, last, count, resolved) = row
    return DeadLetter(
        id=id_,
        connection_id=conn,
        kind=kind,
        record_id=rid,
        payload=json.loads(payload),
        problems=problems_from_data(json.loads(problems)),
        error=error,
        first_seen=first,
        last_seen=last,
        count=count,
        resolved_at=resolved,
    )


def _event(row: Sequence[Any]) -> InboxEvent:
    (id_, conn, platform, event_id, topic, kind, ext, action, occurred, received) = row[:10]
    headers, body, status, attempts, next_at, outcome, processed = row[10:]
    return InboxEvent(
        id=id_,
        connection_id=conn,
        platform=platform,
        event_id=event_id,
        topic=topic,
        kind=kind,
        external_id=ext,
        action=action,
        occurred_at=occurred,
        received_at=received,
        headers=json.loads(headers),
        body=bytes(body),
        status=EventStatus(status),
        attempts=attempts,
        next_attempt_at=next_at,
        outcome=outcome,
        processed_at=processed,
    )


def _lease(row: Sequence[Any] | None) -> Lease | None:
    return None if row is None else Lease(*row)


class PostgresStateStore:
    """A :class:`~commerce_connectors.protocols.StateStore` (with inbox, lifecycle and
    leases) in a PostgreSQL database, shared safely by many workers.

    Args:
        url: ``postgresql://user@host:port/db?schema=cc``; the password from the URL
            or from libpq (``PGPASSWORD``, ``~/.pgpass``).
        clock: time leases by this clock instead of the server's ``now()``.

    Raises:
        ConfigurationError: a malformed URL, or the database cannot be reached
            or the tables cannot be created (the message names the URL, redacted).
    """

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = PostgresURL.parse(url)
        self.clock = clock
        self._lock = threading.Lock()
        try:
            self._conn = connect_postgres(self.url)
        except SinkError as exc:
            raise ConfigurationError(str(exc)) from None
        try:
            ensure_schema(self._conn, self.url, _SCHEMA)
        except psycopg.Error as exc:
            self._conn.close()
            raise ConfigurationError(
                f"cannot create the state tables in PostgreSQL at {self.url.redacted}:"
                f" {self.url.scrub(str(exc)).strip()}"
            ) from None
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> PostgresStateStore:
        """Open the store named by a ``postgresql://`` (or ``postgres://``) URL."""
        return cls(url)

    def _live(self) -> Conn:
        # A connection the server dropped is replaced on the next call (the call that
        # found it dropped failed with TransportError).
        if self._conn.broken or (self._conn.closed and not self._closed):
            try:
                self._conn = connect_postgres(self.url)
            except SinkError as exc:
                raise TransportError(str(exc), platform="postgresql") from None
        return self._conn

    def _unreachable(self, exc: psycopg.OperationalError) -> TransportError:
        # The server went away or cut the session: "try again later", as for any API.
        return TransportError(
            f"the state store at {self.url.redacted} failed: {self.url.scrub(str(exc)).strip()}",
            platform="postgresql",
        )

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._live().execute(sql, params).fetchall()
            except psycopg.OperationalError as exc:
                raise self._unreachable(exc) from None

    def _txn(self, work: Callable[[Conn], _T]) -> _T:
        with self._lock:
            try:
                result: _T = retry_transaction(self._live(), work)
            except psycopg.OperationalError as exc:
                raise self._unreachable(exc) from None
            return result

    # -- checkpoints --------------------------------------------------------------------

    def get_checkpoint(self, connection_id: str, stream: Stream) -> Checkpoint | None:
        rows = self._rows(
            "SELECT value, updated_at, run_id FROM checkpoints"
            " WHERE connection_id = %s AND stream = %s",
            (connection_id, Stream(stream).value),
        )
        if not rows:
            return None
        value, updated, run_id = rows[0]
        return Checkpoint(connection_id, Stream(stream), value, updated, run_id)

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._rows(
            "INSERT INTO checkpoints (connection_id, stream, value, updated_at, run_id)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (connection_id, stream) DO UPDATE"
            " SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at,"
            " run_id = EXCLUDED.run_id RETURNING 1",
            (
                checkpoint.connection_id,
                checkpoint.stream.value,
                checkpoint.value,
                checkpoint.updated_at,
                checkpoint.run_id,
            ),
        )

    def checkpoints(self, connection_id: str | None = None) -> list[Checkpoint]:
        rows = self._rows(
            "SELECT connection_id, stream, value, updated_at, run_id FROM checkpoints"
            " WHERE %(c)s::text IS NULL OR connection_id = %(c)s"
            ' ORDER BY connection_id COLLATE "C", stream COLLATE "C"',
            {"c": connection_id},
        )
        return [Checkpoint(c, Stream(s), v, u, r) for c, s, v, u, r in rows]

    # -- dead letters -------------------------------------------------------------------

    def add_dead_letter(
        self, connection_id: str, error: InvalidRecordError, at: _dt.datetime
    ) -> DeadLetter:
        key = dead_letter_key(error)
        payload = json.dumps(error.payload, ensure_ascii=False, default=str)

        def work(conn: Conn) -> DeadLetter:
            row = conn.execute(
                f"SELECT {_LETTER_COLS} FROM dead_letters"  # noqa: S608 - fixed columns
                " WHERE connection_id = %s AND kind = %s AND record_key = %s"
                " AND resolved_at IS NULL FOR UPDATE",
                (connection_id, error.kind, key),
            ).fetchone()
            if row is None:
                problems = merge_problems((), error, at)
                stored = conn.execute(
                    "INSERT INTO dead_letters (connection_id, kind, record_key, record_id,"  # noqa: S608 - fixed columns
                    " payload, problems, error, first_seen, last_seen, count)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1)"
                    f" RETURNING {_LETTER_COLS}",
                    (
                        connection_id,
                        error.kind,
                        key,
                        error.record_id,
                        payload,
                        json.dumps(problems_to_data(problems)),
                        str(error),
                        at,
                        at,
                    ),
                ).fetchone()
            else:
                held = _letter(row)
                problems = merge_problems(held.problems, error, at)
                stored = conn.execute(
                    "UPDATE dead_letters SET payload = %s, problems = %s, error = %s,"  # noqa: S608 - fixed columns
                    f" last_seen = %s, count = count + 1 WHERE id = %s RETURNING {_LETTER_COLS}",
                    (payload, json.dumps(problems_to_data(problems)), str(error), at, held.id),
                ).fetchone()
            assert stored is not None
            return _letter(stored)

        # Two workers adding the same letter at once: the unique index refuses the
        # second insert; its retry finds the first one's row and updates it.
        for attempt in range(2):
            try:
                return self._txn(work)
            except psycopg.errors.UniqueViolation:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def dead_letters(
        self, connection_id: str | None = None, *, include_resolved: bool = False
    ) -> list[DeadLetter]:
        rows = self._rows(
            f"SELECT {_LETTER_COLS} FROM dead_letters"  # noqa: S608 - fixed columns
            " WHERE (%(c)s::text IS NULL OR connection_id = %(c)s)"
            " AND (%(all)s OR resolved_at IS NULL) ORDER BY id",
            {"c": connection_id, "all": include_resolved},
        )
        return [_letter(r) for r in rows]

    def open_dead_letter_keys(self, connection_id: str) -> set[tuple[str, str]]:
        rows = self._rows(
            "SELECT kind, record_key FROM dead_letters"
            " WHERE connection_id = %s AND resolved_at IS NULL",
            (connection_id,),
        )
        return {(k, r) for k, r in rows}

    def resolve_dead_letters(
        self, connection_id: str, keys: Iterable[tuple[str, str]], at: _dt.datetime
    ) -> int:
        pairs = sorted(set(keys))
        if not pairs:
            return 0
        rows = self._rows(
            "UPDATE dead_letters d SET resolved_at = %s"
            " FROM unnest(%s::text[], %s::text[]) AS k(kind, rid)"
            " WHERE d.connection_id = %s AND d.kind = k.kind AND d.record_key = k.rid"
            " AND d.resolved_at IS NULL RETURNING d.id",
            (at, [k for k, _ in pairs], [r for _, r in pairs], connection_id),
        )
        return len(rows)

    # -- parked contacts ----------------------------------------------------------------

    def park_contacts(
        self, connection_id: str, contacts: Sequence[tuple[Contact, Reason]], at: _dt.datetime
    ) -> None:
        def work(conn: Conn) -> None:
            # One lock order (by identity) for every writer: no deadlocks.
            for contact, reason in sorted(contacts, key=lambda pair: pair[0].key.value):
                identity = contact.key.value
                # Lock the identity even when nothing is parked under it yet.
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (identity,))
                row = conn.execute(
                    "SELECT contact FROM parked_contacts WHERE identity = %s", (identity,)
                ).fetchone()
                if row is not None:
                    contact = merge_contacts([contact_from_data(row[0]), contact])[contact.key]
                conn.execute(
                    "INSERT INTO parked_contacts (identity, connection_id, contact, reason,"
                    " first_seen, last_seen) VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (identity) DO UPDATE SET contact = EXCLUDED.contact,"
                    " reason = EXCLUDED.reason, last_seen = EXCLUDED.last_seen",
                    (
                        identity,
                        connection_id,
                        Jsonb(contact_to_data(contact)),
                        reason.value,
                        at,
                        at,
                    ),
                )

        self._txn(work)

    def parked_contacts(self, connection_id: str | None = None) -> list[ParkedContact]:
        rows = self._rows(
            "SELECT identity, connection_id, contact, reason, first_seen, last_seen"
            " FROM parked_contacts WHERE %(c)s::text IS NULL OR connection_id = %(c)s"
            ' ORDER BY first_seen, identity COLLATE "C"',
            {"c": connection_id},
        )
        return [
            ParkedContact(i, c, contact_from_data(data), Reason(r), first, last)
            for i, c, data, r, first, last in rows
        ]

    def unpark_contacts(self, identities: Iterable[str]) -> None:
        wanted = sorted(set(identities))
        if wanted:
            self._rows(
                "DELETE FROM parked_contacts WHERE identity = ANY(%s) RETURNING 1", (wanted,)
            )

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, connection_id: str, mode: str, at: _dt.datetime) -> int:
        rows = self._rows(
            "INSERT INTO runs (connection_id, mode, started_at, status, counts)"
            " VALUES (%s, %s, %s, 'running', '{}') RETURNING id",
            (connection_id, mode, at),
        )
        return int(rows[0][0])

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        at: _dt.datetime,
        counts: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        self._rows(
            "UPDATE runs SET ended_at = %s, status = %s, counts = %s, error = %s"
            " WHERE id = %s RETURNING 1",
            (at, status, json.dumps(counts, default=str), error, run_id),
        )

    def runs(self, connection_id: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        rows = self._rows(
            "SELECT id, connection_id, mode, started_at, ended_at, status, counts, error"
            " FROM runs WHERE %(c)s::text IS NULL OR connection_id = %(c)s"
            " ORDER BY id DESC LIMIT %(n)s",
            {"c": connection_id, "n": limit},
        )
        # Counts are JSON text, as in SQLite: key order and floats come back as written.
        return [
            RunRecord(id_, c, mode, start, end, status, json.loads(counts), error)
            for id_, c, mode, start, end, status, counts, error in rows
        ]

    # -- connection lifecycle -----------------------------------------------------------

    def connection_status(self, connection_id: str) -> ConnectionStatus:
        rows = self._rows(
            "SELECT state, changed_at, reason FROM connections WHERE connection_id = %s",
            (connection_id,),
        )
        if not rows:
            return ConnectionStatus(connection_id, ConnectionState.ACTIVE)
        state, changed, reason = rows[0]
        return ConnectionStatus(connection_id, ConnectionState(state), changed, reason)

    def set_connection_state(
        self,
        connection_id: str,
        state: ConnectionState,
        at: _dt.datetime,
        reason: str | None = None,
    ) -> ConnectionStatus:
        state = ConnectionState(state)
        self._rows(
            "INSERT INTO connections (connection_id, state, changed_at, reason)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (connection_id) DO UPDATE"
            " SET state = EXCLUDED.state, changed_at = EXCLUDED.changed_at,"
            " reason = EXCLUDED.reason RETURNING 1",
            (connection_id, state.value, at, reason),
        )
        return ConnectionStatus(connection_id, state, at, reason)

    def connection_statuses(self) -> list[ConnectionStatus]:
        rows = self._rows(
            "SELECT connection_id, state, changed_at, reason FROM connections"
            ' ORDER BY connection_id COLLATE "C"'
        )
        return [ConnectionStatus(c, ConnectionState(s), t, r) for c, s, t, r in rows]

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
        status = EventStatus(status)
        processed = None if status is EventStatus.PENDING else received_at
        rows = self._rows(
            "INSERT INTO webhook_events (connection_id, platform, event_id, topic,"  # noqa: S608 - fixed columns
            " kind, external_id, action, occurred_at, received_at, headers, body, status,"
            " next_attempt_at, outcome, processed_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" ON CONFLICT (connection_id, event_id) DO NOTHING RETURNING {_EVENT_COLS}",
            (
                connection_id,
                event.platform.value,
                event.event_id,
                event.topic,
                event.kind,
                event.external_id,
                event.action.value,
                event.occurred_at,
                received_at,
                json.dumps(stored_headers(headers), sort_keys=True),
                bytes(body),
                status.value,
                received_at,
                outcome,
                processed,
            ),
        )
        return _event(rows[0]) if rows else None

    def claim_events(
        self,
        now: _dt.datetime,
        *,
        connection_ids: Iterable[str] | None = None,
        limit: int = 100,
        lease: _dt.timedelta = _dt.timedelta(minutes=5),
        actions: Iterable[str] | None = None,
    ) -> list[InboxEvent]:
        wanted = None if connection_ids is None else sorted(set(connection_ids))
        chosen = None if actions is None else sorted(set(actions))
        if wanted == [] or chosen == []:
            return []
        # The CTE is materialised: its LIMIT holds (an IN (subquery) may be re-run and
        # claim more). Events come back as they were when claimed (next_attempt_at
        # before the claim), as every store returns them.
        rows = self._rows(
            "WITH picked AS MATERIALIZED (SELECT id AS picked_id, next_attempt_at AS was"  # noqa: S608 - fixed columns
            " FROM webhook_events WHERE status = 'pending'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)"
            " AND (%(conns)s::text[] IS NULL OR connection_id = ANY(%(conns)s))"
            " AND (%(actions)s::text[] IS NULL OR action = ANY(%(actions)s))"
            " ORDER BY occurred_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            " UPDATE webhook_events SET next_attempt_at = %(until)s FROM picked"
            f" WHERE id = picked.picked_id RETURNING {_EVENT_COLS}, picked.was",
            {
                "until": now + lease,
                "now": now,
                "conns": wanted,
                "actions": chosen,
                "limit": limit,
            },
        )
        events = [_event((*r[:14], r[17], *r[15:17])) for r in rows]
        return sorted(events, key=lambda e: (e.occurred_at, e.id))

    def finish_event(
        self, event_id: int, status: EventStatus, at: _dt.datetime, outcome: str | None = None
    ) -> None:
        self._rows(
            "UPDATE webhook_events SET status = %s, processed_at = %s, outcome = %s,"
            " next_attempt_at = NULL WHERE id = %s AND status = 'pending' RETURNING 1",
            (EventStatus(status).value, at, outcome, event_id),
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
        self._rows(
            "UPDATE webhook_events SET status = 'pending', attempts = attempts + %s,"
            " next_attempt_at = %s, outcome = %s WHERE id = %s AND status = 'pending'"
            " RETURNING 1",
            (int(count_attempt), next_attempt_at, error, event_id),
        )

    def cancel_events(
        self, connection_id: str, kind: str, external_id: str, at: _dt.datetime, outcome: str
    ) -> int:
        rows = self._rows(
            "UPDATE webhook_events SET status = 'done', processed_at = %s, outcome = %s,"
            " next_attempt_at = NULL WHERE status = 'pending' AND connection_id = %s"
            " AND kind = %s AND external_id = %s RETURNING 1",
            (at, outcome, connection_id, kind, external_id),
        )
        return len(rows)

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

        def work(conn: Conn) -> int:
            changed = 0
            rows = conn.execute(
                "SELECT id, kind, external_id, body, status, outcome FROM webhook_events"
                " WHERE connection_id = %s AND length(body) > 0 ORDER BY id FOR UPDATE",
                (connection_id,),
            ).fetchall()
            for id_, kind, ext, body, status, outcome in rows:
                if id_ == keep or not redaction.hits_body(kind, ext, body):
                    continue
                pending = status == EventStatus.PENDING.value
                conn.execute(
                    "UPDATE webhook_events SET body = %s, headers = '{}', status = %s,"
                    " outcome = %s, processed_at = COALESCE(processed_at, %s),"
                    " next_attempt_at = NULL WHERE id = %s",
                    (
                        b"",
                        EventStatus.DONE.value if pending else status,
                        redacted_outcome(outcome, pending=pending),
                        at,
                        id_,
                    ),
                )
                changed += 1
            letters = conn.execute(
                "SELECT id, kind, record_id, payload FROM dead_letters"
                " WHERE connection_id = %s ORDER BY id FOR UPDATE",
                (connection_id,),
            ).fetchall()
            for id_, kind, record_id, payload in letters:
                if redaction.hits_payload(kind, record_id, json.loads(payload)):
                    conn.execute("DELETE FROM dead_letters WHERE id = %s", (id_,))
                    changed += 1
            return changed

        return self._txn(work)

    def events(
        self,
        connection_id: str | None = None,
        *,
        status: EventStatus | None = None,
        limit: int = 100,
    ) -> list[InboxEvent]:
        value = None if status is None else EventStatus(status).value
        rows = self._rows(
            f"SELECT {_EVENT_COLS} FROM webhook_events"  # noqa: S608 - fixed columns
            " WHERE (%(c)s::text IS NULL OR connection_id = %(c)s)"
            " AND (%(s)s::text IS NULL OR status = %(s)s) ORDER BY id LIMIT %(n)s",
            {"c": connection_id, "s": value, "n": limit},
        )
        return [_event(r) for r in rows]

    def event_counts(self, connection_id: str | None = None) -> dict[EventStatus, int]:
        rows = self._rows(
            "SELECT status, COUNT(*) FROM webhook_events"
            " WHERE %(c)s::text IS NULL OR connection_id = %(c)s GROUP BY status",
            {"c": connection_id},
        )
        counts = dict.fromkeys(EventStatus, 0)
        counts.update({EventStatus(s): int(n) for s, n in rows})
        return counts

    # -- leases -------------------------------------------------------------------------

    def _now(self) -> Any:
        """The time leases are judged by: the server's unless a clock was given."""
        return None if self.clock is None else self.clock.now()

    def acquire_lease(self, connection_id: str, holder: str, ttl: _dt.timedelta) -> Lease | None:
        check_ttl(ttl)
        # One statement: insert, or take over a lapsed lease (token + 1), or extend
        # the holder's own; a live lease of another holder matches nothing.
        rows = self._rows(
            "WITH t AS (SELECT COALESCE(%(now)s::timestamptz, now()) AS now)"  # noqa: S608 - fixed columns
            " INSERT INTO leases AS l (connection_id, holder, token, acquired_at, expires_at)"
            " SELECT %(c)s, %(h)s, 1, t.now, t.now + %(ttl)s FROM t"
            " ON CONFLICT (connection_id) DO UPDATE SET"
            " holder = EXCLUDED.holder,"
            " token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > EXCLUDED.acquired_at"
            " THEN l.token ELSE l.token + 1 END,"
            " acquired_at = CASE WHEN l.holder = EXCLUDED.holder"
            " AND l.expires_at > EXCLUDED.acquired_at"
            " THEN l.acquired_at ELSE EXCLUDED.acquired_at END,"
            " expires_at = EXCLUDED.expires_at"
            " WHERE l.holder = EXCLUDED.holder OR l.expires_at <= EXCLUDED.acquired_at"
            f" RETURNING {_LEASE_COLS}",
            {"now": self._now(), "c": connection_id, "h": holder, "ttl": ttl},
        )
        return _lease(rows[0]) if rows else None

    def renew_lease(self, lease: Lease, ttl: _dt.timedelta) -> Lease | None:
        check_ttl(ttl)
        rows = self._rows(
            "UPDATE leases SET expires_at = COALESCE(%(now)s::timestamptz, now()) + %(ttl)s"  # noqa: S608 - fixed columns
            " WHERE connection_id = %(c)s AND holder = %(h)s AND token = %(t)s"
            f" AND expires_at > acquired_at RETURNING {_LEASE_COLS}",
            {
                "now": self._now(),
                "ttl": ttl,
                "c": lease.connection_id,
                "h": lease.holder,
                "t": lease.token,
            },
        )
        return _lease(rows[0]) if rows else None

    def release_lease(self, lease: Lease) -> bool:
        # Released: it lasted nothing (expires_at = acquired_at); the token stays, so
        # the next holder's is larger.
        rows = self._rows(
            "UPDATE leases SET expires_at = acquired_at"
            " WHERE connection_id = %s AND holder = %s AND token = %s"
            " AND expires_at > acquired_at RETURNING 1",
            (lease.connection_id, lease.holder, lease.token),
        )
        return bool(rows)

    def current_lease(self, connection_id: str) -> Lease | None:
        rows = self._rows(
            f"SELECT {_LEASE_COLS} FROM leases WHERE connection_id = %(c)s"  # noqa: S608
            " AND expires_at > COALESCE(%(now)s::timestamptz, now())",
            {"c": connection_id, "now": self._now()},
        )
        return _lease(rows[0]) if rows else None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStateStore({self.url.redacted!r})"
