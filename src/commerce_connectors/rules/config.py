"""RuleSet: every rule's settings for one connection, in one frozen object."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import ConfigurationError
from ..models import Cart, Customer, Order, Platform
from .carts import AbandonmentPolicy
from .consent import ConsentField
from .guests import GuestPolicy
from .identity import IdentityPolicy
from .phone import PhoneCandidate, Plausibility
from .tags import TagPolicy, split_tags
from .triggers import TriggerPolicy

__all__ = ["CONTACT_KINDS", "RuleSet"]

#: Record kinds a contact can be built from; chains and consent fields are keyed by them.
CONTACT_KINDS: tuple[str, ...] = ("customer", "order", "cart")


def _kind(record: Customer | Order | Cart | str) -> str:
    if isinstance(record, str):
        if record not in CONTACT_KINDS:
            raise ConfigurationError(f"unknown record kind {record!r}; use one of {CONTACT_KINDS}")
        return record
    if isinstance(record, Customer):
        return "customer"
    if isinstance(record, Order):
        return "order"
    return "cart"


def _chains(
    value: Mapping[str, Iterable[PhoneCandidate | str]],
) -> Mapping[str, tuple[PhoneCandidate, ...]]:
    out = {
        _kind(kind): tuple(c if isinstance(c, PhoneCandidate) else PhoneCandidate(c) for c in chain)
        for kind, chain in value.items()
    }
    return MappingProxyType(out)


def _consents(
    value: Mapping[str, Iterable[ConsentField]],
) -> Mapping[str, tuple[ConsentField, ...]]:
    return MappingProxyType({_kind(kind): tuple(fields) for kind, fields in value.items()})


def _country(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) != 2 or not value.strip().isalpha():
        raise ConfigurationError(f"store_country must be an ISO 3166 alpha-2 code, got {value!r}")
    return value.strip().upper()


@attrs.frozen
class RuleSet:
    """The rules of one connection: platform defaults plus the user's choices.

    Start from :func:`~commerce_connectors.rules.defaults_for` and change what
    you need with the ``with_*`` helpers or :func:`attrs.evolve`.

    Attributes:
        platform: the platform the defaults came from.
        phone_chains: phone fallback chain per record kind (customer, order, cart).
        consent_fields: consent fields per record kind, read in order.
        guests: the guest policy.
        tags: the tag policy.
        identity: the contact identity policy.
        triggers: the automation-trigger window.
        abandonment: cart abandonment delay and retention.
        store_country: the store's country, last resort for phone regions.
        plausibility: how strict the phone plausibility test is.

    Example:
        >>> from commerce_connectors.rules import defaults_for
        >>> rules = defaults_for("shopify").with_extra_tags("from-shopify").with_store_country("fr")
        >>> rules.tags.extra_tags, rules.store_country
        (('from-shopify',), 'FR')
    """

    platform: Platform = attrs.field(converter=Platform)
    phone_chains: Mapping[str, tuple[PhoneCandidate, ...]] = attrs.field(
        factory=dict, converter=_chains, hash=False
    )
    consent: Mapping[str, tuple[ConsentField, ...]] = attrs.field(
        factory=dict, converter=_consents, hash=False
    )
    guests: GuestPolicy = attrs.field(factory=GuestPolicy)
    tags: TagPolicy = attrs.field(factory=TagPolicy)
    identity: IdentityPolicy = attrs.field(factory=IdentityPolicy)
    triggers: TriggerPolicy = attrs.field(factory=TriggerPolicy)
    abandonment: AbandonmentPolicy = attrs.field(factory=AbandonmentPolicy)
    store_country: str | None = attrs.field(default=None, converter=_country)
    plausibility: Plausibility = attrs.field(default=Plausibility.VALID, converter=Plausibility)

    def phone_chain(self, record: Customer | Order | Cart | str) -> tuple[PhoneCandidate, ...]:
        """The phone chain for a record (or a record kind); empty if none is set."""
        return self.phone_chains.get(_kind(record), ())

    def consent_fields(self, record: Customer | Order | Cart | str) -> tuple[ConsentField, ...]:
        """The consent fields for a record (or a record kind)."""
        return self.consent.get(_kind(record), ())

    def with_phone_chain(self, kind: str, chain: Sequence[PhoneCandidate | str]) -> RuleSet:
        """Return a copy with another phone chain for one record kind.

        Example:
            >>> from commerce_connectors.rules import defaults_for
            >>> r = defaults_for("square").with_phone_chain("customer", ["phone", "$.note"])
            >>> [str(c.path) for c in r.phone_chain("customer")]
            ['phone', '$.note']
        """
        chains: dict[str, Any] = dict(self.phone_chains)
        chains[_kind(kind)] = tuple(chain)
        return attrs.evolve(self, phone_chains=chains)

    def with_consent_fields(self, kind: str, fields: Sequence[ConsentField]) -> RuleSet:
        """Return a copy with other consent fields for one record kind."""
        consent: dict[str, Any] = dict(self.consent)
        consent[_kind(kind)] = tuple(fields)
        return attrs.evolve(self, consent=consent)

    def with_extra_tags(self, *tags: str) -> RuleSet:
        """Return a copy that adds per-connection tags to every contact."""
        return attrs.evolve(self, tags=self.tags.with_extra(*split_tags(*tags)))

    def with_store_country(self, country: str | None) -> RuleSet:
        """Return a copy with the store's country (for phone regions)."""
        return attrs.evolve(self, store_country=country)

    def with_phone_fallback_identity(self, enabled: bool = True) -> RuleSet:
        """Return a copy whose contacts fall back to a phone identity (phone-only sinks)."""
        return attrs.evolve(self, identity=IdentityPolicy(phone_fallback=enabled))
