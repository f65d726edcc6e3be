"""Identity and dedup: records by (connection, kind, id); contacts merged per identity."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from _builders import T0, customer, order
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.models import Cart, Order, Platform, Product
from commerce_connectors.rules import (
    ConnectionIdentity,
    Contact,
    ContactKey,
    IdentityKind,
    IdentityPolicy,
    Reason,
    RecordAction,
    RecordKey,
    SourceRef,
    contact_key,
    dedup_records,
    merge_contacts,
    prepare_contact,
    record_key,
    should_replace,
)
from commerce_connectors.testing import strategies as cs

_TIMES = [T0 + dt.timedelta(hours=h) for h in range(3)]


def _collide(record: Order | Product | Cart, data: st.DataObject) -> Order | Product | Cart:
    # Squeeze ids and timestamps into tiny sets so collisions and exact ties happen.
    return attrs.evolve(
        record,
        connection_id=data.draw(st.sampled_from(["shop-a", "shop-b"])),
        external_id=data.draw(st.sampled_from(["1", "2"])),
        updated_at=data.draw(st.sampled_from(_TIMES)),
        created_at=T0 - dt.timedelta(days=1),
    )


_records = st.one_of(cs.products(), cs.carts(), cs.orders())


# Generating full orders is the slow part; 60 examples still cover ties and collisions.
@settings(max_examples=60)
@given(st.data())
def test_dedup_is_idempotent_and_independent_of_order_and_duplication(data: st.DataObject) -> None:
    raw = data.draw(st.lists(_records, max_size=6))
    records = [_collide(r, data) for r in raw]
    shuffled = data.draw(st.permutations(records))
    duplicated = data.draw(st.permutations(records + records[: len(records) // 2]))

    once = dedup_records(records).records
    assert dedup_records(shuffled).records == once
    assert dedup_records(duplicated).records == once
    again = dedup_records(records, existing=once)
    assert again.records == once
    assert all(o.action in (RecordAction.UNCHANGED, RecordAction.SKIPPED) for o in again.outcomes)
    # one record per key, and it is a newest one for that key
    for key, kept in once.items():
        same = [r for r in records if record_key(r) == key]
        assert kept.updated_at == max(r.updated_at for r in same)


def test_a_re_seen_record_replaces_the_stored_one_only_if_at_least_as_new() -> None:
    old = order(updated_at=T0, order_number="old")
    new = order(updated_at=T0 + dt.timedelta(minutes=1), order_number="new")
    result = dedup_records([new, old])
    assert [r.order_number for r in result.records.values()] == ["new"]
    assert result.outcomes[1].reason is Reason.STALE_RECORD
    assert should_replace(old, new)
    assert not should_replace(new, old)
    assert should_replace(None, old)
    assert should_replace(new, new)


def test_records_of_different_connections_or_kinds_never_collide() -> None:
    a = order(connection_id="shopify:a", external_id="1")
    b = order(connection_id="shopify:b", external_id="1")
    assert len(dedup_records([a, b]).records) == 2
    assert record_key(a) == RecordKey("shopify:a", "order", "1")


def test_connection_identity_is_platform_and_store_plus_square_location() -> None:
    assert ConnectionIdentity("shopify", "acme.myshopify.com").key == "shopify:acme.myshopify.com"
    assert (
        ConnectionIdentity("square", "M1", "L1").key != ConnectionIdentity("square", "M1", "L2").key
    )
    with pytest.raises(ConfigurationError, match="location"):
        ConnectionIdentity("square", "M1")
    with pytest.raises(ConfigurationError):
        ConnectionIdentity("bigcommerce", "abc", "L1")
    with pytest.raises(ConfigurationError):
        ConnectionIdentity("shopify", " ")


def test_contact_identity_is_the_email_and_optionally_the_phone() -> None:
    assert contact_key("A@B.io") == ContactKey(IdentityKind.EMAIL, "a@b.io")
    assert contact_key("bad", "+34911234567") is None
    phone_ok = IdentityPolicy(phone_fallback=True)
    assert contact_key(None, "+34911234567", policy=phone_ok) == ContactKey("phone", "+34911234567")
    assert contact_key(None, "911234567", policy=phone_ok) is None
    both = contact_key("a@b.io", "+34911234567", policy=phone_ok)
    assert both is not None
    assert both.kind is IdentityKind.EMAIL


def test_a_record_with_no_usable_identity_is_skipped_with_a_reason() -> None:
    decision = prepare_contact(customer(email="nope", phone="+16136120707"))
    assert decision.contact is None
    assert decision.reason is Reason.NO_IDENTITY
    assert Reason.EMAIL_INVALID in decision.notes


# ---------------------------------------------------------------- contact merge

_KEYS = [ContactKey("email", "a@x.io"), ContactKey("email", "b@x.io")]
_name = st.none() | st.sampled_from(["Ann", "Bob", "Zoé"])


@st.composite
def _contacts(draw: st.DrawFn) -> Contact:
    updated = draw(st.sampled_from(_TIMES))
    consent = draw(st.none() | st.booleans())
    return Contact(
        key=draw(st.sampled_from(_KEYS)),
        updated_at=updated,
        phone=draw(st.none() | st.sampled_from(["+16136120707", "+34911234567"])),
        first_name=draw(_name),
        last_name=draw(_name),
        company=draw(st.none() | st.just("Acme")),
        tags=draw(st.lists(st.sampled_from(["vip", "Léon", "eu"]), max_size=2)),
        accepts_marketing=consent,
        consent_at=None if consent is None else draw(st.sampled_from(_TIMES)),
        sources=[
            SourceRef(
                draw(st.sampled_from(["shopify", "square"])),
                draw(st.sampled_from(["c1", "c2"])),
                draw(st.none() | st.sampled_from(["10", "11"])),
                updated,
            )
        ],
    )


@given(st.lists(_contacts(), max_size=8), st.data())
def test_contact_merge_is_idempotent_and_independent_of_order_and_duplication(
    contacts: list[Contact], data: st.DataObject
) -> None:
    merged = merge_contacts(contacts)
    assert merge_contacts(data.draw(st.permutations(contacts))) == merged
    assert merge_contacts(contacts + contacts) == merged
    assert merge_contacts(list(merged.values())) == merged
    assert merge_contacts([*merged.values(), *contacts]) == merged
    cut = data.draw(st.integers(0, len(contacts)))
    halves = [*merge_contacts(contacts[:cut]).values(), *merge_contacts(contacts[cut:]).values()]
    assert merge_contacts(halves) == merged


@given(st.lists(_contacts(), min_size=1, max_size=8))
def test_contact_merge_keeps_known_values_unions_tags_and_takes_latest_consent(
    contacts: list[Contact],
) -> None:
    for key, m in merge_contacts(contacts).items():
        group = [c for c in contacts if c.key == key]
        assert m.updated_at == max(c.updated_at for c in group)
        assert set(m.tags) == {t for c in group for t in c.tags}
        for name in ("first_name", "last_name", "phone", "company"):
            known = [c for c in group if getattr(c, name) is not None]
            if not known:
                assert getattr(m, name) is None
                continue
            newest = max(c.updated_at for c in known)
            assert getattr(m, name) in {getattr(c, name) for c in known if c.updated_at == newest}
        explicit = [c for c in group if c.accepts_marketing is not None]
        if explicit:
            latest = max(c.consent_at for c in explicit if c.consent_at)
            latest_values = {c.accepts_marketing for c in explicit if c.consent_at == latest}
            expected = False not in latest_values
            assert m.accepts_marketing is expected
        else:
            assert m.accepts_marketing is None
        assert len({s.connection_id for s in m.sources}) == len(m.sources)


def test_newest_scalar_wins_but_an_empty_value_never_overwrites_a_known_one() -> None:
    key = _KEYS[0]
    old = Contact(key, _TIMES[0], first_name="Ann", last_name="Old", company="Acme")
    new = Contact(key, _TIMES[1], first_name=None, last_name="New")
    m = merge_contacts([old, new])[key]
    assert (m.first_name, m.last_name, m.company) == ("Ann", "New", "Acme")
    assert m.time_of("first_name") == _TIMES[0]
    newer = Contact(key, _TIMES[2] - dt.timedelta(minutes=30), first_name="Anna")
    assert merge_contacts([m, newer])[key].first_name == "Anna"


def test_each_connection_keeps_its_own_external_id() -> None:
    key = _KEYS[0]
    a = Contact(key, _TIMES[0], sources=[SourceRef("square", "sq:M:L1", "C1", _TIMES[0])])
    b = Contact(key, _TIMES[1], sources=[SourceRef("square", "sq:M:L2", "C9", _TIMES[1])])
    m = merge_contacts([a, b])[key]
    assert m.external_id_for("sq:M:L1") == "C1"
    assert m.external_id_for("sq:M:L2") == "C9"
    assert (m.connection_id, m.external_id, m.platform) == ("sq:M:L2", "C9", Platform.SQUARE)


def test_on_a_consent_tie_the_refusal_wins() -> None:
    key = _KEYS[0]
    yes = Contact(key, _TIMES[0], accepts_marketing=True, consent_at=_TIMES[0])
    no = Contact(key, _TIMES[0], accepts_marketing=False, consent_at=_TIMES[0])
    assert merge_contacts([yes, no])[key].accepts_marketing is False
