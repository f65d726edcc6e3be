"""Sinks: where synced data goes. ``MemorySink`` for tests, ``SQLiteSink`` the embedded default,
``ActiveCampaignSink`` for ActiveCampaign's Deep Data API.

Every sink implements :class:`commerce_connectors.protocols.Sink` and passes
:func:`commerce_connectors.testing.sink_conformance.check_sink`. Write your own
for a CRM by implementing the protocol and running that suite against it.

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
from .memory import MemorySink
from .sqlite import SQLiteSink, sqlite_path_from_url

__all__ = ["ActiveCampaignSink", "MemorySink", "SQLiteSink", "open_sink", "sqlite_path_from_url"]


def open_sink(url: str, **options: Any) -> Sink:
    """Open a sink from a URL: ``sqlite:///path.db``, ``memory://``, ``activecampaign://<host>``.

    The ActiveCampaign key comes from ``ACTIVECAMPAIGN_API_TOKEN`` (or ``api_token=``).

    Raises:
        ConfigurationError: an unknown scheme.
    """
    if url.startswith("sqlite:"):
        return SQLiteSink.from_url(url, **options)
    if url == "memory://":
        return MemorySink(**options)
    if url.startswith(("activecampaign://", "activecampaign+http://")):
        return ActiveCampaignSink.from_url(url, **options)
    raise ConfigurationError(
        f"unknown sink URL {url!r}; use sqlite:///path.db, memory:// or activecampaign://<API host>"
    )
