"""The second round of the rules' fast paths gives exactly what the plain code gave.

* :func:`consent_from_fields` reads each field through prepared readers and its
  table as dicts (found again by the tuple's identity; a trailing ``[*]`` walks
  the sequence before it); anything else goes the checked way;
* :func:`prepare_contact` builds the contact of one record field by field (one
  source, tags already sorted and remembered per tag policy) instead of through
  ``Contact``'s converters;
* ``region_for`` (unrolled), ``_region`` (memoised), consent times (memoised),
  ``should_subscribe`` and ``trigger_decision`` (shared frozen answers, no enum
  lookup for a member) and the converters of ``ContactKey`` and ``SourceRef``.

Each is compared with the previous implementation, copied word for word below
(only the names of the other references it calls are changed), on random
records and rules and on the records the platforms' official examples parse to
(mutated by the fuzz kit): complete results (every field, the types of the
contact's containers) or the same error. Each check is shown able to fail (a
planted difference is caught) and the fast paths are shown to be the ones run.
"""

from __future__ import annotations

import copy
import datetime as _dt
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors.errors import ConfigurationError, InvalidRecordError
from commerce_connectors.models import (
    Address,
    Cart,
    Customer,
    Money,
    Order,
    Platform,
    ensure_aware_utc,
)
from commerce_connectors.rules import (
    Consent,
    ConsentField,
    ContactKey,
    IdentityKind,
    SourceRef,
    SubscriptionDecision,
    SyncMode,
    TagPolicy,
    TriggerDecision,
    TriggerPolicy,
    _direct,
    contact_key,
    contact_tags,
    defaults_for,
    normalize_email,
    prepare_contact,
    should_subscribe,
    trigger_decision,
)
from commerce_connectors.rules import consent as consent_module
from commerce_connectors.rules import contacts as contacts_module
from commerce_connectors.rules import phone as phone_module
from commerce_connectors.rules._paths import PathError
from commerce_connectors.rules._reasons import Reason
from commerce_connectors.rules.config import RuleSet
from commerce_connectors.rules.contacts import Contact, ContactDecision, _blank
from commerce_connectors.rules.guests import admit_contact
from commerce_connectors.rules.phone import phone_from_chain
from commerce_connectors.testing import strategies as cs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import test_fuzz_bigcommerce
import test_fuzz_shopify
import test_fuzz_square
import test_fuzz_tiendanube
from fuzz_kit import bundle_keys, mutated

T0 = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)

# -- the references: the code before the fast paths, word for word -------------------------


def reference_to_datetime(value: object) -> _dt.datetime | None:
    if isinstance(value, _dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    try:  # the one change since: no UTC time exists at the calendar's ends
        return parsed.astimezone(_dt.timezone.utc)
    except OverflowError:
        return None


def reference_consent_from_fields(
    record: Customer | Order | Cart, fields: Sequence[ConsentField]
) -> Consent:
    """``consent_from_fields`` as it was: every path resolved, every value scanned."""
    for field in fields:
        at_path = field.at_path
        try:
            found = field.path._resolve_reference(record)
            # A canonical time path is checked even when unused (a typo must not
            # pass unnoticed); a raw one cannot fail, so it is read only when needed.
            at_found = (
                None if at_path is None or at_path.is_raw else at_path._resolve_reference(record)
            )
        except PathError as exc:
            raise ConfigurationError(f"consent field {field.path}: {exc}") from None
        for n, item in enumerate(found):
            meaning = field.meaning(item.value)
            if meaning is None:
                continue
            if at_found is None and at_path is not None:
                at_found = at_path._resolve_reference(record)
            stamp = (
                reference_to_datetime(at_found[min(n, len(at_found) - 1)].value)
                if at_found
                else None
            )
            return Consent(meaning, stamp or record.updated_at, item.path)
    return consent_module.UNKNOWN


def reference_prepare_contact(record: Customer | Order | Cart, rules: Any = None) -> Any:
    """``prepare_contact`` as it was: ``Contact(...)`` with its converters."""
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
    email = normalize_email(email_in)
    phone = phone_from_chain(
        record,
        ruleset.phone_chain(record),
        store_country=ruleset.store_country,
        plausibility=ruleset.plausibility,
        guest_customer_ids=ruleset.guests.guest_customer_ids,
    )
    key = contact_key(email.value, phone.value, policy=ruleset.identity)
    consent = reference_consent_from_fields(record, ruleset.consent_fields(record))
    if key is None:
        return ContactDecision(None, Reason.NO_IDENTITY, email, phone, consent)

    raw = buyer.raw if buyer is not None and buyer.raw is not None else record.raw
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


def reference_region(code: object) -> str | None:
    if not isinstance(code, str):
        return None
    code = code.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def reference_addresses_of(record: Any) -> Iterable[Any]:
    if isinstance(record, Customer):
        if record.default_address is not None:
            yield record.default_address
        yield from record.addresses
    elif isinstance(record, Order | Cart) and record.customer is not None:
        yield from reference_addresses_of(record.customer)


def reference_region_for(record: Any, *, store_country: str | None = None) -> str | None:
    for address in reference_addresses_of(record):
        code = reference_region(getattr(address, "country_code", None))
        if code:
            return code
    return reference_region(store_country)


def reference_should_subscribe(consent: Consent | bool | None) -> SubscriptionDecision:
    value = consent.value if isinstance(consent, Consent) else consent
    if value is True:
        return SubscriptionDecision(True)
    if value is False:
        return SubscriptionDecision(False, Reason.CONSENT_DECLINED)
    return SubscriptionDecision(False, Reason.CONSENT_UNKNOWN)


_FIRE = TriggerDecision(True)


def reference_trigger_decision(
    record: Order | Cart,
    mode: SyncMode | str,
    *,
    sync_started_at: _dt.datetime | None = None,
    policy: TriggerPolicy = TriggerPolicy(),  # noqa: B008
) -> TriggerDecision:
    mode = SyncMode(mode)
    if mode is SyncMode.REALTIME:
        return _FIRE
    if sync_started_at is None:
        raise ConfigurationError(f"a {mode.value} sync needs sync_started_at to decide triggers")
    started = ensure_aware_utc(sync_started_at, field="sync_started_at")
    threshold = started - policy.window
    if mode is SyncMode.HISTORICAL and not policy.historical_fires:
        reason = Reason.HISTORICAL_CART if isinstance(record, Cart) else Reason.HISTORICAL_DATA
        return TriggerDecision(False, reason)
    if isinstance(record, Cart):
        if mode is SyncMode.HISTORICAL or not policy.incremental_carts_fire:
            return TriggerDecision(False, Reason.HISTORICAL_CART)
        moment = record.last_activity_at
    else:
        moment = record.created_at
    if moment >= threshold:
        return _FIRE
    return TriggerDecision(False, Reason.HISTORICAL_DATA)


# -- comparing complete results ---------------------------------------------------------------


def _contact_shape(contact: Contact | None) -> Any:
    """Everything a contact holds, with the types of its containers."""
    if contact is None:
        return None
    values = attrs.asdict(contact, recurse=False)
    values["sources"] = [
        (attrs.asdict(s, recurse=False), type(s.platform), repr(s.raw)) for s in contact.sources
    ]
    kinds = {name: type(value) for name, value in values.items()}
    return (
        repr(values),
        kinds,
        type(contact.key.kind),
        type(contact.tags),
        type(contact.field_times),
        hash(contact),
    )


def _decision(fn: Any, record: Any, rules: Any) -> Any:
    try:
        made = fn(record, rules)
    except ConfigurationError as exc:
        return ("error", str(exc))
    return ("ok", made, _contact_shape(made.contact), repr(made.consent))


def _same_decision(record: Any, rules: Any) -> Any:
    expected = _decision(reference_prepare_contact, record, rules)
    assert _decision(prepare_contact, record, rules) == expected
    assert _decision(prepare_contact, record, rules) == expected  # plans and tags remembered
    fast = _decision(prepare_contact, record, rules)
    if fast[0] == "ok" and fast[1].contact is not None:
        # Every contact owns its field times: nothing is shared between records.
        again = prepare_contact(record, rules).contact
        assert again is not None
        assert again.field_times is not fast[1].contact.field_times
    return expected


def _consent(fn: Any, record: Any, fields: Any) -> Any:
    try:
        found = fn(record, fields)
    except ConfigurationError as exc:
        return ("error", str(exc))
    return ("ok", found, repr(found), type(found.at))


def _same_consent(record: Any, fields: Any) -> Any:
    expected = _consent(reference_consent_from_fields, record, fields)
    assert _consent(consent_module.consent_from_fields, record, fields) == expected
    assert _consent(consent_module.consent_from_fields, record, fields) == expected
    return expected


# -- strategies -----------------------------------------------------------------------------

_CONSENT_PATHS = [
    "accepts_marketing",
    "customer.accepts_marketing",
    "email",
    "tags",
    "tags[*]",
    "tags[0]",
    "extra.subscriber.consents[*]",
    "extra.subscriber.consents",
    "extra.flag",
    "customer.tags[*]",
    "addresses[*].phone",
    "default_address.country_code",
    "nope",
    "email.nope",
    "accepts_marketing[*]",
    "$.accepts_marketing",
    "$.buyer_accepts_marketing",
    "$.a",
    "$.a[*]",
    "$.a[0]",
    "$.a[*].state",
    "$[*]",
    "$.customer.email_marketing_consent.state",
    "$.preferences.email_unsubscribed",
]
_AT_PATHS = [
    None,
    "$.at",
    "$.a[0]",
    "$.times[*]",
    "updated_at",
    "created_at",
    "extra.subscriber.date_modified",
    "nope",
    "customer.updated_at",
]


class _Loose:
    """A key that claims to equal everything: only a scan may compare it."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


class _Text(str):
    pass


_KEYS = st.sampled_from(
    [
        "subscribed",
        " Subscribed ",
        "SUBSCRIBED",
        "yes",
        "marketing_newsletter",
        "",
        True,
        False,
        1,
        0,
        1.0,
        None,
        Decimal("1"),
        ("bool", True),
        ("bool", 1),
        _Text("yes"),
    ]
)
_MEANINGS = st.sampled_from([True, False, None])


@st.composite
def _fields(draw: st.DrawFn) -> ConsentField:
    path = draw(st.sampled_from(_CONSENT_PATHS))
    at = draw(st.sampled_from(_AT_PATHS))
    how = draw(st.sampled_from(["boolean", "opt_in", "opt_out", "states", "pairs", "loose"]))
    if how == "boolean":
        return ConsentField.boolean(path, at=at)
    if how == "opt_in":
        return ConsentField.opt_in(path, at=at)
    if how == "opt_out":
        return ConsentField.opt_out(path, at=at)
    pairs = draw(st.lists(st.tuples(_KEYS, _MEANINGS), max_size=5))
    if how == "loose":
        pairs.insert(draw(st.integers(0, len(pairs))), (_Loose(), draw(_MEANINGS)))
    if how == "states":
        return ConsentField.states(path, {k: v for k, v in pairs if isinstance(k, str)}, at=at)
    return ConsentField(path, tuple(pairs), at)


_field_lists = st.lists(_fields(), max_size=4).flatmap(
    lambda fields: st.sampled_from([tuple(fields), list(fields)])
)

_values = st.sampled_from(
    [
        None,
        True,
        False,
        1,
        0,
        1.0,
        "yes",
        " SUBSCRIBED ",
        "pending",
        "",
        _Text("yes"),
        ["yes", "subscribed"],
        {"state": "subscribed"},
        "marketing_newsletter",
    ]
)
_times = st.sampled_from(
    [None, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00", "2024-05-01T10:00:00+02:00", "nah", 7,
     " 2024-05-01T10:00:00z ", _Text("2024-05-02T00:00:00Z"), T0]
)  # fmt: skip
_raw = st.fixed_dictionaries(
    {},
    optional={
        "accepts_marketing": _values,
        "buyer_accepts_marketing": _values,
        "a": _values | st.lists(_values | st.fixed_dictionaries({"state": _values}), max_size=3),
        "at": _times,
        "times": st.lists(_times, max_size=3),
        "customer": st.fixed_dictionaries(
            {}, optional={"email_marketing_consent": st.fixed_dictionaries({"state": _values})}
        ),
        "preferences": st.fixed_dictionaries({"email_unsubscribed": _values}),
    },
)
_extra = st.fixed_dictionaries(
    {},
    optional={
        "flag": _values,
        "subscriber": st.fixed_dictionaries(
            {},
            optional={
                "consents": st.none() | st.lists(_values, max_size=3) | _values,
                "date_modified": _times,
            },
        ),
    },
)


@st.composite
def _records(draw: st.DrawFn) -> Any:
    record = draw(cs.records().filter(lambda r: isinstance(r, Customer | Order | Cart)))
    record = attrs.evolve(record, raw=draw(st.none() | _raw), extra=draw(_extra))
    if isinstance(record, Order | Cart) and record.customer is not None and draw(st.booleans()):
        buyer = attrs.evolve(record.customer, raw=draw(st.none() | _raw), extra=draw(_extra))
        record = attrs.evolve(record, customer=buyer)
    return record


@st.composite
def _rules(draw: st.DrawFn) -> RuleSet:
    platform = draw(st.sampled_from(["shopify", "bigcommerce", "square", "tiendanube", "custom"]))
    rules = defaults_for(platform)
    if draw(st.booleans()):
        tags = TagPolicy(
            platform_tags=draw(st.sampled_from([(), ("b-tag",), ("Zed, alpha",)])),
            import_record_tags=draw(st.booleans()),
            extra_tags=draw(st.sampled_from([(), ("x",), ("Noël", "noël", "A")])),
        )
        rules = attrs.evolve(rules, tags=tags)
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["customer", "order", "cart"]))
        rules = rules.with_consent_fields(kind, draw(_field_lists))
    if draw(st.booleans()):
        rules = rules.with_phone_fallback_identity(draw(st.booleans()))
    return rules


# -- consent ----------------------------------------------------------------------------------


@given(record=_records(), fields=_field_lists)
def test_consent_equals_the_reference(record: Any, fields: Any) -> None:
    _same_consent(record, fields)


@given(value=_times | st.text(max_size=30))
def test_consent_times_equal_the_reference(value: Any) -> None:
    assert repr(consent_module._to_datetime(value)) == repr(reference_to_datetime(value))
    assert repr(consent_module._to_datetime(value)) == repr(reference_to_datetime(value))


def test_consent_fields_are_prepared_and_a_planted_difference_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buyer = Customer("shopify", "s1", "1", T0, T0, accepts_marketing=True)
    record = attrs.evolve(
        buyer,
        raw={"a": [None, "pending", " Subscribed "], "at": "2024-05-01T10:00:00Z"},
        extra={"subscriber": {"consents": ["x", "marketing_newsletter"]}},
    )
    fields = (
        ConsentField.states("$.a[*]", {"subscribed": True, "pending": None}, at="$.at"),
        ConsentField.boolean("accepts_marketing"),
    )
    found = _same_consent(record, fields)[1]
    assert found == Consent(True, _dt.datetime(2024, 5, 1, 10, tzinfo=_dt.timezone.utc), "$.a[2]")
    each = (ConsentField.states("extra.subscriber.consents[*]", {"marketing_newsletter": True}),)
    assert _same_consent(record, each)[1].source == "extra.subscriber.consents[1]"
    # The prepared forms are the ones used (the checked way is never asked).
    plan = consent_module._consent_plan(fields)
    assert all(prepared is not None for _, prepared in plan)
    monkeypatch.setattr(consent_module, "_field_consent", _never)
    _same_consent(record, fields)
    _same_consent(record, each)
    monkeypatch.undo()
    # A planted difference in a prepared table is caught.
    monkeypatch.setattr(consent_module, "_PLANS", {})
    real_tables = consent_module._tables

    def swapped(values: Any) -> Any:
        made = real_tables(values)
        return None if made is None else ({k: not v for k, v in made[0].items()}, made[1])

    monkeypatch.setattr(consent_module, "_tables", swapped)
    with pytest.raises(AssertionError):
        _same_consent(record, fields)
    # And one in the walk of a trailing [*] (the wrong element's path).
    monkeypatch.undo()
    monkeypatch.setattr(consent_module, "_PLANS", {})
    real_stamped = consent_module._stamped
    monkeypatch.setattr(
        consent_module,
        "_stamped",
        lambda record, meaning, source, *rest: real_stamped(record, meaning, source + "!", *rest),
    )
    with pytest.raises(AssertionError):
        _same_consent(record, each)


def _never(*args: Any) -> Any:
    raise AssertionError("the checked way was taken")


def test_consent_plans_are_found_by_identity_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consent_module, "_PLANS", {})
    monkeypatch.setattr(consent_module, "_PLANS_LIMIT", 3)
    record = Customer("custom", "c1", "1", T0, T0, accepts_marketing=False)
    tuples = [(ConsentField.boolean("accepts_marketing"),) * n for n in range(1, 9)]
    for fields in tuples:
        assert _same_consent(record, fields)[1].value is False
        assert len(consent_module._PLANS) <= 3
    assert consent_module._PLANS[id(tuples[-1])][0] is tuples[-1]
    # A list may change in place: it is made ready every time, never remembered.
    mutable = [ConsentField.boolean("nope")]
    assert _same_consent(record, mutable)[0] == "error"
    mutable[0] = ConsentField.boolean("accepts_marketing")
    assert _same_consent(record, mutable)[1].value is False
    assert all(entry[0] is not mutable for entry in consent_module._PLANS.values())


def test_tables_refuse_keys_only_a_scan_can_compare() -> None:
    assert consent_module._tables(((_Loose(), True),)) is None
    assert consent_module._tables(((1, True),)) is None
    assert consent_module._tables(((("bool", 1), True),)) is None
    assert consent_module._tables((("a", True), ("a", False), (("bool", True), None))) == (
        {"a": True},
        {True: None},
    )


# -- prepare_contact ----------------------------------------------------------------------------


@given(record=_records(), rules=_rules())
def test_prepare_contact_equals_the_reference(record: Any, rules: Any) -> None:
    _same_decision(record, rules)
    if isinstance(record, Customer | Order | Cart):
        _same_decision(record, None)


def test_prepare_contact_builds_directly_and_a_planted_difference_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert contacts_module._DIRECT
    record = Customer(
        "shopify", "s1", "7", T0, T0, email="Ann@Shop.io", tags=("vip, Alpha", "beta"),
        accepts_marketing=True, first_name=" Ann ",
        default_address=Address(phone="(415) 555-0132", country_code="US"),
    )  # fmt: skip
    rules = defaults_for("shopify").with_extra_tags("Zulu")
    made = _same_decision(record, rules)[1].contact
    assert made.tags == ("Alpha", "beta", "vip", "Zulu")
    # The direct builders are the ones run.
    calls: list[int] = []
    real = contacts_module._BUILD_CONTACT
    monkeypatch.setattr(contacts_module, "_BUILD_CONTACT", lambda *a: calls.append(1) or real(*a))
    prepare_contact(record, rules)
    assert calls == [1]
    # Unsorted tags from the remembered ones: caught.
    monkeypatch.setattr(
        contacts_module, "_prepared_tags", lambda buyer, policy: contact_tags(buyer, policy)
    )
    with pytest.raises(AssertionError):
        _same_decision(record, rules)
    # Two sources where one was given: caught.
    monkeypatch.undo()
    real_source = contacts_module._BUILD_SOURCE

    def two_sources(*a: Any) -> Any:
        source = a[10][0]
        return real(*a[:10], (source, attrs.evolve(source, connection_id="z")), a[11])

    monkeypatch.setattr(contacts_module, "_BUILD_CONTACT", two_sources)
    with pytest.raises(AssertionError):
        _same_decision(record, rules)
    monkeypatch.undo()
    # A raw payload left out of the source: caught.
    monkeypatch.setattr(contacts_module, "_BUILD_SOURCE", lambda *a: real_source(*a[:-1], None))
    with pytest.raises(AssertionError):
        _same_decision(attrs.evolve(record, raw={"id": 7}), rules)
    monkeypatch.undo()
    # Field times shared between contacts: caught.
    shared: dict[str, Any] = {}
    monkeypatch.setattr(contacts_module, "_BUILD_CONTACT", lambda *a: real(*a[:11], shared))
    with pytest.raises(AssertionError):
        _same_decision(record, rules)


def test_the_contact_classes_are_checked_before_building_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _direct.builder(Contact, contacts_module._CONTACT_FIELDS[:-1], converted=True) is None
    assert _direct.builder(Contact, contacts_module._CONTACT_FIELDS) is None  # converters
    assert _direct.builder(SourceRef, contacts_module._CONTACT_FIELDS, converted=True) is None
    # Without the direct build, the constructors serve the same decision.
    monkeypatch.setattr(contacts_module, "_DIRECT", False)
    record = Customer("bigcommerce", "b1", "7", T0, T0, email="a@b.co")
    _same_decision(record, defaults_for("bigcommerce"))


# -- building frozen results slot by slot ---------------------------------------------------


@attrs.frozen
class _Pair:
    a: Any
    b: Any = None


@attrs.frozen
class _Checked:
    a: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen
class _Converted:
    a: str = attrs.field(converter=str)


@attrs.frozen
class _Hooked:
    a: Any

    def __attrs_post_init__(self) -> None:
        pass


@attrs.define(frozen=True, slots=False)
class _Unslotted:
    a: Any


@attrs.frozen(cache_hash=True)
class _Cached:
    a: Any


def test_builders_refuse_what_they_cannot_make_plainly() -> None:
    assert _direct.builder(_Pair, ("a", "b")) is not None
    assert _direct.builder(_Pair, ("b", "a")) is None
    assert _direct.builder(_Checked, ("a",)) is None
    assert _direct.builder(_Checked, ("a",), converted=True) is None
    assert _direct.builder(_Converted, ("a",)) is None
    assert _direct.builder(_Converted, ("a",), converted=True) is not None
    assert _direct.builder(_Hooked, ("a",)) is None
    assert _direct.builder(_Unslotted, ("a",)) is None
    assert _direct.builder(_Cached, ("a",)) is None
    assert _direct.builder(int, ("a",)) is None


_anything = st.none() | st.booleans() | st.text(max_size=3) | st.integers() | cs.aware_datetimes()


@given(values=st.lists(_anything, min_size=6, max_size=6))
def test_builders_make_what_the_constructors_make(values: list[Any]) -> None:
    made = [
        (Consent, ("value", "at", "source")),
        (ContactDecision, ("contact", "reason", "email", "phone", "consent")),
        (phone_module.PhoneResult, ("value", "reason", "source", "original", "region", "skipped")),
        (phone_module.PhoneAttempt, ("path", "original", "reason", "region")),
        (_Pair, ("a", "b")),
    ]
    for cls, names in made:
        build = _direct.builder(cls, names)
        assert build is not None
        args = values[: len(names)]
        built, constructed = build(*args), cls(*args)
        assert built == constructed
        assert repr(built) == repr(constructed)
        assert type(built) is cls
        assert hash(built) == hash(constructed) if _hashable(args) else True
    key = _direct.builder(ContactKey, ("kind", "value"), converted=True)
    assert key is not None
    for kind in IdentityKind:
        assert repr(key(kind, "v")) == repr(ContactKey(kind, "v"))


def test_a_planted_difference_in_a_builder_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the check of the field names' order, values would land in the wrong slots.
    monkeypatch.setattr(_direct, "_plain", lambda cls, names, converted: True)
    swapped = _direct.builder(_Pair, ("b", "a"))
    assert swapped is not None
    assert swapped(1, 2) != _Pair(1, 2)


def _hashable(values: list[Any]) -> bool:
    try:
        hash(tuple(values))
    except TypeError:
        return False
    return True


def test_tags_are_remembered_per_policy_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contacts_module, "_TAGS", {})
    monkeypatch.setattr(contacts_module, "_TAGS_LIMIT", 2)
    monkeypatch.setattr(contacts_module, "_OWN_LIMIT", 2)
    policies = [TagPolicy(import_record_tags=True, extra_tags=(f"t{n}",)) for n in range(5)]
    for n in range(12):
        policy = policies[n % 5]
        buyer = Customer("custom", "c", "1", T0, T0, tags=(f"b{n % 3}, A", "a"))
        got = contacts_module._prepared_tags(buyer, policy)
        assert got == contacts_module._sorted_tags(contact_tags(buyer, policy))
        assert len(contacts_module._TAGS) <= 2
        assert all(len(entry[2]) <= 2 for entry in contacts_module._TAGS.values())
    assert contacts_module._prepared_tags(None, policies[0]) == ("t0",)


# -- official examples, mutated -----------------------------------------------------------------


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
STARTED = _dt.datetime(2025, 6, 2, tzinfo=_dt.timezone.utc)


def _everything(record: Any) -> None:
    if not isinstance(record, Customer | Order | Cart):
        return
    rules = defaults_for(record.platform)
    _same_decision(record, rules)
    _same_consent(record, rules.consent_fields(record))
    for country in (None, "ES"):
        assert phone_module.region_for(record, store_country=country) == reference_region_for(
            record, store_country=country
        )
    if isinstance(record, Order | Cart):
        for mode in SyncMode:
            for policy in (rules.triggers, TriggerPolicy(historical_fires=False)):
                assert trigger_decision(
                    record, mode, sync_started_at=STARTED, policy=policy
                ) == reference_trigger_decision(
                    record, mode, sync_started_at=STARTED, policy=policy
                )


def test_every_official_example_gives_the_same_contact() -> None:
    assert CASES
    for seeds, parse in CASES.values():
        for seed in seeds:
            _everything(parse(copy.deepcopy(seed)))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_mutated_official_examples_give_the_same_contact(name: str, data: st.DataObject) -> None:
    seeds, parse = CASES[name]
    bundle = data.draw(st.sampled_from(seeds).flatmap(lambda seed: mutated(seed, KEYS)))
    try:
        record = parse(bundle)
    except InvalidRecordError:
        return
    _everything(record)


# -- regions, triggers, subscriptions, keys ------------------------------------------------


class _NotACustomer:
    default_address = Address(country_code="FR")
    addresses = ()


_codes = st.sampled_from(["us", " ES ", "xx", "", "Fr", "GB ", 3, None, b"US", "ÜS"]) | st.text(
    max_size=3
)


@given(record=_records(), country=_codes, code=_codes)
def test_regions_equal_the_reference(record: Any, country: Any, code: Any) -> None:
    assert phone_module._region(code) == reference_region(code)
    assert phone_module._region(code) == reference_region(code)  # remembered
    if isinstance(country, str) or country is None:
        assert phone_module.region_for(record, store_country=country) == reference_region_for(
            record, store_country=country
        )
    # A buyer that is not a Customer goes the reference's way.
    if isinstance(record, Order | Cart):
        odd = attrs.evolve(record)
        object.__setattr__(odd, "customer", _NotACustomer())
        assert phone_module.region_for(odd) == reference_region_for(odd)


def test_regions_are_bounded_and_a_planted_difference_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(phone_module, "_REGIONS", {})
    monkeypatch.setattr(phone_module, "_REGIONS_LIMIT", 3)
    for code in ["us", "es", "fr", "gb", "de", "us "]:
        assert phone_module._region(code) == reference_region(code)
        assert len(phone_module._REGIONS) <= 3
    buyer = Customer(
        "custom", "c", "1", T0, T0,
        addresses=[Address(country_code="zz"), Address(country_code="es")],
    )  # fmt: skip
    assert phone_module.region_for(buyer) == reference_region_for(buyer) == "ES"
    monkeypatch.setitem(phone_module._REGIONS, "ES", "PT")
    assert phone_module.region_for(buyer) != reference_region_for(buyer)


@given(
    record=st.one_of(cs.orders(), cs.carts()),
    mode=st.sampled_from([*SyncMode, "historical", "incremental", "realtime"]),
    fires=st.booleans(),
    carts=st.booleans(),
    started=cs.aware_datetimes(),
)
def test_triggers_equal_the_reference(
    record: Any, mode: Any, fires: bool, carts: bool, started: Any
) -> None:
    policy = TriggerPolicy(historical_fires=fires, incremental_carts_fire=carts)
    got = trigger_decision(record, mode, sync_started_at=started, policy=policy)
    assert got == reference_trigger_decision(record, mode, sync_started_at=started, policy=policy)
    assert repr(got) == repr(
        reference_trigger_decision(record, mode, sync_started_at=started, policy=policy)
    )


def test_trigger_errors_and_shared_answers() -> None:
    order = Order(
        "shopify", "s", "1", T0, T0, status="paid", raw_status="paid",
        total=Money("1", "USD"),
    )  # fmt: skip
    for fn in (trigger_decision, reference_trigger_decision):
        with pytest.raises(ConfigurationError, match="needs sync_started_at"):
            fn(order, "historical")
        with pytest.raises(ValueError, match="nope"):
            fn(order, "nope", sync_started_at=T0)
    off = TriggerPolicy(historical_fires=False)
    first = trigger_decision(order, SyncMode.HISTORICAL, sync_started_at=T0, policy=off)
    assert first == TriggerDecision(False, Reason.HISTORICAL_DATA)
    assert trigger_decision(order, "historical", sync_started_at=T0, policy=off) is first


@given(value=st.sampled_from([True, False, None, Consent(True), Consent(False), Consent(None)]))
def test_subscriptions_equal_the_reference(value: Any) -> None:
    assert should_subscribe(value) == reference_should_subscribe(value)
    assert repr(should_subscribe(value)) == repr(reference_should_subscribe(value))


@given(kind=st.sampled_from([*IdentityKind, "email", "phone"]), value=st.text(max_size=5))
def test_keys_and_sources_convert_as_before(kind: Any, value: str) -> None:
    key = ContactKey(kind, value)
    assert type(key.kind) is IdentityKind
    assert key.kind == IdentityKind(kind)
    platform = "shopify" if kind == "email" else Platform.SQUARE
    ref = SourceRef(platform, "c", None, T0)
    assert type(ref.platform) is Platform
    with pytest.raises(ValueError, match="fax"):
        ContactKey("fax", value)
    with pytest.raises(ValueError, match="nope"):
        SourceRef("nope", "c", None, T0)
