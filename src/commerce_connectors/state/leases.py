"""Keeping a connection's lease for as long as a sync run lives.

A :class:`~commerce_connectors.protocols.LeaseStore` hands out one expiring
lease per connection. :class:`LeaseKeeper` is what a worker holds while it
syncs: it takes the lease, renews it when asked (the sync engine asks after
every acknowledged batch and before every checkpoint) and on a timer in
between (a long wait on a platform's rate limit must not let it lapse), and
releases it at the end. A lease left by a process of this machine that is gone
(killed, crashed) is broken at once rather than waited out (on Linux, where
:func:`holder_is_dead` can be sure: same boot, same pid namespace, no process
with that pid and start time); any other lease lapses after its ttl. When a
renewal finds the lease taken by another worker (this one stalled past the
expiry), :meth:`LeaseKeeper.renew` raises
:class:`~commerce_connectors.errors.LeaseLostError` so the run stops writing.

Example:
    >>> import datetime as dt
    >>> from commerce_connectors.state import MemoryStateStore
    >>> store = MemoryStateStore()
    >>> keeper = LeaseKeeper(store, "shop:1", "worker-a", dt.timedelta(minutes=5))
    >>> keeper.acquire()
    True
    >>> other = LeaseKeeper(store, "shop:1", "worker-b", dt.timedelta(minutes=5))
    >>> other.acquire(), other.blocked_by.holder
    (False, 'worker-a')
    >>> keeper.release()
    >>> other.acquire()
    True
    >>> other.release()
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import threading
import uuid

from ..errors import LeaseLostError
from ..protocols import Lease, LeaseStore

__all__ = [
    "DEFAULT_LEASE_TTL",
    "LeaseKeeper",
    "LeaseLostError",
    "default_worker_id",
    "holder_is_dead",
]

#: How long a lease lasts without renewal: a worker that dies frees its connections
#: after this long.
DEFAULT_LEASE_TTL = _dt.timedelta(minutes=2)


def _proc_start_time(pid: int) -> str | None:
    """When process ``pid`` started (``/proc/<pid>/stat`` field 22, clock ticks since boot)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # Field 2 (the command) is in parentheses and may hold spaces: count after the last ")".
    fields = text[text.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _this_machine() -> tuple[str, str] | None:
    """This kernel's boot id and this process's pid namespace, or ``None`` off Linux."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip().replace("-", "")
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return (boot, str(namespace)) if boot else None


def default_worker_id() -> str:
    """A name for this worker: host, process and a random suffix (unique per call).

    On Linux the name also carries the kernel's boot id, the process's pid
    namespace and its start time (``host:pid:suffix:boot:namespace:start``), so
    :func:`holder_is_dead` can tell for sure that the process is gone; elsewhere
    it is ``host:pid:suffix``.

    Example:
        >>> a, b = default_worker_id(), default_worker_id()
        >>> a != b and str(os.getpid()) in a
        True
    """
    name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    machine = _this_machine()
    started = _proc_start_time(os.getpid())
    if machine is None or started is None:
        return name
    return f"{name}:{machine[0]}:{machine[1]}:{started}"


def holder_is_dead(holder: str) -> bool:
    """Whether ``holder`` names a process of this machine that no longer runs.

    Only a holder named by :func:`default_worker_id` on Linux is judged, and only
    when it ran on this host, under this very boot of the kernel and in this
    process's pid namespace (two containers may share a host name and pid
    numbers): then it is dead when no process has its pid, or the process with
    its pid started at another time (the pid was reused). Any other holder (on
    another machine or container, named otherwise, or off Linux) is presumed
    alive until its lease lapses.

    Example:
        >>> holder_is_dead(default_worker_id())  # this very process
        False
        >>> holder_is_dead("another-host:1:abc")
        False
    """
    parts = holder.rsplit(":", 5)
    if len(parts) != 6:
        return False
    host, pid_text, _suffix, boot, namespace, started = parts
    machine = _this_machine()
    if (
        machine is None
        or host != socket.gethostname()
        or (boot, namespace) != machine
        or not pid_text.isdigit()
        or not started.isdigit()
    ):
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    # No such process (None), or another one that reused the pid (another start time).
    return _proc_start_time(pid) != started


class LeaseKeeper:
    """Holds one connection's lease for one worker: acquire, renew, release.

    Args:
        store: where leases live.
        connection_id: the connection.
        holder: this worker's id.
        ttl: how long each acquisition or renewal lasts.
        interval: how often the background timer renews (default ``ttl / 3``;
            ``None`` with ``timer=False``: only explicit renewals).
        timer: renew on a background thread while held.
    """

    def __init__(
        self,
        store: LeaseStore,
        connection_id: str,
        holder: str,
        ttl: _dt.timedelta,
        *,
        interval: _dt.timedelta | None = None,
        timer: bool = True,
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.holder = holder
        self.ttl = ttl
        self.interval = interval if interval is not None else ttl / 3
        self.timer = timer
        self.lease: Lease | None = None
        self.blocked_by: Lease | None = None
        self._lost: str | None = None
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lease (and start the renewal timer); ``False`` when another worker has it.

        After a refusal, :attr:`blocked_by` is the other worker's lease (``None``
        if it lapsed in the meantime).
        """
        lease = self.store.acquire_lease(self.connection_id, self.holder, self.ttl)
        if lease is None:
            self.blocked_by = self.store.current_lease(self.connection_id)
            if self.blocked_by is None or not holder_is_dead(self.blocked_by.holder):
                return False
            # Its holder was a process of this machine that is gone (killed, crashed):
            # break its lease (a compare-and-set on its token) instead of waiting it out.
            self.store.release_lease(self.blocked_by)
            lease = self.store.acquire_lease(self.connection_id, self.holder, self.ttl)
            if lease is None:
                self.blocked_by = self.store.current_lease(self.connection_id)
                return False
        self.lease, self.blocked_by, self._lost = lease, None, None
        if self.timer and self.interval > _dt.timedelta(0):
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._tick, name=f"lease:{self.connection_id}", daemon=True
            )
            self._thread.start()
        return True

    def refusal(self) -> str:
        """Why :meth:`acquire` was refused, naming the holder and the expiry."""
        other = self.blocked_by
        if other is None:
            return f"connection {self.connection_id} was being synced by another worker"
        return (
            f"connection {self.connection_id} is being synced by {other.holder}"
            f" (its lease runs until {other.expires_at.isoformat()})"
        )

    def _renew_once(self) -> None:
        with self._guard:
            if self.lease is None or self._lost is not None:
                return
            renewed = self.store.renew_lease(self.lease, self.ttl)
            if renewed is None:
                self._lost = (
                    f"the lease on {self.connection_id} held by {self.holder} was taken by"
                    " another worker (it lapsed, or its holder was judged gone);"
                    " this run stopped writing"
                )
            else:
                self.lease = renewed

    def _tick(self) -> None:
        while not self._stop.wait(self.interval.total_seconds()):
            try:
                self._renew_once()
            except Exception:  # noqa: S112 - a failed timer renewal is retried; renew() reports
                continue

    def renew(self) -> None:
        """Extend the lease now.

        Raises:
            LeaseLostError: another worker holds it now.
        """
        self._renew_once()
        if self._lost is not None:
            raise LeaseLostError(self._lost)

    def release(self) -> None:
        """Stop the timer and give the lease up (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._guard:
            lease, self.lease = self.lease, None
        if lease is not None and self._lost is None:
            self.store.release_lease(lease)
