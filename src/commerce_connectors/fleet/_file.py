"""A fleet described in a TOML file, and scheduled rounds over it.

.. code-block:: toml

    sink = "postgresql://crm@db.internal/shops"
    state = "postgresql://crm@db.internal/shops"   # default: the sink when it is SQLite

    [defaults]
    mode = "auto"               # auto, historical or incremental
    overlap_minutes = 5

    [defaults.tiendanube]       # options every Tiendanube connection gets unless it says otherwise
    user_agent = "MyCRM (dev@example.com)"

    [[connection]]
    name = "acme"
    platform = "shopify"
    token_env = "SHOPIFY_TOKEN_ACME"
    options = { shop = "acme.myshopify.com" }
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as _dt
import difflib
import importlib
import logging
import multiprocessing
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import ConfigurationError
from ._registry import platform_names
from ._run import FleetReport, sync_fleet
from ._spec import MODES, ConnectionSpec

# The standard library's TOML reader from Python 3.11; its backport before.
tomllib: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")

__all__ = ["FleetFile", "load_fleet_file", "run_rounds"]

logger = logging.getLogger("commerce_connectors.fleet")

_TOP_KEYS = {"sink", "state", "defaults", "connection"}
_DEFAULT_KEYS = {"mode", "overlap_minutes"}
_CONNECTION_KEYS = {"name", "platform", "options", "token_env", "sink", "overlap_minutes"}
_CONNECTION_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*connection[ \t]*\]\]", re.MULTILINE)


@attrs.frozen
class FleetFile:
    """A fleet read from a TOML file by :func:`load_fleet_file`.

    Attributes:
        sink: the shared sink URL.
        state: the shared state store URL.
        mode: the sync mode of every round (``auto`` by default).
        connections: the connections, in the file's order.
        path: the file it was read from.
    """

    sink: str
    state: str
    mode: str
    connections: tuple[ConnectionSpec, ...]
    path: Path | None = None


def _where(path: Path, text: str, index: int | None) -> str:
    if index is None:
        return str(path)
    headers = list(_CONNECTION_HEADER.finditer(text))
    if index < len(headers):
        line = text.count("\n", 0, headers[index].start()) + 1
        return f"{path}:{line}: connection #{index + 1}"
    return f"{path}: connection #{index + 1}"


def _minutes(value: Any, where: str, key: str) -> _dt.timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"{where}: {key} must be a number of minutes >= 0, got {value!r}")
    return _dt.timedelta(minutes=value)


def _str(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _sink(table: dict[str, Any], where: str) -> str | None:
    if "sink" not in table:
        return None
    url = _str(table["sink"], where, "sink")
    check_url(url, "sink", where)
    return url


def _unknown(keys: Any, known: set[str], where: str) -> None:
    extra = sorted(set(keys) - known)
    if extra:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}"
        )


#: The URL schemes a fleet's workers can share, by what the URL is for.
_SINK_SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "activecampaign://",
                 "activecampaign+http://")  # fmt: skip
_STATE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")


def check_url(url: str, kind: str, where: str) -> None:
    """Refuse a sink or state URL no worker could open, without connecting to it.

    ``kind`` is ``sink`` or ``state``. A SQLite file's directory must exist (the
    workers create the file, not its directory). ``memory://`` is refused: each
    task opens the URL itself, so nothing would be shared or kept.

    Raises:
        ConfigurationError: an unknown scheme, ``memory://``, or a SQLite URL whose
            directory does not exist; the message names ``where`` and the key.
    """
    schemes = _SINK_SCHEMES if kind == "sink" else _STATE_SCHEMES
    scheme = url.split("://", 1)[0] if "://" in url else url.split(":", 1)[0]
    if url.startswith("memory:"):
        raise ConfigurationError(
            f"{where}: {kind} memory:// cannot serve a fleet: every task opens its own, so "
            "nothing would be shared or kept; use sqlite:///path.db or postgresql://host/db"
        )
    if not url.startswith(schemes):
        raise ConfigurationError(
            f"{where}: unknown {kind} URL scheme {scheme!r}; use "
            + ", ".join(f"{s}…" for s in schemes)
        )
    if url.startswith("sqlite:///"):
        file = Path(url[len("sqlite:///") :].split("?", 1)[0])
        if file.name != ":memory:" and not file.parent.is_dir():
            raise ConfigurationError(
                f"{where}: the {kind} database's directory {file.parent} does not exist"
            )


def _platform_defaults(per_platform: dict[str, Any], where: str) -> None:
    known = platform_names()
    for name in per_platform:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"{where}: [defaults.{name}]: unknown platform {name!r}{hint} "
                f"(known: {', '.join(known)})"
            )


def load_fleet_file(path: str | Path) -> FleetFile:
    """Read a fleet from a TOML file (see the module docstring for its keys).

    Tokens are never in the file: each connection names the environment variable
    that holds its token on the workers (``token_env``; default the platform's
    usual one, such as ``SHOPIFY_ACCESS_TOKEN``).

    Raises:
        ConfigurationError: unreadable TOML (with its line and column) or a bad key or
            value; the message names the file, the connection's line and the key.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pathlib.Path(tmp, "fleet.toml")
        ...     _ = path.write_text('sink = "sqlite:///fleet.db"\\n[[connection]]\\n'
        ...                         'platform = "bigcommerce"\\noptions = {store_hs = "x"}\\n')
        ...     load_fleet_file(path)
        Traceback (most recent call last):
        ...
        commerce_connectors.errors.ConfigurationError: .../fleet.toml:2: connection #1: ...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the fleet file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    _unknown(data, _TOP_KEYS, str(path))
    sink = _str(data.get("sink"), str(path), "sink")
    if "state" in data:
        state = _str(data["state"], str(path), "state")
    elif sink.startswith("sqlite:"):
        state = sink
    else:
        raise ConfigurationError(f"{path}: state is needed when the sink is not SQLite")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigurationError(f"{path}: [defaults] must be a table")
    per_platform = {k: v for k, v in defaults.items() if isinstance(v, dict)}
    _unknown(set(defaults) - set(per_platform), _DEFAULT_KEYS, f"{path}: [defaults]")
    _platform_defaults(per_platform, str(path))
    check_url(sink, "sink", str(path))
    check_url(state, "state", str(path))
    mode = str(defaults.get("mode", "auto"))
    if mode not in MODES:
        raise ConfigurationError(f"{path}: [defaults] mode must be one of {', '.join(MODES)}")
    overlap = (
        _minutes(defaults["overlap_minutes"], f"{path}: [defaults]", "overlap_minutes")
        if "overlap_minutes" in defaults
        else None
    )
    tables = data.get("connection", [])
    if isinstance(tables, dict):
        raise ConfigurationError(
            f"{path}: connection must be written [[connection]] (an array of tables), "
            "not [connection]"
        )
    if not isinstance(tables, list) or not tables:
        raise ConfigurationError(f"{path}: no [[connection]] tables")
    specs = []
    for index, table in enumerate(tables):
        where = _where(path, text, index)
        if not isinstance(table, dict):
            raise ConfigurationError(
                f"{where}: each connection must be a [[connection]] table, "
                f"got {type(table).__name__}"
            )
        _unknown(table, _CONNECTION_KEYS, where)
        platform = _str(table.get("platform"), where, "platform")
        options = table.get("options", {})
        if not isinstance(options, dict):
            raise ConfigurationError(f"{where}: options must be a table")
        try:
            spec = ConnectionSpec(
                platform,
                {**per_platform.get(platform, {}), **options},
                token=_str(table["token_env"], where, "token_env")
                if "token_env" in table
                else None,
                name=str(table.get("name", "")),
                sink=_sink(table, where),
                overlap=(
                    _minutes(table["overlap_minutes"], where, "overlap_minutes")
                    if "overlap_minutes" in table
                    else overlap
                ),
            )
        except ConfigurationError as exc:
            message = str(exc)
            raise ConfigurationError(
                message if message.startswith(where) else f"{where}: {message}"
            ) from None
        specs.append(spec)
    names = [s.name for s in specs]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigurationError(
                f"{_where(path, text, index)}: the name {name!r} is used twice; "
                "give each connection its own name"
            )
    return FleetFile(sink=sink, state=state, mode=mode, connections=tuple(specs), path=path)


#: How long the command waits for a Dask scheduler to answer before giving up.
SCHEDULER_CONNECT_TIMEOUT = 10.0

_T = TypeVar("_T")


class _ProcessPool(cf.Executor):
    """Worker processes of this machine; a pool a lost worker broke is replaced.

    A :class:`concurrent.futures.ProcessPoolExecutor` whose worker dies stays broken:
    every later ``submit`` raises. This one starts a new pool then, so one crash
    costs the round it happened in, never the rounds after it.
    """

    def __init__(self, workers: int) -> None:
        # spawn: no process forked from one with threads (and the same on every OS).
        self._context = multiprocessing.get_context("spawn")
        self._workers = workers
        self._lock = threading.Lock()
        self._pool = self._new()

    def _new(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self._workers, mp_context=self._context)

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> cf.Future[_T]:
        """Run ``fn(*args, **kwargs)`` in a worker process (a new pool if this one broke)."""
        with self._lock:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                logger.warning("a worker process was lost: starting new worker processes")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new()
                return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the pool (see :meth:`concurrent.futures.Executor.shutdown`)."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def terminate(self) -> None:
        """End the worker processes now, without waiting for their tasks.

        Their connections resume from their last acknowledged checkpoint in the next
        run (once their leases lapse).
        """
        pool = self._pool
        processes: list[Any] = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=2.0)
            if process.is_alive():
                process.kill()


def _dask_client(scheduler: str) -> Any:
    try:
        distributed: Any = importlib.import_module("distributed")
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "a Dask scheduler needs the dask extra: pip install 'commerce-connectors[dask]'"
        ) from exc
    try:
        return distributed.Client(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ConfigurationError(
            f"cannot reach the Dask scheduler at {scheduler} within "
            f"{SCHEDULER_CONNECT_TIMEOUT:.0f} s ({type(exc).__name__}); check the address "
            "and that the scheduler is running"
        ) from None


@contextlib.contextmanager
def _executor(scheduler: str | None, processes: int | None) -> Iterator[Any]:
    if scheduler is not None:
        client = _dask_client(scheduler)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):  # a scheduler already gone
                client.close()
    elif processes is not None:
        if processes < 1:
            raise ConfigurationError(f"processes must be at least 1, got {processes}")
        pool = _ProcessPool(processes)
        try:
            yield pool
        except BaseException:
            # Ctrl-C, SIGTERM: end the round under way now, worker processes included
            # (waiting would take as long as their slowest sync); they resume next time.
            pool.terminate()
            raise
        pool.shutdown(wait=True)
    else:
        yield None


def run_rounds(
    fleet: FleetFile,
    *,
    scheduler: str | None = None,
    processes: int | None = None,
    every: _dt.timedelta | None = None,
    rounds: int | None = None,
    on_report: Callable[[FleetReport], None] | None = None,
    stop: threading.Event | None = None,
) -> list[FleetReport]:
    """Sync a fleet in rounds: now, then every ``every``, until ``rounds`` or Ctrl-C.

    Where the tasks run:

    * ``scheduler="tcp://host:8786"``: on a Dask cluster (``distributed.Client``);
    * ``processes=N``: on N worker processes of this machine (a
      ``ProcessPoolExecutor``; no Dask needed);
    * neither: one connection after another in this process.

    A round starts ``every`` after the previous one started (at once if that one
    took longer), measured on a monotonic clock; with ``rounds`` and no ``every``
    the rounds run back to back (each one syncs what changed during the previous).
    A worker process lost with ``processes`` costs its round only: the next round
    gets new worker processes. KeyboardInterrupt (and ``stop.set()``) ends the rounds cleanly:
    the round under way is abandoned and the reports so far are returned; each
    connection resumes from its last acknowledged checkpoint in the next run.

    Args:
        fleet: the fleet (see :func:`load_fleet_file`).
        scheduler: a Dask scheduler address.
        processes: worker processes on this machine.
        every: the interval between round starts; ``None``: one round, or ``rounds``
            rounds back to back.
        rounds: stop after this many rounds (``None`` with ``every``: until stopped).
        on_report: called with each round's report.
        stop: set it (from another thread) to stop after the current round.

    Returns:
        The reports of the rounds that finished.

    Raises:
        ConfigurationError: both ``scheduler`` and ``processes``, bad numbers, or a
            Dask scheduler that does not answer within ``SCHEDULER_CONNECT_TIMEOUT``.
    """
    if scheduler is not None and processes is not None:
        raise ConfigurationError("give a Dask scheduler or a number of processes, not both")
    if rounds is not None and rounds < 1:
        raise ConfigurationError(f"rounds must be at least 1, got {rounds}")
    if every is not None and every <= _dt.timedelta(0):
        raise ConfigurationError("every must be a positive interval")
    limit = rounds if rounds is not None else (None if every is not None else 1)
    pause = every.total_seconds() if every is not None else 0.0
    stop = stop if stop is not None else threading.Event()
    reports: list[FleetReport] = []
    try:
        with _executor(scheduler, processes) as executor:
            while limit is None or len(reports) < limit:
                started = time.monotonic()  # immune to wall-clock jumps
                report = sync_fleet(
                    fleet.connections,
                    sink=fleet.sink,
                    state=fleet.state,
                    executor=executor,
                    mode=fleet.mode,
                )
                reports.append(report)
                if on_report is not None:
                    on_report(report)
                if limit is not None and len(reports) >= limit:
                    break
                if stop.wait(max(0.0, pause - (time.monotonic() - started))):
                    break
    except KeyboardInterrupt:
        logger.warning("fleet stopped by the user after %d round(s)", len(reports))
    return reports
