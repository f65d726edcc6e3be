"""The PostgreSQL sink on a real server: the sink conformance suite, URLs, secrets, schemas."""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from commerce_connectors.errors import ConfigurationError, SinkError
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
from commerce_connectors.sinks.postgres import PostgresSink, PostgresURL
from commerce_connectors.testing.sink_conformance import check_sink


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
        with pytest.raises(psycopg.OperationalError):
            store.runs()
        assert store.runs() == []
    finally:
        sink.close()
        store.close()
