"""Shopify bulk operations: a shop's history in one asynchronous export instead of pages.

Paging the GraphQL Admin API costs ~41 points per order with its lines (~2.5 orders/s on
the Standard plan's 100 points/s); a bulk query costs 10 points to start, 1 point per
status poll, and nothing per record. :class:`~.connector.ShopifyConnector` reads through
here when it is given ``bulk=`` and the read is historical, or an incremental window holds
at least :data:`~.constants.BULK_THRESHOLDS` records (one ``*Count`` query decides).

The flow of one read (:func:`read_nodes`):

1. **Obtain an operation.** An operation id kept in the :class:`BulkJournal` for this
   connection and stream, whose query is the one this read needs and which is not
   expired or canceled, is **re-attached** to (a process killed mid-operation does not
   start over). Otherwise ``bulkOperationRunQuery`` starts one; its id is journaled at
   once. If Shopify answers that a bulk query is already in progress
   (``OPERATION_IN_PROGRESS``: one query operation per app and shop), the current one
   (``currentBulkOperation``) is attached to if it runs this very query, else waited
   for; a duplicate is never started.
2. **Poll** its status (``node(id:)``, 1 point) with waits growing from 1 s to 30 s, cut
   short by its progress (``rootObjectCount`` against the count) so the last wait does not
   overshoot. The waits go through the connector's clock and its cost limiter.
3. **Stream the JSONL** with httpx, never more than a chunk in memory, without the
   access token (the URL is signed and on another host), resuming with ``Range`` after a
   dropped connection.
4. **Reassemble** child rows (order lines, product variants, checkout lines, which carry
   ``__parentId``) into their parent and yield one node at a time, shaped as the paged
   query returns it, for the same ``parse_*_node`` mapper.

States and errors: ``CREATED``/``RUNNING``/``CANCELING`` are polled; ``COMPLETED`` is
downloaded (a ``null`` url means no rows); ``EXPIRED`` (a re-attached operation whose
file is gone, or a download refused) starts a new operation; ``CANCELED`` raises
:class:`BulkCanceledError` (retriable: someone stopped the export on purpose, the next run
starts a new one); ``FAILED`` with ``ACCESS_DENIED`` raises
:class:`~commerce_connectors.errors.PermissionDeniedError` and uses no partial data (rows
may miss the refused fields, as the paged path never takes partial data for complete);
``FAILED`` with ``TIMEOUT`` or ``INTERNAL_SERVER_ERROR`` yields the complete records of
``partialDataUrl``, then runs the query again for ids after the last one, up to
:data:`~.constants.BULK_ATTEMPTS` operations, and pages what is left after that.

**Ordering.** The mutation passes ``groupObjects: true``: "The JSONL output file ...
places child objects directly below their corresponding parent objects" (Shopify
changelog, *Optional groupObjects argument in bulk operations mutations*; the argument's
description in the 2025-10 schema: "Whether to group objects under their corresponding
parent objects in the JSONL output"). From API version 2026-01 the argument defaults to
``false``, so it is always sent. The reassembly holds one parent and its children; a child
that does not follow its parent raises :class:`~commerce_connectors.errors.MalformedResponseError`
rather than yield an incomplete record. Root rows are expected in the query's
``sortKey: ID`` order; this is checked as partial data is read and is what lets a retry
resume after the last complete id (undocumented: on any sign otherwise the retry starts
from the beginning, and the records read twice are absorbed by the sinks' idempotent
upserts).

**Re-attach seam.** The connector has no state store, so the operation id goes to a
small :class:`BulkJournal` the connector is given: :class:`MemoryBulkJournal` by
default, :class:`FileBulkJournal` (one small JSON file per connection and stream,
replaced atomically) to survive a process; ``FileBulkJournal.beside(state_path)`` puts it
next to a SQLite state store. An entry is dropped once its records were all read. A
re-attached operation was created before this read started, so records changed after its
creation may be exported in their older version: the read then also reads, by page or by
bulk as their number says, what changed since ``createdAt`` minus the overlap.

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.platforms.shopify import ShopifyConnector
    >>> from commerce_connectors.testing.simulators.shopify import ShopifySimulator
    >>> clock = FakeClock()
    >>> sim = ShopifySimulator(seed=1, customers=20, orders=40, products=8, checkouts=5,
    ...                        clock=clock)
    >>> conn = ShopifyConnector(shop=sim.shop, access_token=sim.token,
    ...                         transport=sim.transport(), clock=clock, bulk=True)
    >>> with conn:
    ...     len(list(conn.iter_orders()))
    40
    >>> conn.bulk_stats.started, conn.bulk_stats.records
    (1, 40)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

import attrs
import httpx

from ..._http import HttpEngine, Request, get_path
from ...clock import Clock
from ...errors import (
    APIError,
    ClientRequestError,
    MalformedResponseError,
    PermissionDeniedError,
    RateLimitError,
    RetriableError,
    ServerError,
    TransportError,
)
from ...protocols import Stream
from . import constants as c
from ._shared import PLATFORM_NAME
from .graphql import (
    _ADDRESS,
    _CUSTOMER,
    CHECKOUT_FIELDS,
    ORDER_FIELDS,
    PRODUCT_FIELDS,
    search_filter,
)

__all__ = [
    "BULK_CANCEL_MUTATION",
    "BULK_CURRENT_QUERY",
    "BULK_RUN_MUTATION",
    "BULK_STATUS_QUERY",
    "BulkCanceledError",
    "BulkEntry",
    "BulkHost",
    "BulkJournal",
    "BulkOperation",
    "BulkOptions",
    "BulkStats",
    "FileBulkJournal",
    "MemoryBulkJournal",
    "assemble",
    "bulk_document",
    "count_document",
    "read_nodes",
]

logger = logging.getLogger("commerce_connectors.shopify")

# -- documents ------------------------------------------------------------------------------

# A paged nested connection as the stream fragments write it:
#   lineItems(first: $lines) { pageInfo { hasNextPage endCursor } nodes { ...LineFields } }
_PAGED_CONNECTION = re.compile(
    r"(?P<field>\w+)\(first: \$\w+\)\s*\{\s*pageInfo\s*\{[^{}]*\}\s*"
    r"nodes\s*\{(?P<inner>[^{}]*)\}\s*\}"
)


def _bulk_fragments(fragments: str, child: str | None) -> str:
    """The stream's fragments with its nested connection in bulk form (no ``first:``).

    Bulk queries page every connection themselves and take no variables, so
    ``lineItems(first: $lines) { pageInfo {…} nodes { …LineFields } }`` becomes
    ``lineItems { edges { node { …LineFields } } }``; every other field is the paged
    query's, so both paths read the same fields.
    """
    found: list[str] = []

    def bulk_form(match: re.Match[str]) -> str:
        found.append(match["field"])
        return f"{match['field']} {{ edges {{ node {{{match['inner']}}} }} }}"

    text = _PAGED_CONNECTION.sub(bulk_form, fragments)
    if found != ([child] if child else []) or "$" in text or "pageInfo" in text:
        raise RuntimeError(  # the stream fragments changed shape: adapt the rewrite above
            f"cannot derive the bulk selection: nested connections {found}, expected "
            f"{[child] if child else []}"
        )
    return text


@attrs.frozen
class _Shape:
    """What a stream's bulk query reads: its root connection and its one child connection."""

    root: str
    fragment: str
    fragments: str
    child: str | None
    count_field: str
    name: str


def _shape(stream: Stream, root: str, fragment: str, fragments: str, child: str | None) -> _Shape:
    name = "".join(part.capitalize() for part in stream.value.split("_"))
    return _Shape(root, fragment, _bulk_fragments(fragments, child), child, f"{root}Count", name)


_SHAPES: Final[Mapping[Stream, _Shape]] = {
    Stream.CUSTOMERS: _shape(Stream.CUSTOMERS, "customers", "CustomerFields",
                             _CUSTOMER + _ADDRESS, None),
    Stream.ORDERS: _shape(Stream.ORDERS, "orders", "OrderFields", ORDER_FIELDS, "lineItems"),
    Stream.PRODUCTS: _shape(Stream.PRODUCTS, "products", "ProductFields", PRODUCT_FIELDS,
                            "variants"),
    Stream.ABANDONED_CARTS: _shape(Stream.ABANDONED_CARTS, "abandonedCheckouts",
                                   "CheckoutFields", CHECKOUT_FIELDS, "lineItems"),
}  # fmt: skip


def bulk_document(stream: Stream, search: str | None = None) -> str:
    """The bulk query of ``stream``: every record (``search`` filters them), sorted by id.

    The selection is the paged stream's fragment with its nested connection unpaged.
    Bulk queries take no variables, so ``search`` is written into the document as a
    GraphQL string literal.

    Example:
        >>> print(bulk_document(Stream.CUSTOMERS, "updated_at:>='2024-10-04T00:00:00Z'")
        ...       .splitlines()[1])
          customers(sortKey: ID, query: "updated_at:>='2024-10-04T00:00:00Z'") {
        >>> "lineItems { edges { node { ...LineFields } } }" in bulk_document(Stream.ORDERS)
        True
    """
    shape = _SHAPES[stream]
    args = "sortKey: ID" + (f", query: {json.dumps(search)}" if search else "")
    return (
        f"query Bulk{shape.name} {{\n"
        f"  {shape.root}({args}) {{\n"
        f"    edges {{ node {{ ...{shape.fragment} }} }}\n"
        "  }\n"
        "}" + shape.fragments
    )


def count_document(stream: Stream) -> str:
    """How many records of ``stream`` match ``$query``, up to ``$limit`` (``null``: all)."""
    shape = _SHAPES[stream]
    return (
        f"query {shape.name}Count($query: String, $limit: Int) {{\n"
        f"  {shape.count_field}(query: $query, limit: $limit) {{ count precision }}\n"
        "}"
    )


_OPERATION_FIELDS: Final = """
fragment BulkOperationFields on BulkOperation {
  id status errorCode createdAt completedAt objectCount rootObjectCount fileSize
  url partialDataUrl
}"""

#: Start a bulk query. ``groupObjects: true`` is what puts child rows right below their
#: parent (the default turned ``false`` in 2026-01), which the reassembly relies on.
BULK_RUN_MUTATION: Final = (
    """
mutation BulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { ...BulkOperationFields }
    userErrors { field message code }
  }
}"""
    + _OPERATION_FIELDS
)

#: One operation by id. ``node(id:)`` exists in every version; the 2025-10 schema has no
#: ``bulkOperation(id:)`` field.
BULK_STATUS_QUERY: Final = (
    """
query BulkOperation($id: ID!) {
  node(id: $id) { ... on BulkOperation { ...BulkOperationFields } }
}"""
    + _OPERATION_FIELDS
)

#: The app's most recent bulk query, with its document (to attach to a running twin).
BULK_CURRENT_QUERY: Final = (
    """
query CurrentBulkOperation {
  currentBulkOperation(type: QUERY) { ...BulkOperationFields query }
}"""
    + _OPERATION_FIELDS
)

#: Ask Shopify to cancel a running operation (it goes through ``CANCELING``).
BULK_CANCEL_MUTATION: Final = (
    """
mutation BulkOperationCancel($id: ID!) {
  bulkOperationCancel(id: $id) {
    bulkOperation { ...BulkOperationFields }
    userErrors { field message }
  }
}"""
    + _OPERATION_FIELDS
)

# Expected costs handed to the cost limiter (it would otherwise expect the last page's).
_COST_QUERY: Final = 2.0
_COST_MUTATION: Final = 10.0

# -- the operation --------------------------------------------------------------------------

_RUNNING: Final = frozenset({"CREATED", "RUNNING", "CANCELING"})
#: States of a journaled operation worth re-attaching to (FAILED: its partial data).
_REATTACH: Final = frozenset({"CREATED", "RUNNING", "COMPLETED", "FAILED"})


def _count(value: Any) -> int:
    """An ``UnsignedInt64`` (Shopify serialises it as a string) as an int."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _moment(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


@attrs.frozen
class BulkOperation:
    """A ``BulkOperation`` as Shopify reports it (the signed URLs are never in a repr).

    Attributes:
        id: its global id (``gid://shopify/BulkOperation/…``).
        status: ``CREATED``, ``RUNNING``, ``CANCELING``, ``COMPLETED``, ``FAILED``,
            ``CANCELED`` or ``EXPIRED``.
        error_code: ``ACCESS_DENIED``, ``INTERNAL_SERVER_ERROR`` or ``TIMEOUT`` when failed.
        created_at: when Shopify created it.
        completed_at: when it completed.
        object_count: objects exported so far (roots and children).
        root_object_count: root objects exported so far.
        file_size: bytes of the result file, when Shopify says.
        url: the JSONL result (signed, expires 7 days after completion).
        partial_data_url: what a failed operation exported (signed, expires too).
        query: the bulk query document (read from ``currentBulkOperation`` only).
    """

    id: str
    status: str
    error_code: str | None = None
    created_at: _dt.datetime | None = None
    completed_at: _dt.datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = attrs.field(default=None, repr=False)
    partial_data_url: str | None = attrs.field(default=None, repr=False)
    query: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> BulkOperation:
        """Read one ``BulkOperation`` object of a GraphQL answer."""
        size = node.get("fileSize")
        return cls(
            id=str(node.get("id") or ""),
            status=str(node.get("status") or ""),
            error_code=node.get("errorCode") or None,
            created_at=_moment(node.get("createdAt")),
            completed_at=_moment(node.get("completedAt")),
            object_count=_count(node.get("objectCount")),
            root_object_count=_count(node.get("rootObjectCount")),
            file_size=_count(size) if size is not None else None,
            url=node.get("url") or None,
            partial_data_url=node.get("partialDataUrl") or None,
            query=node.get("query"),
        )

    @property
    def running(self) -> bool:
        """Whether it has yet to reach a final state."""
        return self.status in _RUNNING


class BulkCanceledError(RetriableError):
    """A bulk operation this read needed was canceled before it finished.

    Someone stopped the export on purpose (``bulkOperationCancel`` from another process
    or tool): it is not restarted behind their back. The sync engine ends the run as
    "retry later"; the next run starts a new operation.
    """


class _ResultGoneError(Exception):
    """The result file is no longer served (its signed URL expired): start again."""


# -- the journal ----------------------------------------------------------------------------


@attrs.frozen
class BulkEntry:
    """What the journal keeps of a running operation.

    Attributes:
        operation_id: the operation's global id.
        digest: SHA-256 of its query document: it is re-attached to only by a read that
            needs exactly that query (same stream, same filter).
        created_at: when it was started (ISO 8601), for people reading the journal.
    """

    operation_id: str
    digest: str
    created_at: str | None = None


@runtime_checkable
class BulkJournal(Protocol):
    """Where a connector keeps the ids of its bulk operations between processes.

    Keys are ``"<connection id>/<stream>"``. Implement these three methods to keep them
    anywhere (a table of your state store …).
    """

    def get(self, key: str) -> BulkEntry | None:
        """The entry under ``key``, or ``None``."""
        ...

    def put(self, key: str, entry: BulkEntry) -> None:
        """Keep ``entry`` under ``key`` (durably, before returning)."""
        ...

    def discard(self, key: str) -> None:
        """Forget ``key`` (no error if absent)."""
        ...


class MemoryBulkJournal:
    """A journal in memory: re-attaches within one process only (the default).

    Example:
        >>> journal = MemoryBulkJournal()
        >>> journal.put("shopify:acme.myshopify.com/orders", BulkEntry("gid://x/1", "d"))
        >>> journal.get("shopify:acme.myshopify.com/orders").operation_id
        'gid://x/1'
    """

    def __init__(self) -> None:
        self._entries: dict[str, BulkEntry] = {}

    def get(self, key: str) -> BulkEntry | None:
        """The entry under ``key``, or ``None``."""
        return self._entries.get(key)

    def put(self, key: str, entry: BulkEntry) -> None:
        """Keep ``entry`` under ``key``."""
        self._entries[key] = entry

    def discard(self, key: str) -> None:
        """Forget ``key``."""
        self._entries.pop(key, None)


class FileBulkJournal:
    """A journal of small JSON files in ``directory``, one per connection and stream.

    Each write goes to a temporary file that is flushed to disk and renamed over the old
    one, so a process killed at any moment leaves the previous entry or the new one. The
    files hold operation ids only: no token, no signed URL.

    Args:
        directory: created on first write.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     journal = FileBulkJournal.beside(f"{tmp}/state.db")
        ...     journal.put("shopify:acme.myshopify.com/orders", BulkEntry("gid://x/1", "d"))
        ...     again = FileBulkJournal(journal.directory)  # another process
        ...     again.get("shopify:acme.myshopify.com/orders").operation_id
        'gid://x/1'
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @classmethod
    def beside(cls, state_path: str | os.PathLike[str]) -> FileBulkJournal:
        """A journal in ``<state_path>.shopify-bulk/``, next to a state store's file."""
        path = Path(state_path)
        return cls(path.with_name(path.name + ".shopify-bulk"))

    def _path(self, key: str) -> Path:
        return self.directory / (re.sub(r"[^A-Za-z0-9._-]+", "_", key) + ".json")

    def get(self, key: str) -> BulkEntry | None:
        """The entry under ``key``, or ``None`` (also for an unreadable file)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return BulkEntry(str(data["operation_id"]), str(data["digest"]), data.get("created_at"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("bulk journal %s unreadable (%s); ignored", self._path(key), exc)
            return None

    def put(self, key: str, entry: BulkEntry) -> None:
        """Write ``entry`` under ``key`` durably (temporary file, fsync, rename)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"key": key, **attrs.asdict(entry)}, indent=1).encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".bulk-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def discard(self, key: str) -> None:
        """Remove ``key``'s file."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def __repr__(self) -> str:
        return f"FileBulkJournal({str(self.directory)!r})"


# -- options and figures --------------------------------------------------------------------


def _thresholds(value: int | Mapping[str, int]) -> Mapping[str, int]:
    if isinstance(value, int):
        return dict.fromkeys(c.BULK_THRESHOLDS, value)
    return {**c.BULK_THRESHOLDS, **value}


@attrs.frozen
class BulkOptions:
    """How a :class:`~.connector.ShopifyConnector` uses bulk operations.

    Attributes:
        thresholds: records in an incremental window from which it is read in bulk, per
            stream name (an int: the same for every stream; 0: always). Historical reads
            are always bulk reads. Default :data:`~.constants.BULK_THRESHOLDS`.
        journal: where running operations are remembered (default: in memory; pass a
            :class:`FileBulkJournal` to re-attach after the process dies).
        poll_min: first wait between polls, seconds.
        poll_max: longest wait between polls, seconds.
        wait_for_other: seconds to wait for another bulk query of this app to end.
        attempts: operations tried when one fails with ``TIMEOUT`` or
            ``INTERNAL_SERVER_ERROR`` before the rest is paged.
        catch_up_overlap: how far before a re-attached operation's creation the
            catch-up read starts.

    Example:
        >>> BulkOptions(thresholds=100).threshold(Stream.ORDERS)
        100
        >>> BulkOptions().threshold(Stream.CUSTOMERS)
        2500
    """

    thresholds: Mapping[str, int] = attrs.field(
        factory=lambda: dict(c.BULK_THRESHOLDS), converter=_thresholds
    )
    journal: BulkJournal = attrs.field(factory=MemoryBulkJournal)
    poll_min: float = attrs.field(default=c.BULK_POLL_MIN, validator=attrs.validators.gt(0))
    poll_max: float = attrs.field(default=c.BULK_POLL_MAX, validator=attrs.validators.gt(0))
    wait_for_other: float = attrs.field(
        default=c.BULK_WAIT_FOR_OTHER, validator=attrs.validators.ge(0)
    )
    attempts: int = attrs.field(default=c.BULK_ATTEMPTS, validator=attrs.validators.ge(1))
    catch_up_overlap: _dt.timedelta = c.DEFAULT_OVERLAP

    def threshold(self, stream: Stream) -> int:
        """Records from which an incremental window of ``stream`` is read in bulk."""
        return self.thresholds[stream.value]


@attrs.define
class BulkStats:
    """What a connector's bulk reads did (cumulative).

    Attributes:
        started: operations started (``bulkOperationRunQuery`` accepted).
        attached: operations re-attached to (journal) or joined (a running twin).
        polls: status queries.
        waited: seconds spent waiting between polls and for another operation.
        downloads: HTTP requests for result files (resumptions included).
        bytes: bytes of JSONL received.
        rows: JSONL rows read (parents and children).
        records: records yielded (parents with their children).
        salvaged: records yielded from the partial data of failed operations.
        paged_fallbacks: reads finished by pages after repeated failures.
        catch_ups: catch-up reads after a re-attached operation.
    """

    started: int = 0
    attached: int = 0
    polls: int = 0
    waited: float = 0.0
    downloads: int = 0
    bytes: int = 0
    rows: int = 0
    records: int = 0
    salvaged: int = 0
    paged_fallbacks: int = 0
    catch_ups: int = 0


# -- JSONL reassembly -----------------------------------------------------------------------


def _with_last(items: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    iterator = iter(items)
    try:
        previous = next(iterator)
    except StopIteration:
        return
    for item in iterator:
        yield previous, False
        previous = item
    yield previous, True


def _malformed(why: str) -> MalformedResponseError:
    return MalformedResponseError(f"bulk operation result: {why}", platform=PLATFORM_NAME)


def assemble(
    lines: Iterable[bytes], child: str | None, *, partial: bool = False
) -> Iterator[dict[str, Any]]:
    """JSONL rows → one node per root row, its child rows gathered under ``child``.

    A node comes out shaped as the paged query returns it, with every child:
    ``{…, child: {"pageInfo": {"hasNextPage": False, …}, "nodes": [children…]}}``. Only
    the current parent and its children are held. With ``partial`` (a failed
    operation's data), a last line cut short is ignored and the last parent is not
    yielded, since its children may be cut off.

    Raises:
        MalformedResponseError: a row that is not a JSON object, or a child row that
            does not follow its parent (the ``groupObjects`` grouping did not hold).

    Example:
        >>> rows = [b'{"id":"gid://shopify/Order/1"}',
        ...         b'{"id":"gid://shopify/LineItem/7","__parentId":"gid://shopify/Order/1"}',
        ...         b'{"id":"gid://shopify/Order/2"}']
        >>> [(n["id"][-1], len(n["lineItems"]["nodes"])) for n in assemble(rows, "lineItems")]
        [('1', 1), ('2', 0)]
    """
    current: dict[str, Any] | None = None
    children: list[dict[str, Any]] = []
    for raw, last in _with_last(lines):
        text = raw.strip()
        if not text:
            continue
        try:
            row = json.loads(text)
        except ValueError as exc:
            if partial and last:
                break  # a partial file may stop mid-line
            raise _malformed(f"a line is not JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise _malformed(f"a line is a {type(row).__name__}, not an object")
        parent = row.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield _node(current, children, child)
            current, children = row, []
            continue
        if child is None:
            raise _malformed(f"a child row of {parent!r}, but this query has no nested connection")
        if current is None or parent != current.get("id"):
            raise _malformed(
                f"a child row of {parent!r} does not follow its parent (the rows are not "
                "grouped under their parents, which groupObjects: true promises)"
            )
        children.append(row)
    if current is not None and not (partial and child is not None):
        yield _node(current, children, child)


def _node(row: dict[str, Any], children: list[dict[str, Any]], child: str | None) -> dict[str, Any]:
    if child is None:
        return row
    page = {"hasNextPage": False, "endCursor": None}
    return {**row, child: {"pageInfo": page, "nodes": children}}


class BulkHost(Protocol):
    """What the bulk read uses of the :class:`~.connector.ShopifyConnector` it serves.

    The connector passes itself; naming only this keeps the data flowing one way
    (the connector imports this module, never the reverse).
    """

    @property
    def shop(self) -> str:
        """The shop's ``*.myshopify.com`` domain (for logs)."""

    @property
    def connection_id(self) -> str:
        """The connection id (keys the journal's entries)."""

    @property
    def engine(self) -> HttpEngine:
        """The connector's HTTP engine (its client, retry policy and counters too)."""

    @property
    def clock(self) -> Clock:
        """What the polls and download retries wait on."""

    @property
    def bulk(self) -> BulkOptions | None:
        """The bulk options (``None``: bulk reads are off)."""

    @property
    def bulk_stats(self) -> BulkStats:
        """Where the bulk reads count what they did."""

    def _nodes(
        self, stream: Stream, since: _dt.datetime | None, *, extra: str | None = None
    ) -> Iterator[Any]: ...

    def _select(
        self, stream: Stream, since: _dt.datetime | None, *, catch_up: bool = True
    ) -> Iterator[Any]: ...


# -- the read -------------------------------------------------------------------------------


def _options(conn: BulkHost) -> BulkOptions:
    if conn.bulk is None:  # pragma: no cover - the connector only calls with bulk on
        raise RuntimeError("bulk reads are off for this connector")
    return conn.bulk


def _digest(document: str) -> str:
    return hashlib.sha256(document.strip().encode("utf-8")).hexdigest()


def _send(conn: BulkHost, query: str, variables: Mapping[str, Any], cost: float) -> Any:
    # Explicit nulls are kept (``limit: null`` means "no limit" for the counts).
    request = Request(
        "POST",
        c.GRAPHQL_PATH,
        json={"query": query, "variables": dict(variables)},
        # Queries are reads. The run mutation is safe to resend too: if the first attempt
        # did start an operation, the resend gets OPERATION_IN_PROGRESS and attaches to it.
        idempotent=True,
        cost=cost,
    )
    return conn.engine.send(request).body


def count(conn: BulkHost, stream: Stream, search: str | None, limit: int | None) -> int:
    """How many records of ``stream`` match ``search`` (at most ``limit``; ``None``: all)."""
    body = _send(conn, count_document(stream), {"query": search, "limit": limit}, _COST_QUERY)
    value = get_path(body, f"data.{_SHAPES[stream].count_field}.count")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(f"no count in the {_SHAPES[stream].count_field} answer")
    return value


def status(conn: BulkHost, operation_id: str) -> BulkOperation | None:
    """The operation ``operation_id`` now, or ``None`` if Shopify knows no such operation."""
    conn.bulk_stats.polls += 1
    body = _send(conn, BULK_STATUS_QUERY, {"id": operation_id}, _COST_QUERY)
    node = get_path(body, "data.node")
    if not isinstance(node, dict) or not node.get("status"):
        return None
    return BulkOperation.from_node(node)


def current(conn: BulkHost) -> BulkOperation | None:
    """The app's most recent bulk query operation (``currentBulkOperation``)."""
    body = _send(conn, BULK_CURRENT_QUERY, {}, _COST_QUERY)
    node = get_path(body, "data.currentBulkOperation")
    return BulkOperation.from_node(node) if isinstance(node, dict) else None


def cancel(conn: BulkHost, operation_id: str) -> BulkOperation:
    """Ask Shopify to cancel ``operation_id``; returns it as the answer reports it.

    Raises:
        ClientRequestError: Shopify refused (``userErrors``: not running, unknown id).
    """
    body = _send(conn, BULK_CANCEL_MUTATION, {"id": operation_id}, _COST_MUTATION)
    payload = get_path(body, "data.bulkOperationCancel") or {}
    node = payload.get("bulkOperation")
    errors = payload.get("userErrors") or []
    if errors or not isinstance(node, dict):
        messages = "; ".join(str(e.get("message")) for e in errors) or "no operation returned"
        raise ClientRequestError(f"bulkOperationCancel refused: {messages}", platform=PLATFORM_NAME)
    return BulkOperation.from_node(node)


def read_nodes(
    conn: BulkHost,
    stream: Stream,
    since: _dt.datetime | None,
    *,
    expected: int | None = None,
    catch_up: bool = True,
) -> Iterator[dict[str, Any]]:
    """Every node of ``stream`` updated at/after ``since``, through bulk operations.

    Args:
        conn: the connector (its engine, clock, ``bulk`` options and ``bulk_stats``).
        stream: what to read.
        since: the window's start (``None``: everything).
        expected: how many records the window holds, if counted (paces the polls).
        catch_up: after a re-attached operation, also read what changed since it began.

    Raises:
        PermissionDeniedError: the operation failed with ``ACCESS_DENIED``.
        BulkCanceledError: the operation was canceled.
        RateLimitError: another bulk query of this app ran past ``wait_for_other``.
        MalformedResponseError: the result file is not grouped JSONL.
    """
    options = _options(conn)
    shape = _SHAPES[stream]
    key = f"{conn.connection_id}/{stream.value}"
    search = search_filter("updated_at", since) if since is not None else None
    resume_after: int | None = None
    attempts = 0
    attached_at: _dt.datetime | None = None
    while True:
        after = after_filter(resume_after)
        document = bulk_document(stream, " ".join(p for p in (search, after) if p) or None)
        op, attached = _obtain(conn, key, document)
        if attached and op.created_at is not None:
            attached_at = op.created_at if attached_at is None else min(attached_at, op.created_at)
        op = _wait(conn, op, expected)
        if op.status == "COMPLETED":
            try:
                yield from _records(conn, op, shape.child, key)
            except _ResultGoneError:
                attempts += 1
                _restart(conn, key, op, attempts, "its result file is no longer served")
                continue
            break
        if op.status == "EXPIRED":
            attempts += 1
            _restart(conn, key, op, attempts, "its result file expired")
            continue
        options.journal.discard(key)
        if op.status == "CANCELED":
            raise BulkCanceledError(
                f"{PLATFORM_NAME}: bulk operation {op.id} ({stream.value}) was canceled before "
                "it finished; run again to start a new one"
            )
        if op.status != "FAILED":
            raise _malformed(f"operation {op.id} ended in an unknown state {op.status!r}")
        if op.error_code == "ACCESS_DENIED":
            raise PermissionDeniedError(
                f"bulk operation {op.id} ({stream.value}) failed with ACCESS_DENIED: the "
                "token lacks a scope for a field the query reads (run the query as a normal "
                "request to see which); its partial data is not used",
                platform=PLATFORM_NAME,
                code="ACCESS_DENIED",
            )
        attempts += 1
        if op.partial_data_url:
            last = yield from _salvage(conn, op.partial_data_url, shape.child, resume_after)
            resume_after = last if last is not None else resume_after
        logger.warning(
            "%s: bulk operation %s (%s) failed with %s after %d records (attempt %d of %d)",
            conn.shop, op.id, stream.value, op.error_code, op.root_object_count, attempts,
            options.attempts,
        )  # fmt: skip
        if attempts >= options.attempts:
            conn.bulk_stats.paged_fallbacks += 1
            yield from conn._nodes(stream, since, extra=after_filter(resume_after))
            break
    if catch_up and attached_at is not None:
        start = attached_at - options.catch_up_overlap
        if since is None or start > since:
            conn.bulk_stats.catch_ups += 1
            logger.info("%s: catching up %s changed since %s", conn.shop, stream.value, start)
            yield from conn._select(stream, start, catch_up=False)
    options.journal.discard(key)


def after_filter(resume_after: int | None) -> str | None:
    """The search term for records after id ``resume_after`` (``None``: no term).

    Example:
        >>> after_filter(450789469)
        'id:>450789469'
    """
    return f"id:>{resume_after}" if resume_after is not None else None


def _restart(conn: BulkHost, key: str, op: BulkOperation, attempts: int, why: str) -> None:
    options = _options(conn)
    options.journal.discard(key)
    if attempts >= options.attempts:
        raise ServerError(
            f"bulk operation {op.id}: {why}, {attempts} times in a row", platform=PLATFORM_NAME
        )
    logger.info("%s: bulk operation %s: %s; starting a new one", conn.shop, op.id, why)


def _obtain(conn: BulkHost, key: str, document: str) -> tuple[BulkOperation, bool]:
    """The operation running ``document``: re-attached, joined or started. ``(op, attached)``."""
    options = _options(conn)
    journal = options.journal
    digest = _digest(document)
    entry = journal.get(key)
    if entry is not None:
        op = status(conn, entry.operation_id) if entry.digest == digest else None
        if op is not None and op.status in _REATTACH:
            conn.bulk_stats.attached += 1
            logger.info("%s: re-attaching to bulk operation %s (%s)", conn.shop, op.id, op.status)
            return op, True
        journal.discard(key)
    deadline = conn.clock.monotonic() + options.wait_for_other
    while True:
        body = _send(conn, BULK_RUN_MUTATION, {"query": document}, _COST_MUTATION)
        payload = get_path(body, "data.bulkOperationRunQuery")
        if not isinstance(payload, dict):
            raise _malformed("no bulkOperationRunQuery payload in the answer")
        node = payload.get("bulkOperation")
        if isinstance(node, dict):
            op = BulkOperation.from_node(node)
            journal.put(key, BulkEntry(op.id, digest, conn.clock.now().isoformat()))
            conn.bulk_stats.started += 1
            logger.info("%s: started bulk operation %s (%s)", conn.shop, op.id, key)
            return op, False
        errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
        if not any(_in_progress(e) for e in errors):
            messages = "; ".join(str(e.get("message")) for e in errors) or "no operation returned"
            codes = [str(e["code"]) for e in errors if e.get("code")]
            raise ClientRequestError(
                f"bulkOperationRunQuery refused the query: {messages}",
                platform=PLATFORM_NAME,
                code=codes[0] if codes else None,
            )
        other = current(conn)
        if (
            other is not None
            and other.status in _REATTACH - {"FAILED"}
            and other.query is not None
            and _digest(other.query) == digest
        ):
            journal.put(key, BulkEntry(other.id, digest, conn.clock.now().isoformat()))
            conn.bulk_stats.attached += 1
            logger.info("%s: joining bulk operation %s, already running this query",
                        conn.shop, other.id)  # fmt: skip
            return other, True
        if other is not None and other.running:
            _wait_for_other(conn, other, deadline)
        else:  # over between the two answers: try again shortly, within the same deadline
            _wait_for_other(conn, BulkOperation(id="", status="RUNNING"), deadline, once=True)


def _in_progress(error: Mapping[str, Any]) -> bool:
    # The code is documented; the message is what Shopify answers ("A bulk query operation
    # for this app and shop is already in progress: …"), seen in third-party clients.
    message = str(error.get("message") or "").lower()
    return error.get("code") == c.BULK_IN_PROGRESS or "already in progress" in message


def _wait_for_other(
    conn: BulkHost, other: BulkOperation, deadline: float, *, once: bool = False
) -> None:
    """Wait until ``other`` (another bulk query of this app) is over, or raise at ``deadline``.

    With ``once``, wait one short delay only (``other`` is not polled).
    """
    options = _options(conn)
    delay = options.poll_min
    logger.info("%s: waiting for bulk operation %s (%s) of this app to end",
                conn.shop, other.id, other.status)  # fmt: skip
    found: BulkOperation | None = other
    while found is not None and found.running:
        left = deadline - conn.clock.monotonic()
        if left <= 0:
            raise RateLimitError(
                f"another bulk query of this app ({found.id}, {found.status}) has run for "
                f"longer than {options.wait_for_other:.0f} s; Shopify runs one at a time per "
                "shop. Run again later",
                platform=PLATFORM_NAME,
                code=c.BULK_IN_PROGRESS,
                retry_after=options.poll_max,
            )
        wait = min(delay, left)
        conn.clock.sleep(wait)
        conn.bulk_stats.waited += wait
        if once:
            return
        delay = min(delay * c.BULK_POLL_GROWTH, options.poll_max)
        found = status(conn, found.id)


def _wait(conn: BulkHost, op: BulkOperation, expected: int | None) -> BulkOperation:
    """Poll ``op`` until it is over; waits grow, and stop at the time its progress predicts."""
    options = _options(conn)
    delay = options.poll_min
    mark: tuple[float, int] | None = None  # (time, roots) when first seen running
    while op.running:
        now = conn.clock.monotonic()
        wait = delay
        if mark is None and op.status == "RUNNING":
            mark = (now, op.root_object_count)
        elif mark is not None and expected:
            done, elapsed = op.root_object_count - mark[1], now - mark[0]
            if done > 0 and elapsed > 0:
                left = max(0, expected - op.root_object_count) * elapsed / done
                wait = max(options.poll_min, min(delay, left))
        conn.clock.sleep(wait)
        conn.bulk_stats.waited += wait
        delay = min(delay * c.BULK_POLL_GROWTH, options.poll_max)
        found = status(conn, op.id)
        if found is None:
            raise _malformed(f"operation {op.id} is no longer known to Shopify")
        op = found
        logger.debug("%s: bulk operation %s %s, %d roots, %d objects", conn.shop, op.id,
                     op.status, op.root_object_count, op.object_count)  # fmt: skip
    return op


def _records(
    conn: BulkHost, op: BulkOperation, child: str | None, key: str
) -> Iterator[dict[str, Any]]:
    if op.url is None:  # "Returns null when there's no data": nothing matched
        return
    try:
        # objectCount counts every row of the file: a file that ends short is resumed.
        for node in assemble(_lines(conn, op.url, op.object_count or None), child):
            conn.bulk_stats.records += 1
            yield node
    except MalformedResponseError:
        _options(conn).journal.discard(key)  # the next run asks for a new file
        raise


def _salvage(
    conn: BulkHost, url: str, child: str | None, resume_after: int | None
) -> Generator[dict[str, Any], None, int | None]:
    """Yield the complete records of a failed operation's partial data.

    Returns (as the generator's value) the id after which a retry may resume: the last
    one yielded while ids kept rising, else ``None`` (the retry reads everything again).
    """
    last = resume_after
    try:
        for node in assemble(_lines(conn, url), child, partial=True):
            ident = _numeric(node.get("id"))
            if ident is None or (last is not None and ident <= last):
                logger.warning(
                    "%s: partial data out of id order at %s: the retry reads everything again",
                    conn.shop, node.get("id"),
                )  # fmt: skip
                return None
            last = ident
            conn.bulk_stats.salvaged += 1
            conn.bulk_stats.records += 1
            yield node
    except _ResultGoneError:
        logger.warning("%s: partial data no longer served; the retry reads it again", conn.shop)
    return last


def _numeric(gid: Any) -> int | None:
    text = str(gid or "").rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else None


def _safe_url(url: str) -> str:
    """The result URL without its query (the signature): for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?…"


def _lines(conn: BulkHost, url: str, rows: int | None = None) -> Iterator[bytes]:
    """The lines of the result file, streamed; resumes after a dropped connection.

    Sent without the access token (the URL is signed, on another host), redirects
    followed. A resumption asks for the bytes after the last whole line (``Range``), or
    skips them when the server sends the file from the start. With ``rows`` (the
    operation's ``objectCount``), a file that ends before that many lines is resumed
    too, and a last line without its newline is taken only if it is the last row.

    Raises:
        _ResultGoneError: 400/401/403/404/410: the signed URL expired (or never was).
        TransportError, ServerError: the download failed past the retry budget.
    """
    client, retry, stats = conn.engine.client, conn.engine.retry, conn.engine.stats
    safe = _safe_url(url)
    offset = 0  # bytes of whole lines handed out
    count = 0  # lines handed out
    ranges = True
    attempt = 0
    waited = 0.0
    stats.add(calls=1)
    while True:
        attempt += 1
        headers = {"Accept": "application/jsonl, application/x-ndjson, */*"}
        if offset and ranges:
            headers["Range"] = f"bytes={offset}-"
        request = client.build_request("GET", url, headers=headers)
        for name in ("X-Shopify-Access-Token", "Authorization"):  # a caller's client default
            request.headers.pop(name, None)
        stats.add(attempts=1)
        conn.bulk_stats.downloads += 1
        failure: RetriableError
        server_wait: float | None = None
        progressed = False
        try:
            response = client.send(request, stream=True, follow_redirects=True)
        except httpx.TransportError as exc:
            stats.add(transport_errors=1)
            failure = TransportError(f"{type(exc).__name__}", platform=PLATFORM_NAME,
                                     method="GET", url=safe)  # fmt: skip
        else:
            try:
                stats.record_response(response.status_code)
                code = response.status_code
                if code in (400, 401, 403, 404, 410):
                    raise _ResultGoneError(code)
                if code not in (200, 206):
                    error = _download_error(response, safe)
                    if not isinstance(error, RetriableError):
                        raise error
                    failure = error
                    server_wait = retry.server_wait(
                        response.headers, status_code=code, now=conn.clock.now()
                    )
                else:
                    if response.headers.get("Content-Encoding", "identity") != "identity":
                        ranges = False  # ranges would count compressed bytes
                    skip = offset if code == 200 else 0
                    pending = bytearray()
                    try:
                        for chunk in response.iter_bytes():
                            conn.bulk_stats.bytes += len(chunk)
                            if skip:
                                cut = min(skip, len(chunk))
                                chunk, skip = chunk[cut:], skip - cut
                            pending += chunk
                            start = 0
                            while (end := pending.find(b"\n", start)) >= 0:
                                line = bytes(pending[start:end])
                                start = end + 1
                                offset += len(line) + 1
                                count += 1
                                progressed = True
                                conn.bulk_stats.rows += 1
                                yield line
                            del pending[:start]
                    except httpx.TransportError as exc:
                        stats.add(transport_errors=1)
                        failure = TransportError(f"{type(exc).__name__} while reading",
                                                 platform=PLATFORM_NAME, method="GET",
                                                 url=safe)  # fmt: skip
                    else:
                        last = 1 if pending else 0
                        if rows is None or count + last >= rows:
                            if pending:
                                conn.bulk_stats.rows += 1
                                yield bytes(pending)
                            return
                        # Ended early without an error (a proxy, a truncated body).
                        failure = TransportError(
                            f"the file ended after {count} of {rows} rows",
                            platform=PLATFORM_NAME, method="GET", url=safe,
                        )  # fmt: skip
            finally:
                response.close()
        if progressed:
            attempt, waited = 1, 0.0
        wait = retry.decide(attempt=attempt, waited=waited, server_wait=server_wait,
                            rate_limited=isinstance(failure, RateLimitError))  # fmt: skip
        if wait is None:
            stats.add(give_ups=1)
            raise failure
        stats.add(retries=1, backoff_wait=wait)
        logger.info("%s: result download %s failed (%s); resuming at byte %d in %.1fs",
                    conn.shop, safe, failure, offset, wait)  # fmt: skip
        conn.clock.sleep(wait)
        waited += wait


def _download_error(response: httpx.Response, safe: str) -> APIError:
    code = response.status_code
    cls = RateLimitError if code == 429 else ServerError if code >= 500 else ClientRequestError
    return cls(
        f"result download answered {code}",
        platform=PLATFORM_NAME,
        status_code=code,
        method="GET",
        url=safe,
    )
