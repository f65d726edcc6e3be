"""The ``commerce-connectors`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``commerce-connectors`` command."""
    parser = argparse.ArgumentParser(
        prog="commerce-connectors",
        description="Sync shop data (Shopify, BigCommerce, Square, Tiendanube) into a CRM.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help(sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
