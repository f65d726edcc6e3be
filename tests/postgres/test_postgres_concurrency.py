"""Two processes merging into the same contacts through PostgreSQL lose no update."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from pg_server import need_psycopg

need_psycopg()  # skipped without the postgres extra, except in CI
from commerce_connectors.sinks.postgres import PostgresSink  # noqa: E402

WORKER = Path(__file__).with_name("_merge_worker.py")
CONTACTS = 30
ROUNDS = 12
#: Enough for the unlocked writers to lose a merge on every run seen (several contacts each time).
UNLOCKED_ROUNDS = 4
WORKERS = ("alpha", "beta", "gamma")


def _race(url: str, start: Path, rounds: int, *extra: str) -> None:
    """Run the workers, all starting to write at the same moment; each must succeed."""
    # Create the tables first, so the workers race on rows, not on DDL.
    PostgresSink(url).close()
    procs = [
        subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, str(WORKER), url, w, str(CONTACTS), str(rounds), str(start), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in WORKERS
    ]
    try:
        ready = [start.with_name(f"{start.name}.{w}") for w in WORKERS]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready):
            assert time.monotonic() < deadline, "the workers never got ready"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.005)
        start.touch()  # the barrier: every worker is connected and waiting
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            assert json.loads(out)["written"] == CONTACTS * rounds
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _lost_contacts(url: str, rounds: int) -> list[int]:
    """The contacts missing a worker's source or a round's tag."""
    want_tags = {f"{w}-{r}" for w in WORKERS for r in range(rounds)}
    lost = []
    with PostgresSink(url) as sink:
        stored = sink.snapshot()
        for n in range(CONTACTS):
            data = stored[next(k for k in stored if k.external_id == f"person{n}@example.com")]
            contact = data["data"]
            sources = {(s["connection_id"], s["external_id"]) for s in contact["sources"]}
            if sources != {(f"custom:{w}", f"{w}-{n}") for w in WORKERS} or (
                set(contact["tags"]) != want_tags
            ):
                lost.append(n)
    return lost


def test_concurrent_merges_from_processes_lose_nothing(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    _race(postgres_schema_url, tmp_path / "start", ROUNDS)
    assert _lost_contacts(postgres_schema_url, ROUNDS) == []
    with PostgresSink(postgres_schema_url) as sink:
        assert sink.contact_count() == CONTACTS
        rows = sink.counts()
        assert rows["contacts"] == CONTACTS
        sources_rows = list(sink._rows("SELECT COUNT(*) FROM contact_sources"))
        assert sources_rows[0][0] == CONTACTS * len(WORKERS)


def test_the_race_is_real_writers_without_locks_lose_merges(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    # The same race with the sink's locks turned off: merges are lost, so the test
    # above, which passes, could fail.
    _race(postgres_schema_url, tmp_path / "start", UNLOCKED_ROUNDS, "--without-locks")
    lost = _lost_contacts(postgres_schema_url, UNLOCKED_ROUNDS)
    print(f"without locks, {len(lost)} of {CONTACTS} contacts lost a merge")
    assert lost != []
