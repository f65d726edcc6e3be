"""The Square connector and simulator, checked against Square's published OpenAPI spec.

One recorded run of every flow (historical and incremental syncs of customers, orders
and products, the locations, an INVALID_CURSOR restart, webhook subscriptions and event
resolution) feeds the checks: every request the connector sent must be an operation of
``api.json`` with declared parameters and body fields, and every simulator answer must
match the operation's response schema (or Square's error envelope). The checker itself
(``square_spec.py``) is proven able to fail, finding by finding, and no stricter than
Square: Square's own examples pass it but for their known slips.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from square_spec import EXAMPLES, Recorder, SquareSpec, load_spec

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.square import SquareConnector, list_locations
from commerce_connectors.testing.simulator import Mutate
from commerce_connectors.testing.simulators.square import ALL_SCOPES, SquareSimulator
from commerce_connectors.webhooks import parse_event

Exchange = tuple[httpx.Request, httpx.Response]
URL = "https://hooks.example.com/square"

#: The operations the recorded run must reach (each one's requests and answers checked).
OPERATIONS = {
    "ListLocations",
    "RetrieveLocation",
    "SearchCustomers",
    "RetrieveCustomer",
    "ListPayments",
    "GetPayment",
    "BatchRetrieveOrders",
    "RetrieveOrder",
    "SearchCatalogObjects",
    "BatchRetrieveCatalogObjects",
    "ListWebhookSubscriptions",
    "CreateWebhookSubscription",
    "RetrieveWebhookSubscription",
    "UpdateWebhookSubscription",
    "DeleteWebhookSubscription",
}


@pytest.fixture(scope="session")
def spec() -> SquareSpec:
    """Square's OpenAPI document as a checker (parsed once per test session)."""
    return load_spec()


def _path(request: httpx.Request) -> str:
    return request.url.raw_path.decode("ascii").split("?", 1)[0]


def _event(sim: SquareSimulator, body: dict[str, Any]) -> Any:
    return parse_event("square", {}, json.dumps(body).encode(), received_at=sim.clock.now())


@pytest.fixture(scope="module")
def run() -> tuple[SquareSimulator, list[Exchange]]:
    """Every flow of the connector once, against a simulator that pages small."""
    clock = FakeClock()
    sim = SquareSimulator(
        seed=21, customers=30, payments=60, products=12, clock=clock, max_page_size=7
    )
    recorder = Recorder(sim.handle)
    locations = list_locations(sim.token, transport=recorder.transport, clock=clock)
    conn = SquareConnector(
        access_token=sim.token,
        location_id=locations[0].id,
        transport=recorder.transport,
        clock=clock,
    )
    with conn:
        # Historical, with one INVALID_CURSOR restart of the customers walk.
        sim.add_fault(
            Mutate(hook=lambda _: sim.invalidate_cursors(), route="/v2/customers/search", on=2)
        )
        for stream in ("customers", "orders", "products"):
            list(getattr(conn, f"iter_{stream}")())
        sim.clear_faults()
        since = clock.now()
        clock.advance(3600)
        location = conn.location_id
        buyer = sorted(sim.customer_ids_with_email())[0]
        (paid,) = sim.add_sale(location, via_api=True, customer_id=buyer)
        sim.add_sale(location, split=True)  # two tenders: GetPayment for the other one
        sim.refund(paid, partial=True)
        sim.update("catalog", sorted(sim.item_ids(location))[0])
        sim.add_customer(email="new.buyer@example.com", given_name="Nova")
        # Incremental.
        for stream in ("customers", "orders", "products"):
            list(getattr(conn, f"iter_{stream}")(since=since))
        # Webhooks: subscribe (create), widen (update), list, resolve events, remove.
        conn.ensure_webhooks(URL, ["payment.created"])
        conn.ensure_webhooks(URL)
        conn.list_webhooks()
        for body in sim.events:
            conn.records_for_event(_event(sim, body))
        hand_made = {
            "merchant_id": sim.merchant_id,
            "type": "customer.updated",
            "event_id": "hand-made",
            "created_at": "2026-03-01T00:00:00Z",
            "data": {"type": "customer", "id": buyer},
        }
        conn.records_for_event(_event(sim, hand_made))  # no object: RetrieveCustomer
        conn.remove_webhooks(URL)
    return sim, recorder.calls


def test_the_run_reaches_every_operation_and_pages(
    run: tuple[SquareSimulator, list[Exchange]], spec: SquareSpec
) -> None:
    _, calls = run
    reached = {spec.operation_id(r.method, _path(r)) for r, _ in calls}
    assert reached >= OPERATIONS, sorted(OPERATIONS - reached)
    # Cursors went back in the body (searches) and the query (ListPayments): checked too.
    assert any(r.url.params.get("cursor") for r, _ in calls if r.url.path == "/v2/payments")
    bodies = [json.loads(r.content) for r, _ in calls if r.url.path == "/v2/customers/search"]
    assert any("cursor" in b for b in bodies)
    # The restart after INVALID_CURSOR resumed with a created_at filter.
    assert any("created_at" in b["query"].get("filter", {}) for b in bodies)
    assert any(a.status_code == 400 for _, a in calls)


def test_every_request_is_a_declared_operation_with_declared_fields(
    run: tuple[SquareSimulator, list[Exchange]], spec: SquareSpec
) -> None:
    _, calls = run
    findings = {f"{r.method} {r.url}: {p}" for r, _ in calls for p in spec.check_httpx(r)}
    assert sorted(findings) == []


def test_every_simulator_answer_matches_the_response_schema(
    run: tuple[SquareSimulator, list[Exchange]], spec: SquareSpec
) -> None:
    _, calls = run
    findings = set()
    for request, response in calls:
        body = json.loads(response.content)
        for problem in spec.check_response(
            request.method, _path(request), body, response.status_code
        ):
            findings.add(f"{request.method} {_path(request)} {response.status_code}: {problem}")
    assert sorted(findings) == []


@pytest.fixture
def client() -> Iterator[tuple[SquareSimulator, httpx.Client]]:
    sim = SquareSimulator(seed=4, customers=12, payments=20, products=6, max_page_size=5)
    with httpx.Client(
        transport=sim.transport(),
        base_url="https://connect.squareup.com",
        headers={"Authorization": f"Bearer {sim.token}", "Square-Version": "2025-08-20"},
    ) as c:
        yield sim, c


def test_the_simulators_other_operations_and_errors_match_the_spec(
    client: tuple[SquareSimulator, httpx.Client], spec: SquareSpec
) -> None:
    """What the connector does not call, tests and users may: checked all the same."""
    sim, c = client
    location = sim.locations[0].id
    order = sorted(sim.order_ids(location))[0]
    since = {"start_at": "2020-01-01T00:00:00Z"}
    calls: list[tuple[str, str, dict[str, Any] | None, Any, int]] = [
        ("GET", "/v2/customers", {"limit": 3, "sort_field": "CREATED_AT"}, None, 200),
        ("GET", "/v2/customers", {"limit": 500}, None, 400),  # VALUE_TOO_HIGH
        ("GET", "/v2/catalog/list", {"types": "ITEM,CATEGORY,IMAGE"}, None, 200),
        ("GET", f"/v2/customers/{sim.customer_ids[0]}", None, None, 200),
        ("GET", "/v2/customers/NOSUCHCUSTOMER", None, None, 404),
        ("GET", f"/v2/orders/{order}", None, None, 200),
        ("GET", "/v2/payments/NOSUCHPAYMENT", None, None, 404),
        ("GET", "/v2/locations/NOSUCHLOCATION", None, None, 404),
        ("POST", "/v2/customers/search", None, {"cursor": "not-a-cursor"}, 400),
        (
            "POST",
            "/v2/orders/search",
            None,
            {
                "location_ids": [location],
                "query": {
                    "filter": {
                        "date_time_filter": {"updated_at": since},
                        "state_filter": {"states": ["COMPLETED", "OPEN"]},
                    },
                    "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
                },
                "limit": 4,
            },
            200,
        ),
        (
            "POST",
            "/v2/orders/search",
            None,
            {"location_ids": [location], "return_entries": True},
            200,
        ),
        # A date filter whose field the sort does not match: Square's 400.
        (
            "POST",
            "/v2/orders/search",
            None,
            {
                "location_ids": [location],
                "query": {"filter": {"date_time_filter": {"closed_at": since}}},
            },
            400,
        ),
    ]
    for method, path, params, body, status in calls:
        response = c.request(method, path, params=params, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert spec.check_httpx(response.request) == [], (method, path)
        assert spec.check_response(method, path, response.json(), status) == [], (method, path)
    # Refusals before any route: a wrong token, a missing scope, the rate limit.
    anonymous = c.get("/v2/locations", headers={"Authorization": "Bearer wrong"})
    assert anonymous.status_code == 401
    assert spec.check_response("GET", "/v2/locations", anonymous.json(), 401) == []
    sim.scopes = frozenset({"CUSTOMERS_READ"})
    refused = c.get("/v2/payments")
    assert refused.status_code == 403
    assert spec.check_response("GET", "/v2/payments", refused.json(), 403) == []


# ---------------------------------------------------------------------------- the checker


#: Where Square's own examples disagree with Square's own schemas: the checker reports
#: these (it is right to), and nothing else, on the official example payloads.
SQUARE_EXAMPLE_SLIPS = {
    "search_catalog_items_response": [
        # A null in a list of strings, and a number for a string-typed custom value.
        "$.items[0].custom_attribute_values.VARIETAL.selection_uid_values[1]: null, but the "
        "field is not nullable",
        "$.items[0].custom_attribute_values.VINTAGE.number_value: expected a string, got 2018",
    ],
    "search_catalog_objects_response": [
        # CatalogItem.visibility was dropped from the schema; the example still has it.
        "$.objects[0].item_data.visibility: not declared",
        "$.objects[1].item_data.visibility: not declared",
    ],
    # CatalogVersionUpdatedEvent's data has no id in the schema; the example has one.
    "webhook_catalog_version_updated": ["$.data.id: not declared"],
    # RiskEvaluation.status is not marked optional, yet the examples leave it out.
    "webhook_payment_created": ["$.data.object.payment.risk_evaluation.status: required"],
    "webhook_payment_updated": ["$.data.object.payment.risk_evaluation.status: required"],
}
_EXAMPLE_OPERATIONS = {
    "batch_retrieve_orders_response": ("POST", "/v2/orders/batch-retrieve"),
    "get_payment_response": ("GET", "/v2/payments/P1"),
    "list_catalog_response": ("GET", "/v2/catalog/list"),
    "list_customers_response": ("GET", "/v2/customers"),
    "list_locations_response": ("GET", "/v2/locations"),
    "list_payments_response": ("GET", "/v2/payments"),
    "retrieve_customer_response": ("GET", "/v2/customers/C1"),
    "retrieve_order_response": ("GET", "/v2/orders/O1"),
    "search_catalog_items_response": ("POST", "/v2/catalog/search-catalog-items"),
    "search_catalog_objects_response": ("POST", "/v2/catalog/search"),
    "search_customers_response": ("POST", "/v2/customers/search"),
    "search_orders_response": ("POST", "/v2/orders/search"),
}


def test_the_checker_is_no_stricter_than_squares_own_examples(spec: SquareSpec) -> None:
    found: dict[str, list[str]] = {}
    for file in sorted(EXAMPLES.glob("*.json")):
        body = json.loads(file.read_text(encoding="utf-8"))
        if file.stem in _EXAMPLE_OPERATIONS:
            problems = spec.check_response(*_EXAMPLE_OPERATIONS[file.stem], body)
        elif file.stem == "search_orders_request":
            problems = spec.check_request("POST", "/v2/orders/search", [], body)
        else:
            schema = spec.schemas[spec.event_types()[body["type"]]]
            problems = spec.check_json(body, schema, request=False)
        if problems:
            found[file.stem] = problems
    assert found == SQUARE_EXAMPLE_SLIPS


PAYMENTS = "/v2/payments"
SEARCH = "/v2/customers/search"


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "finding"),
    [
        ("GET", "/v2/paymentz", [], None, "GET /v2/paymentz: no such path in the spec"),
        ("PATCH", PAYMENTS, [], None, "PATCH /v2/payments: the path has no PATCH operation"),
        (
            "GET",
            "/v2/locations/L1%2F..%2F..%2Fevil",
            [],
            None,
            "GET /v2/locations/{location_id}: path parameter location_id='L1%2F..%2F..%2Fevil' "
            "is unsafe",
        ),
        (
            "GET",
            "/v2/locations/..",
            [],
            None,
            "GET /v2/locations/{location_id}: path parameter location_id='..' is unsafe",
        ),
        (
            "GET",
            PAYMENTS,
            [("location", "L1")],
            None,
            "GET /v2/payments: query parameter 'location' not declared",
        ),
        ("GET", PAYMENTS, [("limit", "ten")], None, "?limit=ten: not an integer"),
        (
            "GET",
            PAYMENTS,
            [("is_offline_payment", "1")],
            None,
            "?is_offline_payment=1: not a boolean",
        ),
        (
            "GET",
            PAYMENTS,
            [("sort_field", "UPDATED")],
            None,
            "?sort_field=UPDATED: not in the enum "
            "['CREATED_AT', 'OFFLINE_CREATED_AT', 'UPDATED_AT']",
        ),
        ("GET", PAYMENTS, [("limit", "5"), ("limit", "6")], None, "?limit: repeated"),
        (
            "GET",
            "/v2/invoices",
            [],
            None,
            "GET /v2/invoices: required query parameter 'location_id' missing",
        ),
        ("GET", "/v2/employees", [], None, "GET /v2/employees: the operation is deprecated"),
        (
            "GET",
            PAYMENTS,
            [],
            {"limit": 5},
            "GET /v2/payments: sends a body the operation does not take",
        ),
        ("POST", SEARCH, [], None, "POST /v2/customers/search: the required body is missing"),
        # Body: a field two $refs deep, an enum, a bound, a type, required, read-only.
        (
            "POST",
            SEARCH,
            [],
            {"query": {"filter": {"updated_at": {"start": "x"}}}},
            "$.query.filter.updated_at.start: not declared",
        ),
        (
            "POST",
            SEARCH,
            [],
            {"query": {"sort": {"field": "UPDATED_AT"}}},
            "$.query.sort.field: 'UPDATED_AT' not in the enum",
        ),
        ("POST", SEARCH, [], {"limit": 0}, "$.limit: below the minimum 1"),
        ("POST", SEARCH, [], {"limit": "100"}, "$.limit: expected an integer, got '100'"),
        ("POST", "/v2/orders/batch-retrieve", [], {"location_id": "L1"}, "$.order_ids: required"),
        (
            "POST",
            "/v2/catalog/search",
            [],
            {"object_types": "ITEM"},
            "$.object_types: expected an array",
        ),
        (
            "POST",
            "/v2/catalog/search",
            [],
            {"include_related_objects": None},
            "$.include_related_objects: null, but the field is not nullable",
        ),
        (
            "POST",
            "/v2/webhooks/subscriptions",
            [],
            {"subscription": {"notification_url": URL, "signature_key": "k"}},
            "$.subscription.signature_key: read-only, must not be sent",
        ),
        (
            "POST",
            "/v2/catalog/object",
            [],
            {
                "idempotency_key": "k",
                "object": {"type": "ITEM", "id": "#i", "item_data": {"category_id": "C"}},
            },
            "$.object.item_data.category_id: deprecated",
        ),
    ],
)
def test_each_request_check_can_fail(
    spec: SquareSpec, method: str, path: str, query: list[tuple[str, str]], body: Any, finding: str
) -> None:
    assert finding in spec.check_request(method, path, query, body)


ORDER = {"id": "O1", "location_id": "L1", "state": "COMPLETED"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "finding"),
    [
        (
            "GET",
            "/v2/locations/L1",
            {"location": {"id": "L1", "colour": "red"}},
            200,
            "$.location.colour: not declared",
        ),
        (
            "GET",
            "/v2/payments/P1",
            {"payment": {"id": "P1", "card_details": {"card": {"brand": "VISA"}}}},
            200,
            "$.payment.card_details.card.brand: not declared",
        ),
        (
            "POST",
            "/v2/orders/batch-retrieve",
            {"orders": [{"id": "O1"}]},
            200,
            "$.orders[0].location_id: required",
        ),
        (
            "POST",
            "/v2/orders/batch-retrieve",
            {"orders": [{**ORDER, "state": "DONE"}]},
            200,
            "$.orders[0].state: 'DONE' not in the enum",
        ),
        (
            "POST",
            "/v2/orders/batch-retrieve",
            {"orders": [{**ORDER, "total_money": {"amount": "5.00", "currency": "USD"}}]},
            200,
            "$.orders[0].total_money.amount: expected an integer, got '5.00'",
        ),
        (
            "POST",
            "/v2/orders/batch-retrieve",
            {"orders": [{**ORDER, "line_items": [{"name": "x"}]}]},
            200,
            "$.orders[0].line_items[0].quantity: required",
        ),
        (
            "GET",
            PAYMENTS,
            {"errors": [{"code": "NOT_FOUND"}]},
            404,
            "$.errors[0].category: required",
        ),
        (
            "GET",
            PAYMENTS,
            {"errors": [{"category": "API_ERROR", "code": "OOPS"}]},
            500,
            "$.errors[0].code: 'OOPS' not in the enum",
        ),
        ("GET", PAYMENTS, {"message": "not found"}, 404, "$.errors: required"),
    ],
)
def test_each_response_check_can_fail(
    spec: SquareSpec, method: str, path: str, body: Any, status: int, finding: str
) -> None:
    assert finding in spec.check_response(method, path, body, status)


def test_a_simulator_that_drifts_from_the_spec_is_caught(spec: SquareSpec) -> None:
    """The same pipeline as the run above, fed a simulator answering an undeclared field."""
    clock = FakeClock()
    sim = SquareSimulator(seed=2, customers=3, payments=4, products=2, clock=clock)
    location = sim.locations[0].id
    order_id = sorted(sim.order_ids(location))[0]
    sim.update("orders", order_id, {"loyalty_points": 12, "state": "FINISHED"})
    recorder = Recorder(sim.handle)
    with SquareConnector(
        access_token=sim.token, location_id=location, transport=recorder.transport, clock=clock
    ) as conn:
        list(conn.iter_orders())
    findings = {
        p
        for r, a in recorder.calls
        for p in spec.check_response(r.method, _path(r), json.loads(a.content), a.status_code)
    }
    cleaned = {re.sub(r"\[\d+\]", "[]", p) for p in findings}
    assert cleaned == {
        "$.orders[].loyalty_points: not declared",
        "$.orders[].state: 'FINISHED' not in the enum",
    }


def test_a_connector_request_that_drifts_from_the_spec_is_caught(spec: SquareSpec) -> None:
    sim = SquareSimulator(seed=2, customers=1, payments=1, products=1)
    recorder = Recorder(sim.handle)
    with SquareConnector(
        access_token=sim.token,
        location_id=sim.locations[0].id,
        transport=recorder.transport,
        clock=FakeClock(),
    ) as conn:
        conn.engine.get(
            "/v2/payments", params={"location": sim.locations[0].id, "sort_order": "NEWEST"}
        )
    ((request, _),) = recorder.calls
    assert spec.check_httpx(request) == [
        "GET /v2/payments: query parameter 'location' not declared"
    ]


def test_the_simulator_demands_the_scopes_the_spec_declares(
    run: tuple[SquareSimulator, list[Exchange]], spec: SquareSpec
) -> None:
    """Replayed with exactly the operation's scopes: allowed; with all but those: 403."""
    _, calls = run
    checked = set()
    for request, _ in calls:
        needed = spec.scopes(request.method, _path(request))
        key = (request.method, spec.operation(request.method, _path(request))[0])
        if key in checked:
            continue
        checked.add(key)
        sim = SquareSimulator(seed=1, customers=1, payments=1, products=1)
        sim.scopes = needed
        assert sim.handle(request).status_code != 403, key
        if needed:
            sim.scopes = ALL_SCOPES - needed
            assert sim.handle(request).status_code == 403, key
    assert len(checked) >= len(OPERATIONS)


def test_the_header_checks_can_fail(spec: SquareSpec) -> None:
    request = httpx.Request(
        "POST",
        "https://connect.squareup.com/v2/customers/search",
        content=b'{"limit": 5}',
        headers={"Square-Version": "2023-01-19"},
    )
    assert spec.check_httpx(request) == [
        "POST /v2/customers/search: no Authorization: Bearer header",
        "POST /v2/customers/search: Square-Version '2023-01-19', not '2025-08-20'",
        "POST /v2/customers/search: a JSON body without Content-Type: application/json",
    ]
