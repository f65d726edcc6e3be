"""Subscriptions through the connector, against the simulator, each request checked against
Square's published spec."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ConfigurationError, PermissionDeniedError
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.platforms.square.webhooks import DEFAULT_TOPICS
from commerce_connectors.protocols import RealtimeConnector
from commerce_connectors.testing.simulators.square import SquareSimulator

URL = "https://hooks.example.com/square/a1"
OTHER = "https://crm.example.org/hooks/square"
Connect = Callable[..., SquareConnector]


def _methods(recorder: Any, since: int = 0) -> list[str]:
    return [
        f"{r.method} {r.url.path}"
        for r, _ in recorder.calls[since:]
        if r.url.path.startswith("/v2/webhooks")
    ]


def test_the_connector_is_a_realtime_connector(connect: Connect) -> None:
    assert isinstance(connect(), RealtimeConnector)


def test_ensure_creates_one_subscription_then_nothing(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    conn = connect()
    subs = conn.ensure_webhooks(URL)
    assert [s.topic for s in subs] == list(DEFAULT_TOPICS)
    assert {(s.url, s.active) for s in subs} == {(URL, True)}
    (stored,) = list(sim.webhook_subscriptions)
    assert {s.id for s in subs} == {stored.data["id"]}
    assert {s.signature_key for s in subs} == {stored.data["signature_key"]}
    assert stored.data["api_version"] == conn.square_version
    assert _methods(recorder) == [
        "GET /v2/webhooks/subscriptions",
        "POST /v2/webhooks/subscriptions",
    ]

    before = len(recorder.calls)
    again = conn.ensure_webhooks(URL)
    assert again == subs
    assert len(sim.webhook_subscriptions) == 1
    # The list leaves the key out: one retrieve for it, and no write.
    assert _methods(recorder, before) == [
        "GET /v2/webhooks/subscriptions",
        f"GET /v2/webhooks/subscriptions/{stored.data['id']}",
    ]
    assert "signature_key" not in json.loads(recorder.calls[before][1].content)["subscriptions"][0]


def test_missing_topics_are_added_to_the_same_subscription(
    connect: Connect, sim: SquareSimulator, recorder: Any
) -> None:
    conn = connect()
    first = conn.ensure_webhooks(URL, ["payment.created", "payment.updated"])
    before = len(recorder.calls)
    subs = conn.ensure_webhooks(URL, ["payment.updated", "customer.updated", "customer.updated"])
    assert [s.topic for s in subs] == ["payment.created", "payment.updated", "customer.updated"]
    assert {s.id for s in subs} == {first[0].id}
    assert {s.signature_key for s in subs} == {first[0].signature_key}
    assert "PUT" in " ".join(_methods(recorder, before))
    assert len(sim.webhook_subscriptions) == 1


def test_a_disabled_subscription_is_enabled_again_not_duplicated(
    connect: Connect, sim: SquareSimulator
) -> None:
    conn = connect()
    conn.ensure_webhooks(URL, ["order.updated"])
    (stored,) = list(sim.webhook_subscriptions)
    sim.webhook_subscriptions.update(stored.id, {"enabled": False})
    assert {s.active for s in conn.list_webhooks()} == {False}
    subs = conn.ensure_webhooks(URL, ["order.updated"])
    assert [(s.topic, s.active) for s in subs] == [("order.updated", True)]
    assert len(sim.webhook_subscriptions) == 1


def test_list_and_remove_by_url(connect: Connect, sim: SquareSimulator) -> None:
    conn = connect()
    conn.ensure_webhooks(URL)
    conn.ensure_webhooks(OTHER, ["order.updated", "payment.updated"])
    listed = conn.list_webhooks()
    assert sorted({s.url for s in listed}) == sorted({URL, OTHER})
    assert len(listed) == len(DEFAULT_TOPICS) + 2
    assert {s.signature_key for s in listed} == {None}  # Square's list carries no key

    assert conn.remove_webhooks(URL) == len(DEFAULT_TOPICS)
    assert {s.url for s in conn.list_webhooks()} == {OTHER}
    assert conn.remove_webhooks(URL) == 0
    assert conn.remove_webhooks() == 2
    assert conn.list_webhooks() == []
    assert len(sim.webhook_subscriptions) == 0


def test_lists_follow_the_cursor(clock: FakeClock, recorder: Any) -> None:
    sim = SquareSimulator(seed=2, customers=0, payments=0, products=0, clock=clock, max_page_size=2)
    recorder.handler = sim.handle
    conn = SquareConnector(
        access_token=sim.token,
        location_id=sim.locations[0].id,
        merchant_id=sim.merchant_id,
        transport=recorder.transport,
        clock=clock,
    )
    urls = [f"https://hooks.example.com/{n}" for n in range(5)]
    for url in urls:
        conn.ensure_webhooks(url, ["payment.created"])
    assert [s.url for s in conn.list_webhooks()] == urls
    listed = [r for r in recorder.requests("/v2/webhooks/subscriptions") if r.method == "GET"]
    assert any(r.url.params.get("cursor") for r in listed)
    conn.close()


def test_every_request_and_answer_conforms_to_the_spec(
    connect: Connect, sim: SquareSimulator, recorder: Any, spec: Any
) -> None:
    conn = connect()
    conn.ensure_webhooks(URL, ["payment.created"])
    conn.ensure_webhooks(URL)
    conn.ensure_webhooks(OTHER, ["customer.updated"])
    conn.list_webhooks()
    conn.remove_webhooks(OTHER)
    conn.remove_webhooks()
    assert len(recorder.calls) >= 8
    for request, response in recorder.calls:
        assert spec.check_httpx(request) == [], (request.method, request.url)
        assert response.status_code == 200
        answer = json.loads(response.content)
        assert spec.check_response(request.method, request.url.path, answer) == []


def test_the_spec_check_can_fail(spec: Any) -> None:
    path = "/v2/webhooks/subscriptions"
    # The body a forum poster sent: "url" is not a field; "subscription" is required.
    wrong = spec.check_request("POST", path, [], {"url": URL, "event_types": ["payment.created"]})
    assert "$.url: not declared" in wrong
    assert "$.subscription: required" in wrong
    read_only = {"subscription": {"notification_url": URL, "signature_key": "k"}}
    assert spec.check_request("POST", path, [], read_only) == [
        "$.subscription.signature_key: read-only, must not be sent"
    ]
    long_key = {"idempotency_key": "k" * 46, "subscription": {"notification_url": URL}}
    assert spec.check_request("POST", path, [], long_key) == ["$.idempotency_key: longer than 45"]
    typed = {"subscription": {"event_types": "payment.created", "enabled": "yes"}}
    assert len(spec.check_request("POST", path, [], typed)) == 2
    assert spec.check_request("GET", path, [("page", "2")], None) == [
        "GET /v2/webhooks/subscriptions: query parameter 'page' not declared"
    ]
    assert spec.check_request("GET", path, [("include_disabled", "yes")], None) == [
        "?include_disabled=yes: not a boolean"
    ]
    assert spec.check_request("GET", "/v2/webhooks", [], None) != []
    assert spec.check_request("PATCH", path + "/wbhk_1", [], {}) != []
    assert spec.check_request("PUT", path + "/wbhk_1", [], None) == [
        "PUT /v2/webhooks/subscriptions/{subscription_id}: the required body is missing"
    ]
    answer = {"subscriptions": [{"id": "wbhk_1", "url": URL}]}
    assert spec.check_response("GET", path, answer) == ["$.subscriptions[0].url: not declared"]


def test_non_https_urls_are_refused(connect: Connect, recorder: Any) -> None:
    conn = connect()
    for url in ("http://hooks.example.com/a", "hooks.example.com/a", "https:///a", " https://h/a"):
        with pytest.raises(ConfigurationError, match="https"):
            conn.ensure_webhooks(url)
    assert recorder.calls == []


@pytest.fixture
def client(sim: SquareSimulator) -> Any:
    with httpx.Client(
        transport=sim.transport(),
        base_url="https://connect.squareup.com",
        headers={"Authorization": f"Bearer {sim.token}"},
    ) as c:
        yield c


def _error(response: httpx.Response) -> tuple[int, str, str | None]:
    (error,) = response.json()["errors"]
    assert error["category"] == "INVALID_REQUEST_ERROR" or response.status_code != 400
    return response.status_code, error["code"], error.get("field")


def _create(client: httpx.Client, **sub: Any) -> httpx.Response:
    return client.post("/v2/webhooks/subscriptions", json={"subscription": sub})


def test_simulator_validates_like_square(client: httpx.Client, spec: Any) -> None:
    ok = {"notification_url": URL, "event_types": ["payment.created"]}
    assert _error(_create(client, notification_url="http://h.example/x", event_types=["a.b"])) == (
        400,
        "INVALID_VALUE",
        "subscription.notification_url",
    )
    assert _error(_create(client, event_types=["payment.created"]))[1] == (
        "MISSING_REQUIRED_PARAMETER"
    )
    assert _error(_create(client, notification_url=URL, event_types=[]))[1] == "ARRAY_EMPTY"
    assert _error(_create(client, notification_url=URL, event_types=["Payment Created"]))[1] == (
        "INVALID_ARRAY_VALUE"
    )
    assert _error(_create(client, name="n" * 65, **ok))[1] == "VALUE_TOO_LONG"
    assert _error(client.post("/v2/webhooks/subscriptions", json={}))[1] == (
        "MISSING_REQUIRED_PARAMETER"
    )
    assert _error(client.get("/v2/webhooks/subscriptions", params={"limit": 101}))[1] == (
        "VALUE_TOO_HIGH"
    )
    for method in ("GET", "DELETE"):
        response = client.request(method, "/v2/webhooks/subscriptions/wbhk_missing")
        assert (response.status_code, response.json()["errors"][0]["code"]) == (404, "NOT_FOUND")

    # The idempotency key: the same request twice is one subscription; reused otherwise, refused.
    body = {"idempotency_key": "k-1", "subscription": ok}
    first = client.post("/v2/webhooks/subscriptions", json=body).json()["subscription"]
    second = client.post("/v2/webhooks/subscriptions", json=body).json()["subscription"]
    assert first == second
    other = {"idempotency_key": "k-1", "subscription": {**ok, "name": "x"}}
    assert _error(client.post("/v2/webhooks/subscriptions", json=other))[1] == (
        "IDEMPOTENCY_KEY_REUSED"
    )
    assert spec.check_response("POST", "/v2/webhooks/subscriptions", {"subscription": first}) == []


def test_simulator_rotates_keys_and_queues_test_events(
    client: httpx.Client, sim: SquareSimulator, spec: Any
) -> None:
    ok = {"notification_url": URL, "event_types": ["payment.created"]}
    sub = _create(client, **ok).json()["subscription"]
    path = f"/v2/webhooks/subscriptions/{sub['id']}"
    rotated = client.post(path + "/signature-key", json={"idempotency_key": "r-1"}).json()
    assert rotated["signature_key"] != sub["signature_key"]
    assert client.get(path).json()["subscription"]["signature_key"] == rotated["signature_key"]
    assert spec.check_response("POST", path + "/signature-key", rotated) == []

    assert _error(client.post(path + "/test", json={"event_type": "order.updated"}))[1] == (
        "INVALID_VALUE"
    )
    tested = client.post(path + "/test", json={"event_type": "payment.created"}).json()
    assert spec.check_response("POST", path + "/test", tested) == []
    (queued,) = sim.webhooks.pending
    assert queued.url == URL
    assert json.loads(queued.body)["type"] == "payment.created"
    assert sim.events == []  # a test notification is not a data event

    updated = client.put(path, json={"subscription": {"enabled": False}}).json()
    assert updated["subscription"]["enabled"] is False
    assert "signature_key" not in updated["subscription"]
    assert client.get("/v2/webhooks/subscriptions").json() == {"subscriptions": []}
    listed = client.get("/v2/webhooks/subscriptions", params={"include_disabled": "true"}).json()
    assert [s["id"] for s in listed["subscriptions"]] == [sub["id"]]


def test_oauth_tokens_are_refused_and_webhook_token_is_used(
    clock: FakeClock, recorder: Any
) -> None:
    sim = SquareSimulator(
        seed=3, customers=4, payments=4, products=2, clock=clock, application_token="app-pat"
    )
    recorder.handler = sim.handle
    location = sim.locations[0]

    def make(**kw: Any) -> SquareConnector:
        return SquareConnector(
            access_token=sim.token,
            location_id=location.id,
            merchant_id=sim.merchant_id,
            transport=recorder.transport,
            clock=clock,
            **kw,
        )

    with make() as seller_only, pytest.raises(PermissionDeniedError, match="webhook_token"):
        seller_only.ensure_webhooks(URL)

    with make(webhook_token="app-pat") as conn:
        recorder.calls.clear()
        subs = conn.ensure_webhooks(URL, ["payment.created"])
        assert subs[0].signature_key
        assert list(conn.iter_customers())  # reads still go with the seller's token
        for request, _ in recorder.calls:
            token = "app-pat" if request.url.path.startswith("/v2/webhooks") else sim.token
            assert request.headers["Authorization"] == f"Bearer {token}"
    with pytest.raises(ConfigurationError):
        make(webhook_token=" ")
