"""The inbox worker: turns stored webhook events into sink writes, at least once, in order.

The receiver stores every verified event in the state store's inbox before it
answers 200; this worker drains the inbox. For each due event of an active
connection it:

* **upsert**: asks the connector for the current record (fetched when the
  payload is light) and writes it through the sync engine with real-time
  triggers (automations fire, source 1). Several events of one connection go
  through one engine run. A cart whose abandonment delay has not passed is
  looked at again when it has;
* **delete / convert** (carts): marks the stored cart ``deleted`` or
  ``recovered`` so its automation cannot fire, and cancels pending events
  about it;
* **uninstall**: disables the connection (no further API call, polling skips
  it, the synced data stays);
* **redact**: erases the person's (or the store's) data from the sink;
* **data request**: records it for the app's owner (``action_required``).

Failures are retried with exponential backoff, then the event is marked
``failed`` and dead-lettered with its payload. An event claimed by a worker
that dies comes back after its lease, so killing the process at any point
loses nothing; the sink's idempotent, update-if-newer writes make a repeat
harmless.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import attrs

from .._webhooks import WebhookAction, WebhookEvent
from ..clock import Clock, SystemClock
from ..errors import (
    AuthenticationError,
    CommerceConnectorsError,
    FieldProblem,
    InvalidRecordError,
    NotFoundError,
    PermissionDeniedError,
)
from ..protocols import (
    ConnectionState,
    ErasableSink,
    EventStatus,
    InboxEvent,
    InboxStore,
    LifecycleStore,
    RealtimeConnector,
    SourceRecord,
    StateStore,
    StatusSink,
)
from ..rules import RecordKey, SyncMode
from ..sync import SyncEngine, SyncStatus
from ._schemes import parse_event

__all__ = ["Backoff", "DrainReport", "RealtimeState", "WebhookWorker"]

logger = logging.getLogger("commerce_connectors.webhooks")


class RealtimeState(StateStore, InboxStore, LifecycleStore, Protocol):
    """A state store with the webhook inbox and connection lifecycle (SQLite, memory)."""


@attrs.frozen
class Backoff:
    """When a failed event is tried again: ``base * factor**(attempt-1)``, at most ``cap``.

    Example:
        >>> b = Backoff(base=_dt.timedelta(seconds=10))
        >>> [b.delay(n).total_seconds() for n in (1, 2, 3)]
        [10.0, 20.0, 40.0]
    """

    base: _dt.timedelta = _dt.timedelta(seconds=30)
    factor: float = 2.0
    cap: _dt.timedelta = _dt.timedelta(hours=1)
    #: Tries before an event is marked failed and dead-lettered.
    max_attempts: int = 8

    def delay(self, attempt: int) -> _dt.timedelta:
        """The wait after the ``attempt``-th failure."""
        seconds = self.base.total_seconds() * self.factor ** max(attempt - 1, 0)
        return min(_dt.timedelta(seconds=seconds), self.cap)


@attrs.define
class DrainReport:
    """What one pass over the inbox did, by outcome."""

    claimed: int = 0
    done: int = 0
    retried: int = 0
    deferred: int = 0
    failed: int = 0
    action_required: int = 0
    skipped: int = 0

    def add(self, other: DrainReport) -> None:
        """Add another pass's counts to these."""
        for field in attrs.fields(DrainReport):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@attrs.define
class _Job:
    stored: InboxEvent
    event: WebhookEvent


def _summary(counts: Mapping[str, Any]) -> str:
    keys = ("new", "updated", "unchanged", "stale", "dead_lettered")
    parts = [f"{k}={counts[k]}" for k in keys if counts.get(k)]
    return ", ".join(parts) or "nothing to write"


class WebhookWorker:
    """Drains the webhook inbox into the sinks of the connections it serves.

    Args:
        state: the state store holding the inbox and connection states.
        engines: one :class:`~commerce_connectors.sync.SyncEngine` per
            connection, whose connector implements
            :class:`~commerce_connectors.protocols.RealtimeConnector`.
        clock: the worker's clock (retry times, leases).
        backoff: retry schedule for failures.
        batch_size: events claimed per pass.
        lease: how long a claimed event stays with this worker before another
            may take it (a crashed worker's events come back after it).

    Example:
        >>> from commerce_connectors.state import MemoryStateStore
        >>> worker = WebhookWorker(MemoryStateStore(), [])
        >>> worker.drain().claimed
        0
    """

    def __init__(
        self,
        state: RealtimeState,
        engines: Iterable[SyncEngine],
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        batch_size: int = 100,
        lease: _dt.timedelta = _dt.timedelta(minutes=5),
    ) -> None:
        self.state = state
        self.engines: dict[str, SyncEngine] = {e.connection_id: e for e in engines}
        for engine in self.engines.values():
            if not isinstance(engine.connector, RealtimeConnector):
                raise TypeError(
                    f"{engine.connection_id}: its connector does not implement RealtimeConnector"
                )
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.backoff = backoff if backoff is not None else Backoff()
        self.batch_size = batch_size
        self.lease = lease
        self._wake = threading.Event()
        #: Totals since the worker was made.
        self.totals = DrainReport()

    # -- running ------------------------------------------------------------------------

    def wake(self) -> None:
        """Tell a running :meth:`run` loop that events are waiting (the receiver calls it)."""
        self._wake.set()

    def run(self, stop: threading.Event, *, idle: float = 1.0) -> None:
        """Drain until ``stop`` is set, sleeping up to ``idle`` seconds between empty passes."""
        while not stop.is_set():
            try:
                report = self.drain()
            except Exception:  # the state store unreachable…: log, wait, try again
                logger.exception("webhook worker pass failed; retrying")
                report = DrainReport()
            if report.claimed == 0:
                self._wake.wait(idle)
                self._wake.clear()

    def drain(self) -> DrainReport:
        """Process every due event now; returns what was done."""
        total = DrainReport()
        while True:
            report = self.run_once()
            total.add(report)
            if report.claimed < self.batch_size:
                return total

    def run_once(self) -> DrainReport:
        """Claim one batch of due events of active connections and process it."""
        report = DrainReport()
        states = {c: self._state_of(c) for c in self.engines}
        now = self.clock.now()
        active = [c for c, s in states.items() if s is not ConnectionState.PAUSED]
        claimed = self.state.claim_events(
            now, connection_ids=active, limit=self.batch_size, lease=self.lease
        )
        paused = [c for c, s in states.items() if s is ConnectionState.PAUSED]
        if paused:
            # A paused connection's events wait, except those that call no API and
            # must not wait: lifting a suspension, an uninstall, privacy requests.
            claimed += self.state.claim_events(
                now,
                connection_ids=paused,
                limit=self.batch_size,
                lease=self.lease,
                actions=[a.value for a in _ALWAYS],
            )
        report.claimed = len(claimed)
        by_connection: dict[str, list[InboxEvent]] = {}
        for stored in claimed:
            by_connection.setdefault(stored.connection_id, []).append(stored)
        for connection_id, events in by_connection.items():
            self._process(connection_id, events, report)
        self.totals.add(report)
        return report

    # -- one connection's events --------------------------------------------------------

    def _state_of(self, connection_id: str) -> ConnectionState:
        return self.state.connection_status(connection_id).state

    def _process(self, connection_id: str, events: list[InboxEvent], report: DrainReport) -> None:
        """Apply one connection's events strictly in the order they happened.

        Consecutive upserts go through one engine run; any other action first
        applies the upserts before it, so a redaction is never followed by the
        data it erased, and an uninstall by an API call.
        """
        engine = self.engines[connection_id]
        upserts: list[_Job] = []
        for stored in sorted(events, key=lambda e: (e.occurred_at, e.id)):
            job = self._job(stored, report)
            if job is None:
                continue
            action = job.event.action
            if action not in _ALWAYS:
                state = self._state_of(connection_id)
                if state in (ConnectionState.DISABLED, ConnectionState.DELETED):
                    self._finish(job, EventStatus.DONE, f"skipped: the connection is {state.value}")
                    report.skipped += 1
                    continue
                if state is ConnectionState.PAUSED:  # paused since the claim: back to the queue
                    now = self.clock.now()
                    self.state.retry_event(stored.id, now, now, "paused", count_attempt=False)
                    report.skipped += 1
                    continue
            if action is WebhookAction.UPSERT:
                upserts.append(job)
                continue
            if upserts:
                self._upsert(engine, upserts, report)
                upserts = []
            try:
                self._act(engine, job, report)
            except Exception as exc:  # a sink or store failure: retry this event later
                logger.exception("webhook %s %s failed", connection_id, job.stored.topic)
                self._retry(job, f"{type(exc).__name__}: {exc}", report)
        if upserts:
            self._upsert(engine, upserts, report)

    def _job(self, stored: InboxEvent, report: DrainReport) -> _Job | None:
        try:
            event = parse_event(
                stored.platform, stored.headers, stored.body, received_at=stored.received_at
            )
        except CommerceConnectorsError as exc:
            self.state.finish_event(stored.id, EventStatus.FAILED, self.clock.now(), str(exc))
            report.failed += 1
            return None
        return _Job(stored, event)

    def _finish(self, job: _Job, status: EventStatus, outcome: str) -> None:
        self.state.finish_event(job.stored.id, status, self.clock.now(), outcome)
        logger.info(
            "webhook %s %s (%s): %s",
            job.stored.connection_id,
            job.stored.topic,
            job.stored.event_id,
            outcome,
        )

    def _act(self, engine: SyncEngine, job: _Job, report: DrainReport) -> None:
        event, now = job.event, self.clock.now()
        connection_id = job.stored.connection_id
        sink = engine.sink
        action = event.action
        if action in (WebhookAction.DELETE, WebhookAction.CONVERT):
            outcome = self._retire(engine, job, now)
        elif action is WebhookAction.UNINSTALL:
            self.state.set_connection_state(
                connection_id, ConnectionState.DISABLED, now, f"{event.topic} webhook"
            )
            outcome = "connection disabled: no further API calls; synced data kept"
        elif action is WebhookAction.SUSPEND:
            self.state.set_connection_state(
                connection_id, ConnectionState.PAUSED, now, f"{_SUSPENDED} ({event.topic})"
            )
            outcome = "connection paused until the platform lifts the suspension"
        elif action is WebhookAction.RESUME:
            held = self.state.connection_status(connection_id)
            if held.state is ConnectionState.PAUSED and (held.reason or "").startswith(_SUSPENDED):
                self.state.set_connection_state(
                    connection_id, ConnectionState.ACTIVE, now, f"{event.topic} webhook"
                )
                outcome = "suspension lifted: connection resumed"
            else:
                outcome = f"nothing to resume (the connection is {held.state.value})"
        elif action is WebhookAction.REDACT:
            if not isinstance(sink, ErasableSink):
                self._finish(
                    job,
                    EventStatus.ACTION_REQUIRED,
                    f"redaction requested but {type(sink).__name__} cannot erase: erase by hand",
                )
                report.action_required += 1
                return
            erased = self._redact(sink, job, now)
            if erased is None:
                self._finish(
                    job,
                    EventStatus.ACTION_REQUIRED,
                    "customer redaction naming no email, customer id or order: erase by hand",
                )
                report.action_required += 1
                return
            outcome = erased
        elif action is WebhookAction.DATA_REQUEST:
            self._finish(
                job, EventStatus.ACTION_REQUIRED, "customer data request: send them their data"
            )
            report.action_required += 1
            return
        else:
            outcome = "no action for this topic"
        self._finish(job, EventStatus.DONE, outcome)
        report.done += 1

    def _redact(self, sink: ErasableSink, job: _Job, now: _dt.datetime) -> str | None:
        """Erase what a redaction names from the sink and from the inbox and dead letters.

        Only a store redaction erases a whole connection; a customer redaction
        that names nobody is left for a person (``None``).
        """
        event, connection_id = job.event, job.stored.connection_id
        if event.kind == "store":
            removed = sink.erase(connection_id)
            scrubbed = self.state.redact_events(
                connection_id, now, everything=True, keep=job.stored.id
            )
            return f"store data erased ({removed} rows; {scrubbed} stored events/dead letters)"
        subject = event.subject
        email, customer, phone = (subject.get(k) for k in ("email", "customer_id", "phone"))
        orders = [str(o) for o in subject.get("order_ids") or () if o is not None]
        if email is None and customer is None and not orders:
            return None
        removed = sink.erase(
            connection_id,
            email=None if email is None else str(email),
            customer_external_id=None if customer is None else str(customer),
            order_external_ids=orders,
        )
        records = [("order", o) for o in orders]
        if customer is not None:
            records.append(("customer", str(customer)))
        scrubbed = self.state.redact_events(
            connection_id,
            now,
            needles=[str(v) for v in (email, phone) if v],
            records=records,
            keep=job.stored.id,
        )
        return f"customer data erased ({removed} rows; {scrubbed} stored events/dead letters)"

    def _retire(self, engine: SyncEngine, job: _Job, now: _dt.datetime) -> str:
        event = job.event
        if event.kind != "cart" or event.external_id is None:
            return f"{event.kind} deleted at the platform; synced data kept"
        status = "deleted" if event.action is WebhookAction.DELETE else "recovered"
        cancelled = self.state.cancel_events(
            job.stored.connection_id,
            "cart",
            event.external_id,
            now,
            f"superseded: the cart was {'deleted' if status == 'deleted' else 'converted'}",
        )
        changed = False
        if isinstance(engine.sink, StatusSink):
            key = RecordKey(job.stored.connection_id, "cart", event.external_id)
            changed = engine.sink.set_status(key, status, now)
        marked = f"stored cart marked {status}" if changed else "cart was not written"
        return f"{marked}; {cancelled} pending event(s) about it cancelled"

    def _upsert(self, engine: SyncEngine, jobs: list[_Job], report: DrainReport) -> None:
        connector = engine.connector
        assert isinstance(connector, RealtimeConnector)
        failures: dict[int, Exception] = {}
        sources: dict[tuple[str, str], list[_Job]] = {}

        def records() -> Iterator[SourceRecord]:
            for job in jobs:
                if not connector.owns_event(job.event):
                    failures[job.stored.id] = _NotOursError(job.event)
                    continue
                try:
                    found = connector.records_for_event(job.event)
                except Exception as exc:
                    # One event's fetch failing (an API error, a paging loop, a bug on
                    # odd data) must not hold back the others, nor stop the worker.
                    failures[job.stored.id] = exc
                    continue
                for record in found:
                    kind = _KIND[type(record).__name__]
                    sources.setdefault((kind, record.external_id), []).append(job)
                    yield record

        try:
            run = engine.apply(records(), mode=SyncMode.REALTIME)
        except Exception as exc:  # a bug the engine logged and re-raised: retry, go on
            logger.exception("webhook batch of %s failed", jobs[0].stored.connection_id)
            for job in jobs:
                self._retry(job, f"{type(exc).__name__}: {exc}", report)
            return
        now = self.clock.now()
        if run.status is not SyncStatus.OK:
            for job in jobs:
                self._retry(job, run.error or run.status.value, report)
            return
        waiting: dict[int, _dt.datetime] = {}
        for key, due in run.deferred.items():
            for j in sources.get(key, ()):
                waiting[id(j)] = min(due, waiting.get(id(j), due))
        outcome = _summary(run.totals())
        for job in jobs:
            error = failures.get(job.stored.id)
            if isinstance(error, _NotOursError):
                self._finish(job, EventStatus.FAILED, str(error))
                report.failed += 1
            elif isinstance(error, NotFoundError):
                self._finish(job, EventStatus.DONE, "the record no longer exists at the platform")
                report.done += 1
            elif isinstance(error, (AuthenticationError, PermissionDeniedError)):
                # The token needs a person: hold the event (no attempt counted) until then.
                self.state.retry_event(
                    job.stored.id,
                    now,
                    now + self.backoff.cap,
                    f"waiting for re-authentication: {error}",
                    count_attempt=False,
                )
                report.retried += 1
            elif error is not None:
                self._retry(job, f"{type(error).__name__}: {error}", report)
            elif id(job) in waiting:
                self.state.retry_event(
                    job.stored.id,
                    now,
                    max(waiting[id(job)], now),
                    "waiting: the cart is not abandoned yet",
                    count_attempt=False,
                )
                report.deferred += 1
            else:
                keys = [f"{k} {i}" for (k, i), js in sources.items() if job in js]
                what = ", ".join(keys) or "nothing to write"
                batch = f"; batch of {len(jobs)}: {outcome}" if len(jobs) > 1 else f"; {outcome}"
                self._finish(job, EventStatus.DONE, f"applied in real time: {what}{batch}")
                report.done += 1

    def _retry(self, job: _Job, error: str, report: DrainReport) -> None:
        now = self.clock.now()
        attempt = job.stored.attempts + 1
        if attempt >= self.backoff.max_attempts:
            self._finish(job, EventStatus.FAILED, f"gave up after {attempt} attempts: {error}")
            problem = FieldProblem("$", f"webhook {job.stored.topic} failed: {error}")
            letter = InvalidRecordError(
                platform=job.stored.platform,
                kind=job.event.kind or "event",
                record_id=job.event.external_id,
                problems=[problem],
                payload=job.event.payload,
            )
            self.state.add_dead_letter(job.stored.connection_id, letter, now)
            report.failed += 1
            return
        self.state.retry_event(job.stored.id, now, now + self.backoff.delay(attempt), error)
        report.retried += 1


#: Actions applied whatever the connection's state: they call no API, and privacy
#: requests arrive after an uninstall by design (a store's redaction 48 h later).
_ALWAYS = frozenset(
    {
        WebhookAction.UNINSTALL,
        WebhookAction.REDACT,
        WebhookAction.DATA_REQUEST,
        WebhookAction.RESUME,
    }
)

#: The reason a platform's suspension gives a paused connection (only those are resumed).
_SUSPENDED = "suspended by the platform"

_KIND = {"Customer": "customer", "Order": "order", "Product": "product", "Cart": "cart"}


class _NotOursError(Exception):
    def __init__(self, event: WebhookEvent) -> None:
        super().__init__(
            f"the event is about store {event.store_id!r}, not this connection's: "
            "check the endpoint's route and secret"
        )
