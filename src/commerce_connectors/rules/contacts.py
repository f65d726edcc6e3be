"""Contacts: the CRM-side view of a shopper, built by the rules and merged per identity.

:func:`prepare_contact` applies every contact rule to one record (guest
policy, email, phone chain, identity, tags, consent) and says why when it
yields no contact. :func:`merge_contacts` folds any number of contacts of one
identity (across pages, streams, stores and platforms) into one, by a merge
that is idempotent, commutative and associative: the result does not depend
on order or duplication.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..models import Cart, Customer, Order, Platform
from ._direct import builder
from ._reasons import Reason
from .config import RuleSet
from .consent import Consent, consent_from_fields
from .defaults import defaults_for
from .email import EmailResult, normalize_email
from .guests import admit_contact
from .identity import ContactKey, contact_key
from .phone import PhoneResult, phone_from_chain
from .tags import TagPolicy, contact_tags

__all__ = ["Contact", "ContactDecision", "SourceRef", "merge_contacts", "prepare_contact"]

#: The scalar fields merged by "newest known value wins".
SCALAR_FIELDS: tuple[str, ...] = ("email", "phone", "first_name", "last_name", "company")


def _platform(value: object) -> Platform:
    # Platform(value), without the enum's lookup when it is already a member.
    return value if type(value) is Platform else Platform(value)


@attrs.frozen
class SourceRef:
    """Where a contact was seen: one record of one connection.

    Attributes:
        platform: the platform.
        connection_id: the connection (store / Square location).
        external_id: the customer id in that connection (``None`` for a guest
            the platform gives no id).
        updated_at: the record's ``updated_at``.
        raw: that record's raw payload (not compared).
    """

    platform: Platform = attrs.field(converter=_platform)
    connection_id: str
    external_id: str | None
    updated_at: _dt.datetime
    raw: Any = attrs.field(default=None, eq=False, repr=False)

    def _rank(self) -> tuple[bool, _dt.datetime, str, str]:
        # A known id is never replaced by an unknown one; then newest; the id
        # and platform only break exact ties, so the choice is order-free.
        return (
            self.external_id is not None,
            self.updated_at,
            self.external_id or "",
            self.platform.value,
        )


def _sorted_tags(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(value), key=lambda t: (t.casefold(), t)))


def _sources(value: Iterable[SourceRef]) -> tuple[SourceRef, ...]:
    best: dict[str, SourceRef] = {}
    for ref in value:
        held = best.get(ref.connection_id)
        if held is None or ref._rank() > held._rank():
            best[ref.connection_id] = ref
    return tuple(best[c] for c in sorted(best))


def _times(value: Mapping[str, _dt.datetime]) -> Mapping[str, _dt.datetime]:
    return dict(sorted(value.items()))


@attrs.frozen
class Contact:
    """A shopper as the CRM sees it, keyed by identity, merged across sources.

    Field names match :class:`~commerce_connectors.models.Customer`, so the same
    canonical paths (and the default contact field map) work on both.

    Attributes:
        key: the identity (normalised email, or E.164 phone where allowed).
        updated_at: the newest ``updated_at`` of its sources.
        email: normalised email.
        phone: E.164 phone chosen by the fallback chain.
        first_name, last_name, company: as the newest source with a value gave them.
        tags: every tag of every source, sorted.
        accepts_marketing: the most recent explicit choice, or ``None``.
        consent_at: when that choice was recorded.
        sources: one reference per connection (its newest customer id).
        field_times: for fields whose value is older than ``updated_at``, the
            time of the source it came from; kept so later merges stay exact.
    """

    key: ContactKey
    updated_at: _dt.datetime
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_sorted_tags)
    accepts_marketing: bool | None = None
    consent_at: _dt.datetime | None = None
    sources: tuple[SourceRef, ...] = attrs.field(default=(), converter=_sources)
    field_times: Mapping[str, _dt.datetime] = attrs.field(
        factory=dict, converter=_times, hash=False, repr=False
    )

    @property
    def primary(self) -> SourceRef | None:
        """The newest source (ties broken by connection then id)."""
        sources = self.sources
        if len(sources) == 1:
            # The usual contact, from one record: max() of one is that one.
            return sources[0]
        if not sources:
            return None
        return max(self.sources, key=lambda s: (s.updated_at, s.connection_id, s.external_id or ""))

    @property
    def platform(self) -> Platform | None:
        """The platform of the newest source."""
        primary = self.primary  # asked once (a property)
        return primary.platform if primary else None

    @property
    def connection_id(self) -> str | None:
        """The connection of the newest source."""
        primary = self.primary
        return primary.connection_id if primary else None

    @property
    def external_id(self) -> str | None:
        """The customer id in the newest source's connection."""
        primary = self.primary
        return primary.external_id if primary else None

    @property
    def raw(self) -> Any:
        """The newest source's raw payload, so field maps can read vendor fields."""
        primary = self.primary
        return primary.raw if primary else None

    def external_id_for(self, connection_id: str) -> str | None:
        """The customer id this contact has in one connection.

        Example:
            >>> from datetime import datetime, timezone
            >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
            >>> c = Contact(ContactKey("email", "a@b.co"), t,
            ...             sources=[SourceRef("square", "sq:M:L1", "C1", t)])
            >>> c.external_id_for("sq:M:L1"), c.external_id_for("sq:M:L2")
            ('C1', None)
        """
        for ref in self.sources:
            if ref.connection_id == connection_id:
                return ref.external_id
        return None

    def time_of(self, field: str) -> _dt.datetime:
        """When the value of ``field`` was last seen."""
        return self.field_times.get(field, self.updated_at)


@attrs.frozen
class ContactDecision:
    """The outcome of :func:`prepare_contact`.

    Attributes:
        contact: the contact, or ``None`` when the record yields none.
        reason: why there is no contact (guest excluded, email required, no identity).
        email: the email normalisation result (its reason says why an email was dropped).
        phone: the phone chain result (``skipped`` lists every candidate passed over).
        consent: the consent read from the record.
    """

    contact: Contact | None
    reason: Reason | None = None
    email: EmailResult | None = None
    phone: PhoneResult | None = None
    consent: Consent | None = None

    @property
    def notes(self) -> tuple[Reason, ...]:
        """Reasons for every value the rules dropped, for reports."""
        out: list[Reason] = []
        if self.email is not None and self.email.reason is not None:
            out.append(self.email.reason)
        if self.phone is not None:
            out.extend(a.reason for a in self.phone.skipped)
            if self.phone.reason is not None:
                out.append(self.phone.reason)
        return tuple(out)


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def prepare_contact(record: Customer | Order | Cart, rules: Any = None) -> ContactDecision:
    """Apply every contact rule to one record and build its contact.

    Steps: the guest policy (:func:`admit_contact`), email normalisation, the
    phone chain, the identity policy, tags and consent, all from ``rules``
    (a :class:`~commerce_connectors.rules.RuleSet`; ``None`` uses the
    platform's defaults). For an order or cart the buyer's details come from
    its ``customer`` and the order's own email.

    Example:
        >>> from datetime import datetime, timezone
        >>> from commerce_connectors.models import Address
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("bigcommerce", "bigcommerce:abc", "7", t, t, email="Ann@Shop.io",
        ...              default_address=Address(phone="(415) 555-0132", country_code="US"))
        >>> d = prepare_contact(c)
        >>> d.contact.key.value, d.contact.tags
        ('ann@shop.io', ('bigcommerce-customer',))
        >>> prepare_contact(Customer("square", "square:M:L", "8", t, t)).reason
        <Reason.EMAIL_REQUIRED: 'email_required'>
    """
    ruleset: RuleSet = rules if rules is not None else defaults_for(record.platform)
    admission = admit_contact(record, ruleset.guests)
    if not admission:
        return ContactDecision(None, admission.reason)

    if isinstance(record, Customer):
        buyer: Customer | None = record
        email_in = record.email
        external_id: str | None = record.external_id
    else:
        buyer = record.customer
        email_in = (buyer.email if buyer else None) or record.email
        if buyer is not None and not buyer.is_guest:
            external_id = buyer.external_id
        else:
            external_id = record.customer_external_id
    if type(ruleset) is RuleSet:
        # phone_chain() and consent_fields(), with the record's kind found once.
        kind = (
            "customer"
            if isinstance(record, Customer)
            else "order"
            if isinstance(record, Order)
            else "cart"
        )
        chain = ruleset.phone_chains.get(kind, ())
        fields = ruleset.consent.get(kind, ())
    else:
        chain = ruleset.phone_chain(record)
        fields = ruleset.consent_fields(record)
    email = normalize_email(email_in)
    phone = phone_from_chain(
        record,
        chain,
        store_country=ruleset.store_country,
        plausibility=ruleset.plausibility,
        guest_customer_ids=ruleset.guests.guest_customer_ids,
    )
    key = contact_key(email.value, phone.value, policy=ruleset.identity)
    consent = consent_from_fields(record, fields)
    if key is None:
        return ContactDecision(None, Reason.NO_IDENTITY, email, phone, consent)

    raw = buyer.raw if buyer is not None and buyer.raw is not None else record.raw
    if _DIRECT and type(record.platform) is Platform:
        # What the constructors would make of these inputs, made directly: one
        # source is its own ``_sources``, the tags come out of ``_sorted_tags``, and
        # a new empty dict is what ``_times({})`` gives.
        source = _BUILD_SOURCE(
            record.platform, record.connection_id, external_id, record.updated_at, raw
        )
        contact = _BUILD_CONTACT(
            key,
            record.updated_at,
            email.value,
            phone.value,
            _blank(buyer.first_name) if buyer else None,
            _blank(buyer.last_name) if buyer else None,
            _blank(buyer.company) if buyer else None,
            _prepared_tags(buyer, ruleset.tags),
            consent.value,
            consent.at if consent.value is not None else None,
            (source,),
            {},
        )
        return _BUILD_DECISION(contact, None, email, phone, consent)  # type: ignore[no-any-return]
    contact = Contact(
        key=key,
        updated_at=record.updated_at,
        email=email.value,
        phone=phone.value,
        first_name=_blank(buyer.first_name) if buyer else None,
        last_name=_blank(buyer.last_name) if buyer else None,
        company=_blank(buyer.company) if buyer else None,
        tags=contact_tags(buyer, ruleset.tags),
        accepts_marketing=consent.value,
        consent_at=consent.at if consent.value is not None else None,
        sources=[
            SourceRef(record.platform, record.connection_id, external_id, record.updated_at, raw)
        ],
    )
    return ContactDecision(contact, None, email, phone, consent)


# -- contacts of one record, built without the converters -----------------------------------

#: The fields of the classes prepare_contact builds directly, in the classes' order.
_CONTACT_FIELDS: tuple[str, ...] = (
    "key",
    "updated_at",
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "tags",
    "accepts_marketing",
    "consent_at",
    "sources",
    "field_times",
)
_SOURCE_FIELDS: tuple[str, ...] = ("platform", "connection_id", "external_id", "updated_at", "raw")
_DECISION_FIELDS: tuple[str, ...] = ("contact", "reason", "email", "phone", "consent")

# Contacts and sources have converters: prepare_contact passes what they would
# return (a Platform member, sorted unique tags, one source, a new empty dict).
_BUILD_CONTACT: Any = builder(Contact, _CONTACT_FIELDS, converted=True)
_BUILD_SOURCE: Any = builder(SourceRef, _SOURCE_FIELDS, converted=True)
_BUILD_DECISION: Any = builder(ContactDecision, _DECISION_FIELDS)

#: Contacts of one record are built field by field only while the classes are
#: what the builders assume; otherwise the constructors and their converters serve.
_DIRECT = None not in (_BUILD_CONTACT, _BUILD_SOURCE, _BUILD_DECISION)


# A tag policy is the rule set's long-lived object: its sorted tags are computed
# once (and, when the store's own tags are imported, once per distinct tuple of
# them), found again by the policy's identity. Bounded: cleared when full.
_TAGS: dict[int, tuple[TagPolicy, tuple[str, ...] | None, dict[tuple[str, ...], tuple[str, ...]]]]
_TAGS = {}
_TAGS_LIMIT = 64
_OWN_LIMIT = 1024


def _prepared_tags(buyer: Customer | None, policy: TagPolicy) -> tuple[str, ...]:
    """``_sorted_tags(contact_tags(buyer, policy))``, remembered per policy."""
    entry = _TAGS.get(id(policy))
    if entry is None or entry[0] is not policy or type(policy) is not TagPolicy:
        static = None if policy.import_record_tags else _sorted_tags(contact_tags(None, policy))
        entry = (policy, static, {})
        if type(policy) is TagPolicy:
            if len(_TAGS) >= _TAGS_LIMIT:
                _TAGS.clear()
            _TAGS[id(policy)] = entry
    if entry[1] is not None:
        return entry[1]
    own = buyer.tags if buyer is not None else ()
    if type(own) is not tuple:
        return _sorted_tags(contact_tags(buyer, policy))
    known = entry[2]
    tags = known.get(own)
    if tags is None:
        tags = _sorted_tags(contact_tags(buyer, policy))
        if len(known) >= _OWN_LIMIT:
            known.clear()
        known[own] = tags
    return tags


def _merge_group(group: list[Contact]) -> Contact:
    updated_at = max(c.updated_at for c in group)
    values: dict[str, Any] = {}
    times: dict[str, _dt.datetime] = {}
    for name in SCALAR_FIELDS:
        known = [(c.time_of(name), getattr(c, name)) for c in group if getattr(c, name) is not None]
        if known:
            at, value = max(known)
            values[name] = value
            if at != updated_at:
                times[name] = at
    explicit = [
        (c.consent_at or c.updated_at, c.accepts_marketing is False, c.accepts_marketing)
        for c in group
        if c.accepts_marketing is not None
    ]
    # On a tie in time, a "no" beats a "yes": nobody is subscribed on a coin toss.
    consent_at, _, accepts = max(explicit) if explicit else (None, False, None)
    return Contact(
        key=group[0].key,
        updated_at=updated_at,
        tags=[t for c in group for t in c.tags],
        accepts_marketing=accepts,
        consent_at=consent_at,
        sources=[s for c in group for s in c.sources],
        field_times=times,
        **values,
    )


def merge_contacts(contacts: Iterable[Contact]) -> dict[ContactKey, Contact]:
    """Merge contacts that share an identity into one contact per identity.

    Newest value wins for each scalar field (by the time that value was seen),
    a known value is never overwritten by an empty one, tags are unioned,
    consent takes the most recent explicit value, and each connection keeps its
    own newest customer id. The merge is idempotent, commutative and
    associative: order and duplication of the input do not change the result,
    and merging already merged contacts with new ones is exact.

    Example:
        >>> from datetime import datetime, timezone
        >>> t1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> t2 = datetime(2024, 2, 1, tzinfo=timezone.utc)
        >>> k = ContactKey("email", "ann@shop.io")
        >>> old = Contact(k, t1, first_name="Ann", tags=("vip",), accepts_marketing=True)
        >>> new = Contact(k, t2, first_name=None, tags=("eu",))
        >>> m = merge_contacts([new, old])[k]
        >>> m.first_name, m.tags, m.accepts_marketing
        ('Ann', ('eu', 'vip'), True)
    """
    groups: dict[ContactKey, list[Contact]] = {}
    for contact in contacts:
        groups.setdefault(contact.key, []).append(contact)
    return {key: _merge_group(group) for key, group in sorted(groups.items())}
