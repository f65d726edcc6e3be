"""Receive a (simulated) Tiendanube store's webhooks and apply them in real time.

Runs offline: the store is the library's simulator, the receiver is the
Starlette app under uvicorn on 127.0.0.1 (the ``webhooks`` extra), the inbox
and the CRM tables live in one SQLite file. It

1. subscribes a public URL to the store's order and customer events (the
   simulator forwards it to the local receiver, as a tunnel would);
2. places an order in the store, pays it, and lets the store deliver the
   events twice and out of order;
3. drains the inbox: the order is written once, up to date, with its
   automation trigger firing (source 1);
4. uninstalls the app: the connection is disabled and polling stops.

Against a real store, give the connector its ``store_id``/``access_token``,
put the receiver behind HTTPS and use ``commerce-connectors serve``.

    python examples/webhooks_realtime.py [path/to/file.db]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import WebhookEndpoint, WebhookReceiver, WebhookWorker
from commerce_connectors.webhooks.asgi import ReceiverServer, create_app

SECRET = "example-app-secret"  # the app's client secret, as Tiendanube signs with it
PUBLIC = "https://hooks.example.com/"


def main(db: Path) -> dict[str, object]:
    clock = FakeClock()
    shop = TiendanubeSimulator(
        seed=3, customers=5, orders=5, products=4, checkouts=0, clock=clock, client_secret=SECRET
    )
    connector = TiendanubeConnector(
        store_id=shop.store_id,
        access_token=shop.token,
        user_agent="ExampleCRM (integrations@example.com)",
        base_url=shop.base_url,
        transport=shop.transport(),
        clock=clock,
    )
    url = f"{PUBLIC}webhooks/tiendanube/{shop.store_id}"
    subscribed = connector.ensure_webhooks(url, ["order/created", "order/paid", "app/uninstalled"])
    print(f"subscribed {url} to {[s.topic for s in subscribed]}")

    state, sink = SQLiteStateStore(db), SQLiteSink(db)
    engine = SyncEngine(connector, sink, state, clock=clock)
    worker = WebhookWorker(state, [engine], clock=clock)
    endpoint = WebhookEndpoint(
        connector.connection_id, "tiendanube", secret=SECRET, url=url, owns=connector.owns_event
    )
    receiver = WebhookReceiver(state, [endpoint], clock=clock)
    with ReceiverServer(create_app(receiver)) as server:
        shop.webhooks.forward(PUBLIC, server.url + "/")
        print(f"receiver listening on {server.url}{endpoint.path}")

        buyer = shop.add_customer()
        order = shop.add_order(buyer_id=buyer.id, payment_status="pending")
        clock.sleep(30)
        shop.update("orders", order.id, {"payment_status": "paid"})
        shop.webhooks.faults(duplicate=1, reorder=True)
        answers = [r.status for r in shop.webhooks.flush()]
        print(f"store delivered {len(answers)} POSTs (duplicated, reordered): {answers}")
        report = worker.drain()
        print(f"worker: {report.done} event(s) applied, {report.failed} failed")

        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT external_id, status, trigger_fires, trigger_source FROM orders"
            ).fetchall()
            events = conn.execute(
                "SELECT topic, status, outcome FROM webhook_events ORDER BY id"
            ).fetchall()
        for topic, status, outcome in events:
            print(f"  inbox: {topic:<16} {status:<6} {outcome}")
        print(f"orders in the CRM tables: {rows}")

        shop.webhooks.faults()
        shop.uninstall_app()
        shop.webhooks.flush()
        worker.drain()
        status = state.connection_status(connector.connection_id)
        polled = engine.run()
        print(f"after app/uninstalled: connection {status.state.value};", end=" ")
        print(f"a poll is {polled.status.value}")
    sink.close()
    state.close()
    connector.close()
    shop.webhooks.close()
    return {"orders": rows, "state": status.state.value, "poll": polled.status.value}


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "realtime.db")
