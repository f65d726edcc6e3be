"""Builders for the ActiveCampaign sink tests: a sink wired to a simulator, items, a view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from commerce_connectors.clock import FakeClock
from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import Cart, Customer, LineItem, Money, Order
from commerce_connectors.protocols import BatchAck, ItemOutcome, SinkBatch, SinkItem
from commerce_connectors.rules import (
    Contact,
    ContactKey,
    IdentityKind,
    Reason,
    RecordKey,
    SourceRef,
    TriggerDecision,
)
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink
from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
#: The simulated account's "now": a month after the records' times, so a cart's
#: abandonedDate is in the past, as the abandoned-cart guide requires.
CLOCK_START = dt.datetime(2024, 4, 1, tzinfo=UTC)
CONN = "shopify:acme.myshopify.com"
HISTORICAL = TriggerDecision(False, Reason.HISTORICAL_DATA)
REALTIME = TriggerDecision(True)
HISTORICAL_CART = TriggerDecision(False, Reason.HISTORICAL_CART)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def pair(**options: Any) -> tuple[ActiveCampaignSimulator, ActiveCampaignSink]:
    """A fresh simulator and a sink talking to it in-process, on one fake clock."""
    sim_options = {k: options.pop(k) for k in ("faults", "lists", "rate_limit") if k in options}
    clock = FakeClock(wall_start=CLOCK_START)
    sim = ActiveCampaignSimulator(clock=clock, **sim_options)
    sink = ActiveCampaignSink(
        api_url=sim.api_url, api_token=sim.token, transport=sim.transport(), clock=clock, **options
    )
    return sim, sink


def contact(
    email: str,
    *,
    hours: float = 0,
    customer: str | None = "1",
    conn: str = CONN,
    **values: Any,
) -> SinkItem:
    record = Contact(
        ContactKey(IdentityKind.EMAIL, email),
        at(hours),
        email=email,
        sources=[SourceRef("shopify", conn, customer, at(hours))],
        **values,
    )
    return SinkItem(
        RecordKey("", "contact", email), record, DEFAULT_MAPS["contact"].apply(record).fields
    )


def customer(cid: str, email: str, *, hours: float = 0, **values: Any) -> SinkItem:
    record = Customer("shopify", CONN, cid, at(0), at(hours), email=email, **values)
    return SinkItem(
        RecordKey(CONN, "customer", cid),
        record,
        DEFAULT_MAPS["customer"].apply(record).fields,
        contact=email,
    )


def order(
    oid: str,
    *,
    email: str = "ana@example.com",
    total: str = "25.00",
    currency: str = "USD",
    hours: float = 0,
    created: float = 0,
    trigger: TriggerDecision | None = HISTORICAL,
    lines: tuple[LineItem, ...] | None = None,
    conn: str = CONN,
    **values: Any,
) -> SinkItem:
    if lines is None:
        lines = (LineItem("Mug", 1, Money(total, currency), product_id="p1", sku="MUG-1"),)
    record = Order(
        "shopify",
        conn,
        oid,
        at(created),
        at(max(hours, created)),
        status=values.pop("status", "paid"),
        raw_status="paid",
        total=Money(total, currency),
        email=email,
        lines=lines,
        **values,
    )
    return SinkItem(
        RecordKey(conn, "order", oid),
        record,
        DEFAULT_MAPS["order"].apply(record).fields,
        trigger=trigger,
        contact=email,
    )


def cart(
    cid: str,
    *,
    email: str = "ana@example.com",
    total: str = "40.00",
    currency: str = "USD",
    hours: float = 0,
    trigger: TriggerDecision | None = HISTORICAL_CART,
    status: str = "abandoned",
    **values: Any,
) -> SinkItem:
    record = Cart(
        "shopify",
        CONN,
        cid,
        at(0),
        at(hours),
        total=Money(total, currency),
        email=email,
        lines=(LineItem("Kite", 2, Money("20.00", currency), product_id="k1"),),
        recovery_url=f"https://acme.example/recover/{cid}",
        **values,
    )
    return SinkItem(
        RecordKey(CONN, "cart", cid),
        record,
        DEFAULT_MAPS["cart"].apply(record).fields,
        trigger=trigger,
        contact=email,
        status=status,
    )


_seq = 0


def write(sink: ActiveCampaignSink, *items: SinkItem) -> BatchAck:
    global _seq
    _seq += 1
    return sink.write(SinkBatch(items, CONN, None, _seq))


def one(sink: ActiveCampaignSink, item: SinkItem) -> ItemOutcome:
    return write(sink, item).outcomes[0]


class InspectableView:
    """The sink, plus ``snapshot()``/``contact_count()`` read from the simulator's account.

    Lets ``check_sink`` check what is *stored* (idempotent content, merged contacts,
    the contact count, atomic batches), in ActiveCampaign's own terms.
    """

    def __init__(self, sim: ActiveCampaignSimulator, sink: ActiveCampaignSink) -> None:
        self.sim, self.sink = sim, sink

    @property
    def capabilities(self) -> Any:
        return self.sink.capabilities

    def write(self, batch: SinkBatch) -> BatchAck:
        return self.sink.write(batch)

    def close(self) -> None:
        self.sink.close()

    def contact_count(self) -> int:
        return self.sim.count("contacts")

    def snapshot(self) -> dict[RecordKey, Mapping[str, Any]]:
        conns = {c["id"]: c["externalid"] for c in self.sim.records("connections")}
        out: dict[RecordKey, Mapping[str, Any]] = {}
        drop = {"id", "createdDate", "updatedDate", "tstamp", "customerid", "connectionid"}
        for o in self.sim.orders():
            data = {k: v for k, v in o.items() if k not in drop and not k.startswith("_")}
            data["lines"] = [
                {k: v for k, v in line.items() if k in ("externalid", "name", "price", "quantity")}
                for line in o["lines"]
            ]
            data.pop("discounts", None)
            conn = conns[o["connectionid"]]
            if o.get("externalid"):
                out[RecordKey(conn, "order", o["externalid"])] = {"data": data}
            if o.get("externalcheckoutid"):
                out[RecordKey(conn, "cart", o["externalcheckoutid"])] = {"data": data}
        for c in self.sim.records("ecomCustomers"):
            data = {k: c[k] for k in ("email", "externalid", "acceptsMarketing")}
            out[RecordKey(conns[c["connectionid"]], "customer", c["externalid"])] = {"data": data}
        for row in self.sim.records("contacts"):
            view = self.sim.contact(row["email"])
            assert view is not None
            data = {
                "email": view["email"],
                "first_name": view["firstName"] or None,
                "last_name": view["lastName"] or None,
                "phone": view["phone"] or None,
                "tags": view["tags"],
                "lists": view["lists"],
                "account": view["account"],
            }
            out[RecordKey("", "contact", view["email"])] = {"data": data}
        return out


def api(sim: ActiveCampaignSimulator) -> Any:
    """A plain HTTP client on the simulator's API (someone else writing to the account)."""
    import httpx

    return httpx.Client(
        transport=sim.transport(),
        base_url=sim.api_url + "/api/3",
        headers={"Api-Token": sim.token},
    )


def requests_to(sim: ActiveCampaignSimulator, method: str, route: str) -> int:
    return len(sim.log.filter(method=method, route="/api/3/" + route))
