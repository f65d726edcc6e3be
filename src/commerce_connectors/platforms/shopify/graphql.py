"""The GraphQL Admin API queries this connector sends, and pure mappers for their nodes.

The mappers turn one node of a connection (``data.orders.nodes[i]``) into the same
canonical record the REST/webhook parser makes from the same data, so a store read
through GraphQL and an order arriving by webhook land in a CRM alike. Differences
between the shapes are settled here: ids are the numeric tail of the ``gid://``
global ids, enums are compared lower-case, ``displayFulfillmentStatus`` is spoken
in the REST vocabulary, tags arrive as a list.

Example:
    >>> node = {"id": "gid://shopify/Customer/207119551", "firstName": "Bob",
    ...         "lastName": "Norman", "tags": ["Léon", "Noël"],
    ...         "createdAt": "2024-04-02T13:59:11Z", "updatedAt": "2024-04-02T13:59:11Z",
    ...         "defaultEmailAddress": {"emailAddress": "bob.norman@mail.example.com",
    ...                                 "marketingState": "NOT_SUBSCRIBED"},
    ...         "defaultPhoneNumber": {"phoneNumber": "+16136120707"}, "defaultAddress": None}
    >>> c = parse_customer_node(node, shop="acme.myshopify.com")
    >>> c.external_id, c.tags, c.accepts_marketing, c.phone
    ('207119551', ('Léon', 'Noël'), False, '+16136120707')
"""

from __future__ import annotations

from typing import Any, Final

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
    ensure_aware_utc,
)
from ._shared import (
    DEFAULT_OPTIONS,
    PLATFORM,
    PLATFORM_NAME,
    ParseOptions,
    buyer_contact,
    connection_id_for,
    consent_from_state,
    fulfillment_from_graphql,
    legacy_id,
    order_status,
    order_url,
    product_url,
    split_tags,
)

__all__ = [
    "CHECKOUTS_QUERY",
    "CHECKOUT_FIELDS",
    "CUSTOMERS_QUERY",
    "ORDERS_QUERY",
    "ORDER_FIELDS",
    "PRODUCTS_QUERY",
    "PRODUCT_FIELDS",
    "SHOP_QUERY",
    "VARIANTS_QUERY",
    "parse_checkout_node",
    "parse_customer_node",
    "parse_order_node",
    "parse_product_node",
    "search_filter",
]

# -- queries --------------------------------------------------------------------------------

_ADDRESS: Final = """
fragment AddressFields on MailingAddress {
  firstName lastName company phone address1 address2 city province zip countryCodeV2
}"""

_BAG: Final = """
fragment Bag on MoneyBag {
  shopMoney { amount currencyCode }
  presentmentMoney { amount currencyCode }
}"""

_CUSTOMER: Final = """
fragment CustomerFields on Customer {
  id firstName lastName state tags createdAt updatedAt
  defaultEmailAddress { emailAddress marketingState marketingUpdatedAt }
  defaultPhoneNumber { phoneNumber }
  defaultAddress { ...AddressFields }
}"""

_ORDER_LINE: Final = """
fragment LineFields on LineItem {
  id title name sku quantity
  variant { id }
  product { id productType descriptionHtml }
  image { url }
  originalUnitPriceSet { ...Bag }
}"""

_CHECKOUT_LINE: Final = """
fragment CheckoutLineFields on AbandonedCheckoutLineItem {
  id title sku quantity
  variant { id }
  product { id productType descriptionHtml }
  image { url }
  originalUnitPriceSet { ...Bag }
}"""

#: The shop's name, currency and domain, and the app's granted scopes.
SHOP_QUERY: Final = """
query ShopInfo {
  shop { name currencyCode myshopifyDomain }
  currentAppInstallation { accessScopes { handle } }
}"""

#: Customers updated at/after the ``query`` filter, oldest update first.
CUSTOMERS_QUERY: Final = (
    """
query Customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CustomerFields }
  }
}"""
    + _CUSTOMER
    + _ADDRESS
)

#: What is read of every order, by the stream and by id (webhooks). Its operation
#: declares ``$lines``.
ORDER_FIELDS: Final = (
    """
fragment OrderFields on Order {
  id name email phone createdAt updatedAt cancelledAt cancelReason tags
  displayFinancialStatus displayFulfillmentStatus customerAcceptsMarketing
  discountCodes
  totalPriceSet { ...Bag }
  subtotalPriceSet { ...Bag }
  totalDiscountsSet { ...Bag }
  totalTaxSet { ...Bag }
  totalShippingPriceSet { ...Bag }
  shippingLine { title }
  billingAddress { ...AddressFields }
  customer { ...CustomerFields }
  lineItems(first: $lines) {
    pageInfo { hasNextPage endCursor }
    nodes { ...LineFields }
  }
}"""
    + _CUSTOMER
    + _ADDRESS
    + _BAG
    + _ORDER_LINE
)

#: Orders of every status (the GraphQL connection has no status default), with lines.
ORDERS_QUERY: Final = (
    """
query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}"""
    + ORDER_FIELDS
)

_VARIANT: Final = """
fragment VariantFields on ProductVariant { id title sku price }"""

#: What is read of every product (stream and by id); its operation declares ``$variants``.
PRODUCT_FIELDS: Final = (
    """
fragment ProductFields on Product {
  id title handle productType descriptionHtml vendor status tags createdAt updatedAt
  featuredMedia { preview { image { url } } }
  variants(first: $variants) { pageInfo { hasNextPage endCursor } nodes { ...VariantFields } }
}"""
    + _VARIANT
)

#: The whole catalogue, products with their first variants and featured image.
PRODUCTS_QUERY: Final = (
    """
query Products($first: Int!, $after: String, $query: String, $variants: Int!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...ProductFields }
  }
}"""
    + PRODUCT_FIELDS
)

#: What is read of every abandoned checkout (stream and by id); its operation declares
#: ``$lines``.
CHECKOUT_FIELDS: Final = (
    """
fragment CheckoutFields on AbandonedCheckout {
  id name createdAt updatedAt completedAt abandonedCheckoutUrl discountCodes
  totalPriceSet { ...Bag }
  billingAddress { ...AddressFields }
  customer { ...CustomerFields }
  lineItems(first: $lines) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CheckoutLineFields }
  }
}"""
    + _CUSTOMER
    + _ADDRESS
    + _BAG
    + _CHECKOUT_LINE
)

#: Abandoned checkouts. ``AbandonedCheckoutSortKeys`` has no ``UPDATED_AT``: sorted by
#: id, which is a stable keyset for the cursor; the ``updated_at`` filter still applies.
CHECKOUTS_QUERY: Final = (
    """
query AbandonedCheckouts($first: Int!, $after: String, $query: String, $lines: Int!) {
  abandonedCheckouts(first: $first, after: $after, query: $query, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CheckoutFields }
  }
}"""
    + CHECKOUT_FIELDS
)

#: The rest of one product's variants, past the first page.
VARIANTS_QUERY: Final = (
    """
query MoreVariants($id: ID!, $first: Int!, $after: String) {
  node(id: $id) {
    ... on Product {
      variants(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { ...VariantFields }
      }
    }
  }
}"""
    + _VARIANT
)


def search_filter(field: str, since: Any) -> str:
    """A search ``query`` for records whose ``field`` is at/after ``since`` (aware datetime).

    The timestamp is quoted: unquoted, Shopify's search parser reads only the date and
    drops the time part.

    Raises:
        NaiveDatetimeError: ``since`` has no timezone (it would be read as local time).

    Example:
        >>> import datetime as dt
        >>> search_filter("updated_at", dt.datetime(2024, 10, 4, 9, 30, tzinfo=dt.timezone.utc))
        "updated_at:>='2024-10-04T09:30:00Z'"
        >>> search_filter("updated_at", dt.datetime(2024, 10, 4, 9, 30, 5, 999999,
        ...                                         tzinfo=dt.timezone.utc))
        "updated_at:>='2024-10-04T09:30:05Z'"
    """
    # Whole seconds, rounded down: the search syntax documents ISO 8601 but not fractions,
    # and reading from the start of the second only adds records the caller re-checks.
    start = ensure_aware_utc(since, field="since").replace(microsecond=0)
    stamp = start.isoformat().replace("+00:00", "Z")
    return f"{field}:>='{stamp}'"


# -- node mappers ---------------------------------------------------------------------------


def _reader(node: Any, kind: str) -> PayloadReader:
    return reader_type(PayloadReader)(node, platform=PLATFORM_NAME, kind=kind)


def _gid_tail(r: PayloadReader, path: str = "id") -> str | None:
    """The numeric tail of the required global id at ``path`` (a gid without one: a problem)."""
    gid = r.text(path, required=True)
    value = legacy_id(gid)
    if gid is not None and value is None:
        r.problem(path, f"global id without a resource id: {gid!r}", gid)
    return value


def _record_id(r: PayloadReader) -> str | None:
    """The record's numeric id (a top-level reader only): errors then name it, not the gid."""
    value = _gid_tail(r)
    r.record_id = value
    return value


def _address(r: PayloadReader, path: str) -> Address | None:
    if not isinstance(r.raw(path), dict):
        return None
    a = r.child(path)
    return _new_address(
        first_name=a.text("firstName"),
        last_name=a.text("lastName"),
        company=a.text("company"),
        phone=a.text("phone"),
        line1=a.text("address1"),
        line2=a.text("address2"),
        city=a.text("city"),
        province=a.text("province"),
        postal_code=a.text("zip"),
        country_code=a.text("countryCodeV2"),
    )


def _bag(
    r: PayloadReader, path: str, options: ParseOptions, *, required: bool = False
) -> Money | None:
    """A ``MoneyBag`` amount in shop (default) or presentment money."""
    if not isinstance(r.raw(path), dict):
        if required:
            r.problem(path, "required amount is missing")
        return None
    paths = _BAG_PATHS.get((path, options.money))
    if paths is None:
        if len(_BAG_PATHS) >= 64:
            _BAG_PATHS.clear()
        base = f"{path}.{options.money}Money"
        paths = _BAG_PATHS[path, options.money] = (f"{base}.amount", f"{base}.currencyCode")
    return r.money(paths[0], r.currency(paths[1]), required=True)


#: The amount and currency paths of a MoneyBag, by (bag path, "shop" / "presentment"):
#: the same dozen every order (the bag paths are this module's own). Bounded all the same.
_BAG_PATHS: dict[tuple[str, str], tuple[str, str]] = {}


def _customer(
    r: PayloadReader, connection_id: str, *, times: tuple[Any, Any] | None = None
) -> Customer | None:
    external_id = _gid_tail(r)
    if times is None:
        r.record_id = external_id
    created = r.datetime("createdAt", required=times is None)
    updated = r.datetime("updatedAt", required=times is None)
    if times is not None:
        created, updated = created or times[0], updated or times[1]
    address = _address(r, "defaultAddress")
    state = r.text("state")
    if external_id is None or created is None or updated is None:
        return None
    return _new_customer(
        platform=PLATFORM,
        connection_id=connection_id,
        external_id=external_id,
        created_at=created,
        updated_at=updated,
        email=r.text("defaultEmailAddress.emailAddress"),
        first_name=r.text("firstName"),
        last_name=r.text("lastName"),
        phone=r.text("defaultPhoneNumber.phoneNumber"),
        company=address.company if address else None,
        tags=split_tags(r.raw("tags")),
        accepts_marketing=consent_from_state(r.text("defaultEmailAddress.marketingState")),
        default_address=address,
        extra={"state": state.lower()} if state else {},
        raw=r.payload,
    )


@fast_first
def parse_customer_node(
    node: Any, *, shop: str | None = None, connection_id: str | None = None
) -> Customer:
    """A GraphQL ``Customer`` node as a :class:`~commerce_connectors.models.Customer`.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the node.
    """
    r = _reader(node, "customer")
    customer = _customer(r, connection_id or connection_id_for(shop))
    r.check()
    assert customer is not None
    return customer


def line_from_node(
    line: PayloadReader, options: ParseOptions = DEFAULT_OPTIONS, *, keep_id: bool = True
) -> LineItem | None:
    """One ``LineItem`` / ``AbandonedCheckoutLineItem`` node (``None`` if unreadable)."""
    price = _bag(line, "originalUnitPriceSet", options, required=True)
    quantity = line.integer("quantity", required=True, negative=False)
    if price is None or quantity is None:
        return None
    return _new_line_item(
        name=line.text("title") or line.text("name"),
        quantity=quantity,
        unit_price=price,
        product_id=legacy_id(line.text("product.id")),
        variant_id=legacy_id(line.text("variant.id")),
        sku=line.text("sku"),
        category=line.text("product.productType"),
        description=line.text("product.descriptionHtml"),
        image_url=line.text("image.url"),
        external_id=legacy_id(line.text("id")) if keep_id else None,
    )


def _lines(r: PayloadReader, options: ParseOptions, *, keep_id: bool) -> tuple[LineItem, ...]:
    lines: list[LineItem] = []
    for node in r.children("lineItems.nodes"):
        line = line_from_node(node, options, keep_id=keep_id)
        if line is not None:
            lines.append(line)
    return tuple(lines)


def _buyer(
    r: PayloadReader,
    *,
    connection_id: str,
    record_id: str | None,
    email: str | None,
    order_phone: str | None,
    accepts: bool | None,
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
        email=email,
        billing=_address(r, "billingAddress"),
        order_phone=order_phone,
        buyer_accepts_marketing=accepts,
        options=options,
        raw=r.payload,
    )


@fast_first
def parse_order_node(
    node: Any,
    *,
    shop: str | None = None,
    store_name: str | None = None,
    connection_id: str | None = None,
    options: ParseOptions = DEFAULT_OPTIONS,
) -> Order:
    """A GraphQL ``Order`` node (as :data:`ORDERS_QUERY` asks for it) as an Order.

    Give it every line: the connector completes ``lineItems`` past the first page
    before mapping. The Admin schema's ``Order`` (2025-10) has no field naming the
    checkout it came from, so unlike :func:`~.rest.parse_order` there is no
    ``extra["checkout_id"]`` / ``extra["checkout_token"]`` here.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the node.
    """
    r = _reader(node, "order")
    conn = connection_id or connection_id_for(shop)
    external_id = _record_id(r)
    created = r.datetime("createdAt", required=True)
    updated = r.datetime("updatedAt", required=True)
    cancelled_at = r.datetime("cancelledAt")
    financial = r.text("displayFinancialStatus")
    fulfillment = fulfillment_from_graphql(r.text("displayFulfillmentStatus"))
    total = _bag(r, "totalPriceSet", options, required=True)
    email = r.text("email")
    buyer = _buyer(
        r, connection_id=conn, record_id=external_id, email=email,
        order_phone=r.text("phone"), accepts=r.boolean("customerAcceptsMarketing"),
        options=options, created=created, updated=updated,
    )  # fmt: skip
    lines = _lines(r, options, keep_id=True)
    codes = r.array("discountCodes")
    cancel_reason = r.text("cancelReason")
    discount_total = _bag(r, "totalDiscountsSet", options)
    subtotal = _bag(r, "subtotalPriceSet", options)
    tax = _bag(r, "totalTaxSet", options)
    shipping_total = _bag(r, "totalShippingPriceSet", options)
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
        raw_fulfillment_status=fulfillment,
        total=total,
        order_number=r.text("name"),
        email=email,
        customer_external_id=buyer.external_id if buyer and not buyer.is_guest else None,
        customer=buyer,
        discount_total=discount_total,
        discount_codes=tuple(c for c in codes if isinstance(c, str) and c),
        shipping_method=r.text("shippingLine.title"),
        order_url=order_url(shop, external_id),
        lines=lines,
        subtotal=subtotal,
        shipping_total=shipping_total,
        tax_total=tax,
        store_name=store_name,
        extra={
            "tags": split_tags(r.raw("tags")),
            "cancel_reason": cancel_reason.lower() if cancel_reason else None,
            "cancelled_at": cancelled_at,
        },
        raw=node,
    )


@fast_first
def parse_product_node(
    node: Any,
    *,
    currency: str | None = None,
    shop: str | None = None,
    connection_id: str | None = None,
) -> Product:
    """A GraphQL ``Product`` node as a Product (variant prices in the shop's ``currency``).

    Give it every variant: the connector completes ``variants`` past the first page
    before mapping.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the node.
    """
    r = _reader(node, "product")
    conn = connection_id or connection_id_for(shop)
    external_id = _record_id(r)
    created = r.datetime("createdAt", required=True)
    updated = r.datetime("updatedAt", required=True)
    code = Money(0, currency).currency if currency else None
    variants = []
    for v in r.children("variants.nodes"):
        variant_id = legacy_id(v.text("id", required=True))
        price = v.money("price", code)
        if variant_id is not None:
            variants.append(
                _new_variant(
                    external_id=variant_id, name=v.text("title"), sku=v.text("sku"), price=price
                )
            )
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
        category=r.text("productType"),
        sku=first.sku if first else None,
        price=first.price if first else None,
        description=r.text("descriptionHtml"),
        image_url=r.text("featuredMedia.preview.image.url"),
        url=product_url(shop, r.text("handle")),
        variants=tuple(variants),
        extra={
            "vendor": r.text("vendor"),
            "status": status.lower() if status else None,
            "tags": split_tags(r.raw("tags")),
        },
        raw=node,
    )


@fast_first
def parse_checkout_node(
    node: Any,
    *,
    shop: str | None = None,
    store_name: str | None = None,
    connection_id: str | None = None,
    options: ParseOptions = DEFAULT_OPTIONS,
) -> Cart:
    """A GraphQL ``AbandonedCheckout`` node as a Cart.

    The node has no email of its own: it is the customer's. ``external_id`` is the
    numeric tail of its ``gid://shopify/AbandonedCheckout/…`` id, the REST checkout
    ``id`` that an order's ``checkout_id`` names. The node names no order.
    ``store_name`` is the shop's name, copied to ``Cart.store_name``.

    Raises:
        InvalidRecordError: every bad field, with its JSON path and the node.
    """
    r = _reader(node, "cart")
    conn = connection_id or connection_id_for(shop)
    external_id = _record_id(r)
    created = r.datetime("createdAt", required=True)
    updated = r.datetime("updatedAt", required=True)
    completed = r.datetime("completedAt")
    total = _bag(r, "totalPriceSet", options, required=True)
    email = r.text("customer.defaultEmailAddress.emailAddress")
    buyer = _buyer(
        r, connection_id=conn, record_id=external_id, email=email, order_phone=None,
        accepts=None, options=options, created=created, updated=updated,
    )  # fmt: skip
    lines = _lines(r, options, keep_id=False)
    codes = r.array("discountCodes")
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
        email=email,
        customer_external_id=buyer.external_id if buyer and not buyer.is_guest else None,
        customer=buyer,
        lines=lines,
        recovery_url=r.text("abandonedCheckoutUrl"),
        store_name=store_name,
        extra={"discount_codes": tuple(c for c in codes if isinstance(c, str) and c)},
        raw=node,
    )
