"""Declarative field maps: canonical record → a CRM's field names.

A map is interpreted spec by spec (``_run_interpreted``, the reference) or,
as :meth:`FieldMap.apply` and :meth:`FieldMap.check` do, compiled once into
one function per field: paths into direct readers, transforms resolved per
spec instead of per value. Both give the same values and the same problems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import ConfigurationError, FieldProblem, MappingError
from ..rules._paths import FieldPath, PathError
from ._codegen import ExternalPlan, FieldPlan, Generated, generate
from ._where import Prefix as _Prefix
from ._where import join as _join
from ._where import prefix_text as _prefix_text
from ._where import where as _where
from .transforms import Transform, resolve_transform

__all__ = ["FieldMap", "FieldSpec", "MappedRecord"]


def _path(value: str | FieldPath) -> FieldPath:
    return FieldPath.parse(value)


_EXTERNAL_ID = FieldPath.parse("external_id")


def _check_transform(
    instance: object, attribute: attrs.Attribute[Any], value: str | Transform | None
) -> None:
    resolve_transform(value)


def _check_target(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"a field's target name must be a non-empty string: {value!r}")


@attrs.frozen
class FieldSpec:
    """One CRM field and where its value comes from.

    Attributes:
        target: the CRM's field name.
        source: a canonical path (``total``, ``customer.default_address.city``)
            or a raw payload path (``$.note_attributes[0].value``).
        transform: a transform name from
            :data:`~commerce_connectors.mapping.TRANSFORMS` or a callable,
            applied to non-``None`` values (each element for a ``[*]`` path).
        required: a ``None`` value is a bad field rather than an empty one.
        each: map every element of the source sequence with this nested map
            (order lines).

    Example:
        >>> FieldSpec("totalPrice", "total", transform="minor_units", required=True).target
        'totalPrice'
    """

    target: str = attrs.field(validator=_check_target)
    source: FieldPath = attrs.field(converter=_path)
    transform: str | Transform | None = attrs.field(default=None, validator=_check_transform)
    required: bool = False
    each: FieldMap | None = None


@attrs.frozen
class MappedRecord:
    """A record expressed in a CRM's field names.

    Attributes:
        kind: the map's kind (``contact``, ``order``, ``line``, ``product``, ``cart``, ``payment``).
        external_id: the id the CRM stores as its external id (``None`` when the
            map does not require one and the record has none).
        fields: CRM field name → value, in the map's order.
    """

    kind: str
    external_id: str | None
    fields: Mapping[str, Any]


def _fields(value: Iterable[FieldSpec]) -> tuple[FieldSpec, ...]:
    specs = tuple(value)
    seen: set[str] = set()
    for spec in specs:
        if spec.target in seen:
            raise ConfigurationError(f"field {spec.target!r} is mapped twice")
        seen.add(spec.target)
    return specs


@attrs.frozen
class FieldMap:
    """A declarative map from one kind of canonical record to a CRM's fields.

    Maps are immutable: :meth:`rename`, :meth:`drop`, :meth:`add`,
    :meth:`replace` and :meth:`with_external_id` return new maps, so a default
    map can be adapted per connection without being changed for everyone.

    Attributes:
        kind: what the map is for (``contact``, ``order``, ``line``…).
        fields: the field specs, in output order.
        external_id: the path the CRM's external id is read from (the
            platform's id by default; e.g. ``$.reference_id`` for a Square
            customer's reference id).
        require_external_id: a missing external id is a bad field.

    Example:
        >>> from datetime import datetime, timezone
        >>> from commerce_connectors.models import Product, Money
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> p = Product("shopify", "s", "632910392", t, t, name="IPod Nano",
        ...             price=Money("199.00", "USD"), raw={"vendor": "Apple"})
        >>> m = FieldMap("product", [FieldSpec("name", "name")]).add(
        ...     "price", "price", transform="minor_units").add("brand", "$.vendor")
        >>> m.apply(p).fields
        {'name': 'IPod Nano', 'price': 19900, 'brand': 'Apple'}
    """

    kind: str
    fields: tuple[FieldSpec, ...] = attrs.field(converter=_fields)
    external_id: FieldPath = attrs.field(default=_EXTERNAL_ID, converter=_path)
    require_external_id: bool = True
    # The compiled form, built on first use (maps are immutable, so it never goes stale).
    _compiled: _Compiled | None = attrs.field(
        default=None, init=False, eq=False, repr=False, hash=False
    )

    # -- building ---------------------------------------------------------------

    @property
    def targets(self) -> tuple[str, ...]:
        """The CRM field names, in order."""
        return tuple(spec.target for spec in self.fields)

    def spec(self, target: str) -> FieldSpec:
        """The spec of one CRM field.

        Raises:
            ConfigurationError: no such field in the map.
        """
        for spec in self.fields:
            if spec.target == target:
                return spec
        raise ConfigurationError(f"the {self.kind} map has no field {target!r}")

    def rename(self, old: str, new: str) -> FieldMap:
        """Return a copy where CRM field ``old`` is called ``new``.

        Example:
            >>> from commerce_connectors.mapping import CONTACT_MAP
            >>> CONTACT_MAP.rename("account", "organization").targets[:5]
            ('firstName', 'lastName', 'email', 'phone', 'organization')
        """
        self.spec(old)
        return attrs.evolve(
            self,
            fields=[attrs.evolve(s, target=new) if s.target == old else s for s in self.fields],
        )

    def drop(self, *targets: str) -> FieldMap:
        """Return a copy without the given CRM fields."""
        for target in targets:
            self.spec(target)
        return attrs.evolve(self, fields=[s for s in self.fields if s.target not in targets])

    def add(
        self,
        target: str,
        source: str | FieldPath,
        *,
        transform: str | Transform | None = None,
        required: bool = False,
        each: FieldMap | None = None,
    ) -> FieldMap:
        """Return a copy with one more CRM field, read from a canonical or raw path.

        Raises:
            ConfigurationError: the field already exists (use :meth:`replace`).
        """
        spec = FieldSpec(target, source, transform, required, each)
        return attrs.evolve(self, fields=[*self.fields, spec])

    def replace(
        self,
        target: str,
        source: str | FieldPath,
        *,
        transform: str | Transform | None = None,
        required: bool = False,
        each: FieldMap | None = None,
    ) -> FieldMap:
        """Return a copy where an existing CRM field reads from somewhere else."""
        self.spec(target)
        spec = FieldSpec(target, source, transform, required, each)
        return attrs.evolve(self, fields=[spec if s.target == target else s for s in self.fields])

    def with_external_id(
        self, source: str | FieldPath, *, required: bool | None = None
    ) -> FieldMap:
        """Return a copy that takes the CRM's external id from another path.

        Choosing where the id comes from does not change whether it is
        required: by default the copy keeps this map's
        :attr:`require_external_id`. The contact map's external id is optional
        (guests may have none), so ``CONTACT_MAP.with_external_id(...)`` stays
        optional: a contact without that value is written without an external
        id, not rejected. Pass ``required=True`` to reject records that lack it
        (they are reported as bad fields and dead-lettered by a sync), or
        ``required=False`` to make the id optional on any map.

        Args:
            source: a canonical or raw path (``$.reference_id``).
            required: a missing value is a bad field (``True``), an absent
                external id (``False``), or as this map says (``None``).

        Example:
            >>> from datetime import datetime, timezone
            >>> from commerce_connectors.mapping import CONTACT_MAP
            >>> from commerce_connectors.models import Customer
            >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
            >>> by_reference = CONTACT_MAP.with_external_id("$.reference_id")
            >>> str(by_reference.external_id), by_reference.require_external_id
            ('$.reference_id', False)
            >>> no_reference = Customer("square", "square:M:L", "C1", t, t, email="a@b.co", raw={})
            >>> by_reference.apply(no_reference).external_id is None
            True
            >>> CONTACT_MAP.with_external_id("$.reference_id", required=True).check(no_reference)
            (FieldProblem(path='$.reference_id', reason='external id missing', value=None),)
        """
        keep = self.require_external_id if required is None else required
        return attrs.evolve(self, external_id=source, require_external_id=keep)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldMap:
        """Build a map from plain data (a parsed JSON or TOML table).

        ``fields`` maps CRM names to a path string or to a table with
        ``source``, and optionally ``transform`` (a name), ``required`` and
        ``each`` (a nested map table).

        Example:
            >>> m = FieldMap.from_dict({"kind": "product", "external_id": "$.handle",
            ...     "fields": {"title": "name", "cents": {"source": "price",
            ...                "transform": "minor_units"}}})
            >>> m.targets, str(m.external_id)
            (('title', 'cents'), '$.handle')
        """
        try:
            specs = []
            for target, spec in dict(data["fields"]).items():
                if isinstance(spec, str):
                    specs.append(FieldSpec(target, spec))
                    continue
                each = spec.get("each")
                specs.append(
                    FieldSpec(
                        target,
                        spec["source"],
                        spec.get("transform"),
                        bool(spec.get("required", False)),
                        cls.from_dict(each) if each is not None else None,
                    )
                )
            return cls(
                str(data.get("kind", "record")),
                specs,
                data.get("external_id", "external_id"),
                bool(data.get("require_external_id", True)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"invalid field map definition: {exc!r}") from None

    # -- applying ---------------------------------------------------------------

    def check(self, record: Any) -> tuple[FieldProblem, ...]:
        """Every bad field of ``record`` under this map (empty when it maps cleanly)."""
        _, _, problems = self._run(record)
        return problems

    def apply(self, record: Any) -> MappedRecord:
        """Map a record to the CRM's field names.

        Every field is evaluated even after a failure, so the error lists each
        bad field with its path (and the CRM field it was for).

        Raises:
            MappingError: one or more fields could not be mapped.
        """
        external_id, values = self._mapped(record)
        return MappedRecord(self.kind, external_id, values)

    def _mapped(self, record: Any) -> tuple[str | None, dict[str, Any]]:
        """:meth:`apply`'s external id and fields, without building a :class:`MappedRecord`.

        Raises:
            MappingError: as :meth:`apply`.
        """
        compiled = self._compiled or self._compile()
        external_id, values, problems = compiled.run(record)
        if problems:
            raise MappingError(
                platform=str(getattr(getattr(record, "platform", None), "value", "unknown")),
                kind=self.kind,
                record_id=getattr(record, "external_id", None),
                problems=problems,
                payload=getattr(record, "raw", None),
            )
        return external_id, values

    def __reduce__(self) -> tuple[Any, ...]:
        # The compiled form holds closures: a map travels (pickle, copy) as its
        # definition and compiles again where it is used.
        return (FieldMap, (self.kind, self.fields, self.external_id, self.require_external_id))

    def _compile(self) -> _Compiled:
        compiled = self._compiled
        if compiled is None:
            compiled = _Compiled(self)
            object.__setattr__(self, "_compiled", compiled)
        return compiled

    def _run(self, record: Any) -> tuple[str | None, dict[str, Any], tuple[FieldProblem, ...]]:
        compiled = self._compiled or self._compile()
        return compiled.run(record)

    def _run_closures(
        self, record: Any
    ) -> tuple[str | None, dict[str, Any], tuple[FieldProblem, ...]]:
        """The compiled closures alone, without generated code (a reference for the tests)."""
        compiled = self._compiled or self._compile()
        return compiled.run_closures(record)

    def _run_interpreted(
        self, record: Any
    ) -> tuple[str | None, dict[str, Any], tuple[FieldProblem, ...]]:
        """The reference: the map read spec by spec, paths walked step by step."""
        problems: list[FieldProblem] = []
        external_id = self._external_id(record, problems)
        values = self._map_fields(record, "", problems)
        return external_id, values, tuple(problems)

    def _external_id(self, record: Any, problems: list[FieldProblem]) -> str | None:
        where = str(self.external_id)
        try:
            found = self.external_id._resolve_reference(record)
        except PathError as exc:
            problems.append(FieldProblem(where, f"external id: {exc}"))
            return None
        value = found[0].value if len(found) == 1 else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if self.require_external_id or value is not None:
            reason = "external id missing" if value is None else "external id is not a string"
            problems.append(FieldProblem(where, reason, value))
        return None

    def _map_fields(self, record: Any, prefix: str, problems: list[FieldProblem]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in self.fields:
            transform = resolve_transform(spec.transform)
            out[spec.target] = _map_one(spec, transform, record, prefix, problems)
        return out


def _map_one(
    spec: FieldSpec,
    transform: Transform | None,
    record: Any,
    prefix: str,
    problems: list[FieldProblem],
) -> Any:
    where = _join(prefix, str(spec.source))
    try:
        found = spec.source._resolve_reference(record)
    except PathError as exc:
        problems.append(FieldProblem(where, f"{spec.target}: {exc}"))
        return None

    def convert(item_path: str, value: Any) -> Any:
        if value is None:
            return None
        full = _join(prefix, item_path)
        if spec.each is not None:
            return _map_each(spec, full, value, problems)
        if transform is None:
            return value
        try:
            return transform(value)
        # Any failure of a transform (user-written ones included) is one bad
        # field to report, never a reason to stop mapping the other fields.
        except Exception as exc:
            problems.append(FieldProblem(full, f"{spec.target}: {exc}", value))
            return None

    if spec.source.has_wildcard:
        result: Any = [convert(item.path, item.value) for item in found]
        empty = not result
    else:
        result = convert(found[0].path, found[0].value)
        empty = found[0].value is None
    if spec.required and empty:
        problems.append(FieldProblem(where, f"{spec.target}: required value missing"))
    return result


def _map_each(
    spec: FieldSpec, item_path: str, value: Any, problems: list[FieldProblem]
) -> list[dict[str, Any]] | None:
    assert spec.each is not None
    if isinstance(value, str) or not isinstance(value, Sequence):
        problems.append(
            FieldProblem(item_path, f"{spec.target}: expected a sequence to map each item", value)
        )
        return None
    return [
        spec.each._map_fields(element, f"{item_path}[{n}]", problems)
        for n, element in enumerate(value)
    ]


# -- the compiled form -------------------------------------------------------------

#: One compiled field: ``(record, prefix, problems) -> value``.
_Field = Callable[[Any, _Prefix, list[FieldProblem]], Any]


class _Compiled:
    """A map compiled once: one function per field, transforms resolved, readers bound.

    It reproduces ``_run_interpreted`` exactly (values, problems and their
    order); paths with ``[*]`` keep the interpreted code, since they are rare
    and expand to lists anyway. On top of the closures, :meth:`run` and
    :meth:`map_fields` use code generated per record class
    (:mod:`._codegen`), built the first time a class is met; the closures
    stay as the reference and serve whatever cannot be generated.
    """

    __slots__ = ("_generated", "_plans", "external_id", "fields")

    def __init__(self, fmap: FieldMap) -> None:
        self.fields: tuple[tuple[str, _Field], ...] = tuple(
            (spec.target, _compile_field(spec)) for spec in fmap.fields
        )
        self.external_id = _compile_external_id(fmap.external_id, fmap.require_external_id)
        # The definition, not the map: the map holds this object, and a cycle
        # would leave both to the garbage collector.
        self._plans = (fmap.fields, fmap.external_id, fmap.require_external_id)
        # Record class -> its generated functions (``None``: the closures serve it).
        self._generated: dict[type, Generated | None] = {}

    def run(self, record: Any) -> tuple[str | None, dict[str, Any], tuple[FieldProblem, ...]]:
        try:
            generated = self._generated[type(record)]
        except KeyError:  # a class met for the first time
            generated = self._generate(type(record))
        if generated is None:
            return self.run_closures(record)
        return generated.run(record)

    def map_fields(
        self, record: Any, prefix: _Prefix, problems: list[FieldProblem]
    ) -> dict[str, Any]:
        try:
            generated = self._generated[type(record)]
        except KeyError:  # a class met for the first time
            generated = self._generate(type(record))
        if generated is None:
            return self.map_fields_closures(record, prefix, problems)
        return generated.fields(record, prefix, problems)

    def fields_for(self, cls: type) -> Callable[[Any, _Prefix, list[FieldProblem]], dict[str, Any]]:
        """What :meth:`map_fields` calls for records of exactly ``cls``."""
        try:
            generated = self._generated[cls]
        except KeyError:  # a class met for the first time
            generated = self._generate(cls)
        return self.map_fields_closures if generated is None else generated.fields

    def run_closures(
        self, record: Any
    ) -> tuple[str | None, dict[str, Any], tuple[FieldProblem, ...]]:
        problems: list[FieldProblem] = []
        external_id = self.external_id(record, problems)
        values = self.map_fields_closures(record, "", problems)
        return external_id, values, tuple(problems)

    def map_fields_closures(
        self, record: Any, prefix: _Prefix, problems: list[FieldProblem]
    ) -> dict[str, Any]:
        return {target: run(record, prefix, problems) for target, run in self.fields}

    def _generate(self, cls: type) -> Generated | None:
        generated: Generated | None = None
        if GENERATE:
            specs, external_path, required = self._plans
            plans = [
                FieldPlan(
                    spec.target,
                    spec.source,
                    spec.required,
                    resolve_transform(spec.transform),
                    None if spec.each is None else spec.each._compile().map_fields,
                    closure,
                    None if spec.each is None else spec.each._compile().fields_for,
                )
                for spec, (_, closure) in zip(specs, self.fields, strict=True)
            ]
            external = ExternalPlan(external_path, required, self.external_id)
            try:
                generated = generate(cls, plans, external)
            # A surprise while generating leaves this class to the closures,
            # which give the same results, rather than failing the sync.
            except Exception:
                generated = None
        if len(self._generated) >= _GENERATED_LIMIT:
            # Classes made on the fly would otherwise pile up: start again.
            self._generated.clear()
        self._generated[cls] = generated
        return generated


#: Whether :class:`_Compiled` generates code per record class (tests turn it off
#: to compare with the closures alone).
GENERATE = True

#: Record classes remembered per map (the model has a dozen).
_GENERATED_LIMIT = 64


def _compile_external_id(
    path: FieldPath, required: bool
) -> Callable[[Any, list[FieldProblem]], str | None]:
    reader = path.reader()
    where = str(path)

    def external_id(record: Any, problems: list[FieldProblem]) -> str | None:
        if reader is None:
            # A wildcard path: one value means that value, several mean none.
            try:
                found = path.resolve(record)
            except PathError as exc:
                problems.append(FieldProblem(where, f"external id: {exc}"))
                return None
            value = found[0].value if len(found) == 1 else None
        else:
            try:
                value = reader(record)[0]
            except PathError as exc:
                problems.append(FieldProblem(where, f"external id: {exc}"))
                return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            stripped = value.strip()
            if stripped:
                return stripped
        if required or value is not None:
            reason = "external id missing" if value is None else "external id is not a string"
            problems.append(FieldProblem(where, reason, value))
        return None

    return external_id


def _compile_field(spec: FieldSpec) -> _Field:
    reader = spec.source.reader()
    if reader is None:
        # Wildcard paths: the interpreted code, with the transform looked up once.
        transform = resolve_transform(spec.transform)

        def interpreted(record: Any, prefix: _Prefix, problems: list[FieldProblem]) -> Any:
            return _map_one(spec, transform, record, _prefix_text(prefix), problems)

        return interpreted

    text = str(spec.source)
    target = spec.target
    required = spec.required
    if spec.each is not None:
        each = spec.each

        def mapped_each(record: Any, prefix: _Prefix, problems: list[FieldProblem]) -> Any:
            try:
                value = reader(record)[0]
            except PathError as exc:
                problems.append(FieldProblem(_where(prefix, text), f"{target}: {exc}"))
                return None
            if value is None:
                if required:
                    problems.append(
                        FieldProblem(_where(prefix, text), f"{target}: required value missing")
                    )
                return None
            full = _where(prefix, text)
            cls = type(value)
            if (
                cls is not tuple
                and cls is not list
                and (isinstance(value, str) or not isinstance(value, Sequence))
            ):
                problems.append(
                    FieldProblem(full, f"{target}: expected a sequence to map each item", value)
                )
                return None
            nested = each._compiled or each._compile()
            return [
                nested.map_fields_closures(element, (full, n), problems)
                for n, element in enumerate(value)
            ]

        return mapped_each

    transform = resolve_transform(spec.transform)
    if transform is None:

        def plain(record: Any, prefix: _Prefix, problems: list[FieldProblem]) -> Any:
            try:
                value = reader(record)[0]
            except PathError as exc:
                problems.append(FieldProblem(_where(prefix, text), f"{target}: {exc}"))
                return None
            if value is None and required:
                problems.append(
                    FieldProblem(_where(prefix, text), f"{target}: required value missing")
                )
            return value

        return plain

    def transformed(record: Any, prefix: _Prefix, problems: list[FieldProblem]) -> Any:
        try:
            value = reader(record)[0]
        except PathError as exc:
            problems.append(FieldProblem(_where(prefix, text), f"{target}: {exc}"))
            return None
        if value is None:
            if required:
                problems.append(
                    FieldProblem(_where(prefix, text), f"{target}: required value missing")
                )
            return None
        try:
            return transform(value)
        # Any failure of a transform (user-written ones included) is one bad
        # field to report, never a reason to stop mapping the other fields.
        except Exception as exc:
            problems.append(FieldProblem(_where(prefix, text), f"{target}: {exc}", value))
            return None

    return transformed
