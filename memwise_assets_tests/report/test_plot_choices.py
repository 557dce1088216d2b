"""The report's figures say what they should: the step against its limit, no degenerate plots,
ledger panels in time order, assets in graph order."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from matplotlib.patches import PathPatch

from memwise_assets.report.collect import ReportData, RunFigures, StepRecord
from memwise_assets.report.order import graph_order, upstream_by_node
from memwise_assets.report.plots import (
    MIN_BOX,
    ledger_figure,
    memory_figure,
    quality_figure,
    varying_estimates,
)


def _step(asset: str, estimate: float, actual: float, at: float = 0.0) -> StepRecord:
    return StepRecord(
        asset=asset, run_id=f"run-{at:08.0f}", step_key=asset, timestamp=at, partitions=1,
        rows=1, peak_rss_mb=700.0 + actual, rss_increase_mb=actual, limit_mb=1024.0,
        estimate_mb=estimate, estimator="static", input_mb=1.0, seconds=1.0,
    )  # fmt: skip


def _data(assets: dict[str, list[StepRecord]], runs: list[RunFigures] | None = None) -> ReportData:
    return ReportData(home=Path("."), assets=assets, runs=runs or [], ledger=[], ledger_path=None)


def test_the_memory_panels_draw_the_step_against_its_limit_not_the_process_rss() -> None:
    fig = memory_figure(_data({"a": [_step("a", 64, 7), _step("a", 64, 9)]}))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["increase", "estimate", "limit"]
    top = max(max(line.get_ydata()) for line in fig.axes[0].get_lines())
    assert top == 1024.0, "the limit is the highest line; a 700 MB process RSS is not drawn"


def test_no_scatter_when_every_estimate_is_the_same_and_no_box_of_few_points() -> None:
    constant = {"a": [_step("a", 64, x) for x in (5, 6, 7)]}
    assert not varying_estimates(constant["a"])
    fig = quality_figure(_data(constant))
    assert len(fig.axes) == 1, "the headroom panel alone"
    assert not [p for p in fig.axes[0].patches if isinstance(p, PathPatch)], "dots, not a box"
    varied = {
        "a": [_step("a", 60 + i, 7) for i in range(MIN_BOX)],
        "b": [_step("b", 64, 3), _step("b", 64, 4)],
    }
    fig = quality_figure(_data(varied))
    scatter, bars = fig.axes
    assert [c.get_label() for c in scatter.collections] == ["a"], "b's estimate never varied"
    assert len([p for p in bars.patches if isinstance(p, PathPatch)]) == 1, "a box for a only"


def test_ledger_panels_follow_the_runs_start_times() -> None:
    starts = [300.0, 100.0, 200.0]
    runs = [RunFigures(f"{int(t):08d}", "job", "SUCCESS", t, t + 10, []) for t in starts]
    ledger = [
        {"ts": t + 1, "total_mb": 10.0 * t, "pool_mb": 1000.0, "event": "admit"} for t in starts
    ]
    fig = ledger_figure(runs, ledger)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert [t.split(" run ")[1][:8] for t in titles] == ["00000100", "00000200", "00000300"]


@dg.asset
def zeta() -> int:
    return 1


@dg.asset
def alpha(zeta: int) -> int:
    return zeta + 1


def test_assets_are_listed_upstream_first_as_the_runs_recorded_the_graph() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([zeta, alpha], instance=instance)
    upstream = upstream_by_node(instance, [result.run_id])
    assert upstream == {"zeta": set(), "alpha": {"zeta"}}
    assert graph_order(["alpha", "omega", "zeta"], upstream) == ["zeta", "alpha", "omega"]
    # A run of alpha alone holds one op; its input still names zeta.
    alone = dg.materialize([zeta, alpha], selection=["alpha"], instance=instance)
    assert upstream_by_node(instance, [alone.run_id]) == {"alpha": {"zeta"}}
