"""Several workers opening the same new SQLite file at once all succeed (fleets do this).

Creating the tables upgrades a read lock to a write lock; two connections doing that
together made SQLite answer "database is locked" at once, without waiting. The tables
are now created in one transaction that takes the write lock first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from commerce_connectors.sinks import CallbackSink, SQLiteSink
from commerce_connectors.state import SQLiteStateStore


def _nothing(_: Any) -> None:
    return None


OPENERS: dict[str, Callable[[str], Any]] = {
    "sink": SQLiteSink,
    "state": SQLiteStateStore,
    "ledger": lambda path: CallbackSink(write_contact=_nothing, write_record=_nothing, ledger=path),
}


def _open_together(opener: Callable[[str], Any], path: str, workers: int) -> list[BaseException]:
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def open_and_close() -> None:
        start.wait()
        try:
            opener(path).close()
        except Exception as exc:  # every failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_six_workers_open_one_new_file_together(kind: str, tmp_path: Path) -> None:
    for trial in range(30):
        errors = _open_together(OPENERS[kind], str(tmp_path / f"{trial}.db"), 6)
        assert errors == [], f"trial {trial}: {errors[0]!r}"
