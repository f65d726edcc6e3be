"""Webhook subscriptions through TiendanubeConnector, against the simulator, with every
request checked against the published Webhook resource (resources/webhook.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tiendanube_webhook_kit import SHARED, Spec, connector, simulator, spec

from commerce_connectors.errors import (
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    MalformedResponseError,
)
from commerce_connectors.platforms.tiendanube.webhooks import DEFAULT_TOPICS
from commerce_connectors.protocols import RealtimeConnector
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

URL = "https://hooks.example.com/tiendanube/events"
OTHER_URL = "https://crm.example.org/hooks/tn"
EXAMPLES = SHARED / "official-examples" / "tiendanube"


@pytest.fixture(scope="module")
def published() -> Spec:
    return spec()


def _undocumented(sim: TiendanubeSimulator, published: Spec) -> list[str]:
    """Every request the simulator saw that the docs do not declare."""
    out: list[str] = []
    for entry in sim.log:
        out += published.problems(entry.method, entry.path, [k for k, _ in entry.query], entry.json)
    return out


def _posts(sim: TiendanubeSimulator) -> int:
    return sum(1 for e in sim.log if e.method == "POST")


def test_the_connector_is_realtime() -> None:
    sim = simulator()
    assert isinstance(connector(sim), RealtimeConnector)


def test_ensure_is_idempotent_and_returns_every_subscription_of_the_url(published: Spec) -> None:
    sim = simulator()
    conn = connector(sim)
    first = conn.ensure_webhooks(URL)
    assert sorted(s.topic for s in first) == sorted(DEFAULT_TOPICS)
    assert {s.url for s in first} == {URL}
    assert all(s.active and s.signature_key is None for s in first)
    assert _posts(sim) == len(DEFAULT_TOPICS)

    again = conn.ensure_webhooks(URL)
    assert _posts(sim) == len(DEFAULT_TOPICS)  # nothing new
    assert sorted(again, key=lambda s: s.id) == sorted(first, key=lambda s: s.id)

    # A topic added later is the only one posted; the result has the URL's every topic.
    more = conn.ensure_webhooks(URL, ["order/paid", "category/created", "category/created"])
    assert _posts(sim) == len(DEFAULT_TOPICS) + 1
    assert len(more) == len(DEFAULT_TOPICS) + 1
    assert len(sim.webhook_store) == len(DEFAULT_TOPICS) + 1
    assert _undocumented(sim, published) == []


def test_list_and_remove(published: Spec) -> None:
    sim = simulator()
    conn = connector(sim)
    conn.ensure_webhooks(URL, ["order/created", "order/paid"])
    conn.ensure_webhooks(OTHER_URL, ["order/created"])
    listed = conn.list_webhooks()
    assert [(s.url, s.topic) for s in listed] == [
        (URL, "order/created"),
        (URL, "order/paid"),
        (OTHER_URL, "order/created"),
    ]
    assert [s.topic for s in conn.list_webhooks(url=OTHER_URL)] == ["order/created"]

    assert conn.remove_webhooks(URL) == 2
    assert [(s.url, s.topic) for s in conn.list_webhooks()] == [(OTHER_URL, "order/created")]
    assert conn.remove_webhooks(URL) == 0
    assert conn.remove_webhooks() == 1
    assert conn.list_webhooks() == []
    deletes = [e for e in sim.log if e.method == "DELETE"]
    assert [e.status for e in deletes] == [200, 200, 200]
    assert _undocumented(sim, published) == []


def test_listing_follows_every_page(published: Spec) -> None:
    sim = simulator()
    for n in range(205):  # more than one page of 200
        sim.webhook_store.insert({"event": "order/paid", "url": f"https://h{n}.example.com/"})
    conn = connector(sim)
    assert len(conn.list_webhooks()) == 205
    gets = [e for e in sim.log if e.method == "GET"]
    assert [e.params.get("page", "1") for e in gets] == ["1", "2"]
    assert all(e.params["per_page"] == "200" for e in gets)
    assert _undocumented(sim, published) == []


def test_post_sends_the_documented_content_type() -> None:
    sim = simulator()
    seen: list[httpx.Request] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sim.handle(request)

    conn = connector(sim, transport=httpx.MockTransport(spy))
    conn.ensure_webhooks(URL, ["product/updated"])
    (post,) = [r for r in seen if r.method == "POST"]
    assert post.headers["Content-Type"] == "application/json; charset=utf-8"
    assert post.headers["Authentication"] == f"bearer {sim.token}"
    assert json.loads(post.content) == {"event": "product/updated", "url": URL}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/tn",
        "https://localhost/tn",
        "https://api.localhost:8443/tn",
        "https://127.0.0.1/tn",
        "https://10.1.2.3/tn",
        "https://[::1]/tn",
        "https://hooks.mitiendanube.com/tn",
        "https://nuvemshop.com.br/tn",
        "ftp://hooks.example.com/tn",
        "https:///tn",
    ],
)
def test_urls_tiendanube_refuses_are_refused_before_any_request(url: str) -> None:
    sim = simulator()
    with pytest.raises(ConfigurationError):
        connector(sim).ensure_webhooks(url)
    assert len(sim.log) == 0


@pytest.mark.parametrize("topic", ["store/redact", "customers/redact", "customers/data_request"])
def test_privacy_topics_are_not_subscribed_through_the_api(topic: str) -> None:
    sim = simulator()
    with pytest.raises(ConfigurationError, match="partner portal"):
        connector(sim).ensure_webhooks(URL, ["order/paid", topic])
    assert len(sim.log) == 0


def test_a_refused_topic_raises_with_the_platforms_words() -> None:
    sim = simulator()
    with pytest.raises(ClientRequestError) as info:
        connector(sim).ensure_webhooks(URL, ["order/refunded"])
    assert info.value.status_code == 422
    assert "Invalid event specified" in str(info.value)


def test_an_uninstalled_app_cannot_list() -> None:
    sim = simulator()
    sim.uninstall_app()
    with pytest.raises(AuthenticationError):
        connector(sim).list_webhooks()


def test_a_listing_that_is_not_a_list_of_webhooks_is_malformed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 1, "event": "order/paid"}])

    conn = connector(simulator(), transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedResponseError):
        conn.list_webhooks()


# -- the simulator's endpoints, as documented --------------------------------------------


def _client(sim: TiendanubeSimulator) -> httpx.Client:
    return httpx.Client(
        transport=sim.transport(),
        base_url=f"{sim.base_url}/2025-03/{sim.store_id}",
        headers={"Authentication": f"bearer {sim.token}", "User-Agent": "T (t@example.com)"},
    )


def test_simulator_answers_have_the_documented_shapes() -> None:
    sim = simulator()
    client = _client(sim)
    created = client.post(
        "/webhooks", json={"event": "product/created", "url": "https://myapp.com/hook"}
    )
    assert created.status_code == 201
    listed_example = json.loads((EXAMPLES / "webhooks_list.json").read_text())
    assert set(created.json()) == set(listed_example[0])
    listing = client.get("/webhooks")
    assert listing.status_code == 200
    assert [set(w) for w in listing.json()] == [set(listed_example[0])]
    assert listing.headers["X-Total-Count"] == "1"
    wid = created.json()["id"]
    assert client.get(f"/webhooks/{wid}").json() == created.json()
    assert client.get(f"/webhooks/{wid}", params={"fields": "id,event"}).json() == {
        "id": wid,
        "event": "product/created",
    }
    moved = client.put(f"/webhooks/{wid}", json={"url": "https://myapp.com/other"})
    assert moved.status_code == 200
    assert moved.json()["url"] == "https://myapp.com/other"
    assert moved.json()["event"] == "product/created"
    deleted = client.delete(f"/webhooks/{wid}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert client.get(f"/webhooks/{wid}").status_code == 404
    assert client.delete(f"/webhooks/{wid}").json() == {
        "code": 404,
        "message": "Not Found",
        "description": None,
    }


def test_simulator_422_matches_the_documented_example() -> None:
    sim = simulator()
    example = json.loads((EXAMPLES / "webhook_create_error_422.json").read_text())
    answer = _client(sim).post("/webhooks", json={"url": "foobar", "event": "invalid_event"})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == set(example)
    assert body["url"] == example["url"]
    assert body["event"][0].startswith("Invalid event specified. Events allowed: ")
    assert "order/paid" in body["event"][0]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"event": "order/paid", "url": "http://myapp.com/hook"}, {"url"}),
        ({"event": "order/paid", "url": "https://localhost/hook"}, {"url"}),
        ({"event": "order/paid", "url": "https://127.0.0.1:8443/hook"}, {"url"}),
        ({"event": "order/paid", "url": "https://x.tiendanube.com/hook"}, {"url"}),
        ({"event": "order/paid", "url": "https://loja.nuvemshop.com.br/hook"}, {"url"}),
        ({"event": "store/redact", "url": "https://myapp.com/hook"}, {"event"}),
        ({"url": "https://myapp.com/hook"}, {"event"}),
        ({}, {"event", "url"}),
    ],
)
def test_simulator_validates_like_the_platform(body: dict[str, Any], errors: set[str]) -> None:
    answer = _client(simulator()).post("/webhooks", json=body)
    assert answer.status_code == 422
    assert set(answer.json()) == errors


def test_simulator_content_type_and_json_errors() -> None:
    client = _client(simulator())
    no_type = client.post("/webhooks", content=b'{"event": "order/paid"}')
    assert no_type.status_code == 415
    assert no_type.json() == {
        "code": 415,
        "message": "Unsupported Media Type",
        "description": "Content-Type should be application/json",
    }
    bad = client.post(
        "/webhooks", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (bad.status_code, bad.json()) == (400, {"error": "Problems parsing JSON"})


def test_simulator_list_filters() -> None:
    sim = simulator()
    client = _client(sim)
    for event, url in [
        ("order/paid", "https://a.example.com/h"),
        ("order/created", "https://a.example.com/h"),
        ("order/paid", "https://b.example.com/h"),
    ]:
        client.post("/webhooks", json={"event": event, "url": url})

    def ids(**params: Any) -> list[int]:
        return [w["id"] for w in client.get("/webhooks", params=params).json()]

    assert ids() == [1, 2, 3]
    assert ids(url="https://a.example.com/h") == [1, 2]
    assert ids(event="order/paid") == [1, 3]
    assert ids(since_id=1) == [2, 3]
    assert ids(per_page=2, page=2) == [3]
    assert client.get("/webhooks", params={"page": 3, "per_page": 2}).status_code == 404


# -- the spec check itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("PATCH", "/2025-03/1/webhooks/5", [], {"url": "https://x.example.com"}),
        ("GET", "/2025-03/1/webhook", [], None),
        ("GET", "/2025-03/1/webhooks", ["topic"], None),
        ("POST", "/2025-03/1/webhooks", [], {"event": "order/paid", "address": "https://x"}),
        ("DELETE", "/2025-03/1/webhooks/5", [], {"id": 5}),
        ("GET", "/2025-03/1/orders/5", ["include"], None),
    ],
)
def test_the_spec_check_can_fail(
    published: Spec, method: str, path: str, query: list[str], body: Any
) -> None:
    assert published.problems(method, path, query, body) != []


def test_the_spec_check_passes_documented_requests(published: Spec) -> None:
    assert published.problems("POST", "/v1/1/webhooks", [], {"event": "a", "url": "b"}) == []
    assert published.problems("GET", "/2025-03/1/webhooks", ["url", "per_page", "page"]) == []
    assert published.problems("DELETE", "/2025-03/1/webhooks/5") == []
    assert published.problems("PUT", "/2025-03/1/webhooks/5", [], {"url": "x"}) == []
    assert published.problems("GET", "/2025-03/1/customers/9") == []
