"""Time as a dependency: every sleep and every reading of the clock goes through a Clock.

The HTTP engine, rate limiters, simulators and the scheduler take a ``clock``
argument so tests can substitute :class:`commerce_connectors.testing.FakeClock`
and never really wait. Rules never read a clock at all: time is passed in.

The real clock's sleeps can be cut short for the whole process: a command line
calls :func:`request_stop` on Ctrl-C or SIGTERM, and every :meth:`SystemClock.sleep`
under way or to come (a rate-limit wait, a retry back-off) raises
:class:`SleepInterrupted` at once, so a run stops within moments instead of
waiting out a pause the platform asked for. :func:`clear_stop` re-arms them.

Example:
    >>> clock = SystemClock()
    >>> t0 = clock.monotonic()
    >>> clock.sleep(0)
    >>> clock.monotonic() >= t0
    True
    >>> request_stop()
    >>> clock.sleep(60)
    Traceback (most recent call last):
    ...
    commerce_connectors.clock.SleepInterrupted: ...
    >>> clear_stop()
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "FakeClock",
    "SleepInterrupted",
    "SystemClock",
    "clear_stop",
    "request_stop",
    "stop_requested",
]

#: Set when the process was asked to stop: real sleeps end at once (see request_stop).
_STOP = threading.Event()


class SleepInterrupted(BaseException):
    """A real sleep was cut short because the process was asked to stop.

    A :class:`BaseException`, like :class:`KeyboardInterrupt`: code that handles
    ``Exception`` (a retry loop, a callback guard) lets it through, so it unwinds
    to the sync engine, which ends the run as interrupted at the last checkpoint.
    """


def request_stop() -> None:
    """Cut short every real sleep of the process, now and until :func:`clear_stop`.

    Safe from any thread. From a signal handler, call it in a new thread (as the
    command line does): setting an event takes a lock the interrupted code may hold.
    """
    _STOP.set()


def clear_stop() -> None:
    """Let real sleeps last their full time again."""
    _STOP.clear()


def stop_requested() -> bool:
    """True between :func:`request_stop` and :func:`clear_stop`."""
    return _STOP.is_set()


@runtime_checkable
class Clock(Protocol):
    """What the library needs from time."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a fake clock just advances)."""
        ...

    def now(self) -> _dt.datetime:
        """The current wall-clock time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, an interruptible sleep and ``datetime.now(UTC)``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, unless the process is asked to stop meanwhile.

        Raises:
            SleepInterrupted: :func:`request_stop` was called before or during the sleep.
        """
        if seconds > 0 and _STOP.wait(seconds):
            raise SleepInterrupted(f"a {seconds:.1f} s wait was cut short: stop requested")

    def now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to, or when something sleeps on it.

    ``sleep(s)`` returns at once and advances the clock by ``s``; the total is
    kept in :attr:`slept` so tests can assert how long code *would* have waited.
    Thread-safe, so a simulator and a client can share one.

    Example:
        >>> clock = FakeClock()
        >>> clock.sleep(2.5)
        >>> clock.monotonic(), clock.slept
        (2.5, 2.5)
    """

    def __init__(
        self,
        start: float = 0.0,
        *,
        wall_start: _dt.datetime = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc),
    ) -> None:
        if wall_start.tzinfo is None:
            raise ValueError("wall_start must be timezone-aware")
        self._t = float(start)
        self._start = float(start)
        self._wall_start = wall_start
        self._lock = threading.Lock()
        self.slept = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        with self._lock:
            self._t += seconds
            self.slept += seconds
            self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward without counting it as a sleep."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time: {seconds}")
        with self._lock:
            self._t += seconds

    def now(self) -> _dt.datetime:
        with self._lock:
            return self._wall_start + _dt.timedelta(seconds=self._t - self._start)

    def __repr__(self) -> str:
        return f"FakeClock(t={self._t!r}, slept={self.slept!r})"
