"""The shared HTTP engine (private): auth, retries, rate limiting, pagination, redaction.

Platform connectors and CRM sinks build on these names; users normally never import
them. See ``docs/http.md`` for the why of each piece.

Example:
    >>> from commerce_connectors._http import (
    ...     HttpEngine, HeaderTokenAuth, LeakyBucketLimiter, LinkHeaderPaginator, Request)
"""

from __future__ import annotations

from .auth import Auth, BearerAuth, HeaderTokenAuth, NoAuth
from .constants import DEFAULT_REQUEST_ID_HEADERS, LOGGER_NAME
from .engine import DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, HttpEngine
from .errormap import (
    DefaultErrorMapper,
    ErrorMapper,
    exception_class_for_status,
    extract_error_details,
    graphql_throttle_wait,
)
from .pagination import (
    CursorPaginator,
    GraphQLCursorPaginator,
    LinkHeaderPaginator,
    PageNumberPaginator,
    PageShapeError,
    PageWalk,
    Paginator,
)
from .ratelimit import (
    BucketHeaderReader,
    BucketReading,
    CallLimitHeader,
    GraphQLCostLimiter,
    GraphQLCostState,
    LeakyBucketLimiter,
    LeakyBucketState,
    RateLimiter,
    RemainingResetHeaders,
    WindowQuotaLimiter,
    WindowQuotaState,
    fit_page_size,
)
from .redaction import (
    MASK,
    RedactingFilter,
    Redactor,
    get_logger,
    install_log_redaction,
)
from .request import JsonResponse, Request, get_path, parse_link_header
from .retry import (
    BIGCOMMERCE_WAIT_HEADERS,
    DEFAULT_WAIT_HEADERS,
    TIENDANUBE_WAIT_HEADERS,
    RetryPolicy,
    WaitHeader,
    parse_wait_value,
)
from .stats import HttpEvent, HttpStats

__all__ = [
    "BIGCOMMERCE_WAIT_HEADERS",
    "DEFAULT_REQUEST_ID_HEADERS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "DEFAULT_WAIT_HEADERS",
    "LOGGER_NAME",
    "MASK",
    "TIENDANUBE_WAIT_HEADERS",
    "Auth",
    "BearerAuth",
    "BucketHeaderReader",
    "BucketReading",
    "CallLimitHeader",
    "CursorPaginator",
    "DefaultErrorMapper",
    "ErrorMapper",
    "GraphQLCostLimiter",
    "GraphQLCostState",
    "GraphQLCursorPaginator",
    "HeaderTokenAuth",
    "HttpEngine",
    "HttpEvent",
    "HttpStats",
    "JsonResponse",
    "LeakyBucketLimiter",
    "LeakyBucketState",
    "LinkHeaderPaginator",
    "NoAuth",
    "PageNumberPaginator",
    "PageShapeError",
    "PageWalk",
    "Paginator",
    "RateLimiter",
    "RedactingFilter",
    "Redactor",
    "RemainingResetHeaders",
    "Request",
    "RetryPolicy",
    "WaitHeader",
    "WindowQuotaLimiter",
    "WindowQuotaState",
    "exception_class_for_status",
    "extract_error_details",
    "fit_page_size",
    "get_logger",
    "get_path",
    "graphql_throttle_wait",
    "install_log_redaction",
    "parse_link_header",
    "parse_wait_value",
]
