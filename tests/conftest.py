"""Shared pytest configuration: hypothesis profiles (fast by default, thorough on demand),
and the PostgreSQL server fixtures (``postgres_url``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from pg_server import PostgresServer, PostgresUnavailableError

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


# ---------------------------------------------------------------- a real PostgreSQL server
# Started once per session, on first use, from the machine's binaries (tests/pg_server.py).
# With CI=true a missing server fails the tests that need it: CI must provide one.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for this test session (stopped at the end)."""
    try:
        server = PostgresServer()
    except PostgresUnavailableError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs PostgreSQL for these tests: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a database made for this session (``postgresql://cc:…@127.0.0.1:PORT/cc_tests``).

    Tests sharing it keep apart with their own schema: see ``postgres_schema_url``.
    """
    return postgres_server.create_database("cc_tests")


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> str:
    """``postgres_url`` with a schema of this test's own (``?schema=t_<random>``)."""
    return f"{postgres_url}?schema=t_{uuid.uuid4().hex[:12]}"
