"""Sinks: where synced data goes. ``MemorySink`` for tests, ``SQLiteSink`` the embedded default,
``ActiveCampaignSink`` for ActiveCampaign's Deep Data API, and
``commerce_connectors.sinks.postgres.PostgresSink`` (the ``postgres`` extra) for a
database many workers share.

Every sink implements :class:`commerce_connectors.protocols.Sink` and passes
:func:`commerce_connectors.testing.sink_conformance.check_sink`. For a CRM of your
own, :class:`~.custom.CallbackSink` takes two functions (write a contact, write a
record) and decides staleness, merges and the contact cap with a local ledger; or
implement the protocol yourself and run that suite against it.

Example:
    >>> from commerce_connectors.sinks import MemorySink, open_sink
    >>> open_sink("memory://").capabilities.batch_size
    500
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from ..protocols import Sink
from .activecampaign import ActiveCampaignSink
from .custom import CallbackSink, Change, RecordRefusedError
from .memory import MemorySink
from .sqlite import SQLiteSink, sqlite_path_from_url

__all__ = [
    "ActiveCampaignSink",
    "CallbackSink",
    "Change",
    "MemorySink",
    "RecordRefusedError",
    "SQLiteSink",
    "open_sink",
    "sqlite_path_from_url",
]


def open_sink(url: str, **options: Any) -> Sink:
    """Open a sink from a URL: ``sqlite:///path.db``, ``memory://``, ``activecampaign://<host>``,
    ``postgresql://user@host/db?schema=cc`` (or ``postgres://``).

    The ActiveCampaign key comes from ``ACTIVECAMPAIGN_API_TOKEN`` (or ``api_token=``).
    The PostgreSQL password comes from the URL or from libpq (``PGPASSWORD``,
    ``~/.pgpass``); that sink needs the ``postgres`` extra (psycopg 3).

    Raises:
        ConfigurationError: an unknown scheme.
    """
    if url.startswith("sqlite:"):
        return SQLiteSink.from_url(url, **options)
    if url == "memory://":
        return MemorySink(**options)
    if url.startswith(("activecampaign://", "activecampaign+http://")):
        return ActiveCampaignSink.from_url(url, **options)
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is an optional extra the core never needs.
        from .postgres import PostgresSink

        return PostgresSink.from_url(url, **options)
    raise ConfigurationError(
        f"unknown sink URL {url.split(':', 1)[0]!r}://…; use sqlite:///path.db, memory://,"
        " activecampaign://<API host> or postgresql://<host>/<db>"
    )
