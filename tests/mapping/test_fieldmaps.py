"""Field maps: default maps from the seeds' tables, user changes, aggregated errors."""

from __future__ import annotations

import datetime as dt
import doctest
import importlib
import pkgutil
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import commerce_connectors.mapping as mapping
from commerce_connectors.errors import ConfigurationError, InvalidRecordError, MappingError
from commerce_connectors.mapping import (
    CART_MAP,
    CONTACT_MAP,
    LINE_MAP,
    ORDER_MAP,
    PAYMENT_MAP,
    PRODUCT_MAP,
    FieldMap,
    FieldPath,
    FieldSpec,
    default_map,
)
from commerce_connectors.models import Customer, LineItem, Money, Order
from commerce_connectors.rules import prepare_contact
from commerce_connectors.testing import strategies as cs

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 10, 4, 12, tzinfo=UTC)


def _order(**kw: Any) -> Order:
    base: dict[str, Any] = {
        "platform": "shopify",
        "connection_id": "shopify:acme",
        "external_id": "450789469",
        "created_at": T0,
        "updated_at": T0,
        "status": "paid",
        "raw_status": "paid",
        "total": Money("598.94", "USD"),
    }
    base.update(kw)
    return Order(**base)


# ---------------------------------------------------------------- the seeds' tables


def test_default_contact_map_reproduces_the_seed_contact_table() -> None:
    # Prénom, Nom, E-mail, Téléphone, Compagnie → Compte
    assert CONTACT_MAP.targets[:5] == ("firstName", "lastName", "email", "phone", "account")
    assert str(CONTACT_MAP.spec("account").source) == "company"


def test_default_order_map_reproduces_the_seed_order_table() -> None:
    order = _order(
        order_number="#1001",
        order_url="https://acme.myshopify.com/admin/orders/450789469",
        shipping_method="UPS Ground",
        discount_codes=("TENOFF",),
        discount_total=Money("10.00", "USD"),
        store_name="Acme",
        lines=[
            LineItem(
                name="IPod Nano - 8gb",
                quantity=2,
                unit_price=Money("199.00", "USD"),
                product_id="632910392",
                sku="IPOD2008PINK",
                category="Cult Products",
                description="It's the small iPod",
                image_url="https://cdn.example.com/ipod.png",
            )
        ],
    )
    mapped = ORDER_MAP.apply(order)
    assert mapped.external_id == "450789469"
    f = mapped.fields
    assert (f["orderNumber"], f["totalPrice"], f["currency"]) == ("#1001", 59894, "USD")
    assert f["externalCreatedDate"] == "2024-10-04T12:00:00+00:00"
    assert f["orderUrl"].endswith("/450789469")
    assert (f["shippingMethod"], f["discountCode"], f["discountAmount"]) == (
        "UPS Ground",
        "TENOFF",
        1000,
    )
    assert f["status"] == "paid"
    assert f["orderProducts"] == [
        {
            "externalid": "632910392",
            "name": "IPod Nano - 8gb",
            "category": "Cult Products",
            "sku": "IPOD2008PINK",
            "quantity": 2,
            "price": 19900,
            "description": "It's the small iPod",
            "imageUrl": "https://cdn.example.com/ipod.png",
        }
    ]


def test_default_line_map_lists_the_seed_line_fields() -> None:
    assert set(LINE_MAP.targets) == {
        "externalid",
        "name",
        "category",
        "sku",
        "quantity",
        "price",
        "description",
        "imageUrl",
    }


def test_weighed_quantities_are_kept_exactly() -> None:
    line = LineItem(name="Cheese", quantity=Decimal("0.250"), unit_price=Money("20", "EUR"))
    assert LINE_MAP.apply(line).fields["quantity"] == "0.250"
    assert LINE_MAP.apply(attrs.evolve(line, quantity=Decimal("3"))).fields["quantity"] == 3


def test_default_maps_by_kind() -> None:
    assert default_map("customer") is CONTACT_MAP
    assert default_map("payment") is PAYMENT_MAP
    with pytest.raises(ConfigurationError):
        default_map("refund")


# ---------------------------------------------------------------- user changes


def test_users_rename_drop_and_add_custom_fields_from_canonical_or_raw_paths() -> None:
    order = _order(raw={"note_attributes": [{"name": "gift", "value": "yes"}]})
    m = (
        ORDER_MAP.rename("orderNumber", "number")
        .drop("orderProducts", "storeName")
        .add("gift", "$.note_attributes[0].value")
        .add("buyerCity", "customer.default_address.city")
        .replace("currency", "total.currency", transform=str.lower)
    )
    fields = m.apply(order).fields
    assert "orderNumber" not in fields
    assert "number" in fields
    assert "orderProducts" not in fields
    assert (fields["gift"], fields["buyerCity"], fields["currency"]) == ("yes", None, "usd")


def test_map_changes_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        ORDER_MAP.rename("nope", "x")
    with pytest.raises(ConfigurationError):
        ORDER_MAP.add("email", "email")
    with pytest.raises(ConfigurationError):
        ORDER_MAP.drop("nope")
    with pytest.raises(ConfigurationError):
        FieldSpec("x", "a..b")
    with pytest.raises(ConfigurationError):
        FieldSpec("x", "a", transform="no_such_transform")
    with pytest.raises(ConfigurationError):
        FieldMap.from_dict({"fields": {"x": {"transform": "text"}}})


def test_external_id_source_is_a_choice() -> None:
    customer = Customer(
        "square",
        "square:M:L",
        "JDKYHBWT1D4F8MFH63DBMEN8Y4",
        T0,
        T0,
        email="a@x.io",
        raw={"reference_id": 42},
    )
    assert CONTACT_MAP.apply(customer).external_id == "JDKYHBWT1D4F8MFH63DBMEN8Y4"
    assert CONTACT_MAP.with_external_id("$.reference_id").apply(customer).external_id == "42"
    with pytest.raises(MappingError) as info:
        PRODUCT_MAP.with_external_id("$.handle").apply(attrs.evolve(customer, raw={}))
    assert next(p.path for p in info.value.problems) == "$.handle"


def test_declarative_maps_from_plain_data() -> None:
    m = FieldMap.from_dict(
        {
            "kind": "order",
            "fields": {
                "n": "order_number",
                "items": {"source": "lines", "each": {"fields": {"sku": "sku"}}},
                "cents": {"source": "total", "transform": "minor_units", "required": True},
            },
        }
    )
    line = LineItem(name="x", quantity=1, unit_price=Money("1", "USD"), sku="S1")
    fields = m.apply(_order(order_number="7", lines=[line])).fields
    assert fields == {"n": "7", "items": [{"sku": "S1"}], "cents": 59894}


def test_wildcard_paths_give_lists() -> None:
    lines = [LineItem(name=n, quantity=1, unit_price=Money("1", "USD")) for n in "ab"]
    m = FieldMap("order", [FieldSpec("names", "lines[*].name")])
    assert m.apply(_order(lines=lines)).fields == {"names": ["a", "b"]}
    assert str(FieldPath.parse("$.a[*].b")) == "$.a[*].b"


# ---------------------------------------------------------------- aggregated errors


def test_mapping_errors_list_every_bad_field_with_its_path() -> None:
    bad_line = LineItem(name="gold", quantity=1, unit_price=Money("1", "XAU"))
    order = _order(total=Money("1", "XAU"), lines=[bad_line, bad_line], raw={})
    m = ORDER_MAP.add("giftNote", "$.note", required=True).add("typo", "shiping_method")
    with pytest.raises(MappingError) as info:
        m.apply(order)
    error = info.value
    assert isinstance(error, InvalidRecordError)
    paths = [p.path for p in error.problems]
    assert paths == [
        "total",
        "lines[0].unit_price",
        "lines[1].unit_price",
        "$.note",
        "shiping_method",
    ]
    assert error.kind == "order"
    assert error.record_id == "450789469"
    assert "totalPrice" in str(error.problems[0])
    assert m.check(order) == error.problems


# ---------------------------------------------------------------- properties

_POOL = ["external_id", "email", "name", "total", "price", "amount", "phone", "sku", "nope"]


def _boom(value: Any) -> Any:
    raise ValueError("boom")


_TRANSFORMS: dict[str, Any] = {"none": None, "boom": _boom, "same": lambda v: v}


@given(
    record=cs.records(),
    picks=st.lists(
        st.tuples(
            st.sampled_from([*_POOL, "$.raw_only"]),
            st.sampled_from(sorted(_TRANSFORMS)),
            st.booleans(),
        ),
        max_size=8,
        unique_by=lambda t: t[0],
    ),
)
def test_a_field_map_applied_to_any_generated_record_either_succeeds_or_reports_every_bad_field(
    record: Any, picks: list[tuple[str, str, bool]]
) -> None:
    specs = [
        FieldSpec(f"f_{n}", path, _TRANSFORMS[t], req) for n, (path, t, req) in enumerate(picks)
    ]
    fmap = FieldMap("any", specs)
    names = {a.name for a in attrs.fields(type(record))}
    expected = set()
    for path, t, required in picks:
        if path.startswith("$."):
            value = None  # generated records carry no raw payload
        elif path not in names:
            expected.add(path)
            continue
        else:
            value = getattr(record, path)
        if (t == "boom" and value is not None) or (required and value is None):
            expected.add(path)
    if expected:
        with pytest.raises(MappingError) as info:
            fmap.apply(record)
        assert {p.path for p in info.value.problems} == expected
        assert len(info.value.problems) == len(expected)
    else:
        mapped = fmap.apply(record)
        assert list(mapped.fields) == [s.target for s in specs]


@given(st.one_of(cs.orders(), cs.carts(), cs.products(), cs.payments()))
def test_default_maps_map_every_generated_record(record: Any) -> None:
    kind = type(record).__name__.lower()
    mapped = default_map(kind).apply(record)
    assert mapped.external_id == record.external_id


@given(cs.customers())
def test_default_contact_map_maps_every_contact_the_rules_produce(customer: Customer) -> None:
    contact = prepare_contact(customer).contact
    if contact is not None:
        fields = CONTACT_MAP.apply(contact).fields
        assert fields["email"] == contact.email
        assert fields["acceptsMarketing"] in ("1", "0", None)


def test_cart_map_uses_the_last_activity_as_abandoned_date() -> None:
    from commerce_connectors.models import Cart

    cart = Cart("tiendanube", "tn:1", "411335234", T0, T0, total=Money("291.35", "BRL"))
    assert CART_MAP.apply(cart).fields["abandonedDate"] == T0.isoformat()


_MODULES = [mapping.__name__] + [
    f"{mapping.__name__}.{m.name}" for m in pkgutil.iter_modules(mapping.__path__)
]


@pytest.mark.parametrize("name", _MODULES)
def test_mapping_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_order_and_cart_emails_reach_crm_fields_normalised_or_not_at_all() -> None:
    import datetime as dt

    from commerce_connectors.mapping import CART_MAP, ORDER_MAP
    from commerce_connectors.models import Cart, Money, Order

    t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    cart = Cart("tiendanube", "tn:1", "c1", t, t, total=Money("5", "BRL"), email="x@@example.net")
    order = Order("shopify", "s:1", "1", t, t, status="paid", raw_status="paid",
                  total=Money("5", "USD"), email=" Ana@Example.COM ")  # fmt: skip
    assert CART_MAP.apply(cart).fields["email"] is None
    assert ORDER_MAP.apply(order).fields["email"] == "ana@example.com"
