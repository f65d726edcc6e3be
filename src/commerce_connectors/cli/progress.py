"""Sync progress on standard error: a live line on a terminal, plain lines otherwise.

Two sources feed it: the sync engine's :class:`~commerce_connectors.sync.SyncProgress`
(a stream starts, a batch is written, a stream ends) and the HTTP engine's events,
so that a pause the platform imposes shows as what it is: "waiting for the rate
limit (12 s)", not a frozen counter. The words are the report's: ``read`` for
records the platform returned (``written``, ``new``, ``updated`` and ``unchanged``
are the sink's verdicts, in the report at the end).

Example:
    >>> import io
    >>> from commerce_connectors.protocols import Stream
    >>> from commerce_connectors.sync import SyncProgress
    >>> out = io.StringIO()
    >>> draw = ProgressPrinter(out, tty=False)
    >>> draw.waiting("toyshop:demo", 12.0)
    >>> draw(SyncProgress("toyshop:demo", Stream.ORDERS, "end", 120, 100, 2.0))
    >>> print(out.getvalue().strip())
    toyshop:demo: waiting for the rate limit (12 s)
    toyshop:demo orders: 120 read (60 records/s)
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from .._http.stats import HttpEvent
from ..sync import SyncProgress

__all__ = ["ProgressPrinter"]

#: Waits shorter than this are pacing, not worth a line of their own when not on a terminal.
_NOTABLE_WAIT = 1.0


class ProgressPrinter:
    """Draws sync progress: a live line on a terminal, plain lines otherwise.

    Call it with each :class:`SyncProgress`; give :meth:`http_event` to the
    connector's HTTP engine (``on_event``) for rate-limit waits and retries.
    Thread-safe: HTTP events may come from a connector's worker threads.
    """

    _BAR = 24

    def __init__(self, out: TextIO, *, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self._tick = 0
        self._lock = threading.Lock()
        self._line = ""
        self._name = ""
        self._wait_until = 0.0
        self._wait_text = ""

    def __call__(self, event: SyncProgress) -> None:
        name = f"{event.connection_id} {event.stream.value}"
        with self._lock:
            self._name = name
            self._wait_until = 0.0
            if not self.tty:
                if event.phase == "end":
                    self._write(f"{name}: {event.read} read ({event.rate:.0f} records/s)\n")
                return
            # No total is known in advance (platforms rarely say), so the bar runs.
            self._tick += 1
            pos = self._tick % self._BAR
            bar = "".join("█" if (i - pos) % self._BAR < 6 else "·" for i in range(self._BAR))
            if event.phase == "end":
                bar = "█" * self._BAR
            self._line = f"{name:<32} {bar} {event.read:>9,} read {event.rate:>8,.0f}/s"
            self._write("\r" + self._line + ("\n" if event.phase == "end" else ""))
            if event.phase == "end":
                self._line = ""

    def waiting(self, who: str, seconds: float, why: str = "waiting for the rate limit") -> None:
        """Show that the run is paused for ``seconds`` (rate limit, retry back-off)."""
        with self._lock:
            text = f"{why} ({seconds:,.0f} s)" if seconds >= 1 else f"{why} ({seconds:.1f} s)"
            if not self.tty:
                if seconds >= _NOTABLE_WAIT:
                    self._write(f"{who}: {text}\n")
                return
            if seconds < _NOTABLE_WAIT and time.monotonic() < self._wait_until:
                return  # a longer wait is still being shown
            self._wait_until = time.monotonic() + seconds
            self._wait_text = text
            self._write(f"\r{self._line or who}  {text}\033[K")

    def http_event(self, event: HttpEvent) -> None:
        """An ``on_event`` callback for the HTTP engine: shows waits and retries."""
        if event.wait is None or event.wait <= 0:
            return
        who = self._name or event.platform
        if event.kind == "rate_limit_waiting":
            self.waiting(who, event.wait)
        elif event.kind == "retry":
            rate_limited = event.status_code == 429 or "RateLimit" in (event.error or "")
            why = "waiting for the rate limit" if rate_limited else "retrying after an error"
            self.waiting(who, event.wait, why)

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
