"""The interfaces the pieces meet at: :class:`Connector`, :class:`Sink` and :class:`StateStore`.

They are :class:`typing.Protocol` classes: implement the methods and you are a
connector, a sink or a state store, no inheritance needed (though
:class:`commerce_connectors.platforms.base.BaseConnector` does the shared
work for connectors). ``commerce_connectors.testing.check_connector`` and
``commerce_connectors.testing.sink_conformance.check_sink`` verify
implementations.

The small frozen value types that travel between the sync engine and a sink
or a state store live here too: :class:`SinkCapabilities`, :class:`SinkItem`,
:class:`SinkBatch`, :class:`ItemOutcome`, :class:`BatchAck`,
:class:`Checkpoint`, :class:`DeadLetter`, :class:`ParkedContact` and
:class:`RunRecord`.

Example:
    >>> caps = SinkCapabilities(batch_size=100, contact_limit=2000)
    >>> caps.accepts_phone_only, caps.contact_limit
    (False, 2000)
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import attrs

from ._webhooks import WebhookEvent, WebhookSubscription
from .errors import InvalidRecordError, SinkError
from .mapping import CONTACT_MAP, FieldMap
from .models import Cart, Customer, Order, Platform, Product
from .rules import (
    Contact,
    IdentityKind,
    Reason,
    RecordKey,
    SubscriptionDecision,
    TriggerDecision,
)

__all__ = [
    "SINK_KINDS",
    "STREAM_ORDER",
    "BatchAck",
    "Checkpoint",
    "ConnectionState",
    "ConnectionStatus",
    "Connector",
    "ContactLookupSink",
    "DeadLetter",
    "DeadLetterProblem",
    "ErasableSink",
    "EventStatus",
    "HttpStatsSource",
    "InboxEvent",
    "InboxStore",
    "InspectableSink",
    "InvalidRecordHandler",
    "ItemOutcome",
    "Lease",
    "LeaseStore",
    "LifecycleStore",
    "NoticeSink",
    "ParkedContact",
    "RealtimeConnector",
    "RunRecord",
    "Sink",
    "SinkBatch",
    "SinkCapabilities",
    "SinkItem",
    "StateStore",
    "StatusSink",
    "Stream",
    "WriteAction",
]


class Stream(str, enum.Enum):
    """The record streams a connector may offer."""

    CUSTOMERS = "customers"
    ORDERS = "orders"
    PRODUCTS = "products"
    ABANDONED_CARTS = "abandoned_carts"


#: The order the sync engine reads streams in, so contacts exist before their orders.
STREAM_ORDER: tuple[Stream, ...] = (
    Stream.PRODUCTS,
    Stream.CUSTOMERS,
    Stream.ORDERS,
    Stream.ABANDONED_CARTS,
)


#: Receives each record the connector could not parse. Return to skip it and go
#: on; raise to stop the iteration. The default handler re-raises.
InvalidRecordHandler = Callable[[InvalidRecordError], None]


@runtime_checkable
class Connector(Protocol):
    """Reads one store (one connection) of one platform as canonical records.

    ``since`` means *created or updated at or after* this aware datetime;
    ``None`` means from the beginning of the store. Naive datetimes raise
    :class:`~commerce_connectors.errors.NaiveDatetimeError` at call time.
    A stream the platform does not have raises
    :class:`~commerce_connectors.errors.UnsupportedStreamError` at call time,
    saying why and what to use instead.

    Example:
        >>> import datetime as dt
        >>> from commerce_connectors.testing import FakeClock
        >>> from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
        >>> clock = FakeClock()
        >>> sim = ToyShopSimulator(seed=1, customers=5, orders=30, products=5, clock=clock)
        >>> conn: Connector = ToyShopConnector(token=sim.token, transport=sim.transport(),
        ...                                    clock=clock)
        >>> since = dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc)
        >>> with conn:
        ...     recent = list(conn.iter_orders(since=since))
        >>> all(o.updated_at >= since for o in recent)
        True
    """

    @property
    def platform(self) -> Platform:
        """The platform this connector reads."""
        ...

    @property
    def connection_id(self) -> str:
        """Stable id of the connection: platform + store id (+ Square location)."""
        ...

    @property
    def supported_streams(self) -> frozenset[Stream]:
        """The streams this platform offers."""
        ...

    @property
    def recommended_overlap(self) -> _dt.timedelta:
        """How far before the last checkpoint an incremental sync should re-read.

        Covers late writes and eventual consistency (e.g. Square offline
        payments arriving hours late with their original timestamps).
        """
        ...

    on_invalid: InvalidRecordHandler

    def iter_customers(self, since: _dt.datetime | None = None) -> Iterator[Customer]:
        """Customers created or updated at/after ``since``."""
        ...

    def iter_orders(self, since: _dt.datetime | None = None) -> Iterator[Order]:
        """Orders of every status created or updated at/after ``since``."""
        ...

    def iter_products(self, since: _dt.datetime | None = None) -> Iterator[Product]:
        """Catalogue products created or updated at/after ``since``."""
        ...

    def iter_abandoned_carts(self, since: _dt.datetime | None = None) -> Iterator[Cart]:
        """Abandoned carts / checkouts created or updated at/after ``since``."""
        ...

    def close(self) -> None:
        """Release what the connector created (its HTTP client, not one you passed in)."""
        ...

    def __enter__(self) -> Connector: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


#: A canonical record a connector yields.
SourceRecord = Customer | Order | Product | Cart


@runtime_checkable
class RealtimeConnector(Connector, Protocol):
    """A connector that subscribes to its platform's webhooks and resolves their events.

    The four platform connectors implement it. The webhook worker calls
    :meth:`owns_event` and :meth:`records_for_event`; the rest serves
    ``commerce-connectors webhooks install|list|remove``.
    """

    def ensure_webhooks(
        self, callback_url: str, topics: Sequence[str] | None = None
    ) -> list[WebhookSubscription]:
        """Subscribe ``callback_url`` to ``topics`` (default: the platform's default set).

        Idempotent: a topic already delivered to that URL is not subscribed
        again. Returns every subscription of that URL after the call.
        """
        ...

    def list_webhooks(self) -> list[WebhookSubscription]:
        """Every webhook subscription the platform holds for this app and store."""
        ...

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        """Delete the subscriptions to ``callback_url`` (all of them when ``None``).

        Returns how many were deleted.
        """
        ...

    def owns_event(self, event: WebhookEvent) -> bool:
        """Whether ``event`` is about this connection's store (and Square location)."""
        ...

    def records_for_event(self, event: WebhookEvent) -> list[SourceRecord]:
        """The current canonical records an upsert event is about.

        Fetched from the API when the event's payload is light (or lacks fields
        the records carry); parsed from the payload when it is complete. Empty
        when the record no longer exists or is not synced (another Square
        location). A payload the parsers refuse goes to ``on_invalid`` as for
        streams.

        Raises:
            APIError: the fetch failed (retriable ones are retried by the worker).
        """
        ...


@runtime_checkable
class HttpStatsSource(Protocol):
    """Optional: a connector that reports its HTTP counters to sync reports.

    Return a plain snapshot with at least ``attempts`` (requests sent),
    ``rate_limit_wait`` and ``backoff_wait`` (seconds). Connectors built on the
    library's HTTP engine need not implement it: the sync engine also reads
    ``connector.engine.stats.snapshot()`` when there is one.
    """

    def http_stats(self) -> Mapping[str, Any]:
        """A snapshot of the connector's HTTP counters (cumulative)."""
        ...


# ---------------------------------------------------------------------------- sinks

#: The record kinds a sink stores. ``contact`` is the CRM person, keyed by identity
#: across every connection; the others are keyed by (connection, kind, external id).
SINK_KINDS: tuple[str, ...] = ("contact", "customer", "order", "product", "cart")


def _kinds(value: Iterable[str]) -> frozenset[str]:
    kinds = frozenset(value)
    unknown = kinds - set(SINK_KINDS)
    if unknown:
        raise ValueError(f"unknown record kinds {sorted(unknown)}; use {SINK_KINDS}")
    return kinds


def _identity_kinds(value: Iterable[IdentityKind | str]) -> frozenset[IdentityKind]:
    return frozenset(IdentityKind(v) for v in value)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class SinkCapabilities:
    """What a sink can take; the sync engine adapts to it, the conformance suite checks it.

    Attributes:
        identity_kinds: contact identities the sink accepts (email only, or phone too).
        batch_size: the most items the sink takes in one :meth:`Sink.write`.
        contact_limit: the CRM account's contact cap (``None``: no cap).
        fires_automations: whether writes with ``trigger.fires`` start the CRM's
            automations (a database sink only records the decision).
        kinds: the record kinds the sink stores.

    Example:
        >>> SinkCapabilities(identity_kinds={"email", "phone"}).accepts_phone_only
        True
    """

    identity_kinds: frozenset[IdentityKind] = attrs.field(
        default=frozenset({IdentityKind.EMAIL}), converter=_identity_kinds
    )
    batch_size: int = attrs.field(default=500, validator=_positive)
    contact_limit: int | None = None
    fires_automations: bool = False
    kinds: frozenset[str] = attrs.field(default=frozenset(SINK_KINDS), converter=_kinds)

    @property
    def accepts_phone_only(self) -> bool:
        """Whether a contact keyed on a phone number (no email) can be written."""
        return IdentityKind.PHONE in self.identity_kinds


#: What a sink item holds: a contact, or a canonical record of one connection.
SinkRecord = Contact | Customer | Order | Product | Cart


@attrs.frozen
class SinkItem:
    """One record to upsert, already through the rules and a field map.

    Attributes:
        key: ``(connection, kind, external id)``; for a contact the connection is
            ``""`` (contacts are shared by every connection) and the external id is
            the identity (normalised email or E.164 phone).
        record: the canonical record, or the rules' :class:`~commerce_connectors.rules.Contact`.
        fields: the record in the CRM's field names (the field map's output).
        trigger: for orders and carts, whether writing it may fire automations.
        contact: the identity of the contact the record belongs to, when it has one.
        status: a record-specific state worth storing (a cart's abandonment state).
        subscription: for contacts, the consent rule's list-subscription decision
            for this record (subscribe only on an explicit yes); a sink that merges
            contacts decides on the merged consent.
    """

    key: RecordKey
    record: SinkRecord
    fields: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    trigger: TriggerDecision | None = None
    contact: str | None = None
    status: str | None = None
    subscription: SubscriptionDecision | None = None

    @property
    def kind(self) -> str:
        """The record kind (``contact``, ``customer``, ``order``, ``product``, ``cart``)."""
        return self.key.kind

    @property
    def updated_at(self) -> _dt.datetime:
        """When the record was last updated at its source."""
        return self.record.updated_at


def _item_tuple(value: Iterable[SinkItem]) -> tuple[SinkItem, ...]:
    return tuple(value)


def _outcome_tuple(value: Iterable[ItemOutcome]) -> tuple[ItemOutcome, ...]:
    return tuple(value)


@attrs.frozen
class SinkBatch:
    """Items for one :meth:`Sink.write`: all of them become durable, or none.

    Attributes:
        items: the items, in the order they were read.
        connection_id: the connection the batch comes from.
        stream: the stream it was read from (``None`` for replays of parked contacts).
        sequence: the batch's number within its run (for logs and acks).
        contact_map: the field map for contacts; a sink that merges a contact with
            its stored version maps the merged contact with it.
    """

    items: tuple[SinkItem, ...] = attrs.field(converter=_item_tuple)
    connection_id: str = ""
    stream: Stream | None = None
    sequence: int = 0
    contact_map: FieldMap = CONTACT_MAP

    def __len__(self) -> int:
        return len(self.items)


class WriteAction(str, enum.Enum):
    """What a sink did with one item."""

    #: A record or contact the sink did not have.
    INSERTED = "inserted"
    #: A newer version replaced the stored one (or a contact merge changed it).
    UPDATED = "updated"
    #: Equal to what is stored: nothing written.
    UNCHANGED = "unchanged"
    #: Older than the stored version: kept the stored one (``Reason.STALE_RECORD``).
    STALE = "stale"
    #: Refused, with a reason (the contact cap, an identity the sink cannot key on).
    REFUSED = "refused"


@attrs.frozen
class ItemOutcome:
    """The fate of one item of a batch.

    Attributes:
        key: the item's key.
        action: what the sink did.
        reason: why it was stale or refused.
        merged: a contact folded into a stored contact seen from another record
            (another customer id, a guest checkout, another store): a duplicate merged.
        error: for refusals, the error to report: a ``ContactLimitError`` for the
            contact cap, an ``InvalidRecordError`` (with the record's payload) for a
            record the destination refused, which the engine dead-letters.
    """

    key: RecordKey
    action: WriteAction
    reason: Reason | None = None
    merged: bool = False
    error: SinkError | InvalidRecordError | None = attrs.field(default=None, eq=False)


@attrs.frozen
class BatchAck:
    """A sink's acknowledgement: the batch is durable, and here is each item's fate.

    A sink returns it only after the data is durable (committed, fsynced,
    accepted by the CRM); the engine advances checkpoints only after it.

    Example:
        >>> k = RecordKey("c", "product", "1")
        >>> BatchAck(3, (ItemOutcome(k, WriteAction.INSERTED),)).count(WriteAction.INSERTED)
        1
    """

    sequence: int
    outcomes: tuple[ItemOutcome, ...] = attrs.field(converter=_outcome_tuple)

    def count(self, action: WriteAction, kind: str | None = None) -> int:
        """How many items had ``action`` (of one kind, if given)."""
        return sum(
            1 for o in self.outcomes if o.action is action and (kind is None or o.key.kind == kind)
        )

    @property
    def refused(self) -> tuple[ItemOutcome, ...]:
        """The refused items' outcomes."""
        return tuple(o for o in self.outcomes if o.action is WriteAction.REFUSED)


@runtime_checkable
class Sink(Protocol):
    """A destination for synced data: a CRM, a database, a test double.

    A sink upserts idempotently: by ``(connection, kind, external id)`` for
    records and by identity for contacts (merging with the stored contact). A
    record older than the stored version never replaces it. Each
    :meth:`write` is atomic (all items durable, or none and an exception) and
    returns its :class:`BatchAck` only once the data is durable. New contacts
    beyond ``capabilities.contact_limit`` are refused per item, never raised.

    Example:
        >>> from commerce_connectors.sinks import MemorySink
        >>> isinstance(MemorySink(), Sink)
        True
    """

    @property
    def capabilities(self) -> SinkCapabilities:
        """What this sink accepts."""
        ...

    def write(self, batch: SinkBatch) -> BatchAck:
        """Upsert every item of ``batch`` atomically; return once durable.

        Raises:
            SinkError: nothing of the batch was written.
        """
        ...

    def close(self) -> None:
        """Release connections and files (idempotent)."""
        ...


@runtime_checkable
class InspectableSink(Sink, Protocol):
    """A sink that can show what it holds (test doubles, databases); used by check_sink."""

    def snapshot(self) -> dict[RecordKey, Mapping[str, Any]]:
        """Everything stored, as plain data keyed like the items (no write times)."""
        ...

    def contact_count(self) -> int:
        """How many contacts the sink holds."""
        ...


@runtime_checkable
class ErasableSink(Sink, Protocol):
    """A sink that can erase personal data on request (GDPR/LGPD redaction webhooks).

    ``check_sink`` checks the capability on sinks that declare it.
    """

    def erase(
        self,
        connection_id: str | None,
        *,
        email: str | None = None,
        customer_external_id: str | None = None,
        order_external_ids: Sequence[str] = (),
    ) -> int:
        """Erase one person's data, or a whole connection's; return how many rows/objects went.

        With ``email``, ``customer_external_id`` and/or ``order_external_ids``: that
        person's customer record, orders and carts, the orders named (a redaction
        request lists them: orders placed under an older address), of
        ``connection_id`` or of every connection when it is ``None``; and the
        contact itself unless another connection still holds records of that
        person (then only this connection's traces are removed). With none of
        them: every record of ``connection_id``, and the contacts no other
        connection knows. Idempotent: erasing again returns 0.
        """
        ...


@runtime_checkable
class NoticeSink(Sink, Protocol):
    """A sink with things to report that are no single record's fate.

    The engine puts them in the run's report (``SyncReport.notices``), e.g. "the
    configured list does not exist: contacts go to no list".
    """

    def take_notices(self) -> list[str]:
        """The notices since the last call, as sentences (then forgotten)."""
        ...


@runtime_checkable
class ContactLookupSink(Sink, Protocol):
    """A sink that can say whether the CRM already knows a person.

    The integrations sync a guest's purchase (a BigCommerce guest checkout, a
    Square payment without a customer profile) only when the CRM already has a
    contact with that email; the engine asks through this.
    """

    def contact_exists(self, email: str) -> bool:
        """Whether a contact with this (normalised) email is stored."""
        ...


@runtime_checkable
class StatusSink(Sink, Protocol):
    """A sink that can change the state of a stored record without a new version of it.

    Webhooks use it when a record goes away at the platform: a cart deleted or
    converted after it was written as abandoned must no longer start the
    abandoned-cart automation.
    """

    def set_status(self, key: RecordKey, status: str, at: _dt.datetime) -> bool:
        """Set a stored record's status (``deleted``, ``recovered`` …).

        Returns whether a stored record changed (``False`` when it is unknown or
        already in that status).
        """
        ...


# ---------------------------------------------------------------------------- state


@attrs.frozen
class Checkpoint:
    """How far one stream of one connection is synced.

    Attributes:
        connection_id: the connection.
        stream: the stream.
        value: everything created or updated before this moment (minus the
            overlap window) is in the sink; incremental syncs read from here.
        updated_at: when the checkpoint was saved.
        run_id: the run that saved it.
    """

    connection_id: str
    stream: Stream = attrs.field(converter=Stream)
    value: _dt.datetime
    updated_at: _dt.datetime
    run_id: int | None = None


@attrs.frozen
class DeadLetterProblem:
    """One bad field of a dead-lettered record, with when it was first and last seen."""

    path: str
    reason: str
    first_seen: _dt.datetime
    last_seen: _dt.datetime


@attrs.frozen
class DeadLetter:
    """A record that could not be synced, kept with its raw payload until replayed.

    Attributes:
        id: the store's id.
        connection_id: the connection.
        kind: ``customer``, ``order``, ``product`` or ``cart``.
        record_id: the record's id at the platform (``None`` when unreadable).
        payload: the raw payload exactly as received.
        problems: every bad field's path and reason.
        error: the error's message.
        first_seen, last_seen: when it was first and last refused.
        count: how many times it was refused.
        resolved_at: when a later run synced it (``None`` while open).
    """

    id: int
    connection_id: str
    kind: str
    record_id: str | None
    payload: Any = attrs.field(eq=False, repr=False)
    problems: tuple[DeadLetterProblem, ...]
    error: str
    first_seen: _dt.datetime
    last_seen: _dt.datetime
    count: int = 1
    resolved_at: _dt.datetime | None = None


@attrs.frozen
class ParkedContact:
    """A contact refused by the sink's contact cap, kept until the cap is raised.

    Attributes:
        identity: the contact's identity.
        connection_id: the connection it came from (first seen).
        contact: the contact, merged over every refusal.
        reason: why it was refused (``contact_limit``).
        first_seen, last_seen: when it was first and last refused.
    """

    identity: str
    connection_id: str
    contact: Contact
    reason: Reason
    first_seen: _dt.datetime
    last_seen: _dt.datetime


@attrs.frozen
class RunRecord:
    """One sync run in the run log.

    Attributes:
        id: the store's id.
        connection_id: the connection.
        mode: ``historical``, ``incremental`` or ``replay``.
        started_at, ended_at: when it ran (``ended_at`` ``None`` while running, or if
            the process died).
        status: ``running``, ``ok``, ``auth_error``, ``retry_later``, ``sink_error``,
            ``interrupted`` or ``failed``.
        counts: the report's totals (plain data).
        error: the error message, if it stopped on one.
    """

    id: int
    connection_id: str
    mode: str
    started_at: _dt.datetime
    ended_at: _dt.datetime | None = None
    status: str = "running"
    counts: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    error: str | None = None


@runtime_checkable
class StateStore(Protocol):
    """Where the engine keeps checkpoints, dead letters, parked contacts and its run log.

    Example:
        >>> from commerce_connectors.state import MemoryStateStore
        >>> isinstance(MemoryStateStore(), StateStore)
        True
    """

    def get_checkpoint(self, connection_id: str, stream: Stream) -> Checkpoint | None:
        """The stream's checkpoint, or ``None`` if it was never completed."""
        ...

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a checkpoint durably (replacing the stream's previous one)."""
        ...

    def checkpoints(self, connection_id: str | None = None) -> list[Checkpoint]:
        """Every checkpoint (of one connection)."""
        ...

    def add_dead_letter(
        self, connection_id: str, error: InvalidRecordError, at: _dt.datetime
    ) -> DeadLetter:
        """Keep a refused record (or update the open one with the same key)."""
        ...

    def dead_letters(
        self, connection_id: str | None = None, *, include_resolved: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, oldest first (open ones only by default)."""
        ...

    def open_dead_letter_keys(self, connection_id: str) -> set[tuple[str, str]]:
        """``(kind, record_id)`` of the connection's open dead letters."""
        ...

    def resolve_dead_letters(
        self, connection_id: str, keys: Iterable[tuple[str, str]], at: _dt.datetime
    ) -> int:
        """Mark open dead letters resolved (their records were synced); returns how many."""
        ...

    def park_contacts(
        self, connection_id: str, contacts: Sequence[tuple[Contact, Reason]], at: _dt.datetime
    ) -> None:
        """Keep refused contacts (merging with one already parked under the same identity)."""
        ...

    def parked_contacts(self, connection_id: str | None = None) -> list[ParkedContact]:
        """Contacts waiting for room in the sink."""
        ...

    def unpark_contacts(self, identities: Iterable[str]) -> None:
        """Forget parked contacts that have been synced."""
        ...

    def start_run(self, connection_id: str, mode: str, at: _dt.datetime) -> int:
        """Open a run-log entry; returns its id."""
        ...

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        at: _dt.datetime,
        counts: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        """Close a run-log entry."""
        ...

    def runs(self, connection_id: str | None = None, *, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        ...

    def close(self) -> None:
        """Release the store (idempotent)."""
        ...


# ---------------------------------------------------------------------------- lifecycle


class ConnectionState(str, enum.Enum):
    """Where a connection is in its life."""

    #: Synced by polling and webhooks.
    ACTIVE = "active"
    #: No polling; webhook events are kept in the inbox and processed on resume.
    PAUSED = "paused"
    #: The app was uninstalled (or the token revoked): no API call is made; data is kept.
    DISABLED = "disabled"
    #: Removed by its owner: no API call, events dropped; synced data is kept.
    DELETED = "deleted"


@attrs.frozen
class ConnectionStatus:
    """A connection's lifecycle state and when and why it last changed."""

    connection_id: str
    state: ConnectionState = attrs.field(converter=ConnectionState)
    changed_at: _dt.datetime | None = None
    reason: str | None = None

    @property
    def syncs(self) -> bool:
        """Whether polling and event processing run for it."""
        return self.state is ConnectionState.ACTIVE


@runtime_checkable
class LifecycleStore(Protocol):
    """Keeps each connection's :class:`ConnectionState` (a connection never seen is active)."""

    def connection_status(self, connection_id: str) -> ConnectionStatus:
        """The connection's state (``ACTIVE`` with no ``changed_at`` when never set)."""
        ...

    def set_connection_state(
        self,
        connection_id: str,
        state: ConnectionState,
        at: _dt.datetime,
        reason: str | None = None,
    ) -> ConnectionStatus:
        """Record a new state durably; returns it."""
        ...

    def connection_statuses(self) -> list[ConnectionStatus]:
        """Every connection whose state was ever set, by id."""
        ...


# ---------------------------------------------------------------------------- leases


@attrs.frozen
class Lease:
    """A worker's exclusive, expiring claim on one connection's sync.

    Attributes:
        connection_id: the connection.
        holder: who holds it (a worker id: host, process, engine).
        token: a number that grows each time the lease changes hands (a fencing
            token: a holder that lost its lease has an older one).
        acquired_at: when this holder took it.
        expires_at: when it lapses unless renewed (in the store's time).
    """

    connection_id: str
    holder: str
    token: int
    acquired_at: _dt.datetime
    expires_at: _dt.datetime


@runtime_checkable
class LeaseStore(Protocol):
    """Hands out one lease per connection, so one worker at a time syncs it.

    Each call is an atomic compare-and-set in the store. Time is the store's:
    the database server's clock for PostgreSQL, the store's clock (the system
    clock unless one was given) for SQLite and memory, so workers on machines
    whose clocks disagree still agree on expiry when they share a database.
    A holder that dies simply stops renewing; its lease lapses at ``expires_at``
    and the next worker takes it (and resumes from the checkpoints).

    Example:
        >>> import datetime as dt
        >>> from commerce_connectors.state import MemoryStateStore
        >>> store = MemoryStateStore()
        >>> lease = store.acquire_lease("shop:1", "worker-a", dt.timedelta(minutes=5))
        >>> store.acquire_lease("shop:1", "worker-b", dt.timedelta(minutes=5)) is None
        True
        >>> store.release_lease(lease)
        True
        >>> store.acquire_lease("shop:1", "worker-b", dt.timedelta(minutes=5)).holder
        'worker-b'
    """

    def acquire_lease(self, connection_id: str, holder: str, ttl: _dt.timedelta) -> Lease | None:
        """Take the connection's lease for ``ttl``; ``None`` when another holder has it.

        Free, expired or already ``holder``'s: it becomes ``holder``'s until now + ``ttl``.
        """
        ...

    def renew_lease(self, lease: Lease, ttl: _dt.timedelta) -> Lease | None:
        """Extend a held lease to now + ``ttl``; ``None`` when it was lost meanwhile.

        It is lost once another holder took it (after it lapsed); a lapsed lease
        nobody took is still the holder's to renew.
        """
        ...

    def release_lease(self, lease: Lease) -> bool:
        """Give the lease up now; ``False`` when it was no longer the holder's."""
        ...

    def current_lease(self, connection_id: str) -> Lease | None:
        """The connection's lease while it is held (``None``: free or lapsed)."""
        ...


# ---------------------------------------------------------------------------- inbox


class EventStatus(str, enum.Enum):
    """Where a webhook event is in the inbox."""

    #: Waiting for the worker (or re-scheduled: a retry, a cart not yet abandoned).
    PENDING = "pending"
    #: Processed (``outcome`` says how).
    DONE = "done"
    #: Given up after its retries, or unreadable: kept with its error for inspection.
    FAILED = "failed"
    #: Recorded for a person to act on (a customer's data request).
    ACTION_REQUIRED = "action_required"


@attrs.frozen
class InboxEvent:
    """A verified webhook delivery kept in the state store until it is processed.

    Attributes:
        id: the store's id.
        connection_id: the connection whose endpoint received it.
        platform: the platform's name.
        event_id: the platform's dedupe key (unique per connection).
        topic: the platform's topic.
        kind, external_id, action: what it is about (as parsed on receipt).
        occurred_at: when it happened at the platform.
        received_at: when the receiver stored it.
        headers: the delivery's headers, signatures removed.
        body: the raw body exactly as received.
        status: where it is.
        attempts: how many times processing failed.
        next_attempt_at: when the worker may take it (again).
        outcome: what processing did, or the last error.
        processed_at: when it reached ``DONE``/``FAILED``/``ACTION_REQUIRED``.
    """

    id: int
    connection_id: str
    platform: str
    event_id: str
    topic: str
    kind: str | None
    external_id: str | None
    action: str
    occurred_at: _dt.datetime
    received_at: _dt.datetime
    headers: Mapping[str, str] = attrs.field(eq=False, repr=False, hash=False)
    body: bytes = attrs.field(eq=False, repr=False)
    status: EventStatus = attrs.field(default=EventStatus.PENDING, converter=EventStatus)
    attempts: int = 0
    next_attempt_at: _dt.datetime | None = None
    outcome: str | None = None
    processed_at: _dt.datetime | None = None


@runtime_checkable
class InboxStore(Protocol):
    """The durable inbox of webhook events: stored before the 200, drained by the worker.

    At-least-once delivery becomes effectively-once processing: an event id
    already in the inbox (pending or processed) is not stored again.
    """

    def add_event(
        self,
        connection_id: str,
        event: WebhookEvent,
        *,
        body: bytes,
        headers: Mapping[str, str],
        received_at: _dt.datetime,
        status: EventStatus = EventStatus.PENDING,
        outcome: str | None = None,
    ) -> InboxEvent | None:
        """Store an event durably; ``None`` when its id is already in the inbox."""
        ...

    def claim_events(
        self,
        now: _dt.datetime,
        *,
        connection_ids: Iterable[str] | None = None,
        limit: int = 100,
        lease: _dt.timedelta = _dt.timedelta(minutes=5),
        actions: Iterable[str] | None = None,
    ) -> list[InboxEvent]:
        """Take due pending events, oldest first, for ``lease`` (unfinished ones come back).

        ``connection_ids`` and ``actions`` (``WebhookAction`` values) narrow the claim.
        """
        ...

    def finish_event(
        self, event_id: int, status: EventStatus, at: _dt.datetime, outcome: str | None = None
    ) -> None:
        """Close a pending event (``DONE``, ``FAILED`` or ``ACTION_REQUIRED``) with what happened.

        An event closed meanwhile (cancelled by a cart's deletion, a redaction) stays closed.
        """
        ...

    def retry_event(
        self,
        event_id: int,
        at: _dt.datetime,
        next_attempt_at: _dt.datetime,
        error: str | None = None,
        *,
        count_attempt: bool = True,
    ) -> None:
        """Put an event back as pending until ``next_attempt_at`` (a failure, or a deferral)."""
        ...

    def cancel_events(
        self, connection_id: str, kind: str, external_id: str, at: _dt.datetime, outcome: str
    ) -> int:
        """Close the pending events about one record (a cart deleted before it was abandoned)."""
        ...

    def redact_events(
        self,
        connection_id: str,
        at: _dt.datetime,
        *,
        needles: Sequence[str] = (),
        records: Sequence[tuple[str, str]] = (),
        everything: bool = False,
        keep: int | None = None,
    ) -> int:
        """Erase personal data kept for a connection after a redaction request.

        Events whose body contains one of ``needles`` (case-insensitively: the
        person's email, phone), that are about one of ``records`` (``(kind,
        external id)``), or all of them with ``everything``, lose their body and
        headers; pending ones are closed (their data must not be written back).
        Dead letters matching the same way are deleted. Event ``keep`` (the
        request itself) is left. Returns how many events and dead letters changed.
        """
        ...

    def events(
        self,
        connection_id: str | None = None,
        *,
        status: EventStatus | None = None,
        limit: int = 100,
    ) -> list[InboxEvent]:
        """Events, oldest first."""
        ...

    def event_counts(self, connection_id: str | None = None) -> dict[EventStatus, int]:
        """How many events are in each status."""
        ...
