"""Square API constants in one place: versions, hosts, page sizes, pacing, overlap.

Every value follows Square's published API reference
(https://developer.squareup.com/reference/square);
where Square publishes nothing (rate limits) the value is our conservative choice
and says so.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final

#: The ``Square-Version`` sent by default: the dated version of the API specification
#: this connector was written and tested against (spec ``api.json`` of 2025-08-19).
#: Pass ``square_version=`` to pin another one.
SQUARE_VERSION: Final = "2025-08-20"
#: The header carrying it.
SQUARE_VERSION_HEADER: Final = "Square-Version"

#: API hosts per environment.
PRODUCTION_BASE_URL: Final = "https://connect.squareup.com"
SANDBOX_BASE_URL: Final = "https://connect.squareupsandbox.com"
ENVIRONMENTS: Final = {"production": PRODUCTION_BASE_URL, "sandbox": SANDBOX_BASE_URL}

# --- identifiers ---------------------------------------------------------------------------
#: What a Square id the connector puts in a URL path looks like (locations, merchants,
#: customers, orders, payments, webhook subscriptions). Square's ids are base-62 strings
#: (``L88917AVBK2S5``, ``CAISENgvlJ6jLWAzERDzjyHVybY``), some with ``_`` or ``-``
#: (``wbhk_…``, refund ids ``<payment id>_<suffix>``); the spec caps id fields at 255
#: characters (``maxLength`` 32-255). Nothing else (no ``/``, ``.``, ``%``, ``?``) is ever
#: part of one, so anything else is refused rather than sent: a value must never be
#: able to change which path a request goes to.
SAFE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")

# --- page sizes ---------------------------------------------------------------------------
#: ListPayments: default and maximum 100.
PAYMENTS_PAGE_SIZE: Final = 100
#: SearchCustomers: default 100 (advisory); ListCustomers accepts 1-100.
CUSTOMERS_PAGE_SIZE: Final = 100
#: SearchCatalogObjects: "max 1000 (advisory)"; 100 keeps responses (with related
#: objects) small and is the ListCatalog page size.
CATALOG_PAGE_SIZE: Final = 100
#: BatchRetrieveOrders: order ids per call; "A maximum of 100 orders can be retrieved per
#: request" (the spec's ``BatchRetrieveOrdersRequest.order_ids``), one ListPayments page.
ORDERS_BATCH_SIZE: Final = 100
#: BatchRetrieveCatalogObjects: object ids per call (for line-item enrichment).
CATALOG_BATCH_SIZE: Final = 100

# --- time ---------------------------------------------------------------------------------
#: ListPayments filters ``begin_time`` (on created_at) and defaults it to "now minus one
#: year", which would hide updates (refunds, captures) of older payments: we always send
#: this instead (Square was founded in 2009; no payment is older).
PAYMENTS_BEGIN_TIME: Final = _dt.datetime(2009, 1, 1, tzinfo=_dt.timezone.utc)
#: Subtracted from ``since`` before it goes into a Square filter. Square's ranges are
#: inclusive or (catalog ``begin_time``) exclusive, with millisecond timestamps; reading
#: one second more and letting the base class filter exactly is correct in every case.
FILTER_SLACK: Final = _dt.timedelta(seconds=1)
#: POS offline orders and payments "may arrive up to 72 hours" late with their original
#: timestamps; reads are eventually consistent besides. Incremental syncs re-read this far.
RECOMMENDED_OVERLAP: Final = _dt.timedelta(hours=72, minutes=5)

# --- pacing -------------------------------------------------------------------------------
#: Square publishes no rate limits ("we don't document the limits"). The connector paces
#: itself at this many requests per second, in bursts of at most PACER_BURST, and relies on
#: backoff with jitter for the 429s that still come.
PACER_RATE: Final = 10.0
PACER_BURST: Final = 10.0
#: How many times an INVALID_CURSOR restarts a walk before giving up.
MAX_CURSOR_RESTARTS: Final = 3

# --- scopes (for error messages) ----------------------------------------------------------
SCOPES: Final = {
    "customers": "CUSTOMERS_READ",
    "orders": "ORDERS_READ and PAYMENTS_READ",
    "products": "ITEMS_READ",
    "locations": "MERCHANT_PROFILE_READ",
}
