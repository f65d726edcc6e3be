"""What one connection of a fleet is: :class:`ConnectionSpec` and its :class:`TokenRef`."""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..errors import ConfigurationError
from ._registry import platform_entry
from .simulated import SimulatedStore

__all__ = ["MODES", "ConnectionSpec", "TokenRef"]

#: The sync modes a fleet run accepts (those of :meth:`SyncEngine.run`).
MODES = ("auto", "historical", "incremental")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The platforms' token prefixes (Shopify admin/custom/partner apps, Square), in any case.
_TOKEN_PREFIXES = ("SHPAT_", "SHPCA_", "SHPPA_", "SHPSS_", "EAAA", "SQ0ATP", "SQ0CSP")
# A run of letters and digits this long, with both in it, is a key, not a word of a name.
_KEY_LIKE = re.compile(r"(?=[A-Z0-9]*[0-9])(?=[A-Z0-9]*[A-Z])[A-Z0-9]{20,}")


def _env_problem(name: str) -> str | None:
    """Why ``name`` is not an environment variable name for a token (``None``: it is).

    The reason never quotes ``name``: it may be the token itself, put there by mistake.
    """
    if not _ENV_NAME.fullmatch(name):
        return "it has characters other than letters, digits and _"
    if name.upper().startswith(_TOKEN_PREFIXES):
        return "it starts as a platform's access tokens do"
    if name != name.upper():
        return "it has lower-case letters (token variables are named in upper case)"
    if any(_KEY_LIKE.fullmatch(part) for part in name.split("_")):
        return "it holds a long run of letters and digits, as keys do"
    if len(name) > 100:
        return "it is longer than 100 characters"
    return None


# Option names that would put a credential into the task graph; tokens go by reference.
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "credential")


@attrs.frozen(repr=False)
class TokenRef:
    """Where a connection's access token is read, on the worker that syncs it.

    Exactly one of:

    Attributes:
        env: the name of an environment variable holding the token (set on every worker),
            in upper case. A value that looks like a token (a platform's token prefix,
            lower-case letters, a long run of letters and digits) is refused, and the
            message never repeats it.
        provider: a picklable callable with no arguments returning the token (a module-level
            function, or ``functools.partial`` of one, that asks your secret manager).

    Only the reference travels to the workers; the token is read when the connection
    is synced, used, and dropped. The repr never shows a value.

    Example:
        >>> TokenRef(env="SHOPIFY_TOKEN_ACME")
        TokenRef(env='SHOPIFY_TOKEN_ACME')
        >>> TokenRef(env="NOT_SET_ANYWHERE").resolve()
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: no token: the environment variable ...
    """

    env: str | None = None
    provider: Callable[[], str] | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if (self.env is None) == (self.provider is None):
            raise ConfigurationError("a token reference needs exactly one of env= or provider=")
        problem = None if self.env is None else _env_problem(self.env)
        if problem is not None:
            # Never the value in the message: it may be the token itself.
            raise ConfigurationError(
                f"token env must name an environment variable (upper-case letters, digits, _), "
                f"not a token: {problem}. Tokens are never written in a fleet's configuration"
            )
        if self.provider is not None and not callable(self.provider):
            raise ConfigurationError("token provider must be callable")

    def resolve(self) -> str:
        """Read the token now (on the worker).

        Raises:
            ConfigurationError: the variable is unset or empty, or the provider gave no text.
        """
        if self.provider is not None:
            token = self.provider()
            if not isinstance(token, str) or not token.strip():
                raise ConfigurationError(
                    f"no token: the provider {_callable_name(self.provider)} returned none"
                )
            return token.strip()
        assert self.env is not None
        token = os.environ.get(self.env, "").strip()
        if not token:
            raise ConfigurationError(
                f"no token: the environment variable {self.env} is not set on this worker"
            )
        return token

    def __repr__(self) -> str:
        if self.env is not None:
            return f"TokenRef(env={self.env!r})"
        assert self.provider is not None
        return f"TokenRef(provider={_callable_name(self.provider)})"


def _callable_name(fn: Callable[..., Any]) -> str:
    target = getattr(fn, "func", fn)  # functools.partial: name the function, not its arguments
    return str(getattr(target, "__qualname__", type(target).__name__))


def _token_ref(value: TokenRef | str | None) -> TokenRef | None:
    if value is None or isinstance(value, TokenRef):
        return value
    if isinstance(value, str):
        return TokenRef(env=value)
    raise ConfigurationError("token must be a TokenRef or an environment variable name")


def _options(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen(eq=False)
class ConnectionSpec:
    """One connection (one store; for Square one location) of a fleet.

    Everything here is picklable and holds no secret: specs travel to worker
    processes and remote machines inside task graphs.

    Attributes:
        platform: a registered platform (``shopify``, ``bigcommerce``, ``square``,
            ``tiendanube`` …), as in ``commerce-connectors sync PLATFORM``.
        options: the platform's connection options by name, as the command line's
            (``shop``, ``store_hash``, ``location_id``, ``store_id``, ``user_agent``,
            ``base_url`` …); missing ones take the command line's defaults.
        token: where the token is read on the worker: a :class:`TokenRef`, or an
            environment variable name. Default: the platform's usual variable
            (``SHOPIFY_ACCESS_TOKEN`` …), which suits one store per platform.
        name: the connection's name in reports (default ``platform:<store>``, from the
            platform's first required option); names are unique in a fleet.
        sink: this connection's sink URL instead of the fleet's.
        overlap: the incremental re-read window (default the engine's five minutes).
        simulated: sync a store simulated inside the worker instead of a real one
            (trials and benchmarks; see :class:`SimulatedStore`); ``options`` and
            ``token`` are then unused.

    Raises:
        ConfigurationError: an unknown platform or option, a missing required option,
            a value outside its choices, or an option that looks like a credential.

    Example:
        >>> spec = ConnectionSpec("shopify", {"shop": "acme.myshopify.com"},
        ...                       token="SHOPIFY_TOKEN_ACME")
        >>> spec
        ConnectionSpec(name='shopify:acme.myshopify.com', platform='shopify', token=TokenRef(env='SHOPIFY_TOKEN_ACME'))
        >>> ConnectionSpec("shopify", {"shop": "acme.myshopify.com", "access_token": "x"})
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: shopify:acme.myshopify.com: option 'access_token' ...
    """  # noqa: E501 - a doctest's output line

    platform: str
    options: dict[str, Any] = attrs.field(factory=dict, converter=_options)
    token: TokenRef | None = attrs.field(default=None, converter=_token_ref)
    name: str = ""
    sink: str | None = None
    overlap: _dt.timedelta | None = None
    simulated: SimulatedStore | None = None

    def __attrs_post_init__(self) -> None:
        if self.simulated is not None:
            if self.simulated.platform != self.platform:
                raise ConfigurationError(
                    f"a simulated {self.simulated.platform} store is not a {self.platform} one"
                )
            if not self.name:
                object.__setattr__(self, "name", self.simulated.label)
            return
        entry = platform_entry(self.platform)
        known = {o.dest: o for o in entry.options}
        if not self.name:
            # The first required option names the store (shop, store hash, location, id).
            first = next((self.options.get(d) for d, o in known.items() if o.required), None)
            object.__setattr__(self, "name", f"{self.platform}:{first}" if first else self.platform)
        for key, value in self.options.items():
            if any(word in key.lower() for word in _SECRET_WORDS) and key not in known:
                raise ConfigurationError(
                    f"{self.name}: option {key!r} looks like a credential; tokens are given "
                    "by reference (token=TokenRef(env=...)), never in options"
                )
            if key not in known:
                raise ConfigurationError(
                    f"{self.name}: unknown {self.platform} option {key!r}; "
                    f"known: {', '.join(sorted(known))}"
                )
            if known[key].type is str and value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"{self.name}: option {key!r} must be a string, got {type(value).__name__}"
                )
            choices = known[key].choices
            if choices is not None and value not in choices:
                raise ConfigurationError(
                    f"{self.name}: option {key!r} must be one of {', '.join(choices)}, "
                    f"got {value!r}"
                )
        missing = [d for d, o in known.items() if o.required and self.options.get(d) is None]
        if missing:
            raise ConfigurationError(
                f"{self.name}: {self.platform} needs option(s) {', '.join(missing)}"
            )
        if self.token is None:
            object.__setattr__(self, "token", TokenRef(env=entry.token_env))
        if self.overlap is not None and self.overlap < _dt.timedelta(0):
            raise ConfigurationError(f"{self.name}: overlap must not be negative")

    @classmethod
    def simulate(cls, store: SimulatedStore, *, name: str = "") -> ConnectionSpec:
        """A connection to a store simulated inside the worker (see :class:`SimulatedStore`)."""
        return cls(store.platform, name=name, simulated=store)

    def factory_options(self, state_url: str) -> dict[str, Any]:
        """The options passed to the platform's factory: given values, else the defaults.

        ``state_url`` is added as the command line does (Shopify keeps its bulk
        journal beside a SQLite state file).
        """
        entry = platform_entry(self.platform)
        out: dict[str, Any] = {}
        for option in entry.options:
            value = self.options.get(option.dest, option.default)
            if isinstance(value, str) and option.type is not str:
                value = option.type(value)
            out[option.dest] = value
        out["state_url"] = state_url
        return out

    def __repr__(self) -> str:
        extra = f", simulated={self.simulated!r}" if self.simulated is not None else ""
        token = f", token={self.token!r}" if self.token is not None else ""
        return f"ConnectionSpec(name={self.name!r}, platform={self.platform!r}{token}{extra})"
