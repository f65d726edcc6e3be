"""The rules' fast paths give exactly what the plain code gave.

* :func:`phone_from_chain` reads each chain path through its compiled reader, with
  the chain made ready once (found again by identity); the reference below is the
  previous implementation, word for word, going through ``FieldPath.resolve`` for
  every candidate. Both must give equal results (value, reason, source, original,
  region, every skipped attempt) or the same error, on random records and chains
  and on the records the platforms' official examples parse to (mutated by the
  fuzz kit), through :func:`prepare_contact` as well;
* ``FieldPath.resolve`` and ``reader`` find a path's compiled form by the path
  object's identity: equal to the reference walker, and bounded;
* ``Contact.primary`` of a one-source contact is that source, as ``max`` says.

Each check is shown able to fail (a planted difference is caught).
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors.errors import ConfigurationError, InvalidRecordError
from commerce_connectors.models import Address, Cart, Customer, Order
from commerce_connectors.rules import _paths, contacts, defaults_for, phone, prepare_contact
from commerce_connectors.rules._paths import FieldPath, PathError
from commerce_connectors.rules._reasons import Reason
from commerce_connectors.rules.guests import is_guest
from commerce_connectors.rules.phone import (
    PhoneAttempt,
    PhoneCandidate,
    PhoneResult,
    Plausibility,
    normalize_phone,
    phone_from_chain,
    region_for,
)
from commerce_connectors.testing import strategies as cs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import test_fuzz_bigcommerce
import test_fuzz_shopify
import test_fuzz_square
import test_fuzz_tiendanube
from fuzz_kit import bundle_keys, mutated

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)

# -- the reference: the chain walk before the fast path ------------------------------------


def _reference_own_region(found: Any) -> str | None:
    parent = found.parent
    if isinstance(parent, Address):
        return phone._region(parent.country_code)
    if isinstance(parent, dict):
        for key in ("country_code", "country_iso2", "country"):
            code = phone._region(parent.get(key))
            if code:
                return code
    return None


def reference_phone_from_chain(
    record: Any,
    chain: Sequence[PhoneCandidate | str],
    *,
    store_country: str | None = None,
    plausibility: Plausibility = Plausibility.VALID,
    guest_customer_ids: Collection[str] = (),
) -> PhoneResult:
    """``phone_from_chain`` as it was: every candidate through ``FieldPath.resolve``."""
    candidates = [c if isinstance(c, PhoneCandidate) else PhoneCandidate(c) for c in chain]
    skipped: list[PhoneAttempt] = []
    fallback: list[str | None] = []
    guest: list[bool] = []
    for candidate in candidates:
        if candidate.guest_only:
            if not guest:
                guest.append(is_guest(record, guest_customer_ids=guest_customer_ids))
            if not guest[0]:
                continue
        try:
            found = candidate.path._resolve_reference(record)
        except PathError as exc:
            raise ConfigurationError(f"phone chain path {candidate.path}: {exc}") from None
        for item in found:
            region = _reference_own_region(item)
            if region is None:
                if not fallback:
                    fallback.append(region_for(record, store_country=store_country))
                region = fallback[0]
            result = normalize_phone(item.value, region, plausibility=plausibility)
            if result.value is not None:
                return PhoneResult(
                    result.value,
                    result.reason,
                    item.path,
                    result.original,
                    result.region,
                    tuple(skipped),
                )
            assert result.reason is not None
            original = item.value if isinstance(item.value, str) else result.original
            skipped.append(PhoneAttempt(item.path, original, result.reason, region))
    if not fallback:
        fallback.append(region_for(record, store_country=store_country))
    return PhoneResult(None, Reason.NO_PHONE, region=fallback[0], skipped=tuple(skipped))


# -- strategies ------------------------------------------------------------------------------

_PATHS = [
    "phone",
    "default_address.phone",
    "addresses[*].phone",
    "addresses[0].phone",
    "customer.phone",
    "customer.default_address.phone",
    "customer.addresses[*].phone",
    "$.phone",
    "$.billing_address.phone",
    "$.a",
    "$.a[*]",
    "$.a[0].phone",
    "email",
    "nope",
    "phone.nope",
]

_candidates = st.builds(PhoneCandidate, st.sampled_from(_PATHS), st.booleans())
_chains = st.lists(st.one_of(_candidates, st.sampled_from(_PATHS)), max_size=5).flatmap(
    lambda items: st.sampled_from([tuple(items), list(items)])
)
_phones = st.sampled_from(
    ["+1 (502) 459-2181", "(502) 459-2181", "911 23 45 67", "12", "", " ", "abc", 4155550132]
)
_raw = st.fixed_dictionaries(
    {},
    optional={
        "phone": st.none() | _phones,
        "billing_address": st.fixed_dictionaries(
            {"phone": st.none() | _phones},
            optional={"country_code": st.sampled_from(["US", "ES", "xx", 3])},
        ),
        "a": st.lists(
            st.one_of(_phones, st.fixed_dictionaries({"phone": _phones, "country": st.just("ES")})),
            max_size=3,
        ),
    },
)


@st.composite
def _records(draw: st.DrawFn) -> Any:
    record = draw(cs.records().filter(lambda r: isinstance(r, Customer | Order | Cart)))
    return attrs.evolve(record, raw=draw(st.none() | _raw))


def _outcome(fn: Any, record: Any, chain: Any, **options: Any) -> Any:
    try:
        return ("ok", fn(record, chain, **options))
    except ConfigurationError as exc:
        return ("error", str(exc))


def _same(record: Any, chain: Any, **options: Any) -> Any:
    expected = _outcome(reference_phone_from_chain, record, chain, **options)
    assert _outcome(phone_from_chain, record, chain, **options) == expected
    assert _outcome(phone_from_chain, record, chain, **options) == expected  # plan cached
    return expected


@given(
    record=_records(),
    chain=_chains,
    store=st.sampled_from([None, "US", "ES"]),
    plausibility=st.sampled_from(list(Plausibility)),
    guests=st.sampled_from([(), ("0",), frozenset({"1", "0"})]),
)
def test_the_phone_chain_equals_the_reference(
    record: Any, chain: Any, store: Any, plausibility: Any, guests: Any
) -> None:
    _same(
        record,
        chain,
        store_country=store,
        plausibility=plausibility,
        guest_customer_ids=guests,
    )


def _cases() -> dict[str, tuple[list[dict[str, Any]], Any]]:
    cases: dict[str, tuple[list[dict[str, Any]], Any]] = {}
    for kind, seeds in test_fuzz_shopify.SEEDS.items():
        cases[f"shopify-{kind}"] = (seeds, test_fuzz_shopify._parse(kind))
    for name, module in (
        ("bigcommerce", test_fuzz_bigcommerce),
        ("square", test_fuzz_square),
        ("tiendanube", test_fuzz_tiendanube),
    ):
        for kind, (parse, _) in module.PARSERS.items():
            cases[f"{name}-{kind}"] = (module.SEEDS[kind], parse)
    return {k: v for k, v in cases.items() if k.endswith(("customer", "order", "cart"))}


CASES = _cases()
KEYS = bundle_keys(*(seed for seeds, _ in CASES.values() for seed in seeds))


def _every_default_chain(record: Any) -> None:
    if not isinstance(record, Customer | Order | Cart):
        return
    rules = defaults_for(record.platform)
    _same(
        record,
        rules.phone_chain(record),
        store_country=rules.store_country,
        plausibility=rules.plausibility,
        guest_customer_ids=rules.guests.guest_customer_ids,
    )
    # The whole decision through prepare_contact, with the reference patched in.
    fast = prepare_contact(record, rules)
    saved = contacts.phone_from_chain
    contacts.phone_from_chain = reference_phone_from_chain  # type: ignore[assignment]
    try:
        assert prepare_contact(record, rules) == fast
    finally:
        contacts.phone_from_chain = saved


def test_every_official_example_chooses_the_same_phone() -> None:
    assert CASES
    for seeds, parse in CASES.values():
        for seed in seeds:
            _every_default_chain(parse(copy.deepcopy(seed)))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_mutated_official_examples_choose_the_same_phone(name: str, data: st.DataObject) -> None:
    seeds, parse = CASES[name]
    bundle = data.draw(st.sampled_from(seeds).flatmap(lambda seed: mutated(seed, KEYS)))
    try:
        record = parse(bundle)
    except InvalidRecordError:
        return
    _every_default_chain(record)


def test_a_planted_difference_in_the_chain_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    record = Customer(
        "bigcommerce", "bc:1", "7", T0, T0,
        addresses=[Address(phone="", country_code="FR"),
                   Address(phone="911 23 45 67", country_code="ES")],
    )  # fmt: skip
    chain = ("phone", "addresses[*].phone")
    assert _same(record, chain)[1].value == "+34911234567"
    # The fast path alone loses the address's own region: caught.
    monkeypatch.setattr(phone, "_parent_region", lambda parent: None)
    with pytest.raises(AssertionError):
        _same(record, chain)
    monkeypatch.undo()
    # The fast path alone drops a candidate from its plan: caught.
    real_plan = phone._chain_plan
    monkeypatch.setattr(phone, "_chain_plan", lambda chain: real_plan(chain)[:-1])
    with pytest.raises(AssertionError):
        _same(record, chain)


def test_chain_plans_are_found_by_identity_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phone, "_PLANS", {})
    monkeypatch.setattr(phone, "_PLANS_LIMIT", 4)
    record = Customer("custom", "c1", "1", T0, T0, phone="+34 911 23 45 67")
    chains = [("phone",) * n for n in range(1, 12)]
    for chain in chains:
        assert phone_from_chain(record, chain).value == "+34911234567"
        assert len(phone._PLANS) <= 4
    assert phone._PLANS[id(chains[-1])][0] is chains[-1]
    # A list may change in place: it is made ready every time, never remembered.
    mutable = ["nope"]
    with pytest.raises(ConfigurationError):
        phone_from_chain(record, mutable)
    mutable[0] = "phone"
    assert phone_from_chain(record, mutable).value == "+34911234567"
    assert all(entry[0] is not mutable for entry in phone._PLANS.values())


# -- paths found by identity ----------------------------------------------------------------


def test_paths_are_found_by_identity_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_paths, "_BY_ID", {})
    monkeypatch.setattr(_paths, "_BY_ID_LIMIT", 5)
    record = Customer("custom", "c1", "1", T0, T0, phone="x", raw={"a": [1, 2]})
    for n in range(20):
        text = ["phone", "$.a[1]", "$.a[0]", "external_id"][n % 4]
        path = FieldPath.parse(text)
        assert path.resolve(record) == path._resolve_reference(record)
        reader = path.reader()
        assert reader is not None
        assert reader(record)[0] == path._resolve_reference(record)[0].value
        assert len(_paths._BY_ID) <= 5
    wildcard = FieldPath.parse("$.a[*]")
    assert wildcard.reader() is None
    assert wildcard.resolve(record) == wildcard._resolve_reference(record)
    # A planted mistake (another path's reader under this id) is caught by the check.
    phone_path, other = FieldPath.parse("phone"), FieldPath.parse("external_id")
    _paths._BY_ID[id(phone_path)] = (phone_path, _paths._compiled(other))
    assert phone_path.resolve(record) != phone_path._resolve_reference(record)


# -- Contact.primary -------------------------------------------------------------------------


@given(st.lists(cs.customers(), min_size=1, max_size=3))
def test_the_primary_source_is_the_newest(customers: list[Customer]) -> None:
    made = [d.contact for d in map(prepare_contact, customers) if d.contact is not None]
    for contact in [*made, *contacts.merge_contacts(made).values()]:
        expected = (
            max(contact.sources, key=lambda s: (s.updated_at, s.connection_id, s.external_id or ""))
            if contact.sources
            else None
        )
        assert contact.primary is expected
