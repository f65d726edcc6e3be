"""Public test tooling: simulators, hypothesis strategies and conformance suites.

Import what you need from the submodules; nothing here is needed at run time
by the library itself, and hypothesis is only imported by
:mod:`commerce_connectors.testing.strategies`.
"""

from __future__ import annotations

from ..clock import FakeClock

__all__ = ["FakeClock"]
