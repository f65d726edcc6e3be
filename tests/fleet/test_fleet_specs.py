"""Connection specs, token references, fleet files, and the fleet on plain executors."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import functools
import pickle
import threading
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from _stores import PLATFORMS, expected_ids, make_store, served

from commerce_connectors.errors import ConfigurationError
from commerce_connectors.fleet import (
    ConnectionSpec,
    FleetReport,
    SimulatedStore,
    TokenRef,
    load_fleet_file,
    run_rounds,
    sync_connection,
    sync_fleet,
)
from commerce_connectors.sinks import open_sink
from commerce_connectors.sync import SyncStatus

SECRET = "shpat_do_not_leak_0123456789"


def _secret_from_vault(name: str) -> str:
    return {"acme": SECRET}[name]


class RecordingExecutor(cf.ThreadPoolExecutor):
    """Pickles every task as a process executor would, and keeps the bytes."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.payloads: list[bytes] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        self.payloads.append(cloudpickle.dumps((fn, args, kwargs)))
        self.payloads.append(pickle.dumps((fn, args, kwargs)))
        return super().submit(fn, *args, **kwargs)


# -- specs and tokens --------------------------------------------------------------------------


def test_specs_and_task_payloads_never_hold_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPIFY_TOKEN_ACME", SECRET)
    store = make_store("bigcommerce", 31)  # it accepts its own token, not this one
    with served([store]):
        assert store.spec is not None
        by_env = ConnectionSpec(
            "shopify", {"shop": "acme.myshopify.com"}, token="SHOPIFY_TOKEN_ACME"
        )
        by_provider = ConnectionSpec(
            "bigcommerce",
            store.spec.options,
            token=TokenRef(provider=functools.partial(_secret_from_vault, "acme")),
            name="acme-vault",
        )
        for spec in (by_env, by_provider):
            assert SECRET not in repr(spec)
            assert SECRET.encode() not in pickle.dumps(spec)
            copy = pickle.loads(pickle.dumps(spec))  # noqa: S301 - our own bytes
            assert copy.token.resolve() == SECRET  # read where it runs
        assert "_secret_from_vault" in repr(by_provider)
        url = f"sqlite:///{tmp_path / 'f.db'}"
        with RecordingExecutor() as pool:
            report = sync_fleet([by_provider], sink=url, state=url, executor=pool)
    assert pool.payloads
    assert not [p for p in pool.payloads if SECRET.encode() in p]
    # The store refused the token: reported, without the token.
    (result,) = report
    assert result.status is SyncStatus.AUTH_ERROR
    assert result.error
    assert SECRET not in result.error
    assert SECRET.encode() not in pickle.dumps(report)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nowhere", {}), "unknown platform 'nowhere'"),
        (("shopify", {}), "needs option(s) shop"),
        (("shopify", {"shop": "a", "shopp": "b"}), "unknown shopify option 'shopp'"),
        (("shopify", {"shop": "a", "api_token": "x"}), "looks like a credential"),
        (("square", {"location_id": "L1", "environment": "test"}), "must be one of"),
        (("shopify", {"shop": 5}), "option 'shop' must be a string, got int"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ConnectionSpec(*args)


def test_token_references_name_a_variable_or_a_callable_never_a_token() -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        TokenRef()
    with pytest.raises(ConfigurationError, match="not a token"):
        TokenRef(env="shpat-abc.def")
    with pytest.raises(ConfigurationError, match="returned none"):
        TokenRef(provider=lambda: " ").resolve()
    assert ConnectionSpec("square", {"location_id": "L1"}).token == TokenRef(
        env="SQUARE_ACCESS_TOKEN"
    )


@pytest.mark.parametrize(
    "value",
    [
        "shpat_0123456789abcdef0123456789abcdef",  # a Shopify admin token: a valid name too
        "SHPCA_0123456789ABCDEF",
        "EAAAl8XWCHZ9VY3N1abc",  # a Square token
        "d41d8cd98f00b204e9800998ecf8427e",  # lower-case hex
        "D41D8CD98F00B204E9800998ECF8427E",  # upper-case hex
        "MY_TOKEN_X7Y2QK9ZPLM3N8R4T6W1",  # a key inside a name
        "tiendanube_token_acme",
    ],
)
def test_a_token_written_where_its_variable_is_named_is_refused_unrepeated(value: str) -> None:
    with pytest.raises(ConfigurationError, match="not a token") as refused:
        ConnectionSpec("shopify", {"shop": "acme.myshopify.com"}, token=value)
    assert value not in str(refused.value)
    assert value.lower() not in str(refused.value).lower()


@pytest.mark.parametrize(
    "name", ["SHOPIFY_TOKEN_ACME", "CC_FLEET_TEST_SQUARE_12", "SQUARE_ACCESS_TOKEN", "TN_2024"]
)
def test_upper_case_variable_names_are_accepted(name: str) -> None:
    assert TokenRef(env=name).env == name


def test_duplicate_names_and_unknown_modes_are_refused(tmp_path: Path) -> None:
    spec = ConnectionSpec.simulate(SimulatedStore("square", 1))
    url = f"sqlite:///{tmp_path / 'f.db'}"
    with pytest.raises(ConfigurationError, match="two connections"):
        sync_fleet([spec, spec], sink=url, state=url)
    with pytest.raises(ConfigurationError, match="unknown sync mode"):
        sync_fleet([spec], sink=url, state=url, mode="sometimes")
    with pytest.raises(ConfigurationError, match="executor"):
        sync_fleet([spec], sink=url, state=url, executor=object())


# -- simulated stores --------------------------------------------------------------------------


def test_simulated_stores_of_every_platform_sync_as_their_rebuilt_simulators_hold(
    tmp_path: Path,
) -> None:
    stores = [SimulatedStore(p, n, customers=6, orders=8) for n, p in enumerate(PLATFORMS)]
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        report = sync_fleet(
            [ConnectionSpec.simulate(s) for s in stores], sink=url, state=url, executor=pool
        )
    assert report.ok, report.summary()
    sink = open_sink(url)
    try:
        keys = sink.snapshot().keys()  # type: ignore[attr-defined]
    finally:
        sink.close()
    for store in stores:
        shop = store.build()  # the same store again, here
        expected = expected_ids(store.platform, shop.simulator)
        synced: dict[str, set[str]] = {}
        for k in keys:
            if k.connection_id == shop.connector.connection_id:
                synced.setdefault(k.kind, set()).add(k.external_id)
        # Every kind written is checked, and equals what the store holds under the rules
        # (BigCommerce's carts are not listed by its API: none are written).
        assert synced == {kind: ids for kind, ids in expected.items() if ids}, store.label
        assert report[store.label].connection_id == shop.connector.connection_id
        assert report[store.label].counts["read"] > 0
        shop.close()


def test_the_default_runs_in_process_one_connection_after_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seq.db'}"
    specs = [ConnectionSpec.simulate(SimulatedStore("tiendanube", n)) for n in (1, 2)]
    order: list[str] = []
    report = sync_fleet(specs, sink=url, state=url, on_report=lambda r: order.append(r.name))
    assert order == [s.name for s in specs]
    assert {r.worker for r in report} == {report.connections[0].worker}
    assert threading.current_thread() is threading.main_thread()
    again = sync_connection(specs[0], sink=url, state=url)
    assert again.ok
    assert again.mode == "incremental"


# -- fleet files -------------------------------------------------------------------------------

FLEET = """\
sink = "{sink}"

[defaults]
overlap_minutes = 10

[defaults.tiendanube]
user_agent = "Fleet tests (dev@example.com)"

[[connection]]
name = "tn"
platform = "tiendanube"
token_env = "{tn_env}"
options = {{ store_id = "{tn_store}", base_url = "{tn_url}" }}

[[connection]]
name = "bc"
platform = "bigcommerce"
token_env = "{bc_env}"
overlap_minutes = 1
options = {{ store_hash = "{bc_hash}", base_url = "{bc_url}" }}
"""


def test_a_fleet_file_runs_rounds_on_worker_processes(tmp_path: Path, fleet_tokens: None) -> None:
    tn, bc = make_store("tiendanube", 20), make_store("bigcommerce", 20)
    with served([tn, bc]):
        assert tn.spec is not None
        assert bc.spec is not None
        path = tmp_path / "fleet.toml"
        path.write_text(
            FLEET.format(
                sink=f"sqlite:///{tmp_path / 'fleet.db'}",
                tn_env=tn.token_env,
                tn_store=tn.simulator.store_id,
                tn_url=tn.spec.options["base_url"],
                bc_env=bc.token_env,
                bc_hash=bc.simulator.store_hash,
                bc_url=bc.spec.options["base_url"],
            )
        )
        fleet = load_fleet_file(path)
        assert fleet.state == fleet.sink  # SQLite: the state beside the data
        assert [c.name for c in fleet.connections] == ["tn", "bc"]
        assert fleet.connections[0].options["user_agent"] == "Fleet tests (dev@example.com)"
        assert fleet.connections[0].overlap == dt.timedelta(minutes=10)
        assert fleet.connections[1].overlap == dt.timedelta(minutes=1)
        seen: list[FleetReport] = []
        reports = run_rounds(
            fleet, processes=2, every=dt.timedelta(seconds=0.2), rounds=2, on_report=seen.append
        )
    assert seen == reports
    assert len(reports) == 2
    assert all(r.ok for r in reports), [r.summary() for r in reports]
    assert [r.mode for r in reports[0]] == ["historical", "historical"]
    assert [r.mode for r in reports[1]] == ["incremental", "incremental"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('sink = "sqlite:///x.db"\n[[connection]\n', "not valid TOML.*line 2"),
        ('sink = "sqlite:///x.db"\nsinks = 1\n', "unknown key.*sinks"),
        ('sink = "postgresql://db/x"\n[[connection]]\nplatform = "square"\n', "state is needed"),
        ('sink = "sqlite:///x.db"\n', "no \\[\\[connection\\]\\]"),
        (
            'sink = "sqlite:///x.db"\n\n[[connection]]\nplatform = "square"\n'
            'options = {location_id = "A"}\n\n[[connection]]\nplatform = "square"\n'
            "options = {location_idd = 'B'}\n",
            r"fleet.toml:7: connection #2: .*unknown square option 'location_idd'",
        ),
        (
            'sink = "sqlite:///x.db"\n[[connection]]\nplatform = "square"\n'
            'options = {location_id = "A"}\ntoken = "EAAA-secret"\n',
            r"fleet.toml:2: connection #1: unknown key\(s\) token",
        ),
        (
            'sink = "sqlite:///x.db"\n[[connection]]\nplatform = "square"\n'
            'token_env = "EAAA secret"\noptions = {location_id = "A"}\n',
            "not a token",
        ),
        (
            'sink = "sqlite:///x.db"\n[[connection]]\nplatform = "square"\n'
            'options = {location_id = "A"}\n[[connection]]\nplatform = "square"\n'
            'options = {location_id = "A"}\n',
            "used twice",
        ),
        (
            'sink = "sqlite:///x.db"\n[defaults]\noverlap_minutes = -1\n'
            '[[connection]]\nplatform = "square"\noptions = {location_id = "A"}\n',
            r"\[defaults\]: overlap_minutes",
        ),
        (
            'sink = "sqlite:///x.db"\nconnection = [1]\n',
            r"connection #1: .*\[\[connection\]\] table",
        ),
        (
            'sink = "sqlite:///x.db"\n[connection]\nplatform = "square"\n',
            r"\[\[connection\]\] \(an array of tables\)",
        ),
        (
            'sink = "sqlite:///x.db"\n[defaults.squre]\nenvironment = "sandbox"\n'
            '[[connection]]\nplatform = "square"\noptions = {location_id = "A"}\n',
            r"\[defaults.squre\]: unknown platform 'squre'; did you mean 'square'\?",
        ),
        (
            'sink = "sqlite:////no/such/dir/x.db"\n'
            '[[connection]]\nplatform = "square"\noptions = {location_id = "A"}\n',
            r"sink database's directory /no/such/dir does not exist",
        ),
        (
            'sink = "sqlite:///x.db"\nstate = "bogus://x"\n'
            '[[connection]]\nplatform = "square"\noptions = {location_id = "A"}\n',
            r"unknown state URL scheme 'bogus'",
        ),
        (
            'sink = "postgres://db/x"\nstate = "memory://"\n'
            '[[connection]]\nplatform = "square"\noptions = {location_id = "A"}\n',
            r"state memory:// cannot serve a fleet",
        ),
        (
            'sink = "sqlite:///x.db"\n'
            '[[connection]]\nplatform = "square"\nsink = "mysql://db/x"\n'
            'options = {location_id = "A"}\n',
            r"connection #1: unknown sink URL scheme 'mysql'",
        ),
    ],
)
def test_fleet_file_errors_name_the_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_fleet_file(path)


def test_run_rounds_refuses_two_engines_and_stops_on_request(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    spec = ConnectionSpec.simulate(SimulatedStore("square", 3))
    fleet = load_fleet_file(_write(tmp_path, url))
    with pytest.raises(ConfigurationError, match="not both"):
        run_rounds(fleet, scheduler="tcp://127.0.0.1:1", processes=2)
    stop = threading.Event()
    fleet = type(fleet)(sink=url, state=url, mode="auto", connections=(spec,))
    reports = run_rounds(
        fleet, every=dt.timedelta(hours=1), on_report=lambda r: stop.set(), stop=stop
    )
    assert len(reports) == 1  # stopped while waiting for the next round


def _write(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "one.toml"
    path.write_text(
        f'sink = "{url}"\n[[connection]]\nplatform = "square"\noptions = {{location_id = "A"}}\n'
    )
    return path


def test_the_sample_fleet_file_loads() -> None:
    fleet = load_fleet_file(Path(__file__).resolve().parents[2] / "examples" / "fleet.toml")
    assert fleet.sink == fleet.state
    assert fleet.sink.startswith("postgresql://")
    assert [c.platform for c in fleet.connections] == [
        "shopify", "bigcommerce", "square", "square", "tiendanube",
    ]  # fmt: skip
    tiendanube = fleet.connections[-1]
    assert tiendanube.options["user_agent"].startswith("Acme CRM")
    assert tiendanube.overlap == dt.timedelta(minutes=15)
    assert fleet.connections[0].overlap == dt.timedelta(minutes=5)
