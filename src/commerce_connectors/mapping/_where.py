"""Where a mapped field sits, as the JSON-path-like text problems report.

Both forms of a compiled map (the closures and the generated code) render
problem paths here, so they cannot disagree.
"""

from __future__ import annotations

__all__ = ["Prefix", "join", "prefix_text", "where"]

#: Where a compiled field sits: ``""`` at the top, or the element path inside an
#: ``each`` as (path of the sequence, index); rendered only when a problem is
#: reported, since most records have none.
Prefix = str | tuple[str, int]


def join(prefix: str, path: str) -> str:
    """``path`` under ``prefix`` (``$``-rooted raw paths keep their own rendering).

    Example:
        >>> join("lines[2]", "price"), join("lines[2]", "$.sku"), join("", "email")
        ('lines[2].price', 'lines[2].sku', 'email')
    """
    if not prefix:
        return path
    if path.startswith("$"):
        return f"{prefix}{path[1:]}" if path.startswith("$[") else f"{prefix}.{path[2:]}"
    return f"{prefix}.{path}"


def prefix_text(prefix: Prefix) -> str:
    """The text of a prefix (``("lines", 2)`` is ``lines[2]``)."""
    return f"{prefix[0]}[{prefix[1]}]" if isinstance(prefix, tuple) else prefix


def where(prefix: Prefix, path: str) -> str:
    """The path a problem of the field at ``path`` under ``prefix`` is reported at."""
    return join(prefix_text(prefix), path)
