"""Benchmark `estimator`: replay step histories, admitting each step with three estimators.

(a) the static formula each asset states (what memwise uses before any history),
(b) a VPA-style recommender: P90 of the window's past peaks + 15 % (the Kubernetes
    Vertical Pod Autoscaler's target), blind to input size,
(c) memwise's calibrated estimator (`memory/calibration.py`).

Histories: real peaks of the four domains at varied input sizes, recorded on this
machine (`estimator_record.py`, stored in `data/estimator/recorded_steps.json`) and
replayed in random, growing and repeated orders; plus generated ones with lognormal
noise, growth and 1 % outliers (x1.3-2). Each step is admitted with the estimate from the
points before it; the replay treats the estimate as the step's budget, as a pod limit.

Figures, over the steps after the 5-point warm-up (all three are static before it):
slack = reserved but unused MB / reserved MB; under = share of steps whose peak passed
their estimate; stopped = share over the 120 % emergency line; recovered = share of
stopped steps that the memory retry (max(peak + 100 MB, 1.5 x peak) from the emergency
line) would have fitted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memwise_assets.bench.harness import BenchRow
from memwise_assets.memory.calibration import calibrated_estimate
from memwise_assets.memory.limits import raised_budget_mb

CASE = "estimator"
# Written by `python -m memwise_assets.bench.estimator_record` (which imports the peers).
RECORDED = Path(__file__).resolve().parents[1] / "data" / "estimator" / "recorded_steps.json"
WARMUP = 5
WINDOW = 30
EMERGENCY = 1.2
OUTLIER_RATE = 0.01


@dataclass(frozen=True)
class Step:
    input_mb: float
    peak_mb: float
    static_mb: float
    outlier: bool = False


History = list[Step]
Estimator = Callable[[Step, Sequence[Step]], float]


def static(step: Step, past: Sequence[Step]) -> float:
    return step.static_mb


def vpa(step: Step, past: Sequence[Step]) -> float:
    if len(past) < WARMUP:
        return step.static_mb
    return 1.15 * float(np.quantile([p.peak_mb for p in past], 0.9))


def calibrated(step: Step, past: Sequence[Step]) -> float:
    history = [(p.input_mb, p.peak_mb) for p in past]
    return calibrated_estimate(
        static_mb=step.static_mb, input_mb=step.input_mb, history=history, min_history=WARMUP
    ).mb


ESTIMATORS: dict[str, Estimator] = {"static": static, "vpa-p90+15%": vpa, "memwise": calibrated}


def recorded_histories(rng: np.random.Generator, per_domain: int, length: int) -> list[History]:
    """Series drawn from the recorded real peaks: random, growing and repeated orders."""
    data = json.loads(RECORDED.read_text())
    series: list[History] = []
    for points in data.values():
        steps = [Step(p["input_mb"], p["peak_mb"], p["static_mb"]) for p in points]
        for i in range(per_domain):
            drawn = [steps[j] for j in rng.integers(0, len(steps), length)]
            if i % 3 == 1:  # a backfill growing in size
                drawn.sort(key=lambda s: s.input_mb)
            elif i % 3 == 2:  # the same few inputs again and again
                few = drawn[:3]
                drawn = [few[j] for j in rng.integers(0, len(few), length)]
            series.append(drawn)
    return series


def generated_histories(rng: np.random.Generator, count: int, length: int) -> list[History]:
    """Linear peak-on-size steps with noise, steady / growing / varied sizes, and outliers."""
    series: list[History] = []
    for i in range(count):
        base, slope = rng.uniform(20, 300), rng.uniform(0.5, 8.0)
        sigma = rng.uniform(0.02, 0.10)
        size0 = float(np.exp(rng.uniform(np.log(1), np.log(500))))
        kind = i % 3
        t = np.arange(length)
        if kind == 0:
            sizes = size0 * (1 + rng.normal(0, 0.05, length)).clip(0.5)
        elif kind == 1:
            sizes = size0 * rng.uniform(1.01, 1.05) ** t
        else:
            sizes = size0 * np.exp(rng.uniform(0, np.log(10), length))
        peaks = (base + slope * sizes) * rng.lognormal(0, sigma, length)
        outliers = rng.random(length) < OUTLIER_RATE
        peaks[outliers] *= rng.uniform(1.3, 2.0, int(outliers.sum()))
        hand = rng.uniform(1.5, 3.0, 2)
        series.append(
            [
                Step(float(s), float(p), float(hand[0] * base + hand[1] * slope * s), bool(o))
                for s, p, o in zip(sizes, peaks, outliers, strict=True)
            ]
        )
    return series


def replay(series: Sequence[History], estimator: Estimator) -> dict[str, float]:
    """Slack, under-estimates, stops and retry recoveries of one estimator over all series."""
    reserved = unused = 0.0
    steps = under = stopped = recovered = outliers = 0
    for history in series:
        for t in range(WARMUP, len(history)):
            step = history[t]
            estimate = estimator(step, history[max(0, t - WINDOW) : t])
            steps += 1
            reserved += estimate
            unused += max(estimate - step.peak_mb, 0.0)
            if step.peak_mb > estimate:
                under += 1
                outliers += step.outlier
            if step.peak_mb > EMERGENCY * estimate:
                stopped += 1
                recovered += raised_budget_mb(EMERGENCY * estimate) >= step.peak_mb
    return {
        "steps": steps,
        "slack_percent": 100.0 * unused / reserved if reserved else 0.0,
        "under_percent": 100.0 * under / steps if steps else 0.0,
        "under_outliers_percent": 100.0 * outliers / steps if steps else 0.0,
        "stopped_percent": 100.0 * stopped / steps if steps else 0.0,
        "recovered_percent": 100.0 * recovered / stopped if stopped else 100.0,
    }


def histories(quick: bool, seed: int = 16) -> list[History]:
    """The replayed series: 60 from recorded peaks and 160 generated (quick: 12 + 20)."""
    rng = np.random.default_rng(seed)
    if quick:
        return recorded_histories(rng, 3, 20) + generated_histories(rng, 20, 20)
    return recorded_histories(rng, 15, 30) + generated_histories(rng, 160, 40)


def run(data_dir: Path | None, quick: bool) -> list[BenchRow]:
    """One row per estimator; the note carries slack and under-estimates."""
    series = histories(quick)
    rows = []
    for name, estimator in ESTIMATORS.items():
        began = time.perf_counter()
        figures = replay(series, estimator)
        rows.append(
            BenchRow(
                case=CASE,
                impl=name,
                items=float(figures["steps"]),
                unit="steps",
                seconds=time.perf_counter() - began,
                peak_mb=0.0,
                note=(
                    f"{len(series)} histories: slack {figures['slack_percent']:.1f} %, under "
                    f"{figures['under_percent']:.2f} % (stopped {figures['stopped_percent']:.2f}"
                    f" %, retry recovers {figures['recovered_percent']:.0f} %)"
                ),
            )
        )
    return rows
