"""Syncs a seeded Shopify shop into an ActiveCampaign account served over HTTP; may SIGKILL
itself on cue.

Usage: python _ac_crash_worker.py API_URL STATE_DB [answered:N | sending:N | none]

The API key comes from ``ACTIVECAMPAIGN_API_TOKEN``. The shop is simulated in this
process (the same seeded store in every process); the account lives in the test's
process, so what it stored survives the kill. The sync runs on a fake clock: the
account's 5 requests per second are kept without waiting. ``answered:N`` dies right
after the N-th write (POST, PUT, DELETE) to the account was answered, so the account
has it and the sink never learns; ``sending:N`` dies just before the N-th write is
sent. Prints the run's status and how many writes it sent, as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys

import httpx

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.shopify import ShopifyConnector
from commerce_connectors.sinks.activecampaign import TOKEN_ENV, ActiveCampaignSink
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.simulators.shopify import ShopifySimulator

#: The simulated shop's history ends here; every process's clock starts here.
WALL = dt.datetime(2024, 10, 1, tzinfo=dt.timezone.utc)
LIST = "Master Contact List"
WRITES = frozenset({"POST", "PUT", "DELETE"})


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch(httpx.BaseTransport):
    """Forwards to real HTTP; on the N-th write, dies before sending it or after its answer."""

    def __init__(self, spec: str) -> None:
        kind, _, n = spec.partition(":")
        self.kind, self.target = kind, int(n or 0)
        self.writes = 0
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hit = False
        if request.method in WRITES:
            self.writes += 1
            hit = self.writes == self.target
        if hit and self.kind == "sending":
            die()
        response = self.inner.handle_request(request)
        response.read()
        if hit and self.kind == "answered":
            die()
        return response

    def close(self) -> None:
        self.inner.close()


def build(
    api_url: str, api_token: str, state_path: str, transport: httpx.BaseTransport
) -> SyncEngine:
    """The same shop, connector, sink and state store in every process."""
    clock = FakeClock(wall_start=WALL)
    shop = ShopifySimulator(
        seed=41,
        customers=12,
        orders=24,
        products=5,
        checkouts=6,
        guest_share=0.25,
        shop="crash-test.myshopify.com",
        shop_name="Crash Test",
        currency="EUR",
        clock=clock,
    )
    connector = ShopifyConnector(
        shop=shop.shop, access_token=shop.token, transport=shop.transport(), clock=clock
    )
    sink = ActiveCampaignSink(
        api_url=api_url, api_token=api_token, list_name=LIST, transport=transport, clock=clock
    )
    return SyncEngine(connector, sink, SQLiteStateStore(state_path), clock=clock)


def main() -> None:
    api_url, state_path = sys.argv[1], sys.argv[2]
    switch = KillSwitch(sys.argv[3] if len(sys.argv) > 3 else "none")
    report = build(api_url, os.environ[TOKEN_ENV], state_path, switch).run()
    print(json.dumps({"status": report.status.value, "writes": switch.writes}))


if __name__ == "__main__":
    main()
