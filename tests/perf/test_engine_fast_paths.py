"""The engine's per-record fast paths give exactly what the previous engine gave.

``SyncEngine`` now maps without building a ``MappedRecord`` (``FieldMap._mapped``),
skips the per-item kind filter when the sink stores every kind, asks a runtime
protocol check once per sink (``_contact_lookup``), and in ``_account`` works
out which records were written only when dead letters are open. ``ReferenceEngine``
below is the engine with the previous ``_sync_stream``, ``_map``, ``_known_guest``
and ``_account``, copied word for word. On random stores (guests, carts, bad
records, maps that fail some records then are fixed, sinks that refuse records,
contact caps, small batches, sinks without some kinds), both must leave identical
reports, sinks and state stores (checkpoints, dead letters and their resolution,
parked contacts, runs). A planted difference is shown to be caught.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    AuthenticationError,
    FieldProblem,
    InvalidRecordError,
    MappingError,
    RetriableError,
)
from commerce_connectors.mapping import ORDER_MAP
from commerce_connectors.models import Cart, Order
from commerce_connectors.protocols import (
    BatchAck,
    Checkpoint,
    ContactLookupSink,
    ItemOutcome,
    SinkBatch,
    SinkCapabilities,
    SinkItem,
    Stream,
    WriteAction,
)
from commerce_connectors.rules import Contact, GuestPolicy, Reason, SyncMode, normalize_email
from commerce_connectors.rules.defaults import defaults_for
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.sync import engine as engine_module
from commerce_connectors.sync.engine import _StopRequestedError, http_stats_of
from commerce_connectors.sync.report import SyncReport

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))

from _syncfakes import ListConnector, at, cart, customer, order, product

_http_delta = engine_module._http_delta


class ReferenceEngine(SyncEngine):
    """The engine with its previous per-record methods (word for word)."""

    def _sync_stream(
        self,
        stream: Stream,
        plan: tuple[_dt.datetime | None, SyncMode],
        report: SyncReport,
        *,
        save_checkpoint: bool,
    ) -> None:
        if self._stop.is_set():
            raise _StopRequestedError
        since, trigger_mode = plan
        current = report.stream(stream)
        current.mode = "historical" if trigger_mode is SyncMode.HISTORICAL else "incremental"
        current.since = since
        self._current = current
        pass_started = self.clock.now()
        stream_t0 = self.clock.monotonic()
        http_before = http_stats_of(self.connector)
        # The checkpoint never passes a record deliberately deferred (a cart not yet
        # abandoned), so the next incremental run reads it again.
        holdback: _dt.datetime | None = None
        items: list[SinkItem] = []
        limit = self.sink.capabilities.batch_size
        # Kinds the sink does not store are not sent (a CRM without a product catalogue).
        kinds = self.sink.capabilities.kinds
        self._progress(stream, "start", stream_t0)
        try:
            for record in self._iterate(stream, since):
                current.read += 1
                made, deferred = self._items_for(stream, record, trigger_mode, pass_started)
                made = [i for i in made if i.kind in kinds]
                if deferred is not None:
                    holdback = deferred if holdback is None else min(holdback, deferred)
                if len(items) + len(made) > limit:
                    self._flush(stream, items, stream_t0)
                    items = []
                    if self._stop.is_set():
                        raise _StopRequestedError
                items.extend(made)
                while len(items) > limit:
                    # One record made more items than a batch holds (a sink taking one
                    # item per write): the contact goes first, its record next.
                    self._flush(stream, items[:limit], stream_t0)
                    items = items[limit:]
            self._flush(stream, items, stream_t0)
        except (AuthenticationError, RetriableError):
            # What was read before the error is valid: write it, then stop.
            self._flush(stream, items, stream_t0)
            raise
        finally:
            requests, waited, backoff = _http_delta(http_before, http_stats_of(self.connector))
            current.requests += requests
            current.rate_limit_wait += waited
            current.retry_wait += backoff
        if save_checkpoint:
            value = pass_started if holdback is None else min(pass_started, holdback)
            self._renew_lease()  # only the lease's holder moves a checkpoint
            self.state.save_checkpoint(
                Checkpoint(self.connection_id, stream, value, self.clock.now(), report.run_id)
            )
            current.checkpoint = value
        current.completed = True
        self._progress(stream, "end", stream_t0)

    def _map(self, kind: str, record: Any) -> Mapping[str, Any] | None:
        try:
            return self.maps[kind].apply(record).fields
        except MappingError as error:
            self._dead_letter(error)
            return None

    def _known_guest(self, record: Order | Cart, reason: Reason | None) -> str | None:
        """The email of an excluded guest the CRM already knows as a contact, if any."""
        if reason is not Reason.GUEST_EXCLUDED or not isinstance(self.sink, ContactLookupSink):
            return None
        email = record.email
        if email is None and record.customer is not None:
            email = record.customer.email
        normalized = normalize_email(email).value
        if normalized is None or not self.sink.contact_exists(normalized):
            return None
        return normalized

    def _account(self, batch: SinkBatch, ack: BatchAck) -> None:
        current = self._current
        now = self.clock.now()
        parked: list[tuple[Contact, Reason]] = []
        written: list[tuple[str, str]] = []
        for item, outcome in zip(batch.items, ack.outcomes, strict=True):
            action = outcome.action
            if action is WriteAction.REFUSED and isinstance(outcome.error, InvalidRecordError):
                # The destination refused this record: keep it with the CRM's reason.
                self._dead_letter(outcome.error)
                continue
            if item.kind == "contact":
                assert isinstance(item.record, Contact)
                if action is WriteAction.REFUSED:
                    parked.append((item.record, outcome.reason or Reason.CONTACT_LIMIT))
                elif item.record.external_id is not None:
                    # A contact map failure is dead-lettered under the contact's source id.
                    written.append(("contact", item.record.external_id))
                if current is None:
                    continue
                if action is WriteAction.REFUSED:
                    if outcome.reason is Reason.CONTACT_LIMIT or outcome.reason is None:
                        current.refused_by_cap += 1
                    else:
                        current.contact_notes[outcome.reason.value] += 1
                elif action is WriteAction.INSERTED:
                    current.contacts_new += 1
                elif action is WriteAction.UPDATED:
                    current.contacts_updated += 1
                else:
                    current.contacts_unchanged += 1
                current.duplicates_merged += int(outcome.merged)
                continue
            if action in (WriteAction.INSERTED, WriteAction.UPDATED, WriteAction.UNCHANGED):
                written.append((item.kind, item.key.external_id))
            if current is None:
                continue
            if action is WriteAction.INSERTED:
                current.new += 1
            elif action is WriteAction.UPDATED:
                current.updated += 1
            elif action is WriteAction.UNCHANGED:
                current.unchanged += 1
            elif action is WriteAction.STALE:
                current.stale += 1
            else:
                current.skipped[(outcome.reason or Reason.NO_IDENTITY).value] += 1
            if item.kind in ("customer", "order", "cart"):
                fires = item.trigger is not None and item.trigger.fires
                current.triggers_fired += int(
                    fires and action in (WriteAction.INSERTED, WriteAction.UPDATED)
                )
        refusals = {c.key.value for c, r in parked if r is Reason.CONTACT_LIMIT}
        if refusals:
            self.state.park_contacts(
                self.connection_id, [(c, r) for c, r in parked if c.key.value in refusals], now
            )
        resolved = [k for k in written if k in self._open_letters]
        if resolved and self._report is not None:
            self._report.dead_letters_resolved += self.state.resolve_dead_letters(
                self.connection_id, resolved, now
            )
            self._open_letters.difference_update(resolved)


# -- stores -----------------------------------------------------------------------------------


class RefusingSink(MemorySink):
    """A memory sink whose destination refuses some records (as a CRM would)."""

    def __init__(self, refuse: frozenset[str], **options: Any) -> None:
        super().__init__(**options)
        self.refuse = refuse

    def write(self, batch: SinkBatch) -> BatchAck:
        ack = super().write(batch)
        outcomes = []
        for item, outcome in zip(batch.items, ack.outcomes, strict=True):
            if item.key.external_id in self.refuse and item.kind != "contact":
                error = InvalidRecordError(
                    platform="custom",
                    kind=item.kind,
                    record_id=item.key.external_id,
                    problems=[FieldProblem("x", "refused by the destination")],
                    payload=None,
                )
                outcome = ItemOutcome(item.key, WriteAction.REFUSED, error=error)
            outcomes.append(outcome)
        return BatchAck(ack.sequence, tuple(outcomes))


class FewKindsSink(MemorySink):
    """A memory sink that stores only some kinds."""

    def __init__(self, kinds: frozenset[str], **options: Any) -> None:
        super().__init__(**options)
        self._caps = attrs.evolve(self._caps, kinds=kinds)


class PlainSink:
    """A sink that is not a ContactLookupSink (it cannot look contacts up)."""

    def __init__(self, inner: MemorySink) -> None:
        self.inner = inner

    @property
    def capabilities(self) -> SinkCapabilities:
        return self.inner.capabilities

    def write(self, batch: SinkBatch) -> BatchAck:
        return self.inner.write(batch)

    def close(self) -> None:
        self.inner.close()


_emails = st.sampled_from(["a@x.co", "B@x.co", "c@x.co", "bad@", None])


@st.composite
def _records(draw: st.DrawFn) -> dict[str, list[Any]]:
    n = draw(st.integers(0, 6))
    customers = [
        customer(
            str(i),
            draw(_emails),
            hours=draw(st.integers(0, 5)),
            phone=draw(st.sampled_from([None, "+34 911 23 45 67", "12"])),
            accepts_marketing=draw(st.sampled_from([None, True, False])),
        )
        for i in range(n)
    ]
    orders = []
    for i in range(draw(st.integers(0, 8))):
        cid = draw(st.sampled_from([None, "0", "1", "2"]))
        buyer = None
        if cid not in (None, "0") and draw(st.booleans()):
            buyer = customer(cid, draw(_emails))
        raw = draw(st.sampled_from([None, {"note": "n"}, {}]))
        orders.append(
            order(
                f"o{i}",
                hours=draw(st.integers(0, 5)),
                cid=cid,
                email=draw(_emails),
                customer=buyer,
                raw=raw,
            )
        )
    carts = [
        cart(
            f"k{i}",
            hours=draw(st.integers(0, 60)),
            email=draw(st.sampled_from(["z@x.co", "q@x.co"])),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    products = [product(f"p{i}") for i in range(draw(st.integers(0, 2)))]
    return {"customers": customers, "orders": orders, "carts": carts, "products": products}


_STRICT = {"order": ORDER_MAP.add("note", "$.note", required=True)}


def _state(sink: Any, state: MemoryStateStore, reports: list[Any]) -> Any:
    inner = sink.inner if isinstance(sink, PlainSink) else sink
    return (
        [r.to_dict() for r in reports],
        [
            (r.status, r.error, r.dead_letters_resolved, r.parked_retried, r.parked_synced)
            for r in reports
        ],
        repr(sorted(inner._records.items(), key=lambda kv: repr(kv[0]))),
        repr(sorted(inner._contacts.items())),
        repr(state.checkpoints()),
        repr(sorted(state.dead_letters("custom:fake"), key=repr)),
        repr(sorted(state.open_dead_letter_keys("custom:fake"))),
        repr(state.parked_contacts()),
        repr(state.runs("custom:fake")),
    )


def _run(
    engine_class: type[SyncEngine],
    data: dict[str, list[Any]],
    make_sink: Callable[[], Any],
    options: dict[str, Any],
) -> Any:
    clock = FakeClock(wall_start=at(70))
    sink = make_sink()
    state = MemoryStateStore(clock=clock)
    rules = defaults_for("custom")
    if options["no_guests"]:
        rules = attrs.evolve(rules, guests=GuestPolicy(sync_guests=False, guest_customer_ids={"0"}))
    connector = ListConnector(**data)
    reports = []
    strict = engine_class(
        connector, sink, state, rules=rules, maps=_STRICT if options["strict"] else None,
        clock=clock, worker_id="w",
    )  # fmt: skip
    reports.append(strict.run("historical"))
    clock.advance(7200.0)
    fixed = engine_class(connector, sink, state, rules=rules, clock=clock, worker_id="w")
    reports.append(fixed.replay_dead_letters())
    reports.append(fixed.run())
    reports.append(fixed.apply([*data["orders"], *data["customers"]], mode=SyncMode.REALTIME))
    return _state(sink, state, reports)


def _sinks(options: dict[str, Any]) -> Callable[[], Any]:
    size, limit, phone = options["batch"], options["limit"], options["phone"]
    kind = options["sink"]
    if kind == "refusing":
        return lambda: RefusingSink(
            frozenset({"o1", "3", "k0"}), batch_size=size, contact_limit=limit, phone_identity=phone
        )
    if kind == "few":
        return lambda: FewKindsSink(
            frozenset(options["kinds"]), batch_size=size, contact_limit=limit, phone_identity=phone
        )
    if kind == "plain":
        return lambda: PlainSink(
            MemorySink(batch_size=size, contact_limit=limit, phone_identity=phone)
        )
    return lambda: MemorySink(batch_size=size, contact_limit=limit, phone_identity=phone)


_options = st.fixed_dictionaries(
    {
        "batch": st.integers(1, 5),
        "limit": st.sampled_from([None, 1, 2, 5]),
        "phone": st.booleans(),
        "sink": st.sampled_from(["memory", "refusing", "few", "plain"]),
        "kinds": st.sets(st.sampled_from(["contact", "customer", "order", "cart", "product"])),
        "no_guests": st.booleans(),
        "strict": st.booleans(),
    }
)


def _same(data: dict[str, list[Any]], options: dict[str, Any]) -> Any:
    expected = _run(ReferenceEngine, data, _sinks(options), options)
    assert _run(SyncEngine, data, _sinks(options), options) == expected
    return expected


@settings(max_examples=60)
@given(data=_records(), options=_options)
def test_the_engine_equals_the_previous_engine(
    data: dict[str, Any], options: dict[str, Any]
) -> None:
    _same(data, options)


_BUSY = {
    "customers": [customer("1", "a@x.co"), customer("2", None, phone="+34 911 23 45 67")],
    "orders": [
        order("o1", cid="1", email="a@x.co", raw={"note": "n"}),
        order("o2", cid="0", email="a@x.co"),
        order("o3", cid="2", email="c@x.co"),
    ],
    "carts": [cart("k0", hours=1), cart("k1", hours=69)],
    "products": [product("p0")],
}
_BUSY_OPTIONS = {
    "batch": 2, "limit": None, "phone": False, "sink": "memory", "kinds": set(),
    "no_guests": True, "strict": True,
}  # fmt: skip


def test_dead_letters_are_resolved_and_known_guests_found_as_before() -> None:
    reports = _same(_BUSY, _BUSY_OPTIONS)[1]
    assert reports[1][2] > 0  # the replay resolved dead letters
    # A known guest's order joined its contact (the protocol check answered once).
    refusing = dict(_BUSY_OPTIONS, sink="refusing")
    assert _same(_BUSY, refusing)


def test_a_planted_difference_in_the_engine_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _run(ReferenceEngine, _BUSY, _sinks(_BUSY_OPTIONS), _BUSY_OPTIONS)
    # Dead letters never resolved: caught.
    monkeypatch.setattr(engine_module, "_written", lambda batch, ack: [])
    assert _run(SyncEngine, _BUSY, _sinks(_BUSY_OPTIONS), _BUSY_OPTIONS) != expected
    monkeypatch.undo()
    # Guests never looked up: caught.
    monkeypatch.setattr(SyncEngine, "_contact_lookup", lambda self: None)
    assert _run(SyncEngine, _BUSY, _sinks(_BUSY_OPTIONS), _BUSY_OPTIONS) != expected
    monkeypatch.undo()
    # Items of kinds the sink does not store sent anyway: caught.
    few = dict(_BUSY_OPTIONS, sink="few", kinds={"order", "customer"})
    expected_few = _run(ReferenceEngine, _BUSY, _sinks(few), few)
    monkeypatch.setattr(engine_module, "_ITEM_KINDS", frozenset())
    assert _run(SyncEngine, _BUSY, _sinks(few), few) != expected_few


def test_the_protocol_check_is_asked_once_per_sink() -> None:
    sink = MemorySink()
    engine = SyncEngine(ListConnector(), sink, MemoryStateStore(), clock=FakeClock(), worker_id="w")
    assert engine._contact_lookup() is sink
    assert engine._lookup is not None
    assert engine._lookup[0] is sink
    engine.sink = PlainSink(sink)  # a new sink is asked again
    assert engine._contact_lookup() is None
