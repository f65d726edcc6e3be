"""What the REST/webhook parsers and the GraphQL node mappers share.

Both shapes describe the same records, so every decision that is not about
where a value sits in the payload lives here, once: status mapping, consent
states, tags, ids, URLs, parse options, the guest contact.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import attrs

from ..._parsing import reusable_argument
from ...models import (
    Address,
    Cart,
    Customer,
    LineItem,
    Order,
    OrderStatus,
    Platform,
    Product,
    _evolve,
    _new_customer,
)
from .constants import GID_PREFIX

__all__ = [
    "CONSENT_STATES",
    "ParseOptions",
    "connection_id_for",
    "enrich_lines",
    "normalize_shop_domain",
    "order_status",
]

PLATFORM = Platform.SHOPIFY
PLATFORM_NAME = PLATFORM.value

#: Email marketing states (REST ``email_marketing_consent.state``, GraphQL
#: ``marketingState``, compared lower-case) → consent. ``pending`` (double opt-in not
#: confirmed) and ``invalid`` (undeliverable) are not choices: unknown. Same table as
#: the rules' Shopify defaults, so both read a payload alike.
CONSENT_STATES: Mapping[str, bool | None] = {
    "subscribed": True,
    "not_subscribed": False,
    "unsubscribed": False,
    "redacted": False,
    "pending": None,
    "invalid": None,
}

_FINANCIAL: Mapping[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "authorized": OrderStatus.AUTHORIZED,
    "partially_paid": OrderStatus.PARTIALLY_PAID,
    "paid": OrderStatus.PAID,
    "partially_refunded": OrderStatus.PARTIALLY_REFUNDED,
    "refunded": OrderStatus.REFUNDED,
    "voided": OrderStatus.VOIDED,
    "expired": OrderStatus.EXPIRED,
}

# GraphQL displayFulfillmentStatus → the REST/webhook spelling, so both shapes keep
# one vocabulary. REST says null for every "not (yet) fulfilled" state.
_FULFILLMENT_FROM_GRAPHQL: Mapping[str, str | None] = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
    "UNFULFILLED": None,
}


# Frozen: the fast-first parsers may read it twice (see _parsing.fast_first).
@reusable_argument
@attrs.frozen
class ParseOptions:
    """Choices a store may make about how its payloads are read.

    Attributes:
        money: ``"shop"`` (default) reads amounts in the shop's currency; ``"presentment"``
            reads them in the currency the buyer saw (``*_set.presentment_money``).
        buyer_phone_fallback: for a *registered* buyer with no phone on the customer
            record nor on its default address, take the order's billing phone, then the
            order's own phone (guests always get those, in that order).
    """

    money: Literal["shop", "presentment"] = "shop"
    buyer_phone_fallback: bool = False


DEFAULT_OPTIONS = ParseOptions()


def normalize_shop_domain(shop: str) -> str:
    """``"https://Acme.myshopify.com/"`` → ``"acme.myshopify.com"`` (no validation).

    Example:
        >>> normalize_shop_domain(" https://Acme.myshopify.com/admin ")
        'acme.myshopify.com'
    """
    text = shop.strip().lower()
    if "://" in text:
        text = urlsplit(text).netloc
    return text.split("/", 1)[0]


def connection_id_for(shop: str | None) -> str:
    """The connection id of a shop: ``shopify:<domain>`` (``shopify`` when unknown).

    Example:
        >>> connection_id_for("acme.myshopify.com")
        'shopify:acme.myshopify.com'
    """
    return f"{PLATFORM_NAME}:{shop}" if shop else PLATFORM_NAME


#: legacy_id() of the id strings met lately (a GraphQL order names two dozen of them, and
#: products and variants come back order after order). Bounded: cleared when full, and
#: only short strings are kept.
_LEGACY_IDS: dict[str, str | None] = {}
_LEGACY_IDS_LIMIT = 4096
_LEGACY_ID_LENGTH = 128
_UNKNOWN: Any = object()


def legacy_id(value: Any) -> str | None:
    """``gid://shopify/Order/450789469`` or ``450789469`` → ``"450789469"``.

    Example:
        >>> legacy_id("gid://shopify/Order/450789469"), legacy_id(7), legacy_id(None)
        ('450789469', '7', None)
    """
    if type(value) is str:
        known = _LEGACY_IDS.get(value, _UNKNOWN)
        if known is _UNKNOWN:
            known = _legacy_id(value)
            if len(value) <= _LEGACY_ID_LENGTH:
                if len(_LEGACY_IDS) >= _LEGACY_IDS_LIMIT:
                    _LEGACY_IDS.clear()
                _LEGACY_IDS[value] = known
        return known  # type: ignore[no-any-return]
    return _legacy_id(value)


def _legacy_id(value: Any) -> str | None:
    """:func:`legacy_id`, worked out."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.startswith(GID_PREFIX):
        text = text.rsplit("/", 1)[-1].split("?", 1)[0]
    return text or None


def split_tags(value: Any) -> tuple[str, ...]:
    """Shopify tags: one comma-separated string (REST) or a list (GraphQL) → tuple.

    Example:
        >>> split_tags("Léon, Noël ,, VIP"), split_tags(["Léon", " Noël"])
        (('Léon', 'Noël', 'VIP'), ('Léon', 'Noël'))
    """
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return ()
    return tuple([t.strip() for t in items if isinstance(t, str) and t.strip()])


def consent_from_state(state: str | None) -> bool | None:
    """Consent from an email marketing state, REST or GraphQL spelling."""
    return None if state is None else CONSENT_STATES.get(state.strip().lower())


def fulfillment_from_graphql(value: str | None) -> str | None:
    """GraphQL ``displayFulfillmentStatus`` in the REST/webhook vocabulary."""
    if value is None:
        return None
    return _FULFILLMENT_FROM_GRAPHQL.get(value, value.lower())


def order_status(financial: str | None, fulfillment: str | None, *, cancelled: bool) -> OrderStatus:
    """The canonical status from Shopify's financial and fulfilment statuses.

    Cancellation wins (a cancelled order is often also refunded or voided); a paid
    order then says how far it has shipped.

    Example:
        >>> order_status("paid", "fulfilled", cancelled=False).value
        'fulfilled'
        >>> order_status("refunded", None, cancelled=True).value
        'cancelled'
    """
    if cancelled:
        return OrderStatus.CANCELLED
    status = _FINANCIAL.get((financial or "").lower(), OrderStatus.UNKNOWN)
    if status is OrderStatus.PAID:
        if fulfillment == "fulfilled":
            return OrderStatus.FULFILLED
        if fulfillment == "partial":
            return OrderStatus.PARTIALLY_FULFILLED
    return status


def order_url(shop: str | None, order_id: str) -> str | None:
    """The order's page in the shop admin (``None`` when the shop is unknown)."""
    return f"https://{shop}/admin/orders/{order_id}" if shop else None


def product_url(shop: str | None, handle: str | None) -> str | None:
    """The product's storefront page (the myshopify domain redirects to the primary one)."""
    return f"https://{shop}/products/{handle}" if shop and handle else None


def first_text(*values: str | None) -> str | None:
    """The first value that is a non-blank string, unchanged."""
    for value in values:
        if value is not None and value.strip():
            return value
    return None


def buyer_contact(
    *,
    connection_id: str,
    order_id: str,
    created_at: _dt.datetime,
    updated_at: _dt.datetime,
    registered: Customer | None,
    email: str | None,
    billing: Address | None,
    order_phone: str | None,
    buyer_accepts_marketing: bool | None,
    options: ParseOptions,
    raw: Any,
) -> Customer | None:
    """The buyer of an order or checkout as a contact: the customer, or a guest.

    A registered buyer keeps its own record; the order's email fills a missing one,
    the billing address is listed among its addresses (for custom phone chains), and
    ``buyer_accepts_marketing`` speaks when the record holds no consent state (a ticked
    box is a yes, an unticked one says nothing). A guest (no customer) becomes a contact
    from the order's email and billing details, with the billing phone then the order
    phone, picked in that order and left unformatted. Nothing to contact: ``None``.
    """
    opted_in = True if buyer_accepts_marketing else None
    addresses = (billing,) if billing is not None else ()
    if registered is not None:
        phone = registered.phone
        has_address_phone = registered.default_address is not None and first_text(
            registered.default_address.phone
        )
        if options.buyer_phone_fallback and not first_text(phone) and not has_address_phone:
            phone = first_text(billing.phone if billing else None, order_phone)
        return _evolve(
            registered,
            email=registered.email or email,
            phone=phone,
            accepts_marketing=(
                registered.accepts_marketing
                if registered.accepts_marketing is not None
                else opted_in
            ),
            addresses=registered.addresses or addresses,
        )
    phone = first_text(billing.phone if billing else None, order_phone)
    if not first_text(email) and not phone:
        return None
    return _new_customer(
        platform=PLATFORM,
        connection_id=connection_id,
        # Guests have no customer id; the order's id keeps the contact traceable.
        external_id=f"guest:{order_id}",
        created_at=created_at,
        updated_at=updated_at,
        email=email,
        first_name=billing.first_name if billing else None,
        last_name=billing.last_name if billing else None,
        phone=phone,
        company=billing.company if billing else None,
        accepts_marketing=opted_in,
        default_address=billing,
        addresses=addresses,
        is_guest=True,
        raw=raw,
    )


_R = TypeVar("_R", Order, Cart)


def enrich_lines(record: _R, products: Mapping[str, Product]) -> _R:
    """Fill line categories, descriptions and images from the catalogue.

    REST and webhook line items carry neither the product type nor an image (the
    GraphQL ones do); give them the product records you already synced, keyed by
    external id, and the missing values are taken from there. Values already present
    are kept.

    Example:
        >>> import datetime as dt
        >>> from commerce_connectors.models import Money
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        >>> line = LineItem("IPod Nano", 1, Money("199.00", "USD"), product_id="632910392")
        >>> order = Order("shopify", "shopify:acme", "1", t, t, status="paid",
        ...               raw_status="paid", total=Money("199.00", "USD"), lines=[line])
        >>> ipod = Product("shopify", "shopify:acme", "632910392", t, t, category="Cult Products")
        >>> enrich_lines(order, {"632910392": ipod}).lines[0].category
        'Cult Products'
    """
    lines: list[LineItem] = []
    for line in record.lines:
        product = products.get(line.product_id) if line.product_id else None
        if product is not None:
            line = attrs.evolve(
                line,
                category=line.category or product.category,
                description=line.description or product.description,
                image_url=line.image_url or product.image_url,
            )
        lines.append(line)
    return attrs.evolve(record, lines=tuple(lines))
