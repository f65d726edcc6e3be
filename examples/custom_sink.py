"""A sink for your own CRM in two functions, checked with ``check_sink``, then used by a sync.

Run: ``python examples/custom_sink.py``. No network: the CRM is a small REST
API played in-process by ``httpx.MockTransport`` (swap in your CRM's base URL
and key), and the shop is the library's ToyShop simulator.

The two functions are upserts (``PUT`` by id): if a batch fails half-way, the
library sends it again, and an upsert makes that harmless.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import closing
from typing import Any
from urllib.parse import quote

import httpx

from commerce_connectors.clock import FakeClock
from commerce_connectors.sinks.custom import CallbackSink, Change, RecordRefusedError
from commerce_connectors.state import SQLiteStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.example_shop import ToyShopConnector, ToyShopSimulator
from commerce_connectors.testing.sink_conformance import check_sink


class ToyCRM:
    """Stands in for a CRM's REST API: ``PUT /contacts/{email}``, ``PUT /{kind}s/{conn}/{id}``."""

    def __init__(self) -> None:
        self.contacts: dict[str, Any] = {}
        self.records: dict[str, Any] = {}
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        body = request.content
        path = request.url.path
        if path.startswith("/contacts/"):
            self.contacts[path] = body
            return httpx.Response(200, json={"ok": True})
        if b'"total": "-' in body:  # this CRM refuses negative order totals
            return httpx.Response(422, json={"error": "total must not be negative"})
        self.records[path] = body
        return httpx.Response(200, json={"ok": True})


def crm_sink(client: httpx.Client, ledger: str, **options: Any) -> CallbackSink:
    """The whole integration: how to write a contact and how to write a record."""

    def write_contact(change: Change) -> None:
        subscribe = change.subscription is not None and change.subscription.subscribe
        response = client.put(
            f"/contacts/{quote(change.key.external_id)}",
            json={**change.fields, "subscribe": subscribe},
        )
        response.raise_for_status()  # any other failure fails the batch: it is sent again

    def write_record(change: Change) -> None:
        key = change.key
        response = client.put(
            f"/{key.kind}s/{quote(key.connection_id, safe='')}/{quote(key.external_id)}",
            json={
                "fields": change.fields,
                "contact": change.contact,
                # Historical orders must not start "made a purchase" automations.
                "fire_automations": change.trigger is not None and change.trigger.fires,
            },
        )
        if response.status_code == 422:
            raise RecordRefusedError(response.json()["error"])  # this record only: dead-lettered
        response.raise_for_status()

    return CallbackSink(
        write_contact=write_contact, write_record=write_record, ledger=ledger, **options
    )


def main(workdir: str) -> None:
    """Check the sink, then sync a simulated shop into the CRM twice."""
    crm = ToyCRM()
    client = httpx.Client(base_url="https://crm.example", transport=httpx.MockTransport(crm.handle))

    check_sink(lambda **options: crm_sink(client, ":memory:", **options))
    print("check_sink: every check passed")

    crm = ToyCRM()
    client = httpx.Client(base_url="https://crm.example", transport=httpx.MockTransport(crm.handle))
    clock = FakeClock()
    shop = ToyShopSimulator(seed=1, customers=40, orders=120, products=10, clock=clock)
    connector = ToyShopConnector(token=shop.token, transport=shop.transport(), clock=clock)
    ledger = os.path.join(workdir, "ledger.db")
    state = SQLiteStateStore(os.path.join(workdir, "state.db"))
    with crm_sink(client, ledger) as sink, closing(state):
        engine = SyncEngine(connector, sink, state, clock=clock)
        engine.run("historical")
        first = crm.requests
        print(f"historical sync: {first} CRM requests, {len(crm.contacts)} contacts")
        engine.run("historical")  # everything again: the ledger knows it is all delivered
        print(f"same data again: {crm.requests - first} CRM requests")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
