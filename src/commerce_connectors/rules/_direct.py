"""Frozen rule results built field by field, for the classes that allow it.

An attrs ``__init__`` of a frozen, slotted class sets each field through
``object.__setattr__`` (the frozen ``__setattr__`` refuses plain assignment),
plus its converters and validators. For classes with neither, and values that
are already what the constructor would store, setting each slot through its
descriptor makes the same object in about a third of the time; the rules make
several such objects per record (a contact, its source, its key, its consent,
the decision).

:func:`builder` writes, once per class, a function ``build(v0, v1, …)`` that
does exactly that, or returns ``None`` when the class is not plainly such a
class (then callers use the constructor).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["builder"]


def _plain(cls: type, names: tuple[str, ...], converted: bool) -> bool:
    """Whether ``cls`` is a slotted attrs class of exactly these fields and nothing more.

    No validator on any field, no converter either unless ``converted`` (the
    caller then passes what the converters would return), no
    ``__attrs_pre_init__`` / ``__attrs_post_init__``, no cached hash, and each
    field a slot of the class itself.
    """
    if not attrs.has(cls) or "__slots__" not in cls.__dict__:
        return False
    fields = attrs.fields(cls)
    if tuple(a.name for a in fields) != names:
        return False
    if any(a.validator is not None or (a.converter is not None and not converted) for a in fields):
        return False
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        return False
    if any("cached_hash" in slot for slot in getattr(cls, "__slots__", ())):
        return False  # a hash cache slot must start empty, as __init__ leaves it
    return all(isinstance(cls.__dict__.get(name), types.MemberDescriptorType) for name in names)


def builder(
    cls: type, names: tuple[str, ...], *, converted: bool = False
) -> Callable[..., Any] | None:
    """A function making ``cls(*values)`` slot by slot, or ``None`` if ``cls`` does not allow it.

    The values are given in field order, all of them (defaults are not filled in).
    With ``converted``, fields may have converters: the caller promises values
    each converter would return unchanged (it is not run).

    Example:
        >>> @attrs.frozen
        ... class Pair:
        ...     a: int
        ...     b: int = 0
        >>> build = builder(Pair, ("a", "b"))
        >>> build(1, 2) == Pair(1, 2), builder(Pair, ("a",))
        (True, None)
    """
    if not _plain(cls, names, converted):
        return None
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    args = ", ".join(f"v{n}" for n in range(len(names)))
    lines = [f"def build({args}):", "    made = _new(_cls)"]
    for n, name in enumerate(names):
        # Only positions and our own local names are written: field names stay data.
        namespace[f"_s{n}"] = cls.__dict__[name].__set__
        lines.append(f"    _s{n}(made, v{n})")
    lines.append("    return made")
    exec(compile("\n".join(lines) + "\n", f"<direct builder of {cls.__name__}>", "exec"), namespace)  # noqa: S102
    build: Callable[..., Any] = namespace.pop("build")
    return build
