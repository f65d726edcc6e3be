"""An ActiveCampaign API v3 simulator: Deep Data (e-commerce) plus the CRM objects it touches.

:class:`ActiveCampaignSimulator` answers like ActiveCampaign's documented v3 API,
under ``/api/3`` of an account's API URL:

* e-commerce: ``/connections``, ``/ecomCustomers``, ``/ecomOrders`` (orders *and*
  abandoned carts) with ``/ecomOrders/{id}/orderProducts``; list, create, read,
  update (``PUT``) and delete;
* CRM: ``POST /contact/sync`` (upsert by email), ``/contacts`` (``email`` filter),
  ``/contacts/{id}/contactLists|contactTags|accountContacts``, ``/tags`` (``search``
  is "contains"), ``POST /contactTags``, ``/lists``, ``POST /contactLists``,
  ``/accounts`` (``search``), ``/accountContacts``;
* bodies wrapped in the singular resource key (``{"ecomOrder": {...}}``); lists in the
  plural key with ``meta.total`` as a string; ``limit`` (default 20, at most 100) and
  ``offset``; ``filters[<field>]`` on the documented fields only (others answer 400,
  so a client's typo cannot go unnoticed);
* validation as documented: required fields, integer amounts in minor units
  ``>= 0`` (32-bit), ``source`` 0 or 1, ``externalid`` or ``externalcheckoutid``,
  ``abandonedDate`` required with ``externalcheckoutid`` and in the past (the
  abandoned-cart guide), the ecomCustomer and connection must exist; errors as
  ``{"errors": [{"title", "detail", "code", "source": {"pointer":
  "/data/attributes/<field>"}}]}`` (422), not-found as
  ``{"message": "No Result found for ..."}`` (404);
* duplicates refused with 422 (``code: duplicate``): a connection's ``service`` +
  ``externalid``, an ecomCustomer's ``externalid`` or ``email`` within a connection,
  an order's ``externalid`` or a cart's ``externalcheckoutid`` within a connection,
  a contact's email on ``POST /contacts``, an account contact;
* order ``state``: 1 (completed) for an order, 2 (abandoned) for a cart, 3
  (recovered) once a cart is updated with an ``externalid``, as the abandoned-cart
  guide describes; an update takes the create's body ("the same body"), ``source``,
  ``externalCreatedDate`` and ``customerid`` included; one that carries
  ``orderProducts`` replaces the lines;
* ``Api-Token`` authentication (401 otherwise) and the account's 5 requests per
  second: a sliding one-second window answered with ``RateLimit-Limit`` /
  ``RateLimit-Remaining`` and, on refusal, ``Retry-After`` in whole seconds; the
  refusal is a 429, or a 503 with ``rate_limit_status=503`` (older reports of the
  API answering 503 at the limit);
* dates returned in the account's time zone (``-05:00`` as in every documented
  example), whole seconds; numbers in responses as ActiveCampaign writes them (ids
  as strings, amounts as integers).

What is stored is exposed for tests (:meth:`ActiveCampaignSimulator.records`,
:meth:`~ActiveCampaignSimulator.orders`, :meth:`~ActiveCampaignSimulator.contact`,
:meth:`~ActiveCampaignSimulator.snapshot`), so a test can compare it with the shop it
came from. Behaviour the documentation does not settle is marked "assumed (A<n>)"
below; ``docs/activecampaign.md`` lists every such assumption.

Example:
    >>> import httpx
    >>> from commerce_connectors.clock import FakeClock
    >>> sim = ActiveCampaignSimulator(clock=FakeClock())
    >>> client = httpx.Client(transport=sim.transport(), base_url=sim.api_url,
    ...                       headers={"Api-Token": sim.token})
    >>> r = client.post("/api/3/connections", json={"connection": {
    ...     "service": "example", "externalid": "store-1", "name": "Store",
    ...     "logoUrl": "", "linkUrl": ""}})
    >>> r.status_code, r.json()["connection"]["id"]
    (200, '1')
    >>> again = client.post("/api/3/connections", json={"connection": {
    ...     "service": "example", "externalid": "store-1", "name": "Store",
    ...     "logoUrl": "", "linkUrl": ""}})
    >>> again.status_code, again.json()["errors"][0]["code"]
    (422, 'duplicate')
    >>> client.get("/api/3/connections", params={"filters[externalid]": "store-1"}).json()["meta"]
    {'total': '1'}
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import httpx

from ...clock import Clock, FakeClock
from ..simulator import Admission, Fault, RateLimiter, Simulator, json_response, request_json, route

__all__ = [
    "API_PREFIX",
    "DEFAULT_LISTS",
    "ActiveCampaignRateLimit",
    "ActiveCampaignSimulator",
]

#: Where the v3 API lives under an account's API URL.
API_PREFIX: Final = "/api/3"
#: Lists a new account has (accounts created since 2024-01-08 have a master contact list).
DEFAULT_LISTS: Final = ("Master Contact List",)

_DEFAULT_LIMIT: Final = 20
_MAX_LIMIT: Final = 100
_INT32_MAX: Final = 2**31 - 1
_ACCOUNT_TZ: Final = _dt.timezone(_dt.timedelta(hours=-5))
# Assumed (A20): an email is checked with this loose pattern (none is documented); an
# invalid one is a 422 naming the field.
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The filters[...] each list endpoint documents (AC v3 OpenAPI).
_FILTERS: Final[Mapping[str, frozenset[str]]] = {
    "connections": frozenset({"service", "externalid"}),
    "ecomCustomers": frozenset({"email", "externalid", "connectionid"}),
    "ecomOrders": frozenset(
        {
            "connectionid",
            "externalid",
            "externalcheckoutid",
            "email",
            "state",
            "customerid",
            "external_created_date",
        }
    ),
    "accountContacts": frozenset({"contact", "account"}),
    "lists": frozenset({"name"}),
    "tags": frozenset({"search"}),
    "contacts": frozenset({"created_before", "created_after", "updated_before", "updated_after"}),
}
_RESOURCES: Final = (
    "connections",
    "ecomCustomers",
    "ecomOrders",
    "ecomOrderProducts",
    "ecomOrderDiscounts",
    "contacts",
    "tags",
    "contactTags",
    "lists",
    "contactLists",
    "accounts",
    "accountContacts",
)

#: A test hook's predicate: the request body's resource object -> refuse it?
Predicate = Callable[[Mapping[str, Any]], bool]


class ActiveCampaignRateLimit:
    """ActiveCampaign's per-account limit: ``limit`` requests in any ``window`` seconds.

    The documentation says "5 requests per second" without naming an algorithm;
    assumed (A1): a sliding window, the strictest reading (no burst above the limit
    in any second), so a client that passes it passes the others. Every answer
    carries ``RateLimit-Limit`` and ``RateLimit-Remaining``; a refusal adds
    ``Retry-After`` in whole seconds (at least 1).

    Example:
        >>> limit = ActiveCampaignRateLimit(limit=2)
        >>> [limit.admit(0.0).allowed for _ in range(3)]
        [True, True, False]
        >>> limit.admit(0.5).headers["Retry-After"], limit.admit(1.0).allowed
        ('1', True)
    """

    # Arrival times are sums of floating-point sleeps: 0.2 s five times is not
    # exactly 1.0. A request this close to the window's edge counts as outside.
    _EPSILON: Final = 1e-6

    def __init__(self, limit: int = 5, window: float = 1.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = int(limit)
        self.window = float(window)
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def _drop(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.window - self._EPSILON:
            self._times.popleft()

    def admit(self, now: float, cost: float = 1.0) -> Admission:
        """Count one request arriving at ``now``, or refuse it with 429 headers."""
        with self._lock:
            self._drop(now)
            allowed = len(self._times) < self.limit
            if allowed:
                self._times.append(now)
            headers = {
                "RateLimit-Limit": str(self.limit),
                "RateLimit-Remaining": str(max(0, self.limit - len(self._times))),
            }
            retry_after = 0.0
            if not allowed:
                retry_after = max(0.0, self._times[0] + self.window - now)
                headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
            return Admission(allowed, headers, retry_after)

    def reset(self) -> None:
        """Forget every request."""
        with self._lock:
            self._times.clear()

    def __repr__(self) -> str:
        return f"ActiveCampaignRateLimit(limit={self.limit}, window={self.window:g})"


class _RefusedError(Exception):
    """A request the simulator refuses; carries the status and the body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(
    resource: str, field: str, title: str, code: str = "field_invalid", detail: str = ""
) -> dict[str, Any]:
    return {
        "title": title,
        "detail": detail,
        "code": code,
        "source": {"pointer": f"/data/attributes/{field}"},
    }


def _missing(resource: str, field: str) -> dict[str, Any]:
    # The documented wording: "The connection service was not provided."
    return _error(resource, field, f"The {resource} {field} was not provided.", "field_missing")


def _duplicate(resource: str, field: str) -> _RefusedError:
    # Assumed (A7): the body of a duplicate (422 or 400 is reported; no body is documented).
    title = f"The {resource} {field} already exists."
    return _RefusedError(422, {"errors": [_error(resource, field, title, "duplicate")]})


def _not_found(what: str, id_text: str) -> _RefusedError:
    # The documented 404 of a read ("No Result found for EcomOrderProduct with id {id}").
    # Assumed (A15): a write naming a contact, list or account that does not exist
    # (contactLists, accountContacts) gets the same 404.
    return _RefusedError(404, {"message": f"No Result found for {what} with id {id_text}"})


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _as_int(value: Any) -> int | None:
    """An integer given as a JSON number or a string of digits (both are accepted)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    return None


def _parse_date(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_ACCOUNT_TZ)  # assumed (A3): the account's zone
    return parsed


class ActiveCampaignSimulator(Simulator):
    """An in-process ActiveCampaign account (see the module docstring).

    Args:
        account: the account name in the API URL (``https://<account>.api-us1.com``).
        token: the API key accepted in the ``Api-Token`` header.
        clock: shared with the client in tests, so pacing costs no real time.
        rate_limit: default: 5 requests in any second (:class:`ActiveCampaignRateLimit`).
        faults: faults to inject (429 bursts, 5xx, resets …).
        seed: seeds the faults' dice.
        lists: names of the lists the account has (ids from 1, in order).
        duplicate_status: the status of a duplicate create (422; some integrations
            report seeing 400).
        account_timezone: the offset dates are returned in.
        rate_limit_status: the status of a request refused by the rate limit (or an
            injected ``RateLimitBurst``): 429 as documented, or 503 as the API once
            answered (older user reports), with the same headers.

    Attributes:
        api_url: the API URL to give a client, as a user copies it from the account's
            settings (no ``/api/3``).
        resubscriptions: how many times a contact who had unsubscribed from a list was
            subscribed again (ActiveCampaign allows it; an integration never should).
    """

    def __init__(
        self,
        *,
        account: str = "simulated",
        token: str = "ac-simulator-api-key-5f2b9c0d",  # noqa: S107 - a simulator's fixture
        clock: Clock | None = None,
        rate_limit: RateLimiter | None = None,
        faults: Iterable[Fault] = (),
        seed: int = 0,
        lists: Iterable[str] = DEFAULT_LISTS,
        duplicate_status: int = 422,
        account_timezone: _dt.timezone = _ACCOUNT_TZ,
        rate_limit_status: int = 429,
    ) -> None:
        if rate_limit_status not in (429, 503):
            raise ValueError(f"rate_limit_status is 429 or 503, got {rate_limit_status}")
        super().__init__(
            clock=clock if clock is not None else FakeClock(),
            rate_limit=rate_limit if rate_limit is not None else ActiveCampaignRateLimit(),
            faults=faults,
            seed=seed,
        )
        self.account = account
        self.token = token
        self.api_url = f"https://{account}.api-us1.com"
        self.duplicate_status = duplicate_status
        self.account_timezone = account_timezone
        self.rate_limit_status = rate_limit_status
        self.resubscriptions = 0
        self._tables: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in _RESOURCES}
        self._next: dict[str, int] = dict.fromkeys(_RESOURCES, 1)
        self._refusals: list[tuple[str, Predicate, str, str]] = []
        for name in lists:
            self.add_list(name)

    # ---------------------------------------------------------------- test helpers

    def add_list(self, name: str) -> str:
        """Create a list in the account; returns its id."""
        with self._lock:
            row = self._insert(
                "lists",
                {"name": name, "stringid": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")},
            )
            return str(row["id"])

    def add_contact(self, email: str, **fields: Any) -> str:
        """Create a contact as if someone had added it by hand; returns its id."""
        with self._lock:
            row = self._insert("contacts", self._new_contact(email, fields))
            return str(row["id"])

    def set_list_status(self, email: str, list_name: str, status: int) -> None:
        """Set a contact's status on a list (1 subscribed, 2 unsubscribed), as the contact would."""
        with self._lock:
            contact = self._contact_row(email)
            lst = self._list_row(list_name)
            if contact is None or lst is None:
                raise KeyError(f"no contact {email!r} or no list {list_name!r}")
            self._set_membership(contact["id"], lst["id"], str(status))

    def refuse(self, resource: str, predicate: Predicate, *, field: str, title: str) -> None:
        """Refuse creates and updates of ``resource`` whose body matches ``predicate`` (422).

        Models a validation rule of the real API that the simulator does not know, so a
        test can show what one refused record does to a run.

        Example:
            >>> sim = ActiveCampaignSimulator()
            >>> sim.refuse("ecomOrder", lambda o: o.get("externalid") == "13",
            ...            field="totalPrice", title="Total price looks wrong")
        """
        with self._lock:
            self._refusals.append((resource, predicate, field, title))

    def records(self, resource: str) -> list[dict[str, Any]]:
        """Every stored object of a resource (``ecomOrders``, ``contacts`` …), by id."""
        with self._lock:
            table = self._tables[resource]
            return [copy.deepcopy(table[k]) for k in sorted(table)]

    def count(self, resource: str) -> int:
        """How many objects of a resource are stored."""
        with self._lock:
            return len(self._tables[resource])

    @property
    def rate_limited(self) -> int:
        """How many requests the rate limit (or an injected burst) refused, 429 or 503."""
        return len(self.log.filter(fault="rate_limited")) + len(
            self.log.filter(fault="rate_limit_burst")
        )

    def connection(self, externalid: str, service: str | None = None) -> dict[str, Any] | None:
        """The stored connection with this ``externalid`` (and ``service``)."""
        with self._lock:
            for row in self._tables["connections"].values():
                if row["externalid"] == externalid and service in (None, row["service"]):
                    return copy.deepcopy(row)
            return None

    def orders(self, connection_externalid: str | None = None) -> list[dict[str, Any]]:
        """Stored e-commerce orders and carts, each with its ``lines`` and ``discounts``."""
        with self._lock:
            conn_ids = None
            if connection_externalid is not None:
                conn_ids = {
                    r["id"]
                    for r in self._tables["connections"].values()
                    if r["externalid"] == connection_externalid
                }
            out = []
            for key in sorted(self._tables["ecomOrders"]):
                row = self._tables["ecomOrders"][key]
                if conn_ids is not None and row["connectionid"] not in conn_ids:
                    continue
                view = copy.deepcopy(row)
                view["lines"] = [self._product_view(i) for i in row["_products"]]
                view["discounts"] = [
                    copy.deepcopy(self._tables["ecomOrderDiscounts"][i]) for i in row["_discounts"]
                ]
                out.append(view)
            return out

    def contact(self, email: str) -> dict[str, Any] | None:
        """A stored contact with its ``tags`` (names), ``lists`` (name → status) and ``account``."""
        with self._lock:
            row = self._contact_row(email)
            if row is None:
                return None
            view = copy.deepcopy(row)
            view["tags"] = sorted(self._tag_names(row["id"]))
            view["lists"] = {
                self._tables["lists"][int(m["list"])]["name"]: int(m["status"])
                for m in self._tables["contactLists"].values()
                if m["contact"] == row["id"]
            }
            accounts = [
                self._tables["accounts"][int(a["account"])]["name"]
                for a in self._tables["accountContacts"].values()
                if a["contact"] == row["id"]
            ]
            view["account"] = accounts[0] if accounts else None
            return view

    def snapshot(self) -> dict[str, Any]:
        """Everything stored as plain data, without ids and bookkeeping dates.

        Two accounts that received the same data hold equal snapshots, whatever ids
        they gave out; this is what "syncing twice stores the same" is checked on.
        """
        with self._lock:
            conns = {r["id"]: r["externalid"] for r in self._tables["connections"].values()}
            customers = self._tables["ecomCustomers"]
            out: dict[str, Any] = {
                "connections": sorted(
                    (r["service"], r["externalid"], r["name"])
                    for r in self._tables["connections"].values()
                ),
                "ecomCustomers": sorted(
                    (conns[r["connectionid"]], r["email"], r["externalid"], r["acceptsMarketing"])
                    for r in customers.values()
                ),
                "ecomOrders": sorted(
                    (
                        conns[r["connectionid"]],
                        r.get("externalid") or "",
                        r.get("externalcheckoutid") or "",
                        r["email"],
                        r["totalPrice"],
                        r["currency"],
                        r["source"],
                        r["state"],
                        len(r["_products"]),
                    )
                    for r in self._tables["ecomOrders"].values()
                ),
                "contacts": sorted(
                    (r["email"], r["firstName"], r["lastName"], r["phone"])
                    for r in self._tables["contacts"].values()
                ),
                "tags": sorted(r["tag"] for r in self._tables["tags"].values()),
                "contactTags": sorted(
                    (self._tables["contacts"][int(r["contact"])]["email"], self._tag_name(r["tag"]))
                    for r in self._tables["contactTags"].values()
                ),
                "contactLists": sorted(
                    (
                        self._tables["contacts"][int(r["contact"])]["email"],
                        self._tables["lists"][int(r["list"])]["name"],
                        r["status"],
                    )
                    for r in self._tables["contactLists"].values()
                ),
                "accounts": sorted(r["name"] for r in self._tables["accounts"].values()),
            }
            return out

    # ---------------------------------------------------------------- simulator hooks

    def error_body(self, status: int, message: str) -> Any:
        """ActiveCampaign's two error shapes: ``errors[]`` for 422, ``message`` otherwise."""
        if status == 422:
            return {"errors": [{"title": message, "detail": "", "code": "invalid"}]}
        return {"message": message}

    def error_response(self, status: int, message: str) -> httpx.Response:
        """The simulator's own errors; a rate-limit refusal with ``rate_limit_status``.

        The kit refuses at the rate limit (and for ``RateLimitBurst``) with 429, the
        documented answer; with ``rate_limit_status=503`` the same refusal, headers
        included, is a 503 (assumed (A2): the reports of a 503 at the limit do not say
        which headers or body came with it).
        """
        if status == 429 and self.rate_limit_status == 503:
            return super().error_response(503, "Service Unavailable")
        return super().error_response(status, message)

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        """Refuse a missing or wrong ``Api-Token`` with 401 (assumed (A4): the body)."""
        if request.headers.get("Api-Token") != self.token:
            return json_response({"message": "An invalid API key was provided"}, 401)
        return None

    # ---------------------------------------------------------------- storage

    def _now(self) -> str:
        return self._date(self.clock.now())

    def _date(self, value: _dt.datetime) -> str:
        # Assumed (A19): dates come back in the account's zone (every documented
        # example has -05:00 or -06:00), whole seconds.
        return value.astimezone(self.account_timezone).replace(microsecond=0).isoformat()

    def _insert(self, resource: str, row: dict[str, Any]) -> dict[str, Any]:
        new_id = self._next[resource]
        self._next[resource] = new_id + 1
        row["id"] = str(new_id)
        self._tables[resource][new_id] = row
        return row

    def _get(self, resource: str, id_text: str, what: str) -> dict[str, Any]:
        key = _as_int(id_text)
        row = self._tables[resource].get(key) if key is not None else None
        if row is None:
            raise _not_found(what, id_text)
        return row

    def _contact_row(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().lower()
        for row in self._tables["contacts"].values():
            if row["email"].lower() == wanted:
                return row
        return None

    def _list_row(self, name: str) -> dict[str, Any] | None:
        for row in self._tables["lists"].values():
            if row["name"] == name:
                return row
        return None

    def _tag_name(self, tag_id: str) -> str:
        return str(self._tables["tags"][int(tag_id)]["tag"])

    def _tag_names(self, contact_id: str) -> set[str]:
        return {
            self._tag_name(r["tag"])
            for r in self._tables["contactTags"].values()
            if r["contact"] == contact_id
        }

    def _product_view(self, product_id: int) -> dict[str, Any]:
        return copy.deepcopy(self._tables["ecomOrderProducts"][product_id])

    def _new_contact(self, email: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        now = self._now()
        return {
            "email": email.strip(),
            "firstName": str(fields.get("firstName") or ""),
            "lastName": str(fields.get("lastName") or ""),
            "phone": str(fields.get("phone") or ""),
            "orgid": "0",
            "deleted": "0",
            "cdate": now,
            "udate": now,
        }

    def _set_membership(self, contact_id: str, list_id: str, status: str) -> dict[str, Any]:
        now = self._now()
        for row in self._tables["contactLists"].values():
            if row["contact"] == contact_id and row["list"] == list_id:
                if row["status"] == "2" and status == "1":
                    self.resubscriptions += 1
                row["status"] = status
                row["udate"] = now
                return row
        return self._insert(
            "contactLists",
            {"contact": contact_id, "list": list_id, "status": status, "sdate": now, "udate": now},
        )

    # ---------------------------------------------------------------- request helpers

    def _body(self, request: httpx.Request, key: str) -> dict[str, Any]:
        body = request_json(request)
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            raise _RefusedError(400, {})
        resource: dict[str, Any] = body[key]
        return resource

    def _check_refusals(self, resource: str, body: Mapping[str, Any]) -> None:
        for name, predicate, field, title in self._refusals:
            if name == resource and predicate(body):
                raise _RefusedError(422, {"errors": [_error(resource, field, title)]})

    def _filters(self, request: httpx.Request, resource: str) -> dict[str, str]:
        allowed = _FILTERS.get(resource, frozenset())
        found: dict[str, str] = {}
        for name, value in request.url.params.multi_items():
            m = re.fullmatch(r"filters\[([^\]]+)\](?:\[([^\]]+)\])?", name)
            if m is None:
                continue
            field = m.group(1) if m.group(2) is None else f"{m.group(1)}[{m.group(2)}]"
            if m.group(1) not in allowed:
                # Assumed (A17): an undocumented filter is refused (400), not ignored, so
                # a client's typo cannot pass unnoticed.
                raise _RefusedError(400, {"message": f"Unknown filter {name!r} for {resource}"})
            found[field] = value
        return found

    def _page(
        self, request: httpx.Request, plural: str, rows: list[dict[str, Any]]
    ) -> httpx.Response:
        q = request.url.params
        limit = _as_int(q.get("limit")) or _DEFAULT_LIMIT
        limit = max(1, min(limit, _MAX_LIMIT))
        offset = max(0, _as_int(q.get("offset")) or 0)
        chosen = rows[offset : offset + limit]
        return json_response({plural: chosen, "meta": {"total": str(len(rows))}})

    def _answer(self, func: Callable[[], httpx.Response]) -> httpx.Response:
        try:
            return func()
        except _RefusedError as problem:
            status = problem.status
            if status == 422 and _is_duplicate(problem.body):
                status = self.duplicate_status
            return json_response(problem.body, status)

    @staticmethod
    def _public(row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in row.items() if not k.startswith("_")}

    # ================================================================ connections

    def _render_connection(self, row: Mapping[str, Any]) -> dict[str, Any]:
        view = self._public(row)
        view["links"] = {"customers": f"{API_PREFIX}/connections/{row['id']}/customers"}
        return view

    @route("GET", "/api/3/connections")
    def list_connections(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            f = self._filters(request, "connections")
            rows = [
                self._render_connection(r)
                for _, r in sorted(self._tables["connections"].items())
                if all(r.get(k) == v for k, v in f.items())
            ]
            return self._page(request, "connections", rows)

        return self._answer(run)

    @route("POST", "/api/3/connections")
    def create_connection(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "connection")
            problems = [
                _missing("connection", f)
                for f in ("service", "externalid", "name")
                if not _given(body.get(f))
            ]
            problems += [
                _missing("connection", f)
                for f in ("logoUrl", "linkUrl")
                # An empty URL is stored as such (the documented list shows "logoUrl": "").
                if not isinstance(body.get(f), str)
            ]
            if problems:
                raise _RefusedError(422, {"errors": problems})
            self._check_refusals("connection", body)
            for row in self._tables["connections"].values():
                if (row["service"], row["externalid"]) == (body["service"], body["externalid"]):
                    raise _duplicate("connection", "externalid")
            now = self._now()
            row = self._insert(
                "connections",
                {
                    "service": str(body["service"]),
                    "externalid": str(body["externalid"]),
                    "name": str(body["name"]),
                    "logoUrl": body["logoUrl"],
                    "linkUrl": body["linkUrl"],
                    "listId": str(body.get("listId") or "0"),
                    "isInternal": "0",
                    "status": "1",
                    "syncStatus": "0",
                    "cdate": now,
                    "udate": now,
                },
            )
            # AC-OAS documents 200 for this create (201 for the other resources).
            return json_response({"connection": self._render_connection(row)}, 200)

        return self._answer(run)

    @route("GET", "/api/3/connections/{id}")
    def get_connection(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("connections", params["id"], "Connection")
            return json_response({"connection": self._render_connection(row)})

        return self._answer(run)

    @route("PUT", "/api/3/connections/{id}")
    def update_connection(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("connections", params["id"], "Connection")
            body = self._body(request, "connection")
            self._check_refusals("connection", body)
            for field in ("service", "externalid", "name", "logoUrl", "linkUrl"):
                if field in body and body[field] is not None:
                    row[field] = str(body[field])
            for field in ("status", "syncStatus"):
                if field in body and body[field] is not None:
                    row[field] = str(body[field])
            row["udate"] = self._now()
            return json_response({"connection": self._render_connection(row)})

        return self._answer(run)

    @route("DELETE", "/api/3/connections/{id}")
    def delete_connection(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("connections", params["id"], "Connection")
            del self._tables["connections"][int(row["id"])]
            return json_response({})

        return self._answer(run)

    # ================================================================ ecomCustomers

    def _render_customer(self, row: Mapping[str, Any]) -> dict[str, Any]:
        view = self._public(row)
        view["connection"] = row["connectionid"]
        view["links"] = {
            "connection": f"{API_PREFIX}/ecomCustomers/{row['id']}/connection",
            "orders": f"{API_PREFIX}/ecomCustomers/{row['id']}/orders",
        }
        return view

    def _customer_fields(self, body: Mapping[str, Any], row: Mapping[str, Any] | None) -> None:
        problems = []
        marketing = body.get("acceptsMarketing")
        if marketing is not None and str(marketing) not in ("0", "1"):
            problems.append(
                _error("customer", "acceptsMarketing", "acceptsMarketing must be 0 or 1")
            )
        email = body.get("email")
        if email is not None and not _EMAIL.match(str(email)):
            problems.append(_error("customer", "email", "The customer email is invalid."))
        if problems:
            raise _RefusedError(422, {"errors": problems})
        conn = str(body.get("connectionid") or (row or {}).get("connectionid"))
        # Assumed (A22): within a connection an ecomCustomer's externalid and its email
        # (compared case-insensitively) are unique, as integrations' lookups imply.
        for other in self._tables["ecomCustomers"].values():
            if other["connectionid"] != conn or (row is not None and other["id"] == row["id"]):
                continue
            if _given(body.get("externalid")) and other["externalid"] == str(body["externalid"]):
                raise _duplicate("customer", "externalid")
            if _given(email) and other["email"].lower() == str(email).lower():
                raise _duplicate("customer", "email")

    @route("GET", "/api/3/ecomCustomers")
    def list_customers(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            f = self._filters(request, "ecomCustomers")
            rows = []
            for _, r in sorted(self._tables["ecomCustomers"].items()):
                if "email" in f and r["email"].lower() != f["email"].lower():
                    continue
                if any(r.get(k) != v for k, v in f.items() if k != "email"):
                    continue
                rows.append(self._render_customer(r))
            return self._page(request, "ecomCustomers", rows)

        return self._answer(run)

    @route("POST", "/api/3/ecomCustomers")
    def create_customer(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "ecomCustomer")
            problems = [
                _missing("customer", f)
                for f in ("connectionid", "externalid", "email")
                if not _given(body.get(f))
            ]
            if problems:
                raise _RefusedError(422, {"errors": problems})
            conn = str(body["connectionid"])
            if _as_int(conn) not in self._tables["connections"]:
                # Assumed (A6): an unknown connection is a 422 naming it (the documentation
                # gives no answer for it; a 404 is documented only for a contactTag's contact).
                raise _RefusedError(
                    422,
                    {
                        "errors": [
                            _error("customer", "connectionid", "The connection was not found.")
                        ]
                    },
                )
            self._customer_fields(body, None)
            self._check_refusals("ecomCustomer", body)
            row = self._insert(
                "ecomCustomers",
                {
                    "connectionid": conn,
                    "externalid": str(body["externalid"]),
                    "email": str(body["email"]),
                    "acceptsMarketing": str(body.get("acceptsMarketing") or "0"),
                    "totalRevenue": "0",
                    "totalOrders": "0",
                    "totalProducts": "0",
                    "tstamp": self._now(),
                },
            )
            return json_response({"ecomCustomer": self._render_customer(row)}, 201)

        return self._answer(run)

    @route("GET", "/api/3/ecomCustomers/{id}")
    def get_customer(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomCustomers", params["id"], "EcomCustomer")
            return json_response({"ecomCustomer": self._render_customer(row)})

        return self._answer(run)

    @route("PUT", "/api/3/ecomCustomers/{id}")
    def update_customer(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomCustomers", params["id"], "EcomCustomer")
            body = self._body(request, "ecomCustomer")
            self._customer_fields(body, row)
            self._check_refusals("ecomCustomer", body)
            for field in ("externalid", "email", "acceptsMarketing"):
                if _given(body.get(field)):
                    row[field] = str(body[field])
            row["tstamp"] = self._now()
            return json_response({"ecomCustomer": self._render_customer(row)})

        return self._answer(run)

    @route("DELETE", "/api/3/ecomCustomers/{id}")
    def delete_customer(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomCustomers", params["id"], "EcomCustomer")
            del self._tables["ecomCustomers"][int(row["id"])]
            return json_response({})

        return self._answer(run)

    # ================================================================ ecomOrders

    def _render_order(self, row: Mapping[str, Any]) -> dict[str, Any]:
        view = self._public(row)
        view["orderProducts"] = [str(i) for i in row["_products"]]
        view["orderDiscounts"] = [str(i) for i in row["_discounts"]]
        view["totalProducts"] = len(row["_products"])
        view["connection"] = row["connectionid"]
        view["customer"] = row["customerid"]
        view["orderDate"] = row.get("externalCreatedDate")
        view["links"] = {
            name: f"{API_PREFIX}/ecomOrders/{row['id']}/{name}"
            for name in ("connection", "customer", "orderProducts", "orderDiscounts")
        }
        return view

    def _amount(self, body: Mapping[str, Any], field: str, problems: list[dict[str, Any]]) -> None:
        if field not in body or body[field] is None:
            return
        value = body[field]
        if isinstance(value, bool) or not isinstance(value, int):
            title = f"The order {field} must be an integer amount in cents."
            problems.append(_error("order", field, title))
        elif not 0 <= value <= _INT32_MAX:
            title = f"The order {field} must be greater than or equal to zero."
            problems.append(_error("order", field, title))

    def _validate_lines(self, body: Mapping[str, Any], problems: list[dict[str, Any]]) -> None:
        lines = body.get("orderProducts")
        if lines is None:
            return
        if not isinstance(lines, list):
            problems.append(_error("order", "orderProducts", "orderProducts must be a list."))
            return
        for n, line in enumerate(lines):
            where = f"orderProducts/{n}"
            if not isinstance(line, dict):
                problems.append(_error("order", where, "An order product must be an object."))
                continue
            for field in ("name", "externalid"):
                if not _given(line.get(field)):
                    problems.append(_missing("order", f"{where}/{field}"))
            price = line.get("price")
            if price is None:
                problems.append(_missing("order", f"{where}/price"))
            elif (
                isinstance(price, bool)
                or not isinstance(price, int)
                or not 0 <= price <= _INT32_MAX
            ):
                title = "The product price must be an integer in cents, >= 0."
                problems.append(_error("order", f"{where}/price", title))
            quantity = line.get("quantity")
            if quantity is None:
                problems.append(_missing("order", f"{where}/quantity"))
            elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                title = "The product quantity must be an integer."
                problems.append(_error("order", f"{where}/quantity", title))
        discounts = body.get("orderDiscounts")
        if discounts is None:
            return
        if not isinstance(discounts, list):
            problems.append(_error("order", "orderDiscounts", "orderDiscounts must be a list."))
            return
        for n, discount in enumerate(discounts):
            where = f"orderDiscounts/{n}"
            if not isinstance(discount, dict) or discount.get("type") not in ("order", "shipping"):
                problems.append(_error("order", f"{where}/type", "type is 'order' or 'shipping'."))
                continue
            amount = _as_int(discount.get("discountAmount"))
            if amount is None or amount < 0:
                title = "The discount amount must be an integer in cents."
                problems.append(_error("order", f"{where}/discountAmount", title))

    def _validate_order(
        self, body: Mapping[str, Any], row: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Validate a create (``row`` None) or update body; return the normalised fields."""
        problems: list[dict[str, Any]] = []
        creating = row is None
        if creating:
            for field in ("email", "currency", "connectionid", "customerid", "externalCreatedDate"):
                if not _given(body.get(field)):
                    problems.append(_missing("order", field))
            if "source" not in body or body["source"] is None:
                problems.append(_missing("order", "source"))
            if "totalPrice" not in body or body["totalPrice"] is None:
                problems.append(_missing("order", "totalPrice"))
            if not _given(body.get("externalid")) and not _given(body.get("externalcheckoutid")):
                problems.append(_missing("order", "externalid"))
        # "abandonedDate: REQUIRED ONLY IF INCLUDING EXTERNALCHECKOUTID"
        has_date = _given(body.get("abandonedDate")) or bool((row or {}).get("abandonedDate"))
        if _given(body.get("externalcheckoutid")) and not has_date:
            problems.append(_missing("order", "abandonedDate"))
        abandoned = _parse_date(body.get("abandonedDate"))
        if abandoned is not None and abandoned > self.clock.now():
            # The abandoned-cart guide: abandonedDate is set in the past. Assumed (A8):
            # a date in the future is refused with a 422 naming it.
            title = "The abandonedDate must be in the past."
            problems.append(_error("order", "abandonedDate", title))
        if (
            "source" in body
            and body["source"] is not None
            and _as_int(body["source"]) not in (0, 1)
        ):
            problems.append(_error("order", "source", "The order source must be 0 or 1."))
        for field in ("totalPrice", "shippingAmount", "taxAmount", "discountAmount"):
            self._amount(body, field, problems)
        currency = body.get("currency")
        if currency is not None and not re.fullmatch(r"[A-Za-z]{3}", str(currency)):
            problems.append(_error("order", "currency", "The currency is a 3-letter ISO code."))
        email = body.get("email")
        if email is not None and not _EMAIL.match(str(email)):
            problems.append(_error("order", "email", "The order email is invalid."))
        for field in ("externalCreatedDate", "externalUpdatedDate", "abandonedDate"):
            if _given(body.get(field)) and _parse_date(body[field]) is None:
                problems.append(_error("order", field, f"The {field} is not a valid date."))
        self._validate_lines(body, problems)
        if problems:
            raise _RefusedError(422, {"errors": problems})
        # Assumed (A9): an update's connectionid is ignored; the record stays in its store.
        conn = str((row or {}).get("connectionid") or body.get("connectionid"))
        # Assumed (A6): an unknown connection or customer is a 422 naming the field.
        if creating and _as_int(conn) not in self._tables["connections"]:
            title = "The connection was not found."
            raise _RefusedError(422, {"errors": [_error("order", "connectionid", title)]})
        if creating or _given(body.get("customerid")):
            customer = self._tables["ecomCustomers"].get(_as_int(body["customerid"]) or 0)
            if customer is None or customer["connectionid"] != conn:
                title = "The customer was not found for this connection."
                raise _RefusedError(422, {"errors": [_error("order", "customerid", title)]})
        for field in ("externalid", "externalcheckoutid"):
            value = body.get(field)
            if not _given(value):
                continue
            for other in self._tables["ecomOrders"].values():
                if row is not None and other["id"] == row["id"]:
                    continue
                if other["connectionid"] == conn and other.get(field) == str(value):
                    raise _duplicate("order", field)
        return dict(body)

    def _store_lines(self, row: dict[str, Any], body: Mapping[str, Any]) -> None:
        now = self._now()
        if "orderProducts" in body and body["orderProducts"] is not None:
            for old in row.get("_products", []):
                self._tables["ecomOrderProducts"].pop(old, None)
            row["_products"] = []
            for line in body["orderProducts"]:
                product = self._insert(
                    "ecomOrderProducts",
                    {
                        **{k: line.get(k) for k in _LINE_FIELDS if k in line},
                        "orderid": row["id"],
                        "connectionid": row["connectionid"],
                        "createdDate": now,
                        "updatedDate": now,
                    },
                )
                row["_products"].append(int(product["id"]))
        if "orderDiscounts" in body and body["orderDiscounts"] is not None:
            for old in row.get("_discounts", []):
                self._tables["ecomOrderDiscounts"].pop(old, None)
            row["_discounts"] = []
            for discount in body["orderDiscounts"]:
                stored = self._insert(
                    "ecomOrderDiscounts",
                    {
                        "name": discount.get("name"),
                        "type": discount["type"],
                        "discountAmount": str(discount["discountAmount"]),
                        "orderid": row["id"],
                        "createdDate": now,
                        "updatedDate": now,
                    },
                )
                row["_discounts"].append(int(stored["id"]))

    def _apply_order(
        self, row: dict[str, Any], body: Mapping[str, Any], fields: Iterable[str]
    ) -> None:
        for field in fields:
            if field not in body or body[field] is None:
                continue
            value = body[field]
            if field in ("externalCreatedDate", "externalUpdatedDate", "abandonedDate"):
                parsed = _parse_date(value)
                assert parsed is not None
                row[field] = self._date(parsed)
            elif field in ("totalPrice", "shippingAmount", "taxAmount", "discountAmount"):
                row[field] = int(value)
            elif field == "currency":
                row[field] = str(value).upper()
            else:
                row[field] = str(value)

    @route("GET", "/api/3/ecomOrders")
    def list_orders(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            f = self._filters(request, "ecomOrders")
            if "connectionid" in f and (_as_int(f["connectionid"]) or 0) <= 0:
                raise _RefusedError(422, {})  # "Must be greater than 0."
            rows = []
            for _, r in sorted(self._tables["ecomOrders"].items()):
                ok = True
                for k, v in f.items():
                    if k == "email":
                        ok = ok and r["email"].lower() == v.lower()
                    elif k == "external_created_date":
                        ok = ok and str(r.get("externalCreatedDate", "")).startswith(v)
                    else:
                        ok = ok and str(r.get(k)) == v
                if ok:
                    rows.append(self._render_order(r))
            return self._page(request, "ecomOrders", rows)

        return self._answer(run)

    @route("POST", "/api/3/ecomOrders")
    def create_order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "ecomOrder")
            self._validate_order(body, None)
            self._check_refusals("ecomOrder", body)
            now = self._now()
            row: dict[str, Any] = {
                "connectionid": str(body["connectionid"]),
                "customerid": str(body["customerid"]),
                "source": str(_as_int(body["source"])),
                # Assumed (A21): an order is created completed (1), never pending (0)
                # or waiting (4); a cart abandoned (2).
                "state": 1 if _given(body.get("externalid")) else 2,
                "createdDate": now,
                "updatedDate": now,
                "tstamp": now,
                "_products": [],
                "_discounts": [],
            }
            self._apply_order(row, body, _ORDER_FIELDS)
            row = self._insert("ecomOrders", row)
            self._store_lines(row, body)
            return json_response(self._order_answer(row), 201)

        return self._answer(run)

    def _order_answer(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ecomOrder": self._render_order(row),
            "ecomOrderProducts": [self._product_view(i) for i in row["_products"]],
            "ecomOrderDiscounts": [
                copy.deepcopy(self._tables["ecomOrderDiscounts"][i]) for i in row["_discounts"]
            ],
        }

    @route("GET", "/api/3/ecomOrders/{id}/orderProducts")
    def order_products(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomOrders", params["id"], "EcomOrder")
            products = [self._product_view(i) for i in row["_products"]]
            return self._page(request, "ecomOrderProducts", products)

        return self._answer(run)

    @route("GET", "/api/3/ecomOrders/{id}")
    def get_order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomOrders", params["id"], "EcomOrder")
            return json_response({"ecomOrder": self._render_order(row)})

        return self._answer(run)

    @route("PUT", "/api/3/ecomOrders/{id}")
    def update_order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomOrders", params["id"], "EcomOrder")
            body = self._body(request, "ecomOrder")
            self._validate_order(body, row)
            self._check_refusals("ecomOrder", body)
            was_cart = not _given(row.get("externalid")) and _given(row.get("externalcheckoutid"))
            # "The same body" as a create (API reference, "Update an order"), as
            # ActiveCampaign's Magento module sends it when a cart becomes its order:
            # source, placement date and customer included. The connection stays (A9).
            self._apply_order(row, body, _ORDER_FIELDS)
            if "source" in body and body["source"] is not None:
                row["source"] = str(_as_int(body["source"]))
            if _given(body.get("customerid")):
                row["customerid"] = str(body["customerid"])
            if was_cart and _given(row.get("externalid")):
                row["state"] = 3  # recovered: "set the externalid" on the abandoned cart
            # Assumed (A18): lines sent with an update replace the stored ones (the
            # documented answer lists only the new rows; the prose does not say).
            self._store_lines(row, body)
            row["updatedDate"] = row["tstamp"] = self._now()
            return json_response(self._order_answer(row))

        return self._answer(run)

    @route("DELETE", "/api/3/ecomOrders/{id}")
    def delete_order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("ecomOrders", params["id"], "EcomOrder")
            for product in row["_products"]:
                self._tables["ecomOrderProducts"].pop(product, None)
            for discount in row["_discounts"]:
                self._tables["ecomOrderDiscounts"].pop(discount, None)
            del self._tables["ecomOrders"][int(row["id"])]
            return json_response({})

        return self._answer(run)

    # ================================================================ contacts

    def _render_contact(self, row: Mapping[str, Any]) -> dict[str, Any]:
        view = self._public(row)
        view["links"] = {
            name: f"{API_PREFIX}/contacts/{row['id']}/{name}"
            for name in ("contactLists", "contactTags", "accountContacts")
        }
        return view

    @route("POST", "/api/3/contact/sync")
    def sync_contact(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "contact")
            email = body.get("email")
            if not _given(email):
                raise _RefusedError(422, {"errors": [_missing("contact", "email")]})
            if not _EMAIL.match(str(email)):
                title = "Contact Email Address is not valid."
                raise _RefusedError(422, {"errors": [_error("contact", "email", title)]})
            self._check_refusals("contact", body)
            row = self._contact_row(str(email))
            if row is None:
                row = self._insert("contacts", self._new_contact(str(email), body))
            else:
                # Assumed (A5): a field left out of the request keeps its value.
                for field in ("firstName", "lastName", "phone"):
                    if field in body and body[field] is not None:
                        row[field] = str(body[field])
                row["udate"] = self._now()
            # AC-OAS documents 201 for this call, whether it created or updated.
            return json_response({"contact": self._render_contact(row), "fieldValues": []}, 201)

        return self._answer(run)

    @route("GET", "/api/3/contacts")
    def list_contacts(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            self._filters(request, "contacts")
            email = request.url.params.get("email")
            rows = [
                self._render_contact(r)
                for _, r in sorted(self._tables["contacts"].items())
                if email is None or r["email"].lower() == email.strip().lower()
            ]
            return self._page(request, "contacts", rows)

        return self._answer(run)

    @route("GET", "/api/3/contacts/{id}/contactLists")
    def contact_lists(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            contact = self._get("contacts", params["id"], "Subscriber")
            rows = [
                self._public(r)
                for _, r in sorted(self._tables["contactLists"].items())
                if r["contact"] == contact["id"]
            ]
            return json_response({"contactLists": rows})

        return self._answer(run)

    @route("GET", "/api/3/contacts/{id}/contactTags")
    def contact_tags(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            contact = self._get("contacts", params["id"], "Subscriber")
            rows = [
                self._public(r)
                for _, r in sorted(self._tables["contactTags"].items())
                if r["contact"] == contact["id"]
            ]
            return json_response({"contactTags": rows})

        return self._answer(run)

    @route("GET", "/api/3/contacts/{id}/accountContacts")
    def contact_accounts(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            contact = self._get("contacts", params["id"], "Subscriber")
            rows = [
                self._public(r)
                for _, r in sorted(self._tables["accountContacts"].items())
                if r["contact"] == contact["id"]
            ]
            return json_response({"accountContacts": rows})

        return self._answer(run)

    @route("GET", "/api/3/contacts/{id}")
    def get_contact(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("contacts", params["id"], "Subscriber")
            lists = [
                self._public(r)
                for _, r in sorted(self._tables["contactLists"].items())
                if r["contact"] == row["id"]
            ]
            return json_response({"contact": self._render_contact(row), "contactLists": lists})

        return self._answer(run)

    @route("DELETE", "/api/3/contacts/{id}")
    def delete_contact(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("contacts", params["id"], "Subscriber")
            for table in ("contactTags", "contactLists", "accountContacts"):
                for key in [k for k, v in self._tables[table].items() if v["contact"] == row["id"]]:
                    del self._tables[table][key]
            del self._tables["contacts"][int(row["id"])]
            return json_response({})

        return self._answer(run)

    # ================================================================ tags

    @route("GET", "/api/3/tags")
    def list_tags(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            f = self._filters(request, "tags")
            search = request.url.params.get("search")
            rows = []
            for _, r in sorted(self._tables["tags"].items()):
                name = r["tag"].lower()
                if search is not None and search.lower() not in name:
                    continue  # "contains" operator, as documented
                if "search[eq]" in f and name != f["search[eq]"].lower():
                    continue
                if "search[contains]" in f and f["search[contains]"].lower() not in name:
                    continue
                if "search[starts_with]" in f and not name.startswith(
                    f["search[starts_with]"].lower()
                ):
                    continue
                rows.append(self._public(r))
            return self._page(request, "tags", rows)

        return self._answer(run)

    @route("POST", "/api/3/tags")
    def create_tag(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "tag")
            if not _given(body.get("tag")):
                raise _RefusedError(422, {"errors": [_missing("tag", "tag")]})
            self._check_refusals("tag", body)
            for row in self._tables["tags"].values():
                if row["tag"].lower() == str(body["tag"]).lower():
                    raise _duplicate("tag", "tag")  # assumed (A10): tag names are unique
            row = self._insert(
                "tags",
                {
                    "tag": str(body["tag"]),
                    "tagType": str(body.get("tagType") or "contact"),
                    "description": str(body.get("description") or ""),
                    "cdate": self._now(),
                },
            )
            return json_response({"tag": self._public(row)}, 201)

        return self._answer(run)

    @route("POST", "/api/3/contactTags")
    def create_contact_tag(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "contactTag")
            problems = [_missing_attr(f) for f in ("contact", "tag") if not _given(body.get(f))]
            if problems:
                raise _RefusedError(422, {"errors": problems})
            contact_id, tag_id = _as_int(body["contact"]), _as_int(body["tag"])
            if contact_id not in self._tables["contacts"]:
                raise _RefusedError(
                    404,
                    {
                        "errors": [
                            {"status": 404, "title": "Not Found", "detail": "Contact not found"}
                        ]
                    },
                )
            if tag_id not in self._tables["tags"]:
                # Assumed (A16): an unknown tag answers like the documented unknown contact.
                raise _RefusedError(
                    404,
                    {"errors": [{"status": 404, "title": "Not Found", "detail": "Tag not found"}]},
                )
            for row in self._tables["contactTags"].values():
                if (row["contact"], row["tag"]) == (str(contact_id), str(tag_id)):
                    # Assumed (A11), from a mature integration (Sylius), not documented:
                    # an existing link answers 200.
                    return json_response({"contactTag": self._public(row)}, 200)
            row = self._insert(
                "contactTags",
                {"contact": str(contact_id), "tag": str(tag_id), "cdate": self._now()},
            )
            return json_response({"contactTag": self._public(row)}, 201)

        return self._answer(run)

    @route("DELETE", "/api/3/contactTags/{id}")
    def delete_contact_tag(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("contactTags", params["id"], "ContactTag")
            del self._tables["contactTags"][int(row["id"])]
            return json_response({})

        return self._answer(run)

    # ================================================================ lists

    @route("GET", "/api/3/lists")
    def list_lists(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            f = self._filters(request, "lists")
            rows = []
            for _, r in sorted(self._tables["lists"].items()):
                name = r["name"].lower()
                if "name" in f and f["name"].lower() not in name:
                    continue  # assumed (A12): like the other name searches, "contains"
                if "name[eq]" in f and name != f["name[eq]"].lower():
                    continue
                rows.append(self._public(r))
            return self._page(request, "lists", rows)

        return self._answer(run)

    @route("GET", "/api/3/lists/{id}")
    def get_list(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("lists", params["id"], "List")
            return json_response({"list": self._public(row)})

        return self._answer(run)

    @route("POST", "/api/3/contactLists")
    def update_list_status(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "contactList")
            problems = [
                _missing("contactList", f)
                for f in ("list", "contact", "status")
                if not _given(body.get(f))
            ]
            if problems:
                raise _RefusedError(422, {"errors": problems})
            status = str(body["status"])
            if status not in ("1", "2"):
                title = "Status is 1 (subscribe) or 2 (unsubscribe)."
                raise _RefusedError(422, {"errors": [_error("contactList", "status", title)]})
            contact = self._get("contacts", str(body["contact"]), "Subscriber")
            lst = self._get("lists", str(body["list"]), "List")
            self._check_refusals("contactList", body)
            row = self._set_membership(contact["id"], lst["id"], status)
            return json_response(
                {"contacts": [self._render_contact(contact)], "contactList": self._public(row)}
            )

        return self._answer(run)

    # ================================================================ accounts

    @route("GET", "/api/3/accounts")
    def list_accounts(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            search = request.url.params.get("search")
            rows = [
                self._public(r)
                for _, r in sorted(self._tables["accounts"].items())
                if search is None or search.lower() in r["name"].lower()
            ]
            return self._page(request, "accounts", rows)

        return self._answer(run)

    @route("POST", "/api/3/accounts")
    def create_account(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "account")
            if not _given(body.get("name")):
                raise _RefusedError(422, {"errors": [_missing("account", "name")]})
            self._check_refusals("account", body)
            for row in self._tables["accounts"].values():
                if row["name"].lower() == str(body["name"]).lower():
                    raise _duplicate("account", "name")  # assumed (A13): names are unique
            now = self._now()
            row = self._insert(
                "accounts",
                {
                    "name": str(body["name"]),
                    "accountUrl": body.get("accountUrl"),
                    "createdTimestamp": now,
                    "updatedTimestamp": now,
                },
            )
            return json_response({"account": self._public(row)}, 201)

        return self._answer(run)

    @route("GET", "/api/3/accountContacts")
    def list_account_contacts(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        def run() -> httpx.Response:
            f = self._filters(request, "accountContacts")
            rows = [
                self._public(r)
                for _, r in sorted(self._tables["accountContacts"].items())
                if all(r.get(k) == v for k, v in f.items())
            ]
            return self._page(request, "accountContacts", rows)

        return self._answer(run)

    @route("POST", "/api/3/accountContacts")
    def create_account_contact(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        def run() -> httpx.Response:
            body = self._body(request, "accountContact")
            problems = [
                _error("accountContact", f, f"The {f} attribute was not provided", "field_missing")
                for f in ("account", "contact")
                if not _given(body.get(f))
            ]
            if problems:
                raise _RefusedError(422, {"errors": problems})
            account = self._get("accounts", str(body["account"]), "Account")
            contact = self._get("contacts", str(body["contact"]), "Subscriber")
            for row in self._tables["accountContacts"].values():
                if row["contact"] == contact["id"]:
                    # Assumed (A14): a contact belongs to one account at a time.
                    raise _duplicate("accountContact", "contact")
            now = self._now()
            row = self._insert(
                "accountContacts",
                {
                    "account": account["id"],
                    "contact": contact["id"],
                    "jobTitle": str(body.get("jobTitle") or ""),
                    "createdTimestamp": now,
                    "updatedTimestamp": now,
                },
            )
            return json_response({"accountContact": self._public(row)}, 201)

        return self._answer(run)

    @route("PUT", "/api/3/accountContacts/{id}")
    def update_account_contact(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response:
        def run() -> httpx.Response:
            row = self._get("accountContacts", params["id"], "AccountContact")
            body = self._body(request, "accountContact")
            if _given(body.get("account")):
                row["account"] = self._get("accounts", str(body["account"]), "Account")["id"]
            if "jobTitle" in body and body["jobTitle"] is not None:
                row["jobTitle"] = str(body["jobTitle"])
            row["updatedTimestamp"] = self._now()
            return json_response({"accountContact": self._public(row)})

        return self._answer(run)

    def __repr__(self) -> str:
        counts = {name: len(t) for name, t in self._tables.items() if t}
        return f"ActiveCampaignSimulator(api_url={self.api_url!r}, stored={counts})"


def _missing_attr(field: str) -> dict[str, Any]:
    # The documented contactTags 422: {"status": 422, "title": "Missing attribute", ...}
    return {
        "status": 422,
        "title": "Missing attribute",
        "source": {"pointer": f"/data/attributes/{field}"},
    }


def _is_duplicate(body: Any) -> bool:
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == "duplicate" for e in errors
    )


# The order fields a create or an update stores (besides source, connection and customer).
_ORDER_FIELDS: Final = (
    "externalid",
    "externalcheckoutid",
    "email",
    "orderUrl",
    "externalCreatedDate",
    "externalUpdatedDate",
    "abandonedDate",
    "shippingMethod",
    "totalPrice",
    "shippingAmount",
    "taxAmount",
    "discountAmount",
    "currency",
    "orderNumber",
)
_LINE_FIELDS: Final = (
    "externalid",
    "name",
    "price",
    "quantity",
    "category",
    "sku",
    "description",
    "imageUrl",
    "productUrl",
)
