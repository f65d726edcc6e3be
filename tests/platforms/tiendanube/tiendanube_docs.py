"""Tiendanube's published docs as a checker for the fields we read, serve and send.

The source of truth is the platform's own documentation, never our reading of it:
``shared/official-specs/tiendanube/resources/*.md`` (their property tables, query
parameter tables and JSON examples) and the official example payloads
(``shared/official-examples/tiendanube/*.json``), read from ``../shared`` beside the
checkout. :func:`load_docs` parses them once per test process.

A field is *documented* for a resource when its path (``products[].price``,
``customer.default_address.zipcode``) appears in one of:

* a property table of the resource's page (sub-tables such as "The ``products``
  field has the following contents" apply under that field);
* a JSON example of a successful answer on that page (``HTTP/1.1 2xx`` just above it);
* an official example payload of that resource;
* the documentation of a resource embedded in it (an order's ``customer`` is a
  Customer, a product's ``variants[]`` are Product Variants, ``categories[]`` are
  Categories and ``images[]`` Product Images).

Paths are written with ``[]`` for list items, and the language keys of multilingual
objects (``{"es": …, "pt": …}``) as ``{lang}``. ``extra`` is documented as a free-form
JSON object, so anything under it is documented.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
DOCS = SHARED / "official-specs" / "tiendanube"
EXAMPLES = SHARED / "official-examples" / "tiendanube"

#: Resource -> (its page, the first URL segment its examples answer).
PAGES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "customer": ("customer.md", ("customers",)),
    "order": ("order.md", ("orders",)),
    "product": ("product.md", ("products",)),
    "product_variant": ("product_variant.md", ("products", "product")),
    "category": ("category.md", ("categories",)),
    "checkout": ("abandoned_checkout.md", ("checkouts",)),
    "store": ("store.md", ("store",)),
    "webhook": ("webhook.md", ("webhooks",)),
}
#: Resource -> the official example files that show it.
EXAMPLE_FILES: Mapping[str, tuple[str, ...]] = {
    "customer": ("customers_list", "customers_list_since_id", "customer_get"),
    "order": ("orders_list", "order_get"),
    "product": ("products_list", "product_get"),
    "product_variant": ("product_variants_list",),
    "product_image": ("product_images_list",),
    "category": ("categories_list",),
    "checkout": ("checkouts_list", "checkout_get"),
    "webhook": ("webhooks_list",),
}
#: Which property table documents which path of its page's resource, by the table's
#: context (its heading, or the field the sentence above it names). A property table
#: whose context is not here fails :func:`load_docs`: every table is placed explicitly.
TABLES: Mapping[str, Mapping[str, str]] = {
    "customer.md": {"Properties": ""},
    "order.md": {
        "Properties": "",
        "products": "products[]",
        "issues": "products[].issues",
        "payment_details": "payment_details",
    },
    "product.md": {"Properties": ""},
    "product_variant.md": {"Properties": ""},
    "category.md": {"Properties": ""},
    "abandoned_checkout.md": {
        "Abandoned Checkout": "",
        "promotional_discount": "promotional_discount",
        "products": "products[]",
        "payment_details": "payment_details",
    },
    "store.md": {"Properties": ""},
    "webhook.md": {"Properties": ""},
}
#: Resources documented inside another: (resource, path, embedded resource).
EMBEDDED: tuple[tuple[str, str, str], ...] = (
    # "customer: Customer that purchased this Order" (order.md, Properties).
    ("order", "customer", "customer"),
    # The checkout examples show the same customer object (or null for guests).
    ("checkout", "customer", "customer"),
    # "variants: List of Product Variant objects", "images: List of Product Image
    # objects", "categories: List of Category objects" (product.md, Properties).
    ("product", "variants[]", "product_variant"),
    ("product", "images[]", "product_image"),
    ("product", "categories[]", "category"),
)
#: Answer examples that are not answers: ``(page, "METHOD path")`` and why.
NOT_ANSWERS: Mapping[tuple[str, str], str] = {
    ("order.md", "POST orders/"): (
        "the 201 example repeats the request body (inventory_behaviour, billing_address "
        "as an object with first_name/last_name), not the order the API returns"
    ),
}
#: Objects the docs describe as free-form ("A JSON object containing custom information").
FREE_FORM = frozenset({"extra"})

_LANGUAGE_KEY = re.compile(r"^(es|pt|en)([_-][A-Za-z]{2})?$")
_METHOD_HEADING = re.compile(r"^\s*(?:#+\s*|\*\*)(GET|POST|PUT|DELETE|PATCH)\s+/?([^\s*?]*)")
_STATUS_LINE = re.compile(r"^`?HTTP/1\.1 (\d{3})")


def _key(name: str) -> str:
    return "{lang}" if _LANGUAGE_KEY.match(name) else name


def json_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every field path in a JSON value (objects' keys, ``[]`` for list items).

    Example:
        >>> sorted(json_paths({"a": [{"b": 1}], "name": {"es": "x"}}))
        ['a', 'a[].b', 'name', 'name.{lang}']
    """
    if isinstance(value, Mapping):
        for name, item in value.items():
            path = f"{prefix}.{_key(name)}" if prefix else _key(name)
            yield path
            yield from json_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from json_paths(item, prefix + "[]")


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every scalar in a JSON value."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _leaves(item, f"{prefix}.{_key(name)}" if prefix else _key(name))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, prefix + "[]")
    else:
        yield prefix, value


def _lenient_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        # One example has trailing commas ("…},\n  ]"): the shape is still clear.
        return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


def _possible_values(text: str) -> set[str]:
    """The quoted values of a "Possible values are "a", "b" or "c"" explanation."""
    found = re.search(r"(?:Possible|Valid) values are (.*)", text)
    return set(re.findall(r'"([^"]+)"', found[1])) if found else set()


def _cells(line: str) -> list[str]:
    return [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]


class TiendanubeDocs:
    """Documented field paths per resource, and query parameters per endpoint.

    Attributes:
        fields: resource -> documented paths (see the module docstring).
        params: ``"GET orders"`` -> documented query parameters (plus the README's
            ``page`` and ``per_page``).
    """

    def __init__(self) -> None:
        own: dict[str, set[str]] = {name: set() for name in [*PAGES, "product_image"]}
        self.params: dict[str, set[str]] = {}
        self.param_values: dict[str, dict[str, set[str]]] = {}
        self.values: dict[str, dict[str, set[str]]] = {}
        #: resource -> every example payload of it (answers on its page, example files).
        self.examples: dict[str, list[Any]] = {}
        for resource, (page, segments) in PAGES.items():
            self._read_page(resource, page, segments, own[resource])
        for resource, files in EXAMPLE_FILES.items():
            for stem in files:
                body = _lenient_json((EXAMPLES / f"{stem}.json").read_text(encoding="utf-8"))
                for item in body if isinstance(body, list) else [body]:
                    self.examples.setdefault(resource, []).append(item)
                    own[resource].update(json_paths(item))
        # What the examples show is documented too ("unshipped" beside "unfulfilled").
        for resource, enumerated in self.values.items():
            for item in self.examples.get(resource, []):
                for path, value in _leaves(item):
                    if path in enumerated and isinstance(value, str):
                        enumerated[path].add(value)
        self.fields: dict[str, set[str]] = {name: set(paths) for name, paths in own.items()}
        for resource, path, embedded in EMBEDDED:
            self.fields[resource].update(f"{path}.{p}" for p in own[embedded])

    def _read_page(
        self, resource: str, page: str, segments: tuple[str, ...], out: set[str]
    ) -> None:
        lines = (DOCS / "resources" / page).read_text(encoding="utf-8").split("\n")
        tables = TABLES[page]
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.strip().startswith("```json"):
                end = next(
                    j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")
                )
                if self._is_answer(page, lines, i, segments):
                    body = _lenient_json("\n".join(lines[i + 1 : end]))
                    items = body if isinstance(body, list) else [body]
                    self.examples.setdefault(resource, []).extend(items)
                    for item in items:
                        out.update(json_paths(item))
                i = end + 1
                continue
            if (
                line.strip().startswith("|")
                and i + 1 < len(lines)
                and set(lines[i + 1].strip()) <= set("|-: ")
            ):
                header = _cells(line)
                rows: list[str] = []
                choices: dict[str, set[str]] = {}
                j = i + 2
                while j < len(lines) and lines[j].strip().startswith("|"):
                    cells = _cells(lines[j])
                    rows.append(cells[0])
                    enumerated = _possible_values(" ".join(cells[1:]))
                    if enumerated:
                        choices[cells[0]] = enumerated
                    j += 1
                kind = header[0].lower()
                if kind == "property":
                    context = self._context(lines, i)
                    if context not in tables:
                        raise LookupError(f"{page}:{i + 1}: a property table for {context!r}")
                    prefix = tables[context]
                    out.update(f"{prefix}.{r}" if prefix else r for r in rows if r)
                    for name, enumerated in choices.items():
                        path = f"{prefix}.{name}" if prefix else name
                        self.values.setdefault(resource, {}).setdefault(path, set()).update(
                            enumerated
                        )
                    if prefix:
                        out.add(prefix.removesuffix("[]"))
                elif kind == "parameter":
                    endpoint = self._endpoint(lines, i)
                    if endpoint is not None:
                        self.params.setdefault(endpoint, {"page", "per_page"}).update(rows)
                        self.param_values.setdefault(endpoint, {}).update(choices)
                i = j
                continue
            i += 1

    @staticmethod
    def _is_answer(page: str, lines: list[str], start: int, segments: tuple[str, ...]) -> bool:
        """A JSON block right under ``HTTP/1.1 2xx``, for an endpoint of the page's resource."""
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        status = _STATUS_LINE.match(lines[j].strip()) if j >= 0 else None
        if status is None or not status[1].startswith("2"):
            return False
        k = start - 1
        while k >= 0 and not _METHOD_HEADING.match(lines[k]):
            k -= 1
        heading = _METHOD_HEADING.match(lines[k]) if k >= 0 else None
        if heading is None or (page, f"{heading[1]} {heading[2]}") in NOT_ANSWERS:
            return False
        return heading[2].split("/")[0] in segments

    @staticmethod
    def _context(lines: list[str], start: int) -> str:
        """The table's context: the field a sentence above it names, else its heading."""
        j = start - 1
        while j >= 0:
            text = lines[j].strip()
            if not text:
                j -= 1
                continue
            if set(text) <= set("-="):  # a setext heading's underline
                return lines[j - 1].strip()
            if text.startswith("#"):
                return text.lstrip("#").strip()
            named = re.search(r"`([^`]+)`", text)
            if named:
                return named[1].strip()
            j -= 1
        return ""

    @staticmethod
    def _endpoint(lines: list[str], start: int) -> str | None:
        """``"GET orders"`` for the parameter table of ``### GET /orders``."""
        k = start - 1
        while k >= 0:
            heading = re.match(r"^\s*#+\s*(GET|POST|PUT|DELETE|PATCH)\s+/(\S+)", lines[k])
            if heading:
                return f"{heading[1]} {heading[2]}"
            k -= 1
        return None

    # -- checks -------------------------------------------------------------------------

    def undocumented(self, resource: str, paths: Iterable[str]) -> list[str]:
        """The paths among ``paths`` the docs do not show for ``resource`` (sorted)."""
        known = self.fields[resource]
        missing = set()
        for path in paths:
            parts = path.split(".")
            free = any(p.removesuffix("[]") in FREE_FORM for p in parts[:-1])
            if path not in known and not free:
                missing.add(path)
        return sorted(missing)

    def bad_values(self, resource: str, payload: Any) -> list[str]:
        """Values of enumerated fields ("Possible values are …") the docs do not show."""
        allowed = self.values.get(resource, {})
        return [
            f"{resource} {path}={value!r}: not among {sorted(allowed[path])}"
            for path, value in _leaves(payload)
            if path in allowed and value is not None and str(value) not in allowed[path]
        ]

    def check_query(self, method: str, path: str, query: Iterable[tuple[str, str]]) -> list[str]:
        """Query parameters (and enumerated values) the endpoint's parameter table lacks."""
        query = list(query)
        if not query:
            return []
        template = re.sub(r"/[0-9]+(?=/|$)", "/{id}", path.strip("/"))
        endpoint = f"{method} {template}"
        declared = self.params.get(endpoint)
        if declared is None:
            return [f"{endpoint}: the docs give no query parameters"]
        found = []
        for name, value in query:
            if name not in declared:
                found.append(f"{endpoint}: ?{name} not documented")
            allowed = self.param_values.get(endpoint, {}).get(name)
            if allowed is not None and value not in allowed:
                found.append(f"{endpoint}: ?{name}={value} not among {sorted(allowed)}")
        return found


@functools.cache
def load_docs() -> TiendanubeDocs:
    """The docs, parsed once per test process."""
    return TiendanubeDocs()


class ReadRecorder(dict):  # type: ignore[type-arg]
    """A JSON object that records which of its keys a parser looks at (at any depth).

    ``wrap(payload)`` gives a copy whose objects record ``get``, ``[]`` and ``in`` in
    ``reads`` as paths like ``products[].price``; iteration over keys is not a read
    (multilingual objects are walked that way).
    """

    def __init__(self, data: Mapping[str, Any], path: str, reads: set[str]) -> None:
        super().__init__(
            {k: _wrap(v, f"{path}.{_key(k)}" if path else _key(k), reads) for k, v in data.items()}
        )
        self._path = path
        self._reads = reads

    def _seen(self, key: object) -> None:
        if isinstance(key, str):
            self._reads.add(f"{self._path}.{_key(key)}" if self._path else _key(key))

    def __getitem__(self, key: Any) -> Any:
        self._seen(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._seen(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._seen(key)
        return super().__contains__(key)


def _wrap(value: Any, path: str, reads: set[str]) -> Any:
    if isinstance(value, Mapping):
        return ReadRecorder(value, path, reads)
    if isinstance(value, list):
        return [_wrap(v, path + "[]", reads) for v in value]
    return value


def wrap(payload: Any, reads: set[str]) -> Any:
    """``payload`` with every object recording the keys read into ``reads``."""
    return _wrap(payload, "", reads)
