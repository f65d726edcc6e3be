"""Two processes merging into the same contacts through PostgreSQL lose no update."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from commerce_connectors.sinks.postgres import PostgresSink

WORKER = Path(__file__).with_name("_merge_worker.py")
CONTACTS = 30
ROUNDS = 12
WORKERS = ("alpha", "beta", "gamma")


def test_concurrent_merges_from_processes_lose_nothing(postgres_schema_url: str) -> None:
    # Create the tables first, so the workers race on rows, not on DDL.
    PostgresSink(postgres_schema_url).close()
    procs = [
        subprocess.Popen(  # noqa: S603 - our own worker script
            [sys.executable, str(WORKER), postgres_schema_url, w, str(CONTACTS), str(ROUNDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in WORKERS
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert json.loads(out)["written"] == CONTACTS * ROUNDS
    with PostgresSink(postgres_schema_url) as sink:
        assert sink.contact_count() == CONTACTS
        stored = sink.snapshot()
        want_tags = {f"{w}-{r}" for w in WORKERS for r in range(ROUNDS)}
        for n in range(CONTACTS):
            data = stored[next(k for k in stored if k.external_id == f"person{n}@example.com")]
            contact = data["data"]
            sources = {(s["connection_id"], s["external_id"]) for s in contact["sources"]}
            assert sources == {(f"custom:{w}", f"{w}-{n}") for w in WORKERS}, n
            assert set(contact["tags"]) == want_tags, n
        rows = sink.counts()
        assert rows["contacts"] == CONTACTS
        sources_rows = list(sink._rows("SELECT COUNT(*) FROM contact_sources"))
        assert sources_rows[0][0] == CONTACTS * len(WORKERS)
