"""SQLiteStateStore: checkpoints, dead letters, parked contacts and the run log in SQLite.

It may live in the same file as :class:`~commerce_connectors.sinks.SQLiteSink`
(the default for the CLI) or in a file of its own. Every write is its own
durable transaction (WAL, ``synchronous=FULL``).

Tables: ``checkpoints`` (connection, stream, value), ``dead_letters`` (raw
payload, every bad field's path with first/last seen, count, resolved time),
``parked_contacts`` (contacts refused by a contact cap), ``runs``, and for the
real-time path ``connections`` (each connection's lifecycle state) and
``webhook_events`` (the durable inbox: every verified delivery, stored before
it is acknowledged, with its raw body and what processing did), and ``leases``
(which worker syncs a connection, until when: see
:class:`~commerce_connectors.protocols.LeaseStore`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._webhooks import WebhookEvent
from ..clock import Clock, SystemClock
from ..errors import ConfigurationError, InvalidRecordError
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
from ..sinks.sqlite import connect_sqlite, create_tables, sqlite_path_from_url
from ._common import (
    Redaction,
    dead_letter_key,
    lease_renewed,
    lease_taken,
    merge_problems,
    problems_from_data,
    problems_to_data,
    redacted_outcome,
    stored_headers,
)

__all__ = ["SQLiteStateStore"]

#: Half of a UTF-16 surrogate pair (a payload may carry one from an escaped "\ud800").
_UNPAIRED = re.compile("[\ud800-\udfff]")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    connection_id TEXT NOT NULL, stream TEXT NOT NULL,
    value TEXT NOT NULL, updated_at TEXT NOT NULL, run_id INTEGER,
    PRIMARY KEY (connection_id, stream)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL, kind TEXT NOT NULL, record_key TEXT NOT NULL,
    record_id TEXT, payload TEXT NOT NULL, problems TEXT NOT NULL, error TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, count INTEGER NOT NULL,
    resolved_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_open
    ON dead_letters(connection_id, kind, record_key) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS parked_contacts (
    identity TEXT PRIMARY KEY, connection_id TEXT NOT NULL, contact TEXT NOT NULL,
    reason TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL, mode TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL,
    counts TEXT NOT NULL, error TEXT
);
CREATE TABLE IF NOT EXISTS connections (
    connection_id TEXT PRIMARY KEY, state TEXT NOT NULL, changed_at TEXT, reason TEXT
);
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id TEXT NOT NULL, platform TEXT NOT NULL, event_id TEXT NOT NULL,
    topic TEXT NOT NULL, kind TEXT, external_id TEXT, action TEXT NOT NULL,
    occurred_at TEXT NOT NULL, received_at TEXT NOT NULL,
    headers TEXT NOT NULL, body BLOB NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT, outcome TEXT, processed_at TEXT,
    UNIQUE (connection_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_events_due
    ON webhook_events(status, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_events_record
    ON webhook_events(connection_id, kind, external_id) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS leases (
    connection_id TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL,
    acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
"""


_TABLE_DDL = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)


def _connect_read_only(path: str) -> sqlite3.Connection:
    """``path`` opened with SQLite's read-only mode; tables it lacks exist as empty TEMP ones.

    A TEMP table lives in the connection's memory, never in the file: a database made
    before a table was added reads as having none of those rows.
    """
    target = os.path.abspath(os.path.expanduser(path))
    uri = f"file:{urllib.parse.quote(target)}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot open {path} to read it: {exc}") from None
    try:
        found = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        tables = _TABLE_DDL.findall(_SCHEMA)
        if not any(name in found for name, _ in tables):
            raise ConfigurationError(f"not a commerce-connectors database: {path}")
        for name, columns in tables:
            if name not in found:
                conn.execute(f"CREATE TEMP TABLE {name} ({columns}\n)")
    except sqlite3.DatabaseError:
        conn.close()
        raise ConfigurationError(f"not a commerce-connectors database: {path}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _t(value: str | None) -> _dt.datetime | None:
    return None if value is None else _dt.datetime.fromisoformat(value)


def _req(value: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(value)


class SQLiteStateStore:
    """A durable :class:`~commerce_connectors.protocols.StateStore` in a SQLite file.

    Args:
        path: the database file (the sink's file is fine), or ``":memory:"``.
        clock: the time leases expire by (default: the system clock). Workers
            sharing the file should share a clock source: the machine's.
        read_only: only read an existing file: it is opened with SQLite's read-only
            mode, no table is created and the journal mode is left as it is, so the
            file's bytes never change (what ``status`` needs). Writing methods then
            fail. Tables a newer version added read as empty.

    Raises:
        ConfigurationError: with ``read_only``, the file cannot be opened, or holds
            none of this store's tables (``not a commerce-connectors database``).

    Example:
        >>> store = SQLiteStateStore(":memory:")
        >>> store.checkpoints()
        []
        >>> store.close()
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Clock | None = None, read_only: bool = False
    ) -> None:
        self.path = str(path)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        if read_only:
            self._conn = _connect_read_only(self.path)
        else:
            self._conn = connect_sqlite(self.path)
            create_tables(self._conn, _SCHEMA)
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False) -> SQLiteStateStore:
        """Open the store named by a ``sqlite:///path.db`` URL (see ``read_only`` above)."""
        return cls(sqlite_path_from_url(url), read_only=read_only)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- checkpoints --------------------------------------------------------------------

    def get_checkpoint(self, connection_id: str, stream: Stream) -> Checkpoint | None:
        rows = self._exec(
            "SELECT value, updated_at, run_id FROM checkpoints WHERE connection_id=? AND stream=?",
            (connection_id, Stream(stream).value),
        )
        if not rows:
            return None
        value, updated, run_id = rows[0]
        return Checkpoint(connection_id, Stream(stream), _req(value), _req(updated), run_id)

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._exec(
            "INSERT OR REPLACE INTO checkpoints (connection_id, stream, value, updated_at, run_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                checkpoint.connection_id,
                checkpoint.stream.value,
                checkpoint.value.isoformat(),
                checkpoint.updated_at.isoformat(),
                checkpoint.run_id,
            ),
        )

    def checkpoints(self, connection_id: str | None = None) -> list[Checkpoint]:
        rows = self._exec(
            "SELECT connection_id, stream, value, updated_at, run_id FROM checkpoints"
            " WHERE ? IS NULL OR connection_id = ? ORDER BY connection_id, stream",
            (connection_id, connection_id),
        )
        return [Checkpoint(c, Stream(s), _req(v), _req(u), r) for c, s, v, u, r in rows]

    # -- dead letters -------------------------------------------------------------------

    _LETTER_COLS = (
        "id, connection_id, kind, record_id, payload, problems, error,"
        " first_seen, last_seen, count, resolved_at"
    )

    def _letter(self, row: Sequence[Any]) -> DeadLetter:
        (id_, conn, kind, rid, payload, problems, error, first, last, count, resolved) = row
        return DeadLetter(
            id=id_,
            connection_id=conn,
            kind=kind,
            record_id=rid,
            payload=json.loads(payload),
            problems=problems_from_data(json.loads(problems)),
            error=error,
            first_seen=_req(first),
            last_seen=_req(last),
            count=count,
            resolved_at=_t(resolved),
        )

    def add_dead_letter(
        self, connection_id: str, error: InvalidRecordError, at: _dt.datetime
    ) -> DeadLetter:
        key = dead_letter_key(error)
        payload = json.dumps(error.payload, ensure_ascii=False, default=str)
        if not payload.isascii() and _UNPAIRED.search(payload):
            # Kept as JSON escapes: SQLite stores UTF-8, which has no unpaired surrogates.
            payload = json.dumps(error.payload, default=str)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    f"SELECT {self._LETTER_COLS} FROM dead_letters"  # noqa: S608 - fixed columns
                    " WHERE connection_id=? AND kind=? AND record_key=? AND resolved_at IS NULL",
                    (connection_id, error.kind, key),
                ).fetchone()
                if row is None:
                    problems = merge_problems((), error, at)
                    cursor = conn.execute(
                        "INSERT INTO dead_letters (connection_id, kind, record_key, record_id,"
                        " payload, problems, error, first_seen, last_seen, count)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                        (
                            connection_id,
                            error.kind,
                            key,
                            error.record_id,
                            payload,
                            json.dumps(problems_to_data(problems)),
                            str(error),
                            at.isoformat(),
                            at.isoformat(),
                        ),
                    )
                    letter_id = cursor.lastrowid
                else:
                    held = self._letter(row)
                    problems = merge_problems(held.problems, error, at)
                    conn.execute(
                        "UPDATE dead_letters SET payload=?, problems=?, error=?, last_seen=?,"
                        " count=count+1 WHERE id=?",
                        (
                            payload,
                            json.dumps(problems_to_data(problems)),
                            str(error),
                            at.isoformat(),
                            held.id,
                        ),
                    )
                    letter_id = held.id
                stored = conn.execute(
                    f"SELECT {self._LETTER_COLS} FROM dead_letters WHERE id=?",  # noqa: S608
                    (letter_id,),
                ).fetchone()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return self._letter(stored)

    def dead_letters(
        self, connection_id: str | None = None, *, include_resolved: bool = False
    ) -> list[DeadLetter]:
        rows = self._exec(
            f"SELECT {self._LETTER_COLS} FROM dead_letters"  # noqa: S608 - fixed columns
            " WHERE (? IS NULL OR connection_id = ?) AND (? OR resolved_at IS NULL) ORDER BY id",
            (connection_id, connection_id, int(include_resolved)),
        )
        return [self._letter(r) for r in rows]

    def open_dead_letter_keys(self, connection_id: str) -> set[tuple[str, str]]:
        rows = self._exec(
            "SELECT kind, record_key FROM dead_letters"
            " WHERE connection_id=? AND resolved_at IS NULL",
            (connection_id,),
        )
        return {(k, r) for k, r in rows}

    def resolve_dead_letters(
        self, connection_id: str, keys: Iterable[tuple[str, str]], at: _dt.datetime
    ) -> int:
        done = 0
        with self._lock:
            for kind, rid in keys:
                cursor = self._conn.execute(
                    "UPDATE dead_letters SET resolved_at=? WHERE connection_id=? AND kind=?"
                    " AND record_key=? AND resolved_at IS NULL",
                    (at.isoformat(), connection_id, kind, rid),
                )
                done += cursor.rowcount
        return done

    # -- parked contacts ----------------------------------------------------------------

    def park_contacts(
        self, connection_id: str, contacts: Sequence[tuple[Contact, Reason]], at: _dt.datetime
    ) -> None:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for contact, reason in contacts:
                    identity = contact.key.value
                    row = conn.execute(
                        "SELECT contact FROM parked_contacts WHERE identity=?", (identity,)
                    ).fetchone()
                    if row is not None:
                        held = contact_from_data(json.loads(row[0]))
                        contact = merge_contacts([held, contact])[contact.key]
                    conn.execute(
                        "INSERT INTO parked_contacts (identity, connection_id, contact, reason,"
                        " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT(identity) DO UPDATE SET contact=excluded.contact,"
                        " reason=excluded.reason, last_seen=excluded.last_seen",
                        (
                            identity,
                            connection_id,
                            json.dumps(contact_to_data(contact), ensure_ascii=False),
                            reason.value,
                            at.isoformat(),
                            at.isoformat(),
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def parked_contacts(self, connection_id: str | None = None) -> list[ParkedContact]:
        rows = self._exec(
            "SELECT identity, connection_id, contact, reason, first_seen, last_seen"
            " FROM parked_contacts WHERE ? IS NULL OR connection_id = ?"
            " ORDER BY first_seen, identity",
            (connection_id, connection_id),
        )
        return [
            ParkedContact(
                i, c, contact_from_data(json.loads(data)), Reason(r), _req(first), _req(last)
            )
            for i, c, data, r, first, last in rows
        ]

    def unpark_contacts(self, identities: Iterable[str]) -> None:
        with self._lock:
            self._conn.executemany(
                "DELETE FROM parked_contacts WHERE identity=?", [(i,) for i in identities]
            )

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, connection_id: str, mode: str, at: _dt.datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO runs (connection_id, mode, started_at, status, counts)"
                " VALUES (?, ?, ?, 'running', '{}')",
                (connection_id, mode, at.isoformat()),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        at: _dt.datetime,
        counts: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        self._exec(
            "UPDATE runs SET ended_at=?, status=?, counts=?, error=? WHERE id=?",
            (at.isoformat(), status, json.dumps(counts, default=str), error, run_id),
        )

    def runs(self, connection_id: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        rows = self._exec(
            "SELECT id, connection_id, mode, started_at, ended_at, status, counts, error"
            " FROM runs WHERE ? IS NULL OR connection_id = ? ORDER BY id DESC LIMIT ?",
            (connection_id, connection_id, limit),
        )
        return [
            RunRecord(i, c, m, _req(s), _t(e), st, json.loads(counts), err)
            for i, c, m, s, e, st, counts, err in rows
        ]

    # -- connection lifecycle -----------------------------------------------------------

    def connection_status(self, connection_id: str) -> ConnectionStatus:
        rows = self._exec(
            "SELECT state, changed_at, reason FROM connections WHERE connection_id=?",
            (connection_id,),
        )
        if not rows:
            return ConnectionStatus(connection_id, ConnectionState.ACTIVE)
        state, changed, reason = rows[0]
        return ConnectionStatus(connection_id, ConnectionState(state), _t(changed), reason)

    def set_connection_state(
        self,
        connection_id: str,
        state: ConnectionState,
        at: _dt.datetime,
        reason: str | None = None,
    ) -> ConnectionStatus:
        state = ConnectionState(state)
        self._exec(
            "INSERT OR REPLACE INTO connections (connection_id, state, changed_at, reason)"
            " VALUES (?, ?, ?, ?)",
            (connection_id, state.value, at.isoformat(), reason),
        )
        return ConnectionStatus(connection_id, state, at, reason)

    def connection_statuses(self) -> list[ConnectionStatus]:
        rows = self._exec(
            "SELECT connection_id, state, changed_at, reason FROM connections ORDER BY 1"
        )
        return [ConnectionStatus(c, ConnectionState(s), _t(t), r) for c, s, t, r in rows]

    # -- webhook inbox ------------------------------------------------------------------

    _EVENT_COLS = (
        "id, connection_id, platform, event_id, topic, kind, external_id, action,"
        " occurred_at, received_at, headers, body, status, attempts, next_attempt_at,"
        " outcome, processed_at"
    )

    @staticmethod
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
            occurred_at=_req(occurred),
            received_at=_req(received),
            headers=json.loads(headers),
            body=bytes(body),
            status=EventStatus(status),
            attempts=attempts,
            next_attempt_at=_t(next_at),
            outcome=outcome,
            processed_at=_t(processed),
        )

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
        processed = None if status is EventStatus.PENDING else received_at.isoformat()
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO webhook_events (connection_id, platform, event_id, topic,"
                " kind, external_id, action, occurred_at, received_at, headers, body, status,"
                " next_attempt_at, outcome, processed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    connection_id,
                    event.platform.value,
                    event.event_id,
                    event.topic,
                    event.kind,
                    event.external_id,
                    event.action.value,
                    event.occurred_at.isoformat(),
                    received_at.isoformat(),
                    json.dumps(stored_headers(headers), sort_keys=True),
                    bytes(body),
                    status.value,
                    received_at.isoformat(),
                    outcome,
                    processed,
                ),
            )
            if cursor.rowcount == 0:
                return None
            rows = self._conn.execute(
                f"SELECT {self._EVENT_COLS} FROM webhook_events WHERE id=?",  # noqa: S608
                (cursor.lastrowid,),
            ).fetchall()
        return self._event(rows[0])

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
        if wanted is not None and not wanted:
            return []
        where = "status='pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        params: list[Any] = [now.isoformat()]
        if wanted is not None:
            where += f" AND connection_id IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        if actions is not None:
            chosen = sorted(set(actions))
            if not chosen:
                return []
            where += f" AND action IN ({', '.join('?' * len(chosen))})"
            params.extend(chosen)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    f"SELECT {self._EVENT_COLS} FROM webhook_events WHERE {where}"  # noqa: S608
                    " ORDER BY occurred_at, id LIMIT ?",
                    (*params, limit),
                ).fetchall()
                self._conn.executemany(
                    "UPDATE webhook_events SET next_attempt_at=? WHERE id=?",
                    [((now + lease).isoformat(), r[0]) for r in rows],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return [self._event(r) for r in rows]

    def finish_event(
        self, event_id: int, status: EventStatus, at: _dt.datetime, outcome: str | None = None
    ) -> None:
        self._exec(
            "UPDATE webhook_events SET status=?, processed_at=?, outcome=?, next_attempt_at=NULL"
            " WHERE id=? AND status='pending'",
            (EventStatus(status).value, at.isoformat(), outcome, event_id),
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
        self._exec(
            "UPDATE webhook_events SET status='pending', attempts=attempts+?, next_attempt_at=?,"
            " outcome=? WHERE id=? AND status='pending'",
            (int(count_attempt), next_attempt_at.isoformat(), error, event_id),
        )

    def cancel_events(
        self, connection_id: str, kind: str, external_id: str, at: _dt.datetime, outcome: str
    ) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE webhook_events SET status='done', processed_at=?, outcome=?,"
                " next_attempt_at=NULL WHERE status='pending' AND connection_id=? AND kind=?"
                " AND external_id=?",
                (at.isoformat(), outcome, connection_id, kind, external_id),
            )
            return cursor.rowcount

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
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    "SELECT id, kind, external_id, body, status, outcome FROM webhook_events"
                    " WHERE connection_id=? AND length(body) > 0",
                    (connection_id,),
                ).fetchall()
                for id_, kind, ext, body, status, outcome in rows:
                    if id_ == keep or not redaction.hits_body(kind, ext, body):
                        continue
                    pending = status == EventStatus.PENDING.value
                    self._conn.execute(
                        "UPDATE webhook_events SET body=?, headers='{}', status=?, outcome=?,"
                        " processed_at=COALESCE(processed_at, ?), next_attempt_at=NULL"
                        " WHERE id=?",
                        (
                            b"",
                            EventStatus.DONE.value if pending else status,
                            redacted_outcome(outcome, pending=pending),
                            at.isoformat(),
                            id_,
                        ),
                    )
                    changed += 1
                letters = self._conn.execute(
                    "SELECT id, kind, record_id, payload FROM dead_letters WHERE connection_id=?",
                    (connection_id,),
                ).fetchall()
                for id_, kind, record_id, payload in letters:
                    if redaction.hits_payload(kind, record_id, json.loads(payload)):
                        self._conn.execute("DELETE FROM dead_letters WHERE id=?", (id_,))
                        changed += 1
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return changed

    def events(
        self,
        connection_id: str | None = None,
        *,
        status: EventStatus | None = None,
        limit: int = 100,
    ) -> list[InboxEvent]:
        value = None if status is None else EventStatus(status).value
        rows = self._exec(
            f"SELECT {self._EVENT_COLS} FROM webhook_events"  # noqa: S608
            " WHERE (? IS NULL OR connection_id=?) AND (? IS NULL OR status=?)"
            " ORDER BY id LIMIT ?",
            (connection_id, connection_id, value, value, limit),
        )
        return [self._event(r) for r in rows]

    def event_counts(self, connection_id: str | None = None) -> dict[EventStatus, int]:
        rows = self._exec(
            "SELECT status, COUNT(*) FROM webhook_events WHERE ? IS NULL OR connection_id=?"
            " GROUP BY status",
            (connection_id, connection_id),
        )
        counts = dict.fromkeys(EventStatus, 0)
        counts.update({EventStatus(s): n for s, n in rows})
        return counts

    # -- leases -------------------------------------------------------------------------

    def _lease_cas(self, connection_id: str, decide: Any) -> Lease | None:
        """Read the stored lease, let ``decide(held, now)`` answer, store the answer: atomically."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT holder, token, acquired_at, expires_at FROM leases"
                    " WHERE connection_id=?",
                    (connection_id,),
                ).fetchone()
                held = (
                    None
                    if row is None
                    else Lease(connection_id, row[0], row[1], *map(_req, row[2:]))
                )
                lease: Lease | None = decide(held, self.clock.now())
                if lease is not None:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO leases (connection_id, holder, token, acquired_at,"
                        " expires_at) VALUES (?, ?, ?, ?, ?)",
                        (
                            connection_id,
                            lease.holder,
                            lease.token,
                            lease.acquired_at.isoformat(),
                            lease.expires_at.isoformat(),
                        ),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return lease

    def acquire_lease(self, connection_id: str, holder: str, ttl: _dt.timedelta) -> Lease | None:
        return self._lease_cas(
            connection_id, lambda held, now: lease_taken(held, connection_id, holder, ttl, now)
        )

    def renew_lease(self, lease: Lease, ttl: _dt.timedelta) -> Lease | None:
        return self._lease_cas(
            lease.connection_id, lambda held, now: lease_renewed(held, lease, ttl, now)
        )

    def release_lease(self, lease: Lease) -> bool:
        def release(held: Lease | None, now: _dt.datetime) -> Lease | None:
            if lease_renewed(held, lease, _dt.timedelta(seconds=1), now) is None:
                return None
            assert held is not None
            return attrs.evolve(held, expires_at=held.acquired_at)

        return self._lease_cas(lease.connection_id, release) is not None

    def current_lease(self, connection_id: str) -> Lease | None:
        rows = self._exec(
            "SELECT holder, token, acquired_at, expires_at FROM leases WHERE connection_id=?",
            (connection_id,),
        )
        if not rows:
            return None
        holder, token, acquired, expires = rows[0]
        lease = Lease(connection_id, holder, token, _req(acquired), _req(expires))
        return lease if lease.expires_at > self.clock.now() else None

    def close(self) -> None:
        """Close the database (idempotent)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStateStore({self.path!r})"
