"""The cattrs converter round-trips every record type losslessly, raw payload included."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors import ConfigurationError, Money, Product
from commerce_connectors.serialization import dumps, from_data, loads, to_data
from commerce_connectors.testing import strategies as cs

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(cs.records(), st.dictionaries(st.text(max_size=8), _json_values, max_size=4))
def test_converter_round_trips_every_record_type_through_json(record: Any, raw: Any) -> None:
    record = attrs.evolve(record, raw=raw)
    data = to_data(record)
    text = json.dumps(data)
    back = from_data(type(record), json.loads(text))
    assert back == record
    assert back.raw == raw
    assert to_data(back) == data
    assert loads(type(record), dumps(record)) == record


@given(cs.orders())
def test_unstructured_money_is_a_decimal_string_never_a_float(order: Any) -> None:
    data = to_data(order)
    assert isinstance(data["total"]["amount"], str)
    assert data["created_at"].endswith("+00:00")


def test_from_data_reports_every_bad_field() -> None:
    data = {
        "platform": "square",
        "connection_id": "sq:L1",
        "external_id": "P",
        "created_at": "not a date",
        "updated_at": "2024-01-01T00:00:00",
    }
    with pytest.raises(ConfigurationError) as info:
        from_data(Product, data)
    message = str(info.value)
    assert "$.created_at" in message
    assert "$.updated_at" in message  # naive: every bad field is listed, not just the first


def test_money_data_shape() -> None:
    assert to_data(Money("1.50", "eur")) == {"amount": "1.50", "currency": "EUR"}
