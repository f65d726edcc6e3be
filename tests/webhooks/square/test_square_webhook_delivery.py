"""Signed notifications from the simulator, over real HTTP on 127.0.0.1, checked by the
library's verify: the simulator signs with its own hmac code, so this is an independent
check of both sides."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from commerce_connectors.errors import WebhookVerificationError
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.testing.simulators.square import EMITTED_EVENT_TYPES, SquareSimulator

try:  # the public façade, once it exists; the dispatch module until then
    from commerce_connectors.webhooks import parse_event, verify
except ImportError:
    from commerce_connectors.webhooks._schemes import parse_event, verify

PUBLIC = "https://hooks.example.com/square/notify"
Connect = Callable[..., SquareConnector]


class Receiver:
    """A tiny webhook endpoint: verifies each POST with the library, 200 or 401."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.url = PUBLIC
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[str] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    verify(
                        "square",
                        dict(self.headers.items()),
                        body,
                        secret=receiver.keys,
                        url=receiver.url,
                    )
                except WebhookVerificationError as exc:
                    receiver.refused.append(exc.check)
                    self.send_response(401)
                else:
                    event = parse_event("square", dict(self.headers.items()), body)
                    receiver.accepted.append({"event": event, "headers": dict(self.headers)})
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.local = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for it.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver(sim: SquareSimulator) -> Iterator[Receiver]:
    endpoint = Receiver()
    # Square delivers to the public https URL; a tunnel brings it to the loopback.
    sim.webhooks.forward("https://hooks.example.com/", endpoint.local + "/")
    yield endpoint
    endpoint.close()
    sim.webhooks.close()


def _changes(sim: SquareSimulator) -> None:
    location = sim.locations[0].id
    (payment,) = sim.add_sale(location, via_api=True)
    sim.refund(payment, partial=True)
    sim.update("customers", sorted(sim.customer_ids_with_email())[0], {"nickname": "Zed"})
    sim.add_customer(email="late@example.com")
    sim.update("catalog", sorted(sim.item_ids(location))[0])


def test_signed_notifications_reach_the_receiver(
    connect: Connect, sim: SquareSimulator, receiver: Receiver
) -> None:
    subs = connect().ensure_webhooks(PUBLIC)
    receiver.keys = [subs[0].signature_key or ""]
    _changes(sim)
    results = sim.webhooks.flush()
    assert results
    assert all(r.ok for r in results), [(r.topic, r.status, r.error) for r in results]
    assert receiver.refused == []
    got = [a["event"] for a in receiver.accepted]
    assert [e.topic for e in got] == [e["type"] for e in sim.events]
    assert [e.event_id for e in got] == [e["event_id"] for e in sim.events]
    assert {e.topic for e in got} == {
        "order.created",
        "payment.created",
        "order.updated",
        "refund.created",
        "payment.updated",
        "customer.updated",
        "customer.created",
        "catalog.version.updated",
    }
    headers = receiver.accepted[0]["headers"]
    assert {k.lower() for k in headers} >= {
        "x-square-hmacsha256-signature",
        "square-environment",
        "square-initial-delivery-timestamp",
    }
    assert sim.webhooks.pending == []


def test_only_subscribed_types_are_sent(
    connect: Connect, sim: SquareSimulator, receiver: Receiver
) -> None:
    subs = connect().ensure_webhooks(PUBLIC, ["customer.created"])
    receiver.keys = [subs[0].signature_key or ""]
    _changes(sim)
    sim.webhooks.flush()
    assert [a["event"].topic for a in receiver.accepted] == ["customer.created"]


def test_faults_duplicates_and_forged_signatures(
    connect: Connect, sim: SquareSimulator, receiver: Receiver
) -> None:
    subs = connect().ensure_webhooks(PUBLIC, ["customer.created"])
    receiver.keys = [subs[0].signature_key or ""]
    sim.webhooks.faults(duplicate=1)
    sim.add_customer(email="twice@example.com")
    sim.webhooks.flush()
    first, again = (a["event"] for a in receiver.accepted)
    assert first.event_id == again.event_id  # the dedupe key survives redelivery

    sim.webhooks.faults(bad_signature=True)
    sim.add_customer(email="forged@example.com")
    (result,) = sim.webhooks.flush()
    assert result.status == 401
    assert receiver.refused == ["signature"]
    assert len(sim.webhooks.pending) == 1  # Square retries what was not acknowledged


def test_a_rotated_key_signs_from_then_on(
    connect: Connect, sim: SquareSimulator, receiver: Receiver
) -> None:
    conn = connect()
    (sub,) = conn.ensure_webhooks(PUBLIC, ["customer.created"])
    old = sub.signature_key or ""
    rotated = conn.webhook_engine.post(
        f"/v2/webhooks/subscriptions/{sub.id}/signature-key", json={"idempotency_key": "rot-1"}
    ).body["signature_key"]
    sim.add_customer(email="after.rotation@example.com")
    receiver.keys = [old]
    sim.webhooks.flush()
    assert receiver.refused == ["signature"]
    receiver.keys = [rotated, old]  # both while the receiver's configuration catches up
    sim.webhooks.flush()
    assert len(receiver.accepted) == 1


def test_notifications_match_the_published_event_schemas(sim: SquareSimulator, spec: Any) -> None:
    _changes(sim)
    (payment,) = sim.add_sale(sim.locations[0].id)
    sim.delete_customer(sorted(sim.customer_ids_with_email())[0])
    sim.uninstall_app()
    names = spec.event_types()
    assert {e["type"] for e in sim.events} == set(EMITTED_EVENT_TYPES)
    for event in sim.events:
        schema = spec.schemas[names[event["type"]]]
        # Square's own example may use a field its schema omits (catalog.version.updated
        # has a data.id the schema does not declare): no worse than the example is fine.
        tolerated = spec.check_json(schema["example"], schema, request=False)
        problems = spec.check_json(event, schema, request=False)
        assert set(problems) <= set(tolerated), event["type"]
    # ...a check that can fail: a field Square does not publish.
    bad = {**sim.events[0], "data": {**sim.events[0]["data"], "objekt": {}}}
    assert spec.check_json(bad, spec.schemas[names[bad["type"]]], request=False) == [
        "$.data.objekt: not declared"
    ]
    assert json.loads(json.dumps(sim.events)) == sim.events
    assert payment
