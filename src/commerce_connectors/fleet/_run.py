"""Running a fleet: one task per connection on any :class:`concurrent.futures.Executor`."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as _dt
import logging
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from .._http.redaction import Redactor
from ..clock import Clock
from ..errors import ConfigurationError
from ..protocols import Connector
from ..sinks import open_sink
from ..state import open_state_store
from ..state.leases import DEFAULT_LEASE_TTL
from ..sync.engine import DEFAULT_OVERLAP, SyncEngine
from ..sync.report import SyncStatus
from ._registry import platform_entry
from ._spec import MODES, ConnectionSpec

__all__ = ["ConnectionReport", "FleetReport", "sync_connection", "sync_fleet"]

logger = logging.getLogger("commerce_connectors.fleet")

UTC = _dt.timezone.utc


@attrs.frozen
class ConnectionReport:
    """How one connection's sync in a fleet round ended (plain data, picklable).

    Attributes:
        name: the connection's name (:attr:`ConnectionSpec.name`).
        platform: its platform.
        connection_id: the connector's connection id (``None`` if it could not be built).
        status: how the run ended; ``SKIPPED`` also when another worker holds the
            connection, ``FAILED`` for an error outside the run (a missing token, a
            worker process lost) as well as a bug.
        mode: ``historical``, ``incremental`` … (empty when the run did not start).
        counts: the run's totals (read, new, updated, unchanged, dead_lettered …).
        skipped: records not written, by reason (guests excluded, no email …).
        error: what went wrong, for people, never with a secret (``None`` when fine).
        started_at: when the task started (UTC).
        duration: seconds the task took on its worker.
        worker: ``host:pid`` of the process that ran it.
    """

    name: str
    platform: str
    connection_id: str | None
    status: SyncStatus
    mode: str = ""
    counts: dict[str, int] = attrs.field(factory=dict)
    skipped: dict[str, int] = attrs.field(factory=dict)
    error: str | None = None
    started_at: _dt.datetime | None = None
    duration: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        """The run completed (dead letters and refusals still count as completed)."""
        return self.status is SyncStatus.OK

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for logs and ``--json``)."""
        data = attrs.asdict(self)
        data["status"] = self.status.value
        data["started_at"] = None if self.started_at is None else self.started_at.isoformat()
        return data


@attrs.frozen
class FleetReport:
    """One fleet round: a :class:`ConnectionReport` per connection, in the specs' order.

    Attributes:
        connections: the reports.
        started_at: when the round started (UTC).
        duration: the round's wall-clock seconds.
    """

    connections: tuple[ConnectionReport, ...]
    started_at: _dt.datetime
    duration: float

    def __iter__(self) -> Iterator[ConnectionReport]:
        return iter(self.connections)

    def __len__(self) -> int:
        return len(self.connections)

    def __getitem__(self, name: str) -> ConnectionReport:
        """The report of the connection called ``name``."""
        for report in self.connections:
            if report.name == name:
                return report
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        """Nothing needs attention: every connection's run completed or was skipped.

        A skipped connection is paused or disabled, or another worker was syncing it
        (its lease): it is synced by that worker or in the next round, not a failure.
        """
        return all(r.status in (SyncStatus.OK, SyncStatus.SKIPPED) for r in self.connections)

    def by_status(self) -> dict[str, int]:
        """How many connections ended in each status."""
        return dict(sorted(Counter(r.status.value for r in self.connections).items()))

    def totals(self) -> dict[str, int]:
        """The connections' counts, summed."""
        total: Counter[str] = Counter()
        for report in self.connections:
            total.update(report.counts)
        return dict(sorted(total.items()))

    def summary(self) -> str:
        """A few lines for people: one per connection that needs attention, then totals."""
        lines = [
            f"{r.name}: {r.status.value}: {r.error}"
            for r in self.connections
            if not r.ok and r.error
        ]
        statuses = ", ".join(f"{n} {s}" for s, n in self.by_status().items()) or "no connections"
        totals = self.totals()
        lines.append(
            f"{len(self)} connections in {self.duration:.1f} s: {statuses}; "
            f"{totals.get('read', 0)} records read, "
            f"{totals.get('new', 0) + totals.get('updated', 0)} written"
        )
        return "\n".join(lines)


# A URL with a user part (postgresql://user:password@host/db): up to the last @ before
# the next blank or quote, so a password holding / or @ is found whole.
_URL_WITH_USER = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]*@[^\s'\"<>]*", re.IGNORECASE)


def _mask_url(match: re.Match[str]) -> str:
    url = match.group(0)
    scheme, rest = url.split("://", 1)
    userinfo, _, _host = rest.rpartition("@")
    if ":" not in userinfo:
        return url  # a user, no password
    # The user ends at the first colon (a colon in a user name is percent-encoded);
    # everything after it, slashes and @ included, is the password.
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{url.rpartition('@')[2]}"


def _clean(redactor: Redactor, text: str) -> str:
    """``text`` without the token, nor a password written in a URL."""
    return _URL_WITH_USER.sub(_mask_url, redactor.text(text))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _connector(
    spec: ConnectionSpec, state: str, redactor: Redactor
) -> tuple[Connector, Clock | None]:
    """Build the spec's connector (and the clock of a simulated store) on this worker."""
    if spec.simulated is not None:
        shop = spec.simulated.build()
        return shop.connector, shop.clock
    assert spec.token is not None  # a spec without one gets its platform's variable
    token = spec.token.resolve()
    redactor.add_secret(token)  # masked in any error text from here on
    factory = platform_entry(spec.platform).factory
    return factory(spec.factory_options(state), token), None


def sync_connection(
    spec: ConnectionSpec,
    *,
    sink: str,
    state: str,
    mode: str = "auto",
    lease_ttl: _dt.timedelta | None = None,
) -> ConnectionReport:
    """Sync one connection into the sink at ``sink``; this is what a fleet's task runs.

    The worker opens its own sink and state store from their URLs, reads the token
    through the spec's reference, builds the connector with the platform's factory
    (as ``commerce-connectors sync`` does), runs the sync engine once and closes
    everything. Nothing raises: every failure becomes the report's status and
    error, with the token masked.

    Args:
        spec: the connection.
        sink: the sink URL (``spec.sink`` takes precedence).
        state: the state store URL.
        mode: ``auto``, ``historical`` or ``incremental`` (see :meth:`SyncEngine.run`).
        lease_ttl: how long the connection's lease lasts without renewal (default the
            engine's); a lost worker's connection can be synced again after this.

    Returns:
        The connection's report.
    """
    started = _dt.datetime.now(UTC)
    t0 = time.perf_counter()
    redactor = Redactor()
    connection_id: str | None = None

    def report(status: SyncStatus, **fields: Any) -> ConnectionReport:
        error = fields.pop("error", None)
        return ConnectionReport(
            name=spec.name,
            platform=spec.platform,
            connection_id=connection_id,
            status=status,
            error=None if error is None else _clean(redactor, str(error)),
            started_at=started,
            duration=time.perf_counter() - t0,
            worker=_worker_name(),
            **fields,
        )

    try:
        with contextlib.ExitStack() as stack:
            connector, clock = _connector(spec, state, redactor)
            stack.callback(connector.close)
            connection_id = connector.connection_id
            sink_obj = open_sink(spec.sink or sink)
            stack.callback(sink_obj.close)
            state_obj = open_state_store(state)
            stack.callback(state_obj.close)
            engine = SyncEngine(
                connector,
                sink_obj,
                state_obj,
                overlap=spec.overlap if spec.overlap is not None else DEFAULT_OVERLAP,
                clock=clock,
                lease_ttl=lease_ttl if lease_ttl is not None else DEFAULT_LEASE_TTL,
            )
            run = engine.run(mode)
    except Exception as exc:  # any failure is this connection's, never the fleet's
        logger.warning("%s: failed: %s", spec.name, redactor.text(f"{type(exc).__name__}"))
        return report(SyncStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    logger.info("%s: %s", spec.name, run.status.value)
    return report(
        run.status,
        mode=run.mode,
        counts=dict(run.totals()),
        skipped=dict(sorted(run.skipped().items())),
        error=run.error,
    )


def _as_executor(executor: Any) -> cf.Executor | None:
    # A Dask distributed Client is accepted as it is: its executor view gives
    # concurrent.futures futures (and unique task keys for each submission).
    get_executor = getattr(executor, "get_executor", None)
    if executor is not None and not isinstance(executor, cf.Executor) and callable(get_executor):
        inner: cf.Executor = get_executor()
        return inner
    if executor is not None and not isinstance(executor, cf.Executor):
        raise ConfigurationError(
            f"executor must be a concurrent.futures.Executor or a Dask Client, not {executor!r}"
        )
    return executor


def _failed(spec: ConnectionSpec, error: str, started: _dt.datetime) -> ConnectionReport:
    return ConnectionReport(
        name=spec.name,
        platform=spec.platform,
        connection_id=None,
        status=SyncStatus.FAILED,
        error=_clean(Redactor(), error),
        started_at=started,
    )


def _lost(spec: ConnectionSpec, exc: BaseException, started: _dt.datetime) -> ConnectionReport:
    lost = (cf.BrokenExecutor, cf.CancelledError, OSError, EOFError)
    if isinstance(exc, lost) or type(exc).__name__ == "KilledWorker":  # Dask's, by name
        why = "the worker running it (or the Dask scheduler) was probably lost"
    else:  # the executor's own error: the task was not run (a spec that cannot be pickled)
        why = "the executor could not run it (a spec that cannot be pickled?)"
    return _failed(
        spec,
        f"the task did not finish ({type(exc).__name__}: {exc}); {why}. "
        "The next round resumes from the last acknowledged checkpoint",
        started,
    )


def _not_submitted(
    spec: ConnectionSpec, exc: BaseException, started: _dt.datetime
) -> ConnectionReport:
    return _failed(
        spec,
        f"the executor did not take the task ({type(exc).__name__}: {exc}); a spec that "
        "cannot be pickled, or an executor shut down or broken",
        started,
    )


def sync_fleet(
    specs: Iterable[ConnectionSpec],
    *,
    sink: str,
    state: str,
    executor: cf.Executor | Any | None = None,
    mode: str = "auto",
    lease_ttl: _dt.timedelta | None = None,
    on_report: Callable[[ConnectionReport], None] | None = None,
) -> FleetReport:
    """Sync many connections, one task per connection, on any executor.

    Each task receives the picklable spec and the sink and state URLs (never a
    token, never an open connection) and runs :func:`sync_connection` on its worker.
    A failure in one connection, a worker process lost, a task the executor does not
    take (a spec that cannot be pickled, an executor shut down) or an ``on_report``
    that raises never stops the others: it becomes that connection's ``failed``
    report (or a logged error). A connection another worker is already syncing is
    reported ``skipped`` by the engine.

    Args:
        specs: the connections; their names must be unique.
        sink: the shared sink URL (``postgresql://…`` for many machines; one SQLite
            file for the processes of one machine).
        state: the shared state store URL (checkpoints, dead letters, run log).
        executor: where tasks run: any :class:`concurrent.futures.Executor` (a
            ``ProcessPoolExecutor``, a ``ThreadPoolExecutor``, Dask's
            ``client.get_executor()``) or a Dask ``distributed.Client``.
            ``None`` (the default) syncs the connections one after another in this
            process: predictable, and nothing to pickle.
        mode: ``auto`` (each stream from its checkpoint), ``historical`` or ``incremental``.
        lease_ttl: how long a connection's lease lasts without renewal (default the
            engine's two minutes): after a worker is lost, its connection is synced
            again once this has passed (until then it is reported ``skipped``).
        on_report: called with each connection's report as it arrives (an exception
            it raises is logged, and the round goes on).

    Returns:
        The round's :class:`FleetReport`, in the order of ``specs``.

    Raises:
        ConfigurationError: an unknown mode, a duplicate name, or a bad executor.

    Example:
        >>> import tempfile
        >>> from commerce_connectors.fleet import ConnectionSpec, SimulatedStore
        >>> stores = [ConnectionSpec.simulate(SimulatedStore("square", n)) for n in (1, 2)]
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     url = f"sqlite:///{tmp}/fleet.db"
        ...     report = sync_fleet(stores, sink=url, state=url)
        >>> report.by_status()
        {'ok': 2}
    """
    specs = list(specs)
    if mode not in MODES:
        raise ConfigurationError(f"unknown sync mode {mode!r}; use one of {', '.join(MODES)}")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigurationError(f"two connections are named {spec.name!r}")
        seen.add(spec.name)
    pool = _as_executor(executor)
    started = _dt.datetime.now(UTC)
    t0 = time.perf_counter()
    results: dict[int, ConnectionReport] = {}
    task: dict[str, Any] = {"sink": sink, "state": state, "mode": mode, "lease_ttl": lease_ttl}

    def keep(index: int, result: ConnectionReport) -> None:
        results[index] = result
        if on_report is not None:
            try:
                on_report(result)
            except Exception:  # the caller's callback: logged, never the fleet's end
                logger.exception("on_report raised for %s; the fleet goes on", result.name)

    if pool is None:
        for index, spec in enumerate(specs):
            keep(index, sync_connection(spec, **task))
    else:
        futures: dict[cf.Future[ConnectionReport], int] = {}
        for index, spec in enumerate(specs):
            try:
                futures[pool.submit(sync_connection, spec, **task)] = index
            except Exception as exc:  # this connection's task only: the others still run
                keep(index, _not_submitted(spec, exc, started))
        for future in cf.as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker died, the pool broke, the task was lost
                result = _lost(specs[index], exc, started)
            keep(index, result)
    return FleetReport(
        connections=tuple(results[i] for i in range(len(specs))),
        started_at=started,
        duration=time.perf_counter() - t0,
    )
