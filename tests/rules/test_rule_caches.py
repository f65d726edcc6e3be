"""The rules' fast paths give the results of the plain ones.

Phone and email normalisation are memoised (same results as uncached, in a
bounded cache); consent reads a raw time path only when a value needs it.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from _builders import customer, order
from hypothesis import given
from hypothesis import strategies as st

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.models import Address
from commerce_connectors.rules import (
    Consent,
    ConsentField,
    Plausibility,
    Reason,
    choose_phone,
    consent_from,
    defaults_for,
    normalize_email,
    normalize_phone,
    prepare_contact,
)
from commerce_connectors.rules import consent as consent_rule
from commerce_connectors.rules import email as email_rule
from commerce_connectors.rules import phone as phone_rule
from commerce_connectors.rules._paths import PathError
from commerce_connectors.testing import strategies as cs

_REGIONS = st.none() | st.sampled_from(["US", "us ", "FR", "BR", "AR", "JP", "XX", ""])
_PLAUSIBILITY = st.sampled_from(list(Plausibility))


def _uncached_phone(raw: object, region: str | None, plausibility: Plausibility) -> object:
    """``normalize_phone`` with the cache bypassed: the pure parse, called directly."""
    if not isinstance(raw, str) or not raw.strip():
        return normalize_phone(raw, region, plausibility=plausibility)
    strict = plausibility is Plausibility.VALID
    return phone_rule._parse(raw, phone_rule._region(region), strict)


@given(st.one_of(cs.phones(), st.text(max_size=20)), _REGIONS, _PLAUSIBILITY)
def test_a_cached_phone_result_equals_the_uncached_one(
    raw: str, region: str | None, plausibility: Plausibility
) -> None:
    expected = _uncached_phone(raw, region, plausibility)
    assert normalize_phone(raw, region, plausibility=plausibility) == expected
    # Asked again: now from the cache, and still the same.
    assert normalize_phone(raw, region, plausibility=plausibility) == expected


@given(st.one_of(st.none(), cs.emails(), st.text(max_size=40)))
def test_a_cached_email_result_equals_the_uncached_one(raw: str | None) -> None:
    expected = email_rule._normalize(raw)
    assert normalize_email(raw) == expected
    assert normalize_email(raw) == expected


def test_the_strictness_is_part_of_the_phone_cache_key() -> None:
    fictional = "+1 555 123 4567"  # a possible length, but area code 555 is not assigned
    for _ in range(2):
        assert normalize_phone(fictional).reason is Reason.PHONE_IMPLAUSIBLE
        assert normalize_phone(fictional, plausibility=Plausibility.POSSIBLE).ok


def test_the_region_is_part_of_the_phone_cache_key() -> None:
    assert normalize_phone("06 12 34 56 78", "FR").value == "+33612345678"
    assert normalize_phone("06 12 34 56 78", "US").value is None
    assert normalize_phone("06 12 34 56 78", "fr").value == "+33612345678"


def test_string_subclasses_are_not_remembered_as_plain_strings() -> None:
    class Tagged(str):
        pass

    raw = Tagged("Ana@Example.com")
    assert type(normalize_email(raw).original) is Tagged
    assert type(normalize_email("Ana@Example.com").original) is str
    number = Tagged("+33 6 12 34 56 78")
    assert type(normalize_phone(number).original) is Tagged


@pytest.mark.parametrize(
    ("cached", "size"),
    [
        (phone_rule._parse_cached, phone_rule.PHONE_CACHE_SIZE),
        (email_rule._normalize_cached, email_rule.EMAIL_CACHE_SIZE),
    ],
)
def test_the_caches_are_bounded(cached: object, size: int) -> None:
    info = cached.cache_info()  # type: ignore[attr-defined]
    assert info.maxsize == size
    for n in range(size + 50):
        if cached is phone_rule._parse_cached:
            normalize_phone(f"+1 212 555 {n:04d}", "US")
        else:
            normalize_email(f"shopper{n}@example.com")
    info = cached.cache_info()  # type: ignore[attr-defined]
    assert info.currsize <= size
    assert info.currsize == size  # full: the oldest entries went first


def test_every_repeat_of_a_customer_is_a_cache_hit() -> None:
    home = Address(phone="(502) 459-2181", country_code="US")
    buyer = customer(email="Ann@Shop.io", default_address=home)
    rules = defaults_for("shopify")
    prepare_contact(order(customer=buyer, customer_external_id="1"), rules)
    before = phone_rule._parse_cached.cache_info().hits
    for n in range(5):
        decision = prepare_contact(
            order(external_id=str(n), customer=buyer, customer_external_id="1"), rules
        )
        assert decision.contact is not None
        assert decision.contact.phone == "+15024592181"
    assert phone_rule._parse_cached.cache_info().hits - before >= 5


@given(cs.customers() | cs.orders() | cs.carts())
def test_phone_choice_is_the_same_with_a_cold_or_a_warm_cache(record: object) -> None:
    warm = choose_phone(record)  # type: ignore[arg-type]
    phone_rule._parse_cached.cache_clear()
    assert choose_phone(record) == warm  # type: ignore[arg-type]


# ---------------------------------------------------------------- consent: lazy time paths


def _eager_consent(record: Any, fields: list[ConsentField]) -> Consent:
    """The rule as first written: every time path read before any value is looked at."""
    for field in fields:
        try:
            found = field.path.resolve(record)
            at_found = field.at_path.resolve(record) if field.at_path else []
        except PathError as exc:
            raise ConfigurationError(f"consent field {field.path}: {exc}") from None
        for n, item in enumerate(found):
            meaning = field.meaning(item.value)
            if meaning is None:
                continue
            stamp = (
                consent_rule._to_datetime(at_found[min(n, len(at_found) - 1)].value)
                if at_found
                else None
            )
            return Consent(meaning, stamp or record.updated_at, item.path)
    return Consent(None)


_CONSENT_PATHS = ["accepts_marketing", "$.a", "$.a[*]", "$.b.c", "nope", "tags[*]"]
_TIME_PATHS = [None, "$.t", "$.t[*]", "updated_at", "nope", "$.missing"]
_raw_values = (
    st.none() | st.booleans() | st.sampled_from(["subscribed", "2024-01-02T03:04:05Z", "x"])
)
_consent_raw = st.fixed_dictionaries(
    {},
    optional={
        "a": _raw_values | st.lists(_raw_values, max_size=3),
        "b": st.fixed_dictionaries({"c": _raw_values}),
        "t": _raw_values | st.lists(_raw_values, max_size=3),
    },
)


@given(
    record=st.builds(
        lambda c, raw: attrs.evolve(c, raw=raw), cs.customers(), st.none() | _consent_raw
    ),
    picks=st.lists(
        st.tuples(
            st.sampled_from(_CONSENT_PATHS),
            st.sampled_from(_TIME_PATHS),
            st.sampled_from(["boolean", "opt_in", "opt_out", "states"]),
        ),
        max_size=4,
    ),
)
def test_consent_reads_time_paths_lazily_with_the_same_outcome(
    record: Any, picks: list[tuple[str, str | None, str]]
) -> None:
    fields = [
        ConsentField.states(path, {"subscribed": True, "x": False}, at=at)
        if kind == "states"
        else getattr(ConsentField, kind)(path, at=at)
        for path, at, kind in picks
    ]
    try:
        expected: Any = _eager_consent(record, fields)
    except ConfigurationError as exc:
        expected = str(exc)
    try:
        found: Any = consent_from(record, fields)
    except ConfigurationError as exc:
        found = str(exc)
    assert found == expected
