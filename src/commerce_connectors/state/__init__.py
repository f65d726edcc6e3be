"""State stores: checkpoints, dead letters, parked contacts, the run log, and leases.

:class:`SQLiteStateStore` is the default (it can share the SQLite sink's file);
:class:`MemoryStateStore` is for tests;
``commerce_connectors.state.postgres.PostgresStateStore`` (the ``postgres``
extra) is for many workers sharing one database. All implement
:class:`commerce_connectors.protocols.StateStore` and
:class:`commerce_connectors.protocols.LeaseStore`.

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


def open_state_store(url: str, *, read_only: bool = False) -> StateStore:
    """Open a state store from a URL: ``sqlite:///path.db``, ``memory://`` or
    ``postgresql://user@host/db?schema=cc`` (or ``postgres://``).

    The PostgreSQL password comes from the URL or from libpq (``PGPASSWORD``,
    ``~/.pgpass``); that store needs the ``postgres`` extra (psycopg 3).
    ``read_only=True`` opens an existing SQLite file without changing it (see
    :class:`SQLiteStateStore`); other stores are opened as usual.

    Raises:
        ConfigurationError: an unknown scheme, or a database that cannot be reached
            (or, read-only, that holds no state).
    """
    if url.startswith("sqlite:"):
        return SQLiteStateStore.from_url(url, read_only=read_only)
    if url == "memory://":
        return MemoryStateStore()
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is an optional extra the core never needs.
        from .postgres import PostgresStateStore

        return PostgresStateStore.from_url(url)
    raise ConfigurationError(
        f"unknown state URL {url.split(':', 1)[0]!r}://…; use sqlite:///path.db, memory://"
        " or postgresql://<host>/<db>"
    )
