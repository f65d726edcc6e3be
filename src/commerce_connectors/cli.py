"""The ``commerce-connectors`` command: ``sync``, ``serve``, ``webhooks``, ``connections``,
``demo``, ``status``, ``dead-letters``.

Exit codes (stable; scripts may rely on them):

====  ================================================================================
code  meaning
====  ================================================================================
0     done
1     an unexpected error (a bug: please report it with the traceback)
2     usage or configuration error (bad option, missing token, unknown platform)
3     authentication failed: re-authenticate; the next run resumes from the checkpoint
4     the platform stayed unavailable or rate-limited: run again later
5     the sink failed a write: nothing of that batch was written
6     done, but records were dead-lettered or contacts refused by the contact cap
7     skipped: the connection is paused, disabled (app uninstalled) or deleted
130   interrupted (Ctrl-C, SIGTERM): stopped after the current batch
====  ================================================================================
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import enum
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from . import __version__
from .errors import CommerceConnectorsError, ConfigurationError
from .protocols import (
    ConnectionState,
    EventStatus,
    InboxStore,
    LifecycleStore,
    RealtimeConnector,
    StateStore,
)
from .sinks import open_sink
from .state import open_state_store
from .sync import Scheduler, SyncEngine, SyncProgress, SyncReport, SyncStatus
from .sync.registry import PLATFORMS, PlatformSpec
from .webhooks import RealtimeState, WebhookEndpoint, WebhookReceiver, WebhookWorker

__all__ = ["ExitCode", "build_parser", "main"]

DEFAULT_SINK = "sqlite:///commerce-connectors.db"
DEFAULT_DEMO_DB = "commerce-connectors-demo.db"


class ExitCode(enum.IntEnum):
    """The command's exit statuses (see the module docstring)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    RETRY_LATER = 4
    SINK = 5
    ATTENTION = 6
    SKIPPED = 7
    INTERRUPTED = 130


_STATUS_CODES = {
    SyncStatus.OK: ExitCode.OK,
    SyncStatus.AUTH_ERROR: ExitCode.AUTH,
    SyncStatus.RETRY_LATER: ExitCode.RETRY_LATER,
    SyncStatus.SINK_ERROR: ExitCode.SINK,
    SyncStatus.INTERRUPTED: ExitCode.INTERRUPTED,
    SyncStatus.FAILED: ExitCode.ERROR,
    SyncStatus.SKIPPED: ExitCode.SKIPPED,
}


def exit_code_for(report: SyncReport) -> ExitCode:
    """The exit code of a finished run.

    Example:
        >>> import datetime as dt
        >>> r = SyncReport("c", "historical", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
        >>> int(exit_code_for(r))
        0
    """
    code = _STATUS_CODES[report.status]
    if code is ExitCode.OK and report.needs_attention:
        return ExitCode.ATTENTION
    return code


# -- progress ----------------------------------------------------------------------------------


class ProgressPrinter:
    """Draws sync progress: a live line on a terminal, plain lines otherwise."""

    _BAR = 24

    def __init__(self, out: TextIO, *, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self._tick = 0

    def __call__(self, event: SyncProgress) -> None:
        name = f"{event.connection_id} {event.stream.value}"
        if not self.tty:
            if event.phase == "end":
                self.out.write(
                    f"{name}: {event.read} read, {event.written} written"
                    f" ({event.rate:.0f} records/s)\n"
                )
                self.out.flush()
            return
        # No total is known in advance (platforms rarely say), so the bar runs.
        self._tick += 1
        pos = self._tick % self._BAR
        bar = "".join("█" if (i - pos) % self._BAR < 6 else "·" for i in range(self._BAR))
        if event.phase == "end":
            bar = "█" * self._BAR
        line = f"\r{name:<32} {bar} {event.read:>9,} read {event.rate:>8,.0f}/s"
        self.out.write(line + ("\n" if event.phase == "end" else ""))
        self.out.flush()


# -- the parser ------------------------------------------------------------------------------


def _state_url(args: argparse.Namespace) -> str:
    if args.state:
        return str(args.state)
    sink: str = args.sink
    if sink == "memory://":
        # Durable checkpoints for data that vanishes with the process would make the
        # next run skip what it never kept.
        return "memory://"
    return sink if sink.startswith("sqlite:") else "sqlite:///commerce-connectors-state.db"


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sink",
        default=DEFAULT_SINK,
        help="where data goes: sqlite:///path.db, memory:// or activecampaign://<API host>"
        f" (key from $ACTIVECAMPAIGN_API_TOKEN; default {DEFAULT_SINK})",
    )
    parser.add_argument(
        "--state",
        help="where checkpoints, dead letters and runs are kept (default: the SQLite sink's file)",
    )


def _add_platforms(sub: Any, *, command: str) -> None:
    platforms = sub.add_subparsers(
        dest="platform", metavar="PLATFORM", required=True, title="platforms"
    )
    for spec in PLATFORMS.values():
        p = platforms.add_parser(
            spec.name,
            help=spec.description,
            description=f"{spec.description}. The token is read from ${spec.token_env}.",
        )
        for option in spec.options:
            p.add_argument(
                option.flag,
                dest=f"opt_{option.dest}",
                required=option.required,
                default=option.default,
                type=option.type,
                choices=option.choices,
                metavar=None if option.choices else option.dest.upper(),
                help=option.help,
            )
        p.add_argument(
            "--token-env",
            default=spec.token_env,
            help=f"the environment variable holding the token (default {spec.token_env})",
        )
        p.add_argument(
            "--token-stdin", action="store_true", help="read the token from standard input"
        )
        p.set_defaults(command=command)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``commerce-connectors`` command."""
    parser = argparse.ArgumentParser(
        prog="commerce-connectors",
        description="Sync shop data (Shopify, BigCommerce, Square, Tiendanube) into a CRM.",
        epilog="Exit codes: 0 done, 2 usage, 3 re-authenticate, 4 retry later, 5 sink error, "
        "6 done with dead letters or contact-cap refusals, 7 connection not active, "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings and details")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sync = commands.add_parser(
        "sync",
        help="sync one store into a sink (incremental from the last checkpoint by default)",
        description="Sync one store. Without --historical or --since, each stream is read "
        "from its last checkpoint minus the overlap window (everything, the first time).",
    )
    _add_store_options(sync)
    when = sync.add_mutually_exclusive_group()
    when.add_argument("--historical", action="store_true", help="read everything again")
    when.add_argument(
        "--since", type=_aware_datetime, help="read what changed since this ISO 8601 time"
    )
    sync.add_argument(
        "--overlap", type=float, default=5.0, help="incremental re-read window, minutes (5)"
    )
    sync.add_argument("--batch-size", type=_positive_int, help="items per sink batch")
    sync.add_argument(
        "--every",
        type=float,
        metavar="MINUTES",
        help="keep running: an incremental sync every MINUTES (Ctrl-C stops cleanly)",
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.add_argument("--no-progress", action="store_true", help="no progress output")
    _add_platforms(sync, command="sync")

    demo = commands.add_parser(
        "demo",
        help="sync simulated shops into a local SQLite file (no network, no credentials)",
    )
    demo.add_argument("--db", default=DEFAULT_DEMO_DB, help=f"the file (default {DEFAULT_DEMO_DB})")
    demo.add_argument("--seed", type=int, default=2024, help="seed of the simulated stores")
    demo.add_argument("--no-progress", action="store_true", help="no progress output")
    demo.set_defaults(command="demo")

    status = commands.add_parser("status", help="checkpoints, open dead letters and last runs")
    _add_store_options(status)
    status.add_argument("--connection", help="only this connection id")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(command="status")

    letters = commands.add_parser("dead-letters", help="list or replay records that failed")
    actions = letters.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list dead letters with every bad field")
    _add_store_options(listing)
    listing.add_argument("--connection", help="only this connection id")
    listing.add_argument("--all", action="store_true", help="include resolved ones")
    listing.add_argument("--json", action="store_true", help="print JSON (payloads included)")
    listing.set_defaults(command="dead-letters-list")
    replay = actions.add_parser(
        "replay", help="re-read the streams with open dead letters and sync what now passes"
    )
    _add_store_options(replay)
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.add_argument("--no-progress", action="store_true", help="no progress output")
    _add_platforms(replay, command="dead-letters-replay")
    _add_realtime_commands(commands)
    return parser


def _add_realtime_commands(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="receive webhooks for one store and apply them in real time",
        description="Run the webhook receiver (Starlette under uvicorn) for one store, with "
        "the inbox worker and, with --poll-every, the polling scheduler as a safety net. "
        'Needs the "webhooks" extra. The signing secret is read from an environment '
        "variable (several, comma-separated, while rotating).",
    )
    _add_store_options(serve)
    serve.add_argument(
        "--public-url",
        required=True,
        help="the URL the platform delivers to (its path is the route; Square signs it)",
    )
    serve.add_argument(
        "--secret-env",
        help="the environment variable holding the webhook secret "
        "(default PLATFORM_WEBHOOK_SECRET, e.g. SHOPIFY_WEBHOOK_SECRET)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    serve.add_argument(
        "--poll-every", type=float, metavar="MINUTES", help="also poll incrementally every MINUTES"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="only receive and store; process later (drain)"
    )
    _add_platforms(serve, command="serve")

    hooks = commands.add_parser("webhooks", help="manage webhook subscriptions and the inbox")
    actions = hooks.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("install", "subscribe a URL to the platform's topics (idempotent)"),
        ("list", "list the store's webhook subscriptions"),
        ("remove", "delete the subscriptions to a URL (all of this app's with --all)"),
    ):
        sub = actions.add_parser(name, help=text)
        _add_store_options(sub)
        if name != "list":
            sub.add_argument("--url", help="the callback URL")
        if name == "install":
            sub.add_argument(
                "--topic", action="append", help="a topic (repeatable; default: the platform's set)"
            )
        if name == "remove":
            sub.add_argument("--all", action="store_true", help="every subscription of this app")
        sub.add_argument("--json", action="store_true", help="print JSON")
        _add_platforms(sub, command=f"webhooks-{name}")
    drain = actions.add_parser("drain", help="process the events waiting in the inbox, then exit")
    _add_store_options(drain)
    _add_platforms(drain, command="webhooks-drain")
    events = actions.add_parser("events", help="list the events in the inbox")
    _add_store_options(events)
    events.add_argument("--connection", help="only this connection id")
    events.add_argument("--status", choices=[s.value for s in EventStatus], help="only these")
    events.add_argument("--limit", type=_positive_int, default=50, help="at most N (50)")
    events.add_argument("--json", action="store_true", help="print JSON (bodies included)")
    events.set_defaults(command="webhooks-events")

    conns = commands.add_parser(
        "connections", help="list connections or pause, resume or delete one"
    )
    verbs = conns.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = verbs.add_parser("list", help="every connection with a recorded state")
    _add_store_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(command="connections-list")
    for verb, text in (
        ("pause", "stop polling; keep webhook events in the inbox until resumed"),
        ("resume", "sync again (also after reinstalling an uninstalled app)"),
        ("delete", "stop everything for good; the synced data is kept"),
    ):
        sub = verbs.add_parser(verb, help=text)
        _add_store_options(sub)
        sub.add_argument("connection", help="the connection id (see `status`)")
        sub.add_argument("--reason", help="why (kept with the state)")
        sub.set_defaults(command="connections-set", verb=verb)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _aware_datetime(text: str) -> _dt.datetime:
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 datetime: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no timezone; add one, e.g. {text}+00:00 or {text}Z"
        )
    return value


# -- commands ----------------------------------------------------------------------------------


def _token(spec: PlatformSpec, args: argparse.Namespace) -> str:
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = os.environ.get(args.token_env, "").strip()
    if not token:
        raise ConfigurationError(
            f"no {spec.name} token: set the environment variable {args.token_env} "
            "(or pass --token-stdin); tokens are never taken from the command line"
        )
    return token


def _engine(args: argparse.Namespace, out: TextIO, err: TextIO) -> tuple[SyncEngine, StateStore]:
    spec = PLATFORMS[args.platform]
    options = {o.dest: getattr(args, f"opt_{o.dest}") for o in spec.options}
    options["state_url"] = _state_url(args)
    connector = spec.factory(options, _token(spec, args))
    sink_options: dict[str, Any] = {}
    if getattr(args, "batch_size", None) is not None:
        sink_options["batch_size"] = args.batch_size
    sink = open_sink(args.sink, **sink_options)
    state = open_state_store(_state_url(args))
    progress = None if args.no_progress or args.json else ProgressPrinter(err)
    engine = SyncEngine(
        connector,
        sink,
        state,
        overlap=_dt.timedelta(minutes=getattr(args, "overlap", 5.0)),
        on_progress=progress,
    )
    return engine, state


def _close(engine: SyncEngine, state: StateStore) -> None:
    engine.connector.close()
    engine.sink.close()
    state.close()


def _print_report(report: SyncReport, args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        out.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(report.summary() + "\n")


@contextlib.contextmanager
def _stop_on_sigterm(engine: SyncEngine) -> Iterator[None]:
    """SIGTERM stops the run after its current batch (exit 130), as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: engine.stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_sync(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine, state = _engine(args, out, err)
    try:
        if args.every:
            scheduler = Scheduler(
                engine,
                interval=_dt.timedelta(minutes=args.every),
                on_report=lambda r: _print_report(r, args, out),
            )
            with scheduler.stop_on_signals():
                reports = scheduler.run()
            return int(exit_code_for(reports[-1])) if reports else 0
        mode = "historical" if args.historical else "auto"
        with _stop_on_sigterm(engine):
            report = engine.run(mode, since=args.since)
        _print_report(report, args, out)
        return int(exit_code_for(report))
    finally:
        _close(engine, state)


def _cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    engine, state = _engine(args, out, err)
    try:
        with _stop_on_sigterm(engine):
            report = engine.replay_dead_letters()
        _print_report(report, args, out)
        left = len(state.dead_letters(engine.connection_id))
        out.write(f"{report.dead_letters_resolved} dead letter(s) resolved, {left} still open\n")
        return int(exit_code_for(report))
    finally:
        _close(engine, state)


def _cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    state = open_state_store(_state_url(args))
    try:
        checkpoints = state.checkpoints(args.connection)
        runs = state.runs(args.connection, limit=10)
        letters = state.dead_letters(args.connection)
        parked = state.parked_contacts(args.connection)
        if args.json:
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
        for c in checkpoints:
            out.write(f"  {c.connection_id:<28} {c.stream.value:<16} {c.value.isoformat()}\n")
        out.write("last runs:\n")
        if not runs:
            out.write("  none\n")
        for r in runs:
            totals = r.counts.get("totals", {})
            ended = r.ended_at.isoformat(timespec="seconds") if r.ended_at else "-"
            out.write(
                f"  #{r.id:<4} {r.connection_id:<28} {r.mode:<11} {r.status:<11}"
                f" {r.started_at.isoformat(timespec='seconds')} → {ended}"
                f"  read {totals.get('read', 0)} written {totals.get('written', 0)}\n"
            )
            if r.error:
                out.write(f"        {r.error}\n")
        out.write(f"open dead letters: {len(letters)}")
        out.write(f"   contacts waiting for room under the contact cap: {len(parked)}\n")
        return 0
    finally:
        state.close()


def _cmd_dead_letters(args: argparse.Namespace, out: TextIO) -> int:
    state = open_state_store(_state_url(args))
    try:
        letters = state.dead_letters(args.connection, include_resolved=args.all)
        if args.json:
            data = [
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
            out.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
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
    finally:
        state.close()


# -- real time ----------------------------------------------------------------------------------


def _realtime_state(args: argparse.Namespace) -> RealtimeState:
    state = open_state_store(_state_url(args))
    if not isinstance(state, (InboxStore, LifecycleStore)):  # pragma: no cover - both built-ins do
        raise ConfigurationError(f"{_state_url(args)} keeps no webhook inbox")
    return state  # type: ignore[return-value]


def _realtime_connector(args: argparse.Namespace) -> RealtimeConnector:
    spec = PLATFORMS[args.platform]
    options = {o.dest: getattr(args, f"opt_{o.dest}") for o in spec.options}
    options["state_url"] = _state_url(args)
    connector = spec.factory(options, _token(spec, args))
    if not isinstance(connector, RealtimeConnector):
        connector.close()
        raise ConfigurationError(f"{spec.name} has no webhooks in this library")
    return connector


def _secret(args: argparse.Namespace) -> list[str]:
    name = args.secret_env or f"{args.platform.upper()}_WEBHOOK_SECRET"
    secrets = [s.strip() for s in os.environ.get(name, "").split(",") if s.strip()]
    if not secrets:
        raise ConfigurationError(
            f"no webhook secret: set the environment variable {name} (several, comma-separated, "
            "while rotating); secrets are never taken from the command line"
        )
    return secrets


def _cmd_webhooks(args: argparse.Namespace, out: TextIO) -> int:
    connector = _realtime_connector(args)
    try:
        if args.command == "webhooks-install":
            if not args.url:
                raise ConfigurationError("webhooks install needs --url")
            subscriptions = connector.ensure_webhooks(args.url, args.topic)
        elif args.command == "webhooks-remove":
            if not args.url and not args.all:
                raise ConfigurationError("webhooks remove needs --url, or --all for every one")
            removed = connector.remove_webhooks(None if args.all else args.url)
            out.write(f"{removed} subscription(s) removed\n")
            return 0
        else:
            subscriptions = connector.list_webhooks()
    finally:
        connector.close()
    if args.json:
        rows = [
            {"id": s.id, "topic": s.topic, "url": s.url, "active": s.active} for s in subscriptions
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not subscriptions:
        out.write("no subscriptions\n")
    for s in subscriptions:
        flag = "" if s.active else "  (inactive)"
        out.write(f"{s.topic:<32} {s.url}  #{s.id}{flag}\n")
    if any(s.signature_key for s in subscriptions):
        out.write(
            "Square gives each subscription its own signature key: read it in the Developer "
            "Console (or the API) and set it as the webhook secret of `serve`.\n"
        )
    return 0


def _realtime_engine(args: argparse.Namespace, state: StateStore) -> SyncEngine:
    return SyncEngine(_realtime_connector(args), open_sink(args.sink), state)


def _cmd_drain(args: argparse.Namespace, out: TextIO) -> int:
    state = _realtime_state(args)
    engine = _realtime_engine(args, state)
    try:
        report = WebhookWorker(state, [engine]).drain()
    finally:
        _close(engine, state)
    out.write(
        f"{report.claimed} event(s): {report.done} done, {report.deferred} waiting, "
        f"{report.retried} to retry, {report.failed} failed, "
        f"{report.action_required} need action, {report.skipped} skipped\n"
    )
    return int(ExitCode.ATTENTION) if report.failed or report.action_required else 0


def _cmd_events(args: argparse.Namespace, out: TextIO) -> int:
    state = _realtime_state(args)
    try:
        status = None if args.status is None else EventStatus(args.status)
        rows = state.events(args.connection, status=status, limit=args.limit)
        counts = state.event_counts(args.connection)
    finally:
        state.close()
    if args.json:
        data = [
            {
                "id": e.id,
                "connection_id": e.connection_id,
                "event_id": e.event_id,
                "topic": e.topic,
                "kind": e.kind,
                "external_id": e.external_id,
                "action": e.action,
                "status": e.status.value,
                "attempts": e.attempts,
                "occurred_at": e.occurred_at.isoformat(),
                "received_at": e.received_at.isoformat(),
                "outcome": e.outcome,
                "body": e.body.decode("utf-8", "replace"),
            }
            for e in rows
        ]
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return 0
    out.write(", ".join(f"{k.value} {v}" for k, v in counts.items()) + "\n")
    for e in rows:
        what = f"{e.kind or '-'} {e.external_id or ''}".strip()
        out.write(
            f"#{e.id:<5} {e.connection_id:<28} {e.topic:<26} {what:<22} {e.status.value:<15}"
            f" {e.outcome or ''}\n"
        )
    return 0


def _cmd_connections(args: argparse.Namespace, out: TextIO) -> int:
    state = _realtime_state(args)
    try:
        if args.command == "connections-set":
            target = {
                "pause": ConnectionState.PAUSED,
                "resume": ConnectionState.ACTIVE,
                "delete": ConnectionState.DELETED,
            }[args.verb]
            held = state.connection_status(args.connection)
            if held.state is ConnectionState.DELETED and target is not ConnectionState.DELETED:
                raise ConfigurationError(f"{args.connection} was deleted; it cannot be resumed")
            status = state.set_connection_state(
                args.connection, target, _dt.datetime.now(_dt.timezone.utc), args.reason
            )
            out.write(f"{status.connection_id}: {status.state.value}\n")
            return 0
        statuses = state.connection_statuses()
        known = {c.connection_id for c in state.checkpoints()} | {s.connection_id for s in statuses}
        rows = [state.connection_status(c) for c in sorted(known)]
    finally:
        state.close()
    if args.json:
        data = [
            {
                "connection_id": r.connection_id,
                "state": r.state.value,
                "changed_at": None if r.changed_at is None else r.changed_at.isoformat(),
                "reason": r.reason,
            }
            for r in rows
        ]
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    if not rows:
        out.write("no connections yet\n")
    for r in rows:
        since = f" since {r.changed_at.isoformat(timespec='seconds')}" if r.changed_at else ""
        why = f" ({r.reason})" if r.reason else ""
        out.write(f"{r.connection_id:<36} {r.state.value}{since}{why}\n")
    return 0


def _cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        from .webhooks.asgi import ReceiverServer, create_app
    except ImportError as exc:
        raise ConfigurationError(str(exc)) from None
    secrets = _secret(args)
    state = _realtime_state(args)
    sink = open_sink(args.sink)
    # One connector (and engine) per thread: a run swaps the connector's on_invalid hook.
    worker_engine = SyncEngine(_realtime_connector(args), sink, state)
    poll_engine = SyncEngine(_realtime_connector(args), sink, state) if args.poll_every else None
    connector = worker_engine.connector
    assert isinstance(connector, RealtimeConnector)
    worker = WebhookWorker(state, [worker_engine])
    endpoint = WebhookEndpoint(
        connector.connection_id,
        connector.platform,
        secret=secrets,
        url=args.public_url,
        owns=connector.owns_event,
    )
    receiver = WebhookReceiver(state, [endpoint], on_stored=worker.wake)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    scheduler = None
    if not args.no_worker:
        threads.append(threading.Thread(target=worker.run, args=(stop,), daemon=True))
    if poll_engine is not None:
        scheduler = Scheduler(
            poll_engine,
            interval=_dt.timedelta(minutes=args.poll_every),
            on_report=lambda r: _print_report(r, argparse.Namespace(json=False), out),
        )
        threads.append(threading.Thread(target=scheduler.run, daemon=True))
    server = ReceiverServer(create_app(receiver), host=args.host, port=args.port)
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
        for t in threads:
            t.start()
        out.write(
            f"receiving {connector.platform.value} webhooks for {connector.connection_id}\n"
            f"  listening on {server.url}{endpoint.path} (public URL {args.public_url})\n"
            f"  worker {'off: run `webhooks drain` later' if args.no_worker else 'on'}"
            f"; polling {f'every {args.poll_every:g} min' if args.poll_every else 'off'}\n"
        )
        out.flush()
        while not stop.wait(0.5):
            pass
    finally:
        stop.set()
        worker.wake()
        if scheduler is not None:
            scheduler.stop()
        server.stop()
        for t in threads:
            t.join(timeout=30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        worker_engine.connector.close()
        if poll_engine is not None:
            poll_engine.connector.close()
        sink.close()
        state.close()
    counts = worker.totals
    out.write(
        f"stopped: {counts.done} event(s) applied, {counts.failed} failed; "
        "events not yet processed stay in the inbox for the next start\n"
    )
    return int(ExitCode.INTERRUPTED)


def _say(err: TextIO, text: str) -> None:
    err.write(f"· {text}\n")


def _cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .sync.demo import DemoSkipped, run_demo

    out.write(
        "commerce-connectors demo: simulated shops, in-process (no network, no credentials)\n"
    )
    progress = None if args.no_progress else ProgressPrinter(err)
    skipped: list[DemoSkipped] = []
    results = run_demo(
        args.db,
        seed=args.seed,
        on_progress=progress,
        on_step=None if args.no_progress else (lambda text: _say(err, text)),
        skipped=skipped,
    )
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
    path = os.path.abspath(args.db)
    url = f"sqlite:///{path}"
    query = "SELECT email, first_name, last_name, phone FROM contacts LIMIT 5"
    out.write(
        f"\ndatabase: {path}\n"
        f'  sqlite3 {path} "{query}"\n'
        f"  commerce-connectors status --sink {url}\n"
        f"  commerce-connectors dead-letters list --sink {url}\n"
        "'carts' is — where the platform has no cart listing; 'triggers' counts orders and\n"
        "carts stored as firing automations (placed within 24 h of a sync, or new since).\n"
    )
    from .webhooks._demo import run_realtime_demo

    live = run_realtime_demo(
        args.db, seed=args.seed, on_step=None if args.no_progress else (lambda t: _say(err, t))
    )
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
        )
    from .sync.demo import CRM_LIST, run_crm_demo

    crm = run_crm_demo(
        seed=args.seed, on_step=None if args.no_progress else (lambda t: _say(err, t))
    )
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


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; returns the process exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
    except SystemExit as exc:  # argparse's own exits: --help (0) and usage errors (2)
        return int(exc.code or 0)
    if unknown:
        # argparse would echo them; a token typed on the command line by mistake must
        # not reach a terminal or CI log, so only option names are shown.
        names = [a.split("=", 1)[0] for a in unknown if a.startswith("-")]
        parser.print_usage(err)
        err.write(
            f"commerce-connectors: error: unrecognized arguments: {' '.join(names) or '(values)'}"
            " (values not shown; tokens are read from the environment, never from arguments)\n"
        )
        return int(ExitCode.USAGE)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
        stream=err,
    )
    try:
        if args.command == "sync":
            return _cmd_sync(args, out, err)
        if args.command == "dead-letters-replay":
            return _cmd_replay(args, out, err)
        if args.command == "status":
            return _cmd_status(args, out)
        if args.command == "dead-letters-list":
            return _cmd_dead_letters(args, out)
        if args.command == "demo":
            return _cmd_demo(args, out, err)
        if args.command == "serve":
            return _cmd_serve(args, out, err)
        if args.command in ("webhooks-install", "webhooks-list", "webhooks-remove"):
            return _cmd_webhooks(args, out)
        if args.command == "webhooks-drain":
            return _cmd_drain(args, out)
        if args.command == "webhooks-events":
            return _cmd_events(args, out)
        if args.command in ("connections-list", "connections-set"):
            return _cmd_connections(args, out)
        parser.print_help(out)
        return 0
    except ConfigurationError as exc:
        err.write(f"commerce-connectors: error: {exc}\n")
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        err.write("commerce-connectors: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except CommerceConnectorsError as exc:
        err.write(f"commerce-connectors: error: {exc}\n")
        return int(ExitCode.ERROR)
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as Unix tools do, and keep the
        # interpreter from complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
