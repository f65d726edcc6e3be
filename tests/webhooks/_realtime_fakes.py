"""A RealtimeConnector over a dictionary (no HTTP), and Tiendanube-shaped deliveries for it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from commerce_connectors.errors import AuthenticationError, ServerError
from commerce_connectors.models import Customer, LineItem, Money, Order, Platform
from commerce_connectors.platforms.base import raise_invalid
from commerce_connectors.protocols import Stream
from commerce_connectors.webhooks import WebhookEvent, WebhookSubscription

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)
STORE = "123"
CONN = f"tiendanube:{STORE}"
SECRET = "tn-app-secret"
URL = "https://hooks.example.com/webhooks/tiendanube/123"


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def customer(cid: str, email: str, *, hours: float = 0) -> Customer:
    return Customer(Platform.TIENDANUBE, CONN, cid, at(0), at(hours), email=email, first_name="Ana")


def order(oid: str, *, hours: float = 0, status: str = "paid", cid: str = "7") -> Order:
    return Order(
        Platform.TIENDANUBE,
        CONN,
        oid,
        at(min(hours, 0)),
        at(hours),
        status=status,
        raw_status=status,
        total=Money("10.00", "BRL"),
        customer_external_id=cid,
        email="ana@example.com",
        customer=customer(cid, "ana@example.com", hours=hours),
        lines=[LineItem("Mug", 1, Money("10.00", "BRL"))],
    )


def delivery(event: str, rid: int | str, **extra: Any) -> tuple[dict[str, str], bytes]:
    """A signed Tiendanube delivery (headers, body)."""
    body = json.dumps({"store_id": int(STORE), "event": event, "id": rid, **extra}).encode()
    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Linkedstore-HMAC-SHA256": sig, "Content-Type": "application/json"}, body


class FakeRealtimeConnector:
    """Answers records_for_event from ``records`` (current state) or per-event versions."""

    platform = Platform.TIENDANUBE
    connection_id = CONN
    recommended_overlap = dt.timedelta(minutes=5)
    supported_streams = frozenset({Stream.CUSTOMERS, Stream.ORDERS, Stream.PRODUCTS})

    def __init__(self) -> None:
        self.on_invalid = raise_invalid
        self.records: dict[tuple[str, str], Any] = {}
        self.failing: set[str] = set()
        self.crashing: set[str] = set()
        self.token_revoked = False
        self.fetches = 0
        self.stream_reads = 0

    # -- realtime ---------------------------------------------------------------------

    def ensure_webhooks(self, callback_url: str, topics: Any = None) -> list[WebhookSubscription]:
        return []

    def list_webhooks(self) -> list[WebhookSubscription]:
        return []

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        return 0

    def owns_event(self, event: WebhookEvent) -> bool:
        return event.store_id == STORE

    def records_for_event(self, event: WebhookEvent) -> list[Any]:
        self.fetches += 1
        if event.external_id in self.failing:
            raise ServerError("boom", platform="tiendanube", status_code=503)
        if event.external_id in self.crashing:
            raise RuntimeError("a bug on odd data")
        if self.token_revoked:
            raise AuthenticationError("token revoked", platform="tiendanube", status_code=401)
        found = self.records.get((event.kind or "", event.external_id or ""))
        return [] if found is None else [found]

    # -- streams ------------------------------------------------------------------------

    def _read(self, kind: str) -> Any:
        self.stream_reads += 1
        return iter([r for (k, _), r in self.records.items() if k == kind])

    def iter_customers(self, since: Any = None) -> Any:
        return self._read("customer")

    def iter_orders(self, since: Any = None) -> Any:
        return self._read("order")

    def iter_products(self, since: Any = None) -> Any:
        return self._read("product")

    def iter_abandoned_carts(self, since: Any = None) -> Any:
        return iter(())

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeRealtimeConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
