"""Contract tests on hand-written vcrpy cassettes (documented shapes, record mode "none")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vcr

from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import AuthenticationError
from commerce_connectors.platforms.shopify import API_VERSION, ShopifyConnector

CASSETTES = Path(__file__).parents[2] / "cassettes" / "shopify"
TOKEN = "shpat_cassette_secret_token"

recorder = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path", "query"],
    filter_headers=[("X-Shopify-Access-Token", "FILTERED")],
)


def _connector(clock: FakeClock) -> ShopifyConnector:
    # The recordings are of paged reads (a history would otherwise be a bulk export).
    return ShopifyConnector(shop="acme.myshopify.com", access_token=TOKEN, clock=clock, bulk=False)


def test_cassettes_hold_no_credentials() -> None:
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "shpat_" not in text
        assert "X-Shopify-Access-Token:\n      - FILTERED" in text


def test_customers_over_two_pages() -> None:
    clock = FakeClock()
    with recorder.use_cassette("customers_two_pages.yaml") as cassette, _connector(clock) as conn:
        customers = list(conn.iter_customers())
    assert [c.external_id for c in customers] == ["207119551", "1073339482"]
    assert customers[0].tags == ("Léon", "Noël")
    assert customers[0].default_address is not None
    assert customers[0].default_address.phone == "555-625-1199"
    assert cassette.all_played
    sent = [json.loads(r.body) for r in cassette.requests]
    assert sent[1]["variables"]["after"] == "eyJsYXN0X2lkIjoyMDcxMTk1NTF9"
    assert "sortKey: UPDATED_AT" in sent[0]["query"]
    assert cassette.requests[0].uri.endswith(f"/admin/api/{API_VERSION}/graphql.json")


def test_throttled_answer_is_retried_after_its_implied_wait() -> None:
    clock = FakeClock()
    with recorder.use_cassette("throttled_then_ok.yaml") as cassette, _connector(clock) as conn:
        customers = list(conn.iter_customers())
    assert [c.external_id for c in customers] == ["1073339482"]
    assert cassette.all_played
    # (requested 502 - available 2) / restore 100 per second = 5 s, at least.
    assert clock.slept >= 5.0


def test_unauthorized() -> None:
    clock = FakeClock()
    with (
        recorder.use_cassette("unauthorized.yaml"),
        _connector(clock) as conn,
        pytest.raises(AuthenticationError) as info,
    ):
        list(conn.iter_orders())
    assert TOKEN not in str(info.value)
    assert info.value.request_id == "cassette-0001"
