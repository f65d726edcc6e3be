"""Small record builders shared by the rules tests (fixed times, no clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from commerce_connectors.models import Cart, Customer, Money, Order

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


def customer(platform: str = "shopify", external_id: str = "1", **kw: Any) -> Customer:
    kw.setdefault("connection_id", f"{platform}:store")
    kw.setdefault("created_at", T0)
    kw.setdefault("updated_at", T0)
    return Customer(platform=platform, external_id=external_id, **kw)


def order(platform: str = "shopify", external_id: str = "1001", **kw: Any) -> Order:
    kw.setdefault("connection_id", f"{platform}:store")
    kw.setdefault("created_at", T0)
    kw.setdefault("updated_at", kw["created_at"])
    kw.setdefault("status", "paid")
    kw.setdefault("raw_status", "paid")
    kw.setdefault("total", Money("10.00", "USD"))
    return Order(platform=platform, external_id=external_id, **kw)


def cart(platform: str = "tiendanube", external_id: str = "c1", **kw: Any) -> Cart:
    kw.setdefault("connection_id", f"{platform}:store")
    kw.setdefault("created_at", T0)
    kw.setdefault("updated_at", kw["created_at"])
    kw.setdefault("total", Money("10.00", "BRL"))
    return Cart(platform=platform, external_id=external_id, **kw)
