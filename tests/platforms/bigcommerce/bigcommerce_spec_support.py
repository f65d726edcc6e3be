"""BigCommerce's published OpenAPI files as one checker for requests and answers.

The one spec checker of the BigCommerce tests (platform, consent and webhook suites
alike; the webhook suite imports it from here). It reads BigCommerce's own reference
files in ``../shared/official-specs/bigcommerce`` (never our reading of them), parsed
once per test process, so a request or an answer that the connector and the simulator
both get wrong still fails here.

What is checked, each finding naming where:

* a request: the path matches a documented template under the file's server URL
  (literal segments win: ``/orders/count`` is not ``/orders/{order_id}``), the method
  is documented there, the operation is not deprecated, path parameters have their
  declared type, every query parameter is declared (on the path or the operation)
  with a value of its type (integer, number, boolean; ``style: form`` arrays item by
  item) and in its enum, required query parameters are present, ``limit`` is at most
  250, and a JSON body matches the request schema;
* an answer: a documented status with a JSON schema is checked against it; a status
  documented without content must carry no body;
* a JSON value against a schema, recursively through ``$ref``, ``allOf`` (the parts'
  fields together), ``oneOf``/``anyOf`` (one alternative must fit): no field the
  schema does not declare (unless ``additionalProperties`` allows it), required fields
  present, types, enums, ``maxItems``, ``null`` only where ``nullable``; in requests
  also no read-only field.

Where the reference contradicts itself, the deviation is written down once in
:data:`SPEC_DEFECTS`, with the reason; a test shows each is still in the files.

The Subscribers API reference (``reference/subscribers.v3.yml``) is not among the
shared files: :data:`SUBSCRIBERS_TRANSCRIPT` transcribes what the connector uses of it
from github.com/bigcommerce/docs (the snapshot the shared specs come from, commit
``24f580ca6d2981728b7ed70a2049e00fc602c335``), with line numbers, and serves it as one
more document. When the file is added to the shared specs, it is read instead.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
import yaml

from commerce_connectors.testing.simulator import LoggedRequest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SPECS = SHARED / "official-specs" / "bigcommerce"
EXAMPLES = SHARED / "official-examples" / "bigcommerce"
SUBSCRIBERS_FILE = SPECS / "subscribers.v3.yml"

#: "The maximum number of products returned is 250" (common query parameters); 413 above.
MAX_LIMIT = 250

#: Where the reference contradicts itself, and what the checker does instead.
SPEC_DEFECTS: Mapping[str, str] = {
    "sort-direction": (
        "orders.v2.oas2.yml: the `sort` enum lists bare field names, while its "
        "description says 'add `:asc` or `:desc` to the end ... e.g. "
        "`sort=date_created:desc`': a listed field with that suffix is accepted"
    ),
    "subscribers-id-required": (
        "subscribers.v3.yml marks the `id` filter required although the operation says "
        "'Optional filter parameters can be passed in': it is treated as optional"
    ),
    "subscribers-consents-enum": (
        "subscribers.v3.yml gives `consents` (an array of strings) an enum of one-item "
        "arrays: each item is checked against the names those arrays hold"
    ),
    "order-custom-status": (
        "orders.v2.oas2.yml: every order example (orderCollection_Resp, order_Resp, the "
        "official v2_orders_list.json) shows `custom_status`, which order_Resp does not "
        "declare: it is added as a string"
    ),
    "product-variants": (
        "products_catalog.v3.yml: `include=variants` is documented, but product_Full (the "
        "GET answer) does not declare `variants`; product_Base_POST declares it as an "
        "array of productVariant_Full, which is what is added"
    ),
    "form-fields-value-items": (
        "orders.v2.oas2.yml formFields.value is a oneOf (number, string, array) that "
        "also carries `items`: the oneOf decides"
    ),
}

#: Fields the reference's own examples show but its schemas omit, added to the schema
#: named (file, schema) before checking; each is a SPEC_DEFECTS entry.
SCHEMA_PATCHES: Mapping[tuple[str, str], Mapping[str, Any]] = {
    # SPEC_DEFECTS["order-custom-status"]
    ("orders.v2.oas2.yml", "order_RespOnly"): {"custom_status": {"type": "string"}},
    # SPEC_DEFECTS["product-variants"]
    ("products_catalog.v3.yml", "product_Full"): {
        "variants": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/productVariant_Full"},
        }
    },
}

#: reference/subscribers.v3.yml @ 24f580ca, transcribed as a document of its own: the
#: two reads the connector makes and the schemas of their answers.
SUBSCRIBERS_TRANSCRIPT: Mapping[str, Any] = {
    "openapi": "3.0.1",
    # line 16
    "servers": [{"url": "https://api.bigcommerce.com/stores/{store_hash}/v3"}],
    "paths": {
        # lines 28-69: GET /customers/subscribers, parameters defined at lines 720-848.
        "/customers/subscribers": {
            "get": {
                "operationId": "getSubscribers",
                "parameters": [
                    {"name": "email", "in": "query", "schema": {"type": "string"}},
                    {"name": "first_name", "in": "query", "schema": {"type": "string"}},
                    {"name": "last_name", "in": "query", "schema": {"type": "string"}},
                    {"name": "source", "in": "query", "schema": {"type": "string"}},
                    {"name": "order_id", "in": "query", "schema": {"type": "integer"}},
                    *(
                        {"name": name, "in": "query", "schema": {"type": "string"}}
                        for name in (
                            "date_created",
                            "date_created:min",
                            "date_created:max",
                            "date_modified",
                            "date_modified:min",
                            "date_modified:max",
                        )
                    ),
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    # required: true in the file; see SPEC_DEFECTS["subscribers-id-required"]
                    {"name": "id", "in": "query", "schema": {"type": "integer"}},
                    {
                        "name": "id:in",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "integer"}},
                    },
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/subscriber"},
                                        },
                                        "meta": {"$ref": "#/components/schemas/CollectionMeta"},
                                    },
                                }
                            }
                        }
                    },
                    "422": {"$ref": "#/components/responses/Error"},
                },
            }
        },
        # lines 172-214: GET /customers/subscribers/{subscriber_id}.
        "/customers/subscribers/{subscriber_id}": {
            "get": {
                "operationId": "getSubscriber",
                "parameters": [
                    {
                        "name": "subscriber_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "data": {"$ref": "#/components/schemas/subscriber"},
                                        "meta": {"type": "object", "additionalProperties": True},
                                    },
                                }
                            }
                        }
                    },
                    "404": {"$ref": "#/components/responses/Error"},
                },
            }
        },
    },
    "components": {
        "schemas": {
            # subscriber_Full (lines 359-388) = subscriber_Base (lines 389-438) + id, dates,
            # consents (SPEC_DEFECTS["subscribers-consents-enum"]; lines 382-385).
            "subscriber": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string"},
                    "first_name": {"type": "string", "maxLength": 255},
                    "last_name": {"type": "string", "maxLength": 255},
                    # "Values are: `storefront`, `order`, or `custom`" (line 416)
                    "source": {"type": "string", "enum": ["storefront", "order", "custom"]},
                    "order_id": {"type": "integer", "nullable": True, "minimum": 1},
                    "channel_id": {"type": "integer", "minimum": 1},
                    "consents": {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "enum": ["marketing_newsletter", "abandoned_cart"],
                        },
                    },
                    "date_created": {"type": "string", "format": "date-time"},
                    "date_modified": {"type": "string", "format": "date-time"},
                },
            },
            # CollectionMeta (lines 510-564).
            "CollectionMeta": {
                "type": "object",
                "properties": {
                    "pagination": {
                        "type": "object",
                        "properties": {
                            **{
                                k: {"type": "integer"}
                                for k in (
                                    "total",
                                    "count",
                                    "per_page",
                                    "current_page",
                                    "total_pages",
                                )
                            },
                            "links": {
                                "type": "object",
                                "properties": {
                                    k: {"type": "string"} for k in ("previous", "current", "next")
                                },
                            },
                        },
                    }
                },
            },
        },
        "responses": {
            # ErrorResponse (lines 620-647) and NotFound (lines 667-682).
            "Error": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "integer"},
                                "title": {"type": "string"},
                                "type": {"type": "string"},
                                "instance": {"type": "string"},
                                "errors": {"type": "object", "additionalProperties": True},
                            },
                        }
                    }
                }
            }
        },
    },
}
_SUBSCRIBERS = "subscribers.v3.yml"


# ------------------------------------------------------------------------- loading


def _yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loaded: dict[str, Any] = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    return loaded


@functools.cache
def spec(name: str) -> Mapping[str, Any]:
    """One reference file, parsed (once per test process); the Subscribers transcript
    under ``subscribers.v3.yml`` while the shared specs lack that file."""
    if name == _SUBSCRIBERS and not SUBSCRIBERS_FILE.exists():
        return SUBSCRIBERS_TRANSCRIPT
    return _yaml(SPECS / name)


def spec_names() -> tuple[str, ...]:
    """Every reference the checker reads: the shared files and the Subscribers API."""
    return tuple(sorted({p.name for p in SPECS.glob("*.yml")} | {_SUBSCRIBERS}))


def example(name: str) -> Any:
    """An official example (``shared/official-examples/bigcommerce``), parsed."""
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def example_bytes(name: str) -> bytes:
    """An official example payload, byte for byte."""
    return (EXAMPLES / name).read_bytes()


# ------------------------------------------------------------------------- the checker


@attrs.frozen
class Operation:
    """One documented operation a concrete request resolved to."""

    file: str
    document: Mapping[str, Any] = attrs.field(repr=False)
    template: str
    method: str
    item: Mapping[str, Any] = attrs.field(repr=False)
    operation: Mapping[str, Any] | None = attrs.field(repr=False)
    path_params: Mapping[str, str]

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"


def _segments(template: str) -> list[str]:
    return template.strip("/").split("/")


class BigCommerceSpec:
    """Checks requests and answers against BigCommerce's reference files.

    Every ``check_*`` method returns a list of findings (empty: conforms).
    """

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self.documents = documents
        self._templates: list[tuple[str, list[str], str, Mapping[str, Any]]] = []
        for name, document in documents.items():
            base = str(document["servers"][0]["url"]).split("api.bigcommerce.com", 1)[1]
            for template, item in document["paths"].items():
                full = _segments(base) + _segments(template)
                self._templates.append((name, full, template, item))

    # -- lookups ------------------------------------------------------------------------

    @staticmethod
    def resolve(document: Mapping[str, Any], node: Any) -> Any:
        """The node a ``$ref`` points to (through chains of references)."""
        while isinstance(node, Mapping) and "$ref" in node:
            target: Any = document
            for part in str(node["$ref"]).lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def find(self, method: str, path: str) -> Operation | None:
        """The documented operation of a concrete path (the most literal template wins;
        ``operation`` is ``None`` when the path is documented without that method)."""
        segments = _segments(path.split("?", 1)[0])
        best: tuple[tuple[bool, int], Operation] | None = None
        for name, parts, template, item in self._templates:
            if len(parts) != len(segments):
                continue
            params: dict[str, str] = {}
            literal = 0
            for part, raw in zip(parts, segments, strict=True):
                if part.startswith("{") and part.endswith("}"):
                    params[part[1:-1]] = raw
                elif part == raw:
                    literal += 1
                else:
                    break
            else:
                op = item.get(method.lower())
                rank = (op is not None, literal)
                if best is None or rank > best[0]:
                    found = Operation(
                        name, self.documents[name], template, method.upper(), item, op, params
                    )
                    best = (rank, found)
        return None if best is None else best[1]

    def _parameters(self, op: Operation, where: str) -> dict[str, Mapping[str, Any]]:
        raw = [*op.item.get("parameters", []), *(op.operation or {}).get("parameters", [])]
        out: dict[str, Mapping[str, Any]] = {}
        for p in raw:
            param = self.resolve(op.document, p)
            if param.get("in") == where:
                out[param["name"]] = param
        return out

    # -- requests -----------------------------------------------------------------------

    def check_request(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        body: Any = None,
    ) -> list[str]:
        """Findings of one request (see the module docstring)."""
        op = self.find(method, path)
        if op is None:
            return [f"{method} {path}: no documented path matches"]
        if op.operation is None:
            return [f"{method} {path}: {op.file} documents no {method} on {op.template}"]
        problems: list[str] = []
        if op.operation.get("deprecated"):
            problems.append(f"{op.label}: the operation is deprecated in {op.file}")
        for name, param in self._parameters(op, "path").items():
            value = op.path_params.get(name)
            if value is not None:
                problems += self._check_scalar(
                    f"{op.label}: path {{{name}}}={value}", value, param.get("schema", {}), op
                )
        declared = self._parameters(op, "query")
        seen: set[str] = set()
        for name, value in query:
            param = declared.get(name)
            if param is None:
                problems.append(
                    f"{op.label}: query parameter {name!r} is not declared in {op.file}"
                )
                continue
            seen.add(name)
            where = f"{op.label}: ?{name}={value}"
            if param.get("deprecated"):
                problems.append(f"{where}: the parameter is deprecated")
            problems += self._check_query_value(where, name, value, param, op)
            if name == "limit" and re.fullmatch(r"[0-9]+", value) and int(value) > MAX_LIMIT:
                problems.append(f"{where}: above the maximum of {MAX_LIMIT}")
        problems += [
            f"{op.label}: required query parameter {name!r} is missing"
            for name, param in declared.items()
            if param.get("required") and name not in seen
        ]
        content = (op.operation.get("requestBody") or {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if body is not None:
            if schema is None:
                problems.append(f"{op.label}: {op.file} declares no JSON body")
            else:
                problems += self.check_json(body, schema, op.document, request=True, where="$body")
        return problems

    def _check_query_value(
        self, where: str, name: str, value: str, param: Mapping[str, Any], op: Operation
    ) -> list[str]:
        schema = self.resolve(op.document, param.get("schema", {}))
        if schema.get("type") == "array":
            explode = param.get("explode", param.get("style", "form") == "form")
            items = value.split(",") if not explode or "," in value else [value]
            problems: list[str] = []
            for item in items:
                problems += self._check_scalar(where, item, schema.get("items", {}), op)
            return problems
        enum = [str(e) for e in schema.get("enum", ())]
        documented_suffix = ":asc" in str(param.get("description", ""))
        if name == "sort" and value not in enum and documented_suffix:
            field, _, direction = value.partition(":")  # SPEC_DEFECTS["sort-direction"]
            if direction and direction not in ("asc", "desc"):
                return [f"{where}: direction {direction!r} is neither asc nor desc"]
            value = field
        return self._check_scalar(where, value, schema, op)

    def _check_scalar(
        self, where: str, value: str, schema: Mapping[str, Any], op: Operation
    ) -> list[str]:
        schema = self.resolve(op.document, schema)
        kind = schema.get("type")
        if kind == "integer" and not re.fullmatch(r"-?[0-9]+", value):
            return [f"{where}: not an integer"]
        if kind == "number":
            try:
                float(value)
            except ValueError:
                return [f"{where}: not a number"]
        if kind == "boolean" and value not in ("true", "false"):
            return [f"{where}: not a boolean"]
        enum = schema.get("enum")
        if enum is not None and value not in [str(e) for e in enum]:
            return [f"{where}: not one of {enum}"]
        return []

    # -- answers ------------------------------------------------------------------------

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Findings of one answer: its body against the operation's documented response.

        A status the operation does not document is not a finding here (the platform's
        generic errors, 429 and 5xx, are documented elsewhere); see
        :meth:`documented_status`.
        """
        op = self.find(method, path)
        if op is None or op.operation is None:
            return [f"{method} {path}: no documented operation"]
        response = self._response(op, status)
        if response is None:
            return []
        content = response.get("content") or {}
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            # A success documented without content has none (204); an error documented
            # by its description only says nothing of its body.
            if body is not None and not content and status < 300:
                return [f"{op.label} -> {status}: {op.file} documents no body"]
            return []
        return self.check_json(body, schema, op.document, request=False, where=f"${status}")

    def documented_status(self, method: str, path: str, status: int) -> bool:
        """Whether the operation documents this status (or a ``default``)."""
        op = self.find(method, path)
        return (
            op is not None and op.operation is not None and self._response(op, status) is not None
        )

    def _response(self, op: Operation, status: int) -> Mapping[str, Any] | None:
        responses = (op.operation or {}).get("responses", {})
        raw = responses.get(str(status), responses.get(status))
        if raw is None and status < 400:
            raw = responses.get("default")
        return None if raw is None else self.resolve(op.document, raw)

    # -- JSON ---------------------------------------------------------------------------

    def check_json(
        self,
        value: Any,
        schema: Any,
        document: Mapping[str, Any],
        *,
        request: bool,
        where: str = "$",
    ) -> list[str]:
        """Findings of ``value`` against ``schema`` of ``document``."""
        out: list[str] = []
        self._check(value, schema, document, where, out, request)
        return out

    def _merged(self, document: Mapping[str, Any], schema: Any) -> dict[str, Any]:
        """An object schema with its ``allOf`` parts folded in (properties, required)."""
        schema = self.resolve(document, schema)
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        props: dict[str, list[Any]] = {}
        required: set[str] = set(schema.get("required", ()))
        extra = schema.get("additionalProperties")
        for name, prop in schema.get("properties", {}).items():
            props.setdefault(name, []).append(prop)
        for part in schema.get("allOf", ()):
            sub = self._merged(document, part)
            for name, alternatives in sub.get("_props", {}).items():
                props.setdefault(name, []).extend(alternatives)
            required |= set(sub.get("required", ()))
            extra = extra or sub.get("additionalProperties")
            for key in ("type", "nullable", "readOnly", "oneOf", "anyOf"):
                if key in sub and key not in merged:
                    merged[key] = sub[key]
        merged["_props"] = props
        merged["required"] = sorted(required)
        if extra is not None:
            merged["additionalProperties"] = extra
        return merged

    def _check(
        self,
        value: Any,
        raw_schema: Any,
        document: Mapping[str, Any],
        where: str,
        out: list[str],
        request: bool,
    ) -> None:
        nullable = isinstance(raw_schema, Mapping) and bool(raw_schema.get("nullable"))
        schema = self._merged(document, raw_schema)
        if value is None:
            if not (nullable or schema.get("nullable")):
                out.append(f"{where}: null, but the field is not nullable")
            return
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            trials = [
                self.check_json(value, alt, document, request=request, where=where)
                for alt in alternatives
            ]
            if all(trials):
                best = min(trials, key=len)
                out.append(f"{where}: fits none of the {len(trials)} alternatives")
                out.extend(best)
            if not schema["_props"] and "type" not in schema:
                return
        kind = schema.get("type")
        if kind == "object" or schema["_props"]:
            self._check_object(value, schema, document, where, out, request)
        elif kind == "array":
            if not isinstance(value, list):
                out.append(f"{where}: expected an array, got {type(value).__name__}")
                return
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                out.append(f"{where}: more than {schema['maxItems']} items")
            for i, item in enumerate(value):
                self._check(item, schema.get("items", {}), document, f"{where}[{i}]", out, request)
        elif kind == "string":
            if not isinstance(value, str):
                out.append(f"{where}: expected a string, got {value!r}")
            elif "enum" in schema and value not in schema["enum"]:
                out.append(f"{where}: {value!r} not in the enum {schema['enum']}")
            elif "maxLength" in schema and len(value) > schema["maxLength"]:
                out.append(f"{where}: longer than {schema['maxLength']}")
        elif kind in ("integer", "number"):
            ok = isinstance(value, int) if kind == "integer" else isinstance(value, (int, float))
            if not ok or isinstance(value, bool):
                out.append(
                    f"{where}: expected {'an integer' if kind == 'integer' else 'a number'}"
                    f", got {value!r}"
                )
            elif "enum" in schema and value not in schema["enum"]:
                out.append(f"{where}: {value!r} not in the enum {schema['enum']}")
            elif "minimum" in schema and value < schema["minimum"]:
                out.append(f"{where}: below the minimum {schema['minimum']}")
            elif "maximum" in schema and value > schema["maximum"]:
                out.append(f"{where}: above the maximum {schema['maximum']}")
        elif kind == "boolean" and not isinstance(value, bool):
            out.append(f"{where}: expected a boolean, got {value!r}")

    def _check_object(
        self,
        value: Any,
        schema: Mapping[str, Any],
        document: Mapping[str, Any],
        where: str,
        out: list[str],
        request: bool,
    ) -> None:
        if not isinstance(value, Mapping):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        props: Mapping[str, list[Any]] = schema["_props"]
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                for prop in props[key]:
                    resolved = self.resolve(document, prop)
                    if request and (prop.get("readOnly") or resolved.get("readOnly")):
                        out.append(f"{where}.{key}: read-only, must not be sent")
                    self._check(item, prop, document, f"{where}.{key}", out, request)
            elif isinstance(extra, Mapping):
                self._check(item, extra, document, f"{where}.{key}", out, request)
            elif extra is not True:
                out.append(f"{where}: field {key!r} is not declared")
        out.extend(
            f"{where}: required field {k!r} is missing"
            for k in schema["required"]
            if k not in value
        )

    # -- logs and exchanges -------------------------------------------------------------

    def check_log(self, entries: Iterable[LoggedRequest]) -> list[str]:
        """:meth:`check_request` over a simulator's request log."""
        problems: list[str] = []
        for e in entries:
            problems += self.check_request(e.method, e.path, e.query, e.json)
        return problems

    def check_exchange(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        """Both halves of one recorded exchange (the answer only when it has a body)."""
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        problems = self.check_request(
            request.method, path, list(request.url.params.multi_items()), body
        )
        answer = json.loads(response.content) if response.content else None
        problems += self.check_response(request.method, path, response.status_code, answer)
        return problems


def _patched(name: str) -> Mapping[str, Any]:
    """A reference with :data:`SCHEMA_PATCHES` applied (to a copy of what it touches)."""
    document = spec(name)
    patches = {schema: extra for (file, schema), extra in SCHEMA_PATCHES.items() if file == name}
    if not patches:
        return document
    schemas = dict(document["components"]["schemas"])
    for schema_name, extra in patches.items():
        schema = dict(schemas[schema_name])
        if "properties" in schema:
            schema["properties"] = {**schema["properties"], **extra}
        else:
            schema["allOf"] = [*schema.get("allOf", ()), {"type": "object", "properties": extra}]
        schemas[schema_name] = schema
    return {**document, "components": {**document["components"], "schemas": schemas}}


@functools.cache
def load_spec() -> BigCommerceSpec:
    """Every reference, parsed once per test process (every module shares it)."""
    return BigCommerceSpec({name: _patched(name) for name in spec_names()})


def check_request(
    method: str, path: str, query: Iterable[tuple[str, str]] = (), body: Any = None
) -> list[str]:
    """:meth:`BigCommerceSpec.check_request` on the shared checker."""
    return load_spec().check_request(method, path, query, body)


def check_log(entries: Iterable[LoggedRequest]) -> list[str]:
    """:meth:`BigCommerceSpec.check_log` on the shared checker."""
    return load_spec().check_log(entries)


class Recorder:
    """An httpx transport in front of a handler that keeps every request and answer."""

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

    def problems(self, spec: BigCommerceSpec | None = None) -> list[str]:
        """Every finding over every recorded exchange."""
        checker = spec if spec is not None else load_spec()
        found: list[str] = []
        for request, response in self.calls:
            found += checker.check_exchange(request, response)
        return found

    def routes(self) -> set[str]:
        """``METHOD template`` of every recorded exchange (what was covered)."""
        checker = load_spec()
        out: set[str] = set()
        for request, _ in self.calls:
            op = checker.find(request.method, request.url.path)
            out.add(f"{request.method} {op.template if op else request.url.path}")
        return out


def subscribers_facts() -> Mapping[str, Any]:
    """Names the Subscribers reference publishes: query parameters, record fields,
    consent names, sources, pagination fields and error fields."""
    document = spec(_SUBSCRIBERS)
    checker = load_spec()
    op = checker.find("GET", "/stores/x/v3/customers/subscribers")
    assert op is not None
    schemas = document["components"]["schemas"]
    record = checker._merged(document, schemas.get("subscriber_Full", schemas.get("subscriber")))
    consents = checker.resolve(document, record["_props"]["consents"][0])["items"]
    error = checker.resolve(document, op.operation["responses"]["422"])  # type: ignore[index]
    error_schema = checker._merged(document, error["content"]["application/json"]["schema"])
    meta = checker._merged(document, schemas["CollectionMeta"])
    pagination = checker._merged(document, meta["_props"]["pagination"][0])
    source = checker.resolve(document, record["_props"]["source"][0])
    return {
        "query": frozenset(checker._parameters(op, "query")),
        "fields": frozenset(record["_props"]),
        "consents": frozenset(consents.get("enum") or {"marketing_newsletter", "abandoned_cart"}),
        "sources": frozenset(source.get("enum") or {"storefront", "order", "custom"}),
        "pagination": frozenset(pagination["_props"]),
        "error": frozenset(error_schema["_props"]),
    }


def spec_defects_still_present() -> dict[str, bool]:
    """For each entry of :data:`SPEC_DEFECTS`: is the contradiction still in the files?"""
    orders = spec("orders.v2.oas2.yml")
    sort = orders["components"]["parameters"]["sort"]
    form = orders["components"]["schemas"]["formFields"]["properties"]["value"]
    products = spec("products_catalog.v3.yml")["components"]["schemas"]
    full = products["product_Full"]
    full_names = {
        name
        for part in full.get("allOf", ())
        for name in BigCommerceSpec.resolve(spec("products_catalog.v3.yml"), part).get(
            "properties", {}
        )
    }
    order_only = orders["components"]["schemas"]["order_RespOnly"]["properties"]
    shared = orders["components"]["schemas"]["order_Shared"]["properties"]
    present = {
        "order-custom-status": "custom_status" not in order_only
        and "custom_status" not in shared
        and example("v2_orders_list.json")[0].get("custom_status") is not None,
        "product-variants": "variants" not in full_names
        and "variants" in products["product_Base_POST"]["properties"],
        "sort-direction": ":asc" in sort["description"]
        and not any(":" in str(v) for v in sort["schema"]["enum"]),
        "form-fields-value-items": "oneOf" in form and "items" in form,
        # Transcribed: the file is not shared yet; true by construction of the transcript.
        "subscribers-id-required": not SUBSCRIBERS_FILE.exists(),
        "subscribers-consents-enum": not SUBSCRIBERS_FILE.exists(),
    }
    if SUBSCRIBERS_FILE.exists():  # pragma: no cover - when the file is shared
        document = _yaml(SUBSCRIBERS_FILE)
        params = document["components"]["parameters"]
        present["subscribers-id-required"] = bool(params["IdParam"].get("required"))
        full = document["components"]["schemas"]["subscriber_Full"]["allOf"][1]
        present["subscribers-consents-enum"] = isinstance(
            full["properties"]["consents"].get("enum", [None])[0], list
        )
    return present


__all__ = [
    "EXAMPLES",
    "SHARED",
    "SPECS",
    "SPEC_DEFECTS",
    "SUBSCRIBERS_TRANSCRIPT",
    "BigCommerceSpec",
    "Operation",
    "Recorder",
    "check_log",
    "check_request",
    "example",
    "example_bytes",
    "load_spec",
    "spec",
    "spec_defects_still_present",
    "spec_names",
    "subscribers_facts",
]
