"""Square error bodies → the library's exception tree.

Square answers errors with ``{"errors": [{"category", "code", "detail", "field"}]}``;
the HTTP status matches the first error. The engine's default mapper already maps by
status and pulls out the code and detail; :class:`SquareErrorMapper` then corrects the
class from Square's own ``code`` / ``category``, which is more precise than the status
(an expired token is ``ACCESS_TOKEN_EXPIRED`` whatever the status), and adds what to do.

=========================================================  =================================
Square code / category                                     exception
=========================================================  =================================
``UNAUTHORIZED``, ``ACCESS_TOKEN_EXPIRED``,                :class:`AuthenticationError`
``ACCESS_TOKEN_REVOKED``, ``CLIENT_DISABLED``,
category ``AUTHENTICATION_ERROR``
``FORBIDDEN``, ``INSUFFICIENT_SCOPES``,                    :class:`PermissionDeniedError`
``APPLICATION_DISABLED``
``RATE_LIMITED``, category ``RATE_LIMIT_ERROR``            :class:`RateLimitError` (retried)
``NOT_FOUND``                                              :class:`NotFoundError`
``INVALID_CURSOR``                                         :class:`InvalidCursorError`
                                                           (the connector restarts the walk)
anything else                                              by status (5xx: ServerError …)
=========================================================  =================================

Example:
    >>> import httpx
    >>> from commerce_connectors._http import Redactor
    >>> body = {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "ACCESS_TOKEN_EXPIRED",
    ...                     "detail": "The access token has expired."}]}
    >>> request = httpx.Request("GET", "https://connect.squareup.com/v2/payments")
    >>> response = httpx.Response(401, json=body, request=request)
    >>> error = SquareErrorMapper()(response, body, platform="square", redactor=Redactor())
    >>> type(error).__name__, error.code
    ('AuthenticationError', 'ACCESS_TOKEN_EXPIRED')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs
import httpx

from ..._http import DefaultErrorMapper, Redactor
from ...errors import (
    APIError,
    AuthenticationError,
    ClientRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

__all__ = ["InvalidCursorError", "SquareErrorMapper", "square_error_code"]


class InvalidCursorError(ClientRequestError):
    """Square refused a pagination cursor (``INVALID_CURSOR``): expired or from another query.

    The connector restarts the walk from where it was (``since`` moved to the last
    record seen) a few times before letting this escape.
    """


_BY_CODE: Final[Mapping[str, type[APIError]]] = {
    "UNAUTHORIZED": AuthenticationError,
    "ACCESS_TOKEN_EXPIRED": AuthenticationError,
    "ACCESS_TOKEN_REVOKED": AuthenticationError,
    "CLIENT_DISABLED": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "INSUFFICIENT_SCOPES": PermissionDeniedError,
    "APPLICATION_DISABLED": PermissionDeniedError,
    "RATE_LIMITED": RateLimitError,
    "NOT_FOUND": NotFoundError,
    "INVALID_CURSOR": InvalidCursorError,
}

_BY_CATEGORY: Final[Mapping[str, type[APIError]]] = {
    "AUTHENTICATION_ERROR": AuthenticationError,
    "RATE_LIMIT_ERROR": RateLimitError,
}

_ADVICE: Final[Mapping[str, str]] = {
    "ACCESS_TOKEN_EXPIRED": "re-authenticate: Square OAuth access tokens expire (refresh them)",
    "ACCESS_TOKEN_REVOKED": "re-authenticate: the seller revoked this application's access",
    "UNAUTHORIZED": "check the access token and the environment (production or sandbox)",
    "INSUFFICIENT_SCOPES": (
        "grant the application the scopes it reads with: CUSTOMERS_READ, ORDERS_READ, "
        "PAYMENTS_READ, ITEMS_READ, MERCHANT_PROFILE_READ"
    ),
}


def square_error_code(body: Any) -> tuple[str | None, str | None]:
    """Return ``(code, category)`` of the first error of a Square error body.

    Example:
        >>> square_error_code({"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED"}]})
        ('RATE_LIMITED', 'RATE_LIMIT_ERROR')
        >>> square_error_code("<html>")
        (None, None)
    """  # noqa: E501
    if not isinstance(body, Mapping):
        return None, None
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return None, None
    code, category = errors[0].get("code"), errors[0].get("category")
    return (
        code if isinstance(code, str) else None,
        category if isinstance(category, str) else None,
    )


@attrs.frozen
class SquareErrorMapper:
    """The engine's :class:`~commerce_connectors._http.ErrorMapper` for Square.

    Attributes:
        default: the status-based mapper it refines.
    """

    default: DefaultErrorMapper = attrs.field(factory=DefaultErrorMapper)

    def __call__(
        self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
    ) -> APIError | None:
        """Return the exception for ``response``, or ``None`` for a success."""
        error = self.default(response, body, platform=platform, redactor=redactor)
        if error is None:
            return None
        code, category = square_error_code(body)
        cls = (_BY_CODE.get(code) if code else None) or (
            _BY_CATEGORY.get(category) if category else None
        )
        advice = _ADVICE.get(code or "")
        if (cls is None or cls is type(error)) and advice is None:
            return error
        cls = cls or type(error)
        message = f"{error.message} ({advice})" if advice else error.message
        kwargs: dict[str, Any] = {
            "platform": error.platform,
            "status_code": error.status_code,
            "request_id": error.request_id,
            "method": error.method,
            "url": error.url,
            "body_excerpt": error.body_excerpt,
            "code": error.code,
        }
        if cls is RateLimitError:
            retry_after = error.retry_after if isinstance(error, RateLimitError) else None
            return RateLimitError(message, retry_after=retry_after, **kwargs)
        return cls(message, **kwargs)
