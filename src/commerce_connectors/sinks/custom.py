"""CallbackSink: a sink for your own CRM in two functions.

Write one function that creates or updates a contact in the CRM and one that
creates or updates a record (customer, order, product, cart); the library does
the rest. A local *ledger* (a small SQLite file) remembers what was delivered,
so the decisions every sink must make are taken here, the same way the
built-in sinks take them:

* **update-if-newer**: a record equal to what was delivered is not sent again;
  an older version of a delivered record is never sent (``stale``);
* **contact merge**: records of one person (one email, or one phone when
  ``phone_identity=True``) make one contact; your function receives the merged
  contact (tags unioned, known names kept), never a duplicate;
* **contact cap**: with ``contact_limit``, new contacts beyond the cap are
  refused per item (``ContactLimitError``) and existing ones still update;
* **all or nothing, per batch, on the library's side**: if a function raises,
  the ledger keeps nothing of the batch and :meth:`CallbackSink.write` raises
  :class:`~commerce_connectors.errors.SinkError`, so the sync engine does not
  advance its checkpoint and the whole batch is sent again by the next run;
* **one writer at a time per ledger**: a batch holds the ledger's write lock
  (``BEGIN IMMEDIATE``) from its first ledger read, through your functions'
  calls, to the commit that remembers it. Several sinks, threads or processes
  sharing one ledger therefore send their batches one after another, each
  deciding from what the previous one delivered: no merge is lost and the
  contact cap holds across them.

What a remote CRM can and cannot promise: the library cannot take back calls
that already reached the CRM before a later one in the same batch failed. Those
are sent again on the next attempt, so the two functions must be *upserts*
(create-or-update by the external id or the contact's identity), never blind
"create" calls. Changes reach the CRM at least once; the ledger makes "once"
the normal case.

Your functions may refuse one item without failing the batch: raise
:class:`RecordRefusedError` (the CRM rejected this record's content) or
:class:`~commerce_connectors.errors.ContactLimitError` (the CRM's own contact
cap). The item is reported ``refused``; the sync engine dead-letters a refused
record with its raw payload, or parks a refused contact until the cap is raised.
A refused contact's customers, orders and carts in the same batch are not sent
either (the CRM has no contact to attach them to): they are refused too,
dead-lettered with their payload, and sent by ``dead-letters replay`` once the
contact is in.

Example:
    >>> sent = []
    >>> sink = CallbackSink(
    ...     write_contact=lambda change: sent.append(change.key.external_id),
    ...     write_record=lambda change: sent.append(change.kind),
    ...     ledger=":memory:",
    ... )
    >>> from commerce_connectors.testing.sink_conformance import check_sink
    >>> check_sink(lambda **kw: CallbackSink(
    ...     write_contact=lambda c: None, write_record=lambda c: None, ledger=":memory:", **kw))
    >>> sink.close()
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from ..errors import ContactLimitError, FieldProblem, InvalidRecordError, SinkError
from ..protocols import (
    SINK_KINDS,
    BatchAck,
    ItemOutcome,
    SinkBatch,
    SinkCapabilities,
    SinkItem,
    SinkRecord,
    WriteAction,
)
from ..rules import (
    Contact,
    IdentityKind,
    Reason,
    RecordKey,
    SubscriptionDecision,
    TriggerDecision,
    should_subscribe,
)
from ._core import (
    StoredRecord,
    apply_batch,
    contact_from_data,
    contact_to_data,
    jsonable,
    stored_view,
)
from .sqlite import connect_sqlite, create_tables, sqlite_path_from_url

__all__ = ["CallbackSink", "Change", "RecordRefusedError"]

_T = TypeVar("_T")

_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_records (
    connection_id TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    updated_at TEXT NOT NULL, digest TEXT NOT NULL, view TEXT NOT NULL,
    PRIMARY KEY (connection_id, kind, external_id)
);
CREATE TABLE IF NOT EXISTS ledger_contacts (
    identity TEXT PRIMARY KEY, data TEXT NOT NULL, fields TEXT NOT NULL
);
"""


@attrs.frozen
class Change:
    """One change to send to the CRM: a new or changed contact or record.

    Attributes:
        key: ``(connection, kind, external id)``; for a contact the connection is
            ``""`` and the external id is its identity (normalised email or E.164 phone).
        action: :attr:`WriteAction.INSERTED` (never delivered before) or
            :attr:`WriteAction.UPDATED` (a newer version, or a merge changed the contact).
        record: the canonical record; for a contact, the *merged*
            :class:`~commerce_connectors.rules.Contact`.
        fields: the record in the CRM's field names (the field map's output), as JSON data.
        trigger: for orders and carts, whether this write may start the CRM's
            automations (``trigger.fires``, ``trigger.source``: 0 historical, 1 real time).
        contact: for customers, orders and carts, the identity of their contact.
        status: a cart's state (``abandoned`` …).
        subscription: for contacts, whether to subscribe them to your list
            (only on an explicit yes to marketing).
    """

    key: RecordKey
    action: WriteAction
    record: SinkRecord
    fields: Mapping[str, Any]
    trigger: TriggerDecision | None = None
    contact: str | None = None
    status: str | None = None
    subscription: SubscriptionDecision | None = None

    @property
    def kind(self) -> str:
        """``contact``, ``customer``, ``order``, ``product`` or ``cart``."""
        return self.key.kind


class RecordRefusedError(SinkError):
    """Raise it from a write function when the CRM refuses one record's content.

    The item is reported ``refused`` (``Reason.SINK_REJECTED``) with an
    :class:`~commerce_connectors.errors.InvalidRecordError` carrying the record's
    raw payload, which the sync engine dead-letters; the rest of the batch goes on.

    Args:
        reason: what the CRM said, in a sentence (never a credential).
        field: the CRM field it objected to, when it named one.

    Example:
        >>> str(RecordRefusedError("total must be positive", field="total"))
        'total must be positive'
    """

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(reason)


#: The function type of ``write_contact`` and ``write_record``.
WriteFunction = Callable[[Change], None]


class _Pending:
    """The backend of one batch: reads see the batch's own writes; nothing lands until commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.records: dict[RecordKey, tuple[SinkItem, str, dict[str, Any], bool]] = {}
        self.contacts: dict[str, tuple[Contact, Any, bool]] = {}

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        if key in self.records:
            item, digest, _, _ = self.records[key]
            return StoredRecord(item.record.updated_at, digest)
        row = self._conn.execute(
            "SELECT updated_at, digest FROM ledger_records"
            " WHERE connection_id = ? AND kind = ? AND external_id = ?",
            (key.connection_id, key.kind, key.external_id),
        ).fetchone()
        return None if row is None else StoredRecord(_dt.datetime.fromisoformat(row[0]), row[1])

    def load_record_data(self, key: RecordKey) -> Mapping[str, Any]:
        if key in self.records:
            data: Mapping[str, Any] = self.records[key][2]["data"]
            return data
        row = self._conn.execute(
            "SELECT view FROM ledger_records"
            " WHERE connection_id = ? AND kind = ? AND external_id = ?",
            (key.connection_id, key.kind, key.external_id),
        ).fetchone()
        stored: Mapping[str, Any] = json.loads(row[0])["data"]
        return stored

    def put_record(self, item: SinkItem, data: Mapping[str, Any], digest: str, fields: Any) -> None:
        trigger = None
        if item.trigger is not None:
            trigger = {"fires": item.trigger.fires, "source": item.trigger.source}
        view = stored_view(
            jsonable(dict(data)), fields, trigger=trigger, status=item.status, contact=item.contact
        )
        new = self._ledger_has_record(item.key) is False and item.key not in self.records
        was_new = self.records[item.key][3] if item.key in self.records else new
        self.records[item.key] = (item, digest, view, was_new)

    def _ledger_has_record(self, key: RecordKey) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM ledger_records WHERE connection_id = ? AND kind = ? AND external_id = ?",
            (key.connection_id, key.kind, key.external_id),
        ).fetchone()
        return row is not None

    def _ledger_contact(self, identity: str) -> Contact | None:
        row = self._conn.execute(
            "SELECT data FROM ledger_contacts WHERE identity = ?", (identity,)
        ).fetchone()
        return None if row is None else contact_from_data(json.loads(row[0]))

    def get_contact(self, identity: str) -> Contact | None:
        if identity in self.contacts:
            return self.contacts[identity][0]
        return self._ledger_contact(identity)

    def put_contact(self, contact: Contact, fields: Any) -> None:
        identity = contact.key.value
        if identity in self.contacts:
            was_new = self.contacts[identity][2]
        else:
            was_new = self._ledger_contact(identity) is None
        self.contacts[identity] = (contact, fields, was_new)

    def contact_count(self) -> int:
        stored: int = self._conn.execute("SELECT COUNT(*) FROM ledger_contacts").fetchone()[0]
        return stored + sum(1 for _, _, new in self.contacts.values() if new)


def _orphan(change: Change, contact_reason: Reason) -> ItemOutcome:
    """The refusal of a record whose contact is not in the CRM: kept for a replay."""
    record = change.record
    why = "the contact cap" if contact_reason is Reason.CONTACT_LIMIT else "the CRM"
    error = InvalidRecordError(
        platform=record.platform.value if record.platform is not None else "custom",
        kind=change.kind,
        record_id=record.external_id,
        problems=[
            FieldProblem(
                "contact",
                f"not sent: its contact was refused by {why}; `dead-letters replay` sends it"
                " once the contact is in",
            )
        ],
        payload=record.raw,
    )
    return ItemOutcome(change.key, WriteAction.REFUSED, contact_reason, error=error)


def _action(new: bool) -> WriteAction:
    return WriteAction.INSERTED if new else WriteAction.UPDATED


def _refusal(key: RecordKey, record: SinkRecord, exc: RecordRefusedError) -> ItemOutcome:
    platform = record.platform.value if record.platform is not None else "custom"
    record_id = record.external_id if not isinstance(record, Contact) else key.external_id
    error = InvalidRecordError(
        platform=platform,
        kind=key.kind,
        record_id=record_id,
        problems=[FieldProblem(exc.field or key.kind, f"refused by the CRM: {exc.reason}")],
        payload=record.raw,
    )
    return ItemOutcome(key, WriteAction.REFUSED, Reason.SINK_REJECTED, error=error)


class CallbackSink:
    """A sink that sends only changes to your CRM through two functions you write.

    Args:
        write_contact: called with a :class:`Change` for each new or changed
            contact; must create or update the CRM contact by ``change.key.external_id``
            (the identity). Called before the batch's records, so an order's
            contact exists when the order arrives.
        write_record: called with a :class:`Change` for each new or newer
            customer, order, product or cart; must create or update it by
            ``change.key`` (connection, kind, external id).
        ledger: where to remember what was delivered: a SQLite path, a
            ``sqlite:///path.db`` URL, or ``":memory:"`` (forgotten at exit, so
            the next process sends everything again: for tests).
        batch_size: the most items per batch (one ledger transaction each).
        contact_limit: the CRM plan's contact cap (``None``: none).
        phone_identity: the CRM accepts contacts with a phone and no email.
        kinds: the record kinds the CRM stores (the engine sends no others);
            ``contact`` is always included.
        ledger_wait: the most seconds a batch waits for another writer of the
            same ledger (a batch under way elsewhere) before failing with
            :class:`~commerce_connectors.errors.SinkError`.

    Raises:
        SinkError: the ledger cannot be opened.

    Example:
        >>> crm = {}
        >>> sink = CallbackSink(
        ...     write_contact=lambda c: crm.update({c.key.external_id: c.fields}),
        ...     write_record=lambda c: crm.update({c.key.external_id: c.fields}),
        ...     ledger=":memory:",
        ...     kinds={"contact", "order"},
        ... )
        >>> sorted(sink.capabilities.kinds)
        ['contact', 'order']
        >>> sink.close()
    """

    def __init__(
        self,
        *,
        write_contact: WriteFunction,
        write_record: WriteFunction,
        ledger: str | os.PathLike[str],
        batch_size: int = 100,
        contact_limit: int | None = None,
        phone_identity: bool = False,
        kinds: Iterable[str] = SINK_KINDS,
        ledger_wait: float = 600.0,
    ) -> None:
        identities = {IdentityKind.EMAIL}
        if phone_identity:
            identities.add(IdentityKind.PHONE)
        self._caps = SinkCapabilities(
            identity_kinds=identities,
            batch_size=batch_size,
            contact_limit=contact_limit,
            kinds=frozenset(kinds) | {"contact"},
        )
        self._write_contact = write_contact
        self._write_record = write_record
        target = os.fspath(ledger)
        self.ledger_path = sqlite_path_from_url(target) if target.startswith("sqlite:") else target
        self._lock = threading.Lock()
        try:
            self._conn = connect_sqlite(self.ledger_path)
            self._conn.execute(f"PRAGMA busy_timeout = {int(max(ledger_wait, 0) * 1000)}")
            create_tables(self._conn, _LEDGER_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise SinkError(f"cannot open the ledger at {self.ledger_path}: {exc}") from exc
        self._closed = False

    @property
    def capabilities(self) -> SinkCapabilities:
        """What this sink accepts."""
        return self._caps

    def write(self, batch: SinkBatch) -> BatchAck:
        """Decide what changed, send it through the two functions, remember it.

        The ledger's write lock is held throughout: a batch of another writer of the
        same ledger waits (up to ``ledger_wait`` seconds) until this one is remembered.

        Raises:
            SinkError: an item this sink cannot store, a write function failed
                (the cause is chained), the ledger failed, or another writer held
                it longer than ``ledger_wait``; the ledger keeps nothing of the batch.
        """
        if len(batch.items) > self._caps.batch_size:
            raise SinkError(
                f"batch of {len(batch.items)} items exceeds batch_size {self._caps.batch_size}"
            )
        with self._lock:
            # Held from the first ledger read to COMMIT: another writer of this ledger
            # (another process, another CallbackSink) waits, then decides from what
            # this batch delivered.
            self._ledger_call(self._conn.execute, "BEGIN IMMEDIATE")
            try:
                pending = _Pending(self._conn)
                ack = self._ledger_call(apply_batch, pending, batch, self._caps)
                refused = self._deliver(batch, pending, ack)
                self._ledger_call(self._remember, pending, refused)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
        if not refused:
            return ack
        return BatchAck(
            ack.sequence,
            tuple(
                refused[o.key]
                if o.key in refused and o.action in (WriteAction.INSERTED, WriteAction.UPDATED)
                else o
                for o in ack.outcomes
            ),
        )

    def _ledger_call(self, call: Callable[..., _T], *args: Any) -> _T:
        try:
            return call(*args)
        except sqlite3.Error as exc:
            raise SinkError(
                f"the ledger at {self.ledger_path} failed ({exc}); nothing of the batch is"
                " remembered, the next run sends it again"
            ) from exc

    def _deliver(
        self, batch: SinkBatch, pending: _Pending, ack: BatchAck
    ) -> dict[RecordKey, ItemOutcome]:
        # The merged contact's latest explicit choice decides: subscribe on a yes only.
        changes = [
            Change(
                RecordKey("", "contact", identity),
                _action(new),
                contact,
                fields,
                subscription=should_subscribe(contact.accepts_marketing),
            )
            for identity, (contact, fields, new) in pending.contacts.items()
        ]
        changes += [
            Change(
                key,
                _action(new),
                item.record,
                view["fields"],
                trigger=item.trigger,
                contact=item.contact,
                status=item.status,
            )
            for key, (item, _, view, new) in pending.records.items()
        ]
        refused: dict[RecordKey, ItemOutcome] = {}
        # Contacts not in the CRM after this batch, by identity: the library's cap
        # refused them, or the CRM did below.
        absent: dict[str, Reason] = {
            o.key.external_id: Reason.CONTACT_LIMIT
            for o in ack.outcomes
            if o.key.kind == "contact" and o.reason is Reason.CONTACT_LIMIT
        }
        for change in changes:
            if change.contact is not None and change.contact in absent:
                refused[change.key] = _orphan(change, absent[change.contact])
                continue
            send = self._write_contact if change.kind == "contact" else self._write_record
            try:
                send(change)
            except RecordRefusedError as exc:
                refused[change.key] = _refusal(change.key, change.record, exc)
            except ContactLimitError as exc:
                refused[change.key] = ItemOutcome(
                    change.key, WriteAction.REFUSED, Reason.CONTACT_LIMIT, error=exc
                )
            except Exception as exc:
                # Only the type: a CRM client's message may hold a URL with a key in it.
                raise SinkError(
                    f"write_{'contact' if change.kind == 'contact' else 'record'} failed for "
                    f"{change.key} ({type(exc).__name__}); nothing of batch {batch.sequence} "
                    "is remembered, the next run sends it again"
                ) from exc
            if change.kind == "contact" and change.key in refused:
                reason = refused[change.key].reason
                absent[change.key.external_id] = reason or Reason.SINK_REJECTED
        return refused

    def _remember(self, pending: _Pending, refused: Mapping[RecordKey, ItemOutcome]) -> None:
        """Write what was delivered and COMMIT the transaction :meth:`write` began."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO ledger_contacts (identity, data, fields) VALUES (?, ?, ?)",
            [
                (identity, _dumps(contact_to_data(contact)), _dumps(fields))
                for identity, (contact, fields, _) in pending.contacts.items()
                if RecordKey("", "contact", identity) not in refused
            ],
        )
        self._conn.executemany(
            "INSERT OR REPLACE INTO ledger_records"
            " (connection_id, kind, external_id, updated_at, digest, view)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    key.connection_id,
                    key.kind,
                    key.external_id,
                    item.record.updated_at.isoformat(),
                    digest,
                    _dumps(view),
                )
                for key, (item, digest, view, _) in pending.records.items()
                if key not in refused
            ],
        )
        self._conn.execute("COMMIT")

    def snapshot(self) -> dict[RecordKey, Mapping[str, Any]]:
        """What was delivered, as the ledger remembers it (keyed like the items)."""
        out: dict[RecordKey, Mapping[str, Any]] = {}
        with self._lock:
            records = self._conn.execute(
                "SELECT connection_id, kind, external_id, view FROM ledger_records"
            ).fetchall()
            contacts = self._conn.execute(
                "SELECT identity, data, fields FROM ledger_contacts"
            ).fetchall()
        for conn_id, kind, external_id, view in records:
            out[RecordKey(conn_id, kind, external_id)] = json.loads(view)
        for identity, data, fields in contacts:
            out[RecordKey("", "contact", identity)] = stored_view(
                json.loads(data), json.loads(fields)
            )
        return out

    def contact_count(self) -> int:
        """How many contacts were delivered."""
        with self._lock:
            count: int = self._conn.execute("SELECT COUNT(*) FROM ledger_contacts").fetchone()[0]
        return count

    def contact_exists(self, email: str) -> bool:
        """Whether a contact keyed on this (normalised) email was delivered."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM ledger_contacts WHERE identity = ?", (email.strip().lower(),)
            ).fetchone()
        return row is not None

    def close(self) -> None:
        """Close the ledger (idempotent)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> CallbackSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CallbackSink(ledger={self.ledger_path!r}, kinds={sorted(self._caps.kinds)})"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
