"""Sync a (simulated) Tiendanube store into a (simulated) ActiveCampaign account.

Runs offline: both APIs are the library's simulators, on a fake clock, so the
store's 2 requests/s and ActiveCampaign's 5 requests/s cost no real time. It
runs a historical sync, shows what the account holds (connection, contacts on the
list, orders with ``source`` 0, abandoned carts), runs it again to show nothing is
written twice, syncs a new purchase (``source`` 1) and erases one shopper's
e-commerce data.

Against a real account, build the sink with your API URL and key instead::

    ActiveCampaignSink(api_url="https://<account>.api-us1.com", api_token=os.environ[...])

    python examples/activecampaign_sync.py
"""

from __future__ import annotations

import collections
import datetime as dt

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.protocols import Stream
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink, StoreInfo
from commerce_connectors.state import MemoryStateStore
from commerce_connectors.sync import SyncEngine
from commerce_connectors.testing.simulators.activecampaign import ActiveCampaignSimulator
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator


def main() -> None:
    clock = FakeClock(wall_start=dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc))
    shop = TiendanubeSimulator(
        seed=5, customers=30, orders=80, products=20, checkouts=12, clock=clock
    )
    clock.advance(7 * 3600)  # past the 6-hour abandonment delay of the newest checkouts
    account = ActiveCampaignSimulator(clock=clock)

    connector = TiendanubeConnector(
        store_id=shop.store_id,
        access_token=shop.token,
        user_agent="ExampleCRM (integrations@example.com)",
        base_url=shop.base_url,
        transport=shop.transport(),
        clock=clock,
    )
    sink = ActiveCampaignSink(
        api_url=account.api_url,
        api_token=account.token,
        list_name="Master Contact List",  # consenting shoppers only
        stores={connector.connection_id: StoreInfo("Mi Tienda", url="https://mitienda.example")},
        transport=account.transport(),
        clock=clock,
    )
    engine = SyncEngine(connector, sink, MemoryStateStore(), clock=clock)

    started = clock.monotonic()
    print(engine.run("historical").summary())
    print(f"  {len(account.log)} ActiveCampaign requests, 429s: {account.rate_limited}, "
          f"{(clock.monotonic() - started) / 60:.1f} simulated minutes")  # fmt: skip

    (conn,) = account.records("connections")
    print(f"connection: {conn['service']} / {conn['externalid']} -> {conn['name']!r}")
    orders = [o for o in account.orders() if o.get("externalid")]
    carts = [o for o in account.orders() if not o.get("externalid")]
    print("orders by source:", dict(collections.Counter(o["source"] for o in orders)))
    print(f"abandoned carts: {len(carts)}, e.g. abandoned {carts[0]['abandonedDate']}"
          if carts else "abandoned carts: none")  # fmt: skip
    contacts = account.records("contacts")
    listed = [c for c in contacts if account.contact(c["email"])["lists"]]  # type: ignore[index]
    print(f"contacts: {len(contacts)}, on the list (they accepted marketing): {len(listed)}")

    before = len(account.log)
    report = engine.run("historical")
    print(f"second historical run: {len(account.log) - before} requests, "
          f"orders unchanged: {report.stream(Stream.ORDERS).unchanged}")  # fmt: skip

    # A shopper comes back and buys: the incremental sync sends the new order with
    # source 1, so ActiveCampaign's "makes a purchase" automation starts.
    checkout = shop.stores["checkouts"].query()[0]
    clock.advance(600)
    shop.convert_checkout(checkout.id)
    clock.advance(600)
    print(engine.run().summary())
    new_order = max(
        (o for o in account.orders() if o.get("externalid")), key=lambda o: int(o["id"])
    )
    print(f"new order {new_order['externalid']}: source {new_order['source']}, "
          f"total {new_order['totalPrice']} (minor units of {new_order['currency']})")  # fmt: skip

    someone = orders[0]["email"]
    erased = sink.erase(connector.connection_id, email=someone)
    print(f"erased {erased} e-commerce objects of {someone}")
    sink.close()


if __name__ == "__main__":
    main()
