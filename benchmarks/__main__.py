"""Run every benchmark module of this package (``python -m benchmarks``, ``nox -s bench``).

Each module with a ``main()`` is run in turn; arguments after ``--`` are not
forwarded (run a module alone, e.g. ``python -m benchmarks.sync_memory --orders 50000``,
to pass its options).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> int:
    """Run each benchmark module's ``main()``; report failures at the end."""
    here = Path(__file__).parent
    failed: list[str] = []
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        entry = getattr(module, "main", None)
        if not callable(entry):
            continue
        print(f"\n=== benchmarks.{info.name}", flush=True)
        started = time.perf_counter()
        try:
            entry()
        except SystemExit as exc:
            if exc.code not in (None, 0):
                failed.append(info.name)
        except Exception as exc:  # report and go on with the other benchmarks
            print(f"failed: {type(exc).__name__}: {exc}")
            failed.append(info.name)
        print(f"--- {time.perf_counter() - started:.1f}s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.argv = sys.argv[:1]  # each benchmark parses its own (default) arguments
    raise SystemExit(main())
