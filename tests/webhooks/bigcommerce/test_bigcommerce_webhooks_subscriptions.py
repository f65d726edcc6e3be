"""Webhook subscriptions through ``/v3/hooks``: the connector against the simulator, and
every request against BigCommerce's published reference."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from bigcommerce_webhook_support import check_log, check_request, world

from commerce_connectors.errors import ClientRequestError, ConfigurationError
from commerce_connectors.platforms.bigcommerce.webhooks import DEFAULT_TOPICS
from commerce_connectors.protocols import RealtimeConnector
from commerce_connectors.testing.simulator import LoggedRequest

URL = "https://hooks.example.com/bigcommerce"
OTHER_URL = "https://crm.example.org/hooks/bc"


def posts(log: list[LoggedRequest]) -> list[LoggedRequest]:
    return [e for e in log if e.method == "POST"]


def test_the_connector_is_a_realtime_connector() -> None:
    _, _, conn = world()
    with conn:
        assert isinstance(conn, RealtimeConnector)


def test_ensure_subscribes_the_default_topics_once() -> None:
    _, sim, conn = world()
    with conn:
        subs = conn.ensure_webhooks(URL)
        assert sorted(s.topic for s in subs) == sorted(DEFAULT_TOPICS)
        assert {s.url for s in subs} == {URL}
        assert all(s.active for s in subs)
        assert {int(s.id) for s in subs} == set(sim.hooks)
        assert [e.json for e in posts(list(sim.log))] == [
            {"scope": t, "destination": URL, "is_active": True} for t in DEFAULT_TOPICS
        ]
        sim.log.reset()
        again = conn.ensure_webhooks(URL)
        assert posts(list(sim.log)) == []  # idempotent: nothing created the second time
        assert sorted(s.id for s in again) == sorted(s.id for s in subs)
        assert len(sim.hooks) == len(DEFAULT_TOPICS)
    assert check_log(sim.log) == []


def test_ensure_adds_only_missing_topics_and_keeps_other_urls_apart() -> None:
    _, sim, conn = world()
    with conn:
        conn.ensure_webhooks(URL, ["store/order/created"])
        conn.ensure_webhooks(OTHER_URL, ["store/order/created"])
        subs = conn.ensure_webhooks(URL, ["store/order/created", "store/cart/abandoned"])
        assert sorted(s.topic for s in subs) == ["store/cart/abandoned", "store/order/created"]
        assert len(sim.hooks) == 3
        assert len(conn.list_webhooks()) == 3
    assert check_log(sim.log) == []


def test_a_wildcard_hook_already_delivers_its_scopes() -> None:
    _, sim, conn = world()
    with conn:
        conn.ensure_webhooks(URL, ["store/order/*"])
        sim.log.reset()
        subs = conn.ensure_webhooks(URL, ["store/order/created", "store/order/refund/created"])
        assert posts(list(sim.log)) == []
        assert [s.topic for s in subs] == ["store/order/*"]


def test_a_deactivated_hook_is_reactivated_not_duplicated() -> None:
    _, sim, conn = world()
    with conn:
        (sub,) = conn.ensure_webhooks(URL, ["store/cart/abandoned"])
        sim.hooks[int(sub.id)]["is_active"] = False  # BigCommerce gave up after 48 hours
        assert [s.active for s in conn.list_webhooks()] == [False]
        sim.log.reset()
        (again,) = conn.ensure_webhooks(URL, ["store/cart/abandoned"])
        assert (again.id, again.active) == (sub.id, True)
        assert [(e.method, e.json) for e in sim.log if e.method != "GET"] == [
            ("PUT", {"is_active": True})
        ]
        assert len(sim.hooks) == 1
    assert check_log(sim.log) == []


def test_custom_headers_go_on_created_hooks() -> None:
    _, sim, conn = world()
    with conn:
        conn.ensure_webhooks(URL, ["store/order/created"], headers={"X-Shared": "s3"})
    (hook,) = sim.hooks.values()
    assert hook["headers"] == {"X-Shared": "s3"}
    assert check_log(sim.log) == []


def test_list_reads_every_page() -> None:
    _, sim, conn = world()
    with conn:
        for n in range(61):  # the simulator's default page holds 50
            sim.hooks[n + 1] = {
                "id": n + 1,
                "client_id": sim.client_id,
                "store_hash": sim.store_hash,
                "scope": "store/order/created",
                "destination": f"https://hooks.example.com/{n}",
                "is_active": n % 2 == 0,
                "headers": None,
                "created_at": 1561488106,
                "updated_at": 1561488106,
            }
        subs = conn.list_webhooks()
    assert [s.id for s in subs] == [str(n + 1) for n in range(61)]
    assert sum(s.active for s in subs) == 31
    assert [e.params.get("page", "1") for e in sim.log] == ["1", "2"]
    assert check_log(sim.log) == []


def test_remove_deletes_the_url_s_hooks_then_all() -> None:
    _, sim, conn = world()
    with conn:
        conn.ensure_webhooks(URL, ["store/order/created", "store/order/updated"])
        conn.ensure_webhooks(OTHER_URL, ["store/order/created"])
        assert conn.remove_webhooks(URL) == 2
        assert [s.url for s in conn.list_webhooks()] == [OTHER_URL]
        assert conn.remove_webhooks(URL) == 0
        conn.ensure_webhooks(URL, ["store/product/updated"])
        assert conn.remove_webhooks() == 2
        assert conn.list_webhooks() == []
    assert sim.hooks == {}
    assert check_log(sim.log) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/bc",
        "https://hooks.example.com:8443/bc",
        "ftp://hooks.example.com/bc",
        "hooks.example.com/bc",
    ],
)
def test_the_connector_refuses_destinations_bigcommerce_cannot_reach(url: str) -> None:
    _, sim, conn = world()
    with conn, pytest.raises(ConfigurationError, match=r"443|https"):
        conn.ensure_webhooks(url)
    assert len(sim.log) == 0


def test_an_explicit_port_443_is_accepted() -> None:
    _, _, conn = world()
    with conn:
        (sub,) = conn.ensure_webhooks("https://hooks.example.com:443/bc", ["store/order/created"])
    assert sub.url == "https://hooks.example.com:443/bc"


# ----------------------------------------------------------------- the simulator's answers


@pytest.fixture
def api() -> Iterator[httpx.Client]:
    _, sim, conn = world()
    conn.close()
    with httpx.Client(
        transport=sim.transport(),
        base_url=f"https://api.bigcommerce.com/stores/{sim.store_hash}/v3",
        headers={"X-Auth-Token": sim.access_token, "Accept": "application/json"},
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"scope": "store/order/created"}, "destination", "error.path.missing"),
        ({"destination": URL}, "scope", "error.path.missing"),
        (
            {"scope": "store/order/created", "destination": "http://h.example.com/"},
            "destination",
            "443",
        ),
        (
            {"scope": "store/order/created", "destination": "https://h.example.com:8080/"},
            "destination",
            "443",
        ),
        ({"scope": "store/order/*d", "destination": URL}, "scope", "scope"),
        ({"scope": 5, "destination": URL}, "scope", "error.expected.jsstring"),
        (
            {"scope": "store/order/created", "destination": URL, "is_active": "yes"},
            "is_active",
            "error.expected.jsboolean",
        ),
        (
            {"scope": "store/order/created", "destination": URL, "headers": {"a": 1}},
            "headers",
            "error.expected.jsobject",
        ),
    ],
)
def test_the_simulator_refuses_bad_hooks_with_the_documented_422(
    api: httpx.Client, body: dict[str, object], field: str, message: str
) -> None:
    response = api.post("/hooks", json=body)
    assert response.status_code == 422
    error = response.json()
    # errorDetailed_Full: status, title, type, errors (the spec's 422 example).
    assert set(error) == {"status", "title", "type", "errors"}
    assert (error["status"], error["title"]) == (422, "JSON data is missing or invalid")
    assert message in error["errors"][field]


def test_the_simulator_answers_400_to_a_body_that_is_not_an_object(api: httpx.Client) -> None:
    response = api.post("/hooks", content=b"[]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["title"] == "Input is invalid."


def test_the_simulator_answers_404_for_an_unknown_hook(api: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, "/hooks/22561593", json={"is_active": True})
        assert response.status_code == 404
        assert response.json()["title"] == "Webhook with id [22561593] not found"


def test_the_simulator_update_needs_a_field(api: httpx.Client) -> None:
    created = api.post("/hooks", json={"scope": "store/order/created", "destination": URL}).json()
    assert created["data"]["is_active"] is True  # the default
    hook_id = created["data"]["id"]
    assert api.put(f"/hooks/{hook_id}", json={}).status_code == 422
    updated = api.put(f"/hooks/{hook_id}", json={"destination": OTHER_URL}).json()["data"]
    assert updated["destination"] == OTHER_URL
    assert api.delete(f"/hooks/{hook_id}").json()["data"]["id"] == hook_id
    assert api.get(f"/hooks/{hook_id}").status_code == 404


def test_the_simulator_filters_the_list_as_documented(api: httpx.Client) -> None:
    api.post("/hooks", json={"scope": "store/order/created", "destination": URL})
    api.post(
        "/hooks", json={"scope": "store/order/updated", "destination": URL, "is_active": False}
    )
    api.post("/hooks", json={"scope": "store/order/created", "destination": OTHER_URL})
    listed = api.get("/hooks").json()
    assert listed["meta"]["pagination"]["total"] == 3
    assert len(api.get("/hooks", params={"is_active": "false"}).json()["data"]) == 1
    assert len(api.get("/hooks", params={"scope": "store/order/created"}).json()["data"]) == 2
    assert len(api.get("/hooks", params={"destination": OTHER_URL}).json()["data"]) == 1


def test_the_api_error_reaches_the_caller_as_a_client_error() -> None:
    _, sim, conn = world()
    with conn, pytest.raises(ClientRequestError) as caught:
        conn.ensure_webhooks(URL, ["store/not/a/scope"])
    assert caught.value.status_code == 422
    assert sim.hooks == {}


# ----------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        (
            "POST",
            "/stores/abc/v3/hooks",
            (),
            {"scope": "s", "destination": "d", "secret": "x"},
            "'secret'",
        ),
        ("PATCH", "/stores/abc/v3/hooks/1", (), {"is_active": True}, "no PATCH"),
        ("GET", "/stores/abc/v3/hooks", (("per_page", "50"),), None, "'per_page'"),
        ("DELETE", "/stores/abc/v3/webhooks/1", (), None, "no documented path"),
        ("GET", "/stores/abc/v2/orders/1/refunds_list", (), None, "no documented path"),
    ],
)
def test_the_spec_check_catches_undocumented_requests(
    method: str, path: str, query: tuple[tuple[str, str], ...], body: object, expected: str
) -> None:
    problems = check_request(method, path, query, body)
    assert problems
    assert expected in problems[0]


def test_the_spec_check_accepts_documented_requests() -> None:
    assert check_request("PUT", "/stores/abc/v3/hooks/12", (), {"is_active": True}) == []
    assert (
        check_request("GET", "/stores/abc/v3/hooks", (("page", "2"), ("is_active", "true"))) == []
    )
    assert (
        check_request("GET", "/stores/abc/v3/customers", (("id:in", "4"), ("include", "addresses")))
        == []
    )
