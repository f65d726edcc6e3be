"""One module per platform (API client + pure ``parse_*`` functions), and the shared base."""

from __future__ import annotations

from .base import BaseConnector

__all__ = ["BaseConnector"]
