"""BaseConnector guarantees the Connector contract whatever the platform module does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest

from commerce_connectors import (
    Customer,
    InvalidRecordError,
    NaiveDatetimeError,
    Platform,
    UnsupportedStreamError,
)
from commerce_connectors._parsing import PayloadReader
from commerce_connectors.platforms.base import BaseConnector, Fetched
from commerce_connectors.protocols import Connector, Stream

UTC = dt.timezone.utc


def parse(payload: Any) -> Customer:
    r = PayloadReader(payload, platform="custom", kind="customer")
    ext = r.id("id")
    updated = r.datetime("updated_at", required=True)
    r.check()
    assert ext is not None
    assert updated is not None
    return Customer(
        platform=Platform.CUSTOM,
        connection_id="custom:test",
        external_id=ext,
        created_at=updated,
        updated_at=updated,
        email=payload.get("email"),
    )


def crash(payload: Any) -> Customer:
    return parse({"id": payload["id"], "updated_at": payload["missing"]})


class ListConnector(BaseConnector):
    platform = Platform.CUSTOM
    streams = frozenset({Stream.CUSTOMERS})
    unsupported: ClassVar[Mapping[Stream, str]] = {
        Stream.ABANDONED_CARTS: "no carts here; use webhooks"
    }

    def __init__(self, items: list[Fetched], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.fetched_since: list[dt.datetime | None] = []

    @property
    def connection_id(self) -> str:
        return "custom:test"

    def _fetch(self, stream: Stream, since: dt.datetime | None) -> Iterator[Fetched]:
        self.fetched_since.append(since)
        yield from self.items


def payload(i: int, day: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "updated_at": f"2024-10-{day:02d}T00:00:00Z", **extra}


def test_it_satisfies_the_connector_protocol() -> None:
    assert isinstance(ListConnector([]), Connector)


def test_unsupported_stream_raises_at_call_time_with_the_reason() -> None:
    conn = ListConnector([])
    with pytest.raises(UnsupportedStreamError, match="no carts here; use webhooks"):
        conn.iter_abandoned_carts()
    with pytest.raises(UnsupportedStreamError, match="custom does not offer it"):
        conn.iter_orders()


def test_naive_since_is_refused_at_call_time() -> None:
    with pytest.raises(NaiveDatetimeError, match="since"):
        ListConnector([]).iter_customers(since=dt.datetime(2024, 1, 1))


def test_since_is_pushed_down_in_utc_and_enforced_on_records() -> None:
    conn = ListConnector([(payload(1, 1), parse), (payload(2, 5), parse), (payload(3, 9), parse)])
    since = dt.datetime(2024, 10, 5, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    ids = [c.external_id for c in conn.iter_customers(since=since)]
    assert ids == ["2", "3"]
    assert conn.fetched_since == [dt.datetime(2024, 10, 5, 0, tzinfo=UTC)]


def test_invalid_records_reach_on_invalid_with_payload_and_the_rest_arrives() -> None:
    bad = {"id": 2, "updated_at": "not a date"}
    odd = {"id": 4}
    refused: list[InvalidRecordError] = []
    conn = ListConnector(
        [(payload(1, 1), parse), (bad, parse), (payload(3, 3), parse), (odd, crash)],
        on_invalid=refused.append,
    )
    assert [c.external_id for c in conn.iter_customers()] == ["1", "3"]
    assert [e.payload for e in refused] == [bad, odd]
    assert refused[0].problems[0].path == "$.updated_at"
    assert refused[1].record_id == "4"
    assert "parser failed: KeyError" in refused[1].problems[0].reason
    assert conn.invalid_counts == {Stream.CUSTOMERS: 2}


def test_default_on_invalid_raises() -> None:
    conn = ListConnector([(payload(1, 1), parse), ({"id": 2}, parse)])
    it = conn.iter_customers()
    assert next(it).external_id == "1"
    with pytest.raises(InvalidRecordError, match="updated_at"):
        next(it)


def test_a_record_is_not_yielded_twice_in_one_pass_unless_newer() -> None:
    conn = ListConnector(
        [
            (payload(1, 1), parse),
            (payload(2, 2), parse),
            (payload(1, 1), parse),  # served again by a shifting page
            (payload(2, 7, email="new@example.com"), parse),  # updated while paging
        ]
    )
    got = [(c.external_id, c.updated_at.day) for c in conn.iter_customers()]
    assert got == [("1", 1), ("2", 2), ("2", 7)]


def test_closed_connector_refuses_new_iterations_and_context_manager_closes() -> None:
    with ListConnector([]) as conn:
        assert list(conn.iter_customers()) == []
    with pytest.raises(RuntimeError, match="closed"):
        conn.iter_customers()
    assert "custom:test" in repr(conn)


def test_the_repeat_memory_is_bounded_by_the_dedup_window() -> None:
    class Small(ListConnector):
        dedup_window = 2

    items = [(payload(1, 1), parse), (payload(2, 2), parse), (payload(3, 3), parse)]
    conn = Small([*items, (payload(3, 3), parse), (payload(1, 1), parse)])
    got = [c.external_id for c in conn.iter_customers()]
    # 3 is a near repeat and dropped; 1 fell out of the two-id window and is yielded again.
    assert got == ["1", "2", "3", "1"]
