"""The sinks' batch decisions as they were before the batch-level write path (frozen copy).

:func:`apply_batch` here is the per-item reference the differential tests in
``test_sink_batch_*.py`` hold the shipped :func:`commerce_connectors.sinks._core.apply_batch`
to: every item decided and written one after another (each changed contact mapped,
encoded and written at once, each record's fields encoded on their own). Only the
decision functions are copied; the backends are the shipped ones. Do not optimise
this module: it is the yardstick.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from commerce_connectors.errors import SinkError
from commerce_connectors.protocols import (
    BatchAck,
    ItemOutcome,
    SinkBatch,
    SinkCapabilities,
    SinkItem,
    WriteAction,
)
from commerce_connectors.rules import (
    Contact,
    Reason,
    apply_contact_cap,
    merge_contacts,
    should_replace,
)
from commerce_connectors.serialization import from_data
from commerce_connectors.sinks._core import _RECORD_CLASSES, Backend, jsonable, record_data

_dumps = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


def _record_digest(data: dict[str, Any], rest: Sequence[Any]) -> str:
    """``digest([data, *rest])`` (the text of ``data`` is not memoised here)."""
    text = _dumps(data)
    tail = ", " + _dumps(list(rest))[1:] if rest else "]"
    return hashlib.blake2b(f"[{text}{tail}".encode(), digest_size=16).hexdigest()


def _source_pairs(contact: Contact) -> set[tuple[str, str | None]]:
    return {(s.connection_id, s.external_id) for s in contact.sources}


def _check_item(item: SinkItem, caps: SinkCapabilities) -> None:
    if item.kind not in caps.kinds:
        raise SinkError(f"this sink does not store {item.kind!r} records ({item.key})")
    expected = Contact if item.kind == "contact" else _RECORD_CLASSES.get(item.kind)
    if expected is None or not isinstance(item.record, expected):
        raise SinkError(
            f"item {item.key} carries a {type(item.record).__name__}, not a {item.kind} record"
        )


def _write_contact(
    backend: Backend, item: SinkItem, contact_map: Any, pending: dict[str, Contact]
) -> ItemOutcome:
    incoming = item.record
    assert isinstance(incoming, Contact)
    identity = item.key.external_id
    stored = pending.get(identity) or backend.get_contact(identity)
    merged = incoming if stored is None else merge_contacts([stored, incoming])[incoming.key]
    duplicate = stored is not None and not _source_pairs(incoming) <= _source_pairs(stored)
    if stored is not None and merged == stored:
        return ItemOutcome(item.key, WriteAction.UNCHANGED, merged=duplicate)
    fields = jsonable(contact_map.apply(merged).fields)
    backend.put_contact(merged, fields)
    pending[identity] = merged
    action = WriteAction.INSERTED if stored is None else WriteAction.UPDATED
    return ItemOutcome(item.key, action, merged=duplicate)


def _write_record(backend: Backend, item: SinkItem) -> ItemOutcome:
    record = item.record
    assert not isinstance(record, Contact)
    data = record_data(record)
    fingerprint = _record_digest(data, (item.fields, _trigger(item), item.status, item.contact))
    stored = backend.get_record(item.key)
    if stored is not None:
        if stored.digest == fingerprint:
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        if record.updated_at < stored.updated_at:
            return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
        if record.updated_at == stored.updated_at:
            old = from_data(type(record), backend.load_record_data(item.key))
            if not should_replace(old, record) or old == record:
                return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
    backend.put_record(item, data, fingerprint, jsonable(item.fields))
    return ItemOutcome(item.key, WriteAction.INSERTED if stored is None else WriteAction.UPDATED)


def _trigger(item: SinkItem) -> Any:
    if item.trigger is None:
        return None
    return [item.trigger.fires, item.trigger.reason.value if item.trigger.reason else None]


def apply_batch(backend: Backend, batch: SinkBatch, caps: SinkCapabilities) -> BatchAck:
    """The reference: every item decided and written in turn."""
    for item in batch.items:
        _check_item(item, caps)
    contacts = [i for i in batch.items if i.kind == "contact"]
    refused: dict[int, ItemOutcome] = {}
    keyable = []
    for item in contacts:
        assert isinstance(item.record, Contact)
        if item.record.key.kind not in caps.identity_kinds:
            refused[id(item)] = ItemOutcome(item.key, WriteAction.REFUSED, Reason.NO_IDENTITY)
        else:
            keyable.append(item)
    if caps.contact_limit is not None and keyable:
        cap = apply_contact_cap(
            keyable,
            limit=caps.contact_limit,
            existing=lambda identity: backend.get_contact(identity) is not None,
            existing_count=backend.contact_count(),
            identity=lambda i: i.key.external_id,
        )
        for refusal in cap.refused:
            refused[id(refusal.item)] = ItemOutcome(
                refusal.item.key, WriteAction.REFUSED, refusal.reason, error=refusal.error
            )
    outcomes: list[ItemOutcome] = []
    pending: dict[str, Contact] = {}
    for item in batch.items:
        if id(item) in refused:
            outcomes.append(refused[id(item)])
        elif item.kind == "contact":
            outcomes.append(_write_contact(backend, item, batch.contact_map, pending))
        else:
            outcomes.append(_write_record(backend, item))
    return BatchAck(batch.sequence, tuple(outcomes))
