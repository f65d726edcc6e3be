"""TiendanubeConnector against its simulator (in-process, FakeClock: nothing really waits)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from commerce_connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
)
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import CartState
from commerce_connectors.testing.conformance import CONNECTOR_CHECKS, ConnectorHarness
from commerce_connectors.testing.simulator import Mutate
from commerce_connectors.testing.simulators.tiendanube import TiendanubeHarness

UA = "ExampleCRM (integrations@example.com)"


@pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
def test_conformance(check: Callable[[ConnectorHarness], None]) -> None:
    check(TiendanubeHarness())


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["", "   ", "MyApp", "MyApp (no contact)", None])
def test_missing_user_agent_is_refused_before_any_request(agent: Any) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[])

    with pytest.raises(ConfigurationError, match="User-Agent") as info:
        TiendanubeConnector(
            store_id=123, access_token="secret-token", user_agent=agent,
            transport=httpx.MockTransport(handler),
        )  # fmt: skip
    assert calls == []
    assert "secret-token" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"store_id": "my-store"}, "numeric store id"),
        ({"api_version": "2025"}, "api_version"),
        ({"domain": "tiendanube.com"}, "domain"),
        ({"page_size": 500}, "page_size"),
        ({"access_token": ""}, "access token"),
    ],
)
def test_other_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"store_id": 1, "access_token": "t", "user_agent": UA, **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        TiendanubeConnector(**args)


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({}, "https://api.tiendanube.com/2025-03/4321/customers"),
        ({"domain": "nuvemshop"}, "https://api.nuvemshop.com.br/2025-03/4321/customers"),
        ({"api_version": "v1"}, "https://api.tiendanube.com/v1/4321/customers"),
    ],
)
def test_request_shape(options: dict[str, Any], url: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[], headers={"X-Total-Count": "0"})

    conn = TiendanubeConnector(
        store_id=4321, access_token="tok-1", user_agent=UA,
        transport=httpx.MockTransport(handler), **options,
    )  # fmt: skip
    with conn:
        assert list(conn.iter_customers()) == []
    (request,) = seen
    assert str(request.url).startswith(url + "?")
    assert request.url.params["per_page"] == "200"
    assert request.headers["Authentication"] == "bearer tok-1"
    assert "Authorization" not in request.headers
    assert request.headers["User-Agent"] == UA
    assert conn.connection_id == "tiendanube:4321"
    assert "tok-1" not in repr(conn)


def test_bad_token_gives_authentication_error_with_the_platform_words() -> None:
    harness = TiendanubeHarness(customers=3, orders=0, products=0, checkouts=0)
    conn = harness.make_connector(valid_credentials=False)
    with conn, pytest.raises(AuthenticationError) as info:
        list(conn.iter_customers())
    assert info.value.status_code == 401
    assert info.value.message == "Unauthorized: Invalid access token"
    assert harness.secret not in str(info.value)


def test_unknown_store_is_not_found() -> None:
    harness = TiendanubeHarness(customers=3, orders=0, products=0, checkouts=0)
    conn = TiendanubeConnector(
        store_id=999, access_token=harness.secret, user_agent=UA,
        base_url=harness.simulator.base_url, transport=harness.simulator.transport(),
        clock=harness.clock,
    )  # fmt: skip
    with conn, pytest.raises(NotFoundError):
        list(conn.iter_customers())


# -- streams ------------------------------------------------------------------------------


def test_orders_of_every_payment_status_arrive() -> None:
    harness = TiendanubeHarness(customers=20, orders=110, products=10, checkouts=0)
    with harness.make_connector() as conn:
        orders = list(conn.iter_orders())
    expected = Counter(r.data["payment_status"] for r in harness.simulator.stores["orders"])
    got = Counter(o.extra["payment_status"] for o in orders)
    assert got == expected
    assert {"refunded", "voided", "abandoned"} <= set(got)
    assert conn.reports[-1].walks == 4  # the default walk plus three payment statuses


def test_order_urls_and_store_name_come_from_the_store() -> None:
    harness = TiendanubeHarness(customers=5, orders=5, products=3, checkouts=0)
    with harness.make_connector() as conn:
        order = next(conn.iter_orders())
    assert order.order_url == (
        f"https://mitienda.mitiendanube.com/admin/v2/orders/{order.external_id}"
    )
    assert order.store_name == "Mi Tienda (es)"
    assert order.extra["completed_at"] is None or order.extra["completed_at"].endswith("+00:00")


@pytest.mark.parametrize(("languages", "option", "expected"), [
    (("es", "pt"), None, "es"),
    (("pt", "es"), None, "pt"),
    (("pt", "es"), "es", "es"),
])  # fmt: skip
def test_multilingual_names_resolved_by_main_language(
    languages: tuple[str, ...], option: str | None, expected: str
) -> None:
    harness = TiendanubeHarness(customers=2, orders=0, products=12, checkouts=0,
                                languages=languages)  # fmt: skip
    stored = {str(r.id): r.data for r in harness.simulator.stores["products"]}
    with harness.make_connector(language=option) as conn:
        products = list(conn.iter_products())
    assert len(products) == 12
    for product in products:
        data = stored[product.external_id]
        assert product.name == data["name"][expected]
        assert product.category == data["categories"][0]["name"][expected]
        assert product.extra["name_translations"] == data["name"]
        assert product.price is not None
        assert product.price.currency == "ARS"


def test_main_language_from_the_header_when_the_store_is_refused() -> None:
    # An app refused GET /store still learns the main language from X-Main-Language.
    product = {
        "id": 1, "name": {"es": "Pelota", "pt": "Bola"}, "variants": [],
        "categories": [{"id": 2, "name": {"es": "Juguetes", "pt": "Brinquedos"}}],
        "created_at": "2024-01-01T00:00:00-0300", "updated_at": "2024-01-01T00:00:00-0300",
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-Main-Language": "pt"}
        if request.url.path.endswith("/store"):
            body = {"code": 403, "message": "Forbidden", "description": None}
            return httpx.Response(403, json=body, headers=headers)
        return httpx.Response(200, json=[product], headers={**headers, "X-Total-Count": "1"})

    conn = TiendanubeConnector(
        store_id=4321, access_token="tok-1", user_agent=UA,
        transport=httpx.MockTransport(handler),
    )  # fmt: skip
    with conn:
        (parsed,) = list(conn.iter_products())
    assert (parsed.name, parsed.category) == ("Bola", "Brinquedos")
    assert conn.main_language() == "pt"


def test_store_name_is_kept_with_a_caller_order_url_template() -> None:
    harness = TiendanubeHarness(customers=5, orders=5, products=3, checkouts=0)
    template = "https://crm.example/orders/{number}"
    with harness.make_connector(order_url_template=template) as conn:
        order = next(conn.iter_orders())
    assert order.order_url == f"https://crm.example/orders/{order.order_number}"
    assert order.store_name == "Mi Tienda (es)"


def test_result_window_is_continued_with_since_id() -> None:
    harness = TiendanubeHarness(customers=95, orders=0, products=0, checkouts=0,
                                max_result_window=30)  # fmt: skip
    with harness.make_connector(max_result_window=30) as conn:
        ids = [c.external_id for c in conn.iter_customers()]
    assert sorted(ids, key=int) == sorted(harness.expected_ids(Stream.CUSTOMERS), key=int)
    assert conn.reports[-1].windows == 4
    assert harness.simulator.log.count_by_status() == {200: 10}
    assert {e.params.get("since_id") for e in harness.simulator.log.entries} >= {"30", "60"}


def test_result_window_newest_first_is_continued_with_created_at_max() -> None:
    harness = TiendanubeHarness(customers=95, orders=0, products=0, checkouts=0,
                                max_result_window=30, descending=True)  # fmt: skip
    with harness.make_connector(max_result_window=30) as conn:
        ids = [c.external_id for c in conn.iter_customers()]
    assert len(ids) == len(set(ids)) == 95
    assert any("created_at_max" in e.params for e in harness.simulator.log.entries)


def test_result_window_oldest_first_with_ids_out_of_step_loses_nothing() -> None:
    # A record imported later with an old creation date: a larger id listed early, so
    # since_id cannot continue the walk; created_at_min (not created_at_max) must.
    harness = TiendanubeHarness(customers=95, orders=0, products=0, checkouts=0,
                                max_result_window=30)  # fmt: skip
    sim = harness.simulator
    early = sim.visible("customers")[5]
    before = early.created_at - dt.timedelta(seconds=1)
    sim.stores["customers"].insert(dict(early.data), created_at=before, updated_at=before)
    with harness.make_connector(max_result_window=30) as conn:
        ids = [c.external_id for c in conn.iter_customers()]
    assert len(ids) == len(set(ids))
    assert set(ids) == harness.expected_ids(Stream.CUSTOMERS)
    assert len(ids) == 96
    assert any("created_at_min" in e.params for e in sim.log.entries)


def test_result_window_in_no_continuable_order_fails_loudly() -> None:
    # Listed by updated_at: neither ids nor creation dates are in order, so no filter can
    # continue past the window; an error, not a silently short result.
    harness = TiendanubeHarness(customers=95, orders=0, products=0, checkouts=0,
                                max_result_window=30, sort="updated_at")  # fmt: skip
    with (
        harness.make_connector(max_result_window=30) as conn,
        pytest.raises(MalformedResponseError, match="result window"),
    ):
        list(conn.iter_customers())


# -- records changing while the connector pages -------------------------------------------


def _mutate_on_page(harness: TiendanubeHarness, page: int, hook: Callable[[], None]) -> None:
    # The n-th request of a customers walk is its n-th page.
    harness.simulator.add_fault(Mutate(hook=lambda request: hook(), on=page))


def test_records_updated_while_paging_are_not_lost() -> None:
    # The worst case for offset pages: sorted by updated_at, so an edited record moves
    # to the end and every later record shifts back by one.
    harness = TiendanubeHarness(customers=50, orders=0, products=0, checkouts=0,
                                sort="updated_at")  # fmt: skip
    first = harness.simulator.visible("customers")
    first_page = sorted(first, key=lambda r: (r.updated_at, r.id))[:3]
    _mutate_on_page(harness, 2, lambda: [
        harness.simulator.update("customers", r.id, {"note": "edited"}) for r in first_page
    ])  # fmt: skip
    with harness.make_connector() as conn:
        customers = list(conn.iter_customers())
    ids = [c.external_id for c in customers]
    assert set(ids) == harness.expected_ids(Stream.CUSTOMERS)
    edited = {str(r.id) for r in first_page}
    # Only the edited records come twice: first as read, then their newer version.
    assert sorted(i for i, n in Counter(ids).items() if n > 1) == sorted(edited)
    newest = {c.external_id: c for c in customers}
    assert {i: newest[i].extra.get("note") for i in edited} == dict.fromkeys(edited, "edited")
    assert conn.reports[-1].repairs >= 1


def test_records_deleted_while_paging_do_not_hide_others() -> None:
    harness = TiendanubeHarness(customers=50, orders=0, products=0, checkouts=0)
    early = [r.id for r in harness.simulator.visible("customers")[:2]]
    _mutate_on_page(harness, 3, lambda: [harness.simulator.delete("customers", i) for i in early])
    with harness.make_connector() as conn:
        ids = {c.external_id for c in conn.iter_customers()}
    # Everything still in the store arrived (the deleted ones had been read before).
    assert harness.expected_ids(Stream.CUSTOMERS) <= ids
    assert conn.reports[-1].repairs == 1


def test_incremental_sync_after_changes() -> None:
    harness = TiendanubeHarness(customers=20, orders=40, products=10, checkouts=10)
    sim = harness.simulator
    checkpoint = sim.now()
    harness.clock.advance(60)
    orders = [r.id for r in sim.visible("orders")[:3]]
    for order_id in orders:
        sim.update("orders", order_id, {"payment_status": "refunded", "status": "cancelled"})
    sim.update("products", sim.visible("products")[0].id)
    with harness.make_connector() as conn:
        changed = list(conn.iter_orders(since=checkpoint))
        products = list(conn.iter_products(since=checkpoint))
        customers = list(conn.iter_customers(since=checkpoint))
    assert {o.external_id for o in changed} == {str(i) for i in orders}
    assert {o.status.value for o in changed} == {"cancelled"}
    assert len(products) == 1
    assert customers == []
    assert conn.recommended_overlap >= dt.timedelta(hours=6)


# -- abandoned checkouts ------------------------------------------------------------------


def test_six_hour_boundary_and_convert_within_delay() -> None:
    harness = TiendanubeHarness(customers=5, orders=0, products=5, checkouts=0)
    sim = harness.simulator
    now = sim.now()
    six = dt.timedelta(hours=6)
    exactly = sim.create_checkout(created_at=now - six, delay=dt.timedelta(0))
    almost = sim.create_checkout(
        created_at=now - six + dt.timedelta(seconds=1), delay=dt.timedelta(0)
    )
    converted = sim.create_checkout(created_at=now - six, delay=dt.timedelta(0))
    recovered = sim.create_checkout(created_at=now - 2 * six, delay=dt.timedelta(0))
    sim.convert_checkout(converted.id, at=now - dt.timedelta(hours=1))
    sim.convert_checkout(recovered.id, at=now - dt.timedelta(hours=1))
    dropped = sim.create_checkout(created_at=now - 2 * six, delay=dt.timedelta(0))
    sim.delete("checkouts", dropped.id)
    with harness.make_connector() as conn:
        carts = {c.external_id: c for c in conn.iter_abandoned_carts()}
        states = {cid: conn.cart_status(cart, now).state for cid, cart in carts.items()}
    assert states[str(exactly.id)] is CartState.ABANDONED  # 6 h exactly: abandoned
    assert states[str(almost.id)] is CartState.ACTIVE  # one second short
    # Converted within the delay: never abandoned. Converted 11 h after: recovered.
    # (convert_checkout moves the last activity to the purchase.)
    assert carts[str(converted.id)].completed_at is not None
    assert states[str(converted.id)] is CartState.CONVERTED
    assert carts[str(recovered.id)].order_external_id is not None
    assert str(dropped.id) not in carts  # deleted: gone from the listing
    with harness.make_connector(abandoned_only=True) as conn:
        kept = {c.external_id for c in conn.iter_abandoned_carts()}
    assert kept == {str(exactly.id)}


def test_late_checkouts_appear_within_six_hours_and_expire_after_thirty_days() -> None:
    harness = TiendanubeHarness(customers=3, orders=0, products=3, checkouts=0)
    sim = harness.simulator
    late = sim.create_checkout(delay=dt.timedelta(hours=5))
    with harness.make_connector() as conn:
        assert list(conn.iter_abandoned_carts()) == []
        harness.clock.advance(5 * 3600)
        assert [c.external_id for c in conn.iter_abandoned_carts()] == [str(late.id)]
        harness.clock.advance(31 * 86400)
        assert list(conn.iter_abandoned_carts()) == []


def test_zero_429_when_paced_by_the_bucket() -> None:
    harness = TiendanubeHarness(customers=400, orders=0, products=0, checkouts=0, page_size=5)
    with harness.make_connector() as conn:
        assert len(list(conn.iter_customers())) == 400
    assert 429 not in harness.simulator.log.count_by_status()
    assert conn.stats.rate_limited == 0
    assert harness.simulator.log.max_in_window(1.0) <= 40
