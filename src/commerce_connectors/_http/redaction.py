"""Secret redaction for URLs, headers, body excerpts, log messages and reprs.

A :class:`Redactor` knows three kinds of secret:

* the literal secret strings of one engine (its tokens), replaced wherever they appear;
* sensitive header names (``Authorization``, ``X-Shopify-Access-Token`` …), whose values are
  masked whole;
* sensitive parameter / JSON key names (``access_token``, ``client_secret``, ``code`` …), whose
  values are masked in query strings, form bodies and JSON text.

Logging: :func:`install_log_redaction` puts a :class:`RedactingFilter` on the
``commerce_connectors.http`` logger. The filter asks every live redactor (each engine
registers its own) to clean the formatted message, so even a DEBUG line written by
someone else's code on that logger never shows a token.

Example:
    >>> r = Redactor(secrets=["shpat_123secret"])
    >>> r.text("token is shpat_123secret")
    'token is ***'
    >>> r.url("https://x.test/a?access_token=abc&page=2")
    'https://x.test/a?access_token=***&page=2'
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .constants import LOGGER_NAME

__all__ = [
    "DEFAULT_SENSITIVE_HEADERS",
    "DEFAULT_SENSITIVE_KEYS",
    "DEFAULT_SENSITIVE_PARAMS",
    "MASK",
    "RedactingFilter",
    "Redactor",
    "get_logger",
    "install_log_redaction",
]

#: What a secret is replaced with.
MASK: Final = "***"

#: Header names whose values are always masked (compared case-insensitively).
DEFAULT_SENSITIVE_HEADERS: Final = frozenset(
    {
        "authorization",
        "authentication",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-shopify-access-token",
        "x-auth-token",
        "x-auth-client",
        "api-token",
        "x-api-key",
        "api-key",
    }
)

#: Query-parameter names whose values are always masked in URLs (case-insensitive).
#: ``code`` is the OAuth authorization code of a callback URL.
DEFAULT_SENSITIVE_PARAMS: Final = frozenset(
    {
        "access_token",
        "refresh_token",
        "token",
        "api_key",
        "apikey",
        "api_token",
        "password",
        "client_secret",
        "secret",
        "code",
        "signature",
        "sig",
    }
)

#: Key names masked in free text (JSON ``"key": "value"`` and ``key=value``). Not ``code``:
#: error bodies say ``"code": "NOT_FOUND"`` and that is exactly what a report needs.
DEFAULT_SENSITIVE_KEYS: Final = DEFAULT_SENSITIVE_PARAMS - {"code"}

# Secrets shorter than this are not replaced as free text: masking "a" or "12" everywhere
# would shred every message while protecting nothing real.
_MIN_SECRET_LENGTH = 4


class Redactor:
    """Masks secrets in text, URLs and headers.

    Thread-safe: secrets may be added while other threads redact.

    Args:
        secrets: literal secret strings (tokens) to mask wherever they appear.
        sensitive_headers: header names whose values are masked whole.
        sensitive_params: query parameter names whose values are masked in URLs.
        sensitive_keys: key names whose values are masked in free text (JSON and ``k=v``).

    Example:
        >>> r = Redactor(secrets=["tok_abcdef"])
        >>> r.headers({"X-Auth-Token": "tok_abcdef", "Accept": "application/json"})
        {'X-Auth-Token': '***', 'Accept': 'application/json'}
        >>> r.text('{"client_secret": "s3cr3t", "id": 1}')
        '{"client_secret": "***", "id": 1}'
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        sensitive_headers: Iterable[str] = DEFAULT_SENSITIVE_HEADERS,
        sensitive_params: Iterable[str] = DEFAULT_SENSITIVE_PARAMS,
        sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
    ) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.sensitive_headers = frozenset(h.lower() for h in sensitive_headers)
        self.sensitive_params = frozenset(p.lower() for p in sensitive_params)
        self.sensitive_keys = frozenset(k.lower() for k in sensitive_keys)
        keys = "|".join(re.escape(k) for k in sorted(self.sensitive_keys, key=len, reverse=True))
        # "key": "value"  (JSON text) and key=value (query strings, form bodies, log lines).
        # With no keys, patterns that can never match ("(?!)") keep text() branch-free.
        keys = keys or "(?!)"
        self._json_re = re.compile(rf'("(?:{keys})"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
        self._kv_re = re.compile(rf"(?<![\w-])((?:{keys})=)[^&\s\"',;]+", re.IGNORECASE)
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Remember one more literal secret (ignored when empty or very short)."""
        if not secret or len(secret) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret not in self._secrets:
                # Longest first, so a secret containing another is masked whole.
                self._secrets = tuple(sorted((*self._secrets, secret), key=len, reverse=True))

    @property
    def has_secrets(self) -> bool:
        """Whether any literal secret is known."""
        return bool(self._secrets)

    def text(self, value: str) -> str:
        """Return ``value`` with every secret, sensitive ``key=value`` and JSON key masked."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        value = self._json_re.sub(rf'\1"{MASK}"', value)
        return self._kv_re.sub(rf"\1{MASK}", value)

    def url(self, url: str) -> str:
        """Return ``url`` with sensitive query parameters, userinfo and secrets masked."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in self.sensitive_params for k, _ in pairs):
                query = urlencode(
                    [(k, MASK if k.lower() in self.sensitive_params else v) for k, v in pairs],
                    safe="*",
                )
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return self.text(rebuilt)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return a copy of ``headers`` with sensitive values masked."""
        return {
            k: MASK if k.lower() in self.sensitive_headers else self.text(v)
            for k, v in headers.items()
        }

    def __repr__(self) -> str:
        # Never the secrets themselves: only how many there are.
        return f"Redactor(secrets=<{len(self._secrets)} hidden>)"


# --- logging ---------------------------------------------------------------------------------

_registry: weakref.WeakSet[Redactor] = weakref.WeakSet()
_registry_lock = threading.Lock()


def register_redactor(redactor: Redactor) -> None:
    """Make the log filter mask ``redactor``'s secrets (the engine does this for you)."""
    with _registry_lock:
        _registry.add(redactor)


def unregister_redactor(redactor: Redactor) -> None:
    """Forget ``redactor`` (an engine does this when closed)."""
    with _registry_lock:
        _registry.discard(redactor)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record it sees.

    The message is formatted (``msg % args``), cleaned by ``redactor`` (or, when none is
    given, by every redactor registered by a live engine, plus the default sensitive
    names) and stored back with no args, so handlers further down print the clean text.

    Args:
        redactor: one redactor to use; ``None`` to use every registered one.

    Example:
        >>> import logging
        >>> log = logging.getLogger("demo.redaction")
        >>> log.addFilter(RedactingFilter(Redactor(secrets=["tok_secret1"])))
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor
        self._fallback = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record``'s message with secrets masked; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, still redacted
            message = f"{record.msg!s} (args: {record.args!r})"
        if self._redactor is not None:
            redactors: list[Redactor] = [self._redactor]
        else:
            with _registry_lock:
                redactors = list(_registry)
            redactors.append(self._fallback)
        for r in redactors:
            message = r.text(message)
        record.msg = message
        record.args = None
        return True


_install_lock = threading.Lock()


def install_log_redaction() -> logging.Logger:
    """Attach one global :class:`RedactingFilter` to the engine's logger (idempotent).

    Returns:
        The ``commerce_connectors.http`` logger.
    """
    logger = logging.getLogger(LOGGER_NAME)
    with _install_lock:
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    return logger


def get_logger() -> logging.Logger:
    """Return the engine's logger, with log redaction installed."""
    return install_log_redaction()
