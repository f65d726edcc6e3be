"""Shopify webhooks: the signature scheme, the topics and how each event reads.

Shopify signs every delivery with ``X-Shopify-Hmac-Sha256``: the base64
HMAC-SHA256 of the raw body keyed with the app's client secret. Other headers
name the topic (``X-Shopify-Topic``), the shop (``X-Shopify-Shop-Domain``), the
API version and the delivery (``X-Shopify-Webhook-Id``, the dedupe key).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from ..._webhooks import b64_hmac, is_base64, matches_any, require_header
from ...errors import WebhookVerificationError
from ._shared import PLATFORM_NAME

__all__ = ["SIGNATURE_HEADER", "verify"]

#: The header carrying the signature.
SIGNATURE_HEADER = "x-shopify-hmac-sha256"


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check ``X-Shopify-Hmac-Sha256`` against each secret (headers already normalised).

    ``url`` and ``now`` are not part of Shopify's scheme (its deliveries carry
    no signed timestamp; dedupe on the webhook id instead).
    """
    given = require_header(PLATFORM_NAME, headers, SIGNATURE_HEADER)
    if not is_base64(given):
        raise WebhookVerificationError(
            PLATFORM_NAME, "malformed_signature", f"{SIGNATURE_HEADER} is not base64"
        )
    if not matches_any((b64_hmac(s, body) for s in secrets), [given.encode("ascii")]):
        raise WebhookVerificationError(
            PLATFORM_NAME, "signature", "the body's HMAC matches no configured secret"
        )
