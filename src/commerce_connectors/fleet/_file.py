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
import importlib
import logging
import multiprocessing
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigurationError
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


def _unknown(keys: Any, known: set[str], where: str) -> None:
    extra = sorted(set(keys) - known)
    if extra:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}"
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
    mode = str(defaults.get("mode", "auto"))
    if mode not in MODES:
        raise ConfigurationError(f"{path}: [defaults] mode must be one of {', '.join(MODES)}")
    overlap = (
        _minutes(defaults["overlap_minutes"], f"{path}: [defaults]", "overlap_minutes")
        if "overlap_minutes" in defaults
        else None
    )
    tables = data.get("connection", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigurationError(f"{path}: no [[connection]] tables")
    specs = []
    for index, table in enumerate(tables):
        where = _where(path, text, index)
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
                sink=_str(table["sink"], where, "sink") if "sink" in table else None,
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


@contextlib.contextmanager
def _executor(scheduler: str | None, processes: int | None) -> Iterator[Any]:
    if scheduler is not None:
        try:
            distributed: Any = importlib.import_module("distributed")
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                "a Dask scheduler needs the dask extra: pip install 'commerce-connectors[dask]'"
            ) from exc
        client = distributed.Client(scheduler)
        try:
            yield client
        finally:
            client.close()
    elif processes is not None:
        if processes < 1:
            raise ConfigurationError(f"processes must be at least 1, got {processes}")
        # spawn: no process forked from one with threads (and the same on every OS).
        context = multiprocessing.get_context("spawn")
        pool = cf.ProcessPoolExecutor(max_workers=processes, mp_context=context)
        try:
            yield pool
        except BaseException:
            # Ctrl-C: do not wait for the round under way; its connections resume next time.
            pool.shutdown(wait=False, cancel_futures=True)
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
    took longer). KeyboardInterrupt (and ``stop.set()``) ends the rounds cleanly:
    the round under way is abandoned and the reports so far are returned; each
    connection resumes from its last acknowledged checkpoint in the next run.

    Args:
        fleet: the fleet (see :func:`load_fleet_file`).
        scheduler: a Dask scheduler address.
        processes: worker processes on this machine.
        every: the interval between round starts; ``None``: one round.
        rounds: stop after this many rounds (``None`` with ``every``: until stopped).
        on_report: called with each round's report.
        stop: set it (from another thread) to stop after the current round.

    Returns:
        The reports of the rounds that finished.

    Raises:
        ConfigurationError: both ``scheduler`` and ``processes``, or bad numbers.
    """
    if scheduler is not None and processes is not None:
        raise ConfigurationError("give a Dask scheduler or a number of processes, not both")
    if rounds is not None and rounds < 1:
        raise ConfigurationError(f"rounds must be at least 1, got {rounds}")
    if every is not None and every <= _dt.timedelta(0):
        raise ConfigurationError("every must be a positive interval")
    limit = rounds if rounds is not None else (None if every is not None else 1)
    stop = stop if stop is not None else threading.Event()
    reports: list[FleetReport] = []
    try:
        with _executor(scheduler, processes) as executor:
            while limit is None or len(reports) < limit:
                started = _dt.datetime.now(_dt.timezone.utc)
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
                if every is None or (limit is not None and len(reports) >= limit):
                    break
                elapsed = _dt.datetime.now(_dt.timezone.utc) - started
                if stop.wait(max(0.0, (every - elapsed).total_seconds())):
                    break
    except KeyboardInterrupt:
        logger.warning("fleet stopped by the user after %d round(s)", len(reports))
    return reports
