"""commerce_connectors: shop data (Shopify, BigCommerce, Square, Tiendanube) into any CRM."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    APIError,
    AuthenticationError,
    CommerceConnectorsError,
    ConfigurationError,
    ContactLimitError,
    CurrencyError,
    InvalidRecordError,
    NaiveDatetimeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetriableError,
    ServerError,
    SinkError,
    TransportError,
    UnsupportedStreamError,
)
from .models import (
    Address,
    Cart,
    Customer,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Payment,
    Platform,
    Product,
    ProductVariant,
)

try:
    __version__ = version("commerce-connectors")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "APIError",
    "Address",
    "AuthenticationError",
    "Cart",
    "CommerceConnectorsError",
    "ConfigurationError",
    "ContactLimitError",
    "CurrencyError",
    "Customer",
    "InvalidRecordError",
    "LineItem",
    "Money",
    "NaiveDatetimeError",
    "NotFoundError",
    "Order",
    "OrderStatus",
    "Payment",
    "PermissionDeniedError",
    "Platform",
    "Product",
    "ProductVariant",
    "RateLimitError",
    "RetriableError",
    "ServerError",
    "SinkError",
    "TransportError",
    "UnsupportedStreamError",
    "__version__",
]
