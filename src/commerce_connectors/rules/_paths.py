"""Paths into a canonical record or into its raw platform payload.

One small syntax serves the phone chains, the consent fields and the field maps:

* ``default_address.phone``, ``lines[0].sku``, ``addresses[*].phone``,
  ``extra.reference_id``: a *canonical* path, read from the attrs record by
  attribute (and by key inside mappings such as ``extra``);
* ``$.billing_address.phone``, ``$.line_items[*].price``: a *raw* path, read
  from the record's ``raw`` payload exactly as the platform sent it.

``[n]`` indexes a sequence and ``[*]`` expands to every element, in order.
A canonical path naming an attribute the record does not have is an error (a
typo in a map must not silently yield ``None``); a raw key that is absent is
simply ``None``, because platforms omit keys freely.

A path without ``[*]`` is compiled once into a direct reader (its steps and
error texts prepared, attrs metadata cached per record class), which
:meth:`FieldPath.resolve` uses; the step-by-step walker stays as the reference
that the compiled reader is tested against.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from ..errors import ConfigurationError

__all__ = ["WILDCARD", "FieldPath", "PathError", "Reader", "Resolved"]


class _Wildcard:
    def __repr__(self) -> str:
        return "WILDCARD"


WILDCARD: Final = _Wildcard()

Step = str | int | _Wildcard

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]|(\.)")


class PathError(Exception):
    """A canonical path names something the record does not have."""


@attrs.frozen
class Resolved:
    """One value found at a concrete path (wildcards expanded).

    Attributes:
        path: the concrete path, e.g. ``addresses[1].phone`` or ``$.billing_address.phone``.
        value: the value found; ``None`` when absent.
        parent: the object holding the value (an ``Address`` for an address phone).
    """

    path: str
    value: Any
    parent: Any = None


def _parse_steps(text: str, *, original: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    pos = 0
    expect_name = True
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise ConfigurationError(f"invalid path {original!r} at position {pos}")
        name, index, dot = match.groups()
        if dot is not None:
            if expect_name:
                raise ConfigurationError(f"invalid path {original!r}: empty segment")
            expect_name = True
        elif name is not None:
            if not expect_name:
                raise ConfigurationError(f"invalid path {original!r}: missing '.' before {name!r}")
            steps.append(name.strip())
            expect_name = False
        else:
            if not steps and not text.startswith("["):
                raise ConfigurationError(f"invalid path {original!r}")
            steps.append(WILDCARD if index == "*" else int(index))
            expect_name = False
        pos = match.end()
    if expect_name and steps:
        raise ConfigurationError(f"invalid path {original!r}: ends with '.'")
    return tuple(steps)


def _render(raw: bool, steps: Sequence[Step]) -> str:
    out = "$" if raw else ""
    for step in steps:
        if isinstance(step, str):
            out += f".{step}" if (raw or out) else step
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            out += "[*]"
    return out


@attrs.frozen
class FieldPath:
    """A parsed path into a canonical record (``a.b[0]``) or its raw payload (``$.a.b``).

    Example:
        >>> FieldPath.parse("$.billing_address.phone").source
        'raw'
        >>> str(FieldPath.parse("addresses[*].phone"))
        'addresses[*].phone'
    """

    source: Literal["record", "raw"]
    steps: tuple[Step, ...]

    @classmethod
    def parse(cls, text: str | FieldPath) -> FieldPath:
        """Parse ``text``; a ``FieldPath`` is returned unchanged.

        Raises:
            ConfigurationError: the text is not a valid path.
        """
        if isinstance(text, FieldPath):
            return text
        if not isinstance(text, str) or not text.strip():
            raise ConfigurationError(f"a path must be a non-empty string, got {text!r}")
        stripped = text.strip()
        if stripped == "$":
            return cls("raw", ())
        if stripped.startswith("$"):
            rest = stripped[1:]
            if not rest.startswith((".", "[")):
                raise ConfigurationError(f"invalid raw path {text!r}: expected '$.' or '$['")
            if rest.startswith("."):
                rest = rest[1:]
            return cls("raw", _parse_steps(rest, original=text))
        steps = _parse_steps(stripped, original=text)
        if not steps or not isinstance(steps[0], str):
            raise ConfigurationError(f"invalid path {text!r}: must start with a field name")
        return cls("record", steps)

    @property
    def is_raw(self) -> bool:
        """True for a path into the raw platform payload."""
        return self.source == "raw"

    @property
    def has_wildcard(self) -> bool:
        """True when the path may expand to several values."""
        return any(isinstance(s, _Wildcard) for s in self.steps)

    def __str__(self) -> str:
        return _render(self.is_raw, self.steps)

    def resolve(self, record: Any) -> list[Resolved]:
        """Return every value the path reaches in ``record``, in order.

        Without a wildcard the list has exactly one element (whose value may be
        ``None``); with ``[*]`` it has one element per sequence item.

        Raises:
            PathError: a canonical path names an attribute the record lacks.
        """
        compiled = _compiled_by_id(self)
        if compiled is None:
            return self._resolve_reference(record)
        reader, text = compiled
        value, parent = reader(record)
        return [Resolved(text, value, parent)]

    def reader(self) -> Reader | None:
        """The compiled reader of a path without ``[*]`` (``None`` for a wildcard path).

        ``reader(record)`` returns ``(value, parent)`` exactly as :meth:`resolve`
        would (its single element's ``value`` and ``parent``; its ``path`` is
        always ``str(self)``), and raises the same :class:`PathError`. Readers
        are built once per path and cached.

        Example:
            >>> from commerce_connectors.models import Address
            >>> FieldPath.parse("country_code").reader()(Address(country_code="ES"))[0]
            'ES'
        """
        compiled = _compiled_by_id(self)
        return None if compiled is None else compiled[0]

    def _resolve_reference(self, record: Any) -> list[Resolved]:
        """The step-by-step walker: the reference the compiled readers must equal."""
        if self.is_raw:
            return self._walk(getattr(record, "raw", None), [], 0, None, raw=True)
        return self._walk(record, [], 0, None, raw=False)

    def _walk(
        self, current: Any, done: list[Step], i: int, parent: Any, *, raw: bool
    ) -> list[Resolved]:
        if i == len(self.steps):
            return [Resolved(_render(raw, done), current, parent)]
        step = self.steps[i]
        if current is None:
            # An absent intermediate (no default address, no raw payload) makes
            # the whole path absent; it is not a mistake in the path.
            concrete = [*done, *self.steps[i:]]
            return [Resolved(_render(raw, concrete), None, None)]
        if isinstance(step, _Wildcard):
            if not _is_sequence(current):
                if raw:
                    return [Resolved(_render(raw, [*done, *self.steps[i:]]), None, None)]
                raise PathError(f"{_render(raw, done)} is not a sequence")
            found: list[Resolved] = []
            for n, item in enumerate(current):
                found.extend(self._walk(item, [*done, n], i + 1, current, raw=raw))
            return found
        if isinstance(step, int):
            if not _is_sequence(current):
                if raw:
                    return [Resolved(_render(raw, [*done, *self.steps[i:]]), None, None)]
                raise PathError(f"{_render(raw, done)} is not a sequence")
            value = current[step] if step < len(current) else None
            return self._walk(value, [*done, step], i + 1, current, raw=raw)
        if isinstance(current, Mapping):
            value = current.get(step)
        elif raw:
            value = None
        elif _has_field(current, step):
            value = getattr(current, step)
        else:
            where = _render(raw, done) or type(current).__name__
            raise PathError(f"{where} has no field {step!r}")
        return self._walk(value, [*done, step], i + 1, current, raw=raw)


def _is_sequence(value: Any) -> bool:
    return _shape(type(value)).sequence


@attrs.frozen
class _Shape:
    """What a path needs to know about a class, asked once per class."""

    mapping: bool
    sequence: bool
    fields: frozenset[str]


# Classes met by paths: the model's records, dicts, lists, tuples; a few dozen.
# Cleared if it ever grows past the limit (classes made on the fly), so it stays bounded.
_SHAPES: dict[type, _Shape] = {}
_SHAPES_LIMIT = 1024


def _shape(cls: type) -> _Shape:
    shape = _SHAPES.get(cls)
    if shape is None:
        names = frozenset(a.name for a in attrs.fields(cls)) if attrs.has(cls) else frozenset()
        shape = _Shape(
            issubclass(cls, Mapping),
            issubclass(cls, Sequence) and not issubclass(cls, str | bytes),
            names,
        )
        if len(_SHAPES) >= _SHAPES_LIMIT:
            _SHAPES.clear()
        _SHAPES[cls] = shape
    return shape


def _has_field(obj: Any, name: str) -> bool:
    if name.startswith("_"):
        return False
    if name in _shape(type(obj)).fields:
        return True
    # Properties such as Money.exponent or Cart.last_activity_at are fair game;
    # methods are not values and are refused.
    return hasattr(obj, name) and not callable(getattr(obj, name))


_NOT_A_FIELD: Final = object()


def _property(obj: Any, name: str) -> Any:
    """``getattr(obj, name)`` for a name that is not an attrs field; ``_NOT_A_FIELD`` if refused.

    The same decision as :func:`_has_field` followed by ``getattr``, with the
    attribute read once instead of three times (properties compute).
    """
    if name.startswith("_"):
        return _NOT_A_FIELD
    try:
        value = getattr(obj, name)
    except AttributeError:
        return _NOT_A_FIELD
    return _NOT_A_FIELD if callable(value) else value


#: A compiled path: ``reader(record) -> (value, parent)``.
Reader = Callable[[Any], tuple[Any, Any]]


@functools.lru_cache(maxsize=4096)
def _compiled(path: FieldPath) -> tuple[Reader, str] | None:
    """Compile a path without wildcards into one loop over prepared steps, with its text."""
    if path.has_wildcard:
        return None
    raw = path.is_raw
    # Each step as (name, index, private name, path before it for error
    # texts); exactly one of name and index is set.
    plan: tuple[tuple[str | None, int | None, bool, str], ...] = tuple(
        (
            step if isinstance(step, str) else None,
            step if isinstance(step, int) else None,
            isinstance(step, str) and step.startswith("_"),
            _render(raw, path.steps[:i]),
        )
        for i, step in enumerate(path.steps)
    )

    # Per step, the classes whose value there is a plain attrs field: found
    # once through their shape, then read without asking again.
    direct: tuple[set[type], ...] = tuple(set() for _ in plan)

    def read(record: Any) -> tuple[Any, Any]:
        current = getattr(record, "raw", None) if raw else record
        parent = None
        for (name, index, private, before), fast in zip(plan, direct, strict=True):
            if current is None:
                # An absent intermediate makes the whole path absent.
                return None, None
            cls = type(current)
            if cls in fast:
                value = getattr(current, name)  # type: ignore[arg-type]
            elif name is None:
                assert index is not None
                if cls is dict or not _shape(cls).sequence:
                    if raw:
                        return None, None
                    raise PathError(f"{before} is not a sequence")
                value = current[index] if index < len(current) else None
            elif cls is dict:
                value = current.get(name)
            else:
                shape = _shape(cls)
                if shape.mapping:
                    value = current.get(name)
                elif raw:
                    value = None
                elif name in shape.fields and not private:
                    fast.add(cls)
                    value = getattr(current, name)
                else:
                    value = _property(current, name)
                    if value is _NOT_A_FIELD:
                        raise PathError(f"{before or cls.__name__} has no field {name!r}")
            parent = current
            current = value
        return current, parent

    text = _render(raw, path.steps)
    if all(name is not None for name, _, _, _ in plan):
        if raw:
            return _raw_names(path, read), text
        if len(plan) > 1:
            return _names(path, direct, read), text
    if raw or len(plan) != 1:
        return read, text
    # The common case, a field of the record itself: one class check, one getattr.
    name, fast = path.steps[0], direct[0]
    assert isinstance(name, str)

    def read_field(record: Any) -> tuple[Any, Any]:
        if type(record) in fast:
            return getattr(record, name), record
        return read(record)

    return read_field, text


def _raw_names(path: FieldPath, read: Reader) -> Reader:
    """A raw path of names only (``$.billing_address.phone``), unrolled for dicts.

    What ``read`` does with a dict at every step (``current.get(name)``); any
    other object on the way goes to ``read`` itself, which starts again.
    """
    names = tuple(step for step in path.steps if isinstance(step, str))

    def read_raw(record: Any) -> tuple[Any, Any]:
        current = getattr(record, "raw", None)
        parent = None
        for name in names:
            if current is None:
                return None, None
            if type(current) is not dict:
                return read(record)
            parent = current
            current = current.get(name)
        return current, parent

    return read_raw


def _names(path: FieldPath, direct: tuple[set[type], ...], read: Reader) -> Reader:
    """A canonical path of names only (``customer.phone``), unrolled.

    At each step, a class ``read`` has found to hold the name as a plain attrs
    field is read with ``getattr`` and a dict with ``get``, as ``read`` does;
    anything else (a first meeting, another mapping, a property, a missing
    field) goes to ``read`` itself, which starts again from the record (plain
    fields read twice are the same).
    """
    steps = tuple(
        (step, fast) for step, fast in zip(path.steps, direct, strict=True) if isinstance(step, str)
    )

    def read_names(record: Any) -> tuple[Any, Any]:
        current = record
        parent = None
        for name, fast in steps:
            if current is None:
                return None, None
            cls = type(current)
            if cls in fast:
                value = getattr(current, name)
            elif cls is dict:
                value = current.get(name)  # a mapping field such as ``extra``
            else:
                return read(record)
            parent = current
            current = value
        return current, parent

    return read_names


# The paths of maps, phone chains and consent fields are long-lived objects asked
# for their reader on every record; hashing a path (its attrs ``__hash__``) for the
# cache above costs more than the read itself, so each path object is also found
# by identity. The entry holds the path, so its id cannot be reused while listed.
_BY_ID: dict[int, tuple[FieldPath, tuple[Reader, str] | None]] = {}
_BY_ID_LIMIT = 4096


def _compiled_by_id(path: FieldPath) -> tuple[Reader, str] | None:
    """:func:`_compiled` for this very path object, without hashing it."""
    entry = _BY_ID.get(id(path))
    if entry is not None and entry[0] is path:
        return entry[1]
    compiled = _compiled(path)
    if len(_BY_ID) >= _BY_ID_LIMIT:
        # Paths made on the fly would otherwise pile up: start again (bounded).
        _BY_ID.clear()
    _BY_ID[id(path)] = (path, compiled)
    return compiled
