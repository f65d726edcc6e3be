"""The PostgreSQL sink and state store keep what SQLite keeps, and order as SQLite does."""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import Customer
from commerce_connectors.protocols import SinkBatch, SinkItem
from commerce_connectors.rules import RecordKey
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.sinks._pg_codec import decode_json, decode_text, dumps_json, encode_text
from commerce_connectors.testing.state_conformance import check_state_store

T = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)


def _item(first_name: str, fields: dict[str, Any] | None = None) -> SinkItem:
    c = Customer(
        "custom", "custom:1", f"c-{first_name}", T, T, email="a@b.co", first_name=first_name
    )
    mapped = dict(DEFAULT_MAPS["customer"].apply(c).fields)
    return SinkItem(RecordKey("custom:1", "customer", c.external_id), c, mapped | (fields or {}))


def test_records_with_nul_and_odd_floats_are_kept_exactly(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    from commerce_connectors.sinks.postgres import PostgresSink

    items = [
        _item("Ann\x00"),
        _item("Bo\x01b", {"score": float("nan"), "big": 1.23e19, "neg": -0.0, "x\x00": "\x00"}),
        _item("plain"),
    ]
    want = SQLiteSink(tmp_path / "k.db")
    sink = PostgresSink(postgres_schema_url)
    try:
        for target in (want, sink):
            ack = target.write(SinkBatch(items))
            assert [o.action.value for o in ack.outcomes] == ["inserted"] * 3, target
        stored, expected = sink.snapshot(), want.snapshot()
        assert stored.keys() == expected.keys()
        for key, value in expected.items():
            # json.dumps: NaN is not equal to itself, its JSON text is.
            assert json.dumps(stored[key], sort_keys=True, default=str) == json.dumps(
                value, sort_keys=True, default=str
            ), key
        big = stored[items[1].key]["fields"]["big"]
        assert type(big) is float
        # A rerun of the same batch is recognised as unchanged (nothing stuck).
        assert [o.action.value for o in sink.write(SinkBatch(items)).outcomes] == ["unchanged"] * 3
    finally:
        sink.close()
        want.close()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        "\x00",
        "\x01",
        "\x01\x00\x02",
        "a\x00\x00b\x01\x01c",
        "\x01F1.0",
        "x\ud800y",
        "\U0001f600",
    ],
)
def test_the_text_encoding_round_trips_and_keeps_order(text: str) -> None:
    assert "\x00" not in encode_text(text)
    assert decode_text(encode_text(text)) == text
    value = {text: [text, 1.5, float("inf"), -0.0, 1e300, 3]}
    back = decode_json(dumps_json(value).encode())
    assert json.dumps(back) == json.dumps(value)
    if "\ud800" in text:
        return  # order is kept for text UTF-8 can hold
    for other in ["", "\x00", "\x01", "\x02", "a", "\x00\x01"]:
        assert (encode_text(text) < encode_text(other)) == (text < other)


def test_state_store_orders_by_code_point_under_a_language_collation(
    postgres_server: Any, postgres_url: str
) -> None:
    from psycopg import sql

    from commerce_connectors.sinks.postgres import PostgresURL
    from commerce_connectors.state.postgres import PostgresStateStore

    name = f"icu_{uuid.uuid4().hex[:8]}"
    with psycopg_connect(PostgresURL.parse(postgres_url).conninfo) as conn:
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                " LOCALE 'C.UTF-8'"
            ).format(sql.Identifier(name))
        )
    made = iter(range(100))
    check_state_store(
        lambda clock: PostgresStateStore(
            f"{postgres_server.url(name)}?schema=s{next(made)}", clock=clock
        )
    )


def psycopg_connect(conninfo: str) -> Any:
    import psycopg as pg

    return pg.connect(conninfo, autocommit=True)


def test_concurrent_claims_never_exceed_the_limit_nor_overlap(postgres_schema_url: str) -> None:
    import threading

    from commerce_connectors.state.postgres import PostgresStateStore
    from commerce_connectors.testing.state_conformance import _event

    stores = [PostgresStateStore(postgres_schema_url) for _ in range(6)]
    try:
        for n in range(40):
            stores[0].add_event("c", _event(f"e{n}", n), body=b"{}", headers={}, received_at=T)
        claims: list[list[int]] = []
        go = threading.Barrier(len(stores))

        def claim(store: Any) -> None:
            go.wait()
            for _ in range(3):
                claims.append([e.id for e in store.claim_events(T, limit=2)])

        threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(len(c) <= 2 for c in claims), claims
        ids = [i for c in claims for i in c]
        assert len(ids) == len(set(ids)) == 36
    finally:
        for store in stores:
            store.close()
