"""SQLiteSink: the embedded default sink, one readable SQLite file.

Stdlib :mod:`sqlite3` in WAL mode with ``synchronous=FULL``: a batch is one
transaction, and :meth:`SQLiteSink.write` returns only after its COMMIT, so an
acknowledged batch survives a crash or a power cut. The schema is meant to be
queried by people (``docs/sinks.md`` documents it):

=================  ==========================================================
table              one row per
=================  ==========================================================
``contacts``       contact (identity: normalised email or E.164 phone)
``contact_sources``  connection a contact was seen in, with its customer id
``contact_tags``   tag of a contact
``customers``      customer of a connection
``orders``         order of a connection, with its automation-trigger decision
``products``       catalogue product of a connection
``carts``          abandoned cart of a connection, with its trigger decision
``lines``          line of an order or cart (``parent_kind``, ``parent_id``)
=================  ==========================================================

Every record table keeps the canonical record as JSON (``data``) and the
CRM's view of it (``crm_fields``, the field map's output) next to readable
columns, among them ``crm_external_id``: the external id the CRM receives (the
field map's, see :func:`crm_external_id`). The state store (checkpoints, dead
letters, run log) may share the file: see
:class:`commerce_connectors.state.SQLiteStateStore`.

Example:
    >>> sink = SQLiteSink(":memory:")
    >>> sink.capabilities.batch_size, sink.contact_count()
    (500, 0)
    >>> sink.close()
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, SinkError
from ..mapping import FieldMap
from ..models import Cart, Customer, LineItem, Order, Product
from ..protocols import BatchAck, SinkBatch, SinkCapabilities, SinkItem
from ..rules import Contact, IdentityKind, RecordKey, should_subscribe
from ._core import (
    STATUS_REASONS,
    StoredRecord,
    apply_batch,
    contact_after_erase,
    contact_from_data,
    contact_to_data,
    encode,
    erase_target,
    load_contact_json,
    refuse_unscoped_erase,
    stored_view,
)

__all__ = [
    "SCHEMA_VERSION",
    "SQLiteSink",
    "connect_sqlite",
    "create_tables",
    "crm_external_id",
    "sqlite_path_from_url",
]

#: Bumped whenever the tables change in a way readers must know about.
#: 2: ``contacts.subscribe`` / ``subscribe_reason`` (the list-subscription decision).
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sink_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    identity TEXT PRIMARY KEY,
    identity_kind TEXT NOT NULL,
    email TEXT, phone TEXT, first_name TEXT, last_name TEXT, company TEXT,
    accepts_marketing INTEGER, consent_at TEXT,
    subscribe INTEGER NOT NULL DEFAULT 0, subscribe_reason TEXT,
    updated_at TEXT NOT NULL,
    crm_fields TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contact_sources (
    identity TEXT NOT NULL REFERENCES contacts(identity),
    connection_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    customer_external_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (identity, connection_id)
);
CREATE TABLE IF NOT EXISTS contact_tags (
    identity TEXT NOT NULL REFERENCES contacts(identity),
    tag TEXT NOT NULL,
    PRIMARY KEY (identity, tag)
);
CREATE TABLE IF NOT EXISTS customers (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL, crm_external_id TEXT,
    contact_identity TEXT,
    email TEXT, first_name TEXT, last_name TEXT, phone TEXT, company TEXT,
    accepts_marketing INTEGER, is_guest INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    crm_fields TEXT NOT NULL, data TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS orders (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL, crm_external_id TEXT,
    order_number TEXT, contact_identity TEXT, customer_external_id TEXT, email TEXT,
    status TEXT NOT NULL, raw_status TEXT,
    total TEXT NOT NULL, currency TEXT NOT NULL,
    discount_total TEXT, discount_codes TEXT, shipping_method TEXT, order_url TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    trigger_fires INTEGER, trigger_source INTEGER, trigger_reason TEXT,
    crm_fields TEXT NOT NULL, data TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS products (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL, crm_external_id TEXT,
    name TEXT, category TEXT, sku TEXT, price TEXT, currency TEXT,
    url TEXT, image_url TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    crm_fields TEXT NOT NULL, data TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS carts (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL, crm_external_id TEXT,
    contact_identity TEXT, customer_external_id TEXT, email TEXT,
    total TEXT NOT NULL, currency TEXT NOT NULL, recovery_url TEXT,
    state TEXT, completed_at TEXT, order_external_id TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    trigger_fires INTEGER, trigger_source INTEGER, trigger_reason TEXT,
    crm_fields TEXT NOT NULL, data TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS lines (
    connection_id TEXT NOT NULL,
    parent_kind TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    product_id TEXT, variant_id TEXT, sku TEXT, name TEXT, category TEXT,
    quantity TEXT NOT NULL, unit_price TEXT NOT NULL, currency TEXT NOT NULL,
    PRIMARY KEY (connection_id, parent_kind, parent_id, line_no)
);
CREATE INDEX IF NOT EXISTS orders_by_contact ON orders(contact_identity);
CREATE INDEX IF NOT EXISTS carts_by_contact ON carts(contact_identity);
CREATE INDEX IF NOT EXISTS customers_by_contact ON customers(contact_identity);
"""

_TABLES = {"customer": "customers", "order": "orders", "product": "products", "cart": "carts"}


def sqlite_path_from_url(url: str) -> str:
    """The file path in a ``sqlite:///path.db`` URL (``sqlite:///:memory:`` for memory).

    Example:
        >>> sqlite_path_from_url("sqlite:///shop.db"), sqlite_path_from_url("sqlite:////tmp/x.db")
        ('shop.db', '/tmp/x.db')

    Raises:
        ConfigurationError: not a ``sqlite:///`` URL.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigurationError(
            f"expected a SQLite URL such as sqlite:///path/to/file.db, got {url!r}"
        )
    return url[len(prefix) :]


def connect_sqlite(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open a SQLite file the way the sink and the state store need it.

    WAL lets readers (``status``, ad-hoc queries) run during a sync;
    ``synchronous=FULL`` makes every COMMIT durable before it returns, which is
    what an acknowledgement promises. Transactions are explicit (``BEGIN``).
    """
    target = str(path)
    if target != ":memory:":
        Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        os.path.expanduser(target), isolation_level=None, check_same_thread=False, timeout=30.0
    )
    # Switching a new file to WAL takes its write lock; another process creating the same
    # file at that moment makes SQLite answer "locked" at once rather than wait.
    _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


def _retry_locked(step: Callable[[], object], *, within: float = 30.0) -> None:
    """Run ``step``, again while SQLite says the database is locked (up to ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def create_tables(
    conn: sqlite3.Connection,
    script: str,
    then: Callable[[sqlite3.Connection], object] | None = None,
) -> None:
    """Run a schema script (and ``then``) as one write transaction, taken up front.

    Several processes may open the same new file at once (workers of a fleet): with the
    write lock taken first (``BEGIN IMMEDIATE``) the others wait for it (the busy
    timeout) instead of failing when two of them try to upgrade a read lock together.
    """

    def attempt() -> None:
        try:
            conn.executescript("BEGIN IMMEDIATE;\n" + script)
            if then is not None:
                then(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    _retry_locked(attempt)


def _dumps(value: Any) -> str:
    return encode(value)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a file made by an older version up to the current tables (additive only)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(contacts)")}
    if "subscribe" not in columns:
        conn.execute("ALTER TABLE contacts ADD COLUMN subscribe INTEGER NOT NULL DEFAULT 0")
        conn.execute("ALTER TABLE contacts ADD COLUMN subscribe_reason TEXT")
        conn.execute("UPDATE contacts SET subscribe = COALESCE(accepts_marketing = 1, 0)")
    for table in _TABLES.values():
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "crm_external_id" not in columns:
            # Rows written before the column existed were sent with the default maps,
            # whose external id is the record's own.
            conn.execute(f"ALTER TABLE {table} ADD COLUMN crm_external_id TEXT")
            conn.execute(f"UPDATE {table} SET crm_external_id = external_id")  # noqa: S608


def _set_up(conn: sqlite3.Connection) -> None:
    _migrate(conn)
    conn.execute(
        "INSERT OR REPLACE INTO sink_meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )


#: A field map's default external id path: the record's own id, no mapping needed.
_OWN_ID = "external_id"


def crm_external_id(item: SinkItem, maps: Mapping[str, FieldMap] | None) -> str | None:
    """The external id the CRM receives for a record item, under the field maps ``maps``.

    Without maps, or when the kind's map reads the default path (``external_id``),
    it is the record's own id; otherwise the map's external id path decides.

    Example:
        >>> import datetime as dt
        >>> from commerce_connectors.mapping import DEFAULT_MAPS
        >>> from commerce_connectors.models import Money, Product
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        >>> p = Product("shopify", "shopify:acme", "7", t, t, sku="SKU-7")
        >>> item = SinkItem(RecordKey("shopify:acme", "product", "7"), p)
        >>> crm_external_id(item, None)
        '7'
        >>> crm_external_id(item, {"product": DEFAULT_MAPS["product"].with_external_id("sku")})
        'SKU-7'
    """
    fmap = None if maps is None else maps.get(item.kind)
    if fmap is None or str(fmap.external_id) == _OWN_ID:
        return item.key.external_id
    return fmap.apply(item.record).external_id


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """The ``INSERT OR REPLACE`` of a row of ``columns`` into ``table`` (made once)."""
    marks = ", ".join("?" for _ in columns)
    return f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


#: Most ``?`` parameters one prefetch statement binds (old SQLite builds allow 999).
_PREFETCH_CHUNK = 900


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _PREFETCH_CHUNK):
        yield values[start : start + _PREFETCH_CHUNK]


_COMMON = (
    "connection_id",
    "external_id",
    "crm_external_id",
    "created_at",
    "updated_at",
    "crm_fields",
    "data",
    "digest",
)
_TRIGGERED = ("trigger_fires", "trigger_source", "trigger_reason")
#: Each record table's columns past the common ones, in the order the row builders give.
_OWN_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "customer": (
        "contact_identity",
        "email",
        "first_name",
        "last_name",
        "phone",
        "company",
        "accepts_marketing",
        "is_guest",
    ),
    "order": (
        *_TRIGGERED,
        "order_number",
        "contact_identity",
        "customer_external_id",
        "email",
        "status",
        "raw_status",
        "total",
        "currency",
        "discount_total",
        "discount_codes",
        "shipping_method",
        "order_url",
    ),
    "product": ("name", "category", "sku", "price", "currency", "url", "image_url"),
    "cart": (
        *_TRIGGERED,
        "contact_identity",
        "customer_external_id",
        "email",
        "total",
        "currency",
        "recovery_url",
        "state",
        "completed_at",
        "order_external_id",
    ),
}
_LINE_INSERT = (
    "INSERT INTO lines (connection_id, parent_kind, parent_id, line_no, product_id,"
    " variant_id, sku, name, category, quantity, unit_price, currency)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CONTACT_INSERT = (
    "INSERT OR REPLACE INTO contacts (identity, identity_kind, email, phone, first_name,"
    " last_name, company, accepts_marketing, consent_at, subscribe, subscribe_reason,"
    " updated_at, crm_fields, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SOURCE_INSERT = (
    "INSERT INTO contact_sources (identity, connection_id, platform,"
    " customer_external_id, updated_at) VALUES (?, ?, ?, ?, ?)"
)


def _trigger_columns(item: SinkItem) -> tuple[int | None, int | None, str | None]:
    trigger = item.trigger
    if trigger is None:
        return None, None, None
    return (
        int(trigger.fires),
        trigger.source,
        None if trigger.reason is None else trigger.reason._value_,
    )


def _own_values(item: SinkItem) -> tuple[Any, ...]:
    """The values of the item's table's own columns (:data:`_OWN_COLUMNS`), in order."""
    record = item.record
    if isinstance(record, Order):
        return (
            *_trigger_columns(item),
            record.order_number,
            item.contact,
            record.customer_external_id,
            record.email,
            record.status._value_,  # ``.value`` without the property call
            record.raw_status,
            str(record.total.amount),
            record.total.currency,
            None if record.discount_total is None else str(record.discount_total.amount),
            ", ".join(record.discount_codes) or None,
            record.shipping_method,
            record.order_url,
        )
    if isinstance(record, Customer):
        return (
            item.contact,
            record.email,
            record.first_name,
            record.last_name,
            record.phone,
            record.company,
            _bool(record.accepts_marketing),
            int(record.is_guest),
        )
    if isinstance(record, Cart):
        return (
            *_trigger_columns(item),
            item.contact,
            record.customer_external_id,
            record.email,
            str(record.total.amount),
            record.total.currency,
            record.recovery_url,
            item.status,
            _iso(record.completed_at),
            record.order_external_id,
        )
    if isinstance(record, Product):
        return (
            record.name,
            record.category,
            record.sku,
            None if record.price is None else str(record.price.amount),
            None if record.price is None else record.price.currency,
            record.url,
            record.image_url,
        )
    raise SinkError(f"cannot store {type(record).__name__}")  # pragma: no cover - checked


def _contact_row(contact: Contact, fields: Any) -> tuple[Any, ...]:
    # The merged contact's latest explicit choice decides: subscribe on a yes only.
    decision = should_subscribe(contact.accepts_marketing)
    return (
        contact.key.value,
        contact.key.kind._value_,  # ``.value`` without the property call
        contact.email,
        contact.phone,
        contact.first_name,
        contact.last_name,
        contact.company,
        _bool(contact.accepts_marketing),
        _iso(contact.consent_at),
        int(decision.subscribe),
        None if decision.reason is None else decision.reason._value_,
        contact.updated_at.isoformat(),
        _dumps(fields),
        _dumps(contact_to_data(contact)),
    )


class _DecodedContacts:
    """The contacts the most recently read stored texts decode to (a bounded cache).

    A contact row's ``data`` text decides the contact it rebuilds to, so a text read
    again (an identity met in a later batch, unchanged since) gives the contact
    decoded the first time: a frozen object, shared only inside the sink. At most
    ``size`` texts are kept; the oldest goes first. Used under the sink's lock.
    """

    def __init__(self, size: int = 256) -> None:
        # A decoded contact with its sources and field times is a few KiB: 2,048 of
        # them held ~4.6 MiB for a third of the decodes; 256 keeps most of the gain
        # (identities recur within a few batches) at under 1 MiB.
        self._size = size
        self._by_text: dict[str, Contact] = {}

    def contact(self, text: str) -> Contact:
        """The contact ``text`` (a stored ``contacts.data``) decodes to."""
        by_text = self._by_text
        found = by_text.get(text)
        if found is None:
            found = by_text[text] = contact_from_data(load_contact_json(text))
            if len(by_text) > self._size:
                del by_text[next(iter(by_text))]
        return found

    def __len__(self) -> int:
        return len(self._by_text)


class _Txn:
    """The backend of one batch: SQL inside the open transaction.

    :meth:`prefetch` reads the stored rows a batch will ask about in a few ``IN (...)``
    statements instead of one ``SELECT`` per item. Writes are kept here, the last one
    per key, and sent by :meth:`flush` (one ``executemany`` per table) before the
    COMMIT; until then this object answers reads of what it keeps, so a key written
    earlier in the batch reads as written.

    Rows reach each table in the order of their keys' last :meth:`put_record` or
    :meth:`put_contact`. ``apply_batch`` puts a record as it decides it, but each
    changed contact identity once, in the order of its first change in the batch, so
    a batch's contact rows follow first-change order (which a write per change left
    in last-change order). Row order within a table is no contract: readers that
    need an order ask for one (``ORDER BY``).
    """

    #: CRM fields are only stored as their JSON text (see ``_core._fields_as_data``).
    FIELDS_AS_TEXT = True

    def __init__(
        self,
        conn: sqlite3.Connection,
        maps: Mapping[str, FieldMap] | None = None,
        decoded: _DecodedContacts | None = None,
    ) -> None:
        self.conn = conn
        self.maps = maps
        self._decoded = decoded
        # Records are keyed here by ``(kind, connection id, external id)`` tuples:
        # hashed in C, where a RecordKey's hash is a Python call (several per item).
        #: Stored (prefetched) or written state of records, ``None``: known absent.
        self._records: dict[tuple[str, str, str], StoredRecord | None] = {}
        #: Stored contacts' JSON text (prefetched), ``None``: known absent.
        self._contacts: dict[str, str | None] = {}
        #: Kept record writes per kind: key -> row values (``data`` text at index 6).
        self._record_rows: dict[str, dict[tuple[str, str, str], tuple[Any, ...]]] = {}
        #: Kept line sets: (parent kind, connection id, parent id) -> lines.
        self._lines: dict[tuple[str, str, str], tuple[LineItem, ...]] = {}
        #: Kept contact writes: identity -> (row values, contact).
        self._contact_rows: dict[str, tuple[tuple[Any, ...], Contact]] = {}

    def prefetch(self, items: Sequence[SinkItem]) -> None:
        """Read, inside the transaction, the stored rows of every item of a batch."""
        wanted: dict[tuple[str, str], set[str]] = {}
        identities: set[str] = set()
        for item in items:
            key = item.key
            if key.kind == "contact":
                identities.add(key.external_id)
            elif key.kind in _TABLES:
                wanted.setdefault((key.kind, key.connection_id), set()).add(key.external_id)
        for (kind, connection_id), ids in wanted.items():
            found: dict[str, StoredRecord] = {}
            for chunk in _chunks(sorted(ids)):
                marks = ", ".join("?" * len(chunk))
                for ext, updated_at, fingerprint in self.conn.execute(
                    f"SELECT external_id, updated_at, digest FROM {_TABLES[kind]} "  # noqa: S608
                    f"WHERE connection_id = ? AND external_id IN ({marks})",
                    (connection_id, *chunk),
                ):
                    found[ext] = StoredRecord(_dt.datetime.fromisoformat(updated_at), fingerprint)
            records = self._records
            for ext in ids:
                tk = (kind, connection_id, ext)
                if tk not in records:  # a kept write is newer than the table
                    records[tk] = found.get(ext)
        for chunk in _chunks(sorted(identities - self._contact_rows.keys())):
            self._contacts.update(dict.fromkeys(chunk))
            marks = ", ".join("?" * len(chunk))
            self._contacts.update(
                self.conn.execute(
                    f"SELECT identity, data FROM contacts WHERE identity IN ({marks})",  # noqa: S608
                    chunk,
                )
            )

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        tk = (key.kind, key.connection_id, key.external_id)
        records = self._records
        if tk in records:
            return records[tk]
        row = self.conn.execute(
            f"SELECT updated_at, digest FROM {_TABLES[key.kind]} "  # noqa: S608 - fixed names
            "WHERE connection_id = ? AND external_id = ?",
            (key.connection_id, key.external_id),
        ).fetchone()
        if row is None:
            return None
        return StoredRecord(_dt.datetime.fromisoformat(row[0]), row[1])

    def load_record_data(self, key: RecordKey) -> Mapping[str, Any]:
        kept = self._record_rows.get(key.kind, {}).get(
            (key.kind, key.connection_id, key.external_id)
        )
        if kept is not None:  # what the table will hold: the text read back
            written: Mapping[str, Any] = json.loads(kept[6])
            return written
        row = self.conn.execute(
            f"SELECT data FROM {_TABLES[key.kind]} "  # noqa: S608 - fixed names
            "WHERE connection_id = ? AND external_id = ?",
            (key.connection_id, key.external_id),
        ).fetchone()
        data: Mapping[str, Any] = json.loads(row[0])
        return data

    def put_record(self, item: SinkItem, data: Mapping[str, Any], digest: str, fields: Any) -> None:
        record = item.record
        key = item.key
        # ``data`` is the record's ``record_data``: its times are the ISO texts already.
        created_at = data.get("created_at")
        updated_at = data.get("updated_at")
        row = (
            key.connection_id,
            key.external_id,
            crm_external_id(item, self.maps),
            _iso(getattr(record, "created_at", None)) if created_at is None else created_at,
            _iso(record.updated_at) if updated_at is None else updated_at,
            _dumps(fields),
            _dumps(data),
            digest,
            *_own_values(item),
        )
        kind = key.kind
        tk = (kind, key.connection_id, key.external_id)
        rows = self._record_rows.get(kind)
        if rows is None:
            rows = self._record_rows[kind] = {}
        # Re-inserted at the end: the rows reach the table in the order of their last
        # put, as one INSERT OR REPLACE per put would leave them.
        rows.pop(tk, None)
        rows[tk] = row
        self._records[tk] = StoredRecord(record.updated_at, digest)
        if kind == "order" or kind == "cart":  # _check_item: the record is an Order or Cart
            self._lines.pop(tk, None)
            self._lines[tk] = record.lines  # type: ignore[union-attr]

    def get_contact(self, identity: str) -> Contact | None:
        kept = self._contact_rows.get(identity)
        if kept is not None:
            return kept[1]
        if identity in self._contacts:
            text = self._contacts[identity]
        else:
            row = self.conn.execute(
                "SELECT data FROM contacts WHERE identity = ?", (identity,)
            ).fetchone()
            text = None if row is None else row[0]
        if text is None:
            return None
        if self._decoded is not None:
            return self._decoded.contact(text)
        return contact_from_data(load_contact_json(text))

    def put_contact(self, contact: Contact, fields: Any) -> None:
        identity = contact.key.value
        # Re-inserted at the end, like a record's row (see the class docstring for
        # the order apply_batch puts contacts in).
        self._contact_rows.pop(identity, None)
        self._contact_rows[identity] = (_contact_row(contact, fields), contact)

    def contact_count(self) -> int:
        self.flush()
        count: int = self.conn.execute("SELECT COUNT(*) FROM contacts").fetchone()[0]
        return count

    def flush(self) -> None:
        """Send the kept writes, one ``executemany`` per table; call before COMMIT."""
        conn = self.conn
        for kind, rows in self._record_rows.items():
            if rows:
                conn.executemany(
                    _insert_sql(_TABLES[kind], _COMMON + _OWN_COLUMNS[kind]),
                    list(rows.values()),
                )
        if self._lines:
            # An update replaces the lines as a whole, as the platforms' order
            # payloads do; stale lines of an edited order must not survive.
            conn.executemany(
                "DELETE FROM lines WHERE connection_id = ? AND parent_kind = ? AND parent_id = ?",
                [(conn_id, parent, ext) for parent, conn_id, ext in self._lines],
            )
            conn.executemany(
                _LINE_INSERT,
                [
                    (
                        conn_id,
                        parent,
                        ext,
                        n,
                        line.product_id,
                        line.variant_id,
                        line.sku,
                        line.name,
                        line.category,
                        str(line.quantity),
                        str(line.unit_price.amount),
                        line.unit_price.currency,
                    )
                    for (parent, conn_id, ext), lines in self._lines.items()
                    for n, line in enumerate(lines, start=1)
                ],
            )
        if self._contact_rows:
            kept = list(self._contact_rows.values())
            conn.executemany(_CONTACT_INSERT, [row for row, _ in kept])
            gone = [(c.key.value,) for _, c in kept]
            conn.executemany("DELETE FROM contact_tags WHERE identity = ?", gone)
            conn.executemany(
                "INSERT INTO contact_tags (identity, tag) VALUES (?, ?)",
                [(c.key.value, tag) for _, c in kept for tag in c.tags],
            )
            conn.executemany("DELETE FROM contact_sources WHERE identity = ?", gone)
            conn.executemany(
                _SOURCE_INSERT,
                [
                    (
                        c.key.value,
                        s.connection_id,
                        s.platform._value_,
                        s.external_id,
                        s.updated_at.isoformat(),
                    )
                    for _, c in kept
                    for s in c.sources
                ],
            )
            for identity in self._contact_rows:
                self._contacts.pop(identity, None)  # written: the table answers from now on
        # Written rows: the table answers from now on.
        for rows in self._record_rows.values():
            for tk in rows:
                self._records.pop(tk, None)
        self._record_rows.clear()
        self._lines.clear()
        self._contact_rows.clear()


class SQLiteSink:
    """Writes synced data into one SQLite file (see the module docstring for the schema).

    Args:
        path: the database file (created with its directories), or ``":memory:"``.
        batch_size: the most items per batch (one transaction each).
        contact_limit: a contact cap to enforce (``None``: none).
        phone_identity: accept contacts keyed on a phone number (no email).
        maps: the field maps the sync uses, when they change a kind's external id
            (:meth:`FieldMap.with_external_id`): the ``crm_external_id`` column then
            holds the id they give. ``None``: the default maps' (the record's own id).

    Raises:
        SinkError: the file cannot be opened or is not a database.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch_size: int = 500,
        contact_limit: int | None = None,
        phone_identity: bool = False,
        maps: Mapping[str, FieldMap] | None = None,
    ) -> None:
        self._maps = maps
        kinds = {IdentityKind.EMAIL, IdentityKind.PHONE} if phone_identity else {IdentityKind.EMAIL}
        self._caps = SinkCapabilities(
            identity_kinds=kinds, batch_size=batch_size, contact_limit=contact_limit
        )
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            self._conn = connect_sqlite(self.path)
            create_tables(self._conn, _SCHEMA, _set_up)
        except sqlite3.DatabaseError as exc:
            raise SinkError(f"cannot open the SQLite sink at {self.path}: {exc}") from exc
        self._closed = False
        self._decoded = _DecodedContacts()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteSink:
        """Open the sink named by a ``sqlite:///path.db`` URL."""
        return cls(sqlite_path_from_url(url), **options)

    @property
    def capabilities(self) -> SinkCapabilities:
        """What this sink accepts."""
        return self._caps

    @property
    def connection(self) -> sqlite3.Connection:
        """The open database connection (for queries; do not hold transactions open)."""
        return self._conn

    def write(self, batch: SinkBatch) -> BatchAck:
        """Apply a batch in one transaction; return after its COMMIT is durable.

        Raises:
            SinkError: nothing of the batch was written.
        """
        if len(batch.items) > self._caps.batch_size:
            raise SinkError(
                f"batch of {len(batch.items)} items exceeds batch_size {self._caps.batch_size}"
            )
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise SinkError(f"cannot start a transaction on {self.path}: {exc}") from exc
            try:
                txn = _Txn(self._conn, self._maps, self._decoded)
                txn.prefetch(batch.items)
                ack = apply_batch(txn, batch, self._caps)
                txn.flush()
                self._conn.execute("COMMIT")
            except BaseException as exc:
                self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise SinkError(f"SQLite write failed on {self.path}: {exc}") from exc
                raise
            return ack

    # -- reading ----------------------------------------------------------------------

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        yield from rows

    def snapshot(self) -> dict[RecordKey, Mapping[str, Any]]:
        """Everything stored, keyed like the items (the shape MemorySink gives too).

        Keys come in the tables' row order, which no contract fixes (see ``_Txn``).
        """
        out: dict[RecordKey, Mapping[str, Any]] = {}
        for kind, table in _TABLES.items():
            has_trigger = kind in ("order", "cart")
            has_contact = kind != "product"
            cols = "connection_id, external_id, data, crm_fields"
            cols += ", trigger_fires, trigger_source" if has_trigger else ", NULL, NULL"
            cols += ", state" if kind == "cart" else ", NULL"
            cols += ", contact_identity" if has_contact else ", NULL"
            for conn_id, ext, data, fields, fires, source, state, contact in self._rows(
                f"SELECT {cols} FROM {table}"  # noqa: S608 - fixed names
            ):
                trigger = None if fires is None else {"fires": bool(fires), "source": source}
                out[RecordKey(conn_id, kind, ext)] = stored_view(
                    json.loads(data),
                    json.loads(fields),
                    trigger=trigger,
                    status=state,
                    contact=contact,
                )
        for identity, data, fields in self._rows("SELECT identity, data, crm_fields FROM contacts"):
            out[RecordKey("", "contact", identity)] = stored_view(
                json.loads(data), json.loads(fields)
            )
        return out

    def contact_count(self) -> int:
        """How many contacts are stored."""
        with self._lock:
            return _Txn(self._conn).contact_count()

    def counts(self) -> dict[str, int]:
        """Rows per table (contacts, customers, orders, products, carts, lines)."""
        out = {}
        for table in ("contacts", "customers", "orders", "products", "carts", "lines"):
            for (n,) in self._rows(f"SELECT COUNT(*) FROM {table}"):  # noqa: S608 - fixed names
                out[table] = int(n)
        return out

    # -- real time: redaction and record status ---------------------------------------

    def erase(
        self,
        connection_id: str | None,
        *,
        email: str | None = None,
        customer_external_id: str | None = None,
        order_external_ids: Sequence[str] = (),
    ) -> int:
        """Erase a person's data or a connection's, in one transaction; return rows removed.

        See :class:`~commerce_connectors.protocols.ErasableSink`. A person is
        found by email (as stored, case-insensitively), by customer id (the
        customer row, and the orders and carts that name it) and by the orders a
        request names (with their buyers' emails).
        """
        refuse_unscoped_erase(connection_id, email, customer_external_id, order_external_ids)
        email, customer_id = erase_target(email, customer_external_id)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                removed = self._erase(connection_id, email, customer_id, list(order_external_ids))
                self._conn.execute("COMMIT")
            except BaseException as exc:
                self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise SinkError(f"SQLite erase failed on {self.path}: {exc}") from exc
                raise
        return removed

    def _erase(
        self,
        connection_id: str | None,
        email: str | None,
        customer_id: str | None,
        orders: list[str],
    ) -> int:
        c = self._conn
        whole = email is None and customer_id is None and not orders
        scope = "(? IS NULL OR connection_id = ?)"
        in_scope: tuple[str | None, ...] = (connection_id, connection_id)
        marks = ", ".join("?" * len(orders)) or "NULL"
        emails = {email} if email else set()
        if orders:
            # The named orders' buyers are the person too (an older address, a guest).
            emails.update(
                e
                for (e,) in c.execute(
                    f"SELECT lower(trim(email)) FROM orders WHERE {scope}"  # noqa: S608
                    f" AND external_id IN ({marks}) AND email IS NOT NULL",
                    (*in_scope, *orders),
                )
            )
        email_list = sorted(emails)
        email_marks = ", ".join("?" * len(email_list)) or "NULL"
        removed = 0
        for kind, table in _TABLES.items():
            params: tuple[str | None, ...]
            if whole:
                where, params = scope, in_scope
            elif kind == "product":
                continue
            else:
                own = "external_id" if kind == "customer" else "customer_external_id"
                named = f" OR external_id IN ({marks})" if kind == "order" and orders else ""
                where = f"{scope} AND (lower(trim(email)) IN ({email_marks}) OR {own} = ?{named})"
                params = (*in_scope, *email_list, customer_id, *(orders if named else ()))
            keys = c.execute(
                f"SELECT connection_id, external_id FROM {table} WHERE {where}",  # noqa: S608
                params,
            ).fetchall()
            for conn_id, ext in keys:
                c.execute(
                    "DELETE FROM lines WHERE connection_id=? AND parent_kind=? AND parent_id=?",
                    (conn_id, kind, ext),
                )
                c.execute(
                    f"DELETE FROM {table} WHERE connection_id=? AND external_id=?",  # noqa: S608
                    (conn_id, ext),
                )
            removed += len(keys)
        if whole:
            rows = c.execute(
                f"SELECT DISTINCT identity FROM contact_sources WHERE {scope}",  # noqa: S608
                in_scope,
            ).fetchall()
        else:
            rows = c.execute(
                f"SELECT DISTINCT identity FROM contact_sources WHERE {scope}"  # noqa: S608
                f" AND (identity IN ({email_marks}) OR customer_external_id = ?)",
                (*in_scope, *email_list, customer_id),
            ).fetchall()
        txn = _Txn(c)
        for (identity,) in rows:
            contact = txn.get_contact(identity)
            if contact is None:
                continue
            kept = contact_after_erase(contact, connection_id)
            if kept is None:
                for table in ("contact_tags", "contact_sources", "contacts"):
                    c.execute(f"DELETE FROM {table} WHERE identity=?", (identity,))  # noqa: S608
            else:
                fields = json.loads(
                    c.execute(
                        "SELECT crm_fields FROM contacts WHERE identity=?", (identity,)
                    ).fetchone()[0]
                )
                txn.put_contact(kept, fields)
            removed += 1
        txn.flush()
        return removed

    def contact_exists(self, email: str) -> bool:
        """Whether a contact keyed on this (normalised) email is stored."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM contacts WHERE identity = ?", (email.strip().lower(),)
            ).fetchone()
        return row is not None

    def set_status(self, key: RecordKey, status: str, at: _dt.datetime) -> bool:
        """Change a stored cart's state (``deleted``, ``recovered``); it then fires nothing.

        Only carts have a state column; other kinds return ``False``.
        """
        if key.kind != "cart":
            return False
        reason = STATUS_REASONS.get(status)
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE carts SET state=?,"
                " trigger_fires=CASE WHEN ? IS NULL OR trigger_fires IS NULL"
                " THEN trigger_fires ELSE 0 END,"
                " trigger_reason=COALESCE(?, trigger_reason)"
                " WHERE connection_id=? AND external_id=? AND state IS NOT ?",
                (
                    status,
                    None if reason is None else reason.value,
                    None if reason is None else reason.value,
                    key.connection_id,
                    key.external_id,
                    status,
                ),
            )
            return cursor.rowcount > 0

    def close(self) -> None:
        """Close the database (idempotent)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> SQLiteSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteSink({self.path!r})"
