"""Header names and rate-limit defaults of each platform, kept apart from the logic.

Every value follows the platforms' published API documentation (their rate-limit and
authentication pages).
The limiter and retry classes take these as defaults; a connector may pass others.
"""

from __future__ import annotations

from typing import Final

#: The logger every message of the engine goes to.
LOGGER_NAME: Final = "commerce_connectors.http"

# --- Shopify (REST leaky bucket, GraphQL cost) ---------------------------------------------
#: ``X-Shopify-Shop-Api-Call-Limit: 32/40``: requests in the bucket / bucket size.
SHOPIFY_CALL_LIMIT_HEADER: Final = "X-Shopify-Shop-Api-Call-Limit"
SHOPIFY_ACCESS_TOKEN_HEADER: Final = "X-Shopify-Access-Token"  # noqa: S105 - a name
SHOPIFY_BUCKET_SIZE: Final = 40
SHOPIFY_LEAK_RATE: Final = 2.0
SHOPIFY_PLUS_BUCKET_SIZE: Final = 400
SHOPIFY_PLUS_LEAK_RATE: Final = 20.0
#: "A single query may not exceed a cost of 1,000 points, regardless of plan limits."
SHOPIFY_GRAPHQL_MAX_QUERY_COST: Final = 1000.0
#: Standard plan restore rate (points per second); Plus 1000, Enterprise 2000.
SHOPIFY_GRAPHQL_RESTORE_RATE: Final = 100.0
#: Bucket sizes per plan are not documented; the doc example shows 1000.
SHOPIFY_GRAPHQL_BUCKET: Final = 1000.0

# --- BigCommerce (fixed window per store, shared by every app) ------------------------------
BIGCOMMERCE_AUTH_HEADER: Final = "X-Auth-Token"
BIGCOMMERCE_REQUESTS_LEFT_HEADER: Final = "X-Rate-Limit-Requests-Left"
BIGCOMMERCE_REQUESTS_QUOTA_HEADER: Final = "X-Rate-Limit-Requests-Quota"
BIGCOMMERCE_TIME_RESET_MS_HEADER: Final = "X-Rate-Limit-Time-Reset-Ms"
BIGCOMMERCE_TIME_WINDOW_MS_HEADER: Final = "X-Rate-Limit-Time-Window-Ms"
#: Integer seconds, sent on rate-limited responses.
BIGCOMMERCE_RETRY_AFTER_HEADER: Final = "X-Retry-After"
#: Standard & Plus: 150 requests per 30 s; Pro: 450.
BIGCOMMERCE_QUOTA: Final = 150
BIGCOMMERCE_WINDOW_SECONDS: Final = 30.0

# --- Tiendanube / Nuvemshop (leaky bucket, headers in ms) -----------------------------------
TIENDANUBE_AUTH_HEADER: Final = "Authentication"
TIENDANUBE_AUTH_SCHEME: Final = "bearer"
TIENDANUBE_LIMIT_HEADER: Final = "x-rate-limit-limit"
#: "Remaining requests to completely fill the bucket".
TIENDANUBE_REMAINING_HEADER: Final = "x-rate-limit-remaining"
#: "Remaining milliseconds to completely empty the bucket".
TIENDANUBE_RESET_MS_HEADER: Final = "x-rate-limit-reset"
TIENDANUBE_BUCKET_SIZE: Final = 40
TIENDANUBE_LEAK_RATE: Final = 2.0

# --- Square (limits undocumented; 429 RATE_LIMITED) -----------------------------------------
SQUARE_VERSION_HEADER: Final = "Square-Version"

# --- ActiveCampaign (CRM sink; 5 requests/s, Retry-After in seconds) ------------------------
ACTIVECAMPAIGN_AUTH_HEADER: Final = "Api-Token"

# --- Error reports --------------------------------------------------------------------------
#: Response headers that may carry the platform's request id, tried in order.
#: Shopify documents ``X-Request-Id``; the others are common spellings of the same idea.
DEFAULT_REQUEST_ID_HEADERS: Final = (
    "X-Request-Id",
    "X-Shopify-Request-Id",
    "Request-Id",
    "X-Correlation-Id",
)
