"""The documented example runs offline and shows what the docs say it shows."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhooks_realtime.py"


def test_the_realtime_example_runs_and_applies_one_current_order(tmp_path: Path) -> None:
    main = runpy.run_path(str(EXAMPLE))["main"]
    result = main(tmp_path / "realtime.db")
    ((_, status, fires, source),) = result["orders"]
    assert (status, fires, source) == ("paid", 1, 1)
    assert result["state"] == "disabled"
    assert result["poll"] == "skipped"
