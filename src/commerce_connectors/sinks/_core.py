"""The write logic every local sink shares: update-if-newer, contact merge, contact cap.

A sink backend only knows how to read and write rows inside one transaction
(:class:`Backend`); :func:`apply_batch` decides, for each item of a batch,
whether it is new, newer, equal or stale, merges contacts with what is stored
and enforces the contact cap. Keeping the decisions here means the memory and
SQLite sinks cannot disagree, and the conformance suite checks one logic twice.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import attrs

from ..errors import ConfigurationError, SinkError
from ..models import Cart, Customer, Order, Product
from ..protocols import (
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
    ContactKey,
    IdentityKind,
    Reason,
    RecordKey,
    SourceRef,
    apply_contact_cap,
    merge_contacts,
    normalize_email,
    should_replace,
)
from ..serialization import from_data, unstructurer

__all__ = [
    "Backend",
    "StoredRecord",
    "apply_batch",
    "contact_from_data",
    "contact_to_data",
    "digest",
    "encode",
    "jsonable",
    "load_contact_json",
    "record_data",
]

_RECORD_CLASSES: Mapping[str, type[Customer | Order | Product | Cart]] = {
    "customer": Customer,
    "order": Order,
    "product": Product,
    "cart": Cart,
}


# Integers this size print as JSON whatever the interpreter's int-to-text digit limit.
_SMALL_INT = 10**18


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (Decimals and datetimes become strings).

    What a JSON round trip (``json.dumps(value, default=str)`` then ``json.loads``)
    gives, built directly: JSON values are kept, tuples become lists, anything else
    becomes ``str(value)``. Unusual shapes (keys that are not strings, subclasses of
    the JSON types) take the round trip itself, so the result is always the same.

    Example:
        >>> jsonable({"total": Decimal("9.90"), "tags": ("a",), "n": None})
        {'total': '9.90', 'tags': ['a'], 'n': None}
    """
    return _lenient(value)


#: What a walk of :func:`_walker` does: look only (the value itself, if plain JSON data
#: already), build :func:`jsonable`'s copy refusing unusual shapes, or build it whatever
#: comes. Looking is the one false mode.
_CHECK, _STRICT, _LENIENT = 0, 1, 2
#: Exact types plain JSON data holds as leaves (ints are checked for size apart).
_LEAVES = frozenset((str, float, bool, type(None)))


class _UnusualError(Exception):
    """A value a strict or looking walk (:func:`_walker`) leaves to the generic path."""


def _walker(mode: int) -> Callable[[Any], Any]:
    """The one type dispatch of the JSON data the sinks store, as a walk in ``mode``.

    Kept as they are: strings, floats (repr round-trips exactly; NaN and infinities
    stay what they are), booleans, ``None`` and ints whose text no digit limit
    refuses; dicts with string keys and lists are walked. Converting
    (:data:`_STRICT`, :data:`_LENIENT`), tuples become lists, Decimals and datetimes
    their ``str()``, and new containers are built; looking (:data:`_CHECK`) those
    are not plain and the value itself is returned. Anything else (keys that are
    not strings, subclasses, other types) raises :class:`_UnusualError`, except
    :data:`_LENIENT`, which gives it the JSON round trip :func:`jsonable` promises.
    Exact types only: a subclass of ``str`` may encode differently from its text.

    The mode is bound once per walk function (a closure) rather than passed down
    every call, which would cost about a sixth of a walk's time.
    """
    leaves = _LEAVES
    str_only = frozenset((str,))

    def walk(value: Any) -> Any:
        kind = type(value)
        if kind is str or kind is bool or value is None or kind is float:
            return value
        if kind is int:
            if -_SMALL_INT < value < _SMALL_INT:
                return value
        elif kind is dict:
            if set(map(type, value)) <= str_only:
                if mode:
                    return {k: walk(v) for k, v in value.items()}
                look(value.values())
                return value
        elif kind is list:
            if mode:
                return [walk(v) for v in value]
            look(value)
            return value
        elif kind is tuple:
            if mode:
                return [walk(v) for v in value]
        elif (kind is Decimal or kind is _dt.datetime) and mode:
            return str(value)
        if mode == _LENIENT:
            return json.loads(json.dumps(value, default=str, ensure_ascii=False))
        raise _UnusualError

    def look(items: Any) -> None:
        # Looking: a container's other items first, its nested containers after, so
        # an unusual value near the top is found before anything deeper is walked.
        nested = []
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                nested.append(item)
            elif kind not in leaves:
                walk(item)
        for item in nested:
            walk(item)

    return walk


_lenient = _walker(_LENIENT)
_strict = _walker(_STRICT)
_check = _walker(_CHECK)


def record_data(record: Customer | Order | Product | Cart) -> dict[str, Any]:
    """The canonical record as plain data, without its raw payload.

    What :func:`~commerce_connectors.serialization.to_data` gives without ``raw`` (the
    record's and its buyer's), from a function precomputed for the record's class.
    """
    return unstructurer(type(record), raw=False)(record)


def _iso(value: _dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt_or_none(value: Any) -> _dt.datetime | None:
    return None if value is None else _dt.datetime.fromisoformat(value)


def contact_to_data(contact: Contact) -> dict[str, Any]:
    """A rules :class:`~commerce_connectors.rules.Contact` as plain data (raw payloads dropped).

    Example:
        >>> t = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
        >>> c = Contact(ContactKey("email", "a@b.co"), t, tags=("vip",))
        >>> contact_from_data(contact_to_data(c)) == c
        True
    """
    return {
        "key": {"kind": contact.key.kind.value, "value": contact.key.value},
        "updated_at": contact.updated_at.isoformat(),
        "email": contact.email,
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "tags": list(contact.tags),
        "accepts_marketing": contact.accepts_marketing,
        "consent_at": _iso(contact.consent_at),
        "sources": [
            {
                "platform": s.platform._value_,  # ``.value`` without the property call
                "connection_id": s.connection_id,
                "external_id": s.external_id,
                "updated_at": s.updated_at.isoformat(),
            }
            for s in contact.sources
        ],
        "field_times": {k: v.isoformat() for k, v in contact.field_times.items()},
    }


try:  # the ``fast`` extra: a faster reader of the contact rows' JSON
    import orjson as _orjson
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]


def load_contact_json(text: str | bytes) -> Any:
    """Read the JSON text of a stored :func:`contact_to_data` (what ``json.loads`` gives).

    With ``orjson`` installed (the ``fast`` extra) it reads the text, otherwise the
    standard library does; the result is the same. A contact's data holds only strings,
    booleans and nulls, where the two readers agree; text orjson refuses (a lone
    surrogate escape) goes to the standard reader.
    """
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


def contact_from_data(data: Mapping[str, Any]) -> Contact:
    """Rebuild a contact from :func:`contact_to_data` output."""
    return Contact(
        key=ContactKey(IdentityKind(data["key"]["kind"]), data["key"]["value"]),
        updated_at=_dt.datetime.fromisoformat(data["updated_at"]),
        email=data.get("email"),
        phone=data.get("phone"),
        first_name=data.get("first_name"),
        last_name=data.get("last_name"),
        company=data.get("company"),
        tags=tuple(data.get("tags", ())),
        accepts_marketing=data.get("accepts_marketing"),
        consent_at=_dt_or_none(data.get("consent_at")),
        sources=[
            SourceRef(
                s["platform"],
                s["connection_id"],
                s.get("external_id"),
                _dt.datetime.fromisoformat(s["updated_at"]),
            )
            for s in data.get("sources", ())
        ],
        field_times={
            k: _dt.datetime.fromisoformat(v) for k, v in data.get("field_times", {}).items()
        },
    )


def encode(value: Any) -> str:
    """The JSON text local sinks store and fingerprint: keys sorted, UTF-8 kept.

    The texts of the record data and of the CRM fields :func:`apply_batch` last
    fingerprinted in this thread are remembered, so a backend storing those same
    objects does not encode them again.
    """
    memo = _memo.__dict__
    if memo.get("value") is value:
        text: str = memo["text"]
        return text
    if memo.get("fields") is value:
        # Answered once: the fields may be the caller's own object (plain already),
        # which could change after this write.
        memo["fields"] = None
        fields_text: str = memo["fields_text"]
        return fields_text
    return _dumps(value)


_memo = threading.local()

#: ``json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)``, the encoder
#: made once: ``json.dumps`` with options builds a new encoder on every call.
_dumps = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


def digest(data: Any) -> str:
    """A stable fingerprint of plain data (equal data, equal digest)."""
    return hashlib.blake2b(_dumps(data).encode(), digest_size=16).hexdigest()


def _record_digest(data: dict[str, Any], rest: Sequence[Any]) -> str:
    """``digest([data, *rest])``, the text of ``data`` kept for the backend's row.

    A JSON array's text is its items' texts joined by ``", "``, so the record is
    encoded once for the fingerprint and the stored row alike, and the rest in one
    more call (``[a, b]`` is ``[`` + ``a`` + ``, `` + the text of ``[b]`` past its ``[``).
    """
    text = _dumps(data)
    _memo.value, _memo.text = data, text
    tail = ", " + _dumps(list(rest))[1:] if rest else "]"
    return hashlib.blake2b(f"[{text}{tail}".encode(), digest_size=16).hexdigest()


def _already_plain(value: Any) -> bool:
    """Whether ``value`` is plain JSON data already: :func:`jsonable` would copy it as it is.

    Dicts with string keys, lists, strings, small ints, floats, booleans and ``None``,
    exact types only (:func:`_walker` looking, without building anything: the field
    maps' output is almost always of this shape). A cycle, or nesting deeper than the
    interpreter's recursion limit, answers ``False``, leaving the value to the
    checked walk.
    """
    try:
        _check(value)
    except (_UnusualError, RecursionError):
        return False
    return True


def _copied(value: Any) -> Any:
    """A copy of plain JSON data (:func:`_already_plain`): new containers, leaves kept."""
    kind = type(value)
    if kind is dict:
        return {
            k: v if type(v) in _LEAVES or type(v) is int else _copied(v) for k, v in value.items()
        }
    if kind is list:
        return [v if type(v) in _LEAVES or type(v) is int else _copied(v) for v in value]
    return value


def _plain_json(value: Any) -> Any:
    """:func:`jsonable` of ``value`` when its JSON text is ``value``'s own; else it raises.

    For the shapes :func:`_walker` converts (dicts with string keys, lists, tuples,
    strings, small ints, floats, booleans, ``None``, Decimals, datetimes)
    ``json.dumps(value, sort_keys=True, default=str)`` and the same of the result
    are one text, so the CRM fields can be encoded once for the fingerprint and the
    stored row. Anything else (keys that are not strings sort differently once they
    become strings) raises :class:`_UnusualError`, and the caller takes the
    reference path. Plain JSON data already (:func:`_already_plain`) is returned as
    it is, not copied: equal to :func:`jsonable`'s copy, with the same text.
    """
    if _already_plain(value):
        return value
    return _strict(value)


def _record_texts(
    data: dict[str, Any], fields: Any, rest: Sequence[Any], as_data: bool = True
) -> tuple[str, Any]:
    """The record's fingerprint and its fields as JSON data, each text encoded once.

    The fingerprint is ``digest([data, fields, *rest])`` and the fields are
    ``jsonable(fields)``, as :func:`_record_digest` and :func:`jsonable` give them;
    the texts of the data and of the fields are remembered for :func:`encode`.
    Fields of an unusual shape go through those two functions themselves. With
    ``as_data`` false (a backend that stores only the fields' text) fields that are
    plain JSON already are returned as given (their text is the copy's), not copied.
    """
    try:
        plain = _plain_json(fields)
    except (_UnusualError, RecursionError):  # a cycle: the reference raises json's error
        return _record_digest(data, (fields, *rest)), jsonable(fields)
    if plain is fields and as_data:
        plain = _copied(fields)  # the backend keeps new containers, as jsonable's
    text = _dumps(data)
    fields_text = _dumps(plain)
    memo = _memo.__dict__
    memo["value"], memo["text"], memo["fields"], memo["fields_text"] = (
        data,
        text,
        plain,
        fields_text,
    )
    whole = f"[{text}, {fields_text}, {_dumps(list(rest))[1:]}"
    return hashlib.blake2b(whole.encode(), digest_size=16).hexdigest(), plain


@attrs.frozen
class StoredRecord:
    """What a backend returns about a stored record: enough to decide "newer"."""

    updated_at: _dt.datetime
    digest: str
    data: Mapping[str, Any] | None = None


class Backend(Protocol):
    """Row access inside one open transaction; :func:`apply_batch` makes the decisions.

    Within a batch a read of a key must see the batch's earlier writes of it; a
    backend may keep its writes and send them together before the COMMIT.
    :func:`apply_batch` puts each record as it decides it, and each changed contact
    identity once, after the batch's last item, in its final merged state (identities
    in the order of their first change in the batch).

    A backend class that stores the CRM fields only as text (through :func:`encode`)
    says ``FIELDS_AS_TEXT = True``: plain fields are then handed over as the item holds
    them, not copied (see :func:`_fields_as_data`).
    """

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        """Updated-at and digest of a stored record (``data`` may be omitted)."""
        ...

    def load_record_data(self, key: RecordKey) -> Mapping[str, Any]:
        """The stored canonical data of a record known to exist (for exact ties)."""
        ...

    def put_record(self, item: SinkItem, data: Mapping[str, Any], digest: str, fields: Any) -> None:
        """Insert or replace one record."""
        ...

    def get_contact(self, identity: str) -> Contact | None:
        """The stored contact with this identity."""
        ...

    def put_contact(self, contact: Contact, fields: Any) -> None:
        """Insert or replace one contact."""
        ...

    def contact_count(self) -> int:
        """How many contacts are stored."""
        ...


def _fields_as_data(backend: Backend) -> bool:
    """Whether ``backend`` keeps the CRM fields it is handed as data (the default).

    A backend whose class says ``FIELDS_AS_TEXT = True`` only stores the fields'
    JSON text (through :func:`encode`); it may then be handed the item's own fields
    object, unchanged, whenever that object's text is its JSON form's.
    """
    return not getattr(backend, "FIELDS_AS_TEXT", False)


def _source_pairs(contact: Contact) -> set[tuple[str, str | None]]:
    return {(s.connection_id, s.external_id) for s in contact.sources}


def _check_item(item: SinkItem, caps: SinkCapabilities) -> None:
    kind = item.key.kind  # ``item.kind``, read once (a property call per read)
    if kind not in caps.kinds:
        raise SinkError(f"this sink does not store {kind!r} records ({item.key})")
    expected = Contact if kind == "contact" else _RECORD_CLASSES.get(kind)
    if expected is None or not isinstance(item.record, expected):
        raise SinkError(
            f"item {item.key} carries a {type(item.record).__name__}, not a {kind} record"
        )


class _Contacts:
    """The batch's view of its contacts: decided item by item, written once per identity.

    Each contact item is merged with the identity's current state (what the backend
    holds, read once per batch, or what an earlier item of the batch made of it) and
    its outcome decided at once, in batch order. Every changed state is mapped with the
    batch's contact map as it is decided, so a map that fails on a state fails at that
    item, as when each state was written. The backend receives each changed identity
    once, in the order of its first change, in its final merged state with the fields
    mapped from it: the state the last of the item-by-item writes leaves.
    """

    def __init__(self, backend: Backend, contact_map: Any) -> None:
        self._backend = backend
        self._map = contact_map
        self._as_data = _fields_as_data(backend)
        self._current: dict[str, Contact | None] = {}
        #: Changed identities, in the order of their first change -> the last state's fields.
        self._changed: dict[str, Any] = {}

    def current(self, identity: str) -> Contact | None:
        """The identity's contact as the batch stands (stored, or merged by this batch)."""
        current = self._current
        if identity in current:
            return current[identity]
        found = current[identity] = self._backend.get_contact(identity)
        return found

    def exists(self, identity: str) -> bool:
        """Whether the identity holds a contact (before the batch writes any)."""
        return self.current(identity) is not None

    def decide(self, item: SinkItem) -> ItemOutcome:
        """Merge one contact item, map the changed state and say what it does.

        Raises:
            Exception: whatever the contact map (or the fields' conversion) raises
                for the new state; the caller rolls the batch back.
        """
        incoming = item.record
        assert isinstance(incoming, Contact)
        identity = item.key.external_id
        stored = self.current(identity)
        if stored is None:
            self._changed[identity] = self._fields(incoming)
            self._current[identity] = incoming
            return ItemOutcome(item.key, WriteAction.INSERTED, merged=False)
        merged = merge_contacts([stored, incoming])[incoming.key]
        duplicate = not _source_pairs(incoming) <= _source_pairs(stored)
        if merged == stored:
            return ItemOutcome(item.key, WriteAction.UNCHANGED, merged=duplicate)
        # Mapped before the state is taken, as the write of each state did: a map
        # failing here leaves nothing of this item behind.
        self._changed[identity] = self._fields(merged)
        self._current[identity] = merged
        return ItemOutcome(item.key, WriteAction.UPDATED, merged=duplicate)

    def _fields(self, contact: Contact) -> Any:
        """The CRM fields of one state, as the backend is handed them.

        A backend that stores only the fields' text (:func:`_fields_as_data`) is handed
        plain fields as the map gave them (:func:`_already_plain`): the text is the copy's.
        """
        fields = self._map.apply(contact).fields
        if self._as_data or not _already_plain(fields):
            fields = jsonable(fields)
        return fields

    def write(self, contact_map: Any) -> None:
        """Hand every changed identity's final contact and its fields to the backend.

        Args:
            contact_map: the batch's contact map, the one this view was made with:
                every state was mapped with it as it was decided, and the last
                state's fields are handed over as they were mapped then.
        """
        assert contact_map is self._map
        current = self._current
        put = self._backend.put_contact
        for identity, fields in self._changed.items():
            contact = current[identity]
            assert contact is not None
            put(contact, fields)


def _write_record(backend: Backend, item: SinkItem, as_data: bool = True) -> ItemOutcome:
    record = item.record
    assert isinstance(record, (Customer, Order, Product, Cart))
    data = record_data(record)
    fingerprint, fields = _record_texts(
        data, item.fields, (_trigger(item), item.status, item.contact), as_data
    )
    stored = backend.get_record(item.key)
    if stored is not None:
        if stored.digest == fingerprint:
            return ItemOutcome(item.key, WriteAction.UNCHANGED)
        if record.updated_at < stored.updated_at:
            return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
        if record.updated_at == stored.updated_at:
            # An exact tie between different contents: the rules' fixed content
            # order decides, so the outcome never depends on arrival order.
            old = from_data(type(record), backend.load_record_data(item.key))
            if not should_replace(old, record) or old == record:
                return ItemOutcome(item.key, WriteAction.STALE, Reason.STALE_RECORD)
    backend.put_record(item, data, fingerprint, fields)
    return ItemOutcome(item.key, WriteAction.INSERTED if stored is None else WriteAction.UPDATED)


def _trigger(item: SinkItem) -> Any:
    if item.trigger is None:
        return None
    return [item.trigger.fires, item.trigger.reason._value_ if item.trigger.reason else None]


def apply_batch(backend: Backend, batch: SinkBatch, caps: SinkCapabilities) -> BatchAck:
    """Apply every item of a batch to a backend inside the caller's transaction.

    Outcomes are decided item by item in batch order; records are written as they are
    decided, contacts once per identity after the last item (see :class:`_Contacts`),
    so a backend sees each contact identity at most once per batch. Each changed
    contact state is mapped with the batch's contact map as it is decided: a map that
    fails on a state raises at that item.

    Raises:
        SinkError: an item this sink cannot store; the caller rolls back.
    """
    for item in batch.items:
        _check_item(item, caps)
    contacts = _Contacts(backend, batch.contact_map)
    refused: dict[int, ItemOutcome] = {}
    keyable = []
    for item in batch.items:
        if item.key.kind != "contact":
            continue
        assert isinstance(item.record, Contact)
        if item.record.key.kind not in caps.identity_kinds:
            refused[id(item)] = ItemOutcome(item.key, WriteAction.REFUSED, Reason.NO_IDENTITY)
        else:
            keyable.append(item)
    if caps.contact_limit is not None and keyable:
        cap = apply_contact_cap(
            keyable,
            limit=caps.contact_limit,
            existing=contacts.exists,
            existing_count=backend.contact_count(),
            identity=lambda i: i.key.external_id,
        )
        for refusal in cap.refused:
            refused[id(refusal.item)] = ItemOutcome(
                refusal.item.key, WriteAction.REFUSED, refusal.reason, error=refusal.error
            )
    outcomes: list[ItemOutcome] = []
    as_data = _fields_as_data(backend)
    for item in batch.items:
        if refused and id(item) in refused:
            outcomes.append(refused[id(item)])
        elif item.key.kind == "contact":
            outcomes.append(contacts.decide(item))
        else:
            outcomes.append(_write_record(backend, item, as_data))
    contacts.write(batch.contact_map)
    return BatchAck(batch.sequence, tuple(outcomes))


def stored_view(
    data: Any,
    fields: Any,
    *,
    trigger: Any = None,
    status: str | None = None,
    contact: str | None = None,
) -> dict[str, Any]:
    """The shape both local sinks give one stored item in ``snapshot()``."""
    return {
        "data": data,
        "fields": fields,
        "trigger": trigger,
        "status": status,
        "contact": contact,
    }


def item_record(item: SinkItem) -> SinkRecord:
    """The item's record (a typed accessor for backends)."""
    return item.record


def erase_target(
    email: str | None, customer_external_id: str | None
) -> tuple[str | None, str | None]:
    """The normalised email and the customer id an erase request names.

    An email is matched the way contacts are keyed (trimmed, lower-cased), and
    also as given, so a record holding an address the email rule refused is
    still found.
    """
    normalised = normalize_email(email).value if email else None
    return normalised or (email.strip().lower() if email else None), customer_external_id


def person_matches(record: Any, email: str | None, customer_external_id: str | None) -> bool:
    """Whether a stored customer, order or cart is about the person an erase request names."""
    record_email = getattr(record, "email", None)
    if email is not None and record_email is not None and record_email.strip().lower() == email:
        return True
    if customer_external_id is None or isinstance(record, Product):
        return False
    own = record.external_id if isinstance(record, Customer) else None
    return customer_external_id in (own, getattr(record, "customer_external_id", None))


#: The trigger a cart gets when it leaves the abandoned state after it was written.
STATUS_REASONS = {"deleted": Reason.CART_DELETED, "recovered": Reason.CART_RECOVERED}


def contact_after_erase(contact: Contact, connection_id: str | None) -> Contact | None:
    """The contact once ``connection_id``'s traces are erased (``None``: erase it whole).

    Erasing for every connection, or for the only connection that knows the
    person, removes the contact; otherwise only that connection's source
    reference goes, and the other stores' data stays.
    """
    if connection_id is None:
        return None
    remaining = tuple(s for s in contact.sources if s.connection_id != connection_id)
    if not remaining:
        return None
    return attrs.evolve(contact, sources=remaining)


def refuse_unscoped_erase(
    connection_id: str | None,
    email: str | None,
    customer_id: str | None,
    order_ids: Sequence[str] = (),
) -> None:
    """An erase must name a connection or a person: erasing a whole sink is not a redaction."""
    if connection_id is None and email is None and customer_id is None and not order_ids:
        raise ConfigurationError("erase needs a connection, an email, a customer id or orders")
