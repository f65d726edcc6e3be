"""The sync engine: historical, incremental and scheduled syncs with checkpoints and reports.

Example:
    >>> from commerce_connectors.sync import SyncEngine, Scheduler, SyncReport, SyncStatus
    >>> SyncStatus.OK.value
    'ok'

See ``docs/sync.md`` for modes, checkpoints, crash safety and the report.
"""

from __future__ import annotations

from .engine import DEFAULT_OVERLAP, ProgressCallback, SyncEngine, http_stats_of
from .report import StreamReport, SyncProgress, SyncReport, SyncStatus
from .scheduler import DEFAULT_INTERVAL, Scheduler

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_OVERLAP",
    "ProgressCallback",
    "Scheduler",
    "StreamReport",
    "SyncEngine",
    "SyncProgress",
    "SyncReport",
    "SyncStatus",
    "http_stats_of",
]
