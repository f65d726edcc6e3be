"""Contract tests: the connector against hand-written cassettes of Square's documented shapes.

The cassettes (``tests/cassettes/square``) were written by hand from the API
reference's examples, never recorded: record mode ``none``, no credentials in them
(the Authorization header is filtered and the files are checked for the token).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import vcr

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import AuthenticationError, PermissionDeniedError
from commerce_connectors.models import OrderStatus
from commerce_connectors.platforms.square import SquareConnector, list_locations
from commerce_connectors.protocols import Stream
from commerce_connectors.rules import Reason

CASSETTES = Path(__file__).parents[2] / "cassettes" / "square"
TOKEN = "EAAAl-cassette-token-never-recorded"


def _json_body(r1: Any, r2: Any) -> None:
    """Match POST bodies as JSON (key order and spacing do not matter)."""

    def load(body: Any) -> Any:
        if not body:
            return None
        return json.loads(body.decode() if isinstance(body, bytes) else body)

    assert load(r1.body) == load(r2.body)


cassettes = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=("method", "scheme", "host", "path", "query", "json_body"),
    filter_headers=["authorization"],
)
cassettes.register_matcher("json_body", _json_body)


def _connector(**kwargs: Any) -> SquareConnector:
    return SquareConnector(access_token=TOKEN, clock=FakeClock(), **kwargs)


def test_cassettes_hold_no_credentials() -> None:
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text()
        assert "Bearer" not in text
        assert TOKEN not in text
        assert "authorization:" not in text.lower()


@cassettes.use_cassette("orders_from_payments.yaml")
def test_orders_are_read_from_payments_with_their_orders_and_catalog() -> None:
    with _connector(location_id="L88917AVBK2S5") as conn:
        orders = {o.external_id: o for o in conn.iter_orders()}
        assert conn.connection_id == "square:L88917AVBK2S5"
    assert set(orders) == {"d7eKah653Z579f3gVtjlxpSlmUcZY", "CAISEM82RcpmcFBM0TfOyiHV3es"}

    tea = orders["d7eKah653Z579f3gVtjlxpSlmUcZY"]
    assert tea.order_number == "bP9m"
    assert tea.order_url == "https://squareup.com/receipt/preview/bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY"
    assert tea.total.amount == Decimal("5.55")
    assert tea.status is OrderStatus.COMPLETED
    assert tea.store_name == "Grant Park"
    assert tea.email == "amelia.earhart@example.com"
    assert tea.customer_external_id == "JDKYHBWT1D4F8MFH63DBMEN8Y4"
    # the seed's order date is the payment's date/time
    assert tea.created_at == datetime(2021, 10, 13, 19, 34, 33, 524000, tzinfo=timezone.utc)
    first, custom = tea.lines
    assert (first.product_id, first.variant_id, first.sku) == (
        "X5DZ5NWWAQ44CKBLKIFQGOWK",
        "5GSZPX6EU7MM75S57OONG3V5",
        "TEA-BLK-R",
    )
    assert first.quantity == 3
    assert first.unit_price.amount == Decimal("1.50")
    assert (first.category, first.description) == ("Beverages", "A delicious blend of black tea.")
    assert first.image_url is not None
    assert first.image_url.endswith("tea.jpeg")
    assert custom.product_id is None
    assert custom.name == "Custom Amount"

    refunded = orders["CAISEM82RcpmcFBM0TfOyiHV3es"]
    assert refunded.status is OrderStatus.REFUNDED
    assert refunded.order_number == "hYy9"
    assert refunded.updated_at == datetime(2024, 2, 1, 9, tzinfo=timezone.utc)
    assert refunded.customer is None  # a guest: no customer profile


@cassettes.use_cassette("customers_and_catalog.yaml")
def test_customers_and_products_incremental() -> None:
    since = datetime(2024, 2, 1, tzinfo=timezone.utc)
    skipped: list[Any] = []
    with _connector(
        location_id="18YC4JDH91E1H", merchant_id="3MYCJG5GVYQ8Q", on_skip=skipped.append
    ) as conn:
        customers = list(conn.iter_customers(since=since))
        products = list(conn.iter_products(since=since))
    assert [c.external_id for c in customers] == ["JDKYHBWT1D4F8MFH63DBMEN8Y4"]
    assert customers[0].phone == "+1-212-555-4250"
    assert customers[0].accepts_marketing is None  # "not unsubscribed" is not a yes
    assert [(s.external_id, s.reason) for s in skipped] == [
        ("A9641GZW2H7Z56YYSD41Q12HDW", Reason.EMAIL_REQUIRED)
    ]
    assert conn.skipped[(Stream.CUSTOMERS, Reason.EMAIL_REQUIRED)] == 1
    # The green tea is only sold at another location.
    assert [p.external_id for p in products] == ["X5DZ5NWWAQ44CKBLKIFQGOWK"]
    tea = products[0]
    assert (tea.name, tea.category, tea.sku) == ("Tea - Black", "Beverages", "TEA-BLK-R")
    assert tea.price is not None
    assert tea.price.amount == Decimal("1.50")  # the first variation by ordinal
    assert [v.name for v in tea.variants] == ["Regular", "Large"]


@cassettes.use_cassette("errors.yaml")
def test_locations_then_square_error_codes() -> None:
    locations = list_locations(TOKEN, clock=FakeClock())
    assert [(loc.id, loc.is_active) for loc in locations] == [
        ("18YC4JDH91E1H", True),
        ("3Z4V4WHQK64X9", False),
    ]
    with (
        _connector(location_id="18YC4JDH91E1H") as conn,
        pytest.raises(AuthenticationError) as auth,
    ):
        list(conn.iter_orders())
    assert auth.value.code == "ACCESS_TOKEN_EXPIRED"
    assert "re-authenticate" in str(auth.value)
    assert TOKEN not in str(auth.value)
    with (
        _connector(location_id="3Z4V4WHQK64X9") as conn,
        pytest.raises(PermissionDeniedError) as denied,
    ):
        list(conn.iter_orders())
    assert denied.value.code == "INSUFFICIENT_SCOPES"
