"""Pure builders of ActiveCampaign request bodies from sink items: no I/O, no clock.

The sink builds every e-commerce body here, so what it sends can be tested
without HTTP. Two sources feed an order or cart body:

* the **field map's output** (``item.fields``, in ActiveCampaign's field names)
  gives the descriptive values: ``orderNumber``, ``orderUrl``, ``shippingMethod``,
  the discount code, the lines (``orderProducts``) and each line's ``externalid``,
  ``name``, ``category``, ``sku``, ``description``, ``imageUrl`` (and ``productUrl``
  if a map adds it); a field the map drops is not sent (``fields=None``: no map,
  every value from the record);
* a line's ``externalid`` and ``name`` are required by ActiveCampaign: a line the map
  gives none takes its product id, variant id, SKU, name or the line's own id, in
  that order (:func:`line_externalid`; a missing name falls back to the SKU or that
  id); a line with none of them is *refused*, never given a made-up id;
* the **canonical record** gives what has one correct encoding: ids, the email,
  dates (ISO 8601 with offset, whole seconds) and every amount, converted from
  the exact :class:`~commerce_connectors.models.Money` to the currency's minor
  units (JPY 0 decimals, USD 2, KWD 3). An amount that has no exact integer of
  minor units (``10.005 USD``), is negative, exceeds a 32-bit integer, or is in
  another currency than the order's is *refused* (``inexact="round"`` rounds the
  first case half-to-even instead).

Example:
    >>> import datetime as dt
    >>> from commerce_connectors.models import LineItem, Money, Order
    >>> t = dt.datetime(2024, 5, 1, 9, 30, 15, 250000, tzinfo=dt.timezone.utc)
    >>> order = Order("shopify", "shopify:acme", "1001", t, t, status="paid", raw_status="paid",
    ...               total=Money("3.500", "KWD"), email="ana@example.com",
    ...               lines=[LineItem("Tea", 2, Money("1.750", "KWD"), product_id="7")])
    >>> body = order_body(order, None, key="1001", email="ana@example.com").body
    >>> body["totalPrice"], body["currency"], body["orderProducts"][0]["price"]
    (3500, 'KWD', 1750)
    >>> body["externalCreatedDate"]
    '2024-05-01T09:30:15+00:00'
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import attrs

from ...errors import CurrencyError, FieldProblem
from ...models import Cart, LineItem, Money, Order
from ._constants import CHECKOUT_KEYS, DATE_FIELDS, INT32_MAX, ORDER_COMPARED_FIELDS

__all__ = [
    "Inexact",
    "OrderBody",
    "StoreInfo",
    "UnrepresentableError",
    "ac_datetime",
    "checkout_ids",
    "compared_view",
    "digest",
    "line_externalid",
    "minor_units",
    "order_body",
    "parse_instant",
]

#: What to do with an amount that has more decimals than its currency:
#: ``"refuse"`` the record, or ``"round"`` half-to-even.
Inexact = Literal["refuse", "round"]


@attrs.frozen
class StoreInfo:
    """How a store appears as an ActiveCampaign connection.

    Attributes:
        name: the store's name ("Often this will be a company name").
        url: a page where the integration can be managed, or the store's home page
            (``linkUrl``).
        logo_url: the store's logo (``logoUrl``).

    Example:
        >>> StoreInfo("Acme Toys", url="https://acme.example", logo_url="https://acme.example/logo.png")
        StoreInfo(name='Acme Toys', url='https://acme.example', logo_url='https://acme.example/logo.png')
    """

    name: str
    url: str = ""
    logo_url: str = ""


class UnrepresentableError(Exception):
    """A record ActiveCampaign cannot take as it is; carries every bad field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def ac_datetime(value: _dt.datetime) -> str:
    """A datetime as ActiveCampaign's examples write it: ISO 8601, whole seconds, offset.

    Example:
        >>> ac_datetime(_dt.datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=_dt.timezone.utc))
        '2024-01-02T03:04:05+00:00'
    """
    return value.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat()


def parse_instant(value: Any) -> _dt.datetime | None:
    """A date string from ActiveCampaign as an aware UTC datetime (``None`` if unreadable).

    Example:
        >>> parse_instant("2016-09-13T17:41:39-04:00")
        datetime.datetime(2016, 9, 13, 21, 41, 39, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(_dt.timezone.utc)


def minor_units(
    money: Money,
    path: str,
    problems: list[FieldProblem],
    *,
    currency: str | None = None,
    inexact: Inexact = "refuse",
) -> int | None:
    """``money`` in its currency's minor units, or ``None`` with a problem recorded.

    Example:
        >>> problems = []
        >>> minor_units(Money("1500", "JPY"), "total", problems), minor_units(
        ...     Money("12.345", "BHD"), "total", problems)
        (1500, 12345)
        >>> minor_units(Money("10.005", "USD"), "total", problems), problems[0].reason
        (None, '10.005 USD has more decimals than USD has (2): not a whole number of minor units')
    """
    if currency is not None and money.currency != currency:
        reason = f"in {money.currency}, not the order's currency {currency}"
        problems.append(FieldProblem(path, reason, str(money)))
        return None
    try:
        exponent = money.exponent
    except CurrencyError as exc:
        problems.append(FieldProblem(path, str(exc), str(money)))
        return None
    scaled = money.amount.scaleb(exponent)
    if scaled != scaled.to_integral_value() and inexact == "refuse":
        reason = (
            f"{money} has more decimals than {money.currency} has ({exponent}): "
            "not a whole number of minor units"
        )
        problems.append(FieldProblem(path, reason, str(money)))
        return None
    units = money.to_minor_units()
    if units < 0:
        problems.append(
            FieldProblem(path, f"{money} is negative; amounts must be >= 0", str(money))
        )
        return None
    if units > INT32_MAX:
        reason = f"{money} is {units} minor units, more than a 32-bit integer holds"
        problems.append(FieldProblem(path, reason, str(money)))
        return None
    return units


def _quantity(value: int | Decimal, path: str, problems: list[FieldProblem]) -> int | None:
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            reason = f"quantity {value} is not a whole number (ActiveCampaign takes integers)"
            problems.append(FieldProblem(path, reason, str(value)))
            return None
        value = int(value)
    if not 0 <= value <= INT32_MAX:
        problems.append(FieldProblem(path, f"quantity {value} is out of range", str(value)))
        return None
    return value


def _mapped(fields: Mapping[str, Any], name: str) -> Any:
    value = fields.get(name)
    return None if value == "" else value


def line_externalid(line: LineItem, mapped: Mapping[str, Any] | None = None) -> str | None:
    """The ``externalid`` of an ``orderProducts`` line, from data the line has, or ``None``.

    ActiveCampaign requires one ("the id of the product in the external service"). The
    map's value comes first; then what names the product, so that every order of it
    shares the id: the product id, the variant id, the SKU, the line's name (a custom
    line such as "Gift wrap" has no product id); last the line's own id at the platform
    (unique to the line). Nothing is made up: a line with none of these has no id.

    Example:
        >>> from commerce_connectors.models import LineItem, Money
        >>> line_externalid(LineItem("Gift wrap", 1, Money("2", "USD"), external_id="li-88"))
        'Gift wrap'
        >>> line_externalid(LineItem(None, 1, Money("2", "USD"), external_id="li-88"))
        'li-88'
        >>> line_externalid(LineItem(None, 1, Money("2", "USD"))) is None
        True
    """
    for value in (
        _mapped(mapped or {}, "externalid"),
        line.product_id,
        line.variant_id,
        line.sku,
        line.name,
        line.external_id,
    ):
        if value is not None and str(value).strip():
            return str(value)
    return None


def _line(
    line: LineItem,
    mapped: Mapping[str, Any] | None,
    n: int,
    currency: str,
    problems: list[FieldProblem],
    inexact: Inexact,
) -> dict[str, Any]:
    path = f"lines[{n}]"
    externalid = line_externalid(line, mapped)
    if externalid is None:
        reason = (
            "no product id, variant id, SKU, name or line id: ActiveCampaign requires "
            "orderProducts[].externalid and none can be derived"
        )
        problems.append(FieldProblem(f"{path}.product_id", reason, None))
    out: dict[str, Any] = {
        "externalid": externalid,
        # Required by ActiveCampaign: a line without a name shows its SKU or id.
        "name": _mapped(mapped or {}, "name") or line.name or line.sku or externalid,
        "price": minor_units(
            line.unit_price, f"{path}.unit_price", problems, currency=currency, inexact=inexact
        ),
        "quantity": _quantity(line.quantity, f"{path}.quantity", problems),
    }
    optional = {
        "category": line.category,
        "sku": line.sku,
        "description": line.description,
        "imageUrl": line.image_url,
        "productUrl": None,
    }
    for name, fallback in optional.items():
        # A line the map produced says what to send (a field it drops is not sent);
        # without a map the record does.
        value = fallback if mapped is None else _mapped(mapped, name)
        if value is not None:
            out[name] = str(value)
    if out["name"] is not None:
        out["name"] = str(out["name"])
    return out


@attrs.frozen
class OrderBody:
    """An order or cart as ActiveCampaign fields, before the sink adds its ids.

    Attributes:
        body: every field except ``connectionid``, ``customerid`` and ``source``.
        checkout_ids: for an order, the ids of the checkout it may come from
            (a cart already written as abandoned becomes this order).
        is_cart: whether it is an abandoned cart (keyed by ``externalcheckoutid``).
    """

    body: Mapping[str, Any]
    checkout_ids: tuple[str, ...] = ()
    is_cart: bool = False


def _record_fields(record: Order | Cart) -> dict[str, Any]:
    """What the default field map gives, read from the record (``fields=None``)."""
    if isinstance(record, Cart):
        return {"orderUrl": record.recovery_url}
    return {
        "orderNumber": record.order_number,
        "orderUrl": record.order_url,
        "shippingMethod": record.shipping_method,
        "discountCode": ", ".join(record.discount_codes) or None,
    }


def order_body(
    record: Order | Cart,
    fields: Mapping[str, Any] | None,
    *,
    key: str,
    email: str,
    inexact: Inexact = "refuse",
) -> OrderBody:
    """Build the ActiveCampaign body of an order or an abandoned cart.

    Args:
        record: the canonical order or cart.
        fields: the field map's output for it (``item.fields``): a field it lacks is
            not sent (``orderProducts`` included). ``None``: no map, the record's values.
        key: its external id (``externalid`` of an order, ``externalcheckoutid`` of a cart).
        email: the buyer's normalised email.
        inexact: what to do with an amount finer than its currency's minor unit.

    Raises:
        UnrepresentableError: amounts or quantities ActiveCampaign cannot take, every one listed.
    """
    problems: list[FieldProblem] = []
    currency = record.total.currency
    is_cart = isinstance(record, Cart)
    mapped_fields = _record_fields(record) if fields is None else fields
    body: dict[str, Any] = {}
    if isinstance(record, Cart):
        body["externalcheckoutid"] = key
        # "abandonedDate: REQUIRED ONLY IF INCLUDING EXTERNALCHECKOUTID"; the last
        # activity, which the abandonment delay is measured from.
        body["abandonedDate"] = ac_datetime(record.last_activity_at)
    else:
        body["externalid"] = key
    body["email"] = email
    body["currency"] = currency
    body["totalPrice"] = minor_units(record.total, "total", problems, inexact=inexact)
    body["externalCreatedDate"] = ac_datetime(record.created_at)
    body["externalUpdatedDate"] = ac_datetime(record.updated_at)
    for name in ("orderNumber", "orderUrl", "shippingMethod"):
        value = _mapped(mapped_fields, name)
        if value is not None:
            body[name] = str(value)
    if isinstance(record, Order):
        amounts = {
            "shippingAmount": ("shipping_total", record.shipping_total),
            "taxAmount": ("tax_total", record.tax_total),
            "discountAmount": ("discount_total", record.discount_total),
        }
        for name, (path, money) in amounts.items():
            if money is not None:
                body[name] = minor_units(money, path, problems, currency=currency, inexact=inexact)
        codes = _mapped(mapped_fields, "discountCode")
        discount = body.get("discountAmount")
        if codes is not None or (isinstance(discount, int) and discount > 0):
            # One entry: platforms give the discount total, not an amount per code.
            body["orderDiscounts"] = [
                {
                    "name": str(codes or "discount"),
                    "type": "order",
                    "discountAmount": discount if isinstance(discount, int) else 0,
                }
            ]
    if fields is None or "orderProducts" in fields:
        # A map that drops orderProducts sends no lines (an update then keeps the
        # stored ones). A map output that does not line up with the record's lines
        # (one per line) is not trusted: each line is read from the record.
        mapped_lines: Sequence[Any] = [None] * len(record.lines)
        given = None if fields is None else fields.get("orderProducts")
        if isinstance(given, list) and len(given) == len(record.lines):
            mapped_lines = given
        body["orderProducts"] = [
            _line(
                line,
                mapped if isinstance(mapped, Mapping) else None,
                n,
                currency,
                problems,
                inexact,
            )
            for n, (line, mapped) in enumerate(zip(record.lines, mapped_lines, strict=True))
        ]
    if problems:
        raise UnrepresentableError(problems)
    return OrderBody(body, checkout_ids(record) if isinstance(record, Order) else (), is_cart)


def checkout_ids(order: Order) -> tuple[str, ...]:
    """The ids of the checkout an order says it came from (``Order.extra``), deduplicated.

    Read defensively: each key may be absent, empty or not a string.

    Example:
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
        >>> o = Order("shopify", "shopify:acme", "1", t, t, status="paid", raw_status="paid",
        ...           total=Money("1", "USD"), extra={"checkout_id": 901, "checkout_token": ""})
        >>> checkout_ids(o)
        ('901',)
    """
    extra = order.extra if isinstance(order.extra, Mapping) else {}
    found: list[str] = []
    for key in CHECKOUT_KEYS:
        value = extra.get(key)
        if value is None or isinstance(value, (bool, Mapping, list, tuple)):
            continue
        text = str(value).strip()
        if text and text not in found:
            found.append(text)
    return tuple(found)


def _compared_value(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if name in DATE_FIELDS:
        instant = parse_instant(value)
        return instant.isoformat() if instant is not None else str(value)
    if name == "currency":
        return str(value).upper()
    return str(value)


def compared_view(
    order: Mapping[str, Any], fields: Iterable[str] = ORDER_COMPARED_FIELDS
) -> dict[str, str | None]:
    """The fields that tell whether a stored order equals a body, normalised.

    Numbers and strings compare alike (``1000`` and ``"1000"``), dates as instants
    (the account answers in its own time zone).

    Example:
        >>> a = {"totalPrice": 1000, "externalUpdatedDate": "2024-01-01T07:00:00-05:00"}
        >>> b = {"totalPrice": "1000", "externalUpdatedDate": "2024-01-01T12:00:00+00:00"}
        >>> compared_view(a) == compared_view(b)
        True
    """
    return {name: _compared_value(name, order.get(name)) for name in fields}


def digest(data: Any) -> str:
    """A stable fingerprint of plain data."""
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
