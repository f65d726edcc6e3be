"""Every Shopify constant the connector uses, in one place.

Values come from ``shared/platforms/shopify.md`` (the platform fact sheet); the
source key of each is in its comment.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final

#: The Admin API version requests go to unless the caller picks another. Shopify
#: ships a version each quarter and supports each for at least 12 months [SH-VER];
#: 2026-01 is the newest stable version the fact sheet cites [SH-TOPIC].
API_VERSION: Final = "2026-01"

#: Dated versions look like ``2026-01`` (quarters only); ``unstable`` is also accepted.
API_VERSION_PATTERN: Final = re.compile(r"^(20\d\d-(01|04|07|10)|unstable)$")

#: Shop domains the token may be sent to without an explicit ``base_url``.
SHOP_DOMAIN_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")

#: GraphQL endpoint, relative to ``https://{shop}/admin/api/{version}`` [SH-JS graphql/client.ts].
GRAPHQL_PATH: Final = "graphql.json"

#: "You can retrieve up to a maximum of 250 resources" per page [SH-GQLPAG].
MAX_PAGE_SIZE: Final = 250

#: "A single query may not exceed a cost of 1,000 points" [SH-LIM].
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

#: Only the last 60 days of orders are readable without ``read_all_orders`` [SH-ORD].
RECENT_ORDERS_WINDOW: Final = _dt.timedelta(days=60)
READ_ALL_ORDERS_SCOPE: Final = "read_all_orders"

#: Incremental syncs re-read this far before the checkpoint: Shopify's search
#: index lags writes by a few seconds.
DEFAULT_OVERLAP: Final = _dt.timedelta(minutes=5)

#: GraphQL global id prefix: ``gid://shopify/Order/450789469``.
GID_PREFIX: Final = "gid://shopify/"
