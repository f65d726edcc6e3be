"""Shared pieces of the Square webhook tests: the published spec, a recording transport.

The spec check reads Square's own OpenAPI document (``shared/official-specs/square/
api.json``), never our reading of it: every request the connector sends is checked for
a declared path, method, query parameters and body fields, and the simulator's answers
and notifications for declared fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from commerce_connectors.clock import FakeClock
from commerce_connectors.platforms.square import SquareConnector
from commerce_connectors.testing.simulators.square import SquareSimulator

SHARED = Path(__file__).parents[3] / ".." / "shared"
SPEC_FILE = SHARED / "official-specs" / "square" / "api.json"
EXAMPLES = SHARED / "official-examples" / "square"


class SquareSpec:
    """Checks requests and JSON bodies against Square's OpenAPI document.

    Every method returns a list of problems (empty: conforms), each naming where.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.paths: Mapping[str, Any] = document["paths"]
        self.schemas: Mapping[str, Any] = document["components"]["schemas"]
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", t) + "$"), t) for t in self.paths
        ]

    def event_types(self) -> dict[str, str]:
        """Every event type the spec publishes, to its schema's name."""
        return {
            s["x-webhook"]["event"]: name
            for name, s in self.schemas.items()
            if isinstance(s, Mapping) and "x-webhook" in s
        }

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def operation(self, method: str, path: str) -> tuple[str | None, Mapping[str, Any] | None]:
        """``(template, operation)`` for a concrete path; ``None`` parts when undeclared."""
        for regex, template in self._templates:
            if regex.match(path):
                return template, self.paths[template].get(method.lower())
        return None, None

    def check_request(
        self, method: str, path: str, query: Sequence[tuple[str, str]], body: Any
    ) -> list[str]:
        """Problems of one request: path, method, query names and types, body fields."""
        template, op = self.operation(method, path)
        if template is None:
            return [f"{method} {path}: no such path in the spec"]
        if op is None:
            return [f"{method} {template}: the path has no {method} operation"]
        problems: list[str] = []
        declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
        for name, value in query:
            param = declared.get(name)
            if param is None:
                problems.append(f"{method} {template}: query parameter {name!r} not declared")
                continue
            kind = self._resolve(param.get("schema", {})).get("type")
            if kind == "boolean" and value not in ("true", "false"):
                problems.append(f"?{name}={value}: not a boolean")
            if kind == "integer" and not value.lstrip("-").isdigit():
                problems.append(f"?{name}={value}: not an integer")
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            if content is None:
                problems.append(f"{method} {template}: sends a body the operation does not take")
            else:
                problems += self.check_json(body, content["schema"], request=True)
        elif content is not None and op["requestBody"].get("required"):
            problems.append(f"{method} {template}: the required body is missing")
        return problems

    def check_httpx(self, request: httpx.Request) -> list[str]:
        """:meth:`check_request` of a request as httpx sent it."""
        body = json.loads(request.content) if request.content else None
        return self.check_request(
            request.method, request.url.path, list(request.url.params.multi_items()), body
        )

    def check_response(self, method: str, path: str, body: Any) -> list[str]:
        """Problems of a 200 answer's body against the operation's response schema."""
        _, op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: undeclared operation"]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        return self.check_json(body, schema, request=False)

    def check_json(
        self, value: Any, schema: Mapping[str, Any], *, request: bool, where: str = "$"
    ) -> list[str]:
        """Problems of ``value`` against ``schema``: undeclared or read-only fields, types."""
        problems: list[str] = []
        self._check(value, schema, where, problems, request)
        return problems

    def _check(
        self, value: Any, schema: Mapping[str, Any], where: str, out: list[str], request: bool
    ) -> None:
        schema = self._resolve(schema)
        if value is None:
            return
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if not isinstance(value, dict):
                out.append(f"{where}: expected an object, got {type(value).__name__}")
                return
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if key in props:
                    if request and props[key].get("readOnly"):
                        out.append(f"{where}.{key}: read-only, must not be sent")
                    self._check(item, props[key], f"{where}.{key}", out, request)
                elif isinstance(extra, Mapping):
                    self._check(item, extra, f"{where}.{key}", out, request)
                elif not extra:
                    out.append(f"{where}.{key}: not declared")
            if request:
                out.extend(
                    f"{where}.{k}: required" for k in schema.get("required", ()) if k not in value
                )
        elif kind == "array":
            if not isinstance(value, list):
                out.append(f"{where}: expected an array")
                return
            for i, item in enumerate(value):
                self._check(item, schema.get("items", {}), f"{where}[{i}]", out, request)
        elif kind == "string":
            if not isinstance(value, str):
                out.append(f"{where}: expected a string, got {value!r}")
            elif "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append(f"{where}: longer than {schema['maxLength']}")
            elif "enum" in schema and value not in schema["enum"]:
                out.append(f"{where}: {value!r} not in the enum")
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                out.append(f"{where}: expected an integer, got {value!r}")
        elif kind == "boolean" and not isinstance(value, bool):
            out.append(f"{where}: expected a boolean, got {value!r}")


@pytest.fixture(scope="session")
def example() -> Callable[[str], bytes]:
    """An official example notification's bytes, by name (``payment_created`` …)."""
    return lambda name: (EXAMPLES / f"webhook_{name}.json").read_bytes()


@pytest.fixture(scope="session")
def spec() -> SquareSpec:
    return SquareSpec(json.loads(SPEC_FILE.read_text(encoding="utf-8")))


class Recorder:
    """An httpx transport in front of a simulator that keeps every request and response."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.calls: list[tuple[httpx.Request, httpx.Response]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.handler(request)
        self.calls.append((request, response))
        return response

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def requests(self, prefix: str = "") -> list[httpx.Request]:
        return [r for r, _ in self.calls if r.url.path.startswith(prefix)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> SquareSimulator:
    return SquareSimulator(seed=5, customers=12, payments=30, products=6, clock=clock)


@pytest.fixture
def recorder(sim: SquareSimulator) -> Recorder:
    return Recorder(sim.handle)


@pytest.fixture
def connect(
    sim: SquareSimulator, clock: FakeClock, recorder: Recorder
) -> Iterator[Callable[..., SquareConnector]]:
    made: list[SquareConnector] = []

    def make(location: int = 0, **kwargs: Any) -> SquareConnector:
        loc = sim.locations[location]
        conn = SquareConnector(
            access_token=kwargs.pop("access_token", sim.token),
            location_id=loc.id,
            merchant_id=kwargs.pop("merchant_id", loc.merchant_id),
            transport=recorder.transport,
            clock=clock,
            **kwargs,
        )
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()
