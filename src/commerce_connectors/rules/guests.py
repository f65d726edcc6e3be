"""Guest policy: which guests' orders, carts and contact details are synced."""

from __future__ import annotations

from collections.abc import Collection

import attrs

from ..models import Cart, Customer, Order, Payment
from ._reasons import Reason
from .email import normalize_email

__all__ = ["Admission", "GuestPolicy", "admit_contact", "admit_record", "is_guest"]


def _ids(value: Collection[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen
class GuestPolicy:
    """What a connection does with guests and shoppers.

    Attributes:
        sync_guests: sync guest orders and carts, and make contacts of guests.
        cart_contacts: a shopper who starts a checkout becomes a contact.
        require_email: a contact must have a valid email even when the sink's
            identity policy would accept a phone (Square's published rule).
        guest_customer_ids: customer ids the platform uses to mean "guest"
            (BigCommerce puts ``0`` in ``customer_id``).

    Example:
        >>> GuestPolicy(sync_guests=False, guest_customer_ids={"0"}).guest_customer_ids
        frozenset({'0'})
    """

    sync_guests: bool = True
    cart_contacts: bool = True
    require_email: bool = False
    guest_customer_ids: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)


@attrs.frozen
class Admission:
    """Whether a record (or its shopper) is synced, and if not, why.

    Attributes:
        admitted: True when it is synced.
        reason: the machine-readable reason when it is not.
    """

    admitted: bool
    reason: Reason | None = None

    def __bool__(self) -> bool:
        return self.admitted


_YES = Admission(True)


def is_guest(
    record: Customer | Order | Cart | Payment, *, guest_customer_ids: Collection[str] = ()
) -> bool:
    """Whether a record belongs to a guest (no customer account).

    A customer record says so itself (``is_guest``). An order, cart or payment
    is a guest's when its buyer is marked as a guest, or when it has no
    customer id, or one of the platform's guest markers (``guest_customer_ids``).

    Example:
        >>> from datetime import datetime, timezone
        >>> from commerce_connectors.models import Money
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> o = Order("bigcommerce", "bc:abc", "100", t, t, status="paid", raw_status="Shipped",
        ...           total=Money("10", "USD"), customer_external_id="0")
        >>> is_guest(o), is_guest(o, guest_customer_ids={"0"})
        (False, True)
    """
    if isinstance(record, Customer):
        return record.is_guest or record.external_id in guest_customer_ids
    if isinstance(record, Payment):
        cid = record.customer_external_id
        return cid is None or cid in guest_customer_ids
    if record.customer is not None and (
        record.customer.is_guest or record.customer.external_id in guest_customer_ids
    ):
        return True
    cid = record.customer_external_id
    if cid is None:
        return record.customer is None
    return cid in guest_customer_ids


def admit_record(record: Order | Cart | Payment, policy: GuestPolicy) -> Admission:
    """Whether an order, cart or payment is synced under a guest policy.

    Example:
        >>> from datetime import datetime, timezone
        >>> from commerce_connectors.models import Money
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> o = Order("bigcommerce", "bc:abc", "100", t, t, status="paid", raw_status="Shipped",
        ...           total=Money("10", "USD"), customer_external_id="0")
        >>> admit_record(o, GuestPolicy(sync_guests=False, guest_customer_ids={"0"})).reason
        <Reason.GUEST_EXCLUDED: 'guest_excluded'>
    """
    if not policy.sync_guests and is_guest(record, guest_customer_ids=policy.guest_customer_ids):
        return Admission(False, Reason.GUEST_EXCLUDED)
    return _YES


def admit_contact(record: Customer | Order | Cart, policy: GuestPolicy) -> Admission:
    """Whether the shopper behind a record becomes (or updates) a contact.

    Checks, in order: guests (``sync_guests``), checkout shoppers
    (``cart_contacts``), and a required email (``require_email``).

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("square", "sq:M:L", "C1", t, t, email=None)
        >>> admit_contact(c, GuestPolicy(require_email=True)).reason
        <Reason.EMAIL_REQUIRED: 'email_required'>
    """
    if not policy.sync_guests and is_guest(record, guest_customer_ids=policy.guest_customer_ids):
        return Admission(False, Reason.GUEST_EXCLUDED)
    if isinstance(record, Cart) and not policy.cart_contacts:
        return Admission(False, Reason.CART_CONTACT_EXCLUDED)
    if policy.require_email:
        email = record.email
        if email is None and not isinstance(record, Customer) and record.customer is not None:
            email = record.customer.email
        if not normalize_email(email).ok:
            return Admission(False, Reason.EMAIL_REQUIRED)
    return _YES
