"""The rules' entry points that fall back to a platform's defaults.

The policies (:mod:`.phone`, :mod:`.consent`, :mod:`.carts`) take their
settings as arguments and know nothing of platforms; the per-platform defaults
(:mod:`.defaults`) are built from the policies. These functions sit above
both: given no chain, fields or policy, they look up the record's platform
defaults, then apply the policy. Imports go one way: policies, then
defaults, then this module.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Collection, Sequence

from ..models import Cart, Customer, Order
from .carts import AbandonmentPolicy, CartStatus, classify_cart
from .consent import Consent, ConsentField, consent_from_fields
from .defaults import defaults_for
from .phone import PhoneCandidate, PhoneResult, Plausibility, phone_from_chain

__all__ = ["cart_status", "choose_phone", "consent_from"]


def choose_phone(
    record: Customer | Order | Cart,
    chain: Sequence[PhoneCandidate | str] | None = None,
    *,
    store_country: str | None = None,
    plausibility: Plausibility = Plausibility.VALID,
    guest_customer_ids: Collection[str] = (),
) -> PhoneResult:
    """Apply a phone fallback chain to a record and return the first plausible number.

    Each candidate is read (a ``[*]`` candidate yields each element in turn),
    normalised to E.164 with the region of the address it sits in, else the
    record's address country, else ``store_country``. The first plausible number
    wins; every candidate tried before it is reported in ``skipped`` with its
    reason. If none is plausible the result's ``value`` is ``None`` with reason
    ``NO_PHONE``: no phone is synced. The returned number is always the
    normalisation of one of the inputs, never invented.

    Args:
        record: a customer, or an order or cart (whose buyer's details are read).
        chain: the candidates in order; ``None`` uses the platform's default
            chain for this record kind (:mod:`commerce_connectors.rules.defaults`).
            Plain strings are read as paths.
        store_country: the store's country, the last resort for the region.
        plausibility: how strict the plausibility test is.
        guest_customer_ids: the platform's guest markers, to decide whether
            ``guest_only`` candidates apply.

    Raises:
        ConfigurationError: a chain path is malformed or names a field the
            record does not have.

    Example:
        >>> from datetime import datetime, timezone
        >>> from commerce_connectors.models import Address
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> home = Address(phone="(502) 459-2181", country_code="US")
        >>> c = Customer("shopify", "s1", "1", t, t, phone=None, default_address=home)
        >>> r = choose_phone(c)
        >>> r.value, r.source
        ('+15024592181', 'default_address.phone')
        >>> [a.reason.value for a in r.skipped]
        ['phone_missing']
    """
    if chain is None:
        platform_rules = defaults_for(record.platform)
        chain = platform_rules.phone_chain(record)
        guest_customer_ids = guest_customer_ids or platform_rules.guests.guest_customer_ids
    return phone_from_chain(
        record,
        chain,
        store_country=store_country,
        plausibility=plausibility,
        guest_customer_ids=guest_customer_ids,
    )


def consent_from(
    record: Customer | Order | Cart, fields: Sequence[ConsentField] | None = None
) -> Consent:
    """Read a record's marketing consent from an ordered list of fields.

    The first field that holds an explicit value wins. Its time comes from the
    field's ``at_path`` when the platform records one, else the record's
    ``updated_at``. Nothing explicit gives ``Consent(None)``: unknown.

    Args:
        record: a customer, order or cart.
        fields: the fields to read in order; ``None`` uses the platform's defaults.

    Raises:
        ConfigurationError: a canonical path names a field the record lacks.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("shopify", "s1", "1", t, t,
        ...              raw={"email_marketing_consent": {"state": "subscribed"}})
        >>> consent_from(c).value
        True
    """
    if fields is None:
        fields = defaults_for(record.platform).consent_fields(record)
    return consent_from_fields(record, fields)


def cart_status(
    cart: Cart,
    now: _dt.datetime,
    *,
    policy: AbandonmentPolicy | None = None,
    deleted_at: _dt.datetime | None = None,
) -> CartStatus:
    """Classify a cart as active, abandoned, converted, recovered, deleted or expired.

    A cart is abandoned once its last activity is at least ``policy.delay``
    old and it has been neither converted to an order nor deleted. A cart
    converted within the delay is ``CONVERTED`` (never abandoned); one converted
    later is ``RECOVERED``. A cart older than the platform's retention horizon
    is ``EXPIRED`` and reported as such.

    Args:
        cart: the cart (its ``completed_at`` marks conversion).
        now: the moment of the decision (aware); rules never read the clock.
        policy: delay and retention; ``None`` uses the platform's defaults.
        deleted_at: when the cart was deleted, if the caller knows it was.

    Raises:
        NaiveDatetimeError: ``now`` or ``deleted_at`` is naive.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> from commerce_connectors.models import Money
        >>> t = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        >>> cart = Cart("tiendanube", "tn:1", "c1", t, t, total=Money("10", "BRL"))
        >>> cart_status(cart, t + timedelta(hours=5)).state
        <CartState.ACTIVE: 'active'>
        >>> cart_status(cart, t + timedelta(hours=6)).state
        <CartState.ABANDONED: 'abandoned'>
    """
    if policy is None:
        policy = defaults_for(cart.platform).abandonment
    return classify_cart(cart, now, policy, deleted_at=deleted_at)
