"""Memory and throughput of a large sync: ≥ 200,000 orders into SQLite in constant memory.

A generator connector makes orders on the fly (no store held in memory, so
what is measured is the engine and the sink), with a customer base of one
customer per 20 orders, guests, phones to normalise and a JPY share. The
sync goes through the whole pipeline: rules, field maps, contact merge,
batches of 500, one SQLite transaction each. Peak RSS is sampled as the sync
goes: a flat line means memory does not grow with the number of records.

Run: ``python -m benchmarks.sync_memory [--orders 200000] [--db PATH]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from commerce_connectors.errors import UnsupportedStreamError
from commerce_connectors.models import Address, Customer, LineItem, Money, Order, Platform, Product
from commerce_connectors.platforms.base import raise_invalid
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


class GeneratedStore:
    """A Connector whose records are computed on demand from their index."""

    platform = Platform.CUSTOM
    connection_id = CONN
    supported_streams = frozenset({Stream.PRODUCTS, Stream.CUSTOMERS, Stream.ORDERS})
    recommended_overlap = dt.timedelta(minutes=5)

    def __init__(self, orders: int) -> None:
        self.orders = orders
        self.customers = max(orders // 20, 1)
        self.products = 500
        self.on_invalid = raise_invalid

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

    def iter_products(self, since: dt.datetime | None = None) -> Iterator[Product]:
        for n in range(self.products):
            t = START + dt.timedelta(hours=n)
            yield Product(
                Platform.CUSTOM,
                CONN,
                f"p{n}",
                t,
                t,
                name=f"Product {n}",
                price=Money(Decimal(n % 90 + 10), "USD"),
                sku=f"SKU-{n:05d}",
            )

    def iter_customers(self, since: dt.datetime | None = None) -> Iterator[Customer]:
        for n in range(self.customers):
            yield self._customer(n)

    def iter_orders(self, since: dt.datetime | None = None) -> Iterator[Order]:
        for n in range(self.orders):
            t = START + dt.timedelta(seconds=30 * n)
            guest = n % 9 == 0
            currency = "JPY" if n % 7 == 0 else "USD"
            price = Money(Decimal(1500 if currency == "JPY" else "19.90"), currency)
            buyer = None if guest else self._customer(n % self.customers)
            yield Order(
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

    def iter_abandoned_carts(self, since: dt.datetime | None = None) -> Iterator[object]:
        raise UnsupportedStreamError("custom", "abandoned_carts", "a benchmark store")

    def close(self) -> None:
        pass

    def __enter__(self) -> GeneratedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


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
