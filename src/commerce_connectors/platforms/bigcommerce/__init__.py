"""BigCommerce: the connector and its pure parsers.

Orders come from the v2 API (with their line items and shipping addresses inside
the list page, and their coupons), customers and the catalog from v3, each
customer's newsletter consent from the v3 Subscribers API, carts from v3 by id
(BigCommerce has no cart listing). See ``docs/platforms/bigcommerce.md``.

Example:
    >>> from commerce_connectors.platforms.bigcommerce import BigCommerceConnector, parse_cart
    >>> with BigCommerceConnector(store_hash="abc123", access_token="tok-0123456789") as conn:
    ...     conn.connection_id
    'bigcommerce:abc123'
"""

from __future__ import annotations

from ._retry import BigCommerceRetryPolicy
from .connector import BigCommerceConnector, BigCommerceErrorMapper
from .parsers import parse_cart, parse_customer, parse_order, parse_product

__all__ = [
    "BigCommerceConnector",
    "BigCommerceErrorMapper",
    "BigCommerceRetryPolicy",
    "parse_cart",
    "parse_customer",
    "parse_order",
    "parse_product",
]
