"""CPU cost of the pipeline: parsers, rules, field maps and sinks, without HTTP.

Two figures, both in CPU time (``time.process_time``, medians of repeats):

* **per record**, for each platform and record kind (an 8-line order, a customer):
  ``json.loads`` of the payload's JSON (and ``orjson.loads`` when installed), the
  parser alone, and parser + rules + default field maps (what the sync engine does to
  one record before the sink), printed as multiples of ``json.loads``;
* **end to end**: records per CPU-second of a historical sync through the real
  connector, :class:`~commerce_connectors.sync.SyncEngine` and a sink
  (:class:`~commerce_connectors.sinks.SQLiteSink` on a temporary file,
  :class:`~commerce_connectors.sinks.MemorySink`, and ``none``: a sink that stores
  nothing, so the row shows what the connector, rules and maps cost alone), with every
  HTTP page the connector asks for answered from memory: the simulator's answers are
  recorded once and replayed, so the simulation's own cost is left out. The objects of
  the simulators and the recordings are frozen out of the garbage collector's scans once
  recorded (``gc.freeze``; ``--scan-harness`` keeps them in), so their number does not
  weigh on the pipeline.

Payloads come from the platform simulators (``commerce_connectors.testing.simulators``),
exactly as each connector hands them to its parser. ``--profile`` prints the top 15
functions by own time of one end-to-end run.

Run: ``python -m benchmarks.cpu [--repeats 7] [--scale 1.0] [--profile]``.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import datetime as dt
import gc
import json
import pstats
import statistics
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from commerce_connectors.clock import FakeClock
from commerce_connectors.mapping import DEFAULT_MAPS
from commerce_connectors.models import Cart, Customer, Order
from commerce_connectors.protocols import BatchAck, ItemOutcome, SinkBatch, Stream, WriteAction
from commerce_connectors.rules import (
    admit_record,
    defaults_for,
    prepare_contact,
    trigger_decision,
)
from commerce_connectors.sinks import MemorySink, SQLiteSink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine

try:  # optional: the ``fast`` extra
    import orjson
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    orjson = None

UTC = dt.timezone.utc
#: Wall time of every simulated store (fixed, so a recording replays exactly).
WALL = dt.datetime(2025, 6, 1, tzinfo=UTC)
PLATFORMS = ("shopify", "bigcommerce", "square", "tiendanube")
LINES = 8

Key = tuple[str, str, bytes]


# -- record once, replay from memory --------------------------------------------------------


class Recording:
    """HTTP answers of a simulator, keyed by request, replayable any number of times."""

    def __init__(self) -> None:
        self.answers: dict[Key, list[tuple[int, list[tuple[str, str]], bytes]]] = defaultdict(list)

    @staticmethod
    def key(request: httpx.Request) -> Key:
        """Method, URL and body: what makes two requests the same question."""
        return request.method, str(request.url), request.read()

    def recorder(self, handle: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
        """A transport that asks ``handle`` (the simulator) and stores each answer."""

        def record(request: httpx.Request) -> httpx.Response:
            response = handle(request)
            body = response.read()
            headers = [
                (k, v)
                for k, v in response.headers.multi_items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            ]
            self.answers[self.key(request)].append((response.status_code, headers, body))
            return response

        return httpx.MockTransport(record)

    def replayer(self) -> httpx.MockTransport:
        """A transport answering the recorded requests in their recorded order."""
        queues = {k: deque(v) for k, v in self.answers.items()}

        def replay(request: httpx.Request) -> httpx.Response:
            queue = queues.get(self.key(request))
            if not queue:
                raise AssertionError(f"request not recorded: {request.method} {request.url}")
            status, headers, body = queue.popleft() if len(queue) > 1 else queue[0]
            return httpx.Response(status, headers=headers, content=body)

        return httpx.MockTransport(replay)

    @property
    def requests(self) -> int:
        """How many answers were recorded."""
        return sum(len(v) for v in self.answers.values())


class Store:
    """One simulated platform: builds connectors on a transport (recording or replaying)."""

    def __init__(self, platform: str, scale: float) -> None:
        self.platform = platform
        self.scale = scale
        self.recording = Recording()
        self._make, self._handle, self._clock = _STORES[platform](scale)

    def connector(self, *, record: bool = False, live: bool = False) -> Any:
        """A connector on a fresh fake clock: recording, replaying, or on the simulator."""
        # Against the simulator, the connector shares its clock (its rate limits refill
        # as the connector waits); a replay needs no waiting, so a fresh clock will do.
        if live:
            return self._make(httpx.MockTransport(self._handle), self._clock)
        if record:
            return self._make(self.recording.recorder(self._handle), self._clock)
        return self._make(self.recording.replayer(), FakeClock(wall_start=WALL))


#: A simulated store: ``(make connector, the simulator's handler, its clock)``.
_Built = tuple[Callable[..., Any], Callable[[httpx.Request], httpx.Response], Any]


def _scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def _shopify(scale: float) -> _Built:
    from commerce_connectors.platforms.shopify import ShopifyConnector
    from commerce_connectors.testing.simulators.shopify import ShopifySimulator

    clock = FakeClock(wall_start=WALL)
    sim = ShopifySimulator(
        seed=11,
        customers=_scaled(400, scale),
        orders=_scaled(1500, scale),
        products=_scaled(60, scale),
        checkouts=_scaled(80, scale),
        guest_share=0.2,
        clock=clock,
    )

    def make(transport: httpx.BaseTransport, clock: Any) -> Any:
        return ShopifyConnector(
            shop=sim.shop, access_token=sim.token, transport=transport, clock=clock, bulk=False
        )

    return make, sim.handle, clock


def _bigcommerce(scale: float) -> _Built:
    from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
    from commerce_connectors.testing.simulators.bigcommerce import (
        BigCommerceSimulator,
        ConcurrentFakeClock,
    )

    clock = ConcurrentFakeClock(wall_start=WALL)
    sim = BigCommerceSimulator(
        seed=12,
        customers=_scaled(400, scale),
        orders=_scaled(1200, scale),
        products=_scaled(60, scale),
        carts=_scaled(8, scale),
        guest_share=0.2,
        clock=clock,
    )

    def make(transport: httpx.BaseTransport, clock: Any) -> Any:
        return BigCommerceConnector(
            store_hash=sim.store_hash,
            access_token=sim.access_token,
            transport=transport,
            clock=clock,
            concurrency=1,
        )

    return make, sim.handle, clock


def _square(scale: float) -> _Built:
    from commerce_connectors.platforms.square import SquareConnector
    from commerce_connectors.testing.simulators.square import SquareSimulator

    clock = FakeClock(wall_start=WALL)
    sim = SquareSimulator(
        seed=13,
        locations=1,
        customers=_scaled(300, scale),
        payments=_scaled(1500, scale),
        products=_scaled(40, scale),
        clock=clock,
        now=WALL,
    )
    here = sim.locations[0]

    def make(transport: httpx.BaseTransport, clock: Any) -> Any:
        return SquareConnector(
            access_token=sim.token,
            location_id=here.id,
            merchant_id=here.merchant_id,
            transport=transport,
            clock=clock,
        )

    return make, sim.handle, clock


def _tiendanube(scale: float) -> _Built:
    from commerce_connectors.platforms.tiendanube import TiendanubeConnector
    from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator

    clock = FakeClock(wall_start=WALL)
    sim = TiendanubeSimulator(
        seed=14,
        customers=_scaled(400, scale),
        orders=_scaled(1500, scale),
        products=_scaled(60, scale),
        checkouts=_scaled(120, scale),
        clock=clock,
    )

    def make(transport: httpx.BaseTransport, clock: Any) -> Any:
        return TiendanubeConnector(
            store_id=sim.store_id,
            access_token=sim.token,
            user_agent="commerce-connectors-benchmark (bench@example.com)",
            base_url=sim.base_url,
            transport=transport,
            clock=clock,
        )

    return make, sim.handle, clock


_STORES: dict[str, Callable[[float], _Built]] = {
    "shopify": _shopify,
    "bigcommerce": _bigcommerce,
    "square": _square,
    "tiendanube": _tiendanube,
}


def _engine(store: Store, sink: Any) -> SyncEngine:
    clock = FakeClock(wall_start=WALL + dt.timedelta(days=1))
    return SyncEngine(store.connector(record=False), sink, MemoryStateStore(), clock=clock)


def record(store: Store) -> int:
    """Run one historical sync against the simulator, recording every answer."""
    clock = FakeClock(wall_start=WALL + dt.timedelta(days=1))
    engine = SyncEngine(store.connector(record=True), MemorySink(), MemoryStateStore(), clock=clock)
    report = engine.run("historical")
    engine.connector.close()  # type: ignore[attr-defined]
    return report.totals()["read"]


# -- per record -----------------------------------------------------------------------------


def _fetched(store: Store, stream: Stream) -> Iterator[tuple[Any, Callable[[Any], Any]]]:
    """``(payload, parser)`` pairs exactly as the replayed connector hands them over."""
    connector = store.connector(live=True)  # samples are picked, not timed
    try:
        # The connector's own page walk: what BaseConnector parses, record by record.
        yield from connector._fetch(stream, None)
    finally:
        connector.close()


#: Where each platform's order payload keeps its lines (for padding to :data:`LINES`).
_LINE_PATHS: dict[str, tuple[str | int, ...]] = {
    "shopify": ("lineItems", "nodes"),
    "bigcommerce": ("consignments", "shipping", 0, "line_items"),
    "square": ("line_items",),
    "tiendanube": ("products",),
}


def _lines_of(payload: Any, path: tuple[str | int, ...]) -> list[Any] | None:
    node = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return None
        elif not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node if isinstance(node, list) else None


def _renumber(line: Any, n: int) -> Any:
    line = copy.deepcopy(line)
    for key in ("id", "uid"):
        value = line.get(key)
        if isinstance(value, int):
            line[key] = value * 100 + n
        elif isinstance(value, str):
            line[key] = f"{value}-{n}"
    return line


def order_sample(store: Store) -> tuple[Any, Callable[[Any], Any], int]:
    """An order payload with :data:`LINES` lines, its parser, and its line count."""
    path = _LINE_PATHS[store.platform]
    best: tuple[Any, Callable[[Any], Any], int] | None = None
    for payload, parse in _fetched(store, Stream.ORDERS):
        lines = _lines_of(payload, path)
        if lines and (best is None or len(lines) > best[2]):
            best = (payload, parse, len(lines))
            if len(lines) >= LINES:
                break
    if best is None:
        raise RuntimeError(f"no {store.platform} order with lines at {path}")
    payload = copy.deepcopy(best[0])
    lines = _lines_of(payload, path)
    assert lines is not None
    n = 0
    while len(lines) < LINES:
        lines.append(_renumber(lines[n % best[2]], len(lines)))
        n += 1
    del lines[LINES:]
    parsed = best[1](payload)
    return payload, best[1], len(parsed.lines)


def customer_sample(store: Store) -> tuple[Any, Callable[[Any], Any]]:
    """A customer payload with an email and a phone or address, and its parser."""
    first: tuple[Any, Callable[[Any], Any]] | None = None
    for payload, parse in _fetched(store, Stream.CUSTOMERS):
        record = parse(payload)
        first = first or (payload, parse)
        if record.email and (record.phone or record.default_address):
            return payload, parse
    if first is None:
        raise RuntimeError(f"no {store.platform} customer")
    return first


def pipeline(platform: str) -> Callable[[Any], Any]:
    """Rules and default field maps for one parsed record, as the engine applies them."""
    rules = defaults_for(platform)
    started = WALL + dt.timedelta(days=1)

    def run(record: Any) -> Any:
        contact = prepare_contact(record, rules).contact
        if contact is not None:
            DEFAULT_MAPS["contact"].apply(contact)
        if isinstance(record, Customer):
            return DEFAULT_MAPS["customer"].apply(record)
        assert isinstance(record, Order | Cart)
        admit_record(record, rules.guests)
        trigger_decision(record, "historical", sync_started_at=started, policy=rules.triggers)
        return DEFAULT_MAPS["order"].apply(record)

    return run


def cpu_per_call(fn: Callable[[], Any], repeats: int, budget: float = 0.05) -> float:
    """Median CPU seconds of one call of ``fn`` (each repeat runs ~``budget`` s of calls)."""
    t0 = time.process_time()
    calls = 0
    while time.process_time() - t0 < budget / 5 or calls < 3:
        fn()
        calls += 1
    per = (time.process_time() - t0) / calls
    loops = max(1, int(budget / max(per, 1e-9)))
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(loops):
            fn()
        samples.append((time.process_time() - t0) / loops)
    return statistics.median(samples)


def per_record(stores: dict[str, Store], repeats: int) -> list[dict[str, Any]]:
    """Per platform and kind: CPU per record of loads, parse, parse+rules+maps."""
    rows = []
    for platform, store in stores.items():
        order, parse_order, lines = order_sample(store)
        customer, parse_customer = customer_sample(store)
        steps = pipeline(platform)
        for kind, payload, parse in (
            (f"order ({lines} lines)", order, parse_order),
            ("customer", customer, parse_customer),
        ):
            text = json.dumps(payload)
            blob = text.encode()
            row: dict[str, Any] = {"platform": platform, "kind": kind, "bytes": len(blob)}
            row["json"] = cpu_per_call(lambda t=text: json.loads(t), repeats)
            if orjson is not None:
                row["orjson"] = cpu_per_call(lambda b=blob: orjson.loads(b), repeats)
            row["parse"] = cpu_per_call(lambda p=payload, f=parse: f(p), repeats)
            row["full"] = cpu_per_call(lambda p=payload, f=parse, s=steps: s(f(p)), repeats)
            rows.append(row)
    return rows


def print_per_record(rows: list[dict[str, Any]]) -> None:
    """The per-record table: microseconds and multiples of ``json.loads``."""
    print("\nper record, CPU µs (× json.loads); full = parse + rules + default maps")
    head = f"{'platform':<12} {'record':<18} {'bytes':>6} {'json.loads':>10}"
    head += f" {'orjson':>8}" if orjson is not None else ""
    print(head + f" {'parse':>16} {'full':>16}")
    for r in rows:
        line = f"{r['platform']:<12} {r['kind']:<18} {r['bytes']:>6} {r['json'] * 1e6:>10.1f}"
        if orjson is not None:
            line += f" {r['orjson'] * 1e6:>8.1f}"
        for step in ("parse", "full"):
            line += f" {r[step] * 1e6:>8.1f} ({r[step] / r['json']:>4.1f}×)"
        print(line)


# -- end to end -----------------------------------------------------------------------------


class NullSink(MemorySink):
    """Acknowledges every item as inserted and keeps nothing: the pipeline without a sink."""

    def write(self, batch: SinkBatch) -> BatchAck:
        """Acknowledge the batch, store nothing."""
        return BatchAck(
            batch.sequence,
            tuple(ItemOutcome(item.key, WriteAction.INSERTED) for item in batch.items),
        )


#: The sinks of the end-to-end table; ``none`` measures connector, rules and maps alone.
SINKS = ("sqlite", "memory", "none")


def end_to_end(stores: dict[str, Store], repeats: int) -> list[tuple[str, str, int, float]]:
    """Records per CPU-second of replayed historical syncs, per platform and sink."""
    rows = []
    for platform, store in stores.items():
        for sink_name in SINKS:
            samples = []
            read = 0
            for _ in range(max(1, repeats // 2)):
                with tempfile.TemporaryDirectory() as tmp:
                    sink = SQLiteSink(Path(tmp) / "bench.db") if sink_name == "sqlite" else None
                    other = NullSink() if sink_name == "none" else MemorySink()
                    engine = _engine(store, sink or other)
                    t0 = time.process_time()
                    report = engine.run("historical")
                    samples.append(time.process_time() - t0)
                    read = report.totals()["read"]
                    engine.connector.close()  # type: ignore[attr-defined]
                    if sink is not None:
                        sink.close()
            rows.append((platform, sink_name, read, statistics.median(samples)))
    return rows


def print_end_to_end(rows: list[tuple[str, str, int, float]]) -> None:
    """The end-to-end table, and the totals per sink."""
    print("\nend to end (replayed pages -> connector -> rules -> maps -> sink), CPU")
    print(f"{'platform':<12} {'sink':<7} {'records':>8} {'CPU s':>7} {'records/CPU-s':>14}")
    for platform, sink, read, cpu in rows:
        print(f"{platform:<12} {sink:<7} {read:>8,} {cpu:>7.2f} {read / cpu:>14,.0f}")
    for sink in SINKS:
        read = sum(r[2] for r in rows if r[1] == sink)
        cpu = sum(r[3] for r in rows if r[1] == sink)
        print(f"{'all':<12} {sink:<7} {read:>8,} {cpu:>7.2f} {read / cpu:>14,.0f}")


def profile(stores: dict[str, Store], top: int = 15) -> None:
    """cProfile of one replayed sync per platform into SQLite: the top functions by tottime."""
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        for platform, store in stores.items():
            sink = SQLiteSink(Path(tmp) / f"{platform}.db")
            engine = _engine(store, sink)
            profiler.enable()
            engine.run("historical")
            profiler.disable()
            engine.connector.close()  # type: ignore[attr-defined]
            sink.close()
    print(f"\nprofile of the end-to-end runs into SQLite (top {top} by own time)")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    """Parse options, record the stores once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="repeats per figure (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="store size multiplier")
    parser.add_argument("--platform", action="append", choices=PLATFORMS, help="only these")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument(
        "--scan-harness",
        action="store_true",
        help="let the garbage collector scan the simulators' objects during the runs",
    )
    args = parser.parse_args()
    stores = {p: Store(p, args.scale) for p in args.platform or PLATFORMS}
    for platform, store in stores.items():
        read = record(store)
        print(f"{platform}: recorded {store.recording.requests} answers ({read:,} records)")
    if not args.scan_harness:
        # The simulators and recordings (some 150,000 objects) stay alive for the whole
        # run; a sync process has nothing like them, so the collector is told to leave
        # them out of its scans instead of charging their cost to the pipeline.
        gc.collect()
        gc.freeze()
    print_per_record(per_record(stores, args.repeats))
    print_end_to_end(end_to_end(stores, args.repeats))
    if args.profile:
        profile(stores)


if __name__ == "__main__":
    main()
