"""No two modules import each other: data flows one way, imports too.

Read from the source with ``ast``, so imports hidden inside functions (the
usual way a cycle is papered over) and ``TYPE_CHECKING`` blocks count as much
as top-level ones. ``from pkg import name`` is an import of ``pkg.name`` when
that is a module, else of ``pkg``.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path

import pytest

import commerce_connectors

ROOT = Path(commerce_connectors.__file__).parent


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Every module under ``root`` by dotted name (relative to it), and whether it is a package."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, package)
    return found


def _imports(name: str, path: Path, package: bool, modules: set[str]) -> set[str]:
    """The modules of the library that module ``name`` imports, anywhere in its source."""
    here = name if package else name.rpartition(".")[0]
    top = commerce_connectors.__name__
    out: set[str] = set()

    def add(target: str) -> None:
        if target == top:
            out.add("")
        elif target.startswith(f"{top}."):
            out.add(target[len(top) + 1 :])

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = [top, *here.split(".")] if here else [top]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                add(sub if sub[len(top) + 1 :] in modules else source)
    out.discard(name)
    return out & modules


@functools.cache
def _mutual_pairs(root: Path) -> frozenset[tuple[str, str]]:
    modules = _modules(root)
    names = set(modules)
    edges = {n: _imports(n, p, pkg, names) for n, (p, pkg) in modules.items()}
    return {
        (a, b) if a < b else (b, a)
        for a, targets in edges.items()
        for b in targets
        if a in edges[b]
    }


def test_no_two_modules_of_the_library_import_each_other() -> None:
    assert _mutual_pairs(ROOT) == set()


@pytest.mark.parametrize("package", ["rules", "mapping"])
def test_rules_and_maps_have_no_mutual_imports_at_all(package: str) -> None:
    pairs = {p for p in _mutual_pairs(ROOT) if any(m.split(".")[0] == package for m in p)}
    assert pairs == set()


def test_platform_defaults_depend_on_the_policies_never_the_reverse() -> None:
    modules = _modules(ROOT)
    names = set(modules)
    for policy in ("rules.phone", "rules.consent", "rules.carts", "rules.guests", "rules.config"):
        assert "rules.defaults" not in _imports(policy, *modules[policy], names), policy
    assert {"rules.phone", "rules.consent", "rules.carts"} <= _imports(
        "rules.defaults", *modules["rules.defaults"], names
    )


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n    return x\n")
    (pkg / "c.py").write_text("from .b import f\n")
    assert _mutual_pairs(pkg) == {("a", "b")}


@pytest.mark.parametrize(
    ("module", "name", "home"),
    [
        ("platforms.shopify", "normalize_shop_domain", "platforms.shopify._shared"),
        ("platforms.shopify.connector", "normalize_shop_domain", "platforms.shopify._shared"),
        ("platforms.tiendanube", "TiendanubePaginator", "platforms.tiendanube._paging"),
        ("platforms.tiendanube.connector", "TiendanubePaginator", "platforms.tiendanube._paging"),
    ],
)
def test_names_moved_to_break_a_pair_are_still_exported_where_they_were(
    module: str, name: str, home: str
) -> None:
    old = importlib.import_module(f"{commerce_connectors.__name__}.{module}")
    new = importlib.import_module(f"{commerce_connectors.__name__}.{home}")
    assert name in old.__all__
    assert getattr(old, name) is getattr(new, name)
