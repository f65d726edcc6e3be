"""Each integration's automation rule for history: BigCommerce never, Square the last 24 h."""

from __future__ import annotations

import datetime as dt

import pytest

from commerce_connectors.models import Cart, Money, Order
from commerce_connectors.rules import Reason, SyncMode, TriggerPolicy, defaults_for
from commerce_connectors.rules.triggers import trigger_decision

START = dt.datetime(2024, 11, 20, 12, tzinfo=dt.timezone.utc)


def _order(platform: str, hours_ago: float) -> Order:
    placed = START - dt.timedelta(hours=hours_ago)
    return Order(platform, f"{platform}:1", "1", placed, placed, status="paid", raw_status="paid",
                 total=Money("5", "USD"))  # fmt: skip


def _decide(platform: str, hours_ago: float, mode: SyncMode) -> tuple[bool, Reason | None]:
    policy = defaults_for(platform).triggers
    d = trigger_decision(_order(platform, hours_ago), mode, sync_started_at=START, policy=policy)
    return d.fires, d.reason


def test_bigcommerce_history_never_fires_even_for_an_order_an_hour_old() -> None:
    assert _decide("bigcommerce", 1, SyncMode.HISTORICAL) == (False, Reason.HISTORICAL_DATA)
    assert _decide("bigcommerce", 0, SyncMode.HISTORICAL) == (False, Reason.HISTORICAL_DATA)


def test_bigcommerce_incremental_and_realtime_data_fire() -> None:
    assert _decide("bigcommerce", 1, SyncMode.INCREMENTAL) == (True, None)
    assert _decide("bigcommerce", 500, SyncMode.REALTIME) == (True, None)
    assert _decide("bigcommerce", 25, SyncMode.INCREMENTAL)[0] is False


@pytest.mark.parametrize("platform", ["square", "shopify", "tiendanube"])
def test_other_platforms_history_fires_for_the_last_24_hours(platform: str) -> None:
    assert _decide(platform, 24, SyncMode.HISTORICAL) == (True, None)
    assert _decide(platform, 24.001, SyncMode.HISTORICAL) == (False, Reason.HISTORICAL_DATA)


def test_silencing_history_leaves_incremental_runs_firing() -> None:
    quiet = TriggerPolicy(historical_fires=False)
    recent = _order("custom", 0.5)
    assert not trigger_decision(recent, SyncMode.HISTORICAL, sync_started_at=START, policy=quiet)
    assert trigger_decision(recent, SyncMode.INCREMENTAL, sync_started_at=START, policy=quiet)
    cart = Cart("custom", "custom:1", "c", START, START, total=Money("5", "USD"))
    decision = trigger_decision(cart, SyncMode.HISTORICAL, sync_started_at=START, policy=quiet)
    assert decision.reason is Reason.HISTORICAL_CART
