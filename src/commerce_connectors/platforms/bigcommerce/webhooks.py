"""BigCommerce webhooks: Standard Webhooks signatures, the scopes and how each event reads.

BigCommerce signs HTTPS webhooks per the Standard Webhooks specification:
``webhook-signature`` holds one or more space-separated ``v1,<base64>``
signatures, each the HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``
keyed with the app's client secret; ``webhook-timestamp`` is in Unix seconds and
deliveries more than five minutes off are refused (replay protection). A
secret written the Standard Webhooks way (``whsec_`` + base64) is decoded
first, so the same function checks any Standard Webhooks sender.

Event bodies are light (``{"scope", "store_id", "data": {"type", "id"}, "hash",
"created_at", "producer"}``): the receiver fetches the record.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
from collections.abc import Mapping

from ..._webhooks import b64_hmac, is_base64, matches_any, require_header
from ...errors import ConfigurationError, WebhookVerificationError

__all__ = ["SIGNATURE_HEADER", "TOLERANCE", "standard_webhooks_key", "verify"]

_PLATFORM = "bigcommerce"
#: The header carrying the signatures.
SIGNATURE_HEADER = "webhook-signature"
#: How far ``webhook-timestamp`` may be from now (the reference libraries' tolerance).
TOLERANCE = _dt.timedelta(minutes=5)
_PREFIX = b"whsec_"


def standard_webhooks_key(secret: bytes) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` decoded, any other secret as it is.

    Example:
        >>> standard_webhooks_key(b"whsec_c2VjcmV0")
        b'secret'
        >>> standard_webhooks_key(b"my-client-secret")
        b'my-client-secret'
    """
    if not secret.startswith(_PREFIX):
        return secret
    try:
        return base64.b64decode(secret[len(_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("a whsec_ secret must be base64 after the prefix") from None


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check the Standard Webhooks headers (already normalised) against each secret.

    Raises:
        WebhookVerificationError: a header is missing or malformed, the timestamp
            is more than :data:`TOLERANCE` from ``now``, or no ``v1`` signature
            matches any secret.
    """
    msg_id = require_header(_PLATFORM, headers, "webhook-id")
    stamp = require_header(_PLATFORM, headers, "webhook-timestamp")
    signatures = require_header(_PLATFORM, headers, SIGNATURE_HEADER)
    if not stamp.isdigit():
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", "webhook-timestamp is not Unix seconds"
        )
    now = now if now is not None else _dt.datetime.now(_dt.timezone.utc)
    try:
        sent = _dt.datetime.fromtimestamp(int(stamp), _dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        raise WebhookVerificationError(
            _PLATFORM, "timestamp", "webhook-timestamp is out of range"
        ) from None
    if abs(now - sent) > TOLERANCE:
        raise WebhookVerificationError(
            _PLATFORM, "timestamp", "webhook-timestamp is more than 5 minutes from now"
        )
    given = []
    for part in signatures.split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and is_base64(value):
            given.append(value.encode("ascii"))
    if not given:
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", "webhook-signature has no v1,<base64> signature"
        )
    message = f"{msg_id}.{stamp}.".encode() + body
    keys = (standard_webhooks_key(s) for s in secrets)
    if not matches_any((b64_hmac(k, message) for k in keys), given):
        raise WebhookVerificationError(
            _PLATFORM, "signature", "no v1 signature matches a configured secret"
        )
