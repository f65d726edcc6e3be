"""The demo's real-time step: a purchase arrives by webhook, is applied and fires.

``commerce-connectors demo`` runs it after the polling syncs: a small simulated
Tiendanube store is synced historically into the demo database, then subscribes
the demo's receiver to its order events; a shopper buys, the store delivers the
signed event (twice, as platforms may), the receiver verifies it and stores it
in the inbox before answering, and the worker applies it through the same
engine path. Only the real-time purchase fires "makes a purchase"; the history
does not. The delivery goes to the receiver in-process (``handle``), so the
demo needs no port and no extra package.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

import attrs
import httpx

from ..clock import FakeClock
from ..sinks import SQLiteSink
from ..state import SQLiteStateStore
from ..sync import SyncEngine
from .receiver import WebhookEndpoint, WebhookReceiver
from .worker import WebhookWorker

__all__ = ["RealtimeDemoResult", "run_realtime_demo"]

_SECRET = "demo-app-secret"  # noqa: S105 - the simulated store's app secret
_STORE_ID = 7654321
_URL = f"https://hooks.example.com/webhooks/tiendanube/{_STORE_ID}"
_USER_AGENT = "commerce-connectors demo (demo@example.com)"


@attrs.frozen
class RealtimeDemoResult:
    """What the real-time step showed.

    Attributes:
        connection_id: the store's connection.
        historical_orders: orders the historical sync wrote.
        historical_fired: of those, how many fire automations (recent ones only).
        deliveries: HTTP statuses the store got for its deliveries (a duplicate included).
        ack_ms: the slowest time to acknowledge a delivery, in milliseconds.
        order_id: the purchase's order id.
        fired: whether the purchase was stored as firing (source 1).
        outcome: what the inbox says processing did.
    """

    connection_id: str
    historical_orders: int
    historical_fired: int
    deliveries: tuple[int, ...]
    ack_ms: float
    order_id: str
    fired: bool
    outcome: str


def run_realtime_demo(
    path: str | os.PathLike[str], *, seed: int = 2024, on_step: Callable[[str], None] | None = None
) -> RealtimeDemoResult:
    """Run the real-time step into the demo database at ``path``."""
    from ..platforms.tiendanube import TiendanubeConnector
    from ..testing.simulators.tiendanube import TiendanubeSimulator

    say = on_step or (lambda _: None)
    clock = FakeClock()
    route: list[WebhookReceiver] = []
    acks: list[float] = []

    def deliver(request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        ack = route[0].handle(request.headers.raw, request.content, str(request.url))
        acks.append(time.perf_counter() - started)
        return httpx.Response(ack.status, json=dict(ack.body))

    shop = TiendanubeSimulator(
        seed=seed,
        customers=30,
        orders=60,
        products=8,
        checkouts=0,
        clock=clock,
        store_id=_STORE_ID,
        client_secret=_SECRET,
        webhook_transport=httpx.MockTransport(deliver),
    )
    connector = TiendanubeConnector(
        store_id=shop.store_id,
        access_token=shop.token,
        user_agent=_USER_AGENT,
        base_url=shop.base_url,
        transport=shop.transport(),
        clock=clock,
    )
    sink, state = SQLiteSink(path), SQLiteStateStore(path)
    try:
        engine = SyncEngine(connector, sink, state, clock=clock)
        say(f"realtime: historical sync of {connector.connection_id} (automations stay quiet)")
        engine.run("historical")
        conn_id = connector.connection_id
        route.append(
            WebhookReceiver(
                state,
                [
                    WebhookEndpoint(
                        conn_id, "tiendanube", _SECRET, url=_URL, owns=connector.owns_event
                    )
                ],
                clock=clock,
            )
        )
        connector.ensure_webhooks(_URL, ["order/created", "order/paid"])
        say("realtime: subscribed to order events; a shopper buys now")
        buyer = shop.stores["customers"].query()[0]
        order = shop.add_order(buyer_id=buyer.id)
        shop.webhooks.faults(duplicate=1)
        statuses = tuple(r.status or 0 for r in shop.webhooks.flush())
        say(f"realtime: the store delivered {len(statuses)} signed POSTs; the worker applies them")
        WebhookWorker(state, [engine], clock=clock).drain()
        db = sink.connection
        fired = db.execute(
            "SELECT trigger_fires FROM orders WHERE connection_id=? AND external_id=?",
            (conn_id, str(order.id)),
        ).fetchone()
        outcome = db.execute(
            "SELECT outcome FROM webhook_events WHERE connection_id=? ORDER BY id LIMIT 1",
            (conn_id,),
        ).fetchone()
        historical_orders = _count(
            db,
            "SELECT COUNT(*) FROM orders WHERE connection_id=? AND external_id != ?",
            conn_id,
            str(order.id),
        )
        historical_fired = _count(
            db,
            "SELECT COUNT(*) FROM orders WHERE connection_id=? AND trigger_fires=1"
            " AND external_id != ?",
            conn_id,
            str(order.id),
        )
    finally:
        sink.close()
        state.close()
        connector.close()
        shop.webhooks.close()
    return RealtimeDemoResult(
        connection_id=conn_id,
        historical_orders=historical_orders,
        historical_fired=historical_fired,
        deliveries=statuses,
        ack_ms=1000 * max(acks, default=0.0),
        order_id=str(order.id),
        fired=bool(fired and fired[0]),
        outcome=str(outcome[0]) if outcome else "",
    )


def _count(db: sqlite3.Connection, sql: str, *params: object) -> int:
    return int(db.execute(sql, params).fetchone()[0])
