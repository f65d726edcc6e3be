"""PayloadReader: defensive field reading that reports every bad field with its JSON path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors import InvalidRecordError, Money
from commerce_connectors._parsing import PayloadReader, parse_datetime

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-10-04T12:00:00Z", dt.datetime(2024, 10, 4, 12, tzinfo=UTC)),
        ("2024-10-04T12:00:00-03:00", dt.datetime(2024, 10, 4, 15, tzinfo=UTC)),
        ("2024-10-04T12:00:00-0300", dt.datetime(2024, 10, 4, 15, tzinfo=UTC)),
        ("Tue, 20 Nov 2012 00:00:00 +0000", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        (
            {"date": "2024-01-01 10:00:00.000000", "timezone": "America/Argentina/Buenos_Aires"},
            dt.datetime(2024, 1, 1, 13, tzinfo=UTC),
        ),
    ],
)
def test_parse_datetime_shapes(raw: object, expected: dt.datetime) -> None:
    assert parse_datetime(raw) == expected


def test_parse_datetime_refuses_naive_unless_the_platform_documents_a_zone() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        parse_datetime("2024-10-04T12:00:00")
    assert parse_datetime("2024-10-04T12:00:00", naive_tz=UTC).hour == 12
    with pytest.raises(ValueError, match="unknown timezone"):
        parse_datetime({"date": "2024-01-01 10:00:00", "timezone": "Mars/Olympus"})


@given(st.datetimes(timezones=st.just(UTC)))
def test_parse_datetime_round_trips_isoformat(value: dt.datetime) -> None:
    assert parse_datetime(value.isoformat()) == value


def test_reader_collects_every_problem_with_json_paths_and_keeps_payload() -> None:
    payload = {
        "id": 42,
        "currency": "usd",
        "total_price": "12,50",
        "created_at": "yesterday",
        "line_items": [
            {"price": "1.00", "quantity": 1},
            {"price": None, "quantity": "two"},
        ],
    }
    r = PayloadReader(payload, platform="shopify", kind="order")
    assert r.id("id") == "42"
    currency = r.currency("currency")
    assert currency == "USD"
    assert r.money("total_price", currency) is None
    assert r.datetime("created_at", required=True) is None
    lines = list(r.children("line_items"))
    assert lines[0].money("price", currency) == Money("1.00", "USD")
    assert lines[1].money("price", currency, required=True) is None
    assert lines[1].integer("quantity") is None
    with pytest.raises(InvalidRecordError) as info:
        r.check()
    err = info.value
    assert err.record_id == "42"
    assert err.payload is payload
    assert [p.path for p in err.problems] == [
        "$.total_price",
        "$.created_at",
        "$.line_items[1].price",
        "$.line_items[1].quantity",
    ]
    assert "4 bad field(s)" in str(err)


def test_reader_reads_numbers_as_the_decimal_the_platform_meant() -> None:
    r = PayloadReader({"a": 10.1, "b": "10.0000", "c": 3}, platform="bigcommerce", kind="order")
    assert r.decimal("a") == Decimal("10.1")
    assert str(r.decimal("b")) == "10.0000"
    assert r.decimal("c") == 3
    assert r.ok


def test_reader_handles_a_payload_that_is_not_an_object() -> None:
    r = PayloadReader(["not", "an", "object"], platform="square", kind="customer")
    assert r.text("id") is None
    with pytest.raises(InvalidRecordError, match=r"\$: expected a JSON object"):
        r.check()


def test_reader_text_treats_blank_as_missing_and_keeps_others_verbatim() -> None:
    r = PayloadReader({"a": "  ", "b": " Ana ", "c": 5, "d": {"x": 1}}, platform="x", kind="y")
    assert r.text("a") is None
    assert r.text("b") == " Ana "
    assert r.text("c") == "5"
    assert r.text("d") is None
    assert [p.path for p in r.problems] == ["$.d"]


def test_reader_unknown_currency_is_a_problem_not_a_crash() -> None:
    r = PayloadReader({"currency": "ZZZ", "total": "1"}, platform="x", kind="order")
    assert r.money("total", r.currency("currency")) is None
    assert r.problems[0].path == "$.currency"
    assert "unknown ISO 4217" in r.problems[0].reason


def test_reader_booleans_and_minor_units() -> None:
    r = PayloadReader(
        {"t": "true", "f": 0, "bad": "maybe", "amount": 1999, "cur": "JPY"},
        platform="square",
        kind="payment",
    )
    assert r.boolean("t") is True
    assert r.boolean("f") is False
    assert r.boolean("bad") is None
    assert r.money("amount", "JPY", minor_units=True) == Money("1999", "JPY")
    assert r.money("amount", "USD", minor_units=True) == Money("19.99", "USD")
    assert [p.path for p in r.problems] == ["$.bad"]
