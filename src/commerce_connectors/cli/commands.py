"""``sync``, ``dead-letters``, ``status`` and ``demo``."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import click

from ..clock import SleepInterrupted
from ..errors import ConfigurationError, PermissionDeniedError
from ..protocols import StateStore
from ..sinks import open_sink
from ..state import open_state_store
from ..sync import Scheduler, SyncEngine, SyncReport
from .common import (
    DefaultGroup,
    ExitCode,
    Masked,
    PlatformGroup,
    Runtime,
    build_connector,
    connector_warnings,
    exit_code_for,
    interval,
    report_from_run,
    resolved_stores,
    stopping_on_signals,
    store_options,
    with_store_options,
)
from .progress import ProgressPrinter
from .registry import PlatformSpec

__all__ = ["dead_letters", "demo", "status", "sync"]

DEFAULT_DEMO_DB = "commerce-connectors-demo.db"


def _aware_datetime(text: str) -> _dt.datetime:
    # The value is never echoed: it may be a token pasted in the wrong place.
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "not an ISO 8601 datetime (value not shown): e.g. 2024-05-01T00:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise click.BadParameter(
            "the time has no timezone: add one, e.g. 2024-05-01T00:00:00+00:00 or"
            " 2024-05-01T00:00:00Z"
        )
    return value


def _output_options() -> list[click.Parameter]:
    return [
        click.Option(["--json", "as_json"], is_flag=True, help="print the report as JSON"),
        click.Option(["--no-progress"], is_flag=True, help="no progress output"),
    ]


def _sync_params() -> list[click.Parameter]:
    return [
        *store_options(),
        click.Option(["--historical"], is_flag=True, help="read everything again"),
        click.Option(
            ["--since"],
            type=_aware_datetime,
            metavar="TIME",
            help="read what changed since this ISO 8601 time (with a timezone)",
        ),
        click.Option(
            ["--overlap"],
            type=Masked(click.FloatRange(min=0), "a number of minutes, 0 or more"),
            default=5.0,
            show_default=True,
            metavar="MINUTES",
            help="incremental re-read window",
        ),
        click.Option(
            ["--batch-size"],
            type=Masked(click.IntRange(min=1), "a whole number, 1 or more"),
            metavar="N",
            help="items per sink batch",
        ),
        click.Option(
            ["--every"],
            metavar="INTERVAL",
            help="keep running: an incremental sync every INTERVAL (30m, 2h; a number alone is"
            " minutes); Ctrl-C stops cleanly",
        ),
        *_output_options(),
    ]


def _replay_params() -> list[click.Parameter]:
    return [*store_options(), *_output_options()]


# -- engines -------------------------------------------------------------------------------------


def _engine(
    runtime: Runtime, spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> tuple[SyncEngine, StateStore]:
    progress = None if params["no_progress"] or params["as_json"] else ProgressPrinter(runtime.err)
    connector = build_connector(
        spec, options, params, on_http=None if progress is None else progress.http_event
    )
    try:
        sink_options: dict[str, Any] = {}
        if params.get("batch_size") is not None:
            sink_options["batch_size"] = params["batch_size"]
        sink = open_sink(params["sink"], **sink_options)
    except BaseException:
        connector.close()
        raise
    try:
        state = open_state_store(params["state_url"])
    except BaseException:
        connector.close()
        sink.close()
        raise
    engine = SyncEngine(
        connector,
        sink,
        state,
        overlap=_dt.timedelta(minutes=params.get("overlap", 5.0)),
        on_progress=progress,
    )
    return engine, state


def _close(engine: SyncEngine, state: StateStore) -> None:
    engine.connector.close()
    engine.sink.close()
    state.close()


@contextlib.contextmanager
def _reporting_denials(
    runtime: Runtime, engine: SyncEngine, state: StateStore, as_json: bool
) -> Iterator[None]:
    """A missing permission (403) ends the run with its report printed, then exit 3.

    The engine logs such a run as failed and lets the error through; its report is
    rebuilt from the run log, so what was synced before the refusal is shown.
    """
    try:
        yield
    except PermissionDeniedError:
        runs = state.runs(engine.connection_id, limit=1)
        if runs:
            _finish(runtime, engine, report_from_run(runs[0]), as_json)
        raise


def _finish(runtime: Runtime, engine: SyncEngine, report: SyncReport, as_json: bool) -> int:
    report.warnings.extend(
        w for w in connector_warnings(engine.connector) if w not in report.warnings
    )
    runtime.print_report(report, as_json=as_json)
    return int(exit_code_for(report))


def _run_sync(
    runtime: Runtime, spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> int:
    if params["historical"] and params["since"] is not None:
        raise click.UsageError("--historical and --since exclude each other: choose one")
    every = interval(params["every"]) if params["every"] else None
    engine, state = _engine(runtime, spec, options, params)
    try:
        if every is not None:
            with _reporting_denials(runtime, engine, state, params["as_json"]):
                return _run_every(runtime, engine, every, params["as_json"])
        mode = "historical" if params["historical"] else "auto"
        with (
            _reporting_denials(runtime, engine, state, params["as_json"]),
            stopping_on_signals(engine.stop),
        ):
            report = engine.run(mode, since=params["since"])
        return _finish(runtime, engine, report, params["as_json"])
    finally:
        _close(engine, state)


def _run_every(runtime: Runtime, engine: SyncEngine, every: _dt.timedelta, as_json: bool) -> int:
    codes: list[int] = []
    scheduler = Scheduler(
        engine,
        interval=every,
        on_report=lambda r: codes.append(_finish(runtime, engine, r, as_json)),
    )
    stopped: list[bool] = []

    def stop() -> None:
        if not stopped:
            stopped.append(True)
        scheduler.stop()

    # SleepInterrupted: stopped while waiting for the next run.
    with stopping_on_signals(stop), contextlib.suppress(SleepInterrupted):
        scheduler.run()
    if stopped:
        if not codes or codes[-1] != ExitCode.INTERRUPTED:
            runtime.err.write("stopped between runs; the next start resumes from the checkpoints\n")
        return int(ExitCode.INTERRUPTED)
    return codes[-1] if codes else 0


def _run_replay(
    runtime: Runtime, spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> int:
    engine, state = _engine(runtime, spec, options, params)
    try:
        with (
            _reporting_denials(runtime, engine, state, params["as_json"]),
            stopping_on_signals(engine.stop),
        ):
            report = engine.replay_dead_letters()
        code = _finish(runtime, engine, report, params["as_json"])
        left = len(state.dead_letters(engine.connection_id))
        runtime.out.write(
            f"{report.dead_letters_resolved} dead letter(s) resolved, {left} still open\n"
        )
        return code
    finally:
        _close(engine, state)


sync = PlatformGroup(
    "sync",
    params=_sync_params,
    handler=_run_sync,
    help="Sync one store into a sink: each stream from its last checkpoint minus the overlap"
    " window (everything, the first time), or everything with --historical. Options may come"
    " before or after PLATFORM.",
    short_help="sync one store into a sink (incremental from the last checkpoint)",
)


# -- dead letters ------------------------------------------------------------------------------


@click.group(
    "dead-letters",
    cls=DefaultGroup,
    default="list",
    short_help="list (the default) or replay records that failed",
)
def dead_letters() -> None:
    """Records that failed: `list` them (the default), or `replay` them once fixed."""


def _dead_letter_data(letters: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "connection_id": d.connection_id,
            "kind": d.kind,
            "record_id": d.record_id,
            "problems": [
                {
                    "path": p.path,
                    "reason": p.reason,
                    "first_seen": p.first_seen.isoformat(),
                    "last_seen": p.last_seen.isoformat(),
                }
                for p in d.problems
            ],
            "first_seen": d.first_seen.isoformat(),
            "last_seen": d.last_seen.isoformat(),
            "count": d.count,
            "resolved_at": None if d.resolved_at is None else d.resolved_at.isoformat(),
            "payload": d.payload,
        }
        for d in letters
    ]


@dead_letters.command("list")
@click.option("--connection", metavar="ID", help="only this connection id")
@click.option("--all", "include_resolved", is_flag=True, help="include resolved ones")
@click.option("--json", "as_json", is_flag=True, help="print JSON (payloads included)")
@with_store_options
@click.pass_obj
def list_dead_letters(
    runtime: Runtime,
    sink: str,
    state: str | None,
    connection: str | None,
    include_resolved: bool,
    as_json: bool,
) -> int:
    """List dead letters with every bad field (reads only; creates nothing)."""
    _, state_url = resolved_stores(sink, state, must_exist=True)
    store = open_state_store(state_url, read_only=True)
    try:
        letters = store.dead_letters(connection, include_resolved=include_resolved)
    finally:
        store.close()
    out = runtime.out
    if as_json:
        out.write(json.dumps(_dead_letter_data(letters), indent=2, ensure_ascii=False, default=str))
        out.write("\n")
        return 0
    if not letters:
        out.write("no dead letters\n")
    for d in letters:
        state_text = "resolved" if d.resolved_at else "open"
        out.write(
            f"#{d.id} {d.connection_id} {d.kind} {d.record_id or '<no id>'} ({state_text},"
            f" seen {d.count}x, first {d.first_seen.isoformat(timespec='seconds')},"
            f" last {d.last_seen.isoformat(timespec='seconds')})\n"
        )
        for p in d.problems:
            out.write(f"    {p.path}: {p.reason}\n")
    return 0


dead_letters.add_command(
    PlatformGroup(
        "replay",
        params=_replay_params,
        handler=_run_replay,
        must_exist=True,
        help="Re-read the streams with open dead letters and sync what now passes.",
        short_help="re-read the streams with open dead letters and sync what now passes",
    )
)


# -- status ------------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[str]], *, indent: str = "  ") -> list[str]:
    """Columns as wide as their widest cell (long connection ids stay readable)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


@click.command("status")
@click.option("--connection", metavar="ID", help="only this connection id")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@with_store_options
@click.pass_obj
def status(
    runtime: Runtime, sink: str, state: str | None, connection: str | None, as_json: bool
) -> int:
    """Checkpoints, open dead letters and last runs (reads only; creates nothing)."""
    _, state_url = resolved_stores(sink, state, must_exist=True)
    store = open_state_store(state_url, read_only=True)
    try:
        checkpoints = store.checkpoints(connection)
        runs = store.runs(connection, limit=10)
        letters = store.dead_letters(connection)
        parked = store.parked_contacts(connection)
    finally:
        store.close()
    out = runtime.out
    if as_json:
        data = {
            "checkpoints": [
                {
                    "connection_id": c.connection_id,
                    "stream": c.stream.value,
                    "value": c.value.isoformat(),
                    "updated_at": c.updated_at.isoformat(),
                }
                for c in checkpoints
            ],
            "runs": [
                {
                    "id": r.id,
                    "connection_id": r.connection_id,
                    "mode": r.mode,
                    "status": r.status,
                    "started_at": r.started_at.isoformat(),
                    "ended_at": None if r.ended_at is None else r.ended_at.isoformat(),
                    "error": r.error,
                    "totals": r.counts.get("totals", {}),
                }
                for r in runs
            ],
            "open_dead_letters": len(letters),
            "parked_contacts": len(parked),
        }
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 0
    out.write("checkpoints (incremental syncs read from here minus the overlap):\n")
    if not checkpoints:
        out.write("  none yet: the next sync reads everything\n")
    rows = [("connection", "stream", "checkpoint")] + [
        (c.connection_id, c.stream.value, c.value.isoformat(timespec="seconds"))
        for c in checkpoints
    ]
    if checkpoints:
        out.writelines(line + "\n" for line in _table(rows))
    out.write("last runs:\n")
    if not runs:
        out.write("  none\n")
    run_rows: list[tuple[str, ...]] = [
        ("run", "connection", "mode", "status", "started", "ended", "read", "written", "new",
         "updated", "unchanged"),
    ]  # fmt: skip
    for r in runs:
        t = r.counts.get("totals", {})
        new, updated = int(t.get("new", 0)), int(t.get("updated", 0))
        run_rows.append(
            (
                f"#{r.id}",
                r.connection_id,
                r.mode,
                r.status,
                r.started_at.isoformat(timespec="seconds"),
                r.ended_at.isoformat(timespec="seconds") if r.ended_at else "-",
                str(t.get("read", 0)),
                str(t.get("written", new + updated)),
                str(new),
                str(updated),
                str(t.get("unchanged", 0)),
            )
        )
    if runs:
        lines = _table(run_rows)
        out.write(lines[0] + "\n")
        for line, r in zip(lines[1:], runs, strict=True):
            out.write(line + "\n")
            if r.error:
                out.write(f"      {r.error}\n")
    out.write(f"open dead letters: {len(letters)}")
    out.write(f"   contacts waiting for room under the contact cap: {len(parked)}\n")
    return 0


# -- demo --------------------------------------------------------------------------------------


@click.command("demo")
@click.option(
    "--db",
    default=DEFAULT_DEMO_DB,
    show_default=True,
    metavar="FILE",
    help="the demo's SQLite file (only ever a demo database is overwritten)",
)
@click.option(
    "--seed",
    type=Masked(int, "a whole number"),
    default=2024,
    show_default=True,
    help="seed of the simulated stores",
)
@click.option("--no-progress", is_flag=True, help="no progress output")
@click.pass_obj
def demo(runtime: Runtime, db: str, seed: int, no_progress: bool) -> int:
    """Sync simulated shops into a local SQLite file (no network, no credentials)."""
    from .demo import CRM_LIST, DemoSkipped, run_crm_demo, run_demo

    out, err = runtime.out, runtime.err
    parent = os.path.dirname(os.path.abspath(db))
    if not os.path.isdir(parent):
        raise ConfigurationError(f"the directory {parent} does not exist (--db {db})")
    out.write(
        "commerce-connectors demo: simulated shops, in-process (no network, no credentials)\n"
    )
    step = None if no_progress else runtime.say
    progress = None if no_progress else ProgressPrinter(err)
    skipped: list[DemoSkipped] = []
    results = run_demo(db, seed=seed, on_progress=progress, on_step=step, skipped=skipped)
    out.write("\n")
    width = max([len("platform"), *(len(r.name) for r in results)])
    header = (
        f"{'platform':<{width}} {'contacts':>8} {'orders':>7} {'products':>8} {'carts':>6}"
        f" {'dup. merged':>11} {'triggers':>8} {'dead letters':>12}  skipped (by reason)"
    )
    out.write(header + "\n" + "─" * len(header) + "\n")
    for r in results:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.skipped.items())) or "none"
        carts = "—" if r.carts is None else str(r.carts)
        out.write(
            f"{r.name:<{width}} {r.contacts:>8} {r.orders:>7} {r.products:>8} {carts:>6}"
            f" {r.duplicates_merged:>11} {r.triggers_fired:>8} {r.dead_letters:>12}  {reasons}\n"
        )
    for s in skipped:
        out.write(f"{s.source.name:<{width}} not run: {s.reason}\n")
    out.write("\nrecords read per run, and how fast (records/s: real time into SQLite):\n")
    header = (
        f"{'platform':<{width}} {'historical':>10} {'incremental':>11} {'new':>5} {'updated':>7}"
        f" {'records/s':>9} {'requests':>8}  API time"
    )
    out.write(header + "\n" + "─" * (len(header) + 12) + "\n")
    for r in results:
        rate = r.records_read / r.wall_seconds if r.wall_seconds else 0.0
        inc = r.incremental.totals()
        requests = r.historical.requests + r.incremental.requests
        api = f"{r.seconds:,.0f} s, simulated" if r.simulated else f"{r.seconds:,.1f} s, real"
        out.write(
            f"{r.name:<{width}} {r.historical.totals()['read']:>10} {inc['read']:>11}"
            f" {inc['new']:>5} {inc['updated']:>7} {rate:>9,.0f} {requests:>8}  {api}\n"
        )
    path = os.path.abspath(db)
    url = f"sqlite:///{path}"
    query = "SELECT email, first_name, last_name, phone FROM contacts LIMIT 5"
    out.write(
        f"\ndatabase: {path}\n"
        f'  sqlite3 {path} "{query}"\n'
        f"  commerce-connectors status --sink {url}\n"
        f"  commerce-connectors dead-letters --sink {url}\n"
        "'carts' is — where the platform has no cart listing; 'triggers' counts orders and\n"
        "carts stored as firing automations (placed within 24 h of a sync, or new since).\n"
    )
    from ..webhooks._demo import run_realtime_demo

    live = run_realtime_demo(db, seed=seed, on_step=step)
    out.write(
        f"\nreal time (webhooks), {live.connection_id}: after a historical sync of "
        f"{live.historical_orders} orders ({live.historical_fired} firing: placed within 24 h),\n"
        f"  a purchase arrived as signed webhooks {list(live.deliveries)} (each delivered twice),"
        f" each stored durably, then acknowledged, within {live.ack_ms:.1f} ms;\n"
        f"  order {live.order_id} written {'firing' if live.fired else 'NOT firing'}"
        f' "makes a purchase" (source 1): {live.outcome}\n'
    )
    if any(r.simulated for r in results):
        out.write(
            "API time simulated: those shops run on a fake clock. Their rate limits (Shopify's\n"
            "cost bucket, BigCommerce 150 requests / 30 s, Square's bucket, Tiendanube 2 / s)\n"
            "are kept, without real waiting: 'API time' is what the real API would have taken.\n"
            "To sync a simulated shop over HTTP yourself: commerce-connectors simulate PLATFORM\n"
        )
    crm = run_crm_demo(seed=seed, on_step=step)
    out.write(
        "\ninto a CRM: a smaller store of each platform, historical then incremental, synced into\n"
        "one ActiveCampaign account (simulated in-process) through ActiveCampaignSink;\n"
        f'contacts who said yes to marketing join "{CRM_LIST}":\n'
    )
    width = max([len("platform"), *(len(r.name) for r in crm.results)])
    header = (
        f"{'platform':<{width}} {'contacts':>8} {'on list':>7} {'orders':>6} {'carts':>5}"
        f" {'fired':>5} {'dead letters':>12} {'requests':>8}  CRM API time"
    )
    out.write(header + "\n" + "─" * (len(header) + 12) + "\n")
    for c in crm.results:
        carts = "—" if c.carts is None else str(c.carts)
        out.write(
            f"{c.name:<{width}} {c.contacts:>8} {c.on_list:>7} {c.orders:>6} {carts:>5}"
            f" {c.fired:>5} {c.dead_letters:>12} {c.requests:>8}"
            f"  {c.api_seconds:,.0f} s, simulated\n"
        )
    for s in crm.skipped:
        out.write(f"{s.source.name:<{width}} not run: {s.reason}\n")
    out.write(
        f"the account: {crm.contacts} contacts ({crm.on_list} on the list; the Square locations"
        f" share the seller's customers),\n  {crm.requests:,} requests paced at 5 / s:"
        f" {crm.api_seconds / 60:,.1f} min of CRM API time, simulated ({crm.wall_seconds:.1f} s"
        " here)\n"
        "'on list': an explicit yes to marketing only (Square records opt-outs, never a yes).\n"
        "'fired' counts orders and carts written with source 1, which start \"makes a purchase\"\n"
        'and "abandons cart" automations: new since the historical sync, or placed within the\n'
        "24 h before it (never for BigCommerce's history); the rest of the history is source 0.\n"
        "'dead letters': records kept with the reason instead of written: ToyShop's malformed\n"
        "records, and amounts finer than a cent (BigCommerce's four-decimal coupon totals),\n"
        "which the ActiveCampaign sink refuses rather than round.\n"
    )
    return 0
