"""The ActiveCampaign example script runs offline and writes nothing twice."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[3] / "examples" / "activecampaign_sync.py"


def test_activecampaign_example_runs_offline(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "429s: 0" in out
    assert "second historical run: 0 requests" in out
    assert "source 1" in out
    assert "connection: commerce-connectors / tiendanube:1234567 -> 'Mi Tienda'" in out
