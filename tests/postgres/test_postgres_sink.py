"""The PostgreSQL sink on a real server: the sink conformance suite, URLs, secrets, schemas."""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from commerce_connectors.errors import ConfigurationError, RetriableError, SinkError, TransportError
from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import Money, Product
from commerce_connectors.protocols import (
    ErasableSink,
    InspectableSink,
    Sink,
    SinkBatch,
    SinkItem,
    StatusSink,
)
from commerce_connectors.rules import RecordKey
from commerce_connectors.sinks import open_sink
from commerce_connectors.testing.sink_conformance import check_sink
from pg_server import need_psycopg

psycopg = need_psycopg()  # skipped without the postgres extra, except in CI
from psycopg import sql  # noqa: E402

from commerce_connectors.sinks.postgres import PostgresSink, PostgresURL  # noqa: E402


def _fresh(postgres_url: str) -> Callable[..., PostgresSink]:
    made: list[int] = []
    tag = uuid.uuid4().hex[:8]

    def make(**options: Any) -> PostgresSink:
        made.append(1)
        # Every sink the suite asks for is empty: a schema of its own.
        return PostgresSink(f"{postgres_url}?schema=sink_{tag}_{len(made)}", **options)

    return make


def test_check_sink_passes_on_postgres(postgres_url: str) -> None:
    check_sink(_fresh(postgres_url))


def test_open_sink_opens_postgres_urls(postgres_schema_url: str) -> None:
    for url in (postgres_schema_url, postgres_schema_url.replace("postgresql://", "postgres://")):
        sink = open_sink(url)
        try:
            assert isinstance(sink, PostgresSink)
            for protocol in (Sink, InspectableSink, ErasableSink, StatusSink):
                assert isinstance(sink, protocol)
            assert sink.counts()["contacts"] == 0
        finally:
            sink.close()


def test_password_never_shown(postgres_schema_url: str) -> None:
    url = PostgresURL.parse(postgres_schema_url)
    assert url.password
    sink = PostgresSink(postgres_schema_url)
    try:
        assert url.password not in repr(sink)
        assert "***" in repr(sink)
    finally:
        sink.close()
    wrong = postgres_schema_url.replace(url.password, "not-the-" + url.password)
    with pytest.raises(SinkError) as caught:
        PostgresSink(wrong)
    message = str(caught.value)
    assert url.password not in message
    assert "password authentication failed" in message
    assert caught.value.__cause__ is None


def test_password_from_pgpassword(
    postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = PostgresURL.parse(postgres_schema_url)
    assert url.password
    monkeypatch.setenv("PGPASSWORD", url.password)
    without = postgres_schema_url.replace(f":{url.password}@", "@")
    assert url.password not in without
    sink = open_sink(without)
    sink.close()


def test_bad_schema_names_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="plain identifier"):
        PostgresURL.parse("postgresql://u:pw@localhost/db?schema=x;drop")


def test_schemas_keep_sinks_apart(postgres_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    a = PostgresSink(f"{postgres_url}?schema=apart_a_{suffix}")
    b = PostgresSink(f"{postgres_url}?schema=apart_b_{suffix}")
    t = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)
    product = Product("custom", "custom:1", "p1", t, t, name="Mug", price=Money("9.50", "EUR"))
    item = SinkItem(
        RecordKey("custom:1", "product", "p1"),
        product,
        DEFAULT_MAPS["product"].apply(product).fields,
    )
    try:
        a.write(SinkBatch([item]))
        assert a.counts()["products"] == 1
        assert b.counts()["products"] == 0
        with psycopg.connect(PostgresURL.parse(postgres_url).conninfo) as conn:
            query = sql.SQL("SELECT price FROM {}.products").format(
                sql.Identifier(f"apart_a_{suffix}")
            )
            price = conn.execute(query).fetchone()
        assert price == (Decimal("9.50"),)  # numeric, exact
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:s3cret@db:5432/crm", "postgresql://me:***@db:5432/crm"),
        (
            "postgres://me@db/crm?password=s3cret&schema=cc",
            "postgres://me@db/crm?password=***&schema=cc",
        ),
        ("postgresql:///crm?host=/run/pg", "postgresql:///crm?host=%2Frun%2Fpg"),
    ],
)
def test_urls_are_redacted(url: str, shown: str) -> None:
    parsed = PostgresURL.parse(url)
    assert parsed.redacted == shown
    assert "s3cret" not in repr(parsed)
    assert "schema" not in parsed.conninfo
    with pytest.raises(ConfigurationError) as caught:
        open_sink(url.replace("postgres", "postgrse", 1))
    assert "s3cret" not in str(caught.value)


def test_a_unix_socket_url_without_password(postgres_server: Any, postgres_url: str) -> None:
    # The server trusts local (socket) connections; the URL has no host part at all.
    url = (
        f"postgresql:///cc_tests?host={postgres_server.root}&port={postgres_server.port}"
        f"&user=cc&schema=socket_{uuid.uuid4().hex[:8]}"
    )
    sink = open_sink(url)
    try:
        assert sink.capabilities.batch_size == 500
        assert isinstance(sink, PostgresSink)
        assert sink.counts()["contacts"] == 0
    finally:
        sink.close()


def test_a_dropped_connection_is_replaced(postgres_schema_url: str) -> None:
    from commerce_connectors.state.postgres import PostgresStateStore

    sink = PostgresSink(postgres_schema_url)
    store = PostgresStateStore(postgres_schema_url)
    try:
        with psycopg.connect(PostgresURL.parse(postgres_schema_url).conninfo) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'commerce-connectors'"
            )
        with pytest.raises(SinkError, match="read failed"):
            sink.counts()  # the call that finds the connection gone fails...
        assert sink.counts()["contacts"] == 0  # ...the next one reconnects
        # The store's failure is "try again later" (the engine retries the run later),
        # never a raw driver error, and never shows the password.
        with pytest.raises(TransportError) as caught:
            store.runs()
        assert isinstance(caught.value, RetriableError)
        password = PostgresURL.parse(postgres_schema_url).password
        assert password
        assert password not in str(caught.value)
        assert caught.value.__cause__ is None
        assert store.runs() == []
    finally:
        sink.close()
        store.close()


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        (
            "postgresql://me:pw@db/crm?sslpassword=k3y-secret&sslmode=verify-full",
            "postgresql://me:***@db/crm?sslpassword=***&sslmode=verify-full",
            ["k3y-secret"],
        ),
        (
            "postgresql://me:p%40ss%2Fw0rd@db/crm",
            "postgresql://me:***@db/crm",
            ["p@ss/w0rd", "p%40ss%2Fw0rd"],
        ),
    ],
)
def test_every_secret_is_redacted_as_written_and_decoded(
    url: str, shown: str, secrets: list[str]
) -> None:
    parsed = PostgresURL.parse(url)
    assert parsed.redacted == shown
    for secret in secrets:
        assert secret not in repr(parsed)
        assert secret not in parsed.scrub(f"FATAL: password {secret} refused")
    assert parsed.password == ("p@ss/w0rd" if "%40" in url else "pw")


def test_a_schema_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="plain identifier"):
        PostgresURL.parse("postgresql://u:pw@localhost/db?schema=cc%0A")


def test_a_role_without_create_on_the_database_opens_its_own_schema(postgres_url: str) -> None:
    from commerce_connectors.state.postgres import PostgresStateStore

    role = f"r_{uuid.uuid4().hex[:8]}"
    admin_url = PostgresURL.parse(postgres_url)
    with psycopg.connect(admin_url.conninfo, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'role-pw'").format(sql.Identifier(role))
        )
        # Its own schema, made by an administrator; no CREATE on the database.
        admin.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(role), sql.Identifier(role)
            )
        )
        rights = admin.execute(
            "SELECT has_database_privilege(%s, current_database(), 'CREATE')", (role,)
        ).fetchone()
        assert rights == (False,)
    host = postgres_url.split("@", 1)[1].split("?")[0]
    url = f"postgresql://{role}:role-pw@{host}?schema={role}"
    sink = PostgresSink(url)
    store = PostgresStateStore(url)
    try:
        assert sink.counts()["contacts"] == 0
        assert store.runs() == []
    finally:
        sink.close()
        store.close()
    # A schema it may not create is still refused, with a clear error.
    with pytest.raises(SinkError, match="permission denied"):
        PostgresSink(f"postgresql://{role}:role-pw@{host}?schema={role}_other")


def test_an_erasure_and_a_write_on_the_same_person_do_not_deadlock(
    postgres_server: Any, postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    import commerce_connectors.sinks.postgres as pg_sink
    from commerce_connectors.mapping import CONTACT_MAP
    from commerce_connectors.models import Customer
    from commerce_connectors.rules import Contact, ContactKey, IdentityKind, SourceRef

    t = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)

    def batch(at: _dt.datetime) -> SinkBatch:
        c = Customer("custom", "custom:1", "c1", at, at, email="a@b.co", first_name=f"A{at}")
        k = Contact(
            ContactKey(IdentityKind.EMAIL, "a@b.co"),
            at,
            email="a@b.co",
            sources=[SourceRef("custom", "custom:1", "c1", at)],
        )
        return SinkBatch(
            [
                SinkItem(
                    RecordKey("custom:1", "customer", "c1"),
                    c,
                    DEFAULT_MAPS["customer"].apply(c).fields,
                ),
                SinkItem(RecordKey("", "contact", "a@b.co"), k, CONTACT_MAP.apply(k).fields),
            ]
        )

    log_start = postgres_server.log_path.stat().st_size
    eraser, writer = PostgresSink(postgres_schema_url), PostgresSink(postgres_schema_url)
    eraser.write(batch(t))
    attempts: list[str] = []
    original = pg_sink.retry_transaction

    def counting(conn: Any, work: Any, **kw: Any) -> Any:
        def counted(c: Any) -> Any:
            attempts.append(threading.current_thread().name)
            return work(c)

        return original(conn, counted, **kw)

    monkeypatch.setattr(pg_sink, "retry_transaction", counting)
    schema = PostgresURL.parse(postgres_schema_url).schema
    errors: list[BaseException] = []
    # Hold the orders table: the erasure stops inside its transaction, at the orders.
    with psycopg.connect(PostgresURL.parse(postgres_schema_url).conninfo) as blocker:
        blocker.execute(
            sql.SQL("LOCK TABLE {}.orders IN SHARE ROW EXCLUSIVE MODE").format(
                sql.Identifier(schema)
            )
        )

        def run(name: str, call: Callable[[], object]) -> threading.Thread:
            def body() -> None:
                try:
                    call()
                except BaseException as exc:  # reported below
                    errors.append(exc)

            thread = threading.Thread(target=body, name=name)
            thread.start()
            return thread

        erase = run("erase", lambda: eraser.erase("custom:1", email="a@b.co"))
        time.sleep(0.5)
        write = run("write", lambda: writer.write(batch(t + _dt.timedelta(seconds=5))))
        time.sleep(0.5)
        blocker.rollback()  # the erasure goes on
        erase.join(60)
        write.join(60)
    try:
        assert errors == []
        # Each ran once: nobody was chosen as a deadlock victim and retried.
        assert sorted(attempts) == ["erase", "write"], attempts
        with postgres_server.log_path.open("rb") as log:
            log.seek(log_start)
            assert b"deadlock detected" not in log.read()
    finally:
        eraser.close()
        writer.close()
