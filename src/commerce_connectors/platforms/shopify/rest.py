"""Pure parsers for Shopify's REST / webhook JSON shape.

Each takes one record exactly as ``GET /admin/api/<version>/orders.json`` (one
element of ``orders``) or an ``orders/create`` webhook delivers it, and returns
the canonical record. No network, no clock. Every bad field is reported at once
with its JSON path (:class:`~commerce_connectors.errors.InvalidRecordError`).

Example:
    >>> order = parse_order({
    ...     "id": 450789469, "name": "#1001", "email": "Bob@Example.com ",
    ...     "created_at": "2024-10-04T11:00:00-05:00", "updated_at": "2024-10-04T11:00:00-05:00",
    ...     "currency": "USD", "total_price": "598.94", "financial_status": "paid",
    ...     "line_items": [{"id": 1, "product_id": 632910392, "title": "IPod Nano",
    ...                     "quantity": 1, "price": "199.00", "sku": "IPOD2008GREEN"}],
    ... }, shop="acme.myshopify.com")
    >>> order.total, order.status.value, order.order_url
    (Money(amount=Decimal('598.94'), currency='USD'), 'paid', 'https://acme.myshopify.com/admin/orders/450789469')
    >>> order.customer.is_guest, order.customer.email
    (True, 'Bob@Example.com ')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._parsing import PayloadReader, fast_first, reader_type
from ...models import (
    Address,
    Cart,
    Customer,
    LineItem,
    Money,
    Order,
    Product,
    _new_address,
    _new_cart,
    _new_customer,
    _new_line_item,
    _new_order,
    _new_product,
    _new_variant,
)
from ._shared import (
    DEFAULT_OPTIONS,
    PLATFORM,
    PLATFORM_NAME,
    ParseOptions,
    buyer_contact,
    connection_id_for,
    consent_from_state,
    first_text,
    order_status,
    order_url,
    product_url,
    split_tags,
)

__all__ = ["parse_cart", "parse_customer", "parse_order", "parse_product"]


def _reader(payload: Any, kind: str) -> PayloadReader:
    return reader_type(PayloadReader)(payload, platform=PLATFORM_NAME, kind=kind)


def _address(r: PayloadReader, path: str) -> Address | None:
    if not isinstance(r.raw(path), dict):
        return None
    a = r.child(path)
    return _new_address(
        first_name=a.text("first_name"),
        last_name=a.text("last_name"),
        company=a.text("company"),
        phone=a.text("phone"),
        line1=a.text("address1"),
        line2=a.text("address2"),
        city=a.text("city"),
        province=a.text("province"),
        postal_code=a.text("zip"),
        country_code=a.text("country_code"),
    )


def _money(
    r: PayloadReader, field: str, currency: str | None, options: ParseOptions, *, required: bool
) -> Money | None:
    """``field`` in the shop currency, or ``field_set.presentment_money`` when configured."""
    if options.money == "presentment" and isinstance(r.raw(f"{field}_set"), dict):
        base = f"{field}_set.presentment_money"
        return r.money(f"{base}.amount", r.currency(f"{base}.currency_code"), required=True)
    return r.money(field, currency, required=required)


def _money_set(r: PayloadReader, field: str, options: ParseOptions) -> Money | None:
    """A ``*_set`` amount (``{"shop_money": {...}, "presentment_money": {...}}``) only."""
    if not isinstance(r.raw(field), dict):
        return None
    base = f"{field}.{options.money}_money"
    return r.money(f"{base}.amount", r.currency(f"{base}.currency_code"), required=True)


def _customer(
    r: PayloadReader, connection_id: str, *, times: tuple[Any, Any] | None = None
) -> Customer | None:
    """A customer object; ``times`` stands in for the timestamps an embedded one may lack."""
    external_id = r.id("id")
    created = r.datetime("created_at", required=times is None)
    updated = r.datetime("updated_at", required=times is None)
    if times is not None:
        created, updated = created or times[0], updated or times[1]
    address = _address(r, "default_address")
    consent = consent_from_state(r.text("email_marketing_consent.state"))
    if consent is None:
        consent = r.boolean("accepts_marketing")  # legacy field, before 2022-04
    state = r.text("state")
    if external_id is None or created is None or updated is None:
        return None
    return _new_customer(
        platform=PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        email=r.text("email"),
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        phone=r.text("phone"),
        company=address.company if address else None,
        tags=split_tags(r.raw("tags")),
        accepts_marketing=consent,
        default_address=address,
        extra={"state": state.lower()} if state else {},
        raw=r.payload,
    )


@fast_first
def parse_customer(
    payload: Any, *, shop: str | None = None, connection_id: str | None = None
) -> Customer:
    """A REST/webhook customer object as a :class:`~commerce_connectors.models.Customer`.

    The company is the default address's (Shopify has no company on the customer);
    consent comes from ``email_marketing_consent.state`` (then the legacy
    ``accepts_marketing``); tags are split on commas; phones are kept as given.

    Args:
        payload: one customer object.
        shop: the shop's ``*.myshopify.com`` domain (for the connection id).
        connection_id: overrides ``shopify:<shop>``.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the payload.
    """
    r = _reader(payload, "customer")
    customer = _customer(r, connection_id or connection_id_for(shop))
    r.check()
    assert customer is not None
    return customer


def _lines(r: PayloadReader, currency: str | None, options: ParseOptions) -> tuple[LineItem, ...]:
    lines: list[LineItem] = []
    for line in r.children("line_items"):
        price = _money(line, "price", currency, options, required=True)
        quantity = line.integer("quantity", required=True, negative=False)
        if price is None or quantity is None:
            continue
        lines.append(
            _new_line_item(
                name=first_text(line.text("title"), line.text("name")),
                quantity=quantity,
                unit_price=price,
                product_id=line.text("product_id"),
                variant_id=line.text("variant_id"),
                sku=line.text("sku"),
                external_id=line.text("id"),
            )
        )
    return tuple(lines)


def _discount_codes(r: PayloadReader) -> tuple[str, ...]:
    codes = []
    for entry in r.children("discount_codes"):
        code = entry.text("code")
        if code:
            codes.append(code)
    return tuple(codes)


def _buyer(
    r: PayloadReader,
    *,
    connection_id: str,
    record_id: str | None,
    options: ParseOptions,
    created: Any,
    updated: Any,
) -> Customer | None:
    registered = None
    if isinstance(r.raw("customer"), dict):
        registered = _customer(r.child("customer"), connection_id, times=(created, updated))
    if record_id is None or created is None or updated is None:
        return None
    return buyer_contact(
        connection_id=connection_id,
        order_id=record_id,
        created_at=created,
        updated_at=updated,
        registered=registered,
        email=r.text("email") or r.text("contact_email"),
        billing=_address(r, "billing_address"),
        order_phone=r.text("phone"),
        buyer_accepts_marketing=r.boolean("buyer_accepts_marketing"),
        options=options,
        raw=r.payload,
    )


@fast_first
def parse_order(
    payload: Any,
    *,
    shop: str | None = None,
    store_name: str | None = None,
    connection_id: str | None = None,
    options: ParseOptions = DEFAULT_OPTIONS,
) -> Order:
    """A REST/webhook order object (``orders/create`` …) as an :class:`~commerce_connectors.models.Order`.

    Amounts are the shop-currency decimal strings (``total_price``…), or the
    presentment amounts with ``ParseOptions(money="presentment")``. The status keeps
    ``financial_status`` raw (and ``fulfillment_status`` in ``raw_fulfillment_status``);
    a cancelled order is ``CANCELLED`` whatever its payment. The buyer is the
    embedded customer, or for a guest a contact from the order's email and billing
    details. Line items carry no product type nor image in this shape: see
    :func:`~commerce_connectors.platforms.shopify.enrich_lines`.

    The checkout the order came from is kept as strings in ``extra["checkout_id"]``
    (the abandoned checkout's ``id``, so the :class:`~commerce_connectors.models.Cart`
    with that ``external_id``) and ``extra["checkout_token"]`` (its ``token``), when
    the payload has them. The GraphQL ``Order`` has no such field in the pinned API
    version, so only orders parsed from this shape carry the link.

    Args:
        payload: one order object.
        shop: the shop's ``*.myshopify.com`` domain (connection id, order URL).
        store_name: the shop's name, copied to ``Order.store_name``.
        connection_id: overrides ``shopify:<shop>``.
        options: money and phone choices.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the payload.
    """  # noqa: E501
    r = _reader(payload, "order")
    conn = connection_id or connection_id_for(shop)
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    currency = r.currency("currency")
    total = _money(r, "total_price", currency, options, required=True)
    financial = r.text("financial_status")
    fulfillment = r.text("fulfillment_status")
    cancelled_at = r.datetime("cancelled_at")
    cancel_reason = r.text("cancel_reason")
    shipping = next(iter(r.children("shipping_lines")), None)
    buyer = _buyer(
        r, connection_id=conn, record_id=external_id, options=options,
        created=created, updated=updated,
    )  # fmt: skip
    lines = _lines(r, currency, options)
    discount_total = _money(r, "total_discounts", currency, options, required=False)
    subtotal = _money(r, "subtotal_price", currency, options, required=False)
    tax = _money(r, "total_tax", currency, options, required=False)
    shipping_total = _money_set(r, "total_shipping_price_set", options)
    checkout = {key: r.text(key) for key in ("checkout_id", "checkout_token")}
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    return _new_order(
        platform=PLATFORM,
        connection_id=conn,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        status=order_status(financial, fulfillment, cancelled=cancelled_at is not None),
        raw_status=financial.lower() if financial else None,
        raw_fulfillment_status=fulfillment.lower() if fulfillment else None,
        total=total,
        order_number=r.text("name"),
        email=r.text("email") or r.text("contact_email"),
        customer_external_id=buyer.external_id if buyer and not buyer.is_guest else None,
        customer=buyer,
        discount_total=discount_total,
        discount_codes=_discount_codes(r),
        shipping_method=shipping.text("title") if shipping else None,
        order_url=order_url(shop, external_id),
        lines=lines,
        subtotal=subtotal,
        shipping_total=shipping_total,
        tax_total=tax,
        store_name=store_name,
        extra=_order_extra(split_tags(r.raw("tags")), cancel_reason, cancelled_at, checkout),
        raw=payload,
    )


def _order_extra(
    tags: tuple[str, ...],
    cancel_reason: str | None,
    cancelled_at: Any,
    checkout: Mapping[str, str | None],
) -> Any:
    extra = {
        "tags": tags,
        "cancel_reason": cancel_reason.lower() if cancel_reason else None,
        "cancelled_at": cancelled_at,
    }
    # Only when given: the GraphQL shape has no checkout link, and an absent key keeps
    # both shapes of an order without one equal.
    extra.update({key: value for key, value in checkout.items() if value is not None})
    return extra


@fast_first
def parse_product(
    payload: Any,
    *,
    currency: str | None = None,
    shop: str | None = None,
    connection_id: str | None = None,
) -> Product:
    """A REST/webhook product object as a :class:`~commerce_connectors.models.Product`.

    Variant prices carry no currency in Shopify: pass the shop's ``currency`` (the
    connector does) or the prices stay ``None``. Price and SKU are the first
    variant's; the category is ``product_type``; the description is ``body_html``
    as given; the URL is the storefront page of ``handle``.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the payload.
    """
    r = _reader(payload, "product")
    conn = connection_id or connection_id_for(shop)
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    code = Money(0, currency).currency if currency else None
    variants = []
    for v in r.children("variants"):
        variant_id = v.text("id", required=True)
        price = v.money("price", code)
        if variant_id is not None:
            variants.append(
                _new_variant(
                    external_id=variant_id, name=v.text("title"), sku=v.text("sku"), price=price
                )
            )
    image = r.text("image.src") or r.text("images[0].src")
    status = r.text("status")
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    first = variants[0] if variants else None
    return _new_product(
        platform=PLATFORM,
        connection_id=conn,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        name=r.text("title"),
        category=r.text("product_type"),
        sku=first.sku if first else None,
        price=first.price if first else None,
        description=r.text("body_html"),
        image_url=image,
        url=product_url(shop, r.text("handle")),
        variants=tuple(variants),
        extra={
            "vendor": r.text("vendor"),
            "status": status.lower() if status else None,
            "tags": split_tags(r.raw("tags")),
        },
        raw=payload,
    )


@fast_first
def parse_cart(
    payload: Any,
    *,
    shop: str | None = None,
    store_name: str | None = None,
    connection_id: str | None = None,
    options: ParseOptions = DEFAULT_OPTIONS,
) -> Cart:
    """A REST/webhook abandoned checkout (``checkouts.json``, ``checkouts/update``) as a Cart.

    The recovery URL is ``abandoned_checkout_url``; ``completed_at`` stays ``None``
    while the checkout is abandoned. The shopper is the embedded customer, or a guest
    contact from the checkout's email and billing details. ``external_id`` is the
    checkout's ``id``: the value an order that came from it has in its
    ``checkout_id`` (``Order.extra["checkout_id"]``). ``store_name`` is the shop's
    name, copied to ``Cart.store_name``.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the payload.
    """
    r = _reader(payload, "cart")
    conn = connection_id or connection_id_for(shop)
    external_id = r.id("id")
    created = r.datetime("created_at", required=True)
    updated = r.datetime("updated_at", required=True)
    completed = r.datetime("completed_at")
    currency = r.currency("currency")
    total = _money(r, "total_price", currency, options, required=True)
    buyer = _buyer(
        r, connection_id=conn, record_id=external_id, options=options,
        created=created, updated=updated,
    )  # fmt: skip
    lines = _lines(r, currency, options)
    r.check()
    assert external_id is not None
    assert created is not None
    assert updated is not None
    assert total is not None
    return _new_cart(
        platform=PLATFORM,
        connection_id=conn,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        completed_at=completed,
        total=total,
        email=r.text("email"),
        customer_external_id=buyer.external_id if buyer and not buyer.is_guest else None,
        customer=buyer,
        lines=lines,
        recovery_url=r.text("abandoned_checkout_url"),
        store_name=store_name,
        extra={"discount_codes": _discount_codes(r)},
        raw=payload,
    )
