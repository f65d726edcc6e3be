"""Cart abandonment: when a cart counts as abandoned, and when it is past saving."""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Cart, ensure_aware_utc
from ._reasons import Reason

__all__ = ["AbandonmentPolicy", "CartState", "CartStatus", "cart_status"]


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


def cart_status(
    cart: Cart,
    now: _dt.datetime,
    *,
    policy: AbandonmentPolicy | None = None,
    deleted_at: _dt.datetime | None = None,
) -> CartStatus:
    """Classify a cart as active, abandoned, converted, recovered, deleted or expired.

    A cart is abandoned once its last activity is at least ``policy.delay``
    old and it has been neither converted to an order nor deleted. A cart
    converted within the delay is ``CONVERTED`` (never abandoned); one converted
    later is ``RECOVERED``. A cart older than the platform's retention horizon
    is ``EXPIRED`` and reported as such.

    Args:
        cart: the cart (its ``completed_at`` marks conversion).
        now: the moment of the decision (aware); rules never read the clock.
        policy: delay and retention; ``None`` uses the platform's defaults.
        deleted_at: when the cart was deleted, if the caller knows it was.

    Raises:
        NaiveDatetimeError: ``now`` or ``deleted_at`` is naive.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> from commerce_connectors.models import Money
        >>> t = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        >>> cart = Cart("tiendanube", "tn:1", "c1", t, t, total=Money("10", "BRL"))
        >>> cart_status(cart, t + timedelta(hours=5)).state
        <CartState.ACTIVE: 'active'>
        >>> cart_status(cart, t + timedelta(hours=6)).state
        <CartState.ABANDONED: 'abandoned'>
    """
    if policy is None:
        from .defaults import defaults_for

        policy = defaults_for(cart.platform).abandonment
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
