"""The ``commerce-connectors`` command group, its logging options, and :func:`main`."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import click

from .. import __version__
from ..errors import (
    AuthenticationError,
    CommerceConnectorsError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RetriableError,
    SinkError,
)
from .commands import dead_letters, demo, status, sync
from .common import EXIT_CODES_HELP, ExitCode, Runtime, SuggestingGroup, masked_choice
from .fleet import fleet
from .realtime import connections, serve, webhooks
from .simulate import simulate

__all__ = ["LOG_LEVEL_ENV", "cli", "main"]

#: The environment variable setting the log level (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``).
LOG_LEVEL_ENV = "COMMERCE_CONNECTORS_LOG_LEVEL"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Options of the top level that may be typed anywhere on the line.
_GLOBAL_FLAGS = frozenset({"-v", "-vv", "--verbose", "-q", "--quiet"})


class _Root(SuggestingGroup):
    """The top level: logging options are accepted anywhere on the line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        hoisted: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest.extend(args[i:])
                break
            if arg in _GLOBAL_FLAGS or arg.startswith("--log-level="):
                hoisted.append(arg)
            elif arg == "--log-level" and i + 1 < len(args):
                hoisted.extend(args[i : i + 2])
                i += 1
            else:
                rest.append(arg)
            i += 1
        return super().parse_args(ctx, [*hoisted, *rest])

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they were added

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _PipeClosedError from None  # click would exit 1 on EPIPE


class _PipeClosedError(Exception):
    """Standard output's reader went away."""


@click.group(
    "commerce-connectors",
    cls=_Root,
    invoke_without_command=True,
    epilog=EXIT_CODES_HELP
    + "\n\nEnvironment: tokens come from each platform's variable (see `sync PLATFORM --help`);"
    f" {LOG_LEVEL_ENV} sets the log level (default WARNING).",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="commerce-connectors", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="more detail: -v info, -vv debug")
@click.option("-q", "--quiet", is_flag=True, help="errors only (no warnings)")
@click.option(
    "--log-level",
    type=masked_choice(_LEVELS, case_sensitive=False),
    help=f"the log level (default: ${LOG_LEVEL_ENV}, else WARNING)",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, log_level: str | None) -> int | None:
    """Sync shop data (Shopify, BigCommerce, Square, Tiendanube) into a CRM.

    Options may be given before or after the platform: `sync shopify --shop X --sink Y`.
    Warnings (a missing scope that hides data, …) are shown on standard error.
    """
    runtime = ctx.ensure_object(Runtime)
    level = _level(verbose, quiet, log_level)
    handler = logging.StreamHandler(runtime.err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("commerce_connectors")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    # The library's records go to our handler only (not twice through the root logger's).
    propagate, logger.propagate = logger.propagate, False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        logger.propagate = propagate

    ctx.call_on_close(restore)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        return 0
    return None


def _level(verbose: int, quiet: bool, log_level: str | None) -> int:
    if log_level:
        return int(getattr(logging, log_level.upper()))
    if verbose:
        return logging.DEBUG if verbose > 1 else logging.INFO
    if quiet:
        return logging.ERROR
    named = os.environ.get(LOG_LEVEL_ENV, "").strip().upper()
    if named:
        if named not in _LEVELS:
            raise ConfigurationError(
                f"{LOG_LEVEL_ENV}={named!r} is not a level: use one of {', '.join(_LEVELS)}"
            )
        return int(getattr(logging, named))
    return logging.WARNING


for _command in (
    sync, status, dead_letters, demo, simulate, serve, webhooks, connections, fleet,
):  # fmt: skip
    cli.add_command(_command)


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; returns the process exit status (see ``--help``)."""
    runtime = Runtime(out or sys.stdout, err or sys.stderr)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result: Any = cli.main(
            args, prog_name="commerce-connectors", standalone_mode=False, obj=runtime
        )
    except click.exceptions.Abort:  # Ctrl-C outside a sync (which stops cleanly itself)
        runtime.err.write("commerce-connectors: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show(file=runtime.err)
        return int(exc.exit_code)
    except (ConfigurationError, NotFoundError) as exc:
        return _fail(runtime, exc, ExitCode.USAGE)
    except AuthenticationError as exc:
        return _fail(runtime, exc, ExitCode.AUTH)
    except PermissionDeniedError as exc:
        code = _fail(runtime, exc, ExitCode.AUTH)
        runtime.err.write(
            "the token works but lacks a permission: grant the scope named above to the app"
            " (or a token that has it) and run again; the sync resumes from the last"
            " checkpoint\n"
        )
        return code
    except RetriableError as exc:
        return _fail(runtime, exc, ExitCode.RETRY_LATER)
    except SinkError as exc:
        return _fail(runtime, exc, ExitCode.SINK)
    except CommerceConnectorsError as exc:
        return _fail(runtime, exc, ExitCode.ERROR)
    except KeyboardInterrupt:
        runtime.err.write("commerce-connectors: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except (BrokenPipeError, _PipeClosedError):
        # The reader went away (`... | head`): stop quietly, as Unix tools do, and keep the
        # interpreter from complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
    return int(result) if isinstance(result, int) else 0


def _fail(runtime: Runtime, exc: Exception, code: ExitCode) -> int:
    runtime.err.write(f"commerce-connectors: error: {exc}\n")
    return int(code)
