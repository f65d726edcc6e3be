"""``serve``, ``webhooks`` and ``connections``: real time and the connection lifecycle."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
from collections.abc import Callable
from typing import Any

import click

from ..clock import SleepInterrupted, clear_stop, request_stop
from ..errors import ConfigurationError
from ..protocols import ConnectionState, EventStatus, InboxStore, LifecycleStore, RealtimeConnector
from ..sinks import open_sink
from ..state import open_state_store
from ..sync import Scheduler, SyncEngine
from ..webhooks import RealtimeState, WebhookEndpoint, WebhookReceiver, WebhookWorker
from .common import (
    DefaultGroup,
    ExitCode,
    Masked,
    PlatformGroup,
    Runtime,
    SuggestingGroup,
    build_connector,
    interval,
    masked_choice,
    resolved_stores,
    stopping_on_signals,
    store_options,
    with_store_options,
)
from .registry import PlatformSpec

__all__ = ["connections", "serve", "webhooks"]


def _realtime_state(state_url: str, *, read_only: bool = False) -> RealtimeState:
    state = open_state_store(state_url, read_only=read_only)
    if not isinstance(state, (InboxStore, LifecycleStore)):  # pragma: no cover - built-ins do
        state.close()
        raise ConfigurationError(f"{state_url} keeps no webhook inbox")
    return state  # type: ignore[return-value]


def _realtime_connector(
    spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> RealtimeConnector:
    connector = build_connector(spec, options, params)
    if not isinstance(connector, RealtimeConnector):
        connector.close()
        raise ConfigurationError(f"{spec.name} has no webhooks in this library")
    return connector


def _secret(platform: str, secret_env: str | None) -> list[str]:
    name = secret_env or f"{platform.upper()}_WEBHOOK_SECRET"
    secrets = [s.strip() for s in os.environ.get(name, "").split(",") if s.strip()]
    if not secrets:
        raise ConfigurationError(
            f"no webhook secret: set the environment variable {name} (several, comma-separated, "
            "while rotating); secrets are never taken from the command line"
        )
    return secrets


# -- serve -------------------------------------------------------------------------------------


def _serve_params() -> list[click.Parameter]:
    return [
        *store_options(),
        click.Option(
            ["--public-url"],
            required=True,
            metavar="URL",
            help="the URL the platform delivers to (its path is the route; Square signs it)",
        ),
        click.Option(
            ["--secret-env"],
            metavar="NAME",
            help="the environment variable holding the webhook secret "
            "(default PLATFORM_WEBHOOK_SECRET, e.g. SHOPIFY_WEBHOOK_SECRET)",
        ),
        click.Option(["--host"], default="127.0.0.1", show_default=True, help="interface"),
        click.Option(
            ["--port"],
            type=Masked(click.IntRange(0, 65535), "a port number, 0 to 65535"),
            default=8080,
            show_default=True,
        ),
        click.Option(
            ["--poll-every"],
            metavar="INTERVAL",
            help="also poll incrementally every INTERVAL (30m, 2h; a number alone is minutes)",
        ),
        click.Option(
            ["--no-worker"], is_flag=True, help="only receive and store; process later (drain)"
        ),
    ]


def _serve(
    runtime: Runtime, spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> int:
    try:
        from ..webhooks.asgi import ReceiverServer, create_app
    except ImportError as exc:
        raise ConfigurationError(str(exc)) from None
    out = runtime.out
    poll_every = interval(params["poll_every"]) if params["poll_every"] else None
    secrets = _secret(spec.name, params["secret_env"])
    state = _realtime_state(params["state_url"])
    sink = open_sink(params["sink"])
    # One connector (and engine) per thread: a run swaps the connector's on_invalid hook.
    worker_engine = SyncEngine(_realtime_connector(spec, options, params), sink, state)
    poll_engine = (
        SyncEngine(_realtime_connector(spec, options, params), sink, state) if poll_every else None
    )
    connector = worker_engine.connector
    assert isinstance(connector, RealtimeConnector)
    worker = WebhookWorker(state, [worker_engine])
    endpoint = WebhookEndpoint(
        connector.connection_id,
        connector.platform,
        secret=secrets,
        url=params["public_url"],
        owns=connector.owns_event,
    )
    receiver = WebhookReceiver(state, [endpoint], on_stored=worker.wake)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    scheduler = None
    if not params["no_worker"]:
        threads.append(_thread(lambda: worker.run(stop)))
    if poll_engine is not None and poll_every is not None:
        scheduler = Scheduler(
            poll_engine,
            interval=poll_every,
            on_report=lambda r: runtime.print_report(r, as_json=False),
        )
        threads.append(_thread(scheduler.run))
    server = ReceiverServer(create_app(receiver), host=params["host"], port=params["port"])
    # A signal sets `stop` (from the watcher thread, not the handler) and cuts short
    # every real sleep: a rate-limit wait of the worker or the poller ends at once.
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(state.close)
        cleanup.callback(sink.close)
        for engine in (worker_engine, poll_engine):
            if engine is not None:
                cleanup.callback(engine.connector.close)
        cleanup.callback(_stop_serving, stop, worker, scheduler, server, threads)
        cleanup.enter_context(stopping_on_signals(stop.set))
        server.start()
        for t in threads:
            t.start()
        polling = f"every {params['poll_every']}" if poll_every else "off"
        out.write(
            f"receiving {connector.platform.value} webhooks for {connector.connection_id}\n"
            f"  listening on {server.url}{endpoint.path} (public URL {params['public_url']})\n"
            f"  worker {'off: run `webhooks drain` later' if params['no_worker'] else 'on'}"
            f"; polling {polling}\n"
        )
        out.flush()
        while not stop.wait(0.5):
            pass
    counts = worker.totals
    out.write(
        f"stopped: {counts.done} event(s) applied, {counts.failed} failed; "
        "events not yet processed stay in the inbox for the next start\n"
    )
    return int(ExitCode.INTERRUPTED)


def _thread(target: Callable[[], object]) -> threading.Thread:
    """A daemon thread for ``serve``: a wait cut short by the stop ends it quietly."""

    def run() -> None:
        with contextlib.suppress(SleepInterrupted):
            target()

    return threading.Thread(target=run, daemon=True)


def _stop_serving(
    stop: threading.Event,
    worker: WebhookWorker,
    scheduler: Scheduler | None,
    server: Any,
    threads: list[threading.Thread],
) -> None:
    stop.set()
    worker.wake()
    if scheduler is not None:
        scheduler.stop()
    server.stop()
    request_stop()  # a wait under way in the worker or the poller ends now
    for t in threads:
        t.join(timeout=30)
    clear_stop()


serve = PlatformGroup(
    "serve",
    params=_serve_params,
    handler=_serve,
    help="Run the webhook receiver (Starlette under uvicorn) for one store, with the inbox"
    " worker and, with --poll-every, the polling scheduler as a safety net."
    ' Needs the "webhooks" extra. The signing secret is read from an environment variable'
    " (several, comma-separated, while rotating).",
    short_help="receive webhooks for one store and apply them in real time",
)


# -- webhooks ----------------------------------------------------------------------------------


@click.group("webhooks", cls=SuggestingGroup)
def webhooks() -> None:
    """Manage webhook subscriptions and the inbox."""


def _subscriptions(
    runtime: Runtime, spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> int:
    action = click.get_current_context().parent
    verb = action.info_name if action is not None else "list"
    out = runtime.out
    connector = _realtime_connector(spec, options, params)
    try:
        if verb == "install":
            if not params["url"]:
                raise ConfigurationError("webhooks install needs --url")
            subscriptions = connector.ensure_webhooks(params["url"], params["topic"] or None)
        elif verb == "remove":
            if not params["url"] and not params["remove_all"]:
                raise ConfigurationError("webhooks remove needs --url, or --all for every one")
            removed = connector.remove_webhooks(None if params["remove_all"] else params["url"])
            out.write(f"{removed} subscription(s) removed\n")
            return 0
        else:
            subscriptions = connector.list_webhooks()
    finally:
        connector.close()
    if params["as_json"]:
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


def _subscription_params(verb: str) -> Callable[[], list[click.Parameter]]:
    def params() -> list[click.Parameter]:
        found: list[click.Parameter] = [*store_options()]
        if verb != "list":
            found.append(click.Option(["--url"], metavar="URL", help="the callback URL"))
        else:
            found.append(click.Option(["--url"], hidden=True))
        found.append(
            click.Option(
                ["--topic"],
                multiple=True,
                hidden=verb != "install",
                help="a topic (repeatable; default: the platform's set)",
            )
        )
        found.append(
            click.Option(
                ["--all", "remove_all"],
                is_flag=True,
                hidden=verb != "remove",
                help="every subscription of this app",
            )
        )
        found.append(click.Option(["--json", "as_json"], is_flag=True, help="print JSON"))
        return found

    return params


for _verb, _text in (
    ("install", "subscribe a URL to the platform's topics (idempotent)"),
    ("list", "list the store's webhook subscriptions"),
    ("remove", "delete the subscriptions to a URL (all of this app's with --all)"),
):
    webhooks.add_command(
        PlatformGroup(
            _verb,
            params=_subscription_params(_verb),
            handler=_subscriptions,
            help=_text[0].upper() + _text[1:] + ".",
            short_help=_text,
        )
    )


def _drain(
    runtime: Runtime, spec: PlatformSpec, options: dict[str, Any], params: dict[str, Any]
) -> int:
    state = _realtime_state(params["state_url"])
    try:
        engine = SyncEngine(
            _realtime_connector(spec, options, params), open_sink(params["sink"]), state
        )
    except BaseException:
        state.close()
        raise
    try:
        report = WebhookWorker(state, [engine]).drain()
    finally:
        engine.connector.close()
        engine.sink.close()
        state.close()
    runtime.out.write(
        f"{report.claimed} event(s): {report.done} done, {report.deferred} waiting, "
        f"{report.retried} to retry, {report.failed} failed, "
        f"{report.action_required} need action, {report.skipped} skipped\n"
    )
    return int(ExitCode.ATTENTION) if report.failed or report.action_required else 0


webhooks.add_command(
    PlatformGroup(
        "drain",
        params=store_options,
        handler=_drain,
        must_exist=True,
        help="Process the events waiting in the inbox, then exit.",
        short_help="process the events waiting in the inbox, then exit",
    )
)


@webhooks.command("events")
@click.option("--connection", metavar="ID", help="only this connection id")
@click.option(
    "--status",
    "status_name",
    type=masked_choice([s.value for s in EventStatus]),
    help="only these",
)
@click.option(
    "--limit",
    type=Masked(click.IntRange(min=1), "a whole number, 1 or more"),
    default=50,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="print JSON (bodies included)")
@with_store_options
@click.pass_obj
def events(
    runtime: Runtime,
    sink: str,
    state: str | None,
    connection: str | None,
    status_name: str | None,
    limit: int,
    as_json: bool,
) -> int:
    """List the events in the inbox (reads only; creates nothing)."""
    _, state_url = resolved_stores(sink, state, must_exist=True)
    store = _realtime_state(state_url, read_only=True)
    try:
        wanted = None if status_name is None else EventStatus(status_name)
        rows = store.events(connection, status=wanted, limit=limit)
        counts = store.event_counts(connection)
    finally:
        store.close()
    out = runtime.out
    if as_json:
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
    width = max([len("connection"), *(len(e.connection_id) for e in rows)])
    for e in rows:
        what = f"{e.kind or '-'} {e.external_id or ''}".strip()
        out.write(
            f"#{e.id:<5} {e.connection_id:<{width}} {e.topic:<26} {what:<22} {e.status.value:<15}"
            f" {e.outcome or ''}\n"
        )
    return 0


# -- connections -------------------------------------------------------------------------------


@click.group("connections", cls=DefaultGroup, default="list")
def connections() -> None:
    """List connections (the default), or pause, resume or delete one."""


@connections.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@with_store_options
@click.pass_obj
def list_connections(runtime: Runtime, sink: str, state: str | None, as_json: bool) -> int:
    """Every connection with a recorded state (reads only; creates nothing)."""
    _, state_url = resolved_stores(sink, state, must_exist=True)
    store = _realtime_state(state_url, read_only=True)
    try:
        statuses = store.connection_statuses()
        known = {c.connection_id for c in store.checkpoints()} | {s.connection_id for s in statuses}
        rows = [store.connection_status(c) for c in sorted(known)]
    finally:
        store.close()
    out = runtime.out
    if as_json:
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
    width = max([len("connection"), *(len(r.connection_id) for r in rows)])
    for r in rows:
        since = f" since {r.changed_at.isoformat(timespec='seconds')}" if r.changed_at else ""
        why = f" ({r.reason})" if r.reason else ""
        out.write(f"{r.connection_id:<{width}}  {r.state.value}{since}{why}\n")
    return 0


def _lifecycle(verb: str, text: str) -> click.Command:
    target = {
        "pause": ConnectionState.PAUSED,
        "resume": ConnectionState.ACTIVE,
        "delete": ConnectionState.DELETED,
    }[verb]

    @click.command(verb, help=text[0].upper() + text[1:] + ".", short_help=text)
    @click.argument("connection")
    @click.option("--reason", help="why (kept with the state)")
    @with_store_options
    @click.pass_obj
    def command(
        runtime: Runtime, sink: str, state: str | None, connection: str, reason: str | None
    ) -> int:
        _, state_url = resolved_stores(sink, state, must_exist=True)
        store = _realtime_state(state_url)
        try:
            held = store.connection_status(connection)
            if held.state is ConnectionState.DELETED and target is not ConnectionState.DELETED:
                raise ConfigurationError(f"{connection} was deleted; it cannot be resumed")
            status = store.set_connection_state(
                connection, target, _dt.datetime.now(_dt.timezone.utc), reason
            )
        finally:
            store.close()
        runtime.out.write(f"{status.connection_id}: {status.state.value}\n")
        return 0

    return command


for _verb, _text in (
    ("pause", "stop polling; keep webhook events in the inbox until resumed"),
    ("resume", "sync again (also after reinstalling an uninstalled app)"),
    ("delete", "stop everything for good; the synced data is kept"),
):
    connections.add_command(_lifecycle(_verb, _text))
