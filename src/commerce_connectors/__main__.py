"""``python -m commerce_connectors``: the ``commerce-connectors`` command line."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
