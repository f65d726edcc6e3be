"""The Square example script runs offline and shows the incremental catching up."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[3] / "examples" / "square_sync.py"


def test_square_example_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "2 locations: Downtown, Shibuya" in out
    assert "refunded" in out.split("incremental for")[1]
