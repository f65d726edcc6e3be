"""Square ids on their way into URL paths: only plain ids pass.

A location id from the configuration, or an order, payment or customer id from a
webhook payload, becomes one segment of a request path. ``quote()`` alone does not
make that safe (``..`` survives it, and httpx resolves dot segments), so an id
that does not look like a Square id (:data:`.constants.SAFE_ID`) is refused.
"""

from __future__ import annotations

from typing import Any

from .constants import SAFE_ID

__all__ = ["is_safe_id", "safe_id"]


def is_safe_id(value: Any) -> bool:
    """Whether ``value`` is a string that looks like a Square id (a safe path segment).

    Example:
        >>> is_safe_id("L88917AVBK2S5"), is_safe_id("L1/../../evil"), is_safe_id("..")
        (True, False, False)
    """
    return isinstance(value, str) and SAFE_ID.fullmatch(value) is not None


def safe_id(value: Any) -> str | None:
    """``value`` when :func:`is_safe_id`, else ``None`` (the caller refuses the request).

    Example:
        >>> safe_id("wbhk_b35f6b3145074cf9ad513610786c19d5"), safe_id("a%2Fb")
        ('wbhk_b35f6b3145074cf9ad513610786c19d5', None)
    """
    return value if is_safe_id(value) else None
