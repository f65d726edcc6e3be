"""Reading Tiendanube deliveries into WebhookEvents: the documented bodies, every topic,
unknown topics and malformed bodies.

The fixtures follow resources/webhook.md: the "Example webhook content" block (read
from the docs themselves), and the three data-protection payloads of "Required
Webhooks", whose sketches there are not valid JSON (unquoted e-mail, ``+55...``), so
they are written out here with the documented keys.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from tiendanube_webhook_kit import SPECS, official_example_delivery, parse_event

from commerce_connectors.errors import WebhookPayloadError
from commerce_connectors.models import Platform
from commerce_connectors.platforms.tiendanube import parse_order
from commerce_connectors.platforms.tiendanube.webhooks import (
    DEFAULT_TOPICS,
    PRIVACY_TOPICS,
    TOPICS,
    topic_rule,
)
from commerce_connectors.testing.simulators.tiendanube import PRIVACY_EVENTS, WEBHOOK_EVENTS
from commerce_connectors.webhooks import WebhookAction, default_topics

AT = dt.datetime(2024, 10, 1, 12, 30, 15, 123456, tzinfo=dt.timezone.utc)

# "customers/redact" as documented (keys store_id, customer{id,email,phone,identification},
# orders_to_redact), with the general rule's "event" field.
CUSTOMERS_REDACT = {
    "store_id": 123,
    "event": "customers/redact",
    "customer": {
        "id": 1,
        "email": "email@email.com",
        "phone": "+5511999990000",
        "identification": "28776255670",
    },
    "orders_to_redact": [213, 3415, 21515],
}
# "customers/data_request" as documented.
CUSTOMERS_DATA_REQUEST = {
    "store_id": 123,
    "event": "customers/data_request",
    "customer": {
        "id": 1,
        "email": "email@email.com",
        "phone": "+5511999990000",
        "identification": "28776255670",
    },
    "orders_requested": [213, 3415, 21515],
    "checkouts_requested": [214, 3416, 21518],
    "drafts_orders_requested": [10, 1245, 5456],
    "data_request": {"id": 456},
}


def _read(payload: Any, received_at: dt.datetime = AT) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_event("tiendanube", {}, body, received_at=received_at)


def test_the_official_example_delivery() -> None:
    _, body = official_example_delivery()
    event = _read(body)
    assert event.platform is Platform.TIENDANUBE
    assert (event.store_id, event.topic, event.kind, event.external_id) == (
        "123",
        "product/created",
        "product",
        "1948209",
    )
    assert event.action is WebhookAction.UPSERT
    assert event.payload == {"store_id": 123, "event": "product/created", "id": 1948209}
    assert event.location_id is None
    assert event.subject == {}


def test_time_and_dedupe_key_come_from_the_arrival() -> None:
    event = _read({"store_id": 123, "event": "order/paid", "id": 456})
    assert event.occurred_at == AT
    assert event.occurred_at.tzinfo == dt.timezone.utc
    assert event.event_id == "123:order/paid:456:2024-10-01T12:30:15.123456+00:00"
    # Another timezone: the same instant, the same key.
    local = AT.astimezone(dt.timezone(dt.timedelta(hours=-3)))
    again = _read({"store_id": 123, "event": "order/paid", "id": 456}, local)
    assert again.event_id == event.event_id
    assert again.occurred_at == AT


def test_two_arrivals_are_never_one_event_even_within_a_second() -> None:
    body = {"store_id": 123, "event": "order/updated", "id": 9}
    first = _read(body, AT.replace(microsecond=1))
    same_second = _read(body, AT.replace(microsecond=999_999))
    assert first.event_id != same_second.event_id  # a genuine second update is not lost
    assert _read(body, AT.replace(microsecond=1)).event_id == first.event_id
    # Another event about the same record is another event.
    assert _read({**body, "event": "order/paid"}, AT).event_id != first.event_id


def test_the_external_id_is_the_parsers() -> None:
    order = parse_order(
        {
            "id": 450789469,
            "currency": "ARS",
            "total": "10.00",
            "status": "open",
            "payment_status": "paid",
            "created_at": "2024-01-01T00:00:00-0300",
            "updated_at": "2024-01-01T00:00:00-0300",
        }
    )
    event = _read({"store_id": 1, "event": "order/paid", "id": 450789469})
    assert event.external_id == order.external_id


@pytest.mark.parametrize(
    ("topic", "kind", "action"),
    [
        ("order/created", "order", WebhookAction.UPSERT),
        ("order/updated", "order", WebhookAction.UPSERT),
        ("order/paid", "order", WebhookAction.UPSERT),
        ("order/packed", "order", WebhookAction.UPSERT),
        ("order/fulfilled", "order", WebhookAction.UPSERT),
        ("order/cancelled", "order", WebhookAction.UPSERT),
        ("order/voided", "order", WebhookAction.UPSERT),
        ("customer/created", "customer", WebhookAction.UPSERT),
        ("customer/updated", "customer", WebhookAction.UPSERT),
        ("customer/deleted", "customer", WebhookAction.DELETE),
        ("product/created", "product", WebhookAction.UPSERT),
        ("product/updated", "product", WebhookAction.UPSERT),
        ("product/deleted", "product", WebhookAction.DELETE),
        ("category/updated", None, WebhookAction.OTHER),
        ("cart/created", "cart", WebhookAction.OTHER),
    ],
)
def test_record_topics(topic: str, kind: str | None, action: WebhookAction) -> None:
    event = _read({"store_id": 7, "event": topic, "id": 31})
    assert (event.kind, event.action) == (kind, action)
    assert event.external_id == ("31" if kind else None)


@pytest.mark.parametrize(
    ("topic", "action"),
    [
        ("app/uninstalled", WebhookAction.UNINSTALL),
        # A suspension (unpaid app) is temporary and keeps the token: not an uninstall.
        ("app/suspended", WebhookAction.SUSPEND),
        ("app/resumed", WebhookAction.RESUME),
    ],
)
def test_app_lifecycle(topic: str, action: WebhookAction) -> None:
    # app/uninstalled's id is the app's id, not a record's.
    event = _read({"store_id": 7, "event": topic, "id": 4321})
    assert (event.kind, event.action, event.external_id) == ("store", action, None)
    assert event.event_id.startswith(f"7:{topic}:4321:")


@pytest.mark.parametrize("body", [{"store_id": 123, "event": "store/redact"}, {"store_id": 123}])
def test_store_redact_with_or_without_event_field(body: dict[str, Any]) -> None:
    event = _read(body)
    assert (event.topic, event.kind, event.action) == ("store/redact", "store", "redact")
    assert event.external_id is None
    assert event.store_id == "123"


@pytest.mark.parametrize("with_event", [True, False])
def test_customers_redact(with_event: bool) -> None:
    body = dict(CUSTOMERS_REDACT)
    if not with_event:
        del body["event"]
    event = _read(body)
    assert (event.topic, event.kind, event.action) == (
        "customers/redact",
        "customer",
        WebhookAction.REDACT,
    )
    assert event.external_id == "1"
    assert event.subject == {
        "customer_id": "1",
        "email": "email@email.com",
        "phone": "+5511999990000",
        "identification": "28776255670",
        "order_ids": ["213", "3415", "21515"],
    }
    assert event.event_id == "123:customers/redact:1:2024-10-01T12:30:15.123456+00:00"


@pytest.mark.parametrize("with_event", [True, False])
def test_customers_data_request(with_event: bool) -> None:
    body = dict(CUSTOMERS_DATA_REQUEST)
    if not with_event:
        del body["event"]
    event = _read(body)
    assert (event.topic, event.kind, event.action) == (
        "customers/data_request",
        "customer",
        WebhookAction.DATA_REQUEST,
    )
    assert event.subject["customer_id"] == event.external_id == "1"
    assert event.subject["order_ids"] == ["213", "3415", "21515"]
    assert event.subject["checkout_ids"] == ["214", "3416", "21518"]
    assert event.subject["draft_order_ids"] == ["10", "1245", "5456"]
    assert event.subject["data_request_id"] == "456"
    # Two requests about one customer are two events: the request id is the reference.
    assert event.event_id == "123:customers/data_request:456:2024-10-01T12:30:15.123456+00:00"


def test_privacy_payloads_are_read_defensively() -> None:
    # Parts missing or of another type: the event is kept (never refused), parts None.
    event = _read(
        {
            "store_id": "123",
            "event": "customers/redact",
            "customer": {"email": "", "phone": 5511999990000},
            "orders_to_redact": [1, None, True, "2"],
        }
    )
    assert event.action is WebhookAction.REDACT
    assert event.subject == {
        "customer_id": None,
        "email": None,
        "phone": "5511999990000",
        "identification": None,
        "order_ids": ["1", "2"],
    }
    bare = _read({"store_id": 1, "event": "customers/data_request", "customer": "?"})
    assert bare.subject["customer_id"] is None
    assert bare.subject["order_ids"] == []
    assert bare.subject["data_request_id"] is None


@pytest.mark.parametrize("topic", ["location/created", "fulfillment/updated", "theme/updated"])
def test_unknown_and_unused_topics_are_other(topic: str) -> None:
    event = _read({"store_id": 7, "event": topic, "id": 1, "extra": {"x": 1}})
    assert event.action is WebhookAction.OTHER
    assert event.kind is None
    assert event.payload["extra"] == {"x": 1}


def test_an_event_without_id_is_kept_when_it_names_no_record() -> None:
    event = _read({"store_id": 7, "event": "domain/updated"})
    assert event.event_id == "7:domain/updated::2024-10-01T12:30:15.123456+00:00"


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (b"not json", {"$"}),
        (b"\xff\xfe", {"$"}),
        (b"[1, 2]", {"$"}),
        (b'"order/paid"', {"$"}),
        (b'{"store_id": 1, "id": 2}', {"$.event"}),
        (b'{"store_id": 1, "event": 5, "id": 2}', {"$.event"}),
        (b'{"store_id": 1, "event": "  ", "id": 2}', {"$.event"}),
        (b'{"event": "order/paid", "id": 2}', {"$.store_id"}),
        (b'{"store_id": true, "event": "order/paid", "id": 2}', {"$.store_id"}),
        (b'{"store_id": 1, "event": "order/paid"}', {"$.id"}),
        (b'{"store_id": 1, "event": "product/deleted", "id": null}', {"$.id"}),
        (b'{"id": 2}', {"$.event", "$.store_id"}),
    ],
)
def test_malformed_bodies_name_every_bad_path(body: bytes, paths: set[str]) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        _read(body)
    assert {p.path for p in info.value.problems} == paths
    assert info.value.platform == "tiendanube"


def test_topic_table_and_default_topics() -> None:
    assert topic_rule("nope/nope") == (None, WebhookAction.OTHER)
    assert set(DEFAULT_TOPICS) <= set(TOPICS)
    assert len(set(DEFAULT_TOPICS)) == len(DEFAULT_TOPICS)
    assert not set(DEFAULT_TOPICS) & set(PRIVACY_TOPICS)
    assert default_topics("tiendanube") == DEFAULT_TOPICS
    # Orders, customers and products, created/updated; the uninstall.
    for needed in ("order/created", "order/paid", "customer/updated", "product/updated"):
        assert needed in DEFAULT_TOPICS
    assert "app/uninstalled" in DEFAULT_TOPICS
    # The simulator (written apart) accepts every default topic and none of the privacy ones.
    assert set(DEFAULT_TOPICS) <= set(WEBHOOK_EVENTS)
    assert set(PRIVACY_TOPICS) == set(PRIVACY_EVENTS)
    assert not set(PRIVACY_EVENTS) & set(WEBHOOK_EVENTS)


def test_default_topics_are_documented() -> None:
    # The events table of resources/webhook.md ("| Order | created/updated/... |").
    text = (SPECS / "webhook.md").read_text(encoding="utf-8")
    documented = set()
    for category, events in re.findall(r"^\| (\w+)\s*\| ([\w/]+)\s*\|$", text, re.MULTILINE):
        documented |= {f"{category.lower()}/{e}" for e in events.split("/")}
    assert "order/paid" in documented
    # customer/* come from the 2025-03 docs (shared/platforms/tiendanube.md §4.6), which
    # postdate this copy of the docs.
    newer = {t for t in DEFAULT_TOPICS if t.startswith("customer/")}
    assert set(DEFAULT_TOPICS) - newer <= documented
