"""The SQLite sink keeps the list-subscription decision next to the consent it comes from."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.protocols import SinkBatch, SinkItem
from commerce_connectors.rules import Contact, ContactKey, IdentityKind, RecordKey
from commerce_connectors.sinks import SQLiteSink

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def _contact(email: str, consent: bool | None, hours: float = 0) -> SinkItem:
    contact = Contact(
        ContactKey(IdentityKind.EMAIL, email),
        T0 + dt.timedelta(hours=hours),
        email=email,
        accepts_marketing=consent,
        consent_at=None if consent is None else T0 + dt.timedelta(hours=hours),
    )
    fields = DEFAULT_MAPS["contact"].apply(contact).fields
    return SinkItem(RecordKey("", "contact", email), contact, fields)


def test_subscribe_only_on_an_explicit_yes_and_never_after_a_no(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "s.db")
    items = [_contact("yes@x.io", True), _contact("no@x.io", False), _contact("eh@x.io", None)]
    sink.write(SinkBatch(items))
    rows = {
        i: (s, r)
        for i, s, r in sink.connection.execute(
            "SELECT identity, subscribe, subscribe_reason FROM contacts"
        )
    }
    assert rows == {
        "yes@x.io": (1, None),
        "no@x.io": (0, "consent_declined"),
        "eh@x.io": (0, "consent_unknown"),
    }
    # A later record without a choice does not undo an explicit no (latest explicit wins).
    sink.write(SinkBatch([_contact("no@x.io", None, hours=5)]))
    (row,) = sink.connection.execute("SELECT subscribe FROM contacts WHERE identity='no@x.io'")
    assert row == (0,)
    sink.close()


def test_a_file_from_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE contacts (identity TEXT PRIMARY KEY, identity_kind TEXT NOT NULL,"
            " email TEXT, phone TEXT, first_name TEXT, last_name TEXT, company TEXT,"
            " accepts_marketing INTEGER, consent_at TEXT, updated_at TEXT NOT NULL,"
            " crm_fields TEXT NOT NULL, data TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO contacts VALUES ('a@x.io', 'email', 'a@x.io', NULL, NULL, NULL, NULL,"
            " 1, NULL, '2024-03-01T00:00:00+00:00', '{}', '{}')"
        )
    sink = SQLiteSink(path)
    assert sink.connection.execute("SELECT subscribe FROM contacts").fetchall() == [(1,)]
    assert sink.connection.execute(
        "SELECT value FROM sink_meta WHERE key='schema_version'"
    ).fetchall() == [("2",)]
    sink.close()
