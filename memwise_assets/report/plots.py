"""The report's figures, drawn with matplotlib's Agg canvas (no display, no global pyplot state)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from memwise_assets.report.collect import ReportData, RunFigures, StepRecord

DPI = 90
# Colours by role, so every figure reads the same way.
PEAK = "#1f77b4"
INCREASE = "#2ca02c"
ESTIMATE = "#ff7f0e"
LIMIT = "#d62728"
LEDGER = "#9467bd"
MAX_LEDGER_RUNS = 6
# Fewer steps than this show as dots, not as a box plot.
MIN_BOX = 5
# One asset's panel: its axes, name, steps (oldest first) and their x positions 1..n.
Panel = tuple[Any, str, list[StepRecord], np.ndarray]


def _grid(count: int, columns: int = 2) -> tuple[int, int]:
    columns = min(columns, max(count, 1))
    return math.ceil(max(count, 1) / columns), columns


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _log_axis(axis: Any) -> None:
    # Labels at 1-2-5 steps in plain numbers: one decade of MB still gets several labels.
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _index_ticks(ax: Any, x: np.ndarray) -> None:
    ax.set_xticks(x if len(x) <= 12 else x[:: math.ceil(len(x) / 12)])


def _positive(values: Sequence[float]) -> list[float]:
    # Log axes cannot show 0; a step that added nothing is drawn at 0.01 MB.
    return [max(v, 0.01) for v in values]


def _panels(data: ReportData, row_height: float) -> tuple[Figure, list[Any], list[Panel]]:
    """A figure with one panel per asset (spare grid cells hidden), and what each shows."""
    rows, cols = _grid(len(data.assets))
    fig = Figure(figsize=(6 * cols, row_height * rows), layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[len(data.assets) :]:
        ax.set_visible(False)
    panels = [
        (ax, asset, steps, np.arange(1, len(steps) + 1))
        for ax, (asset, steps) in zip(axes, data.assets.items(), strict=False)
    ]
    return fig, axes, panels


def asset_memory(data: ReportData, path: Path) -> Path:
    """Per asset over its recent steps: the step's increase, its estimate and its limit."""
    return _save(memory_figure(data), path)


def memory_figure(data: ReportData) -> Figure:
    """Per asset over its recent steps: the step's increase, its estimate and its limit (log MB).

    The whole process's RSS is left out on purpose: a step of a process that already holds
    700 MB would look close to a 1 GB limit it is nowhere near (the run figure shows RSS).
    """
    fig, axes, panels = _panels(data, row_height=3.2)
    for ax, asset, steps, x in panels:
        ax.plot(
            x, _positive([s.rss_increase_mb for s in steps]), "s-", color=INCREASE, label="increase"
        )
        ax.plot(
            x, _positive([s.estimate_mb for s in steps]), "x--", color=ESTIMATE, label="estimate"
        )
        ax.plot(x, [s.limit_mb for s in steps], "_:", color=LIMIT, markersize=12, label="limit")
        ax.set_yscale("log")
        _log_axis(ax.yaxis)
        ax.set_title(asset, fontsize=10)
        ax.set_xlabel("materialization (oldest to newest)", fontsize=8)
        ax.set_ylabel("MB above the step's start", fontsize=8)
        _index_ticks(ax, x)
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("Memory each step added above its start, against its estimate and its limit")
    return fig


def asset_time(data: ReportData, path: Path) -> Path:
    """Per asset over its recent steps: seconds and input MB."""
    fig, _, panels = _panels(data, row_height=2.6)
    for ax, asset, steps, x in panels:
        ax.bar(x, [s.seconds for s in steps], color=PEAK, alpha=0.7, label="seconds")
        ax.set_ylabel("seconds", fontsize=8)
        ax.set_xlabel("materialization (oldest to newest)", fontsize=8)
        _index_ticks(ax, x)
        ax.set_title(asset, fontsize=10)
        ax.tick_params(labelsize=8)
        twin = ax.twinx()
        twin.plot(x, [s.input_mb for s in steps], "o-", color=ESTIMATE, label="input MB")
        twin.set_ylabel("input MB", fontsize=8)
        twin.tick_params(labelsize=8)
        twin.set_ylim(bottom=0)
    fig.suptitle("Seconds (bars) and input MB (line) per materialization")
    return _save(fig, path)


def varying_estimates(steps: Sequence[StepRecord]) -> bool:
    """Whether the estimates of these steps differ (a scatter of one estimate is a line)."""
    return len({round(s.estimate_mb, 3) for s in steps if math.isfinite(s.estimate_mb)}) > 1


def estimate_quality(data: ReportData, path: Path) -> Path:
    """Estimate vs actual RSS increase, and headroom per asset."""
    return _save(quality_figure(data), path)


def quality_figure(data: ReportData) -> Figure:
    """Estimate vs actual increase (assets whose estimate varied), and headroom per asset.

    A box needs a few points to mean anything: assets with fewer than `MIN_BOX` steps show
    their steps as dots.
    """
    scattered = {a: steps for a, steps in data.assets.items() if varying_estimates(steps)}
    fig = Figure(figsize=(11 if scattered else 7, 4.2), layout="constrained")
    if scattered:
        scatter, bars = fig.subplots(1, 2, width_ratios=[1, 1.3])
        _estimate_scatter(scatter, scattered, list(data.assets))
    else:
        bars = fig.subplots()
    names = list(data.assets)
    for index, asset in enumerate(names):
        headroom = [s.headroom_mb for s in data.assets[asset]]
        colour = f"C{index % 10}"
        if len(headroom) >= MIN_BOX:
            parts = bars.boxplot(
                [headroom], positions=[index], vert=False, widths=0.5, patch_artist=True
            )
            for box in parts["boxes"]:
                box.set_facecolor(colour)
                box.set_alpha(0.6)
        else:
            bars.plot(headroom, [index] * len(headroom), "o", color=colour, alpha=0.8)
    bars.axvline(0, color=LIMIT, linewidth=1)
    bars.set_yticks(range(len(names)), names, fontsize=8)
    bars.set_xlabel("headroom = estimate - actual increase (MB); left of red: under-estimated")
    bars.set_title(f"Headroom per asset (dots: fewer than {MIN_BOX} steps)", fontsize=10)
    bars.grid(True, axis="x", alpha=0.3)
    return fig


def _estimate_scatter(ax: Any, assets: dict[str, list[StepRecord]], names: list[str]) -> None:
    low, high = math.inf, 0.0
    for asset, steps in assets.items():
        est = _positive([s.estimate_mb for s in steps])
        act = _positive([s.rss_increase_mb for s in steps])
        ax.scatter(est, act, s=22, label=asset, color=f"C{names.index(asset) % 10}")
        low, high = min(low, *est, *act), max(high, *est, *act)
    span = [low / 1.5, high * 1.5]
    ax.plot(span, span, "k--", linewidth=1, label="actual = estimate")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axis(ax.xaxis)
    _log_axis(ax.yaxis)
    ax.set_xlabel("estimate that admitted the step (MB)")
    ax.set_ylabel("actual RSS increase (MB)")
    ax.set_title("Assets whose estimate varied; above the line: under-estimated", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)


def run_steps(runs: Sequence[RunFigures], path: Path) -> Path:
    """Each run's steps: peak RSS (bar) and the increase above the step's start (dark part)."""
    shown = [r for r in runs if r.steps]
    labels = [s.asset for r in shown for s in r.steps]
    fig = Figure(figsize=(11, 1.2 + 0.28 * max(len(labels), 1)), layout="constrained")
    ax = fig.subplots()
    y = 0.0
    ticks: list[float] = []
    names: list[str] = []
    for index, run in enumerate(shown):
        for step in run.steps:
            base = step.peak_rss_mb - step.rss_increase_mb
            ax.barh(y, base, color=PEAK, alpha=0.35 if index % 2 else 0.55)
            ax.barh(y, step.rss_increase_mb, left=base, color=INCREASE)
            ax.text(step.peak_rss_mb, y, f" {step.peak_rss_mb:,.0f}", va="center", fontsize=7)
            ticks.append(y)
            names.append(f"{run.run_id[:8]}  {step.asset}")
            y += 1
        y += 0.6
    ax.set_yticks(ticks, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("process RSS at the step's peak (MB); green: added by the step")
    ax.set_title("Steps' peaks per run (oldest run on top)", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def _clock(timestamp: float | None) -> str:
    return "" if timestamp is None else time.strftime("%m-%d %H:%M:%S", time.gmtime(timestamp))


def _ledger_series(
    run: RunFigures, ledger: Sequence[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    """(seconds since run start, admitted MB) at the run's start and after each event in it."""
    if run.start is None:
        return [], []
    end = run.end if run.end is not None else math.inf
    # The ledger is host-wide: the total already admitted when the run began, and other
    # runs' events inside its window, count as they did for this run's admissions.
    before = [e for e in ledger if e["ts"] < run.start]
    inside = [e for e in ledger if run.start <= e["ts"] <= end]
    if not inside:
        return [], []
    times = [0.0] + [e["ts"] - run.start for e in inside]
    totals = [before[-1]["total_mb"] if before else 0.0] + [e["total_mb"] for e in inside]
    if run.end is not None:
        times.append(run.end - run.start)
        totals.append(totals[-1])
    return times, totals


def ledger_runs(runs: Sequence[RunFigures], ledger: Sequence[dict[str, Any]], path: Path) -> Path:
    """The ledger's admitted total over each recent run's time (seconds since the run began)."""
    return _save(ledger_figure(runs, ledger), path)


def ledger_figure(runs: Sequence[RunFigures], ledger: Sequence[dict[str, Any]]) -> Figure:
    """One panel per recent run with ledger events, in the order the runs started."""
    ordered = sorted(runs, key=lambda r: r.start if r.start is not None else math.inf)
    series = [(r, *_ledger_series(r, ledger)) for r in ordered]
    # The latest runs, oldest first: left to right, then top to bottom.
    shown = [(r, t, v) for r, t, v in series if t][-MAX_LEDGER_RUNS:]
    rows, cols = _grid(len(shown), 3)
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    pool = ledger[-1]["pool_mb"] if ledger else float("nan")
    for ax, (run, times, totals) in zip(axes, shown, strict=False):
        ax.step(times, totals, where="post", color=LEDGER)
        ax.fill_between(times, totals, step="post", color=LEDGER, alpha=0.2)
        ax.set_title(
            f"{_clock(run.start)} run {run.run_id[:8]}: peak {max(totals):,.0f} MB admitted",
            fontsize=9,
        )
        ax.set_xlabel("seconds since run start", fontsize=8)
        ax.set_ylabel("admitted MB", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    if not shown:
        axes[0].text(0.5, 0.5, "no ledger history", ha="center", va="center")
        axes[0].set_axis_off()
    for ax in axes[max(len(shown), 1) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Memory ledger: total admitted on the host during each run\n"
        f"(runs in the order they started, UTC; pool {pool:,.0f} MB)",
        fontsize=10,
    )
    return fig


def stages(latest: Sequence[StepRecord], path: Path) -> Path:
    """Memory above start at each named stage of each asset's latest step, with its estimate."""
    rows, cols = _grid(len(latest), 3)
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, step in zip(axes, latest, strict=False):
        names = [str(s.get("stage", "")) for s in step.samples]
        deltas = [float(s.get("delta_mb", 0.0)) for s in step.samples]
        x = np.arange(len(names))
        ax.plot(x, deltas, "o-", color=INCREASE, label="RSS above start")
        ax.axhline(step.estimate_mb, color=ESTIMATE, linestyle="--", label="estimate")
        # Marks are samples; the step's true peak (VmHWM) may fall between two of them.
        ax.axhline(step.rss_increase_mb, color=INCREASE, linestyle=":", label="step peak")
        ax.set_xticks(x, names, rotation=35, ha="right", fontsize=7)
        ax.set_title(step.asset, fontsize=9)
        ax.set_ylabel("MB", fontsize=8)
        ax.set_ylim(bottom=min(0.0, *deltas) if deltas else 0.0)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(True, alpha=0.3)
    if latest:
        axes[0].legend(fontsize=7)
    for ax in axes[len(latest) :]:
        ax.set_visible(False)
    fig.suptitle("Latest step of each asset: memory by stage vs the estimate that admitted it")
    return _save(fig, path)
