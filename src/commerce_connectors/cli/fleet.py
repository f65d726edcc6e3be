"""``commerce-connectors fleet run FILE``: many connections from a fleet file, in rounds."""

from __future__ import annotations

import click

from .common import ExitCode, Masked, Runtime, SuggestingGroup, interval, stopping_on_signals

__all__ = ["fleet"]


@click.group("fleet", cls=SuggestingGroup)
def fleet() -> None:
    """Sync many connections, described in a TOML fleet file."""


@fleet.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://scheduler:8786"
)
@click.option(
    "--processes",
    type=Masked(click.IntRange(min=1), "a whole number, 1 or more"),
    metavar="N",
    help="run on N worker processes of this machine (default: one connection after another)",
)
@click.option(
    "--every",
    metavar="INTERVAL",
    help="a round every INTERVAL (30m, 2h; a number alone is minutes) until Ctrl-C",
)
@click.option(
    "--rounds",
    type=Masked(click.IntRange(min=1), "a whole number, 1 or more"),
    metavar="N",
    help="stop after N rounds (without --every: N rounds back to back)",
)
@click.pass_obj
def run(
    runtime: Runtime,
    file: str,
    scheduler: str | None,
    processes: int | None,
    every: str | None,
    rounds: int | None,
) -> int:
    """Sync every connection of FILE now (and every INTERVAL with --every).

    Exit status: 0 when every connection of the last round completed (or was
    skipped: paused, or synced by another worker), 6 when one needs attention (its
    line says why), 2 for a bad fleet file or a Dask scheduler that does not answer,
    130 when stopped by Ctrl-C or SIGTERM (worker processes are ended at once).
    """
    from ..fleet import load_fleet_file, run_rounds

    if scheduler and processes:
        raise click.UsageError("--scheduler and --processes exclude each other: choose one")
    spec = load_fleet_file(file)
    stopped: list[bool] = []
    # KeyboardInterrupt at once: the rounds end cleanly on it; real sleeps of this
    # process (a rate-limit wait) are cut short too.
    with stopping_on_signals(lambda: stopped.append(True), interrupt=True):
        reports = run_rounds(
            spec,
            scheduler=scheduler,
            processes=processes,
            every=interval(every) if every else None,
            rounds=rounds,
            on_report=lambda r: runtime.say_report(r.summary()),
        )
    if stopped:
        runtime.err.write(
            "stopped: each connection resumes from its last checkpoint in the next run\n"
        )
        return int(ExitCode.INTERRUPTED)
    if reports and not reports[-1].ok:
        return int(ExitCode.ATTENTION)
    return int(ExitCode.OK)
