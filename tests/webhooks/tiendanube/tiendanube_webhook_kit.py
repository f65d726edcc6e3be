"""Shared helpers of the Tiendanube webhook tests: the published spec as a checker,
the official example delivery, and a simulator + connector pair.

The spec checker reads ``shared/official-specs/tiendanube/resources/*.md`` (the
platform's own Markdown docs): every ``### METHOD /path`` heading is an endpoint,
the ``Parameter`` table under it lists its query parameters, and the resource's
``Property`` table lists the fields a body may carry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.tiendanube import TiendanubeConnector
from commerce_connectors.testing.simulators.tiendanube import TiendanubeSimulator
from commerce_connectors.webhooks import parse_event, verify

__all__ = [
    "SHARED",
    "SPECS",
    "UA",
    "Spec",
    "connector",
    "official_example_delivery",
    "parse_event",
    "simulator",
    "spec",
    "verify",
]

SHARED = Path(__file__).parents[3] / ".." / "shared"
SPECS = SHARED / "official-specs" / "tiendanube" / "resources"
UA = "WebhookTests (dev@example.com)"
START = dt.datetime(2024, 10, 1, 12, 0, tzinfo=dt.timezone.utc)

_ENDPOINT = re.compile(r"^### (GET|POST|PUT|DELETE) (/\S*)\s*$")
_SECTION_END = re.compile(r"^#{2,3} ")
_PREFIX = re.compile(r"^/(?:v1|\d{4}-\d{2})/\d+(/.*)$")


def _table_first_column(lines: Iterable[str], header: str) -> set[str]:
    """First-column values of every Markdown table whose first header cell is ``header``."""
    out: set[str] = set()
    inside = False
    for line in lines:
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if not line.strip().startswith("|"):
            inside = False
            continue
        if cells and cells[0] == header:
            inside = True
            continue
        if inside and cells and not set(cells[0]) <= {"-", ":", " "}:
            out.add(cells[0])
    return out


@attrs.frozen
class Endpoint:
    method: str
    template: str
    params: frozenset[str]
    fields: frozenset[str]

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.template))
        return method == self.method and re.fullmatch(pattern, path) is not None


@attrs.frozen
class Spec:
    """The documented endpoints, their query parameters and their resources' fields."""

    endpoints: tuple[Endpoint, ...]

    def problems(
        self, method: str, path: str, query: Iterable[str] = (), body: Any = None
    ) -> list[str]:
        """What in one request the published docs do not declare (empty: all declared)."""
        m = _PREFIX.match(path)
        relative = m.group(1) if m else path
        found = [e for e in self.endpoints if e.matches(method.upper(), relative)]
        if not found:
            return [f"{method} {relative}: no such endpoint in the docs"]
        endpoint = found[0]
        out = [
            f"{method} {endpoint.template}: query parameter {name!r} is not documented"
            for name in query
            if name not in endpoint.params
        ]
        if body is not None:
            if method.upper() in ("GET", "DELETE"):
                out.append(f"{method} {endpoint.template}: sends a body")
            elif not isinstance(body, Mapping):
                out.append(f"{method} {endpoint.template}: the body is not a JSON object")
            else:
                out.extend(
                    f"{method} {endpoint.template}: body field {key!r} is not a property"
                    for key in body
                    if key not in endpoint.fields
                )
        return out


def spec(files: Iterable[str] = ("webhook", "order", "customer", "product", "store")) -> Spec:
    """Read the endpoints of the given resource files."""
    endpoints: list[Endpoint] = []
    for name in files:
        lines = (SPECS / f"{name}.md").read_text(encoding="utf-8").splitlines()
        fields = frozenset(_table_first_column(lines, "Property"))
        for i, line in enumerate(lines):
            m = _ENDPOINT.match(line)
            if not m:
                continue
            section: list[str] = []
            for following in lines[i + 1 :]:
                if _SECTION_END.match(following):
                    break
                section.append(following)
            endpoints.append(
                Endpoint(
                    m.group(1),
                    m.group(2).rstrip("/") or "/",
                    frozenset(_table_first_column(section, "Parameter")),
                    fields,
                )
            )
    return Spec(tuple(endpoints))


def official_example_delivery() -> tuple[bytes, bytes]:
    """The webhook.md "Example webhook content" block: (raw bytes as published, as JSON).

    The docs write it as a JavaScript object (single quotes); the JSON form swaps the
    quotes and nothing else.
    """
    text = (SPECS / "webhook.md").read_text(encoding="utf-8")
    block = text.split("#### Example webhook content", 1)[1]
    raw = block.split("```javascript\n", 1)[1].split("```", 1)[0]
    return raw.encode(), raw.replace("'", '"').encode()


def simulator(**options: Any) -> TiendanubeSimulator:
    """A small seeded store on a fake clock (nothing really waits)."""
    sizes: dict[str, Any] = {"customers": 4, "orders": 6, "products": 3, "checkouts": 2}
    sizes["seed"] = 5
    sizes.update(options)
    sizes.setdefault("clock", FakeClock(wall_start=START))
    return TiendanubeSimulator(**sizes)


def connector(sim: TiendanubeSimulator, **options: Any) -> TiendanubeConnector:
    """A connector wired to ``sim`` in-process (``transport=`` may be overridden)."""
    args: dict[str, Any] = {
        "store_id": sim.store_id,
        "access_token": sim.token,
        "user_agent": UA,
        "base_url": sim.base_url,
        "transport": sim.transport(),
        "clock": sim.clock,
    }
    args.update(options)
    return TiendanubeConnector(**args)
