"""The canonical model's invariants: exact money, aware UTC datetimes, required origin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import iso4217
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors import (
    ConfigurationError,
    CurrencyError,
    Customer,
    LineItem,
    Money,
    NaiveDatetimeError,
    Order,
    OrderStatus,
    Platform,
)
from commerce_connectors.models import currency_exponent, ensure_aware_utc, register_currency
from commerce_connectors.testing import strategies as cs

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 10, 4, 12, 0, tzinfo=UTC)


@given(cs.currencies(), st.integers(min_value=-(10**15), max_value=10**15))
def test_minor_units_round_trip_for_every_iso4217_currency(code: str, units: int) -> None:
    money = Money.from_minor_units(units, code)
    assert money.to_minor_units() == units
    assert Money(str(money.amount), code) == money


def test_every_iso4217_currency_with_minor_units_is_covered() -> None:
    listed = {
        code
        for code, entry in iso4217.raw_table.items()
        if code and (entry.get("CcyMnrUnts") or "").isdigit()
    }
    for code in listed:
        assert currency_exponent(code) == int(iso4217.raw_table[code]["CcyMnrUnts"])


@pytest.mark.parametrize(
    ("code", "exponent", "amount", "units"),
    [
        ("JPY", 0, "1500", 1500),
        ("USD", 2, "19.99", 1999),
        ("KWD", 3, "1.234", 1234),
        ("CLF", 4, "0.0001", 1),
        ("BHD", 3, "10", 10000),
    ],
)
def test_known_exponents(code: str, exponent: int, amount: str, units: int) -> None:
    assert currency_exponent(code) == exponent
    assert Money(amount, code).to_minor_units() == units


def test_rounding_is_half_even_and_stated() -> None:
    assert Money("0.125", "USD").to_minor_units() == 12
    assert Money("0.135", "USD").to_minor_units() == 14
    assert Money("0.5", "JPY").to_minor_units() == 0
    assert Money("0.125", "USD").quantized() == Money("0.12", "USD")


def test_money_refuses_float_and_non_finite_amounts() -> None:
    with pytest.raises(TypeError, match="float"):
        Money(19.99, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        Money("NaN", "USD")
    with pytest.raises(ValueError, match="not a decimal"):
        Money("12,50", "EUR")


def test_money_refuses_unknown_currency_and_gold_minor_units() -> None:
    with pytest.raises(CurrencyError, match="unknown ISO 4217"):
        Money("1", "ABC")
    with pytest.raises(CurrencyError, match="no minor unit"):
        Money("1", "XAU").to_minor_units()


def test_withdrawn_currency_can_be_registered() -> None:
    with pytest.raises(CurrencyError):
        Money("10", "LTL")
    register_currency("LTL", 2)
    assert Money("10.01", "ltl").to_minor_units() == 1001


def test_cross_currency_arithmetic_is_refused() -> None:
    assert Money("1.10", "EUR") + Money("2", "EUR") == Money("3.10", "EUR")
    assert Money("1", "EUR") < Money("2", "EUR")
    with pytest.raises(CurrencyError, match="EUR with USD"):
        Money("1", "EUR") + Money("1", "USD")
    with pytest.raises(CurrencyError):
        _ = Money("1", "EUR") < Money("1", "USD")


def test_naive_datetime_is_refused_with_a_clear_error() -> None:
    with pytest.raises(NaiveDatetimeError, match=r"created_at|naive"):
        Customer(
            platform="shopify",
            connection_id="c",
            external_id="1",
            created_at=dt.datetime(2024, 1, 1),
            updated_at=T0,
        )
    with pytest.raises(NaiveDatetimeError, match="since: naive datetime"):
        ensure_aware_utc(dt.datetime(2024, 1, 1), field="since")


def test_datetimes_are_normalised_to_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    c = Customer(
        platform=Platform.SHOPIFY,
        connection_id="c",
        external_id="1",
        created_at=dt.datetime(2024, 6, 1, 14, 0, tzinfo=paris),
        updated_at=T0,
    )
    assert c.created_at == dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert c.created_at.tzinfo is UTC


def test_origin_fields_are_required_and_non_empty() -> None:
    with pytest.raises(ConfigurationError, match="external_id"):
        Customer(
            platform="shopify", connection_id="c", external_id=" ", created_at=T0, updated_at=T0
        )
    with pytest.raises(ValueError, match="not a valid Platform"):
        Customer(
            platform="magento", connection_id="c", external_id="1", created_at=T0, updated_at=T0
        )


def test_order_keeps_raw_status_and_raw_payload_outside_equality() -> None:
    order = Order(
        platform="bigcommerce",
        connection_id="bigcommerce:abc",
        external_id="100",
        created_at=T0,
        updated_at=T0,
        status=OrderStatus.REFUNDED,
        raw_status="Refunded",
        total=Money("10.0000", "USD"),
        lines=[LineItem(name="Mug", quantity="2", unit_price=Money("5", "USD"))],
        raw={"id": 100},
    )
    assert order.raw_status == "Refunded"
    assert order.lines[0].quantity == 2
    assert isinstance(order.lines, tuple)
    assert order == attrs.evolve(order, raw={"id": 100, "other": True})
    assert ", raw=" not in repr(order)


def test_quantity_accepts_int_and_decimal_but_not_float() -> None:
    assert LineItem(name=None, quantity="1.500", unit_price=Money("1", "EUR")).quantity == Decimal(
        "1.500"
    )
    with pytest.raises(TypeError):
        LineItem(name=None, quantity=1.5, unit_price=Money("1", "EUR"))  # type: ignore[arg-type]


def test_status_enum_covers_the_seeds_lifecycle() -> None:
    names = {s.value for s in OrderStatus}
    for needed in [
        "pending",
        "authorized",
        "paid",
        "partially_paid",
        "fulfilled",
        "completed",
        "refunded",
        "partially_refunded",
        "cancelled",
        "failed",
        "declined",
        "voided",
    ]:
        assert needed in names
