"""The real-time core: inbox and lifecycle in both state stores, the receiver, the worker."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import attrs
import pytest
from _realtime_fakes import (
    CONN,
    SECRET,
    URL,
    FakeRealtimeConnector,
    at,
    customer,
    delivery,
    order,
)

from commerce_connectors.clock import FakeClock
from commerce_connectors.protocols import (
    ConnectionState,
    EventStatus,
    RealtimeConnector,
)
from commerce_connectors.rules import RecordKey
from commerce_connectors.sinks import MemorySink, SQLiteSink
from commerce_connectors.state import MemoryStateStore, SQLiteStateStore
from commerce_connectors.sync import SyncEngine, SyncStatus
from commerce_connectors.webhooks import (
    Backoff,
    WebhookEndpoint,
    WebhookReceiver,
    WebhookWorker,
    parse_event,
)


@pytest.fixture(params=["memory", "sqlite"])
def state(request, tmp_path):
    store = MemoryStateStore() if request.param == "memory" else SQLiteStateStore(tmp_path / "s.db")
    yield store
    store.close()


@pytest.fixture(params=["memory", "sqlite"])
def sink(request, tmp_path):
    s = MemorySink() if request.param == "memory" else SQLiteSink(tmp_path / "sink.db")
    yield s
    s.close()


class Rig:
    """Receiver + worker + engine over the fake connector, on a fake clock."""

    def __init__(self, state, sink) -> None:
        self.clock = FakeClock(wall_start=at(10))
        self.state, self.sink = state, sink
        self.connector = FakeRealtimeConnector()
        self.engine = SyncEngine(self.connector, sink, state, clock=self.clock)
        self.worker = WebhookWorker(
            state,
            [self.engine],
            clock=self.clock,
            backoff=Backoff(base=dt.timedelta(seconds=10), max_attempts=3),
        )
        endpoint = WebhookEndpoint(
            CONN, "tiendanube", secret=SECRET, url=URL, owns=self.connector.owns_event
        )
        self.receiver = WebhookReceiver(state, [endpoint], clock=self.clock)

    def send(self, topic: str, rid: int | str, **extra):
        headers, body = delivery(topic, rid, **extra)
        return self.receiver.handle(headers, body, URL)


# -- the inbox ----------------------------------------------------------------------------


def test_inbox_stores_once_per_event_id_and_survives_a_reopen(tmp_path) -> None:
    headers, body = delivery("order/paid", 42)
    event = parse_event("tiendanube", headers, body, received_at=at(1))
    store = SQLiteStateStore(tmp_path / "inbox.db")
    first = store.add_event(CONN, event, body=body, headers=headers, received_at=at(1))
    assert first is not None
    assert first.status is EventStatus.PENDING
    assert store.add_event(CONN, event, body=body, headers=headers, received_at=at(1)) is None
    store.close()
    reopened = SQLiteStateStore(tmp_path / "inbox.db")
    (kept,) = reopened.events()
    assert kept.body == body
    assert kept.topic == "order/paid"
    assert kept.external_id == "42"
    # Signatures are not kept: useless once verified.
    assert not any("hmac" in name for name in kept.headers)
    reopened.close()


def test_claims_lease_events_and_a_dead_workers_events_come_back(state) -> None:
    headers, body = delivery("order/paid", 1)
    event = parse_event("tiendanube", headers, body, received_at=at(1))
    state.add_event(CONN, event, body=body, headers=headers, received_at=at(1))
    lease = dt.timedelta(minutes=5)
    assert len(state.claim_events(at(1), lease=lease)) == 1
    assert state.claim_events(at(1) + dt.timedelta(minutes=1), lease=lease) == []
    (again,) = state.claim_events(at(1) + dt.timedelta(minutes=6), lease=lease)
    state.retry_event(again.id, at(2), at(3), "boom")
    assert state.claim_events(at(2)) == []
    (retried,) = state.claim_events(at(3))
    assert retried.attempts == 1
    assert retried.outcome == "boom"
    state.finish_event(retried.id, EventStatus.DONE, at(3), "ok")
    assert state.event_counts()[EventStatus.DONE] == 1
    assert state.claim_events(at(9)) == []


def test_claims_only_the_connections_asked_for(state) -> None:
    headers, body = delivery("order/paid", 1)
    event = parse_event("tiendanube", headers, body, received_at=at(1))
    state.add_event(CONN, event, body=body, headers=headers, received_at=at(1))
    assert state.claim_events(at(2), connection_ids=["other:1"]) == []
    assert state.claim_events(at(2), connection_ids=[]) == []
    assert len(state.claim_events(at(2), connection_ids=[CONN])) == 1


def test_lifecycle_defaults_to_active_and_keeps_the_reason(state) -> None:
    assert state.connection_status(CONN).state is ConnectionState.ACTIVE
    state.set_connection_state(CONN, ConnectionState.DISABLED, at(1), "app/uninstalled webhook")
    status = state.connection_status(CONN)
    assert (status.state, status.reason, status.changed_at) == (
        ConnectionState.DISABLED,
        "app/uninstalled webhook",
        at(1),
    )
    assert [s.connection_id for s in state.connection_statuses()] == [CONN]


# -- the receiver -------------------------------------------------------------------------


def test_receiver_stores_before_answering_and_drops_duplicates(state) -> None:
    rig = Rig(state, MemorySink())
    first = rig.send("order/paid", 42)
    assert (first.status, first.body["status"]) == (200, "accepted")
    assert state.event_counts()[EventStatus.PENDING] == 1
    assert rig.send("order/paid", 42).body["status"] == "duplicate"
    assert state.event_counts()[EventStatus.PENDING] == 1


def test_receiver_refuses_forged_and_unknown_deliveries_and_stores_nothing(state) -> None:
    rig = Rig(state, MemorySink())
    headers, body = delivery("order/paid", 42)
    forged = rig.receiver.handle(headers, body.replace(b"42", b"43"), URL)
    assert (forged.status, forged.body) == (401, {"error": "signature check failed"})
    missing = rig.receiver.handle({}, body, URL)
    assert missing.body == {"error": "missing_header check failed"}
    assert rig.receiver.handle(headers, body, "https://hooks.example.com/nowhere").status == 404
    big = WebhookReceiver(state, rig.receiver.endpoints_at(URL), max_body=10)
    assert big.handle(headers, body, URL).status == 413
    assert sum(state.event_counts().values()) == 0


def test_receiver_keeps_signed_but_unreadable_or_misrouted_events_as_failed(state) -> None:
    rig = Rig(state, MemorySink())
    import hashlib
    import hmac

    garbage = b"{not json"
    sig = hmac.new(SECRET.encode(), garbage, hashlib.sha256).hexdigest()
    ack = rig.receiver.handle({"X-Linkedstore-HMAC-SHA256": sig}, garbage, URL)
    assert (ack.status, ack.body["status"]) == (200, "kept")
    other = rig.receiver.handle(*_other_store("order/paid", 5), URL)
    assert other.body == {"status": "kept", "reason": "other store"}
    failed = state.events(status=EventStatus.FAILED)
    assert next(e.body for e in failed) == garbage
    assert "not tiendanube:123" in (failed[1].outcome or "")


def _other_store(topic: str, rid: int) -> tuple[dict[str, str], bytes]:
    import hashlib
    import hmac
    import json

    body = json.dumps({"store_id": 999, "event": topic, "id": rid}).encode()
    return {
        "X-Linkedstore-HMAC-SHA256": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    }, body


def test_receiver_accepts_either_secret_while_rotating(state) -> None:
    endpoint = WebhookEndpoint(CONN, "tiendanube", secret=["new-secret", SECRET], url=URL)
    receiver = WebhookReceiver(state, [endpoint], clock=FakeClock(wall_start=at(10)))
    headers, body = delivery("order/paid", 42)
    assert receiver.handle(headers, body, URL).status == 200


def test_endpoint_refuses_an_empty_secret_and_square_without_its_url() -> None:
    from commerce_connectors.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        WebhookEndpoint(CONN, "tiendanube", secret="")
    with pytest.raises(ConfigurationError, match="url="):
        WebhookEndpoint("square:M:L", "square", secret="key")
    assert "secret" not in repr(WebhookEndpoint(CONN, "tiendanube", secret="s3cr3t"))


# -- the worker ---------------------------------------------------------------------------


def test_fake_connector_is_a_realtime_connector() -> None:
    assert isinstance(FakeRealtimeConnector(), RealtimeConnector)


def test_an_order_event_is_written_in_real_time_and_fires(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    report = rig.worker.drain()
    assert (report.claimed, report.done) == (1, 1)
    stored = sink.snapshot()[RecordKey(CONN, "order", "42")]
    assert stored["trigger"] == {"fires": True, "source": 1}
    assert RecordKey("", "contact", "ana@example.com") in sink.snapshot()
    (event,) = state.events()
    assert event.status is EventStatus.DONE
    assert "new=" in (event.outcome or "")
    assert rig.worker.drain().claimed == 0


def test_events_out_of_order_leave_the_newest_version(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9, status="refunded")
    rig.send("order/updated", 42)
    rig.worker.drain()
    # An older version arriving late (a payload-parsed platform) never replaces it.
    rig.connector.records[("order", "42")] = order("42", hours=5, status="paid")
    rig.clock.sleep(5)
    rig.send("order/paid", 42)
    rig.worker.drain()
    data = sink.snapshot()[RecordKey(CONN, "order", "42")]["data"]
    assert data["status"] == "refunded"


def test_failures_are_retried_with_backoff_then_dead_lettered(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.failing.add("42")
    rig.send("order/paid", 42)
    assert rig.worker.drain().retried == 1
    (event,) = state.events()
    assert event.attempts == 1
    assert event.next_attempt_at == rig.clock.now() + dt.timedelta(seconds=10)
    assert rig.worker.drain().claimed == 0  # not due yet
    rig.clock.sleep(10)
    assert rig.worker.drain().retried == 1
    rig.clock.sleep(20)
    assert rig.worker.drain().failed == 1
    (event,) = state.events()
    assert event.status is EventStatus.FAILED
    assert "gave up after 3" in (event.outcome or "")
    (letter,) = state.dead_letters(CONN)
    assert letter.record_id == "42"
    assert letter.payload["event"] == "order/paid"


def test_a_failing_event_does_not_hold_back_the_others(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.failing.add("1")
    rig.connector.records[("order", "2")] = order("2", hours=9)
    rig.send("order/paid", 1)
    rig.send("order/paid", 2)
    report = rig.worker.drain()
    assert (report.done, report.retried) == (1, 1)
    assert RecordKey(CONN, "order", "2") in sink.snapshot()


def test_uninstall_disables_the_connection_and_polling_makes_no_request(state, sink) -> None:
    rig = Rig(state, sink)
    rig.send("app/uninstalled", 123)
    rig.worker.drain()
    status = state.connection_status(CONN)
    assert status.state is ConnectionState.DISABLED
    report = rig.engine.run()
    assert report.status is SyncStatus.SKIPPED
    assert "disabled" in (report.error or "")
    assert rig.connector.stream_reads == 0
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    assert rig.worker.drain().skipped == 1
    assert rig.connector.fetches == 0


def test_a_paused_connection_keeps_its_events_until_resumed(state, sink) -> None:
    rig = Rig(state, sink)
    state.set_connection_state(CONN, ConnectionState.PAUSED, at(10), "maintenance")
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    assert rig.worker.drain().claimed == 0
    assert rig.engine.run().status is SyncStatus.SKIPPED
    state.set_connection_state(CONN, ConnectionState.ACTIVE, at(10))
    assert rig.worker.drain().done == 1


def test_customer_redaction_erases_the_person_and_store_redaction_the_store(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9, cid="7")
    rig.connector.records[("customer", "8")] = customer("8", "bob@example.com", hours=9)
    rig.send("order/paid", 42)
    rig.send("customer/created", 8)
    rig.worker.drain()
    assert RecordKey(CONN, "order", "42") in sink.snapshot()
    headers, body = _redact_customer(7, "ana@example.com", [42])
    rig.receiver.handle(headers, body, URL)
    assert rig.worker.drain().done == 1
    snapshot = sink.snapshot()
    assert RecordKey(CONN, "order", "42") not in snapshot
    assert RecordKey("", "contact", "ana@example.com") not in snapshot
    assert RecordKey("", "contact", "bob@example.com") in snapshot
    headers, body = _signed({"store_id": 123})
    rig.receiver.handle(headers, body, URL)
    rig.worker.drain()
    assert sink.snapshot() == {}


def test_a_data_request_is_recorded_for_a_person(state, sink) -> None:
    rig = Rig(state, sink)
    headers, body = _signed(
        {
            "store_id": 123,
            "customer": {"id": 7, "email": "ana@example.com"},
            "orders_requested": [42],
            "data_request": {"id": 99},
        }
    )
    rig.receiver.handle(headers, body, URL)
    assert rig.worker.drain().action_required == 1
    (event,) = state.events(status=EventStatus.ACTION_REQUIRED)
    assert event.action == "data_request"


def _signed(data: dict) -> tuple[dict[str, str], bytes]:
    import hashlib
    import hmac
    import json

    body = json.dumps(data).encode()
    return {
        "X-Linkedstore-HMAC-SHA256": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    }, body


def _redact_customer(cid: int, email: str, orders: list[int]) -> tuple[dict[str, str], bytes]:
    return _signed(
        {"store_id": 123, "customer": {"id": cid, "email": email}, "orders_to_redact": orders}
    )


def test_historical_then_realtime_only_the_realtime_purchase_fires(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "1")] = order("1", hours=-200)
    rig.engine.run("historical")
    old = sink.snapshot()[RecordKey(CONN, "order", "1")]["trigger"]
    assert old == {"fires": False, "source": 0}
    rig.connector.records[("order", "2")] = order("2", hours=10)
    rig.send("order/created", 2)
    rig.worker.drain()
    new = sink.snapshot()[RecordKey(CONN, "order", "2")]["trigger"]
    assert new == {"fires": True, "source": 1}
    # The safety-net poll afterwards finds the real-time record unchanged.
    poll = rig.engine.run()
    assert poll.status is SyncStatus.OK
    assert (poll.totals()["new"], poll.totals()["updated"]) == (0, 0)


def test_a_suspension_pauses_the_connection_and_its_lifting_resumes_it(state, sink) -> None:
    rig = Rig(state, sink)
    rig.send("app/suspended", 1)
    rig.worker.drain()
    assert state.connection_status(CONN).state is ConnectionState.PAUSED
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    assert rig.worker.drain().claimed == 0  # held while paused
    assert rig.engine.run().status is SyncStatus.SKIPPED
    rig.send("app/resumed", 1)
    report = rig.worker.drain()
    assert state.connection_status(CONN).state is ConnectionState.ACTIVE
    assert report.done == 1
    assert rig.worker.drain().done == 1  # the held order, now
    assert RecordKey(CONN, "order", "42") in sink.snapshot()


def test_a_lifted_suspension_does_not_resume_a_connection_paused_by_its_owner(state, sink) -> None:
    rig = Rig(state, sink)
    state.set_connection_state(CONN, ConnectionState.PAUSED, at(10), "migration")
    rig.send("app/resumed", 1)
    rig.worker.drain()
    assert state.connection_status(CONN).reason == "migration"
    (event,) = state.events()
    assert "nothing to resume" in (event.outcome or "")


def test_connections_sharing_an_app_wide_url_get_their_own_events(state) -> None:
    other = FakeRealtimeConnector()
    other.connection_id = "tiendanube:999"
    other.owns_event = lambda event: event.store_id == "999"  # type: ignore[method-assign]
    mine = FakeRealtimeConnector()
    shared = "https://hooks.example.com/privacy"
    receiver = WebhookReceiver(
        state,
        [
            WebhookEndpoint(CONN, "tiendanube", secret=SECRET, url=shared, owns=mine.owns_event),
            WebhookEndpoint(
                "tiendanube:999", "tiendanube", secret=SECRET, url=shared, owns=other.owns_event
            ),
        ],
        clock=FakeClock(wall_start=at(10)),
    )
    assert receiver.handle(*_other_store("order/paid", 5), shared).body["status"] == "accepted"
    assert receiver.handle(*delivery("order/paid", 6), shared).body["status"] == "accepted"
    owners = {e.external_id: e.connection_id for e in state.events()}
    assert owners == {"5": "tiendanube:999", "6": CONN}
    unknown = json.dumps({"store_id": 4242, "event": "order/paid", "id": 7}).encode()
    sig = hmac.new(SECRET.encode(), unknown, hashlib.sha256).hexdigest()
    kept = receiver.handle({"X-Linkedstore-HMAC-SHA256": sig}, unknown, shared)
    assert kept.body == {"status": "kept", "reason": "other store"}


def test_endpoints_sharing_a_path_must_tell_their_stores_apart(state) -> None:
    from commerce_connectors.errors import ConfigurationError

    shared = "https://hooks.example.com/privacy"
    with pytest.raises(ConfigurationError, match="owns="):
        WebhookReceiver(
            state,
            [
                WebhookEndpoint(CONN, "tiendanube", secret=SECRET, url=shared),
                WebhookEndpoint("tiendanube:999", "tiendanube", secret=SECRET, url=shared),
            ],
        )


# -- privacy and ordering -----------------------------------------------------------------


def test_a_store_redaction_after_the_uninstall_still_erases_the_store(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    rig.worker.drain()
    rig.send("app/uninstalled", 1)
    rig.worker.drain()
    assert state.connection_status(CONN).state is ConnectionState.DISABLED
    rig.receiver.handle(*_signed({"store_id": 123}), URL)  # store/redact, 48 h later
    assert rig.worker.drain().done == 1
    assert sink.snapshot() == {}


def test_privacy_events_of_a_paused_connection_are_not_held(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    rig.worker.drain()
    rig.send("app/suspended", 1)
    rig.worker.drain()
    rig.receiver.handle(*_redact_customer(7, "ana@example.com", [42]), URL)
    assert rig.worker.drain().done == 1
    assert RecordKey(CONN, "order", "42") not in sink.snapshot()


def test_a_customer_redaction_naming_nobody_erases_nothing_and_asks_a_person(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    rig.worker.drain()
    headers, body = _signed(
        {"store_id": 123, "customer": {"phone": "+5491100000000"}, "orders_to_redact": []}
    )
    rig.receiver.handle(headers, body, URL)
    assert rig.worker.drain().action_required == 1
    assert RecordKey(CONN, "order", "42") in sink.snapshot()


def test_events_drained_together_apply_in_order_so_a_redaction_is_not_undone(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    rig.clock.sleep(1)
    rig.receiver.handle(*_redact_customer(7, "ana@example.com", [42]), URL)
    rig.worker.drain()  # both in one batch
    snapshot = sink.snapshot()
    assert RecordKey(CONN, "order", "42") not in snapshot
    assert RecordKey("", "contact", "ana@example.com") not in snapshot


def test_a_redaction_erases_the_named_orders_and_the_inbox_copies(state, sink) -> None:
    rig = Rig(state, sink)
    old = order("43", hours=9)
    old = attrs.evolve(old, email="ana.old@example.com", customer=None, customer_external_id=None)
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.connector.records[("order", "43")] = old
    rig.connector.records[("order", "44")] = order("44", hours=9, cid="8")
    rig.connector.records[("order", "44")] = attrs.evolve(
        rig.connector.records[("order", "44")], email="bob@example.com", customer=None
    )
    for n in (42, 43, 44):
        rig.send("order/paid", n)
    rig.connector.failing.add("45")
    rig.send("order/paid", 45, note="ana@example.com")  # will be dead-lettered
    for _ in range(3):
        rig.worker.drain()
        rig.clock.sleep(3600)
    assert any(d.record_id == "45" for d in state.dead_letters(CONN))
    rig.receiver.handle(*_redact_customer(7, "ana@example.com", [42, 43]), URL)
    rig.worker.drain()
    snapshot = sink.snapshot()
    assert {k.external_id for k in snapshot if k.kind == "order"} == {"44"}
    assert RecordKey("", "contact", "ana.old@example.com") not in snapshot
    bodies = {e.external_id: e.body for e in state.events() if e.topic == "order/paid"}
    assert bodies["42"] == b""
    assert bodies["43"] == b""
    assert bodies["44"] != b""
    assert all(d.record_id != "45" for d in state.dead_letters(CONN))


def test_a_crash_on_one_event_is_retried_and_the_worker_goes_on(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.crashing.add("1")
    rig.connector.records[("order", "2")] = order("2", hours=9)
    rig.send("order/paid", 1)
    rig.send("order/paid", 2)
    report = rig.worker.drain()
    assert (report.retried, report.done) == (1, 1)
    (crashed,) = state.events(status=EventStatus.PENDING)
    assert "RuntimeError" in (crashed.outcome or "")


def test_an_expired_token_holds_events_without_using_up_their_attempts(state, sink) -> None:
    rig = Rig(state, sink)
    rig.connector.token_revoked = True
    rig.connector.records[("order", "42")] = order("42", hours=9)
    rig.send("order/paid", 42)
    for _ in range(5):
        rig.worker.drain()
        rig.clock.sleep(3601)
    (held,) = state.events()
    assert held.status is EventStatus.PENDING
    assert held.attempts == 0
    assert "re-authentication" in (held.outcome or "")
    rig.connector.token_revoked = False
    rig.worker.drain()
    assert RecordKey(CONN, "order", "42") in sink.snapshot()


def test_on_a_shared_url_one_stores_secret_never_admits_an_event_for_another(state) -> None:
    shared = "https://hooks.example.com/privacy"
    a, b = FakeRealtimeConnector(), FakeRealtimeConnector()
    b.connection_id = "tiendanube:999"
    b.owns_event = lambda event: event.store_id == "999"  # type: ignore[method-assign]
    receiver = WebhookReceiver(
        state,
        [
            WebhookEndpoint(CONN, "tiendanube", secret=SECRET, url=shared, owns=a.owns_event),
            WebhookEndpoint(
                "tiendanube:999", "tiendanube", secret="b-secret", url=shared, owns=b.owns_event
            ),
        ],
        clock=FakeClock(wall_start=at(10)),
    )
    # An event for store 999 signed with store 123's secret: forged for 999.
    forged = receiver.handle(*_other_store("order/paid", 5), shared)
    assert forged.body == {"status": "kept", "reason": "other store"}
    assert state.events(status=EventStatus.PENDING) == []


def test_an_event_every_connection_owns_is_stored_for_each(state) -> None:
    shared = "https://hooks.example.com/app"
    a, b = FakeRealtimeConnector(), FakeRealtimeConnector()
    b.connection_id = "tiendanube:123-second"
    receiver = WebhookReceiver(
        state,
        [
            WebhookEndpoint(CONN, "tiendanube", secret=SECRET, url=shared, owns=a.owns_event),
            WebhookEndpoint(
                b.connection_id, "tiendanube", secret=SECRET, url=shared, owns=b.owns_event
            ),
        ],
        clock=FakeClock(wall_start=at(10)),
    )
    assert receiver.handle(*delivery("app/uninstalled", 1), shared).body["status"] == "accepted"
    assert sorted(e.connection_id for e in state.events()) == sorted([CONN, b.connection_id])
    assert receiver.handle(*delivery("app/uninstalled", 1), shared).body["status"] == "duplicate"
