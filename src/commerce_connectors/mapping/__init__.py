"""Declarative field maps from canonical records to a CRM's field names, public API.

A :class:`FieldMap` lists CRM fields and where each value comes from: a path
in the canonical record (``total``, ``customer.default_address.city``) or in
the platform's raw payload (``$.note_attributes[0].value``), with an optional
transform (money to minor units, datetimes to ISO 8601…). The default maps
reproduce the field tables of ActiveCampaign's Shopify, BigCommerce and Square
integrations (as their help pages publish them), in ActiveCampaign's names; users rename,
drop, add custom fields and choose the external-id source. Errors are
aggregated: :class:`~commerce_connectors.errors.MappingError` lists every bad
field with its path, not just the first.

Example:
    >>> from datetime import datetime, timezone
    >>> from commerce_connectors.models import Money, Order
    >>> t = datetime(2024, 10, 4, 12, tzinfo=timezone.utc)
    >>> order = Order("shopify", "shopify:acme", "450789469", t, t, status="paid",
    ...               raw_status="paid", total=Money("598.94", "USD"), order_number="#1001",
    ...               raw={"source_name": "web"})
    >>> m = ORDER_MAP.drop("orderProducts").add("channel", "$.source_name")
    >>> mapped = m.apply(order)
    >>> mapped.external_id, mapped.fields["totalPrice"], mapped.fields["channel"]
    ('450789469', 59894, 'web')
"""

from __future__ import annotations

from ..errors import MappingError
from ..rules._paths import FieldPath
from ._fieldmap import FieldMap, FieldSpec, MappedRecord
from .defaults import (
    CART_MAP,
    CONTACT_MAP,
    DEFAULT_MAPS,
    LINE_MAP,
    ORDER_MAP,
    PAYMENT_MAP,
    PRODUCT_MAP,
    default_map,
)
from .transforms import TRANSFORMS, Transform, resolve_transform

__all__ = [
    "CART_MAP",
    "CONTACT_MAP",
    "DEFAULT_MAPS",
    "LINE_MAP",
    "ORDER_MAP",
    "PAYMENT_MAP",
    "PRODUCT_MAP",
    "TRANSFORMS",
    "FieldMap",
    "FieldPath",
    "FieldSpec",
    "MappedRecord",
    "MappingError",
    "Transform",
    "default_map",
    "resolve_transform",
]
