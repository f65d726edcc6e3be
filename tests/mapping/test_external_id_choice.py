"""Choosing the external-id source keeps the map's own requirement unless told otherwise.

Users mapped Square's reference id with ``CONTACT_MAP.with_external_id("$.reference_id")``
and saw every customer without one dead-lettered: the copy had silently become
strict. An optional external id stays optional (the record is written without
one); ``required=True`` asks for strictness; ``required=False`` relaxes any map.
"""

from __future__ import annotations

import datetime as dt

import pytest

from commerce_connectors.errors import MappingError
from commerce_connectors.mapping import CONTACT_MAP, ORDER_MAP, PRODUCT_MAP, FieldMap
from commerce_connectors.models import Customer, Money, Product
from commerce_connectors.rules import SyncMode
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 10, 4, 12, tzinfo=UTC)


def _customers(platform: str = "square", connection: str = "square:M:L") -> list[Customer]:
    """17 customers, 5 of them with a reference id (the reported store's shape)."""
    return [
        Customer(
            platform,
            connection,
            f"C{n:02d}",
            T0,
            T0 + dt.timedelta(minutes=n),
            email=f"shopper{n}@example.com",
            raw={"reference_id": f"crm-{n}"} if n % 4 == 0 else {},
        )
        for n in range(17)
    ]


def test_an_optional_external_id_stays_optional_when_its_source_changes() -> None:
    by_reference = CONTACT_MAP.with_external_id("$.reference_id")
    assert by_reference.require_external_id is False
    ids = [by_reference.apply(c).external_id for c in _customers()]
    assert ids.count(None) == 12
    assert [i for i in ids if i is not None] == ["crm-0", "crm-4", "crm-8", "crm-12", "crm-16"]


def test_required_true_rejects_records_without_the_chosen_id() -> None:
    strict = CONTACT_MAP.with_external_id("$.reference_id", required=True)
    assert strict.require_external_id is True
    rejected = [c for c in _customers() if strict.check(c)]
    assert len(rejected) == 12
    with pytest.raises(MappingError) as info:
        strict.apply(rejected[0])
    assert [(p.path, p.reason) for p in info.value.problems] == [
        ("$.reference_id", "external id missing")
    ]


def test_a_required_external_id_stays_required_unless_relaxed() -> None:
    product = Product("shopify", "shopify:acme", "632910392", T0, T0, name="Nano",
                      price=Money("199.00", "USD"), raw={})  # fmt: skip
    by_handle = PRODUCT_MAP.with_external_id("$.handle")
    assert by_handle.require_external_id is True
    assert [p.path for p in by_handle.check(product)] == ["$.handle"]
    relaxed = PRODUCT_MAP.with_external_id("$.handle", required=False)
    mapped = relaxed.apply(product)
    assert mapped.external_id is None
    assert mapped.fields["name"] == "Nano"


def test_a_present_external_id_is_read_whatever_the_requirement() -> None:
    product = Product("shopify", "shopify:acme", "1", T0, T0, raw={"handle": " ipod-nano "})
    for required in (None, True, False):
        m = PRODUCT_MAP.with_external_id("$.handle", required=required)
        assert m.apply(product).external_id == "ipod-nano"


def test_an_id_that_is_not_a_string_is_reported_even_when_optional() -> None:
    customer = _customers()[1]
    odd = Customer(customer.platform, customer.connection_id, "C1", T0, T0, raw={"ref": ["x"]})
    problems = CONTACT_MAP.with_external_id("$.ref").check(odd)
    assert [(p.path, p.reason) for p in problems] == [("$.ref", "external id is not a string")]


def test_from_dict_maps_keep_their_stated_requirement() -> None:
    m = FieldMap.from_dict(
        {"kind": "contact", "external_id": "$.x", "require_external_id": False, "fields": {}}
    )
    assert m.with_external_id("$.y").require_external_id is False
    assert ORDER_MAP.with_external_id("$.y").require_external_id is True


def test_a_sync_writes_every_customer_with_or_without_the_chosen_id() -> None:
    sim = ToyShopSimulator(seed=1, customers=0, orders=0, products=0)
    shop = ToyShopConnector(token=sim.token, transport=sim.transport())
    customers = _customers(shop.platform.value, shop.connection_id)
    by_reference = CONTACT_MAP.with_external_id("$.reference_id")
    sink, state = MemorySink(), MemoryStateStore()
    engine = SyncEngine(shop, sink, state, maps={"contact": by_reference, "customer": by_reference})
    report = engine.apply(customers, mode=SyncMode.INCREMENTAL)
    assert report.totals()["dead_lettered"] == 0
    assert state.dead_letters(shop.connection_id) == []
    assert sink.contact_count() == 17
    assert len(sink.records("customer")) == 17
    strict = CONTACT_MAP.with_external_id("$.reference_id", required=True)
    strict_state = MemoryStateStore()
    engine = SyncEngine(shop, MemorySink(), strict_state, maps={"customer": strict})
    report = engine.apply(customers, mode=SyncMode.INCREMENTAL)
    assert report.totals()["dead_lettered"] == 12
    assert len(strict_state.dead_letters(shop.connection_id)) == 12
