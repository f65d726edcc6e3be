"""``check_sink``: the conformance suite every sink must pass.

Give it a factory that builds a fresh, empty sink (accepting a
``contact_limit`` keyword); it checks the
:class:`~commerce_connectors.protocols.Sink` contract:

* capabilities are honest: a full batch is taken, every declared kind is
  stored, the declared contact cap is the enforced one, and a phone-keyed
  contact is stored only by a sink that says it accepts them;
* re-writing a batch is idempotent: every item comes back ``unchanged``, the
  stored content is identical and no contact is duplicated;
* update-if-newer: a newer version replaces, an older one never does, and an
  exact tie between different contents ends the same whatever the order;
* a batch is atomic: one bad item and nothing of the batch is stored;
* contacts are merged by identity (tags unioned, one contact);
* the contact cap refuses new contacts per item with ``ContactLimitError``
  and keeps updating existing ones;
* sinks that can erase (:class:`~commerce_connectors.protocols.ErasableSink`)
  erase one person without touching another, then a whole connection, and a
  second erase finds nothing; sinks that keep a record status
  (:class:`~commerce_connectors.protocols.StatusSink`) mark a written cart
  deleted so it no longer fires.

Only the kinds a sink declares in ``capabilities.kinds`` are written to it
(the sync engine sends it no others), so a CRM sink without, say, a product
catalogue is checked on contacts and orders.

Sinks that implement :class:`~commerce_connectors.protocols.InspectableSink`
(``snapshot()``) are also checked on what they store; others on their
acknowledgements only.

Example:
    >>> from commerce_connectors.sinks import MemorySink
    >>> check_sink(MemorySink)
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ContactLimitError, SinkError
from ..mapping import DEFAULT_MAPS
from ..models import Cart, Customer, LineItem, Money, Order, Product
from ..protocols import (
    BatchAck,
    ErasableSink,
    InspectableSink,
    Sink,
    SinkBatch,
    SinkItem,
    StatusSink,
    WriteAction,
)
from ..rules import (
    Contact,
    ContactKey,
    IdentityKind,
    Reason,
    RecordKey,
    SourceRef,
    TriggerDecision,
)
from .conformance import ConformanceError

__all__ = ["SINK_CHECKS", "SinkFactory", "check_sink"]

#: Builds a fresh, empty sink; must accept ``contact_limit=`` (``None``: no cap).
SinkFactory = Callable[..., Sink]

_CONN = "conformance:store-1"
_T0 = _dt.datetime(2024, 3, 1, 12, tzinfo=_dt.timezone.utc)


def _t(hours: float) -> _dt.datetime:
    return _T0 + _dt.timedelta(hours=hours)


def _fail(check: str, message: str) -> ConformanceError:
    return ConformanceError(f"{check}: {message}")


def _contact_item(email: str, *, at: float = 0, customer: str = "1", **values: Any) -> SinkItem:
    contact = Contact(
        ContactKey(IdentityKind.EMAIL, email),
        _t(at),
        email=email,
        sources=[SourceRef("custom", _CONN, customer, _t(at))],
        **values,
    )
    return SinkItem(
        RecordKey("", "contact", email), contact, DEFAULT_MAPS["contact"].apply(contact).fields
    )


def _phone_item(phone: str) -> SinkItem:
    contact = Contact(ContactKey(IdentityKind.PHONE, phone), _T0, phone=phone)
    return SinkItem(
        RecordKey("", "contact", phone), contact, DEFAULT_MAPS["contact"].apply(contact).fields
    )


def _product_item(external_id: str, *, at: float = 0, name: str = "Mug") -> SinkItem:
    product = Product(
        "custom", _CONN, external_id, _T0, _t(at), name=name, price=Money("12.50", "EUR")
    )
    return SinkItem(
        RecordKey(_CONN, "product", external_id),
        product,
        DEFAULT_MAPS["product"].apply(product).fields,
    )


def _customer_item(external_id: str, email: str) -> SinkItem:
    customer = Customer("custom", _CONN, external_id, _T0, _T0, email=email, first_name="Zoë")
    return SinkItem(
        RecordKey(_CONN, "customer", external_id),
        customer,
        DEFAULT_MAPS["customer"].apply(customer).fields,
        contact=email,
    )


def _order_item(
    external_id: str, *, at: float = 0, total: str = "25.00", email: str = "ana@example.com"
) -> SinkItem:
    order = Order(
        "custom",
        _CONN,
        external_id,
        _T0,
        _t(at),
        status="paid",
        raw_status="paid",
        total=Money(total, "EUR"),
        email=email,
        lines=[LineItem("Mug", 2, Money(total, "EUR"))],
    )
    return SinkItem(
        RecordKey(_CONN, "order", external_id),
        order,
        DEFAULT_MAPS["order"].apply(order).fields,
        trigger=TriggerDecision(False, Reason.HISTORICAL_DATA),
        contact=email,
    )


def _cart_item(external_id: str) -> SinkItem:
    cart = Cart("custom", _CONN, external_id, _T0, _T0, total=Money("5", "JPY"), email="b@x.io")
    return SinkItem(
        RecordKey(_CONN, "cart", external_id),
        cart,
        DEFAULT_MAPS["cart"].apply(cart).fields,
        trigger=TriggerDecision(False, Reason.HISTORICAL_CART),
        status="abandoned",
    )


def _one_of_each() -> list[SinkItem]:
    return [
        _product_item("p1"),
        _contact_item("ana@example.com", first_name="Ana"),
        _customer_item("1", "ana@example.com"),
        _order_item("o1"),
        _cart_item("c1"),
    ]


_sequence = 0


def _snap_fields(item: SinkItem) -> Any:
    """The item's CRM fields as plain JSON data (what a snapshot shows)."""
    return json.loads(json.dumps(item.fields, default=str, ensure_ascii=False))


def _bulk_item(kinds: frozenset[str], n: int) -> SinkItem:
    if "product" in kinds:
        return _product_item(f"bulk-{n}")
    if "order" in kinds:
        return _order_item(f"bulk-{n}")
    return _contact_item(f"bulk-{n}@example.com")


def _declared(sink: Sink, items: list[SinkItem]) -> list[SinkItem]:
    """The items of kinds the sink declares (the engine sends it no others)."""
    return [i for i in items if i.kind in sink.capabilities.kinds]


def _write(sink: Sink, items: list[SinkItem]) -> BatchAck:
    global _sequence
    _sequence += 1
    return sink.write(SinkBatch(items, _CONN, None, _sequence))


def _actions(ack: BatchAck) -> list[WriteAction]:
    return [o.action for o in ack.outcomes]


def _snapshot(sink: Sink) -> Mapping[RecordKey, Any] | None:
    return sink.snapshot() if isinstance(sink, InspectableSink) else None


def _check_ack(check: str, items: list[SinkItem], ack: BatchAck) -> None:
    keys = [o.key for o in ack.outcomes]
    if keys != [i.key for i in items]:
        raise _fail(check, f"the ack must list one outcome per item, in order; got {keys}")


# -- the checks -----------------------------------------------------------------------


def check_capabilities_are_honest(make_sink: SinkFactory) -> None:
    """A full batch and every declared kind are taken; the cap and identities are as declared."""
    sink = make_sink()
    caps = sink.capabilities
    if caps.batch_size < 1:
        raise _fail("capabilities", f"batch_size must be >= 1, got {caps.batch_size}")
    size = min(caps.batch_size, 2000)
    full = [_bulk_item(caps.kinds, n) for n in range(size)]
    ack = _write(sink, full)
    _check_ack("capabilities", full, ack)
    if _actions(ack) != [WriteAction.INSERTED] * size:
        raise _fail("capabilities", f"a batch of batch_size={size} new records was not inserted")
    declared = [i for i in _one_of_each() if i.kind in caps.kinds]
    if not declared:
        raise _fail("capabilities", "no record kind declared: the sink can store nothing")
    ack = _write(sink, declared)
    if any(a is not WriteAction.INSERTED for a in _actions(ack)):
        raise _fail("capabilities", f"declared kinds not all stored: {_actions(ack)}")
    capped = make_sink(contact_limit=2)
    if capped.capabilities.contact_limit != 2:
        raise _fail("capabilities", "contact_limit=2 is not reported in capabilities")
    phone = _phone_item("+34911234567")
    outcome = _write(sink, [phone]).outcomes[0]
    stored = outcome.action is WriteAction.INSERTED
    if stored != caps.accepts_phone_only:
        raise _fail(
            "capabilities",
            f"accepts_phone_only={caps.accepts_phone_only} but a phone-keyed contact was "
            f"{outcome.action.value}",
        )
    for s in (sink, capped):
        s.close()


def check_rewrite_is_idempotent(make_sink: SinkFactory) -> None:
    """Writing the same batch twice stores the same thing; the second write is all unchanged."""
    sink = make_sink()
    items = _declared(sink, _one_of_each())
    _write(sink, items)
    before = _snapshot(sink)
    # A snapshot is keyed like the items, so it cannot show a duplicate row; the count can.
    count = sink.contact_count() if isinstance(sink, InspectableSink) else None
    ack = _write(sink, items)
    _check_ack("idempotent", items, ack)
    if set(_actions(ack)) != {WriteAction.UNCHANGED}:
        raise _fail("idempotent", f"a re-written batch gave {[a.value for a in _actions(ack)]}")
    if before is not None and _snapshot(sink) != before:
        raise _fail("idempotent", "re-writing a batch changed the stored content")
    if isinstance(sink, InspectableSink) and sink.contact_count() != count:
        raise _fail(
            "idempotent",
            f"re-writing a batch made {count} contacts into "
            f"{sink.contact_count()}: a duplicate contact",
        )
    sink.close()


def check_update_if_newer(make_sink: SinkFactory) -> None:
    """Newer versions replace, older never; exact ties end the same in either order."""
    sink = make_sink()
    if "product" in sink.capabilities.kinds:
        old, new = _product_item("p", at=1, name="old"), _product_item("p", at=2, name="new")
    else:  # a CRM without a catalogue: versions of an order
        old, new = _order_item("p", at=1, total="1.00"), _order_item("p", at=2, total="2.00")
    actions = [_write(sink, [x]).outcomes[0] for x in (old, new, old)]
    got = [o.action for o in actions]
    if got != [WriteAction.INSERTED, WriteAction.UPDATED, WriteAction.STALE]:
        raise _fail("update-if-newer", f"old, new, old gave {[a.value for a in got]}")
    if actions[2].reason is not Reason.STALE_RECORD:
        raise _fail("update-if-newer", "a stale write must say Reason.STALE_RECORD")
    snap = _snapshot(sink)
    if snap is not None and snap[new.key]["fields"] != _snap_fields(new):
        raise _fail("update-if-newer", "an older version replaced a newer one")
    sink.close()
    a, b = _order_item("o", at=3, total="10.00"), _order_item("o", at=3, total="11.00")
    results = []
    for first, second in ((a, b), (b, a)):
        tie = make_sink()
        _write(tie, [first])
        _write(tie, [second])
        results.append(_snapshot(tie))
        tie.close()
    if results[0] is not None and results[0] != results[1]:
        raise _fail("update-if-newer", "an exact tie ends differently depending on arrival order")


def check_batch_is_atomic(make_sink: SinkFactory) -> None:
    """A batch with one bad item raises SinkError and stores nothing of the batch."""
    sink = make_sink()
    _write(sink, _declared(sink, [_product_item("kept"), _order_item("kept")])[:1])
    before = _snapshot(sink)
    good = _declared(
        sink, [_product_item("p-new"), _contact_item("new@example.com"), _order_item("o-new")]
    )
    # An order key carrying a product: no sink can store that consistently.
    bad = SinkItem(RecordKey(_CONN, "order", "bad"), _product_item("x").record, {})
    try:
        _write(sink, [*good, bad])
    except SinkError:
        pass
    else:
        raise _fail("atomic", "a batch with an invalid item was acknowledged")
    if before is not None and _snapshot(sink) != before:
        raise _fail("atomic", "part of a failed batch was stored")
    ack = _write(sink, good)
    if set(_actions(ack)) != {WriteAction.INSERTED}:
        raise _fail("atomic", "after a failed batch, its good items were not new")
    sink.close()


def check_contacts_merge_by_identity(make_sink: SinkFactory) -> None:
    """Two records of one identity make one contact, merged (tags unioned)."""
    sink = make_sink()
    first = _contact_item("zoe@example.com", at=1, customer="1", tags=("vip",), first_name="Zoë")
    second = _contact_item("zoe@example.com", at=2, customer="2", tags=("eu",))
    _write(sink, [first])
    ack = _write(sink, [second])
    outcome = ack.outcomes[0]
    if outcome.action is not WriteAction.UPDATED or not outcome.merged:
        raise _fail("merge", f"a second source of one identity gave {outcome}")
    snap = _snapshot(sink)
    if snap is not None:
        contacts = [k for k in snap if k.kind == "contact"]
        data = snap[RecordKey("", "contact", "zoe@example.com")]["data"]
        if len(contacts) != 1 or sorted(data["tags"]) != ["eu", "vip"]:
            raise _fail("merge", f"expected one contact tagged eu+vip, got {contacts} {data}")
        if data["first_name"] != "Zoë":
            raise _fail("merge", "a known first name was lost to an empty one")
    sink.close()


def check_contact_cap(make_sink: SinkFactory) -> None:
    """Beyond the cap, new contacts are refused per item; existing ones still update."""
    sink = make_sink(contact_limit=2)
    items = [_contact_item(f"c{n}@example.com") for n in range(3)]
    ack = _write(sink, items)
    got = _actions(ack)
    if got != [WriteAction.INSERTED, WriteAction.INSERTED, WriteAction.REFUSED]:
        raise _fail("contact cap", f"3 new contacts under a cap of 2 gave {got}")
    refused = ack.outcomes[2]
    if refused.reason is not Reason.CONTACT_LIMIT or not isinstance(
        refused.error, ContactLimitError
    ):
        raise _fail("contact cap", "a refusal must carry CONTACT_LIMIT and a ContactLimitError")
    update = _contact_item("c0@example.com", at=5, first_name="Updated")
    if _write(sink, [update]).outcomes[0].action is not WriteAction.UPDATED:
        raise _fail("contact cap", "an existing contact was not updated at the cap")
    if isinstance(sink, InspectableSink) and sink.contact_count() != 2:
        raise _fail("contact cap", f"{sink.contact_count()} contacts stored under a cap of 2")
    sink.close()


def _emails_in(snapshot: Mapping[RecordKey, Any]) -> set[str]:
    found: set[str] = set()
    for key, row in snapshot.items():
        if key.kind == "contact":
            found.add(key.external_id)
        data = row.get("data") if isinstance(row, Mapping) else None
        if isinstance(data, Mapping) and isinstance(data.get("email"), str):
            found.add(data["email"])
    return found


def check_erase(make_sink: SinkFactory) -> None:
    """An erasable sink erases one person, leaves the others, then a whole connection."""
    sink = make_sink(contact_limit=None)
    if not isinstance(sink, ErasableSink):
        sink.close()
        return
    bob = [
        _contact_item("bob@example.com", customer="2", first_name="Bob"),
        _customer_item("2", "bob@example.com"),
        _order_item("o2", email="bob@example.com"),
    ]
    _write(sink, _declared(sink, _one_of_each()))
    _write(sink, _declared(sink, bob))
    if sink.erase(_CONN, email="ANA@example.com ") < 1:
        raise _fail("erase", "erasing a stored person reported nothing erased")
    snap = _snapshot(sink)
    if snap is not None:
        emails = _emails_in(snap)
        if "ana@example.com" in emails:
            raise _fail("erase", "the erased person's email is still stored")
        if "bob@example.com" not in emails:
            raise _fail("erase", "erasing one person erased another")
    if sink.erase(_CONN, email="ana@example.com") != 0:
        raise _fail("erase", "a second erase of the same person found something to erase")
    sink.erase(_CONN)
    snap = _snapshot(sink)
    if snap is not None and snap:
        raise _fail("erase", f"erasing the connection left {sorted(map(str, snap))[:3]}")
    sink.close()


def check_status(make_sink: SinkFactory) -> None:
    """A status sink marks a written cart deleted, once, and it no longer fires."""
    sink = make_sink(contact_limit=None)
    if not isinstance(sink, StatusSink) or "cart" not in sink.capabilities.kinds:
        sink.close()
        return
    item = _cart_item("c1")
    item = SinkItem(item.key, item.record, item.fields, TriggerDecision(True), status="abandoned")
    _write(sink, [item])
    at = _t(1)
    if not sink.set_status(item.key, "deleted", at):
        raise _fail("status", "marking a stored cart deleted reported no change")
    if sink.set_status(item.key, "deleted", at):
        raise _fail("status", "marking it deleted again reported a change")
    if sink.set_status(RecordKey(_CONN, "cart", "nope"), "deleted", at):
        raise _fail("status", "an unknown cart reported a change")
    snap = _snapshot(sink)
    if snap is not None:
        row = snap[item.key]
        if row.get("status") != "deleted" or (row.get("trigger") or {}).get("fires"):
            raise _fail("status", f"a deleted cart is stored as {row.get('status')!r}, firing")
    sink.close()


#: Every check, in a stable order; each builds its own sinks.
SINK_CHECKS: tuple[Callable[[SinkFactory], None], ...] = (
    check_capabilities_are_honest,
    check_rewrite_is_idempotent,
    check_update_if_newer,
    check_batch_is_atomic,
    check_contacts_merge_by_identity,
    check_contact_cap,
    check_erase,
    check_status,
)


def check_sink(make_sink: SinkFactory) -> None:
    """Run every sink check; report every failure at once.

    Args:
        make_sink: returns a fresh, empty sink; called with ``contact_limit=N``
            when a check needs a cap.

    Raises:
        ConformanceError: one or more checks failed; the message lists them all.
    """
    failures: list[str] = []
    for check in SINK_CHECKS:
        try:
            check(make_sink)
        except Exception as exc:  # any exception is a failed check, reported with the rest
            failures.append(f"{check.__name__}: {type(exc).__name__}: {exc}")
    if failures:
        raise ConformanceError(
            f"{len(failures)} sink conformance check(s) failed:\n" + "\n".join(failures)
        )
