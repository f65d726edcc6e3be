"""The integration rules: pure functions and small frozen policies, public API.

Everything every CRM integration gets wrong, done once: email normalisation,
phone normalisation and fallback chains, contact identity and dedup, guest
policy, tags, consent, automation triggers, cart abandonment and contact caps.

Rules never do I/O and never read the clock (time is an argument). Every
decision that excludes or alters something says why with a :class:`Reason`,
so a sync report can count exclusions by reason instead of losing records
silently. Platform defaults live, as data, in
:mod:`commerce_connectors.rules.defaults`; a :class:`RuleSet` holds one
connection's choices.

Example:
    >>> from datetime import datetime, timezone
    >>> from commerce_connectors.models import Address, Customer
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> shopper = Customer("shopify", "shopify:acme", "207119551", t, t,
    ...                    email=" Bob.Norman@Mail.Example.com", tags=("Léon, Noël",),
    ...                    default_address=Address(phone="(502) 459-2181", country_code="US"))
    >>> decision = prepare_contact(shopper)
    >>> c = decision.contact
    >>> c.email, c.phone, c.tags
    ('bob.norman@mail.example.com', '+15024592181', ('Léon', 'Noël'))
"""

from __future__ import annotations

from ._paths import FieldPath
from ._reasons import Reason
from ._with_defaults import cart_status, choose_phone, consent_from
from .caps import CapResult, Refusal, apply_contact_cap
from .carts import AbandonmentPolicy, CartState, CartStatus
from .config import CONTACT_KINDS, RuleSet
from .consent import Consent, ConsentField, SubscriptionDecision, should_subscribe
from .contacts import Contact, ContactDecision, SourceRef, merge_contacts, prepare_contact
from .defaults import DEFAULT_RULES, defaults_for
from .email import EmailResult, normalize_email
from .guests import Admission, GuestPolicy, admit_contact, admit_record, is_guest
from .identity import (
    ConnectionIdentity,
    ContactKey,
    DedupResult,
    IdentityKind,
    IdentityPolicy,
    RecordAction,
    RecordKey,
    RecordOutcome,
    contact_key,
    dedup_records,
    record_key,
    should_replace,
)
from .phone import (
    PhoneAttempt,
    PhoneCandidate,
    PhoneResult,
    Plausibility,
    normalize_phone,
    region_for,
)
from .tags import TagPolicy, contact_tags, split_tags
from .triggers import SyncMode, TriggerDecision, TriggerPolicy, trigger_decision

__all__ = [
    "CONTACT_KINDS",
    "DEFAULT_RULES",
    "AbandonmentPolicy",
    "Admission",
    "CapResult",
    "CartState",
    "CartStatus",
    "ConnectionIdentity",
    "Consent",
    "ConsentField",
    "Contact",
    "ContactDecision",
    "ContactKey",
    "DedupResult",
    "EmailResult",
    "FieldPath",
    "GuestPolicy",
    "IdentityKind",
    "IdentityPolicy",
    "PhoneAttempt",
    "PhoneCandidate",
    "PhoneResult",
    "Plausibility",
    "Reason",
    "RecordAction",
    "RecordKey",
    "RecordOutcome",
    "Refusal",
    "RuleSet",
    "SourceRef",
    "SubscriptionDecision",
    "SyncMode",
    "TagPolicy",
    "TriggerDecision",
    "TriggerPolicy",
    "admit_contact",
    "admit_record",
    "apply_contact_cap",
    "cart_status",
    "choose_phone",
    "consent_from",
    "contact_key",
    "contact_tags",
    "dedup_records",
    "defaults_for",
    "is_guest",
    "merge_contacts",
    "normalize_email",
    "normalize_phone",
    "prepare_contact",
    "record_key",
    "region_for",
    "should_replace",
    "should_subscribe",
    "split_tags",
    "trigger_decision",
]
