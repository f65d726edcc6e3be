"""Signatures against vectors computed elsewhere: the Standard Webhooks reference vector.

The Standard Webhooks reference libraries (github.com/standard-webhooks/standard-webhooks,
``libraries/python/tests/test_webhooks.py``, ``test_sign_function``) sign
``{"test": 2432232314}`` with ``whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`` for message
``msg_p5jXN8AQM9LWM0D4loKWxJek`` at 1614265330 and publish the signature
``v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=``. BigCommerce signs per that
specification, so the library must accept exactly this delivery.
"""

from __future__ import annotations

import datetime as dt

import pytest

from commerce_connectors.errors import WebhookVerificationError
from commerce_connectors.webhooks import verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"test": 2432232314}'
SIGNED_AT = dt.datetime.fromtimestamp(1614265330, tz=dt.timezone.utc)
HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


def test_the_standard_webhooks_reference_vector_verifies() -> None:
    verify("bigcommerce", HEADERS, BODY, secret=SECRET, now=SIGNED_AT)


def test_among_several_signatures_and_versions_the_matching_one_counts() -> None:
    several = {
        **HEADERS,
        "webhook-signature": "v1a,abc v1,bm90IGl0 " + HEADERS["webhook-signature"],
    }
    verify("bigcommerce", several, BODY, secret=SECRET, now=SIGNED_AT)


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJel"}, "signature"),
        ({"webhook-timestamp": "1614265331"}, "signature"),
        (
            {"webhook-signature": "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
            "malformed_signature",
        ),
    ],
)
def test_the_vector_with_one_signed_part_changed_is_refused(
    change: dict[str, str], check: str
) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify("bigcommerce", {**HEADERS, **change}, BODY, secret=SECRET, now=SIGNED_AT)
    assert caught.value.check == check


def test_the_vector_replayed_after_five_minutes_is_refused_either_way() -> None:
    for skew in (-301, 301):
        with pytest.raises(WebhookVerificationError) as caught:
            verify("bigcommerce", HEADERS, BODY, secret=SECRET,
                   now=SIGNED_AT + dt.timedelta(seconds=skew))  # fmt: skip
        assert caught.value.check == "timestamp"
    verify("bigcommerce", HEADERS, BODY, secret=SECRET, now=SIGNED_AT + dt.timedelta(seconds=299))


def test_a_tampered_body_fails_and_the_error_carries_neither_secret_nor_body() -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify("bigcommerce", HEADERS, BODY.replace(b"2432", b"2433"), secret=SECRET, now=SIGNED_AT)
    text = f"{caught.value} {caught.value!r}"
    assert "MfKQ9r8" not in text
    assert "2432232314" not in text
