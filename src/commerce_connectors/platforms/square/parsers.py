"""Pure parsers: one Square JSON object (as the API returns it) → one canonical record.

No network, no clock. Every parser reads through a
:class:`~commerce_connectors._parsing.PayloadReader`, so a bad payload raises one
:class:`~commerce_connectors.errors.InvalidRecordError` listing *every* bad field with
its JSON path, and carrying the payload.

Square specifics handled here:

* money is ``{"amount": <integer minor units>, "currency": "USD"}``; it is converted
  exactly with the currency's exponent (JPY 0, USD 2, KWD 3);
* line-item quantities are strings (``"2"``, ``"1.5"``);
* marketing consent is ``preferences.email_unsubscribed``: ``true`` is an explicit
  "no", ``false`` only means "not unsubscribed" and is *unknown*, never a "yes";
* Square customers have no tags (``group_ids`` and ``segment_ids`` are kept in
  ``extra``), and their address has no phone;
* catalog objects carry ``updated_at`` but no ``created_at``: products use
  ``updated_at`` for both (``extra["created_at_known"]`` is ``False``);
* an order's state combines the order's ``state`` with its payments' ``status``
  and refunds (:func:`order_status`).

Example:
    >>> customer = parse_customer({
    ...     "id": "JDKYHBWT1D4F8MFH63DBMEN8Y4", "created_at": "2016-03-23T20:21:54.859Z",
    ...     "updated_at": "2016-03-23T20:21:55Z", "given_name": "Amelia",
    ...     "email_address": "Amelia.Earhart@example.com", "phone_number": "+1-212-555-4240",
    ...     "preferences": {"email_unsubscribed": True}})
    >>> customer.email, customer.phone, customer.accepts_marketing
    ('Amelia.Earhart@example.com', '+1-212-555-4240', False)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from ..._parsing import PayloadReader, fast_first, is_object, reader_type
from ...errors import FieldProblem, InvalidRecordError
from ...models import (
    Address,
    Customer,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Payment,
    Platform,
    Product,
    ProductVariant,
    _new_address,
    _new_customer,
    _new_line_item,
    _new_order,
    _new_payment,
    _new_product,
    _new_variant,
)

__all__ = [
    "DEFAULT_CONNECTION_ID",
    "CatalogRef",
    "SquareLocation",
    "catalog_refs",
    "is_present_at",
    "order_status",
    "parse_customer",
    "parse_location",
    "parse_order",
    "parse_payment",
    "parse_product",
]

_PLATFORM = Platform.SQUARE
_NAME = "square"

#: The connection id parsers use when none is given (the connector always passes its own).
DEFAULT_CONNECTION_ID = "square"


def _reader(payload: Any, kind: str) -> PayloadReader:
    return reader_type(PayloadReader)(payload, platform=_NAME, kind=kind)


def _money(r: PayloadReader, path: str, *, required: bool = False) -> Money | None:
    """A Square Money object at ``path`` (integer minor units + currency), or None."""
    node = r.raw(path)
    if node is None:
        if required:
            r.problem(path, "required money is missing", None)
        return None
    if type(node) is not dict and not is_object(node):  # a dict: no call (hot)
        r.problem(path, f"expected a Money object, got {type(node).__name__}", node)
        return None
    paths = _MONEY_PATHS.get(path)
    if paths is None:
        if len(_MONEY_PATHS) >= 64:
            _MONEY_PATHS.clear()
        paths = _MONEY_PATHS[path] = (f"{path}.currency", f"{path}.amount")
    currency = r.currency(paths[0])
    return r.money(paths[1], currency, required=True, minor_units=True)


#: The currency and amount paths of the Money objects read, by the object's path (this
#: module's own few; bounded all the same).
_MONEY_PATHS: dict[str, tuple[str, str]] = {}


def _address(r: PayloadReader, path: str) -> Address | None:
    node = r.raw(path)
    if not is_object(node) or not node:
        return None
    a = r.child(path)
    return _new_address(
        first_name=a.text("first_name"),
        last_name=a.text("last_name"),
        line1=a.text("address_line_1"),
        line2=a.text("address_line_2"),
        city=a.text("locality"),
        province=a.text("administrative_district_level_1"),
        postal_code=a.text("postal_code"),
        country_code=a.text("country"),
    )


def _strings(r: PayloadReader, path: str) -> tuple[str, ...]:
    value = r.raw(path, [])
    if not isinstance(value, list):
        r.problem(path, f"expected a list, got {type(value).__name__}", value)
        return ()
    return tuple(str(v) for v in value if isinstance(v, (str, int)) and not isinstance(v, bool))


# --------------------------------------------------------------------------- customers


@fast_first
def parse_customer(payload: Any, *, connection_id: str = DEFAULT_CONNECTION_ID) -> Customer:
    """A Square ``Customer`` object as a :class:`~commerce_connectors.models.Customer`.

    The email and phone are kept exactly as given (the rules normalise them). A
    customer without an email is still parsed: skipping it is the connector's and
    the rules' decision, with a reason.

    Args:
        payload: one element of ``customers`` (SearchCustomers, ListCustomers) or the
            ``customer`` of RetrieveCustomer.
        connection_id: the connection the record belongs to.

    Raises:
        InvalidRecordError: a required field is missing or a field has the wrong type.

    Example:
        >>> c = parse_customer({"id": "C1", "created_at": "2024-01-02T03:04:05Z",
        ...                     "updated_at": "2024-01-02T03:04:05Z", "family_name": "Ito",
        ...                     "reference_id": "crm-7", "preferences": {}})
        >>> c.external_id, c.email, c.accepts_marketing, c.extra["reference_id"]
        ('C1', None, None, 'crm-7')
    """
    r = _reader(payload, "customer")
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    unsubscribed = r.boolean("preferences.email_unsubscribed")
    address = _address(r, "address")
    groups = _strings(r, "group_ids")
    segments = _strings(r, "segment_ids")
    email = r.text("email_address")
    phone = r.text("phone_number")
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    return _new_customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=max(created, updated),
        email=email,
        first_name=r.text("given_name"),
        last_name=r.text("family_name"),
        phone=phone,
        company=r.text("company_name"),
        # Square has no customer tags; group/segment ids are opaque ids, kept in extra.
        tags=(),
        # true = explicit "no"; false only means "not unsubscribed": unknown.
        accepts_marketing=False if unsubscribed else None,
        default_address=address,
        is_guest=False,
        extra={
            "reference_id": r.text("reference_id"),
            "nickname": r.text("nickname"),
            "creation_source": r.text("creation_source"),
            "group_ids": groups,
            "segment_ids": segments,
            "version": r.raw("version"),
            "email_unsubscribed": unsubscribed,
        },
        raw=payload,
    )


# --------------------------------------------------------------------------- payments


@fast_first
def parse_payment(
    payload: Any,
    order: Mapping[str, Any] | None = None,
    *,
    connection_id: str = DEFAULT_CONNECTION_ID,
) -> Payment:
    """A Square ``Payment`` object as a :class:`~commerce_connectors.models.Payment`.

    Args:
        payload: one element of ListPayments ``payments``, or GetPayment's ``payment``.
        order: the payment's Square order, when fetched: its ``customer_id`` fills
            in a payment without one.
        connection_id: the connection the record belongs to.

    The amount is ``total_money`` (amount plus tip), falling back to ``amount_money``.

    Example:
        >>> p = parse_payment({"id": "P1", "created_at": "2021-10-13T19:34:33.524Z",
        ...                    "updated_at": "2021-10-13T19:34:37.261Z", "status": "COMPLETED",
        ...                    "order_id": "O1", "total_money": {"amount": 1500, "currency": "JPY"},
        ...                    "receipt_url": "https://squareup.com/receipt/preview/P1"})
        >>> p.amount, p.status, p.order_external_id
        (Money(amount=Decimal('1500'), currency='JPY'), 'COMPLETED', 'O1')
    """
    r = _reader(payload, "payment")
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    amount_path = "total_money" if r.raw("total_money") is not None else "amount_money"
    amount = _money(r, amount_path, required=True)
    refunded = _money(r, "refunded_money")
    customer_id = r.text("customer_id")
    if customer_id is None and isinstance(order, Mapping):
        value = order.get("customer_id")
        customer_id = value if isinstance(value, str) and value else None
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert amount is not None
    return _new_payment(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=max(created, updated),
        amount=amount,
        status=r.text("status"),
        order_external_id=r.text("order_id"),
        customer_external_id=customer_id,
        receipt_url=r.text("receipt_url"),
        refunded_amount=refunded,
        extra={
            "receipt_number": r.text("receipt_number"),
            "location_id": r.text("location_id"),
            "buyer_email_address": r.text("buyer_email_address"),
            "source_type": r.text("source_type"),
            "card_brand": r.text("card_details.card.card_brand"),
            "refund_ids": _strings(r, "refund_ids"),
        },
        raw=payload,
    )


# --------------------------------------------------------------------------- orders


@attrs.frozen
class CatalogRef:
    """What an order line needs from the catalog about one item variation.

    Square order lines name the *variation* (``catalog_object_id``); CRM integrations for
    Square map the *item* id to the product id, and want the item's description and image.

    Attributes:
        item_id: the parent ITEM's id (the canonical product id).
        sku: the variation's SKU.
        item_name: the item's name.
        description: the item's description.
        category: the item's first category name.
        image_url: the item's (or variation's) first image URL.
    """

    item_id: str | None
    sku: str | None = None
    item_name: str | None = None
    description: str | None = None
    category: str | None = None
    image_url: str | None = None


def _payment_money_sum(payments: Sequence[Payment], attr: str, currency: str) -> Decimal:
    total = Decimal(0)
    for p in payments:
        money = getattr(p, attr)
        if isinstance(money, Money) and money.currency == currency:
            total += money.amount
    return total


def order_status(
    state: str | None, payments: Sequence[Payment], total: Money | None
) -> OrderStatus:
    """The canonical status of a Square order from its ``state`` and its payments.

    Refunds win (they are what a CRM most needs to see change); then a cancelled order;
    then the payments: completed ones make it paid (completed when the order is
    closed), an approved one authorised, a pending one pending, only voided ones
    voided, only failed ones failed. An order without payments is pending while
    ``OPEN``/``DRAFT``.

    Example:
        >>> order_status("OPEN", [], None)
        <OrderStatus.PENDING: 'pending'>
    """
    currency = total.currency if total is not None else None
    if currency is None and payments:
        currency = payments[0].amount.currency
    statuses = [(p.status or "").upper() for p in payments]
    paid = (
        _payment_money_sum(
            [p for p, s in zip(payments, statuses, strict=True) if s == "COMPLETED"],
            "amount",
            currency,
        )
        if currency
        else Decimal(0)
    )
    refunded = _payment_money_sum(payments, "refunded_amount", currency) if currency else Decimal(0)
    upper_state = (state or "").upper()
    if refunded > 0:
        return OrderStatus.REFUNDED if refunded >= paid else OrderStatus.PARTIALLY_REFUNDED
    if upper_state == "CANCELED":
        return OrderStatus.CANCELLED
    if not statuses:
        return {
            "OPEN": OrderStatus.PENDING,
            "DRAFT": OrderStatus.PENDING,
            "COMPLETED": OrderStatus.COMPLETED,
        }.get(upper_state, OrderStatus.UNKNOWN)
    if "COMPLETED" in statuses:
        if total is not None and paid < total.amount:
            return OrderStatus.PARTIALLY_PAID
        return OrderStatus.COMPLETED if upper_state == "COMPLETED" else OrderStatus.PAID
    if "APPROVED" in statuses:
        return OrderStatus.AUTHORIZED
    if "PENDING" in statuses:
        return OrderStatus.PENDING
    if all(s == "CANCELED" for s in statuses):
        return OrderStatus.VOIDED
    if all(s in ("FAILED", "CANCELED") for s in statuses):
        return OrderStatus.FAILED
    return OrderStatus.UNKNOWN


def _raw_status(state: str | None, payments: Sequence[Payment]) -> str | None:
    parts = []
    if state:
        parts.append(f"order:{state}")
    if payments:
        parts.append("payments:" + ",".join(p.status or "?" for p in payments))
    return " ".join(parts) or None


def _parse_payments(
    r: PayloadReader,
    payments: Iterable[Any],
    order: Mapping[str, Any] | None,
    connection_id: str,
) -> list[Payment]:
    """Parse the order's payments; a bad payment's problems become the order's."""
    parsed = []
    for index, payment in enumerate(payments):
        try:
            parsed.append(parse_payment(payment, order, connection_id=connection_id))
        except InvalidRecordError as exc:
            # Reported under a pseudo-path outside the order object, since the payments
            # are fetched separately: "$payments[0].total_money.amount" (as BigCommerce's
            # sub-resources: "$products[1].price_inc_tax").
            for problem in exc.problems:
                path = f"$payments[{index}]{problem.path[1:]}"
                r.problems.append(FieldProblem(path, problem.reason, problem.value))
    parsed.sort(key=lambda p: (p.created_at, p.external_id))
    return parsed


def _line(line: PayloadReader, catalog: Mapping[str, CatalogRef]) -> LineItem | None:
    price = _money(line, "base_price_money")
    total = _money(line, "total_money")
    quantity = line.text("quantity", required=True)
    if quantity is not None and line.decimal("quantity") is None:
        return None  # the problem is recorded; the record will be refused
    variation_id = line.text("catalog_object_id")
    ref = catalog.get(variation_id) if variation_id else None
    if price is None:
        if total is None:
            line.problem("base_price_money", "a line needs base_price_money or total_money")
            return None
        price = total  # custom amounts without a base price: the line total
    if quantity is None:
        return None
    return _new_line_item(
        name=line.text("name") or (ref.item_name if ref else None),
        quantity=quantity,
        unit_price=price,
        product_id=ref.item_id if ref else None,
        variant_id=variation_id,
        sku=ref.sku if ref else None,
        category=ref.category if ref else None,
        description=(ref.description if ref else None) or line.text("note"),
        image_url=ref.image_url if ref else None,
        external_id=line.text("uid"),
        total=total,
    )


@fast_first
def parse_order(
    payload: Any,
    payments: Iterable[Any] = (),
    *,
    connection_id: str = DEFAULT_CONNECTION_ID,
    catalog: Mapping[str, CatalogRef] | None = None,
    store_name: str | None = None,
) -> Order:
    """A Square ``Order`` (with its payments) as an :class:`~commerce_connectors.models.Order`.

    Mapping (the field table of CRM integrations for Square):

    * ``order_number``: the first payment's ``receipt_number`` (what the buyer's
      receipt shows), else the order's ``reference_id``;
    * ``created_at``: the first payment's date/time (the integrations' "payment date →
      order date"), else the order's ``created_at``; ``updated_at``: the newest of the
      order's and its payments' ``updated_at`` (a refund moves it);
    * ``total``: the order's ``total_money``; ``order_url``: the first payment's
      ``receipt_url``; ``email``: the first payment's ``buyer_email_address``;
    * ``status``: :func:`order_status`; ``raw_status``: ``"order:STATE payments:S1,S2"``;
    * lines: ``catalog_object_id`` is the variation; with ``catalog`` (variation id →
      :class:`CatalogRef`) the line gets the item id as ``product_id``, the SKU, the
      item's description, category and image;
    * discounts: Square has no discount *codes*; ``discount_codes`` holds the applied
      discounts' names.

    Args:
        payload: one element of BatchRetrieveOrders / SearchOrders ``orders``.
        payments: the order's Square payments (raw), in any order.
        connection_id: the connection the record belongs to.
        catalog: item information per variation id, for the lines.
        store_name: the location's name (the integrations' "store name").

    Example:
        >>> order = parse_order(
        ...     {"id": "O1", "location_id": "L1", "state": "COMPLETED",
        ...      "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:05Z",
        ...      "total_money": {"amount": 7599, "currency": "USD"},
        ...      "line_items": [{"uid": "u1", "name": "Tea", "quantity": "3",
        ...                      "base_price_money": {"amount": 2533, "currency": "USD"}}]},
        ...     [{"id": "P1", "order_id": "O1", "status": "COMPLETED", "receipt_number": "P1ab",
        ...       "created_at": "2024-05-01T10:00:01Z", "updated_at": "2024-05-01T10:00:02Z",
        ...       "total_money": {"amount": 7599, "currency": "USD"}}])
        >>> order.order_number, str(order.total), order.status.value, order.lines[0].quantity
        ('P1ab', '75.99 USD', 'completed', 3)
    """
    r = _reader(payload, "order")
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    total = _money(r, "total_money", required=True)
    discount = _money(r, "total_discount_money")
    tax = _money(r, "total_tax_money")
    state = r.text("state")
    refs = catalog or {}
    lines = [item for item in (_line(line, refs) for line in r.children("line_items")) if item]
    discount_names: list[str] = []
    for d in r.children("discounts"):
        name = d.text("name")
        if name and name not in discount_names:
            discount_names.append(name)
    fulfillment = r.child("fulfillments[0]") if r.raw("fulfillments[0]") is not None else None
    parsed_payments = _parse_payments(
        r, payments, payload if isinstance(payload, Mapping) else None, connection_id
    )
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    first = parsed_payments[0] if parsed_payments else None
    newest = max([updated, *(p.updated_at for p in parsed_payments)])
    customer_id = r.text("customer_id") or next(
        (p.customer_external_id for p in parsed_payments if p.customer_external_id), None
    )
    email = next(
        (
            p.extra.get("buyer_email_address")
            for p in parsed_payments
            if p.extra.get("buyer_email_address")
        ),
        None,
    )
    customer = None
    if customer_id is not None:
        billing = None
        for p in parsed_payments:
            billing = _address(_reader(p.raw, "payment"), "billing_address") or _address(
                _reader(p.raw, "payment"), "shipping_address"
            )
            if billing is not None:
                break
        customer = _new_customer(
            platform=_PLATFORM,
            connection_id=connection_id,
            external_id=customer_id,
            created_at=created,
            updated_at=newest,
            email=email,
            first_name=billing.first_name if billing else None,
            last_name=billing.last_name if billing else None,
            default_address=billing,
        )
    return _new_order(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=min(first.created_at, newest) if first else created,
        updated_at=newest,
        status=order_status(state, parsed_payments, total),
        raw_status=_raw_status(state, parsed_payments),
        total=total,
        order_number=(first.extra.get("receipt_number") if first else None)
        or r.text("reference_id"),
        email=email,
        customer_external_id=customer_id,
        customer=customer,
        discount_total=discount if discount is not None and discount.amount else None,
        discount_codes=tuple(discount_names),
        shipping_method=fulfillment.text("type") if fulfillment else None,
        order_url=first.receipt_url if first else None,
        lines=tuple(lines),
        tax_total=tax,
        raw_fulfillment_status=fulfillment.text("state") if fulfillment else None,
        store_name=store_name,
        extra={
            "location_id": r.text("location_id"),
            "state": state,
            "reference_id": r.text("reference_id"),
            "order_created_at": created,
            "payment_ids": tuple(p.external_id for p in parsed_payments),
            "payments": tuple(parsed_payments),
            "refunded": tuple(p.refunded_amount for p in parsed_payments if p.refunded_amount),
        },
        raw=payload,
    )


# --------------------------------------------------------------------------- catalog


def is_present_at(obj: Mapping[str, Any], location_id: str) -> bool:
    """Whether a catalog object is available at a location (Square's presence rules).

    ``present_at_all_locations`` (default true) minus ``absent_at_location_ids``, plus
    ``present_at_location_ids``.

    Example:
        >>> is_present_at({"present_at_all_locations": False,
        ...                "present_at_location_ids": ["L1"]}, "L2")
        False
    """
    absent = obj.get("absent_at_location_ids") or ()
    present = obj.get("present_at_location_ids") or ()
    if obj.get("present_at_all_locations", True) is not False:
        return location_id not in absent
    return location_id in present


def _related(related_objects: Iterable[Any] | Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    if isinstance(related_objects, Mapping):
        return {str(k): v for k, v in related_objects.items() if isinstance(v, Mapping)}
    return {str(o["id"]): o for o in related_objects if isinstance(o, Mapping) and "id" in o}


def _get_in(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]…``, or None when a step is missing or not an object."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _image_url(related: Mapping[str, Mapping[str, Any]], ids: Sequence[str]) -> str | None:
    for image_id in ids:
        url = _get_in(related.get(image_id), "image_data", "url")
        if isinstance(url, str) and url:
            return url
    return None


def _category_id(r: PayloadReader) -> str | None:
    return (
        r.text("item_data.categories[0].id")
        or r.text("item_data.reporting_category.id")
        or r.text("item_data.category_id")
    )


def _variations(r: PayloadReader) -> list[PayloadReader]:
    """The item's live variations by ``ordinal`` (an integer; missing sorts as 0).

    The sort is stable, so variations with equal ordinals keep the payload's order.
    """
    live = [v for v in r.children("item_data.variations") if v.raw("is_deleted") is not True]
    ordinals = [v.integer("item_variation_data.ordinal") or 0 for v in live]
    return [v for _, v in sorted(zip(ordinals, live, strict=True), key=lambda pair: pair[0])]


@fast_first
def parse_product(
    payload: Any,
    related_objects: Iterable[Any] | Mapping[str, Any] = (),
    *,
    connection_id: str = DEFAULT_CONNECTION_ID,
) -> Product:
    """A catalog ``ITEM`` (with its variations) as a :class:`~commerce_connectors.models.Product`.

    Args:
        payload: one ``ITEM`` object of SearchCatalogObjects / ListCatalog.
        related_objects: the response's ``related_objects`` (CATEGORY, IMAGE …), as a
            list or a mapping by id: they give the category name and the image URL.
        connection_id: the connection the record belongs to.

    Price and SKU are the first variation's (by ``ordinal``); every variation is a
    :class:`~commerce_connectors.models.ProductVariant`. Variable-priced variations have
    no price (``None``).

    Example:
        >>> p = parse_product(
        ...     {"type": "ITEM", "id": "I1", "updated_at": "2017-10-26T15:41:32.337Z",
        ...      "item_data": {"name": "Tea - Black", "categories": [{"id": "C1"}],
        ...        "variations": [{"type": "ITEM_VARIATION", "id": "V1", "item_variation_data": {
        ...          "name": "Regular", "sku": "TEA-1",
        ...          "price_money": {"amount": 150, "currency": "USD"}}}]}},
        ...     [{"type": "CATEGORY", "id": "C1", "category_data": {"name": "Tea"}}])
        >>> p.name, p.category, p.sku, str(p.price), [v.external_id for v in p.variants]
        ('Tea - Black', 'Tea', 'TEA-1', '1.50 USD', ['V1'])
    """
    r = _reader(payload, "product")
    external_id = r.id("id")
    kind = r.text("type", required=True)
    if kind is not None and kind != "ITEM":
        r.problem("type", f"expected a catalog ITEM, got {kind!r}", kind)
    updated = r.datetime("updated_at", required=True)
    related = _related(related_objects)
    variants: list[ProductVariant] = []
    for v in _variations(r):
        vid = v.text("id", required=True)
        price = _money(v, "item_variation_data.price_money")
        if vid is None:
            continue
        variants.append(
            _new_variant(
                external_id=vid,
                name=v.text("item_variation_data.name"),
                sku=v.text("item_variation_data.sku"),
                price=price,
                image_url=_image_url(related, _strings(v, "item_variation_data.image_ids")),
            )
        )
    category_id = _category_id(r)
    name = _get_in(related.get(category_id) if category_id else None, "category_data", "name")
    category = name if isinstance(name, str) and name else None
    image_url = _image_url(related, _strings(r, "item_data.image_ids")) or next(
        (v.image_url for v in variants if v.image_url), None
    )
    r.check()
    assert external_id is not None
    assert updated is not None
    first = variants[0] if variants else None
    return _new_product(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        # Catalog objects have no created_at: updated_at is the only time Square gives.
        created_at=updated,
        updated_at=updated,
        name=r.text("item_data.name"),
        category=category,
        sku=first.sku if first else None,
        price=first.price if first else None,
        description=r.text("item_data.description_plaintext") or r.text("item_data.description"),
        image_url=image_url,
        url=r.text("item_data.ecom_uri"),
        variants=tuple(variants),
        extra={
            "created_at_known": False,
            "category_id": category_id,
            "version": r.raw("version"),
            "present_at_all_locations": r.raw("present_at_all_locations", True),
            "present_at_location_ids": _strings(r, "present_at_location_ids"),
            "absent_at_location_ids": _strings(r, "absent_at_location_ids"),
            "product_type": r.text("item_data.product_type"),
            "is_archived": r.raw("item_data.is_archived"),
        },
        raw=payload,
    )


def catalog_refs(
    objects: Iterable[Any], related_objects: Iterable[Any] | Mapping[str, Any] = ()
) -> dict[str, CatalogRef]:
    """Variation id → :class:`CatalogRef`, from catalog objects (ITEMs and/or variations).

    Feed it BatchRetrieveCatalogObjects' ``objects`` and ``related_objects``: a
    variation's parent item comes back as a related object.

    Example:
        >>> refs = catalog_refs(
        ...     [{"type": "ITEM_VARIATION", "id": "V1",
        ...       "item_variation_data": {"item_id": "I1", "sku": "S-1"}}],
        ...     [{"type": "ITEM", "id": "I1", "item_data": {"name": "Tea",
        ...       "description": "Black tea"}}])
        >>> refs["V1"]
        CatalogRef(item_id='I1', sku='S-1', item_name='Tea', description='Black tea', category=None, image_url=None)
    """  # noqa: E501
    objs = [o for o in objects if isinstance(o, Mapping)]
    related = _related(related_objects)
    related.update({str(o["id"]): o for o in objs if "id" in o})
    refs: dict[str, CatalogRef] = {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    def ids(value: Any) -> list[str]:
        return [str(i) for i in value] if isinstance(value, list) else []

    def item_info(item: Mapping[str, Any] | None) -> tuple[str | None, ...]:
        if item is None:
            return (None, None, None, None)
        data = _get_in(item, "item_data")
        data = data if isinstance(data, Mapping) else {}
        r = _reader(item, "product")
        cat_id = _category_id(r)
        cat_name = _get_in(related.get(cat_id) if cat_id else None, "category_data", "name")
        return (
            text(data.get("name")),
            text(data.get("description_plaintext")) or text(data.get("description")),
            text(cat_name),
            _image_url(related, ids(data.get("image_ids"))),
        )

    def add(variation: Mapping[str, Any], item: Mapping[str, Any] | None) -> None:
        vdata = _get_in(variation, "item_variation_data")
        vdata = vdata if isinstance(vdata, Mapping) else {}
        item_id = vdata.get("item_id") or (item.get("id") if item else None)
        if item is None and item_id:
            item = related.get(str(item_id))
        name, desc, cat, image = item_info(item)
        image = _image_url(related, ids(vdata.get("image_ids"))) or image
        refs[str(variation["id"])] = CatalogRef(
            item_id=str(item_id) if item_id else None,
            sku=text(vdata.get("sku")),
            item_name=name,
            description=desc,
            category=cat,
            image_url=image,
        )

    for obj in objs:
        if "id" not in obj:
            continue
        if obj.get("type") == "ITEM_VARIATION":
            add(obj, None)
        elif obj.get("type") == "ITEM":
            variations = _get_in(obj, "item_data", "variations")
            for v in variations if isinstance(variations, list) else ():
                if isinstance(v, Mapping) and "id" in v:
                    add(v, obj)
    return refs


# --------------------------------------------------------------------------- locations


@attrs.frozen
class SquareLocation:
    """One Square location (one connection per location).

    Attributes:
        id: the location id (pass it as ``location_id``).
        name: the location's name (the integrations' "store name").
        merchant_id: the seller's id (part of the connection id).
        status: ``ACTIVE`` or ``INACTIVE``.
        currency: the location's ISO 4217 currency.
        business_name: the business name shown to buyers.
        timezone: IANA time zone.
        raw: the Location object as received.
    """

    id: str
    name: str | None = None
    merchant_id: str | None = None
    status: str | None = None
    currency: str | None = None
    business_name: str | None = None
    timezone: str | None = None
    created_at: _dt.datetime | None = None
    raw: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def is_active(self) -> bool:
        """Whether the location is active."""
        return (self.status or "ACTIVE").upper() == "ACTIVE"


@fast_first
def parse_location(payload: Any) -> SquareLocation:
    """A Square ``Location`` object as a :class:`SquareLocation`.

    Example:
        >>> parse_location({"id": "18YC4JDH91E1H", "name": "Grant Park",
        ...                 "merchant_id": "3MYCJG5GVYQ8Q", "currency": "USD"}).merchant_id
        '3MYCJG5GVYQ8Q'
    """
    r = _reader(payload, "location")
    location_id = r.id("id")
    created = r.datetime("created_at")
    r.check()
    assert location_id is not None
    return SquareLocation(
        id=location_id,
        name=r.text("name"),
        merchant_id=r.text("merchant_id"),
        status=r.text("status"),
        currency=r.text("currency"),
        business_name=r.text("business_name"),
        timezone=r.text("timezone"),
        created_at=created,
        raw=payload,
    )
