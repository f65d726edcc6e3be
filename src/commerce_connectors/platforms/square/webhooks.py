"""Square webhooks: the signature scheme, the event types and how each event reads.

Square signs every notification with ``x-square-hmacsha256-signature``: the
base64 HMAC-SHA256, keyed with the subscription's **signature key**, of the
notification URL exactly as configured for the subscription followed by the
raw body. The receiver must therefore know the URL byte for byte: a proxy that
rewrites the scheme or host makes every signature fail.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from ..._webhooks import b64_hmac, is_base64, matches_any, require_header
from ...errors import ConfigurationError, WebhookVerificationError

__all__ = ["SIGNATURE_HEADER", "verify"]

_PLATFORM = "square"
#: The header carrying the signature.
SIGNATURE_HEADER = "x-square-hmacsha256-signature"


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check ``x-square-hmacsha256-signature`` over ``url + body`` against each signature key.

    Raises:
        ConfigurationError: no ``url`` was given (Square signs it with the body).
        WebhookVerificationError: the signature is missing, malformed or wrong.
    """
    if not url:
        raise ConfigurationError(
            "square signs the notification URL with the body: pass url= exactly as "
            "configured in the subscription"
        )
    given = require_header(_PLATFORM, headers, SIGNATURE_HEADER)
    if not is_base64(given):
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", f"{SIGNATURE_HEADER} is not base64"
        )
    message = url.encode("utf-8") + body
    if not matches_any((b64_hmac(s, message) for s in secrets), [given.encode("ascii")]):
        raise WebhookVerificationError(
            _PLATFORM,
            "signature",
            "the HMAC of the URL and body matches no signature key "
            "(is the URL exactly the subscription's notification URL?)",
        )
