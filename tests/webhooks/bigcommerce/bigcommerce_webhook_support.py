"""Shared helpers of the BigCommerce webhook tests: an independent Standard Webhooks
signer and a wired simulator; the spec checker is the platform tests' one.

The checker (``tests/platforms/bigcommerce/bigcommerce_spec_support.py``) reads
BigCommerce's own OpenAPI files (``shared/official-specs/bigcommerce``), once per test
process, so a request the connector and the simulator both got wrong still fails here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

# The one spec checker lives with the platform tests; both suites share it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "platforms" / "bigcommerce"))
from bigcommerce_spec_support import (
    EXAMPLES,
    SHARED,
    SPECS,
    check_log,
    check_request,
    example_bytes,
    spec,
)

__all__ = [
    "EXAMPLES",
    "SHARED",
    "SPECS",
    "body_of",
    "check_log",
    "check_request",
    "example_bytes",
    "sign",
    "spec",
    "spec_scope_titles",
    "world",
]


def spec_scope_titles() -> set[str]:
    """Every scope the webhooks reference documents (its callback schemas' titles)."""
    schemas = spec("webhooks.v3.yml")["components"]["schemas"]
    return {
        s["title"]
        for s in schemas.values()
        if isinstance(s, dict) and str(s.get("title", "")).startswith("store/")
    }


# ---------------------------------------------------------------------------- signing


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks ``v1,<base64>``, computed here with hmac/hashlib/base64 only."""
    mac = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


# ---------------------------------------------------------------------------- wiring


def world(
    **sim_options: Any,
) -> tuple[ConcurrentFakeClock, BigCommerceSimulator, BigCommerceConnector]:
    """A fake clock, a small simulator on it, and a connector to the simulator."""
    clock = ConcurrentFakeClock()
    options: dict[str, Any] = {"seed": 7, "customers": 6, "orders": 8, "products": 5, "carts": 2}
    options.update(sim_options)
    sim = BigCommerceSimulator(clock=clock, **options)
    conn = BigCommerceConnector(
        store_hash=sim.store_hash,
        access_token=sim.access_token,
        transport=sim.transport(),
        clock=clock,
        concurrency=1,
    )
    return clock, sim, conn


def body_of(
    scope: str, data: Mapping[str, Any], store_hash: str, created_at: int = 1700000000
) -> bytes:
    """A BigCommerce callback body written by the test (documented shape)."""
    payload = {
        "scope": scope,
        "store_id": "1025646",
        "data": dict(data),
        "hash": hashlib.sha1(json.dumps(data).encode(), usedforsecurity=False).hexdigest(),
        "created_at": created_at,
        "producer": f"stores/{store_hash}",
    }
    return json.dumps(payload).encode()
