"""Each platform's simulated shop, end to end into a simulated ActiveCampaign account.

Per platform: a seeded simulator shop → ``SyncEngine`` (historical, the historical
sync run again as after a restart, then an incremental sync after shop activity, then
real-time data through the webhook inbox and worker) → ``ActiveCampaignSink`` →
``ActiveCampaignSimulator``, all on one fake clock so the account's 5 requests per
second cost no real time. The account is then compared with the **shop's own data**
(the simulator's stores, not what our parsers made of them) and with the help pages'
field tables (``shared/seeds``):

* amounts in the currency's minor units, converted here with a table of ISO 4217
  exponents (EUR/USD/ARS 2, JPY 0, KWD 3), never through the library's money code;
* one connection per store (per location for Square) named as the store;
* who becomes a contact (Shopify: customers and guests; BigCommerce: never a guest
  checkout unless the guest is a contact already, always the tag
  ``bigcommerce-customer``; Square: never a customer without an email; Tiendanube:
  shoppers of abandoned checkouts), names, phone (the customer's, else the default
  address's), the store's tags, company → account, and the list only for an explicit
  yes;
* orders of every status, with the field tables' number, total, currency, date,
  shipping method, discount code, link back to the shop, and products (id, name,
  category, SKU, quantity, price, description, image);
* ``source`` (0 historical, 1 real time): history is 0 except orders placed within
  the 24 hours before the historical sync (the Square page's rule, which the design
  makes every platform's); BigCommerce history is never 1, not even an hour-old
  order; incremental orders and real-time data are 1;
* a record ActiveCampaign cannot take as it is (a BigCommerce total with a fraction
  of a cent) is dead-lettered with the reason, never dropped;
* abandoned carts as ActiveCampaign's guide wants them (``externalcheckoutid``,
  ``abandonedDate``, the recovery URL as ``orderUrl``), and a cart that becomes an
  order stays one object ("recovered");
* running the historical sync twice creates nothing twice.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import phonenumbers

from commerce_connectors.clock import Clock, FakeClock
from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.platforms.shopify import ShopifyConnector
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.protocols import Stream
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink, activecampaign_limiter
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)
from commerce_connectors.testing.simulators.shopify import ShopifySimulator
from commerce_connectors.testing.simulators.square import SquareSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import WebhookEndpoint, WebhookReceiver, WebhookWorker

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
#: Accounts made since 2024-01-08 add consenting contacts to this list (the help pages).
LIST = "Master Contact List"
#: ISO 4217 minor-unit exponents of the currencies the shops below sell in.
EXPONENTS = {"USD": 2, "EUR": 2, "ARS": 2, "JPY": 0, "KWD": 3}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# ---------------------------------------------------------------------------- helpers


def minor(amount: Any, currency: str, *, rounded: bool = False) -> int:
    """``amount`` in minor units, from the ISO exponent table.

    An inexact amount fails here unless ``rounded`` (half-to-even, what the sink does
    with BigCommerce's four-decimal amounts).
    """
    scaled = Decimal(str(amount)).scaleb(EXPONENTS[currency])
    if rounded:
        return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))
    assert scaled == scaled.to_integral_value(), f"{amount} {currency} is not whole minor units"
    return int(scaled)


def email_of(value: Any) -> str | None:
    """An address as a CRM keys it (trimmed, lower case), or ``None`` if it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text if _EMAIL.match(text) else None


def instant(value: Any) -> dt.datetime:
    """An ISO 8601 date with offset (ActiveCampaign's or a shop's) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).replace(microsecond=0)
    text = str(value).replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):  # Tiendanube's offsets have no colon
        text = text[:-2] + ":" + text[-2:]
    return dt.datetime.fromisoformat(text).astimezone(UTC).replace(microsecond=0)


def e164(phone: Any, country: str | None) -> str | None:
    """A valid number in E.164 (read with Google's libphonenumber), else ``None``."""
    if not isinstance(phone, str) or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def new_sink(ac: ActiveCampaignSimulator, clock: Clock, **options: Any) -> ActiveCampaignSink:
    return ActiveCampaignSink(
        api_url=ac.api_url,
        api_token=ac.token,
        transport=ac.transport(),
        clock=clock,
        list_name=LIST,
        **options,
    )


def assert_no_duplicates(ac: ActiveCampaignSimulator) -> None:
    """One connection per store, ecomCustomer per (store, email), order/cart per id, contact
    per email, tag per name, tagging per (contact, tag), membership per (contact, list)."""

    def dupes(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [k for k, n in collections.Counter(rows).items() if n > 1]

    orders = ac.records("ecomOrders")
    assert not dupes((c["service"], c["externalid"]) for c in ac.records("connections"))
    assert not dupes((c["connectionid"], c["email"]) for c in ac.records("ecomCustomers"))
    assert not dupes((c["connectionid"], c["externalid"]) for c in ac.records("ecomCustomers"))
    assert not dupes((o["connectionid"], o["externalid"]) for o in orders if o.get("externalid"))
    assert not dupes(
        (o["connectionid"], o["externalcheckoutid"]) for o in orders if o.get("externalcheckoutid")
    )
    assert not dupes((c["email"].lower(),) for c in ac.records("contacts"))
    assert not dupes((t["tag"].casefold(),) for t in ac.records("tags"))
    assert not dupes((t["contact"], t["tag"]) for t in ac.records("contactTags"))
    assert not dupes((m["contact"], m["list"]) for m in ac.records("contactLists"))
    assert not dupes((a["name"].casefold(),) for a in ac.records("accounts"))
    assert not dupes((a["contact"],) for a in ac.records("accountContacts"))


def run_historical_twice(
    engine: SyncEngine, ac: ActiveCampaignSimulator, clock: FakeClock
) -> dict[str, Any]:
    """The historical sync, then again from a restarted process (a new sink and state,
    as the "restart" button): the account must not change. Returns its snapshot."""
    report = engine.run("historical")
    assert report.ok, report.summary()
    assert ac.rate_limited == 0  # paced under 5 requests per second
    stored = ac.snapshot()
    assert_no_duplicates(ac)
    clock.advance(1.0)  # a new process's pacer knows nothing of the last second
    again = SyncEngine(
        engine.connector, new_sink(ac, clock), MemoryStateStore(), clock=engine.clock
    ).run("historical")
    assert again.ok, again.summary()
    assert again.totals()["new"] == 0
    assert ac.snapshot() == stored
    assert_no_duplicates(ac)
    assert ac.rate_limited == 0
    clock.advance(1.0)  # and the other process's pacer knows nothing of this one's
    return stored


def orders_of(ac: ActiveCampaignSimulator, connection_id: str) -> dict[str, dict[str, Any]]:
    """The connection's orders (not carts) by their ``externalid``."""
    return {o["externalid"]: o for o in ac.orders(connection_id) if o.get("externalid")}


def carts_of(ac: ActiveCampaignSimulator, connection_id: str) -> dict[str, dict[str, Any]]:
    """The connection's carts by ``externalcheckoutid`` (a recovered one included)."""
    return {
        o["externalcheckoutid"]: o for o in ac.orders(connection_id) if o.get("externalcheckoutid")
    }


def contacts(ac: ActiveCampaignSimulator) -> dict[str, dict[str, Any]]:
    """Every contact with its tags, lists and account, by lower-case email."""
    out = {}
    for row in ac.records("contacts"):
        view = ac.contact(row["email"])
        assert view is not None
        out[row["email"].lower()] = view
    return out


def customer_emails(ac: ActiveCampaignSimulator, connection_id: str) -> set[str]:
    conn = ac.connection(connection_id)
    assert conn is not None
    return {
        c["email"].lower() for c in ac.records("ecomCustomers") if c["connectionid"] == conn["id"]
    }


def on_list(view: Mapping[str, Any]) -> bool:
    return view["lists"].get(LIST) == 1


def check_lines(row: Mapping[str, Any], expected: list[dict[str, Any]]) -> None:
    """The order's products, in order: each a dict of the fields that must match."""
    lines = row["lines"]
    assert len(lines) == len(expected), row["externalid"] or row["externalcheckoutid"]
    for got, want in zip(lines, expected, strict=True):
        for field, value in want.items():
            assert got.get(field) == value, (field, got, want)


class InProcessHooks:
    """A shop's signed deliveries handed to the receiver in-process, as a tunnel would."""

    def __init__(self) -> None:
        self.receiver: WebhookReceiver | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._deliver)

    def _deliver(self, request: httpx.Request) -> httpx.Response:
        assert self.receiver is not None, "a delivery before the receiver was set up"
        ack = self.receiver.handle(request.headers.raw, request.content, str(request.url))
        return httpx.Response(ack.status, json=dict(ack.body))

    def worker(self, engine: SyncEngine, secret: str, url: str) -> WebhookWorker:
        """Receive the engine's connection's events; return the worker that applies them."""
        conn: Any = engine.connector
        state: Any = engine.state
        endpoint = WebhookEndpoint(
            conn.connection_id, conn.platform, secret, url=url, owns=conn.owns_event
        )
        self.receiver = WebhookReceiver(state, [endpoint], clock=engine.clock)
        return WebhookWorker(state, [engine], clock=engine.clock)


def deliver(outbox: Any, worker: WebhookWorker) -> None:
    results = outbox.flush()
    assert results, "the shop delivered nothing"
    assert all(r.status == 200 for r in results), [(r.topic, r.status) for r in results]
    report = worker.drain()
    assert report.failed == 0, report


# ---------------------------------------------------------------------------- Shopify


def shopify_expected_lines(sim: ShopifySimulator, raw: Mapping[str, Any], currency: str) -> list:
    lines = []
    for line in raw["line_items"]:
        product = sim.stores["products"].get(int(line["product_id"]))
        assert product is not None
        lines.append(
            {
                "externalid": str(line["product_id"]),  # "ID du produit"
                "name": line["title"],  # "Titre du produit → Nom du produit"
                "price": minor(line["price"], currency),  # "Prix du produit"
                "quantity": int(line["quantity"]),  # "Quantité de produit"
                "category": product.data["product_type"],  # "Type de produit → Catégorie"
                "sku": line["sku"],
                "description": product.data["body_html"],  # "Description du produit"
                "imageUrl": product.data["image"]["src"],  # "Image du produit"
            }
        )
    return lines


def test_shopify_store_into_activecampaign() -> None:
    start = dt.datetime(2024, 10, 1, tzinfo=UTC)  # the simulator's history ends here
    clock = FakeClock(wall_start=start)
    hooks = InProcessHooks()
    sim = ShopifySimulator(
        seed=31,
        customers=24,
        orders=48,
        products=8,
        checkouts=8,
        guest_share=0.25,
        shop="maison-lea.myshopify.com",
        shop_name="Maison Léa",
        currency="EUR",
        clock=clock,
        webhook_transport=hooks.transport(),
    )
    people = [p for p in sim.stores["customers"].query(sort="id") if email_of(p.data["email"])]
    # The help page's phone rule: no phone on the customer, so the default address's.
    sian = sim.add_customer(
        {
            "first_name": "Siân",
            "last_name": "Ó Briain",
            "email": "Sian.OBriain@Example.ie ",
            "phone": None,
            "state": "enabled",
            "tags": "newsletter, fidélité",
            "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
            "default_address": {
                "first_name": "Siân",
                "last_name": "Ó Briain",
                "company": "Muileann Teoranta",
                "city": "Gaillimh",
                "country_code": "IE",
                "phone": "+353 91 123 456",
                "default": True,
            },
            "created_at": (start - 400 * HOUR).isoformat(),
        }
    )

    def place(buyer: Any, at: dt.datetime, name: str) -> int:
        template = sim.rest("orders", sim.stores["orders"].query(sort="id")[3])
        del template["id"]
        template.update(
            name=name,
            email=None,
            customer=sim.rest("customers", buyer),
            created_at=at.isoformat(),
            updated_at=at.isoformat(),
            financial_status="paid",
            cancelled_at=None,
        )
        return sim.add_order(template).id

    recent = place(sian, start - 2 * HOUR, "#2001")  # within the 24 h: fires
    older = place(people[1], start - 30 * HOUR, "#2002")  # before them: quiet
    conn = ShopifyConnector(
        shop=sim.shop, access_token=sim.token, transport=sim.transport(), clock=clock
    )
    ac = ActiveCampaignSimulator(clock=clock)
    engine = SyncEngine(conn, new_sink(ac, clock), MemoryStateStore(), clock=clock)
    run_historical_twice(engine, ac, clock)
    conn_id = conn.connection_id
    connection = ac.connection(conn_id)
    assert connection is not None
    assert connection["name"] == "Maison Léa"  # "Nom du magasin"

    orders = orders_of(ac, conn_id)
    by_email = contacts(ac)
    for record in sim.stores["orders"].query(sort="id"):
        raw = sim.rest("orders", record)
        buyer = raw.get("customer") or {}
        email = email_of(buyer.get("email")) or email_of(raw.get("email"))
        row = orders.get(str(record.id))
        if email is None:  # nothing to key a contact on
            assert row is None
            continue
        assert row is not None, f"order {record.id} ({raw['financial_status']}) is missing"
        assert email in by_email  # logged-in customers and guests alike
        assert row["email"] == email
        assert row["orderNumber"] == raw["name"]  # "Numéro de commande"
        assert row["currency"] == raw["currency"] == "EUR"
        assert row["totalPrice"] == minor(raw["total_price"], "EUR")  # "Total de la commande"
        assert instant(row["externalCreatedDate"]) == instant(record.created_at)  # "Date"
        assert str(record.id) in row["orderUrl"]  # links back to the order in the shop
        assert row["orderUrl"].startswith(f"https://{sim.shop}/")
        assert row["shippingMethod"] == raw["shipping_lines"][0]["title"]  # "Méthode d'exp."
        codes = [c["code"] for c in raw["discount_codes"]]
        if codes:  # "Code de réduction et prix réduit"
            assert [d["name"] for d in row["discounts"]] == codes
            assert row["discountAmount"] == minor(raw["total_discounts"], "EUR")
        check_lines(row, shopify_expected_lines(sim, raw, "EUR"))
        assert row["state"] == 1  # an order ("terminée"), whatever its payment status
        placed = instant(record.created_at)
        assert row["source"] == ("1" if placed >= start - 24 * HOUR else "0"), record.id
    assert orders[str(recent)]["source"] == "1"
    assert orders[str(older)]["source"] == "0"
    synced = [sim.rest("orders", int(oid)) for oid in orders]
    statuses = {raw["financial_status"] for raw in synced}
    assert {"paid", "pending", "refunded", "voided", "partially_refunded"} <= statuses
    assert any(raw["customer"] is None for raw in synced)  # guests' orders too

    # Contacts: the field table (first/last name, email, company → account, phone),
    # the store's tags, and the list only for an explicit yes.
    said: dict[str, set[bool]] = collections.defaultdict(set)
    for record in sim.stores["customers"].query():
        state = (record.data.get("email_marketing_consent") or {}).get("state")
        email = email_of(record.data.get("email"))
        if email is not None and state in ("subscribed", "not_subscribed", "unsubscribed"):
            said[email].add(state == "subscribed")
    for record in sim.stores["orders"].query():
        raw = sim.rest("orders", record)
        if raw.get("customer") is None and raw.get("buyer_accepts_marketing") is True:
            email = email_of(raw.get("email"))
            if email is not None:
                said[email].add(True)  # a guest ticked the box at checkout
    shoppers = {email_of(r.data.get("email")) for r in sim.stores["customers"].query()}
    for record in sim.stores["orders"].query():
        raw = sim.rest("orders", record)
        shoppers.add(email_of((raw.get("customer") or {}).get("email")) or email_of(raw["email"]))
    assert set(by_email) == shoppers - {None}  # customers, with or without orders, and guests
    store_tags: dict[str, set[str]] = collections.defaultdict(set)
    for record in sim.stores["customers"].query():
        email = email_of(record.data.get("email"))
        if email is None:
            continue
        view = by_email[email]
        data = record.data
        assert (view["firstName"], view["lastName"]) == (data["first_name"], data["last_name"])
        tags = {t.strip() for t in (data.get("tags") or "").split(",") if t.strip()}
        assert tags <= set(view["tags"])  # "Balises de boutique Shopify"
        store_tags[email] |= tags
        company = (data.get("default_address") or {}).get("company")
        if company:
            assert view["account"] == company  # "Compagnie → Compte"
        address = data.get("default_address") or {}
        own, fallback = (
            e164(p, address.get("country_code")) for p in (data.get("phone"), address.get("phone"))
        )
        if own is not None:  # "the phone on the customer record" first …
            assert view["phone"] == own, email
        elif view["phone"]:  # … then the default address's; never an invented one
            assert view["phone"] == fallback, email
    for email, view in by_email.items():
        assert set(view["tags"]) == store_tags[email]  # the store's tags, and only those
        if on_list(view):  # nobody without an explicit yes
            assert True in said.get(email, set()), f"{email} subscribed without a yes"
        if said.get(email) == {True}:
            assert on_list(view), email
    sian_view = by_email["sian.obriain@example.ie"]
    assert sian_view["phone"] == "+35391123456"  # the default address's, in E.164
    assert sian_view["account"] == "Muileann Teoranta"
    assert {"newsletter", "fidélité"} <= set(sian_view["tags"])
    assert on_list(sian_view)

    # Abandoned checkouts: "Chariots abandonnés", never firing from history.
    carts = carts_of(ac, conn_id)
    for record in sim.stores["checkouts"].query():
        raw = sim.rest("checkouts", record)
        # The Admin API's AbandonedCheckout has no email of its own: only its customer's.
        email = email_of((raw.get("customer") or {}).get("email"))
        row = carts.get(str(record.id))
        if email is None or raw.get("completed_at"):
            assert row is None
            continue
        assert row is not None
        assert (row["state"], row["source"]) == (2, "0")
        assert row["orderUrl"] == raw["abandoned_checkout_url"]  # the recovery link
        assert instant(row["abandonedDate"]) == instant(record.updated_at)
        assert row["totalPrice"] == minor(raw["total_price"], "EUR")
        assert not row.get("externalid")
    assert carts

    # The shop takes an order half an hour later: the incremental sync makes it fire.
    clock.advance(1800)
    fresh = place(people[2], clock.now(), "#2003")
    refunded = next(int(oid) for oid in orders if oid != str(recent))
    sim.refund_order(refunded)
    report = engine.run("incremental")
    assert report.ok, report.summary()
    orders = orders_of(ac, conn_id)
    assert orders[str(fresh)]["source"] == "1"
    # The refund since the last sync reached the order, which keeps its source.
    assert orders[str(refunded)]["source"] == "0"
    changed = sim.stores["orders"].get(refunded)
    assert changed is not None
    assert instant(orders[str(refunded)]["externalUpdatedDate"]) == instant(changed.updated_at)
    assert changed.updated_at > start

    # Real time: a checkout is abandoned now; six hours later the worker writes it,
    # firing "abandons cart" (source 1).
    url = f"https://hooks.example.com/webhooks/shopify/{sim.shop}"
    worker = hooks.worker(engine, sim.client_secret, url)
    conn.ensure_webhooks(url, ["orders/create", "checkouts/create", "checkouts/update"])
    buyer = sim.rest("customers", people[4])
    checkout = sim.rest("checkouts", sim.stores["checkouts"].query(sort="id")[0])
    del checkout["id"]
    checkout.update(
        email=buyer["email"],
        customer=buyer,
        created_at=clock.now().isoformat(),
        updated_at=clock.now().isoformat(),
        completed_at=None,
    )
    cart = sim.add_checkout(checkout)
    live = place(people[5], clock.now(), "#2004")
    deliver(sim.webhooks, worker)
    assert orders_of(ac, conn_id)[str(live)]["source"] == "1"
    assert str(cart.id) not in carts_of(ac, conn_id)  # not abandoned yet
    clock.advance(6 * 3600 + 60)
    worker.drain()
    row = carts_of(ac, conn_id)[str(cart.id)]
    assert (row["state"], row["source"]) == (2, "1")
    assert_no_duplicates(ac)


# ---------------------------------------------------------------------------- BigCommerce


def bigcommerce_inexact(sim: BigCommerceSimulator, raw: Mapping[str, Any], order_id: int) -> bool:
    """Whether an order carries an amount finer than a cent (BigCommerce writes four decimals)."""
    amounts = [raw["total_inc_tax"], raw["shipping_cost_inc_tax"], raw["total_tax"]]
    amounts.append(Decimal(raw["coupon_discount"]) + Decimal(raw["discount_amount"]))
    amounts += [line["price_inc_tax"] for line in sim.order_products[order_id]]
    return any(Decimal(str(a)) != Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts)


def test_bigcommerce_store_into_activecampaign() -> None:
    start = dt.datetime(2024, 10, 1, tzinfo=UTC)  # the simulator's history ends here
    clock = ConcurrentFakeClock(wall_start=start)
    hooks = InProcessHooks()
    sim = BigCommerceSimulator(
        seed=32,
        customers=24,
        orders=60,
        products=8,
        carts=0,
        guest_share=0.25,
        clock=clock,
        webhook_transport=hooks.transport(),
    )
    people = [p for p in sim.customers.query(sort="id") if email_of(p.data["email"])]
    catalogue = sim.products.query(sort="id")
    # Placed an hour before the historical sync: BigCommerce still does not fire for it.
    hour_old = sim.add_order(
        buyer=people[0], catalogue=catalogue[:1], status_id=11, created_at=start - HOUR
    ).id
    # A guest checkout by someone who has an account, typing the address in capitals:
    # "every order placed by contacts who already exist in ActiveCampaign" is synced.
    known_guest = sim.add_order(catalogue=catalogue[:1], status_id=10, created_at=start - 72 * HOUR)
    billing = {**known_guest.data["billing_address"], "email": people[5].data["email"].upper()}
    sim.orders.update(
        known_guest.id, {"billing_address": billing}, updated_at=known_guest.updated_at
    )
    conn = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        concurrency=1,
    )
    ac = ActiveCampaignSimulator(clock=clock)
    state = MemoryStateStore()
    engine = SyncEngine(conn, new_sink(ac, clock), state, clock=clock)
    run_historical_twice(engine, ac, clock)
    conn_id = conn.connection_id
    connection = ac.connection(conn_id)
    assert connection is not None
    assert connection["name"] == conn.store_info()["name"]  # the store's name
    registered = {email_of(p.data["email"]) for p in sim.customers.query()} - {None}
    by_email = contacts(ac)
    # Contacts: every registered customer (with or without orders, whatever their
    # consent), tagged "bigcommerce-customer"; no guest checkout is synced.
    assert set(by_email) == registered
    for record in sim.customers.query():
        email = email_of(record.data["email"])
        if email is None:
            continue
        view = by_email[email]
        assert "bigcommerce-customer" in view["tags"]
        assert (view["firstName"], view["lastName"]) == (
            record.data["first_name"],
            record.data["last_name"],
        )  # "Nombre / Apellido del cliente"
        if record.data["company"]:
            assert view["account"] == record.data["company"]

    orders = orders_of(ac, conn_id)
    letters = {d.record_id: d for d in state.dead_letters(conn_id) if d.kind == "order"}
    yes: set[str] = set()
    for record in sim.orders.query(sort="id"):
        raw, oid = record.data, str(record.id)
        email = email_of(raw["billing_address"]["email"])
        row = orders.get(oid)
        if raw["status_id"] == 0 or email is None:  # an incomplete order; no email to key on
            assert row is None
            continue
        if raw["customer_id"] == 0 and email not in registered:
            assert row is None, f"guest order {oid} was synced"  # "no sincroniza invitados"
            continue
        if raw["customer_id"] != 0 and raw["is_email_opt_in"]:
            yes.add(email)  # the checkout's newsletter box
        assert row is not None, oid  # four-decimal amounts are rounded, never refused
        assert oid not in letters
        currency = raw["currency_code"]
        assert row["currency"] == currency  # "Divisa de la orden"
        total = minor(raw["total_inc_tax"], currency, rounded=True)
        assert row["totalPrice"] == total  # "Total del pedido"
        assert row["orderNumber"] == oid
        assert instant(row["externalCreatedDate"]) == instant(record.created_at)
        shipping = sim.order_shipping[record.id]
        if shipping:  # "Método de envío de la orden"
            assert row["shippingMethod"] == shipping[0]["shipping_method"]
        coupons = [c["code"] for c in sim.order_coupons[record.id]]
        if coupons:
            assert [d["name"] for d in row["discounts"]] == coupons
        expected = []
        for line in sim.order_products[record.id]:
            product = sim.products.get(line["product_id"])
            assert product is not None
            expected.append(
                {
                    "externalid": str(line["product_id"]),  # "ID del producto"
                    "name": line["name"],  # "Nombre del producto"
                    "price": minor(line["price_inc_tax"], currency, rounded=True),
                    "quantity": line["quantity"],
                    "sku": line["sku"],
                }
            )
            names = [sim.categories[c] for c in product.data["categories"]]
            got = next(g for g in row["lines"] if g["externalid"] == str(line["product_id"]))
            assert all(n in got["category"] for n in names)  # "Categoría de producto"
        check_lines(row, expected)
        # Orders of every status, and history never fires "makes a purchase".
        assert (row["state"], row["source"]) == (1, "0"), oid
    assert orders[str(hour_old)]["source"] == "0"
    guest_row = orders[str(known_guest.id)]
    assert guest_row["email"] == email_of(people[5].data["email"])
    assert by_email[guest_row["email"]]["firstName"] == people[5].data["first_name"]  # untouched
    statuses = {sim.orders.get(int(oid)).data["status"] for oid in orders}  # type: ignore[union-attr]
    assert len(statuses) >= 8, statuses  # paid, pending, refunded, cancelled …
    assert not letters  # sub-cent amounts (10 % coupons) are rounded, not refused
    # The list: only an explicit yes (a newsletter subscriber, the checkout box).
    for record in sim.customers.query():
        email = email_of(record.data["email"])
        if email is not None and sim.expected_consent(record.id):
            yes.add(email)
    assert {e for e, v in by_email.items() if on_list(v)} == yes & set(by_email)
    assert yes  # both kinds exist
    assert set(by_email) - yes

    # Shop activity, then the incremental ("manual") sync: new orders fire.
    clock.advance(1800)
    placed = [
        sim.add_order(
            buyer=people[k], catalogue=catalogue[:2], status_id=11, created_at=clock.now()
        )
        for k in range(1, 4)
    ]
    old = next(
        r for r in sim.orders.query(sort="id") if str(r.id) in orders and r.data["status_id"] == 10
    )
    sim.refund_order(old.id)
    report = engine.run("incremental")
    assert report.ok, report.summary()
    orders = orders_of(ac, conn_id)
    assert any(bigcommerce_inexact(sim, p.data, p.id) for p in sim.orders.query()), (
        "the store should have four-decimal amounts to round"
    )
    assert all(orders[str(p.id)]["source"] == "1" for p in placed)
    assert orders[str(old.id)]["source"] == "0"  # an update keeps the order's source
    assert report.stream(Stream.ORDERS).triggers_fired == len(placed)

    # Real time: BigCommerce lists no carts; its abandoned-cart webhook brings them.
    url = f"https://hooks.example.com/webhooks/bigcommerce/{sim.store_hash}"
    worker = hooks.worker(engine, sim.client_secret, url)
    conn.ensure_webhooks(
        url, ["store/cart/abandoned", "store/cart/converted", "store/order/created"]
    )
    cart_id = sim.add_cart(buyer=people[4], catalogue=catalogue[2:4], created_at=clock.now())
    cart = dict(sim.carts[cart_id])
    clock.advance(3601)  # an hour without a change: BigCommerce calls it abandoned
    assert sim.tick() == [cart_id]
    deliver(sim.webhooks, worker)
    row = carts_of(ac, conn_id)[cart_id]
    assert (row["state"], row["source"], row.get("externalid")) == (2, "1", None)
    assert instant(row["abandonedDate"]) == instant(cart["updated_time"])
    assert row["totalPrice"] == minor(Decimal(repr(cart["cart_amount"])), "USD")
    assert row["email"] == email_of(people[4].data["email"])
    # The shopper comes back and buys: the cart becomes the order, one object, "recovered".
    bought = sim.convert_cart(cart_id)
    deliver(sim.webhooks, worker)
    row = carts_of(ac, conn_id)[cart_id]
    assert (row["state"], row["externalid"], row["source"]) == (3, str(bought.id), "1")
    assert [o for o in ac.orders(conn_id) if o.get("externalid") == str(bought.id)] == [row]
    assert_no_duplicates(ac)


# ---------------------------------------------------------------------------- Square

#: One seller, three locations, three connections: dollars, yen (no decimals) and
#: Kuwaiti dinars (three decimals, fils).
SQUARE_LOCATIONS = (("Downtown", "USD", "US"), ("Shibuya", "JPY", "JP"), ("Salmiya", "KWD", "KW"))


def test_square_locations_into_activecampaign() -> None:
    now = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)
    clock = FakeClock(wall_start=now)
    hooks = InProcessHooks()
    sim = SquareSimulator(
        seed=33,
        locations=SQUARE_LOCATIONS,
        customers=24,
        payments=120,
        products=12,
        clock=clock,
        now=now,
        webhook_transport=hooks.transport(),
    )
    customers = sim.customers.query(sort="id")
    with_email = [c for c in customers if email_of(c.data.get("email_address"))]
    assert len(with_email) < len(customers)  # some have none: "cada cliente debe tener email"
    recent, older = {}, {}
    for n, loc in enumerate(sim.locations):
        buyer = with_email[n].data["id"]
        (payment,) = sim.add_sale(loc.id, at=now - 2 * HOUR, customer_id=buyer)
        recent[loc.id] = sim.get("payments", payment).data["order_id"]  # type: ignore[union-attr]
        (payment,) = sim.add_sale(loc.id, at=now - 30 * HOUR, customer_id=buyer)
        older[loc.id] = sim.get("payments", payment).data["order_id"]  # type: ignore[union-attr]
    ac = ActiveCampaignSimulator(clock=clock)
    pacer = activecampaign_limiter(clock=clock)  # one account: its sinks share one pace
    engines = {}
    for loc in sim.locations:  # one connection per location ("una ubicación, una conexión")
        conn = SquareConnector(
            access_token=sim.token,
            location_id=loc.id,
            merchant_id=loc.merchant_id,
            transport=sim.transport(),
            clock=clock,
        )
        sink = new_sink(ac, clock, rate_limiter=pacer)
        engines[loc.id] = SyncEngine(conn, sink, MemoryStateStore(), clock=clock)
        run_historical_twice(engines[loc.id], ac, clock)
    # "Use the store's location as the import's name."
    assert sorted((c["externalid"], c["name"]) for c in ac.records("connections")) == sorted(
        (f"square:{loc.id}", loc.name) for loc in sim.locations
    )

    # Contacts: every customer with an email, from every connection; none without.
    by_email = contacts(ac)
    assert set(by_email) == {email_of(c.data["email_address"]) for c in with_email}
    for record in with_email:
        data = record.data
        view = by_email[str(email_of(data["email_address"]))]
        assert (view["firstName"], view["lastName"]) == (data["given_name"], data["family_name"])
        country = (data.get("address") or {}).get("country")
        if e164(data.get("phone_number"), country):
            assert view["phone"] == e164(data.get("phone_number"), country)
        if data.get("company_name"):
            assert view["account"] == data["company_name"]
        # Square says "unsubscribed" or nothing: never an explicit yes, so no list.
        assert not on_list(view)
    for loc in sim.locations:
        assert customer_emails(ac, f"square:{loc.id}") <= set(by_email)

    payments_of: dict[str, list[Any]] = collections.defaultdict(list)
    for p in sim.payments.query():
        payments_of[p.data["order_id"]].append(p)
    emails = {c.data["id"]: email_of(c.data.get("email_address")) for c in customers}
    items = {  # variation id → its catalog ITEM
        v["id"]: record
        for record in sim.catalog.query()
        if record.data["type"] == "ITEM"
        for v in record.data["item_data"]["variations"]
    }
    for loc in sim.locations:
        conn_id = f"square:{loc.id}"
        orders = orders_of(ac, conn_id)
        assert {o["currency"] for o in orders.values()} == {loc.currency}
        expected = set()
        for order in sim.orders.query(sort="id"):
            data = order.data
            if data["location_id"] != loc.id:
                assert data["id"] not in orders
                continue
            email = emails.get(data.get("customer_id"))
            if email is None:  # a sale without a customer (or one without email)
                assert data["id"] not in orders, data
                continue
            expected.add(data["id"])
            row = orders[data["id"]]
            payments = sorted(payments_of[data["id"]], key=lambda p: p.created_at)
            # Square's amounts are already minor units: cents, yen, fils.
            assert row["totalPrice"] == data["total_money"]["amount"]  # "Importe del pago"
            assert row["totalPrice"] == sum(p.data["amount_money"]["amount"] for p in payments)
            assert row["orderUrl"] in {p.data["receipt_url"] for p in payments}  # "URL de pago"
            assert row["orderNumber"] in {p.data["receipt_number"] for p in payments}
            paid_at = instant(payments[0].created_at)
            assert instant(row["externalCreatedDate"]) == paid_at  # "Fecha/hora de pago"
            assert row["source"] == ("1" if paid_at >= now - 24 * HOUR else "0"), data["id"]
            lines = []
            for line in data["line_items"]:
                want: dict[str, Any] = {
                    "name": line["name"],  # "Nombre del artículo"
                    "price": line["base_price_money"]["amount"],  # "Precio del artículo"
                    "quantity": int(line["quantity"]),  # "Cantidad de artículos"
                }
                if line.get("catalog_object_id"):
                    item = items[line["catalog_object_id"]]
                    want["externalid"] = item.data["id"]  # "ID de artículo"
                    want["description"] = item.data["item_data"]["description"]
                lines.append(want)
            check_lines(row, lines)
        assert set(orders) == expected
        assert orders[recent[loc.id]]["source"] == "1"  # paid within the 24 h: fires
        assert orders[older[loc.id]]["source"] == "0"
    yen = orders_of(ac, f"square:{sim.locations[1].id}")
    assert all(minor(Decimal(o["totalPrice"]), "JPY") == o["totalPrice"] for o in yen.values())
    fils = [o["totalPrice"] for o in orders_of(ac, f"square:{sim.locations[2].id}").values()]
    assert any(f % 10 for f in fils)  # the third decimal is kept: 12.345 KWD is 12345

    # Half an hour later each location rings up a sale: the scheduled sync fires for it.
    clock.advance(1800)
    for n, loc in enumerate(sim.locations):
        (payment,) = sim.add_sale(loc.id, customer_id=with_email[n + 3].data["id"])
        order_id = sim.get("payments", payment).data["order_id"]  # type: ignore[union-attr]
        report = engines[loc.id].run("incremental")
        assert report.ok, report.summary()
        assert orders_of(ac, f"square:{loc.id}")[order_id]["source"] == "1"

    # Real time at Shibuya: payment.created arrives signed; the worker writes it, firing.
    shibuya = sim.locations[1]
    engine = engines[shibuya.id]
    url = "https://hooks.example.com/webhooks/square"
    (subscription, *_) = engine.connector.ensure_webhooks(url, ["payment.created"])  # type: ignore[attr-defined]
    worker = hooks.worker(engine, subscription.signature_key, url)
    (payment,) = sim.add_sale(shibuya.id, customer_id=with_email[7].data["id"])
    sale = sim.get("payments", payment).data  # type: ignore[union-attr]
    deliver(sim.webhooks, worker)
    row = orders_of(ac, f"square:{shibuya.id}")[sale["order_id"]]
    assert (row["source"], row["currency"]) == ("1", "JPY")
    assert row["totalPrice"] == sale["amount_money"]["amount"]  # yen, as they are
    assert_no_duplicates(ac)


# ---------------------------------------------------------------------------- Tiendanube


def test_tiendanube_store_into_activecampaign() -> None:
    start = dt.datetime(2025, 6, 1, tzinfo=UTC)
    clock = FakeClock(wall_start=start)
    hooks = InProcessHooks()
    secret = "tn-platforms-test-secret"
    sim = TiendanubeSimulator(
        seed=34,
        customers=20,
        orders=40,
        products=6,
        checkouts=8,
        clock=clock,
        client_secret=secret,
        webhook_transport=hooks.transport(),
    )
    people = [p for p in sim.stores["customers"].query(sort="id") if email_of(p.data["email"])]
    recent = sim.add_order(buyer_id=people[0].id).id  # placed two hours before the sync
    clock.advance(2 * 3600)
    # A checkout still in progress (last activity an hour ago) and one the shopper
    # completed within the six hours: neither is an abandoned cart now.
    active = sim.create_checkout(
        buyer=people[1], created_at=clock.now() - HOUR, delay=dt.timedelta(0)
    ).id
    converted = sim.create_checkout(
        buyer=people[2], created_at=clock.now() - 3 * HOUR, delay=dt.timedelta(0)
    ).id
    sim.convert_checkout(converted, at=clock.now() - 2 * HOUR)
    sync_start = clock.now()
    conn = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent="commerce-connectors tests (dev@example.com)",
        base_url=sim.base_url,
        transport=sim.transport(),
        clock=clock,
    )
    ac = ActiveCampaignSimulator(clock=clock)
    engine = SyncEngine(conn, new_sink(ac, clock), MemoryStateStore(), clock=clock)
    run_historical_twice(engine, ac, clock)
    conn_id = conn.connection_id
    connection = ac.connection(conn_id)
    assert connection is not None
    assert connection["name"] == sim.store_info()["name"][sim.main_language]  # the store's name
    by_email = contacts(ac)

    orders = orders_of(ac, conn_id)
    said: dict[str, set[bool]] = collections.defaultdict(set)
    for record in sim.stores["orders"].query(sort="id"):
        raw = sim.render("orders", record)
        buyer = raw.get("customer") or {}
        email = email_of(buyer.get("email")) or email_of(raw.get("contact_email"))
        row = orders.get(str(record.id))
        if email is None:
            assert row is None
            continue
        assert row is not None, record.id
        assert email in by_email
        if isinstance(buyer.get("accepts_marketing"), bool):
            said[email].add(buyer["accepts_marketing"])
        currency = raw["currency"]
        assert row["orderNumber"] == str(raw["number"])
        assert row["totalPrice"] == minor(raw["total"], currency)
        assert row["currency"] == currency == "ARS"
        assert instant(row["externalCreatedDate"]) == instant(record.created_at)
        assert str(record.id) in row["orderUrl"]
        assert row.get("shippingMethod") == raw.get("shipping_option")
        codes = [c["code"] for c in raw.get("coupon") or []]
        if codes:
            assert [d["name"] for d in row["discounts"]] == codes
            assert row["discountAmount"] == minor(raw["discount_coupon"], currency)
        check_lines(
            row,
            [
                {
                    "externalid": str(line["product_id"]),
                    "name": line["name"],
                    "price": minor(line["price"], currency),
                    "quantity": int(line["quantity"]),
                    "sku": line["sku"],
                    "imageUrl": line["image"]["src"],
                }
                for line in raw["products"]
            ],
        )
        placed = instant(record.created_at)
        assert row["state"] == 1
        assert row["source"] == ("1" if placed >= sync_start - 24 * HOUR else "0"), record.id
    assert orders[str(recent)]["source"] == "1"
    kinds = {(r.data["status"], r.data["payment_status"]) for r in sim.stores["orders"].query()}
    synced = {
        (r.data["status"], r.data["payment_status"])
        for r in sim.stores["orders"].query()
        if str(r.id) in orders
    }
    assert synced == kinds  # open, closed, cancelled; paid, pending, refunded, voided …
    assert len(kinds) >= 4

    # Customers: every one with an email; the list for an explicit yes only.
    for record in sim.stores["customers"].query():
        email = email_of(record.data["email"])
        if email is None:
            continue
        view = by_email[email]
        first, _, last = record.data["name"].partition(" ")
        assert (view["firstName"], view["lastName"]) == (first, last)
        if isinstance(record.data.get("accepts_marketing"), bool):
            said[email].add(record.data["accepts_marketing"])
    for email, view in by_email.items():
        if on_list(view):  # nobody without an explicit yes
            assert True in said.get(email, set()), f"{email} subscribed without a yes"
        if said.get(email) == {True}:
            assert on_list(view), email
    assert any(on_list(v) for v in by_email.values())
    assert not all(on_list(v) for v in by_email.values())

    # Abandoned checkouts: written after six hours without activity, never firing from
    # history; the one in progress and the one completed in time are not.
    carts = carts_of(ac, conn_id)
    assert str(active) not in carts
    assert str(converted) not in carts
    for record in sim.stores["checkouts"].query():
        raw = record.data
        email = email_of(raw.get("contact_email"))
        row = carts.get(str(record.id))
        if record.id in (active, converted) or email is None:
            assert row is None
            continue
        assert row is not None, record.id
        assert email in by_email  # a shopper who starts a checkout becomes a contact
        assert (row["state"], row["source"]) == (2, "0")
        assert row["orderUrl"] == raw["abandoned_checkout_url"]  # to recover the cart
        assert instant(row["abandonedDate"]) == instant(record.updated_at)
        assert row["totalPrice"] == minor(raw["total"], "ARS")
    assert carts

    # Six hours on: the shop took an order and the checkout in progress was abandoned;
    # the incremental sync writes both, firing.
    clock.advance(6 * 3600)
    fresh = sim.add_order(buyer_id=people[3].id).id
    report = engine.run("incremental")
    assert report.ok, report.summary()
    assert orders_of(ac, conn_id)[str(fresh)]["source"] == "1"
    row = carts_of(ac, conn_id)[str(active)]
    assert (row["state"], row["source"]) == (2, "1")

    # Real time: order/created arrives signed; the worker writes the order, firing.
    url = f"https://hooks.example.com/webhooks/tiendanube/{sim.store_id}"
    worker = hooks.worker(engine, secret, url)
    conn.ensure_webhooks(url, ["order/created", "order/paid"])
    live = sim.add_order(buyer_id=people[4].id).id
    deliver(sim.webhooks, worker)
    assert orders_of(ac, conn_id)[str(live)]["source"] == "1"
    assert_no_duplicates(ac)
