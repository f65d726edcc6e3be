"""One exception tree for the whole library, classified by what the caller should do.

Every exception raised on purpose by ``commerce_connectors`` derives from
:class:`CommerceConnectorsError`::

    CommerceConnectorsError
    ├── ConfigurationError            fix the arguments or settings; retrying won't help
    │   └── NaiveDatetimeError        a datetime without tzinfo was given (also a ValueError)
    ├── CurrencyError                 unknown ISO 4217 code, no minor unit, or mixed currencies
    ├── UnsupportedStreamError        no such stream here; the message says what to use
    ├── APIError                      an error response (status, request id, body excerpt)
    │   ├── AuthenticationError       401: the token is invalid or expired, re-authenticate
    │   ├── PermissionDeniedError     403: a scope or permission is missing
    │   ├── NotFoundError             404: the resource or store does not exist
    │   ├── ClientRequestError        other 4xx: the request itself is wrong (a bug to report)
    │   ├── RateLimitError            429  ─┐
    │   ├── ServerError               5xx   ├─ also RetriableError: wait and try again
    │   └── MalformedResponseError    body ─┘  that is not the JSON the API documents
    ├── RetriableError                base of every "try again later" condition
    │   └── TransportError            no response at all: timeout, reset, DNS, refused
    ├── PaginationLoopError           a paginator saw the same page token twice
    ├── InvalidRecordError            one record could not be parsed: skip it, keep the payload
    │   └── MappingError              a field map could not map a record (every bad field listed)
    ├── LeaseLostError                another worker took the connection's lease: stop writing
    ├── SinkError                     the destination refused or failed a write
    │   └── ContactLimitError         the sink's contact cap is reached for new contacts
    └── WebhookError                  a webhook delivery that cannot be accepted
        ├── WebhookVerificationError  not signed by the platform (or too old, too big): refuse it
        └── WebhookPayloadError       signed, but not an event this library can read

What to do with each branch:

* ``ConfigurationError`` / ``CurrencyError``: a programming or settings error;
  fix and rerun.
* ``AuthenticationError``: the connection needs new credentials; the sync engine
  stops and keeps its last checkpoint so nothing is lost.
* ``RetriableError``: the HTTP engine already retried within its budget; a later
  run resumes from the checkpoint.
* ``InvalidRecordError``: skippable. It carries the raw payload and every bad
  field's JSON path so the record can be dead-lettered and replayed.
* ``ContactLimitError``: new contacts are refused until the cap is raised;
  updates to existing contacts continue.
* ``WebhookVerificationError``: answer the delivery with 401 and store nothing;
  ``check`` says which check failed. ``WebhookPayloadError``: the signature was
  good, so keep the body for inspection; the platform's retries will not fix it.

No exception message, ``repr`` or attribute ever contains a credential: API
errors keep only a redacted URL and a short, redacted excerpt of the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClientRequestError",
    "CommerceConnectorsError",
    "ConfigurationError",
    "ContactLimitError",
    "CurrencyError",
    "FieldProblem",
    "InvalidRecordError",
    "LeaseLostError",
    "MalformedResponseError",
    "MappingError",
    "NaiveDatetimeError",
    "NotFoundError",
    "PaginationLoopError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetriableError",
    "ServerError",
    "SinkError",
    "TransportError",
    "UnsupportedStreamError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookVerificationError",
]

#: How many characters of a response body an APIError keeps.
BODY_EXCERPT_LIMIT = 500


class CommerceConnectorsError(Exception):
    """Root of every exception this library raises on purpose."""


class ConfigurationError(CommerceConnectorsError, ValueError):
    """An argument or setting is wrong; retrying will not help."""


class NaiveDatetimeError(ConfigurationError):
    """A datetime without a timezone was given where an aware one is required.

    Example:
        >>> from datetime import datetime
        >>> from commerce_connectors.models import ensure_aware_utc
        >>> ensure_aware_utc(datetime(2024, 10, 4), field="since")
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.NaiveDatetimeError: since: naive datetime 2024-10-04T00:00:00 ...
    """


class CurrencyError(CommerceConnectorsError, ValueError):
    """An unknown ISO 4217 code, a currency without minor units, or mixed currencies."""


class UnsupportedStreamError(CommerceConnectorsError, NotImplementedError):
    """The platform does not offer this stream.

    Attributes:
        platform: the platform's name.
        stream: the stream asked for (``"abandoned_carts"`` …).
        reason: why the platform has no such stream and what to use instead.
    """

    def __init__(self, platform: str, stream: str, reason: str) -> None:
        self.platform = platform
        self.stream = stream
        self.reason = reason
        super().__init__(f"{platform} has no {stream} stream: {reason}")


class RetriableError(CommerceConnectorsError):
    """Base of every condition that may succeed if tried again later.

    Attributes:
        retry_after: seconds the server asked us to wait, when it said so.
    """

    retry_after: float | None = None


class APIError(CommerceConnectorsError):
    """The platform (or CRM) answered with an error response.

    Attributes:
        platform: which API answered (``"shopify"``, ``"activecampaign"`` …).
        status_code: the HTTP status.
        request_id: the platform's request id header, for support tickets.
        method: the HTTP method.
        url: the request URL with credentials redacted.
        body_excerpt: at most ``BODY_EXCERPT_LIMIT`` characters of the body, redacted.
        code: the platform's machine-readable error code, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        status_code: int | None = None,
        request_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
        body_excerpt: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message
        self.platform = platform
        self.status_code = status_code
        self.request_id = request_id
        self.method = method
        self.url = url
        self.body_excerpt = body_excerpt[:BODY_EXCERPT_LIMIT] if body_excerpt else body_excerpt
        self.code = code
        super().__init__(message)

    def __str__(self) -> str:
        parts = [f"{self.platform}: {self.message}"]
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.method and self.url:
            parts.append(f"request={self.method} {self.url}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.body_excerpt:
            parts.append(f"body={self.body_excerpt!r}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthenticationError(APIError):
    """401: the credentials are missing, invalid, revoked or expired: re-authenticate."""


class PermissionDeniedError(APIError):
    """403: the credentials are valid but lack a scope or permission."""


class NotFoundError(APIError):
    """404: the resource, store or endpoint does not exist."""


class ClientRequestError(APIError):
    """A 4xx other than 401/403/404/429: the request is wrong; retrying won't help."""


class RateLimitError(APIError, RetriableError):
    """429 (or a platform's throttled answer) after the retry budget was spent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError, RetriableError):
    """5xx from the platform after the retry budget was spent."""


class MalformedResponseError(APIError, RetriableError):
    """A response that is not the JSON the API documents (truncated, HTML, wrong shape)."""


class TransportError(RetriableError):
    """No usable response: timeout, connection reset or refused, DNS failure.

    Attributes:
        platform: which API was being called.
        method: the HTTP method.
        url: the request URL with credentials redacted.
    """

    def __init__(
        self, message: str, *, platform: str, method: str | None = None, url: str | None = None
    ) -> None:
        self.platform = platform
        self.method = method
        self.url = url
        super().__init__(
            f"{platform}: {message}" + (f" ({method} {url})" if method and url else "")
        )


class PaginationLoopError(CommerceConnectorsError):
    """A paginator was handed a page token (or page URL) it had already followed."""

    def __init__(self, token: str, *, platform: str | None = None) -> None:
        self.token = token
        self.platform = platform
        where = f"{platform}: " if platform else ""
        super().__init__(
            f"{where}pagination loop: the next-page token {token!r} was already followed"
        )


@attrs.frozen
class FieldProblem:
    """One bad field of a record.

    Attributes:
        path: JSON path of the field in the raw payload, e.g. ``$.line_items[2].price``.
        reason: what is wrong with it.
        value: the offending value (``None`` if the field was missing).
    """

    path: str
    reason: str
    value: Any = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InvalidRecordError(CommerceConnectorsError):
    """One record could not be turned into a canonical record. Skippable.

    Attributes:
        platform: the platform's name.
        kind: the record kind (``"order"``, ``"customer"`` …).
        record_id: the record's id in the platform, when it could be read.
        problems: every bad field, each with its JSON path and reason.
        payload: the raw payload exactly as received, so nothing is lost.
    """

    def __init__(
        self,
        *,
        platform: str,
        kind: str,
        record_id: str | None,
        problems: Sequence[FieldProblem],
        payload: Any,
    ) -> None:
        if not problems:
            raise ValueError("InvalidRecordError needs at least one FieldProblem")
        self.platform = platform
        self.kind = kind
        self.record_id = record_id
        self.problems = tuple(problems)
        self.payload = payload
        listed = "; ".join(str(p) for p in self.problems)
        super().__init__(
            f"invalid {platform} {kind} {record_id or '<no id>'}: "
            f"{len(self.problems)} bad field(s): {listed}"
        )

    def as_dict(self) -> Mapping[str, Any]:
        """Return a JSON-able description (for dead-letter stores and reports)."""
        return {
            "platform": self.platform,
            "kind": self.kind,
            "record_id": self.record_id,
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


class MappingError(InvalidRecordError):
    """A field map could not map a record to the CRM's fields. Skippable.

    Raised by :meth:`commerce_connectors.mapping.FieldMap.apply` with every bad
    field at once (its path in the canonical record, or in the raw payload for
    ``$.`` paths), not just the first, so one fix covers them all.
    """


class LeaseLostError(CommerceConnectorsError):
    """Another worker took this connection's lease: this run must stop writing.

    The sync engine ends the run as interrupted; the next run resumes from the
    last checkpoint.
    """


class SinkError(CommerceConnectorsError):
    """The destination refused or failed a write."""


class ContactLimitError(SinkError):
    """The sink's contact cap is reached: new contacts are refused, updates continue.

    Attributes:
        limit: the cap.
        identity: the contact identity that was refused, when it is about one record.
    """

    def __init__(self, limit: int, identity: str | None = None) -> None:
        self.limit = limit
        self.identity = identity
        who = f" for {identity}" if identity else ""
        super().__init__(
            f"contact limit of {limit} reached: new contact refused{who}; "
            "it is kept and will be synced once the limit is raised"
        )


class WebhookError(CommerceConnectorsError):
    """A webhook delivery that cannot be accepted.

    Attributes:
        platform: the platform the delivery claims to come from.
    """

    def __init__(self, platform: str, message: str) -> None:
        self.platform = platform
        super().__init__(f"{platform} webhook: {message}")


class WebhookVerificationError(WebhookError):
    """A webhook that fails verification: refuse it (HTTP 401) and store nothing.

    The message names the check that failed and never contains the secret, the
    signature or the body.

    Attributes:
        check: which check failed: ``missing_header``, ``malformed_signature``,
            ``signature``, ``timestamp``, ``url``, ``body_too_large``, ``no_secret``.

    Example:
        >>> WebhookVerificationError("shopify", "signature", "no secret matches")
        WebhookVerificationError('shopify webhook: signature check failed: no secret matches')
    """

    def __init__(self, platform: str, check: str, detail: str) -> None:
        self.check = check
        super().__init__(platform, f"{check} check failed: {detail}")


class WebhookPayloadError(WebhookError):
    """A verified webhook whose body is not an event the library can read.

    Attributes:
        problems: what is wrong, each with its JSON path.
    """

    def __init__(self, platform: str, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"{p.path}: {p.reason}" for p in self.problems)
        super().__init__(platform, f"unreadable event ({listed})")
