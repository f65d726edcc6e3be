"""BigCommerce API constants: versions, page sizes, statuses and defaults, in one place.

Every value follows BigCommerce's published API reference
(https://developer.bigcommerce.com/docs) unless its comment says it is our own choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ...models import OrderStatus

__all__ = [
    "API_ROOT",
    "CONNECTION_PREFIX",
    "DEDUP_WINDOW",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_OVERLAP_MINUTES",
    "EMAIL_IN_BATCH",
    "GUEST_CUSTOMER_ID",
    "MARKETING_CONSENT",
    "MAX_PAGE_SIZE",
    "ORDER_INCLUDE",
    "ORDER_STATUSES",
    "PLATFORM_NAME",
    "RETRY_MAX_ATTEMPTS",
    "RETRY_MAX_TOTAL_WAIT_SECONDS",
    "SERVER_ERROR_BASE_DELAY_SECONDS",
    "SERVER_ERROR_MAX_DELAY_SECONDS",
    "SERVER_ERROR_MAX_RETRIES",
    "STATUS_INCOMPLETE",
    "STORE_HASH_PATTERN",
    "SUBSCRIBERS_PATH",
    "TRANSIENT_BASE_DELAY_SECONDS",
    "TRANSIENT_MAX_DELAY_SECONDS",
    "TREE_CATEGORIES_PATH",
    "USER_AGENT",
    "V2",
    "V3",
    "V3_DATE_FILTER_MARGIN_HOURS",
]

PLATFORM_NAME: Final = "bigcommerce"

#: Management API root of one store; ``/v2`` and ``/v3`` are path segments under it.
API_ROOT: Final = "https://api.bigcommerce.com/stores/{store_hash}"
#: The two API versions we use: v2 for orders (and their sub-resources), v3 for the rest.
V2: Final = "v2"
V3: Final = "v3"

#: Store hashes are short alphanumeric ids (``id30h7ohwf``); anything else is a typo
#: or a URL pasted whole, which would otherwise produce a confusing 404.
STORE_HASH_PATTERN: Final = re.compile(r"[A-Za-z0-9]{1,64}")

#: v3 catalog and customers: "The maximum number of products returned is 250"; the same
#: limit is the documented best practice for v2 ("set the response limit to 250").
MAX_PAGE_SIZE: Final = 250

#: Our choice: 4 worker threads for per-order sub-requests. The store's window quota
#: (150 or 450 per 30 s) is the real bound; the threads only hide network latency.
DEFAULT_CONCURRENCY: Final = 4

#: Our choice: the base class remembers the last 2,000 ids of a pass to drop repeats
#: (20,000 by default). The BigCommerce walks drop their own repeats, so this is only a
#: safety net; a repeat it misses is a second write of the same version, which sinks
#: absorb. Measured on a 100,000-order read: 5 MiB less peak memory than 20,000.
DEDUP_WINDOW: Final = 2_000

#: Our choice: incremental syncs re-read 10 minutes before the checkpoint. Page-number
#: pagination can skip a record modified while paging; re-reading covers it.
DEFAULT_OVERLAP_MINUTES: Final = 10

#: v2 orders put 0 in ``customer_id`` for guest checkouts.
GUEST_CUSTOMER_ID: Final = 0

#: Status 0, "Incomplete": the shopper reached the payment page but never completed
#: the transaction. Not an order; skipped unless asked for.
STATUS_INCOMPLETE: Final = 0

#: v2 ``status_id`` → canonical status (ids from the official order-statuses list).
ORDER_STATUSES: Final[Mapping[int, OrderStatus]] = MappingProxyType(
    {
        0: OrderStatus.INCOMPLETE,  # Incomplete
        1: OrderStatus.PENDING,  # Pending: checkout started, not completed
        2: OrderStatus.FULFILLED,  # Shipped
        3: OrderStatus.PARTIALLY_FULFILLED,  # Partially Shipped
        4: OrderStatus.REFUNDED,  # Refunded
        5: OrderStatus.CANCELLED,  # Cancelled
        6: OrderStatus.DECLINED,  # Declined
        7: OrderStatus.PENDING,  # Awaiting Payment
        8: OrderStatus.PAID,  # Awaiting Pickup: paid, not collected
        9: OrderStatus.PAID,  # Awaiting Shipment: paid, packed
        10: OrderStatus.COMPLETED,  # Completed
        11: OrderStatus.PAID,  # Awaiting Fulfillment: "payment has been confirmed"
        12: OrderStatus.ON_HOLD,  # Manual Verification Required
        13: OrderStatus.DISPUTED,  # Disputed
        14: OrderStatus.PARTIALLY_REFUNDED,  # Partially Refunded
    }
)

#: The Subscribers API (newsletter sign-ups and their e-mail consents), under ``/v3``:
#: ``GET /v3/customers/subscribers`` (BigCommerce reference ``subscribers.v3.yml``).
SUBSCRIBERS_PATH: Final = "customers/subscribers"

#: The subscriber consent that means "accepts marketing e-mails". ``consents`` "shows the
#: active subscriptions a shopper may have ... consent types like 'marketing_newsletter'
#: and 'abandoned_cart'" (``subscribers.v3.yml``); only the first is marketing consent.
MARKETING_CONSENT: Final = "marketing_newsletter"

#: Our choice: e-mails per ``GET /v3/customers?email:in=...`` request when fetching the
#: customers whose newsletter consent changed. The reference gives no maximum; 50
#: addresses keep the URL near 2 KB, well under common proxy limits.
EMAIL_IN_BATCH: Final = 50

#: Prefix of every connection id: ``bigcommerce:<store_hash>``.
CONNECTION_PREFIX: Final = "bigcommerce"

#: Appended to the engine's User-Agent: BigCommerce asks integrations to identify themselves.
USER_AGENT: Final = "commerce-connectors-bigcommerce"

#: v3 ``date_modified:min`` takes ``2024-05-14T09:34:00`` (no offset documented). Whether
#: BigCommerce reads it as UTC or store time is not documented, so the connector asks from
#: this much earlier (the widest UTC offset) and filters exactly on its side: at worst it
#: re-reads a few hours of changes, it never misses one.
V3_DATE_FILTER_MARGIN_HOURS: Final = 14

#: The window's reset time (``X-Rate-Limit-Time-Reset-Ms``) and ``X-Retry-After`` drive
#: 429s; the retry policy (``_retry.BigCommerceRetryPolicy``) handles every other failure.
#: Our choice: transient failures (a 502, 503 or 504, a timeout, a dropped connection, a
#: malformed body, and a *first* 500) are retried quickly: after 0.5-1 s, then 1-2 s,
#: 2-4 s... (jittered by half), capped at 30 s, up to 8 attempts in all. Under a steady
#: 10 % of random 5xx answers a call then fails for good at most once in a million (six
#: 500s in a row, below).
TRANSIENT_BASE_DELAY_SECONDS: Final = 1.0
TRANSIENT_MAX_DELAY_SECONDS: Final = 30.0
RETRY_MAX_ATTEMPTS: Final = 8

#: A 500 that repeats: "Re-attempt the request three to five times, with increasing
#: delays of at least a minute between attempts" (BigCommerce API status codes). From the
#: second 500 of one call on, each wait is drawn in [delay / 2, delay] with a delay of two
#: minutes, then 4, capped at 5 (so 60-120 s, 120-240 s, 150-300 s, 150-300 s): never
#: under a minute, increasing, and at most five re-attempts after the first 500.
SERVER_ERROR_BASE_DELAY_SECONDS: Final = 120.0
SERVER_ERROR_MAX_DELAY_SECONDS: Final = 300.0
SERVER_ERROR_MAX_RETRIES: Final = 5

#: One call may wait this long in all: the four long waits of repeated 500s (960 s at
#: most) plus the short ones around them. A long wait is never shortened to fit: when it
#: does not fit, the call gives up and the sync is resumed later.
RETRY_MAX_TOTAL_WAIT_SECONDS: Final = 1080.0

#: ``GET /v2/orders`` (and ``/v2/orders/{id}``) with ``include=consignments.line_items``
#: and ``consignment_structure=object`` return each order's consignments (pickups,
#: shipping, downloads, gift-certificate e-mails) with their line items inside the page
#: (orders.v2.oas2.yml, parameters ``order_includes`` and ``consignment_structure``).
ORDER_INCLUDE: Final[Mapping[str, str]] = MappingProxyType(
    {"include": "consignments.line_items", "consignment_structure": "object"}
)

#: Category names come from the category trees (``GET /v3/catalog/trees/categories``),
#: every tree of every storefront; ``GET /v3/catalog/categories`` is deprecated and only
#: knows the default storefront's tree (categories_catalog.v3.yml).
TREE_CATEGORIES_PATH: Final = "catalog/trees/categories"
