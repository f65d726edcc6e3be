"""Hypothesis strategies for the canonical model, for this library's tests and yours.

Every strategy builds valid records (the models' validators accept them), with
the awkward values real shops produce: non-ASCII names, missing fields,
every ISO 4217 currency, datetimes in any timezone.

Example:
    >>> from hypothesis import given
    >>> from commerce_connectors.testing import strategies as cs
    >>> @given(cs.orders())
    ... def test_orders_have_a_total(order):
    ...     assert order.total.currency
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import strategies as st

from ..models import (
    _EXPONENTS,
    Address,
    Cart,
    Customer,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Payment,
    Platform,
    Product,
    ProductVariant,
)

__all__ = [
    "addresses",
    "aware_datetimes",
    "carts",
    "currencies",
    "customers",
    "emails",
    "line_items",
    "money",
    "orders",
    "payments",
    "phones",
    "products",
    "records",
]

_UTC = _dt.timezone.utc
_T = TypeVar("_T")


def _as_tuple(items: list[_T]) -> tuple[_T, ...]:
    return tuple(items)


def currencies(*, with_minor_units: bool = True) -> st.SearchStrategy[str]:
    """Every ISO 4217 code the model knows (only those with a minor unit by default)."""
    codes = sorted(c for c, e in _EXPONENTS.items() if e is not None or not with_minor_units)
    return st.sampled_from(codes)


def aware_datetimes(
    *,
    min_value: _dt.datetime = _dt.datetime(2000, 1, 1),
    max_value: _dt.datetime = _dt.datetime(2035, 1, 1),
) -> st.SearchStrategy[_dt.datetime]:
    """Timezone-aware datetimes in UTC or a fixed offset between -12h and +14h."""
    offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
        lambda m: _dt.timezone(_dt.timedelta(minutes=m))
    )
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=st.just(_UTC) | offsets)


def money(currency: str | None = None, *, max_units: int = 10**9) -> st.SearchStrategy[Money]:
    """Money exactly representable in its currency's minor unit."""
    cur = st.just(currency) if currency else currencies()

    def build(code: str) -> st.SearchStrategy[Money]:
        return st.integers(min_value=-max_units, max_value=max_units).map(
            lambda units: Money.from_minor_units(units, code)
        )

    return cur.flatmap(build)


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
_opt_text = st.none() | _text
_ids = st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True)


def emails() -> st.SearchStrategy[str]:
    """Email-ish strings as shops store them: valid, mixed case, padded, or invalid."""
    local = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._+-]{0,15}", fullmatch=True)
    domain = st.from_regex(r"[a-zA-Z0-9-]{1,12}\.[a-zA-Z]{2,6}", fullmatch=True)
    valid = st.builds(lambda a, b: f"{a}@{b}", local, domain)
    padded = st.builds(lambda e: f"  {e.upper()} ", valid)
    invalid = st.sampled_from(["", "not-an-email", "a@", "@b.com", "a b@c.com", "x@y"])
    return st.one_of(valid, padded, invalid)


def phones() -> st.SearchStrategy[str]:
    """Phone strings in the shapes shops hold: E.164, national, spaced, junk."""
    e164 = st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True)
    national = st.from_regex(r"0[1-9][0-9 ()-]{6,12}", fullmatch=True)
    junk = st.sampled_from(["", "n/a", "000", "12", "call me"])
    return st.one_of(e164, national, junk)


def addresses() -> st.SearchStrategy[Address]:
    """Addresses with any subset of fields set."""
    return st.builds(
        Address,
        first_name=_opt_text,
        last_name=_opt_text,
        company=_opt_text,
        phone=st.none() | phones(),
        line1=_opt_text,
        line2=_opt_text,
        city=_opt_text,
        province=_opt_text,
        postal_code=st.none() | st.from_regex(r"[A-Z0-9 -]{3,10}", fullmatch=True),
        country_code=st.none()
        | st.sampled_from(
            ["US", "CA", "GB", "FR", "DE", "ES", "AR", "BR", "MX", "JP", "KW", "AU", "CL"]
        ),
    )


def _times() -> st.SearchStrategy[tuple[_dt.datetime, _dt.datetime]]:
    return st.tuples(
        aware_datetimes(),
        st.timedeltas(min_value=_dt.timedelta(0), max_value=_dt.timedelta(days=400)),
    ).map(lambda t: (t[0], t[0] + t[1]))


def _origin(platform: Platform | None, connection_id: str | None) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "platform": st.just(platform) if platform else st.sampled_from(list(Platform)),
            "connection_id": st.just(connection_id) if connection_id else _ids,
            "external_id": _ids,
            "times": _times(),
        }
    )


def customers(
    *, platform: Platform | None = None, connection_id: str | None = None
) -> st.SearchStrategy[Customer]:
    """Customers (registered or guest) with any mix of known and missing fields."""

    def build(o: dict[str, Any], d: dict[str, Any]) -> Customer:
        created, updated = o["times"]
        return Customer(
            platform=o["platform"],
            connection_id=o["connection_id"],
            external_id=o["external_id"],
            created_at=created,
            updated_at=updated,
            **d,
        )

    details = st.fixed_dictionaries(
        {
            "email": st.none() | emails(),
            "first_name": _opt_text,
            "last_name": _opt_text,
            "phone": st.none() | phones(),
            "company": _opt_text,
            "tags": st.lists(_text, max_size=4).map(_as_tuple),
            "accepts_marketing": st.none() | st.booleans(),
            "default_address": st.none() | addresses(),
            "is_guest": st.booleans(),
        }
    )
    return st.builds(build, _origin(platform, connection_id), details)


def line_items(currency: str | None = None) -> st.SearchStrategy[LineItem]:
    """Order or cart lines; quantities are ints or (for weighed goods) Decimals."""
    quantity = st.integers(min_value=0, max_value=1000) | st.decimals(
        min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3
    )
    return st.builds(
        LineItem,
        name=_opt_text,
        quantity=quantity,
        unit_price=money(currency, max_units=10**7),
        product_id=st.none() | _ids,
        variant_id=st.none() | _ids,
        sku=st.none() | _ids,
        category=_opt_text,
        description=_opt_text,
        image_url=st.none() | st.just("https://cdn.example.com/i.png"),
        external_id=st.none() | _ids,
    )


def orders(
    *, platform: Platform | None = None, connection_id: str | None = None
) -> st.SearchStrategy[Order]:
    """Orders of every status with lines in the order's currency."""

    def build(o: dict[str, Any], currency: str, data: st.DataObject) -> Order:
        created, updated = o["times"]
        return Order(
            platform=o["platform"],
            connection_id=o["connection_id"],
            external_id=o["external_id"],
            created_at=created,
            updated_at=updated,
            status=data.draw(st.sampled_from(list(OrderStatus))),
            raw_status=data.draw(_opt_text),
            total=data.draw(money(currency)),
            order_number=data.draw(st.none() | _ids),
            email=data.draw(st.none() | emails()),
            customer_external_id=data.draw(st.none() | _ids),
            customer=data.draw(
                st.none() | customers(platform=o["platform"], connection_id=o["connection_id"])
            ),
            discount_total=data.draw(st.none() | money(currency)),
            discount_codes=data.draw(st.lists(_text, max_size=3).map(_as_tuple)),
            shipping_method=data.draw(_opt_text),
            order_url=data.draw(st.none() | st.just("https://shop.example.com/admin/orders/1")),
            lines=data.draw(st.lists(line_items(currency), max_size=4).map(_as_tuple)),
            store_name=data.draw(_opt_text),
        )

    return st.builds(build, _origin(platform, connection_id), currencies(), st.data())


def products(
    *, platform: Platform | None = None, connection_id: str | None = None
) -> st.SearchStrategy[Product]:
    """Catalogue products, with or without price and variants."""

    def build(o: dict[str, Any], currency: str, data: st.DataObject) -> Product:
        created, updated = o["times"]
        variants = data.draw(
            st.lists(
                st.builds(
                    ProductVariant,
                    external_id=_ids,
                    name=_opt_text,
                    sku=st.none() | _ids,
                    price=st.none() | money(currency),
                ),
                max_size=3,
            ).map(_as_tuple)
        )
        return Product(
            platform=o["platform"],
            connection_id=o["connection_id"],
            external_id=o["external_id"],
            created_at=created,
            updated_at=updated,
            name=data.draw(_opt_text),
            category=data.draw(_opt_text),
            sku=data.draw(st.none() | _ids),
            price=data.draw(st.none() | money(currency)),
            description=data.draw(_opt_text),
            image_url=None,
            url=None,
            variants=variants,
        )

    return st.builds(build, _origin(platform, connection_id), currencies(), st.data())


def carts(
    *, platform: Platform | None = None, connection_id: str | None = None
) -> st.SearchStrategy[Cart]:
    """Checkouts, open or completed."""

    def build(o: dict[str, Any], currency: str, data: st.DataObject) -> Cart:
        created, updated = o["times"]
        completed = data.draw(st.none() | st.just(updated))
        return Cart(
            platform=o["platform"],
            connection_id=o["connection_id"],
            external_id=o["external_id"],
            created_at=created,
            updated_at=updated,
            total=data.draw(money(currency)),
            email=data.draw(st.none() | emails()),
            customer_external_id=data.draw(st.none() | _ids),
            lines=data.draw(st.lists(line_items(currency), max_size=3).map(_as_tuple)),
            recovery_url=data.draw(st.none() | st.just("https://shop.example.com/recover/x")),
            completed_at=completed,
            store_name=data.draw(_opt_text),
        )

    return st.builds(build, _origin(platform, connection_id), currencies(), st.data())


def payments(
    *, platform: Platform | None = None, connection_id: str | None = None
) -> st.SearchStrategy[Payment]:
    """Payments, refunded or not."""

    def build(o: dict[str, Any], currency: str, data: st.DataObject) -> Payment:
        created, updated = o["times"]
        return Payment(
            platform=o["platform"],
            connection_id=o["connection_id"],
            external_id=o["external_id"],
            created_at=created,
            updated_at=updated,
            amount=data.draw(money(currency)),
            status=data.draw(
                st.none()
                | st.sampled_from(["APPROVED", "COMPLETED", "CANCELED", "FAILED", "PENDING"])
            ),
            order_external_id=data.draw(st.none() | _ids),
            customer_external_id=data.draw(st.none() | _ids),
            receipt_url=data.draw(st.none() | st.just("https://squareup.com/receipt/preview/x")),
            refunded_amount=data.draw(st.none() | money(currency)),
        )

    return st.builds(build, _origin(platform, connection_id), currencies(), st.data())


def records() -> st.SearchStrategy[Customer | Order | Product | Cart | Payment]:
    """Any top-level record."""
    return st.one_of(customers(), orders(), products(), carts(), payments())
