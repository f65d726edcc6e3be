"""What every command shares: exit codes, streams, platform sub-commands, signals, reports."""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import difflib
import enum
import functools
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import click

from .._http import HttpEngine
from .._http.stats import HttpEvent
from ..clock import clear_stop, request_stop
from ..errors import ConfigurationError, NotFoundError
from ..protocols import Connector, RunRecord, Stream
from ..sync import StreamReport, SyncReport, SyncStatus
from .registry import PLATFORMS, PlatformOption, PlatformSpec
from .stores import DEFAULT_SINK, check_sqlite, sqlite_url, state_url_for

__all__ = [
    "EXIT_CODES_HELP",
    "ExitCode",
    "Masked",
    "PlatformGroup",
    "Runtime",
    "SuggestingGroup",
    "exit_code_for",
    "masked_choice",
    "report_from_run",
    "shown",
]


class ExitCode(enum.IntEnum):
    """The command's exit statuses (stable: scripts may rely on them)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    RETRY_LATER = 4
    SINK = 5
    ATTENTION = 6
    SKIPPED = 7
    INTERRUPTED = 130


#: The exit code table, as ``--help`` shows it (one line per code).
EXIT_CODES_HELP = (
    "Exit codes:\n\n"
    "\b\n"
    "  0    done\n"
    "  1    an unexpected error (a bug: please report it with the traceback)\n"
    "  2    usage or configuration: a bad option, a missing token, an unknown platform,\n"
    "       a database that does not exist, is not SQLite or holds no state (commands\n"
    "       that only read), a store the platform does not know (404: check the option\n"
    "       naming the store, or --base-url)\n"
    "  3    authentication or permission failed: re-authenticate, or grant the missing\n"
    "       scope the message names (403); the next run resumes\n"
    "  4    the platform stayed unavailable or rate-limited: run again later\n"
    "  5    the sink failed a write: nothing of that batch was written\n"
    "  6    done, but needs attention: records dead-lettered, contacts refused by the\n"
    "       contact cap, or data hidden from the app (a missing scope: see the warning)\n"
    "  7    skipped: the connection is paused, disabled (app uninstalled) or deleted\n"
    "  130  interrupted (Ctrl-C, SIGTERM): stopped at the last checkpoint; run the same\n"
    "       command again to resume"
)

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
        >>> r.warnings.append("orders older than 60 days are hidden")
        >>> int(exit_code_for(r))
        6
    """
    code = _STATUS_CODES[report.status]
    if code is ExitCode.OK and report.needs_attention:
        return ExitCode.ATTENTION
    return code


def report_from_run(run: RunRecord) -> SyncReport:
    """The report of a logged run, rebuilt from the run log's copy of it.

    For a run whose report was not returned: the engine logs a run that ended on an
    error it lets through (a missing permission) before raising it.
    """
    data = run.counts

    def when(value: Any) -> _dt.datetime | None:
        return None if value is None else _dt.datetime.fromisoformat(str(value))

    known = {f.name for f in attrs.fields(StreamReport)}
    streams: dict[Stream, StreamReport] = {}
    for name, counts in dict(data.get("streams", {})).items():
        values = {k: v for k, v in dict(counts).items() if k in known}
        values.update(
            stream=Stream(name),
            since=when(values.get("since")),
            checkpoint=when(values.get("checkpoint")),
            skipped=collections.Counter(values.get("skipped", {})),
            contact_notes=collections.Counter(values.get("contact_notes", {})),
        )
        streams[Stream(name)] = StreamReport(**values)
    return SyncReport(
        run.connection_id,
        run.mode,
        run.started_at,
        run.ended_at,
        status=SyncStatus(data.get("status", run.status)),
        error=run.error,
        streams=streams,
        run_id=run.id,
        parked_retried=int(data.get("parked_retried", 0)),
        parked_synced=int(data.get("parked_synced", 0)),
        dead_letters_resolved=int(data.get("dead_letters_resolved", 0)),
        requests=int(data.get("requests", 0)),
        rate_limit_wait=float(data.get("rate_limit_wait", 0.0)),
        retry_wait=float(data.get("retry_wait", 0.0)),
        notices=list(data.get("notices", [])),
        sink_requests=int(data.get("sink_requests", 0)),
        warnings=list(data.get("warnings", [])),
    )


@attrs.define
class Runtime:
    """The streams a command writes to (``click`` context object)."""

    out: TextIO
    err: TextIO

    def say(self, text: str) -> None:
        """A line of commentary on standard error."""
        self.err.write(f"· {text}\n")

    def say_report(self, text: str) -> None:
        """A report's text on standard output."""
        self.out.write(text + "\n")
        self.out.flush()

    def print_report(self, report: SyncReport, *, as_json: bool) -> None:
        """The run's report: JSON, or the summary."""
        if as_json:
            self.out.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        else:
            self.out.write(report.summary() + "\n")
        if report.status is SyncStatus.INTERRUPTED:
            self.err.write(
                "stopped: what was acknowledged is kept; run the same command again to resume"
                " from the last checkpoint\n"
            )


# -- groups: suggestions, default sub-commands, platforms anywhere --------------------------


_WORD = re.compile(r"[a-z][a-z-]{0,23}", re.IGNORECASE)


def shown(value: str) -> str:
    """A value typed on the line, as an error message may show it.

    A plain word is quoted; anything else may be a token pasted in the wrong place,
    so it is never echoed.

    Example:
        >>> shown("shopfy"), shown("shpat_0123abcd")
        ("'shopfy'", '(value not shown)')
    """
    return repr(value) if _WORD.fullmatch(value) else "(value not shown)"


if TYPE_CHECKING:
    _ParamType = click.ParamType[Any, Any]  # generic from click 8.2
else:
    _ParamType = click.ParamType


class Masked(_ParamType):
    """A parameter type whose error messages never echo the value (see :func:`shown`).

    Args:
        inner: the type that converts the value (``click.IntRange(min=1)`` …).
        expected: what a valid value is, for the message ("a whole number, 1 or more").
    """

    def __init__(self, inner: Any, expected: str) -> None:
        self.inner: _ParamType = click.types.convert_type(inner)
        self.expected = expected
        self.name = self.inner.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.inner.convert(value, param, ctx)
        except click.BadParameter:
            if not isinstance(value, str):
                raise
        self.fail(f"{shown(value)} is not {self.expected}", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return self.inner.get_metavar(param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[Any]:
        return self.inner.shell_complete(ctx, param, incomplete)


def masked_choice(choices: Sequence[str], *, case_sensitive: bool = True) -> Masked:
    """A choice among ``choices`` whose errors list the choices, not the value typed."""
    return Masked(
        click.Choice(choices, case_sensitive=case_sensitive), f"one of {', '.join(choices)}"
    )


class SuggestingGroup(click.Group):
    """A group that says "did you mean" for a mistyped sub-command."""

    noun = "command"

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = self.list_commands(ctx)
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            # A word is echoed; anything else may be a token pasted in the wrong place.
            shown = repr(name) if _WORD.fullmatch(name) else "(value not shown)"
            ctx.fail(f"unknown {self.noun} {shown}.{hint} Choose from: {', '.join(known)}.")
        return super().resolve_command(ctx, args)


class DefaultGroup(SuggestingGroup):
    """A group that runs ``default`` when no sub-command is named (``dead-letters`` = ``list``)."""

    def __init__(self, *args: Any, default: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "-h")):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


#: A platform command's work: ``(runtime, spec, platform options, other parameters)``.
PlatformHandler = Callable[[Runtime, PlatformSpec, dict[str, Any], dict[str, Any]], int]


class _PlatformCommand(click.Command):
    """A platform's command; arguments left over are refused without echoing them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        if ctx.args and not ctx.resilient_parsing:
            # A value typed here may be a token pasted by mistake: never echo it.
            ctx.fail(
                f"unrecognized argument{'s' if len(ctx.args) > 1 else ''} ({len(ctx.args)}"
                " value(s), not shown: tokens are read from the environment, never from"
                f" arguments; see --token-env). Options: {ctx.command_path} --help"
            )
        return rest


class PlatformGroup(SuggestingGroup):
    """``COMMAND PLATFORM [OPTIONS]``, where options may come before or after the platform.

    Each registered platform is a sub-command carrying the command's own options and
    the platform's, so ``sync --sink X shopify --shop Y`` and ``sync shopify --shop Y
    --sink X`` mean the same: the platform name is moved first before parsing.
    """

    noun = "platform"

    def __init__(
        self,
        name: str,
        *,
        params: Callable[[], Sequence[click.Parameter]],
        handler: PlatformHandler,
        must_exist: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subcommand_metavar", "PLATFORM [OPTIONS]")
        super().__init__(name, **kwargs)
        self._params = params
        self._handler = handler
        self._must_exist = must_exist

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(PLATFORMS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = PLATFORMS.get(cmd_name)
        return None if spec is None else self._command(spec)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(a in ("--help", "-h") for a in args) and not self._platform_at(args)[1]:
            return super().parse_args(ctx, args)
        index, name = self._platform_at(args)
        if name is None:
            if args:
                ctx.fail(
                    f"name the platform: {ctx.command_path} PLATFORM [OPTIONS]"
                    f" (PLATFORM: {', '.join(PLATFORMS)})"
                )
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, [name, *args[:index], *args[index + 1 :]])

    def _platform_at(self, args: Sequence[str]) -> tuple[int, str | None]:
        """The platform among the arguments that are not options or option values.

        The first such argument naming a platform, else the first such argument (a
        mistyped platform, for the "did you mean" message).
        """
        flags = self._flags()
        bare: list[int] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                break
            if arg.startswith("-"):
                i += 1 if ("=" in arg or arg in flags) else 2
                continue
            bare.append(i)
            i += 1
        for index in bare:
            if args[index] in PLATFORMS:
                return index, args[index]
        return (bare[0], args[bare[0]]) if bare else (-1, None)

    def _flags(self) -> set[str]:
        flags = {"--help", "-h"}
        for spec in PLATFORMS.values():
            for p in self._command(spec).params:
                if isinstance(p, click.Option) and (p.is_flag or p.count):
                    flags.update(p.opts)
                    flags.update(p.secondary_opts)
        return flags

    def _command(self, spec: PlatformSpec) -> click.Command:
        handler = self._handler
        must_exist = self._must_exist

        def callback(**kwargs: Any) -> int:
            ctx = click.get_current_context()
            runtime = ctx.find_object(Runtime)
            assert runtime is not None
            options = {o.dest: kwargs.pop(f"opt_{o.dest}") for o in spec.options}
            if "sink" in kwargs:
                kwargs["sink"] = sqlite_url(kwargs["sink"])
                kwargs["state_url"] = state_url_for(kwargs["sink"], kwargs.get("state"))
                check_sqlite(kwargs["sink"], option="--sink", must_exist=False)
                check_sqlite(
                    kwargs["state_url"],
                    option=_state_option(kwargs["sink"], kwargs["state_url"], kwargs.get("state")),
                    must_exist=must_exist,
                )
            try:
                return handler(runtime, spec, options, kwargs)
            except NotFoundError as exc:
                where = " and ".join(spec.where_to_look())
                raise ConfigurationError(
                    f"{in_option_names(str(exc), spec)} — check {where}"
                ) from None
            except ConfigurationError as exc:
                raise ConfigurationError(in_option_names(str(exc), spec)) from None

        params = [
            *self._params(),
            *(_option(o) for o in spec.options),
            click.Option(
                ["--token-env"],
                default=spec.token_env,
                show_default=True,
                metavar="NAME",
                help="the environment variable holding the token",
            ),
            click.Option(
                ["--token-stdin"], is_flag=True, help="read the token from standard input"
            ),
        ]
        return _PlatformCommand(
            spec.name,
            params=params,
            callback=callback,
            help=f"{spec.description}. The token is read from ${spec.token_env}.",
            short_help=spec.description,
            context_settings={"allow_extra_args": True},
        )


def in_option_names(text: str, spec: PlatformSpec) -> str:
    """A connector's message with its arguments (``base_url=``) said as the options.

    Example:
        >>> from commerce_connectors.cli.registry import platform_spec
        >>> in_option_names("pass currency='USD' or base_url= explicitly",
        ...                 platform_spec("bigcommerce"))
        'pass --currency USD or --base-url explicitly'
    """
    for option in spec.options:
        pattern = re.compile(rf"\b{re.escape(option.dest)}=(['\"]?)([^'\"\s]*)\1")
        text = pattern.sub(functools.partial(_as_flag, option.flag), text)
    return text


def _as_flag(flag: str, match: re.Match[str]) -> str:
    value = match.group(2)
    return f"{flag} {value}" if value else flag


def _option(option: PlatformOption) -> click.Option:
    kind: Any = masked_choice(option.choices) if option.choices else option.type
    if option.type is str and not option.choices:
        kind = click.STRING
    elif not option.choices:
        expected = f"a valid {option.dest.replace('_', ' ')}"
        if option.type is int or option.type is float:
            expected = "a whole number" if option.type is int else "a number"
        kind = Masked(option.type, expected)
    # An explicit default=None would count as a default given: required would not be checked.
    default: dict[str, Any] = {} if option.default is None else {"default": option.default}
    return click.Option(
        [option.flag, f"opt_{option.dest}"],
        required=option.required,
        **default,
        type=kind,
        metavar=None if option.choices else option.dest.upper(),
        help=option.help,
        show_default=option.default is not None,
    )


# -- store options -----------------------------------------------------------------------------


_STORE_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--sink",),
        {
            "default": DEFAULT_SINK,
            "show_default": True,
            "metavar": "URL",
            "help": "where data goes: sqlite:///path.db or a plain file path, memory://,"
            " activecampaign://<API host> (key from $ACTIVECAMPAIGN_API_TOKEN), postgresql://…",
        },
    ),
    (
        ("--state",),
        {
            "metavar": "URL",
            "help": "where checkpoints, dead letters and runs are kept (default: the sink's own"
            " database; commerce-connectors-state.db for a CRM sink)",
        },
    ),
)


def store_options() -> list[click.Parameter]:
    """``--sink`` and ``--state``, as every command that reads or writes data has them."""
    return [click.Option(list(decls), **kwargs) for decls, kwargs in _STORE_OPTIONS]


def with_store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: ``--sink`` and ``--state`` on a plain command."""
    for decls, kwargs in reversed(_STORE_OPTIONS):
        command = click.option(*decls, **kwargs)(command)
    return command


def resolved_stores(sink: str | None, state: str | None, *, must_exist: bool) -> tuple[str, str]:
    """``(sink URL, state URL)`` from the options, checked (see :mod:`.stores`)."""
    sink_url = sqlite_url(sink or DEFAULT_SINK)
    state_url = state_url_for(sink_url, state)
    if not must_exist:
        check_sqlite(sink_url, option="--sink", must_exist=False)
    check_sqlite(state_url, option=_state_option(sink_url, state_url, state), must_exist=must_exist)
    return sink_url, state_url


def _state_option(sink_url: str, state_url: str, state: str | None) -> str:
    """How the user named the state store, for messages."""
    if state:
        return "--state"
    return "--sink" if state_url == sink_url else "the default --state"


# -- connectors --------------------------------------------------------------------------------


def read_token(spec: PlatformSpec, params: Mapping[str, Any]) -> str:
    """The platform token, from ``--token-env``'s variable or standard input."""
    variable = str(params.get("token_env") or spec.token_env)
    if params.get("token_stdin"):
        token = sys.stdin.readline().strip()
    else:
        token = os.environ.get(variable, "").strip()
    if not token:
        raise ConfigurationError(
            f"no {spec.name} token: set the environment variable {variable} "
            "(or pass --token-stdin); tokens are never taken from the command line"
        )
    return token


def build_connector(
    spec: PlatformSpec,
    options: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    on_http: Callable[[HttpEvent], None] | None = None,
) -> Connector:
    """The platform's connector for these options; ``on_http`` sees its HTTP events."""
    connector = spec.factory(
        {**options, "state_url": params.get("state_url")}, read_token(spec, params)
    )
    engine = getattr(connector, "engine", None)
    if on_http is not None and isinstance(engine, HttpEngine):
        previous = engine.on_event
        if previous is None:
            engine.on_event = on_http
        else:
            hook = on_http

            def both(event: HttpEvent) -> None:
                previous(event)
                hook(event)

            engine.on_event = both
    return connector


def connector_warnings(connector: Connector) -> list[str]:
    """What the connector found that hides data (a missing scope …), if it says."""
    found = getattr(connector, "warnings", None)
    return [w for w in found if isinstance(w, str)] if isinstance(found, list) else []


# -- signals -----------------------------------------------------------------------------------


#: How often the stop watcher looks at the signal flag (seconds).
_STOP_POLL = 0.05


@contextlib.contextmanager
def stopping_on_signals(stop: Callable[[], None], *, interrupt: bool = False) -> Iterator[None]:
    """Ctrl-C or SIGTERM: ``stop()``, and every real sleep (rate limit, retry) ends now.

    The run then ends at its last acknowledged checkpoint with its report. A second
    signal raises :class:`KeyboardInterrupt` at once; with ``interrupt`` the first
    one does too (after asking for the stop).

    The handler only records the signal: setting an event takes a lock the
    interrupted code may hold. A watcher thread, started here, does the rest:
    it calls ``stop()`` and :func:`~commerce_connectors.clock.request_stop`, and
    calls ``stop()`` again every few milliseconds until the block ends, so a run
    that starts after the signal (clearing its own stop request) still stops.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    signalled: list[int] = []  # appended to by the handler: no lock taken
    done = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if signalled or interrupt:
            signalled.append(signum)
            raise KeyboardInterrupt
        signalled.append(signum)

    def watch() -> None:
        while not done.wait(_STOP_POLL):
            if signalled:
                stop()
                request_stop()

    clear_stop()
    watcher = threading.Thread(target=watch, name="stop-request", daemon=True)
    watcher.start()
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        done.set()
        watcher.join()
        if signalled:
            stop()  # the watcher may not have looked since the signal
        clear_stop()


def interval(text: str) -> _dt.timedelta:
    """``30m``, ``2h``, ``90s``, ``1d`` or a number of minutes, as a duration.

    Example:
        >>> interval("30m"), interval("1.5"), interval("2h")
        (datetime.timedelta(seconds=1800), datetime.timedelta(seconds=90), datetime.timedelta(seconds=7200))
    """  # noqa: E501
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    scale = units.get(text[-1:], 0)
    try:
        value = float(text[:-1] if scale else text)
    except ValueError:
        raise ConfigurationError(
            f"not a duration: {shown(text)} (e.g. 30m, 2h, 90s; a number alone is minutes)"
        ) from None
    if value <= 0:
        raise ConfigurationError(f"the interval must be positive, got {text}")
    return _dt.timedelta(seconds=value * (scale or 60))
