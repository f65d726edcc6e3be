"""The Shopify simulator's webhooks: subscription endpoints and signed deliveries over HTTP.

Deliveries go over real HTTP to a small receiver on 127.0.0.1 that checks them with
the library's ``verify`` and ``parse_event``; the simulator signs with its own few
lines of ``hmac``, so both sides are checked against each other.
"""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import GraphQLEnumType, build_schema, parse, validate
from shopify_webhook_support import official_schema, parse_event, request_problems, verify

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import AuthenticationError, WebhookVerificationError
from commerce_connectors.platforms.shopify import ShopifyConnector, graphql
from commerce_connectors.platforms.shopify.webhooks import DEFAULT_TOPICS
from commerce_connectors.testing.simulators.shopify import SCHEMA_SDL, ShopifySimulator, schema
from commerce_connectors.webhooks import WebhookEvent

PUBLIC = "https://hooks.example.com/"
URL = PUBLIC + "shopify"
PRIVACY = PUBLIC + "shopify/privacy"


# -- the simulator's schema is the published one, cut down ------------------------------------


def sdl_differences(sdl: str) -> list[str]:
    """Where a simulator SDL says something the published schema does not."""
    official = official_schema()
    ours = build_schema(sdl)
    found: list[str] = []
    for name, kind in ours.type_map.items():
        if name.startswith("__"):
            continue
        theirs = official.type_map.get(name)
        if theirs is None:
            found.append(f"type {name}")
        elif isinstance(kind, GraphQLEnumType):
            found += [f"{name}.{v}" for v in set(kind.values) - set(theirs.values)]  # type: ignore[attr-defined]
        elif hasattr(kind, "fields"):
            for field, spec in kind.fields.items():
                other = theirs.fields.get(field)  # type: ignore[attr-defined]
                if other is None or str(other.type) != str(spec.type):
                    found.append(f"{name}.{field}: {spec.type}")
                    continue
                for arg, arg_spec in getattr(spec, "args", {}).items():
                    if arg not in other.args or str(other.args[arg].type) != str(arg_spec.type):
                        found.append(f"{name}.{field}({arg})")
    return found


def test_the_simulator_schema_is_a_subset_of_the_published_one() -> None:
    assert sdl_differences(SCHEMA_SDL) == []


def test_the_subset_check_can_fail() -> None:
    wrong = SCHEMA_SDL.replace("uri: String!", "address: String!").replace(
        "ORDERS_CREATE ORDERS_DELETE", "ORDERS_CREATE ORDERS_REDACT ORDERS_DELETE"
    )
    assert set(sdl_differences(wrong)) >= {
        "WebhookSubscription.address: String!",
        "WebhookSubscriptionTopic.ORDERS_REDACT",
    }


def test_the_mixed_line_query_is_refused_by_both_schemas_and_no_longer_sent() -> None:
    # LineItem.title is String!, AbandonedCheckoutLineItem.title is String: one selection
    # of both under one response name cannot merge. The connector sends one type per query.
    mixed = (
        "query MoreLines($id: ID!, $first: Int!, $after: String) { node(id: $id) {"
        " ... on Order { lineItems(first: $first, after: $after) {"
        " pageInfo { hasNextPage endCursor } nodes { ...LineFields } } }"
        " ... on AbandonedCheckout { lineItems(first: $first, after: $after) {"
        " pageInfo { hasNextPage endCursor } nodes { ...CheckoutLineFields } } } } }"
        + graphql._BAG
        + graphql._ORDER_LINE
        + graphql._CHECKOUT_LINE
    )
    for target in (official_schema(), schema()):
        problems = [e.message for e in validate(target, parse(mixed))]
        assert any("conflict" in p for p in problems)
    assert not hasattr(graphql, "LINE_ITEMS_QUERY")


# -- subscription endpoints ---------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=dt.datetime(2024, 10, 4, 12, tzinfo=dt.timezone.utc))


@pytest.fixture
def sim(clock: FakeClock) -> ShopifySimulator:
    return ShopifySimulator(seed=7, customers=3, orders=3, products=3, checkouts=2, clock=clock,
                            compliance_url=PRIVACY)  # fmt: skip


def gql(sim: ShopifySimulator, query: str, variables: dict[str, Any] | None = None) -> Any:
    client = httpx.Client(transport=sim.transport(), base_url=f"https://{sim.shop}")
    body = {"query": query, "variables": variables or {}}
    assert request_problems(body) == []  # what we ask the simulator, Shopify would accept
    response = client.post("/admin/api/2026-01/graphql.json", json=body,
                           headers={"X-Shopify-Access-Token": sim.token})  # fmt: skip
    return response.json()


CREATE = """mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri format } userErrors { field message } } }"""
DELETE = """mutation($id: ID!) { webhookSubscriptionDelete(id: $id) {
  deletedWebhookSubscriptionId userErrors { field message } } }"""


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "Address can't be blank"),
        ("http://hooks.example.com/a", "Address protocol http:// is not supported"),
        ("ftp://hooks.example.com/a", "Address protocol ftp:// is not supported"),
    ],
)
def test_create_refuses_bad_addresses_with_user_errors(
    sim: ShopifySimulator, uri: str, message: str
) -> None:
    answer = gql(sim, CREATE, {"topic": "ORDERS_CREATE", "sub": {"uri": uri}})
    payload = answer["data"]["webhookSubscriptionCreate"]
    assert payload["webhookSubscription"] is None
    assert payload["userErrors"] == [
        {"field": ["webhookSubscription", "callbackUrl"], "message": message}
    ]
    assert sim.subscriptions == {}


def test_create_refuses_a_second_subscription_of_a_topic_to_an_address(
    sim: ShopifySimulator,
) -> None:
    first = gql(sim, CREATE, {"topic": "ORDERS_CREATE", "sub": {"uri": URL}})
    assert first["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    again = gql(sim, CREATE, {"topic": "ORDERS_CREATE", "sub": {"uri": URL}})
    assert again["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"] == (
        "Address for this topic has already been taken"
    )


def test_pubsub_and_eventbridge_destinations_are_accepted(sim: ShopifySimulator) -> None:
    eventbridge = "arn:aws:events:us-east-1::event-source/aws.partner/shopify.com/1/acme"
    for uri in ("pubsub://my-project:shopify-orders", eventbridge):
        answer = gql(sim, CREATE, {"topic": "ORDERS_CREATE", "sub": {"uri": uri}})
        assert answer["data"]["webhookSubscriptionCreate"]["userErrors"] == []


def test_an_unknown_topic_is_a_validation_error(sim: ShopifySimulator) -> None:
    client = httpx.Client(transport=sim.transport(), base_url=f"https://{sim.shop}")
    answer = client.post(
        "/admin/api/2026-01/graphql.json",
        json={"query": CREATE, "variables": {"topic": "CUSTOMERS_REDACT", "sub": {"uri": URL}}},
        headers={"X-Shopify-Access-Token": sim.token},
    ).json()
    assert "data" not in answer or answer.get("data") is None
    assert "CUSTOMERS_REDACT" in answer["errors"][0]["message"]


def test_delete_and_delete_again(sim: ShopifySimulator) -> None:
    created = gql(sim, CREATE, {"topic": "ORDERS_CREATE", "sub": {"uri": URL}})
    sub_id = created["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["id"]
    gone = gql(sim, DELETE, {"id": sub_id})["data"]["webhookSubscriptionDelete"]
    assert gone == {"deletedWebhookSubscriptionId": sub_id, "userErrors": []}
    again = gql(sim, DELETE, {"id": sub_id})["data"]["webhookSubscriptionDelete"]
    assert again["deletedWebhookSubscriptionId"] is None
    assert again["userErrors"][0]["field"] == ["id"]


def test_the_list_filters_by_uri_and_topics(sim: ShopifySimulator) -> None:
    for topic, uri in [("ORDERS_CREATE", URL), ("ORDERS_UPDATED", URL), ("ORDERS_CREATE", PRIVACY)]:
        gql(sim, CREATE, {"topic": topic, "sub": {"uri": uri}})
    query = """query($uri: String, $topics: [WebhookSubscriptionTopic!]) {
      webhookSubscriptions(first: 10, uri: $uri, topics: $topics) { nodes { topic uri } } }"""
    by_uri = gql(sim, query, {"uri": URL})["data"]["webhookSubscriptions"]["nodes"]
    assert sorted(n["topic"] for n in by_uri) == ["ORDERS_CREATE", "ORDERS_UPDATED"]
    by_topic = gql(sim, query, {"topics": ["ORDERS_CREATE"]})["data"]["webhookSubscriptions"]
    assert {n["uri"] for n in by_topic["nodes"]} == {URL, PRIVACY}


# -- deliveries over real HTTP --------------------------------------------------------------------


class Receiver:
    """A webhook endpoint on 127.0.0.1: 401 unless the library verifies the delivery."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[WebhookEvent] = []
        self.refused: list[str] = []
        self.bodies: list[bytes] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                pairs = list(self.headers.items())
                try:
                    verify("shopify", pairs, raw, secret=owner.secret)
                except WebhookVerificationError as exc:
                    owner.refused.append(exc.check)
                    self.send_response(401)
                else:
                    owner.bodies.append(raw)
                    owner.events.append(parse_event("shopify", pairs, raw))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(sim: ShopifySimulator) -> Iterator[Receiver]:
    rx = Receiver(sim.client_secret)
    sim.webhooks.forward(PUBLIC, rx.url)  # like a tunnel: the public https URL is registered
    yield rx
    rx.close()
    sim.webhooks.close()


@pytest.fixture
def conn(sim: ShopifySimulator, clock: FakeClock) -> ShopifyConnector:
    connector = ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=sim.transport(),
                                 clock=clock)  # fmt: skip
    connector.ensure_webhooks(URL)
    return connector


def test_every_mutation_sends_a_signed_event_the_library_reads(
    sim: ShopifySimulator, receiver: Receiver, conn: ShopifyConnector, clock: FakeClock
) -> None:
    customer = next(iter(sim.stores["customers"])).id
    order = next(iter(sim.stores["orders"])).id
    product = next(iter(sim.stores["products"])).id
    checkout = next(iter(sim.stores["checkouts"])).id
    new_order = sim.rest("orders", order) | {"id": 990001, "name": "#9001"}
    sim.add_order(new_order)
    sim.update_order(order, {"financial_status": "paid"})
    sim.refund_order(order)
    sim.update_customer(customer, {"tags": "VIP"})
    sim.update_product(product, {"title": "Lampe"})
    sim.update_checkout(checkout, {"email": "late@example.com"})
    sim.complete_checkout(checkout)
    sim.delete_product(product)
    results = sim.webhooks.flush()
    assert results
    assert all(r.ok for r in results)
    assert receiver.refused == []
    seen = [(e.topic, e.kind, e.external_id, e.action.value) for e in receiver.events]
    assert seen == [
        ("orders/create", "order", "990001", "upsert"),
        ("orders/updated", "order", str(order), "upsert"),
        (
            "orders/updated",
            "order",
            str(order),
            "upsert",
        ),  # the refund (refunds/create unsubscribed)
        ("customers/update", "customer", str(customer), "upsert"),
        ("products/update", "product", str(product), "upsert"),
        ("checkouts/update", "cart", str(checkout), "upsert"),
        ("checkouts/update", "cart", str(checkout), "convert"),
        ("checkouts/paid", "cart", str(checkout), "convert"),
        ("products/delete", "product", str(product), "delete"),
    ]
    assert all(e.store_id == sim.shop for e in receiver.events)
    assert len({e.event_id for e in receiver.events}) == len(receiver.events)
    assert all(e.occurred_at == clock.now() for e in receiver.events)
    # The event resolves to the record a poll reads, now refunded.
    refunded = receiver.events[2]
    (record,) = conn.records_for_event(refunded)
    assert record.status.value == "refunded"  # type: ignore[union-attr]


def test_duplicates_keep_the_webhook_id_and_forgeries_are_refused_then_retried(
    sim: ShopifySimulator, receiver: Receiver, conn: ShopifyConnector
) -> None:
    order = next(iter(sim.stores["orders"])).id
    sim.webhooks.faults(duplicate=2)
    sim.update_order(order)
    assert [r.ok for r in sim.webhooks.flush()] == [True, True, True]
    assert len({e.event_id for e in receiver.events}) == 1  # the dedupe key holds
    sim.webhooks.faults(bad_signature=True)
    sim.update_order(order)
    assert [r.status for r in sim.webhooks.flush()] == [401]
    assert receiver.refused == ["signature"]
    assert len(sim.webhooks.pending) == 1  # Shopify retries what was not acknowledged


def test_reordered_deliveries_still_resolve_to_the_current_record(
    sim: ShopifySimulator, receiver: Receiver, conn: ShopifyConnector, clock: FakeClock
) -> None:
    order = next(iter(sim.stores["orders"])).id
    sim.webhooks.faults(reorder=True)
    sim.update_order(order, {"financial_status": "paid"})
    clock.advance(60)
    sim.update_order(
        order, {"cancelled_at": "2024-10-04T09:00:00-04:00", "cancel_reason": "customer"}
    )
    sim.webhooks.flush()
    first, second = receiver.events
    assert first.occurred_at > second.occurred_at  # the later change arrived first
    for e in receiver.events:  # whichever comes first, the record is the latest one
        (record,) = conn.records_for_event(e)
        assert record.status.value == "cancelled"  # type: ignore[union-attr]


def test_uninstall_and_privacy_requests(
    sim: ShopifySimulator, receiver: Receiver, conn: ShopifyConnector
) -> None:
    customer = next(iter(sim.stores["customers"]))
    orders = [
        r.id
        for r in sim.stores["orders"]
        if (r.data.get("customer") or {}).get("id") == customer.id
    ]
    sim.request_customer_data(customer.id)
    sim.request_customer_redaction(customer.id)
    sim.uninstall_app()
    sim.request_store_redaction()
    assert all(r.ok for r in sim.webhooks.flush())
    data, redact, gone, shop = receiver.events
    assert (data.topic, data.action.value, data.external_id) == (
        "customers/data_request",
        "data_request",
        str(customer.id),
    )
    assert data.subject["email"] == customer.data["email"]
    assert data.subject["order_ids"] == [str(o) for o in orders]
    assert (redact.topic, redact.action.value) == ("customers/redact", "redact")
    assert (gone.topic, gone.kind, gone.action.value) == ("app/uninstalled", "store", "uninstall")
    assert (shop.topic, shop.kind, shop.action.value) == ("shop/redact", "store", "redact")
    assert [r.url for r in sim.webhooks.results] == [PRIVACY, PRIVACY, URL, PRIVACY]
    # The uninstall took the subscriptions and the token with it.
    assert sim.subscriptions == {}
    with pytest.raises(AuthenticationError):
        conn.list_webhooks()


def test_no_subscription_no_delivery(sim: ShopifySimulator) -> None:
    sim.update_order(next(iter(sim.stores["orders"])).id)
    assert sim.webhooks.pending == []
    with pytest.raises(ValueError, match="compliance"):
        ShopifySimulator(customers=1, orders=0, products=0, checkouts=0).request_store_redaction()


def test_default_topics_all_reach_the_receiver_with_their_api_version(
    sim: ShopifySimulator, receiver: Receiver, conn: ShopifyConnector
) -> None:
    assert {sub["topic"] for sub in sim.subscriptions.values()} == {
        t.upper().replace("/", "_") for t in DEFAULT_TOPICS
    }
    sim.add_customer(sim.rest("customers", next(iter(sim.stores["customers"]))) | {"id": 77})
    sim.webhooks.flush()
    (created,) = receiver.events
    assert created.payload["id"] == 77
    assert all(sub["api_version"] == "2026-01" for sub in sim.subscriptions.values())
