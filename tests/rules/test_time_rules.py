"""Automation triggers, cart abandonment and contact caps."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from _builders import T0, cart, order
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.errors import ConfigurationError, ContactLimitError, NaiveDatetimeError
from commerce_connectors.rules import (
    AbandonmentPolicy,
    CartState,
    Reason,
    SyncMode,
    TriggerPolicy,
    apply_contact_cap,
    cart_status,
    trigger_decision,
)
from commerce_connectors.testing import strategies as cs

H24 = dt.timedelta(hours=24)
US = dt.timedelta(microseconds=1)
_offsets = st.timedeltas(min_value=-3 * H24, max_value=H24)

# ---------------------------------------------------------------- triggers


@given(offset=_offsets, window_hours=st.integers(0, 72))
def test_trigger_rule_fires_for_historical_orders_exactly_within_the_window_boundary_inclusive(
    offset: dt.timedelta, window_hours: int
) -> None:
    start = T0
    window = dt.timedelta(hours=window_hours)
    placed = start + offset
    decision = trigger_decision(
        order(created_at=placed, updated_at=start),
        SyncMode.HISTORICAL,
        sync_started_at=start,
        policy=TriggerPolicy(window=window),
    )
    assert decision.fires is (placed >= start - window)
    assert decision.source == (1 if decision.fires else 0)
    assert decision.reason is (None if decision.fires else Reason.HISTORICAL_DATA)


def test_trigger_rule_24h_boundary_is_inclusive() -> None:
    at_boundary = order(created_at=T0 - H24)
    just_outside = order(created_at=T0 - H24 - US)
    assert trigger_decision(at_boundary, "historical", sync_started_at=T0).source == 1
    assert trigger_decision(just_outside, "historical", sync_started_at=T0).source == 0
    assert trigger_decision(order(created_at=T0 + US), "historical", sync_started_at=T0).fires


_moments = cs.aware_datetimes()


@given(_moments, _offsets)
def test_historical_carts_never_fire(active: dt.datetime, offset: dt.timedelta) -> None:
    c = cart(created_at=active)
    assert not trigger_decision(c, "historical", sync_started_at=active + offset).fires


@given(_moments, st.booleans())
def test_realtime_data_always_fires(moment: dt.datetime, is_cart: bool) -> None:
    record = cart(created_at=moment) if is_cart else order(created_at=moment)
    decision = trigger_decision(record, SyncMode.REALTIME)
    assert (decision.fires, decision.source) == (True, 1)


def test_incremental_sync_uses_the_window_for_orders_and_carts() -> None:
    recent_cart = cart(created_at=T0 - dt.timedelta(hours=2))
    old_cart = cart(created_at=T0 - 2 * H24)
    assert trigger_decision(recent_cart, "incremental", sync_started_at=T0).fires
    assert trigger_decision(old_cart, "incremental", sync_started_at=T0).reason is (
        Reason.HISTORICAL_DATA
    )
    no_carts = TriggerPolicy(incremental_carts_fire=False)
    assert not trigger_decision(recent_cart, "incremental", sync_started_at=T0, policy=no_carts)
    assert not trigger_decision(order(created_at=T0 - 2 * H24), "incremental", sync_started_at=T0)


def test_trigger_rule_needs_an_aware_sync_start() -> None:
    with pytest.raises(ConfigurationError):
        trigger_decision(order(), "historical")
    with pytest.raises(NaiveDatetimeError):
        trigger_decision(order(), "historical", sync_started_at=dt.datetime(2024, 1, 1))
    with pytest.raises(ConfigurationError):
        TriggerPolicy(window=-H24)


# ---------------------------------------------------------------- abandonment

_delays = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=2))


@given(
    created=_moments,
    idle=st.timedeltas(dt.timedelta(0), 3 * H24),
    delay=_delays,
    offset=st.timedeltas(-H24, 3 * H24),
)
def test_abandonment_boundary_is_exactly_the_delay_since_last_activity(
    created: dt.datetime, idle: dt.timedelta, delay: dt.timedelta, offset: dt.timedelta
) -> None:
    open_cart = cart("shopify", created_at=created, updated_at=created + idle)
    now = open_cart.last_activity_at + offset
    status = cart_status(open_cart, now, policy=AbandonmentPolicy(delay=delay))
    assert status.is_abandoned is (offset >= delay)
    if status.is_abandoned:
        assert status.abandoned_at == open_cart.last_activity_at + delay
    else:
        assert status.reason is Reason.CART_NOT_YET_ABANDONED


def test_abandonment_at_exactly_six_hours() -> None:
    c = cart(created_at=T0)
    assert cart_status(c, T0 + dt.timedelta(hours=6) - US).state is CartState.ACTIVE
    assert cart_status(c, T0 + dt.timedelta(hours=6)).state is CartState.ABANDONED


def test_a_cart_converted_within_the_delay_is_never_abandoned() -> None:
    converted = cart(created_at=T0, completed_at=T0 + dt.timedelta(hours=5))
    later = T0 + dt.timedelta(days=1)
    assert cart_status(converted, later).state is CartState.CONVERTED
    recovered = cart(created_at=T0, completed_at=T0 + dt.timedelta(hours=7))
    status = cart_status(recovered, later)
    assert (status.state, status.reason) == (CartState.RECOVERED, Reason.CART_RECOVERED)
    # conversion "in the future" of the decision time has not happened yet
    assert cart_status(recovered, T0 + dt.timedelta(hours=6)).state is CartState.ABANDONED


def test_a_deleted_cart_is_not_abandoned() -> None:
    c = cart(created_at=T0)
    status = cart_status(c, T0 + H24, deleted_at=T0 + dt.timedelta(hours=1))
    assert (status.state, status.reason) == (CartState.DELETED, Reason.CART_DELETED)


def test_carts_beyond_the_platform_retention_are_reported_expired() -> None:
    c = cart("tiendanube", created_at=T0)
    status = cart_status(c, T0 + dt.timedelta(days=31))
    assert (status.state, status.reason) == (CartState.EXPIRED, Reason.CART_EXPIRED)
    assert cart_status(c, T0 + dt.timedelta(days=30)).state is CartState.ABANDONED
    shopify_cart = cart("shopify", created_at=T0)
    assert cart_status(shopify_cart, T0 + dt.timedelta(days=400)).is_abandoned


def test_abandonment_refuses_naive_time_and_negative_delays() -> None:
    with pytest.raises(NaiveDatetimeError):
        cart_status(cart(), dt.datetime(2024, 1, 1))
    with pytest.raises(ConfigurationError):
        AbandonmentPolicy(delay=-US)


# ---------------------------------------------------------------- contact cap

_ids = st.sampled_from([f"c{n}@x.io" for n in range(12)])


@given(
    items=st.lists(_ids, max_size=20),
    existing=st.sets(_ids, max_size=8),
    limit=st.none() | st.integers(0, 12),
)
def test_cap_never_loses_a_record(items: list[str], existing: set[str], limit: int | None) -> None:
    result = apply_contact_cap(items, limit=limit, existing=existing, identity=str)
    refused = [r.item for r in result.refused]
    # accepted + refused is exactly the input, each side in input order
    assert len(result.accepted) + len(result.refused) == len(items)
    assert Counter(result.accepted) + Counter(refused) == Counter(items)
    assert list(result.accepted) == [i for i in items if i not in set(refused)]
    # updates always continue; only new identities are refused, each with its error
    assert all(i in result.accepted for i in items if i in existing)
    for refusal in result.refused:
        assert refusal.item not in existing
        assert refusal.reason is Reason.CONTACT_LIMIT
        assert isinstance(refusal.error, ContactLimitError)
        assert refusal.error.identity == refusal.item
    new = {i for i in result.accepted if i not in existing}
    if limit is not None:
        assert len(new) <= max(0, limit - len(existing))
        assert result.contact_count == len(existing) + len(new)
    # what was refused goes through once the cap is raised
    later = apply_contact_cap(
        refused, limit=None, existing=existing | set(result.accepted), identity=str
    )
    assert list(later.accepted) == refused


def test_cap_takes_a_lookup_function_and_a_count() -> None:
    held = {"a@x.io"}
    result = apply_contact_cap(
        ["a@x.io", "b@x.io"], limit=1, existing=held.__contains__, existing_count=1, identity=str
    )
    assert result.accepted == ("a@x.io",)
    with pytest.raises(ConfigurationError):
        apply_contact_cap([], limit=1, existing=held.__contains__, identity=str)
    with pytest.raises(ConfigurationError):
        apply_contact_cap([], limit=-1, existing=held, identity=str)
