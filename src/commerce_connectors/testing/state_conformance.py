"""``check_state_store``: the conformance suite every state store must pass.

Give it a factory that builds a fresh, empty store whose leases are timed by
the clock it is given (a :class:`~commerce_connectors.clock.FakeClock` the
suite moves); it checks the contracts the sync engine and the webhook worker
rely on:

* checkpoints: absent until saved, replaced per (connection, stream), listed
  per connection, times kept exactly;
* the run log: ids grow, newest first, finished runs keep status, counts and error;
* dead letters: one open letter per record (count and problems merged across
  sightings, first/last seen kept), payload kept, resolved ones hidden by default
  and a new sighting after resolution opens a new letter;
* parked contacts: merged under one identity, listed by connection, unparked;
* connection lifecycle: a connection never set is active; states are kept;
* the webhook inbox (:class:`~commerce_connectors.protocols.InboxStore`): an event
  id is stored once; a claim leases due events oldest first and hides them
  until the lease lapses; finish, retry (attempts counted or not), cancel,
  redact (body and headers erased, pending ones closed, dead letters deleted),
  listing and counts; signature headers are never stored;
* leases (:class:`~commerce_connectors.protocols.LeaseStore`): one holder at a
  time, re-acquiring one's own keeps the token, expiry frees it for another
  holder with a larger token, renewal by the old holder then fails, release
  frees it at once and only for the holder;
* exact values: NUL characters in any text, run counts (key order, big floats,
  NaN) and claimed events come back as they went in or were; listings are in
  code-point order.

The inbox, lifecycle and lease checks run on stores that implement those
protocols (the library's all do).

Example:
    >>> from commerce_connectors.state import MemoryStateStore
    >>> check_state_store(lambda clock: MemoryStateStore(clock=clock))
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import attrs

from .._webhooks import WebhookAction, WebhookEvent
from ..clock import Clock, FakeClock
from ..errors import FieldProblem, InvalidRecordError
from ..models import Platform
from ..protocols import (
    Checkpoint,
    ConnectionState,
    EventStatus,
    InboxStore,
    LeaseStore,
    LifecycleStore,
    StateStore,
    Stream,
)
from ..rules import Contact, ContactKey, IdentityKind, Reason, SourceRef
from .conformance import ConformanceError

__all__ = ["STATE_CHECKS", "StateStoreFactory", "check_state_store"]

#: Builds a fresh, empty store whose leases are timed by the clock given.
StateStoreFactory = Callable[[Clock], StateStore]

_T0 = _dt.datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=_dt.timezone.utc)
_CONN = "custom:conformance"


def _t(seconds: float) -> _dt.datetime:
    return _T0 + _dt.timedelta(seconds=seconds)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


def _open(make_store: StateStoreFactory) -> tuple[StateStore, FakeClock]:
    clock = FakeClock(wall_start=_T0)
    return make_store(clock), clock


def _invalid(record_id: str | None, path: str, payload: object) -> InvalidRecordError:
    return InvalidRecordError(
        platform="custom",
        kind="order",
        record_id=record_id,
        problems=[FieldProblem(path, "not a decimal amount", "12,34")],
        payload=payload,
    )


def check_checkpoints(make_store: StateStoreFactory) -> None:
    """Checkpoints are absent until saved, replaced per stream, listed per connection."""
    store, _ = _open(make_store)
    try:
        _expect(store.get_checkpoint(_CONN, Stream.ORDERS) is None, "a new store has a checkpoint")
        store.save_checkpoint(Checkpoint(_CONN, Stream.ORDERS, _t(0), _t(1), 7))
        store.save_checkpoint(Checkpoint(_CONN, Stream.ORDERS, _t(60), _t(61), 8))
        store.save_checkpoint(Checkpoint(_CONN, Stream.PRODUCTS, _t(5), _t(6), 8))
        store.save_checkpoint(Checkpoint("custom:other", Stream.ORDERS, _t(9), _t(9)))
        held = store.get_checkpoint(_CONN, Stream.ORDERS)
        _expect(
            held == Checkpoint(_CONN, Stream.ORDERS, _t(60), _t(61), 8),
            f"the latest checkpoint is not kept exactly: {held}",
        )
        mine = store.checkpoints(_CONN)
        _expect(
            [(c.stream, c.value) for c in mine]
            == [(Stream.ORDERS, _t(60)), (Stream.PRODUCTS, _t(5))],
            f"checkpoints of one connection, by stream: {mine}",
        )
        _expect(len(store.checkpoints()) == 3, "checkpoints() lists every connection's")
    finally:
        store.close()


def check_runs(make_store: StateStoreFactory) -> None:
    """Runs get growing ids, are listed newest first and keep how they ended."""
    store, _ = _open(make_store)
    try:
        first = store.start_run(_CONN, "historical", _t(0))
        second = store.start_run(_CONN, "incremental", _t(10))
        other = store.start_run("custom:other", "incremental", _t(20))
        _expect(first < second < other, f"run ids do not grow: {first}, {second}, {other}")
        store.finish_run(first, status="ok", at=_t(5), counts={"read": 3, "streams": {"a": 1}})
        store.finish_run(second, status="sink_error", at=_t(15), counts={}, error="boom")
        runs = store.runs(_CONN)
        _expect([r.id for r in runs] == [second, first], f"not newest first: {runs}")
        done = runs[1]
        _expect(
            (done.mode, done.status, done.started_at, done.ended_at)
            == ("historical", "ok", _t(0), _t(5)),
            f"a finished run is not kept: {done}",
        )
        _expect(dict(done.counts) == {"read": 3, "streams": {"a": 1}}, f"counts: {done.counts}")
        _expect(runs[0].error == "boom", "a run's error is not kept")
        running = store.runs("custom:other")[0]
        _expect(
            running.status == "running" and running.ended_at is None,
            f"an open run: {running}",
        )
        _expect(len(store.runs(limit=2)) == 2, "runs(limit=) is not honoured")
    finally:
        store.close()


def check_dead_letters(make_store: StateStoreFactory) -> None:
    """One open letter per record, merged across sightings; resolution closes it."""
    store, _ = _open(make_store)
    try:
        payload = {"id": 8, "total": "12,34", "note": "Zoë"}
        first = store.add_dead_letter(_CONN, _invalid("8", "$.total", payload), _t(0))
        again = store.add_dead_letter(_CONN, _invalid("8", "$.currency", payload), _t(30))
        _expect(first.id == again.id, "a second sighting opened a second letter")
        _expect(again.count == 2, f"count is not 2: {again.count}")
        _expect(
            (again.first_seen, again.last_seen) == (_t(0), _t(30)),
            f"first/last seen: {again.first_seen}, {again.last_seen}",
        )
        _expect(
            [p.path for p in again.problems] == ["$.currency", "$.total"],
            f"problems are not merged: {again.problems}",
        )
        _expect(again.payload == payload, "the raw payload is not kept")
        no_id = store.add_dead_letter(_CONN, _invalid(None, "$.id", {"x": 1}), _t(1))
        _expect(no_id.record_id is None, "a record without id got one")
        listed = store.dead_letters(_CONN)
        _expect([d.id for d in listed] == [first.id, no_id.id], f"listing: {listed}")
        _expect(
            ("order", "8") in store.open_dead_letter_keys(_CONN), "open keys miss ('order','8')"
        )
        resolved = store.resolve_dead_letters(_CONN, [("order", "8"), ("order", "404")], _t(40))
        _expect(resolved == 1, f"resolve returned {resolved}, not 1")
        _expect([d.id for d in store.dead_letters(_CONN)] == [no_id.id], "resolved still listed")
        every = store.dead_letters(_CONN, include_resolved=True)
        closed = [d for d in every if d.id == first.id]
        _expect(bool(closed) and closed[0].resolved_at == _t(40), "the resolution time is not kept")
        reopened = store.add_dead_letter(_CONN, _invalid("8", "$.total", payload), _t(50))
        _expect(
            reopened.id != first.id and reopened.count == 1,
            "a record failing after its resolution did not open a new letter",
        )
        _expect(store.dead_letters("custom:other") == [], "letters leak across connections")
    finally:
        store.close()


def _contact(email: str, *, tags: tuple[str, ...], connection: str, at: float) -> Contact:
    return Contact(
        ContactKey(IdentityKind.EMAIL, email),
        _t(at),
        email=email,
        tags=tags,
        sources=[SourceRef(Platform.CUSTOM, connection, "c1", _t(at))],
    )


def check_parked_contacts(make_store: StateStoreFactory) -> None:
    """Parked contacts merge under one identity, list by connection and unpark."""
    store, _ = _open(make_store)
    try:
        a = _contact("ana@example.com", tags=("vip",), connection=_CONN, at=0)
        store.park_contacts(_CONN, [(a, Reason.CONTACT_LIMIT)], _t(0))
        a2 = _contact("ana@example.com", tags=("wholesale",), connection=_CONN, at=10)
        b = _contact("bo@example.com", tags=(), connection="custom:other", at=5)
        store.park_contacts(_CONN, [(a2, Reason.CONTACT_LIMIT)], _t(10))
        store.park_contacts("custom:other", [(b, Reason.CONTACT_LIMIT)], _t(5))
        mine = store.parked_contacts(_CONN)
        _expect([p.identity for p in mine] == ["ana@example.com"], f"by connection: {mine}")
        held = mine[0]
        _expect(
            set(held.contact.tags) == {"vip", "wholesale"},
            f"parked contacts are not merged: {held.contact.tags}",
        )
        _expect((held.first_seen, held.last_seen) == (_t(0), _t(10)), "first/last seen not kept")
        _expect(held.reason is Reason.CONTACT_LIMIT, "the reason is not kept")
        _expect(len(store.parked_contacts()) == 2, "parked_contacts() lists every connection's")
        store.unpark_contacts(["ana@example.com", "nobody@example.com"])
        _expect(
            [p.identity for p in store.parked_contacts()] == ["bo@example.com"],
            "unpark did not forget exactly the synced contacts",
        )
    finally:
        store.close()


def check_lifecycle(make_store: StateStoreFactory) -> None:
    """A connection never set is active; states are kept and listed."""
    store, _ = _open(make_store)
    try:
        if not isinstance(store, LifecycleStore):
            return
        status = store.connection_status(_CONN)
        _expect(
            status.state is ConnectionState.ACTIVE and status.changed_at is None,
            f"a new connection is not active: {status}",
        )
        store.set_connection_state(_CONN, ConnectionState.PAUSED, _t(1), "maintenance")
        store.set_connection_state("custom:b", ConnectionState.DISABLED, _t(2))
        paused = store.connection_status(_CONN)
        _expect(
            (paused.state, paused.changed_at, paused.reason, paused.syncs)
            == (ConnectionState.PAUSED, _t(1), "maintenance", False),
            f"a state is not kept: {paused}",
        )
        store.set_connection_state(_CONN, ConnectionState.ACTIVE, _t(3))
        _expect(store.connection_status(_CONN).syncs, "resuming did not make it active")
        listed = [s.connection_id for s in store.connection_statuses()]
        _expect(listed == sorted([_CONN, "custom:b"]), f"connection_statuses(): {listed}")
    finally:
        store.close()


def _event(event_id: str, at: float, *, external_id: str = "1001") -> WebhookEvent:
    return WebhookEvent(
        platform=Platform.CUSTOM,
        store_id="store-1",
        topic="orders/updated",
        event_id=event_id,
        occurred_at=_t(at),
        kind="order",
        external_id=external_id,
        action=WebhookAction.UPSERT,
    )


def check_inbox(make_store: StateStoreFactory) -> None:
    """Events are stored once, claimed with a lease, finished, retried, cancelled, redacted."""
    store, _ = _open(make_store)
    try:
        if not isinstance(store, InboxStore):
            return
        headers = {"x-topic": "orders/updated", "x-shopify-hmac-sha256": "sig"}
        body = b'{"id": 1001, "email": "Ana@Example.com"}'
        first = store.add_event(
            _CONN, _event("e1", 5), body=body, headers=headers, received_at=_t(6)
        )
        _expect(first is not None, "a new event was not stored")
        assert first is not None
        _expect(first.body == body, "the body is not kept byte for byte")
        _expect("x-shopify-hmac-sha256" not in first.headers, "a signature header was stored")
        again = store.add_event(
            _CONN, _event("e1", 5), body=body, headers=headers, received_at=_t(7)
        )
        _expect(again is None, "the same event id was stored twice")
        store.add_event(
            _CONN, _event("e0", 1, external_id="7"), body=b"{}", headers={}, received_at=_t(7)
        )
        other = store.add_event(
            "custom:other", _event("e1", 0), body=b"{}", headers={}, received_at=_t(7)
        )
        _expect(other is not None, "an event id of another connection was refused")

        claimed = store.claim_events(_t(10), connection_ids=[_CONN], lease=_dt.timedelta(minutes=5))
        _expect([e.event_id for e in claimed] == ["e0", "e1"], f"not oldest first: {claimed}")
        _expect(
            store.claim_events(_t(20), connection_ids=[_CONN]) == [],
            "a claimed event was handed out again within its lease",
        )
        _expect(
            store.claim_events(_t(20), connection_ids=[]) == [], "an empty connection list claimed"
        )
        e0, e1 = claimed
        store.retry_event(e1.id, _t(20), _t(100), "timeout")
        store.retry_event(e1.id, _t(20), _t(100), "not yet", count_attempt=False)
        store.finish_event(e0.id, EventStatus.DONE, _t(21), "written")
        store.finish_event(e0.id, EventStatus.FAILED, _t(22), "late")
        done = store.events(_CONN, status=EventStatus.DONE)
        _expect(
            [(e.event_id, e.outcome, e.processed_at) for e in done] == [("e0", "written", _t(21))],
            f"a finished event is not kept as finished: {done}",
        )
        _expect(store.claim_events(_t(99), connection_ids=[_CONN]) == [], "retried too early")
        due = store.claim_events(_t(100), connection_ids=[_CONN])
        _expect(
            [(e.event_id, e.attempts, e.outcome) for e in due] == [("e1", 1, "not yet")],
            f"a retried event: {due}",
        )
        lapsed = store.claim_events(_t(100 + 301), connection_ids=[_CONN])
        _expect([e.event_id for e in lapsed] == ["e1"], "an unfinished claim never came back")
        cancelled = store.cancel_events(_CONN, "order", "1001", _t(500), "cart converted")
        _expect(cancelled == 1, f"cancel_events returned {cancelled}")
        store.add_event(_CONN, _event("e2", 50), body=body, headers=headers, received_at=_t(501))
        store.add_dead_letter(_CONN, _invalid("9", "$.email", {"email": "ana@example.com"}), _t(1))
        # A needle outside ASCII, in another case, matches whatever the store keeps text as.
        store.add_dead_letter(
            _CONN, _invalid("10", "$.email", {"email": "josé@example.com"}), _t(1)
        )
        changed = store.redact_events(
            _CONN, _t(600), needles=["ana@example.com", "JOSÉ@Example.com"]
        )
        _expect(changed == 4, f"redaction changed {changed}, not 2 events and 2 dead letters")
        for event in store.events(_CONN):
            if event.event_id in ("e1", "e2"):
                _expect(
                    event.body == b"" and dict(event.headers) == {},
                    f"event {event.event_id} still holds personal data",
                )
                _expect(event.status is EventStatus.DONE, "a redacted pending event stayed open")
        _expect(store.dead_letters(_CONN) == [], "a matching dead letter survived a redaction")
        counts = store.event_counts(_CONN)
        _expect(
            counts[EventStatus.DONE] == 3 and counts[EventStatus.PENDING] == 0,
            f"event_counts: {counts}",
        )
        _expect(store.event_counts()[EventStatus.PENDING] == 1, "counts of every connection")
    finally:
        store.close()


def check_leases(make_store: StateStoreFactory) -> None:
    """One holder at a time; expiry, renewal, release and tokens behave."""
    store, clock = _open(make_store)
    try:
        if not isinstance(store, LeaseStore):
            return
        ttl = _dt.timedelta(seconds=30)
        a = store.acquire_lease(_CONN, "a", ttl)
        _expect(a is not None and a.holder == "a", f"a free lease was refused: {a}")
        assert a is not None
        _expect(store.acquire_lease(_CONN, "b", ttl) is None, "two holders got one lease")
        held = store.current_lease(_CONN)
        _expect(held is not None and held.holder == "a", f"current_lease: {held}")
        _expect(
            store.acquire_lease("custom:other", "b", ttl) is not None,
            "a lease on one connection blocked another connection",
        )
        clock.advance(10)
        mine = store.acquire_lease(_CONN, "a", ttl)
        _expect(
            mine is not None and mine.token == a.token and mine.expires_at > a.expires_at,
            f"re-acquiring one's own lease: {mine}",
        )
        renewed = store.renew_lease(a, ttl)
        _expect(renewed is not None and renewed.expires_at > a.expires_at, "renewal failed")
        clock.advance(41)
        _expect(store.current_lease(_CONN) is None, "a lapsed lease is still current")
        b = store.acquire_lease(_CONN, "b", ttl)
        _expect(b is not None and b.token > a.token, f"a lapsed lease was not taken over: {b}")
        assert b is not None
        _expect(store.renew_lease(a, ttl) is None, "the old holder renewed a lease it lost")
        _expect(not store.release_lease(a), "the old holder released a lease it lost")
        _expect(store.release_lease(b), "the holder could not release its lease")
        _expect(store.current_lease(_CONN) is None, "a released lease is still current")
        _expect(store.renew_lease(b, ttl) is None, "a released lease was renewed")
        c = store.acquire_lease(_CONN, "c", ttl)
        _expect(
            c is not None and c.token > b.token, f"a released lease was not free for another: {c}"
        )
    finally:
        store.close()


def check_exact_values(make_store: StateStoreFactory) -> None:
    """What SQLite keeps comes back exactly: NUL characters, counts (key order, big
    floats, NaN), claimed events as they were; lists are in code-point order."""
    store, _ = _open(make_store)
    try:
        nul = "a\x00b\x01c"
        run = store.start_run(_CONN, "incremental", _t(0))
        counts = {"zeta": 1, "alpha": 2.5, "big": 1.23e19, "nan": float("nan"), "note": nul}
        store.finish_run(run, status="failed", at=_t(1), counts=counts, error=f"bad {nul}")
        done = store.runs(_CONN)[0]
        kept = dict(done.counts)
        _expect(list(kept) == list(counts), f"counts key order: {list(kept)}")
        _expect(
            type(kept["big"]) is float and kept["big"] == 1.23e19, f"a big float: {kept['big']!r}"
        )
        nan = kept["nan"]
        _expect(isinstance(nan, float) and nan != nan, f"NaN: {nan!r}")
        _expect(kept["note"] == nul and done.error == f"bad {nul}", f"NUL in a run: {done}")
        letter = store.add_dead_letter(_CONN, _invalid(nul, "$.note", {"note": nul}), _t(2))
        _expect(
            letter.payload == {"note": nul} and letter.record_id == nul,
            f"NUL in a dead letter: {letter}",
        )
        _expect((("order", nul) in store.open_dead_letter_keys(_CONN)), "a NUL record key")
        contact = _contact("nul@example.com", tags=(nul,), connection=_CONN, at=3)
        store.park_contacts(_CONN, [(contact, Reason.CONTACT_LIMIT)], _t(3))
        parked = store.parked_contacts(_CONN)[0].contact
        _expect(parked.tags == (nul,), f"NUL in a parked contact: {parked.tags}")
        # Code-point order, whatever the database's collation says.
        names = ["custom:b", "custom:B", "custom:_", "custom:a-b", "custom:ab", "custom:\u00e9"]
        for name in names:
            store.save_checkpoint(Checkpoint(name, Stream.ORDERS, _t(4), _t(4)))
            store.park_contacts(
                name,
                [
                    (
                        _contact(f"{name[7:]}@example.com", tags=(), connection=name, at=4),
                        Reason.CONTACT_LIMIT,
                    )
                ],
                _t(4),
            )
        listed = [c.connection_id for c in store.checkpoints() if c.connection_id in names]
        _expect(listed == sorted(names), f"checkpoints are not in code-point order: {listed}")
        parked_ids = [p.identity for p in store.parked_contacts() if p.first_seen == _t(4)]
        _expect(
            parked_ids == sorted(parked_ids) and len(parked_ids) == len(names),
            f"parked contacts are not in code-point order: {parked_ids}",
        )
        if isinstance(store, LifecycleStore):
            for name in names:
                store.set_connection_state(name, ConnectionState.PAUSED, _t(5), nul)
            states = [s for s in store.connection_statuses() if s.connection_id in names]
            _expect(
                [s.connection_id for s in states] == sorted(names),
                f"connection_statuses() is not in code-point order: {states}",
            )
            _expect(states[0].reason == nul, f"NUL in a reason: {states[0].reason!r}")
        if isinstance(store, InboxStore):
            event = attrs.evolve(_event("e\x00", 5), external_id=nul)
            added = store.add_event(
                _CONN, event, body=b"\x00", headers={"x-note": nul}, received_at=_t(6)
            )
            _expect(added is not None, "an event with a NUL was refused")
            before = store.events(_CONN)
            claimed = store.claim_events(_t(10), connection_ids=[_CONN])
            _expect(claimed == before, f"a claimed event is not as it was before: {claimed}")
            got = claimed[0] if claimed else None
            _expect(
                got is not None
                and (got.event_id, got.external_id, dict(got.headers))
                == ("e\x00", nul, {"x-note": nul}),
                f"NUL in an event: {got}",
            )
    finally:
        store.close()


#: Every check, in the order :func:`check_state_store` runs them.
STATE_CHECKS: tuple[Callable[[StateStoreFactory], None], ...] = (
    check_checkpoints,
    check_runs,
    check_dead_letters,
    check_parked_contacts,
    check_lifecycle,
    check_inbox,
    check_leases,
    check_exact_values,
)


def check_state_store(make_store: StateStoreFactory) -> None:
    """Run every state-store check; report every failure at once.

    Args:
        make_store: returns a fresh, empty store whose leases are timed by the
            clock it is given.

    Raises:
        ConformanceError: one or more checks failed; the message lists them all.
    """
    failures: list[str] = []
    for check in STATE_CHECKS:
        try:
            check(make_store)
        except Exception as exc:  # any exception is a failed check, reported with the rest
            failures.append(f"{check.__name__}: {type(exc).__name__}: {exc}")
    if failures:
        raise ConformanceError(
            f"{len(failures)} state store conformance check(s) failed:\n" + "\n".join(failures)
        )
