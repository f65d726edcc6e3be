"""Shopify: a connector on the GraphQL Admin API, and pure parsers for both payload shapes.

* :class:`ShopifyConnector` reads customers, orders (every status), products and
  abandoned checkouts through the GraphQL Admin API, paced by query cost.
* :func:`parse_customer`, :func:`parse_order`, :func:`parse_product`,
  :func:`parse_cart` read the REST / webhook JSON shape (``orders/create`` …).
* :func:`parse_customer_node`, :func:`parse_order_node`, :func:`parse_product_node`,
  :func:`parse_checkout_node` read the GraphQL nodes the connector's queries return.
* :class:`BulkOptions` (``ShopifyConnector(bulk=…)``) reads histories through bulk
  operations (:mod:`.bulk`); :class:`FileBulkJournal` lets a new process re-attach to
  the operation a killed one started.

Both shapes of the same data give equal canonical records, but for the checkout an
order came from (``Order.extra["checkout_id"]`` / ``["checkout_token"]``), which only
the REST/webhook shape carries: the GraphQL ``Order`` has no such field.

Example:
    >>> from commerce_connectors.platforms.shopify import parse_customer
    >>> c = parse_customer({"id": 207119551, "email": "bob.norman@mail.example.com",
    ...     "phone": None, "tags": "Léon, Noël",
    ...     "created_at": "2024-04-02T08:59:11-05:00", "updated_at": "2024-04-02T08:59:11-05:00",
    ...     "email_marketing_consent": {"state": "subscribed"},
    ...     "default_address": {"phone": "555-625-1199", "company": "Acme"}})
    >>> c.tags, c.accepts_marketing, c.company, c.phone, c.default_address.phone
    (('Léon', 'Noël'), True, 'Acme', None, '555-625-1199')
"""

from __future__ import annotations

from . import constants
from ._shared import CONSENT_STATES, ParseOptions, connection_id_for, enrich_lines, order_status
from .bulk import (
    BulkCanceledError,
    BulkEntry,
    BulkJournal,
    BulkOperation,
    BulkOptions,
    BulkStats,
    FileBulkJournal,
    MemoryBulkJournal,
)
from .connector import ShopifyConnector, ShopifyErrorMapper, ShopInfo, normalize_shop_domain
from .graphql import (
    parse_checkout_node,
    parse_customer_node,
    parse_order_node,
    parse_product_node,
    search_filter,
)
from .rest import parse_cart, parse_customer, parse_order, parse_product

API_VERSION = constants.API_VERSION

__all__ = [
    "API_VERSION",
    "CONSENT_STATES",
    "BulkCanceledError",
    "BulkEntry",
    "BulkJournal",
    "BulkOperation",
    "BulkOptions",
    "BulkStats",
    "FileBulkJournal",
    "MemoryBulkJournal",
    "ParseOptions",
    "ShopInfo",
    "ShopifyConnector",
    "ShopifyErrorMapper",
    "connection_id_for",
    "constants",
    "enrich_lines",
    "normalize_shop_domain",
    "order_status",
    "parse_cart",
    "parse_checkout_node",
    "parse_customer",
    "parse_customer_node",
    "parse_order",
    "parse_order_node",
    "parse_product",
    "parse_product_node",
    "search_filter",
]
