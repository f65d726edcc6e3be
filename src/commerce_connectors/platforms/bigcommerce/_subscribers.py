"""Newsletter consent for the customers stream: which subscriber goes with which customer.

BigCommerce keeps marketing consent apart from the customer, in the Subscribers API
(``GET /v3/customers/subscribers``), one subscriber per e-mail address. Its documented
filters are ``email`` (one address), ``id``/``id:in``, ``first_name``, ``last_name``,
``source``, ``order_id`` and ``date_created``/``date_modified`` with ``:min``/``:max``;
there is no ``email:in``. So one pass of the customers stream can either

* read the whole list once (``limit`` per page), or
* ask for each customer's address (one request per customer),

and :class:`ConsentLookup` picks the cheaper. The first page of the whole list is read
first: it says how many pages the list has (``meta.pagination.total_pages``), and its
records are used whatever is chosen. A historical pass (every customer) nearly always
reads the whole list; an incremental pass over a few changed customers of a large store
asks for their addresses, plus the subscribers modified since the last sync
(``date_modified:min``), which also reveals consent changes of customers that did not
change themselves.

Everything here is pure bookkeeping over two callables the connector supplies, so it
can be exercised without HTTP.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, Literal

from ..._parsing import parse_datetime

__all__ = ["ConsentLookup", "Page", "subscriber_key"]

#: One page of a v3 listing: its records and its ``meta.pagination`` object.
Page = tuple[list[Any], Mapping[str, Any]]

#: Subscriber fields the customer parser reads, in the order of an index row; the
#: names are left out, and rows are tuples, to keep a whole-store index small.
_KEPT = (
    "id",
    "email",
    "consents",
    "source",
    "order_id",
    "channel_id",
    "date_created",
    "date_modified",
)


def subscriber_key(email: Any) -> str | None:
    """The matching key of an e-mail address: trimmed and lower-cased (``None`` if blank).

    Example:
        >>> subscriber_key("  Ann@Shop.IO "), subscriber_key(""), subscriber_key(None)
        ('ann@shop.io', None, None)
    """
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip().lower()


#: One subscriber in the index: the values of ``_KEPT``, ``_ABSENT`` where a key is missing.
_Row = tuple[Any, ...]
_ABSENT = object()
_EMAIL, _MODIFIED = _KEPT.index("email"), _KEPT.index("date_modified")
#: Values worth sharing across the index: sources and consent names.
_SHARED = frozenset({"source", "consents"})


def _row(record: Mapping[str, Any]) -> _Row:
    values: list[Any] = []
    for name in _KEPT:
        value = record.get(name, _ABSENT)
        values.append(_shared(value) if name in _SHARED else value)
    return tuple(values)


def _shared(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(sys.intern(v) for v in value)
    return value


def _record(row: _Row) -> dict[str, Any]:
    """The subscriber as the parser reads it (a list of consents stays a list)."""
    out = {name: value for name, value in zip(_KEPT, row, strict=True) if value is not _ABSENT}
    if isinstance(out.get("consents"), tuple):
        out["consents"] = list(out["consents"])
    return out


def _when(row: _Row) -> _dt.datetime | None:
    try:
        return parse_datetime(row[_MODIFIED])
    except ValueError:
        return None


def _newer(candidate: _Row, current: _Row | None) -> bool:
    if current is None:
        return True
    new, old = _when(candidate), _when(current)
    return new is not None and (old is None or new > old)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ConsentLookup:
    """The subscribers of one pass of the customers stream, found as cheaply as possible.

    Args:
        listing: pages of ``GET /v3/customers/subscribers`` for the given query
            parameters (every page, lazily).
        by_email: the subscriber records ``GET /v3/customers/subscribers?email=...``
            returns for one address.
        page_size: ``limit`` of the listing requests.
        since: the pass's ``since`` (``None``: historical pass).
        since_param: the ``date_modified:min`` value to send for ``since``.

    Attributes:
        mode: ``"full"`` (the whole list was read) or ``"per_email"``; ``None`` until
            :meth:`prepare`.

    Example:
        >>> pages = {1: [{"id": 1, "email": "a@x.io", "consents": ["marketing_newsletter"]}]}
        >>> def listing(params):
        ...     yield pages[1], {"total": 1, "total_pages": 1}
        >>> lookup = ConsentLookup(listing=listing, by_email=lambda e: [], page_size=250)
        >>> lookup.prepare(total_customers=3)
        >>> lookup.mode, lookup.for_emails(["A@x.io", "b@x.io"])
        ('full', {'a@x.io': {'id': 1, 'email': 'a@x.io', 'consents': ['marketing_newsletter']}})
    """

    def __init__(
        self,
        *,
        listing: Callable[[Mapping[str, Any]], Generator[Page, None, None]],
        by_email: Callable[[str], list[Any]],
        page_size: int,
        since: _dt.datetime | None = None,
        since_param: str | None = None,
    ) -> None:
        self._listing = listing
        self._by_email = by_email
        self._page_size = page_size
        self._since = since
        self._since_param = since_param
        self._known: dict[str, _Row] = {}
        self._absent: set[str] = set()
        self._changed: dict[str, _Row] = {}
        self.mode: Literal["full", "per_email"] | None = None

    # -- setup -----------------------------------------------------------------------

    def prepare(self, total_customers: int | None) -> None:
        """Choose how to find subscribers, knowing how many customers this pass holds.

        Called with the customers listing's ``meta.pagination.total`` (``None`` when the
        listing does not say: treated as large). Only the first call acts.
        """
        if self.mode is not None:
            return
        if total_customers is not None and total_customers <= 1:
            # Reading even one page of the whole list costs as much as looking one up.
            self.mode = "per_email"
        else:
            pages = self._listing({"limit": self._page_size})
            try:
                first = next(pages, None)
                if first is not None:
                    self._remember_all(first[0])
                left = _pages_left(first[1]) if first is not None else 0
                if left is None or total_customers is None or left <= total_customers:
                    self.mode = "full"
                    for records, _ in pages:
                        self._remember_all(records)
                else:
                    self.mode = "per_email"
            finally:
                pages.close()
        if self.mode == "per_email" and self._since is not None:
            params: dict[str, Any] = {"limit": self._page_size}
            if self._since_param is not None:
                params["date_modified:min"] = self._since_param
            for records, _ in self._listing(params):
                for key, row in self._remember_all(records):
                    if _newer(row, self._changed.get(key)):
                        self._changed[key] = row

    def _remember_all(self, records: Iterable[Any]) -> list[tuple[str, _Row]]:
        kept: list[tuple[str, _Row]] = []
        for record in records:
            if not isinstance(record, Mapping):
                continue  # nothing to match it on; the customer keeps its unknown consent
            key = subscriber_key(record.get("email"))
            if key is None:
                continue
            row = _row(record)
            if row[_EMAIL] == key:
                row = (*row[:_EMAIL], key, *row[_EMAIL + 1 :])  # one string, not two
            if _newer(row, self._known.get(key)):
                self._known[key] = row
            kept.append((key, row))
        return kept

    # -- queries ---------------------------------------------------------------------

    def for_emails(self, emails: Iterable[Any]) -> dict[str, dict[str, Any]]:
        """The subscriber of each address that has one, by :func:`subscriber_key`.

        In ``per_email`` mode an address not met yet costs one request (never twice).

        Raises:
            RuntimeError: called before :meth:`prepare`.
        """
        if self.mode is None:
            raise RuntimeError("prepare() must be called first")
        found: dict[str, dict[str, Any]] = {}
        for email in emails:
            key = subscriber_key(email)
            if key is None or key in found:
                continue
            if key not in self._known and key not in self._absent and self.mode == "per_email":
                assert isinstance(email, str)
                matches = [
                    r
                    for r in self._by_email(email.strip())
                    if isinstance(r, Mapping) and subscriber_key(r.get("email")) == key
                ]
                self._remember_all(matches)
                if key not in self._known:
                    self._absent.add(key)
            if key in self._known:
                found[key] = _record(self._known[key])
        return found

    def get(self, email: Any) -> dict[str, Any] | None:
        """The subscriber already known for an address (no request)."""
        key = subscriber_key(email)
        row = None if key is None else self._known.get(key)
        return None if row is None else _record(row)

    def changed_since(self, since: _dt.datetime) -> list[dict[str, Any]]:
        """Subscribers modified at or after ``since`` (exactly; unreadable dates included).

        In ``full`` mode they come from the whole list; in ``per_email`` mode from the
        ``date_modified:min`` listing made by :meth:`prepare`.
        """
        pool = self._known if self.mode == "full" else self._changed
        changed = []
        for row in pool.values():
            when = _when(row)
            if when is None or when >= since:
                changed.append(_record(row))
        return changed


def _pages_left(pagination: Mapping[str, Any]) -> int | None:
    """Pages after the first, from ``meta.pagination`` (``None`` when it does not say)."""
    pages = _int(pagination.get("total_pages"))
    if pages is None:
        total, per_page = _int(pagination.get("total")), _int(pagination.get("per_page"))
        if total is None or not per_page:
            return None
        pages = -(-total // per_page)
    return max(pages - 1, 0)
