"""Marketing consent: True, False or unknown, and the list-subscription rule.

Platforms spell consent in many ways (Shopify's ``email_marketing_consent.state``,
the ``buyer_accepts_marketing`` checkbox, Square's ``email_unsubscribed``…).
Each is described as data, a :class:`ConsentField`, that says which raw values
mean an explicit yes, an explicit no, or nothing at all. The subscription
rule subscribes only on an explicit yes.

This module is a policy: it reads the fields it is given and knows nothing of
platforms. :func:`~commerce_connectors.rules.consent_from` is the entry point
that falls back to a platform's default fields.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Cart, Customer, Order
from ._direct import builder
from ._paths import FieldPath, PathError, Reader, _is_sequence, _Wildcard
from ._reasons import Reason

__all__ = [
    "Consent",
    "ConsentField",
    "SubscriptionDecision",
    "consent_from_fields",
    "should_subscribe",
]

_Pairs = tuple[tuple[object, bool | None], ...]


def _key(value: object) -> object:
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, bool):
        # Keep True apart from 1: a JSON number is not a checkbox.
        return ("bool", value)
    return value


def _pairs(values: Mapping[Any, bool | None] | _Pairs) -> _Pairs:
    items = values.items() if isinstance(values, Mapping) else values
    return tuple((_key(k), v) for k, v in items)


def _req_path(value: str | FieldPath) -> FieldPath:
    return FieldPath.parse(value)


def _opt_path(value: str | FieldPath | None) -> FieldPath | None:
    return None if value is None else FieldPath.parse(value)


@attrs.frozen
class ConsentField:
    """Where a platform records marketing consent, and what its values mean.

    Build one with a constructor that names the field's semantics:
    :meth:`boolean`, :meth:`opt_in`, :meth:`opt_out` or :meth:`states`.
    A value the field's table does not list means "unknown".

    Attributes:
        path: canonical or raw path of the field.
        values: pairs of (raw value, meaning); strings match case-insensitively.
        at_path: optional path of the time the choice was recorded.

    Example:
        >>> f = ConsentField.states("$.email_marketing_consent.state", {"subscribed": True})
        >>> f.meaning("SUBSCRIBED"), f.meaning("pending")
        (True, None)
    """

    path: FieldPath = attrs.field(converter=_req_path)
    values: _Pairs = attrs.field(converter=_pairs)
    at_path: FieldPath | None = attrs.field(default=None, converter=_opt_path)

    @classmethod
    def boolean(cls, path: str, *, at: str | None = None) -> ConsentField:
        """A yes/no field where both answers are explicit (``accepts_marketing``)."""
        return cls(path, {True: True, False: False}, at)

    @classmethod
    def opt_in(cls, path: str, *, at: str | None = None) -> ConsentField:
        """An opt-in checkbox: ticked is a yes; unticked says nothing.

        An unticked checkout box is not a withdrawal: a subscribed customer may
        simply not have been shown it again.
        """
        return cls(path, {True: True}, at)

    @classmethod
    def opt_out(cls, path: str, *, at: str | None = None) -> ConsentField:
        """An unsubscribed flag: set is a no; unset says nothing (never a yes)."""
        return cls(path, {True: False}, at)

    @classmethod
    def states(
        cls, path: str, states: Mapping[str, bool | None], *, at: str | None = None
    ) -> ConsentField:
        """An enumerated state field; unlisted states are unknown."""
        return cls(path, states, at)

    def meaning(self, value: object) -> bool | None:
        """What a raw value of this field means: True, False, or None (unknown)."""
        key = _key(value)
        for known, meaning in self.values:
            if known == key:
                return meaning
        return None


@attrs.frozen
class Consent:
    """A normalised marketing choice.

    Attributes:
        value: True (explicit yes), False (explicit no) or None (unknown).
        at: when the choice was recorded, or the record's ``updated_at`` when
            the platform does not say; ``None`` when unknown.
        source: the concrete path the value came from.
    """

    value: bool | None
    at: _dt.datetime | None = None
    source: str | None = None


UNKNOWN = Consent(None)


def _to_datetime(value: object) -> _dt.datetime | None:
    if type(value) is str and len(value) <= _REMEMBERED_LENGTH:
        # Exactly str: a subclass would be remembered as a plain string. Short
        # texts only: a payload's megabyte of blanks must not stay in the cache.
        return _text_datetime(value)
    return _checked_datetime(value)


#: The longest consent time text remembered (ISO 8601 with microseconds and an
#: offset is 32 characters; room for spacing).
_REMEMBERED_LENGTH = 64


def _checked_datetime(value: object) -> _dt.datetime | None:
    """The time a consent field's value says, if it says one: the checked way."""
    if isinstance(value, _dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    try:
        return parsed.astimezone(_dt.timezone.utc)
    except OverflowError:
        # 0001-01-01 east of UTC or 9999-12-31 west of it: no UTC time exists, so
        # the field says no usable time (like any other unreadable value).
        return None


#: Consent times as text: a customer's orders repeat theirs. Datetimes are
#: immutable, so one may be handed to every caller; bounded (least recently used go).
_text_datetime = functools.lru_cache(maxsize=4096)(_checked_datetime)


def consent_from_fields(record: Customer | Order | Cart, fields: Sequence[ConsentField]) -> Consent:
    """Read a record's marketing consent from the given fields, in order.

    The policy behind :func:`~commerce_connectors.rules.consent_from`, which
    documents the rule and also accepts no fields (the platform's defaults).

    Raises:
        ConfigurationError: a canonical path names a field the record lacks.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("custom", "c1", "1", t, t, accepts_marketing=False)
        >>> consent_from_fields(c, [ConsentField.boolean("accepts_marketing")]).value
        False
    """
    for field, prepared in _consent_plan(fields):
        if prepared is None:
            found = _field_consent(record, field)
        else:
            found = _prepared_consent(record, field, prepared)
        if found is not None:
            return found
    return UNKNOWN


def _field_consent(record: Customer | Order | Cart, field: ConsentField) -> Consent | None:
    """One field read the checked way (paths resolved, every known value compared)."""
    at_path = field.at_path
    try:
        found = field.path.resolve(record)
        # A canonical time path is checked even when unused (a typo must not
        # pass unnoticed); a raw one cannot fail, so it is read only when needed.
        at_found = None if at_path is None or at_path.is_raw else at_path.resolve(record)
    except PathError as exc:
        raise ConfigurationError(f"consent field {field.path}: {exc}") from None
    for n, item in enumerate(found):
        meaning = field.meaning(item.value)
        if meaning is None:
            continue
        if at_found is None and at_path is not None:
            at_found = at_path.resolve(record)
        stamp = _to_datetime(at_found[min(n, len(at_found) - 1)].value) if at_found else None
        return Consent(meaning, stamp or record.updated_at, item.path)
    return None


@attrs.frozen
class _Prepared:
    """A consent field made ready: its readers, and its table as dicts.

    A path without ``[*]`` is read by its compiled reader; a path whose only
    ``[*]`` is its last step (``extra.subscriber.consents[*]``) reads the
    sequence before it that way and walks its elements. ``strings`` and
    ``flags`` say what a ``str`` value (by its key) and a ``bool`` value mean,
    first listed wins, exactly as :meth:`ConsentField.meaning`'s scan; any
    other value goes to ``meaning`` itself.
    """

    reader: Reader
    text: str
    each: bool
    raw: bool
    at_reader: Reader | None
    at_eager: bool
    strings: dict[str, bool | None]
    flags: dict[bool, bool | None]
    # The path read by ``reader`` (kept: readers are found by the path's identity).
    path: FieldPath


def _tables(values: _Pairs) -> tuple[dict[str, bool | None], dict[bool, bool | None]] | None:
    """The table as dicts, or ``None`` when it holds keys a dict would compare otherwise."""
    strings: dict[str, bool | None] = {}
    flags: dict[bool, bool | None] = {}
    for known, meaning in values:
        if type(known) is str:
            strings.setdefault(known, meaning)
        elif (
            type(known) is tuple
            and len(known) == 2
            and type(known[0]) is str
            and known[0] == "bool"
            and type(known[1]) is bool
        ):
            flags.setdefault(known[1], meaning)
        else:
            # Numbers, user objects…: only the scan's == says what matches them.
            return None
    return strings, flags


def _prepare(field: ConsentField) -> _Prepared | None:
    if type(field) is not ConsentField:
        return None  # a subclass may mean values its own way
    path = field.path
    each = bool(path.steps) and isinstance(path.steps[-1], _Wildcard)
    if each:
        path = FieldPath(path.source, path.steps[:-1])
    reader = path.reader()
    at_path = field.at_path
    at_reader = None if at_path is None else at_path.reader()
    tables = _tables(field.values)
    if reader is None or (at_path is not None and at_reader is None) or tables is None:
        return None
    return _Prepared(
        reader,
        str(path),
        each,
        path.is_raw,
        at_reader,
        at_path is not None and not at_path.is_raw,
        *tables,
        path,
    )


def _meaning(field: ConsentField, prepared: _Prepared, value: object) -> bool | None:
    """``field.meaning(value)``, by the prepared tables where they decide it."""
    if type(value) is str:
        return prepared.strings.get(value.strip().lower())
    if type(value) is bool:
        return prepared.flags.get(value)
    if value is None:
        return None  # None equals no key the table may hold (str or flag)
    return field.meaning(value)


def _prepared_consent(
    record: Customer | Order | Cart, field: ConsentField, prepared: _Prepared
) -> Consent | None:
    """:func:`_field_consent` for a prepared field: its values read directly."""
    at_reader = prepared.at_reader
    try:
        value = prepared.reader(record)[0]
        if prepared.each and value is not None and not prepared.raw and not _is_sequence(value):
            raise PathError(f"{prepared.text} is not a sequence")
        at_value = at_reader(record)[0] if prepared.at_eager else None  # type: ignore[misc]
    except PathError as exc:
        raise ConfigurationError(f"consent field {field.path}: {exc}") from None
    if prepared.each:
        # Every element, in order: the first that means something decides.
        if value is None or not _is_sequence(value):
            return None
        for n, item in enumerate(value):
            meaning = _meaning(field, prepared, item)
            if meaning is not None:
                return _stamped(record, meaning, f"{prepared.text}[{n}]", prepared, at_value)
        return None
    meaning = _meaning(field, prepared, value)
    if meaning is None:
        return None
    return _stamped(record, meaning, prepared.text, prepared, at_value)


def _stamped(
    record: Customer | Order | Cart,
    meaning: bool,
    source: str,
    prepared: _Prepared,
    at_value: object,
) -> Consent:
    at_reader = prepared.at_reader
    if at_reader is None:
        return _consent(meaning, record.updated_at, source)
    if not prepared.at_eager:
        at_value = at_reader(record)[0]
    return _consent(meaning, _to_datetime(at_value) or record.updated_at, source)


# Consent(value, at, source), slot by slot (see _direct), or the constructor itself.
_consent: Callable[[bool | None, _dt.datetime | None, str | None], Consent] = (
    builder(Consent, ("value", "at", "source")) or Consent
)


#: A list of fields made ready: each with its prepared form, or ``None`` for the checked way.
_Plan = tuple[tuple[ConsentField, _Prepared | None], ...]

# The rule set's tuples of fields are met on every record: each is made ready
# once and found again by identity (the entry holds the tuple, so its id cannot
# be reused while listed). Bounded: cleared when full.
_PLANS: dict[int, tuple[Sequence[ConsentField], _Plan]] = {}
_PLANS_LIMIT = 256


def _consent_plan(fields: Sequence[ConsentField]) -> _Plan:
    entry = _PLANS.get(id(fields))
    if entry is not None and entry[0] is fields:
        return entry[1]
    plan = tuple((field, _prepare(field)) for field in fields)
    if isinstance(fields, tuple):
        # Only an immutable sequence may be remembered: a list could change in place.
        if len(_PLANS) >= _PLANS_LIMIT:
            _PLANS.clear()
        _PLANS[id(fields)] = (fields, plan)
    return plan


@attrs.frozen
class SubscriptionDecision:
    """Whether to subscribe a contact to the configured list.

    Attributes:
        subscribe: True only on an explicit yes.
        reason: ``CONSENT_DECLINED`` or ``CONSENT_UNKNOWN`` when not subscribing.
    """

    subscribe: bool
    reason: Reason | None = None

    def __bool__(self) -> bool:
        return self.subscribe


def should_subscribe(consent: Consent | bool | None) -> SubscriptionDecision:
    """The list-subscription rule: subscribe only on an explicit True, never on unknown.

    Example:
        >>> should_subscribe(True).subscribe
        True
        >>> should_subscribe(None).reason
        <Reason.CONSENT_UNKNOWN: 'consent_unknown'>
        >>> should_subscribe(Consent(False)).reason
        <Reason.CONSENT_DECLINED: 'consent_declined'>
    """
    value = consent.value if isinstance(consent, Consent) else consent
    if value is True:
        return _SUBSCRIBE
    if value is False:
        return _DECLINED
    return _UNKNOWN_CONSENT


# Decisions are frozen: the three there are are handed out rather than made per contact.
_SUBSCRIBE = SubscriptionDecision(True)
_DECLINED = SubscriptionDecision(False, Reason.CONSENT_DECLINED)
_UNKNOWN_CONSENT = SubscriptionDecision(False, Reason.CONSENT_UNKNOWN)
