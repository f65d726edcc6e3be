"""Cart abandonment: when a cart counts as abandoned, and when it is past saving.

This module is a policy: it applies the delay and retention it is given and
knows nothing of platforms. :func:`~commerce_connectors.rules.cart_status` is
the entry point that falls back to a platform's default policy.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Cart, ensure_aware_utc
from ._reasons import Reason

__all__ = ["AbandonmentPolicy", "CartState", "CartStatus", "classify_cart"]


class CartState(str, enum.Enum):
    """Where a cart stands for the abandoned-cart automation."""

    #: Still within the delay: the shopper may come back.
    ACTIVE = "active"
    #: Past the delay, not converted, not deleted: abandoned.
    ABANDONED = "abandoned"
    #: Converted to an order within the delay: it was never abandoned.
    CONVERTED = "converted"
    #: Abandoned first, converted to an order later.
    RECOVERED = "recovered"
    #: Deleted by the shopper or the platform.
    DELETED = "deleted"
    #: Older than the platform keeps carts: its recovery link no longer works.
    EXPIRED = "expired"


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, _dt.timedelta) or value < _dt.timedelta(0):
        raise ConfigurationError(f"{attribute.name} must be a non-negative timedelta: {value!r}")


@attrs.frozen
class AbandonmentPolicy:
    """How long before a cart counts as abandoned, and how long the platform keeps it.

    Attributes:
        delay: time since the cart's last activity after which it is abandoned
            (6 hours by default, DataCrush's published delay). Inclusive: a cart
            idle for exactly ``delay`` is abandoned.
        retention: how long after creation the platform keeps a cart
            (Tiendanube: 30 days); ``None`` when the platform publishes no limit.

    Example:
        >>> AbandonmentPolicy().delay
        datetime.timedelta(seconds=21600)
    """

    delay: _dt.timedelta = attrs.field(default=_dt.timedelta(hours=6), validator=_non_negative)
    retention: _dt.timedelta | None = attrs.field(
        default=None, validator=attrs.validators.optional(_non_negative)
    )


@attrs.frozen
class CartStatus:
    """The abandonment verdict for one cart at one moment.

    Attributes:
        state: the cart's state.
        reason: why it is not (or no longer) an abandoned cart; ``None`` when abandoned.
        abandoned_at: when it became abandoned (last activity + delay), for
            ``ABANDONED``, ``RECOVERED`` and ``EXPIRED`` carts that got that far.
    """

    state: CartState
    reason: Reason | None = None
    abandoned_at: _dt.datetime | None = None

    @property
    def is_abandoned(self) -> bool:
        """True for a cart the abandoned-cart automation should act on now."""
        return self.state is CartState.ABANDONED


def classify_cart(
    cart: Cart,
    now: _dt.datetime,
    policy: AbandonmentPolicy,
    *,
    deleted_at: _dt.datetime | None = None,
) -> CartStatus:
    """Classify a cart under a given abandonment policy.

    The policy behind :func:`~commerce_connectors.rules.cart_status`, which
    documents the states and also accepts no policy (the platform's default).

    Raises:
        NaiveDatetimeError: ``now`` or ``deleted_at`` is naive.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> from commerce_connectors.models import Money
        >>> t = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        >>> cart = Cart("custom", "c:1", "c1", t, t, total=Money("10", "EUR"))
        >>> classify_cart(cart, t + timedelta(hours=1), AbandonmentPolicy(delay=timedelta(0))).state
        <CartState.ABANDONED: 'abandoned'>
    """
    now = ensure_aware_utc(now, field="now")
    deleted = None if deleted_at is None else ensure_aware_utc(deleted_at, field="deleted_at")
    abandoned_at = cart.last_activity_at + policy.delay
    completed = cart.completed_at if cart.completed_at and cart.completed_at <= now else None
    if completed is not None:
        if completed < abandoned_at:
            return CartStatus(CartState.CONVERTED, Reason.CART_CONVERTED)
        return CartStatus(CartState.RECOVERED, Reason.CART_RECOVERED, abandoned_at)
    if deleted is not None and deleted <= now:
        return CartStatus(CartState.DELETED, Reason.CART_DELETED)
    if policy.retention is not None and now - cart.created_at > policy.retention:
        reached = abandoned_at if abandoned_at <= now else None
        return CartStatus(CartState.EXPIRED, Reason.CART_EXPIRED, reached)
    if now >= abandoned_at:
        return CartStatus(CartState.ABANDONED, None, abandoned_at)
    return CartStatus(CartState.ACTIVE, Reason.CART_NOT_YET_ABANDONED)
