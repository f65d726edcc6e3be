"""Contact caps: a sink may hold at most N contacts (DataCrush free accounts: 2,000).

Reaching the cap refuses *new* identities with a :class:`ContactLimitError`
per record, keeps updating contacts the sink already has, and loses nothing:
every refused item is returned so the sync engine can keep it for a run after
the cap is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sized
from typing import Any, Generic, TypeVar, overload

import attrs

from ..errors import ConfigurationError, ContactLimitError
from ._reasons import Reason
from .contacts import Contact

__all__ = ["CapResult", "Refusal", "apply_contact_cap"]

T = TypeVar("T")


@attrs.frozen
class Refusal(Generic[T]):
    """One item refused by the contact cap.

    Attributes:
        item: the item, unchanged, to be kept and retried later.
        identity: its contact identity.
        error: the contact-limit error to record for it.
        reason: always ``CONTACT_LIMIT``.
    """

    item: T
    identity: str
    error: ContactLimitError = attrs.field(eq=False)
    reason: Reason = Reason.CONTACT_LIMIT


@attrs.frozen
class CapResult(Generic[T]):
    """The split made by :func:`apply_contact_cap`.

    ``len(accepted) + len(refused)`` always equals the number of input items.

    Attributes:
        accepted: items to write (updates of existing contacts and new ones within the cap).
        refused: new contacts beyond the cap, each with its error.
        contact_count: how many contacts the sink holds once ``accepted`` is written.
    """

    accepted: tuple[T, ...]
    refused: tuple[Refusal[T], ...]
    contact_count: int


def _contact_identity(item: Contact) -> str:
    return item.key.value


@overload
def apply_contact_cap(
    items: Iterable[Contact],
    *,
    limit: int | None,
    existing: Container[str] | Callable[[str], bool],
    existing_count: int | None = None,
) -> CapResult[Contact]: ...


@overload
def apply_contact_cap(
    items: Iterable[T],
    *,
    limit: int | None,
    existing: Container[str] | Callable[[str], bool],
    existing_count: int | None = None,
    identity: Callable[[T], str],
) -> CapResult[T]: ...


def apply_contact_cap(
    items: Iterable[Any],
    *,
    limit: int | None,
    existing: Container[str] | Callable[[str], bool],
    existing_count: int | None = None,
    identity: Callable[[Any], str] | None = None,
) -> CapResult[Any]:
    """Split items into those a capped sink may take now and those it must refuse.

    Items whose identity the sink already holds are always accepted (updates
    continue). New identities are accepted in input order while the sink has
    room; beyond the cap each is refused with a :class:`ContactLimitError`. A
    new identity seen twice in ``items`` takes one slot.

    Args:
        items: contacts (or any items, with ``identity``), in the order to admit them.
        limit: the sink's contact cap; ``None`` means no cap.
        existing: the identities the sink already holds: a container, or a
            lookup function for sinks that cannot list them all.
        existing_count: how many contacts the sink holds; defaults to
            ``len(existing)`` when ``existing`` is sized.
        identity: the identity of an item; defaults to ``item.key.value`` for contacts.

    Raises:
        ConfigurationError: a negative limit, or no way to know the current count.

    Example:
        >>> result = apply_contact_cap(
        ...     ["old@x.io", "new1@x.io", "new2@x.io"],
        ...     limit=2, existing={"old@x.io"}, identity=str,
        ... )
        >>> result.accepted, [r.item for r in result.refused]
        (('old@x.io', 'new1@x.io'), ['new2@x.io'])
    """
    key_of: Callable[[Any], str] = identity or _contact_identity
    if limit is not None and limit < 0:
        raise ConfigurationError(f"a contact limit cannot be negative, got {limit}")
    lookup: Any = existing
    if existing_count is None:
        if not isinstance(lookup, Sized):
            raise ConfigurationError("pass existing_count when existing is a lookup function")
        existing_count = len(lookup)
    holds: Callable[[str], bool] = lookup if callable(lookup) else lookup.__contains__
    count = existing_count
    admitted: set[str] = set()
    accepted: list[Any] = []
    refused: list[Refusal[Any]] = []
    for item in items:
        key = key_of(item)
        if key in admitted or holds(key):
            accepted.append(item)
        elif limit is None or count < limit:
            admitted.add(key)
            count += 1
            accepted.append(item)
        else:
            refused.append(Refusal(item, key, ContactLimitError(limit, key)))
    return CapResult(tuple(accepted), tuple(refused), count)
