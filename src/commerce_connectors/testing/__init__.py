"""Public test tooling: simulators, hypothesis strategies and conformance suites.

Nothing here is needed at run time by the library itself. Hypothesis is only
imported by :mod:`commerce_connectors.testing.strategies`, and graphql-core
only by the Shopify simulator.

* :func:`check_connector` (:mod:`.conformance`): the suite every connector and
  its simulator must pass.
* :func:`check_sink` (:mod:`.sink_conformance`): the suite every sink must pass.
* :func:`check_state_store` (:mod:`.state_conformance`): the suite every state store
  must pass (checkpoints, runs, dead letters, parked contacts, inbox, lifecycle, leases).
* :class:`FakeClock`: time that moves only when something sleeps on it.
* :mod:`.simulator`: the kit for fake platform APIs; :mod:`.simulators`: the
  Shopify, BigCommerce, Square and Tiendanube simulators;
  :mod:`.example_shop`: a complete example platform.
"""

from __future__ import annotations

from ..clock import FakeClock
from .conformance import CONNECTOR_CHECKS, check_connector
from .sink_conformance import SINK_CHECKS, check_sink
from .state_conformance import STATE_CHECKS, check_state_store

__all__ = [
    "CONNECTOR_CHECKS",
    "SINK_CHECKS",
    "STATE_CHECKS",
    "FakeClock",
    "check_connector",
    "check_sink",
    "check_state_store",
]
