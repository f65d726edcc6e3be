"""Active sync: incremental runs on a fixed interval, with a clean stop on a signal."""

from __future__ import annotations

import contextlib
import datetime as _dt
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from ..clock import Clock, SystemClock
from ..errors import ConfigurationError
from .engine import SyncEngine
from .report import SyncReport, SyncStatus

__all__ = ["DEFAULT_INTERVAL", "Scheduler"]

#: Square's integration syncs every 30 minutes; the default here too.
DEFAULT_INTERVAL = _dt.timedelta(minutes=30)

#: Statuses after which waiting for the next slot cannot help: stop the schedule.
_FATAL = (SyncStatus.AUTH_ERROR, SyncStatus.FAILED, SyncStatus.INTERRUPTED)

# How long one wait slice lasts on a real clock, so a stop request is seen quickly.
_SLICE = 1.0


class Scheduler:
    """Runs ``engine.run()`` (incremental from the checkpoints) every ``interval``.

    Runs start at ``start + k * interval``; a run longer than the interval is
    followed at once by the next. Unavailable platforms and failed sink writes
    are retried at the next slot; an authentication error or an unexpected
    failure ends the schedule (it needs a person).

    Args:
        engine: the engine to run.
        interval: time between run starts (30 minutes by default).
        clock: where waits happen; a FakeClock makes tests instantaneous.
        on_report: called with each run's report.

    Example:
        >>> from commerce_connectors.clock import FakeClock
        >>> from commerce_connectors.sinks import MemorySink
        >>> from commerce_connectors.state import MemoryStateStore
        >>> from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
        >>> clock = FakeClock()
        >>> sim = ToyShopSimulator(seed=2, customers=5, orders=5, products=2, clock=clock)
        >>> shop = ToyShopConnector(token=sim.token, transport=sim.transport(), clock=clock)
        >>> engine = SyncEngine(shop, MemorySink(), MemoryStateStore(), clock=clock)
        >>> reports = Scheduler(engine, clock=clock).run(max_runs=3)
        >>> [r.mode for r in reports], clock.now().isoformat()
        (['historical', 'incremental', 'incremental'], '2024-01-01T01:00:00+00:00')
    """

    def __init__(
        self,
        engine: SyncEngine,
        *,
        interval: _dt.timedelta = DEFAULT_INTERVAL,
        clock: Clock | None = None,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        if interval <= _dt.timedelta(0):
            raise ConfigurationError(f"the interval must be positive, got {interval}")
        self.engine = engine
        self.interval = interval
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.on_report = on_report
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop after the current batch (or at once when waiting). Signal-safe."""
        self._stop.set()
        self.engine.stop()

    def run(self, *, max_runs: int | None = None) -> list[SyncReport]:
        """Run until stopped, a fatal status, or ``max_runs`` runs; return the last reports.

        Only the last few reports are kept (memory stays bounded on a long-running schedule).
        """
        kept: list[SyncReport] = []
        runs = 0
        next_start = self.clock.monotonic()
        while not self._stop.is_set():
            report = self.engine.run()
            runs += 1
            kept = [*kept[-9:], report]
            if self.on_report is not None:
                self.on_report(report)
            if report.status in _FATAL or (max_runs is not None and runs >= max_runs):
                break
            next_start += self.interval.total_seconds()
            self._wait_until(next_start)
        return kept

    def _wait_until(self, deadline: float) -> None:
        while not self._stop.is_set():
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return
            self.clock.sleep(min(left, _SLICE) if isinstance(self.clock, SystemClock) else left)

    @contextlib.contextmanager
    def stop_on_signals(
        self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
    ) -> Iterator[None]:
        """Within the block, SIGINT/SIGTERM stop the schedule cleanly (main thread only)."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        previous = {s: signal.signal(s, handler) for s in signals}
        try:
            yield
        finally:
            for s, old in previous.items():
                signal.signal(s, old)
