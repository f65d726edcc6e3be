"""MemorySink: a complete sink in a few dictionaries, for tests, notebooks and scripts."""

from __future__ import annotations

import copy
import datetime as _dt
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SinkError
from ..protocols import BatchAck, SinkBatch, SinkCapabilities, SinkItem
from ..rules import Contact, IdentityKind, RecordKey
from ._core import (
    STATUS_REASONS,
    StoredRecord,
    apply_batch,
    contact_after_erase,
    contact_from_data,
    contact_to_data,
    erase_target,
    person_matches,
    refuse_unscoped_erase,
    stored_view,
)

__all__ = ["MemorySink"]

_CONTACT = "contact"


def _copied(value: Any) -> Any:
    """``copy.deepcopy(value)`` for plain data, without deepcopy's bookkeeping.

    JSON containers are rebuilt, strings, numbers, booleans and ``None`` are kept
    (immutable, as deepcopy keeps them); anything else is deep-copied. Only identity
    between repeated sub-objects differs from deepcopy's result, never a value.
    """
    kind = type(value)
    # Kept values are tested in place: one call per container, not per value.
    if kind is dict:
        return {k: v if type(v) in _KEPT else _copied(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _KEPT else _copied(v) for v in value]
    if kind in _KEPT:
        return value
    return copy.deepcopy(value)


#: Immutable plain values a copy keeps (as deepcopy keeps them).
_KEPT = frozenset((str, int, bool, float, type(None)))


class _Overlay:
    """The backend of one batch: reads see the batch's own writes; nothing lands until commit."""

    def __init__(self, sink: MemorySink) -> None:
        self._sink = sink
        self.records: dict[RecordKey, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}

    def _row(self, key: RecordKey) -> dict[str, Any] | None:
        return self.records.get(key) or self._sink._records.get(key)

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        row = self._row(key)
        if row is None:
            return None
        return StoredRecord(row["record"].updated_at, row["digest"])

    def load_record_data(self, key: RecordKey) -> Mapping[str, Any]:
        row = self._row(key)
        assert row is not None
        data: Mapping[str, Any] = row["view"]["data"]
        return data

    def put_record(self, item: SinkItem, data: Mapping[str, Any], digest: str, fields: Any) -> None:
        trigger = None
        if item.trigger is not None:
            trigger = {"fires": item.trigger.fires, "source": item.trigger.source}
        self.records[item.key] = {
            "record": item.record,
            "digest": digest,
            "view": stored_view(
                {k: v if type(v) in _KEPT else _copied(v) for k, v in data.items()},
                fields,
                trigger=trigger,
                status=item.status,
                contact=item.contact,
            ),
        }

    def get_contact(self, identity: str) -> Contact | None:
        row = self.contacts.get(identity) or self._sink._contacts.get(identity)
        if row is None:
            return None
        data = row["data"]
        # A stored row's data is replaced, never changed in place: the contact decoded
        # from this very object is still what it decodes to.
        decoded = self._sink._decoded.get(identity)
        if decoded is not None and decoded[0] is data:
            return decoded[1]
        contact = contact_from_data(data)
        self._sink._decoded[identity] = (data, contact)
        return contact

    def put_contact(self, contact: Contact, fields: Any) -> None:
        self.contacts[contact.key.value] = {"data": contact_to_data(contact), "fields": fields}

    def contact_count(self) -> int:
        new = sum(1 for k in self.contacts if k not in self._sink._contacts)
        return len(self._sink._contacts) + new


class MemorySink:
    """Keeps everything in memory; the reference implementation of the Sink protocol.

    Writes are atomic per batch (a failing batch leaves nothing behind) and
    follow the same rules as every local sink: records are upserted by
    ``(connection, kind, external id)`` only when newer, contacts are merged
    per identity, and new contacts beyond ``contact_limit`` are refused.

    Args:
        batch_size: the most items per batch.
        contact_limit: the contact cap (``None``: none).
        phone_identity: accept contacts keyed on a phone number (no email).
        fail_on: a function called with each batch before it is applied; if it
            raises, the batch fails as a whole (for tests of failure handling).

    Example:
        >>> sink = MemorySink(contact_limit=2000)
        >>> sink.capabilities.contact_limit, sink.contact_count()
        (2000, 0)
    """

    def __init__(
        self,
        *,
        batch_size: int = 500,
        contact_limit: int | None = None,
        phone_identity: bool = False,
        fail_on: Any = None,
    ) -> None:
        kinds = {IdentityKind.EMAIL, IdentityKind.PHONE} if phone_identity else {IdentityKind.EMAIL}
        self._caps = SinkCapabilities(
            identity_kinds=kinds, batch_size=batch_size, contact_limit=contact_limit
        )
        self._records: dict[RecordKey, dict[str, Any]] = {}
        self._contacts: dict[str, dict[str, Any]] = {}
        #: Identity -> (the stored data object, the contact it decoded to); at most one
        #: entry per identity ever read (stale ones are recognised by the data object).
        self._decoded: dict[str, tuple[Any, Contact]] = {}
        self._lock = threading.Lock()
        self.fail_on = fail_on
        #: Acknowledged batches, in order.
        self.batches = 0

    @property
    def capabilities(self) -> SinkCapabilities:
        """What this sink accepts."""
        return self._caps

    def write(self, batch: SinkBatch) -> BatchAck:
        """Apply a batch atomically and acknowledge it."""
        with self._lock:
            if self.fail_on is not None:
                self.fail_on(batch)
            if len(batch.items) > self._caps.batch_size:
                raise SinkError(
                    f"batch of {len(batch.items)} items exceeds batch_size {self._caps.batch_size}"
                )
            overlay = _Overlay(self)
            ack = apply_batch(overlay, batch, self._caps)
            self._records.update(overlay.records)
            self._contacts.update(overlay.contacts)
            self.batches += 1
            return ack

    def snapshot(self) -> dict[RecordKey, Mapping[str, Any]]:
        """Everything stored, keyed like the items."""
        with self._lock:
            out: dict[RecordKey, Mapping[str, Any]] = {
                key: copy.deepcopy(row["view"]) for key, row in self._records.items()
            }
            for identity, row in self._contacts.items():
                out[RecordKey("", _CONTACT, identity)] = stored_view(
                    copy.deepcopy(row["data"]), copy.deepcopy(row["fields"])
                )
            return out

    def contact_count(self) -> int:
        """How many contacts are stored."""
        return len(self._contacts)

    def contacts(self) -> dict[str, Contact]:
        """Every stored contact by identity."""
        return {k: contact_from_data(v["data"]) for k, v in self._contacts.items()}

    def records(self, kind: str | None = None) -> dict[RecordKey, Any]:
        """Stored canonical records (of one kind), by key."""
        return {k: v["record"] for k, v in self._records.items() if kind in (None, k.kind)}

    def with_contact_limit(self, limit: int | None) -> MemorySink:
        """This sink's data under another contact cap (a raised plan, in tests)."""
        self._caps = SinkCapabilities(
            identity_kinds=self._caps.identity_kinds,
            batch_size=self._caps.batch_size,
            contact_limit=limit,
        )
        return self

    def erase(
        self,
        connection_id: str | None,
        *,
        email: str | None = None,
        customer_external_id: str | None = None,
        order_external_ids: Sequence[str] = (),
    ) -> int:
        """Erase a person's data or a connection's; return how many records/contacts went.

        See :class:`~commerce_connectors.protocols.ErasableSink`.

        Example:
            >>> MemorySink().erase("shop:1", email="ana@example.com")
            0
        """
        refuse_unscoped_erase(connection_id, email, customer_external_id, order_external_ids)
        email, customer_id = erase_target(email, customer_external_id)
        orders = set(order_external_ids)
        whole = email is None and customer_id is None and not orders
        with self._lock:
            in_scope = {
                key: row
                for key, row in self._records.items()
                if connection_id in (None, key.connection_id)
            }
            named = [
                row["record"]
                for key, row in in_scope.items()
                if key.kind == "order" and key.external_id in orders
            ]
            # The named orders' buyers are the person too (an older address, a guest).
            emails = {email, *(erase_target(o.email, None)[0] for o in named)} - {None}
            gone = [
                key
                for key, row in in_scope.items()
                if whole
                or (key.kind == "order" and key.external_id in orders)
                or any(person_matches(row["record"], e, None) for e in emails)
                or person_matches(row["record"], None, customer_id)
            ]
            for key in gone:
                del self._records[key]
            touched = 0
            for identity, row in list(self._contacts.items()):
                contact = contact_from_data(row["data"])
                sources = [s for s in contact.sources if connection_id in (None, s.connection_id)]
                if not sources:
                    continue
                named_here = identity in emails or (
                    customer_id is not None and any(s.external_id == customer_id for s in sources)
                )
                if not whole and not named_here:
                    continue
                kept = contact_after_erase(contact, connection_id)
                touched += 1
                self._decoded.pop(identity, None)
                if kept is None:
                    del self._contacts[identity]
                else:
                    self._contacts[identity] = {**row, "data": contact_to_data(kept)}
            return len(gone) + touched

    def contact_exists(self, email: str) -> bool:
        """Whether a contact keyed on this (normalised) email is stored."""
        return email.strip().lower() in self._contacts

    def set_status(self, key: RecordKey, status: str, at: _dt.datetime) -> bool:
        """Change a stored cart's state (``deleted``, ``recovered``); it then fires nothing.

        Only carts have a state here; other kinds return ``False``.
        """
        with self._lock:
            row = self._records.get(key)
            if row is None or key.kind != "cart" or row["view"]["status"] == status:
                return False
            view = dict(row["view"], status=status)
            if view.get("trigger") is not None and status in STATUS_REASONS:
                view["trigger"] = {**view["trigger"], "fires": False}
            self._records[key] = {**row, "view": view}
            return True

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"MemorySink(records={len(self._records)}, contacts={len(self._contacts)})"
