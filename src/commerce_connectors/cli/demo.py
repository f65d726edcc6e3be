"""The demo: simulated shops synced into a local SQLite file, historical then incremental.

Used by ``commerce-connectors demo``; no network, no credentials. Each
:class:`~commerce_connectors.cli.registry.DemoSource` builds a seeded realistic
store served in-process; the demo runs a historical sync, lets the shop take a
few new orders, runs an incremental sync, and sums it all up per platform.

A store whose API time is simulated (:attr:`DemoStore.clock
<commerce_connectors.cli.registry.DemoStore.clock>`, a fake clock on which rate
limits cost no real time) is synced on that clock; its result says how much API
time was simulated. A source whose simulator cannot be built here (a missing
optional module) is skipped and reported, not fatal.

:func:`run_crm_demo` then does the same into a CRM: a smaller store of each
platform, historical then incremental, into one in-process ActiveCampaign account
(:class:`~commerce_connectors.testing.simulators.activecampaign.ActiveCampaignSimulator`)
through :class:`~commerce_connectors.sinks.activecampaign.ActiveCampaignSink`, and
counts what reached it: contacts, contacts on the list, orders, abandoned carts and
the automations they fire (``source`` 1). The account's 5 requests per second are
kept on a fake clock, so they cost no real time either.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..clock import Clock, FakeClock, SystemClock
from ..errors import ConfigurationError
from ..sinks import SQLiteSink
from ..state import MemoryStateStore, SQLiteStateStore
from ..sync import ProgressCallback, SyncEngine, SyncProgress, SyncReport
from .registry import DEMO_SOURCES, DemoSource

if TYPE_CHECKING:
    from ..testing.simulators.activecampaign import ActiveCampaignSimulator

__all__ = [
    "CRM_LIST",
    "CRM_SCALE",
    "CrmDemo",
    "CrmResult",
    "DemoResult",
    "DemoSkipped",
    "run_crm_demo",
    "run_demo",
]

# Marks a database as the demo's own, so the demo never overwrites anything else.
_MARK = "commerce-connectors-demo"


@attrs.define
class DemoResult:
    """What the demo did for one platform.

    Attributes:
        source: the demo source.
        connection_id: its connection.
        historical, incremental: the two runs' reports.
        contacts, orders, products, carts: rows in the database for this connection.
        triggers_fired: orders and carts stored with "fires automations".
        dead_letters: records kept in the dead-letter store.
        wall_seconds: real time both runs took.
        simulated: the store's API time was simulated (a fake clock): ``seconds``
            is then simulated time, the time the real API would have taken.
    """

    source: DemoSource
    connection_id: str
    historical: SyncReport
    incremental: SyncReport
    contacts: int = 0
    orders: int = 0
    products: int = 0
    carts: int | None = None
    triggers_fired: int = 0
    dead_letters: int = 0
    wall_seconds: float = 0.0
    simulated: bool = False

    @property
    def skipped(self) -> Counter[str]:
        """Records not synced, by reason (both runs)."""
        return self.historical.skipped() + self.incremental.skipped()

    @property
    def duplicates_merged(self) -> int:
        """Contacts folded into one already held (both runs)."""
        return (
            self.historical.totals()["duplicates_merged"]
            + self.incremental.totals()["duplicates_merged"]
        )

    @property
    def records_read(self) -> int:
        """Records read by both runs."""
        return self.historical.totals()["read"] + self.incremental.totals()["read"]

    @property
    def seconds(self) -> float:
        """Time both runs took on the store's clock (simulated API time when ``simulated``)."""
        return self.historical.duration + self.incremental.duration

    @property
    def name(self) -> str:
        """The row's name: the demo source's."""
        return self.source.name


@attrs.frozen
class DemoSkipped:
    """A demo source that could not run here.

    Attributes:
        source: the demo source.
        reason: why (e.g. an optional module it needs is not installed).
    """

    source: DemoSource
    reason: str


class _WallClockProgress:
    """Progress of a run on a simulated clock, with rates in real time (records/s here)."""

    def __init__(self, forward: ProgressCallback) -> None:
        self.forward = forward
        self.started = time.perf_counter()

    def restart(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, event: SyncProgress) -> None:
        self.forward(attrs.evolve(event, elapsed=time.perf_counter() - self.started))


def _prepare(path: Path) -> None:
    if not path.exists():
        return
    try:
        with sqlite3.connect(path) as conn:
            marked = conn.execute("SELECT value FROM sink_meta WHERE key = 'demo'").fetchone()
    except sqlite3.DatabaseError:
        marked = None
    if marked is None or marked[0] != _MARK:
        raise ConfigurationError(
            f"{path} exists and is not a demo database; choose another path with --db"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _count(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def run_demo(
    path: str | os.PathLike[str],
    *,
    seed: int = 2024,
    clock: Clock | None = None,
    sources: list[DemoSource] | None = None,
    on_progress: ProgressCallback | None = None,
    on_step: Callable[[str], None] | None = None,
    skipped: list[DemoSkipped] | None = None,
) -> list[DemoResult]:
    """Sync every demo source into a fresh SQLite file at ``path``; return per-platform results.

    Args:
        path: the SQLite file (replaced only if the demo made it).
        seed: seeds every simulated store.
        clock: the demo's clock (default: the system clock); a store with its own
            simulated clock is synced on that one.
        sources: the sources to run (default: every registered one).
        on_progress: receives the sync engines' progress.
        on_step: receives a line of text per step.
        skipped: receives the sources that could not be built here.

    Raises:
        ConfigurationError: ``path`` exists and is not a database the demo made.
    """
    clock = clock if clock is not None else SystemClock()
    target = Path(path).expanduser().resolve()
    _prepare(target)
    sink = SQLiteSink(target)
    sink.connection.execute(
        "INSERT OR REPLACE INTO sink_meta (key, value) VALUES ('demo', ?)", (_MARK,)
    )
    state = SQLiteStateStore(target)
    results: list[DemoResult] = []
    say = on_step or (lambda _: None)
    try:
        for source in sources if sources is not None else DEMO_SOURCES:
            say(f"{source.name}: building a seeded realistic store ({source.label})")
            try:
                store = source.build(seed, clock, clock.now(), 1.0)
            except ModuleNotFoundError as exc:
                say(f"{source.name}: skipped: {exc}")
                if skipped is not None:
                    skipped.append(DemoSkipped(source, str(exc)))
                continue
            simulated = store.clock is not None and store.clock is not clock
            store_clock = store.clock if store.clock is not None else clock
            api = " (API time simulated)" if simulated else ""
            started = time.perf_counter()
            progress = _WallClockProgress(on_progress) if simulated and on_progress else None
            try:
                engine = SyncEngine(
                    store.connector,
                    sink,
                    state,
                    clock=store_clock,
                    on_progress=progress if progress is not None else on_progress,
                )
                say(f"{source.name}: historical sync{api}")
                if progress is not None:
                    progress.restart()
                historical = engine.run("historical")
                say(f"{source.name}: the shop takes new orders; incremental sync{api}")
                store.activity()
                if progress is not None:
                    progress.restart()
                incremental = engine.run("incremental")
            finally:
                store.close()
            result = _result(source, store.connector, historical, incremental, sink, state)
            result.wall_seconds = time.perf_counter() - started
            result.simulated = simulated
            results.append(result)
    finally:
        sink.close()
        state.close()
    return results


def _result(
    source: DemoSource,
    connector: object,
    historical: SyncReport,
    incremental: SyncReport,
    sink: SQLiteSink,
    state: SQLiteStateStore,
) -> DemoResult:
    conn_id = historical.connection_id
    db = sink.connection
    from ..protocols import Connector, Stream

    has_carts = isinstance(connector, Connector) and (
        Stream.ABANDONED_CARTS in connector.supported_streams
    )
    return DemoResult(
        source=source,
        connection_id=conn_id,
        historical=historical,
        incremental=incremental,
        contacts=_count(
            db,
            "SELECT COUNT(DISTINCT identity) FROM contact_sources WHERE connection_id=?",
            conn_id,
        ),
        orders=_count(db, "SELECT COUNT(*) FROM orders WHERE connection_id=?", conn_id),
        products=_count(db, "SELECT COUNT(*) FROM products WHERE connection_id=?", conn_id),
        carts=_count(db, "SELECT COUNT(*) FROM carts WHERE connection_id=?", conn_id)
        if has_carts
        else None,
        triggers_fired=_count(
            db,
            "SELECT (SELECT COUNT(*) FROM orders WHERE connection_id=? AND trigger_fires=1)"
            " + (SELECT COUNT(*) FROM carts WHERE connection_id=? AND trigger_fires=1)",
            conn_id,
            conn_id,
        ),
        dead_letters=len(state.dead_letters(conn_id)),
    )


# -- into a CRM: the same platforms, smaller stores, one simulated ActiveCampaign account ------

#: The list consenting contacts join (ActiveCampaign accounts made since 2024-01-08 add
#: them to the master contact list).
CRM_LIST = "Master Contact List"
#: The CRM step's stores: the demo's own, at this fraction of their size.
CRM_SCALE = 0.06


@attrs.define
class CrmResult:
    """What one store's syncs left in the demo's ActiveCampaign account.

    Attributes:
        name: the row's name (the demo source's).
        connection_id: the store's connection (an ActiveCampaign connection).
        historical, incremental: the two runs' reports.
        contacts: contacts with an e-commerce customer of this store.
        on_list: of those, the ones subscribed to :data:`CRM_LIST` (an explicit yes).
        orders: e-commerce orders of this store.
        carts: abandoned carts of this store (``None``: the platform lists none).
        fired: orders and carts written with ``source`` 1, which start "makes a
            purchase" and "abandons cart" automations.
        dead_letters: records the account could not take as they are, kept with the reason.
        requests: requests the sink made to the account.
        api_seconds: the time those requests took at the account's 5 per second
            (simulated: the pacing runs on a fake clock).
    """

    name: str
    connection_id: str
    historical: SyncReport
    incremental: SyncReport
    contacts: int = 0
    on_list: int = 0
    orders: int = 0
    carts: int | None = None
    fired: int = 0
    dead_letters: int = 0
    requests: int = 0
    api_seconds: float = 0.0


@attrs.define
class CrmDemo:
    """The CRM step: per-store results and the account's totals.

    Attributes:
        results: one per store synced.
        skipped: the stores that could not be built here.
        contacts: distinct contacts in the account (stores may share shoppers).
        on_list: of those, subscribed to :data:`CRM_LIST`.
        requests: requests made to the account.
        api_seconds: the time the requests took at the account's 5 per second, simulated.
        wall_seconds: real time the step took.
    """

    results: list[CrmResult] = attrs.field(factory=list)
    skipped: list[DemoSkipped] = attrs.field(factory=list)
    contacts: int = 0
    on_list: int = 0
    requests: int = 0
    api_seconds: float = 0.0
    wall_seconds: float = 0.0


def _catch_up(account: FakeClock, store: Clock) -> None:
    """Move the account's clock to the store's time if it is behind (never back)."""
    ahead = (store.now() - account.now()).total_seconds()
    if ahead > 0:
        account.advance(ahead)


def run_crm_demo(
    *,
    seed: int = 2024,
    clock: Clock | None = None,
    sources: list[DemoSource] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> CrmDemo:
    """Sync a smaller store of each platform into one in-process ActiveCampaign account.

    Each store gets a historical sync, some shop activity half an hour later, then an
    incremental sync, through :class:`~commerce_connectors.sinks.activecampaign.ActiveCampaignSink`
    with the list :data:`CRM_LIST`. The account's pacing runs on a fake clock.

    Args:
        seed: seeds every simulated store.
        clock: gives the demo's "now" (default: the system clock).
        sources: the stores (default: every demo source, at :data:`CRM_SCALE` of its size).
        on_step: receives a line of text per step.

    Example:
        >>> crm = run_crm_demo(sources=DEMO_SOURCES[:1])
        >>> row = crm.results[0]
        >>> row.name, row.contacts > 0, row.orders > 0, row.fired > 0
        ('toyshop', True, True, True)
    """
    from ..sinks.activecampaign import ActiveCampaignSink, activecampaign_limiter
    from ..testing.simulators.activecampaign import ActiveCampaignSimulator

    started = time.perf_counter()
    say = on_step or (lambda _: None)
    now = (clock if clock is not None else SystemClock()).now()
    account_clock = FakeClock(wall_start=now)
    account = ActiveCampaignSimulator(clock=account_clock)
    # One account, one pace: every store's sink shares it.
    pacer = activecampaign_limiter(clock=account_clock)
    demo = CrmDemo()
    for source in sources if sources is not None else DEMO_SOURCES:
        try:
            store = source.build(seed, account_clock, now, CRM_SCALE)
        except ModuleNotFoundError as exc:
            say(f"crm: {source.name}: skipped: {exc}")
            demo.skipped.append(DemoSkipped(source, str(exc)))
            continue
        store_clock = store.clock if store.clock is not None else account_clock
        sink = ActiveCampaignSink(
            api_url=account.api_url,
            api_token=account.token,
            list_name=CRM_LIST,
            transport=account.transport(),
            clock=account_clock,
            rate_limiter=pacer,
        )
        state = MemoryStateStore()
        try:
            engine = SyncEngine(store.connector, sink, state, clock=store_clock)
            say(f"crm: {source.name}: historical sync into ActiveCampaign (automations quiet)")
            _catch_up(account_clock, store_clock)
            historical = engine.run("historical")
            say(f"crm: {source.name}: new orders; incremental sync (they fire)")
            store.activity()
            _catch_up(account_clock, store_clock)
            incremental = engine.run("incremental")
            waited = sink.http_stats()
        finally:
            store.close()
            sink.close()
        result = CrmResult(source.name, store.connector.connection_id, historical, incremental)
        _count_crm(account, result, store.connector)
        result.dead_letters = len(state.dead_letters(result.connection_id))
        result.requests = historical.sink_requests + incremental.sink_requests
        result.api_seconds = float(waited.get("rate_limit_wait", 0.0)) + float(
            waited.get("backoff_wait", 0.0)
        )
        demo.results.append(result)
        demo.api_seconds += result.api_seconds
    views = [account.contact(str(row["email"])) for row in account.records("contacts")]
    demo.contacts = len(views)
    demo.on_list = sum(1 for v in views if v is not None and v["lists"].get(CRM_LIST) == 1)
    demo.requests = len(account.log)
    demo.wall_seconds = time.perf_counter() - started
    return demo


def _count_crm(account: ActiveCampaignSimulator, result: CrmResult, connector: object) -> None:
    """Count what one store's connection holds in the account."""
    from ..protocols import Connector, Stream

    connection = account.connection(result.connection_id)
    if connection is None:
        return
    emails = {
        str(c["email"]).lower()
        for c in account.records("ecomCustomers")
        if c["connectionid"] == connection["id"]
    }
    views = [account.contact(e) for e in sorted(emails)]
    known = [v for v in views if v is not None]
    result.contacts = len(known)
    result.on_list = sum(1 for v in known if v["lists"].get(CRM_LIST) == 1)
    rows = account.orders(result.connection_id)
    result.orders = sum(1 for r in rows if r.get("externalid"))
    if isinstance(connector, Connector) and Stream.ABANDONED_CARTS in connector.supported_streams:
        result.carts = sum(
            1 for r in rows if r.get("externalcheckoutid") and not r.get("externalid")
        )
    result.fired = sum(1 for r in rows if str(r.get("source")) == "1")
