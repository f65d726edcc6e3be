"""Historical read of a simulated Shopify store: paged GraphQL vs bulk operations.

Each path runs in two fresh processes: the simulator, served on 127.0.0.1, and the
reader (a :class:`ShopifyConnector` reading customers, orders with lines, products with
variants and abandoned checkouts), so the reader's peak RSS is its own. Both use fake
clocks: the reader sends its simulated time with every request and the simulator adopts
it, so throttling waits, the cost bucket's restore rate (Standard plan: 1,000 points,
100/s) and the bulk export rate (``BULK_EXPORT_RATE`` objects per second) all play out in
simulated time while the run takes minutes of wall time.

Printed: requests, cost points (the simulator's ``actualQueryCost`` and
``requestedQueryCost`` sums: Shopify charges the actual cost), simulated API
time, the reader's peak RSS, wall time, records per kind and whether both paths gave the
same records (an order-independent digest of every canonical record, per kind).

Run: ``python -m benchmarks.shopify_bulk [--orders 100000]`` (about 3 minutes of wall
time per path here: the simulator renders every record through graphql-core on both
paths). The store has one customer per 5 orders, one product per 50 and one abandoned
checkout per 10. The store does not change during a run, so the simulator sorts each
connection once
(:class:`FrozenStore`) instead of once per page: that only shortens the paged path's wall
time, not what is measured of the connector.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

#: The header that carries the reader's simulated time to the simulator's process.
CLOCK_HEADER = "X-Simulated-Monotonic"
WALL = dt.datetime(2024, 10, 2, tzinfo=dt.timezone.utc)
#: The simulator's default token.
TOKEN = "shpat_simulated_0123456789abcdef"
ROOT = Path(__file__).resolve().parents[1]
KINDS = ("products", "customers", "orders", "carts")


def store_size(orders: int) -> dict[str, int]:
    """The store: orders, and customers, products, checkouts in proportion."""
    return {
        "orders": orders,
        "customers": max(orders // 5, 1),
        "products": max(orders // 50, 10),
        "checkouts": max(orders // 10, 1),
    }


# -- the simulator's process ------------------------------------------------------------------


def frozen_store_class() -> type:
    """A record store sorted once per sort key: it does not change during a run."""
    from commerce_connectors.testing.simulator import data

    class FrozenStore(data.RecordStore):
        def page_by_cursor(
            self,
            *,
            limit: int,
            cursor: str | None = None,
            sort: data.SortKey = "id",
            descending: bool = False,
            **query: Any,
        ) -> data.Page:
            if query or descending:
                return super().page_by_cursor(limit=limit, cursor=cursor, sort=sort,
                                              descending=descending, **query)  # fmt: skip
            cache = self.__dict__.setdefault("_frozen", {})
            if sort not in cache:
                records = self.query(sort=sort)
                cache[sort] = (records, [data._cursor_key(r, sort) for r in records])
            records, keys = cache[sort]
            start = bisect.bisect_right(keys, data._decode_cursor(cursor)) if cursor else 0
            end = start + limit
            following = data._encode_cursor(keys[end - 1]) if end < len(records) else None
            return data.Page(records[start:end], len(records), following)

    return FrozenStore


def serve(orders: int, seed: int) -> None:
    """Build the store, serve it, print its URL; at EOF on stdin print its figures."""
    from commerce_connectors.clock import FakeClock
    from commerce_connectors.testing.simulators.shopify import ShopifySimulator

    class ClockedSimulator(ShopifySimulator):
        """Takes the reader's simulated time from each request (only the reader waits)."""

        def before_request(
            self, request: httpx.Request, params: dict[str, str]
        ) -> httpx.Response | None:
            stamp = request.headers.get(CLOCK_HEADER)
            if stamp is not None:
                ahead = float(stamp) - self.clock.monotonic()
                if ahead > 0:
                    self.clock.advance(ahead)  # type: ignore[attr-defined]
            return super().before_request(request, params)

    clock = FakeClock(wall_start=WALL)
    sim = ClockedSimulator(seed=seed, clock=clock, **store_size(orders))
    frozen = frozen_store_class()
    for store in sim.stores.values():
        store.__class__ = frozen
    with sim.serve() as url:
        print(f"READY {url}", flush=True)
        sys.stdin.read()
    report = sim.cost_report()
    jobs = list(sim.bulk_operations.values())
    print(
        json.dumps(
            {
                "queries": report.queries,
                "throttled": report.throttled,
                "points": report.actual,
                "requested": report.requested,
                "requests": len(sim.log),
                "operations": len(jobs),
                "objects": sum(j.cumulative[-1] if j.cumulative else 0 for j in jobs),
                "rate": sim.bulk_export_rate,
                "start_delay": sim.bulk_start_delay,
            }
        ),
        flush=True,
    )


# -- the reader's process ---------------------------------------------------------------------


class IdBits:
    """Which ids were seen, one bit each (a set of 100,000 ints would weigh on the RSS)."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytearray] = {}
        self.count = 0

    def add(self, ident: int) -> bool:
        """Mark ``ident``; return whether it was already marked."""
        block = self.blocks.setdefault(ident >> 16, bytearray(8192))
        byte, bit = (ident & 0xFFFF) >> 3, 1 << (ident & 7)
        if block[byte] & bit:
            return True
        block[byte] |= bit
        self.count += 1
        return False


class ClockHeader(httpx.BaseTransport):
    """Adds the reader's simulated time to every request."""

    def __init__(self, inner: httpx.BaseTransport, clock: Any) -> None:
        self.inner, self.clock = inner, clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[CLOCK_HEADER] = repr(self.clock.monotonic())
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def read(url: str, path: str) -> None:
    """Read every stream through ``path`` (``paged`` or ``bulk``); print the figures."""
    from commerce_connectors.clock import FakeClock
    from commerce_connectors.platforms.shopify import ShopifyConnector

    clock = FakeClock(wall_start=WALL)
    # The served simulator writes a whole result file before its first byte: wait for it.
    client = httpx.Client(
        transport=ClockHeader(httpx.HTTPTransport(), clock),
        timeout=httpx.Timeout(900.0, connect=10.0),
    )
    conn = ShopifyConnector(shop="acme.myshopify.com", access_token=TOKEN, base_url=url,
                            client=client, clock=clock, bulk=path == "bulk")  # fmt: skip
    readers = {
        "products": conn.iter_products,
        "customers": conn.iter_customers,
        "orders": conn.iter_orders,
        "carts": conn.iter_abandoned_carts,
    }
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    doubled: dict[str, int] = {}
    started = time.perf_counter()
    with conn:
        for kind in KINDS:
            seen = IdBits()
            total, repeats = 0, 0
            for record in readers[kind]():
                repeats += seen.add(int(record.external_id))
                # Equal canonical records have equal reprs (``raw`` is left out of both).
                total += int.from_bytes(hashlib.sha256(repr(record).encode()).digest()[:16])
            counts[kind], doubled[kind] = seen.count, repeats
            digests[kind] = f"{total % 2**128:032x}"
    wall = time.perf_counter() - started
    stats = conn.stats.snapshot()
    print(
        json.dumps(
            {
                "counts": counts,
                "doubled": doubled,
                "digests": digests,
                "wall": wall,
                "simulated": clock.monotonic(),
                "attempts": stats["attempts"],
                "throttled": stats["rate_limited"],
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "bulk": {
                    "started": conn.bulk_stats.started,
                    "polls": conn.bulk_stats.polls,
                    "bytes": conn.bulk_stats.bytes,
                    "rows": conn.bulk_stats.rows,
                },
            }
        ),
        flush=True,
    )


# -- the orchestration ------------------------------------------------------------------------


def run_path(path: str, orders: int, seed: int) -> dict[str, Any]:
    """One path: a fresh simulator process and a fresh reader process."""
    me = [sys.executable, "-m", "benchmarks.shopify_bulk"]
    server = subprocess.Popen(  # noqa: S603 - this very module
        [*me, "--role", "serve", "--orders", str(orders), "--seed", str(seed)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        ready = server.stdout.readline().split()
        if ready[:1] != ["READY"]:
            raise RuntimeError(f"the simulator did not start: {ready}")
        reader = subprocess.run(  # noqa: S603 - this very module
            [*me, "--role", "read", "--url", ready[1], "--path", path],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if reader.returncode != 0:
            raise RuntimeError(f"the {path} reader failed:\n{reader.stderr[-3000:]}")
        server.stdin.close()
        figures = json.loads(server.stdout.read())
    finally:
        if server.poll() is None and not server.stdin.closed:
            server.kill()  # something failed before the figures were asked for
        server.wait(timeout=60)
    return {**json.loads(reader.stdout), "server": figures}


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def report(orders: int, paged: dict[str, Any], bulk: dict[str, Any]) -> None:
    """Print the comparison table and the targets."""
    size = store_size(orders)
    print(
        f"Shopify historical read of a simulated store: {size['orders']:,} orders, "
        f"{size['customers']:,} customers, {size['products']:,} products, "
        f"{size['checkouts']:,} abandoned checkouts"
    )
    rows = [
        ("HTTP requests", paged["attempts"], bulk["attempts"], "{:,}"),
        ("GraphQL points charged", paged["server"]["points"], bulk["server"]["points"], "{:,}"),
        (
            "GraphQL points requested",
            paged["server"]["requested"],
            bulk["server"]["requested"],
            "{:,}",
        ),
        ("throttled answers", paged["throttled"], bulk["throttled"], "{:,}"),
        ("simulated API time (s)", paged["simulated"], bulk["simulated"], "{:,.0f}"),
        ("reader peak RSS (MiB)", paged["rss_mb"], bulk["rss_mb"], "{:,.1f}"),
        ("wall time (s)", paged["wall"], bulk["wall"], "{:,.1f}"),
    ]
    print(f"{'':<24}{'paged':>14}{'bulk':>14}{'bulk/paged':>12}")
    for label, a, b, fmt in rows:
        ratio = f"{b / a:.3%}" if a else "-"
        print(f"{label:<24}{fmt.format(a):>14}{fmt.format(b):>14}{ratio:>12}")
    same = all(paged["digests"][k] == bulk["digests"][k] for k in KINDS)
    counts = ", ".join(f"{k} {bulk['counts'][k]:,}" for k in KINDS)
    doubled = sum(paged["doubled"].values()) + sum(bulk["doubled"].values())
    same = same and paged["counts"] == bulk["counts"]
    print(f"records read by each path: {counts}; repeats: {doubled}; "
          f"identical canonical records: {'yes' if same else 'NO'}")  # fmt: skip
    server = bulk["server"]
    modelled = server["objects"] / server["rate"] + server["operations"] * server["start_delay"]
    print(
        f"bulk: {server['operations']} operations, {server['objects']:,} objects at "
        f"{server['rate']:.0f}/s = {_duration(modelled)} of modelled export; "
        f"{bulk['bulk']['polls']} polls; {bulk['bulk']['bytes'] / 2**20:,.1f} MiB of JSONL, "
        f"{bulk['bulk']['rows']:,} rows"
    )
    points = server["points"] / paged["server"]["points"]
    print(
        f"targets: cost points {points:.3%} of paged (< 1 %: "
        f"{'met' if points < 0.01 else 'MISSED'}); simulated time "
        f"{_duration(bulk['simulated'])} vs modelled export {_duration(modelled)} "
        f"({bulk['simulated'] / modelled:.2f}x); paged simulated time "
        f"{_duration(paged['simulated'])}; reader RSS < 64 MiB: "
        f"{'met' if max(paged['rss_mb'], bulk['rss_mb']) < 64 else 'MISSED'}"
    )


def main() -> None:
    """Parse options; run both paths (or play one role for them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--role", choices=("both", "serve", "read"), default="both")
    parser.add_argument("--url")
    parser.add_argument("--path", choices=("paged", "bulk"))
    args = parser.parse_args()
    if args.role == "serve":
        serve(args.orders, args.seed)
        return
    if args.role == "read":
        read(args.url, args.path)
        return
    paged = run_path("paged", args.orders, args.seed)
    bulk = run_path("bulk", args.orders, args.seed)
    report(args.orders, paged, bulk)


if __name__ == "__main__":
    main()
