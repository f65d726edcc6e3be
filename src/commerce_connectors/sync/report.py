"""What a sync run did: :class:`SyncReport` per run, :class:`StreamReport` per stream."""

from __future__ import annotations

import datetime as _dt
import enum
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from ..protocols import Stream

__all__ = ["StreamReport", "SyncProgress", "SyncReport", "SyncStatus"]


class SyncStatus(str, enum.Enum):
    """How a run ended; each maps to one CLI exit code (see ``docs/cli.md``)."""

    #: Every stream was read and acknowledged; checkpoints advanced.
    OK = "ok"
    #: The platform refused the credentials: re-authenticate, then run again.
    AUTH_ERROR = "auth_error"
    #: The platform stayed unavailable or rate-limited past the retry budget.
    RETRY_LATER = "retry_later"
    #: The sink failed a write; nothing of that batch was written.
    SINK_ERROR = "sink_error"
    #: Stopped on request (a signal, ``engine.stop()``) after the current batch.
    INTERRUPTED = "interrupted"
    #: An unexpected error (a bug): the traceback was raised to the caller.
    FAILED = "failed"
    #: The connection is paused, disabled (app uninstalled) or deleted: nothing was read.
    SKIPPED = "skipped"


@attrs.define
class StreamReport:
    """Counts for one stream of one run.

    Attributes:
        stream: the stream.
        mode: ``historical`` (read from the beginning) or ``incremental``.
        since: the ``since`` the stream was read with (``None``: from the beginning).
        read: records the connector yielded.
        new, updated, unchanged, stale: the sink's verdict on this stream's records.
        skipped: records not written, by reason (guests excluded, no identity…).
        contact_notes: records written without a contact, by reason.
        contacts_new, contacts_updated, contacts_unchanged: contacts derived from the stream.
        duplicates_merged: contacts folded into one already held for another record.
        refused_by_cap: new contacts refused by the sink's contact cap (parked, not lost).
        dead_lettered: records the connector or a field map could not handle.
        triggers_fired: orders and carts written with "fires automations".
        requests: HTTP requests made for this stream.
        rate_limit_wait: seconds spent waiting on the platform's rate limit.
        retry_wait: seconds spent backing off before retries.
        completed: the stream was read to the end and its checkpoint saved.
        checkpoint: the checkpoint saved (``None`` if not advanced).
    """

    stream: Stream
    mode: str = "historical"
    since: _dt.datetime | None = None
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    skipped: Counter[str] = attrs.field(factory=Counter)
    contact_notes: Counter[str] = attrs.field(factory=Counter)
    contacts_new: int = 0
    contacts_updated: int = 0
    contacts_unchanged: int = 0
    duplicates_merged: int = 0
    refused_by_cap: int = 0
    dead_lettered: int = 0
    triggers_fired: int = 0
    requests: int = 0
    rate_limit_wait: float = 0.0
    retry_wait: float = 0.0
    completed: bool = False
    checkpoint: _dt.datetime | None = None

    @property
    def written(self) -> int:
        """Records inserted or updated."""
        return self.new + self.updated

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for the run log and ``--json``)."""
        data = attrs.asdict(self, recurse=False)
        data["stream"] = self.stream.value
        data["since"] = None if self.since is None else self.since.isoformat()
        data["checkpoint"] = None if self.checkpoint is None else self.checkpoint.isoformat()
        data["skipped"] = dict(sorted(self.skipped.items()))
        data["contact_notes"] = dict(sorted(self.contact_notes.items()))
        return data


_SUMMED = (
    "read",
    "new",
    "updated",
    "unchanged",
    "stale",
    "contacts_new",
    "contacts_updated",
    "contacts_unchanged",
    "duplicates_merged",
    "refused_by_cap",
    "dead_lettered",
    "triggers_fired",
    "requests",
)


@attrs.define
class SyncReport:
    """Everything one run did, per stream, and how it ended.

    Attributes:
        connection_id: the connection synced.
        mode: ``historical``, ``incremental`` or ``replay``.
        started_at, ended_at: the run's start and end (engine clock).
        status: how it ended.
        error: a clear message when it stopped on an error.
        streams: per-stream counts, in the order streams were read.
        run_id: the run-log id in the state store.
        parked_retried: contacts refused by a cap earlier, tried again this run.
        parked_synced: of those, contacts the sink accepted this time.
        dead_letters_resolved: dead letters whose record was synced this run.
        requests, rate_limit_wait, retry_wait: HTTP figures for the whole run.

    Example:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        >>> report = SyncReport("toyshop:demo", "historical", t)
        >>> report.stream(Stream.ORDERS).new += 3
        >>> report.totals()["new"], report.ok
        (3, True)
    """

    connection_id: str
    mode: str
    started_at: _dt.datetime
    ended_at: _dt.datetime | None = None
    status: SyncStatus = SyncStatus.OK
    error: str | None = None
    streams: dict[Stream, StreamReport] = attrs.field(factory=dict)
    run_id: int | None = None
    parked_retried: int = 0
    parked_synced: int = 0
    dead_letters_resolved: int = 0
    requests: int = 0
    rate_limit_wait: float = 0.0
    retry_wait: float = 0.0
    #: What the sink reported that is no single record's fate (a missing list …).
    notices: list[str] = attrs.field(factory=list)
    #: Requests the sink made, when it reports them (a CRM's API).
    sink_requests: int = 0
    #: Real-time runs: records not written yet and when to look again, by
    #: ``(kind, external id)`` (a cart whose abandonment delay has not passed).
    deferred: dict[tuple[str, str], _dt.datetime] = attrs.field(factory=dict)
    #: What the connector found missing that hides data without stopping the run (an
    #: app scope not granted …), from its ``warnings``: the run needs attention.
    warnings: list[str] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """True when the run completed."""
        return self.status is SyncStatus.OK

    @property
    def needs_attention(self) -> bool:
        """Records were dead-lettered, contacts refused by the cap, or data is hidden.

        Contacts parked by an earlier run that the sink refused again count too:
        they are still waiting for room. So do :attr:`warnings` (a missing scope
        that hides records: the run was complete only in what it could see).
        """
        totals = self.totals()
        waiting = self.parked_retried - self.parked_synced
        return bool(totals["dead_lettered"] or totals["refused_by_cap"] or waiting or self.warnings)

    @property
    def duration(self) -> float:
        """Seconds between start and end (0 while running)."""
        if self.ended_at is None:
            return 0.0
        return (self.ended_at - self.started_at).total_seconds()

    def stream(self, stream: Stream) -> StreamReport:
        """The report of one stream (created on first use)."""
        if stream not in self.streams:
            self.streams[stream] = StreamReport(stream)
        return self.streams[stream]

    def totals(self) -> dict[str, int]:
        """Counts summed over streams (``skipped`` as one number)."""
        out = {name: sum(getattr(s, name) for s in self.streams.values()) for name in _SUMMED}
        out["skipped"] = sum(sum(s.skipped.values()) for s in self.streams.values())
        out["written"] = out["new"] + out["updated"]
        return out

    def skipped(self) -> Counter[str]:
        """Records not written, by reason, over every stream."""
        total: Counter[str] = Counter()
        for s in self.streams.values():
            total.update(s.skipped)
        return total

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the run log and ``--json`` output."""
        return {
            "connection_id": self.connection_id,
            "mode": self.mode,
            "status": self.status.value,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "run_id": self.run_id,
            "totals": self.totals(),
            "skipped": dict(sorted(self.skipped().items())),
            "parked_retried": self.parked_retried,
            "parked_synced": self.parked_synced,
            "dead_letters_resolved": self.dead_letters_resolved,
            "requests": self.requests,
            "rate_limit_wait": round(self.rate_limit_wait, 3),
            "retry_wait": round(self.retry_wait, 3),
            "sink_requests": self.sink_requests,
            "notices": list(self.notices),
            "warnings": list(self.warnings),
            "streams": {s.value: r.to_dict() for s, r in self.streams.items()},
        }

    def summary(self) -> str:
        """A few human lines: status, per-stream counts, skips by reason."""
        lines = [
            f"{self.connection_id}: {self.mode} sync {self.status.value}"
            f" in {self.duration:.1f}s ({self.requests} requests,"
            f" {self.rate_limit_wait:.1f}s waiting on rate limits)"
        ]
        for s in self.streams.values():
            lines.append(
                f"  {s.stream.value:<16} read {s.read:>6}  written {s.written:>6}"
                f" (new {s.new:>6}, updated {s.updated:>5})  unchanged {s.unchanged:>6}"
                f"  skipped {sum(s.skipped.values()):>4}  dead-lettered {s.dead_lettered:>3}"
            )
        skipped = self.skipped()
        if skipped:
            lines.append("  skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
        refused = self.totals()["refused_by_cap"]
        waiting = self.parked_retried - self.parked_synced
        if refused or waiting:
            lines.append(
                f"  contact limit reached: {refused} new contact(s) refused this run,"
                f" {waiting} parked earlier still refused; they are kept and synced"
                " once the limit is raised"
            )
        if self.sink_requests:
            lines.append(f"  the sink made {self.sink_requests} requests")
        lines.extend(f"  notice: {notice}" for notice in self.notices)
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


@attrs.frozen
class SyncProgress:
    """One progress event, for a progress bar or a log line.

    Attributes:
        connection_id: the connection.
        stream: the stream being read.
        phase: ``start``, ``batch`` or ``end`` of the stream.
        read: records read so far in this stream.
        written: records (and contacts) inserted or updated so far in this stream.
        elapsed: seconds since the run started.
    """

    connection_id: str
    stream: Stream
    phase: str
    read: int
    written: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Records read per second since the run started."""
        return self.read / self.elapsed if self.elapsed > 0 else 0.0


def counter_dict(counter: Mapping[str, int]) -> dict[str, int]:
    """A counter as a sorted plain dict."""
    return dict(sorted(counter.items()))
