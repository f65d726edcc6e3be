"""ShopifyConnector's subscriptions and event resolution against the simulator.

Every request the connector sends is checked against the published Admin schema
(document, variables, endpoint), and the check is shown able to fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest
from graphql import (
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    parse,
    print_ast,
    validate,
)
from shopify_webhook_support import SHOP, official_schema, posts_to_graphql, request_problems

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    AuthenticationError,
    ClientRequestError,
    ConfigurationError,
    InvalidRecordError,
)
from commerce_connectors.models import Cart, Customer, Order, Platform, Product
from commerce_connectors.platforms.shopify import ShopifyConnector, graphql, realtime
from commerce_connectors.platforms.shopify.webhooks import DEFAULT_TOPICS
from commerce_connectors.protocols import RealtimeConnector
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.webhooks import WebhookAction, WebhookEvent

URL = "https://hooks.example.com/shopify"
AT = dt.datetime(2024, 10, 4, tzinfo=dt.timezone.utc)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> ShopifySimulator:
    return ShopifySimulator(seed=3, customers=4, orders=6, products=4, checkouts=3, clock=clock)


@pytest.fixture
def conn(sim: ShopifySimulator, clock: FakeClock) -> Iterator[ShopifyConnector]:
    # Paged polls: the read-backs are compared with what the pages give.
    with ShopifyConnector(
        shop=sim.shop, access_token=sim.token, transport=sim.transport(), clock=clock, bulk=False
    ) as connector:
        yield connector


def assert_requests_match_the_published_spec(sim: ShopifySimulator) -> None:
    entries = list(sim.log)
    assert entries, "no request was made"
    assert posts_to_graphql(entries) == []
    for entry in entries:
        assert request_problems(entry.json) == [], entry.json.get("query")


def mutations(sim: ShopifySimulator) -> list[str]:
    return [e.json["query"] for e in sim.log if "mutation" in e.json["query"].split("(", 1)[0]]


def event(kind: str, external_id: str | None, action: WebhookAction, **kw: Any) -> WebhookEvent:
    fields: dict[str, Any] = {
        "platform": Platform.SHOPIFY, "store_id": SHOP, "topic": "test", "event_id": "e1",
        "occurred_at": AT, "kind": kind, "external_id": external_id, "action": action,
    }  # fmt: skip
    fields.update(kw)
    return WebhookEvent(**fields)


# -- the protocol and the spec check ------------------------------------------------------------


def test_the_connector_is_a_realtime_connector(conn: ShopifyConnector) -> None:
    assert isinstance(conn, RealtimeConnector)


def test_the_spec_check_can_fail() -> None:
    create = {"query": realtime.WEBHOOK_CREATE_MUTATION}
    good_vars = {"topic": "ORDERS_CREATE", "webhookSubscription": {"uri": URL, "format": "JSON"}}
    assert request_problems({**create, "variables": good_vars}) == []
    # an input field the schema does not declare, an enum value it does not know,
    # a field it does not have, a missing required variable:
    assert request_problems({**create, "variables": {
        "topic": "ORDERS_CREATE", "webhookSubscription": {"address": URL}}})  # fmt: skip
    assert request_problems({**create, "variables": {**good_vars, "topic": "ORDERS_CREATED"}})
    assert request_problems({"query": "{ webhookSubscriptions(first: 1) { nodes { address } } }"})
    assert request_problems({**create, "variables": {"topic": "ORDERS_CREATE"}})
    assert posts_to_graphql([attrs.make_class("E", ["method", "path", "route"])(
        "GET", "/admin/api/2026-01/webhooks.json", None)])  # fmt: skip


def test_every_document_the_connector_owns_validates_against_the_published_schema() -> None:
    schema = official_schema()
    documents = [getattr(realtime, name) for name in realtime.__all__ if name.isupper()]
    documents += [
        graphql.SHOP_QUERY,
        graphql.CUSTOMERS_QUERY,
        graphql.ORDERS_QUERY,
        graphql.PRODUCTS_QUERY,
        graphql.CHECKOUTS_QUERY,
        graphql.VARIANTS_QUERY,
    ]
    for text in documents:
        assert [e.message for e in validate(schema, parse(text))] == [], text


def test_the_current_uri_field_is_used_not_the_deprecated_callback_url() -> None:
    inputs = official_schema().type_map["WebhookSubscriptionInput"]
    assert inputs.fields["callbackUrl"].deprecation_reason  # type: ignore[attr-defined]
    assert inputs.fields["uri"].deprecation_reason is None  # type: ignore[attr-defined]
    for text in (realtime.WEBHOOK_CREATE_MUTATION, realtime.WEBHOOKS_QUERY):
        assert "callbackUrl" not in text


def _selection(document: str, path: list[str]) -> str:
    """The printed selection under ``path`` (``"... on T"`` steps into an inline fragment)."""
    op = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
    selection = op.selection_set
    for step in path:
        found = None
        for sel in selection.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
            elif isinstance(sel, InlineFragmentNode) and sel.type_condition is not None:
                name = f"... on {sel.type_condition.name.value}"
            else:
                continue
            if name == step:
                found = sel.selection_set
        assert found is not None, step
        selection = found
    return print_ast(selection)


@pytest.mark.parametrize(
    ("stream_query", "stream_path", "record_query", "record_path"),
    [
        (graphql.ORDERS_QUERY, ["orders", "nodes"], realtime.ORDER_QUERY, ["order"]),
        (graphql.CUSTOMERS_QUERY, ["customers", "nodes"], realtime.CUSTOMER_QUERY, ["customer"]),
        (graphql.PRODUCTS_QUERY, ["products", "nodes"], realtime.PRODUCT_QUERY, ["product"]),
        (graphql.CHECKOUTS_QUERY, ["abandonedCheckouts", "nodes"], realtime.CHECKOUT_QUERY,
         ["node"]),
    ],
)  # fmt: skip
def test_a_record_read_by_id_selects_exactly_what_its_stream_selects(
    stream_query: str, stream_path: list[str], record_query: str, record_path: list[str]
) -> None:
    assert _selection(stream_query, stream_path) == _selection(record_query, record_path)


# -- subscriptions ------------------------------------------------------------------------------


def test_ensure_subscribes_the_default_topics_once(
    conn: ShopifyConnector, sim: ShopifySimulator
) -> None:
    first = conn.ensure_webhooks(URL)
    assert sorted(s.topic for s in first) == sorted(DEFAULT_TOPICS)
    assert all(s.url == URL and s.active for s in first)
    assert len(mutations(sim)) == len(DEFAULT_TOPICS)
    sim.log.reset()
    again = conn.ensure_webhooks(URL)
    assert {s.id for s in again} == {s.id for s in first}
    assert mutations(sim) == []  # idempotent: nothing created the second time
    assert len(sim.subscriptions) == len(DEFAULT_TOPICS)
    assert_requests_match_the_published_spec(sim)


def test_ensure_keeps_other_urls_apart_and_accepts_enum_names(
    conn: ShopifyConnector, sim: ShopifySimulator
) -> None:
    conn.ensure_webhooks(URL, ["orders/create"])
    other = conn.ensure_webhooks(URL + "/b", ["ORDERS_CREATE", "orders/create", "app/uninstalled"])
    assert sorted(s.topic for s in other) == ["app/uninstalled", "orders/create"]
    assert {s.url for s in other} == {URL + "/b"}
    assert len(conn.list_webhooks()) == 3
    assert_requests_match_the_published_spec(sim)


def test_list_follows_every_page(
    conn: ShopifyConnector, sim: ShopifySimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realtime, "_SUBSCRIPTIONS_PAGE", 2)
    conn.ensure_webhooks(URL)
    sim.log.reset()
    listed = conn.list_webhooks()
    assert len(listed) == len(DEFAULT_TOPICS)
    assert len(list(sim.log)) == (len(DEFAULT_TOPICS) + 1) // 2
    assert_requests_match_the_published_spec(sim)


def test_remove_by_url_and_all(conn: ShopifyConnector, sim: ShopifySimulator) -> None:
    conn.ensure_webhooks(URL, ["orders/create", "orders/updated"])
    conn.ensure_webhooks(URL + "/b", ["products/update"])
    assert conn.remove_webhooks(URL) == 2
    assert [s.url for s in conn.list_webhooks()] == [URL + "/b"]
    assert conn.remove_webhooks(URL) == 0
    assert conn.remove_webhooks() == 1
    assert conn.list_webhooks() == []
    assert_requests_match_the_published_spec(sim)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/shopify", "Address protocol http:// is not supported"),
        ("ftp://hooks.example.com/shopify", "Address protocol ftp:// is not supported"),
    ],
)
def test_shopify_refuses_non_https_callbacks(
    conn: ShopifyConnector, url: str, message: str
) -> None:
    with pytest.raises(ClientRequestError) as caught:
        conn.ensure_webhooks(url, ["orders/create"])
    assert message in str(caught.value)
    assert caught.value.code == "USER_ERRORS"


def test_privacy_topics_and_blank_urls_are_refused_before_any_call(
    conn: ShopifyConnector, sim: ShopifySimulator
) -> None:
    with pytest.raises(ConfigurationError, match="app's configuration"):
        conn.ensure_webhooks(URL, ["orders/create", "customers/redact"])
    with pytest.raises(ConfigurationError):
        conn.ensure_webhooks("  ")
    assert list(sim.log) == []


def test_a_subscription_made_meanwhile_is_not_an_error(
    sim: ShopifySimulator, clock: FakeClock
) -> None:
    inner = sim.transport()
    raced = {"done": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if b"WebhookSubscriptionCreate" in request.content and not raced["done"]:
            raced["done"] = True  # another worker subscribes the same topic first
            racer = ShopifyConnector(shop=sim.shop, access_token=sim.token,
                                     transport=inner, clock=clock)  # fmt: skip
            racer.ensure_webhooks(URL, ["orders/create"])
        return inner.handle_request(request)

    conn = ShopifyConnector(shop=sim.shop, access_token=sim.token,
                            transport=httpx.MockTransport(handler), clock=clock)  # fmt: skip
    subs = conn.ensure_webhooks(URL, ["orders/create"])
    assert [s.topic for s in subs] == ["orders/create"]
    assert len(sim.subscriptions) == 1


# -- event resolution ---------------------------------------------------------------------------


def test_owns_event_compares_the_shop(conn: ShopifyConnector) -> None:
    assert conn.owns_event(event("order", "1", WebhookAction.UPSERT))
    assert conn.owns_event(event("order", "1", WebhookAction.UPSERT, store_id="ACME.myshopify.com"))
    assert not conn.owns_event(
        event("order", "1", WebhookAction.UPSERT, store_id="other.myshopify.com")
    )
    assert not conn.owns_event(event("order", "1", WebhookAction.UPSERT, platform=Platform.SQUARE))


def test_an_order_is_read_back_complete_and_equal_to_the_poll(
    conn: ShopifyConnector, sim: ShopifySimulator
) -> None:
    order = next(iter(sim.stores["orders"]))
    line = order.data["line_items"][0]
    many = [{**line, "id": 9000 + n} for n in range(23)]  # past the first page of lines
    sim.stores["orders"].update(order.id, {"line_items": many})
    (record,) = conn.records_for_event(event("order", str(order.id), WebhookAction.UPSERT))
    assert isinstance(record, Order)
    assert len(record.lines) == 23
    assert record.lines[0].category  # from the product: what a REST body lacks
    polled = {o.external_id: o for o in conn.iter_orders()}
    assert record == polled[str(order.id)]
    assert_requests_match_the_published_spec(sim)


@pytest.mark.parametrize(
    ("kind", "store", "iterate", "cls"),
    [
        ("customer", "customers", "iter_customers", Customer),
        ("product", "products", "iter_products", Product),
        ("cart", "checkouts", "iter_abandoned_carts", Cart),
    ],
)
def test_each_kind_is_read_back_equal_to_the_poll(
    conn: ShopifyConnector, sim: ShopifySimulator, kind: str, store: str, iterate: str,
    cls: type,
) -> None:  # fmt: skip
    stored = next(iter(sim.stores[store]))
    (record,) = conn.records_for_event(event(kind, str(stored.id), WebhookAction.UPSERT))
    assert isinstance(record, cls)
    polled = {r.external_id: r for r in getattr(conn, iterate)()}
    assert record == polled[str(stored.id)]
    assert_requests_match_the_published_spec(sim)


@pytest.mark.parametrize(
    ("kind", "store"),
    [
        ("order", "orders"),
        ("customer", "customers"),
        ("product", "products"),
        ("cart", "checkouts"),
    ],
)
def test_a_record_gone_reads_as_nothing(
    conn: ShopifyConnector, sim: ShopifySimulator, kind: str, store: str
) -> None:
    stored = next(iter(sim.stores[store]))
    sim.stores[store].delete(stored.id)
    assert conn.records_for_event(event(kind, str(stored.id), WebhookAction.UPSERT)) == []


def test_events_that_name_no_record_to_fetch_read_as_nothing(
    conn: ShopifyConnector, sim: ShopifySimulator
) -> None:
    order = str(next(iter(sim.stores["orders"])).id)
    assert conn.records_for_event(event("order", order, WebhookAction.DELETE)) == []
    assert conn.records_for_event(event("store", None, WebhookAction.UNINSTALL)) == []
    assert conn.records_for_event(event("customer", "1", WebhookAction.REDACT)) == []
    assert conn.records_for_event(event(None, None, WebhookAction.OTHER)) == []  # type: ignore[arg-type]
    other = event("order", order, WebhookAction.UPSERT, store_id="other.myshopify.com")
    assert conn.records_for_event(other) == []
    assert list(sim.log) == []  # nothing fetched for any of them


def test_a_converted_checkout_no_longer_listed_is_read_from_the_body(
    conn: ShopifyConnector, sim: ShopifySimulator
) -> None:
    checkout = sim.rest("checkouts", next(iter(sim.stores["checkouts"])))
    sim.stores["checkouts"].delete(checkout["id"])
    done = {**checkout, "completed_at": "2024-10-04T10:00:00-04:00"}
    found = conn.records_for_event(
        event("cart", str(checkout["id"]), WebhookAction.CONVERT, payload=done)
    )
    assert len(found) == 1
    assert isinstance(found[0], Cart)
    assert found[0].completed_at == dt.datetime(2024, 10, 4, 14, tzinfo=dt.timezone.utc)


def test_a_refused_record_goes_to_on_invalid(sim: ShopifySimulator, clock: FakeClock) -> None:
    refused: list[InvalidRecordError] = []
    conn = ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=sim.transport(),
                            clock=clock, on_invalid=refused.append)  # fmt: skip
    victim = next(iter(sim.stores["customers"]))
    sim.stores["customers"].update(victim.id, {"_graphql_overrides": {"createdAt": "not a date"}})
    assert conn.records_for_event(event("customer", str(victim.id), WebhookAction.UPSERT)) == []
    assert len(refused) == 1
    assert refused[0].record_id == str(victim.id)
    strict = ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=sim.transport(),
                              clock=clock)  # fmt: skip
    with pytest.raises(InvalidRecordError):
        strict.records_for_event(event("customer", str(victim.id), WebhookAction.UPSERT))


def test_api_errors_raise(sim: ShopifySimulator, clock: FakeClock) -> None:
    conn = ShopifyConnector(shop=sim.shop, access_token="shpat_revoked", transport=sim.transport(),
                            clock=clock)  # fmt: skip
    with pytest.raises(AuthenticationError):
        conn.records_for_event(event("order", "450789469", WebhookAction.UPSERT))
    with pytest.raises(AuthenticationError):
        conn.list_webhooks()
