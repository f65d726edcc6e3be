"""One worker of the concurrent-merge test: merge its own source into the same contacts, often.

Usage: ``python _merge_worker.py URL WORKER CONTACTS ROUNDS START [--without-locks]``.
Once connected, it creates the file ``START.WORKER`` and waits for ``START`` to
exist (every worker starts writing at once). Each round writes one batch
holding every contact (in a shuffled order), seen from connection
``custom:WORKER`` with the tag ``WORKER-ROUND``. Prints the ack counts as JSON.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import sys
import time
from pathlib import Path

from commerce_connectors.mapping import CONTACT_MAP
from commerce_connectors.protocols import SinkBatch, SinkItem
from commerce_connectors.rules import Contact, ContactKey, IdentityKind, RecordKey, SourceRef
from commerce_connectors.sinks.postgres import PostgresSink

T0 = _dt.datetime(2024, 5, 1, tzinfo=_dt.timezone.utc)


def item(worker: str, n: int, round_no: int) -> SinkItem:
    email = f"person{n}@example.com"
    at = T0 + _dt.timedelta(seconds=round_no)
    contact = Contact(
        ContactKey(IdentityKind.EMAIL, email),
        at,
        email=email,
        first_name=f"{worker}-{round_no}",
        tags=(f"{worker}-{round_no}",),
        sources=[SourceRef("custom", f"custom:{worker}", f"{worker}-{n}", at)],
    )
    return SinkItem(RecordKey("", "contact", email), contact, CONTACT_MAP.apply(contact).fields)


def main() -> None:
    url, worker, contacts, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    start = Path(sys.argv[5])
    if sys.argv[6:] == ["--without-locks"]:
        # Only to show the test can fail: writers that do not serialise lose merges.
        PostgresSink._locks = lambda self, batch: []  # type: ignore[method-assign]
    shuffle = random.Random(worker)
    written = 0
    with PostgresSink(url) as sink:
        start.with_name(f"{start.name}.{worker}").touch()
        deadline = time.monotonic() + 60
        while not start.exists():
            if time.monotonic() > deadline:
                raise SystemExit("never told to start")
            time.sleep(0.002)
        for round_no in range(rounds):
            order = list(range(contacts))
            shuffle.shuffle(order)
            batch = SinkBatch([item(worker, n, round_no) for n in order], f"custom:{worker}")
            written += len(sink.write(batch).outcomes)
    print(json.dumps({"worker": worker, "written": written}))


if __name__ == "__main__":
    main()
