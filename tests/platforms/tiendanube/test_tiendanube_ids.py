"""Tiendanube ids are ASCII digits wherever they go into a URL path.

``str.isdigit()`` accepts full-width ("１２３"), superscript ("²") and other Unicode
digits; ``int()`` even reads some of them as numbers. None of them is a Tiendanube id,
and none may reach a path: neither a configured ``store_id`` nor an id from a webhook
payload or an API listing.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ConfigurationError, MalformedResponseError
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import parse_event

NOT_IDS = ["１２３４", "٣٤", "12²", "12a", "../12", "12/34", "1 2", "", "1" * 20]


def _connector(store_id: Any, handler: Any = None) -> TiendanubeConnector:
    return TiendanubeConnector(
        store_id=store_id,
        access_token="t",
        user_agent="Ids (dev@example.com)",
        transport=httpx.MockTransport(handler or (lambda r: httpx.Response(500))),
        clock=FakeClock(),
    )


@pytest.mark.parametrize("store_id", [*NOT_IDS, True])
def test_a_store_id_that_is_not_ascii_digits_is_refused(store_id: Any) -> None:
    with pytest.raises(ConfigurationError, match="ASCII"):
        _connector(store_id)


@pytest.mark.parametrize("store_id", [1234567, "1234567", " 1234567 "])
def test_numeric_store_ids_are_accepted(store_id: Any) -> None:
    with _connector(store_id) as conn:
        assert conn.connection_id == "tiendanube:1234567"


@pytest.fixture
def sim() -> TiendanubeSimulator:
    return TiendanubeSimulator(seed=3, customers=3, orders=3, products=2, checkouts=0)


@pytest.mark.parametrize("bad", ["１２", "٣", "1²", "../orders", "1/../../store", "1?fields=id"])
@pytest.mark.parametrize("event", ["order/paid", "customer/updated", "product/updated"])
def test_an_id_from_a_payload_never_reaches_a_path(
    sim: TiendanubeSimulator, bad: str, event: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return sim.handle(request)

    conn = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="Ids (dev@example.com)",
        base_url=sim.base_url,
        transport=httpx.MockTransport(handler),
        clock=sim.clock,
    )
    body = json.dumps({"store_id": sim.store_id, "event": event, "id": bad}).encode()
    parsed = parse_event("tiendanube", {}, body, received_at=sim.clock.now())
    with conn:
        assert conn.records_for_event(parsed) == []
    assert calls == []
    assert "non-numeric id" in caplog.text


def test_a_numeric_id_from_a_payload_is_fetched(sim: TiendanubeSimulator) -> None:
    order = sim.stores["orders"].query()[0]
    conn = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="Ids (dev@example.com)",
        base_url=sim.base_url,
        transport=sim.transport(),
        clock=sim.clock,
    )
    body = json.dumps({"store_id": sim.store_id, "event": "order/paid", "id": order.id}).encode()
    with conn:
        (record,) = conn.records_for_event(
            parse_event("tiendanube", {}, body, received_at=sim.clock.now())
        )
    assert record.external_id == str(order.id)


@pytest.mark.parametrize("webhook_id", ["１", "../../store", "5/x", True, 1.5])
def test_a_listed_webhook_without_a_numeric_id_is_malformed(webhook_id: Any) -> None:
    """Its id would go into DELETE /webhooks/{id}: the listing is refused, nothing deleted."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        hook = {"id": webhook_id, "event": "order/paid", "url": "https://hooks.example.com/x"}
        return httpx.Response(200, json=[hook])

    with _connector(1234567, handler) as conn, pytest.raises(MalformedResponseError):
        conn.remove_webhooks()
    assert [r.method for r in sent] == ["GET"]


@pytest.mark.parametrize("path", ["orders/１", "customers/٣", "webhooks/１"])
def test_the_simulator_answers_404_to_unicode_digits(sim: TiendanubeSimulator, path: str) -> None:
    """As the API would: the simulator must not be more lenient than the platform."""
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as client:
        response = client.get(
            f"/2025-03/{sim.store_id}/{path}",
            headers={"Authentication": f"bearer {sim.token}", "User-Agent": "Ids (d@e.co)"},
        )
    assert response.status_code == 404
