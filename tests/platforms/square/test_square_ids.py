"""Square ids on their way into URL paths: configured ids are checked when the connector
is built, and ids from webhook payloads never choose a path.

Square's ids are base-62 strings (``L88917AVBK2S5``, ``CAISENgvlJ6jLWAzERDzjyHVybY``),
some with ``_`` or ``-`` (``wbhk_…``); nothing else is ever part of one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from square_spec import Recorder, SquareSpec, load_spec

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ConfigurationError
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.testing.simulators.square import SquareSimulator
from commerce_connectors.webhooks import parse_event

UNSAFE = [
    "L1/../../evil",
    "..",
    ".",
    "L1%2F..",
    "L1?location_id=other",
    "L1#fragment",
    "L 1",
    "L1\nX",
    "ＬＯＣ１",  # full-width letters and digits
    "L" * 256,
    "https://evil.example/x",
]
REAL_IDS = [
    "L88917AVBK2S5",  # a location (spec examples)
    "6SSW7HV8K2ST5",  # a merchant
    "CAISENgvlJ6jLWAzERDzjyHVybY",  # an order
    "wbhk_b35f6b3145074cf9ad513610786c19d5",  # a webhook subscription
    "main",  # RetrieveLocation's alias of the main location
]


@pytest.fixture(scope="session")
def spec() -> SquareSpec:
    """Square's OpenAPI document as a checker (parsed once per test session)."""
    return load_spec()


def _connector(**kwargs: Any) -> SquareConnector:
    defaults: dict[str, Any] = {"access_token": "EAAA-token", "location_id": "L88917AVBK2S5"}
    return SquareConnector(**{**defaults, **kwargs})


@pytest.mark.parametrize("location_id", UNSAFE)
def test_a_location_id_that_is_not_a_square_id_is_refused(location_id: str) -> None:
    with pytest.raises(ConfigurationError, match="location_id must be a Square location id"):
        _connector(location_id=location_id)


@pytest.mark.parametrize("merchant_id", UNSAFE)
def test_a_merchant_id_that_is_not_a_square_id_is_refused(merchant_id: str) -> None:
    with pytest.raises(ConfigurationError, match="merchant_id must be a Square merchant id"):
        _connector(merchant_id=merchant_id)


@pytest.mark.parametrize("square_id", REAL_IDS)
def test_square_ids_are_accepted(square_id: str) -> None:
    with _connector(location_id=square_id, merchant_id=square_id) as conn:
        assert conn.connection_id == f"square:{square_id}"


# ---------------------------------------------------------------------------- webhook ids


@pytest.fixture
def setup() -> Iterator[tuple[SquareSimulator, Recorder, SquareConnector]]:
    clock = FakeClock()
    sim = SquareSimulator(seed=8, customers=6, payments=10, products=3, clock=clock)
    recorder = Recorder(sim.handle)
    location = sim.locations[0]
    conn = SquareConnector(
        access_token=sim.token,
        location_id=location.id,
        merchant_id=location.merchant_id,
        transport=recorder.transport,
        clock=clock,
    )
    with conn:
        yield sim, recorder, conn


def _event(sim: SquareSimulator, event_type: str, data: dict[str, Any]) -> Any:
    body = {
        "merchant_id": sim.merchant_id,
        "type": event_type,
        "event_id": "e-1",
        "created_at": "2026-03-01T00:00:00Z",
        "location_id": sim.locations[0].id,
        "data": data,
    }
    return parse_event("square", {}, json.dumps(body).encode(), received_at=sim.clock.now())


@pytest.mark.parametrize(
    "bad", ["../../v2/customers", "..", "O1/../../v2/locations", "O1?x=1", "O%2F1"]
)
@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("order.updated", lambda bad: {"type": "order", "id": bad, "object": {}}),
        (
            "payment.updated",
            lambda bad: {"type": "payment", "id": bad, "object": {"payment": {"id": bad}}},
        ),
        (
            "refund.created",
            lambda bad: {"type": "refund", "id": "R1", "object": {"refund": {"payment_id": bad}}},
        ),
        ("customer.updated", lambda bad: {"type": "customer", "id": bad}),
    ],
)
def test_an_id_from_a_payload_never_reaches_a_path(
    setup: tuple[SquareSimulator, Recorder, SquareConnector],
    event_type: str,
    data: Any,
    bad: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim, recorder, conn = setup
    assert conn.records_for_event(_event(sim, event_type, data(bad))) == []
    assert recorder.calls == []
    assert "not a Square id" in caplog.text


def test_a_tender_payment_id_that_is_not_an_id_is_not_fetched(
    setup: tuple[SquareSimulator, Recorder, SquareConnector], spec: SquareSpec
) -> None:
    """An order read because a webhook named it: its tenders' ids do not choose paths either."""
    sim, recorder, conn = setup
    location = sim.locations[0].id
    order_id = next(
        o
        for o in sorted(sim.order_ids(location))
        if (sim.get("orders", o) or {}).data.get("tenders")  # type: ignore[union-attr]
    )
    order = sim.get("orders", order_id)
    assert order is not None
    tenders = [
        *order.data["tenders"],
        {"id": "T2", "payment_id": "../../v2/customers", "type": "CARD"},
    ]
    sim.update("orders", order_id, {"tenders": tenders})
    records = conn.records_for_event(
        _event(sim, "order.updated", {"type": "order", "id": order_id})
    )
    assert [r.external_id for r in records] == [order_id]
    paths = [r.url.path for r, _ in recorder.calls]
    assert all("customers" not in p for p in paths), paths
    assert all(spec.check_httpx(r) == [] for r, _ in recorder.calls)


def test_safe_ids_from_payloads_are_fetched(
    setup: tuple[SquareSimulator, Recorder, SquareConnector], spec: SquareSpec
) -> None:
    sim, recorder, conn = setup
    location = sim.locations[0].id
    order_id = sorted(sim.order_ids(location))[0]
    conn.records_for_event(_event(sim, "order.updated", {"type": "order", "id": order_id}))
    assert recorder.calls[0][0].url.path == f"/v2/orders/{order_id}"
    assert all(spec.check_httpx(r) == [] for r, _ in recorder.calls)
