"""Email normalisation and the phone fallback chain."""

from __future__ import annotations

import phonenumbers
import pytest
from _builders import customer
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.models import Address
from commerce_connectors.rules import (
    PhoneCandidate,
    Plausibility,
    Reason,
    choose_phone,
    normalize_email,
    normalize_phone,
    region_for,
)
from commerce_connectors.testing import strategies as cs

# ---------------------------------------------------------------- email


@given(st.one_of(st.none(), cs.emails(), st.text(max_size=40)))
def test_email_normalisation_is_idempotent(raw: str | None) -> None:
    once = normalize_email(raw)
    twice = normalize_email(once.value)
    if once.value is None:
        assert once.reason in (Reason.EMAIL_MISSING, Reason.EMAIL_INVALID)
    else:
        assert twice.value == once.value
        assert once.value == once.value.strip().lower()
        assert once.reason is None


@given(cs.emails())
def test_email_normalisation_never_raises_and_keeps_the_original(raw: str) -> None:
    result = normalize_email(raw)
    assert result.original == raw
    assert (result.value is None) == (result.reason is not None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Bob.Norman@Mail.Example.COM ", "bob.norman@mail.example.com"),
        ("léon@exämple.fr", "léon@exämple.fr"),
        ("a+tag@shop.io", "a+tag@shop.io"),
    ],
)
def test_valid_emails_are_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalize_email(raw).value == expected


@pytest.mark.parametrize(
    "raw", ["not-an-email", "a@", "@b.com", "a b@c.com", "x@y", "a..b@c.com", "a@b.c", "a@@b.com"]
)
def test_invalid_emails_become_none_with_a_reason(raw: str) -> None:
    result = normalize_email(raw)
    assert result.value is None
    assert result.reason is Reason.EMAIL_INVALID


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_emails_are_reported_as_missing(raw: str | None) -> None:
    assert normalize_email(raw).reason is Reason.EMAIL_MISSING


# ---------------------------------------------------------------- phone: one value


def test_phone_is_normalised_to_e164_with_the_default_region() -> None:
    assert normalize_phone("+1(502)-459-2181").value == "+15024592181"
    assert normalize_phone("06 12 34 56 78", "FR").value == "+33612345678"
    assert normalize_phone("011 5555-1234", "AR").ok


def test_phone_without_region_or_country_code_is_skipped_with_a_reason() -> None:
    assert normalize_phone("0612345678").reason is Reason.PHONE_NO_REGION


@pytest.mark.parametrize("raw", ["12", "000", "1234567890"])
def test_implausible_phones_are_skipped(raw: str) -> None:
    assert normalize_phone(raw, "US").reason is Reason.PHONE_IMPLAUSIBLE


def test_fictional_555_numbers_are_kept_only_under_the_possible_policy() -> None:
    assert normalize_phone("555-625-1199", "US").reason is Reason.PHONE_IMPLAUSIBLE
    lenient = normalize_phone("555-625-1199", "US", plausibility=Plausibility.POSSIBLE)
    assert lenient.value == "+15556251199"


@pytest.mark.parametrize("raw", ["n/a", "call me", "--"])
def test_junk_phones_are_unparseable(raw: str) -> None:
    assert normalize_phone(raw, "US").reason is Reason.PHONE_UNPARSEABLE


def test_non_string_phones_are_handled_without_raising() -> None:
    assert normalize_phone(6136120707, "US").value == "+16136120707"
    assert normalize_phone(True).reason is Reason.PHONE_MISSING
    assert normalize_phone(["+16136120707"]).reason is Reason.PHONE_UNPARSEABLE


# ---------------------------------------------------------------- phone: the chain

_CHAIN = ("phone", "default_address.phone", "addresses[*].phone")

_valid = st.sampled_from(
    ["+16136120707", "+1 (502) 459-2181", "06 12 34 56 78", "+34 911 23 45 67", "(212) 555-4240"]
)
_phone = st.none() | cs.phones() | _valid
_address = st.builds(
    Address,
    phone=_phone,
    country_code=st.none() | st.sampled_from(["US", "FR", "ES", "AR", "BR", "GB"]),
)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _is_subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)


@given(
    phone=_phone,
    default=st.none() | _address,
    others=st.lists(_address, max_size=3),
    store=st.none() | st.sampled_from(["US", "FR", "BR"]),
)
def test_phone_fallback_never_returns_a_number_absent_from_its_inputs_and_returns_the_first_plausible_one(  # noqa: E501
    phone: str | None, default: Address | None, others: list[Address], store: str | None
) -> None:
    record = customer(phone=phone, default_address=default, addresses=others)
    result = choose_phone(record, _CHAIN, store_country=store)

    concrete = ["phone", "default_address.phone"] + [
        f"addresses[{n}].phone" for n in range(len(others))
    ]
    inputs = {"phone": phone, "default_address.phone": default.phone if default else None}
    inputs.update({f"addresses[{n}].phone": a.phone for n, a in enumerate(others)})

    tried = [a.path for a in result.skipped] + ([result.source] if result.ok else [])
    assert tried == concrete[: len(tried)]
    for attempt in result.skipped:
        assert attempt.reason is not None
        assert normalize_phone(inputs[attempt.path], attempt.region).value is None
    if result.ok:
        assert result.source is not None
        assert result.original == inputs[result.source]
        assert result.value == normalize_phone(result.original, result.region).value
        assert result.value is not None
        national = str(phonenumbers.parse(result.value).national_number)
        assert _is_subsequence(national, _digits(result.original or ""))
    else:
        assert result.reason is Reason.NO_PHONE
        assert tried == concrete


def test_the_first_plausible_candidate_wins_even_when_later_ones_are_plausible() -> None:
    record = customer(
        phone="not a phone",
        default_address=Address(phone="(212) 555-4240", country_code="US"),
        addresses=[Address(phone="+34 911 23 45 67")],
    )
    result = choose_phone(record, _CHAIN)
    assert result.value == "+12125554240"
    assert result.source == "default_address.phone"
    assert [(a.path, a.reason) for a in result.skipped] == [("phone", Reason.PHONE_UNPARSEABLE)]


def test_a_candidate_uses_its_own_address_country_first() -> None:
    record = customer(
        phone=None,
        default_address=Address(phone=None, country_code="US"),
        addresses=[Address(phone="06 12 34 56 78", country_code="FR")],
    )
    assert choose_phone(record, _CHAIN).value == "+33612345678"


def test_region_comes_from_the_address_then_the_store() -> None:
    assert region_for(customer(default_address=Address(country_code="es"))) == "ES"
    assert region_for(customer(), store_country="fr") == "FR"
    assert region_for(customer(addresses=[Address(country_code="ZZ")])) is None


def test_raw_payload_candidates_are_read_by_path() -> None:
    record = customer(raw={"billing_address": {"phone": "0612345678", "country_code": "FR"}})
    result = choose_phone(record, ["phone", "$.billing_address.phone"])
    assert (result.value, result.source) == ("+33612345678", "$.billing_address.phone")


def test_guest_only_candidates_are_ignored_for_registered_customers() -> None:
    chain = [PhoneCandidate("phone"), PhoneCandidate("$.phone", guest_only=True)]
    raw = {"phone": "+16136120707"}
    assert choose_phone(customer(raw=raw), chain).value is None
    assert choose_phone(customer(raw=raw, is_guest=True), chain).value == "+16136120707"


def test_a_chain_naming_an_unknown_field_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no field 'phone_number'"):
        choose_phone(customer(), ["phone_number"])
