"""CallbackSink: only changes reach the CRM, decided by the library, atomic on its side."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import ContactLimitError, InvalidRecordError, SinkError
from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import LineItem, Money, Order
from commerce_connectors.protocols import ContactLookupSink, InspectableSink, SinkBatch, SinkItem
from commerce_connectors.protocols import WriteAction as W
from commerce_connectors.rules import (
    Contact,
    ContactKey,
    IdentityKind,
    Reason,
    RecordKey,
    SourceRef,
    TriggerDecision,
)
from commerce_connectors.sinks.custom import CallbackSink, Change, RecordRefusedError
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.sink_conformance import check_sink

CONN = "toy:shop-1"
T0 = dt.datetime(2024, 5, 1, 9, tzinfo=dt.timezone.utc)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_sink.py"


class Recorder:
    """The two write functions, recording every change; ``fail`` makes one of them raise."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.fail: Callable[[Change], None] | None = None

    def __call__(self, change: Change) -> None:
        if self.fail is not None:
            self.fail(change)
        self.changes.append(change)

    def sink(self, ledger: str = ":memory:", **options: Any) -> CallbackSink:
        return CallbackSink(write_contact=self, write_record=self, ledger=ledger, **options)

    def take(self) -> list[tuple[str, str, W]]:
        out = [(c.kind, c.key.external_id, c.action) for c in self.changes]
        self.changes.clear()
        return out


def contact(email: str, *, hours: float = 0, customer: str = "1", **values: Any) -> SinkItem:
    at = T0 + dt.timedelta(hours=hours)
    record = Contact(
        ContactKey(IdentityKind.EMAIL, email),
        at,
        email=email,
        sources=[SourceRef("custom", CONN, customer, at)],
        **values,
    )
    return SinkItem(
        RecordKey("", "contact", email), record, DEFAULT_MAPS["contact"].apply(record).fields
    )


def order(external_id: str, *, hours: float = 0, total: str = "10.00") -> SinkItem:
    record = Order(
        "custom",
        CONN,
        external_id,
        T0,
        T0 + dt.timedelta(hours=hours),
        status="paid",
        raw_status="paid",
        total=Money(total, "EUR"),
        email="ana@example.com",
        lines=[LineItem("Mug", 1, Money(total, "EUR"))],
        raw={"id": external_id, "total": total},
    )
    return SinkItem(
        RecordKey(CONN, "order", external_id),
        record,
        DEFAULT_MAPS["order"].apply(record).fields,
        trigger=TriggerDecision(False, Reason.HISTORICAL_DATA),
        contact="ana@example.com",
    )


def batch(*items: SinkItem) -> SinkBatch:
    return SinkBatch(items, CONN)


def test_passes_the_sink_conformance_suite_with_a_file_ledger(tmp_path: Path) -> None:
    counter = iter(range(1000))
    rec = Recorder()
    check_sink(lambda **kw: rec.sink(str(tmp_path / f"ledger-{next(counter)}.db"), **kw))
    sink = rec.sink()
    assert isinstance(sink, InspectableSink)
    assert isinstance(sink, ContactLookupSink)


def test_only_changes_reach_the_crm_contacts_first() -> None:
    rec = Recorder()
    sink = rec.sink()
    sink.write(batch(order("o1"), contact("ana@example.com", first_name="Ana")))
    assert rec.take() == [
        ("contact", "ana@example.com", W.INSERTED),
        ("order", "o1", W.INSERTED),
    ]
    ack = sink.write(batch(order("o1"), contact("ana@example.com", first_name="Ana")))
    assert [o.action for o in ack.outcomes] == [W.UNCHANGED, W.UNCHANGED]
    assert rec.take() == []
    ack = sink.write(batch(order("o1", hours=-1, total="1.00"), order("o1", hours=2)))
    assert [o.action for o in ack.outcomes] == [W.STALE, W.UPDATED]
    assert rec.take() == [("order", "o1", W.UPDATED)]


def test_the_crm_receives_the_merged_contact_once_per_batch() -> None:
    rec = Recorder()
    sink = rec.sink()
    sink.write(batch(contact("zoe@example.com", customer="1", tags=("vip",), first_name="Zoë")))
    rec.take()
    sink.write(
        batch(
            contact("zoe@example.com", hours=1, customer="2", tags=("eu",)),
            contact("zoe@example.com", hours=2, customer="3", tags=("b2b",)),
        )
    )
    (change,) = rec.changes
    assert change.action is W.UPDATED
    assert isinstance(change.record, Contact)
    assert change.record.tags == ("b2b", "eu", "vip")
    assert change.record.first_name == "Zoë"
    assert change.subscription is not None
    assert not change.subscription.subscribe


def test_a_failing_write_function_fails_the_batch_and_it_is_sent_again() -> None:
    rec = Recorder()
    sink = rec.sink()

    def boom(change: Change) -> None:
        if change.kind == "order":
            raise RuntimeError("https://crm.example/?api_key=s3cret timed out")

    rec.fail = boom
    with pytest.raises(SinkError) as caught:
        sink.write(batch(contact("ana@example.com"), order("o1")))
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert sink.snapshot() == {}
    assert sink.contact_count() == 0
    rec.take()
    rec.fail = None
    ack = sink.write(batch(contact("ana@example.com"), order("o1")))
    assert [o.action for o in ack.outcomes] == [W.INSERTED, W.INSERTED]
    assert [k for k, _, _ in rec.take()] == ["contact", "order"]


def test_an_item_the_sink_cannot_store_sends_nothing() -> None:
    rec = Recorder()
    sink = rec.sink(kinds={"contact", "order"})
    bad = SinkItem(RecordKey(CONN, "order", "x"), contact("a@b.co").record, {})
    with pytest.raises(SinkError):
        sink.write(batch(contact("ana@example.com"), bad))
    assert rec.changes == []


def test_a_record_the_crm_refuses_is_reported_with_its_payload_the_rest_is_kept() -> None:
    rec = Recorder()
    sink = rec.sink()

    def refuse(change: Change) -> None:
        if change.key.external_id == "bad":
            raise RecordRefusedError("total must not be negative", field="total")

    rec.fail = refuse
    ack = sink.write(batch(order("bad", total="-1.00"), order("good")))
    refused, kept = ack.outcomes
    assert refused.action is W.REFUSED
    assert refused.reason is Reason.SINK_REJECTED
    assert isinstance(refused.error, InvalidRecordError)
    assert refused.error.payload == {"id": "bad", "total": "-1.00"}
    assert [p.path for p in refused.error.problems] == ["total"]
    assert kept.action is W.INSERTED
    assert RecordKey(CONN, "order", "bad") not in sink.snapshot()
    rec.fail = None
    assert sink.write(batch(order("bad", total="-1.00"))).outcomes[0].action is W.INSERTED


def test_the_crms_own_contact_cap_refuses_per_item() -> None:
    rec = Recorder()
    sink = rec.sink()

    def capped(change: Change) -> None:
        if change.key.external_id == "new@example.com":
            raise ContactLimitError(2, "new@example.com")

    rec.fail = capped
    ack = sink.write(batch(contact("old@example.com"), contact("new@example.com")))
    assert [o.action for o in ack.outcomes] == [W.INSERTED, W.REFUSED]
    assert ack.outcomes[1].reason is Reason.CONTACT_LIMIT
    assert sink.contact_exists("old@example.com")
    assert not sink.contact_exists("new@example.com")


def test_the_ledger_survives_the_process(tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    rec = Recorder()
    with rec.sink(ledger) as sink:
        sink.write(batch(contact("ana@example.com"), order("o1")))
    rec.take()
    with rec.sink(ledger) as again:
        ack = again.write(batch(contact("ana@example.com"), order("o1")))
    assert [o.action for o in ack.outcomes] == [W.UNCHANGED, W.UNCHANGED]
    assert rec.changes == []


def test_a_sync_sends_each_change_once_and_fires_nothing_historical() -> None:
    clock = FakeClock()
    shop = ToyShopSimulator(seed=3, customers=25, orders=60, products=8, clock=clock)
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    rec = Recorder()
    sink = rec.sink(kinds={"contact", "order"})
    engine = SyncEngine(connector, sink, MemoryStateStore(), clock=clock)
    report = engine.run("historical")
    assert report.status == "ok", report.summary()
    kinds = {c.kind for c in rec.changes}
    assert kinds == {"contact", "order"}
    seen: dict[RecordKey, Change] = {}
    for change in rec.changes:  # a contact seen again in the orders stream may change
        before = seen.get(change.key)
        assert change.action is (W.INSERTED if before is None else W.UPDATED)
        assert before is None or before.record != change.record
        seen[change.key] = change
    day_ago = clock.now() - dt.timedelta(hours=24)
    orders = [c for c in rec.changes if c.kind == "order"]
    assert orders
    assert all(c.trigger is not None for c in orders)
    fired = [c.record for c in orders if c.trigger is not None and c.trigger.fires]
    assert all(isinstance(o, Order) and o.created_at >= day_ago for o in fired)
    rec.take()
    engine.run("historical")
    assert rec.changes == []


def test_the_example_passes_check_sink_and_syncs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("custom_sink_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        module.main(str(tmp_path))
    finally:
        del sys.modules[spec.name]
    out = capsys.readouterr().out
    assert "check_sink: every check passed" in out
    assert "same data again: 0 CRM requests" in out


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def target() -> None:
        try:
            work()
        finally:
            done.set()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, done


def test_two_sinks_on_one_ledger_send_one_after_the_other_and_lose_no_merge(
    tmp_path: Path,
) -> None:
    # Two workers (two processes, or two sinks here: two connections to the file)
    # deliver changes of one person at the same moment.
    ledger = str(tmp_path / "ledger.db")
    crm: dict[str, tuple[str, ...]] = {}
    second_done: list[threading.Event] = []

    def write_contact(change: Change) -> None:
        assert isinstance(change.record, Contact)
        crm[change.key.external_id] = change.record.tags

    other = CallbackSink(write_contact=write_contact, write_record=lambda c: None, ledger=ledger)
    threads: list[threading.Thread] = []

    def first_write_contact(change: Change) -> None:
        write_contact(change)
        if not threads:  # while this batch is with the CRM, the other worker writes
            thread, done = _in_thread(
                lambda: other.write(batch(contact("zoe@example.com", hours=1, tags=("eu",))))
            )
            threads.append(thread)
            second_done.append(done)
            done.wait(0.5)  # it must not get through before this batch is remembered

    first = CallbackSink(write_contact=first_write_contact, write_record=lambda c: None,
                         ledger=ledger)  # fmt: skip
    first.write(batch(contact("zoe@example.com", customer="1", tags=("vip",))))
    threads[0].join(timeout=30)
    assert second_done[0].is_set()
    assert crm == {"zoe@example.com": ("eu", "vip")}
    (view,) = first.snapshot().values()
    assert view["data"]["tags"] == ["eu", "vip"]
    first.close()
    other.close()


def test_two_sinks_on_one_ledger_keep_the_contact_cap_between_them(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.db")
    sent: list[str] = []
    acks: list[list[W]] = []
    other = CallbackSink(write_contact=lambda c: sent.append(c.key.external_id),
                         write_record=lambda c: None, ledger=ledger, contact_limit=1)  # fmt: skip
    threads: list[threading.Thread] = []

    def first_write_contact(change: Change) -> None:
        sent.append(change.key.external_id)
        if not threads:
            thread, done = _in_thread(
                lambda: acks.append(
                    [o.action for o in other.write(batch(contact("y@example.com"))).outcomes]
                )
            )
            threads.append(thread)
            done.wait(0.5)

    first = CallbackSink(write_contact=first_write_contact, write_record=lambda c: None,
                         ledger=ledger, contact_limit=1)  # fmt: skip
    ack = first.write(batch(contact("x@example.com")))
    threads[0].join(timeout=30)
    assert [o.action for o in ack.outcomes] == [W.INSERTED]
    assert acks == [[W.REFUSED]]
    assert sent == ["x@example.com"]
    assert first.contact_count() == 1
    first.close()
    other.close()


def test_a_writer_waiting_too_long_for_the_ledger_fails_the_batch_cleanly(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.db")
    rec = Recorder()
    holder = sqlite3.connect(ledger, isolation_level=None)
    sink = rec.sink(ledger, ledger_wait=0.05)
    holder.execute("BEGIN IMMEDIATE")  # another writer's batch, under way
    with pytest.raises(SinkError, match="ledger"):
        sink.write(batch(contact("ana@example.com")))
    holder.execute("ROLLBACK")
    assert rec.changes == []
    assert [o.action for o in sink.write(batch(contact("ana@example.com"))).outcomes] == [
        W.INSERTED
    ]
    holder.close()
    sink.close()


@pytest.mark.parametrize("where", ["the CRM", "the library"])
def test_records_of_a_contact_refused_by_a_cap_are_not_sent(where: str) -> None:
    rec = Recorder()
    if where == "the CRM":
        sink = rec.sink()

        def capped(change: Change) -> None:
            if change.kind == "contact" and change.key.external_id == "ana@example.com":
                raise ContactLimitError(1, "ana@example.com")

        rec.fail = capped
    else:
        sink = rec.sink(contact_limit=1)
    ack = sink.write(batch(contact("bo@example.com"), contact("ana@example.com"), order("o1")))
    assert [(o.action, o.reason) for o in ack.outcomes] == [
        (W.INSERTED, None),
        (W.REFUSED, Reason.CONTACT_LIMIT),
        (W.REFUSED, Reason.CONTACT_LIMIT),
    ]
    error = ack.outcomes[2].error
    assert isinstance(error, InvalidRecordError)  # dead-lettered by the engine, payload kept
    assert error.payload == {"id": "o1", "total": "10.00"}
    assert "contact cap" in error.problems[0].reason
    assert rec.take() == [("contact", "bo@example.com", W.INSERTED)]
    assert RecordKey(CONN, "order", "o1") not in sink.snapshot()
    # The cap is raised: the contact and its order are sent then.
    rec.fail = None
    raised = rec.sink() if where == "the library" else sink
    if where == "the library":
        raised.write(batch(contact("bo@example.com")))
        rec.take()
    ack = raised.write(batch(contact("ana@example.com"), order("o1")))
    assert [o.action for o in ack.outcomes] == [W.INSERTED, W.INSERTED]
    assert [k for k, _, _ in rec.take()] == ["contact", "order"]


def test_a_sync_dead_letters_the_orders_of_capped_contacts_and_a_replay_sends_them(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    shop = ToyShopSimulator(seed=3, customers=25, orders=60, products=8, clock=clock)
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    ledger = str(tmp_path / "ledger.db")
    rec = Recorder()
    state = MemoryStateStore()
    with rec.sink(ledger, kinds={"contact", "order"}, contact_limit=5) as capped:
        report = SyncEngine(connector, capped, state, clock=clock).run("historical")
    sent_orders = {c.record.external_id for c in rec.changes if c.kind == "order"}
    allowed = {c.key.external_id for c in rec.changes if c.kind == "contact"}
    assert len(allowed) == 5
    for change in rec.changes:
        if change.kind == "order":
            assert change.contact is None or change.contact in allowed
    letters = [d for d in state.dead_letters(connector.connection_id) if d.kind == "order"]
    capped_out = {d.record_id for d in letters if "contact cap" in d.problems[0].reason}
    assert capped_out
    assert report.needs_attention
    assert not capped_out & sent_orders
    rec.take()
    with rec.sink(ledger, kinds={"contact", "order"}) as raised:  # the plan was upgraded
        engine = SyncEngine(connector, raised, state, clock=clock)
        engine.run("incremental")  # the parked contacts go in first
        engine.replay_dead_letters()
    replayed = {c.record.external_id for c in rec.changes if c.kind == "order"}
    assert capped_out <= replayed
    open_letters = {d.record_id for d in state.dead_letters(connector.connection_id)}
    assert not capped_out & open_letters
