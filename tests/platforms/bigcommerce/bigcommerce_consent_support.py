"""Helpers of the BigCommerce consent tests: what BigCommerce publishes, and a checker.

The customers listing is checked against BigCommerce's own ``customers.v3.yml`` (in
``shared/official-specs/bigcommerce``). The Subscribers API's reference,
``reference/subscribers.v3.yml``, is not among the shared specs; it is transcribed
below from the same snapshot of github.com/bigcommerce/docs (commit
``24f580ca6d2981728b7ed70a2049e00fc602c335``, the one the shared specs come from),
with its line numbers. When the file is added to the shared specs,
:func:`subscribers_spec` reads it instead and a test compares the two.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from commerce_connectors.testing.simulator import LoggedRequest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SPECS = SHARED / "official-specs" / "bigcommerce"
SUBSCRIBERS_FILE = SPECS / "subscribers.v3.yml"

#: reference/subscribers.v3.yml @ 24f580ca, transcribed.
SUBSCRIBERS_TRANSCRIPT: Mapping[str, Any] = {
    # line 16: servers[0].url; line 28: the path.
    "base": "/stores/{store_hash}/v3",
    "path": "/customers/subscribers",
    # lines 38-52 ($refs), defined at lines 720-848. "id" is marked required (line 838)
    # although the operation says "Optional filter parameters can be passed in" (line
    # 35): a mistake of the reference, not a requirement the API enforces.
    "query": frozenset(
        {
            "email",
            "first_name",
            "last_name",
            "source",
            "order_id",
            "date_created",
            "date_created:min",
            "date_created:max",
            "date_modified",
            "date_modified:min",
            "date_modified:max",
            "page",
            "limit",
            "id",
            "id:in",
        }
    ),
    # subscriber_Full (lines 359-388) = subscriber_Base (lines 389-438) + id, dates.
    "fields": frozenset(
        {
            "id",
            "email",
            "first_name",
            "last_name",
            "source",
            "order_id",
            "channel_id",
            "consents",
            "date_created",
            "date_modified",
        }
    ),
    # lines 382-385 (items enum) and 416 ("Values are: storefront, order, or custom").
    "consents": frozenset({"marketing_newsletter", "abandoned_cart"}),
    "sources": frozenset({"storefront", "order", "custom"}),
    # CollectionMeta.pagination (lines 510-564).
    "pagination": frozenset({"total", "count", "per_page", "current_page", "total_pages", "links"}),
    # ErrorResponse (lines 620-647) and NotFound (lines 667-682).
    "error": frozenset({"status", "title", "type", "instance", "errors"}),
}


@functools.cache
def _load(name: str) -> dict[str, Any]:
    with (SPECS / name).open(encoding="utf-8") as fh:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loaded: dict[str, Any] = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    return loaded


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _properties(document: Mapping[str, Any], schema: Any) -> set[str]:
    schema = _resolve(document, schema)
    names: set[str] = set()
    if isinstance(schema, Mapping):
        for part in schema.get("allOf", []):
            names |= _properties(document, part)
        names |= set(schema.get("properties", {}))
    return names


def _query_names(document: Mapping[str, Any], path: str) -> frozenset[str]:
    item = document["paths"][path]
    raw = [*item.get("parameters", []), *item["get"].get("parameters", [])]
    params = (_resolve(document, p) for p in raw)
    return frozenset(p["name"] for p in params if p.get("in") == "query")


def subscribers_spec() -> Mapping[str, Any]:
    """The Subscribers API facts: from the published file when present, else the transcript."""
    if not SUBSCRIBERS_FILE.exists():
        return SUBSCRIBERS_TRANSCRIPT
    document = _load(SUBSCRIBERS_FILE.name)
    schemas = document["components"]["schemas"]
    full = schemas["subscriber_Full"]
    consents = _resolve(document, full["allOf"][1]["properties"]["consents"])
    return {
        **SUBSCRIBERS_TRANSCRIPT,
        "query": _query_names(document, "/customers/subscribers"),
        "fields": frozenset(_properties(document, full)),
        "consents": frozenset(consents["items"]["enum"]),
        "pagination": frozenset(
            _properties(document, schemas["CollectionMeta"]["properties"]["pagination"])
        ),
    }


def customers_query() -> frozenset[str]:
    """Query parameters of ``GET /customers`` in the published ``customers.v3.yml``."""
    return _query_names(_load("customers.v3.yml"), "/customers")


def check_request(method: str, path: str, query: Iterable[tuple[str, str]]) -> list[str]:
    """What is wrong with one consent-related request per the published references."""
    base = "/stores/"
    if method != "GET" or not path.startswith(base):
        return [f"{method} {path}: not a documented read"]
    tail = path.split("/", 3)[3]  # after /stores/{hash}/
    if tail == "v3/customers":
        declared, name = customers_query(), "customers.v3.yml"
    elif tail == "v3/customers/subscribers":
        declared, name = subscribers_spec()["query"], "subscribers.v3.yml"
    else:
        return [f"{method} {path}: not a customers or subscribers listing"]
    problems = [
        f"{method} /{tail}: query parameter {key!r} is not declared in {name}"
        for key, _ in query
        if key not in declared
    ]
    for key, value in query:
        if key == "limit" and not 1 <= int(value) <= 250:
            problems.append(f"{method} /{tail}: limit {value} outside 1..250")
    return problems


def check_log(entries: Iterable[LoggedRequest]) -> list[str]:
    """:func:`check_request` over a simulator's log (customers and subscribers only)."""
    problems: list[str] = []
    for e in entries:
        if "/v3/customers" in e.path:
            problems += check_request(e.method, e.path, e.query)
    return problems
