"""BigCommerce orders: per-order sub-requests vs lines embedded in the list page, side by side.

A historical read of every order of a simulated store (100,000 orders by default;
customers and products in proportion: 18 and 3 per 100 orders), twice in one run: with
``embed_order_lines=False`` (each order's ``/products`` and ``/shipping_addresses``
fetched, ``/coupons`` too when it has a coupon discount) and with the default
(``include=consignments.line_items&consignment_structure=object``: the lines and shipping
addresses inside each page of 250 orders). Printed for each: requests, 429s, the
simulated API time at BigCommerce's published Standard limit (150 requests per 30 s, the
connector keeping 2 per window for the store's other apps: the time its limiter waits
for windows to reset, in fake time; and the floor, had every window been full), peak
RSS of the reading process, and wall time.

Each read runs in a fresh Python process that imports only httpx and the library (not
the simulator), so its peak RSS is what a sync process would need; the simulated store
stays in this process and answers over a socket pair. The reader sends its fake clock's
reading with each request and the simulator's clock follows it, so the store's
rate-limit window and the connector's limiter agree on the time: a 429 would be
counted. Sub-requests run inline (``concurrency=1``): the pool only hides network
latency, and the simulated store has none. Wall time includes the simulator's own
work (rendering, filtering, sorting).

Run: ``python -m benchmarks.bigcommerce_orders [--orders 100000] [--coupon-share 0]
[--subrequest-orders N] [--paths both|embedded|sub-requests]``. ``--subrequest-orders``
reads a store of N orders the slow way and scales its figures to ``--orders`` (labelled
"extrapolated"); ``--paths`` runs one read only (both by default).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import math
import pickle
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # the simulator is imported where the store is built, not in the reader
    from commerce_connectors.testing.simulators.bigcommerce import BigCommerceSimulator

QUOTA = 150  # Standard and Plus plans: 150 requests per 30 s window
WINDOW = 30.0
SAFETY_MARGIN = 2  # the connector's default
RSS_LIMIT_MB = 64.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process's own
    memory (``getrusage``'s ``ru_maxrss`` survives fork and exec, so a child of a
    700 MiB parent would report 700 MiB).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


# ------------------------------------------------------------------ the reading process


class OverlapClock:
    """A fake clock on which the sleeps of different threads overlap.

    The semantics of the simulator's ``ConcurrentFakeClock``, written out here so that
    the reader does not import the simulator: ``sleep(s)`` wakes the thread at its last
    reading plus ``s``; the clock moves there unless another thread took it further.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._lock = threading.Lock()
        self._local = threading.local()
        self._wall = _dt.datetime(2024, 10, 1, tzinfo=_dt.timezone.utc)

    def monotonic(self) -> float:
        with self._lock:
            self._local.last = self._t
            return self._t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._t = max(self._t, getattr(self._local, "last", self._t) + max(0.0, seconds))
            self._local.last = self._t

    def now(self) -> _dt.datetime:
        with self._lock:
            return self._wall + _dt.timedelta(seconds=self._t)


class Frames:
    """Length-prefixed frames on a socket, read into one reusable buffer.

    What an HTTP client does with a body (read it into memory once); no more copies
    than that, so the reader's peak RSS is the connector's, not the benchmark's.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray(1 << 20)

    def send(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack("!I", len(payload)))
        self.sock.sendall(payload)

    def send_object(self, value: Any) -> None:
        self.send(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def _fill(self, view: memoryview) -> None:
        while view:
            got = self.sock.recv_into(view)
            if not got:
                raise EOFError("the other process went away")
            view = view[got:]

    def receive(self) -> memoryview:
        """The next frame, as a view of the buffer (valid until the next receive)."""
        head = bytearray(4)
        self._fill(memoryview(head))
        (size,) = struct.unpack("!I", head)
        if size > len(self.buffer):
            self.buffer = bytearray(size)
        view = memoryview(self.buffer)[:size]
        self._fill(view)
        return view

    def receive_object(self) -> Any:
        return pickle.loads(self.receive())  # noqa: S301 - our own process's frames


class PipeTransport(httpx.BaseTransport):
    """An httpx transport that asks the simulator in the parent process, over a socket."""

    def __init__(self, frames: Frames, clock: OverlapClock) -> None:
        self.frames = frames
        self.clock = clock
        self.lock = threading.Lock()  # one round trip at a time on the one socket

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            # The time is read when the request leaves (other threads may have moved the
            # clock while this one waited for the socket), as the shared clock would be.
            message = (
                request.method,
                str(request.url),
                list(request.headers.multi_items()),
                request.read(),
                self.clock.monotonic(),
            )
            self.frames.send_object(message)
            status, headers = self.frames.receive_object()
            content = bytes(self.frames.receive())
        # In process, the simulator reads the shared clock on the caller's thread, which
        # refreshes that thread's last reading; do the same, so threads wake alike.
        self.clock.monotonic()
        return httpx.Response(status, headers=headers, content=content, request=request)


def read_orders(
    pipe: Frames, store_hash: str, token: str, embed: bool, start: float
) -> dict[str, Any]:
    """The reader: every order of the store, through the socket; its figures.

    Its fake clock starts where the store's is (a store read before has moved it on).
    """
    from commerce_connectors.platforms.bigcommerce import BigCommerceConnector

    clock = OverlapClock(start)
    started = time.perf_counter()
    digest = hashlib.sha256()
    orders = lines = 0
    with BigCommerceConnector(
        store_hash=store_hash,
        access_token=token,
        transport=PipeTransport(pipe, clock),
        clock=clock,
        quota=QUOTA,
        safety_margin=SAFETY_MARGIN,
        embed_order_lines=embed,
        # Worker threads only hide network latency, which the simulated store has none
        # of; inline, the one socket to the store cannot reorder requests in fake time.
        concurrency=1,
    ) as conn:
        for order in conn.iter_orders():
            orders += 1
            lines += len(order.lines)
            # What both reads must agree on (the benchmark's store has no pickups).
            facts = (
                order.external_id,
                order.total,
                order.discount_codes,
                order.shipping_method,
                order.lines,
            )
            digest.update(repr(facts).encode())
        stats = conn.stats.snapshot()
    return {
        "orders": orders,
        "lines": lines,
        "digest": digest.hexdigest()[:16],
        "requests": stats["attempts"],
        "api_seconds": clock.monotonic() - start,
        "rss_mb": peak_rss_mb(),
        "wall_seconds": time.perf_counter() - started,
    }


def reader_main(fd: str, store_hash: str, token: str, embed: str, start: str) -> None:
    """Entry point of the reading process (``--reader FD HASH TOKEN 0|1 START``)."""
    with socket.socket(fileno=int(fd)) as sock:
        frames = Frames(sock)
        figures = read_orders(frames, store_hash, token, embed == "1", float(start))
        frames.send_object(("done", figures))


# ------------------------------------------------------------------ this process


def serve(sim: BigCommerceSimulator, frames: Frames) -> Mapping[str, Any]:
    """Answer the reader's requests until it reports; return its figures."""
    clock = sim.clock
    while True:
        message = frames.receive_object()
        if message[0] == "done":
            return dict(message[1])
        method, url, headers, body, at = message
        ahead = at - clock.monotonic()
        if ahead > 0:
            # The store's clock follows the reader's. A nanosecond more: now + (at - now)
            # can fall one rounding short of `at`, and a request sent exactly when the
            # window resets would then meet the old window.
            clock.advance(ahead + 1e-9)  # type: ignore[attr-defined]
        response = sim.handle(httpx.Request(method, url, headers=headers, content=body))
        frames.send_object((response.status_code, list(response.headers.multi_items())))
        frames.send(response.content)


def run(sim: BigCommerceSimulator, *, embed: bool) -> dict[str, Any]:
    """One read in a fresh process; its figures, plus what the store saw."""
    sim.log.reset()
    ours, theirs = socket.socketpair()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "benchmarks.bigcommerce_orders",
            "--reader",
            str(theirs.fileno()),
            sim.store_hash,
            sim.access_token,
            "1" if embed else "0",
            repr(sim.clock.monotonic()),
        ],
        pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    try:
        with ours:
            figures = dict(serve(sim, Frames(ours)))
    finally:
        child.wait()
    statuses = sim.log.count_by_status()
    figures["http_429"] = statuses.get(429, 0)
    counts: dict[int, int] = {}
    for entry in sim.log.entries:
        counts[int(entry.time // WINDOW)] = counts.get(int(entry.time // WINDOW), 0) + 1
    figures["busiest_window"] = max(counts.values(), default=0)
    return figures


def store(orders: int, coupon_share: float) -> BigCommerceSimulator:
    """A simulated store of ``orders`` orders, customers and products in proportion."""
    from commerce_connectors.testing.simulators.bigcommerce import (
        BigCommerceSimulator,
        ConcurrentFakeClock,
    )

    return BigCommerceSimulator(
        seed=2024,
        customers=max(1, orders * 18 // 100),
        orders=orders,
        products=max(1, orders * 3 // 100),
        carts=0,
        clock=ConcurrentFakeClock(),
        quota=QUOTA,
        window=WINDOW,
        coupon_share=coupon_share,
    )


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def main() -> None:
    """Parse options, run the reads asked for (both by default), print the table."""
    if len(sys.argv) == 7 and sys.argv[1] == "--reader":
        reader_main(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--coupon-share", type=float, default=0.0)
    parser.add_argument(
        "--subrequest-orders",
        type=int,
        default=None,
        help="read a store of this many orders the sub-request way and extrapolate",
    )
    parser.add_argument(
        "--paths",
        choices=("both", "embedded", "sub-requests"),
        default="both",
        help="which reads to run (default: both, side by side)",
    )
    args = parser.parse_args()
    orders = args.orders
    slow_orders = args.subrequest_orders or orders

    started = time.perf_counter()
    sim = store(orders, args.coupon_share)
    print(
        f"simulated store: {orders:,} orders, {len(sim.customers):,} customers, "
        f"{len(sim.products):,} products, coupon share {args.coupon_share:.0%} "
        f"(built in {time.perf_counter() - started:.0f} s in this process, whose memory "
        "is not the reader's)"
    )
    print(
        f"limit: {QUOTA} requests per {WINDOW:g} s (BigCommerce Standard), "
        f"{SAFETY_MARGIN} kept for other apps"
    )
    reads: dict[str, dict[str, Any]] = {}
    if args.paths != "sub-requests":
        reads["embedded"] = run(sim, embed=True)
    scale = orders / slow_orders
    if args.paths != "embedded":
        if slow_orders != orders:
            del sim
            sim = store(slow_orders, args.coupon_share)
        reads["sub-requests"] = run(sim, embed=False)

    def cells(f: Mapping[str, Any], s: float) -> list[str]:
        return [
            f"{f['requests'] * s:,.0f}",
            f"{f['requests'] / f['orders'] * 1000:,.1f}",
            f"{f['http_429']}",
            f"{f['busiest_window']} / {QUOTA}",
            _duration(f["api_seconds"] * s),
            _duration(math.ceil(f["requests"] * s / (QUOTA - SAFETY_MARGIN) - 1) * WINDOW),
            f"{f['rss_mb']:.1f} MiB",
            f"{f['wall_seconds'] * s:,.0f} s",
            f"{f['orders'] * s:,.0f}",
            f"{f['lines'] * s:,.0f}",
        ]

    labels = [
        "requests",
        "requests per 1,000 orders",
        "HTTP 429",
        "busiest window",
        "simulated API time",
        "  floor: full windows only",
        "peak RSS (reader process)",
        "wall time",
        "orders read",
        "order lines",
    ]
    # The slow way first, then the default; each column as wide as its title.
    columns: list[tuple[str, Mapping[str, Any], float]] = []
    if "sub-requests" in reads:
        extrapolated = " (extrapolated*)" if scale != 1 else ""
        columns.append((f"sub-requests{extrapolated}", reads["sub-requests"], scale))
    if "embedded" in reads:
        columns.append(("embedded", reads["embedded"], 1.0))
    widths = [max(14, len(title) + 4) for title, _, _ in columns]
    print(
        f"\n{'historical read':<28}"
        + "".join(f"{t:>{w}}" for (t, _, _), w in zip(columns, widths, strict=True))
    )
    rows = [cells(figures, s) for _, figures, s in columns]
    for index, label in enumerate(labels):
        print(
            f"{label:<28}"
            + "".join(f"{row[index]:>{w}}" for row, w in zip(rows, widths, strict=True))
        )
    sub, embedded = reads.get("sub-requests"), reads.get("embedded")
    if sub is not None and embedded is not None:
        print(
            f"\nembedded: {sub['requests'] * scale / max(embedded['requests'], 1):,.0f}x fewer "
            f"requests, API time {_duration(embedded['api_seconds'])} instead of "
            f"{_duration(sub['api_seconds'] * scale)}"
        )
    if sub is not None and scale != 1:
        print(
            f"* measured on a store of {slow_orders:,} orders and multiplied by {scale:g} "
            "(requests, API time, wall time and counts grow in proportion to the orders; "
            "peak RSS and the per-1,000 and window figures are as measured)"
        )
    elif sub is not None and embedded is not None:
        same = sub["digest"] == embedded["digest"]
        print(f"same orders, lines and amounts in both reads: {'yes' if same else 'NO'}")
    for name, figures in reads.items():
        if figures["rss_mb"] >= RSS_LIMIT_MB:
            print(f"WARNING: {name} peak RSS {figures['rss_mb']:.1f} MiB >= {RSS_LIMIT_MB:g}")
        if figures["http_429"]:
            print(f"WARNING: {name} met {figures['http_429']} 429s")


if __name__ == "__main__":
    main()
