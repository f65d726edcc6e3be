"""Tiendanube / Nuvemshop webhooks: the signature scheme, the events and how each reads.

Tiendanube signs every delivery with ``X-Linkedstore-HMAC-SHA256``: the
lower-case hex HMAC-SHA256 of the raw body keyed with the app's secret (its
``client_secret``). The body names the store, the event and the resource id
only; the receiver fetches the resource.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping

from ..._webhooks import hex_hmac, matches_any, require_header
from ...errors import WebhookVerificationError

__all__ = ["SIGNATURE_HEADER", "verify"]

_PLATFORM = "tiendanube"
#: The header carrying the signature.
SIGNATURE_HEADER = "x-linkedstore-hmac-sha256"
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: tuple[bytes, ...],
    url: str | None = None,
    now: _dt.datetime | None = None,
) -> None:
    """Check ``X-Linkedstore-HMAC-SHA256`` against each secret (headers already normalised)."""
    given = require_header(_PLATFORM, headers, SIGNATURE_HEADER)
    if not _HEX.fullmatch(given):
        raise WebhookVerificationError(
            _PLATFORM, "malformed_signature", f"{SIGNATURE_HEADER} is not a hex SHA-256 digest"
        )
    if not matches_any((hex_hmac(s, body) for s in secrets), [given.lower().encode("ascii")]):
        raise WebhookVerificationError(
            _PLATFORM, "signature", "the body's HMAC matches no configured secret"
        )
