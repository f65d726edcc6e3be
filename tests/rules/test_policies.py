"""Guest policy, tags, consent and the list-subscription rule."""

from __future__ import annotations

import datetime as dt

import pytest
from _builders import T0, cart, customer, order

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.models import Money, Payment
from commerce_connectors.rules import (
    Consent,
    ConsentField,
    GuestPolicy,
    Reason,
    TagPolicy,
    admit_contact,
    admit_record,
    consent_from,
    contact_tags,
    defaults_for,
    is_guest,
    should_subscribe,
    split_tags,
)

# ---------------------------------------------------------------- guests


def test_guest_markers() -> None:
    assert is_guest(customer(is_guest=True))
    assert not is_guest(customer())
    assert is_guest(order(customer_external_id=None))
    assert not is_guest(order(customer_external_id="7"))
    assert is_guest(order(customer_external_id="0"), guest_customer_ids={"0"})
    assert is_guest(order(customer=customer(is_guest=True), customer_external_id="9"))
    payment = Payment("square", "sq:M:L", "P1", T0, T0, amount=Money("1", "USD"))
    assert is_guest(payment)


def test_every_exclusion_carries_its_reason() -> None:
    strict = GuestPolicy(sync_guests=False, cart_contacts=False, require_email=True)
    assert admit_record(order(customer_external_id=None), strict).reason is Reason.GUEST_EXCLUDED
    assert admit_contact(order(customer_external_id=None), strict).reason is Reason.GUEST_EXCLUDED
    registered_cart = cart(customer_external_id="5", email="a@b.io")
    assert admit_contact(registered_cart, strict).reason is Reason.CART_CONTACT_EXCLUDED
    assert admit_contact(customer(email=None), strict).reason is Reason.EMAIL_REQUIRED
    assert admit_contact(order(customer_external_id="5", email="a@b.io"), strict)
    assert admit_record(order(customer_external_id=None), GuestPolicy())


def test_required_email_may_come_from_the_buyer_record() -> None:
    policy = GuestPolicy(require_email=True)
    buyer = customer(email="A@b.io")
    assert admit_contact(order(customer=buyer, customer_external_id="1"), policy)


# ---------------------------------------------------------------- tags


def test_store_tags_are_trimmed_deduplicated_and_unicode_is_kept() -> None:
    # "Noe\u0308l" is Noël with a combining diaeresis: the same tag once in NFC.
    assert split_tags(" Léon,Noël , ,Noe\u0308l", "VIP,vip") == ("Léon", "Noël", "VIP", "vip")


def test_tag_policy_orders_store_platform_then_extra_tags() -> None:
    policy = TagPolicy(platform_tags="bigcommerce-customer", import_record_tags=True)
    policy = policy.with_extra("spring, vip")
    c = customer(tags=("vip, Léon",))
    assert contact_tags(c, policy) == ("vip", "Léon", "bigcommerce-customer", "spring")
    assert contact_tags(None, policy) == ("bigcommerce-customer", "spring", "vip")


def test_record_tags_are_not_imported_unless_the_policy_says_so() -> None:
    assert contact_tags(customer(tags=("x",)), TagPolicy()) == ()


# ---------------------------------------------------------------- consent


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("subscribed", True),
        ("not_subscribed", False),
        ("unsubscribed", False),
        ("pending", None),
        ("invalid", None),
        ("something_new", None),
    ],
)
def test_shopify_email_marketing_state_is_normalised(state: str, expected: bool | None) -> None:
    raw = {
        "email_marketing_consent": {
            "state": state,
            "consent_updated_at": "2004-06-13T11:57:11-04:00",
        }
    }
    consent = consent_from(customer(raw=raw))
    assert consent.value is expected
    if expected is not None:
        assert consent.at == dt.datetime(2004, 6, 13, 15, 57, 11, tzinfo=dt.timezone.utc)
        assert consent.source == "$.email_marketing_consent.state"


def test_buyer_accepts_marketing_checkbox_is_a_yes_when_ticked_and_unknown_otherwise() -> None:
    ticked = order(raw={"buyer_accepts_marketing": True})
    unticked = order(raw={"buyer_accepts_marketing": False})
    assert consent_from(ticked) == Consent(True, T0, "$.buyer_accepts_marketing")
    assert consent_from(unticked).value is None


def test_square_unsubscribed_flag_is_only_ever_a_no() -> None:
    yes = customer("square", raw={"preferences": {"email_unsubscribed": False}})
    no = customer("square", raw={"preferences": {"email_unsubscribed": True}})
    assert consent_from(yes).value is None
    assert consent_from(no).value is False


def test_canonical_accepts_marketing_is_the_fallback() -> None:
    assert consent_from(customer(accepts_marketing=True)).value is True
    assert consent_from(customer("tiendanube", accepts_marketing=False)).value is False
    assert consent_from(customer("bigcommerce")).value is None


def test_consent_fields_are_data() -> None:
    field = ConsentField.boolean("$.newsletter", at="$.newsletter_at")
    c = customer(raw={"newsletter": 1, "newsletter_at": "2024-01-02T00:00:00Z"})
    assert consent_from(c, [field]).value is None  # 1 is not a boolean answer
    c = customer(raw={"newsletter": True, "newsletter_at": "2024-01-02T00:00:00Z"})
    assert consent_from(c, [field]).at == dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    naive = customer(raw={"newsletter": True, "newsletter_at": "2024-01-02T00:00:00"})
    assert consent_from(naive, [field]).at == T0
    with pytest.raises(ConfigurationError):
        consent_from(c, [ConsentField.boolean("newsletter")])


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-12:00", " 0001-01-01T00:00:00+01:00"]
)
def test_consent_times_with_no_utc_equivalent_are_unreadable_not_a_crash(at: str) -> None:
    # A payload may carry either end of the calendar with an offset: there is no UTC
    # time for it, so the record's own time stands in, as for any unreadable time.
    field = ConsentField.boolean("$.newsletter", at="$.newsletter_at")
    c = customer(raw={"newsletter": True, "newsletter_at": at})
    assert consent_from(c, [field]) == Consent(True, T0, "$.newsletter")


@pytest.mark.parametrize(
    ("consent", "subscribe", "reason"),
    [
        (True, True, None),
        (Consent(True), True, None),
        (False, False, Reason.CONSENT_DECLINED),
        (None, False, Reason.CONSENT_UNKNOWN),
        (Consent(None), False, Reason.CONSENT_UNKNOWN),
    ],
)
def test_list_subscription_only_on_an_explicit_yes(
    consent: Consent | bool | None, subscribe: bool, reason: Reason | None
) -> None:
    decision = should_subscribe(consent)
    assert (decision.subscribe, decision.reason, bool(decision)) == (subscribe, reason, subscribe)


def test_rule_sets_are_configurable_per_connection() -> None:
    rules = defaults_for("tiendanube").with_phone_chain("cart", ["$.shipping_phone"])
    rules = rules.with_consent_fields("customer", [ConsentField.opt_in("$.newsletter")])
    rules = rules.with_phone_fallback_identity()
    assert [str(c.path) for c in rules.phone_chain("cart")] == ["$.shipping_phone"]
    assert rules.identity.phone_fallback
    assert defaults_for("tiendanube").phone_chain("cart") != rules.phone_chain("cart")
    with pytest.raises(ConfigurationError):
        rules.with_phone_chain("refund", ["phone"])
    with pytest.raises(ConfigurationError):
        rules.with_store_country("Spain")
    assert rules.with_store_country(None).store_country is None
    assert rules.with_store_country("ar").store_country == "AR"
