"""``simulate PLATFORM`` serves a store and prints a ``sync`` command that works as printed."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from commerce_connectors.cli.registry import platform_spec


def _start(platform: str, cwd: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "commerce_connectors", "simulate", platform, *extra],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C"):
            break
    else:
        proc.kill()
        pytest.fail("simulate printed no banner: " + "\n".join(lines) + proc.stderr.read())
    return proc, lines


@pytest.mark.parametrize("platform", ["toyshop", "shopify", "bigcommerce", "square", "tiendanube"])
def test_the_printed_sync_command_syncs_the_simulated_store(platform: str, tmp_path: Path) -> None:
    proc, lines = _start(platform, tmp_path)
    try:
        assert "serving at http://127.0.0.1:" in lines[0]
        assert "pacing: fast" in lines[1]
        assert "--real-pacing" in lines[1]
        (export,) = [x.strip() for x in lines if x.strip().startswith("export ")]
        (command,) = [x.strip() for x in lines if x.strip().startswith("commerce-connectors ")]
        name, _, token = export.removeprefix("export ").partition("=")
        assert name == platform_spec(platform).token_env
        argv = shlex.split(command)
        done = subprocess.run(  # noqa: S603 - the printed command, as a user would paste it
            [sys.executable, "-m", "commerce_connectors", *argv[1:], "--no-progress"],
            cwd=tmp_path,
            env={**os.environ, name: shlex.split(token)[0]},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode in (0, 6), done.stdout + done.stderr  # 6: dead letters
        assert "historical sync ok" in done.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in err
    (db,) = tmp_path.glob("simulated-*.db")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] > 0


def test_real_pacing_says_what_the_pace_is(tmp_path: Path) -> None:
    proc, lines = _start("bigcommerce", tmp_path, "--real-pacing")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert "pacing: real: 150 requests per 30 s window" in lines[1]
    assert proc.returncode == 0
