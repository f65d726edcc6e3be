"""Identities: of contacts (email, or phone where the sink allows), of records, of connections.

Re-running a sync must never create a duplicate, so every record has a key and
every re-seen record is compared with the stored one by a rule that does not
depend on the order records arrive in.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from ..errors import ConfigurationError
from ..models import RECORD_TYPES, Cart, Customer, Order, Payment, Platform, Product
from ._direct import builder
from ._reasons import Reason
from .email import normalize_email

__all__ = [
    "ConnectionIdentity",
    "ContactKey",
    "DedupResult",
    "IdentityKind",
    "IdentityPolicy",
    "RecordAction",
    "RecordKey",
    "RecordOutcome",
    "contact_key",
    "dedup_records",
    "record_key",
    "should_replace",
]


class IdentityKind(str, enum.Enum):
    """What a contact is keyed on."""

    EMAIL = "email"
    PHONE = "phone"


def _identity_kind(value: object) -> IdentityKind:
    # IdentityKind(value), without the enum's lookup when it is already a member.
    return value if type(value) is IdentityKind else IdentityKind(value)


@attrs.frozen(order=True)
class ContactKey:
    """The identity of a contact in a sink.

    ``str(key)`` is the bare value (a normalised email or an E.164 number); the
    two can never collide, since one contains ``@`` and the other is ``+`` and
    digits, so sinks may store the bare value.

    Example:
        >>> str(ContactKey(IdentityKind.EMAIL, "alice@example.com"))
        'alice@example.com'
    """

    kind: IdentityKind = attrs.field(converter=_identity_kind)
    value: str

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class IdentityPolicy:
    """How contacts are identified.

    Attributes:
        phone_fallback: when a record has no usable email, key it on its E.164
            phone instead. Only for sinks that accept phone-only contacts
            (ActiveCampaign does not; HubSpot and Klaviyo do).

    Example:
        >>> IdentityPolicy(phone_fallback=True).phone_fallback
        True
    """

    phone_fallback: bool = False


_EMAIL_ONLY = IdentityPolicy()


def contact_key(
    email: str | None,
    phone: str | None = None,
    *,
    policy: IdentityPolicy = _EMAIL_ONLY,
) -> ContactKey | None:
    """The contact identity for an email and an E.164 phone, or ``None``.

    Args:
        email: the email as given; it is normalised here (idempotently).
        phone: an E.164 number, as returned by
            :func:`~commerce_connectors.rules.choose_phone`; only used when the
            policy allows a phone fallback.
        policy: the identity policy.

    Example:
        >>> contact_key(" Bob@Example.com ")
        ContactKey(kind=<IdentityKind.EMAIL: 'email'>, value='bob@example.com')
        >>> contact_key(None, "+34911234567") is None
        True
        >>> contact_key(None, "+34911234567", policy=IdentityPolicy(phone_fallback=True)).value
        '+34911234567'
    """
    normalised = normalize_email(email).value
    if normalised is not None:
        return _email_key(IdentityKind.EMAIL, normalised)
    if policy.phone_fallback and phone and phone.startswith("+") and phone[1:].isdigit():
        return ContactKey(IdentityKind.PHONE, phone)
    return None


# ContactKey(kind, value) for a kind that is already a member, slot by slot
# (see _direct), or the constructor itself.
_email_key: Callable[[IdentityKind, str], ContactKey] = (
    builder(ContactKey, ("kind", "value"), converted=True) or ContactKey
)


@attrs.frozen
class ConnectionIdentity:
    """One connection = one store (for Square: one location).

    The key keeps records of different connections from overwriting each
    other's external ids; Square needs the location because each location is
    its own connection.

    Attributes:
        platform: the platform.
        store_id: the shop domain, store hash, merchant id or store id.
        location_id: the Square location; required for Square, refused elsewhere.

    Example:
        >>> ConnectionIdentity("square", "MLR6", "L88").key
        'square:MLR6:L88'
        >>> ConnectionIdentity("shopify", "acme.myshopify.com").key
        'shopify:acme.myshopify.com'
    """

    platform: Platform = attrs.field(converter=Platform)
    store_id: str = attrs.field()
    location_id: str | None = None

    @store_id.validator
    def _check(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError("a connection needs a non-empty store id")
        if self.platform is Platform.SQUARE and not self.location_id:
            raise ConfigurationError(
                "a Square connection is one location: pass location_id "
                "(several locations need several connections)"
            )
        if self.platform is not Platform.SQUARE and self.location_id is not None:
            raise ConfigurationError(f"{self.platform.value} connections have no location id")

    @property
    def key(self) -> str:
        """The connection id records carry in ``connection_id``."""
        parts = [self.platform.value, self.store_id.strip()]
        if self.location_id:
            parts.append(self.location_id.strip())
        return ":".join(parts)

    def __str__(self) -> str:
        return self.key


@attrs.frozen(order=True)
class RecordKey:
    """Identity of an order, product, cart, payment or customer record in a sink.

    Example:
        >>> RecordKey("shopify:acme", "order", "450789469")
        RecordKey(connection_id='shopify:acme', kind='order', external_id='450789469')
    """

    connection_id: str
    kind: str
    external_id: str


_KINDS: Mapping[type[Any], str] = {cls: kind for kind, cls in RECORD_TYPES.items()}

Rec = Customer | Order | Product | Cart | Payment
R = TypeVar("R", bound=Rec)


def record_key(record: Rec) -> RecordKey:
    """The (connection id, kind, external id) key of a record.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> record_key(Product("shopify", "shopify:acme", "632910392", t, t)).kind
        'product'
    """
    return RecordKey(record.connection_id, _KINDS[type(record)], record.external_id)


def _rank(record: Rec) -> tuple[_dt.datetime, str]:
    # Equal timestamps with different contents are broken by content, so the
    # outcome never depends on arrival order; equal records rank equal.
    return (record.updated_at, repr(record))


def should_replace(stored: Rec | None, incoming: Rec) -> bool:
    """Whether ``incoming`` replaces the stored version of the same record.

    It does when nothing is stored or it is at least as new. On an exact tie of
    ``updated_at`` between different contents, a fixed content order decides,
    so that applying records in any order gives the same result.

    Example:
        >>> from datetime import datetime, timezone
        >>> t1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> t2 = datetime(2024, 1, 2, tzinfo=timezone.utc)
        >>> old, new = (Product("shopify", "s", "1", t1, t) for t in (t1, t2))
        >>> should_replace(old, new), should_replace(new, old)
        (True, False)
    """
    if stored is None:
        return True
    return _rank(incoming) >= _rank(stored)


class RecordAction(str, enum.Enum):
    """What happened to one incoming record."""

    INSERTED = "inserted"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@attrs.frozen
class RecordOutcome:
    """The fate of one incoming record in :func:`dedup_records`.

    Attributes:
        key: the record's key.
        action: inserted, replaced, unchanged (an equal copy) or skipped.
        reason: ``STALE_RECORD`` when skipped.
    """

    key: RecordKey
    action: RecordAction
    reason: Reason | None = None


@attrs.frozen
class DedupResult(Generic[R]):
    """The records kept by :func:`dedup_records` and what happened to each input.

    Attributes:
        records: one record per key, the newest.
        outcomes: one outcome per input record, in input order.
    """

    records: Mapping[RecordKey, R]
    outcomes: tuple[RecordOutcome, ...]


def dedup_records(
    records: Iterable[R], existing: Mapping[RecordKey, R] | None = None
) -> DedupResult[R]:
    """Apply records to a keyed store: one per key, the newest wins.

    Idempotent and independent of order and duplication: applying the same
    records twice, or in any order, gives the same stored records.

    Args:
        records: incoming records (any mix of kinds and connections).
        existing: what is already stored; not modified.

    Example:
        >>> from datetime import datetime, timezone
        >>> t1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> t2 = datetime(2024, 1, 2, tzinfo=timezone.utc)
        >>> a = Product("shopify", "s", "1", t1, t2, name="new")
        >>> b = Product("shopify", "s", "1", t1, t1, name="old")
        >>> result = dedup_records([a, b])
        >>> [r.name for r in result.records.values()], [o.action.value for o in result.outcomes]
        (['new'], ['inserted', 'skipped'])
    """
    store: dict[RecordKey, R] = dict(existing or {})
    outcomes: list[RecordOutcome] = []
    for record in records:
        key = record_key(record)
        stored = store.get(key)
        if stored is not None and stored == record:
            outcomes.append(RecordOutcome(key, RecordAction.UNCHANGED))
        elif should_replace(stored, record):
            store[key] = record
            action = RecordAction.INSERTED if stored is None else RecordAction.REPLACED
            outcomes.append(RecordOutcome(key, action))
        else:
            outcomes.append(RecordOutcome(key, RecordAction.SKIPPED, Reason.STALE_RECORD))
    return DedupResult(store, tuple(outcomes))
