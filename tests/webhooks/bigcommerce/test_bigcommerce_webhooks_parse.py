"""Reading BigCommerce deliveries into events: the official examples, the topic table, errors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from bigcommerce_webhook_support import EXAMPLES, body_of, example_bytes, spec_scope_titles

from commerce_connectors.errors import WebhookPayloadError
from commerce_connectors.models import Platform
from commerce_connectors.platforms.bigcommerce.webhooks import DEFAULT_TOPICS, TOPICS
from commerce_connectors.testing.simulators.bigcommerce import WEBHOOK_SCOPES
from commerce_connectors.webhooks import WebhookAction, WebhookEvent, default_topics, parse_event

UTC = dt.timezone.utc
RECEIVED = dt.datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
UPSERT, DELETE, OTHER = WebhookAction.UPSERT, WebhookAction.DELETE, WebhookAction.OTHER
CART_A = "09346904-4175-44fd-be53-f7e598531b6c"

#: file -> (topic, kind, external id, action, created_at), read off each example by hand.
OFFICIAL = {
    "webhook_store_cart_abandoned.json": (
        "store/cart/abandoned",
        "cart",
        CART_A,
        UPSERT,
        1561482670,
    ),
    "webhook_store_cart_converted.json": (
        "store/cart/converted",
        "cart",
        "d30016e2-23c0-4a90-884f-2e92ac135476",
        WebhookAction.CONVERT,
        1561486893,
    ),
    "webhook_store_cart_created.json": ("store/cart/created", "cart", CART_A, OTHER, 1561482670),
    "webhook_store_customer_created.json": (
        "store/customer/created",
        "customer",
        "32",
        UPSERT,
        1561481571,
    ),
    # The published "updated" example carries the scope store/customer/created: the
    # body, not the file name, decides.
    "webhook_store_customer_updated.json": (
        "store/customer/created",
        "customer",
        "32",
        UPSERT,
        1561481571,
    ),
    "webhook_store_order_created.json": ("store/order/created", "order", "250", UPSERT, 1561479335),
    "webhook_store_order_statusUpdated.json": (
        "store/order/statusUpdated",
        "order",
        "250",
        UPSERT,
        1561479335,
    ),
    "webhook_store_order_updated.json": ("store/order/updated", "order", "250", UPSERT, 1561479335),
}


def parse(body: bytes, headers: dict[str, str] | None = None) -> WebhookEvent:
    return parse_event("bigcommerce", headers or {}, body, received_at=RECEIVED)


def test_every_official_example_is_in_the_table() -> None:
    assert {p.name for p in EXAMPLES.glob("webhook_*.json")} == set(OFFICIAL)


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_example(name: str) -> None:
    topic, kind, external_id, action, created = OFFICIAL[name]
    body = example_bytes(name)
    event = parse(body, {"Webhook-Id": "msg_abc"})
    assert event.platform is Platform.BIGCOMMERCE
    assert (event.topic, event.kind, event.external_id, event.action) == (
        topic,
        kind,
        external_id,
        action,
    )
    assert event.occurred_at == dt.datetime.fromtimestamp(created, UTC)
    assert event.occurred_at.tzinfo is UTC
    # The examples keep the producer placeholder literally: "stores/{store_hash}".
    assert event.store_id == "{store_hash}"
    assert event.event_id == "msg_abc"
    assert event.payload == json.loads(body)
    assert event.location_id is None


def test_without_a_webhook_id_the_event_id_is_stable_and_tells_events_apart() -> None:
    created = example_bytes("webhook_store_order_created.json")
    updated = example_bytes("webhook_store_order_updated.json")
    # The documented hash is the same on both (it hashes the data: the same order).
    assert json.loads(created)["hash"] == json.loads(updated)["hash"]
    assert parse(created).event_id == parse(created).event_id  # a redelivery
    assert parse(created).event_id != parse(updated).event_id
    later = json.loads(updated)
    later["created_at"] += 60  # the same order updated again a minute later
    assert parse(json.dumps(later).encode()).event_id != parse(updated).event_id


def test_without_id_or_hash_the_body_bytes_identify_the_event() -> None:
    payload = json.loads(example_bytes("webhook_store_order_created.json"))
    del payload["hash"]
    body = json.dumps(payload).encode()
    assert parse(body).event_id == parse(body).event_id
    assert parse(body).event_id.startswith("sha256:")


def test_the_store_is_the_hash_in_producer() -> None:
    event = parse(body_of("store/order/created", {"type": "order", "id": 7}, "q8x2m4"))
    assert event.store_id == "q8x2m4"
    assert event.payload["store_id"] == "1025646"  # the numeric id stays in the payload


def test_occurred_at_falls_back_to_the_signed_timestamp_then_to_receipt() -> None:
    # The overview's example body has no created_at.
    body = json.dumps(
        {
            "store_id": "11111",
            "producer": "stores/abcde",
            "scope": "store/order/statusUpdated",
            "data": {"type": "order", "id": 173331},
            "hash": "3f9ea420af83450d7ef9f78b08c8af25b2213637",
        }
    ).encode()
    assert parse(body, {"webhook-timestamp": "1700000000"}).occurred_at == dt.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=UTC
    )
    event = parse(body)
    assert (event.occurred_at, event.external_id, event.store_id) == (RECEIVED, "173331", "abcde")


@pytest.mark.parametrize(
    ("scope", "data", "kind", "external_id", "action"),
    [
        ("store/customer/deleted", {"type": "customer", "id": 32}, "customer", "32", DELETE),
        (
            "store/customer/address/updated",
            {"type": "customer", "id": 60, "address": {"customer_id": 32}},
            "customer",
            "32",
            UPSERT,
        ),
        ("store/product/updated", {"type": "product", "id": 205}, "product", "205", UPSERT),
        ("store/product/deleted", {"type": "product", "id": 205}, "product", "205", DELETE),
        ("store/cart/deleted", {"type": "cart", "id": CART_A}, "cart", CART_A, DELETE),
        (
            "store/cart/lineItem/created",
            {"type": "cart_line_item", "id": "743bfd94", "cartId": "b0386708"},
            "cart",
            "b0386708",
            OTHER,
        ),
        ("store/cart/updated", {"type": "cart", "id": CART_A}, "cart", CART_A, OTHER),
        (
            "store/order/refund/created",
            {"type": "order", "id": 250, "refund": {"refund_id": 3}},
            "order",
            "250",
            UPSERT,
        ),
        ("store/order/archived", {"type": "order", "id": 250}, "order", "250", UPSERT),
        (
            "store/order/transaction/created",
            {"type": "transaction", "order_id": 250, "transaction_id": "176342342"},
            "order",
            "250",
            OTHER,
        ),
        ("store/app/uninstalled", {"type": "store"}, "store", None, WebhookAction.UNINSTALL),
        ("store/information/updated", {"type": "store"}, "store", None, OTHER),
        ("store/subscriber/created", {"type": "subscriber", "id": 5}, None, None, OTHER),
        ("store/priceList/records/created", [{"price_list_id": 1}], None, None, OTHER),
        ("store/something/new", {"type": "thing", "id": 1}, None, None, OTHER),
    ],
)
def test_topic_table(
    scope: str, data: Any, kind: str | None, external_id: str | None, action: WebhookAction
) -> None:
    payload = json.loads(body_of(scope, {}, "abc123"))
    payload["data"] = data
    event = parse(json.dumps(payload).encode())
    assert (event.kind, event.external_id, event.action) == (kind, external_id, action)


def test_no_event_reads_as_a_redaction_or_a_data_request() -> None:
    # BigCommerce has no privacy webhooks: nothing in the table maps there.
    actions = {rule.action for rule in TOPICS.values()}
    assert WebhookAction.REDACT not in actions
    assert WebhookAction.DATA_REQUEST not in actions


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"not json", "$"),
        (b"\xff\xfe", "$"),
        (b"[1, 2]", "$"),
        (b'"store/order/created"', "$"),
        (b'{"producer": "stores/abc", "data": {}}', "$.scope"),
        (b'{"scope": "", "producer": "stores/abc"}', "$.scope"),
        (b'{"scope": "store/order/created", "data": {"id": 1}}', "$.producer"),
        (b'{"scope": "store/order/created", "producer": "abc", "data": {"id": 1}}', "$.producer"),
        (b'{"scope": "x", "producer": "stores/", "data": {}}', "$.producer"),
        (
            b'{"scope": "x", "producer": "stores/a", "created_at": "1561479335"}',
            "$.created_at",
        ),
        (b'{"scope": "x", "producer": "stores/a", "created_at": true}', "$.created_at"),
        (b'{"scope": "store/order/created", "producer": "stores/a", "data": {}}', "$.data.id"),
        (
            b'{"scope": "store/order/created", "producer": "stores/a", "data": {"id": true}}',
            "$.data.id",
        ),
        (b'{"scope": "store/cart/converted", "producer": "stores/a", "data": []}', "$.data"),
        (
            b'{"scope": "store/customer/address/created", "producer": "stores/a",'
            b' "data": {"id": 60}}',
            "$.data.address.customer_id",
        ),
    ],
)
def test_a_malformed_body_names_the_path(body: bytes, path: str) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse(body)
    assert path in [p.path for p in caught.value.problems]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse(b'{"created_at": "soon", "data": {}}')
    assert [p.path for p in caught.value.problems] == ["$.scope", "$.producer", "$.created_at"]


def test_the_topic_table_and_default_topics_follow_the_reference() -> None:
    documented = spec_scope_titles()
    assert set(DEFAULT_TOPICS) <= documented
    assert len(set(DEFAULT_TOPICS)) == len(DEFAULT_TOPICS)
    # Two order events are only in the events guide, not in the reference file.
    guide_only = {"store/order/transaction/created", "store/order/transaction/updated"}
    assert set(TOPICS) - documented == guide_only
    assert default_topics("bigcommerce") == DEFAULT_TOPICS


def test_default_topics_cover_every_record_kind_and_uninstall() -> None:
    kinds = {(TOPICS[t].kind, TOPICS[t].action) for t in DEFAULT_TOPICS}
    for kind in ("order", "customer", "product", "cart"):
        assert (kind, UPSERT) in kinds
    assert ("cart", WebhookAction.CONVERT) in kinds
    assert ("store", WebhookAction.UNINSTALL) in kinds


def test_the_simulator_accepts_exactly_the_documented_scopes() -> None:
    assert spec_scope_titles() == WEBHOOK_SCOPES
