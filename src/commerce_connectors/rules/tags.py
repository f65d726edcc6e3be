"""Contact tags: the store's own tags, the platform's fixed tag, and per-connection extras."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import attrs

from ..models import Customer

__all__ = ["TagPolicy", "contact_tags", "split_tags"]


def _tags(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return split_tags(value)
    return split_tags(*value)


def split_tags(*values: str) -> tuple[str, ...]:
    """Split comma-separated tag strings into clean, unique tags.

    Each piece is trimmed and put in Unicode NFC form (so ``Noël`` typed with a
    combining diaeresis and ``Noël`` precomposed are one tag); empty pieces are
    dropped; the first occurrence wins and the order is kept. Case and
    accents are kept as the shop wrote them.

    Example:
        >>> split_tags("Léon, Noël ,, VIP", "VIP")
        ('Léon', 'Noël', 'VIP')
    """
    seen: dict[str, None] = {}
    for value in values:
        for piece in value.split(","):
            tag = unicodedata.normalize("NFC", piece.strip())
            if tag:
                seen.setdefault(tag, None)
    return tuple(seen)


@attrs.frozen
class TagPolicy:
    """Which tags a contact gets.

    Attributes:
        platform_tags: tags every contact from this platform gets
            (BigCommerce: ``bigcommerce-customer``).
        import_record_tags: copy the store's own customer tags (Shopify).
        extra_tags: tags added for this connection only (configurable).

    Example:
        >>> TagPolicy(extra_tags="wholesale, eu").extra_tags
        ('wholesale', 'eu')
    """

    platform_tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    import_record_tags: bool = False
    extra_tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)

    def with_extra(self, *tags: str) -> TagPolicy:
        """Return a copy with more per-connection tags."""
        return attrs.evolve(self, extra_tags=split_tags(*self.extra_tags, *tags))


def contact_tags(customer: Customer | None, policy: TagPolicy) -> tuple[str, ...]:
    """The tags a contact built from ``customer`` gets, deduplicated, in a stable order.

    Order: the store's tags (when imported), then the platform's tags, then the
    connection's extra tags. Tags may arrive from a parser already split or as
    one comma-separated string; both give the same result.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> c = Customer("shopify", "s1", "1", t, t, tags=("Léon, Noël",))
        >>> contact_tags(c, TagPolicy(import_record_tags=True, extra_tags=("shopify",)))
        ('Léon', 'Noël', 'shopify')
    """
    own = customer.tags if customer is not None and policy.import_record_tags else ()
    return split_tags(*own, *policy.platform_tags, *policy.extra_tags)
