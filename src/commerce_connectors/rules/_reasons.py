"""Machine-readable reasons attached to every decision that excludes or alters something."""

from __future__ import annotations

import enum

__all__ = ["Reason"]


class Reason(str, enum.Enum):
    """Why a rule excluded, skipped or altered a value or a record.

    The values are stable strings so a sync report can count exclusions by
    reason (``collections.Counter(r.reason for r in results)``) and so they
    can be stored or logged as they are.

    Example:
        >>> Reason.GUEST_EXCLUDED.value
        'guest_excluded'
        >>> Reason("contact_limit") is Reason.CONTACT_LIMIT
        True
    """

    # email
    #: The record has no email at all (None or blank).
    EMAIL_MISSING = "email_missing"
    #: The email is not a syntactically valid address; it is dropped, not synced.
    EMAIL_INVALID = "email_invalid"

    # phone
    #: A phone candidate field is absent or blank.
    PHONE_MISSING = "phone_missing"
    #: A phone candidate could not be parsed as a phone number at all.
    PHONE_UNPARSEABLE = "phone_unparseable"
    #: A phone candidate parsed but is not a plausible number for its region.
    PHONE_IMPLAUSIBLE = "phone_implausible"
    #: No region could be determined for a national-format number.
    PHONE_NO_REGION = "phone_no_region"
    #: Every candidate of the chain was skipped: no phone is synced.
    NO_PHONE = "no_phone"

    # identity, guests, dedup
    #: The record has neither a usable email nor (when allowed) a usable phone.
    NO_IDENTITY = "no_identity"
    #: The platform's policy requires an email and the record has none (Square).
    EMAIL_REQUIRED = "email_required"
    #: A guest's order or cart, and the platform's policy does not sync guests.
    GUEST_EXCLUDED = "guest_excluded"
    #: Checkout shoppers do not become contacts under this policy.
    CART_CONTACT_EXCLUDED = "cart_contact_excluded"
    #: A re-seen record is older than the stored one and does not replace it.
    STALE_RECORD = "stale_record"

    # consent
    #: The shopper explicitly declined marketing.
    CONSENT_DECLINED = "consent_declined"
    #: No explicit marketing choice is known; nobody is subscribed on unknown.
    CONSENT_UNKNOWN = "consent_unknown"

    # automation triggers
    #: Historical data outside the trigger window: written with source 0.
    HISTORICAL_DATA = "historical_data"
    #: A cart written by a historical sync: never fires automations.
    HISTORICAL_CART = "historical_cart"

    # carts
    #: The cart's last activity is more recent than the abandonment delay.
    CART_NOT_YET_ABANDONED = "cart_not_yet_abandoned"
    #: The cart was converted to an order within the delay: never abandoned.
    CART_CONVERTED = "cart_converted"
    #: The cart was converted to an order after being abandoned.
    CART_RECOVERED = "cart_recovered"
    #: The cart was deleted.
    CART_DELETED = "cart_deleted"
    #: The cart is older than the platform keeps carts (its recovery link is dead).
    CART_EXPIRED = "cart_expired"

    # caps
    #: A new contact beyond the sink's contact cap; kept for a later run.
    CONTACT_LIMIT = "contact_limit"

    # sinks
    #: The destination refused this record (a CRM's validation error, an amount it
    #: cannot represent): dead-lettered with the CRM's reason, the run goes on.
    SINK_REJECTED = "sink_rejected"
