"""Shopify bulk operations: the connector's bulk reads against the simulator's lifecycle.

Every read here runs on a FakeClock shared by the connector and the simulator, so an
export that "takes" minutes at the modelled rate takes milliseconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse
from shopify_bulk_support import (
    GUEST_ORDER,
    LONG_CHECKOUT,
    LONG_ORDER,
    LONG_PRODUCT,
    ODD_CUSTOMER,
    connect,
    leaf_paths,
    logged,
    long_store,
    read_all,
    request_problems,
    truth,
)
from shopify_fixtures import rest_order

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import PermissionDeniedError, RateLimitError, RetriableError
from commerce_connectors.platforms.shopify import (
    BulkCanceledError,
    BulkOptions,
    FileBulkJournal,
    MemoryBulkJournal,
    ShopifyConnector,
)
from commerce_connectors.platforms.shopify import bulk as shopify_bulk
from commerce_connectors.platforms.shopify import graphql as shopify_graphql
from commerce_connectors.protocols import InvalidRecordHandler, Stream
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.conformance import CONNECTOR_CHECKS
from commerce_connectors.testing.simulator import MalformedBody, RateLimitBurst
from commerce_connectors.testing.simulators.shopify import (
    BULK_EXPORT_RATE,
    BULK_RESULTS_PATH,
    SCHEMA_SDL,
    BulkFailure,
    ShopifyHarness,
    ShopifySimulator,
    schema,
)

UTC = dt.timezone.utc
RESULTS = BULK_RESULTS_PATH + "/{name}"


@pytest.fixture(scope="module")
def shop() -> tuple[ShopifySimulator, FakeClock]:
    return long_store()


# -- the same records either way ------------------------------------------------------------


def test_bulk_and_paged_reads_give_equal_records_for_every_kind(
    shop: tuple[ShopifySimulator, FakeClock],
) -> None:
    sim, clock = shop
    sim.reset()
    paged = read_all(connect(sim, clock, bulk=False))
    paged_cost = sim.cost_report().actual
    sim.reset()
    conn = connect(sim, clock, bulk=True)
    bulk = read_all(conn)
    bulk_cost = sim.cost_report().actual
    expected = truth(sim)
    for kind in paged:
        ids = [r.external_id for r in bulk[kind]]
        assert ids == expected[kind], kind  # none lost, none doubled
        assert bulk[kind] == paged[kind], kind  # canonical records equal, field for field
    by_id = {o.external_id: o for o in bulk["orders"]}
    assert len(by_id[str(LONG_ORDER)].lines) == 23  # past the paged query's first 10
    assert by_id[str(GUEST_ORDER)].customer is not None
    assert by_id[str(GUEST_ORDER)].customer.is_guest
    product = next(p for p in bulk["products"] if p.external_id == str(LONG_PRODUCT))
    assert len(product.variants) == 12
    assert product.name == "Lampe\u2028Berger"
    cart = next(c for c in bulk["carts"] if c.external_id == str(LONG_CHECKOUT))
    assert len(cart.lines) == 14
    customer = next(c for c in bulk["customers"] if c.external_id == str(ODD_CUSTOMER))
    assert customer.first_name == "Zoë\u2028"
    assert conn.bulk_stats.started == 4
    assert conn.bulk_stats.paged_fallbacks == conn.bulk_stats.salvaged == 0
    # Pages of the paged read: every point of them; bulk: a run, a count and a few polls.
    assert bulk_cost < 0.01 * paged_cost, (bulk_cost, paged_cost)
    assert not logged(sim, "query Orders(")  # the bulk read sent no page query


def test_every_request_is_valid_for_the_published_schema(
    shop: tuple[ShopifySimulator, FakeClock],
) -> None:
    sim, clock = shop
    sim.reset()
    conn = connect(sim, clock, bulk=True)
    read_all(conn)
    with connect(sim, clock) as idle:  # nothing running: nothing to cancel, only a query
        assert idle.cancel_bulk_operation() is None
    bodies = [e.json for e in sim.log if e.json]
    assert any("bulkOperationRunQuery" in b["query"] for b in bodies)
    for body in bodies:
        assert request_problems(body) == [], body["query"]
    cancel = {"query": shopify_bulk.BULK_CANCEL_MUTATION, "variables": {"id": "gid://x/1"}}
    assert request_problems(cancel) == []
    # The bulk documents themselves, for each stream, with and without a filter.
    for stream in Stream:
        for search in (None, "updated_at:>='2024-10-04T00:00:00Z' id:>450789469"):
            document = shopify_bulk.bulk_document(stream, search)
            assert request_problems({"query": document}) == [], stream
    # The check can fail: a field the published Admin API lacks is refused.
    assert request_problems({"query": "{ currentBulkOperation { id progress } }"})


def test_the_bulk_selection_is_the_paged_selection_field_for_field() -> None:
    paged = {
        Stream.CUSTOMERS: shopify_graphql.CUSTOMERS_QUERY,
        Stream.ORDERS: shopify_graphql.ORDERS_QUERY,
        Stream.PRODUCTS: shopify_graphql.PRODUCTS_QUERY,
        Stream.ABANDONED_CARTS: shopify_graphql.CHECKOUTS_QUERY,
    }
    for stream, query in paged.items():
        bulk = shopify_bulk.bulk_document(stream)
        assert leaf_paths(parse(bulk)) == leaf_paths(parse(query)), stream
        assert "first:" not in bulk
        assert "$" not in bulk
    # The comparison can fail: one field fewer is seen.
    fewer = shopify_bulk.bulk_document(Stream.ORDERS).replace(" cancelReason", "", 1)
    assert leaf_paths(parse(fewer)) != leaf_paths(parse(paged[Stream.ORDERS]))


def test_the_simulator_schema_declares_the_bulk_types_the_subset_check_covers() -> None:
    # tests/webhooks/shopify checks every type of SCHEMA_SDL against the published one.
    for name in ("BulkOperation", "BulkOperationStatus", "BulkOperationErrorCode",
                 "BulkOperationRunQueryPayload", "Count"):  # fmt: skip
        assert name in schema().type_map
    mutation = schema().mutation_type
    assert mutation is not None
    assert {"bulkOperationRunQuery", "bulkOperationCancel"} <= set(mutation.fields)
    assert "groupObjects: Boolean! = true" in SCHEMA_SDL


# -- reassembly -----------------------------------------------------------------------------


def rows(*items: dict[str, Any]) -> list[bytes]:
    return [json.dumps(i).encode() for i in items]


def test_children_are_gathered_under_their_parent() -> None:
    lines = rows(
        {"id": "gid://shopify/Product/1", "title": "a"},
        {"id": "gid://shopify/ProductVariant/11", "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/ProductVariant/12", "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/Product/2", "title": "b"},
    )
    nodes = list(shopify_bulk.assemble([*lines[:2], b"", *lines[2:]], "variants"))
    assert [n["id"][-1] for n in nodes] == ["1", "2"]
    assert [v["id"][-2:] for v in nodes[0]["variants"]["nodes"]] == ["11", "12"]
    assert all("__parentId" not in v for v in nodes[0]["variants"]["nodes"])
    assert nodes[1]["variants"] == {"pageInfo": {"hasNextPage": False, "endCursor": None},
                                    "nodes": []}  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "child", "message"),
    [
        (rows({"id": "c", "__parentId": "p"}, {"id": "p"}), "variants", "does not follow"),
        (rows({"id": "p"}, {"id": "q"}, {"id": "c", "__parentId": "p"}), "variants",
         "does not follow"),
        (rows({"id": "p"}, {"id": "c", "__parentId": "p"}), None, "no nested connection"),
        ([b'{"id": "p"}', b'{"id": "q", "ti'], "variants", "not JSON"),
        ([b'["p"]'], None, "not an object"),
    ],
)  # fmt: skip
def test_rows_out_of_their_documented_shape_are_refused(
    lines: list[bytes], child: str | None, message: str
) -> None:
    with pytest.raises(RetriableError, match=message):
        list(shopify_bulk.assemble(lines, child))


def test_partial_data_drops_its_possibly_incomplete_last_record_and_cut_line() -> None:
    lines = [*rows({"id": "a"}, {"id": "c1", "__parentId": "a"}, {"id": "b"}), b'{"id": "c2", "__']
    assert [n["id"] for n in shopify_bulk.assemble(lines, "lineItems", partial=True)] == ["a"]
    # Customers have no children: the last one is whole.
    assert [n["id"] for n in shopify_bulk.assemble(rows({"id": "a"}), None, partial=True)] == ["a"]


def test_ungrouped_output_is_refused_which_is_why_groupobjects_true_is_sent() -> None:
    sim, clock = long_store(customers=5, orders=6, products=2, checkouts=0)
    body = {"query": shopify_bulk.BULK_RUN_MUTATION.replace("groupObjects: true",
                                                             "groupObjects: false"),
            "variables": {"query": shopify_bulk.bulk_document(Stream.ORDERS)}}  # fmt: skip
    client = httpx.Client(transport=sim.transport())
    answer = client.post(f"https://{sim.shop}/admin/api/2026-01/graphql.json", json=body,
                         headers={"X-Shopify-Access-Token": sim.token}).json()  # fmt: skip
    gid = answer["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
    clock.advance(600)
    url = sim.bulk_operation(gid)["url"]
    lines = client.get(url).content.splitlines()
    with pytest.raises(RetriableError, match="groupObjects"):
        list(shopify_bulk.assemble(lines, "lineItems"))
    assert "groupObjects: true" in shopify_bulk.BULK_RUN_MUTATION


# -- when bulk is used ----------------------------------------------------------------------


def test_small_incremental_windows_page_and_large_ones_use_bulk() -> None:
    sim, clock = long_store(customers=10, orders=60, products=4, checkouts=0)
    clock.advance(3600)
    checkpoint = clock.now()
    clock.advance(60)
    store = sim.stores["orders"]
    touched = [r.id for r in store.query(sort="id")[:3]]
    for ident in touched:
        store.update(ident, {"financial_status": "refunded"})
    conn = connect(sim, clock, bulk=True)
    with conn:
        small = [o.external_id for o in conn.iter_orders(since=checkpoint)]
    assert sorted(small) == sorted(str(i) for i in touched)
    assert conn.bulk_stats.started == 0
    assert logged(sim, "query Orders(")  # paged
    count = logged(sim, "ordersCount")[-1].json
    assert count["variables"]["limit"] == 250
    assert count["variables"]["query"].startswith("updated_at:>=")
    # The same window with a threshold of 2 records: a bulk read with the same filter.
    conn = connect(sim, clock, bulk=BulkOptions(thresholds={"orders": 2}))
    with conn:
        large = [o.external_id for o in conn.iter_orders(since=checkpoint)]
    assert sorted(large) == sorted(small)
    assert conn.bulk_stats.started == 1
    document = logged(sim, "bulkOperationRunQuery")[-1].json["variables"]["query"]
    second = checkpoint.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert f"orders(sortKey: ID, query: \"updated_at:>='{second}'\")" in document


def test_histories_are_read_in_bulk_by_default() -> None:
    sim, clock = long_store(customers=3, orders=5, products=1, checkouts=1)
    records = read_all(connect(sim, clock))
    assert records == read_all(connect(sim, clock, bulk=False))
    assert len(logged(sim, "bulkOperationRunQuery")) == 4  # one export per stream


@pytest.mark.parametrize("off", [False, None])
def test_with_bulk_off_every_read_pages(off: bool | None) -> None:
    sim, clock = long_store(customers=3, orders=5, products=1, checkouts=1)
    read_all(connect(sim, clock, bulk=off))
    assert not logged(sim, "bulkOperation")
    assert not logged(sim, "Count(")


# -- failures ------------------------------------------------------------------------------


def test_a_timeout_yields_its_partial_data_and_the_retry_resumes_after_it() -> None:
    sim, clock = long_store(customers=5, orders=150, products=4, checkouts=0)
    sim.bulk_failures.append(BulkFailure("TIMEOUT", after_roots=70))
    conn = connect(sim, clock, bulk=True)
    with conn:
        ids = [o.external_id for o in conn.iter_orders()]
    assert sorted(ids, key=int) == truth(sim)["orders"]  # exact: none lost, none doubled
    assert conn.bulk_stats.salvaged == 69  # the 70th may have lost lines: read again
    assert conn.bulk_stats.started == 2
    runs = [e.json["variables"]["query"] for e in logged(sim, "bulkOperationRunQuery")]
    resumed = sorted(int(i) for i in ids)[68]
    assert f'query: "id:>{resumed}"' in runs[1]
    downloads = [e for e in sim.log if e.route == RESULTS]
    assert [e.path.endswith("-partial.jsonl") for e in downloads] == [True, False]


def test_failures_past_the_attempts_page_the_rest() -> None:
    sim, clock = long_store(customers=5, orders=120, products=4, checkouts=0)
    sim.bulk_failures += [
        BulkFailure("INTERNAL_SERVER_ERROR", after_roots=30),
        BulkFailure("TIMEOUT", after_roots=0),  # no partial data at all
        BulkFailure("INTERNAL_SERVER_ERROR", after_roots=40),
    ]
    conn = connect(sim, clock, bulk=True)
    with conn:
        ids = [o.external_id for o in conn.iter_orders()]
    assert sorted(ids, key=int) == truth(sim)["orders"]
    assert conn.bulk_stats.started == 3
    assert conn.bulk_stats.paged_fallbacks == 1
    assert conn.bulk_stats.salvaged == 29 + 39
    pages = logged(sim, "query Orders(")
    last_salvaged = sorted(int(i) for i in ids)[29 + 39 - 1]
    assert pages[0].json["variables"]["query"] == f"id:>{last_salvaged}"


def test_access_denied_raises_and_uses_no_partial_data() -> None:
    sim, clock = long_store(customers=5, orders=50, products=4, checkouts=0)
    sim.bulk_failures.append(BulkFailure("ACCESS_DENIED", after_roots=20))
    conn = connect(sim, clock, bulk=BulkOptions(journal=MemoryBulkJournal()))
    read: list[str] = []
    with conn, pytest.raises(PermissionDeniedError) as info:
        read.extend(o.external_id for o in conn.iter_orders())
    assert read == []
    assert info.value.code == "ACCESS_DENIED"
    assert not [e for e in sim.log if e.route == RESULTS]
    assert conn.bulk is not None
    assert conn.bulk.journal.get(f"{conn.connection_id}/orders") is None


class CallbackClock(FakeClock):
    """A FakeClock that runs a callback on its n-th sleep (another process acting meanwhile)."""

    def __init__(self, on_sleep: int, callback: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.countdown, self.callback = on_sleep, callback

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.countdown -= 1
        if self.countdown == 0:
            self.callback()


def test_a_canceled_operation_ends_the_run_as_retry_later() -> None:
    holder: dict[str, Any] = {}
    clock = CallbackClock(2, lambda: holder["other"].cancel_bulk_operation(),
                          wall_start=dt.datetime(2024, 10, 2, tzinfo=UTC))  # fmt: skip
    sim = ShopifySimulator(seed=3, customers=5, orders=400, products=2, checkouts=0, clock=clock)
    holder["other"] = connect(sim, clock)
    conn = connect(sim, clock, bulk=True)
    with conn, pytest.raises(BulkCanceledError, match="canceled"):
        list(conn.iter_orders())
    (job,) = sim.bulk_operations.values()
    assert sim.bulk_operation(job.gid)["status"] == "CANCELED"
    assert isinstance(BulkCanceledError("x"), RetriableError)
    # Through the engine: the run ends "retry later", its checkpoint untouched.
    clock.countdown = 2
    engine = SyncEngine(connect(sim, clock, bulk=True), MemorySink(), MemoryStateStore(),
                        clock=clock, streams=(Stream.ORDERS,))  # fmt: skip
    report = engine.run("historical")
    assert report.status.value == "retry_later"
    assert "canceled" in (report.error or "")


def test_an_expired_result_starts_a_new_operation(tmp_path: Path) -> None:
    sim, clock = long_store(customers=5, orders=40, products=2, checkouts=0)
    journal = FileBulkJournal(tmp_path)
    key = "shopify:acme.myshopify.com/orders"
    body = {"query": shopify_bulk.BULK_RUN_MUTATION,
            "variables": {"query": shopify_bulk.bulk_document(Stream.ORDERS)}}  # fmt: skip
    client = httpx.Client(transport=sim.transport())
    answer = client.post(f"https://{sim.shop}/admin/api/2026-01/graphql.json", json=body,
                         headers={"X-Shopify-Access-Token": sim.token}).json()  # fmt: skip
    gid = answer["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
    digest = shopify_bulk._digest(shopify_bulk.bulk_document(Stream.ORDERS))
    journal.put(key, shopify_bulk.BulkEntry(gid, digest))
    clock.advance(8 * 86400)  # completed long ago, and its file expired a day ago
    assert sim.bulk_operation(gid)["status"] == "EXPIRED"
    assert sim.bulk_operation(gid)["url"] is None
    conn = connect(sim, clock, bulk=BulkOptions(journal=journal))
    with conn:
        ids = sorted((o.external_id for o in conn.iter_orders()), key=int)
    assert ids == truth(sim)["orders"]
    assert (conn.bulk_stats.attached, conn.bulk_stats.started) == (0, 1)
    assert journal.get(key) is None  # read through: forgotten


def test_an_expired_signed_url_is_refused_by_the_storage_host() -> None:
    sim, clock = long_store(customers=5, orders=10, products=2, checkouts=0)
    conn = connect(sim, clock, bulk=True)
    with conn:
        list(conn.iter_orders())
    (job,) = sim.bulk_operations.values()
    url = sim.bulk_operation(job.gid)["url"]
    client = httpx.Client(transport=sim.transport())
    assert client.get(url).status_code == 200
    assert client.get(url.replace("signature=", "signature=0")).status_code == 403
    clock.advance(8 * 86400)
    expired = client.get(url)
    assert expired.status_code == 400
    assert b"ExpiredToken" in expired.content


# -- one bulk query at a time ---------------------------------------------------------------


def start_raw(sim: ShopifySimulator, document: str) -> str:
    """Start a bulk query as another process of this app would (not through the connector)."""
    body = {"query": shopify_bulk.BULK_RUN_MUTATION, "variables": {"query": document}}
    client = httpx.Client(transport=sim.transport())
    answer = client.post(f"https://{sim.shop}/admin/api/2026-01/graphql.json", json=body,
                         headers={"X-Shopify-Access-Token": sim.token}).json()  # fmt: skip
    return str(answer["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"])


def test_another_bulk_query_of_the_app_is_waited_for_never_run_beside() -> None:
    sim, clock = long_store(customers=3000, orders=80, products=2, checkouts=0)
    other = start_raw(sim, shopify_bulk.bulk_document(Stream.CUSTOMERS))
    conn = connect(sim, clock, bulk=True)
    with conn:
        ids = sorted((o.external_id for o in conn.iter_orders()), key=int)
    assert ids == truth(sim)["orders"]
    runs = logged(sim, "bulkOperationRunQuery")
    assert len(runs) == 3  # the other's, then ours refused (OPERATION_IN_PROGRESS), then ours
    assert len(sim.bulk_operations) == 2
    first, second = sorted(sim.bulk_operations.values(), key=lambda j: j.number)
    assert first.gid == other
    assert second.started >= first.started + 3000 / BULK_EXPORT_RATE  # after it, not beside
    assert conn.bulk_stats.waited >= 3000 / BULK_EXPORT_RATE


def test_waiting_for_another_bulk_query_is_bounded() -> None:
    sim, clock = long_store(customers=3000, orders=20, products=2, checkouts=0)
    start_raw(sim, shopify_bulk.bulk_document(Stream.CUSTOMERS))
    conn = connect(sim, clock, bulk=BulkOptions(wait_for_other=2.0))
    with conn, pytest.raises(RateLimitError, match="one at a time"):
        list(conn.iter_orders())
    assert len(sim.bulk_operations) == 1


def test_a_running_twin_is_joined_not_duplicated() -> None:
    sim, clock = long_store(customers=3, orders=90, products=2, checkouts=0)
    twin = start_raw(sim, shopify_bulk.bulk_document(Stream.ORDERS))
    conn = connect(sim, clock, bulk=True)
    with conn:
        ids = sorted((o.external_id for o in conn.iter_orders()), key=int)
    assert ids == truth(sim)["orders"]
    assert (conn.bulk_stats.started, conn.bulk_stats.attached) == (0, 1)
    assert [j.gid for j in sim.bulk_operations.values()] == [twin]


# -- re-attach ------------------------------------------------------------------------------


class KilledError(Exception):
    pass


def interrupt() -> None:
    raise KilledError


def test_a_new_connector_reattaches_through_the_journal_and_catches_up(tmp_path: Path) -> None:
    clock = CallbackClock(2, interrupt, wall_start=dt.datetime(2024, 10, 2, tzinfo=UTC))
    sim = ShopifySimulator(seed=4, customers=5, orders=300, products=2, checkouts=0, clock=clock)
    journal = FileBulkJournal.beside(tmp_path / "state.db")
    first = connect(sim, clock, bulk=BulkOptions(journal=journal))
    with first, pytest.raises(KilledError):  # the process dies while the export runs
        list(first.iter_orders())
    (job,) = sim.bulk_operations.values()
    assert sim.bulk_operation(job.gid)["status"] == "RUNNING"
    assert journal.get(f"{first.connection_id}/orders") is not None
    # Meanwhile an order changes; then a new process reads with the same journal.
    changed = sim.stores["orders"].query(sort="id")[5].id
    sim.update_order(changed, {"financial_status": "refunded"})
    clock.countdown = -1
    second = connect(sim, clock, bulk=BulkOptions(journal=FileBulkJournal(journal.directory)))
    with second:
        orders = list(second.iter_orders())
    assert len(sim.bulk_operations) == 1  # re-attached, not started over
    assert sorted({o.external_id for o in orders}, key=int) == truth(sim)["orders"]
    # The export is the store as it was when the operation began; the change made after
    # that comes from the catch-up read, yielded after the file's older version.
    latest = {o.external_id: o for o in orders}
    assert latest[str(changed)].raw_status == "refunded"
    assert (second.bulk_stats.started, second.bulk_stats.attached) == (0, 1)
    assert second.bulk_stats.catch_ups == 1
    catch_up = logged(sim, "ordersCount")[-1].json["variables"]["query"]
    began = (job.created_at - dt.timedelta(minutes=5)).replace(microsecond=0)
    assert catch_up == f"updated_at:>='{began.isoformat().replace('+00:00', 'Z')}'"
    assert journal.get(f"{second.connection_id}/orders") is None


def test_the_file_journal_survives_a_torn_entry(tmp_path: Path) -> None:
    journal = FileBulkJournal(tmp_path)
    journal.put("k/orders", shopify_bulk.BulkEntry("gid://shopify/BulkOperation/1", "d"))
    (path,) = tmp_path.glob("*.json")
    path.write_text('{"operation_id": "gid://shop', encoding="utf-8")
    assert journal.get("k/orders") is None  # unreadable: ignored, a new operation starts
    journal.discard("k/orders")
    journal.discard("k/orders")
    assert not list(tmp_path.iterdir())


# -- the download ---------------------------------------------------------------------------


class WatchedResults(httpx.BaseTransport):
    """Serves the simulator; result files go out in small pieces, counted as pulled.

    ``roots_pulled`` counts the order rows whose first bytes were handed to the client.
    """

    MARK = b'{"id":"gid://shopify/Order/'

    def __init__(self, sim: ShopifySimulator, piece: int = 256, drop_at: int | None = None):
        self.sim, self.piece, self.drop_at = sim, piece, drop_at
        self.roots_pulled = 0
        self.requests: list[httpx.Request] = []
        self._tail = b""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.sim.handle(request)
        if not request.url.path.startswith(BULK_RESULTS_PATH):
            return response
        self.requests.append(request)
        drop, self.drop_at = self.drop_at, None  # drop one connection only
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=self.Pieces(self, response, drop))  # fmt: skip

    class Pieces(httpx.SyncByteStream):
        def __init__(self, owner: WatchedResults, response: httpx.Response, drop: int | None):
            self.owner, self.response, self.drop = owner, response, drop

        def __iter__(self) -> Iterator[bytes]:
            sent = 0
            owner = self.owner
            for chunk in self.response.iter_bytes():
                for start in range(0, len(chunk), owner.piece):
                    piece = chunk[start : start + owner.piece]
                    if self.drop is not None and sent + len(piece) > self.drop:
                        raise httpx.ReadError("connection reset by peer")
                    sent += len(piece)
                    # Rows of orders begin with their id; lines are LineItems.
                    seen = owner._tail + piece
                    owner.roots_pulled += seen.count(owner.MARK) - owner._tail.count(owner.MARK)
                    owner._tail = seen[-len(owner.MARK) :]
                    yield piece


def test_the_result_is_streamed_never_held_whole() -> None:
    sim, clock = long_store(customers=5, orders=300, products=4, checkouts=0)
    watched = WatchedResults(sim, piece=256)
    conn = ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=watched,
                            clock=clock, bulk=True)  # fmt: skip
    seen = 0
    ahead = 0
    with conn:
        for _order in conn.iter_orders():
            seen += 1
            # The consumer has the record; the transport has handed over at most the next
            # record's first row (and the piece it is in) beyond it.
            ahead = max(ahead, watched.roots_pulled - seen)
    assert seen == len(truth(sim)["orders"]) > 300
    assert ahead <= 2, ahead  # a few hundred records were never all in memory at once
    assert conn.bulk_stats.bytes > 1000 * 256  # and the file was far larger than a piece
    # The measure can fail: a reader that takes the whole file pulls every row at once.
    (job,) = sim.bulk_operations.values()
    before = watched.roots_pulled
    httpx.Client(transport=watched).get(sim.bulk_operation(job.gid)["url"]).read()
    assert watched.roots_pulled - before == seen


def test_a_dropped_download_resumes_where_it_stopped() -> None:
    sim, clock = long_store(customers=5, orders=120, products=4, checkouts=0)
    watched = WatchedResults(sim, piece=500, drop_at=30_000)
    conn = ShopifyConnector(shop=sim.shop, access_token=sim.token, transport=watched,
                            clock=clock, bulk=True)  # fmt: skip
    with conn:
        ids = [o.external_id for o in conn.iter_orders()]
    assert sorted(ids, key=int) == truth(sim)["orders"]  # none lost, none doubled
    first, again = watched.requests
    assert "Range" not in first.headers
    resumed_at = int(again.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 29_000 < resumed_at <= 30_000  # after the last whole line
    assert conn.bulk_stats.downloads == 2


def test_a_file_that_ends_short_or_is_throttled_is_resumed() -> None:
    # A body cut in half without a transport error (a proxy, a truncated answer) is noticed
    # by its row count against objectCount; a 429 on the file is waited out.
    sim, clock = long_store(customers=5, orders=120, products=4, checkouts=0, faults=[
        MalformedBody(mode="truncate", route=RESULTS, on=1),
        RateLimitBurst(length=1, retry_after=3.0, route=RESULTS, on=2),
    ])  # fmt: skip
    conn = connect(sim, clock, bulk=True)
    with conn:
        ids = [o.external_id for o in conn.iter_orders()]
    assert sorted(ids, key=int) == truth(sim)["orders"]
    statuses = [(e.status, e.faults) for e in sim.log if e.route == RESULTS]
    assert statuses == [(200, ("malformed_body",)), (429, ("rate_limit_burst",)), (206, ())]
    assert 3.0 in clock.sleeps  # the 429's Retry-After


def test_the_access_token_never_goes_to_the_result_host() -> None:
    sim, clock = long_store(customers=5, orders=30, products=2, checkouts=0)
    watched = WatchedResults(sim)
    # Even a caller's client that carries the token on every request does not send it.
    client = httpx.Client(transport=watched, headers={"X-Shopify-Access-Token": sim.token})
    conn = ShopifyConnector(shop=sim.shop, access_token=sim.token, client=client, clock=clock,
                            bulk=True)  # fmt: skip
    with conn:
        assert len(list(conn.iter_orders())) == 32
    (download,) = watched.requests
    assert download.url.host == "storage.googleapis.com" != sim.shop
    assert "X-Shopify-Access-Token" not in download.headers
    assert [e.status for e in sim.log if e.route == RESULTS] == [200]
    # The simulator would have refused it: the check above can fail.
    refused = client.get(str(download.url))
    assert refused.status_code == 400


# -- scope rule -----------------------------------------------------------------------------


def test_the_read_all_orders_rule_applies_to_bulk_reads(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(wall_start=dt.datetime(2024, 10, 2, tzinfo=UTC))
    sim = ShopifySimulator(seed=2, customers=5, orders=80, products=2, checkouts=0, clock=clock,
                           scopes=("read_orders", "read_customers", "read_products"))  # fmt: skip
    strict = connect(sim, clock, bulk=True, require_all_orders=True)
    with strict, pytest.raises(PermissionDeniedError, match="read_all_orders"):
        list(strict.iter_orders())
    assert not logged(sim, "bulkOperationRunQuery")  # refused before any export
    conn = connect(sim, clock, bulk=True)
    with conn:
        ids = [o.external_id for o in conn.iter_orders()]
    horizon = clock.now() - dt.timedelta(days=60)
    recent = {str(r.id) for r in sim.stores["orders"].query() if r.created_at >= horizon}
    assert set(ids) == recent
    assert len(ids) < 80
    assert any("read_all_orders" in w for w in conn.warnings)


# -- the simulator's lifecycle --------------------------------------------------------------


def gql(sim: ShopifySimulator, document: str, **variables: Any) -> Any:
    client = httpx.Client(transport=sim.transport())
    body = {"query": document, "variables": variables}
    assert request_problems(body) == []
    return client.post(f"https://{sim.shop}/admin/api/2026-01/graphql.json", json=body,
                       headers={"X-Shopify-Access-Token": sim.token}).json()  # fmt: skip


def run(sim: ShopifySimulator, document: str) -> dict[str, Any]:
    answer = gql(sim, shopify_bulk.BULK_RUN_MUTATION, query=document)
    return dict(answer["data"]["bulkOperationRunQuery"])


def test_the_simulated_operation_moves_through_its_states_at_the_modelled_rate() -> None:
    sim, clock = long_store(customers=3, orders=200, products=2, checkouts=0, seed=5)
    payload = run(sim, shopify_bulk.bulk_document(Stream.ORDERS))
    op = payload["bulkOperation"]
    assert payload["userErrors"] == []
    assert op["status"] == "CREATED"
    assert op["objectCount"] == "0"
    assert op["url"] is None
    total = sum(1 + len(r.data["line_items"]) for r in sim.stores["orders"].query())
    clock.advance(2.0 + 100 / BULK_EXPORT_RATE)  # queued 2 s, then 100 objects exported
    running = sim.bulk_operation(op["id"])
    assert running["status"] == "RUNNING"
    assert running["objectCount"] == "100"
    assert 0 < int(running["rootObjectCount"]) < 100
    second = run(sim, shopify_bulk.bulk_document(Stream.PRODUCTS))
    assert second["bulkOperation"] is None
    (refusal,) = second["userErrors"]
    assert refusal["code"] == "OPERATION_IN_PROGRESS"
    assert op["id"] in refusal["message"]
    current = gql(sim, shopify_bulk.BULK_CURRENT_QUERY)["data"]["currentBulkOperation"]
    assert current["id"] == op["id"]
    assert current["query"].startswith("query BulkOrders")
    clock.advance(total / BULK_EXPORT_RATE)
    done = sim.bulk_operation(op["id"])
    assert done["status"] == "COMPLETED"
    assert (done["objectCount"], done["rootObjectCount"]) == (str(total), "202")
    assert done["url"].startswith("https://storage.googleapis.com" + BULK_RESULTS_PATH)
    assert done["completedAt"] > done["createdAt"]
    clock.advance(7 * 86400 + 1)
    assert sim.bulk_operation(op["id"])["status"] == "EXPIRED"


def test_a_simulated_cancel_goes_through_canceling() -> None:
    sim, clock = long_store(customers=3, orders=100, products=2, checkouts=0)
    op = run(sim, shopify_bulk.bulk_document(Stream.ORDERS))["bulkOperation"]
    clock.advance(2.5)
    answer = gql(sim, shopify_bulk.BULK_CANCEL_MUTATION, id=op["id"])["data"]["bulkOperationCancel"]
    assert answer["bulkOperation"]["status"] == "CANCELING"
    assert answer["userErrors"] == []
    clock.advance(1.0)
    assert sim.bulk_operation(op["id"])["status"] == "CANCELED"
    again = gql(sim, shopify_bulk.BULK_CANCEL_MUTATION, id=op["id"])["data"]["bulkOperationCancel"]
    assert again["userErrors"][0]["message"].endswith("when it is canceled")


def test_a_simulated_failure_serves_partial_data_cut_mid_record() -> None:
    sim, clock = long_store(customers=3, orders=100, products=2, checkouts=0)
    sim.bulk_failures.append(BulkFailure("INTERNAL_SERVER_ERROR", after_roots=10))
    op = run(sim, shopify_bulk.bulk_document(Stream.ORDERS))["bulkOperation"]
    clock.advance(60)
    failed = sim.bulk_operation(op["id"])
    assert (failed["status"], failed["errorCode"]) == ("FAILED", "INTERNAL_SERVER_ERROR")
    assert failed["rootObjectCount"] == "10"
    assert failed["url"] is None
    content = httpx.Client(transport=sim.transport()).get(failed["partialDataUrl"]).content
    lines = content.split(b"\n")
    assert sum(1 for line in lines[:-1] if b"__parentId" not in line) == 10
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[-1])  # the export stopped mid-line
    clock.advance(8 * 86400)
    assert sim.bulk_operation(op["id"])["partialDataUrl"] is None  # expired with the week


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{ orders { edges { node { id lineItems(first: 5) { edges { node { id } } } } } } }",
         "cannot take first"),
        ('{ node(id: "gid://shopify/Order/1") { id } }', "node and nodes"),
        ("{ shop { name } }", "at least one connection"),
        ("{ shop { name } orders { edges { node { id } } } }", "exactly one top-level"),
        ("query($q: String) { orders(query: $q) { edges { node { id } } } }", "variables"),
        ("{ orders { edges { node { id misspelt } } } }", "Invalid bulk query"),
    ],
)  # fmt: skip
def test_the_simulator_refuses_what_bulk_queries_may_not_do(document: str, message: str) -> None:
    sim, _clock = long_store(customers=1, orders=1, products=1, checkouts=0)
    payload = run(sim, document)
    assert payload["bulkOperation"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "INVALID"
    assert message in error["message"]
    assert not sim.bulk_operations


def test_an_empty_export_has_no_url_and_reads_nothing() -> None:
    sim, clock = long_store(customers=1, orders=0, products=0, checkouts=0)
    sim.stores["orders"] = type(sim.stores["orders"])(clock)
    conn = connect(sim, clock, bulk=True)
    with conn:
        assert list(conn.iter_orders()) == []
    (job,) = sim.bulk_operations.values()
    assert sim.bulk_operation(job.gid)["status"] == "COMPLETED"
    assert sim.bulk_operation(job.gid)["url"] is None
    assert not [e for e in sim.log if e.route == RESULTS]


def test_order_fixtures_round_trip_through_a_bulk_read() -> None:
    # One documented REST-shape order, read by bulk, equals the same order read by page.
    clock = FakeClock(wall_start=dt.datetime(2024, 10, 2, tzinfo=UTC))
    sim = ShopifySimulator(customers=0, orders=0, products=0, checkouts=0, clock=clock)
    sim.add_order(rest_order())
    (paged,) = read_all(connect(sim, clock))["orders"]
    (bulk,) = read_all(connect(sim, clock, bulk=True))["orders"]
    assert bulk == paged


# -- the connector contract, through bulk reads ---------------------------------------------


class BulkHarness(ShopifyHarness):
    """The conformance harness with every read (incremental ones too) a bulk read."""

    def make_connector(
        self, *, valid_credentials: bool = True, on_invalid: InvalidRecordHandler | None = None
    ) -> ShopifyConnector:
        token = self.secret if valid_credentials else "shpat_revoked_" + self.secret[::-1]
        return ShopifyConnector(shop=self.simulator.shop, access_token=token,
                                transport=self.simulator.transport(), clock=self.clock,
                                on_invalid=on_invalid, bulk=BulkOptions(thresholds=0))  # fmt: skip


@pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
def test_conformance_with_bulk_reads(check) -> None:  # type: ignore[no-untyped-def]
    # The faults of the transient-error check (503, 500, a reset, a truncated body) also
    # hit result downloads: retried, resumed, and a short file is noticed by its row count.
    harness = BulkHarness()
    check(harness)
    refusals = ("naive_since", "unsupported", "bad_credentials")
    if not any(word in check.__name__ for word in refusals):
        assert harness.simulator.bulk_operations  # the records did come from exports
