"""Tiendanube signature checks against HMACs computed here, independently of the library.

The docs' verifier is PHP's ``hash_hmac('sha256', $data, APP_SECRET)`` compared with
``X-Linkedstore-HMAC-SHA256`` (resources/webhook.md, "Verifying a webhook"): the
lower-case hex HMAC-SHA256 of the raw body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from tiendanube_webhook_kit import official_example_delivery, verify

from commerce_connectors.errors import ConfigurationError, WebhookVerificationError

SECRET = "app-client-secret-for-tests"
HEADER = "X-Linkedstore-HMAC-SHA256"


def _sign(body: bytes, secret: str | bytes = SECRET) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _check(headers: Any, body: bytes, secret: Any = SECRET) -> str | None:
    """``None`` when verified, else the failed check's name."""
    try:
        verify("tiendanube", headers, body, secret=secret)
    except WebhookVerificationError as exc:
        return exc.check
    return None


@pytest.mark.parametrize("which", ["as published", "as JSON"])
def test_the_official_example_body_verifies(which: str) -> None:
    raw, as_json = official_example_delivery()
    body = raw if which == "as published" else as_json
    assert _check({HEADER: _sign(body)}, body) is None


def test_rfc_4231_vector_case_2() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    digest = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert _check({HEADER: digest}, b"what do ya want for nothing?", secret="Jefe") is None


def test_a_changed_body_is_refused() -> None:
    _, body = official_example_delivery()
    signature = _sign(body)
    tampered = body.replace(b"1948209", b"1948208")
    assert _check({HEADER: signature}, tampered) == "signature"
    assert _check({HEADER: signature}, body + b" ") == "signature"


def test_a_changed_signature_is_refused() -> None:
    _, body = official_example_delivery()
    signature = _sign(body)
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert _check({HEADER: flipped}, body) == "signature"


def test_another_secret_is_refused() -> None:
    _, body = official_example_delivery()
    assert _check({HEADER: _sign(body, "someone-else")}, body) == "signature"


@pytest.mark.parametrize(
    ("headers", "check"),
    [
        ({}, "missing_header"),
        ({HEADER: ""}, "missing_header"),
        ({"X-Shopify-Hmac-Sha256": "x"}, "missing_header"),
        ({HEADER: "abc123"}, "malformed_signature"),
        ({HEADER: "g" * 64}, "malformed_signature"),
    ],
)
def test_each_failure_names_its_check(headers: dict[str, str], check: str) -> None:
    _, body = official_example_delivery()
    assert _check(headers, body) == check


def test_a_base64_signature_is_malformed() -> None:
    # The right digest in base64 (Shopify's encoding): Tiendanube sends hex.
    _, body = official_example_delivery()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    assert _check({HEADER: base64.b64encode(digest).decode()}, body) == "malformed_signature"


def test_a_too_large_body_is_refused_before_hashing() -> None:
    body = b"{" + b" " * 100 + b"}"
    with pytest.raises(WebhookVerificationError) as info:
        verify("tiendanube", {HEADER: _sign(body)}, body, secret=SECRET, max_body=50)
    assert info.value.check == "body_too_large"


def test_secret_rotation_accepts_either_secret() -> None:
    _, body = official_example_delivery()
    old, new = "old-secret", "new-secret"
    assert _check({HEADER: _sign(body, old)}, body, secret=[new, old]) is None
    assert _check({HEADER: _sign(body, new)}, body, secret=[new, old]) is None
    assert _check({HEADER: _sign(body, new)}, body, secret=(b"new-secret",)) is None
    assert _check({HEADER: _sign(body, "third")}, body, secret=[new, old]) == "signature"


@pytest.mark.parametrize(
    "name",
    [
        "X-Linkedstore-HMAC-SHA256",
        "x-linkedstore-hmac-sha256",
        "X-LINKEDSTORE-HMAC-SHA256",
        # What some frameworks show, as the docs warn.
        "HTTP_X_LINKEDSTORE_HMAC_SHA256",
    ],
)
def test_header_names_match_in_any_case(name: str) -> None:
    _, body = official_example_delivery()
    assert _check({name: _sign(body)}, body) is None
    assert _check([(name.encode(), _sign(body).encode())], body) is None


def test_upper_case_hex_and_surrounding_spaces_are_accepted() -> None:
    _, body = official_example_delivery()
    assert _check({HEADER: f" {_sign(body).upper()} "}, body) is None


def test_errors_never_show_the_secret_the_signature_or_the_body() -> None:
    _, body = official_example_delivery()
    wrong = _sign(body, "other")
    with pytest.raises(WebhookVerificationError) as info:
        verify("tiendanube", {HEADER: wrong}, body, secret=SECRET)
    text = f"{info.value} {info.value!r}"
    assert SECRET not in text
    assert wrong not in text
    assert "1948209" not in text


def test_no_secret_is_a_configuration_error() -> None:
    _, body = official_example_delivery()
    with pytest.raises(ConfigurationError):
        verify("tiendanube", {HEADER: _sign(body)}, body, secret="")
    with pytest.raises(ConfigurationError):
        verify("tiendanube", {HEADER: _sign(body)}, body, secret=[])
