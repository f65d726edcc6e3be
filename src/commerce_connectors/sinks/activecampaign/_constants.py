"""ActiveCampaign API v3 facts the sink relies on, kept apart from the logic.

Each value is documented in ActiveCampaign's v3 reference (its OpenAPI definition
and the e-commerce guides); see ``docs/activecampaign.md`` for the list.
"""

from __future__ import annotations

from typing import Final

#: The v3 API lives under the account's API URL (Settings → Developer).
API_PATH: Final = "/api/3"
#: The environment variable ``open_sink("activecampaign://…")`` reads the key from.
TOKEN_ENV: Final = "ACTIVECAMPAIGN_API_TOKEN"  # noqa: S105 - a variable's name
#: "5 requests per second per account", shared by every key of the account.
DEFAULT_REQUESTS_PER_SECOND: Final = 5.0
#: The most objects a list call returns (``limit``; the default is 20).
PAGE_LIMIT: Final = 100
#: The ``service`` of the connections this library creates (with our connection id
#: as ``externalid``, the pair identifies a store).
DEFAULT_SERVICE: Final = "commerce-connectors"
#: Amount fields are documented as 32-bit integers of minor units.
INT32_MAX: Final = 2**31 - 1

#: ``POST /contactLists`` status values.
LIST_SUBSCRIBE: Final = "1"
LIST_UNSUBSCRIBED: Final = "2"

#: Order fields of ``POST /ecomOrders`` (create).
ORDER_CREATE_FIELDS: Final = (
    "externalid",
    "externalcheckoutid",
    "source",
    "email",
    "orderProducts",
    "orderDiscounts",
    "orderUrl",
    "externalCreatedDate",
    "externalUpdatedDate",
    "abandonedDate",
    "shippingMethod",
    "totalPrice",
    "shippingAmount",
    "taxAmount",
    "discountAmount",
    "currency",
    "orderNumber",
    "connectionid",
    "customerid",
)
#: Order fields of a plain ``PUT /ecomOrders/{id}`` (an order or cart changed at the
#: store): the documented update body (AC-OAS ``update-order``) without source,
#: connection, customer or creation date. Leaving ``source`` out keeps a later update
#: (a refund synced as historical) from changing an order's automation source.
ORDER_UPDATE_FIELDS: Final = (
    "externalid",
    "externalcheckoutid",
    "email",
    "orderProducts",
    "orderDiscounts",
    "orderUrl",
    "externalUpdatedDate",
    "abandonedDate",
    "shippingMethod",
    "totalPrice",
    "shippingAmount",
    "taxAmount",
    "discountAmount",
    "currency",
    "orderNumber",
)
#: Order fields of the ``PUT`` that turns an abandoned cart into its order (the
#: abandoned-cart guide's recovery): the order's whole body, its ``source``, placement
#: date and customer included, as ActiveCampaign's own Magento module sends it
#: (``Order/Model/OrderData/OrderDataSend.php``). The update takes "the same body" as a
#: create (ActiveCampaign's API reference, "Update an order"); the connection stays as created.
ORDER_CONVERT_FIELDS: Final = (
    *ORDER_UPDATE_FIELDS,
    "source",
    "externalCreatedDate",
    "customerid",
)
#: ``orderProducts[]`` fields; the first four are required.
LINE_FIELDS: Final = (
    "externalid",
    "name",
    "price",
    "quantity",
    "category",
    "sku",
    "description",
    "imageUrl",
    "productUrl",
)
#: Order fields a list or read answer returns that say whether a stored order
#: equals the one about to be written (line items come back as ids only).
ORDER_COMPARED_FIELDS: Final = (
    "externalid",
    "externalcheckoutid",
    "email",
    "orderUrl",
    "externalUpdatedDate",
    "abandonedDate",
    "shippingMethod",
    "totalPrice",
    "shippingAmount",
    "taxAmount",
    "discountAmount",
    "currency",
    "orderNumber",
)
#: Datetime fields, compared as instants (the account answers in its own time zone).
DATE_FIELDS: Final = frozenset({"externalCreatedDate", "externalUpdatedDate", "abandonedDate"})
#: Canonical ``Order.extra`` keys that name the checkout an order came from (Shopify
#: ``checkout_id`` / ``checkout_token``; BigCommerce and Tiendanube ``cart_id`` where the
#: platform gives it). Each may be absent.
CHECKOUT_KEYS: Final = ("checkout_id", "checkout_token", "cart_id")
#: Fields whose 422 means an id the sink cached is gone (the connection or the
#: ecomCustomer was deleted in the account): forget it, look up again, retry once.
REFERENCE_FIELDS: Final = frozenset({"connectionid", "customerid"})
#: ``state`` of an abandoned cart in list answers (``filters[state]``).
STATE_ABANDONED: Final = "2"
