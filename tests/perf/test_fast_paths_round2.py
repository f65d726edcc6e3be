"""The second round of fast paths gives exactly what the plain code gives.

* response bodies read through orjson (when installed) decode to what ``json.loads``
  gives, value for value and type for type, or go to ``json.loads`` itself;
* the SQLite sink's batch prefetch acknowledges and stores exactly what one ``SELECT``
  per item did, byte for byte, duplicates, stale versions and contact merges included;
* the memory sink's copy of plain data equals ``copy.deepcopy``;
* the models' shortcuts (UTC datetimes, Decimal amounts, known currency codes) give
  the checked conversion's result.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import math
import random
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors._http import engine as http_engine
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import CurrencyError, NaiveDatetimeError
from commerce_connectors.models import Money, ensure_aware_utc
from commerce_connectors.protocols import SinkBatch
from commerce_connectors.sinks import MemorySink, SQLiteSink
from commerce_connectors.sinks import memory as memory_sink
from commerce_connectors.sinks import sqlite as sqlite_sink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine

orjson = pytest.importorskip("orjson")

UTC = dt.timezone.utc

# -- response bodies ---------------------------------------------------------------------


def tagged(value: Any) -> Any:
    """``value`` with every number's type and exact form made visible (``-0.0``, NaN)."""
    if isinstance(value, dict):
        return ("dict", [(k, tagged(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [tagged(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


@contextlib.contextmanager
def without_orjson() -> Iterator[None]:
    saved = http_engine._orjson
    http_engine._orjson = None
    try:
        yield
    finally:
        http_engine._orjson = saved


def outcome(body: bytes) -> Any:
    try:
        return ("ok", tagged(http_engine.decode_json(body)))
    except (ValueError, UnicodeDecodeError) as exc:
        return ("error", type(exc).__name__, str(exc))


def expected(body: bytes) -> Any:
    try:
        return ("ok", tagged(json.loads(body)))
    except (ValueError, UnicodeDecodeError) as exc:
        return ("error", type(exc).__name__, str(exc))


BIG_INTS = st.integers(min_value=-(2**80), max_value=2**80) | st.sampled_from(
    [2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**19, -(10**19)]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | BIG_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(value=JSON, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_bodies_decode_as_the_standard_library_decodes_them(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode(
        "utf-8", "surrogatepass"
    )
    assert outcome(body) == expected(body)
    with without_orjson():
        assert outcome(body) == expected(body)


@pytest.mark.parametrize(
    "body",
    [
        b"18446744073709551616",  # orjson: a float
        b'{"id": -9223372036854775809}',  # orjson: a float
        b'{"id": 12345678901234567890123}',
        b"[1e400, -1e400]",  # orjson refuses; json: infinities
        b"NaN",
        b'{"a": Infinity}',
        b'"\\ud800"',  # a lone surrogate escape
        b'"\xed\xa0\x80"',  # a surrogate encoded in the bytes
        b"\xef\xbb\xbf{}",  # a byte order mark
        '{"é": 1}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',
        b"{'a': 1}",
        b"<html>busy</html>",
        b'{"a": "\xff"}',
        b'{"a": [1, 2',
        b"-0.0",
        b"4.9e-324",
    ],
)
def test_odd_bodies_decode_or_fail_as_the_standard_library_does(body: bytes) -> None:
    assert outcome(body) == expected(body)


def test_orjson_reads_ordinary_bodies() -> None:
    body = b'{"orders": [{"id": 4507894690, "total": "19.90", "rate": 0.2}]}'
    assert http_engine._orjson is orjson
    assert http_engine._LONG_DIGITS not in body.translate(http_engine._DIGITS)
    # A body with a long digit run (an id that may not fit 64 bits) is not given to orjson.
    assert http_engine._LONG_DIGITS in b'{"id": 9223372036854775808}'.translate(http_engine._DIGITS)


# -- the SQLite sink's prefetch ----------------------------------------------------------


def recorded_batches() -> list[SinkBatch]:
    """The batches a small historical sync of a simulated Tiendanube store writes."""
    import httpx

    from commerce_connectors.platforms.tiendanube import TiendanubeConnector
    from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

    wall = dt.datetime(2025, 6, 1, tzinfo=UTC)
    clock = FakeClock(wall_start=wall)
    sim = TiendanubeSimulator(
        seed=5, customers=30, orders=60, products=6, checkouts=12, clock=clock
    )
    connector = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="commerce-connectors-tests (tests@example.com)",
        base_url=sim.base_url,
        transport=httpx.MockTransport(sim.handle),
        clock=clock,
    )
    batches: list[SinkBatch] = []

    class Recording(MemorySink):
        def write(self, batch: SinkBatch) -> Any:
            batches.append(batch)
            return super().write(batch)

    engine = SyncEngine(
        connector,
        Recording(batch_size=25),
        MemoryStateStore(),
        clock=FakeClock(wall_start=wall + dt.timedelta(days=1)),
    )
    engine.run("historical")
    connector.close()
    return batches


@pytest.fixture(scope="module")
def batches() -> list[SinkBatch]:
    found = recorded_batches()
    assert sum(len(b.items) for b in found) > 100
    return found


def shifted(item: Any, days: int) -> Any:
    record = item.record
    return attrs.evolve(
        item, record=attrs.evolve(record, updated_at=record.updated_at + dt.timedelta(days=days))
    )


def workload(batches: list[SinkBatch], seed: int) -> list[SinkBatch]:
    """The recorded batches, then again, then newer, older and repeated items, mixed."""
    rng = random.Random(seed)
    items = [i for b in batches for i in b.items]
    out = list(batches) + list(batches)
    for n in range(6):
        picked = rng.sample(items, 40)
        mixed = []
        for item in picked:
            roll = rng.random()
            if item.kind == "contact" or roll < 0.3:
                mixed.append(item)
            elif roll < 0.6:
                mixed.append(shifted(item, 1))
            elif roll < 0.8:
                mixed.append(shifted(item, -1))
            else:  # the same key twice in one batch: the second sees the first
                mixed.extend([shifted(item, 2), shifted(item, 3)])
        mixed.extend(rng.sample(mixed, 5))
        rng.shuffle(mixed)
        out.append(attrs.evolve(batches[0], items=tuple(mixed), sequence=1000 + n))
    return out


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
            for t in tables
        }
    finally:
        conn.close()


def written(path: Path, batches: list[SinkBatch], *, prefetch: bool) -> list[Any]:
    acks = []
    saved = sqlite_sink._Txn.prefetch
    if not prefetch:
        sqlite_sink._Txn.prefetch = lambda self, items: None  # type: ignore[method-assign]
    try:
        with SQLiteSink(path, batch_size=500) as sink:
            for batch in batches:
                acks.append(sink.write(batch))
    finally:
        sqlite_sink._Txn.prefetch = saved  # type: ignore[method-assign]
    return acks


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prefetch_writes_what_one_select_per_item_wrote(
    batches: list[SinkBatch], seed: int, tmp_path: Path
) -> None:
    work = workload(batches, seed)
    with_prefetch = written(tmp_path / "fast.db", work, prefetch=True)
    without = written(tmp_path / "slow.db", work, prefetch=False)
    assert with_prefetch == without
    actions = {o.action.value for ack in with_prefetch for o in ack.outcomes}
    assert {"inserted", "unchanged", "updated", "stale"} <= actions
    assert dump(tmp_path / "fast.db") == dump(tmp_path / "slow.db")


def test_prefetch_reads_a_batch_in_a_few_statements(
    batches: list[SinkBatch], tmp_path: Path
) -> None:
    with SQLiteSink(tmp_path / "s.db") as sink:
        sink.write(batches[0])
        seen: list[str] = []
        sink.connection.set_trace_callback(seen.append)
        sink.write(batches[0])
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    kinds = {i.kind for i in batches[0].items}
    assert 0 < len(selects) <= len(kinds)


# -- the memory sink's copy ----------------------------------------------------------------


@given(value=JSON | st.tuples(JSON, st.decimals(allow_nan=False)))
def test_memory_sink_copies_as_deepcopy_does(value: Any) -> None:
    copied = memory_sink._copied(value)
    assert copied == copy.deepcopy(value)
    if isinstance(value, (dict, list)):
        assert copied is not value


# -- the models' shortcuts ----------------------------------------------------------------


@given(
    when=st.datetimes(
        min_value=dt.datetime(2, 1, 1),
        max_value=dt.datetime(9998, 1, 1),
        timezones=st.none() | st.just(UTC) | st.timezones(),
    )
)
def test_utc_datetimes_are_kept_and_others_converted(when: dt.datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        with pytest.raises(NaiveDatetimeError):
            ensure_aware_utc(when)
        return
    result = ensure_aware_utc(when)
    assert repr(result) == repr(when.astimezone(UTC))  # the checked conversion
    assert result.tzinfo is UTC


@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=6),
    code=st.sampled_from(["USD", "usd", " eur ", "JPY", "XXX", "ZZZ", "", "us"]),
)
def test_money_takes_the_checked_conversions(amount: Any, code: str) -> None:
    def built() -> Any:
        try:
            money = Money(amount, code)
        except (CurrencyError, ValueError, TypeError) as exc:
            return type(exc).__name__
        return (str(money.amount), money.currency)

    first, second = built(), built()  # the second meets the remembered code
    assert first == second
    if isinstance(first, tuple):
        assert first[1] == code.strip().upper()
        assert Decimal(first[0]) == Decimal(str(amount).strip())
