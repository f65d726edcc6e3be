"""Memory and throughput of a large sync: >= 200,000 orders into SQLite in constant memory.

A generator connector (a BaseConnector, like the platforms) makes orders on
the fly, so no store is held in memory and what is measured is the connector
base, the engine and the sink. One customer per 20 orders, guests, phones to
normalise and a JPY share. The sync goes through the whole pipeline: rules,
field maps, contact merge, batches of 500, one SQLite transaction each. Peak
RSS is sampled as the sync goes: a flat line means memory does not grow with
the number of records.

Run: ``python -m benchmarks.sync_memory [--orders 200000] [--db PATH]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from commerce_connectors.models import Address, Customer, LineItem, Money, Order, Platform, Product
from commerce_connectors.platforms.base import BaseConnector, Fetched
from commerce_connectors.protocols import Stream
from commerce_connectors.sinks import SQLiteSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine, SyncProgress

UTC = dt.timezone.utc
START = dt.datetime(2022, 1, 1, tzinfo=UTC)
CONN = "bench:store"
NAMES = ("Zoë", "José", "Jürgen", "Ana", "Noël", "Siân", "Íñigo", "Liam")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class GeneratedStore(BaseConnector):
    """A connector whose records are computed on demand from their index.

    It goes through :class:`BaseConnector` like the platform connectors (``since``
    checks, parser-failure handling, the bounded repeat filter), so the figure
    covers the path real syncs take; only the HTTP layer is left out.
    """

    platform = Platform.CUSTOM
    streams = frozenset({Stream.PRODUCTS, Stream.CUSTOMERS, Stream.ORDERS})
    unsupported: ClassVar[Mapping[Stream, str]] = {
        Stream.ABANDONED_CARTS: "a benchmark store has no carts"
    }

    def __init__(self, orders: int) -> None:
        super().__init__()
        self.orders = orders
        self.customers = max(orders // 20, 1)
        self.products = 500

    @property
    def connection_id(self) -> str:
        return CONN

    def _fetch(self, stream: Stream, since: dt.datetime | None) -> Iterator[Fetched]:
        makers: dict[Stream, tuple[int, Callable[[Any], Customer | Order | Product]]] = {
            Stream.PRODUCTS: (self.products, self._product),
            Stream.CUSTOMERS: (self.customers, self._customer),
            Stream.ORDERS: (self.orders, self._order),
        }
        count, parse = makers[stream]
        for n in range(count):
            yield n, parse

    def _customer(self, n: int) -> Customer:
        t = START + dt.timedelta(minutes=n)
        email = f"Shopper{n}@Example.com" if n % 17 else None
        return Customer(
            Platform.CUSTOM,
            CONN,
            str(n),
            t,
            t,
            email=email,
            first_name=NAMES[n % len(NAMES)],
            last_name="Müller",
            phone=None if n % 3 else f"+1415{2000000 + n:07d}",
            default_address=Address(phone=f"(212) 555-{n % 10000:04d}", country_code="US"),
            accepts_marketing=bool(n % 2),
        )

    def _product(self, n: int) -> Product:
        t = START + dt.timedelta(hours=n)
        return Product(
            Platform.CUSTOM,
            CONN,
            f"p{n}",
            t,
            t,
            name=f"Product {n}",
            price=Money(Decimal(n % 90 + 10), "USD"),
            sku=f"SKU-{n:05d}",
        )

    def _order(self, n: int) -> Order:
        t = START + dt.timedelta(seconds=30 * n)
        guest = n % 9 == 0
        currency = "JPY" if n % 7 == 0 else "USD"
        price = Money(Decimal(1500 if currency == "JPY" else "19.90"), currency)
        buyer = None if guest else self._customer(n % self.customers)
        return Order(
            Platform.CUSTOM,
            CONN,
            f"o{n}",
            t,
            t,
            status="paid" if n % 11 else "refunded",
            raw_status="paid",
            total=price,
            order_number=str(100000 + n),
            email=f"guest{n}@example.org" if guest else (buyer.email if buyer else None),
            customer_external_id=None if guest else str(n % self.customers),
            customer=buyer,
            lines=[LineItem(f"Product {n % 500}", 1 + n % 3, price, product_id=f"p{n % 500}")],
        )


def run(orders: int, db: Path) -> None:
    """Sync ``orders`` generated orders into ``db`` and print RSS and throughput."""
    store = GeneratedStore(orders)
    sink = SQLiteSink(db)
    state = SQLiteStateStore(db)
    marks = sorted({orders // 8, orders // 4, orders // 2, orders})
    rows: list[tuple[int, float, float]] = []
    started = time.perf_counter()
    baseline = peak_rss_mb()

    def sample(event: SyncProgress) -> None:
        if event.stream is Stream.ORDERS and marks and event.read >= marks[0]:
            rows.append((event.read, peak_rss_mb(), time.perf_counter() - started))
            marks.pop(0)

    engine = SyncEngine(store, sink, state, on_progress=sample)
    report = engine.run("historical")
    elapsed = time.perf_counter() - started
    totals = report.totals()
    batch = sink.capabilities.batch_size
    print(
        f"sync of {orders:,} orders + {store.customers:,} customers + {store.products} products"
        f" into SQLite ({db.name}), batches of {batch}: {report.status.value}"
    )
    print(f"peak RSS before the sync: {baseline:.1f} MiB")
    print(f"{'orders read':>12} {'peak RSS MiB':>13} {'elapsed s':>10}")
    for read, rss, t in rows:
        print(f"{read:>12,} {rss:>13.1f} {t:>10.1f}")
    growth = rows[-1][1] - rows[0][1] if len(rows) > 1 else 0.0
    print(f"peak RSS growth from {rows[0][0]:,} to {rows[-1][0]:,} orders: {growth:+.1f} MiB")
    items = totals["written"] + totals["contacts_new"] + totals["contacts_updated"]
    rate = totals["read"] / elapsed
    print(
        f"records read: {totals['read']:,} in {elapsed:.1f}s = {rate:,.0f} records/s"
        f" (sink items written, contacts included: {items:,})"
    )
    print(f"rows: {sink.counts()}")
    sink.close()
    state.close()


def main() -> None:
    """Parse options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--db", type=Path, help="the SQLite file (default: a temporary one)")
    args = parser.parse_args()
    if args.db:
        run(args.orders, args.db)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args.orders, Path(tmp) / "bench.db")


if __name__ == "__main__":
    main()
