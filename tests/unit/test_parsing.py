"""PayloadReader: defensive field reading that reports every bad field with its JSON path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors import InvalidRecordError, Money
from commerce_connectors._parsing import (
    EARLIEST_DATETIME,
    LATEST_DATETIME,
    MAX_AMOUNT_DIGITS,
    MAX_MINOR_UNITS,
    PayloadReader,
    amount_problem,
    parse_datetime,
    timezone_by_name,
)

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


@given(
    st.datetimes(
        min_value=EARLIEST_DATETIME.replace(tzinfo=None),
        max_value=LATEST_DATETIME.replace(tzinfo=None),
        timezones=st.just(UTC),
    )
)
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


# -- hardening found by fuzzing ------------------------------------------------------------


def _reader(**payload: object) -> PayloadReader:
    return PayloadReader(payload, platform="x", kind="order")


def _problems(r: PayloadReader) -> dict[str, str]:
    return {p.path: p.reason for p in r.problems}


@pytest.mark.parametrize(
    "name",
    [
        "/usr/share/zoneinfo/UTC",
        "../../etc/passwd",
        "America/../../../etc/passwd",
        "zone.tab",
        "x" * 300,
        "Mars/Olympus",
        "UTC\x00",
        "\x00",
        "+99:99",
        "BRT",
    ],
)
def test_a_payload_zone_name_is_looked_up_by_name_never_as_a_path(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dateutil.tz

    from commerce_connectors import _parsing

    opened: list[str] = []
    monkeypatch.setattr(_parsing.zoneinfo, "ZoneInfo", lambda key: opened.append(key))
    monkeypatch.setattr(dateutil.tz, "gettz", lambda *a: pytest.fail("dateutil gettz used"))
    timezone_by_name.cache_clear()
    with pytest.raises(ValueError, match="unknown timezone"):
        timezone_by_name(name)
    assert opened == []  # refused before anything could touch the file system
    r = _reader(completed_at={"date": "2024-05-01 12:00:00.000000", "timezone": name})
    assert r.datetime("completed_at") is None
    assert "unknown timezone" in _problems(r)["$.completed_at"]


@pytest.mark.parametrize(
    ("name", "utc_hour"),
    [
        ("America/Sao_Paulo", 15),
        ("America/Argentina/Buenos_Aires", 15),
        ("Etc/GMT+3", 15),
        ("UTC", 12),
        ("GMT", 12),
        ("-03:00", 15),
        ("-0300", 15),
        ("+05:45", 6),
    ],
)
def test_php_date_objects_name_iana_zones_utc_or_offsets(name: str, utc_hour: int) -> None:
    value = {"date": "2024-05-01 12:00:00.000000", "timezone_type": 3, "timezone": name}
    assert parse_datetime(value).hour == utc_hour


def test_php_date_object_without_a_zone_or_with_a_bad_one() -> None:
    assert parse_datetime({"date": "2024-05-01 12:00:00", "timezone": ""}, naive_tz=UTC).hour == 12
    with pytest.raises(ValueError, match="unknown timezone"):
        parse_datetime({"date": "2024-05-01 12:00:00", "timezone": 5})
    with pytest.raises(ValueError, match="not a datetime"):
        parse_datetime({"date": {"date": "2024-05-01 12:00:00"}, "timezone": "UTC"})


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+01:00",  # year 0 once in UTC: astimezone overflowed
        "9999-12-31T23:59:59-01:00",  # year 10000 once in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        {"date": "9999-12-31 23:00:00.000000", "timezone": "America/Sao_Paulo"},
        {"date": "0001-01-01 00:00:00.000000", "timezone": "Asia/Tokyo"},
        "Mon, 01 Jan 0001 00:00:00 +0100",
        "Fri, 31 Dec 9999 23:59:59 -0100",
    ],
)
def test_dates_near_year_1_or_9999_are_field_problems(raw: object) -> None:
    r = _reader(created_at=raw)
    assert r.datetime("created_at", required=True) is None
    assert _problems(r)["$.created_at"].startswith("datetime out of range")


def test_the_supported_range_is_inclusive() -> None:
    assert parse_datetime(EARLIEST_DATETIME.isoformat()) == EARLIEST_DATETIME
    assert parse_datetime(LATEST_DATETIME.isoformat()) == LATEST_DATETIME
    later = LATEST_DATETIME + dt.timedelta(microseconds=1) if LATEST_DATETIME.year < 9999 else None
    assert later is not None
    with pytest.raises(ValueError, match="out of range"):
        parse_datetime(later.isoformat())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 20 Nov 2012 00:00:00 +0000", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        ("Tue, 20 Nov 12 00:00:00 +0000", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        ("Sun, 20 Nov 49 00:00:00 +0000", dt.datetime(2049, 11, 20, tzinfo=UTC)),
        ("Sun, 20 Nov 55 00:00:00 +0000", dt.datetime(1955, 11, 20, tzinfo=UTC)),
        ("Tue, 20 Nov 112 00:00:00 +0000", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        ("Tue, 20 Nov 0012 00:00:00 +0000", dt.datetime(12, 11, 20, tzinfo=UTC)),
        ("20 Nov 2012 21:05 -0300", dt.datetime(2012, 11, 21, 0, 5, tzinfo=UTC)),
        ("Tue, 20 Nov 2012 00:00:00 EST", dt.datetime(2012, 11, 20, 5, tzinfo=UTC)),
        ("Tue, 20 Nov 2012 00:00:00 GMT", dt.datetime(2012, 11, 20, tzinfo=UTC)),
    ],
)
def test_rfc_2822_years_are_read_as_rfc_5322_says(raw: str, expected: dt.datetime) -> None:
    assert parse_datetime(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Tue, 20 Nov 0001 00:00:00 +0000", "out of range"),  # was read as 2001
        ("Tue, 20 Nov 2012 00:00:00 -0000", "no timezone"),  # "-0000": zone unknown
        ("Tue, 20 Nov 2012 00:00:00 +9999", "not a datetime"),
        ("Tue, 31 Feb 2012 00:00:00 +0000", "not a datetime"),
        ("Tue, 20 Nov 2012 00:00:00 XYZ", "not a datetime"),
    ],
)
def test_bad_rfc_2822_dates_are_problems(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_datetime(raw)


def test_empty_dates_stay_none_and_blank_ones_are_problems() -> None:
    r = _reader(a="", b=None, c="  ")
    assert (r.datetime("a"), r.datetime("b"), r.datetime("missing")) == (None, None, None)
    assert r.ok
    assert r.datetime("c") is None
    assert r.datetime("a", required=True) is None
    assert _problems(r) == {
        "$.c": "not a datetime: '  '",
        "$.a": "required datetime is missing",
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1e30", "amount out of range"),
        ("-1e30", "amount out of range"),
        ("1E+999999", "amount out of range"),
        ("92233720368547758.08", "amount out of range"),
        ("NaN", "not a finite amount"),
        ("sNaN", "not a finite amount"),
        ("Infinity", "not a finite amount"),
        ("-Infinity", "not a finite amount"),
        (float("nan"), "not a finite amount"),
        (float("inf"), "not a finite amount"),
        (1e300, "amount out of range"),
        (10**30, "amount out of range"),
        ("1_000.00", "not a decimal amount"),
        ("١٢٣", "not a decimal amount"),
        ("0x10", "not a decimal amount"),
        ("9" * 5000, "amount out of range"),
        ("0." + "1" * 40, "more than 28 digits"),
        ("1e-29", "more than 28 digits"),
        ("-5.00", "negative value not allowed"),
    ],
)
def test_amounts_are_bounded_at_parse_time_with_their_path(raw: object, reason: str) -> None:
    r = _reader(lines=[{"price": raw}])
    line = next(r.children("lines"))
    assert line.money("price", "USD") is None
    assert reason in _problems(r)["$.lines[0].price"]


def test_the_largest_amount_fits_64_bit_minor_units_in_each_currency() -> None:
    r = _reader(usd="92233720368547758.07", jpy="9223372036854775807", kwd="9223372036854775.807")
    usd, jpy, kwd = r.money("usd", "USD"), r.money("jpy", "JPY"), r.money("kwd", "KWD")
    assert r.ok
    assert [m.to_minor_units() for m in (usd, jpy, kwd) if m] == [MAX_MINOR_UNITS] * 3
    r = _reader(jpy="9223372036854775808", units=2**63, neg=-(2**63))
    assert r.money("jpy", "JPY") is None
    assert r.money("units", "USD", minor_units=True) is None
    assert r.money("neg", "USD", minor_units=True, negative=True) is None
    assert set(_problems(r)) == {"$.jpy", "$.units", "$.neg"}


def test_amount_problem_bounds() -> None:
    assert amount_problem(Decimal("0E+50")) is None
    assert amount_problem(Decimal("1." + "0" * (MAX_AMOUNT_DIGITS - 1))) is None
    assert amount_problem(Decimal("1." + "0" * MAX_AMOUNT_DIGITS)) is not None
    assert amount_problem(Decimal(MAX_MINOR_UNITS)) is None
    assert amount_problem(Decimal(MAX_MINOR_UNITS) + 1) is not None
    # Rounded as to_minor_units() rounds (half to even): .5 below the bound stays in it.
    assert amount_problem(Decimal("92233720368547758.065"), 2) is None
    assert amount_problem(Decimal("92233720368547758.075"), 2) is not None


def test_amount_bounds_do_not_depend_on_the_callers_decimal_context() -> None:
    import decimal

    with decimal.localcontext(decimal.Context(prec=3)):
        r = _reader(a="123456789.12")
        assert r.money("a", "USD") == Money("123456789.12", "USD")


def test_sign_policy_negative_values_only_where_allowed() -> None:
    r = _reader(a="-5.00", b=-3, c="-0.00", d="-2", e=-250)
    assert r.money("a", "USD") is None
    assert r.money("a", "USD", negative=True) == Money("-5.00", "USD")
    assert r.integer("b", negative=False) is None
    assert r.integer("b") == -3  # ids and codes may be negative
    zero = r.money("c", "USD")
    assert zero == Money("0.00", "USD")
    assert zero is not None
    assert not zero.amount.is_signed()
    assert r.decimal("d") is None
    assert r.money("e", "USD", minor_units=True) is None
    assert list(_problems(r)) == ["$.a", "$.b", "$.d", "$.e"]
    assert all("negative value not allowed" in reason for reason in _problems(r).values())


def test_integers_are_64_bit_and_never_crash_on_long_strings() -> None:
    r = _reader(
        a="9" * 5000, b="0" * 5000 + "7", c=2**63, d=1e300, e="-9223372036854775808", f="١٢"
    )
    assert r.integer("a") is None
    assert r.integer("b") == 7
    assert r.integer("c") is None
    assert r.integer("d") is None
    assert r.integer("e") is None
    assert r.integer("f") is None
    assert set(_problems(r)) == {"$.a", "$.c", "$.d", "$.e", "$.f"}


def test_text_refuses_integers_beyond_64_bits() -> None:
    r = _reader(id=10**5000)
    assert r.text("id") is None
    assert "integer out of range" in _problems(r)["$.id"]


def test_money_sum_is_exact_and_bounded() -> None:
    r = _reader(a="0.000000000000000000001", b="1000000", c=None)
    assert r.money_sum(["a", "b", "c"], "USD") == Money("1000000.000000000000000000001", "USD")
    r = _reader(a="92233720368547758.07", b="0.01")
    assert r.money_sum(["a", "b"], "USD") is None
    assert "amount out of range" in _problems(r)["$.a"]
    assert _reader().money_sum(["a", "b"], "USD") is None


def test_array_reads_a_list_or_records_a_problem() -> None:
    r = _reader(a=[1], b="x", c={"k": 1})
    assert (r.array("a"), r.array("b"), r.array("c"), r.array("missing")) == ([1], [], [], [])
    assert set(_problems(r)) == {"$.b", "$.c"}


def test_huge_values_are_cut_in_messages_but_kept_whole_in_the_problem() -> None:
    huge = "x" * 100_000
    r = _reader(created_at=huge)
    r.datetime("created_at")
    (problem,) = r.problems
    assert len(problem.reason) < 100
    assert problem.value == huge


def test_a_listed_zone_that_cannot_be_read_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from commerce_connectors import _parsing

    def broken(key: str) -> dt.tzinfo:
        raise OSError(f"cannot read {key}")

    monkeypatch.setattr(_parsing.zoneinfo, "ZoneInfo", broken)
    timezone_by_name.cache_clear()
    with pytest.raises(ValueError, match="unknown timezone 'Europe/Paris'"):
        timezone_by_name("Europe/Paris")
    timezone_by_name.cache_clear()


class _BrokenZone(dt.tzinfo):
    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=25)  # datetime refuses offsets of a day or more

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)


def test_datetime_objects_are_checked_like_text() -> None:
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    assert parse_datetime(aware) == dt.datetime(2024, 1, 1, 15, tzinfo=UTC)
    assert parse_datetime(dt.datetime(2024, 1, 1), naive_tz=UTC).hour == 0
    with pytest.raises(ValueError, match="out of range"):
        parse_datetime(dt.datetime(2024, 1, 1, tzinfo=_BrokenZone()))
    with pytest.raises(ValueError, match="out of range"):
        parse_datetime(dt.datetime.min.replace(tzinfo=UTC))


def test_rfc_2822_military_zone_letters_say_nothing_about_the_zone() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        parse_datetime("Tue, 20 Nov 2012 00:00:00 A")
    assert parse_datetime("Tue, 20 Nov 2012 00:00:00 Z").hour == 0


def test_currencies_without_minor_units_are_bounded_on_the_amount() -> None:
    r = _reader(gold="12.5", units=5, big="9223372036854775808")
    assert r.money("gold", "XAU") == Money("12.5", "XAU")
    assert r.money("big", "XAU") is None
    assert r.money("units", "XAU", minor_units=True) is None  # no minor unit to count
    assert r.money("gold", "ZZZ") is None  # an unknown code passed by the caller
    assert list(_problems(r)) == ["$.big", "$.units", "$.gold"]
