"""The ActiveCampaign simulator answers as ActiveCampaign documents its v3 API."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from _acfakes import api, order, pair

from commerce_connectors.clock import FakeClock
from commerce_connectors.sinks.activecampaign import (
    ActiveCampaignErrorMapper,
    ActiveCampaignSink,
    ActiveCampaignValidationError,
)
from commerce_connectors.testing.simulators.activecampaign import (
    ActiveCampaignRateLimit,
    ActiveCampaignSimulator,
)

NOW = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def sim() -> ActiveCampaignSimulator:
    return ActiveCampaignSimulator(
        clock=FakeClock(wall_start=NOW), rate_limit=ActiveCampaignRateLimit(10**6)
    )


@pytest.fixture
def client(sim: ActiveCampaignSimulator) -> Any:
    with api(sim) as c:
        yield c


def _store(client: Any) -> tuple[str, str]:
    conn = client.post(
        "/connections",
        json={"connection": {"service": "s", "externalid": "shop", "name": "Shop",
                             "logoUrl": "", "linkUrl": ""}},
    ).json()["connection"]["id"]  # fmt: skip
    customer = client.post(
        "/ecomCustomers",
        json={"ecomCustomer": {"connectionid": conn, "externalid": "7", "email": "a@b.co"}},
    ).json()["ecomCustomer"]["id"]
    return conn, customer


def _order(conn: str, customer: str, **fields: Any) -> dict[str, Any]:
    body = {
        "externalid": "1", "source": "0", "email": "a@b.co", "totalPrice": 1000,
        "currency": "USD", "connectionid": conn, "customerid": customer,
        "externalCreatedDate": "2024-01-02T03:04:05+00:00",
        "orderProducts": [{"externalid": "p", "name": "Mug", "price": 1000, "quantity": 1}],
    }  # fmt: skip
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def _fields(response: httpx.Response) -> list[str]:
    return [e["source"]["pointer"].rsplit("/", 1)[-1] for e in response.json()["errors"]]


def test_envelopes_and_lists(client: Any) -> None:
    conn, customer = _store(client)
    created = client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer)})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"ecomOrder", "ecomOrderProducts", "ecomOrderDiscounts"}
    assert body["ecomOrder"]["id"] == "1"
    assert body["ecomOrder"]["orderProducts"] == ["1"]
    listed = client.get("/ecomOrders", params={"filters[connectionid]": conn}).json()
    assert listed["meta"] == {"total": "1"}  # a string, as documented
    assert listed["ecomOrders"][0]["externalid"] == "1"
    lines = client.get("/ecomOrders/1/orderProducts").json()["ecomOrderProducts"]
    assert lines[0]["name"] == "Mug"


def test_paging(client: Any, sim: ActiveCampaignSimulator) -> None:
    for n in range(130):
        sim.add_contact(f"c{n}@example.com")
    assert len(client.get("/contacts").json()["contacts"]) == 20  # default limit
    page = client.get("/contacts", params={"limit": 500, "offset": 100}).json()
    assert len(page["contacts"]) == 30
    assert page["meta"]["total"] == "130"
    assert len(client.get("/contacts", params={"limit": 500}).json()["contacts"]) == 100


def test_filters(client: Any) -> None:
    conn, customer = _store(client)
    client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer)})
    hit = client.get("/ecomOrders", params={"filters[externalid]": "1"}).json()
    miss = client.get("/ecomOrders", params={"filters[externalid]": "2"}).json()
    assert (hit["meta"]["total"], miss["meta"]["total"]) == ("1", "0")
    by_email = client.get("/ecomCustomers", params={"filters[email]": "A@B.co"}).json()
    assert by_email["meta"]["total"] == "1"
    # A filter the endpoint does not document is an error here, so a typo cannot pass.
    assert client.get("/ecomOrders", params={"filters[externalId]": "1"}).status_code == 400


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"source": None, "totalPrice": None}, ["source", "totalPrice"]),
        ({"totalPrice": 10.5}, ["totalPrice"]),
        ({"totalPrice": "1000"}, ["totalPrice"]),
        ({"totalPrice": -1}, ["totalPrice"]),
        ({"totalPrice": 2**31}, ["totalPrice"]),
        ({"source": 2}, ["source"]),
        ({"externalid": None}, ["externalid"]),
        ({"externalid": None, "externalcheckoutid": "c1"}, ["abandonedDate"]),
        ({"currency": "dollars"}, ["currency"]),
        ({"externalCreatedDate": "yesterday"}, ["externalCreatedDate"]),
        ({"orderProducts": [{"name": "x", "price": 1.5}]}, ["externalid", "price", "quantity"]),
        ({"customerid": "999"}, ["customerid"]),
    ],
)
def test_order_validation(client: Any, fields: dict[str, Any], bad: list[str]) -> None:
    conn, customer = _store(client)
    response = client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer, **fields)})
    assert response.status_code == 422
    assert _fields(response) == bad


def test_duplicates_are_refused(client: Any, sim: ActiveCampaignSimulator) -> None:
    conn, customer = _store(client)
    assert client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer)}).status_code == 201
    again = client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer)})
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "duplicate"
    sim.duplicate_status = 400
    dup_customer = client.post(
        "/ecomCustomers",
        json={"ecomCustomer": {"connectionid": conn, "externalid": "8", "email": "A@b.co"}},
    )
    assert dup_customer.status_code == 400
    assert _fields(dup_customer) == ["email"]


def test_cart_states_and_updates(client: Any) -> None:
    conn, customer = _store(client)
    cart = _order(
        conn, customer, externalid=None, externalcheckoutid="c1",
        abandonedDate="2024-01-02T04:00:00Z",
    )  # fmt: skip
    stored = client.post("/ecomOrders", json={"ecomOrder": cart}).json()["ecomOrder"]
    assert stored["state"] == 2  # abandoned
    assert stored["abandonedDate"] == "2024-01-01T23:00:00-05:00"  # the account's zone
    update = {
        "externalid": "1001", "source": "1", "totalPrice": 700,
        "externalCreatedDate": "2024-01-03T10:00:00Z", "customerid": customer,
        "connectionid": "999",
        "orderProducts": [{"externalid": "q", "name": "Tea", "price": 700, "quantity": 1}],
    }  # fmt: skip
    put = client.put(f"/ecomOrders/{stored['id']}", json={"ecomOrder": update}).json()
    assert put["ecomOrder"]["state"] == 3  # recovered
    # "The same body" as a create: the order's source and placement date are stored
    # (ActiveCampaign's Magento module sends them when a cart becomes its order).
    assert put["ecomOrder"]["source"] == "1"
    assert put["ecomOrder"]["externalCreatedDate"] == "2024-01-03T05:00:00-05:00"
    assert put["ecomOrder"]["connectionid"] == conn  # assumed (A9): the store stays
    assert [p["name"] for p in put["ecomOrderProducts"]] == ["Tea"]  # lines replaced
    assert client.get("/ecomOrders/99").json() == {
        "message": "No Result found for EcomOrder with id 99"
    }


def test_contacts_tags_lists(client: Any, sim: ActiveCampaignSimulator) -> None:
    first = client.post("/contact/sync", json={"contact": {"email": "a@b.co", "firstName": "A"}})
    assert first.status_code == 201
    again = client.post("/contact/sync", json={"contact": {"email": "A@B.co", "lastName": "B"}})
    contact = again.json()["contact"]
    assert (contact["id"], contact["firstName"], contact["lastName"]) == ("1", "A", "B")
    assert client.post("/contact/sync", json={"contact": {"firstName": "x"}}).status_code == 422
    for name in ("vip", "vip-old"):
        client.post("/tags", json={"tag": {"tag": name, "tagType": "contact"}})
    assert client.get("/tags", params={"search": "vip"}).json()["meta"]["total"] == "2"
    exact = client.get("/tags", params={"filters[search][eq]": "vip"}).json()
    assert [t["tag"] for t in exact["tags"]] == ["vip"]
    link = {"contactTag": {"contact": "1", "tag": "1"}}
    assert client.post("/contactTags", json=link).status_code == 201
    assert client.post("/contactTags", json=link).status_code == 200  # already tagged
    missing = client.post("/contactTags", json={"contactTag": {"contact": "9", "tag": "1"}})
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["detail"] == "Contact not found"
    sub = {"contactList": {"list": "1", "contact": "1", "status": "1"}}
    assert client.post("/contactLists", json=sub).status_code == 200
    sim.set_list_status("a@b.co", "Master Contact List", 2)
    client.post("/contactLists", json=sub)
    assert sim.resubscriptions == 1  # allowed by the API; counted so tests can forbid it


def test_authentication(sim: ActiveCampaignSimulator) -> None:
    with httpx.Client(transport=sim.transport(), base_url=sim.api_url) as c:
        assert c.get("/api/3/contacts").status_code == 401
        assert c.get("/api/3/contacts", headers={"Api-Token": "nope"}).status_code == 401


def test_five_requests_per_second() -> None:
    clock = FakeClock()
    sim = ActiveCampaignSimulator(clock=clock)
    with api(sim) as c:
        answers = [c.get("/contacts") for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 5 + [429]
        assert answers[0].headers["RateLimit-Limit"] == "5"
        assert answers[4].headers["RateLimit-Remaining"] == "0"
        assert answers[5].headers["Retry-After"] == "1"
        clock.advance(1.0)
        assert c.get("/contacts").status_code == 200


def test_validation_errors_become_typed_errors_naming_the_field(client: Any) -> None:
    conn, customer = _store(client)
    response = client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer, totalPrice=-5)})
    from commerce_connectors._http import Redactor

    error = ActiveCampaignErrorMapper()(
        response, response.json(), platform="activecampaign", redactor=Redactor()
    )
    assert isinstance(error, ActiveCampaignValidationError)
    assert error.fields == ("totalPrice",)
    assert "totalPrice" in str(error)
    not_found = client.get("/ecomOrders/5")
    mapped = ActiveCampaignErrorMapper()(
        not_found, not_found.json(), platform="activecampaign", redactor=Redactor()
    )
    assert type(mapped).__name__ == "NotFoundError"
    assert "No Result found" in mapped.message


def test_served_on_loopback() -> None:
    """The same simulator over a real socket; the sink talks to it like to the real API."""
    clock = FakeClock()
    sim = ActiveCampaignSimulator(clock=clock)
    with sim.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with ActiveCampaignSink(api_url=base_url, api_token=sim.token, clock=clock) as sink:
            ack = sink.write(_batch(order("1")))
    assert ack.outcomes[0].action.value == "inserted"
    assert [o["externalid"] for o in sim.orders()] == ["1"]


def _batch(*items: Any) -> Any:
    from commerce_connectors.protocols import SinkBatch

    return SinkBatch(items, "x", None, 1)


def test_what_is_stored_is_exposed() -> None:
    sim, sink = pair()
    sink.write(_batch(order("1", total="12.50")))
    (stored,) = sim.orders("shopify:acme.myshopify.com")
    assert stored["totalPrice"] == 1250
    assert stored["lines"][0]["quantity"] == 1
    snap = sim.snapshot()
    assert snap["connections"] == [
        ("commerce-connectors", "shopify:acme.myshopify.com", "shopify:acme.myshopify.com")
    ]
    assert sim.connection("shopify:acme.myshopify.com") is not None


def test_503_at_the_rate_limit_when_asked() -> None:
    """Fact sheet §1.11: the API once answered 503 at the limit; a client must cope."""
    clock = FakeClock()
    sim = ActiveCampaignSimulator(clock=clock, rate_limit_status=503)
    with api(sim) as c:
        answers = [c.get("/contacts") for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 5 + [503]
    assert answers[5].headers["Retry-After"] == "1"
    assert sim.rate_limited == 1
    with pytest.raises(ValueError, match="429 or 503"):
        ActiveCampaignSimulator(rate_limit_status=500)


def test_the_sink_copes_with_503_at_the_rate_limit() -> None:
    from commerce_connectors.testing.simulator import RateLimitBurst

    sim, sink = pair()
    sim.rate_limit_status = 503
    sim.add_fault(RateLimitBurst(length=2, retry_after=1.0, route="/api/3/ecomOrders", on=(1,)))
    assert sink.write(_batch(order("1"))).outcomes[0].action.value == "inserted"
    assert sim.rate_limited == 2
    assert [o["externalid"] for o in sim.orders()] == ["1"]  # looked up, never made twice


def test_an_abandoned_date_in_the_future_is_refused(client: Any) -> None:
    """The abandoned-cart guide: abandonedDate is set in the past."""
    conn, customer = _store(client)
    future = (NOW + dt.timedelta(minutes=1)).isoformat()
    cart = _order(conn, customer, externalid=None, externalcheckoutid="c1", abandonedDate=future)
    refused = client.post("/ecomOrders", json={"ecomOrder": cart})
    assert (refused.status_code, _fields(refused)) == (422, ["abandonedDate"])
    cart["abandonedDate"] = NOW.isoformat()  # now is not the future
    stored = client.post("/ecomOrders", json={"ecomOrder": cart}).json()["ecomOrder"]
    later = client.put(f"/ecomOrders/{stored['id']}", json={"ecomOrder": {"abandonedDate": future}})
    assert (later.status_code, _fields(later)) == (422, ["abandonedDate"])


def test_missing_referenced_ids(client: Any) -> None:
    """Not documented for e-commerce objects (assumed, A6): 422 naming the field."""
    conn, customer = _store(client)
    orphan = {"connectionid": "99", "externalid": "8", "email": "b@c.co"}
    response = client.post("/ecomCustomers", json={"ecomCustomer": orphan})
    assert (response.status_code, _fields(response)) == (422, ["connectionid"])
    response = client.post(
        "/ecomOrders", json={"ecomOrder": _order(conn, customer, connectionid="99")}
    )
    assert (response.status_code, _fields(response)) == (422, ["connectionid"])
    stored = client.post("/ecomOrders", json={"ecomOrder": _order(conn, customer)}).json()
    response = client.put(
        f"/ecomOrders/{stored['ecomOrder']['id']}", json={"ecomOrder": {"customerid": "99"}}
    )
    assert (response.status_code, _fields(response)) == (422, ["customerid"])
    # Documented (AC-OAS contactTags): a missing contact is a 404.
    tag = client.post("/contactTags", json={"contactTag": {"contact": "9", "tag": "1"}})
    assert tag.status_code == 404


ROOT = Path(__file__).parents[3]


def test_every_assumption_of_the_simulator_is_documented() -> None:
    """Each "assumed (An)" in the simulator has its row in the docs, and no row is stale."""
    code = (ROOT / "src/commerce_connectors/testing/simulators/activecampaign.py").read_text()
    docs = (ROOT / "docs/activecampaign.md").read_text()
    in_code = set(re.findall(r"[Aa]ssumed \((A\d+)\)", code))
    in_docs = set(re.findall(r"^\| (A\d+) \|", docs, flags=re.MULTILINE))
    assert in_code, "no assumption marked in the simulator"
    assert in_code == in_docs
    # Every "assumed" in the code carries its number.
    assert len(re.findall(r"[Aa]ssumed\b(?! \(A(?:\d+|<n>)\))", code)) == 0
