"""The batch-level write path on PostgreSQL: what the per-item path acknowledged and stored.

The same generated batches as ``test_sink_batch_differential.py``, through
:class:`~commerce_connectors.sinks.postgres.PostgresSink` (a schema of its own per
sink, on the test session's server), deciding with the shipped ``apply_batch`` and
with the reference; acks and ``snapshot()`` must be equal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

pytest.importorskip("psycopg")

import test_sink_batch_differential as diff

from commerce_connectors.protocols import SinkItem
from commerce_connectors.sinks import postgres as postgres_sink


@pytest.fixture(scope="module")
def postgres(postgres_url: str) -> Iterator[None]:
    """Let the differential helpers make PostgreSQL sinks, each in a fresh schema."""

    def make(**options: Any) -> postgres_sink.PostgresSink:
        schema = f"diff_{uuid.uuid4().hex[:12]}"
        return postgres_sink.PostgresSink(f"{postgres_url}?schema={schema}", **options)

    diff.FACTORIES["postgres"] = make
    diff._MODULES["postgres"] = postgres_sink
    try:
        yield
    finally:
        diff.FACTORIES.pop("postgres", None)
        diff._MODULES.pop("postgres", None)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batches=diff.BATCHES, options=diff.SETUPS)
def test_the_batch_path_does_what_the_item_path_did_on_postgres(
    postgres: None, batches: list[list[SinkItem]], options: dict[str, Any]
) -> None:
    assert diff.differences("postgres", batches, options) == []


def test_a_contact_written_in_its_first_state_is_caught_on_postgres(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    diff.test_a_contact_written_in_its_first_state_is_caught("postgres", monkeypatch)
