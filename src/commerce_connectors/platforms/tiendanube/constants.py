"""Tiendanube / Nuvemshop API constants, in one place.

Every value follows Tiendanube's published API documentation
(https://tiendanube.github.io/api-documentation/) unless its comment says it is a
decision of ours. Header names and rate-limit defaults shared with the HTTP engine
live in :mod:`commerce_connectors._http.constants`.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final

#: The dated API version current in the docs (``https://api.tiendanube.com/2025-03/{store_id}``).
API_VERSION: Final = "2025-03"
#: The legacy path version, still documented by the (deprecated) GitHub docs.
LEGACY_API_VERSION: Final = "v1"
#: What an ``api_version`` argument may look like: ``v1`` or a dated ``YYYY-MM`` version.
API_VERSION_PATTERN: Final = re.compile(r"^(v1|\d{4}-\d{2})$")

#: API hosts per brand: Tiendanube (Spanish-speaking markets) and Nuvemshop (Brazil).
API_HOSTS: Final = {
    "tiendanube": "https://api.tiendanube.com",
    "nuvemshop": "https://api.nuvemshop.com.br",
}

#: What a Tiendanube id (store, order, customer, product, webhook) looks like: ASCII digits
#: ("the unique numeric identifier"). ``str.isdigit`` is not enough: it accepts
#: full-width and other Unicode digits ("１２３", "²"), which must never reach a URL path.
NUMERIC_ID: Final = re.compile(r"[0-9]{1,19}")

#: Largest ``per_page`` the API accepts; we always ask for it (the default is 30).
MAX_PAGE_SIZE: Final = 200
PAGE_SIZE: Final = MAX_PAGE_SIZE
#: Deepest result a page-number walk may reach (``page * per_page``). Reported for the
#: 2025-03 API by third-party tooling, not verified in the official docs; the connector
#: starts a new window (``since_id`` / ``created_at_max``) before reaching it.
MAX_RESULT_WINDOW: Final = 10_000

#: Response headers.
TOTAL_COUNT_HEADER: Final = "X-Total-Count"
MAIN_LANGUAGE_HEADER: Final = "X-Main-Language"
#: The 404 description past the last page starts with this (observed wording; we also
#: accept any 404 on a page after the first as the end of the walk).
LAST_PAGE_MARKER: Final = "last page"

#: Abandoned checkouts are kept this long after creation.
CHECKOUT_RETENTION: Final = _dt.timedelta(days=30)
#: "A cart can be created up to 6 hours after the purchase has been abandoned."
CHECKOUT_LATE_APPEARANCE: Final = _dt.timedelta(hours=6)
#: Re-read window for incremental syncs: the late appearance of checkouts plus a margin
#: (the connector-wide overlap has to cover the slowest stream).
DEFAULT_OVERLAP: Final = CHECKOUT_LATE_APPEARANCE + _dt.timedelta(minutes=5)
#: The filters a walk may continue with past ``MAX_RESULT_WINDOW``, per collection: the
#: ones each resource's "GET" parameter table documents (checkouts have no
#: ``created_at_min``).
WINDOW_FILTERS: Final[dict[str, frozenset[str]]] = {
    "customers": frozenset({"since_id", "created_at_min", "created_at_max"}),
    "orders": frozenset({"since_id", "created_at_min", "created_at_max"}),
    "products": frozenset({"since_id", "created_at_min", "created_at_max"}),
    "checkouts": frozenset({"since_id", "created_at_max"}),
}
#: How many extra walks repair a walk the store changed under (decision of ours).
MAX_REPAIR_WALKS: Final = 2

#: ``payment_status=any`` (the default) "means authorized, pending and paid orders"
#: according to the order resource docs, so orders of the other payment statuses are
#: read by one more walk each. ``None`` is the default walk (no filter).
ORDER_PAYMENT_STATUS_WALKS: Final[tuple[str | None, ...]] = (
    None,
    "refunded",
    "voided",
    "abandoned",
)

#: Where an order can be opened in the store admin (decision of ours: the docs give
#: no order URL). ``{domain}`` is the store's ``original_domain`` from ``GET /store``.
ADMIN_ORDER_URL_TEMPLATE: Final = "https://{domain}/admin/v2/orders/{id}"

#: Languages tried, in order, when neither the caller nor the store names one.
FALLBACK_LANGUAGES: Final = ("es", "pt", "en")
