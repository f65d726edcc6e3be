"""Default field maps, in ActiveCampaign's field names, as its own integrations fill them.

The field tables of ActiveCampaign's Shopify, BigCommerce and Square integrations
(published in their help pages, in several languages)
list, for each platform field, the ActiveCampaign field it fills:

========================  =========================  ==============================
canonical field           CRM field                  help-page wording
========================  =========================  ==============================
contact.first_name        firstName                  Prénom / Vorname / Nombre
contact.last_name         lastName                   Nom / Nachname / Apellido
contact.email             email                      E-mail / Correo electrónico
contact.phone             phone                      Numéro de téléphone (fallback)
contact.company           account                    Compagnie → Compte
order.order_number        orderNumber                Número de pedido → Orden
order.total               totalPrice (+ currency)    Total de la commande / Divisa
order.created_at          externalCreatedDate        Date de commande / Fecha
order.order_url           orderUrl                   Orden de URL
order.shipping_method     shippingMethod             Méthode d'expédition
order.discount_codes      discountCode               Code de réduction
order.discount_total      discountAmount             prix réduit
line.product_id           externalid                 ID du produit
line.name                 name                       Titre du produit
line.category             category                   Type de produit → Catégorie
line.sku                  sku                        SKU
line.quantity             quantity                   Quantité
line.unit_price           price                      Prix du produit
line.description          description                Description du produit
line.image_url            imageUrl                   Image du produit
========================  =========================  ==============================

Money is written in minor units (ActiveCampaign's cents) and datetimes as
ISO 8601 with offset. Adapt a map with :meth:`FieldMap.rename`, ``drop``,
``add`` and ``with_external_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..errors import ConfigurationError
from ._fieldmap import FieldMap, FieldSpec

__all__ = [
    "CART_MAP",
    "CONTACT_MAP",
    "DEFAULT_MAPS",
    "LINE_MAP",
    "ORDER_MAP",
    "PAYMENT_MAP",
    "PRODUCT_MAP",
    "default_map",
]

_F = FieldSpec

#: Contacts (rules' :class:`~commerce_connectors.rules.Contact`, or a Customer).
#: Guests may have no customer id, so the external id is optional here.
CONTACT_MAP = FieldMap(
    "contact",
    [
        _F("firstName", "first_name"),
        _F("lastName", "last_name"),
        _F("email", "email"),
        _F("phone", "phone"),
        _F("account", "company"),
        _F("tags", "tags", transform="list"),
        _F("acceptsMarketing", "accepts_marketing", transform="flag"),
    ],
    require_external_id=False,
)

#: Order lines and cart lines (ActiveCampaign ``orderProducts``).
LINE_MAP = FieldMap(
    "line",
    [
        _F("externalid", "product_id", transform="text"),
        _F("name", "name"),
        _F("category", "category"),
        _F("sku", "sku"),
        _F("quantity", "quantity", transform="quantity", required=True),
        _F("price", "unit_price", transform="minor_units", required=True),
        _F("description", "description"),
        _F("imageUrl", "image_url"),
    ],
    require_external_id=False,
)

#: Orders of every status, with their lines.
ORDER_MAP = FieldMap(
    "order",
    [
        _F("orderNumber", "order_number"),
        _F("email", "email", transform="email"),
        _F("totalPrice", "total", transform="minor_units", required=True),
        _F("currency", "total.currency", required=True),
        _F("externalCreatedDate", "created_at", transform="iso_datetime", required=True),
        _F("externalUpdatedDate", "updated_at", transform="iso_datetime"),
        _F("status", "status", transform="enum_value"),
        _F("orderUrl", "order_url"),
        _F("shippingMethod", "shipping_method"),
        _F("discountCode", "discount_codes", transform="join"),
        _F("discountAmount", "discount_total", transform="minor_units"),
        _F("storeName", "store_name"),
        _F("orderProducts", "lines", each=LINE_MAP),
    ],
)

#: Abandoned carts / checkouts (ActiveCampaign writes them as orders with a
#: checkout id; the sink uses the external id as ``externalcheckoutid``).
CART_MAP = FieldMap(
    "cart",
    [
        _F("email", "email", transform="email"),
        _F("totalPrice", "total", transform="minor_units", required=True),
        _F("currency", "total.currency", required=True),
        _F("orderUrl", "recovery_url"),
        _F("externalCreatedDate", "created_at", transform="iso_datetime", required=True),
        _F("externalUpdatedDate", "updated_at", transform="iso_datetime"),
        _F("abandonedDate", "last_activity_at", transform="iso_datetime", required=True),
        _F("storeName", "store_name"),
        _F("orderProducts", "lines", each=LINE_MAP),
    ],
)

#: The whole catalogue (id, name, category, SKU, price, description, image).
PRODUCT_MAP = FieldMap(
    "product",
    [
        _F("name", "name"),
        _F("category", "category"),
        _F("sku", "sku"),
        _F("price", "price", transform="minor_units"),
        _F("currency", "price.currency"),
        _F("description", "description"),
        _F("imageUrl", "image_url"),
        _F("productUrl", "url"),
    ],
)

#: Square payments (the Square integration's field table: order number, payment date,
#: amount, currency, payment URL).
PAYMENT_MAP = FieldMap(
    "payment",
    [
        _F("orderNumber", "order_external_id"),
        _F("externalCreatedDate", "created_at", transform="iso_datetime", required=True),
        _F("totalPrice", "amount", transform="minor_units", required=True),
        _F("currency", "amount.currency", required=True),
        _F("orderUrl", "receipt_url"),
        _F("status", "status"),
    ],
)

#: Every default map by kind.
DEFAULT_MAPS: Mapping[str, FieldMap] = MappingProxyType(
    {
        "contact": CONTACT_MAP,
        "customer": CONTACT_MAP,
        "order": ORDER_MAP,
        "line": LINE_MAP,
        "cart": CART_MAP,
        "product": PRODUCT_MAP,
        "payment": PAYMENT_MAP,
    }
)


def default_map(kind: str) -> FieldMap:
    """The default map of a record kind.

    Example:
        >>> default_map("order").targets[:3]
        ('orderNumber', 'email', 'totalPrice')

    Raises:
        ConfigurationError: an unknown kind.
    """
    try:
        return DEFAULT_MAPS[kind]
    except KeyError:
        known = ", ".join(sorted(DEFAULT_MAPS))
        raise ConfigurationError(f"no default map for {kind!r}; known: {known}") from None
