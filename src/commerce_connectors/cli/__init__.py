"""The ``commerce-connectors`` command line (``python -m commerce_connectors`` too).

Commands: ``sync``, ``status``, ``dead-letters``, ``demo``, ``simulate``, ``serve``,
``webhooks``, ``connections``; ``commerce-connectors --help`` lists them with the exit
codes, ``commerce-connectors COMMAND --help`` their options. Options may come before
or after the platform (``sync shopify --shop X --sink Y``).

The platforms it knows are in :mod:`commerce_connectors.cli.registry`, filled by
:mod:`commerce_connectors.cli.platforms` (imported here first, so the registries are
complete whatever is imported next). The engine (:mod:`commerce_connectors.sync`)
knows nothing of the command line.

Example:
    >>> from commerce_connectors.cli import ExitCode, main
    >>> int(ExitCode.ATTENTION), int(ExitCode.INTERRUPTED)
    (6, 130)
"""

from __future__ import annotations

from . import platforms as _platforms  # registers the built-in platforms and demo stores
from .app import LOG_LEVEL_ENV, cli, main
from .common import ExitCode, exit_code_for
from .progress import ProgressPrinter

del _platforms

__all__ = ["LOG_LEVEL_ENV", "ExitCode", "ProgressPrinter", "cli", "exit_code_for", "main"]

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
