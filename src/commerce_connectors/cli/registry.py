"""Pluggable registries: platforms the CLI can ``sync``, and shops the ``demo`` simulates.

A platform connector module adds itself with one line each:

.. code-block:: python

    register_platform(PlatformSpec("acme", "Acme Commerce API", "ACME_ACCESS_TOKEN",
                                   options=(PlatformOption("--store", "store", required=True),),
                                   factory=lambda opts, token: AcmeConnector(...)))
    register_demo(DemoSource("acme", "Acme store (simulated)", build=acme_demo_store))

The built-in platforms (ToyShop, Shopify, BigCommerce, Square, Tiendanube) are
registered by :mod:`commerce_connectors.cli.platforms`, which the
:mod:`commerce_connectors.cli` package imports first, so whoever reads these
registries (through ``commerce_connectors.cli.registry``) sees them.

Example:
    >>> sorted(available_platforms())
    ['bigcommerce', 'shopify', 'square', 'tiendanube', 'toyshop']
    >>> platform_spec("nowhere")
    Traceback (most recent call last):
    ...
    commerce_connectors.errors.ConfigurationError: unknown platform 'nowhere'; available: ...
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..clock import Clock
from ..errors import ConfigurationError
from ..protocols import Connector

__all__ = [
    "DEMO_SOURCES",
    "PLATFORMS",
    "DemoSource",
    "DemoStore",
    "PlatformOption",
    "PlatformSpec",
    "available_platforms",
    "platform_spec",
    "register_demo",
    "register_platform",
    "scaled",
]


@attrs.frozen
class PlatformOption:
    """One connection option of a platform on the command line (never a secret).

    Attributes:
        flag: the option, e.g. ``--shop``.
        dest: the key it is passed to the factory under.
        help: the help text.
        required: the option must be given.
        default: the value when it is not.
        type: converts the text (``int`` …).
        choices: the values allowed, when the option is one of a few words.
    """

    flag: str
    dest: str
    help: str = ""
    required: bool = False
    default: Any = None
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None


@attrs.frozen
class PlatformSpec:
    """How the CLI builds a connector for one platform.

    Attributes:
        name: the command-line name (``sync NAME``).
        description: one line for ``--help``.
        token_env: the environment variable the token is read from.
        options: the connection options (store, location, base URL …).
        factory: ``(options, token) -> Connector``; ``options`` holds each option's value
            under its ``dest`` and the run's state store URL under ``"state_url"`` (for
            connectors that keep files beside it, such as Shopify's bulk journal).
        locators: the options that say where the store is (``--shop``, ``--base-url``),
            named in the hint when the platform answers 404 (see :meth:`where_to_look`).
    """

    name: str
    description: str
    token_env: str
    options: tuple[PlatformOption, ...] = ()
    factory: Callable[[Mapping[str, Any], str], Connector] = attrs.field(kw_only=True)
    locators: tuple[str, ...] = attrs.field(default=(), kw_only=True)

    def where_to_look(self) -> tuple[str, ...]:
        """The options to check when the platform answers 404 Not Found.

        :attr:`locators` when given, else the required options and ``--base-url``.

        Example:
            >>> spec = PlatformSpec("acme", "Acme", "ACME_TOKEN", factory=lambda o, t: None,
            ...     options=(PlatformOption("--store", "store", required=True),
            ...              PlatformOption("--base-url", "base_url")))
            >>> spec.where_to_look()
            ('--store', '--base-url')
        """
        if self.locators:
            return self.locators
        return tuple(o.flag for o in self.options if o.required or o.dest == "base_url")


#: Platforms ``commerce-connectors sync`` knows, by name.
PLATFORMS: dict[str, PlatformSpec] = {}


def register_platform(spec: PlatformSpec) -> None:
    """Make a platform available to ``commerce-connectors sync`` (replaces one of that name)."""
    PLATFORMS[spec.name] = spec


def available_platforms() -> list[str]:
    """The registered platform names, sorted."""
    return sorted(PLATFORMS)


def platform_spec(name: str) -> PlatformSpec:
    """The spec of a registered platform.

    Raises:
        ConfigurationError: unknown name; the message lists the available ones.
    """
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown platform {name!r}; available: {', '.join(available_platforms())}"
        ) from None


@attrs.define
class DemoStore:
    """A simulated shop ready to sync: its connector, and how to make it busy.

    Attributes:
        connector: a connector wired to the in-process simulator.
        activity: makes shop activity happen (new orders, edits) between the
            demo's historical and incremental syncs.
        close: releases the simulator and connector.
        clock: the clock the simulated API runs on when its time is simulated (a
            fake clock, so that rate limits cost no real time); the demo runs this
            store's syncs on it and reports the simulated time. ``None``: the
            store runs on the demo's clock, in real time.
    """

    connector: Connector
    activity: Callable[[], None]
    close: Callable[[], None]
    clock: Clock | None = None


@attrs.frozen
class DemoSource:
    """One platform in ``commerce-connectors demo``.

    Attributes:
        name: short name, shown in the summary table.
        label: what it is, for people.
        build: ``(seed, clock, now, scale) -> DemoStore`` with a seeded realistic
            store; ``scale`` multiplies its size (1.0: the demo's full store; the
            CRM step uses a smaller one of the same kind).
    """

    name: str
    label: str
    build: Callable[[int, Clock, _dt.datetime, float], DemoStore]


def scaled(count: int, scale: float) -> int:
    """A demo store's size times ``scale``, at least 1.

    Example:
        >>> scaled(400, 0.1), scaled(3, 0.01)
        (40, 1)
    """
    return max(1, round(count * scale))


#: The shops the demo syncs, in order. Each platform connector adds one line.
DEMO_SOURCES: list[DemoSource] = []


def register_demo(source: DemoSource) -> None:
    """Add a simulated shop to ``commerce-connectors demo`` (replaces one of that name)."""
    DEMO_SOURCES[:] = [s for s in DEMO_SOURCES if s.name != source.name] + [source]
