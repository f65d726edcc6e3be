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


def test_the_demo_shows_a_realtime_purchase_firing_after_a_quiet_history(tmp_path: Path) -> None:
    from commerce_connectors.webhooks._demo import run_realtime_demo

    steps: list[str] = []
    result = run_realtime_demo(tmp_path / "demo.db", seed=7, on_step=steps.append)
    assert result.historical_orders > 0
    assert result.historical_fired < result.historical_orders
    assert set(result.deliveries) == {200}
    assert len(result.deliveries) >= 2  # a duplicate delivery included
    assert result.fired
    assert f"order {result.order_id}" in result.outcome
    assert any("subscribed" in s for s in steps)
