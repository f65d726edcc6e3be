"""Turning an error response into the right exception, with the platform's own words.

The default mapping is by status (401 → :class:`AuthenticationError`, 403 →
:class:`PermissionDeniedError`, 404 → :class:`NotFoundError`, 429 →
:class:`RateLimitError`, 5xx → :class:`ServerError`, other 4xx and unexpected redirects →
:class:`ClientRequestError`). Each exception carries the platform, status, request id,
method, redacted URL, a redacted body excerpt, and the error code and message pulled
out of whichever body shape the platform uses:

========================  ===================================================================
Shopify                   ``{"errors": "..."}`` / ``{"errors": {"field": ["msg"]}}``
Shopify GraphQL           ``{"errors": [{"message", "extensions": {"code": "THROTTLED"}}]}``
Square                    ``{"errors": [{"category", "code", "detail", "field"}]}``
BigCommerce v3            ``{"status", "title", "type", "detail", "errors": {...}}``
BigCommerce v2            ``[{"status": 404, "message": "..."}]``
Tiendanube                ``{"code", "message", "description"}`` / ``{"error": "..."}``
ActiveCampaign            ``{"message": ...}`` / ``{"errors": [{"title", "detail", "code"}]}``
========================  ===================================================================

A platform that needs more passes its own :class:`ErrorMapper` (any callable with the
same signature), typically wrapping :class:`DefaultErrorMapper`.

Example:
    >>> details = extract_error_details(
    ...     {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND",
    ...                  "detail": "Could not find payment"}]})
    >>> details
    ('NOT_FOUND', 'Could not find payment')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import httpx

from ..errors import (
    BODY_EXCERPT_LIMIT,
    APIError,
    AuthenticationError,
    ClientRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from .constants import DEFAULT_REQUEST_ID_HEADERS
from .redaction import Redactor
from .request import get_path

__all__ = [
    "DefaultErrorMapper",
    "ErrorMapper",
    "exception_class_for_status",
    "extract_error_details",
    "graphql_throttle_wait",
]

_MESSAGE_LIMIT: Final = 300


class ErrorMapper(Protocol):
    """Maps a response to the exception to raise, or ``None`` when it is a success."""

    def __call__(
        self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
    ) -> APIError | None:
        """Return the exception for ``response`` (``body`` is its parsed JSON or ``None``)."""
        ...


def exception_class_for_status(status_code: int) -> type[APIError] | None:
    """Return the exception class for an HTTP status, ``None`` for a success.

    Example:
        >>> exception_class_for_status(404).__name__, exception_class_for_status(200)
        ('NotFoundError', None)
    """
    if status_code < 300 or status_code == 304:
        return None
    if status_code == 401:
        return AuthenticationError
    if status_code == 403:
        return PermissionDeniedError
    if status_code == 404:
        return NotFoundError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    return ClientRequestError


def _text(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items()) or None
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value) or None
    return str(value)


def _flatten(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    if isinstance(value, Mapping):
        return _text(value) or ""
    return str(value)


def _item_details(item: Any) -> tuple[str | None, str | None]:
    """Code and message from one element of an ``errors`` list."""
    if not isinstance(item, Mapping):
        return None, _text(item)
    code = item.get("code")
    ext_code = get_path(item, "extensions.code")
    message = None
    for key in ("detail", "message", "title", "description", "error"):
        message = _text(item.get(key))
        if message:
            break
    field = item.get("field")
    if message and isinstance(field, str) and field:
        message = f"{message} (field {field})"
    code_text = _text(ext_code) or _text(code)
    return code_text, message


def extract_error_details(body: Any) -> tuple[str | None, str | None]:
    """Return ``(code, message)`` from a parsed error body of any known shape.

    Both are ``None`` when the body says nothing useful. The message joins at most three
    errors and is cut to a few hundred characters.

    Example:
        >>> extract_error_details({"code": 401, "message": "Unauthorized",
        ...                        "description": "Invalid access token"})
        ('401', 'Unauthorized: Invalid access token')
        >>> extract_error_details({"status": 422, "title": "JSON data is missing or invalid",
        ...                        "type": "https://...", "errors": {"name": "error.expected"}})
        (None, 'JSON data is missing or invalid: name: error.expected')
        >>> extract_error_details([{"status": 404, "message": "The requested resource was not found."}])
        (None, 'The requested resource was not found.')
    """  # noqa: E501
    code: str | None = None
    message: str | None = None
    if isinstance(body, list):
        return _from_error_list(body)
    if not isinstance(body, Mapping):
        return None, _text(body) if isinstance(body, str) else None

    title = _text(body.get("title"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        code, message = _from_error_list(errors)
    elif isinstance(errors, (str, Mapping)) and errors:
        message = _text(errors)
    error = body.get("error")
    if message is None and error:
        if isinstance(error, Mapping):
            code, message = _item_details(error)
        else:
            message = _text(error)
        description = _text(body.get("error_description"))
        if description:
            message = f"{message}: {description}" if message else description
    if code is None and body.get("code") is not None:
        code = _text(body.get("code"))
    if message is None:
        base = _text(body.get("message")) or title
        extra = _text(body.get("description")) or _text(body.get("detail"))
        message = f"{base}: {extra}" if base and extra and extra != base else (base or extra)
    elif title and title not in message:
        # BigCommerce v3 422: the title says what, the errors map says where.
        message = f"{title}: {message}"
    # Tiendanube 422: field lists beside (or instead of) code/message: {"src": ["can't be blank"]}
    fields = {
        k: v
        for k, v in body.items()
        if k not in _KNOWN_KEYS and isinstance(v, list) and v and all(isinstance(x, str) for x in v)
    }
    if fields:
        listed = _text(fields)
        message = f"{message}: {listed}" if message else listed
    if message is not None and len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return code, message


_KNOWN_KEYS: Final = frozenset(
    {"errors", "error", "code", "message", "title", "description", "detail", "status", "type"}
)


def _from_error_list(errors: Sequence[Any]) -> tuple[str | None, str | None]:
    code: str | None = None
    messages: list[str] = []
    for item in errors[:3]:
        item_code, item_message = _item_details(item)
        code = code or item_code
        if item_message:
            messages.append(item_message)
    if len(errors) > 3:
        messages.append(f"(+{len(errors) - 3} more)")
    message = "; ".join(messages) or None
    if message is not None and len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return code, message


def graphql_throttle_wait(body: Any, *, cost_path: str = "extensions.cost") -> float | None:
    """Seconds until a throttled GraphQL query's requested cost is available again.

    Example:
        >>> graphql_throttle_wait({"extensions": {"cost": {"requestedQueryCost": 202,
        ...     "throttleStatus": {"currentlyAvailable": 2, "restoreRate": 50}}}})
        4.0
    """
    cost = get_path(body, cost_path)
    if not isinstance(cost, Mapping):
        return None
    requested = cost.get("requestedQueryCost")
    available = get_path(cost, "throttleStatus.currentlyAvailable")
    restore = get_path(cost, "throttleStatus.restoreRate")
    numbers = [
        float(n)
        for n in (requested, available, restore)
        if isinstance(n, (int, float)) and not isinstance(n, bool)
    ]
    if len(numbers) != 3 or numbers[2] <= 0:
        return None
    return max(0.0, (numbers[0] - numbers[1]) / numbers[2])


_GRAPHQL_CODE_CLASSES: Final[Mapping[str, type[APIError]]] = {
    "THROTTLED": RateLimitError,
    "ACCESS_DENIED": PermissionDeniedError,
    "UNAUTHENTICATED": AuthenticationError,
    "INTERNAL_SERVER_ERROR": ServerError,
}


@attrs.frozen
class DefaultErrorMapper:
    """The default response → exception mapping (see the module docstring).

    Attributes:
        request_id_headers: response headers tried, in order, for the platform's request id.
        graphql: also map GraphQL errors returned with HTTP 200 (``THROTTLED`` becomes a
            retriable :class:`RateLimitError` whose ``retry_after`` comes from the cost;
            top-level errors with no ``data`` become :class:`ClientRequestError` or the
            class their ``extensions.code`` names). Partial data with errors is returned
            as a success: the caller decides.
        excerpt_limit: characters of the body kept (redacted) in the exception.

    Example:
        >>> import httpx
        >>> from commerce_connectors._http.redaction import Redactor
        >>> resp = httpx.Response(404, json={"errors": "Not Found"},
        ...                       request=httpx.Request("GET", "https://s.test/a.json"))
        >>> err = DefaultErrorMapper()(resp, resp.json(), platform="shopify", redactor=Redactor())
        >>> type(err).__name__, err.message, err.status_code
        ('NotFoundError', 'Not Found', 404)
    """

    request_id_headers: tuple[str, ...] = attrs.field(
        default=DEFAULT_REQUEST_ID_HEADERS, converter=tuple
    )
    graphql: bool = False
    excerpt_limit: int = BODY_EXCERPT_LIMIT

    def __call__(
        self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
    ) -> APIError | None:
        """Return the exception for ``response``, or ``None`` when it is a success."""
        status = response.status_code
        cls = exception_class_for_status(status)
        retry_after: float | None = None
        if cls is None:
            if not (self.graphql and isinstance(body, Mapping)):
                return None
            found = self._graphql_error(body)
            if found is None:
                return None
            cls, code, message = found
            if cls is RateLimitError:
                retry_after = graphql_throttle_wait(body)
        else:
            code, message = extract_error_details(body)
            if 300 <= status < 400:
                location = response.headers.get("Location")
                where = f" to {redactor.url(location)}" if location else ""
                message = f"unexpected redirect{where}" + (f": {message}" if message else "")
        if not message:
            reason = response.reason_phrase or "error"
            message = f"HTTP {status} {reason}"
        kwargs: dict[str, Any] = {
            "platform": platform,
            "status_code": status,
            "request_id": self.request_id(response.headers),
            "method": response.request.method,
            "url": redactor.url(str(response.request.url)),
            "body_excerpt": self.excerpt(response, redactor),
            "code": redactor.text(code) if code else None,
        }
        if cls is RateLimitError:
            return RateLimitError(redactor.text(message), retry_after=retry_after, **kwargs)
        return cls(redactor.text(message), **kwargs)

    @staticmethod
    def _graphql_error(
        body: Mapping[str, Any],
    ) -> tuple[type[APIError], str | None, str | None] | None:
        errors = body.get("errors")
        if not errors:
            return None
        code, message = extract_error_details(body)
        codes = []
        if isinstance(errors, list):
            codes = [get_path(e, "extensions.code") for e in errors if isinstance(e, Mapping)]
        if "THROTTLED" in codes:
            return RateLimitError, "THROTTLED", message
        if body.get("data") is not None:
            return None  # partial data: the caller reads body["errors"] itself
        for candidate in codes:
            if isinstance(candidate, str) and candidate in _GRAPHQL_CODE_CLASSES:
                return _GRAPHQL_CODE_CLASSES[candidate], candidate, message
        return ClientRequestError, code, message

    def request_id(self, headers: Mapping[str, str]) -> str | None:
        """Return the first request id header present."""
        lowered = {k.lower(): v for k, v in headers.items()}
        for name in self.request_id_headers:
            value = lowered.get(name.lower())
            if value:
                return value
        return None

    def excerpt(self, response: httpx.Response, redactor: Redactor) -> str | None:
        """Return a redacted excerpt of the body, at most ``excerpt_limit`` characters."""
        try:
            text = response.text
        except (UnicodeDecodeError, LookupError, httpx.ResponseNotRead):
            return None
        if not text:
            return None
        # Redact a little more than we keep, so a secret cut at the edge is still masked.
        return redactor.text(text[: self.excerpt_limit * 2])[: self.excerpt_limit]
