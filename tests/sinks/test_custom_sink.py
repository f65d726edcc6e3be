"""CallbackSink: only changes reach the CRM, decided by the library, atomic on its side."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
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
