"""Pure parsers: one Tiendanube/Nuvemshop JSON object in, one canonical record out.

No network, no clock. Each parser reads through a
:class:`~commerce_connectors._parsing.PayloadReader`, so a bad payload raises one
:class:`~commerce_connectors.errors.InvalidRecordError` listing *every* bad field
with its JSON path, and carrying the raw payload.

What the parsers cope with (all seen in the platform's own examples):

* money as decimal strings (``"5660.00"``), never floats;
* numbers that are strings in one endpoint and integers in another
  (``"quantity": "1"``, ``"variant_id": "169164456"``);
* dates with and without a colon in the offset (``-03:00`` / ``+0000``), and
  ``completed_at`` as a PHP object ``{"date": "...", "timezone": "UTC"}``;
* multilingual names (``{"es": ..., "pt": ...}``): the ``language`` argument picks
  one, the others stay in ``extra``;
* checkouts and orders without a customer record (guests): the buyer's details
  come from the ``contact_*`` and billing fields.

Phones and emails are kept exactly as given: the rules normalise them.

Example:
    >>> c = parse_customer({"id": 7, "name": "Ana María López", "email": "Ana@Shop.com",
    ...                     "phone": "+54 9 11 4848-5151", "identification": "30111222",
    ...                     "created_at": "2024-01-02T10:00:00-03:00",
    ...                     "updated_at": "2024-01-03T10:00:00+0000"})
    >>> c.external_id, c.first_name, c.last_name, c.email, c.extra["identification"]
    ('7', 'Ana', 'María López', 'Ana@Shop.com', '30111222')
    >>> c.created_at.isoformat()
    '2024-01-02T13:00:00+00:00'
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

# _is_object: the name this module's readers (and their tests) use.
from ..._parsing import MAX_INTEGER, PayloadReader, fast_first, reader_type
from ..._parsing import is_object as _is_object
from ...models import (
    Address,
    Cart,
    Customer,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Platform,
    Product,
    ProductVariant,
    _new_address,
    _new_cart,
    _new_customer,
    _new_line_item,
    _new_order,
    _new_product,
    _new_variant,
)
from .constants import FALLBACK_LANGUAGES

__all__ = [
    "connection_id_for",
    "localized",
    "order_status",
    "parse_cart",
    "parse_customer",
    "parse_order",
    "parse_product",
    "split_name",
]

_PLATFORM = Platform.TIENDANUBE
_NAME = "tiendanube"


def connection_id_for(store_id: str | int) -> str:
    """The connection id of one store: ``tiendanube:<store_id>``.

    Example:
        >>> connection_id_for(1234)
        'tiendanube:1234'
    """
    return f"{_NAME}:{store_id}"


def _connection(payload: Any, given: str | None) -> str:
    if given:
        return given
    # Orders and checkouts carry their store id; customers and products do not.
    store = payload.get("store_id") if isinstance(payload, Mapping) else None
    if isinstance(store, int) and not isinstance(store, bool) and abs(store) <= MAX_INTEGER:
        return connection_id_for(str(store))
    if isinstance(store, str) and store.strip():
        return connection_id_for(store.strip())
    return _NAME


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """Split Tiendanube's single ``name`` field into (first name, last name).

    The platform stores one name; CRMs want two. The first word is the first name and
    the rest the last name; a one-word name has no last name. Nothing is reformatted.

    Example:
        >>> split_name("Zé Ninguém"), split_name("Cher"), split_name("  ")
        (('Zé', 'Ninguém'), ('Cher', None), (None, None))
    """
    if name is None or not name.strip():
        return None, None
    parts = name.strip().split(None, 1)
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _lookup(value: Mapping[str, Any], language: str) -> Any:
    if language in value:
        return value[language]
    # Regional keys ("es_AR", "pt-BR") answer for their language.
    prefix = language.split("_")[0].split("-")[0].lower()
    for key, text in value.items():
        if isinstance(key, str) and key.lower().split("_")[0].split("-")[0] == prefix:
            return text
    return None


def localized(
    value: Any, language: str | None = None, *, fallbacks: Sequence[str] = FALLBACK_LANGUAGES
) -> str | None:
    """Pick one language of a multilingual field (``{"es": ..., "pt": ...}``).

    Tries ``language``, then ``fallbacks``, then any non-empty value in the object's
    order. A plain string is returned as it is (older payloads, order lines).

    Example:
        >>> name = {"es": "Pelota", "pt": "Bola", "en": ""}
        >>> localized(name, "pt"), localized(name, "en"), localized(name), localized("Ball")
        ('Bola', 'Pelota', 'Pelota', 'Ball')
    """
    if isinstance(value, str):
        return value if value.strip() else None
    if not isinstance(value, Mapping):
        return None
    order = ([language] if language else []) + [f for f in fallbacks if f != language]
    for lang in order:
        text = _lookup(value, lang)
        if isinstance(text, str) and text.strip():
            return text
    for text in value.values():
        if isinstance(text, str) and text.strip():
            return text
    return None


def _translations(r: PayloadReader, path: str) -> dict[str, str]:
    """Every language of a multilingual field (recording a problem for a bad shape)."""
    value = r.raw(path)
    if value is None:
        return {}
    if isinstance(value, str):
        return {}
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    ):
        return {k: v for k, v in value.items() if isinstance(v, str)}
    r.problem(path, "expected a string or an object of strings keyed by language", value)
    return {}


def _text_field(r: PayloadReader, path: str, language: str | None) -> str | None:
    value = r.raw(path)
    if type(value) is str:  # one plain text (order lines): nothing to check or pick
        return value if value.strip() else None
    _translations(r, path)  # records a problem for a bad shape
    return localized(value, language)


def order_status(
    status: str | None, payment_status: str | None, shipping_status: str | None
) -> OrderStatus:
    """The canonical status of an order from its three Tiendanube statuses.

    Precedence: a cancelled order is cancelled; then refunds and voids; then a
    closed order is completed; then the payment and shipping statuses.

    Example:
        >>> order_status("open", "paid", "shipped"), order_status("open", "pending", None)
        (<OrderStatus.FULFILLED: 'fulfilled'>, <OrderStatus.PENDING: 'pending'>)
        >>> order_status("cancelled", "paid", "unpacked")
        <OrderStatus.CANCELLED: 'cancelled'>
    """
    if status == "cancelled":
        return OrderStatus.CANCELLED
    if payment_status in _BY_PAYMENT:
        return _BY_PAYMENT[payment_status]
    if status == "closed":
        return OrderStatus.COMPLETED
    if payment_status == "paid":
        if shipping_status in ("shipped", "fulfilled", "delivered"):
            return OrderStatus.FULFILLED
        if shipping_status == "partially_fulfilled":
            return OrderStatus.PARTIALLY_FULFILLED
        return OrderStatus.PAID
    return _UNPAID.get(payment_status or "", OrderStatus.UNKNOWN)


#: Payment statuses that decide an order's status before anything else but cancellation.
_BY_PAYMENT = {
    "refunded": OrderStatus.REFUNDED,
    "partially_refunded": OrderStatus.PARTIALLY_REFUNDED,
    "voided": OrderStatus.VOIDED,
    # The buyer left the payment unfinished: the checkout was never completed.
    "abandoned": OrderStatus.INCOMPLETE,
}
#: Payment statuses of an open order not (fully) paid yet.
_UNPAID = {
    "pending": OrderStatus.PENDING,
    "authorized": OrderStatus.AUTHORIZED,
    "partially_paid": OrderStatus.PARTIALLY_PAID,
}


# -- shared pieces ------------------------------------------------------------------------


def _reader(payload: Any, kind: str) -> PayloadReader:
    return reader_type(PayloadReader)(payload, platform=_NAME, kind=kind)


def _join2(first: str | None, second: str | None, sep: str) -> str | None:
    """``_join(first, second, sep=sep)``, called without packing its arguments."""
    if first and second:
        return f"{first}{sep}{second}"
    return first or second or None


def _join(*parts: str | None, sep: str = " ") -> str | None:
    if len(parts) == 2:  # the usual call: what the general case below gives, sooner
        first, second = parts
        if first and second:
            return f"{first}{sep}{second}"
        return first or second or None
    kept = [p for p in parts if p]
    return sep.join(kept) if kept else None


def _address(r: PayloadReader) -> Address | None:
    """An address object (``default_address``, ``addresses[]``, order ``shipping_address``)."""
    if not r.payload:
        return None
    first, last = split_name(r.text("name"))
    return _new_address(
        first_name=first,
        last_name=last,
        phone=r.text("phone"),
        # Tiendanube splits the street and the house number.
        line1=_join2(r.text("address"), r.text("number"), " "),
        line2=_join2(r.text("floor"), r.text("locality"), ", "),
        city=r.text("city"),
        province=r.text("province"),
        postal_code=r.text("zipcode"),
        country_code=r.text("country"),
    )


_FLAT_FIELDS = (
    "name",
    "phone",
    "address",
    "number",
    "floor",
    "locality",
    "city",
    "province",
    "zipcode",
    "country",
)


#: The prefixed keys of _FLAT_FIELDS, by prefix, in _FLAT_FIELDS' order.
_FLAT_KEYS: dict[str, tuple[str, ...]] = {}


def _flat_address(r: PayloadReader, prefix: str) -> Address | None:
    """An address spread over ``billing_*`` / ``shipping_*`` fields (orders, checkouts)."""
    keys = _FLAT_KEYS.get(prefix)
    if keys is None:
        keys = _FLAT_KEYS.setdefault(prefix, tuple(prefix + f for f in _FLAT_FIELDS))
    for key in keys:
        if r.raw(key) not in (None, ""):
            break
    else:
        return None  # no field of this address at all
    name, phone, address, number, floor, locality, city, province, zipcode, country = keys
    if _is_object(r.raw(address)):  # orders: shipping_address is an object
        return None
    first, last = split_name(r.text(name))
    return _new_address(
        first_name=first,
        last_name=last,
        phone=r.text(phone),
        line1=_join2(r.text(address), r.text(number), " "),
        line2=_join2(r.text(floor), r.text(locality), ", "),
        city=r.text(city),
        province=r.text(province),
        postal_code=r.text(zipcode),
        country_code=r.text(country),
    )


def _iso(value: _dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _custom(r: PayloadReader, path: str = "extra") -> dict[str, Any]:
    value = r.raw(path)
    return dict(value) if isinstance(value, Mapping) else {}


def _customer(
    r: PayloadReader,
    *,
    connection_id: str,
    times: tuple[_dt.datetime | None, _dt.datetime | None] | None = None,
    raw: Any,
) -> Customer | None:
    """A registered customer from a customer object.

    ``times`` is ``None`` for a top-level customer (its id and dates are required);
    for one embedded in an order or checkout it holds that record's dates, used when
    the embedded object lacks its own.
    """
    external_id = r.id("id") if times is None else r.text("id")
    created = r.datetime("created_at", required=times is None)
    updated = r.datetime("updated_at", required=times is None)
    if times is not None:
        created = created or times[0]
        updated = updated or times[1] or created
    full_name = r.text("name")
    first, last = split_name(full_name)
    addresses: list[Address] = []
    for entry in r.children("addresses"):
        address = _address(entry)
        if address is not None:
            addresses.append(address)
    billing = _flat_address(r, "billing_")
    if billing is not None:
        addresses.append(billing)
    extra: dict[str, Any] = {
        k: v
        for k, v in {
            "name": full_name,
            "identification": r.text("identification"),
            "note": r.text("note"),
            "total_spent": r.text("total_spent"),
            "total_spent_currency": r.text("total_spent_currency"),
            "last_order_id": r.text("last_order_id"),
            "active": r.boolean("active"),
            "accepts_marketing_updated_at": _iso(r.datetime("accepts_marketing_updated_at")),
            "custom_fields": _custom(r) or None,
        }.items()
        if v is not None
    }
    consent = r.boolean("accepts_marketing")
    default = _address(r.child("default_address"))
    if external_id is None or created is None or updated is None:
        return None
    return _new_customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        email=r.text("email"),
        first_name=first,
        last_name=last,
        phone=r.text("phone"),
        accepts_marketing=consent,
        default_address=default,
        addresses=tuple(addresses),
        is_guest=False,
        extra=extra,
        raw=raw,
    )


def _guest(
    r: PayloadReader,
    *,
    connection_id: str,
    external_id: str,
    created: _dt.datetime,
    updated: _dt.datetime,
) -> Customer | None:
    """The shopper of a checkout or order that has no customer record (a guest)."""
    email, name, phone = r.text("contact_email"), r.text("contact_name"), r.text("contact_phone")
    billing = _flat_address(r, "billing_")
    shipping = _flat_address(r, "shipping_")
    if name is None and billing is not None:
        name = _join(billing.first_name, billing.last_name)
    if not (email or name or phone or billing):
        return None
    first, last = split_name(name)
    identification = r.text("contact_identification")
    return _new_customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        # Guests have no customer id; this one only keeps the record valid and is
        # never used as a CRM id (the rules use the order's customer_external_id).
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        email=email,
        first_name=first,
        last_name=last,
        phone=phone,
        default_address=billing or shipping,
        addresses=tuple(a for a in (billing, shipping) if a is not None),
        is_guest=True,
        extra={"identification": identification} if identification else {},
    )


def _lines(r: PayloadReader, currency: str | None) -> list[LineItem]:
    lines: list[LineItem] = []
    for line in r.children("products"):
        price = line.money("price", currency, required=True)
        # "quantity": "1" in the orders list, 5 in checkouts: both are read.
        quantity = line.decimal("quantity", required=True)
        if price is None or quantity is None:
            continue
        whole = quantity == quantity.to_integral_value()
        quantity_value: int | Decimal = int(quantity) if whole else quantity
        lines.append(
            _new_line_item(
                name=_text_field(line, "name", None),
                quantity=quantity_value,
                unit_price=price,
                product_id=line.text("product_id"),
                variant_id=line.text("variant_id"),
                sku=line.text("sku"),
                image_url=line.text("image.src"),
                external_id=line.text("id"),
            )
        )
    return lines


def _coupons(r: PayloadReader) -> tuple[str, ...]:
    codes: list[str] = []
    for coupon in r.children("coupon"):
        code = coupon.text("code")
        if code:
            codes.append(code)
    return tuple(codes)


def _discount(r: PayloadReader, currency: str | None) -> Money | None:
    # "discount" (promotions), "discount_coupon" and "discount_gateway" are listed side by
    # side in orders and checkouts; the total discount is their sum.
    return r.money_sum(("discount", "discount_coupon", "discount_gateway"), currency)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != {} and v != ()}


# -- the parsers ----------------------------------------------------------------------------


@fast_first
def parse_customer(payload: Any, *, connection_id: str | None = None) -> Customer:
    """A ``GET /customers`` object as a :class:`~commerce_connectors.models.Customer`.

    Tiendanube has one ``name`` (split into first and last name, the full name kept in
    ``extra["name"]``), a ``default_address`` and an address book, billing fields, the
    tax id ``identification`` (kept in ``extra``), custom ``extra`` fields (kept as
    ``extra["custom_fields"]``) and, where present, ``accepts_marketing``. Customers
    have no tags and no company.

    Args:
        payload: the customer object exactly as the API returned it.
        connection_id: the connection (``tiendanube:<store_id>``); customers do not
            carry their store id, so without it the id is just ``"tiendanube"``.

    Raises:
        InvalidRecordError: with every bad field.

    Example:
        >>> c = parse_customer({"id": 101, "name": "John Doe", "phone": None,
        ...     "default_address": {"phone": "555-123-0413", "country": "US"},
        ...     "created_at": "2013-01-03T09:11:51-03:00",
        ...     "updated_at": "2013-03-11T09:14:11-03:00"}, connection_id="tiendanube:1")
        >>> c.phone, c.default_address.phone, c.is_guest
        (None, '555-123-0413', False)
    """
    r = _reader(payload, "customer")
    customer = _customer(r, connection_id=_connection(payload, connection_id), raw=payload)
    r.check()
    assert customer is not None
    return customer


@fast_first
def parse_order(
    payload: Any,
    *,
    connection_id: str | None = None,
    order_url_template: str | None = None,
    store_name: str | None = None,
) -> Order:
    """A ``GET /orders`` object (products and customer embedded) as an Order.

    * ``status`` is derived from ``status``, ``payment_status`` and
      ``shipping_status`` (:func:`order_status`); ``raw_status`` keeps ``status``,
      ``raw_fulfillment_status`` keeps ``shipping_status``, ``extra["payment_status"]``
      the payment status.
    * ``total`` is ``total`` (``price`` in the oldest payloads); ``discount_total`` is
      ``discount + discount_coupon + discount_gateway``; ``discount_codes`` the coupon
      codes; ``shipping_method`` the ``shipping_option`` name (``shipping`` otherwise).
    * ``customer`` is the embedded customer, or for an order without one (a guest, or
      an app without the ``read_customers`` scope) the buyer built from the contact and
      billing fields, marked ``is_guest``.
    * ``order_url`` is ``order_url_template`` formatted with ``id`` and ``number``
      (the connector builds it from the store's domain); ``None`` without a template.

    Raises:
        InvalidRecordError: with every bad field.

    Example:
        >>> o = parse_order({"id": 9, "number": 1001, "store_id": 55, "currency": "BRL",
        ...     "total": "90.00", "subtotal": "100.00", "discount_coupon": "10.00",
        ...     "coupon": [{"code": "WELCOME10"}], "status": "open",
        ...     "payment_status": "paid", "shipping_status": "unpacked",
        ...     "products": [{"product_id": 1, "variant_id": "2", "name": "Mate",
        ...                   "price": "50.00", "quantity": "2"}],
        ...     "created_at": "2024-05-01T12:00:00+0000",
        ...     "updated_at": "2024-05-01T12:30:00+0000",
        ...     "completed_at": {"date": "2024-05-01 12:00:00.000000", "timezone_type": 3,
        ...                      "timezone": "UTC"}},
        ...     order_url_template="https://acme.test/admin/v2/orders/{id}")
        >>> o.connection_id, o.status, o.total, o.discount_total, o.discount_codes
        ('tiendanube:55', <OrderStatus.PAID: 'paid'>, Money(amount=Decimal('90.00'), currency='BRL'), Money(amount=Decimal('10.00'), currency='BRL'), ('WELCOME10',))
        >>> o.lines[0].quantity, o.lines[0].variant_id, o.order_url, o.extra["completed_at"]
        (2, '2', 'https://acme.test/admin/v2/orders/9', '2024-05-01T12:00:00+00:00')
    """  # noqa: E501
    r = _reader(payload, "order")
    conn = _connection(payload, connection_id)
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    currency = r.currency("currency")
    # The oldest single-order payloads have "price" and no "total". Either is required:
    # an empty one ("price": "") is a problem, not a missing total the parser trips on.
    if r.raw("total") is None and r.raw("price") is not None:
        total = r.money("price", currency, required=True)
    else:
        total = r.money("total", currency, required=True)
    status, payment, shipping = (
        r.text("status"),
        r.text("payment_status"),
        r.text("shipping_status"),
    )
    lines = _lines(r, currency)
    buyer: Customer | None = None
    if _is_object(r.raw("customer")):
        buyer = _customer(
            r.child("customer"), connection_id=conn, times=(created, updated), raw=None
        )
    elif external_id is not None and created is not None and updated is not None:
        buyer = _guest(
            r,
            connection_id=conn,
            external_id=f"guest:order:{external_id}",
            created=created,
            updated=updated,
        )
    number = r.text("number")
    shipping_address = (
        r.child("shipping_address") if _is_object(r.raw("shipping_address")) else None
    )
    extra = _drop_none(
        {
            "payment_status": payment,
            "shipping_status": shipping,
            "gateway": r.text("gateway"),
            "gateway_name": r.text("gateway_name"),
            "payment_method": r.text("payment_details.method"),
            "storefront": r.text("storefront"),
            "next_action": r.text("next_action"),
            "cancel_reason": r.text("cancel_reason"),
            "language": r.text("language"),
            "token": r.text("token"),
            "total_usd": r.text("total_usd"),
            "shipping_option_code": r.text("shipping_option_code"),
            "shipping_pickup_type": r.text("shipping_pickup_type"),
            "shipping_tracking_number": r.text("shipping_tracking_number"),
            "completed_at": _iso(r.datetime("completed_at")),
            "paid_at": _iso(r.datetime("paid_at")),
            "closed_at": _iso(r.datetime("closed_at")),
            "cancelled_at": _iso(r.datetime("cancelled_at")),
            "shipped_at": _iso(r.datetime("shipped_at")),
            "shipping_address": _address(shipping_address) if shipping_address else None,
            "custom_fields": _custom(r),
        }
    )
    discount_total = _discount(r, currency)
    subtotal = r.money("subtotal", currency)
    shipping_total = r.money("shipping_cost_customer", currency)
    order_url = None
    if order_url_template and external_id is not None:
        order_url = order_url_template.format(id=external_id, number=number or external_id)
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    email = r.text("contact_email") or (buyer.email if buyer else None)
    return _new_order(
        platform=_PLATFORM,
        connection_id=conn,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        status=order_status(status, payment, shipping),
        raw_status=status,
        total=total,
        order_number=number,
        email=email,
        customer_external_id=buyer.external_id if buyer and not buyer.is_guest else None,
        customer=buyer,
        discount_total=discount_total,
        discount_codes=_coupons(r),
        shipping_method=r.text("shipping_option") or r.text("shipping"),
        order_url=order_url,
        lines=tuple(lines),
        subtotal=subtotal,
        shipping_total=shipping_total,
        raw_fulfillment_status=shipping,
        store_name=store_name,
        extra=extra,
        raw=payload,
    )


@fast_first
def parse_cart(
    payload: Any, *, connection_id: str | None = None, store_name: str | None = None
) -> Cart:
    """A ``GET /checkouts`` object (an abandoned checkout) as a Cart.

    The shopper becomes ``customer``: the embedded customer when there is one,
    otherwise a guest built from ``contact_email``, ``contact_name``,
    ``contact_phone``, ``contact_identification`` and the billing/shipping fields, so
    that shoppers who start a checkout become contacts. ``recovery_url`` is
    ``abandoned_checkout_url``; ``completed_at`` marks a converted checkout (``null``
    while open; the PHP object form is understood). ``order_external_id`` is a
    top-level ``order_id`` when the payload has one (the published checkout properties
    list none; ``promotional_discount.order_id`` is a draft order's id, not read).
    ``store_name`` is the store's name (``GET /store``), when known.

    Raises:
        InvalidRecordError: with every bad field.

    Example:
        >>> cart = parse_cart({"id": 411, "store_id": 7, "contact_email": "Ana@Shop.com",
        ...     "contact_name": "Ana Souza", "contact_phone": "+551335593019",
        ...     "currency": "BRL", "total": "291.35", "completed_at": None,
        ...     "abandoned_checkout_url": "https://shop.test/checkout/v3/proxy/411/tok",
        ...     "products": [{"product_id": 5, "name": "Varinha", "price": "58.07",
        ...                   "quantity": 5}],
        ...     "created_at": "2021-05-12T19:08:06+0000",
        ...     "updated_at": "2021-05-13T21:04:00+0000"})
        >>> cart.email, cart.customer.first_name, cart.customer.is_guest, cart.total.amount
        ('Ana@Shop.com', 'Ana', True, Decimal('291.35'))
    """
    r = _reader(payload, "cart")
    conn = _connection(payload, connection_id)
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    completed = r.datetime("completed_at")
    currency = r.currency("currency")
    total = r.money("total", currency, required=True)
    lines = _lines(r, currency)
    shopper: Customer | None = None
    if _is_object(r.raw("customer")):
        shopper = _customer(
            r.child("customer"), connection_id=conn, times=(created, updated), raw=None
        )
    elif external_id is not None and created is not None and updated is not None:
        shopper = _guest(
            r,
            connection_id=conn,
            external_id=f"guest:checkout:{external_id}",
            created=created,
            updated=updated,
        )
    extra = _drop_none(
        {
            "token": r.text("token"),
            "contact_identification": r.text("contact_identification"),
            "language": r.text("language"),
            "storefront": r.text("storefront"),
            "shipping_option": r.text("shipping_option"),
            "discount_codes": _coupons(r),
            "discount_total": _discount(r, currency),
            "subtotal": r.money("subtotal", currency),
            "custom_fields": _custom(r),
        }
    )
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    return _new_cart(
        platform=_PLATFORM,
        connection_id=conn,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        total=total,
        email=r.text("contact_email") or (shopper.email if shopper else None),
        customer_external_id=shopper.external_id if shopper and not shopper.is_guest else None,
        customer=shopper,
        lines=tuple(lines),
        recovery_url=r.text("abandoned_checkout_url"),
        completed_at=completed,
        order_external_id=r.text("order_id"),
        store_name=store_name,
        extra=extra,
        raw=payload,
    )


@fast_first
def parse_product(
    payload: Any,
    *,
    connection_id: str | None = None,
    language: str | None = None,
    currency: str | None = None,
) -> Product:
    """A ``GET /products`` object (variants, images, categories embedded) as a Product.

    Names, descriptions and handles are multilingual objects: ``language`` picks one
    (the connector passes the store's main language), falling back to ``es``, ``pt``,
    ``en`` and then any language; every language stays in
    ``extra["name_translations"]`` / ``extra["description_translations"]``. The category
    is the first category's name (all of them in ``extra["categories"]``). SKU and
    price are the first variant's; each variant is kept in ``variants``.

    Variant prices carry no currency: pass the store's ``currency`` (the connector
    reads ``main_currency`` from ``GET /store``). Without it prices are ``None`` and
    the first variant's price string is kept in ``extra["price"]``.

    Raises:
        InvalidRecordError: with every bad field.

    Example:
        >>> p = parse_product({"id": 1234, "name": {"es": "Pelota", "pt": "Bola"},
        ...     "categories": [{"id": 4, "name": {"es": "Juguetes", "pt": "Brinquedos"}}],
        ...     "variants": [{"id": 101, "price": "25.00", "sku": "BSG1"}],
        ...     "images": [{"id": 1, "src": "https://cdn.test/1.jpg", "position": 1}],
        ...     "created_at": "2013-01-03T09:11:51-03:00",
        ...     "updated_at": "2013-03-11T09:14:11-03:00"}, language="pt", currency="BRL")
        >>> p.name, p.category, p.sku, p.price.amount, p.extra["name_translations"]["es"]
        ('Bola', 'Brinquedos', 'BSG1', Decimal('25.00'), 'Pelota')
    """
    r = _reader(payload, "product")
    conn = _connection(payload, connection_id)
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    code = None
    if currency is not None:
        code = PayloadReader({"currency": currency}, platform=_NAME, kind="product").currency(
            "currency"
        )
    name_translations = _translations(r, "name")
    description_translations = _translations(r, "description")
    name = localized(r.raw("name"), language)
    description = localized(r.raw("description"), language)
    categories: list[str] = []
    category_ids: list[str] = []
    for category in r.children("categories"):
        _translations(category, "name")
        label = localized(category.raw("name"), language)
        if label:
            categories.append(label)
        cid = category.text("id")
        if cid:
            category_ids.append(cid)
    images: dict[str, str] = {}
    ordered_images: list[tuple[int, str]] = []
    for index, image in enumerate(r.children("images")):
        src = image.text("src")
        position = image.integer("position")
        if src:
            ordered_images.append((position if position is not None else index + 1, src))
            iid = image.text("id")
            if iid:
                images[iid] = src
    ordered_images.sort(key=lambda item: item[0])
    variants: list[ProductVariant] = []
    for variant in r.children("variants"):
        vid = variant.text("id", required=True)
        values = [localized(v, language) for v in variant.array("values")]
        price = variant.money("price", code) if code else None
        if code is None:
            variant.decimal("price")  # still validated
        image_id = variant.text("image_id")
        if vid is not None:
            variants.append(
                _new_variant(
                    external_id=vid,
                    name=_join(*[v for v in values if v], sep=" / "),
                    sku=variant.text("sku"),
                    price=price,
                    image_url=images.get(image_id) if image_id else None,
                )
            )
    tags_text = r.text("tags")
    first = r.child("variants[0]") if isinstance(r.raw("variants[0]"), Mapping) else None
    extra = _drop_none(
        {
            "name_translations": name_translations,
            "description_translations": description_translations,
            "handle_translations": _translations(r, "handle"),
            "language": language,
            "categories": tuple(categories),
            "category_ids": tuple(category_ids),
            "tags": tuple(t.strip() for t in (tags_text or "").split(",") if t.strip()),
            "brand": r.text("brand"),
            "published": r.boolean("published"),
            "price": first.text("price") if first is not None and code is None else None,
            "promotional_price": first.text("promotional_price") if first is not None else None,
        }
    )
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    return _new_product(
        platform=_PLATFORM,
        connection_id=conn,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        name=name,
        category=categories[0] if categories else None,
        sku=variants[0].sku if variants else None,
        price=variants[0].price if variants else None,
        description=description,
        image_url=ordered_images[0][1] if ordered_images else None,
        url=r.text("canonical_url"),
        variants=tuple(variants),
        extra=extra,
        raw=payload,
    )
