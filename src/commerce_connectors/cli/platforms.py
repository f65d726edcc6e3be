"""Shopify, BigCommerce, Square and Tiendanube on the command line and in the demo.

Importing this module (which the :mod:`commerce_connectors.cli` package does) registers:

* ``commerce-connectors sync toyshop|shopify|bigcommerce|square|tiendanube``: each platform's
  connection options as flags, its token from an environment variable
  (``SHOPIFY_ACCESS_TOKEN``, ``BIGCOMMERCE_ACCESS_TOKEN``, ``SQUARE_ACCESS_TOKEN``,
  ``TIENDANUBE_ACCESS_TOKEN``), and ``--base-url`` to point it at a simulator, a proxy
  or a sandbox;
* a seeded realistic store per platform in ``commerce-connectors demo`` (Square: one
  row per location, as a Square connection is one location), with shop activity
  between the historical and the incremental sync.

The demo stores run on fake clocks: the platforms' real rate limits (BigCommerce
150 requests per 30 s, Tiendanube 2 per second, Shopify's cost bucket, Square's
bucket) are enforced by the simulators and honoured by the connectors, but waiting
costs no real time; the demo reports the simulated API time. Shopify's and
BigCommerce's simulated data ends on 1 October 2024, so their clocks start there;
Square's and Tiendanube's data ends at the demo's start, so theirs start then.

Example:
    >>> from commerce_connectors.cli.registry import DEMO_SOURCES, platform_spec
    >>> [o.flag for o in platform_spec("square").options]
    ['--location-id', '--environment', '--webhook-token-env', '--base-url']
    >>> platform_spec("tiendanube").token_env
    'TIENDANUBE_ACCESS_TOKEN'
    >>> [s.name for s in DEMO_SOURCES][1:]
    ['shopify', 'bigcommerce', 'square/downtown', 'square/shibuya', 'tiendanube']
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import random
from collections.abc import Mapping
from typing import Any

from ..clock import Clock, FakeClock
from ..protocols import Connector
from .registry import (
    DemoSource,
    DemoStore,
    PlatformOption,
    PlatformSpec,
    register_demo,
    register_platform,
    scaled,
)

__all__: list[str] = []

UTC = _dt.timezone.utc

#: Where the Shopify and BigCommerce simulators' generated history ends.
_FIXED_DATA_END = _dt.datetime(2024, 10, 1, tzinfo=UTC)
#: How long after the historical sync the demo shops take their new orders.
_LATER = _dt.timedelta(minutes=30)
#: Each platform's store draws from its own seed, so that the demo's shops do not share
#: their (seeded) customers: duplicates merged are a store's own.
_SEED_OFFSETS = {"shopify": 101, "bigcommerce": 202, "square": 303, "tiendanube": 404}
#: The demo's Tiendanube app, as the API wants it named (an app and a contact).
_DEMO_USER_AGENT = "commerce-connectors demo (demo@example.com)"


def _currency_code(text: str) -> str:
    """An ISO 4217 code, upper-cased.

    Example:
        >>> _currency_code("usd")
        'USD'
    """
    code = text.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"not a three-letter currency code: {text!r}")
    return code


def _base_url(help_for: str) -> PlatformOption:
    return PlatformOption(
        "--base-url",
        "base_url",
        f"send the requests, and the token, to this API root instead (a simulator, a proxy,"
        f" a sandbox): {help_for}",
    )


# -- ToyShop, the example platform: registered first, so it leads the demo --------------------


def _toyshop_connector(options: Mapping[str, Any], token: str) -> Connector:
    from ..testing.example_shop import ToyShopConnector

    return ToyShopConnector(
        token=token,
        shop=options.get("shop") or "toyshop",
        base_url=options["base_url"],
        page_size=options.get("page_size") or 50,
    )


def _toyshop_demo(seed: int, clock: Clock, now: _dt.datetime, scale: float = 1.0) -> DemoStore:
    from ..testing.example_shop import ToyShopConnector, ToyShopSimulator
    from ..testing.simulator import TiendanubeRateLimit

    simulator = ToyShopSimulator(
        seed=seed,
        customers=scaled(400, scale),
        orders=scaled(4000, scale),
        products=scaled(80, scale),
        clock=clock,
        # A Next-plan-sized bucket (Tiendanube x10), so the demo paces without waiting long.
        rate_limit=TiendanubeRateLimit(capacity=400, leak_rate=20),
        realistic=True,
        now=now,
    )
    connector = ToyShopConnector(
        token=simulator.token,
        shop="demo",
        transport=simulator.transport(),
        clock=clock,
        page_size=50,
    )
    return DemoStore(
        connector=connector,
        activity=lambda: simulator.simulate_activity(new_orders=25, updated_customers=12),
        close=connector.close,
    )


register_platform(
    PlatformSpec(
        "toyshop",
        "ToyShop, the example platform (point --base-url at its simulator)",
        "TOYSHOP_TOKEN",
        options=(
            PlatformOption(
                "--base-url",
                "base_url",
                "the API root, e.g. http://127.0.0.1:8080/api/v1",
                required=True,
            ),
            PlatformOption("--shop", "shop", "the store's name (part of the connection id)"),
            PlatformOption("--page-size", "page_size", "records per page", type=int),
        ),
        factory=_toyshop_connector,
    )
)
register_demo(DemoSource("toyshop", "ToyShop example platform (simulated)", _toyshop_demo))


# -- command-line factories --------------------------------------------------------------------


def _shopify(options: Mapping[str, Any], token: str) -> Connector:
    from ..platforms.shopify import ShopifyConnector
    from ..platforms.shopify.bulk import BulkOptions, FileBulkJournal

    # A bulk operation outlives a killed process: its id is journalled next to the state
    # file so that the next run re-attaches to it instead of starting a second export.
    state_url = str(options.get("state_url") or "")
    state_file = state_url.removeprefix("sqlite:///") if state_url.startswith("sqlite:///") else ""
    bulk = (
        BulkOptions(journal=FileBulkJournal.beside(state_file))
        if state_file and state_file != ":memory:"
        else BulkOptions()
    )
    return ShopifyConnector(
        shop=options["shop"], access_token=token, base_url=options["base_url"], bulk=bulk
    )


def _bigcommerce(options: Mapping[str, Any], token: str) -> Connector:
    from ..platforms.bigcommerce import BigCommerceConnector

    return BigCommerceConnector(
        store_hash=options["store_hash"],
        access_token=token,
        base_url=options["base_url"],
        currency=options.get("currency"),
    )


def _square(options: Mapping[str, Any], token: str) -> Connector:
    from ..platforms.square import SquareConnector

    # Webhook subscriptions belong to the application and need its personal access
    # token (OAuth tokens are refused there); read from the environment like every token.
    webhook_token = os.environ.get(options.get("webhook_token_env") or "", "").strip() or None
    return SquareConnector(
        access_token=token,
        location_id=options["location_id"],
        environment=options["environment"],
        base_url=options["base_url"],
        webhook_token=webhook_token,
    )


def _tiendanube(options: Mapping[str, Any], token: str) -> Connector:
    from ..platforms.tiendanube import TiendanubeConnector

    return TiendanubeConnector(
        store_id=options["store_id"],
        access_token=token,
        user_agent=options["user_agent"],
        domain=options["domain"],
        rate_limit_multiplier=options["rate_limit_multiplier"],
        base_url=options["base_url"],
    )


register_platform(
    PlatformSpec(
        "shopify",
        "Shopify Admin API (GraphQL): customers and guests, orders, products, checkouts",
        "SHOPIFY_ACCESS_TOKEN",
        options=(
            PlatformOption(
                "--shop", "shop", "the shop's domain, e.g. acme.myshopify.com", required=True
            ),
            _base_url("/admin/api/VERSION is appended"),
        ),
        factory=_shopify,
    )
)
register_platform(
    PlatformSpec(
        "bigcommerce",
        "BigCommerce Management API: customers, orders (guests skipped), products",
        "BIGCOMMERCE_ACCESS_TOKEN",
        options=(
            PlatformOption(
                "--store-hash",
                "store_hash",
                "the store's hash, e.g. id30h7ohwf from store-id30h7ohwf.mybigcommerce.com",
                required=True,
            ),
            PlatformOption(
                "--currency",
                "currency",
                "the store's currency code, e.g. USD (default: read from the store's profile,"
                " which needs the Information & Settings scope)",
                type=_currency_code,
            ),
            _base_url("replaces https://api.bigcommerce.com/stores/HASH"),
        ),
        factory=_bigcommerce,
    )
)
register_platform(
    PlatformSpec(
        "square",
        "Square: one location's customers with an email, payments and their orders, items",
        "SQUARE_ACCESS_TOKEN",
        options=(
            PlatformOption(
                "--location-id",
                "location_id",
                "the location to sync (one connection per location)",
                required=True,
            ),
            PlatformOption(
                "--environment",
                "environment",
                "production or sandbox (default production)",
                default="production",
                choices=("production", "sandbox"),
            ),
            PlatformOption(
                "--webhook-token-env",
                "webhook_token_env",
                "the environment variable holding the application's personal access token, "
                "which Square requires for webhook subscriptions (default SQUARE_WEBHOOK_TOKEN; "
                "without it the access token is used)",
                default="SQUARE_WEBHOOK_TOKEN",
            ),
            _base_url("replaces https://connect.squareup.com (or the sandbox's)"),
        ),
        factory=_square,
    )
)
register_platform(
    PlatformSpec(
        "tiendanube",
        "Tiendanube / Nuvemshop: customers, orders of every status, products, checkouts",
        "TIENDANUBE_ACCESS_TOKEN",
        options=(
            PlatformOption(
                "--store-id", "store_id", "the numeric store id (the OAuth user_id)", required=True
            ),
            PlatformOption(
                "--user-agent",
                "user_agent",
                'your app and a contact, e.g. "MyCRM (dev@example.com)" (the API requires it)',
                required=True,
            ),
            PlatformOption(
                "--domain",
                "domain",
                "tiendanube, or nuvemshop for Brazilian stores (default tiendanube)",
                default="tiendanube",
                choices=("tiendanube", "nuvemshop"),
            ),
            PlatformOption(
                "--rate-limit-multiplier",
                "rate_limit_multiplier",
                "10 for stores on the Next and Evolution plans (default 1)",
                default=1.0,
                type=float,
            ),
            _base_url("/VERSION/STORE_ID is appended"),
        ),
        factory=_tiendanube,
        locators=("--store-id", "--domain", "--base-url"),
    )
)


# -- demo stores -------------------------------------------------------------------------------


def _shopify_demo(seed: int, clock: Clock, now: _dt.datetime, scale: float = 1.0) -> DemoStore:
    """A Shopify shop: guests, refunds and cancellations, abandoned checkouts, accents."""
    from ..platforms.shopify import ShopifyConnector

    try:
        from ..testing.simulators.shopify import ShopifySimulator
    except ModuleNotFoundError as exc:  # graphql-core validates the simulator's queries
        raise ModuleNotFoundError(
            f"the Shopify simulator needs graphql-core ({exc}): "
            "pip install 'commerce-connectors[simulators]'",
            name=exc.name,
        ) from exc

    fake = FakeClock(wall_start=_FIXED_DATA_END)
    sim = ShopifySimulator(
        seed=seed + _SEED_OFFSETS["shopify"],
        customers=scaled(400, scale),
        orders=scaled(1500, scale),
        products=scaled(60, scale),
        checkouts=scaled(80, scale),
        guest_share=0.2,
        shop="maison-lea.myshopify.com",
        shop_name="Maison Léa",
        currency="EUR",
        clock=fake,
    )
    connector = ShopifyConnector(
        shop=sim.shop, access_token=sim.token, transport=sim.transport(), clock=fake
    )

    def activity() -> None:
        fake.advance(_LATER.total_seconds())
        now = fake.now().isoformat()
        rng = random.Random(f"shopify-demo:{seed}")
        orders = sim.stores["orders"].query()
        customers = sim.stores["customers"].query()
        for k in range(25):
            order = sim.rest("orders", orders[rng.randrange(len(orders))])
            del order["id"]
            order.update(
                name=f"#{1001 + len(orders) + k}",
                created_at=now,
                updated_at=now,
                financial_status="paid",
                fulfillment_status=None,
                cancelled_at=None,
                cancel_reason=None,
            )
            if k == 0:  # a guest who once registered, typing the email in capitals
                order.update(customer=None, email=str(customers[3].data["email"]).upper())
            sim.add_order(order)
        paid = [o for o in orders if o.data.get("financial_status") == "paid"]
        for record in paid[:3]:  # refunds of old orders
            sim.stores["orders"].update(record.id, {"financial_status": "refunded"})
        sim.add_customer(
            {
                "first_name": "Siân",
                "last_name": "Ó Briain",
                "email": "sian.obriain@example.ie",
                "phone": None,  # the phone is only on the address
                "state": "enabled",
                "verified_email": True,
                "tags": "newsletter, fidélité",
                "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single"},
                "default_address": {
                    "first_name": "Siân",
                    "last_name": "Ó Briain",
                    "address1": "12 Sráid an Mhuilinn",
                    "city": "Gaillimh",
                    "zip": "H91 X2Y3",
                    "country_code": "IE",
                    "phone": "+353 91 123 456",
                    "default": True,
                },
                "created_at": now,
            }
        )

    return DemoStore(connector=connector, activity=activity, close=connector.close, clock=fake)


def _bigcommerce_demo(seed: int, clock: Clock, now: _dt.datetime, scale: float = 1.0) -> DemoStore:
    """A BigCommerce store: guest orders (not synced), every status, refunds, coupons."""
    from ..platforms.bigcommerce import BigCommerceConnector
    from ..testing.simulators.bigcommerce import BigCommerceSimulator, ConcurrentFakeClock

    # A clock on which worker threads' waits overlap, as in real time.
    fake = ConcurrentFakeClock(wall_start=_FIXED_DATA_END)
    sim = BigCommerceSimulator(
        seed=seed + _SEED_OFFSETS["bigcommerce"],
        customers=scaled(400, scale),
        orders=scaled(1200, scale),
        products=scaled(60, scale),
        carts=scaled(8, scale),
        guest_share=0.2,
        clock=fake,
    )
    connector = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=fake,
        # One worker: the in-process simulator has no latency for workers to overlap, and
        # with several, the simulated API time varies from run to run (window boundaries
        # on a zero-latency fake clock); with one it is the ideal, 30 s per 148 requests.
        concurrency=1,
    )

    def activity() -> None:
        fake.advance(_LATER.total_seconds())
        rng = random.Random(f"bigcommerce-demo:{seed}")
        people = sim.customers.query()
        for k in range(25):
            buyer = None if k % 5 == 0 else people[rng.randrange(len(people))]
            sim.add_order(buyer=buyer, status_id=11, created_at=fake.now())  # awaiting fulfilment
        completed = [o for o in sim.orders.query() if o.data["status_id"] == 10]
        for record in completed[:3]:  # refunds of old orders
            sim.touch_order(record.id, {"status_id": 4, "status": "Refunded"})
        for record in people[:5]:
            sim.customers.update(record.id, {"company": "Müller & Söhne GmbH"})

    return DemoStore(connector=connector, activity=activity, close=connector.close, clock=fake)


def _square_demo(
    location: int, seed: int, clock: Clock, now: _dt.datetime, scale: float = 1.0
) -> DemoStore:
    """One location of a Square seller (Downtown in USD, Shibuya in JPY, zero-decimal).

    Both locations' demo stores build the same seeded seller; each connection reads
    its own location's payments and the seller's customers (merchant-wide).
    """
    from ..platforms.square import SquareConnector
    from ..testing.simulators.square import SquareSimulator

    fake = FakeClock(wall_start=now)
    sim = SquareSimulator(
        seed=seed + _SEED_OFFSETS["square"],
        locations=2,
        customers=scaled(300, scale),
        payments=scaled(2400, scale),
        products=scaled(40, scale),
        clock=fake,
        now=now,
    )
    here = sim.locations[location]
    connector = SquareConnector(
        access_token=sim.token,
        location_id=here.id,
        merchant_id=here.merchant_id,
        transport=sim.transport(),
        clock=fake,
    )

    def activity() -> None:
        fake.advance(_LATER.total_seconds())
        for k in range(20):
            sim.add_sale(here.id, split=k % 7 == 0)
        # A sale rung up offline two days ago, uploaded only now (the 72 h overlap finds it).
        sim.add_sale(here.id, at=fake.now() - _dt.timedelta(hours=48))
        old = sorted(
            (p for p in sim.payments if p.data["location_id"] == here.id),
            key=lambda p: p.created_at,
        )
        sim.refund(old[0].data["id"])
        sim.refund(old[1].data["id"], partial=True)

    return DemoStore(connector=connector, activity=activity, close=connector.close, clock=fake)


def _tiendanube_demo(seed: int, clock: Clock, now: _dt.datetime, scale: float = 1.0) -> DemoStore:
    """A Tiendanube store in ARS: multilingual catalogue, guests, abandoned checkouts."""
    from ..platforms.tiendanube import TiendanubeConnector
    from ..testing.simulators.tiendanube import TiendanubeSimulator

    fake = FakeClock(wall_start=now)
    sim = TiendanubeSimulator(
        seed=seed + _SEED_OFFSETS["tiendanube"],
        customers=scaled(400, scale),
        orders=scaled(1500, scale),
        products=scaled(60, scale),
        checkouts=scaled(120, scale),
        clock=fake,
    )
    connector = TiendanubeConnector(
        store_id=sim.store_id,
        access_token=sim.token,
        user_agent=_DEMO_USER_AGENT,
        base_url=sim.base_url,
        transport=sim.transport(),
        clock=fake,
    )

    def activity() -> None:
        fake.advance(_LATER.total_seconds())
        rng = random.Random(f"tiendanube-demo:{seed}")
        people = sim.stores["customers"].query()
        for k in range(20):  # shoppers start checkouts; most of them buy
            buyer = None if k % 4 == 0 else people[rng.randrange(len(people))]
            checkout = sim.create_checkout(buyer=buyer, delay=_dt.timedelta(0))
            if k % 5:
                sim.convert_checkout(checkout.id)
        orders = sim.stores["orders"].query()
        for record in orders[:3]:  # refunds of old orders
            sim.update("orders", record.id, {"payment_status": "refunded"})

    return DemoStore(connector=connector, activity=activity, close=connector.close, clock=fake)


register_demo(DemoSource("shopify", "Shopify shop, simulated (GraphQL Admin API)", _shopify_demo))
register_demo(
    DemoSource(
        "bigcommerce", "BigCommerce store, simulated (150 requests / 30 s)", _bigcommerce_demo
    )
)
register_demo(
    DemoSource(
        "square/downtown",
        "Square seller, location Downtown (USD), simulated",
        functools.partial(_square_demo, 0),
    )
)
register_demo(
    DemoSource(
        "square/shibuya",
        "Square seller, location Shibuya (JPY, no decimals), simulated",
        functools.partial(_square_demo, 1),
    )
)
register_demo(
    DemoSource("tiendanube", "Tiendanube store, simulated (2 requests / s)", _tiendanube_demo)
)
