"""The simulator's Subscribers API, checked against BigCommerce's reference.

The facts come from ``bigcommerce_consent_support.subscribers_spec()``: BigCommerce's
``subscribers.v3.yml`` when it is among the shared specs, else its transcription.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bigcommerce_consent_support import (
    check_request,
    subscribers_spec,
)

from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

UTC = dt.timezone.utc
PATH = "/v3/customers/subscribers"


@pytest.fixture(scope="module")
def sim() -> BigCommerceSimulator:
    return BigCommerceSimulator(
        seed=21,
        customers=80,
        orders=200,
        products=10,
        carts=0,
        quota=0,
        clock=ConcurrentFakeClock(),
    )


@pytest.fixture
def client(sim: BigCommerceSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=sim.transport(),
        base_url=f"https://api.bigcommerce.com/stores/{sim.store_hash}",
        headers={"X-Auth-Token": sim.access_token, "Accept": "application/json"},
    ) as c:
        yield c


def every(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(PATH, params={**params, "page": page}).json()
        records += body["data"]
        pagination = body["meta"]["pagination"]
        if page >= pagination["total_pages"]:
            return records
        page += 1


# ------------------------------------------------------------------- the reference


def test_the_request_check_refuses_what_the_reference_does_not_document() -> None:
    path = "/stores/abc/v3/customers/subscribers"
    assert check_request("GET", path, [("email", "a@x.io"), ("limit", "250")]) == []
    assert check_request("GET", path, [("email:in", "a@x.io,b@x.io")])  # no such filter
    assert check_request("GET", path, [("sort", "date_modified")])
    assert check_request("GET", path, [("limit", "500")])
    assert check_request("GET", "/stores/abc/v3/customers", [("email:in", "a@x.io")]) == []
    assert check_request("GET", "/stores/abc/v3/customers", [("email", "a@x.io")])


# ------------------------------------------------------------------- answers


def test_records_and_pages_have_the_documented_shape(client: httpx.Client) -> None:
    spec = subscribers_spec()
    response = client.get(PATH, params={"limit": 7})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "meta"}
    assert set(body["meta"]["pagination"]) <= spec["pagination"]
    assert body["meta"]["pagination"]["per_page"] == 7
    for record in every(client, limit=7):
        assert set(record) <= spec["fields"]
        assert set(record["consents"]) <= spec["consents"]
        assert record["source"] in spec["sources"]
        assert isinstance(record["id"], int)
        assert (record["order_id"] is None) == (record["source"] != "order")
        for name in ("date_created", "date_modified"):
            assert dt.datetime.fromisoformat(record[name].replace("Z", "+00:00")).tzinfo


def test_paging_by_id_returns_every_subscriber_once(
    client: httpx.Client, sim: BigCommerceSimulator
) -> None:
    ids = [r["id"] for r in every(client, limit=9)]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids)) == len(sim.subscribers)


def test_the_seeded_list_has_customers_guests_and_strangers(sim: BigCommerceSimulator) -> None:
    accounts = {r.data["email"].strip().lower() for r in sim.customers if r.data["email"]}
    kinds: set[str] = set()
    for s in sim.subscribers:
        email, consents = s.data["email"].strip().lower(), tuple(s.data["consents"])
        if s.data["source"] == "order":
            order = sim.orders.get(s.data["order_id"])
            assert order is not None
            assert order.data["is_email_opt_in"]
            kinds.add("guest" if order.data["customer_id"] == 0 else "buyer")
        elif email in accounts:
            kinds.add(f"customer:{','.join(consents) or 'none'}")
        else:
            kinds.add("stranger")
    assert {"guest", "buyer", "stranger", "customer:none", "customer:abandoned_cart"} <= kinds
    assert "customer:marketing_newsletter" in kinds


def test_filters(client: httpx.Client, sim: BigCommerceSimulator) -> None:
    target = next(s for s in sim.subscribers.query(sort="id") if s.data["source"] == "order")
    email = target.data["email"]
    found = client.get(PATH, params={"email": email.upper()}).json()["data"]
    assert [r["id"] for r in found] == [target.id]  # whole address, any case
    assert client.get(PATH, params={"email": email[:-3]}).json()["data"] == []
    by_order = client.get(PATH, params={"order_id": target.data["order_id"]}).json()["data"]
    assert [r["id"] for r in by_order] == [target.id]
    orders = every(client, source="order", limit=50)
    assert orders
    assert all(r["source"] == "order" for r in orders)
    some = sorted(s.id for s in sim.subscribers)[:3]
    picked = client.get(PATH, params={"id:in": ",".join(map(str, some))}).json()["data"]
    assert [r["id"] for r in picked] == some
    stamps = sorted(s.updated_at for s in sim.subscribers)
    middle = stamps[len(stamps) // 2]
    since = middle.replace(tzinfo=None).isoformat()
    recent = every(client, **{"date_modified:min": since, "limit": 50})
    assert {r["id"] for r in recent} == {s.id for s in sim.subscribers if s.updated_at >= middle}
    day = target.created_at.date().isoformat()
    same_day = client.get(PATH, params={"date_created": day, "limit": 250}).json()["data"]
    assert target.id in {r["id"] for r in same_day}
    assert all(r["date_created"].startswith(day) for r in same_day)


def test_error_bodies(client: httpx.Client) -> None:
    spec = subscribers_spec()
    bad = client.get(PATH, params={"date_modified:min": "yesterday", "order_id": "x"})
    assert bad.status_code == 422
    body = bad.json()
    assert set(body) <= spec["error"]
    assert body["status"] == 422
    assert set(body["errors"]) == {"date_modified:min", "order_id"}
    too_many = client.get(PATH, params={"limit": 251})
    assert too_many.status_code == 413
    missing = client.get(f"{PATH}/999999")
    assert missing.status_code == 404
    assert set(missing.json()) <= spec["error"]
    assert client.get(PATH, headers={"X-Auth-Token": "wrong"}).status_code == 401


def test_one_subscriber_and_changes(sim: BigCommerceSimulator, client: httpx.Client) -> None:
    record = sim.add_subscriber("new.reader@example.org", consents=["abandoned_cart"])
    one = client.get(f"{PATH}/{record.id}").json()["data"]
    assert one["consents"] == ["abandoned_cart"]
    assert one["source"] == "storefront"
    with pytest.raises(ValueError, match="already a subscriber"):
        sim.add_subscriber("New.Reader@example.org")
    sim.update_subscriber(record.id, {"consents": []})
    assert client.get(f"{PATH}/{record.id}").json()["data"]["consents"] == []
    sim.delete_subscriber(record.id)
    assert client.get(f"{PATH}/{record.id}").status_code == 404
    assert sim.subscriber_for("new.reader@example.org") is None


def test_customers_accept_email_in(client: httpx.Client, sim: BigCommerceSimulator) -> None:
    a, b = sim.customers.query(sort="id")[:2]
    emails = f"{a.data['email'].strip().upper()},{b.data['email'].strip()}"
    found = client.get("/v3/customers", params={"email:in": emails}).json()["data"]
    assert {r["id"] for r in found} >= {a.id, b.id}
