"""Tiendanube / Nuvemshop: the connector and pure parsers.

Example:
    >>> from commerce_connectors.platforms.tiendanube import parse_order
    >>> parse_order({"id": 1, "currency": "ARS", "total": "10.00", "status": "open",
    ...              "payment_status": "pending", "created_at": "2024-01-01T00:00:00-0300",
    ...              "updated_at": "2024-01-01T00:00:00-0300"}).status
    <OrderStatus.PENDING: 'pending'>

See ``docs/platforms/tiendanube.md``.
"""

from __future__ import annotations

from . import constants
from .connector import ProgressCallback, TiendanubeConnector, TiendanubePaginator, WalkReport
from .parsers import (
    connection_id_for,
    localized,
    order_status,
    parse_cart,
    parse_customer,
    parse_order,
    parse_product,
    split_name,
)

__all__ = [
    "ProgressCallback",
    "TiendanubeConnector",
    "TiendanubePaginator",
    "WalkReport",
    "connection_id_for",
    "constants",
    "localized",
    "order_status",
    "parse_cart",
    "parse_customer",
    "parse_order",
    "parse_product",
    "split_name",
]
