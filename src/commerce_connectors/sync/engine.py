"""The sync engine: read a connection's streams, apply rules and maps, write batches, checkpoint.

One :class:`SyncEngine` moves one connection into one sink. Per run:

1. contacts refused earlier by a contact cap are offered to the sink again;
2. streams are read in :data:`~commerce_connectors.protocols.STREAM_ORDER`
   (products → customers → orders → carts), so contacts exist before their orders;
3. each record goes through the rules (guest policy, email, phone fallback,
   identity, tags, consent, triggers, abandonment) and the field maps, and
   becomes sink items, written in batches of ``capabilities.batch_size``;
4. a record the connector cannot parse, or a map cannot map, is dead-lettered
   with its payload and the run goes on;
5. when a stream has been read to its end and every batch acknowledged, its
   checkpoint is saved: the moment the stream's read started. An incremental
   run reads from the checkpoint minus the overlap window.

Checkpoints move only after acknowledgements, sinks are idempotent, so a run
killed at any point is repaired by the next: what was acknowledged is found
again equal (``unchanged``), what was not is written.

Memory stays constant whatever the store's size: records stream through and
only the current batch is held.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..clock import Clock, SleepInterrupted, SystemClock
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRecordError,
    LeaseLostError,
    MappingError,
    RetriableError,
    SinkError,
)
from ..mapping import DEFAULT_MAPS, FieldMap
from ..models import Cart, Customer, Order, Product, ensure_aware_utc
from ..protocols import (
    STREAM_ORDER,
    BatchAck,
    Checkpoint,
    ConnectionState,
    Connector,
    ContactLookupSink,
    HttpStatsSource,
    LeaseStore,
    LifecycleStore,
    NoticeSink,
    SinkBatch,
    SinkItem,
    SourceRecord,
    StateStore,
    Stream,
    WriteAction,
)
from ..protocols import Sink as SinkProtocol
from ..rules import (
    CartState,
    Contact,
    Reason,
    RecordKey,
    RuleSet,
    SyncMode,
    TriggerDecision,
    admit_record,
    cart_status,
    defaults_for,
    normalize_email,
    prepare_contact,
    should_subscribe,
    trigger_decision,
)
from ..rules._direct import builder
from ..state.leases import DEFAULT_LEASE_TTL, LeaseKeeper, default_worker_id
from .report import StreamReport, SyncProgress, SyncReport, SyncStatus

__all__ = ["DEFAULT_OVERLAP", "ProgressCallback", "SyncEngine", "http_stats_of"]

#: The default re-read window of incremental syncs (the connector may ask for more).
DEFAULT_OVERLAP = _dt.timedelta(minutes=5)

#: Receives progress events (the CLI draws a progress bar from them).
ProgressCallback = Callable[[SyncProgress], None]

_KIND = {
    Stream.PRODUCTS: "product",
    Stream.CUSTOMERS: "customer",
    Stream.ORDERS: "order",
    Stream.ABANDONED_CARTS: "cart",
}
# The item kinds each stream can make (a stream the sink stores nothing of is not read).
_MAKES = {
    Stream.PRODUCTS: ("product",),
    Stream.CUSTOMERS: ("contact", "customer"),
    Stream.ORDERS: ("contact", "order"),
    Stream.ABANDONED_CARTS: ("contact", "cart"),
}
# Keys and items of every record, slot by slot (rules._direct), or the classes
# themselves: the same objects, built several times per record.
_record_key: Callable[[str, str, str], RecordKey] = (
    builder(RecordKey, ("connection_id", "kind", "external_id")) or RecordKey
)
_sink_item: Callable[..., SinkItem] = (
    builder(SinkItem, ("key", "record", "fields", "trigger", "contact", "status", "subscription"))
    or SinkItem
)

# Every kind an item can have, whatever a stream yields (a contact, or its stream's kind).
_ITEM_KINDS = frozenset({"contact", *_KIND.values()})
_RECORD_OF: Mapping[Stream, type[SourceRecord]] = {
    Stream.PRODUCTS: Product,
    Stream.CUSTOMERS: Customer,
    Stream.ORDERS: Order,
    Stream.ABANDONED_CARTS: Cart,
}
_STREAMS_OF_KIND = {
    "product": (Stream.PRODUCTS,),
    "customer": (Stream.CUSTOMERS,),
    "order": (Stream.ORDERS,),
    "cart": (Stream.ABANDONED_CARTS,),
    # A contact map failure can come from any stream that makes contacts.
    "contact": (Stream.CUSTOMERS, Stream.ORDERS, Stream.ABANDONED_CARTS),
}


def http_stats_of(connector: Any) -> Mapping[str, Any] | None:
    """The connector's cumulative HTTP counters, if it exposes them.

    Either :class:`~commerce_connectors.protocols.HttpStatsSource` or, for
    connectors on the library's HTTP engine, ``connector.engine.stats``.
    """
    if isinstance(connector, HttpStatsSource):
        return connector.http_stats()
    stats = getattr(getattr(connector, "engine", None), "stats", None)
    snapshot = getattr(stats, "snapshot", None)
    if callable(snapshot):
        result: Mapping[str, Any] = snapshot()
        return result
    return None


def _http_delta(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[int, float, float]:
    if before is None or after is None:
        return 0, 0.0, 0.0
    return (
        int(after.get("attempts", 0)) - int(before.get("attempts", 0)),
        float(after.get("rate_limit_wait", 0.0)) - float(before.get("rate_limit_wait", 0.0)),
        float(after.get("backoff_wait", 0.0)) - float(before.get("backoff_wait", 0.0)),
    )


def _written(batch: SinkBatch, ack: BatchAck) -> list[tuple[str, str]]:
    """The ``(kind, external id)`` of every item the sink wrote (or found unchanged).

    A contact counts under its source's customer id (a contact map failure is
    dead-lettered under it); items the destination refused do not count.
    """
    written: list[tuple[str, str]] = []
    for item, outcome in zip(batch.items, ack.outcomes, strict=True):
        action = outcome.action
        if action is WriteAction.REFUSED:
            continue
        if item.kind == "contact":
            external_id = item.record.external_id
            if external_id is not None:
                written.append(("contact", external_id))
        elif action in (WriteAction.INSERTED, WriteAction.UPDATED, WriteAction.UNCHANGED):
            written.append((item.kind, item.key.external_id))
    return written


class _StopRequestedError(Exception):
    """Raised inside a stream when a stop was requested; ends the run cleanly."""


class SyncEngine:
    """Syncs one connection into one sink, with checkpoints in a state store.

    Args:
        connector: the source (any :class:`~commerce_connectors.protocols.Connector`).
        sink: the destination.
        state: where checkpoints, dead letters, parked contacts and runs are kept.
        rules: the connection's rules (default: the platform's defaults).
        maps: field maps by kind (``contact``, ``customer``, ``order``,
            ``product``, ``cart``); missing kinds use the defaults.
        overlap: the incremental re-read window; the larger of this and the
            connector's ``recommended_overlap`` is used.
        clock: the engine's clock (run times, checkpoints, abandonment).
        on_progress: called at the start and end of each stream and after each batch.
        streams: read only these streams (default: every supported one).
        lease_ttl: when the state store hands out leases
            (:class:`~commerce_connectors.protocols.LeaseStore`), a run holds the
            connection's lease, renewed after each batch and on a timer; a worker
            that dies frees the connection after this long.
        worker_id: this worker's name in leases (default: host, process, random).

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> from commerce_connectors.sinks import MemorySink
        >>> from commerce_connectors.state import MemoryStateStore
        >>> from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
        >>> clock = FakeClock()
        >>> sim = ToyShopSimulator(seed=1, customers=20, orders=30, products=5, clock=clock)
        >>> shop = ToyShopConnector(token=sim.token, transport=sim.transport(), clock=clock)
        >>> engine = SyncEngine(shop, MemorySink(), MemoryStateStore(), clock=clock)
        >>> report = engine.run("historical")
        >>> report.status.value, report.stream(Stream.ORDERS).read
        ('ok', 30)
        >>> engine.run().stream(Stream.ORDERS).mode  # later runs are incremental
        'incremental'
    """

    def __init__(
        self,
        connector: Connector,
        sink: SinkProtocol,
        state: StateStore,
        *,
        rules: RuleSet | None = None,
        maps: Mapping[str, FieldMap] | None = None,
        overlap: _dt.timedelta = DEFAULT_OVERLAP,
        clock: Clock | None = None,
        on_progress: ProgressCallback | None = None,
        streams: tuple[Stream, ...] | None = None,
        lease_ttl: _dt.timedelta = DEFAULT_LEASE_TTL,
        worker_id: str | None = None,
    ) -> None:
        if overlap < _dt.timedelta(0):
            raise ConfigurationError(f"overlap must not be negative, got {overlap}")
        self.connector = connector
        self.sink = sink
        self.state = state
        self.rules = rules if rules is not None else defaults_for(connector.platform)
        self.maps: dict[str, FieldMap] = {**DEFAULT_MAPS, **(maps or {})}
        self.overlap = overlap
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.on_progress = on_progress
        self.streams = streams
        self.lease_ttl = lease_ttl
        self.worker_id = worker_id if worker_id is not None else default_worker_id()
        self._lease: LeaseKeeper | None = None
        self._stop = threading.Event()
        # Per-run state (reset by run()).
        self._report: SyncReport | None = None
        self._current: StreamReport | None = None
        self._open_letters: set[tuple[str, str]] = set()
        self._sequence = 0
        self._run_t0 = 0.0
        # The sink, and itself if it looks contacts up (see _contact_lookup).
        self._lookup: tuple[SinkProtocol, ContactLookupSink | None] | None = None

    # -- public -------------------------------------------------------------------------

    @property
    def connection_id(self) -> str:
        """The connection this engine syncs."""
        return self.connector.connection_id

    @property
    def effective_overlap(self) -> _dt.timedelta:
        """The re-read window used: the larger of the configured and the connector's."""
        return max(self.overlap, self.connector.recommended_overlap)

    def stop(self) -> None:
        """Ask the running sync to stop after its current batch (thread- and signal-safe)."""
        self._stop.set()

    def run(self, mode: str = "auto", *, since: _dt.datetime | None = None) -> SyncReport:
        """Run one sync and return its report (it is also kept in the run log).

        Args:
            mode: ``historical`` (every stream from the beginning of the store),
                ``incremental`` or ``auto`` (each stream from its checkpoint minus
                the overlap; from the beginning if it has none).
            since: read from this moment instead of the checkpoints (incremental).

        Returns:
            The report; ``report.status`` says how the run ended. Authentication,
            retriable and sink errors end the run cleanly (checkpoints stay at
            the last acknowledged data) and are described in ``report.error``.

        Raises:
            ConfigurationError: an unknown mode, or ``since`` with ``historical``.
        """
        if mode not in ("auto", "historical", "incremental"):
            raise ConfigurationError(f"unknown sync mode {mode!r}")
        if since is not None:
            if mode == "historical":
                raise ConfigurationError("a historical sync reads everything: drop since")
            since = ensure_aware_utc(since, field="since")
        plan = {s: self._plan(s, mode, since) for s in self._streams()}
        label = "historical" if all(p[1] is SyncMode.HISTORICAL for p in plan.values()) else mode
        if label == "auto":
            label = "incremental"
        return self._run(
            label, lambda report: self._sync_streams(plan, since, report), lifecycle=True
        )

    def apply(
        self, records: Iterable[SourceRecord], *, mode: SyncMode = SyncMode.REALTIME
    ) -> SyncReport:
        """Write records obtained outside a stream read (webhooks) through the same path.

        Each record goes through the rules and field maps exactly as in a sync,
        with triggers decided for ``mode`` (``REALTIME``: automations fire,
        source 1), and is written in batches; the sink's update-if-newer keeps
        an older version from replacing a newer one, whatever the order records
        arrive in. Checkpoints are not touched: polling stays the safety net.

        A cart whose abandonment delay has not passed is not written; the
        report's ``deferred`` says when it will be (the webhook worker looks
        again then).

        ``records`` is consumed inside the run, so a generator that fetches
        them (the webhook worker's) has its unparseable payloads dead-lettered
        like a stream's, and its API errors end the run with a status.

        Returns:
            The run's report (mode ``realtime``), also kept in the run log.
        """

        def body(report: SyncReport) -> None:
            batch = list(records)
            for stream in STREAM_ORDER:
                wanted = [r for r in batch if isinstance(r, _RECORD_OF[stream])]
                if wanted:
                    self._write_records(stream, wanted, mode, report)

        return self._run(mode.value, body)

    def _write_records(
        self, stream: Stream, records: list[SourceRecord], mode: SyncMode, report: SyncReport
    ) -> None:
        current = report.stream(stream)
        current.mode = mode.value
        self._current = current
        t0 = self.clock.monotonic()
        kinds = self.sink.capabilities.kinds
        limit = self.sink.capabilities.batch_size
        items: list[SinkItem] = []
        now = self.clock.now()
        for record in records:
            current.read += 1
            made, deferred = self._items_for(stream, record, mode, now)
            if deferred is not None:
                due = deferred + self.rules.abandonment.delay
                report.deferred[(_KIND[stream], record.external_id)] = due
            items.extend(i for i in made if i.kind in kinds)
        while items:
            self._flush(stream, items[:limit], t0)
            items = items[limit:]
        current.completed = True

    def replay_dead_letters(self) -> SyncReport:
        """Re-read the streams that have open dead letters, to sync what was fixed.

        After a fix (the record corrected in the shop, the library or a field
        map updated), the affected streams are read again from the beginning;
        every record now synced resolves its dead letter, and records that
        still fail stay dead-lettered (with ``last_seen`` and ``count`` updated).
        Checkpoints are left as they are.
        """
        kinds = {d.kind for d in self.state.dead_letters(self.connection_id)}
        wanted = {s for k in kinds for s in _STREAMS_OF_KIND.get(k, ())}
        streams = [s for s in self._streams() if s in wanted]

        def body(report: SyncReport) -> None:
            for stream in streams:
                self._sync_stream(
                    stream, (None, SyncMode.HISTORICAL), report, save_checkpoint=False
                )

        return self._run("replay", body, lifecycle=True)

    # -- the run ------------------------------------------------------------------------

    def _streams(self) -> list[Stream]:
        supported = self.connector.supported_streams
        wanted = self.streams if self.streams is not None else STREAM_ORDER
        stored = self.sink.capabilities.kinds
        return [
            s
            for s in STREAM_ORDER
            if s in supported and s in wanted and not stored.isdisjoint(_MAKES[s])
        ]

    def _plan(
        self, stream: Stream, mode: str, since: _dt.datetime | None
    ) -> tuple[_dt.datetime | None, SyncMode]:
        if mode == "historical":
            return None, SyncMode.HISTORICAL
        if since is not None:
            return since, SyncMode.INCREMENTAL
        checkpoint = self.state.get_checkpoint(self.connection_id, stream)
        if checkpoint is None:
            return None, SyncMode.HISTORICAL
        return checkpoint.value - self.effective_overlap, SyncMode.INCREMENTAL

    def _inactive(self) -> str | None:
        """Why the connection must not be polled now (``None``: it may)."""
        if not isinstance(self.state, LifecycleStore):
            return None
        status = self.state.connection_status(self.connection_id)
        if status.syncs:
            return None
        why = f" ({status.reason})" if status.reason else ""
        hint = {
            ConnectionState.PAUSED: "resume it to sync again",
            ConnectionState.DISABLED: "reinstall the app, then resume the connection",
            ConnectionState.DELETED: "its synced data is kept",
        }[status.state]
        return f"the connection is {status.state.value}{why}: nothing was read; {hint}"

    # -- the connection's lease: one worker syncs a connection at a time ---------------

    def _take_lease(self) -> str | None:
        """Take the connection's lease when the store has leases; why not, if another has it."""
        if not isinstance(self.state, LeaseStore):
            return None
        keeper = LeaseKeeper(self.state, self.connection_id, self.worker_id, self.lease_ttl)
        if not keeper.acquire():
            return (
                f"{keeper.refusal()}: nothing was read; it syncs again once that run ends"
                " or its lease lapses"
            )
        self._lease = keeper
        return None

    def _renew_lease(self) -> None:
        if self._lease is not None:
            self._lease.renew()

    def _drop_lease(self) -> None:
        keeper, self._lease = self._lease, None
        if keeper is not None:
            keeper.release()

    def _run(
        self, label: str, body: Callable[[SyncReport], None], *, lifecycle: bool = False
    ) -> SyncReport:
        self._stop.clear()
        started = self.clock.now()
        try:
            # The lease is taken inside this try: whatever fails after it (the store's
            # start_run, finish_run, a bug) releases it, so no timer renews it forever.
            skip = self._inactive() if lifecycle else None
            if skip is None and lifecycle:
                skip = self._take_lease()
            if skip is not None:
                report = SyncReport(self.connection_id, label, started, started)
                report.status, report.error = SyncStatus.SKIPPED, skip
                report.run_id = self.state.start_run(self.connection_id, label, started)
                self.state.finish_run(
                    report.run_id, status=report.status.value, at=started, counts={}, error=skip
                )
                return report
            return self._run_held(label, body, started)
        finally:
            self._drop_lease()

    def _run_held(
        self, label: str, body: Callable[[SyncReport], None], started: _dt.datetime
    ) -> SyncReport:
        self._run_t0 = self.clock.monotonic()
        report = SyncReport(self.connection_id, label, started)
        report.run_id = self.state.start_run(self.connection_id, label, started)
        self._report = report
        self._sequence = 0
        self._open_letters = self.state.open_dead_letter_keys(self.connection_id)
        previous_handler = self.connector.on_invalid
        self.connector.on_invalid = self._dead_letter
        http_before = http_stats_of(self.connector)
        sink_before = http_stats_of(self.sink)
        unexpected: BaseException | None = None
        try:
            self._retry_parked(report)
            body(report)
        except (_StopRequestedError, SleepInterrupted):
            # Between batches, or a rate-limit or retry wait cut short: the checkpoints
            # stay at the last acknowledged data.
            report.status = SyncStatus.INTERRUPTED
            report.error = "stopped on request; the next run resumes from the last checkpoint"
        except AuthenticationError as exc:
            report.status = SyncStatus.AUTH_ERROR
            report.error = (
                f"authentication failed: {exc}. Re-authenticate (a new token) and run again: "
                "the sync resumes from the last acknowledged checkpoint, nothing is lost"
            )
        except RetriableError as exc:
            report.status = SyncStatus.RETRY_LATER
            report.error = (
                f"the platform is unavailable or rate-limited past the retry budget: {exc}. "
                "Run again later: the sync resumes from the last checkpoint"
            )
        except LeaseLostError as exc:
            report.status = SyncStatus.INTERRUPTED
            report.error = f"{exc}; the next run resumes from the last checkpoint"
        except SinkError as exc:
            report.status = SyncStatus.SINK_ERROR
            report.error = f"the sink failed a write (nothing of that batch was written): {exc}"
        except BaseException as exc:  # a bug or KeyboardInterrupt: log the run, then re-raise
            unexpected = exc
            interrupted = isinstance(exc, KeyboardInterrupt)
            report.status = SyncStatus.INTERRUPTED if interrupted else SyncStatus.FAILED
            report.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.connector.on_invalid = previous_handler
            requests, waited, backoff = _http_delta(http_before, http_stats_of(self.connector))
            report.requests, report.rate_limit_wait, report.retry_wait = requests, waited, backoff
            report.sink_requests = _http_delta(sink_before, http_stats_of(self.sink))[0]
            if isinstance(self.sink, NoticeSink):
                report.notices.extend(self.sink.take_notices())
            report.ended_at = self.clock.now()
            self.state.finish_run(
                report.run_id,
                status=report.status.value,
                at=report.ended_at,
                counts=report.to_dict(),
                error=report.error,
            )
            self._report = self._current = None
        if unexpected is not None:
            raise unexpected
        return report

    def _sync_streams(
        self,
        plan: Mapping[Stream, tuple[_dt.datetime | None, SyncMode]],
        since: _dt.datetime | None,
        report: SyncReport,
    ) -> None:
        for stream, (read_since, trigger_mode) in plan.items():
            save = True
            if since is not None:
                # An explicit since only advances a checkpoint it does not leave a gap behind.
                held = self.state.get_checkpoint(self.connection_id, stream)
                save = held is not None and since <= held.value
            self._sync_stream(stream, (read_since, trigger_mode), report, save_checkpoint=save)

    # -- one stream ---------------------------------------------------------------------

    def _iterate(self, stream: Stream, since: _dt.datetime | None) -> Iterator[Any]:
        c = self.connector
        readers: Mapping[Stream, Callable[[_dt.datetime | None], Iterator[Any]]] = {
            Stream.PRODUCTS: c.iter_products,
            Stream.CUSTOMERS: c.iter_customers,
            Stream.ORDERS: c.iter_orders,
            Stream.ABANDONED_CARTS: c.iter_abandoned_carts,
        }
        return readers[stream](since)

    def _sync_stream(
        self,
        stream: Stream,
        plan: tuple[_dt.datetime | None, SyncMode],
        report: SyncReport,
        *,
        save_checkpoint: bool,
    ) -> None:
        if self._stop.is_set():
            raise _StopRequestedError
        since, trigger_mode = plan
        current = report.stream(stream)
        current.mode = "historical" if trigger_mode is SyncMode.HISTORICAL else "incremental"
        current.since = since
        self._current = current
        pass_started = self.clock.now()
        stream_t0 = self.clock.monotonic()
        http_before = http_stats_of(self.connector)
        # The checkpoint never passes a record deliberately deferred (a cart not yet
        # abandoned), so the next incremental run reads it again.
        holdback: _dt.datetime | None = None
        items: list[SinkItem] = []
        limit = self.sink.capabilities.batch_size
        # Kinds the sink does not store are not sent (a CRM without a product catalogue).
        kinds = self.sink.capabilities.kinds
        # A sink storing every kind an item can have keeps every item: nothing to filter.
        every_kind = kinds.issuperset(_ITEM_KINDS)
        self._progress(stream, "start", stream_t0)
        try:
            for record in self._iterate(stream, since):
                current.read += 1
                made, deferred = self._items_for(stream, record, trigger_mode, pass_started)
                if not every_kind:
                    made = [i for i in made if i.kind in kinds]
                if deferred is not None:
                    holdback = deferred if holdback is None else min(holdback, deferred)
                if len(items) + len(made) > limit:
                    self._flush(stream, items, stream_t0)
                    items = []
                    if self._stop.is_set():
                        raise _StopRequestedError
                items.extend(made)
                while len(items) > limit:
                    # One record made more items than a batch holds (a sink taking one
                    # item per write): the contact goes first, its record next.
                    self._flush(stream, items[:limit], stream_t0)
                    items = items[limit:]
            self._flush(stream, items, stream_t0)
        except (AuthenticationError, RetriableError):
            # What was read before the error is valid: write it, then stop.
            self._flush(stream, items, stream_t0)
            raise
        finally:
            requests, waited, backoff = _http_delta(http_before, http_stats_of(self.connector))
            current.requests += requests
            current.rate_limit_wait += waited
            current.retry_wait += backoff
        if save_checkpoint:
            value = pass_started if holdback is None else min(pass_started, holdback)
            self._renew_lease()  # only the lease's holder moves a checkpoint
            self.state.save_checkpoint(
                Checkpoint(self.connection_id, stream, value, self.clock.now(), report.run_id)
            )
            current.checkpoint = value
        current.completed = True
        self._progress(stream, "end", stream_t0)

    def _progress(self, stream: Stream, phase: str, t0: float) -> None:
        if self.on_progress is None or self._current is None:
            return
        c = self._current
        self.on_progress(
            SyncProgress(
                self.connection_id,
                stream,
                phase,
                c.read,
                c.new + c.updated + c.contacts_new + c.contacts_updated,
                self.clock.monotonic() - t0,
            )
        )

    # -- records to items ---------------------------------------------------------------

    def _map(self, kind: str, record: Any) -> Mapping[str, Any] | None:
        try:
            # apply(record).fields, without the MappedRecord around them.
            return self.maps[kind]._mapped(record)[1]
        except MappingError as error:
            self._dead_letter(error)
            return None

    def _contact_item(self, record: Customer | Order | Cart) -> tuple[SinkItem | None, str | None]:
        """The contact item of a record, and its identity; notes why there is none."""
        assert self._current is not None
        decision = prepare_contact(record, self.rules)
        contact = decision.contact
        if contact is None:
            reason = decision.reason or Reason.NO_IDENTITY
            if not isinstance(record, Customer):
                self._current.contact_notes[reason.value] += 1
            return None, reason.value
        if contact.key.kind not in self.sink.capabilities.identity_kinds:
            if not isinstance(record, Customer):
                self._current.contact_notes[Reason.NO_IDENTITY.value] += 1
            return None, Reason.NO_IDENTITY.value
        fields = self._map("contact", contact)
        if fields is None:
            return None, None
        key = _record_key("", "contact", contact.key.value)
        subscription = should_subscribe(decision.consent)
        item = _sink_item(key, contact, fields, None, None, None, subscription)
        return item, contact.key.value

    def _items_for(
        self, stream: Stream, record: Any, mode: SyncMode, pass_started: _dt.datetime
    ) -> tuple[list[SinkItem], _dt.datetime | None]:
        assert self._current is not None
        assert self._report is not None
        skipped = self._current.skipped
        key = _record_key(record.connection_id, _KIND[stream], record.external_id)
        if isinstance(record, Product):
            fields = self._map("product", record)
            return ([] if fields is None else [SinkItem(key, record, fields)]), None
        if isinstance(record, Customer):
            contact_item, identity = self._contact_item(record)
            if contact_item is None:
                if identity is not None:  # a rule's reason (a map failure is dead-lettered)
                    skipped[identity] += 1
                return [], None
            fields = self._map("customer", record)
            if fields is None:
                return [], None
            return [contact_item, _sink_item(key, record, fields, None, identity, None, None)], None
        if not isinstance(record, (Order, Cart)):
            raise TypeError(f"{stream.value} yielded a {type(record).__name__}")
        admission = admit_record(record, self.rules.guests)
        known_guest: str | None = None
        if not admission:
            known_guest = self._known_guest(record, admission.reason)
            if known_guest is None:
                skipped[(admission.reason or Reason.GUEST_EXCLUDED).value] += 1
                return [], None
        started = self._report.started_at
        deferred: _dt.datetime | None = None
        status: str | None = None
        if isinstance(record, Cart):
            verdict = cart_status(record, self.clock.now(), policy=self.rules.abandonment)
            if verdict.state is CartState.ACTIVE:
                skipped[(verdict.reason or Reason.CART_NOT_YET_ABANDONED).value] += 1
                # The shopper who started a checkout is a contact now; the cart itself
                # waits for its abandonment delay.
                contact_item, _ = self._contact_item(record)
                return ([] if contact_item is None else [contact_item]), record.updated_at
            if verdict.state not in (CartState.ABANDONED, CartState.RECOVERED):
                skipped[(verdict.reason or Reason.CART_DELETED).value] += 1
                return [], None
            status = verdict.state.value
            if verdict.state is CartState.RECOVERED:
                # The shopper came back and bought: no abandoned-cart automation.
                trigger = TriggerDecision(False, Reason.CART_RECOVERED)
            else:
                trigger = trigger_decision(
                    record, mode, sync_started_at=started, policy=self.rules.triggers
                )
        else:
            trigger = trigger_decision(
                record, mode, sync_started_at=started, policy=self.rules.triggers
            )
        contact_item, identity = self._contact_item(record)
        if known_guest is not None:
            # The CRM knows this guest: the purchase joins their contact, untouched.
            contact_item, identity = None, known_guest
        fields = self._map(_KIND[stream], record)
        if fields is None:
            return [], deferred
        main = _sink_item(key, record, fields, trigger, identity, status, None)
        items = [main] if contact_item is None else [contact_item, main]
        return items, deferred

    def _known_guest(self, record: Order | Cart, reason: Reason | None) -> str | None:
        """The email of an excluded guest the CRM already knows as a contact, if any."""
        lookup = self._contact_lookup() if reason is Reason.GUEST_EXCLUDED else None
        if lookup is None:
            return None
        email = record.email
        if email is None and record.customer is not None:
            email = record.customer.email
        normalized = normalize_email(email).value
        if normalized is None or not lookup.contact_exists(normalized):
            return None
        return normalized

    def _contact_lookup(self) -> ContactLookupSink | None:
        """The sink if it is a :class:`ContactLookupSink`, asked once per sink.

        A runtime protocol check inspects the class's members on every call (some
        ten microseconds); a guest-heavy store asks it for each excluded order.
        """
        sink = self.sink
        held = self._lookup
        if held is None or held[0] is not sink:
            held = self._lookup = (sink, sink if isinstance(sink, ContactLookupSink) else None)
        return held[1]

    # -- batches ------------------------------------------------------------------------

    def _flush(self, stream: Stream | None, items: list[SinkItem], t0: float) -> BatchAck | None:
        if not items:
            return None
        self._sequence += 1
        batch = SinkBatch(
            tuple(items), self.connection_id, stream, self._sequence, self.maps["contact"]
        )
        ack = self.sink.write(batch)
        # Acknowledged: the batch is durable. Only now may state move on.
        self._account(batch, ack)
        self._renew_lease()
        if stream is not None:
            self._progress(stream, "batch", t0)
        return ack

    def _account(self, batch: SinkBatch, ack: BatchAck) -> None:
        current = self._current
        now = self.clock.now()
        parked: list[tuple[Contact, Reason]] = []
        refused, inserted, updated = WriteAction.REFUSED, WriteAction.INSERTED, WriteAction.UPDATED
        for item, outcome in zip(batch.items, ack.outcomes, strict=True):
            action = outcome.action
            if action is refused and isinstance(outcome.error, InvalidRecordError):
                # The destination refused this record: keep it with the CRM's reason.
                self._dead_letter(outcome.error)
                continue
            if item.kind == "contact":
                assert isinstance(item.record, Contact)
                if action is refused:
                    parked.append((item.record, outcome.reason or Reason.CONTACT_LIMIT))
                if current is None:
                    continue
                if action is refused:
                    if outcome.reason is Reason.CONTACT_LIMIT or outcome.reason is None:
                        current.refused_by_cap += 1
                    else:
                        current.contact_notes[outcome.reason.value] += 1
                elif action is inserted:
                    current.contacts_new += 1
                elif action is updated:
                    current.contacts_updated += 1
                else:
                    current.contacts_unchanged += 1
                current.duplicates_merged += int(outcome.merged)
                continue
            if current is None:
                continue
            if action is inserted:
                current.new += 1
            elif action is updated:
                current.updated += 1
            elif action is WriteAction.UNCHANGED:
                current.unchanged += 1
            elif action is WriteAction.STALE:
                current.stale += 1
            else:
                current.skipped[(outcome.reason or Reason.NO_IDENTITY).value] += 1
            if item.kind in ("customer", "order", "cart"):
                fires = item.trigger is not None and item.trigger.fires
                current.triggers_fired += int(fires and action in (inserted, updated))
        refusals = {c.key.value for c, r in parked if r is Reason.CONTACT_LIMIT}
        if refusals:
            self.state.park_contacts(
                self.connection_id, [(c, r) for c, r in parked if c.key.value in refusals], now
            )
        # What was written only matters when dead letters are open (usually none are):
        # read after the loop, which may have opened some.
        if not self._open_letters or self._report is None:
            return
        resolved = [k for k in _written(batch, ack) if k in self._open_letters]
        if resolved:
            self._report.dead_letters_resolved += self.state.resolve_dead_letters(
                self.connection_id, resolved, now
            )
            self._open_letters.difference_update(resolved)

    def _retry_parked(self, report: SyncReport) -> None:
        """Offer contacts refused by a cap in earlier runs to the sink again."""
        parked = self.state.parked_contacts(self.connection_id)
        if not parked:
            return
        report.parked_retried = len(parked)
        size = self.sink.capabilities.batch_size
        for start in range(0, len(parked), size):
            chunk = parked[start : start + size]
            items: list[SinkItem] = []
            for p in chunk:
                fields = self._map("contact", p.contact)
                if fields is not None:
                    items.append(SinkItem(RecordKey("", "contact", p.identity), p.contact, fields))
            ack = self._flush(None, items, self._run_t0)
            if ack is None:
                continue
            synced = [
                o.key.external_id for o in ack.outcomes if o.action is not WriteAction.REFUSED
            ]
            self.state.unpark_contacts(synced)
            report.parked_synced += len(synced)

    # -- dead letters -------------------------------------------------------------------

    def _dead_letter(self, error: InvalidRecordError) -> None:
        """The connector's ``on_invalid`` during a run: keep the record, go on."""
        self.state.add_dead_letter(self.connection_id, error, self.clock.now())
        if error.record_id is not None:
            self._open_letters.add((error.kind, error.record_id))
        if self._current is not None:
            self._current.dead_lettered += 1
