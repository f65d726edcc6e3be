"""Square's published OpenAPI document as a checker for requests and answers.

The spec is Square's own (``shared/official-specs/square/api.json``, OpenAPI 3.0 with
``components.schemas``), read from ``../shared`` beside the checkout: the package never
ships or needs it. :func:`load_spec` parses it once per test process, so every test
module (platform tests and webhook tests alike) shares one :class:`SquareSpec`.

Every ``check_*`` method returns a list of findings, empty when the request or body
conforms; each finding names where (``$.query.filter.updated_at.start``,
``?sort_field=UPDATED``, ``GET /v2/payments``). What is checked:

* requests: the path matches a template (literal segments win over parameters, so
  ``/v2/orders/batch-retrieve`` is BatchRetrieveOrders, not RetrieveOrder), the method
  exists there, every path parameter is one plain segment, every query parameter is
  declared with a value of its type (boolean, integer and its bounds, enum), required
  query parameters are present, nothing deprecated is used, and the JSON body matches
  the request schema (below);
* JSON bodies, recursively through ``$ref``: no undeclared field (unless
  ``additionalProperties`` allows it), required fields present, types, enums,
  lengths, bounds and item counts, ``null`` only where ``nullable``; in requests also
  no read-only and no deprecated field;
* answers: a 200 against the operation's response schema; an error status against
  Square's error envelope ``{"errors": [Error]}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SPEC_FILE = SHARED / "official-specs" / "square" / "api.json"
EXAMPLES = SHARED / "official-examples" / "square"

#: What an error answer must look like (Square's envelope; the spec has no error responses).
ERROR_ENVELOPE: Mapping[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}},
}
# RFC 3986 unreserved characters: what a path segment may hold without encoding.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def _deprecated(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("deprecated")) or schema.get("x-release-status") == "DEPRECATED"


class SquareSpec:
    """Checks requests and JSON bodies against Square's OpenAPI document.

    Every ``check_*`` method returns a list of findings (empty: conforms), each naming where.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.paths: Mapping[str, Any] = document["paths"]
        self.schemas: Mapping[str, Any] = document["components"]["schemas"]
        self._templates = [(t, t.strip("/").split("/")) for t in self.paths]
        oauth = document["components"]["securitySchemes"]["oauth2"]
        #: The ``Square-Version`` the spec describes (``2025-08-20``).
        self.version: str = next(
            h["schema"]["default"]
            for h in oauth["x-additional-headers"]
            if h["name"] == "Square-Version"
        )

    # -- lookups ----------------------------------------------------------------------

    def event_types(self) -> dict[str, str]:
        """Every event type the spec publishes, to its schema's name."""
        return {
            s["x-webhook"]["event"]: name
            for name, s in self.schemas.items()
            if isinstance(s, Mapping) and "x-webhook" in s
        }

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """The schema a ``$ref`` points to (through chains of references)."""
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def _match(self, method: str, path: str) -> tuple[str | None, dict[str, str]]:
        """The template a concrete path (raw, percent-encoded) belongs to, and its parameters.

        The template with the most literal segments wins among those declaring
        ``method`` (``/v2/customers/search`` over ``/v2/customers/{customer_id}``);
        a path no template with that method matches returns the best template anyway,
        so that the caller can say the method is missing.
        """
        segments = path.split("?", 1)[0].strip("/").split("/")
        best: tuple[int, bool, str, dict[str, str]] | None = None
        for template, parts in self._templates:
            if len(parts) != len(segments):
                continue
            params: dict[str, str] = {}
            literal = 0
            for part, raw in zip(parts, segments, strict=True):
                if part.startswith("{") and part.endswith("}"):
                    params[part[1:-1]] = raw
                elif unquote(raw) == part:
                    literal += 1
                else:
                    break
            else:
                has = method.lower() in self.paths[template]
                rank = (literal, has, template, params)
                if best is None or (rank[1], rank[0]) > (best[1], best[0]):
                    best = rank
        return (None, {}) if best is None else (best[2], best[3])

    def operation(self, method: str, path: str) -> tuple[str | None, Mapping[str, Any] | None]:
        """``(template, operation)`` for a concrete path; ``None`` parts when undeclared."""
        template, _ = self._match(method, path)
        if template is None:
            return None, None
        return template, self.paths[template].get(method.lower())

    def operation_id(self, method: str, path: str) -> str | None:
        """The operation's id (``ListPayments`` …), ``None`` when undeclared."""
        _, op = self.operation(method, path)
        return None if op is None else str(op.get("operationId"))

    def scopes(self, method: str, path: str) -> frozenset[str]:
        """The OAuth scopes the operation declares (``security``), empty when none."""
        _, op = self.operation(method, path)
        declared = op.get("security", []) if op is not None else []
        return frozenset(scope for entry in declared for scope in entry.get("oauth2", ()))

    # -- requests ---------------------------------------------------------------------

    def check_request(
        self, method: str, path: str, query: Sequence[tuple[str, str]], body: Any
    ) -> list[str]:
        """Findings of one request: path, method, path and query parameters, body fields."""
        template, params = self._match(method, path)
        if template is None:
            return [f"{method} {path}: no such path in the spec"]
        op = self.paths[template].get(method.lower())
        if op is None:
            return [f"{method} {template}: the path has no {method} operation"]
        problems: list[str] = []
        if _deprecated(op):
            problems.append(f"{method} {template}: the operation is deprecated")
        for name, raw in params.items():
            value = unquote(raw)
            if not raw or not _PLAIN_SEGMENT.fullmatch(raw) or value in (".", ".."):
                problems.append(f"{method} {template}: path parameter {name}={raw!r} is unsafe")
        declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
        seen: set[str] = set()
        for name, value in query:
            param = declared.get(name)
            if param is None:
                problems.append(f"{method} {template}: query parameter {name!r} not declared")
                continue
            if name in seen:
                problems.append(f"?{name}: repeated")
            seen.add(name)
            if _deprecated(param):
                problems.append(f"?{name}: deprecated")
            problems += self._check_query_value(name, value, param.get("schema", {}))
        problems.extend(
            f"{method} {template}: required query parameter {name!r} missing"
            for name, param in declared.items()
            if param.get("required") and name not in seen
        )
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            if content is None:
                problems.append(f"{method} {template}: sends a body the operation does not take")
            else:
                problems += self.check_json(body, content["schema"], request=True)
        elif content is not None and op["requestBody"].get("required"):
            problems.append(f"{method} {template}: the required body is missing")
        return problems

    def _check_query_value(self, name: str, value: str, schema: Mapping[str, Any]) -> list[str]:
        schema = self._resolve(schema)
        kind = schema.get("type")
        if kind == "boolean" and value not in ("true", "false"):
            return [f"?{name}={value}: not a boolean"]
        if kind == "integer":
            if not re.fullmatch(r"-?[0-9]+", value):
                return [f"?{name}={value}: not an integer"]
            return self._bounds(int(value), schema, f"?{name}={value}")
        if kind == "number":
            try:
                float(value)
            except ValueError:
                return [f"?{name}={value}: not a number"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"?{name}={value}: not in the enum {schema['enum']}"]
        return []

    def check_httpx(self, request: httpx.Request) -> list[str]:
        """:meth:`check_request` of a request as httpx sent it (the raw, encoded path),
        plus its headers: a bearer token and the spec's ``Square-Version``."""
        body = json.loads(request.content) if request.content else None
        raw_path = request.url.raw_path.decode("ascii").split("?", 1)[0]
        problems = self.check_request(
            request.method, raw_path, list(request.url.params.multi_items()), body
        )
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            problems.append(f"{request.method} {raw_path}: no Authorization: Bearer header")
        version = request.headers.get("Square-Version")
        if version != self.version:
            problems.append(
                f"{request.method} {raw_path}: Square-Version {version!r}, not {self.version!r}"
            )
        if body is not None and request.headers.get("Content-Type") != "application/json":
            problems.append(
                f"{request.method} {raw_path}: a JSON body without Content-Type: application/json"
            )
        return problems

    # -- answers ----------------------------------------------------------------------

    def check_response(self, method: str, path: str, body: Any, status: int = 200) -> list[str]:
        """Findings of an answer's body: a 200 against the operation's response schema,
        an error status against Square's error envelope."""
        _, op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: undeclared operation"]
        if status >= 400:
            return self.check_json(body, ERROR_ENVELOPE, request=False)
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        return self.check_json(body, schema, request=False)

    # -- JSON -------------------------------------------------------------------------

    def check_json(
        self, value: Any, schema: Mapping[str, Any], *, request: bool, where: str = "$"
    ) -> list[str]:
        """Findings of ``value`` against ``schema`` (see the module docstring)."""
        problems: list[str] = []
        self._check(value, schema, where, problems, request)
        return problems

    def _bounds(self, number: float, schema: Mapping[str, Any], where: str) -> list[str]:
        if "minimum" in schema and number < schema["minimum"]:
            return [f"{where}: below the minimum {schema['minimum']}"]
        if "maximum" in schema and number > schema["maximum"]:
            return [f"{where}: above the maximum {schema['maximum']}"]
        return []

    def _check(
        self, value: Any, schema: Mapping[str, Any], where: str, out: list[str], request: bool
    ) -> None:
        nullable = bool(schema.get("nullable"))
        schema = self._resolve(schema)
        if value is None:
            if not (nullable or schema.get("nullable")):
                out.append(f"{where}: null, but the field is not nullable")
            return
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            self._check_object(value, schema, where, out, request)
        elif kind == "array":
            if not isinstance(value, list):
                out.append(f"{where}: expected an array")
                return
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.append(f"{where}: more than {schema['maxItems']} items")
            if "minItems" in schema and len(value) < schema["minItems"]:
                out.append(f"{where}: fewer than {schema['minItems']} items")
            for i, item in enumerate(value):
                self._check(item, schema.get("items", {}), f"{where}[{i}]", out, request)
        elif kind == "string":
            if not isinstance(value, str):
                out.append(f"{where}: expected a string, got {value!r}")
            elif "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append(f"{where}: longer than {schema['maxLength']}")
            elif "minLength" in schema and len(value) < schema["minLength"]:
                out.append(f"{where}: shorter than {schema['minLength']}")
            elif "enum" in schema and value not in schema["enum"]:
                out.append(f"{where}: {value!r} not in the enum")
            elif "pattern" in schema and not re.search(schema["pattern"], value):
                out.append(f"{where}: {value!r} does not match {schema['pattern']}")
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                out.append(f"{where}: expected an integer, got {value!r}")
            else:
                out.extend(self._bounds(value, schema, where))
        elif kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                out.append(f"{where}: expected a number, got {value!r}")
            else:
                out.extend(self._bounds(value, schema, where))
        elif kind == "boolean" and not isinstance(value, bool):
            out.append(f"{where}: expected a boolean, got {value!r}")

    def _check_object(
        self, value: Any, schema: Mapping[str, Any], where: str, out: list[str], request: bool
    ) -> None:
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                prop = props[key]
                if request and (prop.get("readOnly") or self._resolve(prop).get("readOnly")):
                    out.append(f"{where}.{key}: read-only, must not be sent")
                if request and _deprecated(prop):
                    out.append(f"{where}.{key}: deprecated")
                self._check(item, prop, f"{where}.{key}", out, request)
            elif isinstance(extra, Mapping):
                self._check(item, extra, f"{where}.{key}", out, request)
            elif not extra:
                out.append(f"{where}.{key}: not declared")
        out.extend(f"{where}.{k}: required" for k in schema.get("required", ()) if k not in value)


@functools.cache
def load_spec() -> SquareSpec:
    """The spec, parsed once per test process (every module shares it)."""
    return SquareSpec(json.loads(SPEC_FILE.read_text(encoding="utf-8")))


class Recorder:
    """An httpx transport in front of a simulator that keeps every request and response."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.calls: list[tuple[httpx.Request, httpx.Response]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.handler(request)
        self.calls.append((request, response))
        return response

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def requests(self, prefix: str = "") -> list[httpx.Request]:
        return [r for r, _ in self.calls if r.url.path.startswith(prefix)]
