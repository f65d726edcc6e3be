"""Marketing consent of BigCommerce customers, from the Subscribers API.

What BigCommerce says (reference ``subscribers.v3.yml``, guide
``docs/store-operations/customers/index.mdx``): a subscriber's ``consents`` "determines
whether the Subscriber signed up for marketing newsletter emails, abandoned cart emails,
or both. This field can also be empty, meaning they have not subscribed to either (or may
have opted out)". So ``marketing_newsletter`` is a yes, and nothing else is a no.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from bigcommerce_consent_support import check_log

from commerce_connectors.errors import InvalidRecordError
from commerce_connectors.models import Customer
from commerce_connectors.platforms.bigcommerce import (
    BigCommerceConnector,
    parse_customer,
    parse_order,
)
from commerce_connectors.platforms.bigcommerce._subscribers import ConsentLookup, Page
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import consent_from, normalize_email, should_subscribe
from commerce_connectors.sinks import MemorySink
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.simulator import StoredRecord
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

UTC = dt.timezone.utc
CONN = "bigcommerce:q8x2m4"
SUBSCRIBERS = "/stores/{store_hash}/v3/customers/subscribers"
CUSTOMERS = "/stores/{store_hash}/v3/customers"


def customer_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": 57,
        "email": "Begona.Ibanez@Example.com",
        "first_name": "Begoña",
        "date_created": "2024-02-01T10:00:00Z",
        "date_modified": "2024-09-30T23:59:59Z",
        "accepts_product_review_abandoned_cart_emails": True,
    }
    payload.update(changes)
    return payload


def subscriber(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 12,
        "email": "begona.ibanez@example.com",
        "first_name": "Begoña",
        "last_name": "Ibáñez",
        "source": "storefront",
        "order_id": None,
        "channel_id": 1,
        "consents": ["marketing_newsletter"],
        "date_created": "2024-03-01T09:00:00Z",
        "date_modified": "2024-10-02T08:30:00Z",
    }
    record.update(changes)
    return record


def world(
    *, page_size: int = 250, seed: int = 5, **sim: Any
) -> tuple[ConcurrentFakeClock, BigCommerceSimulator, BigCommerceConnector]:
    clock = ConcurrentFakeClock()
    options = {"customers": 60, "orders": 150, "products": 10, "carts": 0, **sim}
    simulator = BigCommerceSimulator(seed=seed, clock=clock, quota=0, **options)
    conn = BigCommerceConnector(
        store_hash=simulator.store_hash,
        access_token=simulator.access_token,
        transport=simulator.transport(),
        clock=clock,
        page_size=page_size,
    )
    return clock, simulator, conn


def requests_by_kind(sim: BigCommerceSimulator) -> collections.Counter[str]:
    kinds: collections.Counter[str] = collections.Counter()
    for entry in sim.log:
        keys = {k for k, _ in entry.query}
        if entry.route == SUBSCRIBERS:
            kinds["subscribers:email" if "email" in keys else "subscribers:list"] += 1
        elif entry.route == CUSTOMERS:
            kinds["customers:email:in" if "email:in" in keys else "customers"] += 1
        else:
            kinds[str(entry.route)] += 1
    return kinds


# ------------------------------------------------------------------- the parser and rule


@pytest.mark.parametrize(
    ("consents", "expected"),
    [
        (["marketing_newsletter"], True),
        (["abandoned_cart", "marketing_newsletter"], True),
        # "can also be empty, meaning they have not subscribed to either (or may have
        # opted out)": not an explicit no.
        ([], None),
        # Abandoned-cart e-mails are not marketing consent.
        (["abandoned_cart"], None),
    ],
)
def test_a_subscribers_consents_decide_yes_or_unknown(
    consents: list[str], expected: bool | None
) -> None:
    customer = parse_customer(
        customer_payload(), subscriber=subscriber(consents=consents), connection_id=CONN
    )
    assert customer.accepts_marketing is expected
    assert customer.extra["subscriber"]["consents"] == tuple(consents)
    consent = consent_from(customer)
    assert consent.value is expected
    assert should_subscribe(consent).subscribe is (expected is True)


def test_no_subscriber_or_no_consents_list_is_unknown_never_no() -> None:
    alone = parse_customer(customer_payload(), connection_id=CONN)
    assert alone.accepts_marketing is None
    assert "subscriber" not in alone.extra
    assert consent_from(alone).value is None
    bare = {k: v for k, v in subscriber().items() if k != "consents"}
    silent = parse_customer(customer_payload(), subscriber=bare, connection_id=CONN)
    assert silent.extra["subscriber"]["consents"] is None
    assert consent_from(silent).value is None


def test_consent_is_dated_by_the_subscriber_and_moves_updated_at() -> None:
    customer = parse_customer(customer_payload(), subscriber=subscriber(), connection_id=CONN)
    consent = consent_from(customer)
    assert consent.at == dt.datetime(2024, 10, 2, 8, 30, tzinfo=UTC)
    assert consent.source == "extra.subscriber.consents[0]"
    # The subscription changed after the profile: the customer record changed then.
    assert customer.updated_at == dt.datetime(2024, 10, 2, 8, 30, tzinfo=UTC)
    older = parse_customer(
        customer_payload(),
        subscriber=subscriber(date_modified="2024-03-01T09:00:00Z"),
        connection_id=CONN,
    )
    assert older.updated_at == dt.datetime(2024, 9, 30, 23, 59, 59, tzinfo=UTC)
    assert consent_from(older).at == dt.datetime(2024, 3, 1, 9, tzinfo=UTC)


def test_a_malformed_subscriber_is_reported_with_its_path() -> None:
    with pytest.raises(InvalidRecordError) as refused:
        parse_customer(
            customer_payload(),
            subscriber=subscriber(consents="marketing_newsletter", date_modified="soon"),
            connection_id=CONN,
        )
    paths = {p.path for p in refused.value.problems}
    assert paths == {"$subscriber.consents", "$subscriber.date_modified"}
    assert refused.value.payload["id"] == 57


def test_the_review_and_cart_flag_is_still_not_consent() -> None:
    customer = parse_customer(
        customer_payload(accepts_product_review_abandoned_cart_emails=True), connection_id=CONN
    )
    assert consent_from(customer).value is None


def test_orders_keep_the_checkout_opt_in_as_an_opt_in() -> None:
    base = {
        "id": 100,
        "customer_id": 57,
        "status_id": 11,
        "date_created": "Wed, 10 Jan 2024 21:05:30 +0000",
        "date_modified": "Wed, 10 Jan 2024 21:05:30 +0000",
        "currency_code": "EUR",
        "total_inc_tax": "10.0000",
        "billing_address": {"email": "begona.ibanez@example.com"},
    }
    ticked = parse_order({**base, "is_email_opt_in": True}, connection_id=CONN)
    unticked = parse_order({**base, "is_email_opt_in": False}, connection_id=CONN)
    assert consent_from(ticked).value is True
    assert consent_from(unticked).value is None


# ------------------------------------------------------------------- the lookup strategy


class FakeList:
    """Subscribers listing and e-mail lookup over a list, counting requests."""

    def __init__(self, records: list[dict[str, Any]], per_page: int) -> None:
        self.records = records
        self.per_page = per_page
        self.pages: list[Mapping[str, Any]] = []
        self.lookups: list[str] = []

    def listing(self, params: Mapping[str, Any]) -> Iterator[Page]:
        rows = self.records
        if "date_modified:min" in params:
            rows = [r for r in rows if r["date_modified"] >= params["date_modified:min"]]
        total_pages = max(1, math.ceil(len(rows) / self.per_page))
        for n in range(total_pages):
            self.pages.append(params)
            chunk = rows[n * self.per_page : (n + 1) * self.per_page]
            yield chunk, {"total": len(rows), "total_pages": total_pages}

    def by_email(self, email: str) -> list[Any]:
        self.lookups.append(email)
        return [r for r in self.records if r["email"].lower() == email.lower()]


def fake_subscribers(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "email": f"s{i}@example.com",
            "consents": ["marketing_newsletter"] if i % 2 else [],
            "date_modified": f"2024-0{1 + i % 9}-01T00:00:00",
        }
        for i in range(n)
    ]


def lookup_for(fake: FakeList, since: dt.datetime | None = None) -> ConsentLookup:
    return ConsentLookup(
        listing=fake.listing,  # type: ignore[arg-type]
        by_email=fake.by_email,
        page_size=fake.per_page,
        since=since,
        since_param=since.replace(tzinfo=None).isoformat() if since else None,
    )


def test_the_whole_list_is_read_when_it_costs_no_more_than_looking_up_each_customer() -> None:
    fake = FakeList(fake_subscribers(95), per_page=10)  # 10 pages
    lookup = lookup_for(fake)
    lookup.prepare(total_customers=9)  # 9 more pages vs 9 look-ups: read the list
    assert lookup.mode == "full"
    assert len(fake.pages) == 10
    found = lookup.for_emails(["S3@Example.com", "s4@example.com", "nobody@example.com"])
    assert sorted(found) == ["s3@example.com", "s4@example.com"]
    assert fake.lookups == []


def test_each_customer_is_looked_up_once_when_the_list_is_longer() -> None:
    fake = FakeList(fake_subscribers(95), per_page=10)
    lookup = lookup_for(fake)
    lookup.prepare(total_customers=3)
    assert lookup.mode == "per_email"
    assert len(fake.pages) == 1  # the first page only: it says how long the list is
    found = lookup.for_emails(["s2@example.com", "s42@example.com", "x@example.com"])
    found_again = lookup.for_emails(["S42@example.com", "x@example.com"])
    assert sorted(found) == ["s2@example.com", "s42@example.com"]  # s2 was on page 1
    assert sorted(found_again) == ["s42@example.com"]
    assert fake.lookups == ["s42@example.com", "x@example.com"]  # never twice


def test_one_customer_costs_one_lookup_and_incremental_reads_the_changed_subscribers() -> None:
    fake = FakeList(fake_subscribers(95), per_page=10)
    since = dt.datetime(2024, 9, 1, tzinfo=UTC)
    lookup = lookup_for(fake, since)
    lookup.prepare(total_customers=1)
    assert lookup.mode == "per_email"
    assert [p.get("date_modified:min") for p in fake.pages] == ["2024-09-01T00:00:00"]
    changed = lookup.changed_since(since)
    assert {r["email"] for r in changed} == {f"s{i}@example.com" for i in range(8, 95, 9)}
    lookup.for_emails(["s8@example.com"])  # known from the changed list
    assert fake.lookups == []


# ------------------------------------------------------------------- connector and simulator


def registered(sim: BigCommerceSimulator) -> list[StoredRecord]:
    return sim.customers.query(sort="id")


def test_a_historical_pass_reads_the_list_once_and_matches_the_store() -> None:
    _, sim, conn = world(customers=80, orders=200, page_size=50)
    with conn:
        customers = {c.external_id: c for c in conn.iter_customers()}
    assert len(customers) == len(sim.customers)
    truth = {str(r.id): sim.expected_consent(r.id) for r in registered(sim)}
    assert {k: c.accepts_marketing for k, c in customers.items()} == truth
    # The seeded store has every case: yes, no consent left, cart e-mails only, no
    # subscriber at all.
    consents = [
        tuple(s.data["consents"]) if (s := sim.subscriber_for(r.data["email"])) else None
        for r in registered(sim)
    ]
    assert {("marketing_newsletter",), (), ("abandoned_cart",), None} <= set(consents)
    assert all(c.accepts_marketing is not False for c in customers.values())
    kinds_of_requests = requests_by_kind(sim)
    assert kinds_of_requests == {
        "customers": math.ceil(len(sim.customers) / 50),
        "subscribers:list": math.ceil(len(sim.subscribers) / 50),
    }
    assert check_log(sim.log) == []


def test_guests_on_the_list_are_not_customers() -> None:
    _, sim, conn = world(customers=40, orders=150)
    accounts = {normalize_email(r.data["email"]).value for r in registered(sim)}
    guests = {
        normalize_email(s.data["email"]).value
        for s in sim.subscribers.query()
        if s.data["source"] == "order"
        and sim.orders.get(s.data["order_id"]).data["customer_id"] == 0  # type: ignore[union-attr]
    }
    # Seeded: guests who ticked the checkout box, some without an account.
    assert guests - accounts
    with conn:
        customers = list(conn.iter_customers())
    assert len(customers) == len(sim.customers)
    assert not {normalize_email(c.email).value for c in customers} & (guests - accounts)


def test_an_incremental_pass_on_a_long_list_looks_up_only_the_changed_customers() -> None:
    clock, sim, conn = world(customers=120, orders=300, page_size=10)
    clock.advance(7 * 86400)
    since = clock.now()
    clock.advance(60)
    changed = [r for r in registered(sim) if sim.subscriber_for(r.data["email"])][:3]
    for record in changed:
        sim.update_customer(record.id, {"company": "Edited Ltd"})
    sim.log.reset()
    with conn:
        got = {c.external_id: c for c in conn.iter_customers(since=since)}
    assert set(got) == {str(r.id) for r in changed}
    assert {k: c.accepts_marketing for k, c in got.items()} == {
        str(r.id): sim.expected_consent(r.id) for r in changed
    }
    kinds = requests_by_kind(sim)
    # The first page of the list (to learn its length), the subscribers modified since,
    # and at most one look-up per changed customer: far fewer than the list's pages.
    assert kinds["subscribers:list"] == 2
    assert kinds["subscribers:email"] <= len(changed)
    assert kinds["subscribers:list"] + kinds["subscribers:email"] < len(sim.subscribers) / 10
    assert check_log(sim.log) == []


@pytest.mark.parametrize("page_size", [250, 5], ids=["whole-list", "per-email"])
def test_a_consent_change_alone_reaches_the_incremental_pass(page_size: int) -> None:
    clock, sim, conn = world(customers=60, orders=150, page_size=page_size)
    people = registered(sim)
    newcomer = next(r for r in people if sim.subscriber_for(r.data["email"]) is None)
    leaver = next(r for r in people if sim.expected_consent(r.id))
    stranger_email = "only.the.newsletter@example.org"
    clock.advance(7 * 86400)
    since = clock.now()
    clock.advance(60)
    sim.add_subscriber(newcomer.data["email"].upper(), created_at=clock.now())
    left = sim.subscriber_for(leaver.data["email"])
    assert left is not None
    sim.update_subscriber(left.id, {"consents": []})
    sim.add_subscriber(stranger_email)
    sim.log.reset()
    with conn:
        got = {c.external_id: c for c in conn.iter_customers(since=since)}
    # Neither customer changed; their subscriptions did.
    assert set(got) == {str(newcomer.id), str(leaver.id)}
    assert got[str(newcomer.id)].accepts_marketing is True
    assert got[str(newcomer.id)].updated_at == clock.now().replace(microsecond=0)
    assert got[str(leaver.id)].accepts_marketing is None  # unsubscribed: unknown, not "no"
    assert got[str(leaver.id)].extra["subscriber"]["consents"] == ()
    assert requests_by_kind(sim)["customers:email:in"] == 1
    assert check_log(sim.log) == []


def test_dropping_the_subscribers_call_loses_every_consent() -> None:
    _, sim, conn = world()
    truth = {str(r.id): sim.expected_consent(r.id) for r in registered(sim)}
    assert any(truth.values())
    with conn:
        read = {c.external_id: c.accepts_marketing for c in conn.iter_customers()}
    assert read == truth
    assert requests_by_kind(sim)["subscribers:list"] >= 1
    _, same, _ = world()
    with BigCommerceConnector(
        store_hash=same.store_hash,
        access_token=same.access_token,
        transport=same.transport(),
        read_subscribers=False,
    ) as blind:
        unread = {c.external_id: c.accepts_marketing for c in blind.iter_customers()}
    # Without the call nobody has consent: the comparison above would fail.
    assert set(unread.values()) == {None}
    assert unread != truth
    assert "subscribers:list" not in requests_by_kind(same)


def test_the_request_budget_per_thousand_customers() -> None:
    """Historical: one request per page of subscribers on top of the customer pages."""
    figures: dict[str, int] = {}
    for read in (False, True):
        _, sim, _ = world(customers=1000, orders=0, seed=9)
        with BigCommerceConnector(
            store_hash=sim.store_hash,
            access_token=sim.access_token,
            transport=sim.transport(),
            read_subscribers=read,
        ) as conn:
            assert sum(1 for _ in conn.iter_customers()) == 1000
        figures[str(read)] = len(sim.log)
    assert figures["False"] == 4
    assert figures["True"] == 4 + math.ceil(len(sim.subscribers) / 250)
    assert figures["True"] <= 2 * figures["False"]


# ------------------------------------------------------------------- end to end


def test_a_sync_gives_registered_customers_contacts_their_consent() -> None:
    clock, sim, conn = world(customers=50, orders=120)
    sink = MemorySink()
    engine = SyncEngine(conn, sink, MemoryStateStore(), clock=clock)
    report = engine.run("historical")
    assert report.ok
    contacts = sink.contacts()
    by_key: dict[str, set[bool | None]] = collections.defaultdict(set)
    for record in registered(sim):
        key = normalize_email(record.data["email"]).value
        if key is not None:
            by_key[key].add(sim.expected_consent(record.id))
    ticked = {
        normalize_email(sim.customers.get(o.data["customer_id"]).data["email"]).value  # type: ignore[union-attr]
        for o in sim.orders
        if o.data["customer_id"] and o.data["is_email_opt_in"] and o.data["status_id"] != 0
    }
    subscribed = {k for k, values in by_key.items() if True in values}
    assert subscribed  # seeded
    for key in by_key:
        contact = contacts[key]
        if key in subscribed:
            assert contact.accepts_marketing is True, key
            assert should_subscribe(contact.accepts_marketing).subscribe
        elif key not in ticked:
            assert contact.accepts_marketing is None, key
        assert contact.accepts_marketing is not False
    # Guests are not synced, even when they are on the newsletter list.
    assert set(contacts) <= set(by_key)
    # The consent's time is the subscriber's date_modified (or a later order's opt-in).
    for key in subscribed - ticked:
        found = [s for s in sim.subscribers if normalize_email(s.data["email"]).value == key]
        assert contacts[key].consent_at == found[0].updated_at

    # A customer who subscribes later is updated by the next incremental sync.
    newcomer = next(k for k in by_key if k not in subscribed and k not in ticked)
    clock.advance(3600)
    sim.add_subscriber(newcomer, created_at=clock.now())
    clock.advance(60)
    again = engine.run()
    conn.close()
    assert again.ok
    assert again.stream(Stream.CUSTOMERS).read == 1
    assert sink.contacts()[newcomer].accepts_marketing is True


def test_customer_records_carry_the_evidence_for_field_maps() -> None:
    _, sim, conn = world()
    with conn:
        customers: list[Customer] = list(conn.iter_customers())
    with_evidence = [c for c in customers if "subscriber" in c.extra]
    assert with_evidence
    for customer in with_evidence:
        evidence = customer.extra["subscriber"]
        stored = sim.subscribers.get(int(evidence["id"]))
        assert stored is not None
        assert evidence["consents"] == tuple(stored.data["consents"])
        assert evidence["source"] == stored.data["source"]
        assert evidence["date_modified"] == stored.updated_at.isoformat()
