"""Per-platform defaults for every rule, as data, in one place.

Each entry says where its choice comes from: the documented behaviour of the
platform's existing CRM integrations (ActiveCampaign's Shopify, BigCommerce and
Square integrations, DataCrush's Tiendanube integration, as their help pages
describe them) or the platform's payload shape (its published API reference).
Change them per connection with :class:`~commerce_connectors.rules.RuleSet`'s
``with_*`` helpers; never edit this module to configure one shop.

Phone chains are ordered; ``guest_only`` candidates are only read for guests.
Consent fields are read in order; the first explicit value wins.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from types import MappingProxyType

from ..models import Platform
from .carts import AbandonmentPolicy
from .config import RuleSet
from .consent import ConsentField
from .guests import GuestPolicy
from .phone import PhoneCandidate
from .tags import TagPolicy
from .triggers import TriggerPolicy

__all__ = ["DEFAULT_RULES", "defaults_for"]

_C = PhoneCandidate
_GUEST = True

# Shopify email consent states (REST/GraphQL CustomerEmailMarketingState).
# "pending" is a double opt-in not yet confirmed and "invalid" an address that
# cannot receive mail: neither is a choice, so both stay unknown.
_SHOPIFY_STATES: Mapping[str, bool | None] = {
    "subscribed": True,
    "not_subscribed": False,
    "unsubscribed": False,
    "redacted": False,
    "pending": None,
    "invalid": None,
}


def _shopify_state(prefix: str) -> ConsentField:
    return ConsentField.states(
        f"{prefix}email_marketing_consent.state",
        _SHOPIFY_STATES,
        at=f"{prefix}email_marketing_consent.consent_updated_at",
    )


SHOPIFY = RuleSet(
    Platform.SHOPIFY,
    phone_chains={
        # The Shopify integration's documented rule, exactly: customer phone, then
        # the default (shipping) address phone, then no phone.
        "customer": (_C("phone"), _C("default_address.phone")),
        # Same rule for a registered buyer; a guest has only the order's own
        # details, so the billing phone, then the order's phone. The shipping
        # phone is left out: it may be a gift recipient's.
        "order": (
            _C("customer.phone"),
            _C("customer.default_address.phone"),
            _C("$.billing_address.phone", guest_only=_GUEST),
            _C("$.phone", guest_only=_GUEST),
        ),
        "cart": (
            _C("customer.phone"),
            _C("customer.default_address.phone"),
            _C("$.billing_address.phone", guest_only=_GUEST),
            _C("$.phone", guest_only=_GUEST),
        ),
    },
    consent={
        "customer": (
            _shopify_state("$."),
            ConsentField.boolean("$.accepts_marketing", at="$.accepts_marketing_updated_at"),
            ConsentField.boolean("accepts_marketing"),
        ),
        "order": (
            _shopify_state("$.customer."),
            ConsentField.opt_in("$.buyer_accepts_marketing"),
            ConsentField.boolean("customer.accepts_marketing"),
        ),
        "cart": (
            _shopify_state("$.customer."),
            ConsentField.opt_in("$.buyer_accepts_marketing"),
            ConsentField.boolean("customer.accepts_marketing"),
        ),
    },
    # As the Shopify integration documents: logged-in customers and guests are synced.
    guests=GuestPolicy(sync_guests=True, cart_contacts=True),
    # As the Shopify integration documents: the store's customer tags become contact tags.
    tags=TagPolicy(import_record_tags=True),
)

BIGCOMMERCE = RuleSet(
    Platform.BIGCOMMERCE,
    phone_chains={
        # v3 customers have a phone and an address book (each address has a
        # phone) but no "default" flag, so every address is tried in order.
        "customer": (_C("phone"), _C("default_address.phone"), _C("addresses[*].phone")),
        # v2 orders carry the buyer's billing address with its phone.
        "order": (
            _C("customer.phone"),
            _C("customer.default_address.phone"),
            _C("$.billing_address.phone"),
        ),
        "cart": (_C("customer.phone"), _C("customer.default_address.phone")),
    },
    consent={
        # Newsletter consent lives in the Subscribers API; the connector attaches the
        # customer's subscriber as extra["subscriber"]. "marketing_newsletter" among its
        # consents is a yes, recorded at the subscriber's date_modified. An empty list
        # means "unsubscribed or didn't enable the newsletter subscription checkbox
        # during checkout", so it is not a no; nor is "abandoned_cart" alone. The v3
        # flag accepts_product_review_abandoned_cart_emails, and its v2 name
        # accepts_marketing, cover review and abandoned-cart e-mails, not marketing:
        # deliberately not read.
        "customer": (
            ConsentField.states(
                "extra.subscriber.consents[*]",
                {"marketing_newsletter": True},
                at="extra.subscriber.date_modified",
            ),
            ConsentField.boolean("accepts_marketing"),
        ),
        # v2 orders: the checkout's opt-in checkbox; unticked says nothing.
        "order": (
            ConsentField.opt_in("$.is_email_opt_in"),
            ConsentField.boolean("customer.accepts_marketing"),
        ),
        "cart": (ConsentField.boolean("customer.accepts_marketing"),),
    },
    # As the BigCommerce integration documents: guest checkouts are not synced;
    # BigCommerce marks guests with customer_id 0. Every registered buyer is synced
    # whatever their consent.
    guests=GuestPolicy(sync_guests=False, cart_contacts=True, guest_customer_ids={"0"}),
    # As the BigCommerce integration documents: its contacts get the tag
    # "bigcommerce-customer".
    tags=TagPolicy(platform_tags=("bigcommerce-customer",)),
    # The BigCommerce integration never fires "makes a purchase" for historical
    # data, not even yesterday's orders; incremental and real-time data do.
    triggers=TriggerPolicy(historical_fires=False),
    # BigCommerce calls a cart abandoned after one hour without a change, and
    # says so with its store/cart/abandoned webhook: the same delay here.
    abandonment=AbandonmentPolicy(delay=_dt.timedelta(hours=1)),
)

SQUARE = RuleSet(
    Platform.SQUARE,
    phone_chains={
        # Square customers have one phone_number; their address has no phone.
        # Order fulfilment phones belong to pickup or delivery recipients, not
        # necessarily the buyer, so they are not candidates.
        "customer": (_C("phone"),),
        "order": (_C("customer.phone"),),
        "cart": (_C("customer.phone"),),
    },
    consent={
        # preferences.email_unsubscribed: true is an explicit no; false only
        # means "not unsubscribed", which is not a yes.
        "customer": (
            ConsentField.opt_out("$.preferences.email_unsubscribed"),
            ConsentField.boolean("accepts_marketing"),
        ),
        "order": (ConsentField.boolean("customer.accepts_marketing"),),
        "cart": (ConsentField.boolean("customer.accepts_marketing"),),
    },
    # As the Square integration documents: every customer must have an email to be
    # synced, and the synced payments are those of customers: payments with no
    # customer profile are not.
    guests=GuestPolicy(sync_guests=False, cart_contacts=False, require_email=True),
)

TIENDANUBE = RuleSet(
    Platform.TIENDANUBE,
    phone_chains={
        # customer.phone is "not necessarily the same as the address's phone":
        # it comes first, then the default address, then the billing phone,
        # then the rest of the address book.
        "customer": (
            _C("phone"),
            _C("default_address.phone"),
            _C("$.billing_phone"),
            _C("addresses[*].phone"),
        ),
        "order": (
            _C("customer.phone"),
            _C("customer.default_address.phone"),
            _C("$.contact_phone"),
            _C("$.billing_phone"),
        ),
        # Checkouts: the shopper's contact phone, then billing. The shipping
        # phone is left out: it may be a recipient's.
        "cart": (_C("customer.phone"), _C("$.contact_phone"), _C("$.billing_phone")),
    },
    consent={
        "customer": (
            ConsentField.boolean("$.accepts_marketing", at="$.accepts_marketing_updated_at"),
            ConsentField.boolean("accepts_marketing"),
        ),
        "order": (
            ConsentField.boolean(
                "$.customer.accepts_marketing", at="$.customer.accepts_marketing_updated_at"
            ),
            ConsentField.boolean("customer.accepts_marketing"),
        ),
        "cart": (ConsentField.boolean("customer.accepts_marketing"),),
    },
    # As DataCrush's Tiendanube integration documents: shoppers who start a
    # checkout become contacts, and are updated from the order once they buy.
    guests=GuestPolicy(sync_guests=True, cart_contacts=True),
    # Tiendanube keeps abandoned checkouts for 30 days after creation.
    abandonment=AbandonmentPolicy(retention=_dt.timedelta(days=30)),
)

CUSTOM = RuleSet(
    Platform.CUSTOM,
    phone_chains={
        "customer": (_C("phone"), _C("default_address.phone"), _C("addresses[*].phone")),
        "order": (
            _C("customer.phone"),
            _C("customer.default_address.phone"),
            _C("customer.addresses[*].phone"),
        ),
        "cart": (
            _C("customer.phone"),
            _C("customer.default_address.phone"),
            _C("customer.addresses[*].phone"),
        ),
    },
    consent={
        "customer": (ConsentField.boolean("accepts_marketing"),),
        "order": (ConsentField.boolean("customer.accepts_marketing"),),
        "cart": (ConsentField.boolean("customer.accepts_marketing"),),
    },
    tags=TagPolicy(import_record_tags=True),
)

#: The default rules of every platform.
DEFAULT_RULES: Mapping[Platform, RuleSet] = MappingProxyType(
    {
        Platform.SHOPIFY: SHOPIFY,
        Platform.BIGCOMMERCE: BIGCOMMERCE,
        Platform.SQUARE: SQUARE,
        Platform.TIENDANUBE: TIENDANUBE,
        Platform.CUSTOM: CUSTOM,
    }
)


def defaults_for(platform: Platform | str) -> RuleSet:
    """The default rules of a platform (a frozen :class:`RuleSet`; copy it to change it).

    Example:
        >>> [str(c.path) for c in defaults_for("shopify").phone_chain("customer")]
        ['phone', 'default_address.phone']
        >>> defaults_for("bigcommerce").tags.platform_tags
        ('bigcommerce-customer',)
    """
    return DEFAULT_RULES[Platform(platform)]
