"""A Dask LocalCluster of worker processes, started once for the fleet tests.

The stores' tokens are put in the environment before the cluster starts, as an
operator would set them on every worker; the specs name the variables only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from _stores import PLATFORMS, token, token_env

#: Store numbers the tests use (each platform's store ``n`` has its own token).
NUMBERS = range(40)


@pytest.fixture(scope="session")
def fleet_tokens() -> Iterator[None]:
    """Every test store's token in its environment variable (inherited by the workers)."""
    names = {token_env(p, n): token(p, n) for p in PLATFORMS for n in NUMBERS}
    os.environ.update(names)
    yield
    for name in names:
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def dask_client(fleet_tokens: None) -> Iterator[Any]:
    """A Dask client on a LocalCluster: 2 worker processes, 1 thread each."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
