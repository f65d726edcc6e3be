"""Authentication strategies: small objects that add credentials to a request's headers.

Each platform authenticates with one header; only its name and an optional scheme
differ, so one class covers them all:

=============  ===================================  ==================================
Platform       Header                               Constructor
=============  ===================================  ==================================
Shopify        ``X-Shopify-Access-Token: <t>``      ``HeaderTokenAuth.shopify(t)``
BigCommerce    ``X-Auth-Token: <t>``                ``HeaderTokenAuth.bigcommerce(t)``
Square         ``Authorization: Bearer <t>``        ``BearerAuth(t)``
Tiendanube     ``Authentication: bearer <t>``       ``HeaderTokenAuth.tiendanube(t)``
ActiveCampaign ``Api-Token: <t>``                   ``HeaderTokenAuth.activecampaign(t)``
=============  ===================================  ==================================

No ``repr`` or ``str`` of an auth object shows its token.

Example:
    >>> auth = HeaderTokenAuth.tiendanube("tok_123456")
    >>> auth.headers()
    {'Authentication': 'bearer tok_123456'}
    >>> auth
    HeaderTokenAuth(header='Authentication', scheme='bearer', token='***')
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..errors import ConfigurationError
from . import constants as c
from .redaction import MASK

__all__ = ["Auth", "BearerAuth", "HeaderTokenAuth", "NoAuth"]


@runtime_checkable
class Auth(Protocol):
    """What the engine needs from an authentication strategy."""

    def headers(self) -> dict[str, str]:
        """Headers to add to every request (called per attempt, so a token may rotate)."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """Literal secret strings the redactor must mask everywhere."""
        ...


class NoAuth:
    """No credentials (simulators, public endpoints).

    Example:
        >>> NoAuth().headers()
        {}
    """

    def headers(self) -> dict[str, str]:
        """Return no headers."""
        return {}

    @property
    def secrets(self) -> tuple[str, ...]:
        """No secrets."""
        return ()

    def __repr__(self) -> str:
        return "NoAuth()"


class HeaderTokenAuth:
    """A token sent in one header, optionally after a scheme word (``bearer <token>``).

    Args:
        header: the header's name.
        token: the secret token; never shown by ``repr``.
        scheme: a word put before the token with one space (``"Bearer"``), or ``None``.

    Raises:
        ConfigurationError: the token is empty.

    Example:
        >>> HeaderTokenAuth("X-Auth-Token", "abcd1234").headers()
        {'X-Auth-Token': 'abcd1234'}
    """

    __slots__ = ("_token", "header", "scheme")

    def __init__(self, header: str, token: str, *, scheme: str | None = None) -> None:
        if not token or not token.strip():
            raise ConfigurationError(f"an access token is required for the {header} header")
        if not header:
            raise ConfigurationError("the auth header name must not be empty")
        self.header = header
        self.scheme = scheme
        self._token = token

    @classmethod
    def shopify(cls, token: str) -> HeaderTokenAuth:
        """``X-Shopify-Access-Token: <token>`` (REST and GraphQL Admin API)."""
        return cls(c.SHOPIFY_ACCESS_TOKEN_HEADER, token)

    @classmethod
    def bigcommerce(cls, token: str) -> HeaderTokenAuth:
        """``X-Auth-Token: <token>`` (REST v2 and v3)."""
        return cls(c.BIGCOMMERCE_AUTH_HEADER, token)

    @classmethod
    def tiendanube(cls, token: str) -> HeaderTokenAuth:
        """``Authentication: bearer <token>`` (note: *Authentication*, not Authorization)."""
        return cls(c.TIENDANUBE_AUTH_HEADER, token, scheme=c.TIENDANUBE_AUTH_SCHEME)

    @classmethod
    def activecampaign(cls, token: str) -> HeaderTokenAuth:
        """``Api-Token: <key>`` (ActiveCampaign v3 API)."""
        return cls(c.ACTIVECAMPAIGN_AUTH_HEADER, token)

    def headers(self) -> dict[str, str]:
        """Return the one auth header."""
        value = f"{self.scheme} {self._token}" if self.scheme else self._token
        return {self.header: value}

    @property
    def secrets(self) -> tuple[str, ...]:
        """The token, for the redactor."""
        return (self._token,)

    def __repr__(self) -> str:
        scheme = f", scheme={self.scheme!r}" if self.scheme else ""
        return f"{type(self).__name__}(header={self.header!r}{scheme}, token={MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HeaderTokenAuth):
            return NotImplemented
        return (self.header, self.scheme, self._token) == (other.header, other.scheme, other._token)

    def __hash__(self) -> int:
        return hash((self.header, self.scheme, self._token))


class BearerAuth(HeaderTokenAuth):
    """``Authorization: Bearer <token>`` (Square, OAuth 2 APIs).

    Example:
        >>> BearerAuth("EAAA-secret").headers()
        {'Authorization': 'Bearer EAAA-secret'}
        >>> BearerAuth("EAAA-secret")
        BearerAuth(header='Authorization', scheme='Bearer', token='***')
    """

    __slots__ = ()

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token, scheme="Bearer")
