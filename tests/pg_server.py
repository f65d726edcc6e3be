"""A throwaway PostgreSQL server for tests and benchmarks, started from the machine's binaries.

``PostgresServer`` runs ``initdb`` into a temporary directory, then ``postgres``
listening on 127.0.0.1 (a free port) with its unix socket inside that directory,
password authentication over TCP (a random password for the superuser ``cc``),
and stops it (and removes the directory) on :meth:`PostgresServer.stop`.

``initdb`` refuses to run as root, so when the current user is root (CI, this
sandbox) the server runs as an unprivileged account (``postgres`` if it exists,
else ``nobody``) that owns the temporary directory.

A server never outlives the process that started it: a small watchdog process
(in its own session, so a ``kill`` of the test run's process group spares it)
stops the server and removes its directory once that process is gone, even when
it was killed with SIGKILL; and :meth:`PostgresServer.start` first stops the
servers of earlier runs whose owner is gone (``/tmp/cc-pg-*`` with an ``owner``
file naming a pid that no longer runs).

The binaries are found via ``pg_config --bindir``, then ``/usr/lib/postgresql/*/bin``
(newest version first), then ``PATH``. Nothing here touches the network beyond
the loopback interface.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "PostgresServer",
    "PostgresUnavailableError",
    "find_bindir",
    "in_ci",
    "need_psycopg",
    "stop_orphans",
]

_SUPERUSER = "cc"


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL binaries on this machine (or the server would not start)."""


def in_ci() -> bool:
    """Whether this is a CI run (``CI=true``): there a missing PostgreSQL fails, never skips."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_psycopg() -> ModuleType:
    """psycopg for a test module: skip the module without it, except in CI (fail there)."""
    if in_ci():
        import psycopg

        return psycopg
    import pytest

    return pytest.importorskip("psycopg", reason="the postgres extra is not installed")


# Run as ``python -c WATCHDOG OWNER_PID SERVER_PID ROOT``: waits for the owner to be
# gone, then stops the server (SIGINT: fast shutdown; SIGKILL after 30 s) and
# removes its directory. Ends by itself when the server stops first.
_WATCHDOG = """
import os, shutil, signal, sys, time
owner, server, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while alive(owner):
    if not alive(server):
        sys.exit(0)
    time.sleep(0.2)
if alive(server):
    os.kill(server, signal.SIGINT)
    deadline = time.monotonic() + 30
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(server):
        os.kill(server, signal.SIGKILL)
shutil.rmtree(root, ignore_errors=True)
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_orphans() -> list[int]:
    """Stop the servers of earlier runs whose owning process is gone; their pids."""
    stopped = []
    for root in glob.glob(os.path.join(tempfile.gettempdir(), "cc-pg-*")):
        try:
            owner = int(Path(root, "owner").read_text())
            server = int(Path(root, "data", "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _pid_alive(owner) or not _pid_alive(server):
            continue
        with contextlib.suppress(OSError):
            os.kill(server, signal.SIGINT)
            deadline = time.monotonic() + 30
            while _pid_alive(server) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(server):
                os.kill(server, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
        stopped.append(server)
    return stopped


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "postgres").is_file()


def _version_key(path: str) -> tuple[int, ...]:
    parts = Path(path).parent.name.split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, or ``None`` when there is none."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(  # noqa: S603 - a fixed local tool
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            if out and _has_server(Path(out)):
                return Path(out)
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if _has_server(Path(candidate)):
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb is not None:
        bindir = Path(initdb).resolve().parent
        if _has_server(bindir):
            return bindir
        if shutil.which("postgres") is not None:
            return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _unprivileged_account() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailableError("running as root and no 'postgres' or 'nobody' account")


class PostgresServer:
    """One PostgreSQL server in a temporary directory.

    Args:
        durable: keep ``fsync`` on (benchmarks); tests turn it off for speed.

    Example (not run here)::

        server = PostgresServer()
        server.start()
        url = server.create_database("t1")   # postgresql://cc:…@127.0.0.1:PORT/t1
        server.stop()
    """

    def __init__(self, *, durable: bool = False) -> None:
        try:
            import psycopg  # noqa: F401 - only whether it is there
        except ImportError:
            raise PostgresUnavailableError(
                "psycopg is not installed: pip install -e '.[postgres]'"
            ) from None
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailableError(
                "no PostgreSQL server binaries (initdb, postgres): looked at pg_config --bindir,"
                " /usr/lib/postgresql/*/bin and PATH"
            )
        self.bindir = bindir
        self.durable = durable
        self.password = secrets.token_hex(12)
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="cc-pg-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdogs: list[subprocess.Popen[bytes]] = []
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = _unprivileged_account()
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.root),
            "TZ": "UTC",
        }

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        """The server's log file (read it when it does not start)."""
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` on this server (with the superuser's password)."""
        return f"postgresql://{_SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - the machine's own PostgreSQL binaries
            list(args),
            capture_output=True,
            text=True,
            env=self._env,
            cwd=self.root,
            check=False,
            timeout=120,
            **self._as,
        )
        if done.returncode != 0:
            raise PostgresUnavailableError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
            )

    def start(self) -> None:
        """initdb, start the server, wait until it accepts connections (30 s at most)."""
        stop_orphans()
        (self.root / "owner").write_text(str(os.getpid()))
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        pwfile.chmod(0o600)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            _SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        pwfile.unlink()
        settings = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.root}",
            "-c",
            "max_connections=100",
            "-c",
            "shared_buffers=32MB",
        ]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            settings += ["-c", "full_page_writes=off"]
        for attempt in range(5):
            self.port = _free_port()
            log = self.log_path.open("ab")
            self._process = subprocess.Popen(  # noqa: S603 - the machine's own binary
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    *settings,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self.root,
                start_new_session=True,
                **self._as,
            )
            log.close()
            self._watch(self._process.pid)
            if self._wait_ready():
                atexit.register(self.stop)
                return
            self._halt()
            if attempt == 4:
                break
        raise PostgresUnavailableError(
            f"PostgreSQL did not start; its log:\n{self.log_path.read_text()[-3000:]}"
        )

    def _watch(self, server_pid: int) -> None:
        """Start the watchdog that stops the server once this process is gone."""
        watchdog = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server_pid), str(self.root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._watchdogs.append(watchdog)

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                if self._accepts_queries():
                    return True
            time.sleep(0.1)
        return False

    def _accepts_queries(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def _halt(self) -> None:
        process, self._process = self._process, None
        try:
            self._halt_server(process)
        finally:
            # A watchdog ends by itself once its server is gone.
            watchdogs, self._watchdogs = self._watchdogs, []
            for watchdog in watchdogs:
                try:
                    watchdog.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    watchdog.kill()
                    watchdog.wait()

    def _halt_server(self, process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            return
        # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, stop cleanly.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server and delete its directory (idempotent)."""
        self._halt()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
