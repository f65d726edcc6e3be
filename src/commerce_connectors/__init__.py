"""commerce_connectors: shop data (Shopify, BigCommerce, Square, Tiendanube) into any CRM."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._connect import connect
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
from .platforms.bigcommerce import BigCommerceConnector
from .platforms.shopify import ShopifyConnector
from .platforms.square import SquareConnector
from .platforms.tiendanube import TiendanubeConnector
from .protocols import Connector, Sink, StateStore, Stream
from .sinks import MemorySink, SQLiteSink
from .state import MemoryStateStore, SQLiteStateStore
from .sync import Scheduler, SyncEngine, SyncReport, SyncStatus

try:
    __version__ = version("commerce-connectors")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "APIError",
    "Address",
    "AuthenticationError",
    "BigCommerceConnector",
    "Cart",
    "CommerceConnectorsError",
    "ConfigurationError",
    "Connector",
    "ContactLimitError",
    "CurrencyError",
    "Customer",
    "InvalidRecordError",
    "LineItem",
    "MemorySink",
    "MemoryStateStore",
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
    "SQLiteSink",
    "SQLiteStateStore",
    "Scheduler",
    "ServerError",
    "ShopifyConnector",
    "Sink",
    "SinkError",
    "SquareConnector",
    "StateStore",
    "Stream",
    "SyncEngine",
    "SyncReport",
    "SyncStatus",
    "TiendanubeConnector",
    "TransportError",
    "UnsupportedStreamError",
    "__version__",
    "connect",
]
