"""The test server never outlives the process that started it, even one killed with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pg_server import PostgresServer, PostgresUnavailableError, in_ci

_STARTS_AND_DIES = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from pg_server import PostgresServer
server = PostgresServer()
server.start()
pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
print(pid, server.root, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_owner_takes_its_server_down() -> None:
    try:
        PostgresServer().stop()
    except PostgresUnavailableError as exc:
        if in_ci():
            pytest.fail(f"CI needs PostgreSQL for these tests: {exc}")
        pytest.skip(str(exc))
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", _STARTS_AND_DIES, str(Path(__file__).parents[1])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    pid_text, root = done.stdout.split()
    pid = int(pid_text)
    deadline = time.monotonic() + 60
    while (_alive(pid) or Path(root).exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the server outlived its owner"
    assert not Path(root).exists(), "the server's directory was left behind"
