"""PostgresSink: synced data in a shared PostgreSQL database, safe under concurrent workers.

Needs the ``postgres`` extra (``pip install "commerce-connectors[postgres]"``, which
brings psycopg 3). Open it from a URL::

    sink = open_sink("postgresql://sync@db.example.com/crm?schema=cc")

The URL is libpq's (``postgresql://`` or ``postgres://``); every libpq parameter
works (``sslmode``, ``connect_timeout`` …), plus ``schema``: the PostgreSQL schema
the tables live in (created on first open if missing; default ``public``). The
password comes from the URL or, better, from libpq's usual places: the
``PGPASSWORD`` environment variable or a ``~/.pgpass`` file, so it need not
appear in a URL at all. It is never shown: reprs, logs and errors carry the URL
with the password (and an ``sslpassword``) replaced by ``***``, and errors are
scrubbed of it as written and percent-decoded.

The tables are those of :class:`~commerce_connectors.sinks.SQLiteSink` (``contacts``,
``contact_sources``, ``contact_tags``, ``customers``, ``orders``, ``products``,
``carts``, ``lines``) with PostgreSQL types: ``timestamptz`` times, ``numeric``
amounts, ``jsonb`` for the canonical record (``data``) and the CRM's view
(``crm_fields``).

Concurrency: a batch is one transaction; before reading anything, it takes a
transaction-scoped advisory lock on every contact identity and record key it
writes, in one fixed (sorted) order (an erasure finds its rows first, then takes
the same locks in the same order, then deletes), so two workers merging the same contact
from different connections serialise instead of losing an update, and cannot
deadlock on each other. With a contact cap, a cap lock is taken first so two
workers cannot both add the last allowed contact. A serialization failure or
deadlock (another client's locks) is retried a bounded number of times.
Write decisions (update-if-newer, contact merge, cap) are
:func:`commerce_connectors.sinks._core.apply_batch`'s, shared with every local sink.

Text PostgreSQL cannot hold: ``text`` and ``jsonb`` refuse the NUL character,
``jsonb`` refuses ``NaN`` and ``Infinity`` and gives ``1.23e19`` back as an
integer. A record holding any of them is stored all the same, encoded, and
read back exactly as written (what :class:`~commerce_connectors.sinks.SQLiteSink`
would give): in text, ``\\x01`` is an escape character, NUL is stored as
``\\x01\\x01``, ``\\x01`` as ``\\x01\\x02`` and a lone surrogate (which UTF-8
cannot hold) as ``\\x01\\x03`` and its four hex digits; in JSON, strings are
encoded so and such a float is stored as the string ``\\x01F`` followed by its
Python ``repr``. Values without them (nearly all) are stored exactly as they are.

Privileges: the role needs CREATE on the schema (to create the tables on first
open), not on the database, unless the schema does not exist yet.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

import attrs

from ..errors import ConfigurationError, SinkError
from ..models import Cart, Customer, LineItem, Order, Product
from ..protocols import BatchAck, SinkBatch, SinkCapabilities, SinkItem
from ..rules import Contact, IdentityKind, RecordKey, should_subscribe
from . import _pg_codec
from ._core import (
    STATUS_REASONS,
    StoredRecord,
    apply_batch,
    contact_after_erase,
    contact_from_data,
    contact_to_data,
    erase_target,
    refuse_unscoped_erase,
    stored_view,
)

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.types.json import Jsonb
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError(
        "PostgreSQL support needs psycopg 3: pip install 'commerce-connectors[postgres]'"
    ) from exc

__all__ = [
    "POSTGRES_SCHEMES",
    "PostgresSink",
    "PostgresURL",
    "advisory_key",
    "connect_postgres",
    "retry_transaction",
]

#: The URL schemes that name a PostgreSQL database.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

#: How many times a transaction that lost a lock race (serialization failure,
#: deadlock) is attempted before the error is reported.
MAX_ATTEMPTS = 5

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

#: Query parameters whose values are secrets: never shown.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


@attrs.frozen
class PostgresURL:
    """A parsed ``postgresql://`` URL: the libpq conninfo, the schema, a printable form.

    Example:
        >>> u = PostgresURL.parse("postgresql://me:s3cret@db:5432/crm?schema=cc&sslmode=require")
        >>> u.schema, u.redacted
        ('cc', 'postgresql://me:***@db:5432/crm?sslmode=require&schema=cc')
        >>> "s3cret" in repr(u)
        False
    """

    conninfo: str = attrs.field(repr=False)
    schema: str
    redacted: str
    password: str | None = attrs.field(default=None, repr=False)
    #: Every secret of the URL (passwords as written and percent-decoded): what
    #: :meth:`scrub` removes.
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)

    @classmethod
    def parse(cls, url: str) -> PostgresURL:
        """Split a URL into what libpq takes and the ``schema`` parameter.

        Raises:
            ConfigurationError: not a PostgreSQL URL, or a schema name that is not
                a plain identifier (letters, digits, ``_``; 63 characters at most).
        """
        if not url.startswith(POSTGRES_SCHEMES):
            raise ConfigurationError("expected a postgresql:// or postgres:// URL")
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = "public"
        kept: list[tuple[str, str]] = []
        password = None if parts.password is None else unquote(parts.password)
        secrets = {parts.password or "", password or ""}
        for name, value in query:
            if name == "schema":
                schema = value
            else:
                kept.append((name, value))
                if name in _SECRET_PARAMS:
                    secrets.add(value)
                    if name == "password":
                        password = value
        # Longest first, so a secret containing another is scrubbed whole.
        found = tuple(sorted((x for x in secrets if x), key=len, reverse=True))
        for secret in found:
            found += (quote(secret, safe=""), quote_plus(secret, safe=""))
        redacted_url = _redact(parts, kept, schema)
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigurationError(
                f"schema {schema!r} in {redacted_url} is not a plain identifier"
                " (letters, digits and _, at most 63)"
            )
        conninfo = _join(parts, parts.netloc, urlencode(kept))
        unique = tuple(sorted(set(found), key=len, reverse=True))
        return cls(conninfo, schema, redacted_url, password or None, unique)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the URL (as written or decoded) replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _redact(parts: Any, query: list[tuple[str, str]], schema: str) -> str:
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}:***@{host}"
    shown = [(k, "***" if k in _SECRET_PARAMS else v) for k, v in query]
    if schema != "public":
        shown.append(("schema", schema))
    return _join(parts, netloc, urlencode(shown, safe="*"))


def _join(parts: Any, netloc: str, query: str) -> str:
    # Not urlunsplit: it drops the empty authority of "postgresql:///db?host=/socket".
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def advisory_key(*parts: str) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock`` naming ``parts``.

    Distinct names collide with negligible probability; a collision only makes
    two writers wait for each other, never corrupts anything.
    """
    text = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


def connect_postgres(url: PostgresURL) -> psycopg.Connection[Any]:
    """Open an autocommit connection in UTC, with ``search_path`` set to the URL's schema.

    Text and JSON go through :mod:`commerce_connectors.sinks._pg_codec`: NUL
    characters and floats ``jsonb`` would change are stored encoded and read back
    exactly.

    Raises:
        SinkError: the server refused or could not be reached (password scrubbed).
    """
    try:
        conn = psycopg.connect(
            url.conninfo,
            autocommit=True,
            application_name="commerce-connectors",
            client_encoding="UTF8",
        )
        _pg_codec.install(conn)
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(
            psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(url.schema))
        )
    except psycopg.Error as exc:
        raise _failure(url, "cannot connect to", exc) from None
    return conn


def _failure(url: PostgresURL, what: str, exc: BaseException) -> SinkError:
    # psycopg's messages name the host and user, not the password; scrub anyway,
    # and drop the chained cause so no frame shows the conninfo.
    return SinkError(f"{what} PostgreSQL at {url.redacted}: {url.scrub(str(exc)).strip()}")


def ensure_schema(conn: psycopg.Connection[Any], url: PostgresURL, ddl: str) -> None:
    """Create the schema and tables if missing; concurrent first opens wait for each other.

    The schema is looked up first and created only when missing: ``CREATE SCHEMA
    IF NOT EXISTS`` would need the CREATE privilege on the database even for a
    schema that exists (``public``, or one an administrator made for this role).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("ddl", url.schema),))
        found = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (url.schema,)
        ).fetchone()
        if found is None:
            conn.execute(
                psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(url.schema))
            )
        conn.execute(ddl)  # fixed DDL text of this library


#: Errors that mean "another transaction won a race": roll back and run again.
RETRIABLE_PG_ERRORS: tuple[type[Exception], ...] = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)


def retry_transaction(
    conn: psycopg.Connection[Any], work: Any, *, attempts: int = MAX_ATTEMPTS
) -> Any:
    """Run ``work(conn)`` in one transaction, again after a serialization failure or deadlock.

    Waits 10 ms, 20 ms, 40 ms … between attempts; the last error is raised.
    """
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():
                return work(conn)
        except RETRIABLE_PG_ERRORS:
            if attempt == attempts:
                raise
            time.sleep(0.01 * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sink_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    identity TEXT PRIMARY KEY,
    identity_kind TEXT NOT NULL,
    email TEXT, phone TEXT, first_name TEXT, last_name TEXT, company TEXT,
    accepts_marketing BOOLEAN, consent_at TIMESTAMPTZ,
    subscribe BOOLEAN NOT NULL DEFAULT FALSE, subscribe_reason TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    crm_fields JSONB NOT NULL,
    data JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS contact_sources (
    identity TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    customer_external_id TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (identity, connection_id)
);
CREATE TABLE IF NOT EXISTS contact_tags (
    identity TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (identity, tag)
);
CREATE TABLE IF NOT EXISTS customers (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL,
    contact_identity TEXT,
    email TEXT, first_name TEXT, last_name TEXT, phone TEXT, company TEXT,
    accepts_marketing BOOLEAN, is_guest BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
    crm_fields JSONB NOT NULL, data JSONB NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS orders (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL,
    order_number TEXT, contact_identity TEXT, customer_external_id TEXT, email TEXT,
    status TEXT NOT NULL, raw_status TEXT,
    total NUMERIC NOT NULL, currency TEXT NOT NULL,
    discount_total NUMERIC, discount_codes TEXT, shipping_method TEXT, order_url TEXT,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
    trigger_fires BOOLEAN, trigger_source INTEGER, trigger_reason TEXT,
    crm_fields JSONB NOT NULL, data JSONB NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS products (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL,
    name TEXT, category TEXT, sku TEXT, price NUMERIC, currency TEXT,
    url TEXT, image_url TEXT,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
    crm_fields JSONB NOT NULL, data JSONB NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS carts (
    connection_id TEXT NOT NULL, external_id TEXT NOT NULL,
    contact_identity TEXT, customer_external_id TEXT, email TEXT,
    total NUMERIC NOT NULL, currency TEXT NOT NULL, recovery_url TEXT,
    state TEXT, completed_at TIMESTAMPTZ, order_external_id TEXT,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
    trigger_fires BOOLEAN, trigger_source INTEGER, trigger_reason TEXT,
    crm_fields JSONB NOT NULL, data JSONB NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (connection_id, external_id)
);
CREATE TABLE IF NOT EXISTS lines (
    connection_id TEXT NOT NULL,
    parent_kind TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    product_id TEXT, variant_id TEXT, sku TEXT, name TEXT, category TEXT,
    quantity NUMERIC NOT NULL, unit_price NUMERIC NOT NULL, currency TEXT NOT NULL,
    PRIMARY KEY (connection_id, parent_kind, parent_id, line_no)
);
CREATE INDEX IF NOT EXISTS orders_by_contact ON orders(contact_identity);
CREATE INDEX IF NOT EXISTS carts_by_contact ON carts(contact_identity);
CREATE INDEX IF NOT EXISTS customers_by_contact ON customers(contact_identity);
CREATE INDEX IF NOT EXISTS contact_sources_by_connection
    ON contact_sources(connection_id, customer_external_id);
"""

#: Bumped whenever the tables change in a way readers must know about.
SCHEMA_VERSION = 1

_TABLES = {"customer": "customers", "order": "orders", "product": "products", "cart": "carts"}


_KEY_COLUMNS = frozenset({"connection_id", "external_id"})

_CONTACT_COLUMNS = (
    "identity, identity_kind, email, phone, first_name, last_name, company, accepts_marketing,"
    " consent_at, subscribe, subscribe_reason, updated_at, crm_fields, data"
)
_CONTACT_UPSERT = (  # fixed column names only
    f"INSERT INTO contacts ({_CONTACT_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"  # noqa: S608
    " ON CONFLICT (identity) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _CONTACT_COLUMNS.split(", ")[1:])
)


class _Txn:
    """The backend of one batch: reads and writes inside the open transaction.

    Round trips, not rows, are what a remote database charges for: the batch's
    stored records and contacts are read in one query per table up front, and
    writes are kept here (later reads of the same key see them) and sent by
    :meth:`flush` as a few pipelined statements before the COMMIT.
    """

    def __init__(self, conn: psycopg.Connection[Any], batch: SinkBatch | None = None) -> None:
        self.conn = conn
        self._stored: dict[RecordKey, StoredRecord | None] = {}
        self._written_data: dict[RecordKey, Mapping[str, Any]] = {}
        self._record_rows: dict[str, dict[RecordKey, dict[str, Any]]] = {}
        self._lines: dict[tuple[str, RecordKey], tuple[LineItem, ...]] = {}
        self._contacts: dict[str, Contact | None] = {}
        self._contact_rows: dict[str, tuple[tuple[Any, ...], Contact]] = {}
        if batch is not None:
            self._prefetch(batch)

    def _one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
        return row

    def _prefetch(self, batch: SinkBatch) -> None:
        by_kind: dict[str, list[RecordKey]] = {}
        identities: list[str] = []
        for item in batch.items:
            if item.kind == "contact":
                identities.append(item.key.external_id)
            elif item.kind in _TABLES:
                by_kind.setdefault(item.kind, []).append(item.key)
        for kind, keys in by_kind.items():
            self._stored.update(dict.fromkeys(keys))
            rows = self.conn.execute(
                f"SELECT t.connection_id, t.external_id, t.updated_at, t.digest"  # noqa: S608
                f" FROM {_TABLES[kind]} t JOIN unnest(%s::text[], %s::text[]) AS k(c, e)"
                " ON t.connection_id = k.c AND t.external_id = k.e",
                ([k.connection_id for k in keys], [k.external_id for k in keys]),
            ).fetchall()
            for conn_id, ext, updated, digest in rows:
                self._stored[RecordKey(conn_id, kind, ext)] = StoredRecord(updated, digest)
        if identities:
            self._contacts.update(dict.fromkeys(identities))
            for identity, data in self.conn.execute(
                "SELECT identity, data FROM contacts WHERE identity = ANY(%s)", (identities,)
            ).fetchall():
                self._contacts[identity] = contact_from_data(data)

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        if key not in self._stored:
            row = self._one(
                f"SELECT updated_at, digest FROM {_TABLES[key.kind]}"  # noqa: S608 - fixed names
                " WHERE connection_id = %s AND external_id = %s",
                (key.connection_id, key.external_id),
            )
            self._stored[key] = None if row is None else StoredRecord(row[0], row[1])
        return self._stored[key]

    def load_record_data(self, key: RecordKey) -> Mapping[str, Any]:
        if key in self._written_data:
            return self._written_data[key]
        row = self._one(
            f"SELECT data FROM {_TABLES[key.kind]}"  # noqa: S608 - fixed names
            " WHERE connection_id = %s AND external_id = %s",
            (key.connection_id, key.external_id),
        )
        assert row is not None
        data: Mapping[str, Any] = row[0]
        return data

    def put_record(self, item: SinkItem, data: Mapping[str, Any], digest: str, fields: Any) -> None:
        record = item.record
        row: dict[str, Any] = {
            "connection_id": item.key.connection_id,
            "external_id": item.key.external_id,
            "created_at": getattr(record, "created_at", None),
            "updated_at": record.updated_at,
            "crm_fields": Jsonb(fields),
            "data": Jsonb(data),
            "digest": digest,
        }
        trigger = item.trigger
        triggered = {
            "trigger_fires": None if trigger is None else trigger.fires,
            "trigger_source": None if trigger is None else trigger.source,
            "trigger_reason": None
            if trigger is None or trigger.reason is None
            else trigger.reason.value,
        }
        if isinstance(record, Customer):
            row |= {
                "contact_identity": item.contact,
                "email": record.email,
                "first_name": record.first_name,
                "last_name": record.last_name,
                "phone": record.phone,
                "company": record.company,
                "accepts_marketing": record.accepts_marketing,
                "is_guest": record.is_guest,
            }
        elif isinstance(record, Order):
            row |= triggered | {
                "order_number": record.order_number,
                "contact_identity": item.contact,
                "customer_external_id": record.customer_external_id,
                "email": record.email,
                "status": record.status.value,
                "raw_status": record.raw_status,
                "total": record.total.amount,
                "currency": record.total.currency,
                "discount_total": None
                if record.discount_total is None
                else record.discount_total.amount,
                "discount_codes": ", ".join(record.discount_codes) or None,
                "shipping_method": record.shipping_method,
                "order_url": record.order_url,
            }
            self._lines[("order", item.key)] = record.lines
        elif isinstance(record, Product):
            row |= {
                "name": record.name,
                "category": record.category,
                "sku": record.sku,
                "price": None if record.price is None else record.price.amount,
                "currency": None if record.price is None else record.price.currency,
                "url": record.url,
                "image_url": record.image_url,
            }
        elif isinstance(record, Cart):
            row |= triggered | {
                "contact_identity": item.contact,
                "customer_external_id": record.customer_external_id,
                "email": record.email,
                "total": record.total.amount,
                "currency": record.total.currency,
                "recovery_url": record.recovery_url,
                "state": item.status,
                "completed_at": record.completed_at,
                "order_external_id": record.order_external_id,
            }
            self._lines[("cart", item.key)] = record.lines
        else:  # pragma: no cover - apply_batch checked the kind
            raise SinkError(f"cannot store {type(record).__name__}")
        self._record_rows.setdefault(_TABLES[item.kind], {})[item.key] = row
        self._stored[item.key] = StoredRecord(record.updated_at, digest)
        self._written_data[item.key] = data

    def get_contact(self, identity: str) -> Contact | None:
        if identity not in self._contacts:
            row = self._one("SELECT data FROM contacts WHERE identity = %s", (identity,))
            self._contacts[identity] = None if row is None else contact_from_data(row[0])
        return self._contacts[identity]

    def put_contact(self, contact: Contact, fields: Any) -> None:
        identity = contact.key.value
        # The merged contact's latest explicit choice decides: subscribe on a yes only.
        decision = should_subscribe(contact.accepts_marketing)
        row = (
            identity,
            contact.key.kind.value,
            contact.email,
            contact.phone,
            contact.first_name,
            contact.last_name,
            contact.company,
            contact.accepts_marketing,
            contact.consent_at,
            decision.subscribe,
            None if decision.reason is None else decision.reason.value,
            contact.updated_at,
            Jsonb(fields),
            Jsonb(contact_to_data(contact)),
        )
        self._contact_rows[identity] = (row, contact)
        self._contacts[identity] = contact

    def contact_count(self) -> int:
        self.flush()
        row = self._one("SELECT COUNT(*) FROM contacts", ())
        assert row is not None
        return int(row[0])

    def delete_contact(self, identity: str) -> None:
        self._contact_rows.pop(identity, None)
        self._contacts[identity] = None
        for table in ("contact_tags", "contact_sources", "contacts"):
            self.conn.execute(
                f"DELETE FROM {table} WHERE identity = %s",  # noqa: S608 - fixed names
                (identity,),
            )

    def flush(self) -> None:
        """Send the kept writes (a few pipelined statements); call before COMMIT."""
        with self.conn.cursor() as cur:
            for table, rows in self._record_rows.items():
                columns = list(next(iter(rows.values())))
                updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in _KEY_COLUMNS)
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 - fixed names
                    f" VALUES ({', '.join(['%s'] * len(columns))})"
                    f" ON CONFLICT (connection_id, external_id) DO UPDATE SET {updates}",
                    [tuple(r[c] for c in columns) for r in rows.values()],
                )
            if self._lines:
                # An update replaces the lines as a whole, as the platforms' payloads do.
                parents = list(self._lines)
                cur.execute(
                    "DELETE FROM lines l USING unnest(%s::text[], %s::text[], %s::text[])"
                    " AS k(c, p, e) WHERE l.connection_id = k.c AND l.parent_kind = k.p"
                    " AND l.parent_id = k.e",
                    (
                        [key.connection_id for _, key in parents],
                        [parent for parent, _ in parents],
                        [key.external_id for _, key in parents],
                    ),
                )
                line_rows = [
                    (
                        key.connection_id,
                        parent,
                        key.external_id,
                        n,
                        line.product_id,
                        line.variant_id,
                        line.sku,
                        line.name,
                        line.category,
                        line.quantity,
                        line.unit_price.amount,
                        line.unit_price.currency,
                    )
                    for (parent, key), lines in self._lines.items()
                    for n, line in enumerate(lines, start=1)
                ]
                if line_rows:
                    cur.executemany(
                        "INSERT INTO lines (connection_id, parent_kind, parent_id, line_no,"
                        " product_id, variant_id, sku, name, category, quantity, unit_price,"
                        " currency) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        line_rows,
                    )
            if self._contact_rows:
                written = list(self._contact_rows.values())
                identities = list(self._contact_rows)
                cur.executemany(_CONTACT_UPSERT, [row for row, _ in written])
                cur.execute("DELETE FROM contact_tags WHERE identity = ANY(%s)", (identities,))
                cur.execute("DELETE FROM contact_sources WHERE identity = ANY(%s)", (identities,))
                tags = [(c.key.value, tag) for _, c in written for tag in c.tags]
                if tags:
                    cur.executemany(
                        "INSERT INTO contact_tags (identity, tag) VALUES (%s, %s)", tags
                    )
                sources = [
                    (c.key.value, s.connection_id, s.platform.value, s.external_id, s.updated_at)
                    for _, c in written
                    for s in c.sources
                ]
                if sources:
                    cur.executemany(
                        "INSERT INTO contact_sources (identity, connection_id, platform,"
                        " customer_external_id, updated_at) VALUES (%s, %s, %s, %s, %s)",
                        sources,
                    )
        self._record_rows.clear()
        self._lines.clear()
        self._contact_rows.clear()


class PostgresSink:
    """Writes synced data into a PostgreSQL database (see the module docstring).

    Args:
        url: ``postgresql://user@host:port/db?schema=cc``; the password from the URL
            or from libpq (``PGPASSWORD``, ``~/.pgpass``).
        batch_size: the most items per batch (one transaction each).
        contact_limit: a contact cap to enforce across every writer (``None``: none).
        phone_identity: accept contacts keyed on a phone number (no email).

    Raises:
        SinkError: the database cannot be reached or the tables cannot be created.
        ConfigurationError: a malformed URL.
    """

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = 500,
        contact_limit: int | None = None,
        phone_identity: bool = False,
    ) -> None:
        kinds = {IdentityKind.EMAIL, IdentityKind.PHONE} if phone_identity else {IdentityKind.EMAIL}
        self._caps = SinkCapabilities(
            identity_kinds=kinds, batch_size=batch_size, contact_limit=contact_limit
        )
        self.url = PostgresURL.parse(url)
        self._lock = threading.Lock()
        self._conn = connect_postgres(self.url)
        try:
            ensure_schema(self._conn, self.url, _SCHEMA)
            self._conn.execute(
                "INSERT INTO sink_meta (key, value) VALUES ('schema_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(SCHEMA_VERSION),),
            )
        except psycopg.Error as exc:
            self._conn.close()
            raise _failure(self.url, "cannot create the tables in", exc) from None
        self._closed = False

    def _live(self) -> psycopg.Connection[Any]:
        # A connection the server dropped (a restart, a failover, an idle timeout) is
        # replaced on the next call; the call that saw it drop failed with SinkError.
        if self._conn.broken or (self._conn.closed and not self._closed):
            self._conn = connect_postgres(self.url)
        return self._conn

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresSink:
        """Open the sink named by a ``postgresql://`` (or ``postgres://``) URL."""
        return cls(url, **options)

    @property
    def capabilities(self) -> SinkCapabilities:
        """What this sink accepts."""
        return self._caps

    def _locks(self, batch: SinkBatch) -> list[int]:
        schema = self.url.schema
        keys = {
            advisory_key(schema, i.kind, i.key.connection_id, i.key.external_id)
            for i in batch.items
        }
        ordered = sorted(keys)
        if self._caps.contact_limit is not None and any(i.kind == "contact" for i in batch.items):
            # The cap lock comes first, before any key lock: one order for every writer.
            ordered.insert(0, advisory_key(schema, "contact-cap"))
        return ordered

    def write(self, batch: SinkBatch) -> BatchAck:
        """Apply a batch in one transaction; return after its COMMIT.

        Raises:
            SinkError: nothing of the batch was written.
        """
        if len(batch.items) > self._caps.batch_size:
            raise SinkError(
                f"batch of {len(batch.items)} items exceeds batch_size {self._caps.batch_size}"
            )
        locks = self._locks(batch)

        def work(conn: psycopg.Connection[Any]) -> BatchAck:
            if locks:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(k)"
                    " FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
                    (locks,),
                )
            txn = _Txn(conn, batch)
            ack = apply_batch(txn, batch, self._caps)
            txn.flush()
            return ack

        with self._lock:
            try:
                ack: BatchAck = retry_transaction(self._live(), work)
            except psycopg.Error as exc:
                raise _failure(self.url, "write failed on", exc) from None
        return ack

    # -- reading ----------------------------------------------------------------------

    def _rows(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> Iterator[tuple[Any, ...]]:
        with self._lock:
            try:
                rows = self._live().execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise _failure(self.url, "read failed on", exc) from None
        yield from rows

    def snapshot(self) -> dict[RecordKey, Mapping[str, Any]]:
        """Everything stored, keyed like the items (the shape every local sink gives)."""
        out: dict[RecordKey, Mapping[str, Any]] = {}
        for kind, table in _TABLES.items():
            cols = "connection_id, external_id, data, crm_fields"
            cols += (
                ", trigger_fires, trigger_source" if kind in ("order", "cart") else ", NULL, NULL"
            )
            cols += ", state" if kind == "cart" else ", NULL"
            cols += ", contact_identity" if kind != "product" else ", NULL"
            for conn_id, ext, data, fields, fires, source, state, contact in self._rows(
                f"SELECT {cols} FROM {table}"  # noqa: S608 - fixed names
            ):
                trigger = None if fires is None else {"fires": bool(fires), "source": source}
                out[RecordKey(conn_id, kind, ext)] = stored_view(
                    data, fields, trigger=trigger, status=state, contact=contact
                )
        for identity, data, fields in self._rows("SELECT identity, data, crm_fields FROM contacts"):
            out[RecordKey("", "contact", identity)] = stored_view(data, fields)
        return out

    def contact_count(self) -> int:
        """How many contacts are stored."""
        for (n,) in self._rows("SELECT COUNT(*) FROM contacts"):
            return int(n)
        return 0  # pragma: no cover - COUNT always answers

    def counts(self) -> dict[str, int]:
        """Rows per table (contacts, customers, orders, products, carts, lines)."""
        out = {}
        for table in ("contacts", "customers", "orders", "products", "carts", "lines"):
            for (n,) in self._rows(f"SELECT COUNT(*) FROM {table}"):  # noqa: S608 - fixed names
                out[table] = int(n)
        return out

    def contact_exists(self, email: str) -> bool:
        """Whether a contact keyed on this (normalised) email is stored."""
        rows = list(
            self._rows("SELECT 1 FROM contacts WHERE identity = %s", (email.strip().lower(),))
        )
        return bool(rows)

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

        See :class:`~commerce_connectors.protocols.ErasableSink`: the same rules as
        :meth:`commerce_connectors.sinks.SQLiteSink.erase`.
        """
        refuse_unscoped_erase(connection_id, email, customer_external_id, order_external_ids)
        email, customer_id = erase_target(email, customer_external_id)
        orders = list(order_external_ids)

        def work(conn: psycopg.Connection[Any]) -> int:
            return self._erase(conn, connection_id, email, customer_id, orders)

        with self._lock:
            try:
                removed: int = retry_transaction(self._live(), work)
            except psycopg.Error as exc:
                raise _failure(self.url, "erase failed on", exc) from None
        return removed

    def _erase(
        self,
        c: psycopg.Connection[Any],
        connection_id: str | None,
        email: str | None,
        customer_id: str | None,
        orders: list[str],
    ) -> int:
        whole = email is None and customer_id is None and not orders
        scope = "(%(conn)s::text IS NULL OR connection_id = %(conn)s)"
        emails = {email} if email else set()
        if orders:
            # The named orders' buyers are the person too (an older address, a guest).
            emails.update(
                e
                for (e,) in c.execute(
                    f"SELECT lower(trim(email)) FROM orders WHERE {scope}"  # noqa: S608
                    " AND external_id = ANY(%(orders)s) AND email IS NOT NULL",
                    {"conn": connection_id, "orders": orders},
                )
            )
        params = {
            "conn": connection_id,
            "emails": sorted(emails),
            "customer": customer_id,
            "orders": orders,
        }
        # Find everything first, lock it (the write path's keys, in the one sorted
        # order every writer uses), and only then delete: a writer holding some of
        # these locks finishes first instead of deadlocking against our deletes.
        wheres: dict[str, str] = {}
        for kind in _TABLES:
            if whole:
                wheres[kind] = scope
            elif kind != "product":
                own = "external_id" if kind == "customer" else "customer_external_id"
                named = " OR external_id = ANY(%(orders)s)" if kind == "order" and orders else ""
                wheres[kind] = (
                    f"{scope} AND (lower(trim(email)) = ANY(%(emails)s)"
                    f" OR {own} = %(customer)s{named})"
                )
        if whole:
            sql = f"SELECT DISTINCT identity FROM contact_sources WHERE {scope}"  # noqa: S608
        else:
            sql = (
                f"SELECT DISTINCT identity FROM contact_sources WHERE {scope}"  # noqa: S608
                " AND (identity = ANY(%(emails)s) OR customer_external_id = %(customer)s)"
            )
        identities = sorted(i for (i,) in c.execute(sql, params).fetchall())
        schema = self.url.schema
        locks = {advisory_key(schema, "contact", "", i) for i in identities}
        for kind, where in wheres.items():
            for conn_id, ext in c.execute(
                f"SELECT connection_id, external_id FROM {_TABLES[kind]} WHERE {where}",  # noqa: S608
                params,
            ).fetchall():
                locks.add(advisory_key(schema, kind, conn_id, ext))
        if locks:
            c.execute(
                "SELECT pg_advisory_xact_lock(k)"
                " FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
                (sorted(locks),),
            )
        removed = 0
        for kind, where in wheres.items():
            table = _TABLES[kind]
            keys = c.execute(
                f"DELETE FROM {table} WHERE {where} RETURNING connection_id, external_id",  # noqa: S608
                params,
            ).fetchall()
            if keys:
                c.execute(
                    "DELETE FROM lines l USING unnest(%s::text[], %s::text[]) AS k(c, e)"
                    " WHERE l.connection_id = k.c AND l.parent_kind = %s AND l.parent_id = k.e",
                    ([k[0] for k in keys], [k[1] for k in keys], kind),
                )
            removed += len(keys)
        txn = _Txn(c)
        for identity in identities:
            contact = txn.get_contact(identity)
            if contact is None:
                continue
            kept = contact_after_erase(contact, connection_id)
            if kept is None:
                txn.delete_contact(identity)
            else:
                row = txn._one("SELECT crm_fields FROM contacts WHERE identity = %s", (identity,))
                assert row is not None
                txn.put_contact(kept, row[0])
            removed += 1
        txn.flush()
        return removed

    def set_status(self, key: RecordKey, status: str, at: _dt.datetime) -> bool:
        """Change a stored cart's state (``deleted``, ``recovered``); it then fires nothing.

        Only carts have a state column; other kinds return ``False``.
        """
        if key.kind != "cart":
            return False
        reason = STATUS_REASONS.get(status)
        reason_value = None if reason is None else reason.value
        rows = list(
            self._rows(
                "UPDATE carts SET state = %(status)s,"
                " trigger_fires = CASE WHEN %(reason)s::text IS NULL OR trigger_fires IS NULL"
                " THEN trigger_fires ELSE FALSE END,"
                " trigger_reason = COALESCE(%(reason)s::text, trigger_reason)"
                " WHERE connection_id = %(conn)s AND external_id = %(ext)s"
                " AND state IS DISTINCT FROM %(status)s RETURNING 1",
                {
                    "status": status,
                    "reason": reason_value,
                    "conn": key.connection_id,
                    "ext": key.external_id,
                },
            )
        )
        return bool(rows)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> PostgresSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresSink({self.url.redacted!r})"
