"""Shared helpers of the Shopify webhook tests: official files, the published schema, checks.

Nothing here is copied from the official files: they are read where they lie
(``../shared`` beside the project) so every test checks against what Shopify
publishes, not against our own reading of it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from commerce_connectors.webhooks import parse_event, verify

__all__ = [
    "EXAMPLES",
    "GRAPHQL_PATH",
    "SHOP",
    "SPECS",
    "example",
    "official_schema",
    "parse_event",
    "request_problems",
    "verify",
]

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SPECS = SHARED / "official-specs" / "shopify"
EXAMPLES = SHARED / "official-examples" / "shopify"
SHOP = "acme.myshopify.com"
#: ``POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json`` is the one
#: GraphQL endpoint (shared/platforms/shopify.md §1.1, [SH-JS graphql/client.ts]).
GRAPHQL_PATH = "/admin/api/{version}/graphql.json"


def example(name: str) -> Any:
    """One official example file, parsed."""
    return json.loads((EXAMPLES / name).read_bytes())


@functools.lru_cache(maxsize=1)
def official_schema() -> GraphQLSchema:
    """The published Admin schema (2025-10), built once per test session.

    ``assume_valid``: graphql-core's own schema checks refuse Shopify's dump (fields
    deprecated on an implementation but not on its interface); the documents we
    validate against it are checked all the same.
    """
    text = (SPECS / "admin_schema_2025-10.graphql").read_text(encoding="utf-8")
    return build_schema(text, assume_valid=True)


def request_problems(
    body: Mapping[str, Any] | None, schema: GraphQLSchema | None = None
) -> list[str]:
    """Why the published schema would refuse one GraphQL request body (``[]``: it would not).

    The document must validate (every field, argument, fragment and enum value
    declared), and the variables must coerce to the declared variable types (every
    input field declared, enum values known, required values present).
    """
    schema = schema or official_schema()
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        return ["no GraphQL query in the body"]
    document = parse(body["query"])
    problems = [e.message for e in validate(schema, document)]
    if problems:
        return problems
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    wanted = body.get("operationName")
    op = next((o for o in operations if o.name and o.name.value == wanted), operations[0])
    coerced = get_variable_values(
        schema, op.variable_definitions or (), body.get("variables") or {}
    )
    return [e.message for e in coerced] if isinstance(coerced, list) else []


def posts_to_graphql(entries: Iterable[Any]) -> list[str]:
    """Requests of a simulator log that are not ``POST /admin/api/<version>/graphql.json``."""
    return [
        f"{e.method} {e.path}" for e in entries if e.method != "POST" or e.route != GRAPHQL_PATH
    ]
