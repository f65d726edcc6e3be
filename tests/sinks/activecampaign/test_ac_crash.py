"""Kill -9 in the middle of a sync into ActiveCampaign, run again: the account equals an
uninterrupted run's.

ActiveCampaign has no idempotency keys and no transactions: a process killed between
a create and its answer leaves an object the sink never heard of. Each scenario runs
the worker (``_ac_crash_worker.py``: a seeded Shopify shop simulated in the worker,
synced historically) into an ActiveCampaign account served on 127.0.0.1 by this
process, so the account outlives the worker. The worker SIGKILLs itself at one write:
after the account answered it (the object exists, the sink never learned its id) or
just before sending it. A second, normal run on the same state file must leave the
account exactly as an uninterrupted run leaves a fresh one: no second connection,
ecomCustomer, ecomOrder, contact, tag, tagging, account link or list membership.

The kill points are taken from the uninterrupted run's own writes (the first of each
kind), so they stay meaningful when the sink's write plan changes. The scenarios run
side by side to keep the suite fast.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from _ac_crash_worker import LIST, WALL, WRITES, build

from commerce_connectors.clock import FakeClock
from commerce_connectors.testing.simulators.activecampaign import (
    ActiveCampaignRateLimit,
    ActiveCampaignSimulator,
)

WORKER = Path(__file__).with_name("_ac_crash_worker.py")
#: (name, when, the route of the write the worker dies at, which of them: 0 first, -1 last).
SCENARIOS = (
    ("connection", "answered", "/api/3/connections", 0),
    ("contact-tag", "answered", "/api/3/contactTags", 0),
    ("account-link", "answered", "/api/3/accountContacts", 0),
    ("list", "answered", "/api/3/contactLists", 0),
    ("ecom-customer", "answered", "/api/3/ecomCustomers", 0),
    ("order", "answered", "/api/3/ecomOrders", 0),
    ("cart", "sending", "/api/3/ecomOrders", -1),
)


def account() -> ActiveCampaignSimulator:
    # The worker keeps the 5 requests per second on its own fake clock; the account only
    # needs dates after the shop's (an abandoned cart's date must be in the past).
    return ActiveCampaignSimulator(
        clock=FakeClock(wall_start=WALL), rate_limit=ActiveCampaignRateLimit(limit=10**6)
    )


def duplicates(ac: ActiveCampaignSimulator) -> dict[str, list[Any]]:
    """Keys held by more than one object, per resource (empty when there are none)."""

    def twice(rows: Iterable[Any]) -> list[Any]:
        return [k for k, n in collections.Counter(rows).items() if n > 1]

    orders = ac.records("ecomOrders")
    found = {
        "connections": twice((c["service"], c["externalid"]) for c in ac.records("connections")),
        "ecomCustomers": twice(
            (c["connectionid"], c["email"].lower()) for c in ac.records("ecomCustomers")
        ),
        "ecomOrders": twice(
            (o["connectionid"], o.get("externalid") or "", o.get("externalcheckoutid") or "")
            for o in orders
        ),
        "contacts": twice(c["email"].lower() for c in ac.records("contacts")),
        "tags": twice(t["tag"].casefold() for t in ac.records("tags")),
        "contactTags": twice((t["contact"], t["tag"]) for t in ac.records("contactTags")),
        "contactLists": twice((m["contact"], m["list"]) for m in ac.records("contactLists")),
        "accounts": twice(a["name"].casefold() for a in ac.records("accounts")),
        "accountContacts": twice(a["contact"] for a in ac.records("accountContacts")),
    }
    return {k: v for k, v in found.items() if v}


def start(url: str, token: str, state: Path, spec: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own worker script
        [sys.executable, str(WORKER), url, str(state), spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ACTIVECAMPAIGN_API_TOKEN": token},
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_a_sync_killed_mid_write_then_run_again_equals_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    truth = account()
    report = build(truth.api_url, truth.token, str(tmp_path / "truth.db"), truth.transport()).run()
    assert report.ok, report.summary()
    writes = [e.route for e in truth.log.entries if e.method in WRITES]
    assert truth.count("ecomOrders") > 20
    assert any(o.get("externalcheckoutid") for o in truth.records("ecomOrders"))
    assert truth.count("contactTags") > 0
    assert truth.count("accountContacts") > 0
    assert truth.count("contactLists") > 0
    assert not duplicates(truth)
    expected = truth.snapshot()
    assert any(m[1] == LIST for m in expected["contactLists"])

    specs = {}
    for name, when, route, which in SCENARIOS:
        at = [n for n, r in enumerate(writes, 1) if r == route]
        assert at, f"the uninterrupted run made no write to {route}"
        specs[name] = f"{when}:{at[which]}"
    with contextlib.ExitStack() as stack:
        accounts = {name: account() for name in specs}
        urls = {name: stack.enter_context(ac.serve()) for name, ac in accounts.items()}
        states = {name: tmp_path / f"{name}.db" for name in specs}
        killed = {
            name: start(urls[name], accounts[name].token, states[name], spec)
            for name, spec in specs.items()
        }
        for name, proc in killed.items():
            code, _, err = finish(proc)
            assert code == -signal.SIGKILL, f"{name} was not killed: {err}"
            partial = accounts[name].snapshot()
            assert partial != expected, f"{name}: the kill came after everything was written"
        resumed = {
            name: start(urls[name], accounts[name].token, states[name], "none") for name in specs
        }
        for name, proc in resumed.items():
            code, out, err = finish(proc)
            assert code == 0, f"{name}: {err}"
            assert json.loads(out)["status"] == "ok", f"{name}: {out}"
            ac = accounts[name]
            assert duplicates(ac) == {}, name
            assert ac.snapshot() == expected, name
            assert ac.count("accountContacts") == truth.count("accountContacts"), name
