"""Shopify signature checks against vectors computed here with the standard library.

Shopify signs a delivery with ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(client
secret, raw body)) (shared/platforms/shopify.md §1.6). The bodies are the official
example payloads' bytes, so nothing is signed by the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from shopify_webhook_support import EXAMPLES, verify

from commerce_connectors.errors import ConfigurationError, WebhookVerificationError

SECRET = "shpss_test_0a1b2c3d4e5f"
OLD_SECRET = "shpss_test_retiring_99"


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture(scope="module")
def order_body() -> bytes:
    # The order object of the official example, as Shopify would POST it for orders/create.
    order = json.loads((EXAMPLES / "order_get.json").read_bytes())["order"]
    return json.dumps(order, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "name", ["order_get.json", "customer_get.json", "product_get.json", "webhooks_list.json"]
)
def test_official_example_bytes_verify_with_an_independent_hmac(name: str) -> None:
    body = (EXAMPLES / name).read_bytes()  # exact bytes: verification never re-serialises
    verify("shopify", {"X-Shopify-Hmac-Sha256": sign(SECRET, body)}, body, secret=SECRET)


def test_a_known_vector() -> None:
    # Computed once outside Python:
    #   printf %s '{"id":1}' | openssl dgst -sha256 -hmac s3cret -binary | base64
    body = b'{"id":1}'
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert expected == "Y92rNNpYOOODVF6ckLQPdKTj2qvF3ZqNSaUYda1LJBg="
    verify("shopify", {"X-Shopify-Hmac-Sha256": expected}, body, secret="s3cret")


def test_a_tampered_body_is_refused(order_body: bytes) -> None:
    signature = sign(SECRET, order_body)
    tampered = order_body.replace(b'"total_price": "598.94"', b'"total_price": "1.00"')
    assert tampered != order_body
    with pytest.raises(WebhookVerificationError) as caught:
        verify("shopify", {"X-Shopify-Hmac-Sha256": signature}, tampered, secret=SECRET)
    assert caught.value.check == "signature"


def test_a_tampered_signature_is_refused(order_body: bytes) -> None:
    good = sign(SECRET, order_body)
    forged = base64.b64encode(bytes([good.encode()[0] ^ 1]) + base64.b64decode(good)[1:]).decode()
    with pytest.raises(WebhookVerificationError) as caught:
        verify("shopify", {"X-Shopify-Hmac-Sha256": forged}, order_body, secret=SECRET)
    assert caught.value.check == "signature"


def test_a_wrong_secret_is_refused(order_body: bytes) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify(
            "shopify", {"X-Shopify-Hmac-Sha256": sign("other", order_body)}, order_body,
            secret=SECRET,
        )  # fmt: skip
    assert caught.value.check == "signature"


def test_a_missing_signature_header_is_refused(order_body: bytes) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify("shopify", {"X-Shopify-Topic": "orders/create"}, order_body, secret=SECRET)
    assert caught.value.check == "missing_header"


@pytest.mark.parametrize("value", ["not base64!", "abc", "é" * 44])
def test_a_malformed_signature_is_refused(order_body: bytes, value: str) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify("shopify", {"X-Shopify-Hmac-Sha256": value}, order_body, secret=SECRET)
    assert caught.value.check == "malformed_signature"


def test_an_oversized_body_is_refused_before_hashing(order_body: bytes) -> None:
    headers = {"X-Shopify-Hmac-Sha256": sign(SECRET, order_body)}
    with pytest.raises(WebhookVerificationError) as caught:
        verify("shopify", headers, order_body, secret=SECRET, max_body=len(order_body) - 1)
    assert caught.value.check == "body_too_large"


def test_rotation_accepts_the_old_and_the_new_secret(order_body: bytes) -> None:
    # Shopify may take up to an hour to sign with a new client secret [SH-WH].
    for signer in (SECRET, OLD_SECRET):
        headers = {"X-Shopify-Hmac-Sha256": sign(signer, order_body)}
        verify("shopify", headers, order_body, secret=[SECRET, OLD_SECRET])
        verify("shopify", headers, order_body, secret=(OLD_SECRET.encode(), SECRET))
    with pytest.raises(WebhookVerificationError):
        verify("shopify", {"X-Shopify-Hmac-Sha256": sign("third", order_body)}, order_body,
               secret=[SECRET, OLD_SECRET])  # fmt: skip


def test_no_secret_is_a_configuration_error(order_body: bytes) -> None:
    with pytest.raises(ConfigurationError):
        verify("shopify", {"X-Shopify-Hmac-Sha256": sign(SECRET, order_body)}, order_body,
               secret=[])  # fmt: skip


@pytest.mark.parametrize(
    "make",
    [
        lambda s: {"x-shopify-hmac-sha256": s},
        lambda s: {"X-SHOPIFY-HMAC-SHA256": s},
        lambda s: {"HTTP_X_SHOPIFY_HMAC_SHA256": s},  # WSGI / Django META
        lambda s: [(b"X-Shopify-Hmac-SHA256", s.encode())],  # ASGI raw pairs
        lambda s: {"X-Shopify-Hmac-Sha256": f"  {s} "},
    ],
    ids=["lower", "upper", "wsgi", "asgi-bytes", "padded"],
)
def test_header_names_are_case_insensitive(order_body: bytes, make: object) -> None:
    headers = make(sign(SECRET, order_body))  # type: ignore[operator]
    verify("shopify", headers, order_body, secret=SECRET)


def test_errors_never_carry_the_secret_the_signature_or_the_body(order_body: bytes) -> None:
    signature = sign("other", order_body)
    with pytest.raises(WebhookVerificationError) as caught:
        verify("shopify", {"X-Shopify-Hmac-Sha256": signature}, order_body, secret=SECRET)
    text = f"{caught.value} {caught.value!r}"
    assert SECRET not in text
    assert signature not in text
    assert "bob.norman" not in text
