"""Phone normalisation to E.164 and the per-platform fallback chain.

The chain is Shopify's published rule made general: take the first candidate
field (customer phone, then default-address phone, …) that holds a *plausible*
number; skip implausible ones with a reason; if none is left, sync no phone.
Normalisation uses Google's libphonenumber metadata (the ``phonenumbers``
package), because per-country numbering plans change too often to hand-code.
It is the costliest rule, and a sync meets the same numbers again and again (a
customer's every order), so results are memoised per distinct (number, region,
strictness) in a bounded cache: :data:`PHONE_CACHE_SIZE` entries at most,
least recently used dropped first, so memory stays flat.

This module is a policy: it takes its chain as an argument and knows nothing
of platforms. :func:`~commerce_connectors.rules.choose_phone` is the entry
point that falls back to a platform's default chain.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import attrs
import phonenumbers

from ..errors import ConfigurationError
from ..models import Address, Cart, Customer, Order
from ._direct import builder
from ._paths import FieldPath, PathError, Reader
from ._reasons import Reason
from .guests import is_guest

__all__ = [
    "PHONE_CACHE_SIZE",
    "PhoneAttempt",
    "PhoneCandidate",
    "PhoneResult",
    "Plausibility",
    "normalize_phone",
    "phone_from_chain",
    "region_for",
]

#: Distinct (number, region, strictness) whose normalisation is remembered (a few MB at most).
PHONE_CACHE_SIZE = 8192


class Plausibility(str, enum.Enum):
    """How strict the plausibility test is.

    ``VALID`` (the default) asks libphonenumber whether the number belongs to an
    assigned range of its country, which rejects typed junk such as
    ``1234567890`` and fictional ``555`` numbers. ``POSSIBLE`` only checks the
    length for the country, for sinks that prefer to keep doubtful numbers.
    """

    VALID = "valid"
    POSSIBLE = "possible"


def _path(value: str | FieldPath) -> FieldPath:
    return FieldPath.parse(value)


@attrs.frozen
class PhoneCandidate:
    """One field of a phone chain.

    Attributes:
        path: where to read it: a canonical path (``default_address.phone``,
            ``addresses[*].phone``) or a raw payload path (``$.billing_address.phone``).
            A ``[*]`` path tries every element in order.
        guest_only: only consult this field when the record is a guest's (used
            for Shopify, whose published rule for registered customers stops
            at the default address, while guests only have the order's billing
            details).

    Example:
        >>> PhoneCandidate("$.billing_address.phone", guest_only=True).path.is_raw
        True
    """

    path: FieldPath = attrs.field(converter=_path)
    guest_only: bool = False


@attrs.frozen
class PhoneAttempt:
    """One candidate value that was tried and skipped.

    Attributes:
        path: the concrete path read (``addresses[1].phone``).
        original: the value found there, unchanged (``None`` if absent).
        reason: why it was skipped.
        region: the default region it was read with.
    """

    path: str
    original: str | None
    reason: Reason
    region: str | None = None


@attrs.frozen
class PhoneResult:
    """The outcome of :func:`normalize_phone` or :func:`choose_phone`.

    Attributes:
        value: the E.164 number (``+14155550123``), or ``None``: sync no phone.
        reason: why ``value`` is ``None``; ``None`` when a number was found.
        source: the concrete path the number came from (``None`` for a bare value).
        original: the winning input exactly as the platform gave it.
        region: the default region used to read a national-format number.
        skipped: every candidate tried before the winner (or all of them), with reasons.
    """

    value: str | None
    reason: Reason | None = None
    source: str | None = None
    original: str | None = None
    region: str | None = None
    skipped: tuple[PhoneAttempt, ...] = ()

    @property
    def ok(self) -> bool:
        """True when a plausible number was found."""
        return self.value is not None


def _region(code: object) -> str | None:
    if code is None:
        return None
    if type(code) is str:
        # The same few codes on every record: each is looked up once (bounded).
        try:
            return _REGIONS[code]
        except KeyError:
            found = _checked_region(code)
            if len(_REGIONS) >= _REGIONS_LIMIT:
                _REGIONS.clear()
            _REGIONS[code] = found
            return found
    return _checked_region(code)


def _checked_region(code: object) -> str | None:
    """The region a country code names, if libphonenumber knows it: the checked way."""
    if not isinstance(code, str):
        return None
    code = code.strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


#: Country codes as written (``"us "``) -> the region they name, or ``None``.
_REGIONS: dict[str, str | None] = {}
_REGIONS_LIMIT = 1024


def normalize_phone(
    phone: object,
    region: str | None = None,
    *,
    plausibility: Plausibility = Plausibility.VALID,
) -> PhoneResult:
    """Normalise one phone string to E.164, or say why it cannot be used.

    Args:
        phone: the number as stored by the shop (free-form text; ints accepted).
        region: ISO 3166-1 alpha-2 country used for numbers written without
            a ``+`` country code.
        plausibility: how strict the plausibility test is.

    Returns:
        A :class:`PhoneResult` whose ``value`` is E.164 or ``None`` with a reason.

    Example:
        >>> normalize_phone("+1 (502) 459-2181").value
        '+15024592181'
        >>> normalize_phone("(502) 459-2181", "US").value
        '+15024592181'
        >>> normalize_phone("12", "US").reason
        <Reason.PHONE_IMPLAUSIBLE: 'phone_implausible'>
    """
    text: str | None
    if isinstance(phone, bool) or phone is None:
        text = None
    elif isinstance(phone, int):
        text = str(phone)
    elif isinstance(phone, str):
        text = phone
    else:
        return PhoneResult(None, Reason.PHONE_UNPARSEABLE, original=repr(phone))
    if text is None:
        return _MISSING
    if not text.strip():
        return PhoneResult(None, Reason.PHONE_MISSING, original=text)
    # Keyed by the strictness actually applied (an enum member compares equal to its
    # string value, which does not select the strict test).
    strict = plausibility is Plausibility.VALID
    if type(text) is str:
        # Exactly str: a subclass would be remembered as a plain string.
        return _parse_cached(text, _region(region), strict)
    return _parse(text, _region(region), strict)


def _parse(text: str, region: str | None, strict: bool) -> PhoneResult:
    """Parse and check one non-blank number: pure, so its results can be shared."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        reason = (
            Reason.PHONE_NO_REGION
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            and region is None
            and not text.strip().startswith("+")
            else Reason.PHONE_UNPARSEABLE
        )
        return PhoneResult(None, reason, original=text, region=region)
    check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if not check(number):
        return PhoneResult(None, Reason.PHONE_IMPLAUSIBLE, original=text, region=region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneResult(e164, None, original=text, region=region)


# Results are frozen, so one instance may be handed to every caller.
_MISSING = PhoneResult(None, Reason.PHONE_MISSING)
_parse_cached = functools.lru_cache(maxsize=PHONE_CACHE_SIZE)(_parse)


def _addresses_of(record: Any) -> Iterable[Any]:
    if isinstance(record, Customer):
        if record.default_address is not None:
            yield record.default_address
        yield from record.addresses
    elif isinstance(record, Order | Cart) and record.customer is not None:
        yield from _addresses_of(record.customer)


def region_for(record: Any, *, store_country: str | None = None) -> str | None:
    """The default region for a record's national-format phone numbers.

    The record's own address country comes first (the default address, then
    the other addresses in order; for an order or cart, its buyer's), then the
    store's country, because a shopper's number is likelier to match where
    they live than where the shop is.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("shopify", "s1", "1", t, t, default_address=Address(country_code="ES"))
        >>> region_for(c, store_country="FR")
        'ES'
    """
    if isinstance(record, Customer):
        buyer: Customer | None = record
    elif isinstance(record, Order | Cart) and isinstance(record.customer, Customer):
        buyer = record.customer
    else:
        buyer = None
        for address in _addresses_of(record):
            code = _region(getattr(address, "country_code", None))
            if code:
                return code
    if buyer is not None:
        # _addresses_of(buyer), unrolled: the usual buyer has one default address.
        address = buyer.default_address
        if address is not None:
            code = _region(getattr(address, "country_code", None))
            if code:
                return code
        for address in buyer.addresses:
            code = _region(getattr(address, "country_code", None))
            if code:
                return code
    return _region(store_country)


def _parent_region(parent: Any) -> str | None:
    """The region of the object a phone was found in (its address), if it says."""
    if isinstance(parent, Address):
        return _region(parent.country_code)
    if isinstance(parent, dict):
        for key in ("country_code", "country_iso2", "country"):
            code = _region(parent.get(key))
            if code:
                return code
    return None


def phone_from_chain(
    record: Customer | Order | Cart,
    chain: Sequence[PhoneCandidate | str],
    *,
    store_country: str | None = None,
    plausibility: Plausibility = Plausibility.VALID,
    guest_customer_ids: Collection[str] = (),
) -> PhoneResult:
    """Apply a given phone fallback chain to a record and return the first plausible number.

    The policy behind :func:`~commerce_connectors.rules.choose_phone`, which
    documents the rule and also accepts no chain (the platform's default).

    Raises:
        ConfigurationError: a chain path is malformed or names a field the
            record does not have.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("custom", "c1", "1", t, t, phone="+34 911 23 45 67")
        >>> phone_from_chain(c, ["phone"]).value
        '+34911234567'
    """
    skipped: list[PhoneAttempt] = []
    # Both are pure; computed only when a candidate needs them.
    fallback: list[str | None] = []
    guest: list[bool] = []
    for candidate, reader, text in _chain_plan(chain):
        if candidate.guest_only:
            if not guest:
                guest.append(is_guest(record, guest_customer_ids=guest_customer_ids))
            if not guest[0]:
                continue
        if reader is not None:
            # A path without [*]: one value, read directly (what resolve() would give).
            try:
                value, parent = reader(record)
            except PathError as exc:
                raise ConfigurationError(f"phone chain path {candidate.path}: {exc}") from None
            found: Iterable[tuple[str, Any, Any]] = ((text, value, parent),)
        else:
            try:
                resolved = candidate.path.resolve(record)
            except PathError as exc:
                raise ConfigurationError(f"phone chain path {candidate.path}: {exc}") from None
            found = [(item.path, item.value, item.parent) for item in resolved]
        for path, value, parent in found:
            region = _parent_region(parent)
            if region is None:
                if not fallback:
                    fallback.append(region_for(record, store_country=store_country))
                region = fallback[0]
            result = normalize_phone(value, region, plausibility=plausibility)
            if result.value is not None:
                return _result(
                    result.value,
                    result.reason,
                    path,
                    result.original,
                    result.region,
                    tuple(skipped),
                )
            assert result.reason is not None
            original = value if isinstance(value, str) else result.original
            skipped.append(_attempt(path, original, result.reason, region))
    if not fallback:
        fallback.append(region_for(record, store_country=store_country))
    return PhoneResult(None, Reason.NO_PHONE, region=fallback[0], skipped=tuple(skipped))


# PhoneResult(...) and PhoneAttempt(...), slot by slot (see _direct), or the
# constructors themselves.
_result: Callable[..., PhoneResult] = (
    builder(PhoneResult, ("value", "reason", "source", "original", "region", "skipped"))
    or PhoneResult
)
_attempt: Callable[..., PhoneAttempt] = (
    builder(PhoneAttempt, ("path", "original", "reason", "region")) or PhoneAttempt
)

#: A chain made ready: each candidate with its path's reader (``None`` for a
#: ``[*]`` path) and the path's text.
_Plan = tuple[tuple[PhoneCandidate, Reader | None, str], ...]

# Chains are the rule set's long-lived tuples, met on every record: each is made
# ready once and found again by identity (the entry holds the chain, so its id
# cannot be reused while listed). Bounded: cleared when full.
_PLANS: dict[int, tuple[Sequence[PhoneCandidate | str], _Plan]] = {}
_PLANS_LIMIT = 256


def _chain_plan(chain: Sequence[PhoneCandidate | str]) -> _Plan:
    entry = _PLANS.get(id(chain))
    if entry is not None and entry[0] is chain:
        return entry[1]
    candidates = [c if isinstance(c, PhoneCandidate) else PhoneCandidate(c) for c in chain]
    plan = tuple((c, c.path.reader(), str(c.path)) for c in candidates)
    if isinstance(chain, tuple):
        # Only an immutable chain may be remembered: a list could change in place.
        if len(_PLANS) >= _PLANS_LIMIT:
            _PLANS.clear()
        _PLANS[id(chain)] = (chain, plan)
    return plan
