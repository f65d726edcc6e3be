"""Email normalisation: trim, lower-case, validate; never raise on bad data.

A sync meets the same addresses again and again (a customer's every order,
the contact and its order, the order map's ``email`` field), so results are
memoised per distinct address in a bounded cache: :data:`EMAIL_CACHE_SIZE`
entries at most, least recently used dropped first, so memory stays flat
whatever the store's size.
"""

from __future__ import annotations

import functools
import re

import attrs

from ._reasons import Reason

__all__ = ["EMAIL_CACHE_SIZE", "EmailResult", "normalize_email"]

#: Distinct addresses whose normalisation is remembered (about 2 MB at most).
EMAIL_CACHE_SIZE = 8192

# Pragmatic syntax check, not RFC 5322: shops hold typed-in addresses, and the
# CRM rejects what its own checker rejects. We refuse what is certainly wrong
# (no "@", whitespace, empty parts, no dot in the domain, dots at the edges or
# doubled) and keep non-ASCII characters, which internationalised addresses use.
_LOCAL = r"[^\s@\"(),:;<>\[\]\\.]+(?:\.[^\s@\"(),:;<>\[\]\\.]+)*"
_LABEL = r"[^\s@\"(),:;<>\[\]\\._-](?:[^\s@\"(),:;<>\[\]\\.]*[^\s@\"(),:;<>\[\]\\._-])?"
_EMAIL = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+{_LABEL}")
_MAX_LENGTH = 254
_MAX_LOCAL = 64


@attrs.frozen
class EmailResult:
    """The outcome of :func:`normalize_email`.

    Attributes:
        value: the normalised address, or ``None`` when there is no usable one.
        reason: why ``value`` is ``None`` (``EMAIL_MISSING`` or ``EMAIL_INVALID``).
        original: the input exactly as given, kept for reports.
    """

    value: str | None
    reason: Reason | None = None
    original: str | None = None

    @property
    def ok(self) -> bool:
        """True when a usable address was found."""
        return self.value is not None


def normalize_email(email: str | None) -> EmailResult:
    """Trim, lower-case and validate an email address.

    An invalid or missing address gives ``value=None`` with the reason recorded;
    nothing is raised, so one bad record never stops a sync. The function is
    idempotent: normalising an already normalised address returns it unchanged.

    Args:
        email: the address as the platform gave it (may be ``None``).

    Returns:
        An :class:`EmailResult`.

    Example:
        >>> normalize_email("  Alice@Example.COM ").value
        'alice@example.com'
        >>> normalize_email("not-an-email").reason
        <Reason.EMAIL_INVALID: 'email_invalid'>
        >>> normalize_email(None).reason
        <Reason.EMAIL_MISSING: 'email_missing'>
    """
    if type(email) is str:
        # Exactly str: a subclass would be remembered as a plain string.
        return _normalize_cached(email)
    return _normalize(email)


def _normalize(email: str | None) -> EmailResult:
    """The normalisation itself: pure, so its results can be shared."""
    if email is None or not isinstance(email, str) or not email.strip():
        return EmailResult(None, Reason.EMAIL_MISSING, email if isinstance(email, str) else None)
    candidate = email.strip().lower()
    local, _, domain = candidate.rpartition("@")
    if (
        len(candidate) > _MAX_LENGTH
        or len(local) > _MAX_LOCAL
        or not candidate.isprintable()
        or _EMAIL.fullmatch(candidate) is None
        # A one-letter top-level domain does not exist; "a@b.c" is a typo.
        or len(domain.rsplit(".", 1)[-1]) < 2
    ):
        return EmailResult(None, Reason.EMAIL_INVALID, email)
    return EmailResult(candidate, None, email)


# Results are frozen, so one instance may be handed to every caller.
_normalize_cached = functools.lru_cache(maxsize=EMAIL_CACHE_SIZE)(_normalize)
