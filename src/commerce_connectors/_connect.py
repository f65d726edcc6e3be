"""``connect(platform, **options)``: build a connector from a platform name."""

from __future__ import annotations

from typing import Any

from .errors import ConfigurationError
from .models import Platform
from .platforms.base import BaseConnector
from .platforms.bigcommerce import BigCommerceConnector
from .platforms.shopify import ShopifyConnector
from .platforms.square import SquareConnector
from .platforms.tiendanube import TiendanubeConnector

__all__ = ["CONNECTORS", "connect"]

#: The connector class of each platform.
CONNECTORS: dict[Platform, type[BaseConnector]] = {
    Platform.SHOPIFY: ShopifyConnector,
    Platform.BIGCOMMERCE: BigCommerceConnector,
    Platform.SQUARE: SquareConnector,
    Platform.TIENDANUBE: TiendanubeConnector,
}


def connect(platform: str | Platform, **options: Any) -> BaseConnector:
    """Build the connector of ``platform`` with its keyword options.

    ``connect("shopify", shop=..., access_token=...)`` is
    ``ShopifyConnector(shop=..., access_token=...)``; ``"nuvemshop"`` is accepted
    for Tiendanube (pass ``domain="nuvemshop"`` for the Brazilian host).

    Raises:
        ConfigurationError: an unknown platform (the message lists the known
            ones) or options the connector does not take.

    Example:
        >>> conn = connect("bigcommerce", store_hash="abc123", access_token="secret-token")
        >>> conn.connection_id
        'bigcommerce:abc123'
        >>> conn.close()
        >>> connect("magento")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: unknown platform 'magento'; ...
    """
    name = platform.value if isinstance(platform, Platform) else str(platform).strip().lower()
    if name == "nuvemshop":
        name = Platform.TIENDANUBE.value
    try:
        cls = CONNECTORS[Platform(name)]
    except (ValueError, KeyError):
        known = ", ".join(sorted(p.value for p in CONNECTORS))
        raise ConfigurationError(f"unknown platform {platform!r}; known: {known}") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigurationError(f"{cls.__name__}: {exc}") from exc
