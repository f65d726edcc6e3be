"""Many connections on any executor: thousands of shops every 30 minutes, or a warehouse load.

The fleet brings no scheduler or queue of its own: it runs on
:mod:`concurrent.futures` executors, which includes Dask distributed clusters.

* :class:`ConnectionSpec` describes one connection (platform, options, a token
  *reference*): picklable, with no secret in it or its repr.
* :func:`sync_fleet` runs one task per connection on an executor; each worker opens
  its own sink and state store from their URLs, reads its token where it runs, and
  returns a :class:`ConnectionReport`. One connection's failure never stops another.
* :func:`load_fleet_file` reads a fleet from TOML, :func:`run_rounds` syncs it every
  N minutes on a Dask cluster, worker processes, or in-process.
* :class:`SimulatedStore` makes a store simulated inside the worker, for trials and
  benchmarks.

Example (Dask, with ``pip install 'commerce-connectors[dask]'``):

.. code-block:: python

    from distributed import Client
    from commerce_connectors.fleet import ConnectionSpec, sync_fleet

    specs = [ConnectionSpec("shopify", {"shop": "acme.myshopify.com"}, token="SHOPIFY_TOKEN_ACME")]
    with Client("tcp://scheduler:8786") as client:
        report = sync_fleet(specs, sink="postgresql://crm@db/shops",
                            state="postgresql://crm@db/shops", executor=client)
    print(report.summary())
"""

from __future__ import annotations

from ._file import FleetFile, load_fleet_file, run_rounds
from ._run import ConnectionReport, FleetReport, sync_connection, sync_fleet
from ._spec import ConnectionSpec, TokenRef
from .simulated import SimulatedShop, SimulatedStore

__all__ = [
    "ConnectionReport",
    "ConnectionSpec",
    "FleetFile",
    "FleetReport",
    "SimulatedShop",
    "SimulatedStore",
    "TokenRef",
    "load_fleet_file",
    "run_rounds",
    "sync_connection",
    "sync_fleet",
]
