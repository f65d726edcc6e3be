"""connect(): one factory for the four platforms, with clear errors."""

from __future__ import annotations

import pytest

import commerce_connectors as cc
from commerce_connectors import ConfigurationError, Platform, connect


@pytest.mark.parametrize(
    ("name", "options", "cls", "connection_id"),
    [
        (
            "shopify",
            {"shop": "acme.myshopify.com", "access_token": "t"},
            cc.ShopifyConnector,
            "shopify:acme.myshopify.com",
        ),
        (
            Platform.BIGCOMMERCE,
            {"store_hash": "abc123", "access_token": "t"},
            cc.BigCommerceConnector,
            "bigcommerce:abc123",
        ),
        (
            "Square",
            {"access_token": "t", "location_id": "L1", "merchant_id": "M1"},
            cc.SquareConnector,
            "square:L1",
        ),
        (
            "nuvemshop",
            {"store_id": 42, "access_token": "t", "user_agent": "App (dev@x.test)"},
            cc.TiendanubeConnector,
            "tiendanube:42",
        ),
    ],
)
def test_connect_builds_each_platform(
    name: str, options: dict[str, object], cls: type, connection_id: str
) -> None:
    with connect(name, **options) as conn:
        assert isinstance(conn, cls)
        assert conn.connection_id == connection_id


def test_unknown_platform_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="known: bigcommerce, shopify, square, tiendanube"):
        connect("magento")


def test_wrong_options_are_a_configuration_error_without_the_token() -> None:
    with pytest.raises(ConfigurationError, match="unexpected keyword") as info:
        connect("shopify", shop="acme.myshopify.com", access_token="shpat_secret", nope=1)
    assert "shpat_secret" not in str(info.value)
