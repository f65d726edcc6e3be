"""State stores: checkpoints, dead letters, parked contacts and the run log.

:class:`SQLiteStateStore` is the default (it can share the SQLite sink's file);
:class:`MemoryStateStore` is for tests. Both implement
:class:`commerce_connectors.protocols.StateStore`.

Example:
    >>> from commerce_connectors.state import open_state_store
    >>> open_state_store("memory://").runs()
    []
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..protocols import StateStore
from .memory import MemoryStateStore
from .sqlite import SQLiteStateStore

__all__ = ["MemoryStateStore", "SQLiteStateStore", "open_state_store"]


def open_state_store(url: str) -> StateStore:
    """Open a state store from a URL: ``sqlite:///path.db`` or ``memory://``.

    Raises:
        ConfigurationError: an unknown scheme.
    """
    if url.startswith("sqlite:"):
        return SQLiteStateStore.from_url(url)
    if url == "memory://":
        return MemoryStateStore()
    raise ConfigurationError(f"unknown state URL {url!r}; use sqlite:///path.db or memory://")
