"""Reading Square notifications into events: the official examples, our own, the bad ones."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors._webhooks import WebhookAction
from commerce_connectors.errors import WebhookPayloadError
from commerce_connectors.models import Platform
from commerce_connectors.platforms.square.webhooks import DEFAULT_TOPICS, TOPICS

try:  # the public façade, once it exists; the dispatch module until then
    from commerce_connectors.webhooks import parse_event
except ImportError:
    from commerce_connectors.webhooks._schemes import parse_event

EXAMPLES = Path(__file__).parents[3] / ".." / "shared" / "official-examples" / "square"
RECEIVED = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc

# What each official example must read as (our expectations, written from the examples).
EXPECTED: dict[str, dict[str, Any]] = {
    "webhook_order_created.json": {
        "topic": "order.created",
        "kind": "order",
        "external_id": "eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
        "location_id": "FPYCBCHYMXFK1",
        "store_id": "5S9MXCS9Y99KK",
        "event_id": "116038d3-2948-439f-8679-fc86dbf80f69",
        "occurred_at": dt.datetime(2020, 4, 16, 23, 14, 26, 129000, tzinfo=UTC),
    },
    "webhook_order_updated.json": {
        "topic": "order.updated",
        "kind": "order",
        "external_id": "eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
        "location_id": "FPYCBCHYMXFK1",
        "store_id": "5S9MXCS9Y99KK",
        "event_id": "4b8e5c91-9f17-4cf1-900a-4a0629f81add",
        "occurred_at": dt.datetime(2020, 4, 16, 23, 14, 26, 359000, tzinfo=UTC),
    },
    # A payment's record is its order: external_id is the payment's order_id (the
    # example's data.id differs from its payment's id; the payment object wins).
    "webhook_payment_created.json": {
        "topic": "payment.created",
        "kind": "order",
        "external_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY",
        "location_id": "S8GWD5R9QB376",
        "store_id": "6SSW7HV8K2ST5",
        "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
        "occurred_at": dt.datetime(2020, 2, 6, 21, 27, 30, 792000, tzinfo=UTC),
    },
    "webhook_payment_updated.json": {
        "topic": "payment.updated",
        "kind": "order",
        "external_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY",
        "location_id": "S8GWD5R9QB376",
        "store_id": "6SSW7HV8K2ST5",
        "event_id": "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",
        "occurred_at": dt.datetime(2020, 2, 6, 21, 27, 34, 308000, tzinfo=UTC),
    },
    "webhook_customer_created.json": {
        "topic": "customer.created",
        "kind": "customer",
        "external_id": "QPTXM8PQNX3Q726ZYHPMNP46XC",
        "location_id": None,
        "store_id": "G7MMEBVW021Q4",
        "event_id": "e12b5591-e0b6-4967-810a-307c7efcb1a7",
        "occurred_at": dt.datetime(2022, 11, 9, 21, 23, 25, tzinfo=UTC),
    },
    "webhook_customer_updated.json": {
        "topic": "customer.updated",
        "kind": "customer",
        "external_id": "A0AP25A6SCVTH8JES9BX01GXM4",
        "location_id": None,
        "store_id": "G7MMEBVW021Q4",
        "event_id": "b4ce4698-00de-4b5d-a771-4941b3913b34",
        "occurred_at": dt.datetime(2022, 11, 9, 21, 38, 29, tzinfo=UTC),
    },
    # Nanoseconds in created_at: kept to the microsecond.
    "webhook_catalog_version_updated.json": {
        "topic": "catalog.version.updated",
        "kind": "product",
        "external_id": None,
        "location_id": None,
        "store_id": "6SSW7HV8K2ST5",
        "event_id": "aeaaa5f6-c4fd-4e93-b688-71b50706266f",
        "occurred_at": dt.datetime(2019, 10, 29, 17, 26, 16, 808603, tzinfo=UTC),
    },
}


def test_every_official_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("webhook_*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_examples(name: str) -> None:
    body = (EXAMPLES / name).read_bytes()
    event = parse_event("square", {"Content-Type": "application/json"}, body, received_at=RECEIVED)
    for field, value in EXPECTED[name].items():
        assert getattr(event, field) == value, field
    assert event.platform is Platform.SQUARE
    assert event.action is WebhookAction.UPSERT
    assert event.payload == json.loads(body)
    assert event.subject == {}


def _body(event_type: str, data: dict[str, Any] | None, **top: Any) -> bytes:
    envelope: dict[str, Any] = {
        "merchant_id": "MLR6SIMMERCHANT",
        "type": event_type,
        "event_id": "0b9f4a0e-4d0c-4c6e-9a51-aa0000000001",
        "created_at": "2026-03-01T10:00:00.250Z",
        **top,
    }
    if data is not None:
        envelope["data"] = data
    return json.dumps(envelope).encode()


# Our own notifications for the types without an official example file (shapes from
# the spec's schemas: RefundCreatedEvent, OrderFulfillmentUpdatedEvent, ...).
OWN = [
    (
        "refund.created",
        {
            "type": "refund",
            "id": "P1_R1",
            "object": {
                "refund": {
                    "id": "P1_R1",
                    "payment_id": "P1",
                    "order_id": "O1",
                    "location_id": "L1",
                    "status": "PENDING",
                    "amount_money": {"amount": 500, "currency": "USD"},
                }
            },
        },
        ("order", WebhookAction.UPSERT, "O1", "L1"),
    ),
    (
        "refund.updated",
        {"type": "refund", "id": "P2_R1", "object": {"refund": {"payment_id": "P2"}}},
        ("order", WebhookAction.UPSERT, None, None),
    ),
    (
        "order.fulfillment.updated",
        {
            "type": "order_fulfillment_updated",
            "id": "O2",
            "object": {
                "order_fulfillment_updated": {
                    "order_id": "O2",
                    "location_id": "L2",
                    "state": "OPEN",
                    "fulfillment_update": [{"old_state": "PROPOSED", "new_state": "RESERVED"}],
                }
            },
        },
        ("order", WebhookAction.UPSERT, "O2", "L2"),
    ),
    (
        "payment.updated",  # a payment without an order: iter_orders names it after itself
        {"type": "payment", "id": "P3", "object": {"payment": {"id": "P3", "location_id": "L1"}}},
        ("order", WebhookAction.UPSERT, "P3", "L1"),
    ),
    (
        "customer.deleted",
        {"type": "customer", "id": "C9", "deleted": True, "object": {"customer": {"id": "C9"}}},
        ("customer", WebhookAction.DELETE, "C9", None),
    ),
    (
        "oauth.authorization.revoked",
        {
            "type": "revocation",
            "id": "415641cf-eba2-4dfa-88cc-c4be1301fdc6",
            "object": {"revocation": {"revoker_type": "MERCHANT"}},
        },
        ("store", WebhookAction.UNINSTALL, None, None),
    ),
    (
        "location.updated",  # carries a top-level location_id; not acted upon
        {"type": "location", "id": "L7"},
        (None, WebhookAction.OTHER, None, "L7"),
    ),
    (
        "webhooks.test_notification",  # the Developer Console's test event
        {"type": "webhooks", "id": "bc368e64-01aa-407e-b46e-3231809b1129"},
        (None, WebhookAction.OTHER, None, None),
    ),
    ("inventory.count.updated", None, (None, WebhookAction.OTHER, None, None)),
    ("some.future.event", {"object": "anything"}, (None, WebhookAction.OTHER, None, None)),
]


@pytest.mark.parametrize(("event_type", "data", "expected"), OWN, ids=[o[0] for o in OWN])
def test_own_notifications(
    event_type: str, data: dict[str, Any] | None, expected: tuple[Any, ...]
) -> None:
    top = {"location_id": "L7"} if event_type == "location.updated" else {}
    event = parse_event("square", {}, _body(event_type, data, **top), received_at=RECEIVED)
    assert (event.kind, event.action, event.external_id, event.location_id) == expected
    assert event.topic == event_type
    assert event.occurred_at == dt.datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert event.event_id == "0b9f4a0e-4d0c-4c6e-9a51-aa0000000001"


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (b"not json", ["$"]),
        (b"[1, 2]", ["$"]),
        (b"\xff\xfe", ["$"]),
        (_body("", {}), ["$.type"]),
        (
            json.dumps(
                {"merchant_id": "M", "event_id": "e", "created_at": "2026-01-01T00:00:00Z"}
            ).encode(),
            ["$.type"],
        ),
        (
            _body("payment.created", {}, event_id=None, merchant_id=7),
            ["$.event_id", "$.merchant_id", "$.data.object.payment.id"],
        ),
        (_body("customer.updated", {"id": "C1"}, created_at="yesterday"), ["$.created_at"]),
        (_body("customer.updated", "C1"), ["$.data", "$.data.id"]),  # type: ignore[arg-type]
        (_body("payment.created", {"type": "payment", "object": {}}), ["$.data.object.payment.id"]),
        (
            _body("order.updated", {"object": {"order_updated": {}}}),
            ["$.data.object.order_updated.order_id"],
        ),
        (_body("customer.deleted", None), ["$.data.id"]),
    ],
)
def test_malformed_bodies_name_every_bad_path(body: bytes, paths: list[str]) -> None:
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event("square", {}, body, received_at=RECEIVED)
    assert [p.path for p in caught.value.problems] == paths
    assert caught.value.platform == "square"


def test_default_topics_are_published_event_types(spec: Any) -> None:
    published = spec.event_types()
    assert set(DEFAULT_TOPICS) <= set(published), set(DEFAULT_TOPICS) - set(published)
    assert set(TOPICS) <= set(published)
    assert len(DEFAULT_TOPICS) == len(set(DEFAULT_TOPICS))


def test_the_check_against_published_types_can_fail(spec: Any) -> None:
    # "payment.succeeded" is what a forum poster tried; Square publishes no such type.
    assert "payment.succeeded" not in spec.event_types()
    assert "customer.updated" in spec.event_types()


def test_the_topic_table_names_the_object_the_spec_puts_under_data_object(spec: Any) -> None:
    names = spec.event_types()
    for topic, rule in TOPICS.items():
        if rule.holder is None:
            continue
        event = spec.schemas[names[topic]]
        data = spec._resolve(event["properties"]["data"])
        holder_schema = spec._resolve(data["properties"]["object"])
        assert rule.holder in holder_schema["properties"], topic
