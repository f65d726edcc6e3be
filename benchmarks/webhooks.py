"""Webhook throughput and time to acknowledge, over real HTTP into SQLite.

Two figures, on this machine, through the whole real-time path: signed
Tiendanube-shaped deliveries POSTed to the Starlette receiver under uvicorn on
127.0.0.1, verified, stored in the SQLite inbox (WAL, synchronous=FULL: every
acknowledgement is durable), drained by the worker through the sync engine's
rules and field maps into a SQLite sink.

1. **Throughput**: N events sent as fast as 8 client threads can, the worker
   draining at the same time: events per second from the first POST until the
   last event is applied.
2. **Time to acknowledge** under a steady 200 events/s for a few seconds, the
   worker draining meanwhile: p50, p99 and max of POST → 200.

The connector answers each event from memory (no platform API call), so the
figures are the library's own cost; a light-payload platform adds one fetch
per event, paced by that platform's rate limit.

Run: ``python -m benchmarks.webhooks [--events 2000] [--rate 200] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from commerce_connectors.models import Customer, LineItem, Money, Order, Platform
from commerce_connectors.platforms.base import raise_invalid
from commerce_connectors.protocols import EventStatus, Stream
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.webhooks import (
    WebhookEndpoint,
    WebhookEvent,
    WebhookReceiver,
    WebhookSubscription,
    WebhookWorker,
)
from commerce_connectors.webhooks.asgi import ReceiverServer, create_app

SECRET = b"bench-secret"
STORE = "777"
CONN = f"tiendanube:{STORE}"
PUBLIC = "https://hooks.example.com/webhooks/tiendanube/777"


class MemoryShop:
    """A RealtimeConnector whose records are built from the event (no API call)."""

    platform = Platform.TIENDANUBE
    connection_id = CONN
    recommended_overlap = dt.timedelta(minutes=5)
    supported_streams = frozenset({Stream.ORDERS})

    def __init__(self) -> None:
        self.on_invalid = raise_invalid

    def ensure_webhooks(self, callback_url: str, topics: Any = None) -> list[WebhookSubscription]:
        return []

    def list_webhooks(self) -> list[WebhookSubscription]:
        return []

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        return 0

    def owns_event(self, event: WebhookEvent) -> bool:
        return event.store_id == STORE

    def records_for_event(self, event: WebhookEvent) -> list[Any]:
        n = int(event.external_id or 0)
        now = dt.datetime.now(dt.timezone.utc)
        email = f"buyer{n % 5000}@example.com"
        buyer = Customer(
            Platform.TIENDANUBE, CONN, str(n % 5000), now, now, email=email, first_name="Ana"
        )
        lines = [LineItem(f"Item {i}", 1 + i % 3, Money("12.50", "BRL")) for i in range(4)]
        order = Order(
            Platform.TIENDANUBE,
            CONN,
            str(n),
            now,
            now,
            order_number=str(1000 + n),
            status="paid",
            raw_status="paid",
            total=Money("75.00", "BRL"),
            email=email,
            customer_external_id=buyer.external_id,
            customer=buyer,
            lines=lines,
        )
        return [order]

    def iter_customers(self, since: Any = None) -> Any:
        return iter(())

    iter_orders = iter_products = iter_abandoned_carts = iter_customers

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryShop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _delivery(n: int) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"store_id": int(STORE), "event": "order/paid", "id": n}).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return {"X-Linkedstore-HMAC-SHA256": signature, "Content-Type": "application/json"}, body


def _client() -> httpx.Client:
    return httpx.Client(limits=httpx.Limits(max_connections=32))


def _rig(folder: Path) -> tuple[SQLiteStateStore, SQLiteSink, WebhookWorker, WebhookReceiver]:
    state = SQLiteStateStore(folder / "state.db")
    sink = SQLiteSink(folder / "sink.db")
    worker = WebhookWorker(state, [SyncEngine(MemoryShop(), sink, state)])  # type: ignore[arg-type]
    endpoint = WebhookEndpoint(CONN, "tiendanube", secret=SECRET, url=PUBLIC)
    receiver = WebhookReceiver(state, [endpoint], on_stored=worker.wake)
    return state, sink, worker, receiver


def _wait_done(state: SQLiteStateStore, total: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while state.event_counts()[EventStatus.DONE] < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {state.event_counts()} after {timeout}s")
        time.sleep(0.05)


def throughput(events: int) -> float:
    """Events per second from the first POST until the last event is applied."""
    with tempfile.TemporaryDirectory() as folder:
        state, sink, worker, receiver = _rig(Path(folder))
        stop = threading.Event()
        drainer = threading.Thread(target=worker.run, args=(stop,), kwargs={"idle": 0.05})
        with ReceiverServer(create_app(receiver)) as server:
            url = server.url + "/webhooks/tiendanube/777"
            drainer.start()
            started = time.perf_counter()
            with _client() as client, ThreadPoolExecutor(8) as pool:

                def send(n: int) -> int:
                    headers, body = _delivery(n)
                    return client.post(url, content=body, headers=headers).status_code

                statuses = list(pool.map(send, range(events)))
            acked = time.perf_counter() - started
            _wait_done(state, events)
            elapsed = time.perf_counter() - started
        stop.set()
        worker.wake()
        drainer.join()
        assert statuses.count(200) == events, "every delivery must be acknowledged"
        orders = sink.counts()["orders"]
        state.close()
        sink.close()
    print(
        f"throughput: {events} events, acknowledged in {acked:.2f} s "
        f"({events / acked:,.0f} acks/s), all applied in {elapsed:.2f} s "
        f"= {events / elapsed:,.0f} events/s end to end ({orders} orders in SQLite)"
    )
    return events / elapsed


def acknowledge_latency(rate: float, seconds: float) -> dict[str, float]:
    """p50/p99/max time to acknowledge under a steady ``rate`` events/s."""
    total = int(rate * seconds)
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        state, sink, worker, receiver = _rig(Path(folder))
        stop = threading.Event()
        drainer = threading.Thread(target=worker.run, args=(stop,), kwargs={"idle": 0.05})
        with ReceiverServer(create_app(receiver)) as server:
            url = server.url + "/webhooks/tiendanube/777"
            drainer.start()
            lock = threading.Lock()
            with _client() as client, ThreadPoolExecutor(16) as pool:

                def send(n: int) -> None:
                    headers, body = _delivery(n)
                    t0 = time.perf_counter()
                    response = client.post(url, content=body, headers=headers)
                    took = time.perf_counter() - t0
                    assert response.status_code == 200
                    with lock:
                        latencies.append(took)

                start = time.perf_counter()
                for n in range(total):
                    # Open-loop schedule: send n at start + n/rate, whatever the answers do.
                    delay = start + n / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(send, n)
            sent_for = time.perf_counter() - start
            _wait_done(state, total)
            lag = time.perf_counter() - start - sent_for
        stop.set()
        worker.wake()
        drainer.join()
        state.close()
        sink.close()
    ordered = sorted(latencies)
    figures = {
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "max_ms": 1000 * ordered[-1],
    }
    print(
        f"acknowledge at {rate:.0f} events/s for {seconds:.0f} s ({total} events): "
        f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
        f"max {figures['max_ms']:.1f} ms (Shopify allows 5,000 ms); "
        f"worker caught up {lag:.2f} s after the last send"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    throughput(args.events)
    acknowledge_latency(args.rate, args.seconds)


if __name__ == "__main__":
    main()
