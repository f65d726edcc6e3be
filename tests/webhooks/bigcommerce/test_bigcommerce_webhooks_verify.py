"""Signature checks on BigCommerce deliveries (Standard Webhooks, keyed with the client secret).

Every expected signature is computed here with hmac/hashlib/base64 over the official
example payload's bytes, never with the library's own helpers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest
from bigcommerce_webhook_support import example_bytes, sign

from commerce_connectors.errors import ConfigurationError, WebhookVerificationError
from commerce_connectors.webhooks import verify

SECRET = "client-secret-7Hq2"
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
STAMP = 1561479340
NOW = dt.datetime.fromtimestamp(STAMP + 30, dt.timezone.utc)
BODY = example_bytes("webhook_store_order_created.json")


def headers(body: bytes = BODY, *, secret: str = SECRET, stamp: int = STAMP) -> dict[str, str]:
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret.encode(), MSG_ID, stamp, body),
    }


def check(h: dict[str, str], body: bytes = BODY, **kwargs: object) -> None:
    options: dict[str, object] = {"secret": SECRET, "now": NOW, **kwargs}
    verify("bigcommerce", h, body, **options)  # type: ignore[arg-type]


def failure(h: dict[str, str], body: bytes = BODY, **kwargs: object) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        check(h, body, **kwargs)
    assert SECRET not in str(caught.value)
    assert BODY.decode() not in str(caught.value)
    return caught.value.check


def test_an_independently_computed_vector_is_accepted() -> None:
    # The vector spelled out: HMAC-SHA256(secret, "{id}.{timestamp}.{raw body}"), base64.
    message = f"{MSG_ID}.{STAMP}.".encode() + BODY
    expected = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    h = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(STAMP),
        "webhook-signature": "v1," + expected.decode(),
    }
    check(h)


def test_the_documented_sample_key_is_the_raw_client_secret() -> None:
    # BigCommerce's samples hand base64(client_secret) to the Standard Webhooks library,
    # which decodes it: the key is the client secret itself, and its whsec_ form works too.
    whsec = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    check(headers(), secret=whsec)


def test_a_tampered_body_is_refused() -> None:
    assert failure(headers(), BODY.replace(b"250", b"251")) == "signature"


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp"])
def test_a_tampered_signed_header_is_refused(name: str) -> None:
    h = headers()
    h[name] = h[name][:-1] + ("1" if h[name][-1] != "1" else "2")  # one second off: in range
    assert failure(h) == "signature"


def test_a_tampered_signature_is_refused() -> None:
    h = headers()
    raw = bytearray(base64.b64decode(h["webhook-signature"][3:]))
    raw[0] ^= 1
    h["webhook-signature"] = "v1," + base64.b64encode(bytes(raw)).decode()
    assert failure(h) == "signature"


def test_another_secret_is_refused() -> None:
    assert failure(headers(secret="someone-else")) == "signature"


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(name: str) -> None:
    h = headers()
    del h[name]
    with pytest.raises(WebhookVerificationError, match=name) as caught:
        check(h)
    assert caught.value.check == "missing_header"


@pytest.mark.parametrize("stamp", ["1561479340.5", "-1561479340", "²", "yesterday"])
def test_a_timestamp_that_is_not_unix_seconds_is_malformed(stamp: str) -> None:
    h = headers()
    h["webhook-timestamp"] = stamp
    assert failure(h) == "malformed_signature"


@pytest.mark.parametrize(
    "signature", ["abc", "v2,AAAA", "v1,not base64!", "v1a,AAAA", "v1,"], ids=repr
)
def test_a_signature_header_without_a_v1_base64_value_is_malformed(signature: str) -> None:
    h = headers()
    h["webhook-signature"] = signature
    assert failure(h) == "malformed_signature"


@pytest.mark.parametrize("offset", [-301, 301, 10**10])
def test_a_timestamp_more_than_five_minutes_off_is_refused(offset: int) -> None:
    stamp = int(NOW.timestamp()) + offset
    assert failure(headers(stamp=stamp)) == "timestamp"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_within_five_minutes_is_accepted(offset: int) -> None:
    check(headers(stamp=int(NOW.timestamp()) + offset))


def test_the_timestamp_is_checked_against_the_clock_when_now_is_omitted() -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify("bigcommerce", headers(), BODY, secret=SECRET)  # STAMP is from 2019
    assert caught.value.check == "timestamp"


def test_a_naive_now_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        check(headers(), now=NOW.replace(tzinfo=None))


def test_secret_rotation_accepts_any_configured_secret() -> None:
    signed_with_old = headers(secret="old-secret")
    check(signed_with_old, secret=["new-secret", "old-secret"])
    check(headers(secret="new-secret"), secret=["new-secret", "old-secret"])
    assert failure(signed_with_old, secret=["new-secret", "newer-secret"]) == "signature"


def test_several_signatures_in_one_header_match_if_any_does() -> None:
    # Standard Webhooks sends one signature per active key, space-separated.
    h = headers()
    stale = sign(b"rotated-away", MSG_ID, STAMP, BODY)
    h["webhook-signature"] = f"{stale} v1a,ignored {h['webhook-signature']}"
    check(h)


def test_header_names_are_matched_in_any_case_and_wsgi_form() -> None:
    h = headers()
    check({k.upper(): v for k, v in h.items()})
    check({k.title(): v for k, v in h.items()})
    check({"HTTP_" + k.upper().replace("-", "_"): v for k, v in h.items()})
    check([(k.encode(), v.encode()) for k, v in h.items()])  # type: ignore[arg-type]


def test_a_body_over_the_limit_is_refused_before_any_hmac() -> None:
    assert failure(headers(), max_body=len(BODY) - 1) == "body_too_large"
