"""Square: one connector per **location**, pure parsers, locations helper, error mapping.

Example:
    >>> from commerce_connectors.platforms.square import parse_payment
    >>> parse_payment({"id": "P1", "created_at": "2024-01-01T00:00:00Z",
    ...                "updated_at": "2024-01-01T00:00:00Z", "status": "COMPLETED",
    ...                "amount_money": {"amount": 1234, "currency": "USD"}}).amount
    Money(amount=Decimal('12.34'), currency='USD')

See ``docs/platforms/square.md``.
"""

from __future__ import annotations

from .connector import SkippedRecord, SquareConnector, list_locations
from .constants import RECOMMENDED_OVERLAP, SQUARE_VERSION
from .errors import InvalidCursorError, SquareErrorMapper
from .parsers import (
    CatalogRef,
    SquareLocation,
    catalog_refs,
    is_present_at,
    order_status,
    parse_customer,
    parse_location,
    parse_order,
    parse_payment,
    parse_product,
)

__all__ = [
    "RECOMMENDED_OVERLAP",
    "SQUARE_VERSION",
    "CatalogRef",
    "InvalidCursorError",
    "SkippedRecord",
    "SquareConnector",
    "SquareErrorMapper",
    "SquareLocation",
    "catalog_refs",
    "is_present_at",
    "list_locations",
    "order_status",
    "parse_customer",
    "parse_location",
    "parse_order",
    "parse_payment",
    "parse_product",
]
