"""Reads the orders of a served Shopify simulator through bulk operations; prints the ids.

Usage: python _bulk_kill_worker.py BASE_URL TOKEN JOURNAL_DIR

The operation's id goes to a :class:`FileBulkJournal` in JOURNAL_DIR, so a second run
after this process was killed re-attaches to it. Polls are fast (real clock, 20 ms) so
the test stays short; the simulator's own clock decides when the export is done.
"""

from __future__ import annotations

import json
import sys

import attrs

from commerce_connectors.platforms.shopify import BulkOptions, FileBulkJournal, ShopifyConnector


def main() -> None:
    base_url, token, journal = sys.argv[1:4]
    options = BulkOptions(journal=FileBulkJournal(journal), poll_min=0.02, poll_max=0.05)
    conn = ShopifyConnector(shop="acme.myshopify.com", access_token=token, base_url=base_url,
                            bulk=options)  # fmt: skip
    with conn:
        ids = [order.external_id for order in conn.iter_orders()]
    print(json.dumps({"ids": ids, "stats": attrs.asdict(conn.bulk_stats)}))


if __name__ == "__main__":
    main()
