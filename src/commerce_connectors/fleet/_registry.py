"""Where the fleet finds each platform's connector factory: the command line's registry.

The fleet builds connectors exactly as ``commerce-connectors sync`` does, from the
registry's :class:`PlatformSpec` (connection options, token variable, factory). This
module is the one place that knows where that registry lives.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..protocols import Connector

__all__ = ["PlatformEntry", "platform_entry", "platform_names"]

#: Where the registry may live, newest location first.
_REGISTRY_MODULES = ("commerce_connectors.cli.registry", "commerce_connectors.sync.registry")


class OptionEntry(Protocol):
    """The parts of a registry option the fleet reads."""

    @property
    def dest(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def default(self) -> Any: ...
    @property
    def type(self) -> Callable[[str], Any]: ...
    @property
    def choices(self) -> tuple[str, ...] | None: ...


class PlatformEntry(Protocol):
    """The parts of a registry platform the fleet reads."""

    @property
    def name(self) -> str: ...
    @property
    def token_env(self) -> str: ...
    @property
    def options(self) -> tuple[OptionEntry, ...]: ...
    @property
    def factory(self) -> Callable[[Mapping[str, Any], str], Connector]: ...


def _registry() -> Any:
    for name in _REGISTRY_MODULES:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only "that module does not exist here"; a missing dependency inside it is real.
            if exc.name is None or not name.startswith(exc.name):
                raise
    raise ModuleNotFoundError(f"no platform registry in {', '.join(_REGISTRY_MODULES)}")


def platform_entry(name: str) -> PlatformEntry:
    """The registered platform ``name``.

    Raises:
        ConfigurationError: an unknown name (the message lists the known ones).
    """
    entry: PlatformEntry = _registry().platform_spec(name)
    return entry


def platform_names() -> list[str]:
    """The registered platform names, sorted."""
    names: list[str] = _registry().available_platforms()
    return names
