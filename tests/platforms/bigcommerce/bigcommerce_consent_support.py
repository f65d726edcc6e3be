"""Helpers of the BigCommerce consent tests, on the shared spec checker.

The customers listing is checked against BigCommerce's own ``customers.v3.yml`` and the
Subscribers API against ``subscribers.v3.yml`` (transcribed while the shared specs lack
it): both through :mod:`bigcommerce_spec_support`, the one checker of the BigCommerce
tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bigcommerce_spec_support import (
    SUBSCRIBERS_FILE,
    SUBSCRIBERS_TRANSCRIPT,
    load_spec,
    subscribers_facts,
)

from commerce_connectors.testing.simulator import LoggedRequest

__all__ = [
    "SUBSCRIBERS_FILE",
    "SUBSCRIBERS_TRANSCRIPT",
    "check_log",
    "check_request",
    "customers_query",
    "subscribers_spec",
]


def subscribers_spec() -> Mapping[str, Any]:
    """The Subscribers API facts (query parameters, fields, consents, sources, pagination
    and error fields), from the published file when present, else the transcript."""
    return subscribers_facts()


def customers_query() -> frozenset[str]:
    """Query parameters of ``GET /customers`` in the published ``customers.v3.yml``."""
    spec = load_spec()
    op = spec.find("GET", "/stores/x/v3/customers")
    assert op is not None
    return frozenset(spec._parameters(op, "query"))


def check_request(method: str, path: str, query: Iterable[tuple[str, str]]) -> list[str]:
    """What is wrong with one consent-related request per the published references."""
    return load_spec().check_request(method, path, query)


def check_log(entries: Iterable[LoggedRequest]) -> list[str]:
    """:func:`check_request` over a simulator's log (customers and subscribers only)."""
    return load_spec().check_log(e for e in entries if "/v3/customers" in e.path)
