"""Crash safety: a sync SIGKILLed at several points, then run again, equals an uninterrupted one.

Each scenario runs the worker (``_crash_worker.py``) in a subprocess that kills
itself with SIGKILL at one point: mid-read (during an HTTP request), inside a
transaction before COMMIT, after a COMMIT but before the engine saw the
acknowledgement, and right after a checkpoint was saved. A second, normal run
on the same file must end with exactly the sink content of an uninterrupted
run. The scenarios run side by side to keep the suite fast.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from _crash_worker import build

from commerce_connectors.sinks import SQLiteSink

WORKER = Path(__file__).with_name("_crash_worker.py")
SCENARIOS = ("request:5", "midbatch:3", "commit:9", "checkpoint:2")


def start(db: Path, spec: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), str(db), spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_killed_syncs_resume_to_the_ground_truth(tmp_path: Path) -> None:
    truth_db = tmp_path / "truth.db"
    dbs = {spec: tmp_path / f"{spec.replace(':', '-')}.db" for spec in SCENARIOS}
    killed = {spec: start(db, spec) for spec, db in dbs.items()}

    assert build(str(truth_db)).run().ok  # the uninterrupted run, meanwhile
    truth = SQLiteSink(truth_db).snapshot()
    orders = sum(1 for k in truth if k.kind == "order")
    assert orders > 100

    for spec, proc in killed.items():
        code, _, err = finish(proc)
        assert code == -signal.SIGKILL, f"{spec} was not killed: {err}"
    resumed = {spec: start(db, "none") for spec, db in dbs.items()}
    for spec, proc in resumed.items():
        code, out, err = finish(proc)
        assert code == 0, f"{spec}: {err}"
        assert json.loads(out)["status"] == "ok"
        sink = SQLiteSink(dbs[spec])
        assert sink.snapshot() == truth, spec
        assert sink.counts()["orders"] == orders  # one row per order: no duplicates
