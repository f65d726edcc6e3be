"""Default error mapping: each status, each platform's body shape, request ids, GraphQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpkit import TOKEN, make_engine, scripted

from commerce_connectors._http import (
    DefaultErrorMapper,
    Redactor,
    RetryPolicy,
    exception_class_for_status,
    extract_error_details,
)
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import (
    APIError,
    AuthenticationError,
    ClientRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetriableError,
    ServerError,
)


def map_response(
    status: int,
    body: Any = None,
    *,
    content: bytes | None = None,
    graphql: bool = False,
    **headers: str,
) -> APIError | None:
    request = httpx.Request(
        "GET", f"https://acme.test/admin/orders.json?access_token={TOKEN}&page=2"
    )
    if content is not None:
        response = httpx.Response(status, content=content, headers=headers, request=request)
    else:
        response = httpx.Response(status, json=body, headers=headers, request=request)
    mapper = DefaultErrorMapper(graphql=graphql)
    return mapper(response, body, platform="shopify", redactor=Redactor([TOKEN]))


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (400, ClientRequestError),
        (402, ClientRequestError),
        (409, ClientRequestError),
        (415, ClientRequestError),
        (422, ClientRequestError),
        (301, ClientRequestError),
    ],
)
def test_status_to_exception_class(status: int, cls: type[APIError]) -> None:
    assert exception_class_for_status(status) is cls
    error = map_response(status, {"errors": "nope"})
    assert type(error) is cls
    assert error is not None
    assert error.status_code == status
    assert error.platform == "shopify"
    assert error.method == "GET"
    assert isinstance(error, RetriableError) == (status == 429 or status >= 500)


def test_successes_map_to_none() -> None:
    for status in (200, 201, 204):
        assert exception_class_for_status(status) is None
        assert map_response(status, {"errors": "ignored"}) is None


SHOPIFY_401 = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        # Shopify
        (
            {"errors": SHOPIFY_401},
            None,
            SHOPIFY_401,
        ),
        (
            {"errors": {"email": ["is invalid", "has already been taken"]}},
            None,
            "email: is invalid, has already been taken",
        ),
        # Square
        (
            {
                "errors": [
                    {
                        "category": "INVALID_REQUEST_ERROR",
                        "code": "NOT_FOUND",
                        "detail": "Could not find payment with id: 7nD",
                    }
                ]
            },
            "NOT_FOUND",
            "Could not find payment with id: 7nD",
        ),
        (
            {
                "errors": [
                    {
                        "category": "INVALID_REQUEST_ERROR",
                        "code": "VALUE_TOO_HIGH",
                        "detail": "limit too high",
                        "field": "limit",
                    }
                ]
            },
            "VALUE_TOO_HIGH",
            "limit too high (field limit)",
        ),
        # BigCommerce v3 problem JSON
        (
            {
                "status": 404,
                "title": "The resource at that URL is not found.",
                "type": "https://developer.bigcommerce.com/x",
            },
            None,
            "The resource at that URL is not found.",
        ),
        (
            {
                "status": 422,
                "title": "JSON data is missing or invalid",
                "type": "https://x",
                "errors": {"name": "error.expected.jsstring"},
            },
            None,
            "JSON data is missing or invalid: name: error.expected.jsstring",
        ),
        (
            {"status": 409, "title": "Conflict", "detail": "Cart is locked"},
            None,
            "Conflict: Cart is locked",
        ),
        ({"code": 403, "message": "Missing scope"}, "403", "Missing scope"),
        # BigCommerce v2
        (
            [{"status": 404, "message": "The requested resource was not found."}],
            None,
            "The requested resource was not found.",
        ),
        # Tiendanube
        (
            {"code": 401, "message": "Unauthorized", "description": "Invalid access token"},
            "401",
            "Unauthorized: Invalid access token",
        ),
        ({"code": 404, "message": "Not Found", "description": None}, "404", "Not Found"),
        ({"error": "Problems parsing JSON"}, None, "Problems parsing JSON"),
        ({"src": ["can't be blank"]}, None, "src: can't be blank"),
        (
            {
                "code": 422,
                "message": "Unprocessable Entity",
                "description": "Validation error",
                "coupon_id": ["The coupon id field is required."],
            },
            "422",
            "Unprocessable Entity: Validation error: coupon_id: The coupon id field is required.",
        ),
        # ActiveCampaign / JSON:API
        (
            {
                "errors": [
                    {
                        "title": "Email address already exists in the system",
                        "detail": "",
                        "code": "duplicate",
                    }
                ]
            },
            "duplicate",
            "Email address already exists in the system",
        ),
        (
            {"message": "No Result found for EcomOrderProduct with id 9"},
            None,
            "No Result found for EcomOrderProduct with id 9",
        ),
        # OAuth
        (
            {"error": "invalid_grant", "error_description": "code expired"},
            None,
            "invalid_grant: code expired",
        ),
        # GraphQL
        (
            {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]},
            "THROTTLED",
            "Throttled",
        ),
        # Nothing useful
        (None, None, None),
        ("plain text", None, "plain text"),
    ],
)
def test_extract_error_details_from_every_shape(
    body: Any, code: str | None, message: str | None
) -> None:
    assert extract_error_details(body) == (code, message)


def test_many_errors_are_joined_and_counted() -> None:
    body = {"errors": [{"title": f"error {i}"} for i in range(5)]}
    assert extract_error_details(body) == (None, "error 0; error 1; error 2; (+2 more)")
    long = {"errors": "x" * 1000}
    _code, message = extract_error_details(long)
    assert message is not None
    assert len(message) == 300


def test_error_carries_request_id_redacted_url_and_excerpt() -> None:
    error = map_response(
        404,
        {"errors": [{"code": "NOT_FOUND", "detail": "gone"}]},
        **{"X-Request-Id": "req-123"},
    )
    assert isinstance(error, NotFoundError)
    assert error.request_id == "req-123"
    assert error.code == "NOT_FOUND"
    assert error.message == "gone"
    assert error.url is not None
    assert TOKEN not in error.url
    assert "access_token=***" in error.url
    assert "page=2" in error.url
    assert error.body_excerpt is not None
    assert "NOT_FOUND" in error.body_excerpt
    text = str(error)
    assert "request_id=req-123" in text
    assert TOKEN not in text
    assert TOKEN not in repr(error)


def test_request_id_header_list_is_configurable() -> None:
    mapper = DefaultErrorMapper(request_id_headers=("X-Trace",))
    request = httpx.Request("GET", "https://a.test/x")
    response = httpx.Response(
        500, headers={"X-Trace": "t-9", "X-Request-Id": "other"}, request=request
    )
    error = mapper(response, None, platform="p", redactor=Redactor())
    assert error is not None
    assert error.request_id == "t-9"


def test_a_body_echoing_the_token_is_redacted() -> None:
    body = {"errors": f"token {TOKEN} is invalid", "access_token": TOKEN}
    error = map_response(401, body)
    assert error is not None
    assert TOKEN not in str(error)
    assert TOKEN not in (error.body_excerpt or "")
    assert TOKEN not in error.message


def test_non_json_error_body_gets_a_status_message_and_excerpt() -> None:
    error = map_response(503, None, content=b"<html><body>Service Unavailable</body></html>")
    assert isinstance(error, ServerError)
    assert error.message == "HTTP 503 Service Unavailable"
    assert error.body_excerpt is not None
    assert "Service Unavailable" in error.body_excerpt


def test_excerpt_is_bounded() -> None:
    error = map_response(500, None, content=b"x" * 5000)
    assert error is not None
    assert error.body_excerpt is not None
    assert len(error.body_excerpt) == 500


def test_429_carries_retry_after_from_the_header() -> None:
    error = map_response(429, {"errors": "Exceeded 2 calls per second"}, **{"Retry-After": "2.0"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None  # the mapper leaves waits to the retry policy
    clock = FakeClock()
    handler, _ = scripted([httpx.Response(429, headers={"Retry-After": "2.0"})])
    with (
        make_engine(handler, clock, retry=RetryPolicy.no_retry()) as engine,
        pytest.raises(RateLimitError) as info,
    ):
        engine.get("x")
    assert info.value.retry_after == 2.0


def test_redirect_is_a_client_error_naming_the_redacted_location() -> None:
    error = map_response(301, None, content=b"", Location=f"https://new.test/x?token={TOKEN}")
    assert isinstance(error, ClientRequestError)
    assert "unexpected redirect to https://new.test/x?token=***" in error.message


# --- GraphQL with HTTP 200 -----------------------------------------------------------------


def test_graphql_errors_map_only_when_enabled_and_without_data() -> None:
    body = {"errors": [{"message": "Field 'x' doesn't exist"}], "data": None}
    assert map_response(200, body) is None
    error = map_response(200, body, graphql=True)
    assert isinstance(error, ClientRequestError)
    assert error.status_code == 200
    assert error.message == "Field 'x' doesn't exist"
    denied = {"errors": [{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}]}
    assert isinstance(map_response(200, denied, graphql=True), PermissionDeniedError)
    partial = {"errors": [{"message": "one field failed"}], "data": {"orders": {}}}
    assert map_response(200, partial, graphql=True) is None
    assert map_response(200, {"data": {}}, graphql=True) is None


def test_graphql_throttled_becomes_a_rate_limit_with_a_cost_based_wait() -> None:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 152,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 1000,
                    "currentlyAvailable": 2,
                    "restoreRate": 100,
                },
            }
        },
    }
    error = map_response(200, body, graphql=True)
    assert isinstance(error, RateLimitError)
    assert error.code == "THROTTLED"
    assert error.retry_after == pytest.approx(1.5)


def test_a_custom_mapper_overrides_the_default() -> None:
    class Quirky:
        """A platform answering 200 {"success": false} for failures."""

        def __call__(
            self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
        ) -> APIError | None:
            if isinstance(body, dict) and body.get("success") is False:
                return ClientRequestError(
                    "refused", platform=platform, status_code=response.status_code
                )
            return DefaultErrorMapper()(response, body, platform=platform, redactor=redactor)

    clock = FakeClock()
    handler, _ = scripted([httpx.Response(200, json={"success": False}), httpx.Response(404)])
    with make_engine(handler, clock, error_mapper=Quirky()) as engine:
        with pytest.raises(ClientRequestError, match="refused"):
            engine.get("x")
        with pytest.raises(NotFoundError):
            engine.get("x")
