"""parse_event on Shopify deliveries: every official example record, privacy bodies, errors.

A Shopify webhook body is the record in the REST shape ("By default, the body is the
full REST resource payload for the topic", shopify.dev webhooks delivery structure),
so the official REST examples are the bodies of the record topics. The privacy
bodies follow the shapes Shopify's app template documents (written here, not copied).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from shopify_webhook_support import SHOP, example, official_schema, parse_event

from commerce_connectors.errors import WebhookPayloadError
from commerce_connectors.models import Platform
from commerce_connectors.platforms.shopify import (
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
)
from commerce_connectors.platforms.shopify.webhooks import (
    DEFAULT_TOPICS,
    PRIVACY_TOPICS,
    TOPICS,
    topic_enum,
    topic_name,
)
from commerce_connectors.webhooks import default_topics

RECEIVED = dt.datetime(2024, 10, 4, 16, 0, 5, tzinfo=dt.timezone.utc)


def headers(topic: str, **extra: str) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": f"wh-{topic}",
        "X-Shopify-API-Version": "2026-01",
        **extra,
    }


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def records(name: str) -> list[dict[str, Any]]:
    data = example(name)
    value = next(iter(data.values()))
    return value if isinstance(value, list) else [value]


# -- every official example record, under each topic that carries it ---------------------------

KINDS: dict[str, tuple[list[str], Callable[[Any], Any], str]] = {
    "order": (["orders_list.json", "order_get.json", "orders_list_updated_at_min.json"],
              parse_order, "orders/"),
    "customer": (["customers_list.json", "customer_get.json", "customers_search.json",
                  "customers_list_by_ids.json"], parse_customer, "customers/"),
    "product": (["products_list.json", "product_get.json"], parse_product, "products/"),
    "cart": (["abandoned_checkouts_list.json"], parse_cart, "checkouts/"),
}  # fmt: skip

CASES = [
    (kind, name, topic, index)
    for kind, (names, _, prefix) in KINDS.items()
    for name in names
    for index in range(len(records(name)))
    for topic in TOPICS
    if topic.startswith(prefix) and TOPICS[topic].kind == kind and TOPICS[topic].id_path == "id"
]


@pytest.mark.parametrize(("kind", "name", "topic", "index"), CASES)
def test_every_official_record_parses_under_its_topics(
    kind: str, name: str, topic: str, index: int
) -> None:
    record = records(name)[index]
    event = parse_event("shopify", headers(topic), body(record), received_at=RECEIVED)
    rule = TOPICS[topic]
    assert event.platform is Platform.SHOPIFY
    assert event.store_id == SHOP
    assert event.topic == topic
    assert event.kind == kind
    assert event.action is rule.action
    assert event.event_id == f"wh-{topic}"
    assert event.payload == record
    # The id exactly as the parsers put it in external_id: the worker matches on it.
    parser = KINDS[kind][1]
    assert event.external_id == parser(record, shop=SHOP).external_id
    # No X-Shopify-Triggered-At: the record's own change time.
    assert event.occurred_at == parser(record, shop=SHOP).updated_at


def test_deletions_carry_only_the_id() -> None:
    for topic, kind in [("orders/delete", "order"), ("customers/delete", "customer"),
                        ("products/delete", "product"), ("checkouts/delete", "cart")]:  # fmt: skip
        event = parse_event("shopify", headers(topic), b'{"id": 450789469}', received_at=RECEIVED)
        assert (event.kind, event.external_id, event.action.value) == (kind, "450789469", "delete")
        assert event.occurred_at == RECEIVED  # nothing in the body dates it


def test_a_refund_is_an_upsert_of_its_order() -> None:
    refund = {"id": 509562969, "order_id": 450789469, "created_at": "2024-10-04T11:00:00-05:00"}
    event = parse_event("shopify", headers("refunds/create"), body(refund), received_at=RECEIVED)
    assert (event.kind, event.external_id, event.action.value) == ("order", "450789469", "upsert")


def test_a_completed_checkout_update_is_a_conversion_of_the_cart() -> None:
    checkout = records("abandoned_checkouts_list.json")[0]
    assert checkout["completed_at"] is None
    open_event = parse_event(
        "shopify", headers("checkouts/update"), body(checkout), received_at=RECEIVED
    )
    assert open_event.action.value == "upsert"
    done = {**checkout, "completed_at": "2012-10-12T08:00:00-04:00"}
    event = parse_event("shopify", headers("checkouts/update"), body(done), received_at=RECEIVED)
    assert (event.kind, event.external_id, event.action.value) == (
        "cart",
        str(checkout["id"]),
        "convert",
    )
    paid = parse_event("shopify", headers("checkouts/paid"), body(done), received_at=RECEIVED)
    assert (paid.external_id, paid.action.value) == (str(checkout["id"]), "convert")


def test_app_uninstalled_is_a_store_event() -> None:
    shop = {"id": 548380009, "name": "Acme", "domain": SHOP, "myshopify_domain": SHOP}
    event = parse_event("shopify", headers("app/uninstalled"), body(shop), received_at=RECEIVED)
    assert (event.kind, event.external_id, event.action.value) == ("store", None, "uninstall")


# -- privacy topics -------------------------------------------------------------------------


def test_customer_redaction_names_who_and_which_orders() -> None:
    request = {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [299938, 280263, 220458],
    }
    event = parse_event("shopify", headers("customers/redact"), body(request), received_at=RECEIVED)
    assert (event.kind, event.external_id, event.action.value) == ("customer", "191167", "redact")
    assert dict(event.subject) == {
        "customer_id": "191167",
        "email": "john@example.com",
        "phone": "555-625-1199",
        "order_ids": ["299938", "280263", "220458"],
    }


def test_a_redaction_with_only_an_email_still_reads() -> None:
    request = {"shop_id": 954889, "shop_domain": SHOP, "customer": {"email": "john@example.com"}}
    event = parse_event("shopify", headers("customers/redact"), body(request), received_at=RECEIVED)
    assert event.external_id is None
    assert dict(event.subject) == {
        "customer_id": None, "email": "john@example.com", "phone": None, "order_ids": []
    }  # fmt: skip


def test_a_data_request_carries_its_id() -> None:
    request = {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "orders_requested": [299938],
        "customer": {"id": 191167, "email": "john@example.com", "phone": None},
        "data_request": {"id": 9999},
    }
    event = parse_event(
        "shopify", headers("customers/data_request"), body(request), received_at=RECEIVED
    )
    assert (event.kind, event.external_id, event.action.value) == (
        "customer",
        "191167",
        "data_request",
    )
    assert event.subject["order_ids"] == ["299938"]
    assert event.subject["data_request_id"] == "9999"


def test_store_redaction_is_a_store_event_and_the_body_names_the_shop() -> None:
    no_header = {"X-Shopify-Topic": "shop/redact"}  # the body alone names the shop
    event = parse_event(
        "shopify", no_header, b'{"shop_id": 954889, "shop_domain": "Acme.myshopify.com"}',
        received_at=RECEIVED,
    )  # fmt: skip
    assert (event.kind, event.action.value, event.store_id) == ("store", "redact", SHOP)
    assert dict(event.subject) == {}


# -- identity, time, unknown topics ---------------------------------------------------------


def test_triggered_at_dates_the_event_and_nanoseconds_are_read() -> None:
    stamp = {"X-Shopify-Triggered-At": "2024-10-04T16:00:01.123456789Z"}
    order = records("order_get.json")[0]
    event = parse_event(
        "shopify", headers("orders/updated", **stamp), body(order), received_at=RECEIVED
    )
    assert event.occurred_at == dt.datetime(2024, 10, 4, 16, 0, 1, 123456, tzinfo=dt.timezone.utc)
    junk = parse_event(
        "shopify", headers("orders/updated", **{"X-Shopify-Triggered-At": "soon"}), body(order),
        received_at=RECEIVED,
    )  # fmt: skip
    assert junk.occurred_at == parse_order(order).updated_at


def test_the_webhook_id_is_the_dedupe_key_not_the_event_id() -> None:
    order = body(records("order_get.json")[0])
    a = parse_event("shopify", headers("orders/create", **{"X-Shopify-Event-Id": "e1"}), order,
                    received_at=RECEIVED)  # fmt: skip
    b = parse_event("shopify", headers("orders/updated", **{"X-Shopify-Event-Id": "e1"}), order,
                    received_at=RECEIVED)  # fmt: skip
    assert a.event_id != b.event_id  # one merchant action, two deliveries to act on


def test_without_a_webhook_id_the_same_bytes_give_the_same_id() -> None:
    order = body(records("order_get.json")[0])
    bare = {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP}
    first = parse_event("shopify", bare, order, received_at=RECEIVED).event_id
    again = parse_event("shopify", bare, order, received_at=RECEIVED).event_id
    other = parse_event("shopify", bare, order + b" ", received_at=RECEIVED).event_id
    assert first == again != other
    assert first.startswith("sha256:")


@pytest.mark.parametrize("topic", ["bulk_operations/finish", "carts/update", "orders/edited", "x"])
def test_unknown_and_unread_topics_are_other(topic: str) -> None:
    event = parse_event("shopify", headers(topic), b'{"id": 1}', received_at=RECEIVED)
    assert (event.action.value, event.kind, event.external_id) == ("other", None, None)


def test_topic_and_header_names_are_read_in_any_case() -> None:
    order = body(records("order_get.json")[0])
    event = parse_event(
        "shopify", {"HTTP_X_SHOPIFY_TOPIC": "Orders/Create", "x-shopify-shop-domain": SHOP},
        order, received_at=RECEIVED,
    )  # fmt: skip
    assert (event.kind, event.action.value) == ("order", "upsert")


# -- malformed deliveries -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hdrs", "raw", "path"),
    [
        (headers("orders/create"), b"not json", "$"),
        (headers("orders/create"), b"[1, 2]", "$"),
        (headers("orders/create"), b'"an order"', "$"),
        ({"X-Shopify-Shop-Domain": SHOP}, b'{"id": 1}', "headers.x-shopify-topic"),
        ({"X-Shopify-Topic": "orders/create"}, b'{"id": 1}', "headers.x-shopify-shop-domain"),
        (headers("orders/create"), b'{"name": "#1001"}', "$.id"),
        (headers("orders/create"), b'{"id": {"n": 1}}', "$.id"),
        (headers("refunds/create"), b'{"id": 5}', "$.order_id"),
        (headers("customers/redact"), b'{"customer": "john"}', "$.customer"),
        (headers("customers/redact"), b'{"orders_to_redact": 7}', "$.orders_to_redact"),
    ],
)
def test_malformed_deliveries_name_the_path(hdrs: dict[str, str], raw: bytes, path: str) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event("shopify", hdrs, raw, received_at=RECEIVED)
    assert path in [p.path for p in caught.value.problems]


# -- the topic table against the published schema -------------------------------------------


def test_every_subscribable_topic_is_in_the_published_enum() -> None:
    enum = official_schema().type_map["WebhookSubscriptionTopic"]
    values = set(enum.values)  # type: ignore[attr-defined]
    for topic, rule in TOPICS.items():
        assert (topic_enum(topic) in values) is rule.subscribable, topic
        assert topic_name(topic_enum(topic)) == topic


def test_privacy_topics_cannot_be_subscribed_through_the_api() -> None:
    values = set(official_schema().type_map["WebhookSubscriptionTopic"].values)  # type: ignore[attr-defined]
    assert set(PRIVACY_TOPICS) == {"customers/redact", "customers/data_request", "shop/redact"}
    assert not {topic_enum(t) for t in PRIVACY_TOPICS} & values
    assert not PRIVACY_TOPICS & set(DEFAULT_TOPICS)


def test_default_topics_cover_every_kind_and_the_uninstall() -> None:
    assert default_topics("shopify") == DEFAULT_TOPICS
    kinds = {(TOPICS[t].kind, TOPICS[t].action.value) for t in DEFAULT_TOPICS}
    for kind in ("order", "customer", "product", "cart"):
        assert (kind, "upsert") in kinds
        assert (kind, "delete") in kinds
    assert ("cart", "convert") in kinds
    assert ("store", "uninstall") in kinds


def test_the_official_webhook_list_topics_read_as_expected() -> None:
    listed = {w["topic"] for w in example("webhooks_list.json")["webhooks"]}
    assert listed == {"orders/create", "orders/cancelled", "app/uninstalled"}
    assert {t: TOPICS[t].action.value for t in listed} == {
        "orders/create": "upsert", "orders/cancelled": "upsert", "app/uninstalled": "uninstall",
    }  # fmt: skip


def test_a_signed_body_of_another_topic_replayed_as_a_privacy_topic_is_refused() -> None:
    from commerce_connectors.errors import WebhookPayloadError

    order_body = {"id": 450789469, "email": "bob@example.com", "customer": {"id": 1},
                  "line_items": [], "shop_domain": SHOP}  # fmt: skip
    for topic in ("shop/redact", "customers/redact", "customers/data_request"):
        with pytest.raises(WebhookPayloadError, match="unexpected keys"):
            parse_event("shopify", headers(topic), body(order_body), received_at=RECEIVED)
    other_shop = {"shop_id": 1, "shop_domain": "someone-else.myshopify.com"}
    with pytest.raises(WebhookPayloadError, match="another shop"):
        parse_event("shopify", headers("shop/redact"), body(other_shop), received_at=RECEIVED)
