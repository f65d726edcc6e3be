"""Shared helpers of the BigCommerce webhook tests: the published specs, a request
checker against them, an independent Standard Webhooks signer and a wired simulator.

The checker reads BigCommerce's own OpenAPI files (``shared/official-specs/bigcommerce``),
so a request the connector and the simulator both got wrong still fails here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from commerce_connectors.platforms.bigcommerce import BigCommerceConnector
from commerce_connectors.testing.simulator import LoggedRequest
from commerce_connectors.testing.simulators.bigcommerce import (
    BigCommerceSimulator,
    ConcurrentFakeClock,
)

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SPECS = SHARED / "official-specs" / "bigcommerce"
EXAMPLES = SHARED / "official-examples" / "bigcommerce"

#: Every spec file the connector's webhook path calls into.
SPEC_FILES = (
    "webhooks.v3.yml",
    "orders.v2.oas2.yml",
    "store_information.v2.yml",
    "customers.v3.yml",
    "products_catalog.v3.yml",
    "categories_catalog.v3.yml",
    "carts.v3.yml",
)


@functools.cache
def spec(name: str) -> dict[str, Any]:
    """One spec file, parsed (cached for the session; libyaml's safe loader when present)."""
    with (SPECS / name).open(encoding="utf-8") as fh:
        if hasattr(yaml, "CSafeLoader"):
            loaded: dict[str, Any] = yaml.load(fh, Loader=yaml.CSafeLoader)
        else:  # pragma: no cover - PyYAML built without libyaml
            loaded = yaml.safe_load(fh)
    return loaded


def example_bytes(name: str) -> bytes:
    """An official example payload, byte for byte."""
    return (EXAMPLES / name).read_bytes()


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


# ---------------------------------------------------------------------------- spec check


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _properties(document: Mapping[str, Any], schema: Any) -> set[str] | None:
    """Top-level property names a schema declares (``None``: it declares no object shape)."""
    schema = _resolve(document, schema)
    if not isinstance(schema, Mapping):
        return None
    names: set[str] = set()
    found = False
    for part in schema.get("allOf", []):
        sub = _properties(document, part)
        if sub is not None:
            names |= sub
            found = True
    if "properties" in schema:
        names |= set(schema["properties"])
        found = True
    return names if found else None


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + r"\Z")


def _base(document: Mapping[str, Any]) -> str:
    url = str(document["servers"][0]["url"])
    return url.split("api.bigcommerce.com", 1)[1]  # /stores/{store_hash}/v3


def check_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]] = (),
    body: Any = None,
    files: Iterable[str] = SPEC_FILES,
) -> list[str]:
    """What is wrong with one request according to the published specs (``[]``: nothing).

    The path must match a documented path template under the spec's server URL, the
    method must be documented for it, every query parameter must be declared (on the
    path or the operation), and every top-level field of a JSON body must be declared
    by the operation's request schema.
    """
    for name in files:
        document = spec(name)
        base = _template(_base(document)).pattern[: -len(r"\Z")]
        for template, item in document["paths"].items():
            if not re.fullmatch(base + _template(template).pattern, path):
                continue
            operation = item.get(method.lower())
            if operation is None:
                return [f"{method} {path}: {name} documents no {method} on {template}"]
            problems: list[str] = []
            declared = {
                p["name"]
                for p in (
                    _resolve(document, raw)
                    for raw in [
                        *item.get("parameters", []),
                        *operation.get("parameters", []),
                    ]
                )
                if p.get("in") == "query"
            }
            problems += [
                f"{method} {template}: query parameter {key!r} is not declared in {name}"
                for key, _ in query
                if key not in declared
            ]
            if body is not None:
                content = (operation.get("requestBody") or {}).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                fields = _properties(document, schema)
                if fields is None:
                    problems.append(f"{method} {template}: {name} declares no JSON body")
                elif isinstance(body, Mapping):
                    problems += [
                        f"{method} {template}: body field {key!r} is not declared in {name}"
                        for key in body
                        if key not in fields
                    ]
            return problems
    return [f"{method} {path}: no documented path matches"]


def check_log(entries: Iterable[LoggedRequest]) -> list[str]:
    """:func:`check_request` over a simulator's request log."""
    problems: list[str] = []
    for e in entries:
        problems += check_request(e.method, e.path, e.query, e.json)
    return problems


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
