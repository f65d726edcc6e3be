"""Every Shopify constant the connector uses, in one place.

Values follow Shopify's published Admin API documentation (https://shopify.dev/docs/api);
the page each comes from is named in its comment.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final

#: The Admin API version requests go to unless the caller picks another. Shopify
#: ships a version each quarter and supports each for at least 12 months
#: (https://shopify.dev/docs/api/usage/versioning); 2026-01 is the newest stable version
#: its reference documents (e.g. its 2026-01 ``WebhookSubscriptionTopic`` page).
API_VERSION: Final = "2026-01"

#: Dated versions look like ``2026-01`` (quarters only); ``unstable`` is also accepted.
API_VERSION_PATTERN: Final = re.compile(r"^(20\d\d-(01|04|07|10)|unstable)$")

#: Shop domains the token may be sent to without an explicit ``base_url``.
SHOP_DOMAIN_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

#: GraphQL endpoint, relative to ``https://{shop}/admin/api/{version}`` (as Shopify's
#: ``shopify-api-js`` library calls it).
GRAPHQL_PATH: Final = "graphql.json"

#: "You can retrieve up to a maximum of 250 resources" per page
#: (https://shopify.dev/docs/api/usage/pagination-graphql).
MAX_PAGE_SIZE: Final = 250

#: "A single query may not exceed a cost of 1,000 points"
#: (https://shopify.dev/docs/api/usage/limits).
MAX_QUERY_COST: Final = 1000

#: First page sizes, before the shop's own cost figures tune them. Chosen so the
#: first query's requested cost stays under the cap with this connector's queries
#: (orders and carts embed a line-item connection, which multiplies the cost).
INITIAL_PAGE_SIZES: Final = {
    "customers": 100,
    "orders": 10,
    "products": 25,
    "abandoned_carts": 10,
}

#: Line items fetched with each order or checkout; longer ones are completed by
#: follow-up queries on that record alone, so no line is ever lost.
LINE_ITEMS_PER_RECORD: Final = 10

#: Variants fetched with each product (price and SKU come from the first).
VARIANTS_PER_PRODUCT: Final = 5

#: Only the last 60 days of orders are readable without ``read_all_orders`` (Shopify's
#: Order resource reference).
RECENT_ORDERS_WINDOW: Final = _dt.timedelta(days=60)
READ_ALL_ORDERS_SCOPE: Final = "read_all_orders"

#: Incremental syncs re-read this far before the checkpoint: Shopify's search
#: index lags writes by a few seconds.
DEFAULT_OVERLAP: Final = _dt.timedelta(minutes=5)

#: GraphQL global id prefix: ``gid://shopify/Order/450789469``.
GID_PREFIX: Final = "gid://shopify/"

# -- bulk operations (bulk.py) --------------------------------------------------------------
# Sources: the bulk operations guide, https://shopify.dev/docs/api/usage/bulk-operations/queries;
# the ``BulkOperation`` object and ``bulkOperationRunQuery`` in Shopify's published Admin
# GraphQL schema (the BulkOperation reference); the changelog entries
# https://shopify.dev/changelog/optional-groupobjects-argument-in-bulk-operations-
# mutations-that-offers-faster-and-more-reliable-job-execution and .../bulk-operations-group-
# objects-default-changed-to-false (``groupObjects`` defaults to false from 2026-01).

#: Records in an incremental window from which it is read by a bulk operation instead of
#: pages, per stream. Chosen so that paging the window would cost about 10,000 points,
#: i.e. 100 s of the Standard plan's 100 points/s restore rate (Shopify's API limits
#: page): an order with its first lines costs ~41 points, a customer ~3.8, a product with
#: its first variants ~10, a checkout with its first lines ~40. Below that, paging
#: finishes sooner than an export job is queued, run and downloaded, and leaves the
#: shop's single bulk-query slot free. A historical read (no ``since``) is always a bulk
#: read when bulk reads are enabled.
BULK_THRESHOLDS: Final = {
    "customers": 2500,
    "orders": 250,
    "products": 1000,
    "abandoned_carts": 250,
}

#: First and longest wait between two polls of a running operation (seconds). A poll is
#: one ``node(id:)`` query of 1 point; waits grow by half each time, and never run past
#: the time the operation's own progress says it needs.
BULK_POLL_MIN: Final = 1.0
BULK_POLL_MAX: Final = 30.0
BULK_POLL_GROWTH: Final = 1.5

#: How long to wait for another bulk query of this app to end before giving up with a
#: retriable error: "You can run only one bulk operation of each type ... at a time per
#: shop" (the bulk operations guide).
BULK_WAIT_FOR_OTHER: Final = 3600.0

#: Bulk operations tried per read when they fail with ``TIMEOUT`` or
#: ``INTERNAL_SERVER_ERROR`` ("These errors might be intermittent, so you can try
#: performing the same query again", the BulkOperation reference); each resumes after
#: the last complete record of the previous one's partial data. After the last, the rest
#: is paged.
BULK_ATTEMPTS: Final = 3

#: ``url`` and ``partialDataUrl`` "expire 7 days after the operation completes / fails"
#: (the BulkOperation reference).
BULK_RESULT_TTL: Final = _dt.timedelta(days=7)

#: The user error code of a second bulk query while one runs (the Admin GraphQL
#: reference's ``BulkOperationUserErrorCode.OPERATION_IN_PROGRESS``).
BULK_IN_PROGRESS: Final = "OPERATION_IN_PROGRESS"
