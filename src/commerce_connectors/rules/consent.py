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
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Cart, Customer, Order
from ._paths import FieldPath, PathError
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
    return parsed.astimezone(_dt.timezone.utc)


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
    for field in fields:
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
    return UNKNOWN


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
        return SubscriptionDecision(True)
    if value is False:
        return SubscriptionDecision(False, Reason.CONSENT_DECLINED)
    return SubscriptionDecision(False, Reason.CONSENT_UNKNOWN)
