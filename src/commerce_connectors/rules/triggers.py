"""Automation triggers: may writing this order or cart fire the CRM's automations?

ActiveCampaign calls the decision ``source``: 1 fires "makes a purchase" and
"abandons cart" automations, 0 does not. Firing them for year-old orders during
a backfill is the classic integration bug; this rule is the one place that
decides, and it takes the sync's start time as an argument instead of reading
a clock.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Cart, Order, ensure_aware_utc
from ._reasons import Reason

__all__ = ["SyncMode", "TriggerDecision", "TriggerPolicy", "trigger_decision"]


class SyncMode(str, enum.Enum):
    """How the data being written was obtained.

    * ``REALTIME``: from a webhook, as it happened.
    * ``INCREMENTAL``: a scheduled or manual catch-up since the last sync date.
    * ``HISTORICAL``: a backfill from the beginning of the store.
    """

    REALTIME = "realtime"
    INCREMENTAL = "incremental"
    HISTORICAL = "historical"


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, _dt.timedelta) or value < _dt.timedelta(0):
        raise ConfigurationError(f"{attribute.name} must be a non-negative timedelta: {value!r}")


@attrs.frozen
class TriggerPolicy:
    """The trigger window and which sync modes may fire inside it.

    Attributes:
        window: orders placed within this long before the sync started still
            fire automations in an incremental sync, and in a historical one
            when ``historical_fires`` (24 hours, as the integrations promise).
            The boundary is inclusive.
        historical_fires: whether a historical sync may fire at all. Square's
            integration fires for orders of the last 24 hours; BigCommerce's
            never fires for historical data, however recent.
        incremental_carts_fire: in an incremental sync, carts whose last
            activity is within the window fire abandoned-cart automations
            (historical carts never do).

    Real-time data always fires, whatever the policy.

    Example:
        >>> TriggerPolicy().window
        datetime.timedelta(days=1)
        >>> TriggerPolicy(historical_fires=False).historical_fires
        False
    """

    window: _dt.timedelta = attrs.field(default=_dt.timedelta(hours=24), validator=_positive)
    historical_fires: bool = True
    incremental_carts_fire: bool = True


@attrs.frozen
class TriggerDecision:
    """Whether writing a record may fire automations.

    Attributes:
        fires: True when it may.
        reason: ``HISTORICAL_DATA`` or ``HISTORICAL_CART`` when it may not.
    """

    fires: bool
    reason: Reason | None = None

    @property
    def source(self) -> int:
        """ActiveCampaign's ``source`` value: 1 fires automations, 0 does not."""
        return 1 if self.fires else 0

    def __bool__(self) -> bool:
        return self.fires


_FIRE = TriggerDecision(True)
_DEFAULT_POLICY = TriggerPolicy()
# Decisions are frozen: the same few are handed out rather than made per record.
_HISTORICAL_DATA = TriggerDecision(False, Reason.HISTORICAL_DATA)
_HISTORICAL_CART = TriggerDecision(False, Reason.HISTORICAL_CART)


def trigger_decision(
    record: Order | Cart,
    mode: SyncMode | str,
    *,
    sync_started_at: _dt.datetime | None = None,
    policy: TriggerPolicy = _DEFAULT_POLICY,
) -> TriggerDecision:
    """Decide whether writing an order or cart may fire automations.

    * Real-time data fires.
    * Historical and incremental syncs fire only for orders placed at or after
      ``sync_started_at - policy.window`` (so an order placed exactly 24 hours
      before the sync started fires, one placed a microsecond earlier does not),
      including orders placed while the sync runs; a historical sync fires
      nothing when ``policy.historical_fires`` is off.
    * Carts from a historical sync never fire. In an incremental sync a cart
      fires when its last activity is within the window (unless
      ``policy.incremental_carts_fire`` is off).

    Args:
        record: the order or cart about to be written.
        mode: how it was obtained.
        sync_started_at: when the historical or incremental sync started
            (required for those modes; aware datetime).
        policy: the window and options.

    Raises:
        ConfigurationError: ``sync_started_at`` is missing or naive for a
            historical or incremental sync.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> from commerce_connectors.models import Money
        >>> start = datetime(2024, 11, 20, 12, tzinfo=timezone.utc)
        >>> def order(placed):
        ...     return Order("shopify", "s1", "1", placed, placed, status="paid",
        ...                  raw_status="paid", total=Money("5", "USD"))
        >>> trigger_decision(order(start - timedelta(hours=24)), "historical",
        ...                  sync_started_at=start).source
        1
        >>> trigger_decision(order(start - timedelta(hours=25)), "historical",
        ...                  sync_started_at=start).reason
        <Reason.HISTORICAL_DATA: 'historical_data'>
    """
    mode = mode if type(mode) is SyncMode else SyncMode(mode)
    if mode is SyncMode.REALTIME:
        return _FIRE
    if sync_started_at is None:
        raise ConfigurationError(f"a {mode.value} sync needs sync_started_at to decide triggers")
    started = ensure_aware_utc(sync_started_at, field="sync_started_at")
    threshold = started - policy.window
    if mode is SyncMode.HISTORICAL and not policy.historical_fires:
        return _HISTORICAL_CART if isinstance(record, Cart) else _HISTORICAL_DATA
    if isinstance(record, Cart):
        if mode is SyncMode.HISTORICAL or not policy.incremental_carts_fire:
            return _HISTORICAL_CART
        moment = record.last_activity_at
    else:
        moment = record.created_at
    if moment >= threshold:
        return _FIRE
    return _HISTORICAL_DATA
