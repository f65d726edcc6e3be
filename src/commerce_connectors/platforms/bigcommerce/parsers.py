"""Pure parsers: one BigCommerce JSON object in, one canonical record out.

No network, no clock. Each parser reads its payload through a
:class:`~commerce_connectors._parsing.PayloadReader`, so a bad payload raises
one :class:`~commerce_connectors.errors.InvalidRecordError` listing every bad
field with its JSON path, and carrying the payload.

The shapes differ by API version, and the parsers follow them exactly:

* v2 orders: money as **4-decimal strings** (``"361.9500"``), dates in
  **RFC 2822** (``"Wed, 10 Jan 2018 21:05:30 +0000"``), guests with
  ``customer_id`` 0 and their email only in ``billing_address.email``. Line
  items and shipping methods come inside the order when it was listed with
  ``include=consignments.line_items&consignment_structure=object`` (its
  consignments), or from the sub-resources passed to :func:`parse_order`
  alongside it; coupons are always a sub-resource.
* v3 customers, catalog and carts: money as **JSON numbers** (read through
  their shortest ``repr``, so ``7.95`` is ``Decimal('7.95')``, never a binary
  float), dates in ISO 8601. v3 catalog prices carry no currency: the store's
  currency is passed in.

Emails and phones are kept exactly as given; the rules normalise them.

Example:
    >>> order = parse_order(
    ...     {"id": 100, "customer_id": 0, "status_id": 11, "status": "Awaiting Fulfillment",
    ...      "date_created": "Wed, 10 Jan 2018 21:05:30 +0000",
    ...      "date_modified": "Wed, 05 Dec 2018 20:16:55 +0000",
    ...      "currency_code": "USD", "total_inc_tax": "361.9500",
    ...      "billing_address": {"first_name": "Jane", "email": "Jane@Example.com"}},
    ...     products=[{"id": 1, "product_id": 77, "name": "Towel", "quantity": 2,
    ...                "price_inc_tax": "55.9900"}],
    ...     connection_id="bigcommerce:abc123")
    >>> order.total, order.status.value, order.customer.is_guest, order.email
    (Money(amount=Decimal('361.9500'), currency='USD'), 'paid', True, 'Jane@Example.com')
    >>> order.lines[0].unit_price.amount, order.created_at.isoformat()
    (Decimal('55.9900'), '2018-01-10T21:05:30+00:00')
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from ..._parsing import PayloadReader, fast_first, reader_type
from ...models import (
    Address,
    Cart,
    Customer,
    LineItem,
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
from .constants import GUEST_CUSTOMER_ID, MARKETING_CONSENT, ORDER_STATUSES, PLATFORM_NAME

__all__ = [
    "consignment_lines",
    "consignment_shipping",
    "parse_cart",
    "parse_customer",
    "parse_order",
    "parse_product",
]

_PLATFORM = Platform.BIGCOMMERCE
_DEFAULT_CONNECTION = "bigcommerce"
_ABSENT = object()


def _reader(payload: Any, kind: str) -> PayloadReader:
    return reader_type(PayloadReader)(payload, platform=PLATFORM_NAME, kind=kind)


def _sub_reader(payload: Any, parent: PayloadReader, base: str) -> PayloadReader:
    """A reader over a sub-resource object whose problems join the parent's.

    Problems are reported with paths such as ``$products[1].price_inc_tax``: the
    sub-resources are not inside the order payload, so the prefix names them.
    """
    return reader_type(PayloadReader)(
        payload, platform=PLATFORM_NAME, kind=parent.kind, base=base, problems=parent.problems
    )


def _v2_address(r: PayloadReader) -> Address:
    """A v2 address (order billing or shipping address)."""
    return _new_address(
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        company=r.text("company"),
        phone=r.text("phone"),
        line1=r.text("street_1"),
        line2=r.text("street_2"),
        city=r.text("city"),
        province=r.text("state"),
        postal_code=r.text("zip"),
        country_code=r.text("country_iso2"),
    )


def _v3_address(r: PayloadReader) -> Address:
    """A v3 customer address-book entry."""
    return _new_address(
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        company=r.text("company"),
        phone=r.text("phone"),
        line1=r.text("address1"),
        line2=r.text("address2"),
        city=r.text("city"),
        province=r.text("state_or_province"),
        postal_code=r.text("postal_code"),
        country_code=_country_code(r.text("country_code")),
    )


def _country_code(value: str | None) -> str | None:
    # The v3 schema example has "st" and "US" in odd places; keep only two-letter codes.
    if value is None or len(value.strip()) != 2 or not value.strip().isalpha():
        return None
    return value


def _id_or_none(r: PayloadReader, path: str) -> str | None:
    """An id where 0 or a missing value means "none" (custom products, guests)."""
    value = r.integer(path)
    return None if value is None or value == 0 else str(value)


# --------------------------------------------------------------------------- customers


def _subscriber_evidence(r: PayloadReader) -> dict[str, Any]:
    """A v3 subscriber as consent evidence (read before ``check``; problems join the customer's).

    ``consents`` is ``None`` when the subscriber carries no ``consents`` list at all:
    an absent list says nothing, unlike an empty one.
    """
    consents: tuple[str, ...] | None = None
    raw = r.raw("consents", _ABSENT)
    if raw is not _ABSENT:
        if isinstance(raw, list):
            values = [r.text(f"consents[{n}]") for n in range(len(raw))]
            consents = tuple(v for v in values if v is not None)
        else:
            r.problem("consents", "expected a list of consent names", raw)
    created = r.datetime("date_created")
    modified = r.datetime("date_modified")
    return {
        "id": r.text("id"),
        "email": r.text("email"),
        "consents": consents,
        "source": r.text("source"),
        "order_id": r.integer("order_id"),
        "channel_id": r.integer("channel_id"),
        "date_created": created.isoformat() if created else None,
        "date_modified": modified.isoformat() if modified else None,
    }


@fast_first
def parse_customer(
    payload: Any,
    *,
    subscriber: Mapping[str, Any] | None = None,
    connection_id: str = _DEFAULT_CONNECTION,
) -> Customer:
    """A v3 customer object (``GET /v3/customers?include=addresses``) as a Customer.

    Consent comes from the store's newsletter list, the Subscribers API
    (``GET /v3/customers/subscribers``), matched to the customer by e-mail address;
    the connector looks the subscriber up and passes it as ``subscriber``:

    * a subscriber whose ``consents`` holds ``marketing_newsletter``:
      ``accepts_marketing=True``;
    * a subscriber without it (an empty list means "unsubscribed or didn't enable the
      newsletter subscription checkbox during checkout", so it is not an explicit
      no), or no subscriber at all: ``None``, unknown. Nobody is subscribed on
      ``None``, and no "no" is invented.

    The subscriber is kept in ``extra["subscriber"]`` (``id``, ``email``,
    ``consents``, ``source``, ``order_id``, ``channel_id``, ``date_created``,
    ``date_modified``, dates as ISO 8601 UTC), which is where the BigCommerce consent
    rule reads the choice and its time. ``updated_at`` is the later of the customer's
    and the subscriber's ``date_modified``: a consent change is a change of the
    customer record, so incremental syncs pick it up. A malformed subscriber makes
    the customer invalid, with paths such as ``$subscriber.consents``.

    The v3 flag ``accepts_product_review_abandoned_cart_emails``, and its v2 name
    ``accepts_marketing`` ("whether the customer accepts product review emails or
    abandon cart emails"), are about review and abandoned-cart e-mails, not marketing:
    the value is kept in ``extra["accepts_product_review_abandoned_cart_emails"]`` for
    field maps that want it, and never read as consent.

    BigCommerce customers have no tags; the rules add ``bigcommerce-customer``.

    Args:
        payload: one element of the v3 response's ``data`` list.
        subscriber: the customer's subscriber (one element of the Subscribers API's
            ``data`` list), or ``None`` when there is none or it was not looked up.
        connection_id: the connection the record belongs to (``bigcommerce:<hash>``).

    Raises:
        InvalidRecordError: a required field is missing or a field has the wrong type.

    Example:
        >>> c = parse_customer({"id": 7, "email": " Jane@Example.com ", "first_name": "Jane",
        ...                     "date_created": "2024-05-14T09:34:00Z",
        ...                     "date_modified": "2024-05-15T10:00:00+00:00",
        ...                     "accepts_product_review_abandoned_cart_emails": True,
        ...                     "addresses": [{"phone": "555-123-4567", "country_code": "US"}]})
        >>> c.email, c.accepts_marketing, c.addresses[0].phone, c.tags
        (' Jane@Example.com ', None, '555-123-4567', ())
        >>> s = parse_customer({"id": 7, "email": "jane@example.com",
        ...                     "date_created": "2024-05-14T09:34:00Z",
        ...                     "date_modified": "2024-05-15T10:00:00Z"},
        ...                    subscriber={"id": 3, "email": "jane@example.com",
        ...                                "consents": ["marketing_newsletter"],
        ...                                "date_modified": "2024-06-01T08:00:00Z"})
        >>> s.accepts_marketing, s.extra["subscriber"]["consents"], s.updated_at.isoformat()
        (True, ('marketing_newsletter',), '2024-06-01T08:00:00+00:00')
    """
    r = _reader(payload, "customer")
    external_id = r.id("id")
    created = r.datetime("date_created", required=True)
    updated = r.datetime("date_modified", required=True)
    addresses = tuple(_v3_address(a) for a in r.children("addresses"))
    review_emails = r.boolean("accepts_product_review_abandoned_cart_emails")
    if review_emails is None:
        review_emails = r.boolean("accepts_marketing")  # the v2 name of the same flag
    group = r.integer("customer_group_id")
    evidence = (
        _subscriber_evidence(_sub_reader(subscriber, r, "$subscriber"))
        if subscriber is not None
        else None
    )
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    extra: dict[str, Any] = {}
    if review_emails is not None:
        extra["accepts_product_review_abandoned_cart_emails"] = review_emails
    if group is not None:
        extra["customer_group_id"] = group
    accepts: bool | None = None
    if evidence is not None:
        extra["subscriber"] = evidence
        if MARKETING_CONSENT in (evidence["consents"] or ()):
            accepts = True
        if evidence["date_modified"] is not None:
            updated = max(updated, _dt.datetime.fromisoformat(evidence["date_modified"]))
    return _new_customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        email=r.text("email"),
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        phone=r.text("phone"),
        company=r.text("company"),
        accepts_marketing=accepts,
        # v3 address books have no "default" flag: every entry goes to addresses,
        # and the phone chain tries them in order.
        default_address=None,
        addresses=addresses,
        is_guest=False,
        extra=extra,
        raw=payload,
    )


# --------------------------------------------------------------------------- orders


def _order_status(status_id: int | None) -> OrderStatus:
    if status_id is None:
        return OrderStatus.UNKNOWN
    return ORDER_STATUSES.get(status_id, OrderStatus.UNKNOWN)


def _read_buyer(r: PayloadReader) -> dict[str, Any]:
    """Read the buyer's details from a v2 order's billing address (before ``check``)."""
    billing = r.child("billing_address")
    opt_in = r.boolean("is_email_opt_in")
    return {
        "email": billing.text("email"),
        "first_name": billing.text("first_name"),
        "last_name": billing.text("last_name"),
        "company": billing.text("company"),
        # The checkout's opt-in box: ticked is a yes; unticked says nothing.
        "accepts_marketing": True if opt_in else None,
        "addresses": (_v2_address(billing),) if billing.payload else (),
    }


def _buyer(
    fields: Mapping[str, Any],
    *,
    payload: Any,
    order_id: str,
    customer_id: int | None,
    created: _dt.datetime,
    updated: _dt.datetime,
    connection_id: str,
) -> Customer:
    """The buyer as a Customer, guests included (``customer_id`` 0)."""
    guest = customer_id is None or customer_id == GUEST_CUSTOMER_ID
    return _new_customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        # A guest has no customer id (0); an id per order keeps guests apart in sinks.
        external_id=f"guest-order-{order_id}" if guest else str(customer_id),
        created_at=created,
        updated_at=updated,
        is_guest=guest,
        raw=payload,
        **fields,
    )


def _order_line(
    line: PayloadReader,
    currency: str | None,
    categories: Mapping[str, str],
    images: Mapping[str, str],
) -> LineItem | None:
    price = line.money("price_inc_tax", currency, required=True)
    quantity = line.integer("quantity", required=True, negative=False)
    total = line.money("total_inc_tax", currency)
    product_id = _id_or_none(line, "product_id")
    if price is None or quantity is None:
        return None
    return _new_line_item(
        name=line.text("name"),
        quantity=quantity,
        unit_price=price,
        product_id=product_id,
        variant_id=_id_or_none(line, "variant_id"),
        sku=line.text("sku"),
        category=categories.get(product_id) if product_id else None,
        image_url=images.get(product_id) if product_id else None,
        external_id=line.text("id"),
        total=total,
    )


#: The consignment lists of ``orderConsignment_Get`` (orders.v2.oas2.yml): pickups,
#: shipping, downloads (digital products) and the e-mails of gift certificates.
CONSIGNMENT_KINDS = ("pickups", "shipping", "downloads", "email.gift_certificates")


def _consignments(payload: Any) -> list[tuple[str, Mapping[str, Any]]] | None:
    """Every consignment of an order as ``(JSON path, consignment)``, or ``None``.

    ``None`` when the order carries no consignment object: it was listed without
    ``include=consignments`` (``consignments`` is then a ``{url, resource}`` link) or
    without ``consignment_structure=object``.
    """
    raw = payload.get("consignments") if _is_mapping(payload) else None
    if not _is_mapping(raw) or "url" in raw or "resource" in raw:
        return None
    found: list[tuple[str, Mapping[str, Any]]] = []
    for kind, keys in _CONSIGNMENT_KEYS:
        node: Any = raw
        for key in keys:
            node = node.get(key) if _is_mapping(node) else None
        if isinstance(node, list):
            prefix = f"consignments.{kind}["
            found.extend(
                (f"{prefix}{n}]", item) for n, item in enumerate(node) if _is_mapping(item)
            )
    return found


#: CONSIGNMENT_KINDS with each one's keys, split once.
_CONSIGNMENT_KEYS = tuple((kind, tuple(kind.split("."))) for kind in CONSIGNMENT_KINDS)


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, without the abstract-class check for a JSON object."""
    return type(value) is dict or isinstance(value, Mapping)


def consignment_lines(payload: Any) -> list[tuple[str, Any]] | None:
    """The line items an order's consignments carry, as ``(JSON path, line item)``.

    With ``include=consignments.line_items&consignment_structure=object``, each
    consignment's ``line_items`` is the list of its order products: the very objects
    ``GET /orders/{id}/products`` lists. They are returned from every kind of
    consignment (:data:`CONSIGNMENT_KINDS`), each line once, ordered by line ``id`` (the
    order ``/products`` lists them in); a line without an integer id comes last.

    Returns ``None`` when the payload does not carry the lines: no consignment object,
    or a consignment whose ``line_items`` are ``{url, resource}`` links (listed with
    ``include=consignments`` only) or not a list. Whether every line of the order is
    there is the caller's question (the connector compares the quantities with
    ``items_total``).

    Example:
        >>> order = {"consignments": {
        ...     "shipping": [{"line_items": [{"id": 12, "quantity": 1}]}],
        ...     "downloads": [{"line_items": [{"id": 11, "quantity": 2}]}],
        ...     "pickups": [], "email": {"gift_certificates": []}}}
        >>> [(path, line["id"]) for path, line in consignment_lines(order)]
        [('consignments.downloads[0].line_items[0]', 11), ('consignments.shipping[0].line_items[0]', 12)]
        >>> consignment_lines({"consignments": {"url": "https://...", "resource": "/orders/1/consignments"}}) is None
        True
    """  # noqa: E501
    return _lines_of(_consignments(payload))


def _lines_of(
    consignments: list[tuple[str, Mapping[str, Any]]] | None,
) -> list[tuple[str, Any]] | None:
    """:func:`consignment_lines` of consignments already found."""
    if consignments is None:
        return None
    lines: dict[Any, tuple[str, Any]] = {}
    all_ids = True
    for path, consignment in consignments:
        items = consignment.get("line_items", [])
        if not isinstance(items, list):
            return None
        for n, item in enumerate(items):
            if not _is_mapping(item) or "resource" in item or "url" in item:
                return None  # a link to the line, not the line
            key = item.get("id")
            if type(key) is not int and (isinstance(key, bool) or not isinstance(key, int)):
                key = (path, n)  # no usable id: kept, never merged with another
                all_ids = False
            lines.setdefault(key, (f"{path}.line_items[{n}]", item))
    if all_ids:  # integers only: their own order is the order of the keys below
        return [lines[key] for key in sorted(lines)]
    return [
        lines[key]
        for key in sorted(lines, key=lambda k: (0, k, "") if isinstance(k, int) else (1, 0, k))
    ]


def consignment_shipping(payload: Any) -> list[tuple[str, Any]] | None:
    """An order's shipping consignments, as ``(JSON path, consignment)``; ``None`` without
    a consignment object.

    A shipping consignment is the shipping address with its ``shipping_method`` and its
    line items: what ``GET /orders/{id}/shipping_addresses`` lists, one per address.

    Example:
        >>> consignment_shipping({"consignments": {"shipping": [{"id": 9,
        ...     "shipping_method": "Flat Rate"}], "pickups": []}})
        [('consignments.shipping[0]', {'id': 9, 'shipping_method': 'Flat Rate'})]
    """
    return _of_kind(_consignments(payload), "shipping")


def _of_kind(
    consignments: list[tuple[str, Mapping[str, Any]]] | None, kind: str
) -> list[tuple[str, Any]] | None:
    """The consignments of one kind (``shipping``, ``pickups`` ...) among those found."""
    if consignments is None:
        return None
    prefix = f"consignments.{kind}["
    return [(p, item) for p, item in consignments if p.startswith(prefix)]


@fast_first
def parse_order(
    payload: Any,
    *,
    products: Sequence[Any] | None = None,
    shipping_addresses: Sequence[Any] | None = None,
    coupons: Sequence[Any] | None = None,
    product_categories: Mapping[str, str] | None = None,
    product_images: Mapping[str, str] | None = None,
    store_name: str | None = None,
    connection_id: str = _DEFAULT_CONNECTION,
) -> Order:
    """A v2 order (``GET /v2/orders``) and its sub-resources as an Order.

    Amounts are the tax-inclusive ones (``total_inc_tax``, ``price_inc_tax``) in the
    order's transactional currency, ``default_currency_code`` ("the currency the shopper
    pays in"; ``currency_code`` is only the display currency, used when the other is
    missing).
    ``discount_total`` is ``discount_amount + coupon_discount``: in the documented
    example both are subtracted from the total. The shipping method comes from the
    shipping addresses (several methods are joined with ``", "``), then the pickup
    consignments' ``pickup_method_display_name``; the discount codes from the coupons.
    ``extra["cart_id"]`` is the order's ``cart_id`` ("the cart ID from which this order
    originated"), the v3 cart UUID that is that cart's :func:`parse_cart`
    ``external_id``.

    **Consignments.** An order listed with
    ``include=consignments.line_items&consignment_structure=object`` carries its lines
    and shipping addresses in ``consignments`` (pickups, shipping, downloads, gift
    certificates: :func:`consignment_lines`, :func:`consignment_shipping`). When
    ``products`` (or ``shipping_addresses``) is ``None``, they are read from there, with
    problems reported at their place in the payload
    (``$.consignments.shipping[0].line_items[1].price_inc_tax``); a list passed in wins.

    Args:
        payload: the v2 order object exactly as the API returned it (kept as ``raw``).
        products: the ``/orders/{id}/products`` list (the line items); ``None``: the
            lines of the order's consignments, if it carries them.
        shipping_addresses: the ``/orders/{id}/shipping_addresses`` list; ``None``: the
            order's shipping consignments, if it carries them.
        coupons: the ``/orders/{id}/coupons`` list.
        product_categories: product id → category name, for the lines' ``category``.
        product_images: product id → image URL, for the lines' ``image_url``.
        store_name: the store's name, when known.
        connection_id: the connection the record belongs to.

    Raises:
        InvalidRecordError: every bad field of the order and of its sub-resources
            (paths like ``$products[1].price_inc_tax``), with the order payload.

    Example:
        >>> o = parse_order({"id": 5, "customer_id": 11, "status_id": 4, "status": "Refunded",
        ...                  "date_created": "Tue, 05 Mar 2019 21:40:11 +0000",
        ...                  "date_modified": "Mon, 11 Mar 2019 15:17:25 +0000",
        ...                  "currency_code": "EUR", "total_inc_tax": "69.8400",
        ...                  "discount_amount": "5.0000", "coupon_discount": "5.0000"},
        ...                 coupons=[{"code": "S2549JM0Y"}],
        ...                 shipping_addresses=[{"shipping_method": "Flat Rate"}])
        >>> o.status.value, o.discount_total, o.discount_codes, o.shipping_method
        ('refunded', Money(amount=Decimal('10.0000'), currency='EUR'), ('S2549JM0Y',), 'Flat Rate')
    """
    r = _reader(payload, "order")
    external_id = r.id("id")
    created = r.datetime("date_created", required=True)
    updated = r.datetime("date_modified", required=True)
    # The amounts are in the transactional currency, the one the shopper pays in:
    # ``default_currency_code``. ``currency_code`` is the storefront's display currency,
    # which can differ on multi-currency stores; it is only the fallback.
    currency = (
        r.currency("default_currency_code")
        if r.text("default_currency_code")
        else r.currency("currency_code")
    )
    total = r.money("total_inc_tax", currency, required=True)
    status_id = r.integer("status_id", required=True)
    customer_id = r.integer("customer_id")
    # In the documented example both are subtracted from the total: the order's
    # discount is their sum (a present "0.0000" keeps its scale).
    discount_total = r.money_sum(("discount_amount", "coupon_discount"), currency)
    subtotal = r.money("subtotal_inc_tax", currency)
    shipping_total = r.money("shipping_cost_inc_tax", currency)
    tax_total = r.money("total_tax", currency)
    refunded = r.money("refunded_amount", currency)
    is_deleted = r.boolean("is_deleted")
    opt_in = r.boolean("is_email_opt_in")
    cart_id = r.text("cart_id")
    buyer_fields = _read_buyer(r)

    categories = product_categories or {}
    images = product_images or {}
    consignments = _consignments(payload)
    line_readers = (
        [_sub_reader(item, r, f"$products[{n}]") for n, item in enumerate(products)]
        if products is not None
        else [r.child(path) for path, _ in _lines_of(consignments) or ()]
    )
    lines: list[LineItem] = []
    for line_reader in line_readers:
        line = _order_line(line_reader, currency, categories, images)
        if line is not None:
            lines.append(line)
    address_readers = (
        [
            _sub_reader(item, r, f"$shipping_addresses[{n}]")
            for n, item in enumerate(shipping_addresses)
        ]
        if shipping_addresses is not None
        else [r.child(path) for path, _ in _of_kind(consignments, "shipping") or ()]
    )
    methods: list[str] = []
    for address in address_readers:
        method = address.text("shipping_method")
        if method is not None and method not in methods:
            methods.append(method)
    for path, _ in _of_kind(consignments, "pickups") or ():
        method = r.text(f"{path}.pickup_method_display_name")
        if method is not None and method not in methods:
            methods.append(method)
    codes: list[str] = []
    for index, item in enumerate(coupons or ()):
        code = _sub_reader(item, r, f"$coupons[{index}]").text("code")
        if code is not None and code not in codes:
            codes.append(code)

    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    assert currency is not None
    extra: dict[str, Any] = {"status_id": status_id}
    for key in ("payment_status", "payment_method", "channel_id", "order_source"):
        value = r.raw(key)
        if value not in (None, ""):
            extra[key] = value
    if cart_id is not None:
        extra["cart_id"] = cart_id
    if refunded is not None:
        extra["refunded_amount"] = refunded
    if is_deleted is not None:
        extra["is_deleted"] = is_deleted
    if opt_in is not None:
        extra["is_email_opt_in"] = opt_in
    buyer = _buyer(
        buyer_fields,
        payload=payload,
        order_id=external_id,
        customer_id=customer_id,
        created=created,
        updated=updated,
        connection_id=connection_id,
    )
    return _new_order(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        status=_order_status(status_id),
        raw_status=r.text("status") or r.text("custom_status"),
        total=total,
        # BigCommerce order numbers are the order ids.
        order_number=external_id,
        email=buyer.email,
        customer_external_id=None if buyer.is_guest else buyer.external_id,
        customer=buyer,
        discount_total=discount_total,
        discount_codes=tuple(codes),
        shipping_method=", ".join(methods) or None,
        lines=tuple(lines),
        subtotal=subtotal,
        shipping_total=shipping_total,
        tax_total=tax_total,
        store_name=store_name,
        extra=extra,
        raw=payload,
    )


# --------------------------------------------------------------------------- products


@fast_first
def parse_product(
    payload: Any,
    *,
    currency: str,
    categories: Mapping[str, str] | None = None,
    store_url: str | None = None,
    connection_id: str = _DEFAULT_CONNECTION,
) -> Product:
    """A v3 catalog product (``include=variants,images``) as a Product.

    ``category`` is the names of the product's categories, resolved from their ids
    with ``categories`` and joined with ``", "`` in the product's order (ids that
    cannot be resolved are left out; the ids stay in ``extra["category_ids"]``).
    ``sku`` is the product's, or its base variant's when the product has none.
    ``image_url`` is the thumbnail image's standard URL (else the first image).

    Args:
        payload: one element of the v3 response's ``data`` list.
        currency: the store's currency (v3 catalog prices carry none).
        categories: category id → name (from ``/v3/catalog/categories``).
        store_url: the storefront's base URL, to build ``url`` from ``custom_url``.
        connection_id: the connection the record belongs to.

    Example:
        >>> p = parse_product({"id": 174, "name": "1L Le Parfait Jar", "sku": "", "price": 7.95,
        ...                    "categories": [23, 21], "base_variant_id": 345,
        ...                    "variants": [{"id": 345, "sku": "JAR-1L", "price": 7.95}],
        ...                    "custom_url": {"url": "/all/1l-le-parfait-jar/"},
        ...                    "date_created": "2018-08-15T14:48:46+00:00",
        ...                    "date_modified": "2018-09-05T20:42:07+00:00"},
        ...                   currency="USD", categories={"23": "Shop All", "21": "Kitchen"},
        ...                   store_url="https://shop.example.com")
        >>> p.price, p.category, p.sku, p.url
        (Money(amount=Decimal('7.95'), currency='USD'), 'Shop All, Kitchen', 'JAR-1L', 'https://shop.example.com/all/1l-le-parfait-jar/')
    """
    r = _reader(payload, "product")
    external_id = r.id("id")
    created = r.datetime("date_created", required=True)
    updated = r.datetime("date_modified", required=True)
    price = r.money("price", currency)
    category_ids: list[str] = []
    raw_categories = r.raw("categories", [])
    if isinstance(raw_categories, list):
        for index in range(len(raw_categories)):
            value = r.integer(f"categories[{index}]")
            if value is not None:
                category_ids.append(str(value))
    else:
        r.problem("categories", "expected a list of category ids", raw_categories)
    base_variant = r.text("base_variant_id")
    variants: list[ProductVariant] = []
    base_sku: str | None = None
    for v in r.children("variants"):
        variant_id = v.text("id", required=True)
        variant_price = v.money("price", currency)
        sku = v.text("sku")
        labels = [
            text for ov in v.children("option_values") if (text := ov.text("label")) is not None
        ]
        if variant_id is not None:
            if variant_id == base_variant:
                base_sku = sku
            variants.append(
                _new_variant(
                    external_id=variant_id,
                    name=" / ".join(labels) or None,
                    sku=sku,
                    price=variant_price,
                    image_url=v.text("image_url"),
                )
            )
    image_url: str | None = None
    for image in r.children("images"):
        url = image.text("url_standard") or image.text("url_zoom")
        if image_url is None or image.boolean("is_thumbnail"):
            image_url = url or image_url
    if image_url is None:
        image_url = r.text("primary_image.url_standard")
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    names = categories or {}
    category = ", ".join(names[c] for c in category_ids if c in names) or None
    path = r.text("custom_url.url")
    url = f"{store_url.rstrip('/')}{path}" if store_url and path else None
    return _new_product(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        name=r.text("name"),
        category=category,
        sku=r.text("sku") or base_sku or (variants[0].sku if len(variants) == 1 else None),
        price=price,
        description=r.text("description"),
        image_url=image_url,
        url=url,
        variants=tuple(variants),
        extra={"category_ids": tuple(category_ids), "type": r.text("type")},
        raw=payload,
    )


# --------------------------------------------------------------------------- carts

_ITEM_KINDS = ("physical_items", "digital_items", "custom_items", "gift_certificates")


def _cart_line(item: PayloadReader, kind: str, currency: str | None) -> LineItem | None:
    quantity = item.integer("quantity", required=True, negative=False)
    if kind == "gift_certificates":
        price = item.money("amount", currency, required=True)
        total = None
    elif kind == "custom_items":
        price = item.money("list_price", currency, required=True)
        total = item.money("extended_list_price", currency)
    else:
        # sale_price is what the shopper pays per unit, after product-level sales.
        price = item.money("sale_price", currency, required=True)
        total = item.money("extended_sale_price", currency)
    if price is None or quantity is None:
        return None
    return _new_line_item(
        name=item.text("name"),
        quantity=quantity,
        unit_price=price,
        product_id=_id_or_none(item, "product_id"),
        variant_id=_id_or_none(item, "variant_id"),
        sku=item.text("sku"),
        image_url=item.text("image_url"),
        external_id=item.text("id"),
        total=total,
    )


@fast_first
def parse_cart(
    payload: Any, *, store_name: str | None = None, connection_id: str = _DEFAULT_CONNECTION
) -> Cart:
    """A v3 cart (the ``data`` object of ``GET /v3/carts/{id}``) as a Cart.

    BigCommerce cannot list carts: this parser serves the webhook path
    (``store/cart/abandoned`` → fetch the cart by id). ``total`` is ``cart_amount``
    (line items less cart-level discounts and coupons, taxes included where
    applicable). Line items of every kind (physical, digital, custom, gift
    certificates) become lines. A ``customer_id`` of 0 is a guest shopper.
    ``external_id`` is the cart's UUID, which the order it becomes keeps as
    ``cart_id`` (``Order.extra["cart_id"]``); the cart names no order (it is deleted
    on conversion). ``store_name`` is the store's name, when known.

    Example:
        >>> cart = parse_cart({"id": "bc218c65", "customer_id": 0, "email": "a@example.com",
        ...                    "currency": {"code": "USD"}, "cart_amount": 212.81,
        ...                    "line_items": {"physical_items": [
        ...                        {"id": "6e19", "product_id": 191, "variant_id": 362,
        ...                         "name": "Openhouse No. 3", "quantity": 5, "sale_price": 27.95,
        ...                         "extended_sale_price": 139.75}]},
        ...                    "created_time": "2018-09-17T14:27:39.000Z",
        ...                    "updated_time": "2018-09-17T14:53:40.000Z"})
        >>> cart.total, cart.lines[0].unit_price.amount, cart.customer.is_guest
        (Money(amount=Decimal('212.81'), currency='USD'), Decimal('27.95'), True)
    """
    r = _reader(payload, "cart")
    external_id = r.id("id")
    created = r.datetime("created_time", required=True)
    updated = r.datetime("updated_time", required=True)
    currency = r.currency("currency.code")
    total = r.money("cart_amount", currency, required=True)
    base_amount = r.money("base_amount", currency)
    discount = r.money("discount_amount", currency)
    customer_id = r.integer("customer_id")
    lines: list[LineItem] = []
    items = r.child("line_items")
    for kind in _ITEM_KINDS:
        for item in items.children(kind):
            line = _cart_line(item, kind, currency)
            if line is not None:
                lines.append(line)
    codes = [code for c in r.children("coupons") if (code := c.text("code")) is not None]
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    guest = customer_id is None or customer_id == GUEST_CUSTOMER_ID
    email = r.text("email")
    buyer = _new_customer(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=f"guest-cart-{external_id}" if guest else str(customer_id),
        created_at=created,
        updated_at=updated,
        email=email,
        is_guest=guest,
        raw=payload,
    )
    extra: dict[str, Any] = {"coupon_codes": tuple(codes)}
    if base_amount is not None:
        extra["base_amount"] = base_amount
    if discount is not None:
        extra["discount_amount"] = discount
    return _new_cart(
        platform=_PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        total=total,
        email=email,
        customer_external_id=None if guest else str(customer_id),
        customer=buyer,
        lines=tuple(lines),
        store_name=store_name,
        extra=extra,
        raw=payload,
    )
