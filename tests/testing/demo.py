"""A throwaway demo simulator that exercises the simulator kit (not a real platform).

The demo is deliberately not any real platform: a tiny shop with a Shopify-ish
error shape, keyset ("cursor") and offset ("page") pagination over one
RecordStore, an authenticated route, and a route whose handler crashes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulator import (
    FakeData,
    RecordStore,
    Simulator,
    StoredRecord,
    json_response,
    request_json,
    route,
)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def render(record: StoredRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        **record.data,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _since(params: httpx.QueryParams) -> dt.datetime | None:
    value = params.get("updated_at_min")
    return dt.datetime.fromisoformat(value) if value else None


class DemoShop(Simulator):
    """Orders in a RecordStore, paged by cursor (``/orders``) or by page (``/pages``)."""

    def __init__(self, store: RecordStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.request_ids = 0

    def error_body(self, status: int, message: str) -> Any:
        return {"errors": message}

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        self.request_ids += 1
        return {"X-Request-Id": f"req-{self.request_ids}", "X-Demo-Version": "1"}

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        if request.url.path.startswith("/private") and request.headers.get("X-Token") != "s3cret":
            return json_response({"errors": "Invalid token"}, 401)
        return None

    @route("GET", "/shop.json")
    def shop(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        return json_response({"shop": {"name": "Café Ñandú", "currency": "EUR"}})

    @route("GET", "/private/secrets.json")
    def secrets(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        return json_response({"secret": 42})

    @route("GET", "/orders/count.json")
    def count(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        return json_response({"count": len(self.store)})

    @route("GET", "/orders/{id}.json")
    def order(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        record = self.store.get(int(params["id"]))
        if record is None:
            return self.error_response(404, "Not Found")
        return json_response({"order": render(record)})

    @route("GET", "/orders.json")
    def orders(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        q = request.url.params
        page = self.store.page_by_cursor(
            limit=int(q.get("limit", "2")),
            cursor=q.get("page_info"),
            sort="updated_at",
            updated_at_min=_since(q),
        )
        headers = {}
        if page.next_cursor:
            url = request.url.copy_with(params={**dict(q), "page_info": page.next_cursor})
            headers["Link"] = f'<{url}>; rel="next"'
        return json_response({"orders": [render(r) for r in page.records]}, headers=headers)

    @route("GET", "/pages.json")
    def pages(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        q = request.url.params
        limit = int(q.get("limit", "2"))
        page = self.store.page_by_offset(
            limit=limit, offset=(int(q.get("page", "1")) - 1) * limit, sort="updated_at"
        )
        return json_response(
            [render(r) for r in page.records], headers={"X-Total-Count": str(page.total)}
        )

    @route("POST", "/orders.json")
    def create(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        body = request_json(request) or {}
        record = self.store.insert(body.get("order", {}))
        return json_response({"order": render(record)}, 201)

    @route("GET", "/boom")
    def boom(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        raise RuntimeError("handler bug")


def seeded_store(clock: FakeClock, n: int = 5, seed: int = 1) -> RecordStore:
    """``n`` orders created an hour apart from T0, ids 1..n."""
    store = RecordStore(clock)
    fake = FakeData(seed)
    for i in range(n):
        person = fake.person()
        store.insert(
            {"email": person.email, "name": f"#{1000 + i}", "total": fake.price()},
            created_at=T0 + dt.timedelta(hours=i),
        )
    return store


MakeShop = Callable[..., DemoShop]
