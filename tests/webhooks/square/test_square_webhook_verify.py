"""Square signature checks against vectors computed here, independently of the library.

The message is the notification URL followed by the raw body; the key is the
subscription's signature key; the header is base64 of the HMAC-SHA256. The bodies are
the official example notifications, read as bytes from ``shared/official-examples``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest

from commerce_connectors.errors import ConfigurationError, WebhookVerificationError

try:  # the public façade, once it exists; the dispatch module until then
    from commerce_connectors.webhooks import verify
except ImportError:
    from commerce_connectors.webhooks._schemes import verify

URL = "https://hooks.example.com/square/notifications"
KEY = "1k9bIJKCeTmSQwyagtNRLg"  # the signature key of Square's CreateWebhookSubscription example
HEADER = "X-Square-HmacSha256-Signature"
Example = Callable[[str], bytes]


def _sign(key: str, url: str, body: bytes) -> str:
    digest = hmac.new(key.encode("utf-8"), url.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _check(headers: Any, body: bytes, **kwargs: Any) -> None:
    verify("square", headers, body, **{"secret": KEY, "url": URL, **kwargs})


@pytest.mark.parametrize(
    "name",
    [
        "payment_created",
        "payment_updated",
        "order_created",
        "customer_updated",
        "catalog_version_updated",
    ],
)
def test_official_example_bodies_verify(example: Example, name: str) -> None:
    body = example(name)
    _check({HEADER: _sign(KEY, URL, body)}, body)


def test_square_sdk_published_vector() -> None:
    # The known-answer vector of Square's Python SDK tests
    # (square/square-python-sdk, tests/integration/test_webhooks_helper.py).
    body = (
        b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
        b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
        b'"created_at":"2022-07-13T20:30:59.037339943Z",'
        b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
    )
    url = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
    header = {HEADER: "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="}
    verify("square", header, body, secret="Ibxx_5AKakO-3qeNVR61Dw", url=url)
    with pytest.raises(WebhookVerificationError):
        verify("square", header, body, secret="MCmhFRxGX82xMwg5FsaoQA", url=url)


@pytest.mark.parametrize(
    "name",
    [HEADER, HEADER.lower(), HEADER.upper(), "HTTP_X_SQUARE_HMACSHA256_SIGNATURE"],
)
def test_header_name_case_does_not_matter(example: Example, name: str) -> None:
    body = example("order_updated")
    _check({name: _sign(KEY, URL, body)}, body)
    _check([(name.encode("latin-1"), _sign(KEY, URL, body).encode("ascii"))], body)


def test_tampered_body_is_refused(example: Example) -> None:
    body = example("payment_updated")
    signature = _sign(KEY, URL, body)
    tampered = body.replace(b'"amount": 100', b'"amount": 900', 1)
    assert tampered != body
    with pytest.raises(WebhookVerificationError) as caught:
        _check({HEADER: signature}, tampered)
    assert caught.value.check == "signature"
    # Re-serialising the JSON (what a framework's parsed body would give) also fails.
    with pytest.raises(WebhookVerificationError):
        _check({HEADER: signature}, body.replace(b"\n", b"").replace(b"  ", b""))


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/square/notifications",  # scheme rewritten by a proxy
        "https://hooks.example.com/square/notifications/",  # trailing slash
        "https://HOOKS.example.com/square/notifications",  # host case
        "https://hooks.example.com/square/notifications?x=1",  # query added
    ],
)
def test_the_url_must_be_the_subscriptions_byte_for_byte(example: Example, url: str) -> None:
    body = example("customer_created")
    with pytest.raises(WebhookVerificationError) as caught:
        _check({HEADER: _sign(KEY, URL, body)}, body, url=url)
    assert caught.value.check == "signature"


def test_tampered_signature_and_wrong_key_are_refused(example: Example) -> None:
    body = example("customer_created")
    good = _sign(KEY, URL, body)
    flipped = ("A" if good[0] != "A" else "B") + good[1:]
    for headers, secret in (({HEADER: flipped}, KEY), ({HEADER: good}, "another-key")):
        with pytest.raises(WebhookVerificationError) as caught:
            _check(headers, body, secret=secret)
        assert caught.value.check == "signature"
        assert KEY not in str(caught.value)
        assert "Jenkins" not in str(caught.value)  # nothing of the body either


@pytest.mark.parametrize(
    ("headers", "check"),
    [
        ({}, "missing_header"),
        ({HEADER: "   "}, "missing_header"),
        ({"X-Square-Signature": "legacy-sha1"}, "missing_header"),
        ({HEADER: "not base64 at all!"}, "malformed_signature"),
        ({HEADER: "GF4Yk"}, "malformed_signature"),
    ],
)
def test_each_failure_names_its_check(
    example: Example, headers: dict[str, str], check: str
) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        _check(headers, example("order_created"))
    assert caught.value.check == check


def test_body_too_large(example: Example) -> None:
    body = example("order_created")
    with pytest.raises(WebhookVerificationError) as caught:
        _check({HEADER: _sign(KEY, URL, body)}, body, max_body=100)
    assert caught.value.check == "body_too_large"


def test_rotating_keys_any_given_key_verifies(example: Example) -> None:
    # During UpdateWebhookSubscriptionSignatureKey both keys may be in flight.
    body = example("payment_created")
    old, new = "old-key-0123456789abcd", "new-key-abcdef98765432"
    for key in (old, new):
        _check({HEADER: _sign(key, URL, body)}, body, secret=[new, old])
    with pytest.raises(WebhookVerificationError):
        _check({HEADER: _sign("third-key", URL, body)}, body, secret=[new, old])


def test_url_and_secret_are_required(example: Example) -> None:
    body = example("payment_created")
    with pytest.raises(ConfigurationError, match="url="):
        verify("square", {HEADER: _sign(KEY, URL, body)}, body, secret=KEY)
    with pytest.raises(ConfigurationError):
        verify("square", {HEADER: _sign(KEY, URL, body)}, body, secret="", url=URL)
