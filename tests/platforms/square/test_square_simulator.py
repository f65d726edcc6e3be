"""The Square simulator behaves like Square where the connector depends on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import LeakyBucketRateLimit
from commerce_connectors.testing.simulators.square import SquareSimulator


@pytest.fixture
def sim() -> SquareSimulator:
    return SquareSimulator(seed=3, customers=30, payments=200, products=12, clock=FakeClock())


@pytest.fixture
def client(sim: SquareSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=sim.transport(),
        base_url="https://connect.squareup.com",
        headers={"Authorization": f"Bearer {sim.token}", "Square-Version": "2025-08-20"},
    ) as c:
        yield c


def error_code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["errors"][0]["code"])


def test_list_payments_defaults_hide_payments_older_than_a_year(
    sim: SquareSimulator, client: httpx.Client
) -> None:
    loc = sim.locations[0]
    year_ago = sim.clock.now() - dt.timedelta(days=365)
    default = client.get("/v2/payments", params={"location_id": loc.id, "limit": 100}).json()
    assert default["payments"]
    assert all(p["created_at"] >= year_ago.strftime("%Y-%m-%d") for p in default["payments"])
    opened = client.get(
        "/v2/payments",
        params={"location_id": loc.id, "begin_time": "2009-01-01T00:00:00Z", "sort_order": "ASC"},
    ).json()
    assert opened["payments"][0]["created_at"] < year_ago.strftime("%Y-%m-%d")


def test_list_payments_defaults_to_the_main_location(
    sim: SquareSimulator, client: httpx.Client
) -> None:
    body = client.get("/v2/payments", params={"begin_time": "2009-01-01T00:00:00Z"}).json()
    assert {p["location_id"] for p in body["payments"]} == {sim.locations[0].id}


def test_cursor_is_bound_to_its_query(sim: SquareSimulator, client: httpx.Client) -> None:
    params = {"location_id": sim.locations[0].id, "begin_time": "2009-01-01T00:00:00Z", "limit": 10}
    cursor = client.get("/v2/payments", params=params).json()["cursor"]
    same = client.get("/v2/payments", params={**params, "cursor": cursor})
    assert same.status_code == 200
    other = client.get("/v2/payments", params={**params, "sort_order": "ASC", "cursor": cursor})
    assert other.status_code == 400
    assert error_code(other) == "INVALID_CURSOR"


def test_search_orders_sort_must_match_the_filter(
    sim: SquareSimulator, client: httpx.Client
) -> None:
    loc = sim.locations[1]
    window = {"start_at": "2009-01-01T00:00:00Z"}
    bad = client.post(
        "/v2/orders/search",
        json={
            "location_ids": [loc.id],
            "query": {
                "filter": {"date_time_filter": {"updated_at": window}},
                "sort": {"sort_field": "CREATED_AT"},
            },
        },
    )
    assert bad.status_code == 400
    good = client.post(
        "/v2/orders/search",
        json={
            "location_ids": [loc.id],
            "limit": 1000,
            "return_entries": True,
            "query": {
                "filter": {
                    "date_time_filter": {"updated_at": window},
                    "state_filter": {"states": ["COMPLETED"]},
                },
                "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
            },
        },
    ).json()
    entries = good["order_entries"]
    assert entries
    assert {e["location_id"] for e in entries} == {loc.id}
    assert client.post("/v2/orders/search", json={}).status_code == 400


def test_batch_retrieve_limits(sim: SquareSimulator, client: httpx.Client) -> None:
    ids = [*[r.data["id"] for r in sim.orders][:3], "NOPE"]
    body = client.post("/v2/orders/batch-retrieve", json={"order_ids": ids}).json()
    assert [o["id"] for o in body["orders"]] == ids[:3]
    too_many = client.post("/v2/orders/batch-retrieve", json={"order_ids": ["x"] * 101})
    assert error_code(too_many) == "VALUE_TOO_HIGH"


def test_catalog_begin_time_is_exclusive(sim: SquareSimulator, client: httpx.Client) -> None:
    item = next(r for r in sim.catalog if r.data["type"] == "ITEM")
    stamp = item.updated_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = client.post(
        "/v2/catalog/search", json={"object_types": ["ITEM"], "begin_time": stamp, "limit": 1000}
    ).json()
    assert item.data["id"] not in {o["id"] for o in body.get("objects", [])}


def test_list_customers_limit_and_errors(client: httpx.Client) -> None:
    assert error_code(client.get("/v2/customers", params={"limit": 101})) == "VALUE_TOO_HIGH"
    assert len(client.get("/v2/customers", params={"limit": 5}).json()["customers"]) == 5
    bad_sort = client.post(
        "/v2/customers/search", json={"query": {"sort": {"field": "UPDATED_AT"}}}
    )
    assert error_code(bad_sort) == "INVALID_ENUM_VALUE"
    bad_time = client.post(
        "/v2/customers/search",
        json={"query": {"filter": {"updated_at": {"start_at": "yesterday"}}}},
    )
    assert error_code(bad_time) == "INVALID_TIME"


def test_rate_limit_429_has_no_headers_and_square_body() -> None:
    sim = SquareSimulator(
        seed=1,
        customers=1,
        payments=2,
        products=1,
        clock=FakeClock(),
        rate_limit=LeakyBucketRateLimit(capacity=1, leak_rate=0.1),
    )
    with httpx.Client(
        transport=sim.transport(),
        base_url="https://connect.squareup.com",
        headers={"Authorization": f"Bearer {sim.token}"},
    ) as client:
        client.get("/v2/locations")
        limited = client.get("/v2/locations")
    assert limited.status_code == 429
    assert error_code(limited) == "RATE_LIMITED"
    assert not {"retry-after", "x-ratelimit-reset"} & {k.lower() for k in limited.headers}


def test_auth_errors(sim: SquareSimulator, client: httpx.Client) -> None:
    assert error_code(client.get("/v2/locations", headers={"Authorization": "Bearer x"})) == (
        "UNAUTHORIZED"
    )
    sim.expire_token()
    expired = client.get("/v2/locations")
    assert (expired.status_code, error_code(expired)) == (401, "ACCESS_TOKEN_EXPIRED")


def test_late_sale_keeps_its_original_timestamps(sim: SquareSimulator) -> None:
    loc = sim.locations[0]
    now = sim.clock.now()
    (pid,) = sim.add_sale(loc.id, at=now - dt.timedelta(hours=48))
    payment = sim.get("payments", pid)
    assert payment is not None
    assert payment.updated_at < now - dt.timedelta(hours=47)
    assert payment.data["order_id"] in sim.order_ids(loc.id)


def test_refund_moves_updated_at_only(sim: SquareSimulator) -> None:
    payment = next(p for p in sim.payments if p.data["status"] == "COMPLETED")
    sim.clock.advance(3600)  # type: ignore[attr-defined]
    sim.refund(payment.data["id"], partial=True)
    after = sim.get("payments", payment.data["id"])
    assert after is not None
    assert after.created_at == payment.created_at
    assert after.updated_at > payment.updated_at
    assert after.data["refunded_money"]["amount"] == payment.data["total_money"]["amount"] // 2


def test_same_seed_same_store() -> None:
    a = SquareSimulator(seed=9, customers=10, payments=20, products=5, clock=FakeClock())
    b = SquareSimulator(seed=9, customers=10, payments=20, products=5, clock=FakeClock())
    assert [r.data for r in a.payments] == [r.data for r in b.payments]
    assert [loc.id for loc in a.locations] == [loc.id for loc in b.locations]


def test_served_mode_answers_like_in_process(sim: SquareSimulator) -> None:
    with sim.serve() as base_url:
        response = httpx.get(
            base_url + "/v2/locations", headers={"Authorization": f"Bearer {sim.token}"}
        )
    assert [loc["name"] for loc in response.json()["locations"]] == ["Downtown", "Shibuya"]


def test_batch_retrieve_catalog_related_objects_are_one_level_deep(
    sim: SquareSimulator, client: httpx.Client
) -> None:
    # Square: "This process only goes one level deep": a variation brings its parent
    # ITEM, not the item's CATEGORY and IMAGE objects.
    item = next(
        r for r in sim.catalog if r.data["type"] == "ITEM" and r.data["item_data"].get("image_ids")
    )
    variation_id = item.data["item_data"]["variations"][0]["id"]
    body = client.post(
        "/v2/catalog/batch-retrieve",
        json={"object_ids": [variation_id], "include_related_objects": True},
    ).json()
    assert [o["id"] for o in body["objects"]] == [variation_id]
    assert [(o["type"], o["id"]) for o in body["related_objects"]] == [("ITEM", item.data["id"])]
    by_item = client.post(
        "/v2/catalog/batch-retrieve",
        json={"object_ids": [item.data["id"]], "include_related_objects": True},
    ).json()
    assert {o["type"] for o in by_item["related_objects"]} == {"CATEGORY", "IMAGE"}
