"""``check_connector``: the conformance suite every connector + simulator pair must pass.

A connector author writes a small *harness* (see :class:`ConnectorHarness`)
that builds the connector wired to its simulator, tells the suite the ground
truth, and can corrupt one record. The suite then checks the
:class:`~commerce_connectors.protocols.Connector` contract:

* every supported stream iterates across many pages and yields exactly the
  simulator's records, each once;
* ``since`` yields exactly the records created or updated at/after it
  (boundary inclusive); naive ``since`` is refused;
* every datetime on every record is aware;
* unsupported streams raise ``UnsupportedStreamError`` at call time;
* a 401 becomes ``AuthenticationError`` and the token appears in no message;
* a storm of 429s, transient 5xx, connection resets and a malformed page are
  survived with the exact record set;
* a malformed record reaches ``on_invalid`` with its raw payload and every
  other record still arrives.

Use it from pytest either all at once or one test per check (``MyHarness`` is yours)::

    @pytest.mark.parametrize("check", CONNECTOR_CHECKS, ids=lambda c: c.__name__)
    def test_my_connector(check):
        check(MyHarness())

Example:
    >>> from commerce_connectors.testing.example_shop import ToyShopHarness
    >>> check_connector(ToyShopHarness)  # raises ConformanceError listing any failure
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import attrs

from ..errors import (
    AuthenticationError,
    CommerceConnectorsError,
    InvalidRecordError,
    NaiveDatetimeError,
    UnsupportedStreamError,
)
from ..models import Address, Cart, Customer, LineItem, Order, Product
from ..protocols import Connector, InvalidRecordHandler, Stream
from .simulator import ConnectionReset, ErrorStatus, MalformedBody, RateLimitBurst, Simulator

__all__ = [
    "CONNECTOR_CHECKS",
    "ConformanceError",
    "ConnectorHarness",
    "check_connector",
]

Record = Customer | Order | Product | Cart


class ConnectorHarness(Protocol):
    """Adapts one connector and its simulator to the conformance suite.

    A harness is cheap to build; the suite builds a fresh one per check when
    given a factory, so checks never see each other's faults.
    """

    @property
    def simulator(self) -> Simulator:
        """The simulator the connector talks to (faults are added to it)."""
        ...

    @property
    def secret(self) -> str:
        """The secret the connector authenticates with; it must never leak."""
        ...

    def make_connector(
        self, *, valid_credentials: bool = True, on_invalid: InvalidRecordHandler | None = None
    ) -> Connector:
        """A connector wired to :attr:`simulator`, never sleeping for real."""
        ...

    def expected_ids(self, stream: Stream, since: _dt.datetime | None = None) -> set[str]:
        """External ids the stream must yield for ``since`` (ground truth)."""
        ...

    def timestamps(self, stream: Stream) -> list[_dt.datetime]:
        """The ``updated_at`` of every record of the stream (to choose ``since``)."""
        ...

    def corrupt_one(self, stream: Stream) -> str:
        """Make one record of ``stream`` unparseable; return its external id."""
        ...


class ConformanceError(AssertionError):
    """A connector broke its contract; the message lists every failed expectation."""


def _fail(check: str, message: str) -> ConformanceError:
    return ConformanceError(f"{check}: {message}")


def _collect(
    connector: Connector, stream: Stream, since: _dt.datetime | None = None
) -> list[Record]:
    method: Callable[[_dt.datetime | None], Iterator[Record]] = {
        Stream.CUSTOMERS: connector.iter_customers,
        Stream.ORDERS: connector.iter_orders,
        Stream.PRODUCTS: connector.iter_products,
        Stream.ABANDONED_CARTS: connector.iter_abandoned_carts,
    }[stream]  # type: ignore[assignment]
    return list(method(since))


def _ids(records: list[Record]) -> list[str]:
    return [r.external_id for r in records]


def _compare(check: str, stream: Stream, got: list[str], expected: set[str]) -> None:
    duplicates = sorted({i for i in got if got.count(i) > 1})
    if duplicates:
        raise _fail(check, f"{stream.value}: yielded twice in one pass: {duplicates[:10]}")
    missing, extra = expected - set(got), set(got) - expected
    if missing or extra:
        raise _fail(
            check,
            f"{stream.value}: {len(missing)} missing {sorted(missing)[:10]}, "
            f"{len(extra)} unexpected {sorted(extra)[:10]}",
        )


def _streams(connector: Connector) -> list[Stream]:
    return [s for s in Stream if s in connector.supported_streams]


# -- the checks -----------------------------------------------------------------------


def check_streams_iterate_across_pages(harness: ConnectorHarness) -> None:
    """Every supported stream yields exactly the simulator's records, over several pages."""
    with harness.make_connector() as conn:
        for stream in _streams(conn):
            before = len(harness.simulator.log.entries)
            got = _ids(_collect(conn, stream))
            _compare("iterate", stream, got, harness.expected_ids(stream))
            requests = len(harness.simulator.log.entries) - before
            if len(got) > 1 and requests < 2:
                raise _fail(
                    "iterate",
                    f"{stream.value}: {len(got)} records in {requests} request(s); "
                    "the harness must make the simulator page",
                )


def check_since_is_inclusive_and_exact(harness: ConnectorHarness) -> None:
    """``since`` yields exactly the records created or updated at/after it."""
    with harness.make_connector() as conn:
        for stream in _streams(conn):
            stamps = sorted(harness.timestamps(stream))
            if not stamps:
                continue
            for since in {stamps[len(stamps) // 2], stamps[-1], stamps[0]}:
                got = _ids(_collect(conn, stream, since))
                _compare(
                    f"since={since.isoformat()}", stream, got, harness.expected_ids(stream, since)
                )
            later = stamps[-1] + _dt.timedelta(seconds=1)
            if _collect(conn, stream, later):
                raise _fail("since", f"{stream.value}: records after the newest update")


def check_naive_since_is_refused(harness: ConnectorHarness) -> None:
    """A naive ``since`` raises NaiveDatetimeError at call time."""
    with harness.make_connector() as conn:
        for stream in _streams(conn):
            try:
                _collect(conn, stream, _dt.datetime(2024, 1, 1))
            except NaiveDatetimeError:
                continue
            raise _fail("naive since", f"{stream.value}: a naive datetime was accepted")


def _datetimes(value: Any, path: str) -> Iterator[tuple[str, _dt.datetime]]:
    if isinstance(value, _dt.datetime):
        yield path, value
    elif isinstance(value, (Customer, Order, Product, Cart, LineItem, Address)):
        for field in attrs.fields(type(value)):
            if field.name not in ("raw", "extra"):
                yield from _datetimes(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _datetimes(item, f"{path}[{i}]")


def check_datetimes_are_aware(harness: ConnectorHarness) -> None:
    """Every datetime on every record is timezone-aware."""
    with harness.make_connector() as conn:
        for stream in _streams(conn):
            for record in _collect(conn, stream):
                for path, value in _datetimes(record, record.external_id):
                    if value.tzinfo is None or value.utcoffset() is None:
                        raise _fail("aware datetimes", f"{stream.value} {path} is naive")


def check_unsupported_streams_raise(harness: ConnectorHarness) -> None:
    """Streams the platform lacks raise UnsupportedStreamError at call time, with a reason."""
    with harness.make_connector() as conn:
        for stream in Stream:
            if stream in conn.supported_streams:
                continue
            try:
                _collect(conn, stream)
            except UnsupportedStreamError as exc:
                if not exc.reason:
                    raise _fail("unsupported", f"{stream.value}: no reason given") from exc
                continue
            raise _fail("unsupported", f"{stream.value} is not supported but did not raise")


def check_bad_credentials_raise_authentication_error(harness: ConnectorHarness) -> None:
    """A 401 becomes AuthenticationError; no message or repr contains the secret."""
    with harness.make_connector(valid_credentials=False) as conn:
        stream = _streams(conn)[0]
        try:
            _collect(conn, stream)
        except AuthenticationError as exc:
            for text in (str(exc), repr(exc), repr(conn)):
                if harness.secret in text:
                    raise _fail("auth", "the secret appears in an error or repr") from exc
            return
        raise _fail("auth", "bad credentials did not raise AuthenticationError")


def _survives(harness: ConnectorHarness, name: str, *faults: Any) -> None:
    for fault in faults:
        harness.simulator.add_fault(fault)
    with harness.make_connector() as conn:
        for stream in _streams(conn):
            try:
                got = _ids(_collect(conn, stream))
            except CommerceConnectorsError as exc:
                raise _fail(name, f"{stream.value}: gave up: {type(exc).__name__}: {exc}") from exc
            _compare(name, stream, got, harness.expected_ids(stream))
    harness.simulator.clear_faults()


def check_survives_429_storm(harness: ConnectorHarness) -> None:
    """Bursts of 429 with Retry-After are waited out; the record set is exact."""
    _survives(
        harness,
        "429 storm",
        RateLimitBurst(length=3, retry_after=2.0, on=(2, 6, 11)),
        RateLimitBurst(length=2, retry_after=0.5, header=None, on=(15,)),
    )


def check_survives_transient_server_errors(harness: ConnectorHarness) -> None:
    """503s, 500s, connection resets and a truncated page are retried; the set is exact."""
    _survives(
        harness,
        "transient errors",
        ErrorStatus(status=503, on=(2, 7)),
        ErrorStatus(status=500, on=(4,)),
        ConnectionReset(on=(5,)),
        MalformedBody(mode="truncate", on=(9,)),
    )


def check_malformed_record_reaches_on_invalid(harness: ConnectorHarness) -> None:
    """A bad record goes to on_invalid with its payload; all the others still arrive."""
    refused: list[InvalidRecordError] = []
    with harness.make_connector(on_invalid=refused.append) as conn:
        for stream in _streams(conn):
            refused.clear()
            bad_id = harness.corrupt_one(stream)
            got = _ids(_collect(conn, stream))
            _compare("on_invalid", stream, got, harness.expected_ids(stream) - {bad_id})
            if len(refused) != 1:
                raise _fail("on_invalid", f"{stream.value}: {len(refused)} refusals, expected 1")
            error = refused[0]
            if error.payload is None or error.record_id != bad_id or not error.problems:
                raise _fail(
                    "on_invalid",
                    f"{stream.value}: the refusal lacks the payload, the id or the problems",
                )


#: Every check, in a stable order; each takes a fresh harness.
CONNECTOR_CHECKS: tuple[Callable[[ConnectorHarness], None], ...] = (
    check_streams_iterate_across_pages,
    check_since_is_inclusive_and_exact,
    check_naive_since_is_refused,
    check_datetimes_are_aware,
    check_unsupported_streams_raise,
    check_bad_credentials_raise_authentication_error,
    check_survives_429_storm,
    check_survives_transient_server_errors,
    check_malformed_record_reaches_on_invalid,
)


def check_connector(make_harness: Callable[[], ConnectorHarness]) -> None:
    """Run every conformance check, each on a fresh harness; report every failure.

    Raises:
        ConformanceError: one or more checks failed; the message lists them all.
    """
    failures: list[str] = []
    for check in CONNECTOR_CHECKS:
        try:
            check(make_harness())
        except Exception as exc:  # any exception is a failed check, reported with the rest
            failures.append(f"{check.__name__}: {type(exc).__name__}: {exc}")
    if failures:
        raise ConformanceError(
            f"{len(failures)} conformance check(s) failed:\n" + "\n".join(failures)
        )
