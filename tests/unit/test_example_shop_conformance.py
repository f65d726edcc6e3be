"""The connector conformance suite, run against the ToyShop example connector + simulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from commerce_connectors.testing.conformance import (
    CONNECTOR_CHECKS,
    ConformanceError,
    ConnectorHarness,
    check_connector,
)
from commerce_connectors.testing.example_shop import ToyShopHarness


@pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
def test_toyshop_passes(check: Callable[[ConnectorHarness], None]) -> None:
    check(ToyShopHarness())


def test_check_connector_runs_every_check() -> None:
    check_connector(ToyShopHarness)


# The suite must catch broken connectors, or it proves nothing.


class _FirstPageOnly(ToyShopHarness):
    def make_connector(self, **kwargs):  # type: ignore[no-untyped-def]
        conn = super().make_connector(**kwargs)
        fetch = conn._fetch

        def first_page(stream, since):  # type: ignore[no-untyped-def]
            for n, item in enumerate(fetch(stream, since)):
                if n < self.page_size:
                    yield item

        conn._fetch = first_page  # type: ignore[method-assign]
        return conn


class _NoRetries(ToyShopHarness):
    def make_connector(self, **kwargs):  # type: ignore[no-untyped-def]
        from commerce_connectors._http import RetryPolicy

        conn = super().make_connector(**kwargs)
        conn.engine.retry = RetryPolicy.no_retry()
        return conn


class _ExclusiveSince(ToyShopHarness):
    def make_connector(self, **kwargs):  # type: ignore[no-untyped-def]
        import datetime as dt

        conn = super().make_connector(**kwargs)
        fetch = conn._fetch

        def shifted(stream, since):  # type: ignore[no-untyped-def]
            later = since + dt.timedelta(seconds=1) if since else None
            return fetch(stream, later)

        conn._fetch = shifted  # type: ignore[method-assign]
        return conn


class _LeakyRepr(ToyShopHarness):
    def make_connector(self, **kwargs):  # type: ignore[no-untyped-def]
        conn = super().make_connector(**kwargs)
        secret = self.secret
        type(conn).__repr__ = lambda self: f"Conn(token={secret})"  # type: ignore[method-assign]
        return conn


class _SwallowsBadRecords(ToyShopHarness):
    def make_connector(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["on_invalid"] = lambda error: None
        return super().make_connector(**kwargs)


@pytest.mark.parametrize(
    ("harness", "check", "message"),
    [
        (_FirstPageOnly, "check_streams_iterate_across_pages", "missing"),
        (_NoRetries, "check_survives_429_storm", "gave up: RateLimitError"),
        (_NoRetries, "check_survives_transient_server_errors", "gave up: ServerError"),
        (_ExclusiveSince, "check_since_is_inclusive_and_exact", "missing"),
        (_SwallowsBadRecords, "check_malformed_record_reaches_on_invalid", "0 refusals"),
    ],
)
def test_the_suite_catches_broken_connectors(
    harness: type[ToyShopHarness], check: str, message: str
) -> None:
    chosen = next(c for c in CONNECTOR_CHECKS if c.__name__ == check)
    with pytest.raises(ConformanceError, match=message):
        chosen(harness())


def test_the_suite_catches_a_leaked_secret() -> None:
    from commerce_connectors.testing.example_shop import ToyShopConnector

    original = ToyShopConnector.__repr__
    try:
        with pytest.raises(ConformanceError, match="secret"):
            check_connector(_LeakyRepr)
    finally:
        ToyShopConnector.__repr__ = original  # type: ignore[method-assign]
