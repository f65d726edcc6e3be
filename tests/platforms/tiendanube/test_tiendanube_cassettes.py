"""Contract tests: the connector against hand-written vcrpy cassettes (record mode "none").

The cassettes in ``tests/cassettes/tiendanube`` follow the documented request and
response shapes; they hold no credentials (``Authentication`` is filtered and never
matched on), and nothing is ever sent to the network.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import vcr

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import AuthenticationError
from commerce_connectors.models import OrderStatus
from commerce_connectors.platforms.tiendanube import TiendanubeConnector

CASSETTES = Path(__file__).parents[2] / "cassettes" / "tiendanube"
TOKEN = "cassette-token-not-a-secret"  # never recorded

tape = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    filter_headers=["Authentication", "Authorization"],
    match_on=["method", "scheme", "host", "port", "path", "query"],
)


def _connector(clock: FakeClock, page_size: int = 200) -> TiendanubeConnector:
    return TiendanubeConnector(
        store_id=998877,
        page_size=page_size,
        access_token=TOKEN,
        user_agent="ExampleCRM (integrations@example.com)",
        clock=clock,
    )


def test_orders_follow_the_link_header_and_parse_documented_shapes() -> None:
    # One order a page, so two pages (the cassette's X-Total-Count is 2).
    conn = _connector(FakeClock(), page_size=1)
    with tape.use_cassette("orders_two_pages.yaml") as cassette, conn:
        orders = list(conn.iter_orders())
    assert cassette.all_played
    assert [o.external_id for o in orders] == ["5001", "5002"]
    paid, cancelled = orders
    assert paid.status is OrderStatus.PAID
    assert paid.total.amount == Decimal("105.00")
    assert paid.discount_codes == ("PRIMEIRA10",)
    assert paid.order_url == "https://lojaexemplo.nuvemshop.com.br/admin/v2/orders/5001"
    assert paid.store_name == "Loja Exemplo"
    assert paid.extra["completed_at"] == "2024-06-01T10:00:00+00:00"
    assert paid.lines[0].quantity == 2
    assert paid.customer is not None
    assert paid.customer.accepts_marketing is True
    # payment_status=any covers authorized/pending/paid only: a cancelled order there
    # still has one of those payment statuses.
    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.extra["payment_status"] == "pending"
    assert cancelled.customer is not None
    assert cancelled.customer.is_guest
    assert cancelled.created_at == dt.datetime(2024, 6, 2, 13, tzinfo=dt.timezone.utc)


def test_401_body_and_429_then_success() -> None:
    clock = FakeClock()
    with tape.use_cassette("errors.yaml") as cassette, _connector(clock) as conn:
        with pytest.raises(AuthenticationError) as info:
            list(conn.iter_customers())
        carts = list(conn.iter_abandoned_carts())
    assert cassette.all_played
    assert info.value.message == "Unauthorized: Invalid access token"
    assert TOKEN not in str(info.value)
    assert [c.external_id for c in carts] == ["411335234"]
    # The 429 said the bucket empties in 20 s: the engine waited that long (fake time).
    assert clock.slept >= 20.0
    assert conn.stats.rate_limited == 1


def test_cassettes_hold_no_credentials() -> None:
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "Authentication:" not in text
        assert "bearer" not in text.lower()
        assert TOKEN not in text
