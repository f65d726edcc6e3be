"""Field maps as generated Python: one function per (map, record class).

A compiled map (``_fieldmap._Compiled``) calls one closure per field, and each
closure calls a path reader and a transform. For the classes a sync meets
again and again (``Order``, ``LineItem``, ``Contact``, ``Customer``…), this
module writes the whole map out as the source of one function, the way attrs
writes ``__init__``: a plain attrs field of the record is read as
``record.name``, transforms are locals, the usual transforms are inlined for
their exact input type (with the transform itself called for anything else),
and the CRM field names are dictionary keys held in locals. Paths that are
not a plain field of the class (raw paths, nested paths, properties,
wildcards) call the same compiled reader or closure the reference uses, so
they stay exactly as they were.

A map is user configuration, so nothing it holds becomes code: CRM names,
path texts, transforms and readers travel in the function's namespace under
names this module makes up (``_g3``, ``_p3``, ``_t3``); the one piece of a
path written into the source, an attribute name, is first checked to be a
plain ASCII identifier that is an attrs field of the class.

The generated functions give the same values and the same problems, in the
same order, as the closures and the interpreted reference
(``tests/perf/test_maps_generated.py`` holds them to it).
"""

from __future__ import annotations

import datetime as _dt
import enum
import inspect
import itertools
import keyword
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..errors import FieldProblem
from ..models import Money, _minor_units_of
from ..rules._paths import FieldPath, PathError, Reader, _shape
from ..rules.email import normalize_email
from ._where import Prefix
from ._where import where as _where
from .transforms import TRANSFORMS, Transform

__all__ = ["ExternalPlan", "FieldPlan", "Generated", "Prefix", "generate"]


#: ``(record, prefix, problems) -> value``: one field, as the closures compute it.
FieldFn = Callable[[Any, Prefix, list[FieldProblem]], Any]

#: ``(record, prefix, problems) -> fields``: a whole map's fields.
FieldsFn = Callable[[Any, Prefix, list[FieldProblem]], dict[str, Any]]

#: ``record -> (external id, fields, problems)``: a whole map at the top level.
RunFn = Callable[[Any], tuple[str | None, dict[str, Any], tuple[FieldProblem, ...]]]


@attrs.frozen
class FieldPlan:
    """What the generator needs to know about one field of a map.

    Attributes:
        target: the CRM field name (data: bound in the namespace, never written as code).
        path: the source path.
        required: a ``None`` value is a problem.
        transform: the resolved transform, or ``None``.
        each: the nested map's fields function, for ``each`` fields.
        closure: the field's compiled closure, called for wildcard paths.
        each_for: for ``each`` fields, the nested map's fields function for
            elements of one class (what ``each`` does for them, without
            looking their class up again); ``None`` leaves every element to ``each``.
    """

    target: str
    path: FieldPath
    required: bool
    transform: Transform | None
    each: FieldsFn | None
    closure: FieldFn
    each_for: Callable[[type], FieldsFn] | None = None


@attrs.frozen
class ExternalPlan:
    """The external id of a map.

    Attributes:
        path: where it is read from.
        required: a missing one is a problem.
        closure: the compiled ``(record, problems) -> id`` function, called for
            wildcard paths.
    """

    path: FieldPath
    required: bool
    closure: Callable[[Any, list[FieldProblem]], str | None]


@attrs.frozen
class Generated:
    """The two functions generated for one record class.

    Attributes:
        run: the whole map at the top level.
        fields: the fields alone, for an ``each`` element.
    """

    run: RunFn
    fields: FieldsFn


def _attribute(cls: type, path: FieldPath) -> str | None:
    """The attribute name to read as ``record.name``, or ``None`` to use the reader.

    Only a one-step canonical path naming a public attrs field of a class that
    is not a mapping qualifies: exactly where the compiled reader itself does a
    plain ``getattr``. The name must also be an ASCII identifier and not a
    keyword, so that it means the same attribute when written as code.
    """
    if path.is_raw or len(path.steps) != 1:
        return None
    name = path.steps[0]
    if (
        not isinstance(name, str)
        or name.startswith("_")
        or not name.isascii()
        or not name.isidentifier()
        or keyword.iskeyword(name)
    ):
        return None
    shape = _shape(cls)
    if shape.mapping or name not in shape.fields:
        return None
    return name


# ``Money.to_minor_units()`` written out as the function it calls (the method call
# and the attribute lookups around it are much of its cost, paid twice per order line).
_MINOR_UNITS = "_minor_units_of(v.amount, v.currency) if type(v) is _Money else {t}(v)"


def _property(cls: type, path: FieldPath) -> str | None:
    """The name of a property the path reads as ``record.name``, or ``None``.

    A one-step canonical path naming a public ``property`` of an attrs class
    that is not a mapping, and not one of its fields: exactly where the
    compiled reader does ``getattr`` and refuses only a missing attribute or
    a callable value. The name is checked as in :func:`_attribute`.
    """
    if path.is_raw or len(path.steps) != 1 or not attrs.has(cls):
        return None
    name = path.steps[0]
    if (
        not isinstance(name, str)
        or name.startswith("_")
        or not name.isascii()
        or not name.isidentifier()
        or keyword.iskeyword(name)
    ):
        return None
    shape = _shape(cls)
    if shape.mapping or name in shape.fields:
        return None
    if not isinstance(inspect.getattr_static(cls, name, None), property):
        return None
    return name


# The usual transforms written out for their exact input type; any other value
# goes to the transform itself, so errors and odd inputs are its own.
_INLINE: tuple[tuple[Transform, str], ...] = (
    (TRANSFORMS["minor_units"], _MINOR_UNITS),
    (
        TRANSFORMS["iso_datetime"],
        "v.isoformat() if type(v) is _datetime and v.tzinfo is not None else {t}(v)",
    ),
    (TRANSFORMS["quantity"], "v if type(v) is int else {t}(v)"),
    (TRANSFORMS["text"], "str(v) if type(v) is str or type(v) is int else {t}(v)"),
    (TRANSFORMS["enum_value"], "v.value if isinstance(v, _Enum) else {t}(v)"),
    (TRANSFORMS["flag"], '("1" if v else "0") if type(v) is bool else {t}(v)'),
    (TRANSFORMS["list"], "list(v) if type(v) is tuple or type(v) is list else {t}(v)"),
    # ``str(v)`` of exactly a str is that str.
    (TRANSFORMS["email"], "_normalize_email(v).value if type(v) is str else {t}(v)"),
    # No codes: nothing to join, ``None`` (the order map's discount codes, usually).
    (TRANSFORMS["join"], "None if type(v) is tuple and not v else {t}(v)"),
)


def _transform_expr(transform: Transform, local: str) -> str:
    # By identity: a user's callable is never taken for one of ours, whatever its ``__eq__``.
    template = next((text for fn, text in _INLINE if fn is transform), "{t}(v)")
    return template.format(t=local)


class _Writer:
    """Lines of generated source with their indentation, and the namespace they use."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "_FP": FieldProblem,
            "_PathError": PathError,
            "_where": _where,
            "_Sequence": Sequence,
            "_Money": Money,
            "_minor_units_of": _minor_units_of,
            "_normalize_email": normalize_email,
            "_datetime": _dt.datetime,
            "_Enum": enum.Enum,
        }

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def bind(self, name: str, value: Any) -> str:
        self.namespace[name] = value
        return name


def _read(w: _Writer, depth: int, cls: type, path: FieldPath, tag: str, error: str) -> int:
    """Write the reading of ``path`` into ``v``; returns the depth the rest goes at.

    ``error`` is the statement list (one per line, ``;`` separated) run when the
    reader raises :class:`PathError` (bound to ``exc``); the rest then goes in
    the ``else:`` branch.
    """
    name = _attribute(cls, path)
    if name is not None:
        w.line(depth, f"v = record.{name}")
        return depth
    reader: Reader | None = path.reader()
    assert reader is not None  # wildcard paths never get here
    r = w.bind(f"_r{tag}", reader)
    w.line(depth, "try:")
    prop = _property(cls, path)
    if prop is not None:
        # What the reader does with a property (``Contact.external_id``): one
        # ``getattr``; anything it would refuse goes to the reader itself.
        w.line(depth + 1, "try:")
        w.line(depth + 2, f"v = record.{prop}")
        w.line(depth + 1, "except AttributeError:")
        w.line(depth + 2, f"v = {r}(record)[0]")
        w.line(depth + 1, "else:")
        w.line(depth + 2, "if callable(v):")
        w.line(depth + 3, f"v = {r}(record)[0]")
    else:
        w.line(depth + 1, f"v = {r}(record)[0]")
    w.line(depth, "except _PathError as exc:")
    for statement in error.split(";"):
        w.line(depth + 1, statement.strip())
    w.line(depth, "else:")
    return depth + 1


def _field(w: _Writer, depth: int, cls: type, plan: FieldPlan, n: int) -> None:
    """Write the code that leaves field ``n``'s value in ``v{n}``."""
    out = f"v{n}"
    if plan.path.has_wildcard:
        c = w.bind(f"_c{n}", plan.closure)
        w.line(depth, f"{out} = {c}(record, prefix, problems)")
        return
    if plan.each is None and plan.transform is None and not plan.required:
        name = _attribute(cls, plan.path)
        if name is not None:
            # The commonest field of all: a plain attribute, copied as it is.
            w.line(depth, f"{out} = record.{name}")
            return
    g = w.bind(f"_g{n}", plan.target)
    p = w.bind(f"_p{n}", str(plan.path))
    where = f"_where(prefix, {p})"
    missing = f'problems.append(_FP({where}, f"{{{g}}}: required value missing"))'
    error = f'problems.append(_FP({where}, f"{{{g}}}: {{exc}}")); {out} = None'
    depth = _read(w, depth, cls, plan.path, str(n), error)
    if plan.each is not None:
        e = w.bind(f"_e{n}", plan.each)
        w.line(depth, "if v is None:")
        if plan.required:
            w.line(depth + 1, missing)
        w.line(depth + 1, f"{out} = None")
        w.line(depth, "else:")
        w.line(depth + 1, f"full = {p} if prefix == '' else {where}")
        w.line(depth + 1, "cls = type(v)")
        w.line(
            depth + 1,
            "if cls is not tuple and cls is not list"
            " and (isinstance(v, str) or not isinstance(v, _Sequence)):",
        )
        w.line(
            depth + 2,
            f'problems.append(_FP(full, f"{{{g}}}: expected a sequence to map each item", v))',
        )
        w.line(depth + 2, f"{out} = None")
        w.line(depth + 1, "else:")
        each_all = f"[{e}(item, (full, i), problems) for i, item in enumerate(v)]"
        if plan.each_for is None:
            w.line(depth + 2, f"{out} = {each_all}")
            return
        # Lines are all of one class: its fields function is looked up once, from
        # the first element, and any element of another class goes the usual way.
        f = w.bind(f"_f{n}", plan.each_for)
        w.line(depth + 2, "if (cls is list or cls is tuple) and v:")
        w.line(depth + 3, "first = type(v[0])")
        w.line(depth + 3, f"same = {f}(first)")
        w.line(
            depth + 3,
            f"{out} = [same(item, (full, i), problems) if type(item) is first"
            f" else {e}(item, (full, i), problems) for i, item in enumerate(v)]",
        )
        w.line(depth + 2, "else:")
        w.line(depth + 3, f"{out} = {each_all}")
        return
    if plan.transform is None:
        if plan.required:
            w.line(depth, "if v is None:")
            w.line(depth + 1, missing)
        w.line(depth, f"{out} = v")
        return
    t = w.bind(f"_t{n}", plan.transform)
    w.line(depth, "if v is None:")
    if plan.required:
        w.line(depth + 1, missing)
    w.line(depth + 1, f"{out} = None")
    w.line(depth, "else:")
    w.line(depth + 1, "try:")
    w.line(depth + 2, f"{out} = {_transform_expr(plan.transform, t)}")
    # Any failure of a transform (user-written ones included) is one bad field
    # to report, never a reason to stop mapping the other fields.
    w.line(depth + 1, "except Exception as exc:")
    w.line(depth + 2, f'problems.append(_FP({where}, f"{{{g}}}: {{exc}}", v))')
    w.line(depth + 2, f"{out} = None")


def _external_id(w: _Writer, depth: int, cls: type, plan: ExternalPlan) -> None:
    """Write the code that leaves the external id in ``x`` (``None`` with a problem)."""
    if plan.path.has_wildcard:
        c = w.bind("_xc", plan.closure)
        w.line(depth, f"x = {c}(record, problems)")
        return
    p = w.bind("_xp", str(plan.path))
    error = 'problems.append(_FP(_xp, f"external id: {exc}")); x = None'
    depth = _read(w, depth, cls, plan.path, "x", error)
    w.line(depth, "if type(v) is str:")
    w.line(depth + 1, "x = v.strip() or None")
    w.line(depth, "else:")
    w.line(depth + 1, "if isinstance(v, int) and not isinstance(v, bool):")
    w.line(depth + 2, "v = str(v)")
    w.line(depth + 1, "x = (v.strip() or None) if isinstance(v, str) else None")
    w.line(depth, "if x is None:")
    condition = "True" if plan.required else "v is not None"
    w.line(depth + 1, f"if {condition}:")
    w.line(
        depth + 2,
        f"problems.append(_FP({p}, 'external id missing' if v is None"
        " else 'external id is not a string', v))",
    )


def _values(w: _Writer, fields: Sequence[FieldPlan]) -> str:
    keys = [w.bind(f"_k{n}", plan.target) for n, plan in enumerate(fields)]
    return "{" + ", ".join(f"{k}: v{n}" for n, k in enumerate(keys)) + "}"


_SERIAL = itertools.count()


def generate(cls: type, fields: Sequence[FieldPlan], external: ExternalPlan) -> Generated:
    """Generate the map's two functions for records of exactly ``cls``.

    Args:
        cls: the record class the functions are for (callers dispatch on
            ``type(record) is cls``).
        fields: the map's fields, in order.
        external: the map's external id.

    Returns:
        The top-level function and the fields function.

    Example:
        >>> from commerce_connectors.models import Address
        >>> def never(record, prefix, problems):
        ...     raise AssertionError
        >>> plan = FieldPlan("city", FieldPath.parse("city"), True, None, None, never)
        >>> ext = ExternalPlan(FieldPath.parse("$.id"), False, never)
        >>> generate(Address, [plan], ext).run(Address(city="Lyon"))
        (None, {'city': 'Lyon'}, ())
    """
    w = _Writer()
    w.line(0, "def run(record):")
    w.line(1, "problems = []")
    w.line(1, "prefix = ''")
    _external_id(w, 1, cls, external)
    for n, plan in enumerate(fields):
        _field(w, 1, cls, plan, n)
    values = _values(w, fields)
    w.line(1, f"return x, {values}, (tuple(problems) if problems else ())")
    w.line(0, "def fields(record, prefix, problems):")
    for n, plan in enumerate(fields):
        _field(w, 1, cls, plan, n)
    w.line(1, f"return {values}")
    source = "\n".join(w.lines) + "\n"
    filename = f"<generated field map {next(_SERIAL)}>"
    # The source is ours: every value of the map is in the namespace, and the
    # only path text in it is an attribute name checked by ``_attribute``.
    exec(compile(source, filename, "exec"), w.namespace)  # noqa: S102
    # Taken out of their namespace (their globals), so no function/globals cycle is left.
    return Generated(w.namespace.pop("run"), w.namespace.pop("fields"))
